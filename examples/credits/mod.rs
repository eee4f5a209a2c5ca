//! The AI credit part of the service's stream: the bundled `rtc-sdk` plans' `ai_credits`
//! pool, which conversation minutes spend at 5 credits a minute and transcription minutes at 2,
//! with a promotional grant for every third customer on top of the plan.
//!
//! Sessions of random length are metered against the pool; halfway, the meter is snapshotted
//! and restored, grants included. At the end every customer's credits are checked: what the
//! meter recorded of the plan and spent of the grant equals the cost of the sessions it allowed.

use std::error::Error;
use std::path::Path;

use entitle::{Engine, LimitId, Request, Status, TierId};
use entitle_runtime::meter::{Grant, Meter};

/// The policy the AI credits come from.
const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/rtc-sdk.policy");

/// What the credit stream did.
#[derive(Debug, Default)]
pub struct Credits {
    /// Sessions asked for, and how many were allowed, allowed as overage, and denied.
    pub sessions: u64,
    pub allowed: u64,
    pub overage: u64,
    pub denied: u64,
    /// Customers given the promotional grant, what it granted in all, and what of it was spent.
    pub promoted: usize,
    pub granted: u64,
    pub spent_from_grants: u64,
    /// Customers whose credits were checked, and how many differ from what was allowed.
    pub checked: usize,
    pub differ: usize,
}

/// The pool and the limits that draw on it.
struct Pool {
    engine: Engine,
    pro: TierId,
    credits: LimitId,
    /// Conversation, then transcription.
    drawers: [LimitId; 2],
}

fn pool() -> Result<Pool, Box<dyn Error>> {
    let text = std::fs::read_to_string(POLICY)?;
    let engine = Engine::from_source("rtc-sdk.policy", &text).map_err(|d| d.to_string())?;
    let id = |name: &str| engine.limit(name).ok_or_else(|| format!("rtc-sdk declares no limit `{name}`"));
    let (credits, conversation, transcription) =
        (id("ai_credits")?, id("conversation_minutes")?, id("transcription_minutes")?);
    let pro = engine.tier("pro").ok_or("rtc-sdk declares no tier `pro`")?;
    Ok(Pool { pro, credits, drawers: [conversation, transcription], engine })
}

/// A request of `key` on `tier` at `now`.
fn request(tier: TierId, key: &str, now: i64) -> Request<'_> {
    Request::new(tier, now).with_key(key)
}

/// A small generator (splitmix64), so a seed gives the same stream everywhere.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Meters `sessions` AI sessions of `customers` customers on tier `pro`, all within the month
/// that `start` is in, restarting the meter through a snapshot in `dir` halfway.
pub fn run(customers: usize, sessions: u64, seed: u64, start: i64, dir: &Path) -> Result<Credits, Box<dyn Error>> {
    let pool = pool()?;
    let keys: Vec<String> = (0..customers.max(1)).map(|c| format!("ai-customer-{c:05}")).collect();
    let pro = pool.pro;
    // The month's end, where the promotion expires: the pool's own window says when it is.
    let month = pool.engine.check_limit(&request(pro, "", start), pool.credits, entitle::Usage::default());
    let end = month.window().map_or(start + 86_400, |w| w.end);

    let mut meter = Meter::new();
    let mut report = Credits::default();
    for key in keys.iter().step_by(3) {
        let promo = Grant::new("launch-promo", 1_500).expiring(end).with_priority(1);
        meter.grant(&pool.engine, &request(pro, key, start), pool.credits, promo)?;
        report.promoted += 1;
        report.granted += 1_500;
    }

    // What each customer's allowed sessions cost the pool, to check the meter against.
    let mut cost = vec![0u64; keys.len()];
    let mut state = seed;
    let span = u64::try_from((end - start).max(1)).unwrap_or(1);
    for index in 0..sessions {
        if index == sessions / 2 {
            // A restart: the counters and the grants go to a file and come back.
            let snapshot = dir.join("credits.jsonl");
            meter.snapshot_to(&snapshot)?;
            meter = Meter::new();
            meter.restore_from(&snapshot)?;
        }
        // A few heavy customers and many light ones: the lower of two picks.
        let n = keys.len() as u64;
        let customer = usize::try_from((next(&mut state) % n).min(next(&mut state) % n)).unwrap_or(0);
        // A session in three is a transcription.
        let [conversation, transcription] = pool.drawers;
        let limit = if next(&mut state).is_multiple_of(3) { transcription } else { conversation };
        let minutes = 1 + next(&mut state) % 45;
        // Sessions come in order through the month.
        let now = start + i64::try_from(index * span / sessions.max(1)).unwrap_or(0);
        let (Some(key), Some(spent)) = (keys.get(customer), cost.get_mut(customer)) else { continue };
        let consumed = meter.try_consume(&pool.engine, &request(pro, key, now), limit, minutes * 60)?;
        report.sessions += 1;
        if consumed.quota.allowed {
            report.allowed += 1;
            report.overage += u64::from(consumed.quota.status == Status::Overage);
            report.spent_from_grants += consumed.from_grants;
            *spent += consumed.recorded;
        } else {
            report.denied += 1;
        }
    }

    let last = start + i64::try_from(span - 1).unwrap_or(0);
    for (key, cost) in keys.iter().zip(cost) {
        let at = request(pro, key, last);
        let from_grants: u64 = meter.grants(&pool.engine, &at, pool.credits).iter().map(|g| g.spent).sum();
        report.checked += 1;
        report.differ += usize::from(meter.used(&pool.engine, &at, pool.credits) + from_grants != cost);
    }
    Ok(report)
}

/// The report's lines.
pub fn describe(report: &Credits) -> [String; 3] {
    let share = |n: u64| 100.0 * n as f64 / report.sessions.max(1) as f64;
    [
        format!(
            "AI credits (rtc-sdk `ai_credits` on `pro`, drawn by conversation at 5 a minute and transcription at 2): \
             {} sessions, {:.1}% allowed ({} as overage), {:.1}% denied",
            report.sessions,
            share(report.allowed),
            report.overage,
            share(report.denied)
        ),
        format!(
            "promotional grants: {} customers given 1_500 credits each; {} of {} spent after their plan, \
             restored with the meter at half-way",
            report.promoted, report.spent_from_grants, report.granted
        ),
        format!(
            "checked {} customers' credits (plan usage + grants spent = allowed sessions' cost): {} differ",
            report.checked, report.differ
        ),
    ]
}
