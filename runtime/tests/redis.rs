//! The shared meter against a real `redis-server` (the Debian package), started on a free
//! loopback port and stopped by each test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use entitle::{Amount, Engine, LimitId, Reason, Request};
use entitle_runtime::meter::Consumed;
use entitle_runtime::store::redis::{RedisConfig, RedisMeter};
use entitle_runtime::store::{FailureMode, Source, StoreError, UsageMeter};

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Server};

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
use fault_proxy::Proxy;

const POLICY: &str = "policy \"r\"\nlimit calls : count per day\ntier free { limit calls = 20_000 }\n";

/// An instant a year ahead of the real clock: keys expire by Redis's own clock a minute after
/// their window ends, so windows in the test must not have ended yet in real time.
fn now() -> i64 {
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(real).unwrap() + 400 * 86_400
}

fn meter(server_url: &str, mode: FailureMode) -> RedisMeter {
    let mut config = RedisConfig::new(server_url);
    config.failure_mode = mode;
    config.timeout = Duration::from_millis(300);
    RedisMeter::new(config).unwrap()
}

#[test]
fn instances_sharing_redis_never_together_pass_the_cap() {
    let server = Server::start(&scratch("cap"), None);
    let engine = Arc::new(Engine::from_source("r", POLICY).unwrap());
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let now = now();
    let allowed = Arc::new(AtomicU64::new(0));
    // Four service instances, each with its own meter and connections.
    let instances: Vec<_> = (0..4u64)
        .map(|instance| {
            let (engine, allowed, url) = (Arc::clone(&engine), Arc::clone(&allowed), server.url());
            std::thread::spawn(move || {
                let meter = meter(&url, FailureMode::Closed);
                for i in 0..2_000u64 {
                    let amount = (i + instance) % 5 + 1;
                    let request = Request::new(free, now).with_key("shared");
                    let consumed = meter.try_consume(&engine, &request, calls, amount).unwrap();
                    assert_eq!(consumed.quota.allowed, consumed.recorded == amount);
                    allowed.fetch_add(consumed.recorded, Ordering::Relaxed);
                }
            })
        })
        .collect();
    instances.into_iter().for_each(|t| t.join().unwrap());
    let check = meter(&server.url(), FailureMode::Closed);
    let request = Request::new(free, now).with_key("shared");
    let used = check.try_consume(&engine, &request, calls, 0).unwrap().used;
    assert_eq!(used, allowed.load(Ordering::Relaxed), "recorded equals the sum of what was allowed");
    assert!(used <= 20_000 && used > 20_000 - 5, "the cap was reached, never passed: {used}");
    // A refund gives back, once.
    assert_eq!(check.refund(&engine, &request, calls, 3).unwrap(), 3);
    assert_eq!(check.try_consume(&engine, &request, calls, 0).unwrap().used, used - 3);
}

