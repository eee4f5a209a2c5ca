//! Credit pools in every meter: a limit that draws on a pool spends the pool's one balance,
//! counted in its units, whichever limit or meter spends it. The same steps run on the
//! in-process meter, on Redis (a real `redis-server` on a free loopback port, stopped by the
//! test) and on leases of it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::time::Duration;

use entitle::{Amount, Engine, LimitId, Quota, Reason, Request, TierId};
use entitle_runtime::meter::Meter;
use entitle_runtime::store::redis::{LeaseConfig, LeasedMeter, RedisConfig, RedisMeter};
use entitle_runtime::store::UsageMeter;

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Server};

const POLICY: &str = "policy \"pools\"\n\
    limit credits : count per month\n\
    limit images  : count draws credits at 40\n\
    limit tokens  : count draws credits at 1 per 1_000\n\
    tier pro { limit credits = 1_000 }\n";

struct Policy {
    engine: Engine,
    pro: TierId,
    credits: LimitId,
    images: LimitId,
    tokens: LimitId,
}

fn policy() -> Policy {
    let engine = Engine::from_source("pools.policy", POLICY).unwrap();
    let id = |name| engine.limit(name).unwrap();
    let (credits, images, tokens) = (id("credits"), id("images"), id("tokens"));
    Policy { pro: engine.tier("pro").unwrap(), credits, images, tokens, engine }
}

/// Now, by the system's clock: the Redis meters judge time by the earlier of the request's and
/// the system's, and keys expire by Redis's own.
fn now() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(now).unwrap()
}

/// Images at 40 credits each spend the 1 000 credits in 25, and then the pool is spent for
/// every limit that draws on it, and for itself.
fn images_spend_the_pool(meter: &dyn UsageMeter, key: &str) {
    let p = policy();
    let request = Request::new(p.pro, now()).with_key(key);
    for image in 0..25 {
        let consumed = meter.try_consume(&p.engine, &request, p.images, 1).unwrap();
        assert!(consumed.quota.allowed, "image {image}");
        assert_eq!((consumed.recorded, consumed.used), (40, 40 * (image + 1)), "image {image}");
    }
    let denied = meter.try_consume(&p.engine, &request, p.images, 1).unwrap();
    assert_eq!((denied.quota.allowed, denied.quota.reason, denied.recorded), (false, Reason::LimitExceeded, 0));
    assert_eq!(denied.quota.remaining, Amount::Finite(0));
    // A thousand tokens cost one credit, and none is left; nor for the pool itself.
    assert!(!meter.try_consume(&p.engine, &request, p.tokens, 1_000).unwrap().quota.allowed);
    assert!(!meter.try_consume(&p.engine, &request, p.credits, 1).unwrap().quota.allowed);
    // What is left in the pool's terms is its usage, whichever limit asks.
    assert_eq!(meter.try_consume(&p.engine, &request, p.credits, 0).unwrap().used, 1_000);
    assert_eq!(meter.try_consume(&p.engine, &request, p.tokens, 0).unwrap().used, 1_000);
}

/// A refund of a drawing limit gives back its cost, and the pool is spendable again.
fn a_refund_gives_back_the_cost(meter: &dyn UsageMeter, key: &str) {
    let p = policy();
    let request = Request::new(p.pro, now()).with_key(key);
    assert_eq!(meter.try_consume(&p.engine, &request, p.credits, 960).unwrap().recorded, 960);
    assert_eq!(meter.try_consume(&p.engine, &request, p.images, 1).unwrap().recorded, 40);
    assert_eq!(meter.refund(&p.engine, &request, p.images, 1).unwrap(), 40);
    // 1 500 tokens cost 2 credits, rounded up: 962 used.
    let tokens = meter.try_consume(&p.engine, &request, p.tokens, 1_500).unwrap();
    assert_eq!((tokens.recorded, tokens.used), (2, 962));
    assert!(!meter.try_consume(&p.engine, &request, p.images, 1).unwrap().quota.allowed);
}

