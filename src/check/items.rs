//! Block items: the grants, revokes, limits, settings and `valid` of a tier or add-on.

use std::collections::HashMap;

use super::errors::CheckError;
use super::values::Target;
use super::Checker;
use crate::model::*;
use crate::source::Span;
use crate::syntax::ast;
use crate::units::{format_amount, QuantityType};

/// Which kind of block items are being read, for the rules that differ between them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BlockKind {
    Tier,
    Addon,
}

/// The items of one tier or add-on block, checked.
#[derive(Default)]
pub(super) struct Items {
    pub(super) grant_all: Option<Span>,
    pub(super) grants: Vec<GrantDef>,
    pub(super) revokes: Vec<(usize, Span)>,
    pub(super) tier_limits: Vec<TierLimit>,
    pub(super) addon_limits: Vec<AddonLimit>,
    pub(super) sets: Vec<SetDef>,
    pub(super) valid: Option<ValidItem>,
    /// The `max` item of an add-on: its value, typed by the add-on's check, and its span.
    pub(super) max: Option<(ast::Value, Span)>,
}

/// A checked `valid` item: each bound as an instant and as written, the trial length as
/// written (typed by the add-on's check), and the item's span.
pub(super) struct ValidItem {
    pub(super) length: Option<ast::Value>,
    pub(super) from: Option<(i64, String)>,
    pub(super) until: Option<(i64, String)>,
    pub(super) span: Span,
}

