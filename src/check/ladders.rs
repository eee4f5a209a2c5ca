//! Ladders: the tier orders the upgrade warnings compare along.

use super::errors::CheckError;
use super::Checker;
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn ladder(&mut self, decl: &ast::LadderDecl, ladders: &mut Vec<Vec<usize>>) {
        let mut tiers = Vec::new();
        let mut spans = Vec::new();
        // Tiers already on this or an earlier ladder; a set, so long ladders stay linear.
        let mut seen: std::collections::HashSet<usize> = ladders.iter().flatten().copied().collect();
        for name in &decl.tiers {
            let Some(tier) = self.tiers.get(&name.text) else {
                self.report_unknown(ast::DeclKind::Tier, name);
                continue;
            };
            if !seen.insert(tier) {
                self.error(name.span, CheckError::LadderRepeatsTier { name: self.shown(&name.text) });
                continue;
            }
            tiers.push(tier);
            spans.push(name.span);
        }
        ladders.push(tiers);
        self.ladder_spans.push(spans);
    }
}
