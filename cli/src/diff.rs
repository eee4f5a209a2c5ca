//! `entitle diff OLD NEW`, `entitle diff POLICY --tiers FROM TO` and
//! `entitle diff POLICY --overrides OLD NEW` (the last in `override_diff.rs`)

use std::io::Write;
use std::path::PathBuf;

use entitle::plan::{addon_changes, changes, Change, ChangeKind, Offer};
use entitle::wire::{self, DiffStatus, DiffSummary};
use entitle::{AddonId, Engine, TierId};
use serde_json::Value;

use crate::{load, unknown_name, Format, CLEAN, FINDINGS, USAGE_OR_IO};

pub(crate) fn run(
    policies: &[PathBuf],
    tiers: Option<&[String]>,
    overrides: Option<&[PathBuf]>,
    format: Format,
    exit_code: bool,
) -> u8 {
    let report = match (policies, tiers, overrides) {
        ([policy], None, Some([old, new])) => match crate::override_diff::report(policy, old, new) {
            Ok(report) => report,
            Err(status) => return status,
        },
        ([policy], Some([from, to]), None) => {
            let engine = match load(policy) {
                Ok((_, engine)) => engine,
                Err(status) => return status,
            };
            match between_tiers(&engine, from, to, &policy.display().to_string()) {
                Ok(report) => report,
                Err(message) => {
                    eprintln!("{message}");
                    return USAGE_OR_IO;
                }
            }
        }
        ([old, new], None, None) => {
            let (old_engine, new_engine) = match (load(old), load(new)) {
                (Ok((_, old)), Ok((_, new))) => (old, new),
                (Err(status), _) | (_, Err(status)) => return status,
            };
            between_policies(&old_engine, &new_engine, &old.display().to_string(), &new.display().to_string())
        }
        _ => {
            eprintln!(
                "entitle: `diff` takes OLD and NEW, or one policy with `--tiers FROM TO` or `--overrides OLD NEW`"
            );
            return USAGE_OR_IO;
        }
    };
    let summary = DiffSummary { changes: report.count, taking_away: report.taking_away };
    let text = match format {
        Format::Text => {
            let mut text = report.text;
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            if summary.changes == 0 {
                text += "no changes\n";
            } else {
                text += &format!(
                    "{} change{}, {} taking something away\n",
                    summary.changes,
                    plural(summary.changes),
                    summary.taking_away
                );
            }
            text
        }
        Format::Json => report.document.json(summary) + "\n",
    };
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        return USAGE_OR_IO;
    }
    if exit_code && summary.taking_away > 0 {
        FINDINGS
    } else {
        CLEAN
    }
}

/// A diff as text and its counts, with what its JSON document is made of.
pub(crate) struct Report {
    text: String,
    document: Document,
    count: usize,
    taking_away: usize,
}

#[cfg(test)]
impl Report {
    /// Every change counted.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The changes that take something away.
    pub(crate) fn taking_away(&self) -> usize {
        self.taking_away
    }
}

/// The findings of a diff in the pieces `wire` shapes into its JSON document once the counts
/// are known.
pub(crate) enum Document {
    Tiers {
        policy: String,
        from: String,
        to: String,
        changes: Vec<Change>,
    },
    Policies {
        before: String,
        after: String,
        tiers: Vec<Value>,
        addons: Vec<Value>,
        addon_effects_compared: bool,
    },
    /// Two override sets of one policy: each subject's key, whether something was taken from
    /// it, and its changes.
    Overrides {
        policy: String,
        before: String,
        after: String,
        subjects: Vec<(String, bool, Vec<Value>)>,
    },
}

impl Document {
    fn json(self, summary: DiffSummary) -> String {
        match self {
            Document::Tiers { policy, from, to, changes } => wire::tier_move(&policy, &from, &to, &changes, summary),
            Document::Policies { before, after, tiers, addons, addon_effects_compared } => {
                wire::policy_diff(&before, &after, tiers, addons, addon_effects_compared, summary)
            }
            Document::Overrides { policy, before, after, subjects } => {
                wire::override_diff(&policy, &before, &after, subjects, summary)
            }
        }
    }
}

/// A section of a diff's text with its counts.
#[derive(Default)]
pub(crate) struct Section {
    pub(crate) text: String,
    pub(crate) count: usize,
    pub(crate) taking_away: usize,
}

