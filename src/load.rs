//! Reading and writing files: the outer layer, and the only module of the library that
//! touches the file system.
//!
//! The stages below take text and bytes; this module turns a path into them. It tells a
//! policy file from a compiled bundle by the bundle's signature, keeps each to its own size
//! limit, and writes files so that a reader never sees half of one.

use std::io::Read as _;
use std::path::Path;

use crate::bundle::{self, BundleError};
use crate::diagnostic::Diagnostics;
use crate::engine::Engine;
use crate::limits::Limits;
use crate::source::Source;

/// A policy could not be loaded from a file: it could not be read, or it does not check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is policy text larger than [`Limits::source_bytes`].
    #[error("`{path}` is larger than the limit of {max} bytes")]
    TooLarge {
        /// The path given.
        path: String,
        /// The limit.
        max: usize,
    },
    /// The file is a compiled bundle larger than [`Limits::bundle_bytes`].
    #[error("`{path}` is a compiled bundle larger than the limit of {max} bytes for bundles")]
    BundleTooLarge {
        /// The path given.
        path: String,
        /// The limit.
        max: usize,
    },
    /// The file is not UTF-8 text.
    #[error("`{path}` is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 {
        /// The path given.
        path: String,
        /// The offset of the first invalid byte.
        offset: usize,
    },
    /// The policy has errors; each has its location.
    #[error(transparent)]
    Policy(#[from] Diagnostics),
    /// The override set has errors; each has its location (its record's line).
    #[error(transparent)]
    Overrides(Diagnostics),
    /// The file is a compiled bundle where policy text was expected ([`Source::read`]).
    #[error("`{path}` is a compiled bundle, not policy text")]
    IsBundle {
        /// The path given.
        path: String,
    },
    /// The file is a compiled bundle that cannot be loaded.
    #[error("`{path}`: {source}")]
    Bundle {
        /// The path given.
        path: String,
        /// What is wrong with it.
        #[source]
        source: BundleError,
    },
}

impl Source {
    /// Reads the policy file at `path`, named by its path as given. Refuses text that is not
    /// UTF-8, and reads at most one byte past [`Limits::source_bytes`]: enough to refuse a
    /// larger file without holding it.
    ///
    /// A compiled bundle is not policy text: reading one is [`LoadError::IsBundle`]
    /// ([`Engine::from_path`] loads either).
    pub fn read(path: &Path, limits: &Limits) -> Result<Source, LoadError> {
        match read_policy_bytes(path, limits, Want::Text)? {
            Read::Text(source) => Ok(source),
            Read::Bundle(_) => Err(LoadError::IsBundle { path: path.display().to_string() }),
        }
    }
}

impl Engine {
    /// Reads, checks and compiles the policy file at `path`, under the default [`Limits`].
    ///
    /// ```no_run
    /// let engine = entitle::Engine::from_path("policies/rtc-sdk.policy")?;
    /// # Ok::<(), entitle::LoadError>(())
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Result<Engine, LoadError> {
        Engine::from_path_with(path, &Limits::default())
    }

    /// [`Engine::from_path`] under the given limits.
    ///
    /// The file may be policy text or a compiled bundle (`entitle build`), told apart by the
    /// bundle's signature. Either is held to `limits`: a bundle to [`Limits::bundle_bytes`]
    /// and, once decoded, to the same bounds on declarations, names, inheritance depth and
    /// table size as policy text; the engine answers under `limits` whatever the bundle
    /// recorded.
    pub fn from_path_with(path: impl AsRef<Path>, limits: &Limits) -> Result<Engine, LoadError> {
        match read_policy_file(path.as_ref(), limits)? {
            (_, Some(engine)) => Ok(engine),
            (source, None) => Ok(crate::compile(&crate::check::check_with(&source, limits)?)),
        }
    }
}

#[cfg(feature = "json")]
impl crate::overrides::Overrides {
    /// Reads the JSON Lines override set at `path` and checks it against `engine`, under the
    /// engine's [`Limits`] (a file past [`Limits::override_bytes`] is refused unread past one
    /// byte more).
    ///
    /// ```no_run
    /// let engine = entitle::Engine::from_path("policies/rtc-sdk.policy")?;
    /// let overrides = entitle::Overrides::from_path(&engine, "policies/rtc-sdk.overrides.jsonl")?;
    /// # Ok::<(), entitle::LoadError>(())
    /// ```
    pub fn from_path(engine: &Engine, path: impl AsRef<Path>) -> Result<crate::overrides::Overrides, LoadError> {
        use std::io::BufRead as _;
        let (path, limits) = (path.as_ref(), engine.input_limits());
        let name = path.display().to_string();
        let read_error = |source| LoadError::Read { path: name.clone(), source };
        let max = limits.override_bytes;
        let file = open_regular(path).map_err(read_error)?;
        let size = file.metadata().map_err(read_error)?.len();
        if size > u64::try_from(max).unwrap_or(u64::MAX) {
            return Err(LoadError::TooLarge { path: name, max });
        }
        // The file is read a line at a time, so a large set never holds its whole text: only
        // a diagnostic reads it again, to show its line. A first pass counts the lines to size
        // the set's tables once.
        let ceiling = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        let mut lines = 1;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, (&file).take(ceiling));
        loop {
            let buffer = reader.fill_buf().map_err(read_error)?;
            if buffer.is_empty() {
                break;
            }
            lines += memchr::memchr_iter(b'\n', buffer).count();
            let consumed = buffer.len();
            reader.consume(consumed);
        }
        std::io::Seek::rewind(&mut &file).map_err(read_error)?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, (&file).take(ceiling));
        let mut records = crate::override_check::LineReader::new(engine, limits, lines);
        let (mut bytes, mut offset) = (Vec::new(), 0usize);
        // A line is read at most this far (its break, a CR before it, and one byte more to
        // tell it is longer); a longer one is reported and skipped unread, so no line costs
        // more memory than the limit.
        let cap = u64::try_from(limits.query_line_bytes).unwrap_or(u64::MAX).saturating_add(3);
        loop {
            bytes.clear();
            let read = (&mut reader).take(cap).read_until(b'\n', &mut bytes).map_err(read_error)?;
            if read == 0 {
                break;
            }
            if bytes.last() != Some(&b'\n') && read as u64 == cap {
                let mut rest = 0;
                loop {
                    let buffer = reader.fill_buf().map_err(read_error)?;
                    if buffer.is_empty() {
                        break;
                    }
                    match memchr::memchr(b'\n', buffer) {
                        Some(at) => {
                            reader.consume(at + 1);
                            rest += at + 1;
                            break;
                        }
                        None => {
                            let len = buffer.len();
                            reader.consume(len);
                            rest += len;
                        }
                    }
                }
                offset += read + rest;
                if offset > max {
                    return Err(LoadError::TooLarge { path: name, max });
                }
                records.long_line(read + rest);
                continue;
            }
            let line = std::str::from_utf8(&bytes)
                .map_err(|e| LoadError::NotUtf8 { path: name.clone(), offset: offset + e.valid_up_to() })?;
            offset += read;
            if offset > max {
                return Err(LoadError::TooLarge { path: name, max });
            }
            if !records.line(line) {
                break;
            }
        }
        // Only a diagnostic needs the whole text, to show its line.
        let whole = || read_bounded(path, max).unwrap_or_default();
        records.finish(&name, whole).map_err(LoadError::Overrides)
    }
}

