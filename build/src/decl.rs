//! Quoting the model in the generated code: a declaration's source text and its `file:line:col`.

use cohort_model::{SourceFile, Span};

/// The longest quote kept; longer declarations are cut with `…`.
const MAX_QUOTE_CHARS: usize = 160;

/// A declaration of the model, as written, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quote {
    /// The declaration's text on one line, comments removed, white space collapsed
    /// (`timer clock 1000;`).
    pub(crate) text: String,
    /// `file:line:col` of the declared name.
    pub(crate) at: String,
}

impl Quote {
    /// The doc line quoting the declaration: `` `timer clock 1000;` (estimator.riaps:12:7) ``.
    pub(crate) fn doc(&self) -> String {
        format!("{} ({})", code_span(&self.text), self.at)
    }

    /// The text of a trailing `//` comment: `estimator.riaps:5:13: message SensorReady;`.
    pub(crate) fn comment(&self) -> String {
        format!("{}: {}", self.at, self.text)
    }
}

/// Where a declaration ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// At the first `;` outside strings and comments, which is kept (messages, groups, ports).
    Semicolon,
    /// Before the `{` that opens the body, shown as `{ ... }` (apps, components).
    Body,
}

/// Quotes the declaration of the name at `name`: from the keyword just before the name (when
/// there is one) to the declaration's end.
pub(crate) fn declaration(source: &SourceFile, name: Span, end: End) -> Quote {
    let start = keyword_start(&source.text, name.start);
    let (mut text, cut) = scan(&source.text, start, |c| match end {
        End::Semicolon => c == ';' || c == '{' || c == '}',
        End::Body => c == '{' || c == '}',
    });
    if end == End::Body && !cut {
        text.push_str(" { ... }");
    }
    Quote { text, at: location(source, name) }
}

/// Quotes the bytes of `span` (a formal and its default, say), on one line.
pub(crate) fn text_of(source: &SourceFile, span: Span) -> Quote {
    let raw = source.text.get(span.start..span.end).unwrap_or_default();
    let (text, _) = one_line(raw);
    Quote { text, at: location(source, span) }
}

/// `file:line:col` of the start of `span`.
pub(crate) fn location(source: &SourceFile, span: Span) -> String {
    let at = source.line_col(span.start);
    format!("{}:{}:{}", source.name, at.line, at.column)
}

/// Text in backticks, as a Markdown code span that holds any text (more backticks than the text
/// has in a row, spaces inside when it starts or ends with one).
pub(crate) fn code_span(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// The start of the word just before `name_start` (the declaration keyword: `message`, `pub`,
/// `component`, ...), or `name_start` when something else stands there.
fn keyword_start(text: &str, name_start: usize) -> usize {
    let Some(before) = text.get(..name_start) else {
        return name_start.min(text.len());
    };
    let trimmed = before.trim_end_matches([' ', '\t', '\r', '\n']);
    let word_start = trimmed.trim_end_matches(|c: char| c.is_alphanumeric() || c == '_').len();
    if word_start == trimmed.len() {
        name_start
    } else {
        word_start
    }
}

/// The text from `start` to the first character `stop` accepts outside strings and comments (a
/// `;` is kept, a `{` or `}` is not), comments dropped and white space collapsed. Returns whether
/// the text was cut for length.
fn scan(text: &str, start: usize, stop: impl Fn(char) -> bool) -> (String, bool) {
    let rest = text.get(start..).unwrap_or_default();
    let mut raw = String::new();
    let mut chars = rest.chars().peekable();
    let mut in_string: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(quote) = in_string {
            raw.push(c);
            if c == '\\' && chars.peek() == Some(&quote) {
                raw.push(quote);
                chars.next();
            } else if c == quote {
                in_string = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                in_string = Some(c);
                raw.push(c);
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                raw.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
                raw.push(' ');
            }
            c if stop(c) => {
                if c == ';' {
                    raw.push(c);
                }
                break;
            }
            c => raw.push(c),
        }
        if raw.chars().count() > MAX_QUOTE_CHARS * 4 {
            break;
        }
    }
    one_line(&raw)
}

/// `raw` on one line: runs of white space (line breaks included) become one space, control
/// characters are escaped, and the text is trimmed and cut to [`MAX_QUOTE_CHARS`] (returned
/// `true` when cut).
fn one_line(raw: &str) -> (String, bool) {
    let mut out = String::new();
    let mut space = false;
    for c in raw.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if out.ends_with(" ;") {
        out.truncate(out.len() - 2);
        out.push(';');
    }
    if out.chars().count() > MAX_QUOTE_CHARS {
        let mut cut: String = out.chars().take(MAX_QUOTE_CHARS).collect();
        cut.push('…');
        (cut, true)
    } else {
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote_of(text: &str, name: &str, end: End) -> Quote {
        let source = SourceFile::new("m.riaps", text);
        let start = text.find(name).unwrap_or(0);
        declaration(&source, Span::new(start, start + name.len()), end)
    }

    #[test]
    fn quotes_the_declaration_without_its_comment() {
        let text = "app A {\n    component S {\n      timer clock 1000; \t\t// every second\n    }\n}";
        let q = quote_of(text, "clock", End::Semicolon);
        assert_eq!(q.text, "timer clock 1000;");
        assert_eq!(q.at, "m.riaps:3:13");
        assert_eq!(q.doc(), "`timer clock 1000;` (m.riaps:3:13)");
        assert_eq!(q.comment(), "m.riaps:3:13: timer clock 1000;");
    }

    #[test]
    fn a_space_before_the_semicolon_is_dropped() {
        let q = quote_of("rep request : ( SensorQuery , SensorValue ) ;// x", "request", End::Semicolon);
        assert_eq!(q.text, "rep request : ( SensorQuery , SensorValue );");
    }

    #[test]
    fn component_headers_show_their_formals_and_an_elided_body() {
        let text = "component G (s=\"a;{b\" /* c */, n=1)\n  scheduler priority; { timer t 1; }";
        let q = quote_of(text, "G", End::Body);
        assert_eq!(q.text, "component G (s=\"a;{b\" , n=1) scheduler priority; { ... }");
    }

    #[test]
    fn declarations_over_several_lines_are_joined() {
        let q = quote_of("group G with leader\n   using M\n   timed;", "G", End::Semicolon);
        assert_eq!(q.text, "group G with leader using M timed;");
    }

    #[test]
    fn glued_keywords_are_quoted_as_written() {
        let q = quote_of("timerclock 1000;", "clock", End::Semicolon);
        assert_eq!(q.text, "timerclock 1000;");
    }

    #[test]
    fn long_declarations_are_cut() {
        let long = format!("message M{};", "x".repeat(300));
        let q = quote_of(&long, "M", End::Semicolon);
        assert!(q.text.ends_with('…'));
        assert_eq!(q.text.chars().count(), MAX_QUOTE_CHARS + 1);
    }

    #[test]
    fn code_spans_hold_backticks() {
        assert_eq!(code_span("a"), "`a`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`a"), "`` `a ``");
    }
}
