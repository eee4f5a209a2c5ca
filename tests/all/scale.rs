//! The generated scale policies check, and the largest stays within the table-size budget
//! (the budget: 1,000 tiers × 1,000 features × 100 limits in at most 2 MiB). Sizes are
//! deterministic, unlike timings, which belong to the benches.

#[path = "../../benches/support/generate.rs"]
pub(crate) mod generate;

use entitle::Source;

#[test]
fn generated_policies_check_and_the_largest_table_fits_its_budget() {
    for tiers in [10, 100, 1_000] {
        let text = generate::policy(tiers, 1_000, 100);
        let checked = match entitle::check(&Source::new("generated", text)) {
            Ok(checked) => checked,
            Err(diagnostics) => panic!("generated policy with {tiers} tiers: {diagnostics}"),
        };
        assert!(checked.warnings().is_empty(), "{tiers} tiers: {:?}", checked.warnings().first());
        let engine = entitle::compile(&checked);
        assert_eq!(engine.tiers().len(), tiers);
        if tiers == 1_000 {
            let bytes = engine.table_bytes();
            assert!(bytes <= 2 * 1024 * 1024, "1,000-tier table is {bytes} bytes, over 2 MiB");
        }
    }
}
