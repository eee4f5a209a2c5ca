//! `entitle diff POLICY --overrides OLD NEW`: what each subject gains or loses between two
//! override sets checked against one policy, record by record.
//!
//! Records of a subject are matched per feature, limit or setting: first those with the same
//! effect and validity, then those that start at the same instant, then the rest in the order
//! of their starts; what is left was added or removed. Whether a change gives or takes is
//! decided without a tier where it can be (a grant, a revoke, `+=`, `at_least`, `at_most`, a
//! higher or lower value under one operator, a setting's `prefer` direction) and is neutral
//! where it depends on the tier (a limit set with `=` added or removed).

use std::collections::BTreeMap;
use std::path::Path;

use entitle::wire::{self, DiffStatus, OverrideDiffLine};
use entitle::{Amount, Engine, LimitOp, OverrideChange, OverrideInfo, Overrides};

use crate::diff::{Document, Report, Section};
use crate::overrides::{record_line, subject_heading, validity};

/// Loads the policy and both sets (reporting every set's errors before giving up) and
/// compares them.
pub(crate) fn report(policy: &Path, old: &Path, new: &Path) -> Result<Report, u8> {
    let (_, engine) = crate::load(policy)?;
    let (before, after) = match (crate::overrides::load(&engine, old), crate::overrides::load(&engine, new)) {
        (Ok(before), Ok(after)) => (before, after),
        (Err(status), Ok(_)) | (Ok(_), Err(status)) => return Err(status),
        // An I/O error (2) outranks findings (1).
        (Err(one), Err(two)) => return Err(one.max(two)),
    };
    let names = [policy, old, new].map(|p| p.display().to_string());
    Ok(between(&engine, &before, &after, names))
}

/// What a record does for its subject, as far as the policy alone says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Gives,
    Takes,
    /// It depends on what the subject's tier gives (a limit set with `=`, a setting).
    Depends,
}

fn direction(change: &OverrideChange<'_>) -> Direction {
    match change {
        OverrideChange::Grant(_) => Direction::Gives,
        OverrideChange::Revoke(_) => Direction::Takes,
        OverrideChange::Limit { op: LimitOp::Add, value, .. } if *value == Amount::Finite(0) => Direction::Depends,
        OverrideChange::Limit { op: LimitOp::Add | LimitOp::AtLeast, .. } => Direction::Gives,
        OverrideChange::Limit { op: LimitOp::AtMost, .. } => Direction::Takes,
        _ => Direction::Depends,
    }
}

/// The limit a record leaves of the plan's `plan`, as the engine applies it (`None` for an
/// operator this command does not know).
fn apply(op: LimitOp, value: Amount, plan: Amount) -> Option<Amount> {
    match op {
        LimitOp::Set => Some(value),
        LimitOp::Add => Some(plan.saturating_add(value)),
        LimitOp::AtLeast => Some(plan.max(value)),
        LimitOp::AtMost => Some(plan.min(value)),
        _ => None,
    }
}

/// Whether changing a record's effect from `before` to `after` takes something away and
/// whether it gives, at some plan value.
fn effect_change(engine: &Engine, before: &OverrideChange<'_>, after: &OverrideChange<'_>) -> (bool, bool) {
    match (before, after) {
        (OverrideChange::Grant(_), OverrideChange::Revoke(_)) => (true, false),
        (OverrideChange::Revoke(_), OverrideChange::Grant(_)) => (false, true),
        (
            OverrideChange::Limit { op: op_before, value: was, per_seat: seats_before, .. },
            OverrideChange::Limit { op: op_after, value: is, per_seat: seats_after, .. },
        ) => {
            // Flat against per seat: one is larger below some seat count, the other above it.
            if seats_before != seats_after {
                return (true, true);
            }
            // Each operator is a continuous, piecewise linear function of the plan's limit that
            // bends only at its own value, so the two compare everywhere as they compare at
            // zero, at either value and at unlimited.
            let probes = [Amount::Finite(0), *was, *is, Amount::Unlimited];
            let mut found = (false, false);
            for plan in probes {
                if let (Some(old), Some(new)) = (apply(*op_before, *was, plan), apply(*op_after, *is, plan)) {
                    found.0 |= new < old;
                    found.1 |= new > old;
                }
            }
            found
        }
        (OverrideChange::Setting { setting, value: was }, OverrideChange::Setting { value: is, .. }) => {
            (wire::setting_worse(engine, *setting, was, is), wire::setting_worse(engine, *setting, is, was))
        }
        _ => (false, false),
    }
}

