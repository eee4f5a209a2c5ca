//! Reservations on the in-process meter: holds counted by every caller, commits and releases
//! applied once, expiry, windows, snapshots, and thousands of holds on one key at once.
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

use entitle::{Engine, LimitId, Reason, Request, TierId};
use entitle_runtime::meter::{Meter, MeterConfig, Reservation, ReservationError};

const POLICY: &str = r#"policy "holds"
limit credits : count per month
limit calls : count per day
limit sessions : count gauge
limit tokens : count per month
tier free {
    limit tokens = 10_000
    limit credits = 100
    limit calls = 1_000 soft 1_200
    limit sessions = 3
}
"#;

/// 2026-11-21T10:00:00Z: in the past of any machine that runs this, so the meter's sweep clock
/// (the earlier of a request's `now` and the system's) is the request's.
const NOW: i64 = 1_795_255_200;
const MINUTE: Duration = Duration::from_secs(60);

struct Setup {
    engine: Engine,
    free: TierId,
    credits: LimitId,
    calls: LimitId,
    sessions: LimitId,
    tokens: LimitId,
}

fn setup() -> Setup {
    let engine = Engine::from_source("holds.policy", POLICY).unwrap();
    let (free, credits) = (engine.tier("free").unwrap(), engine.limit("credits").unwrap());
    let (calls, sessions) = (engine.limit("calls").unwrap(), engine.limit("sessions").unwrap());
    let tokens = engine.limit("tokens").unwrap();
    Setup { engine, free, credits, calls, sessions, tokens }
}

fn config(change: impl FnOnce(&mut MeterConfig)) -> MeterConfig {
    let mut config = MeterConfig::default();
    change(&mut config);
    config
}

fn hold(meter: &Meter, s: &Setup, request: &Request<'_>, limit: LimitId, amount: u64) -> Reservation {
    let reserved = meter.reserve(&s.engine, request, limit, amount, MINUTE).unwrap();
    assert!(reserved.quota.allowed, "{reserved:?}");
    reserved.reservation.unwrap()
}

#[test]
fn a_hold_counts_for_everyone_and_a_commit_records_what_was_used() {
    let (s, meter) = (setup(), Meter::new());
    let request = Request::new(s.free, NOW).with_key("acme");
    let job = hold(&meter, &s, &request, s.credits, 70);
    assert_eq!((meter.held(&s.engine, &request, s.credits), meter.used(&s.engine, &request, s.credits)), (70, 0));
    // 30 are left for everyone else while the job holds 70.
    assert!(!meter.try_consume(&s.engine, &request, s.credits, 31).unwrap().quota.allowed);
    assert!(!meter.peek(&s.engine, &request, s.credits, 31).allowed);
    assert!(meter.try_consume(&s.engine, &request, s.credits, 30).unwrap().quota.allowed);
    // A second hold that passes what remains is denied and holds nothing.
    let denied = meter.reserve(&s.engine, &request, s.credits, 1, MINUTE).unwrap();
    assert_eq!((denied.quota.allowed, denied.quota.reason, denied.reservation), (false, Reason::LimitExceeded, None));
    assert_eq!(meter.held(&s.engine, &request, s.credits), 70);

    let done = meter.commit(&s.engine, &request, &job, 45).unwrap();
    assert_eq!((done.recorded, done.unrecorded, done.repeated), (45, 0, false));
    assert_eq!((meter.held(&s.engine, &request, s.credits), meter.used(&s.engine, &request, s.credits)), (0, 75));
    // The 25 the job did not use are free again.
    assert!(meter.try_consume(&s.engine, &request, s.credits, 25).unwrap().quota.allowed);
}

