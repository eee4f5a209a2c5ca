//! The same entitlement questions — "may a subject on tier T use feature F?" — on the same
//! plan model (`policies/rtc-sdk.policy`), answered by entitle and by its peers:
//!
//! - a hand-written bitset with pre-resolved indices (the floor),
//! - entitle by id and by name,
//! - a name-keyed `HashMap` of precomputed answers (the naive baseline),
//! - casbin (an ACL model with one policy line per granted pair),
//! - regorus compiled to its VM (RVM) and interpreted (the grants as a Rego object),
//! - Cedar (one `permit` per tier over the set of features it grants).
//!
//! Every engine builds its request from the names inside the timed loop, as an application
//! must (a Rego input document, a Cedar request with parsed entity uids), and the questions
//! come in a fixed pseudo-random order of 4,096, so no engine answers one question repeatedly.
//!
//! Every engine must give the same answer to every question before anything is timed. Timing
//! is interleaved: each round runs every engine for about the same wall time, and the figure
//! reported is the median over rounds, so a burst of noise on this shared machine hits all
//! engines alike.
//!
//! Run with `cargo run --release` in this directory (a workspace of its own, so the main build
//! never compiles the peers).

use std::collections::HashMap;
use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use cedar_policy::{
    Authorizer, Context as CedarContext, Decision as CedarDecision, Entities, EntityUid, PolicySet, Request,
};
use entitle::{Engine, FeatureId, Request as EntitleRequest, TierId};

/// Any instant works: the rtc-sdk questions below hold no add-ons.
const NOW: i64 = 1_795_255_200;

/// One question, in every form the engines take it.
struct Question {
    tier: String,
    feature: String,
    ids: (TierId, FeatureId),
    indices: (usize, usize),
    expected: bool,
}

/// The input document a Rego policy reads, built from the names as an application would.
fn rego_input(tier: &str, feature: &str) -> regorus::Value {
    let mut map = std::collections::BTreeMap::new();
    map.insert(regorus::Value::from("tier"), regorus::Value::from(tier));
    map.insert(regorus::Value::from("feature"), regorus::Value::from(feature));
    regorus::Value::from(map)
}

/// A Cedar request built from the names as an application would: entity uids parsed from
/// `Type::"id"` text, then the request checked against no schema.
fn cedar_request(action: &EntityUid, tier: &str, feature: &str) -> Request {
    let principal = EntityUid::from_str(&format!("Tier::{tier:?}")).expect("cedar principal");
    let resource = EntityUid::from_str(&format!("Feature::{feature:?}")).expect("cedar resource");
    Request::new(principal, action.clone(), resource, CedarContext::empty(), None).expect("cedar request")
}

fn load_engine() -> Engine {
    Engine::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/rtc-sdk.policy")).expect("the bundled policy")
}

/// A subject key outside every rollout of the policy, so that the peers, which have no sticky
/// rollout hash, model the same answers with plain grants.
fn key_outside_rollouts(engine: &Engine) -> String {
    (0..)
        .map(|i| format!("app-{i}"))
        .find(|key| engine.features().all(|(_, name)| entitle::rollout_bucket(name, key) >= 250_000))
        .unwrap_or_default()
}

