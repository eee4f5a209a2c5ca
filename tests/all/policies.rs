//! The bundled policies are examples people copy: each must check with no finding at all.

use entitle::{render, Engine, Reason, Request, Source};

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
                let text: String = diagnostics.iter().map(|d| render::human(&source, d)).collect();
                panic!("{} does not check:\n{text}", path.display());
            }
        }
    }
}

#[test]
fn the_rtc_sdk_policy_has_the_plan_shape_the_docs_describe() {
    let engine = Engine::from_path(root().join("policies/rtc-sdk.policy")).expect("checks");
    let tiers: Vec<&str> = engine.tiers().map(|(_, name)| name).take(3).collect();
    assert_eq!(tiers, ["free", "pro", "enterprise"], "the public tiers come first, cheapest first");
    let hd_video = engine.feature("hd_video").expect("feature");
    let promo = [engine.addon("launch_promo").expect("add-on")];
    let free = Request::new(engine.tier("free").expect("tier"), 0).with_addons(&promo);
    let at = |instant: &str| free.at(entitle::parse_instant(instant).expect("instant"));
    // The launch promotion is time-bound, half-open: [2026-11-01, 2026-12-01).
    assert_eq!(engine.decide(&at("2026-10-31T23:59:59Z"), hd_video).reason, Reason::AddonNotValid);
    assert_eq!(engine.decide(&at("2026-11-01T00:00:00Z"), hd_video).reason, Reason::GrantedByAddon);
    assert_eq!(engine.decide(&at("2026-12-01T00:00:00Z"), hd_video).reason, Reason::AddonNotValid);
    // Conversational AI is a staged rollout on pro: some subjects are inside, most outside.
    let ai = engine.feature("conversational_ai").expect("feature");
    let pro = engine.tier("pro").expect("tier");
    let keys: Vec<String> = (0..200).map(|i| format!("app-{i}")).collect();
    let reasons: Vec<Reason> =
        keys.iter().map(|k| engine.decide(&Request::new(pro, 0).with_key(k), ai).reason).collect();
    assert!(reasons.contains(&Reason::GrantedByRollout) && reasons.contains(&Reason::OutsideRollout));
}