/// Opens `path` for reading if it is a regular file: a FIFO or a device would block on open or
/// never end.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    std::fs::File::open(path)
}

/// Reads the text file at `path`, at most `max` bytes (one more is read, to tell a longer
/// file), named by its path as given: what [`crate::Overrides::from_path`] reads, for the
/// runtime, which keeps an override set's text to check it again against a new policy.
#[doc(hidden)]
pub fn read_text_file(path: &Path, max: usize) -> Result<Source, LoadError> {
    read_bounded(path, max).map(|text| Source::new(path.display().to_string(), text))
}

/// [`read_text_file`]'s text.
fn read_bounded(path: &Path, max: usize) -> Result<String, LoadError> {
    let name = path.display().to_string();
    let read_error = |source| LoadError::Read { path: name.clone(), source };
    let file = open_regular(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1)).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() > max {
        return Err(LoadError::TooLarge { path: name, max });
    }
    String::from_utf8(bytes).map_err(|e| LoadError::NotUtf8 { path: name, offset: e.utf8_error().valid_up_to() })
}

/// Reads the file at `path`, policy text or bundle: its source (a bundle's embedded one), and
/// for a bundle, the engine loaded from it under `limits`. Tools that take either
/// (`entitle check`, `eval`) use this; [`Engine::from_path`] is the shortcut for an engine
/// alone.
pub fn read_policy_file(path: &Path, limits: &Limits) -> Result<(Source, Option<Engine>), LoadError> {
    match read_policy_bytes(path, limits, Want::Either)? {
        Read::Text(source) => Ok((source, None)),
        Read::Bundle(bytes) => {
            let bundle_error = |source| LoadError::Bundle { path: path.display().to_string(), source };
            let (info, engine) = bundle::load_with(&bytes, limits).map_err(bundle_error)?;
            Ok((info.source(), Some(engine)))
        }
    }
}

/// What a file held: policy text, or a bundle's bytes (empty when only text was wanted).
enum Read {
    Text(Source),
    Bundle(Vec<u8>),
}

/// What the caller can use: policy text only (a bundle is refused once its signature is
/// read), or either.
#[derive(PartialEq)]
enum Want {
    Text,
    Either,
}

/// Reads a regular file, policy text or bundle, each to its own limit: the signature is read
/// first, so that a text file is never read past [`Limits::source_bytes`] (plus one byte, to
/// tell a longer file) nor a bundle past [`Limits::bundle_bytes`].
fn read_policy_bytes(path: &Path, limits: &Limits, want: Want) -> Result<Read, LoadError> {
    let name = path.display().to_string();
    let read_error = |source| LoadError::Read { path: name.clone(), source };
    // A FIFO or a device would block on open or never end: only regular files are
    // policies, and that is checked before opening.
    if !std::fs::metadata(path).map_err(read_error)?.is_file() {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
        return Err(LoadError::Read { path: name, source });
    }
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    (&mut file).take(bundle::MAGIC.len() as u64).read_to_end(&mut bytes).map_err(read_error)?;
    let is_bundle = bundle::is_bundle(&bytes);
    if is_bundle && want == Want::Text {
        return Ok(Read::Bundle(Vec::new()));
    }
    let max = if is_bundle { limits.bundle_bytes } else { limits.source_bytes };
    let ceiling = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let rest = ceiling.saturating_sub(bytes.len() as u64);
    file.take(rest).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() > max {
        return Err(if is_bundle {
            LoadError::BundleTooLarge { path: name, max }
        } else {
            LoadError::TooLarge { path: name, max }
        });
    }
    if is_bundle {
        return Ok(Read::Bundle(bytes));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Read::Text(Source::new(name, text))),
        Err(e) => Err(LoadError::NotUtf8 { path: name, offset: e.utf8_error().valid_up_to() }),
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
    // Unique to this call, not only to the process: two threads writing one path at once
    // would otherwise write, and rename away, each other's temporary file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    temporary_name.push(format!(".{}.{write}.tmp", std::process::id()));
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