fn main() {
    let engine = load_engine();
    let key = key_outside_rollouts(&engine);
    let tiers: Vec<String> = engine.tiers().map(|(_, name)| name.to_string()).collect();
    let features: Vec<String> = engine.features().map(|(_, name)| name.to_string()).collect();

    // The plan model every peer is given: for each tier, the features it grants this subject.
    let mut grants: Vec<Vec<bool>> = Vec::new();
    for tier in &tiers {
        let ctx = EntitleRequest::new(engine.tier(tier).expect("tier"), NOW).with_key(&key);
        grants.push(features.iter().map(|f| engine.is_allowed(&ctx, engine.feature(f).expect("feature"))).collect());
    }

    // The floor: a bitset indexed by (tier, feature).
    let words_per_tier = features.len().div_ceil(64);
    let mut bitset = vec![0u64; tiers.len() * words_per_tier];
    for (t, row) in grants.iter().enumerate() {
        for (f, &allowed) in row.iter().enumerate() {
            if allowed {
                bitset[t * words_per_tier + f / 64] |= 1 << (f % 64);
            }
        }
    }

    // The naive baseline: answers by name.
    let mut map: HashMap<String, HashMap<String, bool>> = HashMap::new();
    for (t, tier) in tiers.iter().enumerate() {
        for (f, feature) in features.iter().enumerate() {
            map.entry(tier.clone()).or_default().insert(feature.clone(), grants[t][f]);
        }
    }

    // casbin: an ACL model, one policy line per granted (tier, feature).
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let casbin = runtime.block_on(async {
        let model = DefaultModel::from_str(
            "[request_definition]\nr = sub, obj\n[policy_definition]\np = sub, obj\n\
             [policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = r.sub == p.sub && r.obj == p.obj\n",
        )
        .await
        .expect("casbin model");
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default()).await.expect("casbin enforcer");
        let rules: Vec<Vec<String>> = tiers
            .iter()
            .enumerate()
            .flat_map(|(t, tier)| {
                let row = &grants[t];
                features.iter().enumerate().filter(|(f, _)| row[*f]).map(move |(_, f)| vec![tier.clone(), f.clone()])
            })
            .collect();
        enforcer.add_policies(rules).await.expect("casbin policies");
        enforcer
    });

    // Rego: the grants as an object of sets; `allow` looks the pair up.
    let rego_grants: Vec<String> = tiers
        .iter()
        .enumerate()
        .map(|(t, tier)| {
            let set: Vec<String> =
                features.iter().enumerate().filter(|(f, _)| grants[t][*f]).map(|(_, f)| format!("{f:?}")).collect();
            format!("  {tier:?}: {{{}}}", set.join(", "))
        })
        .collect();
    let rego = format!(
        "package entitle\nimport rego.v1\n\ngrants := {{\n{}\n}}\n\ndefault allow := false\n\nallow if input.feature in grants[input.tier]\n",
        rego_grants.join(",\n")
    );
    let mut rego_interpreted = regorus::Engine::new();
    rego_interpreted.add_policy("entitle.rego".into(), rego.clone()).expect("rego policy");
    let rule: regorus::Rc<str> = regorus::Rc::from("data.entitle.allow");
    let compiled = rego_interpreted.compile_with_entrypoint(&rule).expect("rego compiles");
    let program = regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &["data.entitle.allow"])
        .expect("rego compiles to the RVM");
    let mut rvm = regorus::rvm::RegoVM::new();
    rvm.load_program(program);
    rvm.set_data(regorus::Value::new_object()).expect("rvm data");

    // Cedar: one permit per tier over the features it grants.
    let cedar_text: String = tiers
        .iter()
        .enumerate()
        .filter(|(t, _)| grants[*t].iter().any(|&g| g))
        .map(|(t, tier)| {
            let set: Vec<String> =
                features.iter().enumerate().filter(|(f, _)| grants[t][*f]).map(|(_, f)| format!("Feature::{f:?}")).collect();
            format!(
                "permit(principal == Tier::{tier:?}, action == Action::\"use\", resource) when {{ [{}].contains(resource) }};\n",
                set.join(", ")
            )
        })
        .collect();
    let cedar_policies = PolicySet::from_str(&cedar_text).expect("cedar policies");
    let cedar = Authorizer::new();
    let entities = Entities::empty();
    let action = EntityUid::from_str("Action::\"use\"").expect("cedar action");

    // Every (tier, feature) pair, then a fixed pseudo-random sequence of 4,096 of them, so that
    // no engine answers the same question twice in a row.
    let pairs: Vec<(usize, usize)> = (0..tiers.len()).flat_map(|t| (0..features.len()).map(move |f| (t, f))).collect();
    let mut state = 0x5eed_1234_abcd_9876u64;
    let mut next = |below: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % below
    };
    let order: Vec<(usize, usize)> =
        pairs.iter().copied().chain((0..4_096 - pairs.len()).map(|_| pairs[next(pairs.len())])).collect();
    let questions: Vec<Question> = order
        .into_iter()
        .map(|(t, f)| Question {
            tier: tiers[t].clone(),
            feature: features[f].clone(),
            ids: (engine.tier(&tiers[t]).expect("tier"), engine.feature(&features[f]).expect("feature")),
            indices: (t, f),
            expected: grants[t][f],
        })
        .collect();

    type Ask<'a> = Box<dyn FnMut(&Question) -> bool + 'a>;
    let mut engines: Vec<(&str, Ask<'_>)> = vec![
        (
            "bitset (ids, floor)",
            Box::new(|q: &Question| {
                let (t, f) = q.indices;
                bitset[t * words_per_tier + f / 64] & (1 << (f % 64)) != 0
            }),
        ),
        (
            "entitle (ids)",
            Box::new(|q: &Question| {
                let ctx = EntitleRequest::new(q.ids.0, NOW).with_key(&key);
                engine.is_allowed(&ctx, q.ids.1)
            }),
        ),
        (
            "entitle (names)",
            Box::new(|q: &Question| {
                let subject = EntitleRequest::new(q.tier.as_str(), NOW).with_key(&key);
                engine.is_allowed_by_name(&subject, &q.feature)
            }),
        ),
        (
            "HashMap (names)",
            Box::new(|q: &Question| {
                map.get(q.tier.as_str()).and_then(|m| m.get(q.feature.as_str())).copied().unwrap_or(false)
            }),
        ),
        (
            "casbin (names)",
            Box::new(|q: &Question| casbin.enforce((q.tier.as_str(), q.feature.as_str())).expect("casbin")),
        ),
        (
            "regorus RVM (names)",
            Box::new(|q: &Question| {
                rvm.set_input(rego_input(&q.tier, &q.feature));
                rvm.execute().expect("rvm") == regorus::Value::from(true)
            }),
        ),
        (
            "regorus interpreted (names)",
            Box::new(|q: &Question| {
                rego_interpreted.set_input(rego_input(&q.tier, &q.feature));
                rego_interpreted.eval_rule("data.entitle.allow".into()).expect("rego") == regorus::Value::from(true)
            }),
        ),
        (
            "Cedar (names)",
            Box::new(|q: &Question| {
                let request = cedar_request(&action, &q.tier, &q.feature);
                cedar.is_authorized(&request, &cedar_policies, &entities).decision() == CedarDecision::Allow
            }),
        ),
    ];

    // Identical answers first: nothing is timed until every engine agrees on every question.
    let allowed = questions.iter().filter(|q| q.expected).count();
    for (name, ask) in engines.iter_mut() {
        for q in &questions {
            assert_eq!(ask(q), q.expected, "{name} disagrees on ({}, {})", q.tier, q.feature);
        }
    }
    println!(
        "{} questions ({} allowed) drawn from {} tiers x {} features; all {} engines agree on every answer.\n\
         Every engine builds its request from the names inside the timed loop.\n",
        questions.len(),
        allowed,
        tiers.len(),
        features.len(),
        engines.len()
    );

    // Calibrate a batch size per engine that takes about 20 ms, then time interleaved rounds.
    let target = Duration::from_millis(20);
    let mut batches = Vec::new();
    for (_, ask) in engines.iter_mut() {
        let mut n = questions.len();
        loop {
            let start = Instant::now();
            for q in questions.iter().cycle().take(n) {
                black_box(ask(black_box(q)));
            }
            if start.elapsed() >= target / 4 || n > 1 << 30 {
                let per = start.elapsed().as_secs_f64() / n as f64;
                batches.push(((target.as_secs_f64() / per) as usize).max(questions.len()));
                break;
            }
            n *= 4;
        }
    }
    let rounds = 15;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    for _ in 0..rounds {
        for (index, (_, ask)) in engines.iter_mut().enumerate() {
            let n = batches[index];
            let start = Instant::now();
            for q in questions.iter().cycle().take(n) {
                black_box(ask(black_box(q)));
            }
            samples[index].push(start.elapsed().as_secs_f64() * 1e9 / n as f64);
        }
    }
    let medians: Vec<f64> = samples
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect();
    let by_id = medians[1];
    let by_name = medians[2];
    println!("| engine | ns/query (median of {rounds} rounds) | × entitle by id | × entitle by name |");
    println!("| --- | ---: | ---: | ---: |");
    for ((name, _), median) in engines.iter().zip(&medians) {
        println!("| {name} | {median:.1} | {:.1} | {:.1} |", median / by_id, median / by_name);
    }
}
