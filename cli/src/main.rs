//! The `entitle` command: a thin shell over the library for policy authors and CI.
//!
//! Every subcommand reads the files named on the command line, writes results to standard
//! output and problems to standard error, and exits 0 when clean, 1 on findings, 2 on usage or
//! I/O errors.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use entitle::{render, Engine, Limits, Source};

mod build;
mod check;
mod diff;
mod eval;
mod explain;
mod fmt;
mod matrix;
mod override_diff;
mod overrides;

/// Exit status for a run that found nothing wrong.
const CLEAN: u8 = 0;
/// Exit status when the inputs have findings (errors, warnings with `--deny-warnings`, an
/// unformatted file with `--check`, something taken away with `diff --exit-code`).
const FINDINGS: u8 = 1;
/// Exit status for a usage or I/O error; clap uses the same for bad arguments.
const USAGE_OR_IO: u8 = 2;

#[derive(Parser)]
#[command(name = "entitle", version, about = "Check, format, tabulate, compare and query entitlement policies.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policy files and directories of them (`*.policy`, searched recursively), or one
    /// policy and an override set against it.
    ///
    /// Diagnostics go to standard error (human) or standard output (json, github); the human
    /// summary goes to standard output, and github prints workflow commands only. Exits 0 when clean, 1 on findings, 2 when a path cannot be read.
    #[command(
        after_help = "Examples:\n  entitle check policies/\n  entitle check --format github --deny-warnings policies/\n  entitle check --overrides tests/conformance/overrides.overrides tests/conformance/overrides.policy"
    )]
    Check {
        /// Files or directories to check (one policy file with `--overrides`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// An override set (JSON Lines) to check against the one policy named; it is not
        /// checked when the policy has errors.
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
        /// Treat warnings as findings (exit 1).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Rewrite policy files in the canonical layout, keeping every comment.
    ///
    /// Without a flag, prints the formatted text of one file. Exits 0 when done (or, with
    /// `--check`, when every file is formatted), 1 when `--check` finds a file to change or a
    /// file does not parse, 2 on I/O errors.
    #[command(
        after_help = "Examples:\n  entitle fmt policies/rtc-sdk.policy\n  entitle fmt --check policies/\n  entitle fmt --write policies/"
    )]
    Fmt {
        /// Files or directories to format.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Change nothing; print a unified diff of what would change and exit 1 if anything would.
        #[arg(long, conflicts_with = "write")]
        check: bool,
        /// Rewrite the files in place.
        #[arg(long)]
        write: bool,
        /// With `--check` or `--write`: how to report the files (`json`: one document saying
        /// which files are or were not formatted, instead of diffs).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Tabulate what every tier gives after inheritance and the named add-ons.
    #[command(
        after_help = "Examples:\n  entitle matrix policies/rtc-sdk.policy\n  entitle matrix policies/rtc-sdk.policy --addon ai_pack --format markdown\n  entitle matrix tests/conformance/overrides.policy --overrides tests/conformance/overrides.overrides"
    )]
    Matrix {
        /// The policy file.
        policy: PathBuf,
        /// An add-on every tier holds; it applies to the tiers it attaches to. Repeatable.
        #[arg(long = "addon", value_name = "NAME")]
        addons: Vec<String>,
        /// An override set (JSON Lines) checked against the policy: its records are listed
        /// after the table, per subject (not in csv).
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// How to print the table.
        #[arg(long, value_enum, default_value_t = MatrixFormat::Text)]
        format: MatrixFormat,
    },
    /// Show what changed between two versions of a policy, between two tiers of one, or
    /// between two override sets of one.
    ///
    /// Every change that takes something away from existing customers is marked. Exits 0
    /// (1 with `--exit-code` when something was taken away), 2 on usage or I/O errors.
    #[command(
        after_help = "Examples:\n  entitle diff old/rtc-sdk.policy policies/rtc-sdk.policy\n  entitle diff policies/rtc-sdk.policy --tiers free pro\n  entitle diff tests/conformance/overrides.policy --overrides old.jsonl new.jsonl"
    )]
    Diff {
        /// OLD and NEW, or with `--tiers` or `--overrides`, one policy.
        #[arg(required = true, num_args = 1..=2, value_name = "POLICY")]
        policies: Vec<PathBuf>,
        /// Compare two tiers of one policy: what moving from the first to the second gives and takes.
        #[arg(long, num_args = 2, value_names = ["FROM", "TO"], conflicts_with = "overrides")]
        tiers: Option<Vec<String>>,
        /// Compare two override sets (JSON Lines) of one policy: what each subject gains or loses.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
        overrides: Option<Vec<PathBuf>>,
        /// How to print the changes.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 1 when any change takes something away.
        #[arg(long)]
        exit_code: bool,
    },
    /// Explain one decision: the answer, the rules behind it with their source lines, the
    /// window, and what would change it.
    #[command(
        after_help = "Examples:\n  entitle explain policies/rtc-sdk.policy --tier pro --key app-42 --feature conversational_ai\n  entitle explain policies/rtc-sdk.policy --tier pro --limit api_calls_per_day --used 990000 --requested 20000\n  entitle explain tests/conformance/overrides.policy --overrides tests/conformance/overrides.overrides --tier pro --key acme --limit api_calls --used 0"
    )]
    Explain(explain::Args),
    /// Answer JSON Lines queries from standard input against a policy, one answer per line.
    ///
    /// Exits 0 after answering every line (bad lines get an `error` answer), 1 if the policy
    /// does not check, 2 on usage or I/O errors. docs/cli.md describes the protocol.
    #[command(
        after_help = "Examples:\n  echo '{\"tier\":\"pro\",\"now\":\"2026-11-21T10:00:00Z\",\"feature\":\"hd_video\"}' | entitle eval policies/rtc-sdk.policy\n  echo '{\"tier\":\"free\",\"key\":\"acme\",\"now\":\"2026-12-15T00:00:00Z\",\"feature\":\"sso\"}' | entitle eval --overrides tests/conformance/overrides.overrides tests/conformance/overrides.policy"
    )]
    Eval {
        /// The policy file (or compiled bundle) to answer from.
        policy: PathBuf,
        /// An override set (JSON Lines) checked against the policy: each query's subject (its
        /// `key`) takes its records from it. A set with errors answers no query.
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// Add `"policy_hash"` (the SHA-256 of the policy's source) to every answer, for
        /// audit logs.
        #[arg(long)]
        with_policy_hash: bool,
    },
    /// Check and compile a policy into a bundle that loads without parsing.
    ///
    /// The bundle records its format version, the engine version, the policy's name, version
    /// and source hash, the compiled tables and the source. Exits 0 when written, 1 if the
    /// policy does not check, 2 on usage or I/O errors.
    #[command(
        after_help = "Examples:\n  entitle build policies/rtc-sdk.policy -o rtc-sdk.bundle\n  entitle eval rtc-sdk.bundle < queries.jsonl"
    )]
    Build {
        /// The policy file.
        policy: PathBuf,
        /// Where to write the bundle (atomically: a reader never sees half of one).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// How to report what was built.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// How `check` prints diagnostics.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    /// Caret snippets and a summary line; coloured on a terminal unless `NO_COLOR` is set.
    Human,
    /// One JSON document.
    Json,
    /// GitHub Actions workflow commands, shown as annotations on the lines they name.
    Github,
}

