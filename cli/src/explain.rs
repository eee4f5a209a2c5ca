//! `entitle explain POLICY --tier T [--overrides FILE] (--feature F | --limit L --used N | --setting S)`

use std::io::Write;
use std::path::PathBuf;

use entitle::{render, Amount, Engine, Explanation, LimitId, Overrides, Request, Source, Status, Usage};
use serde_json::Value;

use crate::{load, unknown_name, Format, CLEAN, USAGE_OR_IO};

/// The subject, the question, and how to print the answer.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("question").required(true).args(["feature", "limit", "setting"])))]
pub(crate) struct Args {
    /// The policy file.
    policy: PathBuf,
    /// The subject's tier.
    #[arg(long)]
    tier: String,
    /// The subject's key (for rollouts, and the records of `--overrides`).
    #[arg(long, default_value = "")]
    key: String,
    /// An override set (JSON Lines) checked against the policy; the subject `--key` takes its
    /// records from it.
    #[arg(long, value_name = "FILE")]
    overrides: Option<PathBuf>,
    /// An add-on the subject holds. Repeatable.
    #[arg(long = "addon", value_name = "NAME")]
    addons: Vec<String>,
    /// The instant to answer at: RFC 3339 in UTC (`2026-11-21T10:00:00Z`) or Unix seconds.
    /// Defaults to now.
    #[arg(long)]
    now: Option<String>,
    /// The subject's billing anchor day (1–31), where monthly windows start.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=31))]
    anchor: u8,
    /// Ask about a feature.
    #[arg(long)]
    feature: Option<String>,
    /// Ask about a limit (with `--used`).
    #[arg(long, requires = "used")]
    limit: Option<String>,
    /// How much of the limit is used.
    #[arg(long, requires = "limit")]
    used: Option<u64>,
    /// How much more the request asks for.
    #[arg(long, requires = "limit", default_value_t = 0)]
    requested: u64,
    /// Ask about a setting.
    #[arg(long)]
    setting: Option<String>,
    /// How to print the explanation.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(crate) fn run(args: &Args) -> u8 {
    let (source, engine) = match load(&args.policy) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    let overrides = match args.overrides.as_deref().map(|file| crate::overrides::load(&engine, file)).transpose() {
        Ok(overrides) => overrides,
        Err(status) => return status,
    };
    let text = match explain(args, &source, &engine, overrides.as_ref()) {
        Ok(text) => text,
        Err(message) => {
            eprintln!("{message}");
            return USAGE_OR_IO;
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => CLEAN,
        Err(_) => USAGE_OR_IO,
    }
}

fn explain(args: &Args, source: &Source, engine: &Engine, overrides: Option<&Overrides>) -> Result<String, String> {
    let now = match &args.now {
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        Some(text) => text.parse::<i64>().ok().or_else(|| entitle::parse_instant(text)).ok_or_else(|| {
            format!("entitle: `--now {text}` is not an RFC 3339 instant in UTC (like `2026-11-21T10:00:00Z`) or Unix seconds")
        })?,
    };
    let tier = engine
        .tier(&args.tier)
        .ok_or_else(|| unknown_name("tier", &args.tier, &engine.tiers().map(|(_, n)| n).collect::<Vec<_>>()))?;
    let mut addons = Vec::new();
    for name in &args.addons {
        let known = || engine.addons().map(|(_, n)| n).collect::<Vec<_>>();
        addons.push(engine.addon(name).ok_or_else(|| unknown_name("add-on", name, &known()))?);
    }
    let request = Request::new(tier, now).with_key(&args.key).with_addons(&addons).with_billing_anchor(args.anchor);
    // After the key, which the set looks the subject's records up by.
    let request = match overrides {
        Some(set) => request.with_overrides(set),
        None => request,
    };
    let subject = if args.key.is_empty() {
        format!("a subject on tier `{}`", args.tier)
    } else {
        format!("subject `{}` on tier `{}`", args.key, args.tier)
    };
    let held = if args.addons.is_empty() {
        String::new()
    } else {
        format!(" holding {}", args.addons.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "))
    };
    let at = entitle::format_instant(now);

    if let Some(feature_name) = &args.feature {
        let feature = engine.feature(feature_name).ok_or_else(|| {
            unknown_name("feature", feature_name, &engine.features().map(|(_, n)| n).collect::<Vec<_>>())
        })?;
        let why = engine.explain_feature(&request, feature);
        let verdict = if why.answer.allowed { "may use" } else { "may not use" };
        let headline = format!("{subject}{held} {verdict} feature `{feature_name}` at {at}.");
        let answer = entitle::wire::decision(&why.answer);
        return Ok(match args.format {
            Format::Text => text(source, &headline, &why.answer.reason.to_string(), &why, &[]),
            Format::Json => json_document(answer, &why),
        });
    }
    if let Some(limit_name) = &args.limit {
        let limit = engine
            .limit(limit_name)
            .ok_or_else(|| unknown_name("limit", limit_name, &engine.limits().map(|(_, n)| n).collect::<Vec<_>>()))?;
        let usage = Usage::used(args.used.unwrap_or(0)).requesting(args.requested);
        let why = engine.explain_limit(&request, limit, usage);
        let quota = &why.answer;
        // A limit that draws on a pool is answered in the pool's terms: its usage, limit and
        // what is left are the pool's, and only the request is in the limit's own units.
        let pool = engine.pool(limit);
        let (counted, cost) = engine.pool_terms(limit, usage.requested);
        let total = usage.used.saturating_add(cost);
        let verdict = match quota.status {
            Status::Within => "may use",
            Status::Warning => "may use, with a warning,",
            Status::Overage => "may use, as overage,",
            Status::Exceeded => "may not use",
        };
        // Amounts in the units the policy writes (`100 GiB`, `1_000_000`), read from its terms.
        let offer = engine.offer(tier, &addons).ok();
        let terms_of = |of: LimitId| {
            let index = engine.limits().position(|(id, _)| id == of)?;
            offer.as_ref()?.limits.get(index).cloned()
        };
        let (own, terms) = (terms_of(limit), terms_of(counted));
        let show = |a: Amount| terms.as_ref().map_or_else(|| a.to_string(), |t| t.format(a));
        let show_own = |a: Amount| own.as_ref().map_or_else(|| a.to_string(), |t| t.format(a));
        let pool_name = pool.and_then(|p| engine.limit_name(p));
        let cost_note =
            pool_name.map_or_else(String::new, |p| format!(" ({} of pool `{p}`)", show(Amount::Finite(cost))));
        let headline = format!(
            "{subject}{held} {verdict} {} more of limit `{limit_name}`{cost_note} with {} used ({} in all) at {at}.",
            show_own(Amount::Finite(usage.requested)),
            show(Amount::Finite(usage.used)),
            show(Amount::Finite(total))
        );
        let mut facts = Vec::new();
        if let Some(p) = pool_name {
            let units = engine.draw_of(limit, usage, *quota).remaining_units;
            facts.push(format!(
                "pool: `{p}`, whose usage the query gives; what is left pays for {} of `{limit_name}`",
                show_own(units)
            ));
        }
        facts.push(format!("limit: {}", show(quota.limit)));
        if let Some(cap) = quota.soft_cap {
            facts.push(format!("soft cap: {} (overage is allowed up to it)", show(cap)));
        }
        facts.push(format!("remaining before the limit: {}", show(quota.remaining)));
        facts.push(format!("status: {}", quota.status.as_str()));
        if let Some(window) = quota.window() {
            let (start, end) = (entitle::format_instant(window.start), entitle::format_instant(window.end));
            facts.push(if quota.rolling() {
                format!("window: usage counts from {start} to {end}, rolling: it never resets, usage ages out")
            } else {
                format!("window: usage counts from {start}; the counter resets at {end}")
            });
        }
        let answer = entitle::wire::limit_quota(engine, limit, usage, quota);
        return Ok(match args.format {
            Format::Text => text(source, &headline, &quota.reason.to_string(), &why, &facts),
            Format::Json => json_document(answer, &why),
        });
    }
    let setting_name = args.setting.as_deref().unwrap_or_default();
    let setting = engine
        .setting(setting_name)
        .ok_or_else(|| unknown_name("setting", setting_name, &engine.settings().map(|(_, n)| n).collect::<Vec<_>>()))?;
    let value = engine.setting_value(&request, setting).map_err(|reason| format!("entitle: {reason}"))?;
    Ok(match (args.format, value) {
        (Format::Text, Some(value)) => {
            // A setting answer has no steps; the override record that set it is named here.
            let record = overrides.map(|set| set.records(&args.key)).unwrap_or_default().into_iter().find(|r| {
                matches!(r.change, entitle::OverrideChange::Setting { setting: s, .. } if s == setting)
                    && r.from.is_none_or(|from| from <= now)
                    && r.until.is_none_or(|until| now < until)
            });
            let file = render::printable_text(overrides.map_or("", Overrides::name));
            let by =
                record.map_or_else(String::new, |r| format!(", set by the override on line {} of `{file}`", r.line));
            format!("{subject}{held} has setting `{setting_name}` = {value} at {at}{by}.\n")
        }
        (Format::Text, None) => {
            format!("{subject}{held} has no value for setting `{setting_name}` at {at}: neither the tier (nor an ancestor) nor a held add-on sets it.\n")
        }
        (Format::Json, value) => entitle::wire::setting_display(setting_name, value) + "\n",
    })
}

/// The explanation for people: the headline, the reason, facts, each rule with its source
/// line, and the upgrade hint.
fn text<A>(source: &Source, headline: &str, reason: &str, why: &Explanation<A>, facts: &[String]) -> String {
    let mut out = format!("{headline}\nreason: {reason}\n");
    for fact in facts {
        out += &format!("{fact}\n");
    }
    if !why.steps.is_empty() {
        out += "\nbecause:\n";
        for (number, step) in why.steps.iter().enumerate() {
            out += &format!("  {}. {}\n", number + 1, step.rule);
            if let Some(span) = step.span {
                for line in render::excerpt(source, span).lines() {
                    out += &format!("     {line}\n");
                }
            }
        }
    }
    if let Some(upgrade) = &why.upgrade {
        let mut options = Vec::new();
        if let Some(tier) = &upgrade.tier {
            options.push(format!("move to tier `{tier}`"));
        }
        if let Some(addon) = &upgrade.addon {
            let mut option = match upgrade.quantity {
                Some(quantity) => format!("hold {quantity} of the add-on `{addon}`"),
                None => format!("add the add-on `{addon}`"),
            };
            if let Some(ends) = upgrade.ends {
                option.push_str(&format!(" (a trial that would end at {})", entitle::format_instant(ends)));
            }
            options.push(option);
        }
        if !options.is_empty() {
            out += &format!("\nto allow it: {}.\n", options.join(", or "));
        }
    }
    out
}

/// `{"answer": {...}, "explain": {"steps", "upgrade"}}`, as the JSON protocol shapes them.
fn json_document<A>(answer: serde_json::Map<String, Value>, why: &Explanation<A>) -> String {
    entitle::wire::explained(&answer, why) + "\n"
}
