//! The shared meter on a real Redis Cluster: three `redis-server`s (the Debian package) on
//! free loopback ports, joined by `redis-cli --cluster create`, stopped when the test ends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entitle::{Engine, Request};
use entitle_runtime::store::redis::{RedisConfig, RedisMeter};
use entitle_runtime::store::{StoreError, UsageMeter};

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Cluster};

#[path = "support/rolling_cases.rs"]
mod rolling_cases;

const POLICY: &str = "policy \"c\"\nlimit calls : count per day\nlimit tokens : count per day\n\
                      tier free { limit calls = 40\nlimit tokens = 900 }\n";
const LIMITS: [(&str, u64); 2] = [("calls", 40), ("tokens", 900)];
const PREFIX: &str = "entitle-cluster-test:";

/// A year ahead of the real clock, as in `redis.rs`: keys expire by Redis's clock.
fn now() -> i64 {
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(real).unwrap() + 400 * 86_400
}

fn meter(cluster: &Cluster, connections: usize) -> RedisMeter {
    let mut config = RedisConfig::cluster(cluster.urls());
    (config.prefix, config.connections, config.timeout) = (PREFIX.into(), connections, Duration::from_secs(2));
    RedisMeter::new(config).unwrap()
}

/// A plain connection to one node, for what the test checks behind the meter's back.
fn node(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap()
}

/// Every key of the test on the node at `port`.
fn keys_on(port: u16) -> Vec<String> {
    redis::cmd("KEYS").arg(format!("{PREFIX}*")).query(&mut node(port)).unwrap()
}

/// The subject and limit of a counter's key `{prefix}{tag}{length}:{subject}:{limit}:{window}`,
/// or `None` for the other keys (latest windows, sessions).
fn counter_of(key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (tag, rest) = rest.strip_prefix('{')?.split_once('}')?;
    assert!(tag.bytes().all(|b| b.is_ascii_digit()), "{key}");
    let (length, rest) = rest.split_once(':')?;
    let length: usize = length.parse().ok()?;
    let (subject, rest) = (rest.get(..length)?, rest.get(length..)?.strip_prefix(':')?);
    let (limit, window) = rest.split_once(':')?;
    (window != "latest").then(|| (subject.to_string(), limit.to_string()))
}

/// Subjects enough to land on every node, with braces in some, which must not move the tag.
fn subjects() -> Vec<String> {
    let mut subjects: Vec<String> = (0..240).map(|i| format!("customer-{i:04}")).collect();
    subjects.extend(["{tenant-7}", "a}b{c", "}{", "{", "}", "x{}y", "{customer-0001}"].map(String::from));
    subjects
}