/// Whether moving a record of `direction` from `before`'s window to `after`'s takes and gives:
/// a longer window of what gives gives, a shorter one takes, and the reverse for what takes.
fn validity_change(direction: Direction, before: &OverrideInfo<'_>, after: &OverrideInfo<'_>) -> (bool, bool) {
    let start = |info: &OverrideInfo<'_>| info.from.unwrap_or(i64::MIN);
    let end = |info: &OverrideInfo<'_>| info.until.unwrap_or(i64::MAX);
    let longer = start(after) < start(before) || end(after) > end(before);
    let shorter = start(after) > start(before) || end(after) < end(before);
    match direction {
        Direction::Gives => (shorter, longer),
        Direction::Takes => (longer, shorter),
        Direction::Depends => (false, false),
    }
}

/// A record's feature, limit or setting, for grouping: its kind's rank and its name.
fn target(engine: &Engine, info: &OverrideInfo<'_>) -> (u8, String) {
    let (kind, name) = wire::override_target(engine, &info.change);
    let rank = match kind {
        "feature" => 0,
        "limit" => 1,
        _ => 2,
    };
    (rank, name.to_string())
}

/// A matched record: before, after, or both.
type Pair<'r, 'a> = (Option<&'r OverrideInfo<'a>>, Option<&'r OverrideInfo<'a>>);

/// The records of one subject for one target, matched as the module says.
fn pairs<'r, 'a>(olds: &[&'r OverrideInfo<'a>], news: &[&'r OverrideInfo<'a>]) -> Vec<Pair<'r, 'a>> {
    let mut old_left: Vec<Option<&OverrideInfo<'a>>> = olds.iter().copied().map(Some).collect();
    let mut new_left: Vec<Option<&OverrideInfo<'a>>> = news.iter().copied().map(Some).collect();
    let mut out = Vec::new();
    let same_effect =
        |a: &OverrideInfo<'_>, b: &OverrideInfo<'_>| a.change == b.change && a.from == b.from && a.until == b.until;
    let same_start = |a: &OverrideInfo<'_>, b: &OverrideInfo<'_>| a.from == b.from;
    for same in [&same_effect as &dyn Fn(&OverrideInfo<'_>, &OverrideInfo<'_>) -> bool, &same_start] {
        for slot in &mut old_left {
            let Some(old) = *slot else { continue };
            if let Some(found) = new_left.iter_mut().find(|n| n.is_some_and(|new| same(old, new))) {
                out.push((Some(old), found.take()));
                *slot = None;
            }
        }
    }
    let mut olds = old_left.into_iter().flatten();
    let mut news = new_left.into_iter().flatten();
    loop {
        match (olds.next(), news.next()) {
            (None, None) => break,
            pair => out.push(pair),
        }
    }
    let start = |pair: &Pair<'_, '_>| pair.0.or(pair.1).and_then(|r| r.from).unwrap_or(i64::MIN);
    out.sort_by_key(start);
    out
}

/// `-` when a change takes away, `+` when it gives, `~` when neither can be said.
fn mark(takes_away: bool, gives: bool) -> char {
    match (takes_away, gives) {
        (true, _) => '-',
        (false, true) => '+',
        (false, false) => '~',
    }
}

/// Every subject's changes between `before` and `after`, subjects sorted by key; `names` are
/// the policy's and the two sets' paths.
fn between(engine: &Engine, before: &Overrides, after: &Overrides, names: [String; 3]) -> Report {
    let mut keys: Vec<&str> = wire::sorted_subjects(before);
    keys.extend(wire::sorted_subjects(after));
    keys.sort_unstable();
    keys.dedup();
    let mut report = Section::default();
    let mut subjects = Vec::new();
    for key in keys {
        let (olds, news) = (before.records(key), after.records(key));
        // Each record's target is worked out once, so a subject costs O(n log n) in its records.
        type Sides<'r, 'a> = (Vec<&'r OverrideInfo<'a>>, Vec<&'r OverrideInfo<'a>>);
        let mut by_target: BTreeMap<(u8, String), Sides<'_, '_>> = BTreeMap::new();
        for record in &olds {
            by_target.entry(target(engine, record)).or_default().0.push(record);
        }
        for record in &news {
            by_target.entry(target(engine, record)).or_default().1.push(record);
        }
        let mut section = Section::default();
        let mut lines = Vec::new();
        for (was, is) in by_target.values() {
            for pair in pairs(was, is) {
                compare(engine, pair, &mut section, &mut lines);
            }
        }
        if section.count > 0 {
            report.text += &format!("{}:\n{}", subject_heading(key), section.text);
            report.count += section.count;
            report.taking_away += section.taking_away;
            subjects.push((key.to_string(), section.taking_away > 0, lines));
        }
    }
    let [policy, before, after] = names;
    report.into_report(Document::Overrides { policy, before, after, subjects })
}

