//! Source text, byte spans within it, and turning a span into a 1-based line and column.

/// A model file held in memory: the name shown in diagnostics and its full text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name diagnostics print before `:LINE:COL` (usually the path as the user typed it).
    pub name: String,
    /// The whole text of the file.
    pub text: String,
}

impl SourceFile {
    /// Makes a source file from a display name and its text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self { name: name.into(), text: text.into() }
    }

    /// The 1-based line and column (counted in characters) of a byte offset.
    ///
    /// Offsets past the end, or inside a multi-byte character, are clamped to the nearest valid
    /// position before them.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = floor_char_boundary(&self.text, offset);
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        LineCol { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
    }

    /// The full text of the line that holds `offset`, without its line break.
    pub fn line_text(&self, offset: usize) -> &str {
        let offset = floor_char_boundary(&self.text, offset);
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[offset..].find('\n').map_or(self.text.len(), |i| offset + i);
        self.text[start..end].trim_end_matches('\r')
    }
}

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub column: usize,
}

/// A range of bytes `[start, end)` in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// First byte of the range.
    pub start: usize,
    /// One past the last byte of the range.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end: end.max(start) }
    }

    /// An empty span at one offset.
    pub fn at(offset: usize) -> Self {
        Self { start: offset, end: offset }
    }
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let src = SourceFile::new("f", "ab\nçd e\n");
        assert_eq!(src.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(src.line_col(3), LineCol { line: 2, column: 1 });
        // `ç` is two bytes; `e` is the 4th character of line 2.
        assert_eq!(src.line_col(7), LineCol { line: 2, column: 4 });
        assert_eq!(src.line_text(7), "çd e");
        assert_eq!(src.line_col(999), LineCol { line: 3, column: 1 });
    }

    #[test]
    fn offsets_inside_a_character_are_clamped() {
        let src = SourceFile::new("f", "ç");
        assert_eq!(src.line_col(1), LineCol { line: 1, column: 1 });
    }
}