#[test]
fn meters_on_a_cluster_record_exactly_what_they_allowed_and_never_pass_a_ceiling() {
    let cluster = Cluster::start(&scratch("cluster"));
    let engine = Arc::new(Engine::from_source("c", POLICY).unwrap());
    let free = engine.tier("free").unwrap();
    let limits: Vec<_> = LIMITS.iter().map(|(name, ceiling)| (engine.limit(name).unwrap(), *ceiling)).collect();
    let subjects = Arc::new(subjects());
    let now = now();
    // What the meters allowed, less what they gave back, by subject and limit.
    let net = Arc::new(Mutex::new(HashMap::<(usize, usize), i64>::new()));
    let (instances, threads, calls) = (3, 2, 1_500);
    let started = Instant::now();
    let workers: Vec<_> = (0..instances)
        .flat_map(|_| {
            // Each service instance has its own meter (and connections), shared by its threads.
            let meter = Arc::new(meter(&cluster, 2));
            (0..threads).map(move |thread| (Arc::clone(&meter), thread))
        })
        .enumerate()
        .map(|(worker, (meter, _))| {
            let (engine, subjects, net, limits) =
                (Arc::clone(&engine), Arc::clone(&subjects), Arc::clone(&net), limits.clone());
            std::thread::spawn(move || {
                for i in 0..calls {
                    let s = (i * 31 + worker * 7) % subjects.len();
                    let l = (i + worker) % limits.len();
                    let (limit, ceiling) = limits[l];
                    let request = Request::new(free, now).with_key(&subjects[s]);
                    if i % 9 == 4 {
                        // Another thread on the same subject may have recorded what this gives
                        // back and not yet noted it here, so the net may dip below 0 for a
                        // moment; that it never ends so is checked once every thread is done.
                        let back = meter.refund(&engine, &request, limit, 3).unwrap();
                        *net.lock().unwrap().entry((s, l)).or_default() -= i64::try_from(back).unwrap();
                        continue;
                    }
                    if i % 9 == 7 {
                        // One request against both limits, in one script on the subject's slot:
                        // recorded against both or neither.
                        let asked = [(limits[0].0, 1), (limits[1].0, i as u64 % 60 + 1)];
                        let mut out = [entitle::Quota::default(); 2];
                        let batch = meter.try_consume_all(&engine, &request, &asked, &mut out).unwrap();
                        assert_eq!(batch.recorded, batch.allowed());
                        if batch.recorded {
                            let mut net = net.lock().unwrap();
                            *net.entry((s, 0)).or_default() += i64::try_from(asked[0].1).unwrap();
                            *net.entry((s, 1)).or_default() += i64::try_from(asked[1].1).unwrap();
                        }
                        continue;
                    }
                    let amount = if l == 0 { i as u64 % 4 + 1 } else { i as u64 % 60 + 1 };
                    let consumed = meter.try_consume(&engine, &request, limit, amount).unwrap();
                    assert_eq!(consumed.quota.allowed, consumed.recorded == amount);
                    assert!(consumed.used <= ceiling, "{} used {} of {ceiling}", subjects[s], consumed.used);
                    *net.lock().unwrap().entry((s, l)).or_default() += i64::try_from(consumed.recorded).unwrap();
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    let elapsed = started.elapsed();
    let total_calls = instances * threads * calls;
    println!(
        "{total_calls} calls by {} threads on a three-node cluster in {:.2} s: {:.0} calls/s, {:.0} µs a call per thread",
        instances * threads,
        elapsed.as_secs_f64(),
        total_calls as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 * (instances * threads) as f64 / total_calls as f64
    );

    // What Redis holds, read from each node directly: one counter per subject and limit used,
    // each exactly what the meters allowed less what they gave back, none over its ceiling.
    let net = net.lock().unwrap().clone();
    // No subject was given back more than it was allowed.
    assert!(net.values().all(|&units| units >= 0), "{net:?}");
    let net: HashMap<(usize, usize), u64> = net.into_iter().map(|(at, units)| (at, units.unsigned_abs())).collect();
    let mut held = HashMap::new();
    for &port in cluster.ports() {
        let keys = keys_on(port);
        let counters: Vec<_> = keys.iter().filter_map(|key| Some((key, counter_of(key)?))).collect();
        assert!(counters.len() > 20, "node {port} holds {} counters of {} keys", counters.len(), keys.len());
        assert!(keys.iter().any(|key| key.contains("}session:")), "node {port} holds no session");
        let mut redis = node(port);
        for (key, counter) in counters {
            let value: u64 = redis::cmd("GET").arg(key).query(&mut redis).unwrap();
            assert!(held.insert(counter, value).is_none(), "{key} counted twice");
        }
    }
    let expected: HashMap<(String, String), u64> = net
        .iter()
        .filter(|(_, &units)| units > 0)
        .map(|(&(s, l), &units)| ((subjects[s].clone(), LIMITS[l].0.to_string()), units))
        .collect();
    let held: HashMap<_, _> = held.into_iter().filter(|(_, units)| *units > 0).collect();
    assert_eq!(held, expected, "Redis holds exactly what was allowed less what was given back");
    for ((subject, limit), units) in &held {
        let ceiling = LIMITS.iter().find(|(name, _)| name == limit).unwrap().1;
        assert!(*units <= ceiling, "{subject} {limit}: {units} of {ceiling}");
    }
    assert!(
        held.iter().any(|((_, limit), &units)| limit == "calls" && units == 40),
        "some subject reached its ceiling"
    );
    // The meter reads the same totals.
    let check = meter(&cluster, 1);
    for ((s, l), units) in &net {
        let request = Request::new(free, now).with_key(&subjects[*s]);
        assert_eq!(check.try_consume(&engine, &request, limits[*l].0, 0).unwrap().used, *units, "{}", subjects[*s]);
    }

    // A node that lost its scripts (a restart, `SCRIPT FLUSH`) is given them again.
    for &port in cluster.ports() {
        redis::cmd("SCRIPT").arg("FLUSH").exec(&mut node(port)).unwrap();
    }
    for s in 0..30 {
        let request = Request::new(free, now).with_key(&subjects[s]);
        let used = net.get(&(s, 0)).copied().unwrap_or(0);
        assert_eq!(check.try_consume(&engine, &request, limits[0].0, 0).unwrap().used, used);
    }
}

/// The node that serves `slot`, and every node's id, from `CLUSTER NODES`.
fn owner_of(cluster: &Cluster, slot: u16) -> (u16, HashMap<u16, String>) {
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut node(cluster.ports()[0])).unwrap();
    let mut ids = HashMap::new();
    let mut owner = None;
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port: u16 = fields[1].split(['@', ':']).nth(1).unwrap().parse().unwrap();
        ids.insert(port, fields[0].to_string());
        let serves = |range: &&str| match range.split_once('-') {
            Some((low, high)) => (low.parse().unwrap()..=high.parse().unwrap()).contains(&slot),
            None => range.parse::<u16>().is_ok_and(|single| single == slot),
        };
        if fields[8..].iter().any(serves) {
            owner = Some(port);
        }
    }
    (owner.unwrap(), ids)
}

#[test]
fn a_meter_follows_a_slot_that_moved_to_another_node() {
    let cluster = Cluster::start(&scratch("cluster-moved"));
    let engine = Engine::from_source("c", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let meter = meter(&cluster, 1);
    // The meter's one connection opens, with the slot map as it is now.
    let first = Request::new(free, now()).with_key("customer-first");
    assert_eq!(meter.try_consume(&engine, &first, calls, 1).unwrap().recorded, 1);

    // Another subject's slot, still empty, moves to another node the way a resharding moves
    // it (importing, migrating, then assigned on every node).
    let subject = "customer-moving";
    let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(subject).query(&mut node(cluster.ports()[0])).unwrap();
    let (from, ids) = owner_of(&cluster, slot);
    let to = *cluster.ports().iter().find(|&&port| port != from).unwrap();
    let setslot = |port: u16, state: &str, id: &str| {
        redis::cmd("CLUSTER").arg("SETSLOT").arg(slot).arg(state).arg(id).exec(&mut node(port)).unwrap();
    };
    setslot(to, "IMPORTING", &ids[&from]);
    setslot(from, "MIGRATING", &ids[&to]);
    for port in [to, from].into_iter().chain(cluster.ports().iter().copied().filter(|&p| p != from && p != to)) {
        setslot(port, "NODE", &ids[&to]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while owner_of(&cluster, slot).0 != to {
        assert!(Instant::now() < deadline, "slot {slot} did not move to {to}");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The meter's map still names the old node, which answers MOVED: the meter opens a new
    // connection, reads the map afresh and runs the call once, where the slot is now.
    let request = Request::new(free, now()).with_key(subject);
    assert_eq!(meter.try_consume(&engine, &request, calls, 3).unwrap().recorded, 3);
    assert_eq!(meter.try_consume(&engine, &request, calls, 0).unwrap().used, 3);
    assert!(keys_on(to).iter().any(|key| key.contains(":customer-moving:calls:")), "{:?}", keys_on(to));
    assert!(!keys_on(from).iter().any(|key| key.contains(":customer-moving:")), "{:?}", keys_on(from));

    // A meter given one node as if it were one server says where the slot is, and records
    // nothing elsewhere.
    let mut config = RedisConfig::new(format!("redis://127.0.0.1:{from}/"));
    config.prefix = PREFIX.into();
    let misplaced = RedisMeter::new(config).unwrap();
    let Err(StoreError::Unreachable(why)) = misplaced.try_consume(&engine, &request, calls, 1) else { panic!() };
    assert!(why.to_lowercase().contains("moved") && why.contains(&to.to_string()), "{why}");
    assert_eq!(meter.try_consume(&engine, &request, calls, 0).unwrap().used, 3);
}

/// A rolling window's buckets are keys of their own, each under the subject's hash tag: every
/// call reads and records them in the subject's one slot, on whichever node holds it.
#[test]
fn rolling_windows_answer_on_a_cluster_as_in_process() {
    let cluster = Cluster::start(&scratch("cluster-rolling"));
    // Four centuries ahead, where the cases' buckets are still to come by Redis's clock.
    assert!(rolling_cases::run(&meter(&cluster, 2), "cluster", rolling_cases::CENTURIES) >= 9);
}

#[test]
fn a_cluster_prefix_with_a_brace_is_refused() {
    let mut config = RedisConfig::cluster(["redis://127.0.0.1:1/"]);
    config.prefix = "app{1}:".into();
    let Err(StoreError::Unreachable(why)) = RedisMeter::new(config) else { panic!("a prefix with braces was taken") };
    assert!(why.contains("hash tag"), "{why}");
}

#[test]
fn an_unreachable_cluster_fails_within_the_timeout() {
    // A port that was free: nothing answers there, so every seed refuses.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let engine = Engine::from_source("c", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let mut config = RedisConfig::cluster([format!("redis://127.0.0.1:{port}/")]);
    config.timeout = Duration::from_millis(200);
    let meter = RedisMeter::new(config).unwrap();
    let request = Request::new(free, now()).with_key("k");
    let started = Instant::now();
    let Err(StoreError::Unreachable(why)) = meter.try_consume(&engine, &request, calls, 1) else { panic!() };
    assert!(started.elapsed() < Duration::from_millis(400), "{:?}", started.elapsed());
    assert!(why.contains(&format!("127.0.0.1:{port}")), "{why}");
}

/// A server that accepts connections and never answers, as a stalled node does.
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
fn seeds_that_never_answer_cost_a_call_its_timeout_and_no_more() {
    // Opening tries the seeds one after another, each for the whole timeout: three silent
    // ones take three timeouts, of which a call waits for no more than its own.
    let engine = Arc::new(Engine::from_source("c", POLICY).unwrap());
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let mut config = RedisConfig::cluster([silent_server(), silent_server(), silent_server()]);
    (config.timeout, config.connections) = (Duration::from_millis(200), 1);
    let meter = Arc::new(RedisMeter::new(config).unwrap());
    let request = Request::new(free, now()).with_key("k");
    // The opening still waits for a seed when each call gives up; the next call waits for the
    // same opening (or, once it failed, a new one), again for its own time only.
    for _ in 0..4 {
        let started = Instant::now();
        let Err(StoreError::Unreachable(why)) = meter.try_consume(&engine, &request, calls, 1) else { panic!() };
        // That it waited its timeout is what the error says; the clock only guards against a
        // call waiting for the other seeds' timeouts too.
        let took = started.elapsed();
        assert!(took < Duration::from_millis(450), "{took:?}");
        assert!(why.contains("did not answer within 200 ms"), "{why}");
    }

    // Eight callers on one connection: each gives up by its own deadline, waiting for the
    // connection or for its opening, never behind the others' timeouts.
    let start = Arc::new(std::sync::Barrier::new(8));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (engine, meter, start) = (Arc::clone(&engine), Arc::clone(&meter), Arc::clone(&start));
            std::thread::spawn(move || {
                let request = Request::new(free, now()).with_key("k");
                start.wait();
                let started = Instant::now();
                let Err(StoreError::Unreachable(why)) = meter.try_consume(&engine, &request, calls, 1) else {
                    panic!()
                };
                (started.elapsed(), why)
            })
        })
        .collect();
    let answers: Vec<(Duration, String)> = callers.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(
        answers.iter().all(|(took, why)| *took < Duration::from_millis(450) && why.contains("within 200 ms")),
        "{answers:?}"
    );
    // Which of the two waits each caller was in when its time ran out depends on how the
    // threads were scheduled (on a busy machine, every one may still be waiting for the
    // opening), so only the deadline, which holds either way, is asserted.
}
