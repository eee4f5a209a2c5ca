//! Leases: the shared meter answering from shares held in process, against real
//! `redis-server`s on loopback ports. Counts, not timings: how many calls reached Redis, and
//! what was admitted against the limit and the stated bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use entitle::{Engine, LimitId, Request, TierId};
use entitle_runtime::store::redis::{LeaseConfig, LeasedMeter, RedisConfig, RedisMeter};
use entitle_runtime::store::{Source, UsageMeter};

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Cluster, Server};

const POLICY: &str = "policy \"l\"\nlimit calls : count per day\nlimit sessions : count gauge\ntier free {\n    limit calls = 5_000\n    limit sessions = 2\n}\n";

fn system() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn setup() -> (Engine, TierId, LimitId, LimitId) {
    let engine = Engine::from_source("l.policy", POLICY).unwrap();
    let (free, calls, sessions) =
        (engine.tier("free").unwrap(), engine.limit("calls").unwrap(), engine.limit("sessions").unwrap());
    (engine, free, calls, sessions)
}

fn redis(url: &str) -> RedisMeter {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_secs(2);
    RedisMeter::new(config).unwrap()
}

fn leased(url: &str, share: u64) -> LeasedMeter {
    let mut config = LeaseConfig::default();
    config.share = share;
    LeasedMeter::new(redis(url), config)
}

#[test]
fn one_redis_call_per_share_and_nothing_lost_on_close() {
    let server = Server::start(&scratch("lease-one"), None);
    let (engine, free, calls, sessions) = setup();
    let meter = leased(&server.url(), 100);
    let request = Request::new(free, system()).with_key("app");
    for i in 0..1_000 {
        let consumed = meter.try_consume(&engine, &request, calls, 1).unwrap();
        assert!(consumed.quota.allowed);
        // The first call of each share asks Redis; the others answer from the lease.
        assert_eq!(consumed.source, if i % 100 == 0 { Source::Store } else { Source::Lease }, "{i}");
        assert!(!consumed.source.is_degraded());
    }
    // Ten shares of 100: one script call each (the settling of a share and the next in one).
    assert_eq!(meter.counts(), (990, 10));
    // Before `close` the last share's spending is this process's; after it, Redis's.
    let direct = redis(&server.url());
    assert_eq!(direct.try_consume(&engine, &request, calls, 0).unwrap().used, 900);
    assert_eq!(meter.close().unwrap(), 1);
    assert_eq!(direct.try_consume(&engine, &request, calls, 0).unwrap().used, 1_000);
    // Gauges are metered exactly, not leased.
    assert!(meter.try_consume(&engine, &request, sessions, 2).unwrap().quota.allowed);
    assert!(!direct.try_consume(&engine, &request, sessions, 1).unwrap().quota.allowed);
    // A refund gives back from the share first.
    assert!(meter.try_consume(&engine, &request, calls, 5).unwrap().quota.allowed);
    assert_eq!(meter.refund(&engine, &request, calls, 3).unwrap(), 3);
    meter.close().unwrap();
    assert_eq!(direct.try_consume(&engine, &request, calls, 0).unwrap().used, 1_002);
}

