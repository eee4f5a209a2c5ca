//! `entitle eval POLICY [--overrides FILE]`: JSON Lines queries on standard input, one answer
//! per line on standard output, in order.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use crate::{load, CLEAN, FINDINGS, USAGE_OR_IO};
use entitle::wire::{answer_line_with, error_answer, error_code};
use entitle::Overrides;

pub(crate) fn run(policy: &Path, overrides: Option<&Path>, with_policy_hash: bool) -> u8 {
    let not_answered = |status: u8| {
        if status == FINDINGS {
            eprintln!("entitle: no queries answered");
        }
        status
    };
    let engine = match load(policy) {
        Ok((_, engine)) => engine,
        Err(status) => return not_answered(status),
    };
    // Checked against the engine before the first line is read, so that a set with errors
    // answers nothing rather than answering from the plan alone.
    let overrides = match overrides.map(|file| crate::overrides::load(&engine, file)).transpose() {
        Ok(overrides) => overrides,
        Err(status) => return not_answered(status),
    };
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let stamp = with_policy_hash.then(|| format!(",\"policy_hash\":\"{}\"}}", engine.policy_hash()));
    match answer_all(&engine, overrides.as_ref(), stdin, &mut out, stamp.as_deref()) {
        Ok(()) => CLEAN,
        Err(error) => {
            eprintln!("entitle: {error}");
            USAGE_OR_IO
        }
    }
}

/// Answers every line of `input`. Lines are read with a bound: a line longer than the
/// engine's `query_line_bytes` is answered with an error and skipped without being held in
/// memory.
///
/// With `stamp` (`,"policy_hash":"…"}`), every answer names the policy it came from: each is
/// one JSON object, so the stamp replaces its closing brace. With `overrides`, each query's
/// subject (its `key`) takes its records from the set.
fn answer_all(
    engine: &entitle::Engine,
    overrides: Option<&Overrides>,
    mut input: impl BufRead,
    out: &mut impl Write,
    stamp: Option<&str>,
) -> std::io::Result<()> {
    let max = engine.input_limits().query_line_bytes;
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
                Some(at) => (buffer.get(..at).unwrap_or_default(), true),
                None => (buffer, false),
            };
            if !too_long && line.len() + chunk.len() <= max {
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
            error_answer(error_code::LINE_TOO_LONG, &format!("query is longer than {max} bytes")).to_string()
        } else {
            match std::str::from_utf8(&line) {
                Ok(text) => answer_line_with(engine, overrides, text.trim_end_matches('\r')),
                Err(e) => {
                    let message = format!("query is not UTF-8 (invalid byte at offset {})", e.valid_up_to());
                    error_answer(error_code::NOT_UTF8, &message).to_string()
                }
            }
        };
        match stamp {
            Some(stamp) => writeln!(out, "{}{stamp}", answer.strip_suffix('}').unwrap_or(&answer))?,
            None => writeln!(out, "{answer}")?,
        }
        out.flush()?;
    }
}
