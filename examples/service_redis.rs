//! The service of the `service` example, on a meter shared through Redis.
//!
//! Several service instances (threads here, machines in production), each with its own
//! connections, serve one stream of requests on the `api-gateway` plans and count usage in
//! one Redis: a Lua script decides and records each request on the server, so together they
//! never pass a customer's limit. Halfway through, an operator raises the `hobby` tier's
//! per-minute limit and every instance's watched bundle is reloaded. At the end it checks
//! every customer's current minute on Redis against what the instances served.
//!
//! ```text
//! redis-server --port 6379 &
//! cargo run --release --example service_redis -- [--redis URL] [--instances N] [--customers N] [--requests N]
//! ```
//!
//! The address defaults to `$ENTITLE_REDIS_URL`, else `redis://127.0.0.1:6379/`. Keys carry a
//! prefix unique to the run and expire a minute after their window; there is nothing to clean.

use std::error::Error;
use std::io::Write;
use std::ops::Range;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use entitle_runtime::reload::Live;
use entitle_runtime::store::redis::{RedisConfig, RedisMeter};
use entitle_runtime::store::{StoreError, UsageMeter};

mod common;
use common::{Deployment, Ids, Progress, StreamOptions, Tally, Traffic};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly, with the value that broke it")]
#[path = "../runtime/tests/support/redis_server.rs"]
mod redis_server;

/// What to simulate, and where Redis is.
struct Options {
    stream: StreamOptions,
    redis: String,
    instances: usize,
}

const USAGE: &str = "usage: service_redis [--redis URL] [--instances N] [--customers N] [--requests N] [--seed N]";

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut redis = std::env::var("ENTITLE_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let mut instances = 2;
    let defaults = StreamOptions { customers: 2_000, requests: 100_000, seed: 7 };
    let stream = StreamOptions::parse(args, USAGE, defaults, |flag, value| {
        match flag {
            "--redis" => redis = value.to_string(),
            "--instances" => instances = common::count(value, "instances")?.min(64),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Options { stream, redis, instances })
}

/// What the run did, for the summary and the test.
#[derive(Default)]
struct Report {
    served: Tally,
    reload_generation: u64,
    compared: usize,
    differ: usize,
}

/// Serves `range` of the stream with every instance at once, instance `k` taking the requests
/// whose index is `k` modulo the number of instances; shows progress meanwhile.
fn drive(
    live: &Live<Ids>,
    meters: &[RedisMeter],
    traffic: &Traffic,
    range: Range<u64>,
    progress: &mut Progress<'_>,
) -> Result<Tally, Box<dyn Error>> {
    let done = AtomicU64::new(range.start);
    let instances = meters.len() as u64;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..instances)
            .zip(meters)
            .map(|(instance, meter)| {
                let (range, done) = (range.clone(), &done);
                scope.spawn(move || -> Result<Tally, StoreError> {
                    let mut tally = Tally::default();
                    for index in range.filter(|i| i % instances == instance) {
                        let current = live.load();
                        common::serve(&current.engine, &current.ids, meter, traffic, &traffic.call(index), &mut tally)?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(tally)
                })
            })
            .collect();
        while !workers.iter().all(|worker| worker.is_finished()) {
            let generation = live.load().generation;
            progress.show(done.load(Ordering::Relaxed), &format!("policy generation {generation}"));
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut tally = Tally::default();
        for worker in workers {
            tally.merge(worker.join().map_err(|_| "a service instance panicked")??);
        }
        Ok(tally)
    })
}

fn run(options: &Options, out: &mut dyn Write, progress_out: &mut dyn Write) -> Result<Report, Box<dyn Error>> {
    let deployment = Deployment::start("service-redis")?;
    writeln!(out, "serving {}", deployment.describe())?;
    let traffic = Traffic::new(
        options.stream.customers,
        options.stream.requests,
        common::start_of_next_minute(),
        options.stream.seed,
    );

    // Each instance has its own meter, as separate processes would; a run's keys are its own.
    let prefix = format!("entitle-example:{}-{}:", std::process::id(), traffic.start);
    let meters = (0..options.instances)
        .map(|_| {
            let mut config = RedisConfig::new(&options.redis);
            config.prefix.clone_from(&prefix);
            config.timeout = Duration::from_secs(2);
            RedisMeter::new(config)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let first = meters.first().ok_or("no service instance")?;
    let current = deployment.live.load();
    let probe = entitle::Request::new(current.ids.tiers[0], traffic.start).with_key("probe");
    first.try_consume(&current.engine, &probe, current.ids.per_minute, 0).map_err(|error| {
        format!("{error} (at {}; start one with `redis-server --port 6379`, or pass --redis URL)", options.redis)
    })?;
    drop(current);
    writeln!(
        out,
        "metering {} requests from {} customers with {} instances sharing {}",
        traffic.requests,
        traffic.customers(),
        meters.len(),
        options.redis,
    )?;

    let all = traffic.requests;
    let mut progress = Progress::new(progress_out, all);
    let mut report = Report::default();
    report.served.merge(drive(&deployment.live, &meters, &traffic, 0..all / 2, &mut progress)?);
    report.reload_generation = deployment.raise_hobby_limit()?.generation;
    report.served.merge(drive(&deployment.live, &meters, &traffic, all / 2..all, &mut progress)?);
    progress.show(all, "done");
    progress.finish();
    let seconds = progress.elapsed();

    let current = deployment.live.load();
    let end = traffic.call(all - 1).now;
    (report.compared, report.differ) =
        common::verify(&current.engine, &current.ids, first, &traffic, &report.served, end)?;

    writeln!(out, "reloaded mid-stream: now serving {}", deployment.describe())?;
    common::summarise(out, &report.served, &current.ids)?;
    writeln!(out, "checked {} customers' current minute on Redis: {} differ", report.compared, report.differ)?;
    writeln!(
        out,
        "{seconds:.2} s, {:.0} requests/s with {} instances (each request is one to three round trips)",
        all as f64 / seconds.max(1e-9),
        meters.len(),
    )?;
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
    fn instances_sharing_redis_meter_the_stream_exactly() {
        let server = redis_server::Server::start(&redis_server::scratch("example"), None);
        let args = ["--redis", &server.url(), "--instances", "3", "--customers", "200", "--requests", "6_000"];
        let options = parse(args.map(String::from).into_iter()).unwrap();
        let mut out = Vec::new();
        let report = run(&options, &mut out, &mut std::io::sink()).unwrap();
        let out = String::from_utf8(out).unwrap();

        assert_eq!(report.served.requests, 6_000, "{out}");
        assert_eq!(report.served.requests, report.served.allowed + report.served.denied.values().sum::<u64>());
        assert_eq!(report.reload_generation, 1);
        assert!(out.contains("generation 1") && out.contains("with 3 instances"), "{out}");
        // Three instances counted each customer's current minute on one Redis, and the
        // counters hold exactly what they served between them.
        assert!(report.compared > 0);
        assert_eq!(report.differ, 0, "{out}");
    }

    #[test]
    fn an_unreachable_redis_is_an_error_that_says_where() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("redis://127.0.0.1:{port}/");
        let options = parse(["--redis", &url, "--requests", "10"].map(String::from).into_iter()).unwrap();
        let error = run(&options, &mut std::io::sink(), &mut std::io::sink()).err().unwrap().to_string();
        assert!(error.starts_with("the usage store is unreachable") && error.contains(&url), "{error}");
    }
}
