//! A scannerless reader over model text, shared by the `.riaps` and `.depl` parsers.
//!
//! It follows the token rules of the textX grammars RIAPS uses, so the same files parse the same
//! way: keywords are matched as plain prefixes (textX's `autokwd` is off, so `timerclock` reads
//! as `timer clock`; we accept that and warn), names are `[^\d\W]\w*`, integers may carry a sign,
//! and a number that has a fraction or an exponent is a float.
//!
//! Like a PEG parser it remembers the farthest position where something was expected and what,
//! so a syntax error says every alternative that would have been valid there.

use crate::ast::Ident;
use crate::diagnostic::Diagnostic;
use crate::literal::{Literal, Value};
use crate::source::Span;

/// A syntax error was found; what was expected is in the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail;

/// Result of a grammar rule.
pub(crate) type Parse<T> = Result<T, Fail>;

/// Most syntax errors reported for one file; past that the parser stops.
const MAX_SYNTAX_ERRORS: usize = 50;

/// Comment forms a grammar accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comments {
    /// `//` line comments and `/* */` block comments (`.riaps`).
    LineAndBlock,
    /// `//` line comments only (`.depl`).
    LineOnly,
}

pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    comments: Comments,
    far: usize,
    expected: Vec<&'static str>,
    syntax_errors: usize,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_host_char(c: char) -> bool {
    is_word(c) || c == '.' || c == '-'
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str, comments: Comments) -> Self {
        // A UTF-8 byte-order mark, which some editors write, is not part of the model.
        let pos = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
        Self { text, pos, comments, far: 0, expected: Vec::new(), syntax_errors: 0, diagnostics: Vec::new() }
    }

    /// The whole text being read.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// Current byte offset (after any trivia already skipped).
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Skips white space and comments.
    pub(crate) fn skip_trivia(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if trimmed.starts_with("/*") && self.comments == Comments::LineAndBlock {
                match trimmed[2..].find("*/") {
                    Some(end) => self.pos += end + 4,
                    None => {
                        let start = self.pos;
                        self.diagnostics.push(
                            Diagnostic::error(Span::new(start, start + 2), "unterminated block comment")
                                .with_help("close the comment with `*/`"),
                        );
                        self.pos = self.text.len();
                    }
                }
            } else {
                return;
            }
        }
    }

    /// Records that `what` would have been accepted at the current position.
    pub(crate) fn expect(&mut self, what: &'static str) {
        self.expect_at(self.pos, what);
    }

    /// Records that `what` would have been accepted at `pos`.
    pub(crate) fn expect_at(&mut self, pos: usize, what: &'static str) {
        if pos > self.far {
            self.far = pos;
            self.expected.clear();
        }
        if pos == self.far && !self.expected.contains(&what) {
            self.expected.push(what);
        }
    }

    /// Ends a statement with `;`. A missing `;` is reported but does not lose the statement:
    /// when the next token begins another item (one of `sync`, or `}`) parsing goes on from
    /// there; otherwise the rest of the statement is skipped. Fails only when too many errors
    /// were reported.
    pub(crate) fn end_statement(&mut self, sync: &[&str]) -> Parse<()> {
        if self.eat(";").is_some() {
            return Ok(());
        }
        if !self.report_syntax_error() {
            return Err(Fail);
        }
        let at_next_item = self.looking_at("}") || sync.iter().any(|kw| self.looking_at_word(kw));
        if !at_next_item {
            let here = self.pos;
            self.recover_item(here, sync);
        }
        Ok(())
    }

    /// Whether the next token is the whole word `word`.
    fn looking_at_word(&mut self, word: &str) -> bool {
        self.looking_at(word) && !self.rest()[word.len()..].starts_with(is_word)
    }

    /// Whether only trivia is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_trivia();
        self.pos == self.text.len()
    }

    /// Whether the next token is `lit`, without consuming it or recording an expectation.
    pub(crate) fn looking_at(&mut self, lit: &str) -> bool {
        self.skip_trivia();
        self.rest().starts_with(lit)
    }

    /// Whether the next token is `lit`, without consuming it (records the expectation).
    pub(crate) fn peek(&mut self, lit: &'static str) -> bool {
        self.skip_trivia();
        if self.rest().starts_with(lit) {
            true
        } else {
            self.expect(lit);
            false
        }
    }

    /// Consumes the literal `lit` (a keyword or punctuation) if it comes next.
    pub(crate) fn eat(&mut self, lit: &'static str) -> Option<Span> {
        if !self.peek(lit) {
            return None;
        }
        let start = self.pos;
        self.pos += lit.len();
        self.warn_if_glued(lit, start);
        Some(Span::new(start, self.pos))
    }

    /// Consumes `lit` or fails with it expected.
    pub(crate) fn must(&mut self, lit: &'static str) -> Parse<Span> {
        self.eat(lit).ok_or(Fail)
    }

    /// Consumes the longest of several keywords that comes next, returning its value.
    pub(crate) fn eat_choice<T: Copy>(&mut self, choices: &[(&'static str, T)]) -> Option<(T, Span)> {
        self.skip_trivia();
        let best =
            choices.iter().filter(|(lit, _)| self.rest().starts_with(lit)).max_by_key(|(lit, _)| lit.len()).copied();
        match best {
            Some((lit, value)) => self.eat(lit).map(|span| (value, span)),
            None => {
                for (lit, _) in choices {
                    self.expect(lit);
                }
                None
            }
        }
    }

    fn warn_if_glued(&mut self, lit: &str, start: usize) {
        let ends_in_word = lit.chars().last().is_some_and(is_word);
        if ends_in_word && self.peek_char().is_some_and(is_word) {
            let glued_end = self.pos + self.rest().find(|c: char| !is_word(c)).unwrap_or(self.rest().len());
            let glued = &self.text[start..glued_end];
            let rest = &self.text[self.pos..glued_end];
            self.diagnostics.push(
                Diagnostic::warning(Span::new(start, glued_end), format!("`{glued}` is read as `{lit} {rest}`"))
                    .with_help(format!("put a space after `{lit}`")),
            );
        }
    }

    /// A name: `[^\d\W]\w*`.
    pub(crate) fn ident(&mut self, what: &'static str) -> Parse<Ident> {
        self.skip_trivia();
        let rest = self.rest();
        match rest.chars().next() {
            Some(c) if is_word(c) && !c.is_numeric() => {
                let len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
                let start = self.pos;
                self.pos += len;
                Ok(Ident { name: rest[..len].to_string(), span: Span::new(start, self.pos) })
            }
            _ => {
                self.expect(what);
                Err(Fail)
            }
        }
    }

    /// A host name or address: `[\w.-]+`.
    pub(crate) fn host(&mut self) -> Parse<Ident> {
        self.skip_trivia();
        let rest = self.rest();
        let len = rest.find(|c: char| !is_host_char(c)).unwrap_or(rest.len());
        if len == 0 {
            self.expect("a host name or address");
            return Err(Fail);
        }
        let start = self.pos;
        self.pos += len;
        Ok(Ident { name: rest[..len].to_string(), span: Span::new(start, self.pos) })
    }

    /// Scans a number at the current position: (byte length, is float). Does not consume.
    fn scan_number(&self) -> Option<(usize, bool)> {
        let bytes = self.rest().as_bytes();
        let mut i = 0;
        if matches!(bytes.first(), Some(b'+' | b'-')) {
            i += 1;
        }
        let int_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        i += int_digits;
        let mut is_float = false;
        if bytes.get(i) == Some(&b'.') {
            let frac = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if int_digits > 0 || frac > 0 {
                is_float = true;
                i += 1 + frac;
            }
        }
        if int_digits == 0 && !is_float {
            return None;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            let exp = bytes[j..].iter().take_while(|b| b.is_ascii_digit()).count();
            if exp > 0 {
                is_float = true;
                i = j + exp;
            }
        }
        // Like textX's INT (`\b` after the digits) and FLOAT (not followed by a word char or
        // `.`), a number may not run straight into a name.
        let next = self.rest()[i..].chars().next();
        let glued = next.is_some_and(|c| is_word(c) || (is_float && c == '.'));
        if glued {
            return None;
        }
        Some((i, is_float))
    }

    /// A whole number with an optional sign, where only an integer is allowed.
    pub(crate) fn int(&mut self, what: &'static str) -> Parse<(i64, Span)> {
        self.skip_trivia();
        let bytes = self.rest().as_bytes();
        let sign = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
        let digits = bytes[sign..].iter().take_while(|b| b.is_ascii_digit()).count();
        let next = self.rest()[sign + digits..].chars().next();
        if digits == 0 || next.is_some_and(is_word) {
            self.expect(what);
            return Err(Fail);
        }
        let start = self.pos;
        let text = &self.rest()[..sign + digits];
        self.pos += sign + digits;
        let span = Span::new(start, self.pos);
        match text.parse::<i64>() {
            Ok(v) => Ok((v, span)),
            Err(_) => {
                self.diagnostics.push(Diagnostic::error(span, format!("integer `{text}` is out of range")));
                Ok((0, span))
            }
        }
    }

    /// An integer or a float.
    pub(crate) fn number(&mut self) -> Parse<Literal> {
        self.skip_trivia();
        let Some((len, is_float)) = self.scan_number() else {
            self.expect("a number");
            return Err(Fail);
        };
        let start = self.pos;
        let text = &self.rest()[..len];
        self.pos += len;
        let span = Span::new(start, self.pos);
        let value = if is_float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => {
                    self.diagnostics.push(Diagnostic::error(span, format!("number `{text}` is out of range")));
                    Value::Float(0.0)
                }
            }
        } else {
            match text.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => {
                    self.diagnostics.push(Diagnostic::error(span, format!("integer `{text}` is out of range")));
                    Value::Int(0)
                }
            }
        };
        Ok(Literal { value, span })
    }

    /// A quoted string (`"..."` or `'...'`); only `\"` and `\'` are unescaped, as in RIAPS.
    pub(crate) fn string(&mut self) -> Parse<Literal> {
        self.skip_trivia();
        let Some(quote) = self.peek_char().filter(|c| *c == '"' || *c == '\'') else {
            self.expect("a string");
            return Err(Fail);
        };
        let start = self.pos;
        let body_start = start + 1;
        let mut chars = self.text[body_start..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\\' && self.text[body_start + i + 1..].starts_with(quote) {
                chars.next();
            } else if c == quote {
                end = Some(body_start + i);
                break;
            }
        }
        let Some(end) = end else {
            self.diagnostics.push(
                Diagnostic::error(Span::new(start, start + 1), "unterminated string")
                    .with_help(format!("close the string with {quote}")),
            );
            self.pos = self.text.len();
            return Ok(Literal { value: Value::Str(String::new()), span: Span::new(start, self.pos) });
        };
        let raw = &self.text[body_start..end];
        self.pos = end + 1;
        let value = raw.replace("\\\"", "\"").replace("\\'", "'");
        Ok(Literal { value: Value::Str(value), span: Span::new(start, self.pos) })
    }

    /// `true`, `True`, `false` or `False`, as a whole word.
    pub(crate) fn boolean(&mut self) -> Parse<Literal> {
        self.skip_trivia();
        for (word, value) in [("true", true), ("True", true), ("false", false), ("False", false)] {
            let rest = self.rest();
            if rest.starts_with(word) && !rest[word.len()..].starts_with(is_word) {
                let start = self.pos;
                self.pos += word.len();
                return Ok(Literal { value: Value::Bool(value), span: Span::new(start, self.pos) });
            }
        }
        self.expect("`true` or `false`");
        Err(Fail)
    }

    /// A string, number or boolean, tried in that order.
    pub(crate) fn literal(&mut self) -> Parse<Literal> {
        self.string().or_else(|_| self.number()).or_else(|_| self.boolean())
    }

    /// An optional argument list `(name = value, ...)`, where `value` reads one value. No list
    /// and `()` both give no arguments.
    pub(crate) fn arguments<T>(&mut self, mut value: impl FnMut(&mut Self) -> Parse<T>) -> Parse<Vec<(Ident, T)>> {
        let mut arguments = Vec::new();
        if self.eat("(").is_none() || self.eat(")").is_some() {
            return Ok(arguments);
        }
        loop {
            let name = self.ident("a parameter name")?;
            self.must("=")?;
            arguments.push((name, value(self)?));
            if self.eat(",").is_none() {
                self.must(")")?;
                return Ok(arguments);
            }
        }
    }

    /// Builds the diagnostic for the farthest failure and resets the expectations.
    pub(crate) fn take_syntax_error(&mut self) -> Diagnostic {
        let at = self.far.max(self.pos).min(self.text.len());
        let found = describe_token(&self.text[at..]);
        let span = Span::new(at, at + found.1);
        let expected = join_alternatives(&self.expected);
        self.far = 0;
        self.expected.clear();
        Diagnostic::error(span, format!("expected {expected}, found {}", found.0))
    }

    /// Moves past one character; used to guarantee progress after an error.
    pub(crate) fn bump(&mut self) {
        if let Some(c) = self.peek_char() {
            self.pos += c.len_utf8();
        }
    }

    /// Reports the current syntax error. Returns false when too many were reported already.
    pub(crate) fn report_syntax_error(&mut self) -> bool {
        let diagnostic = self.take_syntax_error();
        self.push_syntax_error(diagnostic)
    }

    /// Reports a syntax error built by the caller (so it can add help).
    pub(crate) fn push_syntax_error(&mut self, diagnostic: Diagnostic) -> bool {
        self.syntax_errors += 1;
        if self.syntax_errors <= MAX_SYNTAX_ERRORS {
            self.diagnostics.push(diagnostic);
        }
        if self.syntax_errors == MAX_SYNTAX_ERRORS {
            let at = self.pos.min(self.text.len());
            self.diagnostics.push(Diagnostic::error(Span::at(at), "too many syntax errors; stopped here"));
        }
        self.syntax_errors < MAX_SYNTAX_ERRORS
    }

    /// Skips the rest of a broken item (a statement or a block) that started at `start`, so
    /// parsing can resume with the next one. It stops after the `;` or the `}` that ends the
    /// item, before the `}` that closes the enclosing block, or before one of the `sync`
    /// keywords (which begin the next item: the usual cause is a missing `;`).
    pub(crate) fn recover_item(&mut self, start: usize, sync: &[&str]) {
        let mut depth = self.open_blocks(start, self.pos);
        loop {
            self.skip_trivia();
            let Some(c) = self.peek_char() else { return };
            match c {
                ';' if depth == 0 => {
                    self.pos += 1;
                    return;
                }
                '{' => depth += 1,
                '}' if depth == 0 => return,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return;
                    }
                }
                '"' | '\'' => {
                    self.skip_string();
                    continue;
                }
                c if is_word(c) => {
                    let rest = self.rest();
                    let word = rest.find(|c: char| !is_word(c) && c != '-').unwrap_or(rest.len());
                    if depth == 0 && self.pos > start && sync.contains(&&rest[..word]) {
                        return;
                    }
                    self.pos += word;
                    continue;
                }
                _ => {}
            }
            self.pos += c.len_utf8();
        }
    }

    /// How many `{` between `start` and `end` are still open at `end`.
    fn open_blocks(&mut self, start: usize, end: usize) -> usize {
        let saved = (self.pos, self.diagnostics.len());
        self.pos = start;
        let mut depth = 0usize;
        loop {
            self.skip_trivia();
            if self.pos >= end {
                break;
            }
            match self.peek_char() {
                Some('{') => depth += 1,
                Some('}') => depth = depth.saturating_sub(1),
                Some('"' | '\'') => {
                    self.skip_string();
                    continue;
                }
                None => break,
                _ => {}
            }
            self.bump();
        }
        self.pos = saved.0;
        self.diagnostics.truncate(saved.1);
        depth
    }

    /// Moves past a string without reporting anything about it.
    fn skip_string(&mut self) {
        let before = self.diagnostics.len();
        if self.string().is_err() {
            self.bump();
        }
        self.diagnostics.truncate(before);
    }
}

