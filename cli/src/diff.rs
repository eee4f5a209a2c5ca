//! `entitle diff OLD NEW` and `entitle diff POLICY --tiers FROM TO`

use std::io::Write;
use std::path::PathBuf;

use entitle::plan::{changes, Change, ChangeKind, Offer};
use entitle::{AddonId, Engine, TierId};
use serde_json::{json, Value};

use crate::{load, unknown_name, Format, CLEAN, FINDINGS, USAGE_OR_IO};

pub(crate) fn run(policies: &[PathBuf], tiers: Option<&[String]>, format: Format, exit_code: bool) -> u8 {
    let report = match (policies, tiers) {
        ([policy], Some([from, to])) => {
            let engine = match load(policy) {
                Ok((_, engine)) => engine,
                Err(status) => return status,
            };
            match between_tiers(&engine, from, to) {
                Ok(mut report) => {
                    report.json.insert("policy".into(), json!(policy.display().to_string()));
                    report
                }
                Err(message) => {
                    eprintln!("{message}");
                    return USAGE_OR_IO;
                }
            }
        }
        ([old, new], None) => {
            let (old_engine, new_engine) = match (load(old), load(new)) {
                (Ok((_, old)), Ok((_, new))) => (old, new),
                (Err(status), _) | (_, Err(status)) => return status,
            };
            let mut report = between_policies(&old_engine, &new_engine);
            report.json.insert("before".into(), json!(old.display().to_string()));
            report.json.insert("after".into(), json!(new.display().to_string()));
            report
        }
        _ => {
            eprintln!("entitle: `diff` takes OLD and NEW, or one policy with `--tiers FROM TO`");
            return USAGE_OR_IO;
        }
    };
    let (count, taking) = (report.count, report.taking_away);
    let text = match format {
        Format::Text => {
            let mut text = report.text;
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            if count == 0 {
                text += "no changes\n";
            } else {
                text += &format!("{count} change{}, {taking} taking something away\n", plural(count));
            }
            text
        }
        Format::Json => {
            let mut json = report.json;
            json.insert("version".into(), json!(1));
            json.insert("summary".into(), json!({ "changes": count, "taking_away": taking }));
            serde_json::to_string_pretty(&Value::Object(json)).unwrap_or_default() + "\n"
        }
    };
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        return USAGE_OR_IO;
    }
    if exit_code && taking > 0 {
        FINDINGS
    } else {
        CLEAN
    }
}

/// A diff in both forms, with its counts.
struct Report {
    text: String,
    json: serde_json::Map<String, Value>,
    count: usize,
    taking_away: usize,
}

impl Report {
    fn new() -> Report {
        Report { text: String::new(), json: serde_json::Map::new(), count: 0, taking_away: 0 }
    }

    /// Counts a change and writes its line (indented under a heading).
    fn line(&mut self, indent: &str, takes_away: bool, mark: char, text: &str) {
        self.count += 1;
        self.taking_away += usize::from(takes_away);
        let note = if takes_away { " (takes away)" } else { "" };
        self.text += &format!("{indent}{mark} {text}{note}\n");
    }

    fn change(&mut self, indent: &str, change: &Change) {
        let mark = match (change.takes_away, change.gives) {
            (true, _) => '-',
            (false, true) => '+',
            (false, false) => '~',
        };
        self.line(indent, change.takes_away, mark, &describe(change));
    }
}

/// A change as one line: "limit `storage`: 100 GiB → 50 GiB".
fn describe(change: &Change) -> String {
    let (what, aspect) = match change.kind {
        ChangeKind::Feature => ("feature", ""),
        ChangeKind::Limit => ("limit", ""),
        ChangeKind::SoftCap => ("limit", " soft cap"),
        ChangeKind::Warn => ("limit", " warning"),
        ChangeKind::Measure => ("limit", " measure"),
        ChangeKind::Setting => ("setting", ""),
        _ => ("item", ""),
    };
    format!("{what} `{}`{aspect}: {} → {}", change.name, change.before, change.after)
}

fn offer(engine: &Engine, tier: TierId, addons: &[AddonId]) -> Option<Offer> {
    engine.offer(tier, addons).ok()
}

/// What moving a customer from tier `from` to tier `to` of one policy gives and takes.
fn between_tiers(engine: &Engine, from: &str, to: &str) -> Result<Report, String> {
    let known: Vec<&str> = engine.tiers().map(|(_, n)| n).collect();
    let resolve = |name: &str| engine.tier(name).ok_or_else(|| unknown_name("tier", name, &known));
    let (from_id, to_id) = (resolve(from)?, resolve(to)?);
    let mut report = Report::new();
    report.text += &format!("from `{from}` to `{to}`:\n");
    let found = match (offer(engine, from_id, &[]), offer(engine, to_id, &[])) {
        (Some(before), Some(after)) => changes(&before, &after),
        _ => Vec::new(),
    };
    for change in &found {
        report.change("  ", change);
    }
    report.json.insert("from".into(), json!(from));
    report.json.insert("to".into(), json!(to));
    report.json.insert("changes".into(), found.iter().map(entitle::wire::change).collect());
    Ok(report)
}

