//! Policies built by a structured generator, so that most inputs check, compiled and asked
//! arbitrary questions (unknown ids included): the engine agrees with the naive reference
//! evaluator on every answer. Sizes reach past 64 tiers and features, so the second bitset
//! word is exercised. An override set for the questions' own keys rides on every request, so
//! the overrides' checker and their application are compared with the reference too.
#![no_main]
#![expect(clippy::panic, reason = "a fuzz target reports a finding by panicking with what went wrong")]

use arbitrary::{Arbitrary, Unstructured};
use entitle::fuzzing::{compare_with_overrides, OverrideSpec, Question};
use libfuzzer_sys::fuzz_target;

/// One question as generated: tier, key index, add-on mask, instant, item, used, requested,
/// and how the add-ons are held (`Question::holding`).
type Asked = (u32, u8, u64, i64, u32, u64, u64, u64);

/// One override record as generated: key index, kind, item, operator, value, per seat, and
/// its window (`OverrideSpec`).
type Excepted = (u8, u8, u32, u8, u64, bool, Option<i64>, Option<i64>);

#[derive(Debug)]
struct Plan {
    text: String,
    keys: Vec<String>,
    questions: Vec<Asked>,
    overrides: Vec<Excepted>,
}

const ROLLOUTS: [&str; 6] = ["0%", "1%", "5%", "50%", "99.9999%", "100%"];
const NOWS: [i64; 6] = [i64::MIN, -1, 0, 100, 1_795_255_200, i64::MAX];

