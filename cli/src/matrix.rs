//! `entitle matrix POLICY [--addon NAME]… [--overrides FILE] [--format text|markdown|json|csv]`

use std::io::Write;
use std::path::Path;

use entitle::plan::{LimitTerms, Offer};
use entitle::{Access, AddonId, Amount, Engine};

use crate::{load, unknown_name, MatrixFormat, CLEAN, USAGE_OR_IO};

pub(crate) fn run(policy: &Path, addon_names: &[String], overrides: Option<&Path>, format: MatrixFormat) -> u8 {
    if overrides.is_some() && format == MatrixFormat::Csv {
        // One CSV document holds one table; the records are a second one.
        eprintln!("entitle: `--overrides` is shown in the text, markdown and json formats, not in csv");
        return USAGE_OR_IO;
    }
    let (_, engine) = match load(policy) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    let overrides = match overrides.map(|file| crate::overrides::load(&engine, file)).transpose() {
        Ok(overrides) => overrides,
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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let offer = |(tier, _)| engine.offer(tier, &addons).ok();
    let written = match format {
        // One tier at a time, each offer computed as the document reaches it.
        MatrixFormat::Json => {
            let offers = engine.tiers().filter_map(offer);
            entitle::wire::write_matrix_with_overrides(&mut out, &engine, addon_names, offers, overrides.as_ref())
                .and_then(|()| writeln!(out))
        }
        // A row needs every tier, so the tiers' terms are held (the size of the compiled
        // tables); the rows are made and written one at a time.
        MatrixFormat::Csv | MatrixFormat::Text | MatrixFormat::Markdown => {
            let offers: Vec<Offer> = engine.tiers().filter_map(offer).collect();
            let rows = || rows(&engine, &offers);
            match (format, &overrides) {
                (MatrixFormat::Csv, _) => csv(&mut out, rows()),
                (MatrixFormat::Text, set) => {
                    aligned(&mut out, rows).and_then(|()| notes(&mut out, &engine, &addons, &offers)).and_then(|()| {
                        set.as_ref().map_or(Ok(()), |set| crate::overrides::list_text(&mut out, &engine, set))
                    })
                }
                (_, set) => {
                    markdown(&mut out, rows()).and_then(|()| notes(&mut out, &engine, &addons, &offers)).and_then(
                        |()| set.as_ref().map_or(Ok(()), |set| crate::overrides::list_markdown(&mut out, &engine, set)),
                    )
                }
            }
        }
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => CLEAN,
        Err(_) => USAGE_OR_IO,
    }
}

/// The table's rows, made as they are asked for: a header row (`""`, then the tiers), then
/// one row per feature, limit and setting.
fn rows<'a>(engine: &'a Engine, offers: &'a [Offer]) -> impl Iterator<Item = Vec<String>> + 'a {
    let header = std::iter::once(std::iter::once(String::new()).chain(offers.iter().map(|o| o.tier.clone())).collect());
    let features = engine.features().enumerate().map(move |(index, (_, name))| {
        let cells = offers.iter().map(move |o| o.features.get(index).map_or(String::new(), |f| feature_cell(f.access)));
        std::iter::once(format!("feature {name}")).chain(cells).collect()
    });
    let limits = engine.limits().enumerate().map(move |(index, (_, name))| {
        let measure = offers.first().and_then(|o| o.limits.get(index)).map_or(String::new(), |l| l.measure.clone());
        let cells = offers.iter().map(move |o| o.limits.get(index).map_or(String::new(), limit_cell));
        std::iter::once(format!("limit {name} ({measure})")).chain(cells).collect()
    });
    let settings = engine.settings().enumerate().map(move |(index, (_, name))| {
        let cells = offers.iter().map(move |o| {
            o.settings.get(index).and_then(|s| s.value.as_ref()).map_or("not set".to_string(), ToString::to_string)
        });
        std::iter::once(format!("setting {name}")).chain(cells).collect()
    });
    header.chain(features).chain(limits).chain(settings)
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

/// Add-ons named that leave some tiers unchanged because they do not attach to them, and
/// add-ons whose maximum quantity or trial the table does not show: a blank line, then one
/// note a line.
fn notes(out: &mut impl Write, engine: &Engine, addons: &[AddonId], offers: &[Offer]) -> std::io::Result<()> {
    let mut any = false;
    for terms in addons.iter().filter_map(|&addon| engine.addon_terms(addon)) {
        let shown = match (terms.max_quantity != Amount::Finite(1), terms.trial.is_some()) {
            (false, false) => continue,
            (true, false) => "held once",
            (false, true) => "within its trial",
            (true, true) => "held once, within its trial",
        };
        write!(out, "\nnote: add-on `{}` ({}) is shown {shown}", terms.name, terms.notes())?;
        any = true;
    }
    for offer in offers {
        for addon in &offer.addons_not_attached {
            write!(out, "\nnote: add-on `{addon}` does not attach to `{}`, so it changes nothing there", offer.tier)?;
            any = true;
        }
    }
    if any {
        writeln!(out)?;
    }
    Ok(())
}

/// The rows in aligned columns, two spaces apart. Two passes over `rows`: one for the columns'
/// widths, one to write, so that no more than a row is held.
fn aligned<I: Iterator<Item = Vec<String>>>(out: &mut impl Write, rows: impl Fn() -> I) -> std::io::Result<()> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows() {
        if widths.is_empty() {
            widths = vec![0; row.len()];
        }
        for (width, cell) in widths.iter_mut().zip(&row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in rows() {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, &width)| format!("{cell:width$}")).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

fn markdown(out: &mut impl Write, rows: impl Iterator<Item = Vec<String>>) -> std::io::Result<()> {
    let escape = |cell: &String| cell.replace('|', "\\|");
    for (index, row) in rows.enumerate() {
        writeln!(out, "| {} |", row.iter().map(escape).collect::<Vec<_>>().join(" | "))?;
        if index == 0 {
            writeln!(out, "|{}", " --- |".repeat(row.len()))?;
        }
    }
    Ok(())
}

fn csv(out: &mut impl Write, rows: impl Iterator<Item = Vec<String>>) -> std::io::Result<()> {
    rows.into_iter().try_for_each(|row| writeln!(out, "{}", csv_row(&row)))
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

#[cfg(test)]
#[expect(clippy::expect_used, reason = "a test fails loudly, with the value that broke it")]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A writer whose bytes the rows being made can see.
    struct Shared<'a>(&'a RefCell<Vec<u8>>);

    impl Write for Shared<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The table's rows, noting in `seen`, as each feature row after the first is made,
    /// whether the feature row before it has reached `written`.
    fn watched<'a>(
        engine: &'a Engine,
        offers: &'a [Offer],
        written: &'a RefCell<Vec<u8>>,
        seen: &'a RefCell<Vec<bool>>,
    ) -> impl Iterator<Item = Vec<String>> + 'a {
        let mut previous = String::new();
        rows(engine, offers).inspect(move |row| {
            if previous.starts_with("feature") {
                seen.borrow_mut().push(String::from_utf8_lossy(&written.borrow()).contains(previous.as_str()));
            }
            previous = row.first().cloned().unwrap_or_default();
        })
    }

    /// Every form writes each row before it makes the next, so that the table is never held
    /// whole, whatever its size.
    #[test]
    fn each_row_is_written_before_the_next_is_made() {
        let mut text = String::from("policy \"p\"\n");
        text += &(0..40).map(|f| format!("feature f{f}\n")).collect::<String>();
        text += &(0..3).map(|t| format!("tier t{t} {{ grant f{t} }}\n")).collect::<String>();
        let engine = Engine::from_source("p", &text).expect("checks");
        let offers: Vec<Offer> = engine.tiers().filter_map(|(tier, _)| engine.offer(tier, &[]).ok()).collect();
        for form in ["text", "markdown", "csv"] {
            let (written, seen) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
            let mut out = Shared(&written);
            match form {
                "text" => aligned(&mut out, || watched(&engine, &offers, &written, &seen)),
                "markdown" => markdown(&mut out, watched(&engine, &offers, &written, &seen)),
                _ => csv(&mut out, watched(&engine, &offers, &written, &seen)),
            }
            .expect("written");
            let seen = seen.into_inner();
            // The last pass over the rows is the one that writes them (`text` measures first).
            let writing = seen.get(seen.len().saturating_sub(39)..).unwrap_or_default();
            assert!(writing.len() == 39 && writing.iter().all(|&w| w), "{form}: {seen:?}");
        }
    }
}
