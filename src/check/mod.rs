//! Checking: a syntax tree in, a [`Checked`] policy or every diagnostic out.
//!
//! The checker never stops at the first problem. It resolves every name, types every value,
//! and reports each error it finds; when there are none, it also looks for things that are
//! legal but probably unintended (warnings). Warnings are only computed for policies without
//! errors, so that one mistake does not cascade into a page of consequences.

mod addons;
mod dates;
mod errors;
mod header;
mod inheritance;
mod items;
mod ladders;
mod lints;
mod pools;
mod registry;
mod types;
mod values;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::limits::Limits;
use crate::model::*;
use crate::source::{Source, Span};
use crate::syntax::{self, ast};
use errors::CheckError;
use items::BlockKind;
use registry::{Names, SUGGESTION_BUDGET};

/// A policy that passed the checker: the only way into [`crate::compile`].
///
/// It cannot be built any other way, so an engine is always built from a checked policy. It
/// carries the policy's checked model and the warnings the checker found.
#[derive(Clone, Debug)]
pub struct Checked {
    model: Model,
    /// Every tier's entitlements after inheritance, computed once for the warnings and handed
    /// to the compiler, which lays its tables out from them.
    flat: Vec<Effective>,
    warnings: Vec<Diagnostic>,
    /// The limits it was checked under, which the engine compiled from it keeps to.
    limits: Limits,
    /// The source text, kept so that its SHA-256 (which the engine reports as the policy it
    /// answers from) is computed when first asked for: checking alone never needs it, and on
    /// a large policy hashing took a fifth of the time to check.
    text: String,
    hash: std::sync::OnceLock<crate::digest::PolicyHash>,
}

impl Checked {
    /// The checked meaning of the policy.
    pub(crate) fn model(&self) -> &Model {
        &self.model
    }

    /// The warnings found; empty for a clean policy.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The limits the policy was checked under.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The SHA-256 of the policy's source text.
    pub fn policy_hash(&self) -> crate::digest::PolicyHash {
        *self.hash.get_or_init(|| crate::digest::PolicyHash::of(self.text.as_bytes()))
    }

    /// Every tier's entitlements after inheritance, indexed by tier.
    pub(crate) fn flattened(&self) -> &[Effective] {
        &self.flat
    }
}

/// Parses and checks a policy under the default [`Limits`].
///
/// Returns the [`Checked`] policy (with its warnings) if there are no errors, and otherwise
/// every diagnostic, errors and warnings, in source order.
///
/// ```
/// use entitle::Source;
/// let ok = Source::new("ok.policy", "policy \"p\"\nfeature sso\ntier free { grant sso }\n");
/// assert!(entitle::check(&ok).is_ok());
///
/// let bad = Source::new("bad.policy", "policy \"p\"\nfeature sso\ntier free { grant ssso }\n");
/// let diagnostics = entitle::check(&bad).unwrap_err();
/// let first = diagnostics.iter().next().unwrap();
/// assert_eq!(first.code().as_str(), "E004");
/// assert_eq!(first.help(), Some("did you mean `sso`?"));
/// ```
pub fn check(source: &Source) -> Result<Checked, Diagnostics> {
    check_with(source, &Limits::default())
}

/// Parses and checks a policy under the given limits; see [`check`].
pub fn check_with(source: &Source, limits: &Limits) -> Result<Checked, Diagnostics> {
    let (file, mut diagnostics, read_whole) = syntax::parse(source, limits);
    // When the parser stopped early, checking what it did read would only report
    // consequences of the missing rest.
    if !read_whole {
        return Err(Diagnostics::new(source, diagnostics));
    }
    let parsed_cleanly = diagnostics.is_empty();
    let (model, flat, more) = check_file(&file, parsed_cleanly, limits);
    diagnostics.extend(more);
    diagnostics.sort_by_key(|d| (d.span.start, d.code));
    // Whether the policy checks is decided before the list is cut, and the note that says it
    // was cut takes the severity of what it hides, so the cap never changes the outcome.
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    let max = limits.diagnostics;
    if let Some(first_hidden) = diagnostics.get(max) {
        let (hidden, span) = (diagnostics.len() - max, first_hidden.span);
        diagnostics.truncate(max);
        diagnostics.push(if failed {
            CheckError::TooManyDiagnostics { hidden, max }.at(span)
        } else {
            lints::too_many(hidden, max, span)
        });
    }
    if failed {
        Err(Diagnostics::new(source, diagnostics))
    } else {
        // A policy without errors parsed cleanly, so `check_file` flattened it for the warnings.
        let text = source.text().to_string();
        let hash = std::sync::OnceLock::new();
        Ok(Checked { model, flat, warnings: diagnostics, limits: limits.clone(), text, hash })
    }
}

/// Checks an already-parsed file, returning the model, its flattened tiers and the checker's
/// diagnostics (not the parser's). The model is only meaningful when no diagnostic is an
/// error. Warnings are only looked for, and the tiers only flattened, when the file parsed
/// cleanly and has no errors: a declaration lost to a syntax error would otherwise show up as,
/// say, an unused feature.
fn check_file(file: &ast::File, parsed_cleanly: bool, limits: &Limits) -> (Model, Vec<Effective>, Vec<Diagnostic>) {
    let suggestions_left = std::cell::Cell::new(SUGGESTION_BUDGET);
    let mut checker = Checker { bounds: limits.clone(), suggestions_left, ..Checker::default() };
    let model = checker.run(file);
    let mut flat = Vec::new();
    // Flattening holds one entry per tier and item: refuse sizes past the budget before it.
    // Add-ons count too: the checker and the compiler keep, per add-on, whether it attaches to
    // each tier, so thousands of add-ons over thousands of tiers are as large as features.
    let items = model.features.len() + model.limits.len() + model.settings.len() + model.addons.len();
    if model.table_cells() > limits.table_cells {
        let span = file.decls.first().map_or(Span::at(0), |d| d.span());
        let error = CheckError::TableTooLarge { tiers: model.tiers.len(), items, max: limits.table_cells };
        checker.diagnostics.push(error.at(span));
    }
    if parsed_cleanly && !checker.diagnostics.iter().any(Diagnostic::is_error) {
        flat = model.flatten();
        let spans = lints::Spans { ladders: &checker.ladder_spans, maximums: &checker.max_spans };
        lints::run(&model, &flat, &spans, &mut checker.diagnostics);
    }
    (model, flat, checker.diagnostics)
}