impl<'a> Arbitrary<'a> for Plan {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Plan> {
        let most_features = if u.ratio(1, 8)? { 130 } else { 6 };
        let features = u.int_in_range(1..=most_features)?;
        let most_tiers = if u.ratio(1, 8)? { 70 } else { 6 };
        let tiers: u32 = u.int_in_range(1..=most_tiers)?;
        let limits = u.int_in_range(0..=3)?;
        let addons = u.int_in_range(0..=4)?;
        let mut text = String::from("policy \"fuzz\"\n");
        for f in 0..features {
            text += &format!("feature f{f}\n");
        }
        let kinds = [
            " per day",
            " per month",
            " gauge",
            "",
            " per 5 hours",
            " per 2 weeks",
            " per 3 months",
            " rolling 7 days",
            " rolling 30 seconds",
        ];
        // Which limits may be pools: every one but a gauge.
        let mut pools = Vec::new();
        for l in 0..limits {
            // A window of any length now and then: `per N UNITS` for N up to the most allowed.
            if u.ratio(1, 8)? {
                let every: u16 = u.int_in_range(1..=entitle::Period::MAX_EVERY)?;
                let unit = u.choose(&entitle::Window::ALL)?;
                let window = entitle::Period { every, unit: *unit };
                // Rolling, now and then, where the unit has a fixed length.
                let how = if window.seconds().is_some() && u.ratio(1, 4)? { "rolling" } else { "per" };
                text += &format!(
                    "limit l{l} : count {how} {}\n",
                    if every == 1 { format!("1 {}", unit.as_str()) } else { window.to_string() }
                );
                pools.push(l);
            } else {
                let kind = u.choose(&kinds)?;
                text += &format!("limit l{l} : count{kind}\n");
                if *kind != " gauge" {
                    pools.push(l);
                }
            }
        }
        // Now and then a limit that draws on one of them, at a rate of any size, declared after
        // the limits the tiers set, so that none sets it.
        if !pools.is_empty() && u.ratio(1, 3)? {
            let pool = u.choose(&pools)?;
            let credits: u64 = u.int_in_range(1..=u64::MAX / 2)?;
            let per = u.choose(&["", " per 1_000", " per 7"])?;
            let ty = if per.is_empty() && u.ratio(1, 2)? { "duration" } else { "count" };
            let per = if ty == "duration" { " per 30 seconds" } else { per };
            text += &format!("limit d0 : {ty} draws l{pool} at {credits}{per}\n");
        }
        text += "setting s0 : percent\n";
        for t in 0..tiers {
            let parent = if t > 0 && u.ratio(2, 3)? {
                format!(" extends t{}", u.int_in_range(0..=t - 1)?)
            } else {
                String::new()
            };
            text += &format!("tier t{t}{parent} {{\n");
            if u.ratio(1, 10)? {
                text += "  grant all\n";
            }
            for f in 0..features {
                match u.int_in_range(0..=7)? {
                    0 => text += &format!("  grant f{f}\n"),
                    1 => text += &format!("  grant f{f} rollout {}\n", u.choose(&ROLLOUTS)?),
                    2 => text += &format!("  revoke f{f}\n"),
                    _ => {}
                }
            }
            for l in 0..limits {
                if u.ratio(1, 2)? {
                    let value: u64 = u.int_in_range(0..=100)?;
                    let soft = match u.int_in_range(0..=2)? {
                        0 => format!(" soft {}", value + u.int_in_range(0..=50)?),
                        1 => " soft".to_string(),
                        _ => String::new(),
                    };
                    let warn = if u.ratio(1, 3)? { " warn at 80%" } else { "" };
                    // Every limit here is a count, so any of them may be per seat; a finite soft
                    // cap is per seat with its value.
                    let (seat, soft) = if u.ratio(1, 4)? && soft != " soft" && !soft.is_empty() {
                        (" per seat", format!("{soft} per seat"))
                    } else if u.ratio(1, 4)? && soft.is_empty() {
                        (" per seat", soft)
                    } else {
                        ("", soft)
                    };
                    text += &format!("  limit l{l} = {value}{seat}{soft}{warn}\n");
                }
            }
            if u.ratio(1, 2)? {
                text += &format!("  set s0 = {}%\n", u.int_in_range(90..=99)?);
            }
            text += "}\n";
        }
        for a in 0..addons {
            text += &format!("addon a{a} for t{} {{\n", u.int_in_range(0..=tiers - 1)?);
            if u.ratio(1, 2)? {
                text += &format!("  grant f{}\n", u.int_in_range(0..=features - 1)?);
            }
            if limits > 0 && u.ratio(1, 2)? {
                let op = if u.ratio(1, 2)? { "+=" } else { "=" };
                let seat = if u.ratio(1, 4)? { " per seat" } else { "" };
                text +=
                    &format!("  limit l{} {op} {}{seat}\n", u.int_in_range(0..=limits - 1)?, u.int_in_range(0..=200)?);
            }
            match u.int_in_range(0..=3)? {
                0 => text += "  max 3\n",
                1 => text += "  max unlimited\n",
                _ => {}
            }
            if u.ratio(1, 2)? {
                text += &format!("  set s0 = {}%\n", u.int_in_range(90..=99)?);
            }
            match u.int_in_range(0..=5)? {
                0 | 1 => text += "  valid from 2026-11-01 until 2026-12-01\n",
                2 => text += "  valid for 100 s\n",
                3 => text += "  valid for 1 month until 2026-12-01\n",
                _ => {}
            }
            text += "}\n";
        }
        let keys = (0..u.int_in_range(1..=3)?).map(|_| String::arbitrary(u)).collect::<Result<_, _>>()?;
        let mut questions = Vec::new();
        for _ in 0..u.int_in_range(1..=16)? {
            let now = if u.ratio(1, 2)? { *u.choose(&NOWS)? } else { i64::arbitrary(u)? };
            questions.push((
                u32::arbitrary(u)? % (tiers + 1),
                u8::arbitrary(u)?,
                u64::arbitrary(u)?,
                now,
                u32::arbitrary(u)?,
                u.int_in_range(0..=300)?,
                u.int_in_range(0..=300)?,
                u64::arbitrary(u)?,
            ));
        }
        let mut overrides = Vec::new();
        for _ in 0..u.int_in_range(0..=6)? {
            let value = if u.ratio(1, 2)? { u.int_in_range(0..=300)? } else { u64::arbitrary(u)? };
            let instant = |u: &mut Unstructured<'a>| -> arbitrary::Result<Option<i64>> {
                Ok(if u.ratio(1, 2)? {
                    Some(if u.ratio(1, 2)? { *u.choose(&NOWS)? } else { i64::arbitrary(u)? })
                } else {
                    None
                })
            };
            let (from, until) = (instant(u)?, instant(u)?);
            overrides.push((
                u8::arbitrary(u)?,
                u8::arbitrary(u)?,
                u32::arbitrary(u)?,
                u8::arbitrary(u)?,
                value,
                bool::arbitrary(u)?,
                from,
                until,
            ));
        }
        Ok(Plan { text, keys, questions, overrides })
    }
}

fuzz_target!(|plan: Plan| {
    let questions: Vec<Question<'_>> = plan
        .questions
        .iter()
        .map(|&(tier, key, addons, now, item, used, requested, holding)| {
            #[expect(
                clippy::indexing_slicing,
                reason = "`Plan::arbitrary` makes one to three keys, so the remainder is an index"
            )]
            let key = &plan.keys[usize::from(key) % plan.keys.len()];
            Question { tier, key, addons, now, item, used, requested, holding }
        })
        .collect();
    let specs: Vec<OverrideSpec<'_>> = plan
        .overrides
        .iter()
        .map(|&(key, kind, item, op, value, per_seat, from, until)| {
            #[expect(clippy::indexing_slicing, reason = "as above: the remainder is an index")]
            let subject = plan.keys[usize::from(key) % plan.keys.len()].as_str();
            OverrideSpec { subject, kind, item, op, value, per_seat, from, until }
        })
        .collect();
    if let Err(disagreement) = compare_with_overrides(&plan.text, &specs, &questions) {
        panic!("{disagreement}\n{}", plan.text);
    }
});
