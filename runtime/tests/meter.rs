//! The in-process meter, snapshots and hot reload.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use entitle::{Engine, FeatureId, Reason, Request, TierId};
use entitle_runtime::meter::{Meter, MeterConfig, MeterError};
use entitle_runtime::reload::Live;
use entitle_runtime::store::{Source, UsageMeter};

const POLICY: &str = r#"policy "meter"
limit calls : count per day
limit monthly : count per month
limit connections : count gauge
limit storage : bytes
tier free {
    limit calls = 50_000
    limit monthly = 100
    limit connections = 2
    limit storage = 1 MiB
}
tier pro extends free { limit calls = 1_000 soft 1_500 }
"#;

/// 2026-11-21T10:00:00Z.
const NOW: i64 = 1_795_255_200;

fn engine() -> Engine {
    Engine::from_source("meter.policy", POLICY).unwrap()
}

#[test]
fn totals_are_exact_and_never_pass_the_cap_under_contention() {
    let engine = Arc::new(engine());
    let meter = Arc::new(Meter::new());
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let allowed_sum = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4u64)
        .map(|thread| {
            let (engine, meter, allowed_sum) = (Arc::clone(&engine), Arc::clone(&meter), Arc::clone(&allowed_sum));
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    // Amounts 1–7 on one key, and the same on a key of the thread's own.
                    let amount = (i * 7 + thread) % 7 + 1;
                    let shared = Request::new(free, NOW).with_key("shared");
                    let consumed = meter.try_consume(&engine, &shared, calls, amount).unwrap();
                    assert_eq!(consumed.recorded, if consumed.quota.allowed { amount } else { 0 });
                    allowed_sum.fetch_add(consumed.recorded, Ordering::Relaxed);
                    let own_key = format!("own-{thread}");
                    let own = Request::new(free, NOW).with_key(&own_key);
                    meter.try_consume(&engine, &own, calls, 1).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let shared = Request::new(free, NOW).with_key("shared");
    let used = meter.used(&engine, &shared, calls);
    assert_eq!(used, allowed_sum.load(Ordering::Relaxed), "recorded equals the sum of what was allowed");
    assert!(used <= 50_000 && used > 50_000 - 7, "the cap was reached, never passed: {used}");
    for thread in 0..4 {
        let key = format!("own-{thread}");
        assert_eq!(meter.used(&engine, &Request::new(free, NOW).with_key(&key), calls), 20_000);
    }
}

#[test]
fn soft_caps_allow_overage_and_denials_record_nothing() {
    let engine = engine();
    let meter = Meter::new();
    let (pro, calls) = (engine.tier("pro").unwrap(), engine.limit("calls").unwrap());
    let request = Request::new(pro, NOW).with_key("k");
    assert_eq!(meter.try_consume(&engine, &request, calls, 1_200).unwrap().quota.reason, Reason::Overage);
    let denied = meter.try_consume(&engine, &request, calls, 301).unwrap();
    assert_eq!((denied.quota.allowed, denied.recorded, denied.used), (false, 0, 1_200));
    assert!(meter.peek(&engine, &request, calls, 300).allowed);
    assert_eq!(meter.used(&engine, &request, calls), 1_200, "peek records nothing");
    assert_eq!(meter.refund(&engine, &request, calls, 5_000), 1_200, "a refund gives back at most what was used");
    assert_eq!(meter.used(&engine, &request, calls), 0);

    // Unknown tiers and limits the tier does not set are the engine's denials, and hold no counter.
    let unknown = Request::new(TierId::from_u32(99), NOW).with_key("k2");
    assert_eq!(meter.try_consume(&engine, &unknown, calls, 1).unwrap().quota.reason, Reason::UnknownTier);
    assert_eq!(meter.counters(), 1);
}

#[test]
fn every_answer_of_the_in_process_meter_comes_from_its_own_store() {
    let engine = engine();
    let meter = Meter::new();
    let (pro, calls, connections) =
        (engine.tier("pro").unwrap(), engine.limit("calls").unwrap(), engine.limit("connections").unwrap());
    let request = Request::new(pro, NOW).with_key("k");
    let unknown = Request::new(TierId::from_u32(99), NOW).with_key("k");
    let answers = [
        meter.try_consume(&engine, &request, calls, 1).unwrap(), // a new counter
        meter.try_consume(&engine, &request, calls, 1_200).unwrap(), // overage
        meter.try_consume(&engine, &request, calls, 1_000).unwrap(), // denied
        meter.try_consume(&engine, &request, connections, 0).unwrap(), // nothing to record
        meter.try_consume(&engine, &unknown, calls, 1).unwrap(), // the engine's denial
        UsageMeter::try_consume(&meter, &engine, &request, calls, 0).unwrap(), // through the trait
    ];
    let reasons: Vec<_> = answers.iter().map(|a| a.quota.reason).collect();
    assert_eq!(
        reasons,
        [
            Reason::WithinLimit,
            Reason::Overage,
            Reason::LimitExceeded,
            Reason::WithinLimit,
            Reason::UnknownTier,
            Reason::Overage
        ]
    );
    assert!(answers.iter().all(|a| a.source == Source::Store && !a.source.is_degraded()), "{answers:?}");
    assert_eq!(Source::Store.to_string(), "store");
}

#[test]
fn windows_reset_when_the_engine_says_including_the_billing_anchor() {
    let engine = engine();
    let meter = Meter::new();
    let (free, monthly) = (engine.tier("free").unwrap(), engine.limit("monthly").unwrap());
    // Anchor day 21: the window containing 2026-11-21T10:00Z starts that midnight.
    let request = Request::new(free, NOW).with_key("k").with_billing_anchor(21);
    let window = meter.try_consume(&engine, &request, monthly, 100).unwrap().quota.window().unwrap();
    assert!(!meter.try_consume(&engine, &request, monthly, 1).unwrap().quota.allowed);
    let last_second = request.at(window.end - 1);
    assert!(!meter.try_consume(&engine, &last_second, monthly, 1).unwrap().quota.allowed);
    let next = request.at(window.end);
    let consumed = meter.try_consume(&engine, &next, monthly, 1).unwrap();
    assert_eq!((consumed.quota.allowed, consumed.used), (true, 1));
    // A straggler from the old window counts against the live one, never refilling the old.
    assert_eq!(meter.try_consume(&engine, &last_second, monthly, 1).unwrap().used, 2);
}

#[test]
fn gauges_release_on_drop() {
    let engine = engine();
    let meter = Meter::new();
    let (free, connections) = (engine.tier("free").unwrap(), engine.limit("connections").unwrap());
    let request = Request::new(free, NOW).with_key("k");
    let first = meter.acquire(&engine, &request, connections, 1).unwrap().unwrap();
    let second = meter.acquire(&engine, &request, connections, 1).unwrap().unwrap();
    let refused = meter.acquire(&engine, &request, connections, 1).unwrap().unwrap_err();
    assert_eq!(refused.reason, Reason::LimitExceeded);
    drop(first);
    assert_eq!(meter.used(&engine, &request, connections), 1);
    let third = meter.acquire(&engine, &request, connections, 1).unwrap();
    assert!(third.is_ok());
    drop((second, third));
    assert_eq!(meter.used(&engine, &request, connections), 0);
}

#[test]
fn the_counter_cap_refuses_new_keys_until_windows_expire() {
    let engine = engine();
    let mut config = MeterConfig::default();
    config.max_counters = 3;
    let meter = Meter::with_config(config);
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    for key in ["a", "b", "c"] {
        meter.try_consume(&engine, &Request::new(free, NOW).with_key(key), calls, 1).unwrap();
    }
    let fourth = meter.try_consume(&engine, &Request::new(free, NOW).with_key("d"), calls, 1);
    assert_eq!(fourth.unwrap_err(), MeterError::AtCapacity { max: 3 });
    // Known keys still count; nothing counted was forgotten to make room.
    assert_eq!(meter.try_consume(&engine, &Request::new(free, NOW).with_key("a"), calls, 1).unwrap().used, 2);
    // A day later the windows have ended: they are swept, and new keys fit.
    let tomorrow = NOW + 86_400;
    assert_eq!(meter.sweep(tomorrow), 3);
    assert!(meter.try_consume(&engine, &Request::new(free, tomorrow).with_key("d"), calls, 1).is_ok());
}

#[test]
fn snapshots_restore_exactly_and_bad_ones_leave_the_meter_alone() {
    let engine = engine();
    let meter = Meter::new();
    let (free, calls, storage) =
        (engine.tier("free").unwrap(), engine.limit("calls").unwrap(), engine.limit("storage").unwrap());
    for (i, key) in ["a", "b\nwith \"quotes\"", "ü"].iter().enumerate() {
        let request = Request::new(free, NOW).with_key(key);
        meter.try_consume(&engine, &request, calls, 10 + i as u64).unwrap();
        meter.try_consume(&engine, &request, storage, 1_000).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("entitle-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("meter.snapshot");
    assert_eq!(meter.snapshot_to(&path).unwrap(), 6);

    let restored = Meter::new();
    assert_eq!(restored.restore_from(&path).unwrap(), 6);
    for (i, key) in ["a", "b\nwith \"quotes\"", "ü"].iter().enumerate() {
        let request = Request::new(free, NOW).with_key(key);
        assert_eq!(restored.used(&engine, &request, calls), 10 + i as u64);
        assert_eq!(restored.used(&engine, &request, storage), 1_000);
    }

    let text = std::fs::read_to_string(&path).unwrap();
    let bad = [
        ("truncated", text[..text.len() - 10].to_string()),
        ("altered", text.replace("\"used\":1000", "\"used\":1")),
        ("foreign", "{\"format\":\"something-else\"}\n".to_string()),
        ("empty", String::new()),
    ];
    for (what, content) in bad {
        std::fs::write(&path, content).unwrap();
        let error = restored.restore_from(&path).unwrap_err();
        assert!(error.to_string().contains("not a usable meter snapshot"), "{what}: {error}");
        assert_eq!(restored.used(&engine, &Request::new(free, NOW).with_key("a"), calls), 10, "{what}");
    }
    assert!(restored.restore_from(dir.join("missing")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two policies that number `hd_video` differently: an id from one applied to the other
/// would ask about another feature, which `pro` is not granted.
const V1: &str = "policy \"p\"\nfeature hd_video\nfeature sso\ntier pro { grant hd_video }\n";
const V2: &str = "policy \"p\"\nfeature sso\nfeature audit\nfeature hd_video\ntier pro { grant hd_video }\n";

#[derive(Debug)]
struct Ids {
    pro: TierId,
    hd_video: FeatureId,
}

#[test]
fn readers_never_see_ids_of_another_engine_while_policies_reload() {
    let resolve = |engine: &Engine| -> Result<Ids, String> {
        Ok(Ids {
            pro: engine.tier("pro").ok_or("no tier `pro`")?,
            hd_video: engine.feature("hd_video").ok_or("no feature `hd_video`")?,
        })
    };
    let live = Arc::new(Live::new(Engine::from_source("v1", V1).unwrap(), resolve).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (live, stop) = (Arc::clone(&live), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut reads = 0u64;
                let mut generations = std::collections::BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let current = live.load();
                    let request = Request::new(current.ids.pro, NOW);
                    assert!(current.engine.is_allowed(&request, current.ids.hd_video), "ids from another engine");
                    assert_eq!(current.engine.feature_name(current.ids.hd_video), Some("hd_video"));
                    generations.insert(current.generation);
                    reads += 1;
                }
                (reads, generations.len())
            })
        })
        .collect();
    let mut last = 0;
    for round in 0..300 {
        let text = if round % 2 == 0 { V2 } else { V1 };
        last = live.reload_source("next", text).unwrap().generation;
        // A policy with errors, and one without what the service resolves, are refused.
        assert!(live.reload_source("bad", "policy \"p\"\ntier pro { grant nope }\n").is_err());
        assert!(live.reload_source("lacking", "policy \"p\"\ntier pro { }\n").is_err());
        assert_eq!(live.load().generation, last);
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let (reads, generations) = reader.join().unwrap();
        assert!(reads > 0 && generations >= 1);
    }
    assert_eq!(last, 300);
}

#[test]
fn a_watched_file_reloads_when_it_changes_and_a_bad_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("entitle-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.policy");
    std::fs::write(&path, V1).unwrap();
    let live = Arc::new(Live::new(Engine::from_path(&path).unwrap(), |e: &Engine| Ok(e.policy_hash())).unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    let watcher = live.watch(&path, std::time::Duration::from_millis(20), move |outcome| {
        let _ = sender.send(outcome.map(|r| r.generation).map_err(|e| e.to_string()));
    });
    let wait = || receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("the watcher reports");
    // Modification times can be coarse: move the clock forward explicitly.
    let bump = |text: &str, seconds: u64| {
        entitle::write_file_atomically(&path, text.as_bytes()).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(seconds)).unwrap();
    };
    bump(V2, 10);
    assert_eq!(wait(), Ok(1));
    assert_eq!(live.load().ids, entitle::PolicyHash::of(V2.as_bytes()));
    bump("policy \"p\"\ntier pro { grant nope }\n", 20);
    assert!(wait().unwrap_err().contains("E004"));
    assert_eq!(live.load().generation, 1, "the old engine keeps serving");
    drop(watcher);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_atomic_replace_is_seen_even_with_the_same_time_and_length() {
    let dir = std::env::temp_dir().join(format!("entitle-watch-same-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.policy");
    let (first, second) =
        ("policy \"p\"\nfeature aa\ntier pro { grant aa }\n", "policy \"p\"\nfeature bb\ntier pro { grant bb }\n");
    assert_eq!(first.len(), second.len());
    std::fs::write(&path, first).unwrap();
    let stamp = std::fs::metadata(&path).unwrap().modified().unwrap();
    let live = Arc::new(Live::new(Engine::from_path(&path).unwrap(), |e: &Engine| Ok(e.policy_hash())).unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    let watcher = live.watch(&path, std::time::Duration::from_millis(20), move |outcome| {
        let _ = sender.send(outcome.map(|r| r.generation).map_err(|e| e.to_string()));
    });
    // A file system that keeps times to the second would give the new file the old one's
    // time; only the rename (a new inode) tells them apart.
    entitle::write_file_atomically(&path, second.as_bytes()).unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(stamp).unwrap();
    assert_eq!(receiver.recv_timeout(std::time::Duration::from_secs(10)), Ok(Ok(1)));
    assert_eq!(live.load().ids, entitle::PolicyHash::of(second.as_bytes()));
    drop(watcher);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_carries_over_a_reload_that_changes_a_limits_window() {
    let daily = "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 100 }\n";
    let monthly = "policy \"p\"\nlimit calls : count per month\ntier free { limit calls = 100 }\n";
    let (day, month) = (Engine::from_source("d", daily).unwrap(), Engine::from_source("m", monthly).unwrap());
    let meter = Meter::new();
    let request = |engine: &Engine, now: i64| Request::new(engine.tier("free").unwrap(), now).with_key("k");
    let calls = |engine: &Engine| engine.limit("calls").unwrap();
    assert_eq!(meter.try_consume(&day, &request(&day, NOW), calls(&day), 90).unwrap().recorded, 90);

    // `per day` becomes `per month`: the day's 90 count against the month.
    assert_eq!(meter.used(&month, &request(&month, NOW), calls(&month)), 90);
    assert_eq!(meter.try_consume(&month, &request(&month, NOW), calls(&month), 5).unwrap().used, 95);
    // The day the counter was made in ends; the month it now belongs to does not.
    let tomorrow = NOW + 86_400;
    assert_eq!(meter.sweep(tomorrow), 0);
    let next_day = meter.try_consume(&month, &request(&month, tomorrow), calls(&month), 10).unwrap();
    assert_eq!((next_day.quota.allowed, next_day.used), (false, 95));

    // And back: the month's usage so far counts against today, the stricter reading.
    assert_eq!(meter.try_consume(&day, &request(&day, tomorrow), calls(&day), 1).unwrap().used, 96);
    assert_eq!(meter.used(&day, &request(&day, tomorrow + 86_400), calls(&day)), 0, "the next day starts at 0");
}

#[test]
fn a_request_stamped_in_the_future_cannot_sweep_live_counters_to_make_room() {
    let engine = engine();
    let mut config = MeterConfig::default();
    (config.max_counters, config.shards) = (2, 1);
    let meter = Meter::with_config(config);
    let (free, monthly) = (engine.tier("free").unwrap(), engine.limit("monthly").unwrap());
    // Stamps on the real clock: the counters' month has not ended in real time.
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let now = i64::try_from(real).unwrap();
    let at_limit = Request::new(free, now).with_key("a");
    assert!(meter.try_consume(&engine, &at_limit, monthly, 100).unwrap().quota.allowed);
    assert!(meter.try_consume(&engine, &Request::new(free, now).with_key("b"), monthly, 1).unwrap().quota.allowed);

    // A new subject stamped 40 days ahead, past the end of the counters' month.
    let ahead = Request::new(free, now + 40 * 86_400).with_key("c");
    assert_eq!(meter.try_consume(&engine, &ahead, monthly, 1).unwrap_err(), MeterError::AtCapacity { max: 2 });
    assert_eq!(meter.counters(), 2);
    let again = meter.try_consume(&engine, &at_limit, monthly, 1).unwrap();
    assert_eq!((again.quota.allowed, again.used), (false, 100), "the subject at its limit stays there");
}

#[test]
fn threads_snapshotting_to_one_path_never_trip_over_each_other() {
    let engine = engine();
    let meter = Arc::new(Meter::new());
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    meter.try_consume(&engine, &Request::new(free, NOW).with_key("a"), calls, 3).unwrap();
    let dir = std::env::temp_dir().join(format!("entitle-snapshot-race-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("meter.snapshot");
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (meter, path) = (Arc::clone(&meter), path.clone());
            std::thread::spawn(move || (0..300).filter(|_| meter.snapshot_to(&path).is_err()).count())
        })
        .collect();
    let failed: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(failed, 0, "every snapshot was written");
    assert_eq!(Meter::new().restore_from(&path).unwrap(), 1);
    let leftovers = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn restoring_from_a_fifo_is_refused_instead_of_blocking() {
    let dir = std::env::temp_dir().join(format!("entitle-snapshot-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("meter.snapshot");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (sender, receiver) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = sender.send(Meter::new().restore_from(&path).map_err(|e| e.to_string()));
    });
    // Only a guard against a hang: a refusal takes no time at all.
    let outcome = receiver.recv_timeout(std::time::Duration::from_secs(10));
    if outcome.is_err() {
        // Unblock the reader so the test process can end.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
    }
    let error = outcome.expect("restore_from returns").unwrap_err();
    assert!(error.contains("not a regular file"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_watch_sees_a_change_made_before_it_started_and_reports_a_deleted_file() {
    let dir = std::env::temp_dir().join(format!("entitle-watch-early-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.policy");
    std::fs::write(&path, V1).unwrap();
    let live = Arc::new(Live::new(Engine::from_path(&path).unwrap(), |e: &Engine| Ok(e.policy_hash())).unwrap());
    // Changed after the engine was loaded, before the watch began.
    entitle::write_file_atomically(&path, V2.as_bytes()).unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    let watcher = live.watch(&path, std::time::Duration::from_millis(20), move |outcome| {
        let _ = sender.send(outcome.map(|r| r.generation).map_err(|e| e.to_string()));
    });
    let wait = || receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("the watcher reports");
    assert_eq!(wait(), Ok(1));
    assert_eq!(live.load().ids, entitle::PolicyHash::of(V2.as_bytes()));

    std::fs::remove_file(&path).unwrap();
    let gone = wait().unwrap_err();
    assert!(gone.contains("p.policy"), "{gone}");
    assert_eq!(live.load().generation, 1, "the engine in service keeps serving");
    entitle::write_file_atomically(&path, V1.as_bytes()).unwrap();
    assert_eq!(wait(), Ok(2), "a file that comes back is loaded");
    drop(watcher);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A request against several limits records every amount or none: under contention, the daily
/// counter of a batch that a monthly cap of 100 ends holds exactly what the monthly one does.
#[test]
fn a_batch_records_all_or_nothing_under_contention() {
    let engine = Arc::new(engine());
    let meter = Arc::new(Meter::new());
    let free = engine.tier("free").unwrap();
    let (calls, monthly) = (engine.limit("calls").unwrap(), engine.limit("monthly").unwrap());
    let recorded = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (engine, meter, recorded) = (Arc::clone(&engine), Arc::clone(&meter), Arc::clone(&recorded));
            std::thread::spawn(move || {
                let mut out = [entitle::Quota::default(); 2];
                for _ in 0..200 {
                    let request = Request::new(free, NOW).with_key("shared");
                    let batch =
                        meter.try_consume_all(&engine, &request, &[(calls, 1), (monthly, 1)], &mut out).unwrap();
                    assert_eq!(batch.recorded, batch.answers.iter().all(|q| q.allowed));
                    if batch.recorded {
                        recorded.fetch_add(1, Ordering::Relaxed);
                    } else {
                        // The daily cap of 50_000 has room: the monthly one denies, and binds.
                        assert_eq!(batch.binding, Some(1));
                        assert_eq!(batch.binding_answer().unwrap().reason, Reason::LimitExceeded);
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let request = Request::new(free, NOW).with_key("shared");
    assert_eq!(recorded.load(Ordering::Relaxed), 100);
    assert_eq!(meter.used(&engine, &request, monthly), 100);
    assert_eq!(meter.used(&engine, &request, calls), 100, "no daily count without its monthly one");
}

/// A limit given twice sees the amount given for it before; a refused batch records nothing,
/// not even the limits that allowed it.
#[test]
fn a_batch_adds_up_a_limit_given_twice_and_a_refusal_records_nothing() {
    let engine = engine();
    let meter = Meter::new();
    let free = engine.tier("free").unwrap();
    let (calls, monthly) = (engine.limit("calls").unwrap(), engine.limit("monthly").unwrap());
    let request = Request::new(free, NOW).with_key("k");
    let mut out = [entitle::Quota::default(); 3];
    let batch =
        meter.try_consume_all(&engine, &request, &[(calls, 5), (monthly, 60), (monthly, 60)], &mut out).unwrap();
    assert!(!batch.recorded);
    assert_eq!(batch.answers.iter().map(|q| q.allowed).collect::<Vec<_>>(), [true, true, false]);
    assert_eq!(batch.binding, Some(2));
    assert_eq!((meter.used(&engine, &request, calls), meter.used(&engine, &request, monthly)), (0, 0));
    assert_eq!(meter.counters(), 0, "a refused batch makes no counter");
    let batch =
        meter.try_consume_all(&engine, &request, &[(monthly, 50), (calls, 5), (monthly, 50)], &mut out).unwrap();
    assert!(batch.recorded);
    assert_eq!((meter.used(&engine, &request, calls), meter.used(&engine, &request, monthly)), (5, 100));
    assert_eq!(meter.counters(), 2, "one counter per limit, however often it is given");
    // A limit of no engine denies the batch, and binds.
    let foreign = entitle::LimitId::from_u32(99);
    let batch = meter.try_consume_all(&engine, &request, &[(calls, 1), (foreign, 1)], &mut out).unwrap();
    assert!(!batch.recorded);
    assert_eq!(batch.binding_answer().unwrap().reason, Reason::UnknownLimit);
    assert_eq!(meter.used(&engine, &request, calls), 5);
    // No limits: nothing to refuse, nothing recorded.
    let batch = meter.try_consume_all(&engine, &request, &[], &mut []).unwrap();
    assert!(batch.recorded && batch.binding.is_none());
}

/// A batch that cannot make every counter it needs is refused whole, before anything is
/// recorded; so is one with too short a buffer.
#[test]
fn a_batch_the_meter_cannot_hold_whole_records_nothing() {
    let engine = engine();
    let mut config = MeterConfig::default();
    config.max_counters = 2;
    config.max_key_bytes = 8;
    let meter = Meter::with_config(config);
    let free = engine.tier("free").unwrap();
    let (calls, monthly, storage) =
        (engine.limit("calls").unwrap(), engine.limit("monthly").unwrap(), engine.limit("storage").unwrap());
    let request = Request::new(free, NOW).with_key("k");
    let mut out = [entitle::Quota::default(); 3];
    let three = [(calls, 1), (monthly, 1), (storage, 1)];
    assert_eq!(
        meter.try_consume_all(&engine, &request, &three, &mut out).unwrap_err(),
        MeterError::AtCapacity { max: 2 }
    );
    assert_eq!(meter.counters(), 0);
    assert_eq!(meter.used(&engine, &request, calls), 0);
    // Two fit, and then a batch needing a third is refused without touching the two.
    assert!(meter.try_consume_all(&engine, &request, &three[..2], &mut out).unwrap().recorded);
    assert!(meter.try_consume_all(&engine, &request, &three, &mut out).is_err());
    assert_eq!((meter.used(&engine, &request, calls), meter.used(&engine, &request, monthly)), (1, 1));
    let long = Request::new(free, NOW).with_key("a-key-too-long");
    assert_eq!(
        meter.try_consume_all(&engine, &long, &three[..1], &mut out).unwrap_err(),
        MeterError::KeyTooLong { len: 14, max: 8 }
    );
    assert_eq!(
        meter.try_consume_all(&engine, &request, &three, &mut out[..2]).unwrap_err(),
        MeterError::BufferTooSmall { needed: 3, capacity: 2 }
    );
    assert_eq!(meter.counters(), 2);
}
