//! `entitle eval POLICY`: JSON Lines queries on standard input, one answer per line on
//! standard output, in order.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use entitle::query::{answer_line, MAX_LINE_BYTES};
use entitle::render;

use crate::check::read_policy;
use crate::{CLEAN, FINDINGS, USAGE_OR_IO};

pub(crate) fn run(policy: &Path) -> u8 {
    let source = match read_policy(policy) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("entitle: {message}");
            return USAGE_OR_IO;
        }
    };
    let checked = match entitle::check(&source) {
        Ok(checked) => checked,
        Err(diagnostics) => {
            for d in &diagnostics.0 {
                eprintln!("{}", render::human(&source, d));
            }
            eprintln!("entitle: `{}` does not check; no queries answered", source.name());
            return FINDINGS;
        }
    };
    let engine = entitle::compile(&checked);
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    match answer_all(&engine, stdin, &mut out) {
        Ok(()) => CLEAN,
        Err(error) => {
            eprintln!("entitle: {error}");
            USAGE_OR_IO
        }
    }
}

/// Answers every line of `input`. Lines are read with a bound: a line longer than
/// [`MAX_LINE_BYTES`] is answered with an error and skipped without being held in memory.
fn answer_all(engine: &entitle::Engine, mut input: impl BufRead, out: &mut impl Write) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let buffer = input.fill_buf()?;
            if buffer.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, found_newline) = match buffer.iter().position(|&b| b == b'\n') {
                Some(at) => (&buffer[..at], true),
                None => (buffer, false),
            };
            if !too_long && line.len() + chunk.len() <= MAX_LINE_BYTES {
                line.extend_from_slice(chunk);
            } else {
                too_long = true;
                line.clear();
            }
            let consumed = chunk.len() + usize::from(found_newline);
            input.consume(consumed);
            if found_newline {
                break;
            }
        }
        if !saw_any {
            return out.flush();
        }
        let answer = if too_long {
            format!(r#"{{"error":"query is longer than {MAX_LINE_BYTES} bytes"}}"#)
        } else {
            match std::str::from_utf8(&line) {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => answer_line(engine, text.trim_end_matches('\r')),
                Err(e) => format!(r#"{{"error":"query is not UTF-8 (invalid byte at offset {})"}}"#, e.valid_up_to()),
            }
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
}
