//! Reservations on the shared meter, against real `redis-server`s on loopback ports: holds
//! counted by every meter, steps applied once (a lost reply included), expiry, the same
//! answers as the in-process meter, thousands of holds on one key from several meters, and a
//! three-node cluster.
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
use entitle_runtime::meter::{Meter, MeterConfig, Reservation, ReservationError};
use entitle_runtime::store::redis::{RedisConfig, RedisMeter};
use entitle_runtime::store::{StoreError, UsageMeter};

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Cluster, Server};

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
use fault_proxy::Proxy;

const POLICY: &str = r#"policy "holds"
limit credits : count per day
limit tokens : count per day
limit sessions : count gauge
limit calls : count per minute
limit big : count per day
tier free {
    limit calls = 100
    limit big = unlimited
    limit credits = 100
    limit tokens = 20_000
    limit sessions = 3
}
"#;

const MINUTE: Duration = Duration::from_secs(60);

/// The system clock: the meter judges expiry by the earlier of it and a request's `now`.
fn system() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

struct Setup {
    engine: Engine,
    free: TierId,
    credits: LimitId,
    tokens: LimitId,
    sessions: LimitId,
    calls: LimitId,
    big: LimitId,
}

fn setup() -> Setup {
    let engine = Engine::from_source("holds.policy", POLICY).unwrap();
    let free = engine.tier("free").unwrap();
    let (credits, tokens, sessions) =
        (engine.limit("credits").unwrap(), engine.limit("tokens").unwrap(), engine.limit("sessions").unwrap());
    let (calls, big) = (engine.limit("calls").unwrap(), engine.limit("big").unwrap());
    Setup { engine, free, credits, tokens, sessions, calls, big }
}

fn meter(url: &str) -> RedisMeter {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_secs(2);
    RedisMeter::new(config).unwrap()
}

fn hold(meter: &dyn UsageMeter, s: &Setup, request: &Request<'_>, limit: LimitId, amount: u64) -> Reservation {
    let reserved = meter.reserve(&s.engine, request, limit, amount, MINUTE).unwrap();
    assert!(reserved.quota.allowed, "{reserved:?}");
    reserved.reservation.unwrap()
}

fn used(meter: &dyn UsageMeter, s: &Setup, request: &Request<'_>, limit: LimitId) -> u64 {
    meter.try_consume(&s.engine, request, limit, 0).unwrap().used
}

#[test]
fn a_hold_counts_for_every_meter_and_each_step_applies_once() {
    let server = Server::start(&scratch("holds-basic"), None);
    let (s, a, b) = (setup(), meter(&server.url()), meter(&server.url()));
    let request = Request::new(s.free, system()).with_key("acme");
    let job = hold(&a, &s, &request, s.credits, 70);
    // Another meter sees the hold: 30 are left.
    assert!(!b.try_consume(&s.engine, &request, s.credits, 31).unwrap().quota.allowed);
    assert!(b.try_consume(&s.engine, &request, s.credits, 30).unwrap().quota.allowed);
    let denied = b.reserve(&s.engine, &request, s.credits, 1, MINUTE).unwrap();
    assert!(!denied.quota.allowed && denied.reservation.is_none());
    // Any meter may settle it, once.
    let done = b.commit(&s.engine, &request, &job, 45).unwrap();
    assert_eq!((done.recorded, done.unrecorded, done.repeated), (45, 0, false));
    let again = a.commit(&s.engine, &request, &job, 45).unwrap();
    assert_eq!((again.recorded, again.repeated), (45, true));
    assert_eq!(used(&a, &s, &request, s.credits), 75);
    let error = a.release(&s.engine, &request, &job).unwrap_err();
    assert!(matches!(error, StoreError::Reservation(ReservationError::Settled { how: "committed", .. })), "{error}");

    // More than the hold fits only up to the ceiling; a release frees the rest.
    let job = hold(&a, &s, &request, s.credits, 10);
    let other = hold(&a, &s, &request, s.credits, 10);
    let done = a.commit(&s.engine, &request, &job, 30).unwrap();
    assert_eq!((done.recorded, done.unrecorded), (15, 15), "75 used, 10 held by the other");
    assert_eq!(a.release(&s.engine, &request, &other).unwrap().freed, 10);
    assert!(a.release(&s.engine, &request, &other).unwrap().repeated);
    assert!(matches!(
        a.commit(&s.engine, &request, &other, 1),
        Err(StoreError::Reservation(ReservationError::Settled { .. }))
    ));
    assert_eq!(used(&a, &s, &request, s.credits), 90);
}

