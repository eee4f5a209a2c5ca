//! Source text, byte spans, and the mapping from byte offsets to lines and columns.

use std::io::Read as _;
use std::path::Path;

use crate::engine::LoadError;
use crate::limits::Limits;

/// A half-open byte range `start..end` into one source text.
///
/// Every AST node and every diagnostic carries one. Lines and columns are derived from it on
/// demand with [`Source::location`], so the span itself stays two integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// Creates the span `start..end`.
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The empty span at `offset`, used for things that are missing rather than wrong.
    pub const fn at(offset: usize) -> Span {
        Span { start: offset, end: offset }
    }
}

/// A 1-based line and column, the column counted in characters (not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in Unicode scalar values.
    pub column: usize,
}

/// A named policy text, with an index of its line starts.
///
/// ```
/// use entitle::{Source, Span};
/// let src = Source::new("a.policy", "policy \"a\"\nfeature x\n");
/// let at = src.location(Span::new(19, 20));
/// assert_eq!((at.line, at.column), (2, 9));
/// ```
#[derive(Clone, Debug)]
pub struct Source {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl Source {
    /// Wraps `text` under the display name `name` (usually its path).
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        let text = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Source { name: name.into(), text, line_starts }
    }

    /// Reads the policy file at `path`, named by its path as given. Refuses text that is not
    /// UTF-8, and reads at most one byte past [`Limits::source_bytes`]: enough to refuse a
    /// larger file without holding it.
    pub fn read(path: &Path, limits: &Limits) -> Result<Source, LoadError> {
        let name = path.display().to_string();
        let read_error = |source| LoadError::Read { path: name.clone(), source };
        let file = std::fs::File::open(path).map_err(read_error)?;
        // A FIFO or a device would block or never end: only regular files are policies.
        if !file.metadata().map_err(read_error)?.is_file() {
            let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
            return Err(LoadError::Read { path: name, source });
        }
        let mut bytes = Vec::new();
        let ceiling = u64::try_from(limits.source_bytes).unwrap_or(u64::MAX).saturating_add(1);
        file.take(ceiling).read_to_end(&mut bytes).map_err(read_error)?;
        if bytes.len() > limits.source_bytes {
            return Err(LoadError::TooLarge { path: name, max: limits.source_bytes });
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| LoadError::NotUtf8 { path: name.clone(), offset: e.utf8_error().valid_up_to() })?;
        Ok(Source::new(name, text))
    }

    /// The display name given to [`Source::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line and column where `span` starts.
    pub fn location(&self, span: Span) -> LineCol {
        self.line_col(span.start)
    }

    /// The line and column of a byte offset; offsets past the end clamp to the end, and an
    /// offset inside a multi-byte character counts as that character.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        // `line_starts[0]` is 0, so at least one start is at or before any offset.
        let line_index = self.line_starts.partition_point(|&start| start <= offset).saturating_sub(1);
        let line_start = self.line_starts.get(line_index).copied().unwrap_or(0);
        let rest = self.text.get(line_start..).unwrap_or("");
        let column = rest.char_indices().take_while(|(i, c)| line_start + i + c.len_utf8() <= offset).count();
        LineCol { line: line_index + 1, column: column + 1 }
    }

    /// The text of 1-based line `line`, without its line break; empty past the end.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        // The next line starts just past this one's `\n`.
        let end = self.line_starts.get(line).map_or(self.text.len(), |&next| next.saturating_sub(1));
        self.text.get(start..end).unwrap_or("").trim_end_matches('\r')
    }

    /// The text a span covers, or `""` if the span does not fall on character boundaries.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let src = Source::new("t", "ab\n\u{e9}x\n");
        assert_eq!(src.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(src.line_col(3), LineCol { line: 2, column: 1 });
        // 'x' sits after the two-byte 'é'.
        assert_eq!(src.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(src.line_col(4), LineCol { line: 2, column: 1 });
        assert_eq!(src.line_col(999), LineCol { line: 3, column: 1 });
        assert_eq!(src.line_text(2), "\u{e9}x");
        assert_eq!(src.line_text(9), "");
    }
}