#[test]
fn a_killed_server_fails_as_configured_and_loses_nothing_recorded() {
    let server = Server::start(&scratch("kill"), None);
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let request = Request::new(free, now()).with_key("k");
    let closed = meter(&server.url(), FailureMode::Closed);
    let open = meter(&server.url(), FailureMode::Open);
    let mut recorded = 0;
    for _ in 0..100 {
        let consumed = closed.try_consume(&engine, &request, calls, 7).unwrap();
        assert_eq!(consumed.source, Source::Store);
        recorded += consumed.recorded;
    }
    assert_eq!(recorded, 700);

    let (port, dir) = server.kill();
    assert!(matches!(closed.try_consume(&engine, &request, calls, 1), Err(StoreError::Unreachable(_))));
    let degraded = open.try_consume(&engine, &request, calls, 1).unwrap();
    assert!(degraded.quota.allowed && degraded.recorded == 0);
    assert_eq!((degraded.source, degraded.source.is_degraded()), (Source::FailedOpen, true));
    assert_eq!((open.fail_open_count(), open.local_share_count()), (1, 0));

    // Back on the same port with the same append-only file: every recorded unit is there.
    let _server = Server::start(&dir, Some(port));
    let deadline = Instant::now() + Duration::from_secs(10);
    let used = loop {
        match closed.try_consume(&engine, &request, calls, 0) {
            Ok(consumed) => break consumed.used,
            Err(error) => assert!(Instant::now() < deadline, "redis did not come back: {error}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(used, 700);
}

#[test]
fn a_reply_lost_after_the_script_ran_is_not_counted_twice_by_the_retry() {
    let server = Server::start(&scratch("lost-reply"), None);
    let proxy = Proxy::start(server.port());
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let request = Request::new(free, now()).with_key("k");
    let mut config = RedisConfig::new(proxy.url());
    config.connections = 1;
    let meter = RedisMeter::new(config).unwrap();
    let mut recorded = meter.try_consume(&engine, &request, calls, 1).unwrap().recorded;
    // The script runs on the server, its reply is lost with the connection: the meter tries
    // again on a new one, and that second try must find the first one's result.
    proxy.drop_next_reply();
    let retried = meter.try_consume(&engine, &request, calls, 5).unwrap();
    assert_eq!((retried.recorded, retried.used), (5, 6));
    recorded += retried.recorded;
    let direct = self::meter(&server.url(), FailureMode::Closed);
    assert_eq!(direct.try_consume(&engine, &request, calls, 0).unwrap().used, recorded);
    // A refund whose reply is lost gives back once, too.
    proxy.drop_next_reply();
    assert_eq!(meter.refund(&engine, &request, calls, 2).unwrap(), 2);
    assert_eq!(direct.try_consume(&engine, &request, calls, 0).unwrap().used, recorded - 2);
    assert_eq!(proxy.accepted(), 3, "each retry went over a new connection");
}

#[test]
fn a_call_answered_unreachable_is_never_counted_even_when_redis_runs_it_late() {
    let server = Server::start(&scratch("late"), None);
    let proxy = Proxy::start(server.port());
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let request = Request::new(free, now()).with_key("k");
    let direct = meter(&server.url(), FailureMode::Closed);
    let on_redis = || direct.try_consume(&engine, &request, calls, 0).unwrap().used;
    for mode in [FailureMode::Closed, FailureMode::Open] {
        let mut config = RedisConfig::new(proxy.url());
        (config.connections, config.failure_mode, config.timeout) = (1, mode, Duration::from_millis(300));
        let meter = RedisMeter::new(config).unwrap();
        let mut recorded = on_redis() + meter.try_consume(&engine, &request, calls, 1).unwrap().recorded;

        // The request reaches Redis only after the meter gave up on it, and before the
        // meter's next call: that call takes it back.
        proxy.hold();
        let late = meter.try_consume(&engine, &request, calls, 4);
        assert!(late.is_err() || late.unwrap().recorded == 0, "{mode:?}");
        proxy.stop_holding();
        assert_eq!(proxy.held(), 1);
        proxy.release();
        recorded += meter.try_consume(&engine, &request, calls, 2).unwrap().recorded;
        assert_eq!(on_redis(), recorded, "{mode:?}: a late call is undone");

        // The request reaches Redis after the meter's next call: it is not applied.
        proxy.hold();
        let late = meter.try_consume(&engine, &request, calls, 4);
        assert!(late.is_err() || late.unwrap().recorded == 0, "{mode:?}");
        proxy.stop_holding();
        recorded += meter.try_consume(&engine, &request, calls, 2).unwrap().recorded;
        proxy.release();
        assert_eq!(on_redis(), recorded, "{mode:?}: a call that arrives after a later one is refused");

        // A refund that times out and runs late is taken back too.
        proxy.hold();
        assert!(meter.refund(&engine, &request, calls, 3).is_err());
        proxy.stop_holding();
        proxy.release();
        recorded += meter.try_consume(&engine, &request, calls, 1).unwrap().recorded;
        assert_eq!(on_redis(), recorded, "{mode:?}: a late refund is undone");
    }
}

#[test]
fn both_meters_refund_from_the_requests_own_window_and_agree() {
    let server = Server::start(&scratch("refund"), None);
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let in_process = entitle_runtime::meter::Meter::new();
    let shared = meter(&server.url(), FailureMode::Closed);
    let mut outcomes = Vec::new();
    for meter in [&in_process as &dyn UsageMeter, &shared] {
        let day = Request::new(free, now()).with_key("k");
        let next_day = day.at(now() + 86_400);
        meter.try_consume(&engine, &day, calls, 5).unwrap();
        // Within its own window, a refund gives back.
        let same_window = meter.refund(&engine, &day, calls, 1).unwrap();
        meter.try_consume(&engine, &next_day, calls, 3).unwrap();
        // Stamped on the first day, after usage on the next: the first day's window is over
        // for this subject, and the next day's usage is not the refund's to give back.
        let late = meter.refund(&engine, &day, calls, 2).unwrap();
        let next_used = meter.try_consume(&engine, &next_day, calls, 0).unwrap().used;
        let own = meter.refund(&engine, &next_day, calls, 2).unwrap();
        outcomes.push((same_window, late, next_used, own));
    }
    assert_eq!(outcomes[0], (1, 0, 3, 2), "in-process");
    assert_eq!(outcomes[1], outcomes[0], "on Redis");
}

/// A server that accepts connections and never answers.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().map_while(Result::ok).collect();
        drop(held);
    });
    url
}

