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
    /// Every [`CHECKPOINT`] bytes (moved forward to a character boundary): the byte offset and
    /// the number of characters before it. Columns are counted from the nearest checkpoint, so
    /// locating many diagnostics on one long line costs no more than the line once.
    checkpoints: Vec<(usize, usize)>,
}

/// The spacing of [`Source`]'s character-count checkpoints, in bytes.
const CHECKPOINT: usize = 4096;

impl Source {
    /// Wraps `text` under the display name `name` (usually its path).
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        let text: String = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let mut checkpoints = vec![(0, 0)];
        let (mut at, mut chars) = (0, 0);
        while at + CHECKPOINT < text.len() {
            let mut next = at + CHECKPOINT;
            while !text.is_char_boundary(next) {
                next += 1;
            }
            chars += text.get(at..next).map_or(0, |s| s.chars().count());
            at = next;
            checkpoints.push((at, chars));
        }
        Source { name: name.into(), text, line_starts, checkpoints }
    }

    /// Reads the policy file at `path`, named by its path as given. Refuses text that is not
    /// UTF-8, and reads at most one byte past [`Limits::source_bytes`]: enough to refuse a
    /// larger file without holding it.
    ///
    /// A compiled bundle is not policy text: reading one is [`LoadError::IsBundle`]
    /// ([`crate::Engine::from_path`] loads either).
    pub fn read(path: &Path, limits: &Limits) -> Result<Source, LoadError> {
        let bytes = read_file(path, limits.source_bytes)?;
        let name = path.display().to_string();
        if crate::bundle::is_bundle(&bytes) {
            return Err(LoadError::IsBundle { path: name });
        }
        Source::from_bytes(name, bytes)
    }

    /// Policy text from a file's bytes, which must be UTF-8.
    pub(crate) fn from_bytes(name: String, bytes: Vec<u8>) -> Result<Source, LoadError> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source::new(name, text)),
            Err(e) => Err(LoadError::NotUtf8 { path: name, offset: e.utf8_error().valid_up_to() }),
        }
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

    /// The 0-based index of the line holding a byte offset (offsets past the end clamp).
    pub(crate) fn line_index(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.line_starts.partition_point(|&start| start <= offset).saturating_sub(1)
    }

    /// The offset where the line holding a byte offset starts (offsets past the end clamp).
    pub(crate) fn line_start(&self, offset: usize) -> usize {
        self.line_starts.get(self.line_index(offset)).copied().unwrap_or(0)
    }

    /// The line and column of a byte offset; offsets past the end clamp to the end, and an
    /// offset inside a multi-byte character counts as that character.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line_index = self.line_index(offset);
        let line_start = self.line_starts.get(line_index).copied().unwrap_or(0);
        // An offset inside a character counts as that character.
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let column = self.chars_before(end) - self.chars_before(line_start);
        LineCol { line: line_index + 1, column: column + 1 }
    }

    /// The number of characters before byte `offset`, which is on a character boundary.
    fn chars_before(&self, offset: usize) -> usize {
        let index = self.checkpoints.partition_point(|&(at, _)| at <= offset).saturating_sub(1);
        let (at, chars) = self.checkpoints.get(index).copied().unwrap_or((0, 0));
        chars + self.text.get(at..offset).map_or(0, |s| s.chars().count())
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

    /// The byte range of 1-based line `line`, without its line break (a CR before the LF
    /// included); empty past the end.
    pub(crate) fn line_range(&self, line: usize) -> (usize, usize) {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return (self.text.len(), self.text.len());
        };
        let end = self.line_starts.get(line).map_or(self.text.len(), |&next| next.saturating_sub(1));
        (start, end.max(start))
    }

    /// The text a span covers, or `""` if the span does not fall on character boundaries.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never part of
/// either, and a crash after it returns loses nothing: the bytes go to a temporary file beside
/// the target, which is synced, renamed over the target, and the directory synced. A file
/// replaced keeps its permissions. `path` itself is replaced: a caller that means to write
/// through a symbolic link resolves it first.
///
/// ```
/// let path = std::env::temp_dir().join(format!("entitle-doc-{}.txt", std::process::id()));
/// entitle::write_file_atomically(&path, b"first")?;
/// entitle::write_file_atomically(&path, b"second")?;
/// assert_eq!(std::fs::read(&path)?, b"second");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let file_name =
        path.file_name().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(file_name);
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary_name);
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        // A file replaced keeps its permissions (a policy kept at 0600 stays private); they are
        // set before the first byte is written, so the new text is never readable more widely.
        if let Ok(existing) = std::fs::metadata(path) {
            file.set_permissions(existing.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = renamed {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    // The rename is durable once the directory is; not every platform can open one to sync it.
    let directory = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(directory) = std::fs::File::open(directory) {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// The bytes of the regular file at `path`, refused when longer than `max`.
pub(crate) fn read_file(path: &Path, max: usize) -> Result<Vec<u8>, LoadError> {
    let name = path.display().to_string();
    let read_error = |source| LoadError::Read { path: name.clone(), source };
    // A FIFO or a device would block on open or never end: only regular files are
    // policies, and that is checked before opening.
    if !std::fs::metadata(path).map_err(read_error)?.is_file() {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
        return Err(LoadError::Read { path: name, source });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    let ceiling = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    file.take(ceiling).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() > max {
        return Err(LoadError::TooLarge { path: name, max });
    }
    Ok(bytes)
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
