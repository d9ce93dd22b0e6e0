//! Rust names for model names: snake case, keywords, characters Rust does not accept, and
//! collisions.
//!
//! The rules, in the order they apply:
//!
//! 1. **Case.** Modules, fields and methods take the snake case of the model name
//!    ([`snake_case`]: `iArg` → `i_arg`, `SensorReady` → `sensor_ready`, `HTTPServer` →
//!    `http_server`). Types (messages, groups, the user's component types) keep the model's
//!    spelling.
//! 2. **Characters.** A character that the model accepts in a name but Rust does not (some
//!    numeric symbols such as `²`) becomes `_`.
//! 3. **Keywords.** A Rust keyword (any edition, reserved ones included) is written raw: `type`
//!    → `r#type`. `self`, `Self`, `super`, `crate` and `_` cannot be raw and get a trailing
//!    underscore instead: `self_`.
//! 4. **Collisions.** In each scope (the app's modules, a component's port fields, its handler
//!    methods, its parameters, the app's message and group types), names are given out in model
//!    order. A name already taken, by an earlier model name or by a name the generated code
//!    itself uses in that scope, gets `_2`, `_3`, ... appended: the first declaration keeps the
//!    plain name, and the same model always gets the same names.

use std::collections::HashSet;

use crate::error::Error;

/// Every keyword of every Rust edition, strict and reserved (`gen` and `try` included). Weak
/// keywords (`union`, `raw`, `safe`, `macro_rules`) are ordinary identifiers and are not here.
const KEYWORDS: [&str; 51] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// Keywords reserved in some editions only, also written raw.
const EDITION_KEYWORDS: [&str; 1] = ["gen"];

/// Keywords that cannot be raw identifiers (and `_`, which is no identifier at all).
const NOT_RAW: [&str; 5] = ["self", "Self", "super", "crate", "_"];

/// The snake case of a model name: words split at `_`, at a lower-case letter or digit followed
/// by an upper-case letter (`iArg`), and before the last capital of a run followed by a
/// lower-case letter (`HTTPServer` → `http_server`); joined with `_`, lower case. Underscores at
/// the start and the end are kept (`_x` stays `_x`); runs of them inside collapse to one.
pub(crate) fn snake_case(name: &str) -> String {
    let core = name.trim_matches('_');
    let leading = &name[..name.len() - name.trim_start_matches('_').len()];
    let trailing = if core.is_empty() { "" } else { &name[name.trim_end_matches('_').len()..] };
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = core.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if c.is_uppercase() && !word.is_empty() {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_is_lower) {
                words.push(std::mem::take(&mut word));
            }
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    format!("{leading}{}{trailing}", words.join("_"))
}

/// Whether `c` may continue a Rust identifier (Unicode XID_Continue). Asked of `syn`'s lexer,
/// which knows the Unicode tables, so that no second copy of them is needed.
fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric() || syn::parse_str::<syn::Ident>(&format!("x_{c}")).is_ok()
}

/// Whether `c` may start a Rust identifier (Unicode XID_Start, or `_`).
fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic() || (!c.is_ascii() && syn::parse_str::<syn::Ident>(&c.to_string()).is_ok())
}

/// `name` with every character Rust does not accept in an identifier replaced by `_`, and `_`
/// put in front when the first character cannot start one.
fn sanitize(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if is_ident_continue(c) { c } else { '_' }).collect();
    if !out.chars().next().is_some_and(is_ident_start) {
        out.insert(0, '_');
    }
    out
}

/// A name as Rust spells it: `text` is what is written in code (`r#type`, `self_`, `i_arg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RustName {
    /// The identifier without any `r#`: what collisions are checked on.
    pub(crate) bare: String,
    /// Whether it is written `r#bare`.
    pub(crate) raw: bool,
}

impl RustName {
    /// The identifier as written in code.
    pub(crate) fn text(&self) -> String {
        if self.raw {
            format!("r#{}", self.bare)
        } else {
            self.bare.clone()
        }
    }

    /// The identifier as a token. Fails only if the rules above let through something Rust does
    /// not accept, which would be a bug here, not a problem in the model.
    pub(crate) fn ident(&self) -> Result<syn::Ident, Error> {
        let text = self.text();
        syn::parse_str::<syn::Ident>(&text)
            .map_err(|e| Error::Internal(format!("`{text}` is not a Rust identifier: {e}")))
    }
}

