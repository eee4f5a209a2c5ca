//! A service that meters a simulated request stream in-process.
//!
//! It serves the bundled `api-gateway` plans the way a service in production would: the
//! policy is compiled into a bundle and loaded from it; a meter counts every customer's
//! requests and bytes against their tier's limits; halfway through, an operator raises the
//! `hobby` tier's per-minute limit and the watched bundle is reloaded without a pause; at
//! three quarters the service "restarts", snapshotting its meter to a file and restoring it,
//! and goes on. At the end it checks every customer's current minute against what it served.
//! Then it meters AI sessions against the `rtc-sdk` plans' credit pool, which conversation and
//! transcription minutes draw on at their rates, with a promotional grant for some customers
//! on top of their plan, and checks every customer's credits.
//!
//! ```text
//! cargo run --release --example service -- [--customers N] [--requests N] [--seed N]
//! ```
//!
//! `service_redis` runs the same stream on a meter shared through Redis.

use std::error::Error;
use std::io::Write;
use std::ops::Range;
use std::process::ExitCode;

use entitle_runtime::meter::Meter;

mod common;
use common::{Deployment, Progress, StreamOptions, Tally, Traffic};
mod credits;

const USAGE: &str = "usage: service [--customers N] [--requests N] [--seed N]";

fn parse(args: impl Iterator<Item = String>) -> Result<StreamOptions, String> {
    let defaults = StreamOptions { customers: 2_000, requests: 1_000_000, seed: 7 };
    StreamOptions::parse(args, USAGE, defaults, |_, _| Ok(false))
}

/// What the run did, for the summary and the test.
#[derive(Default)]
struct Report {
    /// Every request served.
    served: Tally,
    /// `hobby`'s share of requests over its per-minute limit before and after the reload, in %.
    hobby_over: (f64, f64),
    reload_generation: u64,
    snapshot_counters: usize,
    restored_counters: usize,
    swept: usize,
    peak_counters: usize,
    /// Customers whose current minute was compared with the meter, and how many differ.
    compared: usize,
    differ: usize,
    /// The AI credit stream.
    credits: credits::Credits,
}

/// Serves `range` of the stream on `meter`, sweeping ended windows once a simulated minute.
fn drive(
    deployment: &Deployment,
    meter: &Meter,
    traffic: &Traffic,
    range: Range<u64>,
    tally: &mut Tally,
    progress: &mut Progress<'_>,
    report: &mut Report,
) -> Result<(), Box<dyn Error>> {
    let mut next_sweep = traffic.call(range.start).now + 60;
    for index in range {
        let call = traffic.call(index);
        if call.now >= next_sweep {
            report.peak_counters = report.peak_counters.max(meter.counters());
            report.swept += meter.sweep(call.now);
            next_sweep = call.now + 60;
        }
        // One load per request: the engine and the ids it serves with come from one policy.
        let current = deployment.live.load();
        common::serve(&current.engine, &current.ids, meter, traffic, &call, tally)?;
        progress.tick(index + 1, || format!("policy generation {}", current.generation));
    }
    report.peak_counters = report.peak_counters.max(meter.counters());
    Ok(())
}