#[test]
fn a_commit_past_the_hold_records_only_what_fits_under_the_ceiling() {
    let (s, meter) = (setup(), Meter::new());
    let request = Request::new(s.free, NOW).with_key("acme");
    let job = hold(&meter, &s, &request, s.credits, 40);
    meter.try_consume(&s.engine, &request, s.credits, 50).unwrap();
    // The job used 55: its 40, and 15 more of which only 10 fit under 100.
    let done = meter.commit(&s.engine, &request, &job, 55).unwrap();
    assert_eq!((done.recorded, done.unrecorded), (50, 5));
    assert_eq!(meter.used(&s.engine, &request, s.credits), 100);

    // On a soft cap the excess fits up to the soft cap, not the limit.
    let job = hold(&meter, &s, &request, s.calls, 900);
    let done = meter.commit(&s.engine, &request, &job, 1_500).unwrap();
    assert_eq!((done.recorded, done.unrecorded), (1_200, 300));
    assert_eq!(meter.used(&s.engine, &request, s.calls), 1_200);
}

#[test]
fn commits_and_releases_apply_once() {
    let (s, meter) = (setup(), Meter::new());
    let request = Request::new(s.free, NOW).with_key("acme");
    let job = hold(&meter, &s, &request, s.credits, 30);
    let first = meter.commit(&s.engine, &request, &job, 20).unwrap();
    let again = meter.commit(&s.engine, &request, &job, 25).unwrap();
    assert_eq!((again.recorded, again.unrecorded, again.repeated), (first.recorded, first.unrecorded, true));
    assert_eq!(meter.used(&s.engine, &request, s.credits), 20);
    let error = meter.release(&s.engine, &request, &job).unwrap_err();
    assert_eq!(error, ReservationError::Settled { id: job.id(), how: "committed" });
    assert_eq!(meter.used(&s.engine, &request, s.credits), 20);

    let other = hold(&meter, &s, &request, s.credits, 30);
    let freed = meter.release(&s.engine, &request, &other).unwrap();
    assert_eq!((freed.freed, freed.repeated), (30, false));
    assert!(meter.release(&s.engine, &request, &other).unwrap().repeated);
    let error = meter.commit(&s.engine, &request, &other, 5).unwrap_err();
    assert!(error.to_string().contains("was released already"), "{error}");
    assert_eq!((meter.used(&s.engine, &request, s.credits), meter.held(&s.engine, &request, s.credits)), (20, 0));
}

#[test]
fn a_hold_frees_itself_when_it_expires_and_a_late_commit_fits_like_any_use() {
    let (s, meter) = (setup(), Meter::new());
    let request = Request::new(s.free, NOW).with_key("acme");
    let job = hold(&meter, &s, &request, s.credits, 90);
    assert_eq!(job.expires_at(), NOW + 60);
    let before = request.at(NOW + 59);
    assert!(!meter.try_consume(&s.engine, &before, s.credits, 11).unwrap().quota.allowed);
    // At its expiry, the first second it no longer counts, the 90 are free.
    let after = request.at(NOW + 60);
    assert_eq!(meter.held(&s.engine, &after, s.credits), 0);
    assert!(meter.try_consume(&s.engine, &after, s.credits, 80).unwrap().quota.allowed);
    // The crashed job comes back: its 50 are checked as any use would be, 20 fit.
    let late = meter.commit(&s.engine, &after, &job, 50).unwrap();
    assert_eq!((late.recorded, late.unrecorded), (20, 30));
    assert_eq!(meter.used(&s.engine, &after, s.credits), 100);
    // A release after expiry frees nothing; the expired hold is remembered as released.
    let other = hold(&meter, &s, &Request::new(s.free, NOW).with_key("b"), s.credits, 5);
    assert_eq!(meter.release(&s.engine, &Request::new(s.free, NOW + 61).with_key("b"), &other).unwrap().freed, 0);
}

#[test]
fn a_settled_hold_is_forgotten_after_the_configured_time() {
    let s = setup();
    let meter = Meter::with_config(config(|c| c.remember_seconds = 100));
    let request = Request::new(s.free, NOW).with_key("acme");
    let job = hold(&meter, &s, &request, s.credits, 10);
    meter.commit(&s.engine, &request, &job, 10).unwrap();
    // Remembered until 100 s after it was settled (not after its expiry, NOW + 60).
    assert!(meter.commit(&s.engine, &request.at(NOW + 99), &job, 10).unwrap().repeated);
    let error = meter.commit(&s.engine, &request.at(NOW + 100), &job, 10).unwrap_err();
    assert_eq!(error, ReservationError::Unknown { id: job.id() });
    assert_eq!(meter.used(&s.engine, &request, s.credits), 10);
}