/// The lines one matched pair of records makes: the record added or removed, or each aspect
/// that changed.
fn compare(engine: &Engine, pair: Pair<'_, '_>, section: &mut Section, lines: &mut Vec<serde_json::Value>) {
    let mut push = |line: OverrideDiffLine<'_>, text: String| {
        section.line("  ", line.takes_away, mark(line.takes_away, line.gives), &text);
        lines.push(wire::override_diff_line(line));
    };
    match pair {
        (None, None) => {}
        (None, Some(added)) => {
            let (kind, name) = wire::override_target(engine, &added.change);
            let direction = direction(&added.change);
            let text = format!("added: {}", record_line(engine, added));
            let line = OverrideDiffLine {
                status: DiffStatus::Added,
                aspect: None,
                kind,
                name,
                before: String::new(),
                after: record_line(engine, added),
                record: Some(wire::override_record(engine, added)),
                takes_away: direction == Direction::Takes,
                gives: direction == Direction::Gives,
            };
            push(line, text);
        }
        (Some(removed), None) => {
            let (kind, name) = wire::override_target(engine, &removed.change);
            let direction = direction(&removed.change);
            let text = format!("removed: {}", record_line(engine, removed));
            let line = OverrideDiffLine {
                status: DiffStatus::Removed,
                aspect: None,
                kind,
                name,
                before: record_line(engine, removed),
                after: String::new(),
                record: Some(wire::override_record(engine, removed)),
                takes_away: direction == Direction::Gives,
                gives: direction == Direction::Takes,
            };
            push(line, text);
        }
        (Some(was), Some(is)) => {
            let (kind, name) = wire::override_target(engine, &is.change);
            let changed = |aspect: &'static str, before: String, after: String, (takes_away, gives): (bool, bool)| {
                OverrideDiffLine {
                    status: DiffStatus::Changed,
                    aspect: Some(aspect),
                    kind,
                    name,
                    before,
                    after,
                    record: None,
                    takes_away,
                    gives,
                }
            };
            if was.change != is.change {
                let (before, after) =
                    (wire::override_effect(engine, &was.change), wire::override_effect(engine, &is.change));
                let text = format!("{kind} `{name}`: {before} → {after}");
                push(changed("effect", before, after, effect_change(engine, &was.change, &is.change)), text);
            }
            if (was.from, was.until) != (is.from, is.until) {
                let (before, after) = (validity(was.from, was.until), validity(is.from, is.until));
                let text = format!("{kind} `{name}` validity: {before} → {after}");
                push(changed("validity", before, after, validity_change(direction(&is.change), was, is)), text);
            }
            for (aspect, before, after) in [("reason", was.reason, is.reason), ("author", was.author, is.author)] {
                if before != after {
                    let text = format!("{kind} `{name}` {aspect}: {before:?} → {after:?}");
                    push(changed(aspect, before.to_string(), after.to_string(), (false, false)), text);
                }
            }
        }
    }
}

#[cfg(test)]
#[expect(clippy::expect_used, clippy::indexing_slicing, reason = "a test fails loudly, with the value that broke it")]
mod tests {
    use super::*;

    const POLICY: &str = "policy \"p\"\nfeature sso\nlimit calls : count per day\nsetting sla : percent\n\
        tier free { limit calls = 10 }\n";

    fn set(engine: &Engine, lines: &[&str]) -> Overrides {
        Overrides::from_jsonl(engine, "set.jsonl", &lines.join("\n")).expect("the set checks")
    }