#[test]
fn a_hold_expires_by_the_callers_clock_and_a_late_commit_fits_like_any_use() {
    let server = Server::start(&scratch("holds-expiry"), None);
    let (s, meter) = (setup(), meter(&server.url()));
    // A gauge (no window, so no key expires with a window) two minutes in the past.
    let start = system() - 120;
    let request = Request::new(s.free, start).with_key("acme");
    let job = hold(&meter, &s, &request, s.sessions, 3);
    assert_eq!(job.expires_at(), start + 60);
    assert!(!meter.try_consume(&s.engine, &request.at(start + 59), s.sessions, 1).unwrap().quota.allowed);
    let after = request.at(start + 60);
    assert!(meter.try_consume(&s.engine, &after, s.sessions, 2).unwrap().quota.allowed);
    let late = meter.commit(&s.engine, &after, &job, 3).unwrap();
    assert_eq!((late.recorded, late.unrecorded), (1, 2));
    // An unknown id, or a known id with another amount, settles nothing.
    let forged = hold(&Meter::new(), &s, &request, s.sessions, 3);
    assert!(matches!(
        meter.release(&s.engine, &after, &forged),
        Err(StoreError::Reservation(ReservationError::Unknown { .. }))
    ));
    assert_eq!(used(&meter, &s, &after, s.sessions), 3);
    assert!(matches!(
        meter.reserve(&s.engine, &after, s.sessions, 0, MINUTE),
        Err(StoreError::Reservation(ReservationError::Empty))
    ));
}

#[test]
fn a_reserve_and_a_commit_whose_replies_were_lost_apply_once() {
    let server = Server::start(&scratch("holds-lost"), None);
    let proxy = Proxy::start(server.port());
    let s = setup();
    let mut config = RedisConfig::new(proxy.url());
    (config.connections, config.timeout) = (1, Duration::from_secs(2));
    let meter = RedisMeter::new(config).unwrap();
    let direct = self::meter(&server.url());
    // Every script is loaded first: on a fresh server the reply lost would be NOSCRIPT's,
    // before anything ran.
    let warm = Request::new(s.free, system()).with_key("warm");
    let w = hold(&meter, &s, &warm, s.credits, 1);
    meter.commit(&s.engine, &warm, &w, 1).unwrap();
    let w = hold(&meter, &s, &warm, s.credits, 1);
    meter.release(&s.engine, &warm, &w).unwrap();

    let request = Request::new(s.free, system()).with_key("acme");
    let expected = Meter::new().reserve(&s.engine, &request, s.credits, 60, MINUTE).unwrap();
    // The reserve runs, its reply is lost, the meter sends it again: one hold, and the answer
    // the first copy would have given.
    proxy.drop_next_reply();
    let reserved = meter.reserve(&s.engine, &request, s.credits, 60, MINUTE).unwrap();
    assert_eq!(reserved.quota, expected.quota);
    let job = reserved.reservation.unwrap();
    assert!(!direct.try_consume(&s.engine, &request, s.credits, 41).unwrap().quota.allowed);
    assert!(direct.try_consume(&s.engine, &request, s.credits, 40).unwrap().quota.allowed);
    // The caller's first commit, applied by the first copy, is not called a repeat.
    proxy.drop_next_reply();
    let done = meter.commit(&s.engine, &request, &job, 50).unwrap();
    assert_eq!((done.recorded, done.repeated), (50, false));
    assert!(meter.commit(&s.engine, &request, &job, 50).unwrap().repeated);
    let other = hold(&meter, &s, &request, s.credits, 10);
    proxy.drop_next_reply();
    let freed = meter.release(&s.engine, &request, &other).unwrap();
    assert_eq!((freed.freed, freed.repeated), (10, false));
    assert_eq!(used(&direct, &s, &request, s.credits), 90);
}