#[test]
fn a_hold_ends_with_its_window() {
    let (s, meter) = (setup(), Meter::new());
    let request = Request::new(s.free, NOW).with_key("acme");
    // A day-long hold of today's calls; tomorrow is a new window that it does not take from.
    let job = meter.reserve(&s.engine, &request, s.calls, 1_000, Duration::from_secs(2 * 86_400)).unwrap();
    let job = job.reservation.unwrap();
    let tomorrow = request.at(NOW + 86_400);
    assert!(meter.try_consume(&s.engine, &tomorrow, s.calls, 1_000).unwrap().quota.allowed);
    assert_eq!(meter.held(&s.engine, &tomorrow, s.calls), 0);
    // Its commit tomorrow counts in tomorrow's window, as far as the soft cap allows.
    let done = meter.commit(&s.engine, &tomorrow, &job, 300).unwrap();
    assert_eq!((done.recorded, done.unrecorded), (200, 100));
}

#[test]
fn gauges_hold_and_commit_levels_too() {
    let (s, meter) = (setup(), Meter::new());
    let request = Request::new(s.free, NOW).with_key("acme");
    let job = hold(&meter, &s, &request, s.sessions, 2);
    assert!(meter.acquire(&s.engine, &request, s.sessions, 2).unwrap().is_err());
    let guard = meter.acquire(&s.engine, &request, s.sessions, 1).unwrap().unwrap();
    assert_eq!(meter.commit(&s.engine, &request, &job, 1).unwrap().recorded, 1);
    assert_eq!(meter.used(&s.engine, &request, s.sessions), 2);
    drop(guard);
    assert_eq!(meter.used(&s.engine, &request, s.sessions), 1);
}

#[test]
fn bad_calls_are_refused_and_change_nothing() {
    let s = setup();
    let meter = Meter::with_config(config(|c| (c.max_holds, c.max_hold_seconds) = (2, 3_600)));
    let request = Request::new(s.free, NOW).with_key("acme");
    for lifetime in [Duration::ZERO, Duration::from_secs(3_601)] {
        let error = meter.reserve(&s.engine, &request, s.credits, 1, lifetime).unwrap_err();
        assert!(matches!(error, ReservationError::Lifetime { max: 3_600, .. }), "{error}");
    }
    // A part of a second rounds up.
    let error = meter.reserve(&s.engine, &request, s.credits, 1, Duration::from_millis(3_600_001)).unwrap_err();
    assert_eq!(error, ReservationError::Lifetime { seconds: 3_601, max: 3_600 });

    let job = hold(&meter, &s, &request, s.credits, 1);
    hold(&meter, &s, &Request::new(s.free, NOW).with_key("other"), s.credits, 1);
    let full = meter.reserve(&s.engine, &request, s.credits, 1, MINUTE).unwrap_err();
    assert_eq!(full, ReservationError::AtCapacity { max: 2 });
    assert_eq!(meter.counters(), 2, "a refused hold makes no counter");

    // Another subject's request, or an engine without the limit, cannot settle it.
    let stranger = Request::new(s.free, NOW).with_key("stranger");
    let error = meter.commit(&s.engine, &stranger, &job, 1).unwrap_err();
    assert!(matches!(error, ReservationError::Foreign { .. }), "{error}");
    let renamed =
        Engine::from_source("p", "policy \"p\"\nlimit tokens : count per month\ntier free { limit tokens = 9 }\n")
            .unwrap();
    let other_request = Request::new(renamed.tier("free").unwrap(), NOW).with_key("acme");
    assert!(matches!(meter.release(&renamed, &other_request, &job), Err(ReservationError::Foreign { .. })));
    // A reservation of another meter is unknown here.
    let elsewhere = hold(&Meter::new(), &s, &request, s.credits, 1);
    assert!(matches!(meter.commit(&s.engine, &request, &elsewhere, 1), Err(ReservationError::Unknown { .. })));
    assert_eq!((meter.used(&s.engine, &request, s.credits), meter.held(&s.engine, &request, s.credits)), (0, 1));
}