/// Describes the text at an error position: (`word` or end of file, byte length).
fn describe_token(rest: &str) -> (String, usize) {
    let Some(first) = rest.chars().next() else { return ("end of file".to_string(), 0) };
    let len = if is_word(first) { rest.find(|c: char| !is_word(c)).unwrap_or(rest.len()) } else { first.len_utf8() };
    let shown: String = rest[..len].chars().take(40).collect();
    (format!("`{}`", shown.escape_debug()), len)
}

fn join_alternatives(items: &[&'static str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| if s.contains(' ') || s.starts_with('`') { s.to_string() } else { format!("`{s}`") })
        .collect();
    match quoted.as_slice() {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(text: &str) -> Cursor<'_> {
        Cursor::new(text, Comments::LineAndBlock)
    }

    #[test]
    fn numbers_follow_textx_int_and_float_rules() {
        let cases: [(&str, Value); 7] = [
            ("7", Value::Int(7)),
            ("-3", Value::Int(-3)),
            ("2.5", Value::Float(2.5)),
            ("1e3", Value::Float(1000.0)),
            ("-.5", Value::Float(-0.5)),
            ("7.", Value::Float(7.0)),
            ("2.4e06", Value::Float(2_400_000.0)),
        ];
        for (text, value) in cases {
            assert_eq!(cursor(text).number().map(|l| l.value), Ok(value), "{text}");
        }
        assert_eq!(cursor("1000msec").number(), Err(Fail));
        assert_eq!(cursor("1.5.").number(), Err(Fail));
    }

    #[test]
    fn strings_unescape_only_quotes() {
        let lit = cursor(r#""dq \"q\" a\\b""#).string().map(|l| l.value);
        assert_eq!(lit, Ok(Value::Str(r#"dq "q" a\\b"#.to_string())));
        let lit = cursor(r"'single \'q\''").string().map(|l| l.value);
        assert_eq!(lit, Ok(Value::Str("single 'q'".to_string())));
    }

    #[test]
    fn booleans_are_whole_words() {
        assert!(cursor("True").boolean().is_ok());
        assert!(cursor("trueish").boolean().is_err());
    }

    #[test]
    fn glued_keywords_are_accepted_with_a_warning() {
        let mut c = cursor("timerclock 1000;");
        assert!(c.eat("timer").is_some());
        assert_eq!(c.ident("a name").map(|i| i.name), Ok("clock".to_string()));
        assert_eq!(c.diagnostics.len(), 1);
        assert!(c.diagnostics[0].message.contains("read as `timer clock`"));
    }

    #[test]
    fn syntax_error_lists_every_alternative_at_the_farthest_point() {
        let mut c = cursor("  foo");
        assert!(c.eat("app").is_none());
        c.expect("end of file");
        let d = c.take_syntax_error();
        assert_eq!(d.message, "expected `app` or end of file, found `foo`");
        assert_eq!(d.span, Span::new(2, 5));
    }

    #[test]
    fn recovery_skips_a_statement_or_a_balanced_block() {
        let mut c = cursor("x y; next");
        c.recover_item(0, &[]);
        assert!(c.eat("next").is_some());
        let mut c = cursor("component C { pub p : M; } next");
        c.recover_item(0, &[]);
        assert!(c.eat("next").is_some());
        let mut c = cursor("broken } after");
        c.recover_item(0, &[]);
        assert!(c.peek("}"));
    }

    #[test]
    fn recovery_finishes_a_block_the_item_had_opened() {
        let mut c = cursor("host all { } on all X;");
        assert!(c.eat("host").is_some() && c.eat("all").is_some() && c.eat("{").is_some());
        c.recover_item(0, &["on"]);
        assert!(c.eat("on").is_some());
    }

    #[test]
    fn recovery_stops_before_the_next_item_after_a_missing_semicolon() {
        let mut c = cursor("message M\n component C { pub p : M; }");
        assert!(c.eat("message").is_some() && c.ident("a name").is_ok());
        c.recover_item(0, &["component"]);
        assert!(c.eat("component").is_some());
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert!(Cursor::new("\u{feff}app", Comments::LineOnly).eat("app").is_some());
    }

    #[test]
    fn unterminated_block_comment_is_an_error_not_a_hang() {
        let mut c = cursor("/* never closed");
        assert!(c.at_end());
        assert_eq!(c.diagnostics.len(), 1);
    }
}
