//! The `entitle` command: a thin shell over the library for policy authors and CI.
//!
//! Every subcommand reads the files named on the command line, writes results to standard
//! output and problems to standard error, and exits 0 when clean, 1 on findings, 2 on usage or
//! I/O errors.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod check;
mod eval;

/// Exit status for a run that found nothing wrong.
const CLEAN: u8 = 0;
/// Exit status when the inputs have findings (errors, or warnings with `--deny-warnings`).
const FINDINGS: u8 = 1;
/// Exit status for a usage or I/O error; clap uses the same for bad arguments.
const USAGE_OR_IO: u8 = 2;

#[derive(Parser)]
#[command(name = "entitle", version, about = "Check and query entitlement policies.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policy files and directories of them (`*.policy`, searched recursively).
    ///
    /// Exits 0 when clean, 1 on findings, 2 on usage or I/O errors.
    Check {
        /// Files or directories to check.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as findings (exit 1).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Answer JSON Lines queries from standard input against a policy, one answer per line.
    ///
    /// Exits 0 after answering every line (bad lines get an `error` answer), 1 if the policy
    /// does not check, 2 on usage or I/O errors.
    Eval {
        /// The policy file to answer from.
        policy: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Caret snippets and a summary line.
    Human,
    /// One JSON document.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check { paths, format, deny_warnings } => check::run(&paths, format, deny_warnings),
        Command::Eval { policy } => eval::run(&policy),
    };
    ExitCode::from(status)
}
