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
