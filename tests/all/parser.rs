//! The hand-written reader that parses declarations in front of pest gives the same syntax
//! tree and the same diagnostics as pest alone (`entitle::fuzzing::compare_parsers`, which the
//! `parse_check` fuzz target also runs): on every policy in the repository, on generated ones,
//! and on thousands of mutations of them that reach the edges of the grammar.

use entitle::fuzzing::compare_parsers;

use crate::golden::{files_with_extension, root};

fn repository_policies() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in ["policies", "tests/diagnostics", "tests/conformance"] {
        files.extend(files_with_extension(&root().join(dir), "policy"));
    }
    let mut policies: Vec<(String, String)> = files
        .iter()
        .map(|path| (path.display().to_string(), std::fs::read_to_string(path).expect("readable policy")))
        .collect();
    policies.push(("generated 3 tiers".to_string(), crate::scale::generate::policy(3, 40, 8)));
    policies
}

#[test]
fn the_hand_written_reader_alone_reads_every_declaration_that_parses() {
    for (name, text) in repository_policies() {
        let agreement = compare_parsers(&text).unwrap_or_else(|difference| panic!("{name}: {difference}"));
        assert!(agreement.declarations > 0, "{name}: nothing parsed");
        assert_eq!(
            agreement.read_alone, agreement.declarations,
            "{name}: pest was needed for a declaration that parses"
        );
    }
}

/// Pieces that, dropped into a policy, land on the edges of the grammar: keywords where names
/// go, numbers whose unit or percent sign is off by a space, half a date, stray punctuation, a
/// string or comment left open, and non-ASCII letters beside ASCII ones.
const FRAGMENTS: &[&str] = &[
    " ",
    "\n",
    "\t",
    "//",
    "// c\n",
    "\"",
    "\"a\\\"b\"",
    "\\",
    "\\q",
    "{",
    "}",
    ",",
    "<",
    ":",
    "=",
    "+=",
    "%",
    " %",
    "5",
    "1_000",
    "2.5",
    "3.",
    " GiB",
    "GiB2",
    " all",
    "all",
    "grant",
    "grant all",
    "revoke",
    "limit",
    "limit x = 5",
    "set",
    "valid",
    "from",
    "until",
    " 2026-11-01",
    "T00:00Z",
    "T00:00:00Z",
    "T0",
    "rollout",
    " rollout 5%",
    "soft",
    " soft",
    " warn at 80%",
    "warn",
    "at",
    "unlimited",
    "gauge",
    "per",
    "prefer",
    "extends",
    "for",
    "tier",
    "addon",
    "feature",
    "policy",
    "version",
    "ladder",
    "setting",
    "max",
    " max 3",
    " per seat",
    "seat",
    " for 14 days",
    " for 1 month",
    "é",
    "_",
    "x",
    "\r\n",
];

/// A small deterministic generator (xorshift), so a failure names its seed and replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % u64::try_from(n.max(1)).unwrap()).unwrap()
    }

    /// A character boundary of `text` at or after a random offset.
    fn boundary(&mut self, text: &str) -> usize {
        let mut at = self.below(text.len() + 1);
        while !text.is_char_boundary(at) {
            at += 1;
        }
        at
    }
}

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut text = text.to_string();
    for _ in 0..=rng.below(3) {
        let at = rng.boundary(&text);
        match rng.below(4) {
            0 | 1 => text.insert_str(at, FRAGMENTS[rng.below(FRAGMENTS.len())]),
            2 => {
                let end = at + text[at..].chars().take(1 + rng.below(8)).map(char::len_utf8).sum::<usize>();
                text.replace_range(at..end, "");
            }
            _ => {
                let end = at + text[at..].chars().take(1 + rng.below(12)).map(char::len_utf8).sum::<usize>();
                let copy = text[at..end].to_string();
                let to = rng.boundary(&text);
                text.insert_str(to, &copy);
            }
        }
    }
    text
}

#[test]
fn the_hand_written_reader_agrees_with_pest_on_mutated_policies() {
    // The small policies of the diagnostics suite and the bundled ones: short inputs keep pest
    // (the slow reader) quick in an unoptimised test build, and mutations stay near a
    // declaration boundary often enough to reach the resynchronising paths.
    let mut inputs = repository_policies();
    inputs.retain(|(_, text)| text.len() <= 4_096);
    assert!(inputs.len() >= 20, "only {} inputs", inputs.len());
    let mut differences = Vec::new();
    let mut read_alone = 0;
    for (index, (name, text)) in inputs.iter().enumerate() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::try_from(index).unwrap());
        for round in 0..150 {
            let mutated = mutate(text, &mut rng);
            match compare_parsers(&mutated) {
                Ok(agreement) => read_alone += agreement.read_alone,
                Err(difference) => differences.push(format!("{name}, round {round}: {difference}\n{mutated}")),
            }
        }
    }
    assert!(differences.is_empty(), "{} mutations read differently:\n{}", differences.len(), differences[0]);
    // Most declarations survive a mutation elsewhere in the file; the hand-written reader must
    // have taken them, not declined them all.
    assert!(read_alone > 1_000, "the hand-written reader read only {read_alone} declarations alone");
}

/// Seats, quantities and trials are read by the hand-written reader alone, as pest reads them.
#[test]
fn the_hand_written_reader_reads_seats_quantities_and_trials_alone() {
    let path = root().join("cli/tests/inputs/seats-and-trials.policy");
    let text = std::fs::read_to_string(&path).expect("readable policy");
    let agreement = compare_parsers(&text).unwrap_or_else(|difference| panic!("{difference}"));
    assert_eq!(agreement.read_alone, agreement.declarations, "pest was needed for a declaration that parses");
    assert!(agreement.declarations >= 13, "only {} declarations", agreement.declarations);
}