impl Checker<'_> {
    /// Reads the items of a tier or add-on block, reporting unknown names, repeats, items the
    /// block may not hold, and ill-typed values.
    pub(super) fn items(&mut self, items: &[ast::Item], kind: BlockKind, block: &str) -> Items {
        let mut out = Items::default();
        let mut features_seen: HashMap<usize, (Span, bool)> = HashMap::new();
        let mut limits_seen: HashMap<usize, Span> = HashMap::new();
        let mut settings_seen: HashMap<usize, Span> = HashMap::new();
        let not_allowed = |what: &'static str| CheckError::NotAllowedHere { what, block: block.to_string() };
        for item in items {
            match item {
                ast::Item::GrantAll(span) => {
                    if out.grant_all.is_some() {
                        let error =
                            CheckError::DuplicateEntry { what: "grant", name: "all".into(), block: block.into() };
                        self.error(*span, error);
                    }
                    out.grant_all = Some(*span);
                }
                ast::Item::Grant(grant) => {
                    let rollout = match &grant.rollout {
                        Some(percent) if kind == BlockKind::Addon => {
                            let help = "an add-on grants to every subject that holds it";
                            self.error_with_help(percent.span, not_allowed("`rollout`"), Some(help.into()));
                            None
                        }
                        Some(percent) => self.percentage(percent),
                        None => None,
                    };
                    for name in &grant.features {
                        let Some(feature) = self.feature(name) else {
                            continue;
                        };
                        if !self.first_mention(&mut features_seen, feature, name, true, block) {
                            continue;
                        }
                        out.grants.push(GrantDef { feature, rollout, span: grant.span });
                    }
                }
                ast::Item::Revoke(revoke) => {
                    if kind == BlockKind::Addon {
                        let help = "an add-on can only add to a tier";
                        self.error_with_help(revoke.span, not_allowed("`revoke`"), Some(help.into()));
                        continue;
                    }
                    for name in &revoke.features {
                        let Some(feature) = self.feature(name) else {
                            continue;
                        };
                        if self.first_mention(&mut features_seen, feature, name, false, block) {
                            out.revokes.push((feature, revoke.span));
                        }
                    }
                }
                ast::Item::Limit(item) => self.limit_item(item, kind, block, &mut limits_seen, &mut out),
                ast::Item::Set(item) => {
                    let Some(setting) = self.settings.get(&item.setting.text) else {
                        self.report_unknown(ast::DeclKind::Setting, &item.setting);
                        continue;
                    };
                    if let Some(&first) = settings_seen.get(&setting) {
                        let error = CheckError::DuplicateEntry {
                            what: "setting",
                            name: self.shown(&item.setting.text),
                            block: block.into(),
                        };
                        self.diagnostics.push(error.at(item.setting.span).with_label(first, "first set here"));
                        continue;
                    }
                    settings_seen.insert(setting, item.setting.span);
                    if let Some(value) = self.setting_value(&item.value, setting, &item.setting.text) {
                        out.sets.push(SetDef { setting, value, span: item.span });
                    }
                }
                ast::Item::Max(max) => {
                    if kind == BlockKind::Tier {
                        let help = "a tier is held once; quantities belong to add-ons";
                        self.error_with_help(max.span, not_allowed("`max`"), Some(help.into()));
                        continue;
                    }
                    if out.max.is_some() {
                        let error =
                            CheckError::DuplicateEntry { what: "item", name: "max".into(), block: block.into() };
                        self.error(max.span, error);
                        continue;
                    }
                    out.max = Some((max.value.clone(), max.span));
                }
                ast::Item::Valid(valid) => {
                    if kind == BlockKind::Tier {
                        let help = "time-bound grants belong in an add-on";
                        self.error_with_help(valid.span, not_allowed("`valid`"), Some(help.into()));
                        continue;
                    }
                    if out.valid.is_some() {
                        let error =
                            CheckError::DuplicateEntry { what: "item", name: "valid".into(), block: block.into() };
                        self.error(valid.span, error);
                        continue;
                    }
                    let from = valid.from.as_ref().and_then(|d| self.date(d));
                    let until = valid.until.as_ref().and_then(|d| self.date(d));
                    out.valid = Some(ValidItem { length: valid.length.clone(), from, until, span: valid.span });
                }
            }
        }
        out
    }

    /// Records a grant (`granted`) or revoke of `feature` in the block; reports and returns
    /// false if the block already mentioned it.
    fn first_mention(
        &mut self,
        seen: &mut HashMap<usize, (Span, bool)>,
        feature: usize,
        name: &ast::Name,
        granted: bool,
        block: &str,
    ) -> bool {
        let Some(&(first, first_granted)) = seen.get(&feature) else {
            seen.insert(feature, (name.span, granted));
            return true;
        };
        let error = if first_granted == granted {
            let what = if granted { "grant of feature" } else { "revoke of feature" };
            CheckError::DuplicateEntry { what, name: self.shown(&name.text), block: block.into() }
        } else {
            CheckError::GrantAndRevoke { name: self.shown(&name.text), block: block.into() }
        };
        self.diagnostics.push(error.at(name.span).with_label(first, "first mentioned here"));
        false
    }

    fn limit_item(
        &mut self,
        item: &ast::LimitItem,
        kind: BlockKind,
        block: &str,
        seen: &mut HashMap<usize, Span>,
        out: &mut Items,
    ) {
        let not_allowed = |what: &'static str| CheckError::NotAllowedHere { what, block: block.to_string() };
        let Some(limit) = self.limits.get(&item.limit.text) else {
            self.report_unknown(ast::DeclKind::Limit, &item.limit);
            return;
        };
        if let Some(&first) = seen.get(&limit) {
            let error =
                CheckError::DuplicateEntry { what: "limit", name: self.shown(&item.limit.text), block: block.into() };
            self.diagnostics.push(error.at(item.limit.span).with_label(first, "first set here"));
            return;
        }
        seen.insert(limit, item.limit.span);
        if let Some(Some(pool)) = self.drawers.get(limit) {
            let (limit, pool) = (self.shown(&item.limit.text), self.shown(pool));
            let help = format!("set `{pool}`, the pool it draws on");
            self.error_with_help(
                item.limit.span,
                CheckError::DrawerSet { limit, pool, block: block.into() },
                Some(help),
            );
            return;
        }
        if kind == BlockKind::Tier && item.op == ast::AssignOp::Add {
            let help = "a tier sets its limits with `=`; `+=` is for add-ons";
            self.error_with_help(item.op_span, not_allowed("`+=`"), Some(help.into()));
        }
        if kind == BlockKind::Addon {
            if let Some(soft) = &item.soft {
                self.error_with_help(soft.span, not_allowed("`soft`"), Some("soft caps are set by tiers".into()));
            }
            if let Some(warn) = &item.warn {
                self.error_with_help(
                    warn.span,
                    not_allowed("`warn at`"),
                    Some("warn thresholds are set by tiers".into()),
                );
            }
        }
        let Some(Some((ty, limit_kind))) = self.limit_types.get(limit).copied() else {
            return;
        };
        let name = &item.limit.text;
        let value = self.amount(&item.value, ty, Target::Limit(name));
        let per_seat = item.per_seat.is_some();
        let value_seats = self.per_seat_allowed(item.per_seat, value, ty, limit_kind, name);
        if kind == BlockKind::Addon {
            let op = if item.op == ast::AssignOp::Add { AddonOp::Add } else { AddonOp::AtLeast };
            if let (Some(value), true) = (value, value_seats) {
                out.addon_limits.push(AddonLimit { limit, op, value, per_seat, span: item.span });
            }
            return;
        }
        let soft = match &item.soft {
            None => Some(None),
            Some(ast::Soft { cap: None, .. }) => Some(Some(Amount::Unlimited)),
            Some(ast::Soft { cap: Some(cap), cap_per_seat, .. }) => {
                let amount = self.amount(cap, ty, Target::SoftCap(name));
                match self.per_seat_allowed(*cap_per_seat, amount, ty, limit_kind, name) {
                    true => amount.map(Some),
                    false => None,
                }
            }
        };
        let warn = match &item.warn {
            Some(p) => self.percentage(p).map(Some),
            None => Some(None),
        };
        let (Some(value), true, Some(soft), Some(warn)) = (value, value_seats, soft, warn) else {
            return;
        };
        // A soft cap is per seat exactly when its limit is, so that one flag says how both
        // grow with seats and the cap stays above the limit at every seat count. An unbounded
        // cap (`soft unlimited`, like `soft` alone) has nothing to multiply.
        if let (Some(ast::Soft { cap: Some(_), cap_per_seat, span }), Some(cap @ Amount::Finite(_))) =
            (&item.soft, soft)
        {
            if cap_per_seat.is_some() != per_seat {
                let limit = self.shown(name);
                let (error, help) = if per_seat {
                    let help =
                        format!("write `soft {} per seat`, or drop `per seat` from the limit", format_amount(ty, cap));
                    (CheckError::SoftCapSeatMismatch { limit, per_seat: "limit", flat: "soft cap" }, help)
                } else {
                    let help = format!(
                        "write `= {} per seat`, or drop `per seat` from the soft cap",
                        format_amount(ty, value)
                    );
                    (CheckError::SoftCapSeatMismatch { limit, per_seat: "soft cap", flat: "limit" }, help)
                };
                self.error_with_help(*span, error, Some(help));
                return;
            }
        }
        if let Some(cap) = soft {
            if cap < value {
                let error = CheckError::SoftCapBelowLimit {
                    limit: name.clone(),
                    soft: format_amount(ty, cap),
                    value: format_amount(ty, value),
                };
                let span = item.soft.as_ref().map_or(item.span, |s| s.span);
                self.error(span, error);
                return;
            }
        }
        out.tier_limits.push(TierLimit { limit, value, soft, warn, per_seat, span: item.span });
    }

    /// Whether `per seat`, written at `per_seat` on an amount `value` of a limit of type `ty`
    /// and kind `kind`, means something; reports E020 when it does not. A duration that is
    /// not counted in a window is a length (retention, the longest call), which does not add
    /// up across seats; `unlimited` times any seat count is `unlimited`.
    fn per_seat_allowed(
        &mut self,
        per_seat: Option<Span>,
        value: Option<Amount>,
        ty: QuantityType,
        kind: LimitKind,
        limit: &str,
    ) -> bool {
        let Some(span) = per_seat else {
            return true;
        };
        let (why, help) = match (ty, kind) {
            (QuantityType::Duration, LimitKind::Cap) => (
                "a duration cap does not grow with seats",
                "a duration that is not a counter is a length (retention, the longest call); write it without `per seat`",
            ),
            (QuantityType::Duration, LimitKind::Gauge) => (
                "a duration gauge does not grow with seats",
                "a duration that is not a counter is a length (retention, the longest call); write it without `per seat`",
            ),
            _ if value == Some(Amount::Unlimited) => ("`unlimited` per seat is unlimited", "write `unlimited`"),
            _ => return true,
        };
        let error = CheckError::PerSeatNotAllowed { limit: self.shown(limit), why };
        self.error_with_help(span, error, Some(help.into()));
        false
    }
}
