//! `entitle build POLICY -o FILE`

use std::path::Path;

use entitle::bundle::Info;
use entitle::render::printable_text;

use crate::{does_not_check, read_source, Format, CLEAN, USAGE_OR_IO};

pub(crate) fn run(policy: &Path, output: &Path, format: Format) -> u8 {
    if same_file(policy, output) {
        eprintln!("entitle: `{}` is the policy being built; write the bundle to another file", output.display());
        return USAGE_OR_IO;
    }
    let source = match read_source(policy) {
        Ok(source) => source,
        Err(status) => return status,
    };
    let bytes = match entitle::bundle::build(&source) {
        Ok(bytes) => bytes,
        Err(diagnostics) => return does_not_check(&source, &diagnostics),
    };
    if let Err(error) = entitle::write_file_atomically(output, &bytes) {
        eprintln!("entitle: cannot write `{}`: {error}", output.display());
        return USAGE_OR_IO;
    }
    let Ok(info) = Info::read(&bytes) else {
        eprintln!("entitle: the bundle written to `{}` does not read back", output.display());
        return USAGE_OR_IO;
    };
    let version = info.policy_version.as_deref();
    match format {
        // The names come from the policy and the command line: shown through the escaping the
        // diagnostics use, so a policy's name cannot write terminal escapes.
        Format::Text => println!(
            "built `{}` ({} bytes) from `{}`: policy `{}`{}, format {}, entitle {}, sha256 {}",
            printable_text(&output.display().to_string()),
            bytes.len(),
            printable_text(&info.source_name),
            printable_text(&info.policy_name),
            version.map(|v| format!(" version `{}`", printable_text(v))).unwrap_or_default(),
            info.format_version,
            info.engine_version,
            info.policy_hash,
        ),
        Format::Json => println!("{}", entitle::wire::build_report(&output.display().to_string(), bytes.len(), &info)),
    }
    CLEAN
}

/// Whether `a` and `b` name one existing file, however spelt: the same device and inode on
/// Unix (so a hard or symbolic link counts), the same canonical path elsewhere.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
    }
}
