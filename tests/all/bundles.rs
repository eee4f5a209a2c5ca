//! Bundles are untrusted input: they go through the engine's one door, in linear time, under
//! the loader's limits, whatever limits they were built under.

use entitle::bundle::{self, BundleError, InvalidParts};
use entitle::{Engine, Limits, LoadError, Source};

/// `n` tiers in chains of `length` (one chain when `length >= n`), the first of each
/// granting the one feature.
fn chains(n: usize, length: usize) -> String {
    let mut text = String::from("policy \"chain\"\nfeature f\n");
    for i in 0..n {
        if i % length == 0 {
            text.push_str(&format!("tier t{i} {{ grant f }}\n"));
        } else {
            text.push_str(&format!("tier t{i} extends t{} {{ }}\n", i - 1));
        }
    }
    text
}

/// Limits that let a policy of `n` tiers in one chain build.
fn roomy(n: usize) -> Limits {
    let mut limits = Limits::default();
    (limits.inheritance_depth, limits.declarations, limits.table_cells) = (n, n + 10, usize::MAX);
    limits
}

fn built(n: usize, length: usize) -> Vec<u8> {
    bundle::build_with(&Source::new("chain.policy", chains(n, length)), &roomy(n)).expect("the chains build")
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn with(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("entitle-bundles-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("the temporary file is written");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A bundle built under a depth of 100 is refused by a loader that allows 64 (the default),
/// from bytes and from a path alike, and the engine a loader admits answers under the
/// loader's limits, not the ones the bundle recorded.
#[test]
fn the_loaders_limits_bound_a_bundle_not_the_ones_it_recorded() {
    let bytes = built(101, 101);
    let too_deep = |error: &BundleError| {
        matches!(
            error,
            BundleError::Invalid(InvalidParts::OverLimit { what: "levels of inheritance", found: 100, max: 64 })
        )
    };
    let error = Engine::from_bundle(&bytes).expect_err("a chain past the default depth");
    assert!(too_deep(&error), "{error}");
    assert_eq!(
        error.to_string(),
        "the bundle's compiled policy is refused: the policy has 100 levels of inheritance, past the limit of 64"
    );

    let file = TempFile::with("deep.bundle", &bytes);
    match Engine::from_path_with(&file.0, &Limits::default()) {
        Err(LoadError::Bundle { source, .. }) => assert!(too_deep(&source), "{source}"),
        other => panic!("a chain past the default depth loaded from a path: {other:?}"),
    }
    assert!(Engine::from_path(&file.0).is_err(), "`from_path` holds bundles to the default limits");

    let mut limits = roomy(101);
    limits.held_addons = 3;
    let engine = Engine::from_path_with(&file.0, &limits).expect("within the loader's limits");
    assert_eq!(engine.input_limits(), &limits);
    assert!(engine
        .is_allowed(&entitle::Request::new(engine.tier("t100").expect("tier"), 0), engine.feature("f").expect("f")));
}

#[test]
fn a_bundle_past_the_loaders_size_and_table_limits_is_refused() {
    let bytes = built(2_000, 50);
    assert!(bytes.len() > 64 * 1024, "{} bytes", bytes.len());
    let mut small = roomy(2_000);
    small.bundle_bytes = 64 * 1024;
    let error = Engine::from_bundle_with(&bytes, &small).expect_err("past bundle_bytes");
    assert!(matches!(error, BundleError::TooLarge { max: 65_536, .. }), "{error}");

    let file = TempFile::with("large.bundle", &bytes);
    match Engine::from_path_with(&file.0, &small) {
        Err(error @ LoadError::BundleTooLarge { max: 65_536, .. }) => {
            assert!(
                error.to_string().contains("compiled bundle larger than the limit of 65536 bytes for bundles"),
                "{error}"
            );
        }
        other => panic!("a bundle past bundle_bytes loaded from a path: {other:?}"),
    }
    // A bundle larger than the source limit but within the bundle limit loads: each kind of
    // file has its own limit.
    let mut tight_source = roomy(2_000);
    tight_source.source_bytes = 1_024;
    assert!(Engine::from_path_with(&file.0, &tight_source).is_ok());

    let mut few_cells = roomy(2_000);
    few_cells.table_cells = 1_000;
    let error = Engine::from_bundle_with(&bytes, &few_cells).expect_err("past table_cells");
    assert!(matches!(error, BundleError::Invalid(InvalidParts::OverLimit { what: "table cells", .. })), "{error}");
    let mut few_declarations = roomy(2_000);
    few_declarations.declarations = 100;
    assert!(Engine::from_bundle_with(&bytes, &few_declarations).is_err());
}

/// Loading 8k, 16k, 32k and 64k tiers in chains of 50, and 1k to 8k tiers in one chain (the
/// shape that took seconds when every chain was walked to its root), takes steps in
/// proportion to the tiers: counted, not timed.
#[test]
fn loading_takes_steps_in_proportion_to_the_tiers() {
    for (sizes, length) in [([8_000, 16_000, 32_000, 64_000], 50), ([1_000, 2_000, 4_000, 8_000], usize::MAX)] {
        let mut previous: Option<u64> = None;
        for n in sizes {
            let bytes = built(n, length);
            let (steps, engine) = entitle::fuzzing::steps_in(|| Engine::from_bundle_with(&bytes, &roomy(n)));
            let engine = engine.expect("the chains load under their own limits");
            assert_eq!(engine.tiers().len(), n);
            assert!(steps >= n as u64, "{n} tiers in {steps} steps: the walk was not counted");
            if let Some(previous) = previous {
                assert!(steps <= previous * 5 / 2, "doubling the tiers to {n} took {previous} → {steps} steps");
            }
            previous = Some(steps);
        }
    }
}

/// Every policy the repository compiles passes the same validation a bundle's parts do.
#[test]
fn every_compiled_policy_passes_the_door_bundles_go_through() {
    let root = crate::golden::root();
    let dirs = ["policies", "tests/conformance", "cli/tests/inputs"].map(|dir| root.join(dir));
    let paths: Vec<_> = dirs.iter().flat_map(|dir| crate::golden::files_with_extension(dir, "policy")).collect();
    assert!(paths.len() >= 5, "only {} policies found", paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable");
        let source = Source::new(path.display().to_string(), text);
        let Ok(bytes) = bundle::build(&source) else { continue };
        let from_bundle = Engine::from_bundle(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(from_bundle.policy_hash(), entitle::PolicyHash::of(source.text().as_bytes()));
    }
}