impl Section {
    /// Counts a change and writes its line (indented under a heading).
    pub(crate) fn line(&mut self, indent: &str, takes_away: bool, mark: char, text: &str) {
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

    /// The report of this section, with its JSON document's pieces.
    pub(crate) fn into_report(self, document: Document) -> Report {
        Report { text: self.text, document, count: self.count, taking_away: self.taking_away }
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
        ChangeKind::LimitPerSeat => ("limit", " per seat"),
        ChangeKind::AddonMaximum => ("add-on", " maximum"),
        ChangeKind::AddonTrial => ("add-on", " trial"),
        ChangeKind::Rate => ("limit", " rate"),
        _ => ("item", ""),
    };
    format!("{what} `{}`{aspect}: {} → {}", change.name, change.before, change.after)
}

fn offer(engine: &Engine, tier: TierId, addons: &[AddonId]) -> Option<Offer> {
    engine.offer(tier, addons).ok()
}

/// What moving a customer from tier `from` to tier `to` of the policy at `policy` gives and
/// takes.
fn between_tiers(engine: &Engine, from: &str, to: &str, policy: &str) -> Result<Report, String> {
    let known: Vec<&str> = engine.tiers().map(|(_, n)| n).collect();
    let resolve = |name: &str| engine.tier(name).ok_or_else(|| unknown_name("tier", name, &known));
    let (from_id, to_id) = (resolve(from)?, resolve(to)?);
    let mut section = Section::default();
    section.text += &format!("from `{from}` to `{to}`:\n");
    let found = match (offer(engine, from_id, &[]), offer(engine, to_id, &[])) {
        (Some(before), Some(after)) => changes(&before, &after),
        _ => Vec::new(),
    };
    for change in &found {
        section.change("  ", change);
    }
    let document =
        Document::Tiers { policy: policy.to_string(), from: from.to_string(), to: to.to_string(), changes: found };
    Ok(section.into_report(document))
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

/// What changed between two versions of a policy, tier by tier and add-on by add-on; `before`
/// and `after` name them.
fn between_policies(old: &Engine, new: &Engine, before: &str, after: &str) -> Report {
    let mut report = Section::default();
    let mut tiers_json = Vec::new();
    // The changes each tier saw without add-ons, so add-on sections show only what is theirs.
    let mut tier_changes: Vec<(String, Vec<Change>)> = Vec::new();
    for name in union(old.tiers().map(|(_, n)| n).collect(), new.tiers().map(|(_, n)| n).collect()) {
        match (old.tier(name), new.tier(name)) {
            (Some(_), None) => {
                report.text += &format!("tier `{name}`:\n");
                report.line("  ", true, '-', "removed");
                tiers_json.push(wire::tier_diff(name, DiffStatus::Removed, &[]));
            }
            (None, Some(_)) => {
                report.text += &format!("tier `{name}`:\n");
                report.line("  ", false, '+', "added");
                tiers_json.push(wire::tier_diff(name, DiffStatus::Added, &[]));
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
                    tiers_json.push(wire::tier_diff(name, DiffStatus::Changed, &found));
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
    }
    for name in union(old.addons().map(|(_, n)| n).collect(), new.addons().map(|(_, n)| n).collect()) {
        let mut section = Section::default();
        let mut json_changes = Vec::new();
        let status = match (old.addon(name), new.addon(name)) {
            (Some(_), None) => {
                section.line("  ", true, '-', "removed");
                DiffStatus::Removed
            }
            (None, Some(_)) => {
                section.line("  ", false, '+', "added");
                DiffStatus::Added
            }
            (Some(before), Some(after)) => {
                if let (Some(was), Some(is)) = (old.addon_terms(before), new.addon_terms(after)) {
                    for change in addon_changes(&was, &is) {
                        section.change("  ", &change);
                        json_changes.push(wire::change(&change));
                    }
                }
                for (tier, base) in &tier_changes {
                    let (Some(old_tier), Some(new_tier)) = (old.tier(tier), new.tier(tier)) else { continue };
                    let (was, is) = (old.attaches(before, old_tier), new.attaches(after, new_tier));
                    if was && !is {
                        section.line("  ", true, '-', &format!("no longer attaches to `{tier}`"));
                        json_changes.push(wire::attachment_change(tier, false));
                    } else if !was && is {
                        section.line("  ", false, '+', &format!("now attaches to `{tier}`"));
                        json_changes.push(wire::attachment_change(tier, true));
                    } else if was && is && compare_effects {
                        let (Some(b), Some(a)) = (offer(old, old_tier, &[before]), offer(new, new_tier, &[after]))
                        else {
                            continue;
                        };
                        for change in changes(&b, &a).iter().filter(|c| !base.contains(c)) {
                            section.change(&format!("  with `{tier}`: "), change);
                            json_changes.push(wire::addon_change(tier, change));
                        }
                    }
                }
                DiffStatus::Changed
            }
            (None, None) => continue,
        };
        if section.count > 0 {
            // The add-on as it is now (or was, if removed), with its maximum and trial.
            let terms = new.addon(name).and_then(|a| new.addon_terms(a));
            let notes = terms.or_else(|| old.addon(name).and_then(|a| old.addon_terms(a))).map(|t| t.notes());
            let notes = notes.filter(|n| !n.is_empty()).map(|n| format!(" ({n})")).unwrap_or_default();
            report.text += &format!("add-on `{name}`{notes}:\n{}", section.text);
            report.count += section.count;
            report.taking_away += section.taking_away;
            addons_json.push(wire::addon_diff(name, status, section.taking_away > 0, json_changes));
        }
    }
    report.into_report(Document::Policies {
        before: before.to_string(),
        after: after.to_string(),
        tiers: tiers_json,
        addons: addons_json,
        addon_effects_compared: compare_effects,
    })
}