/// Meters whose clocks agree never admit past the limit together, and everything admitted is
/// recorded once they close.
#[test]
fn several_meters_on_one_key_never_pass_the_limit() {
    let server = Server::start(&scratch("lease-many"), None);
    let admitted = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (url, admitted) = (server.url(), Arc::clone(&admitted));
            std::thread::spawn(move || {
                let (engine, free, calls, _) = setup();
                let meter = leased(&url, 64);
                let request = Request::new(free, system()).with_key("shared");
                let mut denied_in_a_row = 0;
                while denied_in_a_row < 50 {
                    let consumed = meter.try_consume(&engine, &request, calls, 3).unwrap();
                    admitted.fetch_add(consumed.recorded, Ordering::Relaxed);
                    denied_in_a_row = if consumed.recorded == 0 { denied_in_a_row + 1 } else { 0 };
                }
                meter.close().unwrap();
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let (engine, free, calls, _) = setup();
    let total = admitted.load(Ordering::Relaxed);
    assert!(total <= 5_000, "{total}");
    let request = Request::new(free, system()).with_key("shared");
    assert_eq!(redis(&server.url()).try_consume(&engine, &request, calls, 0).unwrap().used, total);
}

/// A meter whose clock lags the others' by more than the margin may spend its share after the
/// others count it free: the total stays within the limit plus that one share.
#[test]
fn a_lagging_clock_over_admits_at_most_its_share() {
    let server = Server::start(&scratch("lease-lag"), None);
    let (engine, free, calls, _) = setup();
    let (lagging, on_time) = (leased(&server.url(), 500), leased(&server.url(), 100));
    let behind = Request::new(free, system() - 100).with_key("k");
    let now = Request::new(free, system()).with_key("k");
    let mut total = 0;
    total += lagging.try_consume(&engine, &behind, calls, 1).unwrap().recorded;
    // The others see the lagging meter's share as expired already, and take the limit.
    while let Ok(consumed) = on_time.try_consume(&engine, &now, calls, 10) {
        if consumed.recorded == 0 {
            break;
        }
        total += consumed.recorded;
    }
    for _ in 0..499 {
        total += lagging.try_consume(&engine, &behind, calls, 1).unwrap().recorded;
    }
    // Whether the lagging meter's settling thread settled its share before the others took
    // the room (it settles by the system clock) or not, the bound holds.
    assert!(total <= 5_000 + 500, "{total}");
}

/// On a three-node cluster each subject's share, counter and holds are in its own slot:
/// leases answer, settle in one call, and record exactly what was admitted.
#[test]
fn leases_on_a_cluster_record_exactly_what_they_admitted() {
    let cluster = Cluster::start(&scratch("lease-cluster"));
    let (engine, free, calls, _) = setup();
    let mut config = RedisConfig::cluster(cluster.urls());
    config.timeout = Duration::from_secs(2);
    let mut lease = LeaseConfig::default();
    lease.share = 50;
    let meter = LeasedMeter::new(RedisMeter::new(config.clone()).unwrap(), lease);
    let keys: Vec<String> = (0..40).map(|i| format!("tenant-{i}-{{x}}")).collect();
    let mut admitted = 0;
    for round in 0..120 {
        for key in &keys {
            let request = Request::new(free, system()).with_key(key);
            admitted += meter.try_consume(&engine, &request, calls, 1 + round % 3).unwrap().recorded;
        }
    }
    let (local, renewals) = meter.counts();
    assert!(local > renewals * 10, "{local} answered in process, {renewals} script calls");
    meter.close().unwrap();
    let exact = RedisMeter::new(config).unwrap();
    let recorded: u64 = keys
        .iter()
        .map(|key| exact.try_consume(&engine, &Request::new(free, system()).with_key(key), calls, 0).unwrap().used)
        .sum();
    assert_eq!(recorded, admitted);
}

/// Not a test of its own: the body of each child process of
/// `processes_on_one_key_never_pass_the_limit`, run only when that test starts this binary
/// with the Redis address in `ENTITLE_LEASE_CHILD`. It consumes until the limit refuses it and
/// prints what it admitted.
#[test]
fn lease_child_process() {
    let Ok(url) = std::env::var("ENTITLE_LEASE_CHILD") else { return };
    let (engine, free, calls, _) = setup();
    let meter = leased(&url, 64);
    let request = Request::new(free, system()).with_key("shared");
    let (mut admitted, mut denied_in_a_row) = (0, 0);
    while denied_in_a_row < 50 {
        let consumed = meter.try_consume(&engine, &request, calls, 3).unwrap();
        admitted += consumed.recorded;
        denied_in_a_row = if consumed.recorded == 0 { denied_in_a_row + 1 } else { 0 };
    }
    meter.close().unwrap();
    println!("admitted={admitted}");
}

/// Processes, not threads: each child has its own meter, leases and settling thread, as
/// services on separate machines would. Together they never admit past the limit, and Redis
/// holds exactly what they admitted.
#[test]
fn processes_on_one_key_never_pass_the_limit() {
    let server = Server::start(&scratch("lease-processes"), None);
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "lease_child_process", "--nocapture", "--test-threads=1"])
                .env("ENTITLE_LEASE_CHILD", server.url())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        // libtest prints the test's name on the same line, before what the test prints.
        let figure = text.split("admitted=").nth(1).and_then(|rest| rest.split_whitespace().next());
        total += figure.unwrap_or_else(|| panic!("{text}")).parse::<u64>().unwrap();
    }
    assert!(total <= 5_000, "{total}");
    assert!(total > 4_800, "the children stopped early: {total}");
    let (engine, free, calls, _) = setup();
    let request = Request::new(free, system()).with_key("shared");
    assert_eq!(redis(&server.url()).try_consume(&engine, &request, calls, 0).unwrap().used, total);
}

