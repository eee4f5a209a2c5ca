//! Add-ons: the tiers an add-on is for, its items, and its validity window.

use super::errors::CheckError;
use super::items::{BlockKind, ValidItem};
use super::Checker;
use crate::model::*;
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn addon(&mut self, decl: &ast::AddonDecl) -> AddonDef {
        let mut for_tiers = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for name in &decl.for_tiers {
            match self.tiers.get(&name.text) {
                Some(tier) if !listed.insert(tier) => {
                    let block = format!("add-on `{}`", decl.name.text);
                    let error = CheckError::DuplicateEntry { what: "tier", name: self.shown(&name.text), block };
                    self.error(name.span, error);
                }
                Some(tier) => for_tiers.push(tier),
                None => self.report_unknown(ast::DeclKind::Tier, name),
            }
        }
        let items = self.items(&decl.items, BlockKind::Addon, &format!("add-on `{}`", decl.name.text));
        let (mut valid_from, mut valid_until, mut trial) = (None, None, None);
        if let Some(ValidItem { length, from, until, span }) = items.valid {
            trial = length.and_then(|length| self.trial_length(&length, &decl.name.text));
            if let (Some((from, from_text)), Some((until, until_text))) = (&from, &until) {
                if from >= until {
                    let error = CheckError::EmptyValidity {
                        addon: decl.name.text.clone(),
                        from: from_text.clone(),
                        until: until_text.clone(),
                    };
                    self.error_with_help(
                        span,
                        error,
                        Some("`valid from A until B` applies from A up to, not including, B".into()),
                    );
                }
            }
            valid_from = from.map(|(instant, _)| instant);
            valid_until = until.map(|(instant, _)| instant);
        }
        let mut max_quantity = Amount::Finite(1);
        if let Some((value, span)) = &items.max {
            match self.max_quantity(value, &decl.name.text) {
                Some(Amount::Finite(0)) => {
                    let error = CheckError::ZeroMaxQuantity { addon: self.shown(&decl.name.text) };
                    self.error_with_help(*span, error, Some("remove the add-on, or write `max 1` or more".into()));
                }
                Some(max) => max_quantity = max,
                None => {}
            }
        }
        self.max_spans.push(items.max.as_ref().map(|(_, span)| *span));
        AddonDef {
            name: decl.name.text.clone(),
            span: decl.span,
            for_tiers,
            grant_all: items.grant_all,
            grants: items.grants.iter().map(|g| (g.feature, g.span)).collect(),
            limits: items.addon_limits,
            sets: items.sets,
            valid_from,
            valid_until,
            max_quantity,
            trial,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{AddonOp, Amount, TrialLength};
    use crate::source::Source;

    /// The model carries what the policy says: per-seat values, maximum quantities (1 when
    /// unsaid) and trial lengths, in seconds or months.
    #[test]
    fn seats_maximums_and_trials_reach_the_model() {
        let text = "policy \"p\"\nfeature hd\nlimit ai : count per month\nlimit storage : bytes\n\
                    tier team { limit ai = 1_000 per seat soft 1_200 per seat  limit storage = 5 GiB }\n\
                    addon pack for team { limit storage += 50 GiB  max 20 }\n\
                    addon seats for team { limit ai += 500 per seat  max unlimited }\n\
                    addon trial for team { grant hd  valid for 14 days until 2027-01-01 }\n\
                    addon monthly for team { grant hd  valid for 1 month }\n";
        let checked = crate::check(&Source::new("p", text)).expect("checks");
        let model = checked.model();
        let team = &model.tiers[0];
        assert_eq!(team.limits.iter().map(|l| l.per_seat).collect::<Vec<_>>(), [true, false]);
        assert_eq!(team.limits[0].soft, Some(Amount::Finite(1_200)));
        let maximums: Vec<Amount> = model.addons.iter().map(|a| a.max_quantity).collect();
        assert_eq!(maximums, [Amount::Finite(20), Amount::Unlimited, Amount::Finite(1), Amount::Finite(1)]);
        let seats = &model.addons[1].limits[0];
        assert!(seats.per_seat && seats.op == AddonOp::Add && !model.addons[0].limits[0].per_seat);
        let trials: Vec<_> = model.addons.iter().map(|a| a.trial).collect();
        assert_eq!(trials, [None, None, Some(TrialLength::Seconds(14 * 86_400)), Some(TrialLength::Months(1))]);
        assert!(model.addons[2].valid_until.is_some() && model.addons[2].valid_from.is_none());
    }
}