#[test]
fn the_timeout_bounds_a_whole_call_and_says_so() {
    let engine = Arc::new(Engine::from_source("r", POLICY).unwrap());
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let mut config = RedisConfig::new(silent_server());
    (config.timeout, config.connections) = (Duration::from_millis(200), 1);
    let meter = Arc::new(RedisMeter::new(config).unwrap());
    let request = Request::new(free, now()).with_key("k");
    let Err(StoreError::Unreachable(alone)) = meter.try_consume(&engine, &request, calls, 1) else { panic!() };
    assert!(alone.contains("did not answer within 200 ms") && !alone.contains("os error"), "{alone}");

    // Sixteen callers on one connection: a caller that cannot have it before its deadline
    // gives up then, instead of queueing behind the others' timeouts.
    let start = Arc::new(std::sync::Barrier::new(16));
    let callers: Vec<_> = (0..16)
        .map(|_| {
            let (engine, meter, start) = (Arc::clone(&engine), Arc::clone(&meter), Arc::clone(&start));
            std::thread::spawn(move || {
                let request = Request::new(free, now()).with_key("k");
                start.wait();
                match meter.try_consume(&engine, &request, calls, 1) {
                    Err(StoreError::Unreachable(why)) => why,
                    other => panic!("{other:?}"),
                }
            })
        })
        .collect();
    let errors: Vec<String> = callers.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(errors.iter().all(|e| e.contains("within 200 ms") && !e.contains("os error")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("no connection to redis was free")), "{errors:?}");

    // A ceiling Lua cannot count exactly is not an unreachable store.
    let huge = Engine::from_source(
        "h",
        "policy \"h\"\nlimit calls : count per day\ntier free { limit calls = 9_007_199_254_740_993 }\n",
    )
    .unwrap();
    let request = Request::new(huge.tier("free").unwrap(), now()).with_key("k");
    let error = meter.try_consume(&huge, &request, huge.limit("calls").unwrap(), 1).unwrap_err();
    assert!(matches!(error, StoreError::TooLarge(_)), "{error:?}");
    assert!(error.to_string().contains("2^53"), "{error}");
}

#[test]
fn a_subject_key_past_the_limit_is_refused_before_redis_is_asked() {
    let server = Server::start(&scratch("keys"), None);
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let meter = meter(&server.url(), FailureMode::Open);
    let (longest, longer) = ("k".repeat(256), "k".repeat(257));
    let request = Request::new(free, now()).with_key(&longest);
    assert_eq!(meter.try_consume(&engine, &request, calls, 5).unwrap().recorded, 5);
    // Refused in every failure mode, since it says nothing of the store's health, and nothing
    // reaches Redis: no key of that subject exists afterwards.
    let request = Request::new(free, now()).with_key(&longer);
    for refused in
        [meter.try_consume(&engine, &request, calls, 5).map(|c| c.recorded), meter.refund(&engine, &request, calls, 5)]
    {
        match refused {
            Err(StoreError::Meter(entitle_runtime::meter::MeterError::KeyTooLong { len: 257, max: 256 })) => {}
            other => panic!("a 257-byte key gave {other:?}"),
        }
    }
    let mut redis = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("*{longer}*")).query(&mut redis).unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