/// The same steps on the in-process meter and on Redis answer alike.
#[test]
fn the_shared_meter_answers_as_the_in_process_one() {
    let server = Server::start(&scratch("holds-alike"), None);
    let s = setup();
    let (local, shared) = (Meter::new(), meter(&server.url()));
    let request = Request::new(s.free, system()).with_key("acme");
    let run = |m: &dyn UsageMeter| {
        let mut log = Vec::new();
        let mut open = Vec::new();
        for i in 0..40u64 {
            let reserved = m.reserve(&s.engine, &request, s.credits, i % 7 + 1, MINUTE).unwrap();
            log.push(format!("reserve {} {:?}", reserved.quota.allowed, reserved.quota.remaining));
            open.extend(reserved.reservation);
            if i % 3 == 2 {
                let job = open.remove(0);
                let step = if i % 2 == 0 {
                    format!("{:?}", m.commit(&s.engine, &request, &job, i % 11).map(|c| (c.recorded, c.unrecorded)))
                } else {
                    format!("{:?}", m.release(&s.engine, &request, &job).map(|r| r.freed))
                };
                log.push(step);
            }
            let consumed = m.try_consume(&s.engine, &request, s.credits, 1).unwrap();
            log.push(format!("consume {} {}", consumed.quota.allowed, consumed.used));
        }
        log
    };
    assert_eq!(run(&local), run(&shared));
}