/// One check's state: the declared names, the resolved types and the diagnostics so far. Its
/// methods live in this module's children, one job to a module; `run` calls them in order.
#[derive(Default)]
struct Checker<'a> {
    diagnostics: Vec<Diagnostic>,
    features: Names<'a>,
    limits: Names<'a>,
    settings: Names<'a>,
    tiers: Names<'a>,
    addons: Names<'a>,
    /// Per limit: its type and kind, or `None` if its declaration was wrong, in which case
    /// values given for it are not checked again.
    limit_types: Vec<Option<(QuantityType, LimitKind)>>,
    setting_types: Vec<Option<SettingType>>,
    /// Per limit: the pool it is declared to draw on (rightly or not), as written, so that no
    /// tier or add-on gives it a value.
    drawers: Vec<Option<String>>,
    /// For each ladder, the span of each tier name in it, for the ladder warnings.
    ladder_spans: Vec<Vec<Span>>,
    /// For each add-on, the span of its `max` item if it has one, for the warnings about it.
    max_spans: Vec<Option<Span>>,
    /// The input limits this check enforces.
    bounds: Limits,
    /// Names whose declarations a syntax error cut short: known to exist, never "unknown".
    lost: std::collections::HashSet<(ast::DeclKind, &'a str)>,
    /// How many more "did you mean" searches this check may make. Each compares a name with
    /// every declared one; past the budget, unknown names are reported without a suggestion,
    /// so that thousands of unknown names cost linear time.
    suggestions_left: std::cell::Cell<usize>,
}

impl<'a> Checker<'a> {
    /// A user-written name as a message shows it: itself, cut to the longest name a
    /// declaration may have, so that a message never repeats megabytes of input.
    fn shown(&self, name: &str) -> String {
        let max = self.bounds.name_bytes;
        if name.len() <= max {
            return name.to_string();
        }
        let mut end = max;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", name.get(..end).unwrap_or(""))
    }

    fn error(&mut self, span: Span, error: CheckError) {
        self.diagnostics.push(error.at(span));
    }

    fn error_with_help(&mut self, span: Span, error: CheckError, help: Option<String>) {
        self.diagnostics.push(error.at(span).with_optional_help(help));
    }

    fn run(&mut self, file: &'a ast::File) -> Model {
        self.lost = file.cut_short.iter().map(|(kind, name)| (*kind, name.text.as_str())).collect();
        let (name, version) = self.header(file);
        self.declare_all(file);

        let mut model = Model {
            name,
            version,
            features: Vec::new(),
            limits: Vec::new(),
            settings: Vec::new(),
            tiers: Vec::new(),
            addons: Vec::new(),
            ladders: Vec::new(),
        };
        let mut tier_decls = Vec::new();
        let mut addon_decls = Vec::new();
        let mut limit_decls = Vec::new();
        for decl in &file.decls {
            match decl {
                ast::Decl::Feature(f) if self.is_first(&self.features, &f.name) => model.features.push(FeatureDef {
                    name: f.name.text.clone(),
                    description: f.description.as_ref().map(|d| d.value.clone()),
                    span: f.span,
                }),
                ast::Decl::Limit(l) if self.is_first(&self.limits, &l.name) => {
                    let resolved = self.limit_type(l);
                    self.limit_types.push(resolved);
                    let (ty, kind) = resolved.unwrap_or((QuantityType::Count, LimitKind::Cap));
                    model.limits.push(LimitDef { name: l.name.text.clone(), ty, kind, draws: None, span: l.span });
                    limit_decls.push(l);
                }
                ast::Decl::Setting(s) if self.is_first(&self.settings, &s.name) => {
                    let resolved = self.setting_type(s);
                    self.setting_types.push(resolved.map(|(ty, _)| ty));
                    let (ty, prefer) = resolved.unwrap_or((SettingType::String, None));
                    model.settings.push(SettingDef { name: s.name.text.clone(), ty, prefer, span: s.span });
                }
                ast::Decl::Tier(t) if self.is_first(&self.tiers, &t.name) => tier_decls.push(t),
                ast::Decl::Addon(a) if self.is_first(&self.addons, &a.name) => addon_decls.push(a),
                _ => {}
            }
        }

        self.resolve_draws(&limit_decls, &mut model);
        let parents = self.resolve_parents(&tier_decls);
        for (tier, parent) in tier_decls.iter().zip(parents) {
            let items = self.items(&tier.items, BlockKind::Tier, &format!("tier `{}`", tier.name.text));
            model.tiers.push(TierDef {
                name: tier.name.text.clone(),
                span: tier.span,
                name_span: tier.name.span,
                parent,
                grant_all: items.grant_all,
                grants: items.grants,
                revokes: items.revokes,
                limits: items.tier_limits,
                sets: items.sets,
            });
        }
        for addon in addon_decls {
            model.addons.push(self.addon(addon));
        }
        for decl in &file.decls {
            if let ast::Decl::Ladder(ladder) = decl {
                self.ladder(ladder, &mut model.ladders);
            }
        }
        model
    }
}