/// A batch with two limits drawing on one pool adds their costs: allowed together only when
/// both fit, and then both are recorded on the one counter.
fn a_batch_adds_the_costs_on_one_pool(meter: &dyn UsageMeter, key: &str) {
    let p = policy();
    let request = Request::new(p.pro, now()).with_key(key);
    let mut out = [Quota::default(); 2];
    // 20 images (800) and 250 000 tokens (250): 1 050 credits, past the 1 000.
    let both = [(p.images, 20), (p.tokens, 250_000)];
    let consumed = meter.try_consume_all(&p.engine, &request, &both, &mut out).unwrap();
    assert!(!consumed.recorded);
    assert_eq!((consumed.answers[0].allowed, consumed.answers[1].allowed), (true, false));
    assert_eq!(consumed.binding, Some(1));
    assert_eq!(meter.try_consume(&p.engine, &request, p.credits, 0).unwrap().used, 0);
    // 20 images and 200 000 tokens: exactly 1 000.
    let fits = [(p.images, 20), (p.tokens, 200_000)];
    assert!(meter.try_consume_all(&p.engine, &request, &fits, &mut out).unwrap().recorded);
    assert_eq!(meter.try_consume(&p.engine, &request, p.credits, 0).unwrap().used, 1_000);
}

/// A hold asked for a drawing limit holds its cost on the pool, and its commit is in the
/// limit's own units.
fn a_hold_on_a_drawing_limit_holds_its_cost(meter: &dyn UsageMeter, key: &str) {
    let p = policy();
    let request = Request::new(p.pro, now()).with_key(key);
    let hold = meter.reserve(&p.engine, &request, p.images, 10, Duration::from_secs(60)).unwrap();
    let hold = hold.reservation.unwrap();
    assert_eq!((hold.limit(), hold.amount(), hold.drawn_by()), ("credits", 400, Some("images")));
    // 600 credits are left for everyone else meanwhile.
    assert!(!meter.try_consume(&p.engine, &request, p.credits, 601).unwrap().quota.allowed);
    // Seven images were made: 280 credits are recorded, and the other 120 are free again.
    let committed = meter.commit(&p.engine, &request, &hold, 7).unwrap();
    assert_eq!((committed.recorded, committed.unrecorded), (280, 0));
    assert_eq!(meter.try_consume(&p.engine, &request, p.credits, 720).unwrap().used, 1_000);
}

fn every_step(meter: &dyn UsageMeter, name: &str) {
    images_spend_the_pool(meter, &format!("{name}-spend"));
    a_refund_gives_back_the_cost(meter, &format!("{name}-refund"));
    a_batch_adds_the_costs_on_one_pool(meter, &format!("{name}-batch"));
    a_hold_on_a_drawing_limit_holds_its_cost(meter, &format!("{name}-hold"));
}

#[test]
fn the_in_process_meter_counts_drawing_limits_on_their_pool() {
    let meter = Meter::new();
    every_step(&meter, "local");
    // Its own questions answer in the pool's terms too.
    let p = policy();
    let request = Request::new(p.pro, now()).with_key("local-spend");
    assert_eq!(meter.used(&p.engine, &request, p.images), 1_000);
    assert!(!meter.peek(&p.engine, &request, p.tokens, 1).allowed);
    let fresh = Request::new(p.pro, now()).with_key("local-peek");
    assert_eq!(meter.peek(&p.engine, &fresh, p.images, 25).remaining, Amount::Finite(1_000));
    assert!(!meter.peek(&p.engine, &fresh, p.images, 26).allowed);
}

fn redis(url: &str) -> RedisMeter {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_secs(2);
    RedisMeter::new(config).unwrap()
}

#[test]
fn the_redis_meters_count_drawing_limits_on_their_pool() {
    let server = Server::start(&scratch("pools"), None);
    every_step(&redis(&server.url()), "redis");
    let mut config = LeaseConfig::default();
    config.share = 100;
    let leased = LeasedMeter::new(redis(&server.url()), config);
    every_step(&leased, "leased");
    leased.close().unwrap();
}

#[test]
fn refunds_of_a_few_units_never_give_back_more_than_was_consumed() {
    let p = policy();
    let meter = Meter::new();
    let request = Request::new(p.pro, now()).with_key("few-units");
    // A million tokens cost 1 000 credits; a thousand refunds of one token give back none,
    // where each rounded up would give back all of them.
    assert_eq!(meter.try_consume(&p.engine, &request, p.tokens, 1_000_000).unwrap().recorded, 1_000);
    let back: u64 = (0..1_000).map(|_| meter.refund(&p.engine, &request, p.tokens, 1)).sum();
    assert_eq!(back, 0);
    // A refund of the consumption's cost on the pool gives it all back.
    assert_eq!(meter.refund(&p.engine, &request, p.credits, 1_000), 1_000);
}