fn run(options: &StreamOptions, out: &mut dyn Write, progress_out: &mut dyn Write) -> Result<Report, Box<dyn Error>> {
    let deployment = Deployment::start("service")?;
    writeln!(out, "serving {}", deployment.describe())?;
    let traffic = Traffic::new(options.customers, options.requests, common::start_of_next_minute(), options.seed);
    writeln!(out, "metering {} requests from {} customers in-process", traffic.requests, traffic.customers())?;

    let mut report = Report::default();
    let all = traffic.requests;
    let (half, three_quarters) = (all / 2, all * 3 / 4);
    let mut progress = Progress::new(progress_out, all);
    let (mut before, mut after) = (Tally::default(), Tally::default());

    let meter = Meter::new();
    drive(&deployment, &meter, &traffic, 0..half, &mut before, &mut progress, &mut report)?;
    report.reload_generation = deployment.raise_hobby_limit()?.generation;
    drive(&deployment, &meter, &traffic, half..three_quarters, &mut after, &mut progress, &mut report)?;

    // A restart: everything counted so far goes to a file, and a new meter starts from it.
    let snapshot = deployment.dir().join("usage.jsonl");
    report.snapshot_counters = meter.snapshot_to(&snapshot)?;
    drop(meter);
    let meter = Meter::new();
    report.restored_counters = meter.restore_from(&snapshot)?;
    drive(&deployment, &meter, &traffic, three_quarters..all, &mut after, &mut progress, &mut report)?;
    progress.finish();
    let seconds = progress.elapsed();

    report.hobby_over = (before.per_minute_denial_rate(0), after.per_minute_denial_rate(0));
    report.served.merge(before);
    report.served.merge(after);
    let current = deployment.live.load();
    let end = traffic.call(all - 1).now;
    (report.compared, report.differ) =
        common::verify(&current.engine, &current.ids, &meter, &traffic, &report.served, end)?;

    writeln!(out, "reloaded mid-stream: now serving {}", deployment.describe())?;
    writeln!(
        out,
        "restarted at three quarters: {} counters snapshotted, {} restored",
        report.snapshot_counters, report.restored_counters,
    )?;
    writeln!(
        out,
        "memory: at most {} counters held; {} dropped as their windows ended",
        report.peak_counters, report.swept
    )?;
    common::summarise(out, &report.served, &current.ids)?;
    let (before, after) = report.hobby_over;
    writeln!(
        out,
        "hobby over its per-minute limit: {before:.1}% of its requests before the reload, {after:.1}% after"
    )?;
    writeln!(out, "checked {} customers' current minute against the meter: {} differ", report.compared, report.differ)?;
    writeln!(out, "{seconds:.2} s, {:.0} requests/s on one thread", all as f64 / seconds.max(1e-9))?;

    // A customer in ten uses AI, sixty sessions each in a month on average.
    let customers = (options.customers / 10).max(1);
    let sessions = (customers as u64 * 60).min(all).max(1);
    report.credits = credits::run(customers, sessions, options.seed, traffic.call(0).now, deployment.dir())?;
    for line in credits::describe(&report.credits) {
        writeln!(out, "{line}")?;
    }
    report.differ += report.credits.differ;
    Ok(report)
}

fn main() -> ExitCode {
    common::main(parse, |options, out, progress| Ok(run(options, out, progress)?.differ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly, with the value that broke it")]

    use super::*;

    #[test]
    fn the_service_meters_reloads_and_restarts_without_losing_a_count() {
        let options = parse(["--customers", "300", "--requests", "60_000"].map(String::from).into_iter());
        let mut out = Vec::new();
        let report = run(&options.unwrap(), &mut out, &mut std::io::sink()).unwrap();
        let out = String::from_utf8(out).unwrap();
        let served = &report.served;

        assert_eq!(served.requests, 60_000);
        assert_eq!(served.requests, served.allowed + served.denied.values().sum::<u64>(), "{out}");
        assert!(served.denied.get("limit_exceeded").is_some_and(|&n| n > 0), "heavy customers reach limits:\n{out}");
        assert!(served.denied.get("not_granted").is_some_and(|&n| n > 0), "hobby has no edge caching:\n{out}");
        // The reload raised hobby's limit, and fewer of its requests were refused after it.
        assert_eq!(report.reload_generation, 1);
        assert!(out.contains("generation 1"), "{out}");
        let (before, after) = report.hobby_over;
        assert!(after < before, "hobby refused {before}% before the reload and {after}% after");
        // The restart lost nothing: every counter came back, and every customer's current
        // minute, counted partly before it, matches what was served.
        assert!(report.snapshot_counters > 0);
        assert_eq!(report.restored_counters, report.snapshot_counters);
        assert!(report.compared > 0);
        assert_eq!(report.differ, 0, "{out}");
        // Minute windows ended and were dropped, so the meter stayed bounded.
        assert!(report.swept > 0 && report.peak_counters < 2 * 300 + 300, "{out}");
        // The credit pool: heavy users spend their plan, then their grant, then overage, then
        // are denied; every customer's credits add up to what was allowed.
        let credits = &report.credits;
        assert_eq!(credits.sessions, 1_800);
        assert!(credits.allowed > 0 && credits.denied > 0 && credits.overage > 0, "{out}");
        assert!(credits.promoted == 10 && credits.spent_from_grants > 0, "{out}");
        assert!(credits.spent_from_grants <= credits.granted);
        assert_eq!((credits.checked, credits.differ), (30, 0), "{out}");
        assert!(out.contains("promotional grants: 10 customers"), "{out}");
    }

    #[test]
    fn bad_options_are_refused_with_what_was_wrong() {
        let error = |args: &[&str]| parse(args.iter().map(|a| a.to_string())).err().unwrap();
        assert!(error(&["--requests", "many"]).starts_with("`many` is not a number of requests"));
        assert!(error(&["--customers"]).starts_with("`--customers` needs a value"));
        assert!(error(&["--fast", "1"]).starts_with("unknown option `--fast`"));
    }
}
