//! `entitle matrix POLICY [--addon NAME]… [--format text|markdown|json|csv]`

use std::io::Write;
use std::path::Path;

use entitle::plan::{LimitTerms, Offer};
use entitle::{Access, Engine};

use crate::{load, unknown_name, MatrixFormat, CLEAN, USAGE_OR_IO};

pub(crate) fn run(policy: &Path, addon_names: &[String], format: MatrixFormat) -> u8 {
    let (_, engine) = match load(policy) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    let mut addons = Vec::new();
    for name in addon_names {
        match engine.addon(name) {
            Some(id) => addons.push(id),
            None => {
                let known: Vec<&str> = engine.addons().map(|(_, n)| n).collect();
                eprintln!("{}", unknown_name("add-on", name, &known));
                return USAGE_OR_IO;
            }
        }
    }
    let offers: Vec<Offer> = engine.tiers().filter_map(|(tier, _)| engine.offer(tier, &addons).ok()).collect();
    let text = match format {
        MatrixFormat::Json => entitle::wire::matrix(&engine, addon_names, &offers) + "\n",
        MatrixFormat::Csv => table(&engine, &offers).iter().map(|row| csv_row(row) + "\n").collect(),
        MatrixFormat::Text => aligned(&table(&engine, &offers)) + &notes(&offers),
        MatrixFormat::Markdown => markdown(&table(&engine, &offers)) + &notes(&offers),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => CLEAN,
        Err(_) => USAGE_OR_IO,
    }
}

/// The table as rows of cells: a header row (`""`, then the tiers), then one row per feature,
/// limit and setting.
fn table(engine: &Engine, offers: &[Offer]) -> Vec<Vec<String>> {
    let mut rows = vec![std::iter::once(String::new()).chain(offers.iter().map(|o| o.tier.clone())).collect()];
    for (index, (_, name)) in engine.features().enumerate() {
        let cells = offers.iter().map(|o| o.features.get(index).map_or(String::new(), |f| feature_cell(f.access)));
        rows.push(std::iter::once(format!("feature {name}")).chain(cells).collect());
    }
    for (index, (_, name)) in engine.limits().enumerate() {
        let measure = offers.first().and_then(|o| o.limits.get(index)).map_or(String::new(), |l| l.measure.clone());
        let cells = offers.iter().map(|o| o.limits.get(index).map_or(String::new(), limit_cell));
        rows.push(std::iter::once(format!("limit {name} ({measure})")).chain(cells).collect());
    }
    for (index, (_, name)) in engine.settings().enumerate() {
        let cells = offers.iter().map(|o| {
            o.settings.get(index).and_then(|s| s.value.as_ref()).map_or("not set".to_string(), ToString::to_string)
        });
        rows.push(std::iter::once(format!("setting {name}")).chain(cells).collect());
    }
    rows
}

fn feature_cell(access: Access) -> String {
    match access {
        Access::Granted => "yes".to_string(),
        Access::Rollout(share) => format!("{share} rollout"),
        Access::NotGranted => "no".to_string(),
        Access::Revoked => "no (revoked)".to_string(),
    }
}

/// `100 GiB`, `1_000_000 (soft to 1_200_000, warn at 90%)`, `not set`.
fn limit_cell(terms: &LimitTerms) -> String {
    let mut notes = Vec::new();
    if terms.soft_cap.is_some() {
        notes.push(terms.soft_text());
    }
    if let Some(warn) = terms.warn {
        notes.push(format!("warn at {warn}"));
    }
    if notes.is_empty() {
        terms.value_text()
    } else {
        format!("{} ({})", terms.value_text(), notes.join(", "))
    }
}

/// Add-ons named that leave some tiers unchanged because they do not attach to them.
fn notes(offers: &[Offer]) -> String {
    let mut out = String::new();
    for offer in offers {
        for addon in &offer.addons_not_attached {
            out +=
                &format!("\nnote: add-on `{addon}` does not attach to `{}`, so it changes nothing there", offer.tier);
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, &width)| format!("{cell:width$}")).collect();
        out += line.join("  ").trim_end();
        out.push('\n');
    }
    out
}

fn markdown(rows: &[Vec<String>]) -> String {
    let escape = |cell: &String| cell.replace('|', "\\|");
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        out += &format!("| {} |\n", row.iter().map(escape).collect::<Vec<_>>().join(" | "));
        if index == 0 {
            out += &format!("|{}\n", " --- |".repeat(row.len()));
        }
    }
    out
}

/// One CSV record: cells with a comma, quote or line break are quoted, quotes doubled.
fn csv_row(row: &[String]) -> String {
    row.iter()
        .map(|cell| {
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}
