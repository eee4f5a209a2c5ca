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
        let (mut valid_from, mut valid_until) = (None, None);
        if let Some(ValidItem { from, until, span }) = items.valid {
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
            max_quantity: Amount::Finite(1),
            trial: None,
        }
    }
}