/// Names in `after`'s order, then those only `before` has. A set, so that a policy with
/// hundreds of thousands of tiers costs linear time, not a search per name.
fn union<'a>(before: Vec<&'a str>, after: Vec<&'a str>) -> Vec<&'a str> {
    let seen: std::collections::HashSet<&str> = after.iter().copied().collect();
    let mut out = after;
    out.extend(before.into_iter().filter(|name| !seen.contains(name)));
    out
}

/// The most (add-on, tier, item) cells the add-on comparison looks at. Past it, a policy with
/// thousands of add-ons each attached to thousands of tiers would take minutes, so add-ons are
/// compared by their attachments alone, and the report says so.
const ADDON_CELL_BUDGET: usize = 20_000_000;

/// What changed between two versions of a policy, tier by tier and add-on by add-on.
fn between_policies(old: &Engine, new: &Engine) -> Report {
    let mut report = Report::new();
    let mut tiers_json = Vec::new();
    // The changes each tier saw without add-ons, so add-on sections show only what is theirs.
    let mut tier_changes: Vec<(String, Vec<Change>)> = Vec::new();
    for name in union(old.tiers().map(|(_, n)| n).collect(), new.tiers().map(|(_, n)| n).collect()) {
        match (old.tier(name), new.tier(name)) {
            (Some(_), None) => {
                report.text += &format!("tier `{name}`:\n");
                report.line("  ", true, '-', "removed");
                tiers_json.push(json!({ "tier": name, "status": "removed", "takes_away": true, "changes": [] }));
            }
            (None, Some(_)) => {
                report.text += &format!("tier `{name}`:\n");
                report.line("  ", false, '+', "added");
                tiers_json.push(json!({ "tier": name, "status": "added", "takes_away": false, "changes": [] }));
            }
            (Some(before), Some(after)) => {
                let found = match (offer(old, before, &[]), offer(new, after, &[])) {
                    (Some(b), Some(a)) => changes(&b, &a),
                    _ => Vec::new(),
                };
                if !found.is_empty() {
                    report.text += &format!("tier `{name}`:\n");
                    for change in &found {
                        report.change("  ", change);
                    }
                    let takes_away = found.iter().any(|c| c.takes_away);
                    let list: Vec<Value> = found.iter().map(entitle::wire::change).collect();
                    tiers_json
                        .push(json!({ "tier": name, "status": "changed", "takes_away": takes_away, "changes": list }));
                }
                tier_changes.push((name.to_string(), found));
            }
            (None, None) => {}
        }
    }
    let mut addons_json = Vec::new();
    let items = new.features().len() + new.limits().len() + new.settings().len();
    let cells = new.addons().len().saturating_mul(tier_changes.len()).saturating_mul(items);
    let compare_effects = cells <= ADDON_CELL_BUDGET;
    if !compare_effects {
        report.text += &format!(
            "note: add-ons are compared by the tiers they attach to only: comparing what each gives each tier \
             would read {cells} cells, past the budget of {ADDON_CELL_BUDGET}\n"
        );
        report.json.insert("addon_effects_compared".into(), json!(false));
    }
    for name in union(old.addons().map(|(_, n)| n).collect(), new.addons().map(|(_, n)| n).collect()) {
        let mut section = Report::new();
        let mut json_changes = Vec::new();
        let status = match (old.addon(name), new.addon(name)) {
            (Some(_), None) => {
                section.line("  ", true, '-', "removed");
                "removed"
            }
            (None, Some(_)) => {
                section.line("  ", false, '+', "added");
                "added"
            }
            (Some(before), Some(after)) => {
                for (tier, base) in &tier_changes {
                    let (Some(old_tier), Some(new_tier)) = (old.tier(tier), new.tier(tier)) else { continue };
                    let (was, is) = (old.attaches(before, old_tier), new.attaches(after, new_tier));
                    if was && !is {
                        section.line("  ", true, '-', &format!("no longer attaches to `{tier}`"));
                        json_changes.push(json!({ "tier": tier, "kind": "attachment", "before": "attached", "after": "not attached", "takes_away": true }));
                    } else if !was && is {
                        section.line("  ", false, '+', &format!("now attaches to `{tier}`"));
                        json_changes.push(json!({ "tier": tier, "kind": "attachment", "before": "not attached", "after": "attached", "takes_away": false }));
                    } else if was && is && compare_effects {
                        let (Some(b), Some(a)) = (offer(old, old_tier, &[before]), offer(new, new_tier, &[after]))
                        else {
                            continue;
                        };
                        for change in changes(&b, &a).iter().filter(|c| !base.contains(c)) {
                            section.change(&format!("  with `{tier}`: "), change);
                            let mut entry = entitle::wire::change(change);
                            if let Value::Object(map) = &mut entry {
                                map.insert("tier".into(), json!(tier));
                            }
                            json_changes.push(entry);
                        }
                    }
                }
                "changed"
            }
            (None, None) => continue,
        };
        if section.count > 0 {
            report.text += &format!("add-on `{name}`:\n{}", section.text);
            report.count += section.count;
            report.taking_away += section.taking_away;
            let takes_away = section.taking_away > 0;
            addons_json
                .push(json!({ "addon": name, "status": status, "takes_away": takes_away, "changes": json_changes }));
        }
    }
    report.json.insert("tiers".into(), Value::Array(tiers_json));
    report.json.insert("addons".into(), Value::Array(addons_json));
    report
}
