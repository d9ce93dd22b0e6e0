//! Printing the generated tokens as a Rust file: prettyplease, then the comments prettyplease
//! cannot carry (the header and the model locations after the message bindings).

use proc_macro2::TokenStream;

use crate::error::Error;

/// A `//` comment to put at the end of every line of the `messages` module that names a type.
pub(crate) struct TrailingComment {
    /// The type's path as printed (`crate::messages::SensorReady`).
    pub(crate) path: String,
    /// The comment's text, without `// `.
    pub(crate) text: String,
}

/// The file: `header` lines as `//` comments, then the code, with `comments` added.
///
/// The header is made of plain `//` comments, not `//!`: the file is included with `include!`
/// into a module, where inner attributes (and so inner doc comments) are refused.
pub(crate) fn file(header: &[String], tokens: TokenStream, comments: &[TrailingComment]) -> Result<String, Error> {
    let tree: syn::File = syn::parse2(tokens).map_err(|e| Error::Internal(format!("{e}")))?;
    let code = prettyplease::unparse(&tree);
    let mut out = String::new();
    for line in header {
        if line.is_empty() {
            out.push_str("//\n");
        } else {
            out.push_str("// ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
    let mut in_messages = false;
    let mut previous = "";
    for line in code.lines() {
        if starts_item(previous, line) {
            out.push('\n');
        }
        previous = line;
        out.push_str(line);
        if line == "pub mod messages {" {
            in_messages = true;
        } else if in_messages && line == "}" {
            in_messages = false;
        } else if in_messages && !line.trim_start().starts_with("//") {
            if let Some(comment) = comments.iter().find(|c| names_path(line, &c.path)) {
                out.push_str(" // ");
                out.push_str(&comment.text);
            }
        }
        out.push('\n');
    }
    Ok(out)
}

/// Whether `line` starts an item (its doc, attribute or first line) right after the end of
/// another, where a blank line between them makes the file easier to read. prettyplease puts
/// none.
fn starts_item(previous: &str, line: &str) -> bool {
    let previous = previous.trim();
    let line = line.trim_start();
    let ends_item = previous.ends_with('}') || previous.ends_with(';');
    let starts = ["///", "#[", "impl", "pub ", "fn "].iter().any(|s| line.starts_with(s));
    // A message's `pub use` and its `impl Message` stay together.
    let binding = previous.starts_with("pub use") && line.starts_with("impl");
    !previous.starts_with("//") && ends_item && starts && !binding
}

/// Whether `line` names `path` itself (not a longer path or name that starts the same).
fn names_path(line: &str, path: &str) -> bool {
    line.match_indices(path).any(|(at, _)| {
        let after = line[at + path.len()..].chars().next();
        let before = line[..at].chars().next_back();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            && !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '#')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_path_is_matched() {
        assert!(names_path("pub use crate::m::Sensor;", "crate::m::Sensor"));
        assert!(names_path("impl ::x::Message for crate::m::Sensor {", "crate::m::Sensor"));
        assert!(!names_path("pub use crate::m::SensorReady;", "crate::m::Sensor"));
        assert!(!names_path("pub use crate::m::Sensor::X;", "crate::m::Sensor"));
        assert!(!names_path("pub use mycrate::m::Sensor;", "crate::m::Sensor"));
    }

    #[test]
    fn the_header_is_plain_comments_and_messages_lines_get_their_location() {
        let tokens = quote::quote! {
            pub mod messages {
                pub use crate::messages::A;
                impl ::cohort_runtime::Message for crate::messages::A {
                    const NAME: &'static str = "A";
                }
            }
            pub mod other { pub use crate::messages::A; }
        };
        let comments = [TrailingComment { path: "crate::messages::A".into(), text: "m.riaps:2:13: message A;".into() }];
        let text = match file(&["Generated.".into(), String::new()], tokens, &comments) {
            Ok(text) => text,
            Err(e) => panic!("{e}"),
        };
        assert!(text.starts_with("// Generated.\n//\n\n"), "{text}");
        assert!(text.contains("    pub use crate::messages::A; // m.riaps:2:13: message A;\n"), "{text}");
        assert!(
            text.contains("    impl ::cohort_runtime::Message for crate::messages::A { // m.riaps:2:13: message A;\n"),
            "{text}"
        );
        // Outside the messages module nothing is added.
        assert!(text.contains("}\n\npub mod other {\n    pub use crate::messages::A;\n}"), "{text}");
    }
}