#[test]
fn thousands_of_holds_on_one_key_from_several_meters_never_pass_the_limit() {
    let server = Server::start(&scratch("holds-many"), None);
    let s = Arc::new(setup());
    let recorded = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..8u64)
        .map(|thread| {
            let (s, recorded, url) = (Arc::clone(&s), Arc::clone(&recorded), server.url());
            std::thread::spawn(move || {
                let meter = meter(&url);
                let request = Request::new(s.free, system()).with_key("shared");
                let mut open = Vec::new();
                for i in 0..400u64 {
                    let estimate = (i + thread) % 5 + 1;
                    if let Some(job) =
                        meter.reserve(&s.engine, &request, s.tokens, estimate * 10, MINUTE).unwrap().reservation
                    {
                        open.push(job);
                    }
                    if open.len() > 20 || (i % 3 == 0 && !open.is_empty()) {
                        let job = open.remove(0);
                        if i % 4 == 0 {
                            meter.release(&s.engine, &request, &job).unwrap();
                        } else {
                            let done = meter.commit(&s.engine, &request, &job, job.amount() + 5).unwrap();
                            recorded.fetch_add(done.recorded, Ordering::Relaxed);
                        }
                    }
                }
                for job in open {
                    meter.release(&s.engine, &request, &job).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let direct = meter(&server.url());
    let request = Request::new(s.free, system()).with_key("shared");
    let total = used(&direct, &s, &request, s.tokens);
    assert_eq!(total, recorded.load(Ordering::Relaxed));
    assert!(total <= 20_000);
    // Every hold was settled: what the usage leaves is free to hold again, and no more.
    let rest = 20_000 - total;
    let over = direct.reserve(&s.engine, &request, s.tokens, rest + 1, MINUTE).unwrap();
    assert!(!over.quota.allowed, "{over:?}");
    if rest > 0 {
        let all = direct.reserve(&s.engine, &request, s.tokens, rest, MINUTE).unwrap();
        assert!(all.quota.allowed, "{all:?}");
    }
}

#[test]
fn holds_on_a_cluster_land_with_their_subjects_counters() {
    let cluster = Cluster::start(&scratch("holds-cluster"));
    let s = setup();
    let mut config = RedisConfig::cluster(cluster.urls());
    config.timeout = Duration::from_secs(2);
    let meter = RedisMeter::new(config).unwrap();
    let mut total = 0;
    for i in 0..60 {
        let key = format!("subject-{i}-{{braced}}");
        let request = Request::new(s.free, system()).with_key(&key);
        let job = hold(&meter, &s, &request, s.credits, 40);
        assert!(!meter.try_consume(&s.engine, &request, s.credits, 61).unwrap().quota.allowed);
        let done = meter.commit(&s.engine, &request, &job, 30 + i % 20).unwrap();
        assert_eq!(done.recorded, 30 + i % 20);
        assert!(meter.commit(&s.engine, &request, &job, 0).unwrap().repeated);
        total += used(&meter, &s, &request, s.credits);
    }
    assert_eq!(total, (0..60).map(|i| 30 + i % 20).sum::<u64>());
}

/// An expired hold is remembered as long as a settled one, then forgotten, on both meters: it
/// neither fills the counter's room for holds nor takes a late commit after.
#[test]
fn expired_holds_are_forgotten_as_in_process() {
    let server = Server::start(&scratch("holds-forget"), None);
    let s = setup();
    let mut config = RedisConfig::new(server.url());
    (config.timeout, config.remember_seconds, config.max_holds_per_counter) = (Duration::from_secs(2), 2, 3);
    let shared = RedisMeter::new(config).unwrap();
    let mut local = MeterConfig::default();
    (local.max_holds, local.remember_seconds) = (3, 2);
    let local = Meter::with_config(local);
    let run = |m: &dyn UsageMeter| {
        let mut log = Vec::new();
        let r = Request::new(s.free, system()).with_key("acme");
        m.reserve(&s.engine, &r, s.sessions, 1, MINUTE).unwrap().reservation.unwrap();
        let short = m.reserve(&s.engine, &r, s.sessions, 1, Duration::from_secs(1)).unwrap().reservation.unwrap();
        std::thread::sleep(Duration::from_millis(2_100));
        let r = Request::new(s.free, system()).with_key("acme");
        log.push(format!("{:?}", m.try_consume(&s.engine, &r, s.sessions, 0).map(|c| c.used)));
        std::thread::sleep(Duration::from_millis(3_100));
        let r = Request::new(s.free, system()).with_key("acme");
        for _ in 0..2 {
            log.push(format!("{:?}", m.reserve(&s.engine, &r, s.sessions, 1, MINUTE).map(|x| x.reservation.is_some())));
        }
        let late = m.commit(&s.engine, &r, &short, 1);
        log.push(format!(
            "late commit {}",
            matches!(late, Err(StoreError::Reservation(ReservationError::Unknown { .. })))
        ));
        log
    };
    assert_eq!(run(&local), run(&shared));
}

/// With nothing remembered, settled holds go at once, and the counter never fills.
#[test]
fn settled_holds_remembered_for_no_time_leave_room() {
    let server = Server::start(&scratch("holds-remember0"), None);
    let s = setup();
    let mut config = RedisConfig::new(server.url());
    (config.timeout, config.remember_seconds, config.max_holds_per_counter) = (Duration::from_secs(2), 0, 3);
    let meter = RedisMeter::new(config).unwrap();
    let r = Request::new(s.free, system()).with_key("acme");
    for _ in 0..6 {
        let job = hold(&meter, &s, &r, s.sessions, 1);
        meter.release(&s.engine, &r, &job).unwrap();
    }
}

/// A hold of a window that ended ended with it: releasing it later frees nothing, as
/// in-process.
#[test]
fn a_hold_of_an_ended_window_frees_nothing_later() {
    let server = Server::start(&scratch("holds-window"), None);
    let s = setup();
    let (local, shared) = (Meter::new(), meter(&server.url()));
    let now = system();
    let boundary = now - now.rem_euclid(60);
    let (before, after) = (boundary - 5, boundary + (now - boundary).min(1));
    let run = |m: &dyn UsageMeter| {
        let (r1, r2) = (Request::new(s.free, before).with_key("acme"), Request::new(s.free, after).with_key("acme"));
        let job = m.reserve(&s.engine, &r1, s.calls, 30, Duration::from_secs(3_600)).unwrap().reservation.unwrap();
        let other = m.reserve(&s.engine, &r1, s.calls, 30, Duration::from_secs(3_600)).unwrap().reservation.unwrap();
        let consumed = m.try_consume(&s.engine, &r2, s.calls, 1).unwrap().used;
        let released = m.release(&s.engine, &r2, &job).map(|r| r.freed);
        let committed = m.commit(&s.engine, &r2, &other, 40).map(|c| (c.recorded, c.unrecorded));
        format!("consume {consumed} release {released:?} commit {committed:?}")
    };
    assert_eq!(run(&local), run(&shared));
}

/// Holds of an unlimited limit sum below 2⁵³ on Redis (what it counts exactly): past that, a
/// hold is refused and nothing of it is written.
#[test]
fn holds_past_what_redis_counts_exactly_are_refused_whole() {
    let server = Server::start(&scratch("holds-overflow"), None);
    let (s, meter) = (setup(), meter(&server.url()));
    let r = Request::new(s.free, system()).with_key("acme");
    let big = (1u64 << 53) - 1;
    let first = hold(&meter, &s, &r, s.big, big);
    let refused = meter.reserve(&s.engine, &r, s.big, big, MINUTE).unwrap_err();
    assert!(matches!(refused, StoreError::Reservation(ReservationError::AtCapacity { .. })), "{refused}");
    assert_eq!(meter.release(&s.engine, &r, &first).unwrap().freed, big);
    hold(&meter, &s, &r, s.big, big);
}

/// A reserve the meter gave up on (no answer within the timeout) may still reach Redis, late;
/// the connection's next call cancels it, whether it arrived before or arrives after, so the
/// caller's retry finds the room free.
#[test]
fn a_reserve_given_up_on_is_cancelled_before_the_next_call() {
    let server = Server::start(&scratch("holds-ghost"), None);
    let proxy = Proxy::start(server.port());
    let s = setup();
    let mut config = RedisConfig::new(proxy.url());
    (config.connections, config.timeout) = (1, Duration::from_millis(300));
    let meter = RedisMeter::new(config).unwrap();
    let direct = self::meter(&server.url());
    let request = Request::new(s.free, system()).with_key("acme");
    // Every script is loaded first, so that what the proxy holds is the script call itself.
    let warm = hold(&meter, &s, &Request::new(s.free, system()).with_key("warm"), s.credits, 1);
    meter.release(&s.engine, &Request::new(s.free, system()).with_key("warm"), &warm).unwrap();
    for late_before_the_next_call in [true, false] {
        proxy.hold();
        let given_up = meter.reserve(&s.engine, &request, s.credits, 60, Duration::from_secs(86_400));
        assert!(matches!(given_up, Err(StoreError::Unreachable(_))), "{given_up:?}");
        proxy.stop_holding();
        if late_before_the_next_call {
            proxy.release();
            // The late copy made its hold: 40 are left, for now.
            assert!(!direct.try_consume(&s.engine, &request, s.credits, 41).unwrap().quota.allowed);
        }
        let retry = meter.reserve(&s.engine, &request, s.credits, 60, MINUTE).unwrap();
        assert!(retry.quota.allowed, "{retry:?}");
        if !late_before_the_next_call {
            // The late copy finds its hold cancelled, and holds nothing.
            proxy.release();
        }
        assert!(!direct.try_consume(&s.engine, &request, s.credits, 41).unwrap().quota.allowed);
        assert!(direct.try_consume(&s.engine, &request, s.credits, 40).unwrap().quota.allowed);
        meter.release(&s.engine, &request, &retry.reservation.unwrap()).unwrap();
        direct.refund(&s.engine, &request, s.credits, 40).unwrap();
    }
}

/// Random sequences of every step, on limits of every kind (a hard daily cap, a soft cap, a
/// gauge), answered alike by the in-process meter and by Redis: a small generator seeded per
/// round, so a failure names its seed.
#[test]
fn random_steps_answer_alike_on_both_meters() {
    let policy = r#"policy "alike"
limit credits : count per day
limit calls : count per day
limit sessions : count gauge
tier free {
    limit credits = 100
    limit calls = 60 soft 90
    limit sessions = 5
}
"#;
    let engine = Engine::from_source("alike.policy", policy).unwrap();
    let free = engine.tier("free").unwrap();
    let limits = ["credits", "calls", "sessions"].map(|name| engine.limit(name).unwrap());
    let server = Server::start(&scratch("holds-random"), None);
    for seed in 1..=12u64 {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let ops: Vec<[u64; 3]> = (0..80).map(|_| [next(5), next(3), next(40)]).collect();
        let key = format!("subject-{seed}");
        // One instant for both runs: an answer carries its request's instant, so two runs that
        // each read the clock differ whenever a second ends between them.
        let now = system();
        let run = |m: &dyn UsageMeter| {
            let request = Request::new(free, now).with_key(&key);
            let mut open: Vec<Reservation> = Vec::new();
            let mut log = Vec::new();
            for &[op, limit, amount] in &ops {
                let limit = limits[usize::try_from(limit).unwrap()];
                let line = match op {
                    0 => {
                        let reserved = m.reserve(&engine, &request, limit, amount + 1, MINUTE);
                        let line = format!("{:?}", reserved.as_ref().map(|r| (r.quota, r.reservation.is_some())));
                        open.extend(reserved.ok().and_then(|r| r.reservation));
                        line
                    }
                    1 if !open.is_empty() => {
                        let job = open.remove(usize::try_from(amount).unwrap() % open.len());
                        format!(
                            "{:?}",
                            m.commit(&engine, &request, &job, amount).map(|c| (c.recorded, c.unrecorded, c.repeated))
                        )
                    }
                    2 if !open.is_empty() => {
                        let job = open.remove(usize::try_from(amount).unwrap() % open.len());
                        format!("{:?}", m.release(&engine, &request, &job).map(|r| (r.freed, r.repeated)))
                    }
                    3 => format!("{:?}", m.refund(&engine, &request, limit, amount)),
                    _ => format!(
                        "{:?}",
                        m.try_consume(&engine, &request, limit, amount).map(|c| (c.quota, c.recorded, c.used))
                    ),
                };
                log.push(line);
            }
            log
        };
        let (local, shared) = (run(&Meter::new()), run(&meter(&server.url())));
        for (step, (a, b)) in local.iter().zip(&shared).enumerate() {
            assert_eq!(a, b, "seed {seed}, step {step}");
        }
    }
}

/// Not a test of its own: the body of each child process of
/// `holds_from_several_processes_never_pass_the_limit`, run only when that test starts this
/// binary with the Redis address in `ENTITLE_HOLDS_CHILD`. It holds, commits and releases on
/// one key, and prints what it recorded.
#[test]
fn holds_child_process() {
    let Ok(url) = std::env::var("ENTITLE_HOLDS_CHILD") else { return };
    let s = setup();
    let meter = meter(&url);
    let request = Request::new(s.free, system()).with_key("shared");
    let (mut recorded, mut open) = (0, Vec::new());
    for i in 0..1_000u64 {
        if let Some(job) = meter.reserve(&s.engine, &request, s.tokens, i % 40 + 1, MINUTE).unwrap().reservation {
            open.push(job);
        }
        if open.len() > 8 {
            let job = open.remove(0);
            if i % 3 == 0 {
                meter.release(&s.engine, &request, &job).unwrap();
            } else {
                recorded += meter.commit(&s.engine, &request, &job, job.amount() + i % 7).unwrap().recorded;
            }
        }
    }
    for job in open {
        meter.release(&s.engine, &request, &job).unwrap();
    }
    println!("recorded={recorded}");
}

/// Thousands of holds on one key from three processes: what they recorded is what Redis
/// holds, never more than the limit, and every hold is settled at the end.
#[test]
fn holds_from_several_processes_never_pass_the_limit() {
    let server = Server::start(&scratch("holds-processes"), None);
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "holds_child_process", "--nocapture", "--test-threads=1"])
                .env("ENTITLE_HOLDS_CHILD", server.url())
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
        let figure = text.split("recorded=").nth(1).and_then(|rest| rest.split_whitespace().next());
        total += figure.unwrap_or_else(|| panic!("{text}")).parse::<u64>().unwrap();
    }
    let s = setup();
    let request = Request::new(s.free, system()).with_key("shared");
    let direct = meter(&server.url());
    assert_eq!(used(&direct, &s, &request, s.tokens), total);
    assert!(total <= 20_000, "{total}");
    // Nothing is left held: what the usage leaves can be held again.
    if total < 20_000 {
        assert!(direct.reserve(&s.engine, &request, s.tokens, 20_000 - total, MINUTE).unwrap().quota.allowed);
    }
}