/// Blocks the server for about `ms` with a busy script, so that a call sent meanwhile runs
/// only after its meter gave up on it: the reply is lost, the work is done.
fn block(port: u16, ms: u64) -> std::thread::JoinHandle<()> {
    let script = format!(
        "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] \
         while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] - s > {} then break end end return 1",
        ms * 1000
    );
    let busy = std::thread::spawn(move || {
        let out =
            std::process::Command::new("redis-cli").args(["-p", &port.to_string(), "EVAL", &script, "0"]).output();
        assert!(out.unwrap().status.success());
    });
    std::thread::sleep(Duration::from_millis(150));
    busy
}

/// A settling whose reply is lost (it ran, late) leaves the share answering nothing, and the
/// next settling records only what was not recorded: with agreeing clocks and live meters,
/// nothing passes the limit and nothing spent is lost, whether the renewal or `close` lost it.
#[test]
fn a_settling_whose_reply_was_lost_counts_once_and_admits_nothing_more() {
    let policy = "policy \"l\"\nlimit calls : count per day\ntier free {\n    limit calls = 100\n}\n";
    let engine = Engine::from_source("l.policy", policy).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    for through_close in [false, true] {
        let server = Server::start(&scratch(&format!("lease-lost-{through_close}")), None);
        let with_timeout = |ms: u64| {
            let mut config = RedisConfig::new(server.url());
            config.timeout = Duration::from_millis(ms);
            let mut lease = LeaseConfig::default();
            lease.share = 100;
            LeasedMeter::new(RedisMeter::new(config).unwrap(), lease)
        };
        let (a, b) = (with_timeout(300), with_timeout(2_000));
        let request = Request::new(free, system()).with_key("app");
        let mut admitted = 0;
        for _ in 0..50 {
            admitted += a.try_consume(&engine, &request, calls, 1).unwrap().recorded;
        }
        let busy = block(server.port(), 1_000);
        if through_close {
            assert!(a.close().is_err());
        } else {
            // 60 does not fit the 50 left of the share: the renewal runs after A gave up.
            assert!(a.try_consume(&engine, &request, calls, 60).is_err());
        }
        busy.join().unwrap();
        for _ in 0..100 {
            admitted += a.try_consume(&engine, &request, calls, 1).unwrap().recorded;
            admitted += b.try_consume(&engine, &request, calls, 1).unwrap().recorded;
        }
        a.close().unwrap();
        b.close().unwrap();
        assert!(admitted <= 100, "{admitted}");
        let recorded = redis(&server.url()).try_consume(&engine, &request, calls, 0).unwrap().used;
        assert_eq!(recorded, admitted, "through close: {through_close}");
    }
}
