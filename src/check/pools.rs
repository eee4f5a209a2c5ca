//! Credit pools: a limit declared `draws POOL at RATE [per QUANTITY]` spends its pool's
//! allowance instead of having one of its own.
//!
//! Every pool is known once all limits are declared, so this job runs after the declarations
//! and before the tiers: a tier or add-on that sets a drawing limit is refused by the items'
//! check, which reads what this job recorded.

use super::values::{quantity_phrase, Target};
use super::*;

impl Checker<'_> {
    /// Resolves the pool and rate of every first declaration of a limit that draws (`decls`
    /// holds them in the order of `model.limits`), and gives each valid one its pool's kind,
    /// so that its answers carry the pool's window.
    pub(super) fn resolve_draws(&mut self, decls: &[&ast::LimitDecl], model: &mut Model) {
        self.drawers = decls
            .iter()
            .map(|decl| match &decl.kind {
                ast::LimitKind::Draws(draws) => Some(draws.pool.text.clone()),
                _ => None,
            })
            .collect();
        for (at, decl) in decls.iter().enumerate() {
            let ast::LimitKind::Draws(draws) = &decl.kind else { continue };
            let Some(rate) = self.draw_rate(decl, draws, at, decls) else {
                // Its values are not checked again, as for a limit whose type is wrong.
                if let Some(slot) = self.limit_types.get_mut(at) {
                    *slot = None;
                }
                continue;
            };
            let Some(pool_kind) = model.limits.get(rate.pool).map(|pool| pool.kind) else { continue };
            if let Some(limit) = model.limits.get_mut(at) {
                (limit.kind, limit.draws) = (pool_kind, Some(rate));
            }
            if let Some(Some((_, kind))) = self.limit_types.get_mut(at) {
                *kind = pool_kind;
            }
        }
    }

    /// The pool and rate of one drawing limit, each problem reported.
    fn draw_rate(
        &mut self,
        decl: &ast::LimitDecl,
        draws: &ast::Draws,
        at: usize,
        decls: &[&ast::LimitDecl],
    ) -> Option<DrawRate> {
        let name = self.shown(&decl.name.text);
        let Some(pool) = self.limits.get(&draws.pool.text) else {
            self.report_unknown(ast::DeclKind::Limit, &draws.pool);
            return None;
        };
        let pool_name = self.shown(&draws.pool.text);
        if pool == at {
            self.error(draws.pool.span, CheckError::DrawsOnItself { limit: name });
            return None;
        }
        if let Some(ast::LimitKind::Draws(further)) = decls.get(pool).map(|d| &d.kind) {
            let further = self.shown(&further.pool.text);
            self.error(draws.pool.span, CheckError::PoolDraws { limit: name, pool: pool_name, further });
            return None;
        }
        let what = match self.limit_types.get(pool).copied().flatten() {
            // The pool's own declaration is wrong and already reported.
            None => return None,
            Some((QuantityType::Count, LimitKind::Cap | LimitKind::Counter(_) | LimitKind::Rolling(_))) => None,
            Some((_, LimitKind::Gauge)) => Some("a gauge"),
            Some((QuantityType::Bytes, _)) => Some("a `bytes` limit"),
            Some((_, _)) => Some("a `duration` limit"),
        };
        if let Some(what) = what {
            self.error(draws.pool.span, CheckError::PoolNotCounted { limit: name, pool: pool_name, what });
            return None;
        }
        let (ty, _) = self.limit_types.get(at).copied().flatten()?;
        let credits = self.whole(&draws.rate, QuantityType::Count, Target::DrawRate(&decl.name.text));
        let per = match &draws.per {
            None if ty == QuantityType::Count => Some(1),
            None => {
                let error = CheckError::TypeMismatch {
                    target: Target::DrawPer(&decl.name.text).to_string(),
                    expected: quantity_phrase(ty).into(),
                    found: "nothing".into(),
                };
                let example = if ty == QuantityType::Bytes { "per GiB" } else { "per minute" };
                let help = format!("say what the rate is for, as in `at {} {example}`", rate_text(&draws.rate));
                self.error_with_help(draws.rate.span, error, Some(help));
                None
            }
            Some(ast::DrawPer::Unit(unit)) => {
                self.quantity("1", Some(unit), unit.span, ty, Target::DrawPer(&decl.name.text))
            }
            Some(ast::DrawPer::Quantity(quantity)) => self.whole(quantity, ty, Target::DrawPer(&decl.name.text)),
        };
        let (credits, per) = (credits?, per?);
        if credits == 0 || per == 0 {
            let (span, what) = if credits == 0 { (draws.rate.span, "of 0") } else { (draws.span, "per 0 units") };
            self.error(span, CheckError::ZeroDrawRate { limit: name, pool: pool_name, what });
            return None;
        }
        Some(DrawRate { pool, credits, per })
    }

    /// A number with an optional unit, as a whole quantity of `ty` in base units; anything
    /// else (`unlimited`, a percentage, a string) is a type mismatch.
    fn whole(&mut self, value: &ast::Value, ty: QuantityType, target: Target<'_>) -> Option<u64> {
        match &value.kind {
            ast::ValueKind::Quantity { number, unit } => self.quantity(number, unit.as_ref(), value.span, ty, target),
            _ => {
                self.mismatch(value, target, quantity_phrase(ty));
                None
            }
        }
    }
}

/// A rate's number as written, for a help line.
fn rate_text(rate: &ast::Value) -> &str {
    match &rate.kind {
        ast::ValueKind::Quantity { number, .. } => number,
        _ => "5",
    }
}
