//! The bundled policies are examples people copy: each must check with no finding at all.

use entitle::{render, Source};

use crate::golden::{files_with_extension, root};

#[test]
fn bundled_policies_check_clean() {
    let files = files_with_extension(&root().join("policies"), "policy");
    assert!(files.len() >= 3, "expected the rtc-sdk policy and at least two from other domains");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable policy");
        let source = Source::new(path.display().to_string(), text);
        match entitle::check(&source) {
            Ok(checked) => {
                let warnings: String = checked.warnings().iter().map(|d| render::human(&source, d)).collect();
                assert!(warnings.is_empty(), "{} has warnings:\n{warnings}", path.display());
            }
            Err(diagnostics) => {
                let text: String = diagnostics.0.iter().map(|d| render::human(&source, d)).collect();
                panic!("{} does not check:\n{text}", path.display());
            }
        }
    }
}

#[test]
fn the_rtc_sdk_policy_has_the_plan_shape_the_docs_describe() {
    let text = std::fs::read_to_string(root().join("policies/rtc-sdk.policy")).expect("rtc-sdk.policy");
    let checked = entitle::check(&Source::new("rtc-sdk.policy", text)).expect("checks");
    let model = checked.model();
    let names = |tiers: &[usize]| tiers.iter().map(|&t| model.tiers[t].name.as_str()).collect::<Vec<_>>();
    assert_eq!(model.ladders.len(), 1);
    assert_eq!(names(&model.ladders[0]), ["free", "pro", "enterprise"]);
    let timed: Vec<_> = model.addons.iter().filter(|a| a.valid_from.is_some()).map(|a| a.name.as_str()).collect();
    assert_eq!(timed, ["launch_promo"]);
    assert!(model.tiers.iter().flat_map(|t| &t.grants).any(|g| g.rollout.is_some()), "a staged rollout");
}
