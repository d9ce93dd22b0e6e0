//! Errors and warnings about a model file, and how they are printed:
//! `FILE:LINE:COL: error: MESSAGE`, then the source line with a caret under the spot.

use crate::source::{SourceFile, Span};
use std::fmt::Write as _;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The model is accepted, but something in it is probably not what was meant.
    Warning,
    /// The model is rejected.
    Error,
}

/// One problem found in a model file, with where it is and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where the problem is.
    pub span: Span,
    /// What is wrong, in one line (it says what was expected where that applies).
    pub message: String,
    /// Other places that explain the problem (say, the first declaration of a duplicate).
    pub notes: Vec<(Span, String)>,
    /// A suggestion for fixing it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Self { severity: Severity::Error, span, message: one_line(message.into()), notes: Vec::new(), help: None }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, span, message: one_line(message.into()), notes: Vec::new(), help: None }
    }

    /// Adds a note pointing at another place in the same file.
    pub fn with_note(mut self, span: Span, note: impl Into<String>) -> Self {
        self.notes.push((span, one_line(note.into())));
        self
    }

    /// Adds a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(one_line(help.into()));
        self
    }

    /// Adds a suggestion unless the diagnostic has one already (a more specific one, say).
    pub fn with_help_if_none(self, help: impl Into<String>) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.with_help(help)
        }
    }

    /// Whether this diagnostic rejects the model.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Prints the diagnostic as `FILE:LINE:COL: error: MESSAGE`, the source line, a caret line,
    /// then any notes and help.
    pub fn render(&self, source: &SourceFile) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let at = source.line_col(self.span.start);
        let _ = writeln!(out, "{}:{}:{}: {label}: {}", source.name, at.line, at.column, self.message);
        render_snippet(&mut out, source, self.span);
        for (span, note) in &self.notes {
            let at = source.line_col(span.start);
            let _ = writeln!(out, "{}:{}:{}: note: {note}", source.name, at.line, at.column);
            render_snippet(&mut out, source, *span);
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// Escapes line breaks and other control characters (`\n`, `\t`, `\u{2028}`, ...), so that a
/// message quoting the model, such as a library name written as a string, stays on one line.
fn one_line(text: String) -> String {
    let breaks = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.contains(breaks) {
        return text;
    }
    text.chars().map(|c| if breaks(c) { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

fn render_snippet(out: &mut String, source: &SourceFile, span: Span) {
    let at = source.line_col(span.start);
    let line = source.line_text(span.start);
    let gutter = at.line.to_string();
    let pad = " ".repeat(gutter.len());
    // Tabs are kept in the caret line so the caret lines up under the source text.
    let lead: String = line.chars().take(at.column - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let rest_of_line = line.chars().count().saturating_sub(at.column - 1);
    let width = source.text.get(span.start..span.end).map_or(1, |s| s.chars().count());
    let carets = "^".repeat(width.clamp(1, rest_of_line.max(1)));
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{gutter} | {line}");
    let _ = writeln!(out, "{pad} | {lead}{carets}");
}

/// Renders every diagnostic of a file, one after the other, errors and warnings in file order.
pub fn render_all(diagnostics: &[Diagnostic], source: &SourceFile) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| d.span.start);
    sorted.iter().map(|d| d.render(source)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_source_line_and_caret() {
        let src = SourceFile::new("m.riaps", "app A {\n  mesage M;\n}\n");
        let d = Diagnostic::error(Span::new(10, 16), "expected `message`, found `mesage`")
            .with_help("did you mean `message`?");
        let text = d.render(&src);
        assert_eq!(
            text,
            "m.riaps:2:3: error: expected `message`, found `mesage`\n  |\n2 |   mesage M;\n  |   ^^^^^^\n  = help: did you mean `message`?\n"
        );
    }

    #[test]
    fn a_line_break_quoted_in_a_message_is_escaped() {
        let text = "app A { library \"a\nb\"; library \"a\nb\"; component C {} actor X { { c : C; } } }";
        let compiled = crate::compile_app_model(text);
        let rendered = render_all(&compiled.diagnostics, &SourceFile::new("m.riaps", text));
        assert!(rendered.starts_with("m.riaps:2:13: error: library `a\\nb` is declared twice\n"), "{rendered}");
        let d = Diagnostic::error(Span::at(0), "x").with_note(Span::at(0), "a\u{2028}b").with_help("a\tb");
        assert_eq!((d.notes[0].1.as_str(), d.help.as_deref()), (r"a\u{2028}b", Some(r"a\tb")));
    }

    #[test]
    fn caret_at_end_of_file_is_still_drawn() {
        let src = SourceFile::new("m.riaps", "app A {");
        let text = Diagnostic::error(Span::at(7), "expected `}`").render(&src);
        assert!(text.starts_with("m.riaps:1:8: error: expected `}`\n"), "{text}");
        assert!(text.ends_with("|        ^\n"), "{text}");
    }
}
