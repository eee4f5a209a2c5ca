//! Offers (a tier's terms after inheritance and add-ons) and the changes between them, which
//! `entitle matrix` and `entitle diff` print.

use entitle::plan::{changes, ChangeKind};
use entitle::{Access, Amount, Engine};

const BEFORE: &str = r#"policy "p" version "1"
feature sso
feature ai
feature beta
limit calls : count per day
limit seats : count
limit storage : bytes
setting response : duration prefer lower
setting channel : string
tier pro {
    grant sso, beta
    grant ai rollout 20%
    limit calls = 1_000 soft 1_200 warn at 80%
    limit seats = unlimited
    limit storage = 10 GiB
    set response = 4 h
    set channel = "email"
}
addon more for pro { limit storage += 5 GiB }
"#;

const AFTER: &str = r#"policy "p" version "2"
feature sso
feature ai
feature beta
limit calls : count per month
limit seats : count
limit storage : bytes
setting response : duration prefer lower
setting channel : string
tier pro {
    grant sso
    grant ai rollout 10%
    limit calls = 1_000 warn at 90%
    limit seats = 50
    limit storage = 20 GiB
    set response = 8 h
    set channel = "chat"
}
addon more for pro { limit storage += 5 GiB }
"#;

fn offer_of(text: &str, addons: &[&str]) -> entitle::plan::Offer {
    let engine = Engine::from_source("p", text).expect("checks");
    let ids: Vec<_> = addons.iter().map(|a| engine.addon(a).expect("declared")).collect();
    engine.offer(engine.tier("pro").expect("declared"), &ids).expect("known ids")
}

#[test]
fn an_offer_reads_in_the_policys_terms() {
    let offer = offer_of(BEFORE, &[]);
    assert_eq!(offer.features[1].access, Access::Rollout(entitle::Percentage::from_millionths(200_000)));
    let calls = &offer.limits[0];
    assert_eq!((calls.value, calls.soft_cap), (Some(Amount::Finite(1_000)), Some(Amount::Finite(1_200))));
    assert_eq!((calls.measure.as_str(), calls.soft_text().as_str()), ("count per day", "soft to 1_200"));
    assert_eq!(offer.limits[2].value_text(), "10 GiB");
    let with_more = offer_of(BEFORE, &["more"]);
    assert_eq!(with_more.limits[2].value_text(), "15 GiB");
    assert_eq!(with_more.addons, vec!["more".to_string()]);
}

#[test]
fn changes_mark_what_is_taken_away_and_what_is_given() {
    let found = changes(&offer_of(BEFORE, &[]), &offer_of(AFTER, &[]));
    let get = |kind: ChangeKind, name: &str| {
        found
            .iter()
            .find(|c| c.kind == kind && c.name == name)
            .unwrap_or_else(|| panic!("no {kind:?} change of {name}"))
    };
    let verdict = |kind, name| {
        let change = get(kind, name);
        (change.before.as_str(), change.after.as_str(), change.takes_away, change.gives)
    };
    assert_eq!(verdict(ChangeKind::Feature, "beta"), ("granted", "not granted", true, false));
    assert_eq!(verdict(ChangeKind::Feature, "ai"), ("20% rollout", "10% rollout", true, false));
    assert_eq!(verdict(ChangeKind::Measure, "calls"), ("count per day", "count per month", true, false));
    assert_eq!(verdict(ChangeKind::SoftCap, "calls"), ("soft to 1_200", "hard", true, false));
    assert_eq!(verdict(ChangeKind::Warn, "calls"), ("warn at 80%", "warn at 90%", false, false));
    assert_eq!(verdict(ChangeKind::Limit, "seats"), ("unlimited", "50", true, false));
    assert_eq!(verdict(ChangeKind::Limit, "storage"), ("10 GiB", "20 GiB", false, true));
    assert_eq!(verdict(ChangeKind::Setting, "response"), ("4 h", "8 h", true, false));
    assert_eq!(verdict(ChangeKind::Setting, "channel"), ("\"email\"", "\"chat\"", false, false));
    assert!(!found.iter().any(|c| c.name == "sso"), "an unchanged feature is not a change");
    assert_eq!(found.len(), 9, "{found:#?}");
    // The same add-on on both sides moves the limit with it, and adds no change of its own.
    let with_more = changes(&offer_of(BEFORE, &["more"]), &offer_of(AFTER, &["more"]));
    assert_eq!(with_more.len(), found.len());
}

#[test]
fn an_offer_for_a_foreign_id_is_refused() {
    let engine = Engine::from_source("p", BEFORE).expect("checks");
    let other = Engine::from_source("q", "policy \"q\"\ntier a { }\ntier b { }\ntier c { }\n").expect("checks");
    let foreign = other.tier("c").expect("declared");
    assert_eq!(engine.offer(foreign, &[]).err(), Some(entitle::Reason::UnknownTier));
}

/// Per-seat values read as written; add-ons that mix flat and per-seat terms read as the
/// formula the engine applies; and a change between flat and per-seat terms takes away when
/// the new terms are lower at some seat count.
#[test]
fn per_seat_terms_read_as_written_and_compare_at_every_seat_count() {
    let engine = Engine::from_source(
        "p",
        "policy \"p\"\nlimit ai : count per month\nlimit storage : bytes\n\
         tier solo { limit ai = 20_000  limit storage = 100 GiB }\n\
         tier team { limit ai = 1_000 per seat soft 1_200 per seat  limit storage = 10 GiB per seat }\n\
         addon floor for team { limit ai = 500 }\naddon boost for team { limit ai += 2_000 per seat }\n\
         addon pack for team { limit storage += 50 GiB  max 20 }\n",
    )
    .expect("checks");
    let (solo, team) = (engine.tier("solo").expect("solo"), engine.tier("team").expect("team"));
    let addon = |name: &str| engine.addon(name).expect("declared");
    let plain = engine.offer(team, &[]).expect("offer");
    assert_eq!(
        (plain.limits[0].value_text(), plain.limits[0].soft_text()),
        ("1_000 per seat".into(), "soft to 1_200 per seat".into())
    );
    assert!(plain.limits[0].per_seat && plain.limits[0].value == Some(Amount::Finite(1_000)));
    let held = engine.offer(team, &[addon("floor"), addon("boost"), addon("pack")]).expect("offer");
    assert_eq!(held.limits[0].value_text(), "max(500, 1_000 per seat) + 2_000 per seat");
    assert_eq!(held.limits[0].soft_text(), "soft to 200 per seat above the limit");
    assert_eq!(held.limits[1].value_text(), "10 GiB per seat + 50 GiB");
    let found = changes(&engine.offer(solo, &[]).expect("offer"), &plain);
    let ai = found.iter().find(|c| c.name == "ai" && c.kind == ChangeKind::LimitPerSeat).expect("a per-seat change");
    // `20_000` against `1_000 per seat`: lower below 20 seats, higher from 21.
    assert!(ai.takes_away && ai.gives, "{ai:?}");
    let terms = engine.addon_terms(addon("pack")).expect("terms");
    assert_eq!((terms.header(), terms.max_quantity), ("pack (max 20)".to_string(), Amount::Finite(20)));
}