    /// Whether changing subject `a`'s one record from `before` to `after` takes and gives.
    fn effect(before: &str, after: &str) -> (bool, bool) {
        let engine = Engine::from_source("p", POLICY).expect("checks");
        let (old, new) = (set(&engine, &[before]), set(&engine, &[after]));
        let (was, is) = (old.records("a"), new.records("a"));
        effect_change(&engine, &was[0].change, &is[0].change)
    }

    #[test]
    fn a_limit_record_compares_as_the_limits_it_leaves_of_every_plan() {
        let limit = |op: &str, value: &str| format!(r#"{{"subject":"a","limit":"calls","op":"{op}","value":{value}}}"#);
        // A floor below which the plan used to be capped: it only ever raises.
        assert_eq!(effect(&limit("at_most", "5000"), &limit("=", "5000")), (false, true));
        // 500 on top of any plan is never less than 500.
        assert_eq!(effect(&limit("=", "500"), &limit("+=", "500")), (false, true));
        // 10 flat is less than 10 on top of any plan above zero.
        assert_eq!(effect(&limit("+=", "10"), &limit("=", "10")), (true, false));
        // A replacement value against a ceiling: more below it, less above.
        assert_eq!(effect(&limit("=", "100"), &limit("at_most", "200")), (true, true));
        assert_eq!(effect(&limit("at_least", "100"), &limit("at_least", "50")), (true, false));
        assert_eq!(effect(&limit("=", "100"), &limit("=", "\"unlimited\"")), (false, true));
        let per_seat = r#"{"subject":"a","limit":"calls","op":"=","value":100,"per_seat":true}"#;
        assert_eq!(effect(&limit("=", "1000"), per_seat), (true, true));
    }

    #[test]
    fn features_and_settings_compare_by_what_they_give() {
        let feature = |op: &str| format!(r#"{{"subject":"a","feature":"sso","op":"{op}"}}"#);
        assert_eq!(effect(&feature("grant"), &feature("revoke")), (true, false));
        assert_eq!(effect(&feature("revoke"), &feature("grant")), (false, true));
        let sla = |value: &str| format!(r#"{{"subject":"a","setting":"sla","op":"=","value":"{value}"}}"#);
        assert_eq!(effect(&sla("99.9%"), &sla("99.99%")), (false, true), "higher is better by default");
        assert_eq!(effect(&sla("99.99%"), &sla("99.9%")), (true, false));
    }

    /// Records match by effect and window first, then by start, then in order; what is left
    /// is added or removed.
    #[test]
    fn records_of_one_target_pair_by_effect_then_start_then_order() {
        let engine = Engine::from_source("p", POLICY).expect("checks");
        let old = set(
            &engine,
            &[
                r#"{"subject":"a","limit":"calls","op":"=","value":5,"until":"2027-01-01T00:00:00Z"}"#,
                r#"{"subject":"a","limit":"calls","op":"+=","value":1,"from":"2027-01-01T00:00:00Z","until":"2027-02-01T00:00:00Z"}"#,
            ],
        );
        let new = set(
            &engine,
            &[
                r#"{"subject":"a","limit":"calls","op":"+=","value":2,"from":"2027-01-01T00:00:00Z","until":"2027-03-01T00:00:00Z"}"#,
                r#"{"subject":"a","limit":"calls","op":"=","value":5,"until":"2027-01-01T00:00:00Z"}"#,
                r#"{"subject":"a","limit":"calls","op":"=","value":9,"from":"2027-03-01T00:00:00Z"}"#,
            ],
        );
        let (was, is) = (old.records("a"), new.records("a"));
        let found = pairs(&was.iter().collect::<Vec<_>>(), &is.iter().collect::<Vec<_>>());
        let shape: Vec<(Option<u32>, Option<u32>)> =
            found.iter().map(|(b, a)| (b.map(|r| r.line), a.map(|r| r.line))).collect();
        assert_eq!(shape, [(Some(1), Some(2)), (Some(2), Some(1)), (None, Some(3))]);

        let report = between(&engine, &old, &new, ["p".into(), "old".into(), "new".into()]);
        assert_eq!((report_count(&report), report_taking_away(&report)), (3, 0));
    }

    fn report_count(report: &Report) -> usize {
        report.count()
    }

    fn report_taking_away(report: &Report) -> usize {
        report.taking_away()
    }
}