/// The Rust spelling of an identifier-to-be: characters fixed, keywords escaped.
pub(crate) fn escape(name: &str) -> RustName {
    let clean = sanitize(name);
    if NOT_RAW.contains(&clean.as_str()) {
        RustName { bare: format!("{clean}_"), raw: false }
    } else if KEYWORDS.contains(&clean.as_str()) || EDITION_KEYWORDS.contains(&clean.as_str()) {
        RustName { bare: clean, raw: true }
    } else {
        RustName { bare: clean, raw: false }
    }
}

/// The names taken in one scope; gives out names in model order (rule 4 above).
#[derive(Debug, Default)]
pub(crate) struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// A scope in which the generated code itself already uses `reserved`.
    pub(crate) fn with_reserved(reserved: &[&str]) -> Self {
        Self { taken: reserved.iter().map(|s| (*s).to_owned()).collect() }
    }

    /// Takes `wanted` (escaped by [`escape`]), or the first of `wanted_2`, `wanted_3`, ... that
    /// is free (`wanted2`, ... when `wanted` ends with `_`).
    pub(crate) fn claim(&mut self, wanted: &str) -> RustName {
        let name = escape(wanted);
        if self.taken.insert(name.bare.clone()) {
            return name;
        }
        // `self_` becomes `self_2`, not `self__2`, which is not snake case.
        let separator = if name.bare.ends_with('_') { "" } else { "_" };
        let mut n = 2usize;
        loop {
            let candidate = escape(&format!("{}{separator}{n}", name.bare));
            if self.taken.insert(candidate.bare.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words_as_rust_style_wants() {
        let cases = [
            ("iArg", "i_arg"),
            ("SensorReady", "sensor_ready"),
            ("DistributedEstimator", "distributed_estimator"),
            ("LocalEstimator", "local_estimator"),
            ("HTTPServer", "http_server"),
            ("getHTTP", "get_http"),
            ("ABC", "abc"),
            ("sensor2Ready", "sensor2_ready"),
            ("Sensor2", "sensor2"),
            ("already_snake", "already_snake"),
            ("double__under", "double_under"),
            ("_private", "_private"),
            ("trailing_", "trailing_"),
            ("x", "x"),
            ("X", "x"),
            ("_", "_"),
            ("ÉtatCourant", "état_courant"),
            ("pub_ready", "pub_ready"),
        ];
        for (model, rust) in cases {
            assert_eq!(snake_case(model), rust, "{model}");
        }
    }

    #[test]
    fn keywords_are_raw_or_get_an_underscore() {
        assert_eq!(escape("type").text(), "r#type");
        assert_eq!(escape("gen").text(), "r#gen");
        assert_eq!(escape("async").text(), "r#async");
        assert_eq!(escape("self").text(), "self_");
        assert_eq!(escape("Self").text(), "Self_");
        assert_eq!(escape("crate").text(), "crate_");
        assert_eq!(escape("super").text(), "super_");
        assert_eq!(escape("_").text(), "__");
        assert_eq!(escape("union").text(), "union");
        assert_eq!(escape("ready").text(), "ready");
        for keyword in KEYWORDS.iter().chain(&EDITION_KEYWORDS).chain(&NOT_RAW) {
            assert!(escape(keyword).ident().is_ok(), "{keyword}");
        }
    }

    #[test]
    fn characters_rust_refuses_become_underscores() {
        // `²` is alphanumeric to the model's lexer but not XID_Continue.
        assert_eq!(escape("a²").text(), "a_");
        assert_eq!(escape("température").text(), "température");
        assert!(escape("température").ident().is_ok());
    }

    #[test]
    fn collisions_number_the_later_names_in_model_order() {
        let mut names = Names::default();
        assert_eq!(names.claim(&snake_case("myPort")).text(), "my_port");
        assert_eq!(names.claim(&snake_case("my_port")).text(), "my_port_2");
        assert_eq!(names.claim(&snake_case("MyPort")).text(), "my_port_3");
        // A keyword and its escape are the same identifier.
        assert_eq!(names.claim("type").text(), "r#type");
        assert_eq!(names.claim("type").text(), "type_2");
        // `self` becomes `self_`, so a later `self_` is numbered.
        assert_eq!(names.claim("self").text(), "self_");
        assert_eq!(names.claim("self_").text(), "self_2");
    }

    #[test]
    fn reserved_names_are_never_given_out() {
        let mut names = Names::with_reserved(&["messages", "groups"]);
        assert_eq!(names.claim("messages").text(), "messages_2");
        assert_eq!(names.claim("sensor").text(), "sensor");
        assert_eq!(names.claim("groups").text(), "groups_2");
    }
}
