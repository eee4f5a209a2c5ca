//! The runner of `tests/cases/grants.jsonl`, on any meter that takes grants: each case on a
//! fresh meter (or fresh subject), its steps grants added, amounts consumed and refunded, and
//! what each step answers and leaves, as written there.
#![allow(dead_code, reason = "each test binary uses the meters it runs on")]

use entitle::{Engine, LimitId, Request};
use entitle_runtime::meter::{Consumed, Grant, GrantBalance, Meter};
use entitle_runtime::store::redis::RedisMeter;
use entitle_runtime::store::UsageMeter;

#[path = "cases.rs"]
mod cases;

/// The plans the cases and the grant tests run on: `credits` a hard monthly pool, `overage`
/// one with a soft cap, two limits that draw on `credits`, and a gauge.
pub const POLICY: &str = "policy \"grants\"\n\
    limit credits : count per month\n\
    limit overage : count per month\n\
    limit images  : count draws credits at 10\n\
    limit tokens  : count draws credits at 1 per 1_000\n\
    limit conns   : count gauge\n\
    tier pro { limit credits = 100\nlimit overage = 100 soft 150\nlimit conns = 5 }\n\
    tier free { limit overage = 0 }\n";

/// A meter the cases run on.
pub trait Granting {
    fn grant(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, grant: Grant) -> Result<(), String>;
    fn consume(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Consumed;
    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> u64;
    fn balances(&self, engine: &Engine, request: &Request<'_>, limit: LimitId) -> Vec<GrantBalance>;
}

pub struct InProcess(pub Meter);

impl Granting for InProcess {
    fn grant(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, grant: Grant) -> Result<(), String> {
        self.0.grant(engine, request, limit, grant).map(|_| ()).map_err(|e| e.to_string())
    }
    fn consume(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Consumed {
        self.0.try_consume(engine, request, limit, amount).unwrap()
    }
    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> u64 {
        self.0.refund(engine, request, limit, amount)
    }
    fn balances(&self, engine: &Engine, request: &Request<'_>, limit: LimitId) -> Vec<GrantBalance> {
        self.0.grants(engine, request, limit)
    }
}

impl Granting for RedisMeter {
    fn grant(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, grant: Grant) -> Result<(), String> {
        RedisMeter::grant(self, engine, request, limit, grant).map(|_| ()).map_err(|e| e.to_string())
    }
    fn consume(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Consumed {
        self.try_consume(engine, request, limit, amount).unwrap()
    }
    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> u64 {
        UsageMeter::refund(self, engine, request, limit, amount).unwrap()
    }
    fn balances(&self, engine: &Engine, request: &Request<'_>, limit: LimitId) -> Vec<GrantBalance> {
        RedisMeter::grants(self, engine, request, limit).unwrap()
    }
}

#[allow(unused_imports, reason = "each test binary uses what it runs")]
pub use cases::CENTURIES;

/// Runs every case of the file on `meter`, each with a subject of its own (`key_prefix` and
/// the case's line), so one meter serves them all, every instant moved by `shift` seconds.
/// Returns how many ran.
pub fn run(policy: &str, meter: &dyn Granting, key_prefix: &str, shift: i64) -> usize {
    let engine = Engine::from_source("grants.policy", policy).unwrap();
    let pro = engine.tier("pro").unwrap();
    let instant_of = |text: &serde_json::Value| entitle::parse_instant(text.as_str().unwrap()).unwrap() + shift;
    let default_now = instant_of(&serde_json::json!("2026-11-21T10:00:00Z"));
    let mut cases = 0;
    for cases::Case { line, name, steps } in cases::read("grants") {
        let key = format!("{key_prefix}-{line}");
        for (at, step) in steps.iter().enumerate() {
            let whence = format!("line {line}, `{name}`, step {}", at + 1);
            let now = step.get("now").map_or(default_now, instant_of);
            let request = Request::new(pro, now).with_key(&key);
            let limit = engine.limit(step.get("limit").and_then(|l| l.as_str()).unwrap_or("credits")).unwrap();
            let instant = |name: &str| step["grant"].get(name).map(instant_of);
            if let Some(grant) = step.get("grant") {
                let mut g = Grant::new(grant["id"].as_str().unwrap(), grant["amount"].as_u64().unwrap());
                if let Some(starts) = instant("starts") {
                    g = g.starting(starts);
                }
                if let Some(expires) = instant("expires") {
                    g = g.expiring(expires);
                }
                if let Some(priority) = grant.get("priority") {
                    g = g.with_priority(u32::try_from(priority.as_u64().unwrap()).unwrap());
                }
                meter.grant(&engine, &request, limit, g).unwrap_or_else(|e| panic!("{whence}: {e}"));
            } else if let Some(amount) = step.get("consume") {
                let consumed = meter.consume(&engine, &request, limit, amount.as_u64().unwrap());
                let got = serde_json::json!({
                    "allowed": consumed.quota.allowed,
                    "reason": consumed.quota.reason.as_str(),
                    "status": consumed.quota.status.as_str(),
                    "recorded": consumed.recorded,
                    "used": consumed.used,
                    "from_grants": consumed.from_grants,
                    "grants_left": consumed.grants_left,
                });
                for (field, expected) in step.get("expect").and_then(|e| e.as_object()).into_iter().flatten() {
                    assert_eq!(&got[field], expected, "{whence}: `{field}` in {got}");
                }
            } else if let Some(amount) = step.get("refund") {
                let back = meter.refund(&engine, &request, limit, amount.as_u64().unwrap());
                assert_eq!(serde_json::json!(back), step["expect"], "{whence}: refunded");
            } else if let Some(balances) = step.get("balances") {
                let held: serde_json::Map<String, serde_json::Value> = meter
                    .balances(&engine, &request, limit)
                    .into_iter()
                    .map(|g| (g.id.clone(), serde_json::json!(g.left())))
                    .collect();
                assert_eq!(&serde_json::Value::Object(held), balances, "{whence}: balances");
            } else {
                panic!("{whence}: a step is a grant, consume, refund or balances");
            }
        }
        cases += 1;
    }
    assert!(cases >= 13, "{cases} cases");
    cases
}
