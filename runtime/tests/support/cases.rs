//! Reading a file of meter cases, `tests/cases/NAME.jsonl`: one JSON object per line, each
//! with a `case` name and its `steps`, which each runner (`grant_cases.rs`,
//! `rolling_cases.rs`) plays on the meters it is given.

/// Four hundred Gregorian years, in seconds: the calendar repeats after them, so the cases'
/// instants moved by it keep their months, and a Redis whose keys expire by its own clock sees
/// their windows in the future.
pub const CENTURIES: i64 = 146_097 * 86_400;

/// One case of a file: its line (from 1), its name, and its steps.
pub struct Case {
    pub line: usize,
    pub name: String,
    pub steps: Vec<serde_json::Value>,
}

/// Every case of `tests/cases/{name}.jsonl`, in order; a line that does not parse fails the
/// test with its number.
pub fn read(name: &str) -> Vec<Case> {
    let path = format!("{}/tests/cases/{name}.jsonl", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(at, line)| {
            let case: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", at + 1));
            let steps = case["steps"].as_array().cloned().unwrap_or_else(|| panic!("{path}:{}: no steps", at + 1));
            Case { line: at + 1, name: case["case"].as_str().unwrap_or_default().to_string(), steps }
        })
        .collect()
}
