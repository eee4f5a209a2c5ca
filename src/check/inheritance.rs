//! Inheritance: each tier's `extends` resolved, with cycles and over-deep chains broken.

use super::errors::CheckError;
use super::Checker;
use crate::syntax::ast;

impl<'a> Checker<'a> {
    /// Resolves each tier's `extends`, breaking cycles and over-deep chains (both reported) so
    /// that the model is always a forest.
    #[expect(
        clippy::indexing_slicing,
        reason = "`state`, `parents` and `tiers` hold one entry per tier, every tier index comes from `self.tiers`, and `cycle_start` is a position in `path`"
    )]
    pub(super) fn resolve_parents(&mut self, tiers: &[&'a ast::TierDecl]) -> Vec<Option<usize>> {
        let mut parents: Vec<Option<usize>> = tiers
            .iter()
            .map(|tier| {
                let parent = tier.extends.as_ref()?;
                let found = self.tiers.get(&parent.text);
                if found.is_none() {
                    self.report_unknown(ast::DeclKind::Tier, parent);
                }
                found
            })
            .collect();

        // Cycle detection without recursion: follow each chain, colouring tiers as in progress
        // (1) and finished (2); meeting an in-progress tier closes a cycle.
        let mut state = vec![0u8; tiers.len()];
        for start in 0..tiers.len() {
            let mut path = Vec::new();
            let mut current = Some(start);
            while let Some(tier) = current {
                match state[tier] {
                    0 => {
                        state[tier] = 1;
                        path.push(tier);
                        current = parents[tier];
                    }
                    1 => {
                        let cycle_start = path.iter().position(|&t| t == tier).unwrap_or(0);
                        let cycle = &path[cycle_start..];
                        let chain = cycle
                            .iter()
                            .chain(std::iter::once(&tier))
                            .map(|&t| format!("`{}`", tiers[t].name.text))
                            .collect::<Vec<_>>()
                            .join(" extends ");
                        let last = cycle[cycle.len() - 1];
                        let span = tiers[last].extends.as_ref().map_or(tiers[last].name.span, |n| n.span);
                        self.error(span, CheckError::InheritanceCycle { chain });
                        parents[last] = None;
                        break;
                    }
                    _ => break,
                }
            }
            for tier in path {
                state[tier] = 2;
            }
        }

        // Cycles are broken above, so every tier has a depth.
        let depths = crate::model::depths(parents.len(), |t| parents.get(t).copied().flatten()).unwrap_or_default();
        for (tier, depth) in tiers.iter().zip(depths) {
            if depth > self.bounds.inheritance_depth {
                let error =
                    CheckError::InheritanceTooDeep { name: tier.name.text.clone(), max: self.bounds.inheritance_depth };
                self.error(tier.name.span, error);
            }
        }
        parents
    }
}