#[test]
fn holds_survive_a_snapshot_and_a_commit_after_it_applies_once() {
    let (s, meter) = (setup(), Meter::new());
    let request = Request::new(s.free, NOW).with_key("acme");
    let live = hold(&meter, &s, &request, s.credits, 30);
    let committed = hold(&meter, &s, &request, s.credits, 20);
    meter.commit(&s.engine, &request, &committed, 15).unwrap();
    let released = hold(&meter, &s, &request, s.credits, 5);
    meter.release(&s.engine, &request, &released).unwrap();

    let dir = std::env::temp_dir().join(format!("entitle-holds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("meter.snapshot");
    meter.snapshot_to(&path).unwrap();
    let restored = Meter::new();
    assert_eq!(restored.restore_from(&path).unwrap(), 1);
    assert_eq!(restored.held(&s.engine, &request, s.credits), 30);
    assert_eq!(restored.used(&s.engine, &request, s.credits), 15);
    assert!(restored.commit(&s.engine, &request, &committed, 15).unwrap().repeated);
    assert!(restored.release(&s.engine, &request, &released).unwrap().repeated);
    assert_eq!(restored.commit(&s.engine, &request, &live, 30).unwrap().recorded, 30);
    // New holds after a restore never reuse an id of the snapshot.
    let next = hold(&restored, &s, &request, s.credits, 1);
    assert!(next.id() > live.id().max(committed.id()).max(released.id()), "{next:?}");

    // A snapshot that holds one reservation twice, or a hold of an unknown state, is refused.
    let text = std::fs::read_to_string(&path).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let twice = body.replace(&format!("\"id\":{}", committed.id()), &format!("\"id\":{}", live.id()));
    let odd = body.replace("\"state\":\"live\"", "\"state\":\"floating\"");
    for (what, body, says) in [("twice", twice, "a second time"), ("odd", odd, "line 2 is not a counter")] {
        let hash = entitle::PolicyHash::of(body.as_bytes()).to_string();
        let header =
            header.replace(&entitle::PolicyHash::of(text.split_once('\n').unwrap().1.as_bytes()).to_string(), &hash);
        std::fs::write(&path, format!("{header}\n{body}")).unwrap();
        let error = restored.restore_from(&path).unwrap_err().to_string();
        assert!(error.contains(says), "{what}: {error}");
    }
    // Version 1, which had no holds, is still read.
    let v1 = "{\"subject\":\"old\",\"limit\":\"credits\",\"window\":null,\"used\":3}\n";
    let header = format!(
        "{{\"format\":\"entitle-meter-snapshot\",\"version\":1,\"counters\":1,\"sha256\":\"{}\"}}",
        entitle::PolicyHash::of(v1.as_bytes())
    );
    std::fs::write(&path, format!("{header}\n{v1}")).unwrap();
    assert_eq!(restored.restore_from(&path).unwrap(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_keeps_a_counter_while_it_remembers_a_hold() {
    let s = setup();
    let meter = Meter::with_config(config(|c| c.remember_seconds = 10));
    let request = Request::new(s.free, NOW).with_key("acme");
    let job = hold(&meter, &s, &request, s.sessions, 1);
    meter.release(&s.engine, &request, &job).unwrap();
    // The gauge is back at 0, but the release is remembered until NOW + 10.
    assert_eq!(meter.sweep(NOW + 9), 0);
    assert!(meter.release(&s.engine, &request, &job).unwrap().repeated);
    assert_eq!(meter.sweep(NOW + 10), 1);
    assert_eq!(meter.counters(), 0);
    assert!(matches!(meter.release(&s.engine, &request, &job), Err(ReservationError::Unknown { .. })));
}

#[test]
fn thousands_of_holds_on_one_key_never_pass_the_limit_and_settle_exactly() {
    let s = Arc::new(setup());
    let meter = Arc::new(Meter::new());
    let limit = 10_000u64;
    let recorded = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..8u64)
        .map(|thread| {
            let (s, meter, recorded) = (Arc::clone(&s), Arc::clone(&meter), Arc::clone(&recorded));
            std::thread::spawn(move || {
                let request = Request::new(s.free, NOW).with_key("shared");
                let mut open = Vec::new();
                for i in 0..2_000u64 {
                    // Hold 1–3, and settle the older holds in turn: commit less, the same or
                    // more than held, release, or commit twice.
                    let estimate = (i + thread) % 3 + 1;
                    if let Some(job) =
                        meter.reserve(&s.engine, &request, s.tokens, estimate, MINUTE).unwrap().reservation
                    {
                        open.push(job);
                    }
                    if open.len() > 16 || (i % 5 == 0 && !open.is_empty()) {
                        let job = open.remove(0);
                        match i % 4 {
                            0 => drop(meter.release(&s.engine, &request, &job).unwrap()),
                            1 => {
                                let first = meter.commit(&s.engine, &request, &job, job.amount() + 1).unwrap();
                                let again = meter.commit(&s.engine, &request, &job, job.amount() + 1).unwrap();
                                assert!(again.repeated && again.recorded == first.recorded);
                                recorded.fetch_add(first.recorded, Ordering::Relaxed);
                            }
                            _ => {
                                let done = meter.commit(&s.engine, &request, &job, job.amount() / 2).unwrap();
                                recorded.fetch_add(done.recorded, Ordering::Relaxed);
                            }
                        }
                    }
                    let taken = meter.used(&s.engine, &request, s.tokens) + meter.held(&s.engine, &request, s.tokens);
                    assert!(taken <= limit, "{taken}");
                }
                for job in open {
                    meter.release(&s.engine, &request, &job).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let request = Request::new(s.free, NOW).with_key("shared");
    assert_eq!(meter.held(&s.engine, &request, s.tokens), 0);
    let used = meter.used(&s.engine, &request, s.tokens);
    assert_eq!(used, recorded.load(Ordering::Relaxed));
    assert!(used <= limit);
}

#[test]
fn a_restarted_meter_never_gives_a_lost_holds_id_again() {
    let (s, meter) = (setup(), Meter::new());
    let request = Request::new(s.free, NOW).with_key("acme");
    hold(&meter, &s, &request, s.credits, 10);
    let dir = std::env::temp_dir().join(format!("entitle-lost-holds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("meter.snapshot");
    meter.snapshot_to(&path).unwrap();
    // Made after the snapshot, and lost with the meter when it stops.
    let lost = hold(&meter, &s, &request, s.credits, 20);
    for _ in 0..50 {
        let restarted = Meter::new();
        restarted.restore_from(&path).unwrap();
        let fresh = hold(&restarted, &s, &request, s.credits, 20);
        assert_ne!(fresh.id(), lost.id());
        // The lost job's commit settles nothing of the new one.
        assert!(matches!(restarted.commit(&s.engine, &request, &lost, 1), Err(ReservationError::Unknown { .. })));
        assert_eq!(restarted.held(&s.engine, &request, s.credits), 30);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn holds_of_nothing_and_holds_stamped_ahead_are_refused_or_bounded() {
    let s = setup();
    let meter = Meter::with_config(config(|c| c.max_hold_seconds = 60));
    let request = Request::new(s.free, NOW).with_key("acme");
    assert_eq!(meter.reserve(&s.engine, &request, s.credits, 0, MINUTE).unwrap_err(), ReservationError::Empty);
    // A request a year ahead of the system clock: its hold still lasts a minute of that clock.
    let ahead = request.at(entitle_runtime_system_now() + 365 * 86_400);
    let job = meter.reserve(&s.engine, &ahead, s.sessions, 3, MINUTE).unwrap().reservation.unwrap();
    assert!(job.expires_at() <= entitle_runtime_system_now() + 61, "{job:?}");
}

fn entitle_runtime_system_now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}