/// How `diff` and `explain` print their result.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Sentences and lists for people.
    Text,
    /// One JSON document.
    Json,
}

/// How `matrix` prints its table.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MatrixFormat {
    /// Aligned columns.
    Text,
    /// A Markdown table.
    Markdown,
    /// One JSON document, stable enough to generate a pricing page from.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check { paths, overrides, format, deny_warnings } => {
            check::run(&paths, format, deny_warnings, overrides.as_deref())
        }
        Command::Fmt { paths, check, write, format } => fmt::run(&paths, check, write, format),
        Command::Matrix { policy, addons, overrides, format } => {
            matrix::run(&policy, &addons, overrides.as_deref(), format)
        }
        Command::Diff { policies, tiers, overrides, format, exit_code } => {
            diff::run(&policies, tiers.as_deref(), overrides.as_deref(), format, exit_code)
        }
        Command::Explain(args) => explain::run(&args),
        Command::Eval { policy, overrides, with_policy_hash } => {
            eval::run(&policy, overrides.as_deref(), with_policy_hash)
        }
        Command::Build { policy, output, format } => build::run(&policy, &output, format),
    };
    ExitCode::from(status)
}

/// The exit status of a run over files: 2 when a path could not be read (or written), else 1
/// on findings, else 0.
fn exit_status(io_failed: bool, findings: bool) -> u8 {
    if io_failed {
        USAGE_OR_IO
    } else if findings {
        FINDINGS
    } else {
        CLEAN
    }
}

/// Whether to colour what goes to standard error: only a terminal, and never when `NO_COLOR`
/// is set to anything non-empty (<https://no-color.org>).
fn colour_on_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Reads and compiles the policy at `path`. On failure, says why on standard error and returns
/// the exit status: 2 when it cannot be read, 1 when it does not check.
fn load(path: &Path) -> Result<(Source, Engine), u8> {
    let limits = Limits::default();
    let (source, bundled) = entitle::read_policy_file(path, &limits).map_err(|error| {
        eprintln!("entitle: {error}");
        USAGE_OR_IO
    })?;
    if let Some(engine) = bundled {
        return Ok((source, engine));
    }
    compile_or_report(source, &limits)
}

/// Reads policy text (not a bundle) at `path`; on failure says why on standard error and
/// returns status 2.
fn read_source(path: &Path) -> Result<Source, u8> {
    Source::read(path, &Limits::default()).map_err(|error| {
        eprintln!("entitle: {error}");
        USAGE_OR_IO
    })
}

/// Checks and compiles `source`, showing its diagnostics on standard error when it fails.
fn compile_or_report(source: Source, limits: &Limits) -> Result<(Source, Engine), u8> {
    match entitle::check_with(&source, limits) {
        Ok(checked) => {
            let engine = entitle::compile(&checked);
            Ok((source, engine))
        }
        Err(diagnostics) => Err(does_not_check(&source, &diagnostics)),
    }
}

/// Shows why `source` does not check on standard error; returns status 1.
fn does_not_check(source: &Source, diagnostics: &entitle::Diagnostics) -> u8 {
    let colour = colour_on_stderr();
    for d in diagnostics {
        eprintln!("{}", render::human_with(source, d, colour));
    }
    eprintln!("entitle: `{}` does not check", source.name());
    FINDINGS
}

/// "did you mean" for a name given on the command line, or the list of names there are.
fn unknown_name(kind: &str, name: &str, known: &[&str]) -> String {
    let listed = known.iter().take(12).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let more = if known.len() > 12 { ", …" } else { "" };
    if known.is_empty() {
        format!("entitle: unknown {kind} `{name}`; the policy declares none")
    } else {
        format!("entitle: unknown {kind} `{name}`; the policy declares {listed}{more}")
    }
}