/// Consumes `amount` until Redis answers again (an answer from the store, [`Source::Store`]);
/// returns that answer and the degraded ones given meanwhile. Errors are the `Closed` limits'.
fn until_redis_answers(
    meter: &RedisMeter,
    engine: &Engine,
    request: &Request<'_>,
    limit: LimitId,
    amount: u64,
) -> (Consumed, Vec<Consumed>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut degraded = Vec::new();
    loop {
        match meter.try_consume(engine, request, limit, amount) {
            Ok(consumed) if consumed.source == Source::Store => return (consumed, degraded),
            Ok(consumed) => degraded.push(consumed),
            Err(StoreError::Unreachable(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
        assert!(Instant::now() < deadline, "redis did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What Redis holds for `limit` of the request's subject, read by a meter of its own.
fn on_redis(server: &Server, engine: &Engine, request: &Request<'_>, limit: LimitId) -> u64 {
    let reader = meter(&server.url(), FailureMode::Closed);
    let read = reader.try_consume(engine, request, limit, 0).unwrap();
    assert_eq!(read.source, Source::Store);
    read.used
}

/// One limit of 1,001 calls a day, shared by two processes.
const SHARED: &str = "policy \"r\"\nlimit calls : count per day\ntier free { limit calls = 1_001 }\n";

#[test]
fn a_killed_server_falls_back_on_local_shares_and_counts_nothing_twice_once_back() {
    let server = Server::start(&scratch("share"), None);
    let engine = Arc::new(Engine::from_source("r", SHARED).unwrap());
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let now = now();
    // Two processes, each a meter of its own whose share is ⌊1001 / 2⌋ = 500.
    let processes: Vec<Arc<RedisMeter>> = (0..2)
        .map(|_| {
            let mut config = RedisConfig::new(server.url());
            config.failure_mode = FailureMode::LocalShare { processes: 2 };
            // One connection: the call the kill cuts is settled by the very next one.
            (config.connections, config.timeout) = (1, Duration::from_millis(300));
            Arc::new(RedisMeter::new(config).unwrap())
        })
        .collect();
    let recorded_on_redis = Arc::new(AtomicU64::new(0));
    // Three threads a process consume one call at a time, through the kill, until their
    // process's share denies.
    let threads: Vec<_> = (0..6)
        .map(|thread| {
            let (engine, on_redis) = (Arc::clone(&engine), Arc::clone(&recorded_on_redis));
            let (process, meter) = (thread % 2, Arc::clone(&processes[thread % 2]));
            std::thread::spawn(move || {
                let request = Request::new(free, now).with_key("k");
                let (mut stored, mut local, mut local_answers) = (0, 0, 0);
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    assert!(Instant::now() < deadline, "the local share never ran out");
                    let consumed =
                        meter.try_consume(&engine, &request, calls, 1).expect("a local share always answers");
                    match consumed.source {
                        Source::Store => {
                            stored += consumed.recorded;
                            on_redis.fetch_add(consumed.recorded, Ordering::SeqCst);
                        }
                        Source::LocalShare => {
                            local_answers += 1;
                            local += consumed.recorded;
                            assert_eq!(consumed.quota.limit, Amount::Finite(500), "{consumed:?}");
                            assert!(consumed.used <= 500, "{consumed:?}");
                            if !consumed.quota.allowed {
                                assert_eq!(
                                    (consumed.quota.reason, consumed.recorded, consumed.used),
                                    (Reason::LimitExceeded, 0, 500)
                                );
                                return (process, stored, local, local_answers);
                            }
                        }
                        other => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorded_on_redis.load(Ordering::SeqCst) < 100 {
        assert!(Instant::now() < deadline, "redis recorded nothing");
        std::thread::sleep(Duration::from_millis(1));
    }
    let (port, dir) = server.kill();
    let mut tallies = [(0, 0, 0); 2];
    for thread in threads {
        let (process, stored, local, answers) = thread.join().unwrap();
        let tally: &mut (u64, u64, u64) = &mut tallies[process];
        (tally.0, tally.1, tally.2) = (tally.0 + stored, tally.1 + local, tally.2 + answers);
    }
    for (meter, &(_, local, answers)) in processes.iter().zip(&tallies) {
        assert_eq!(local, 500, "each process admitted its whole share and no more");
        assert_eq!((meter.local_share_count(), meter.fail_open_count()), (answers, 0));
    }
    let stored: u64 = tallies.iter().map(|t| t.0).sum();
    assert_eq!(stored, recorded_on_redis.load(Ordering::SeqCst));
    assert!(stored <= 1_001 && tallies.iter().map(|t| t.1).sum::<u64>() <= 1_001);

    // Back on the same port and file: the same meters answer from Redis again by themselves,
    // and Redis holds exactly what it admitted. What the shares admitted was never written
    // to it, and the calls the kill cut (answered from the shares) were taken back.
    let server = Server::start(&dir, Some(port));
    let request = Request::new(free, now).with_key("k");
    let mut after = 0;
    for meter in &processes {
        let (back, meanwhile) = until_redis_answers(meter, &engine, &request, calls, 1);
        assert!(meanwhile.iter().all(|c| c.source == Source::LocalShare && c.recorded == 0), "{meanwhile:?}");
        after += back.recorded;
    }
    assert_eq!(on_redis(&server, &engine, &request, calls), stored + after);
}

/// Three limits, each declared to fail its own way.
const THREE: &str = "policy \"r\"\nlimit calls : count per day\nlimit uploads : count per day\nlimit exports : count per day\ntier free {\n limit calls = 100\n limit uploads = 100\n limit exports = 10 soft 13\n}\n";

fn three_limits(engine: &Engine) -> [LimitId; 3] {
    ["calls", "uploads", "exports"].map(|name| engine.limit(name).unwrap())
}

/// `calls` fails closed (the meter's mode), `uploads` open, `exports` to a share of three.
fn per_limit_config(url: String) -> RedisConfig {
    RedisConfig::new(url)
        .on_failure("uploads", FailureMode::Open)
        .on_failure("exports", FailureMode::LocalShare { processes: 3 })
        // No limit of the policy has this name: it is never asked for.
        .on_failure("no_such_limit", FailureMode::Open)
}

#[test]
fn each_limit_fails_as_declared_during_one_outage() {
    let server = Server::start(&scratch("per-limit"), None);
    let engine = Engine::from_source("r", THREE).unwrap();
    let [calls, uploads, exports] = three_limits(&engine);
    let config = per_limit_config(server.url());
    assert_eq!(config.failure_mode_for("calls"), FailureMode::Closed);
    let meter = RedisMeter::new(config).unwrap();
    let request = Request::new(engine.tier("free").unwrap(), now()).with_key("k");
    for limit in [calls, uploads, exports] {
        let consumed = meter.try_consume(&engine, &request, limit, 2).unwrap();
        assert_eq!((consumed.source, consumed.recorded, consumed.used), (Source::Store, 2, 2));
    }
    drop(server);

    assert!(matches!(meter.try_consume(&engine, &request, calls, 1), Err(StoreError::Unreachable(_))));
    let open = meter.try_consume(&engine, &request, uploads, 1).unwrap();
    assert_eq!((open.source, open.quota.allowed, open.recorded, open.used), (Source::FailedOpen, true, 0, 0));
    // A third of `10 soft 13` is 3 soft 4 (rounded down), counted from 0 in the process.
    let shares: Vec<Consumed> = (0..5).map(|_| meter.try_consume(&engine, &request, exports, 1).unwrap()).collect();
    assert!(
        shares.iter().all(|c| c.source == Source::LocalShare
            && c.source.is_degraded()
            && c.quota.limit == Amount::Finite(3)
            && c.quota.soft_cap == Some(Amount::Finite(4))),
        "{shares:?}"
    );
    let outcomes: Vec<_> = shares.iter().map(|c| (c.quota.reason, c.recorded, c.used, c.quota.remaining)).collect();
    assert_eq!(
        outcomes,
        [
            (Reason::WithinLimit, 1, 1, Amount::Finite(3)),
            (Reason::WithinLimit, 1, 2, Amount::Finite(2)),
            (Reason::WithinLimit, 1, 3, Amount::Finite(1)),
            (Reason::Overage, 1, 4, Amount::Finite(0)),
            (Reason::LimitExceeded, 0, 4, Amount::Finite(0)),
        ]
    );
    assert_eq!((meter.fail_open_count(), meter.local_share_count()), (1, 5));
    // Refunds Redis cannot take: the share gives back what it admitted; the others cannot.
    assert_eq!(meter.refund(&engine, &request, exports, 1).unwrap(), 1);
    assert!(matches!(meter.refund(&engine, &request, calls, 1), Err(StoreError::Unreachable(_))));
    assert!(matches!(meter.refund(&engine, &request, uploads, 1), Err(StoreError::Unreachable(_))));
    let again = meter.try_consume(&engine, &request, exports, 1).unwrap();
    assert_eq!((again.source, again.quota.reason, again.used), (Source::LocalShare, Reason::Overage, 4));
}

/// How a test stalls Redis past the meter's timeout.
#[derive(Clone, Copy, Debug)]
enum Stall {
    /// `CLIENT PAUSE`: the server holds every client's commands.
    Pause,
    /// `DEBUG SLEEP`: the server itself is blocked.
    Sleep,
}

/// Stalls the server for `seconds`, returning once it is stalled.
fn stall(server: &Server, how: Stall, seconds: u64) {
    let mut connection = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    match how {
        Stall::Pause => {
            redis::cmd("CLIENT").arg("PAUSE").arg(seconds * 1000).arg("ALL").query::<()>(&mut connection).unwrap();
        }
        Stall::Sleep => {
            std::thread::spawn(move || {
                let _: redis::RedisResult<()> = redis::cmd("DEBUG").arg("SLEEP").arg(seconds).query(&mut connection);
            });
            let deadline = Instant::now() + Duration::from_secs(5);
            while answers_ping(server.port()) {
                assert!(Instant::now() < deadline, "DEBUG SLEEP did not stall the server");
            }
        }
    }
}

/// Whether the server on `port` answers a `PING` within 100 ms.
fn answers_ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    stream.read(&mut [0u8; 16]).is_ok_and(|n| n > 0)
}

#[test]
fn a_stalled_server_gets_flagged_answers_within_the_timeout() {
    let server = Server::start(&scratch("stall"), None);
    let engine = Engine::from_source("r", THREE).unwrap();
    let [calls, uploads, exports] = three_limits(&engine);
    let timeout = Duration::from_millis(300);
    let mut config = per_limit_config(server.url());
    (config.connections, config.timeout) = (1, timeout);
    let meter = RedisMeter::new(config).unwrap();
    for how in [Stall::Pause, Stall::Sleep] {
        // A subject for each stall: the first one's share is used up by the second.
        let subject = format!("{how:?}");
        let request = Request::new(engine.tier("free").unwrap(), now()).with_key(&subject);
        let mut recorded = 0;
        let before = meter.try_consume(&engine, &request, exports, 1).unwrap();
        assert_eq!(before.source, Source::Store, "{how:?}");
        recorded += before.recorded;
        stall(&server, how, 3);
        for (limit, source) in [(exports, Some(Source::LocalShare)), (uploads, Some(Source::FailedOpen)), (calls, None)]
        {
            let start = Instant::now();
            let answer = meter.try_consume(&engine, &request, limit, 1);
            let took = start.elapsed();
            // A deadline guard: the timeout, and a margin for a loaded machine.
            assert!(took < timeout + Duration::from_millis(500), "{how:?}: took {took:?}");
            match (answer, source) {
                (Ok(answer), Some(source)) => assert_eq!((answer.source, answer.quota.allowed), (source, true)),
                (Err(StoreError::Unreachable(why)), None) => assert!(why.contains("within 300 ms"), "{why}"),
                (answer, _) => panic!("{how:?}: {answer:?}"),
            }
        }
        // Once the stall is over, the same meter answers from Redis, and the call it gave up
        // on (Redis ran it when it woke) was taken back.
        let (back, meanwhile) = until_redis_answers(&meter, &engine, &request, exports, 1);
        assert!(meanwhile.iter().all(|c| c.source == Source::LocalShare), "{how:?}: {meanwhile:?}");
        recorded += back.recorded;
        assert_eq!(on_redis(&server, &engine, &request, exports), recorded, "{how:?}");
        assert_eq!(on_redis(&server, &engine, &request, uploads), 0, "{how:?}");
        assert_eq!(on_redis(&server, &engine, &request, calls), 0, "{how:?}");
    }
}

#[test]
fn a_server_restarted_empty_has_lost_its_counters_and_the_meter_carries_on() {
    let server = Server::start(&scratch("empty"), None);
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let request = Request::new(free, now()).with_key("k");
    let meter = meter(&server.url(), FailureMode::Closed);
    assert_eq!(meter.try_consume(&engine, &request, calls, 15_000).unwrap().recorded, 15_000);
    assert!(!meter.try_consume(&engine, &request, calls, 10_000).unwrap().quota.allowed);

    // The same port, with no file: a server that kept nothing (no persistence, a new node).
    let (port, dir) = server.kill();
    std::fs::remove_dir_all(&dir).unwrap();
    let server = Server::start(&scratch("empty-again"), Some(port));
    // The meter reconnects by itself and cannot tell: its answers come from Redis, whose
    // counter starts over from 0, so the day admits up to its limit once more.
    let (back, _) = until_redis_answers(&meter, &engine, &request, calls, 10_000);
    assert_eq!((back.quota.allowed, back.recorded, back.used), (true, 10_000, 10_000));
    assert_eq!(on_redis(&server, &engine, &request, calls), 10_000);
}
