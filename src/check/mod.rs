//! Checking: a syntax tree in, a [`Checked`] policy or every diagnostic out.
//!
//! The checker never stops at the first problem. It resolves every name, types every value,
//! and reports each error it finds; when there are none, it also looks for things that are
//! legal but probably unintended (warnings). Warnings are only computed for policies without
//! errors, so that one mistake does not cascade into a page of consequences.

mod errors;
mod lints;

use std::collections::HashMap;

use crate::diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use crate::limits::Limits;
use crate::model::*;
use crate::source::{Source, Span};
use crate::syntax::{self, ast};
use crate::units::{self, find_unit, format_amount, NumberError, PercentError, UNITS};
use errors::CheckError;

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
/// assert_eq!(first.code.as_str(), "E004");
/// assert_eq!(first.help.as_deref(), Some("did you mean `sso`?"));
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
    let cells = model.tiers.len().saturating_mul(items);
    if cells > limits.table_cells {
        let span = file.decls.first().map_or(Span::at(0), |d| d.span());
        let error = CheckError::TableTooLarge { tiers: model.tiers.len(), items, max: limits.table_cells };
        checker.diagnostics.push(error.at(span));
    }
    if parsed_cleanly && !checker.diagnostics.iter().any(Diagnostic::is_error) {
        flat = model.flatten();
        lints::run(&model, &flat, &checker.ladder_spans, &mut checker.diagnostics);
    }
    (model, flat, checker.diagnostics)
}

/// A name → index table for one kind of declaration.
#[derive(Default)]
struct Names<'a> {
    index: HashMap<&'a str, usize>,
    spans: Vec<Span>,
}

impl<'a> Names<'a> {
    fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    fn suggest(&self, name: &str) -> Option<String> {
        did_you_mean(name, self.index.keys().copied())
    }
}

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
    /// For each ladder, the span of each tier name in it, for the ladder warnings.
    ladder_spans: Vec<Vec<Span>>,
    /// The input limits this check enforces.
    bounds: Limits,
    /// Names whose declarations a syntax error cut short: known to exist, never "unknown".
    lost: std::collections::HashSet<(ast::DeclKind, &'a str)>,
    /// How many more "did you mean" searches this check may make. Each compares a name with
    /// every declared one; past the budget, unknown names are reported without a suggestion,
    /// so that thousands of unknown names cost linear time.
    suggestions_left: std::cell::Cell<usize>,
}

/// Which kind of block items are being read, for the rules that differ between them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Tier,
    Addon,
}

/// The items of one tier or add-on block, checked.
#[derive(Default)]
struct Items {
    grant_all: Option<Span>,
    grants: Vec<GrantDef>,
    revokes: Vec<(usize, Span)>,
    tier_limits: Vec<TierLimit>,
    addon_limits: Vec<AddonLimit>,
    sets: Vec<SetDef>,
    valid: Option<ValidItem>,
}

/// A checked `valid` item: each bound as an instant and as written, and the item's span.
struct ValidItem {
    from: Option<(i64, String)>,
    until: Option<(i64, String)>,
    span: Span,
}

/// The most "did you mean" searches one check makes.
const SUGGESTION_BUDGET: usize = 200;

impl<'a> Checker<'a> {
    /// "did you mean" for an unknown name, while the search budget lasts.
    fn suggest(&self, names: &Names<'_>, name: &str) -> Option<String> {
        let left = self.suggestions_left.get();
        if left == 0 {
            return None;
        }
        self.suggestions_left.set(left - 1);
        names.suggest(name)
    }

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

    /// Reports `name` as an unknown `kind`, with a suggestion, unless a declaration of that
    /// name was cut short by a syntax error: that error is already reported, and "unknown"
    /// would send the author looking for a declaration that is there.
    fn report_unknown(&mut self, kind: ast::DeclKind, name: &ast::Name) {
        if self.lost.contains(&(kind, name.text.as_str())) {
            return;
        }
        let shown = self.shown(&name.text);
        let (names, error) = match kind {
            ast::DeclKind::Feature => (&self.features, CheckError::UnknownFeature { name: shown }),
            ast::DeclKind::Limit => (&self.limits, CheckError::UnknownLimit { name: shown }),
            ast::DeclKind::Setting => (&self.settings, CheckError::UnknownSetting { name: shown }),
            ast::DeclKind::Tier => (&self.tiers, CheckError::UnknownTier { name: shown }),
        };
        let help = self.suggest(names, &name.text);
        self.error_with_help(name.span, error, help);
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
                    model.limits.push(LimitDef { name: l.name.text.clone(), ty, kind, span: l.span });
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

    /// Checks that exactly one header exists and comes first, and returns its name and version.
    fn header(&mut self, file: &ast::File) -> (String, Option<String>) {
        let mut headers = file.decls.iter().enumerate().filter_map(|(i, d)| match d {
            ast::Decl::Header(h) => Some((i, h)),
            _ => None,
        });
        let Some((position, first)) = headers.next() else {
            let help = "start the file with `policy \"name\" version \"1\"`";
            self.error_with_help(Span::at(0), CheckError::MissingHeader, Some(help.into()));
            return (String::new(), None);
        };
        if position != 0 {
            self.error(first.span, CheckError::HeaderNotFirst);
        }
        for (_, again) in headers {
            self.diagnostics.push(CheckError::DuplicateHeader.at(again.span).with_label(first.span, "first header"));
        }
        (first.name.value.clone(), first.version.as_ref().map(|v| v.value.clone()))
    }

    /// Registers every declared name, reporting duplicates and over-long names. Only the first
    /// declaration of a name counts; later ones are reported and otherwise ignored.
    fn declare_all(&mut self, file: &'a ast::File) {
        for decl in &file.decls {
            let (names, kind, name) = match decl {
                ast::Decl::Feature(d) => (&mut self.features, "feature", &d.name),
                ast::Decl::Limit(d) => (&mut self.limits, "limit", &d.name),
                ast::Decl::Setting(d) => (&mut self.settings, "setting", &d.name),
                ast::Decl::Tier(d) => (&mut self.tiers, "tier", &d.name),
                ast::Decl::Addon(d) => (&mut self.addons, "add-on", &d.name),
                ast::Decl::Header(_) | ast::Decl::Ladder(_) => continue,
            };
            if let Some(&first) = names.index.get(name.text.as_str()) {
                let first_span = names.spans.get(first).copied().unwrap_or(name.span);
                let error = CheckError::DuplicateDeclaration { kind, name: self.shown(&name.text) };
                self.diagnostics.push(error.at(name.span).with_label(first_span, "first declared here"));
                continue;
            }
            names.index.insert(&name.text, names.spans.len());
            names.spans.push(name.span);
            if name.text.len() > self.bounds.name_bytes {
                let prefix: String = name.text.chars().take(16).collect();
                let error = CheckError::NameTooLong { prefix, len: name.text.len(), max: self.bounds.name_bytes };
                self.error(name.span, error);
            }
        }
    }

    /// Whether `name` is the declaration its table points at (not a later duplicate).
    fn is_first(&self, names: &Names<'_>, name: &ast::Name) -> bool {
        names.get(&name.text).is_some_and(|i| names.spans.get(i) == Some(&name.span))
    }

    fn unknown_word(&mut self, what: &'static str, word: &ast::Name, options: &[&str]) {
        let error = CheckError::UnknownWord { what, word: word.text.clone() };
        let help = did_you_mean(&word.text, options.iter().copied()).or_else(|| {
            Some(format!("expected one of {}", options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")))
        });
        self.error_with_help(word.span, error, help);
    }

    fn limit_type(&mut self, decl: &ast::LimitDecl) -> Option<(QuantityType, LimitKind)> {
        let types = [QuantityType::Count, QuantityType::Bytes, QuantityType::Duration];
        let ty = types.into_iter().find(|t| t.as_str() == decl.ty.text);
        if ty.is_none() {
            self.unknown_word("limit type", &decl.ty, &types.map(QuantityType::as_str));
        }
        let kind = match &decl.kind {
            ast::LimitKind::Cap => Some(LimitKind::Cap),
            ast::LimitKind::Gauge(_) => Some(LimitKind::Gauge),
            ast::LimitKind::Per(word) => {
                let window = Window::ALL.into_iter().find(|w| w.as_str() == word.text);
                if window.is_none() {
                    self.unknown_word("window", word, &Window::ALL.map(Window::as_str));
                }
                window.map(LimitKind::Counter)
            }
        };
        Some((ty?, kind?))
    }

    fn setting_type(&mut self, decl: &ast::SettingDecl) -> Option<(SettingType, Option<Preference>)> {
        let types =
            [SettingType::Number, SettingType::Percent, SettingType::Duration, SettingType::Bytes, SettingType::String];
        let ty = types.into_iter().find(|t| t.as_str() == decl.ty.text);
        if ty.is_none() {
            self.unknown_word("setting type", &decl.ty, &types.map(SettingType::as_str));
        }
        let prefer = match &decl.prefer {
            None => None,
            Some(word) => match word.text.as_str() {
                "higher" => Some(Preference::Higher),
                "lower" => Some(Preference::Lower),
                _ => {
                    self.unknown_word("preference", word, &["higher", "lower"]);
                    return None;
                }
            },
        };
        let ty = ty?;
        if ty == SettingType::String {
            if let Some(word) = &decl.prefer {
                let error = CheckError::NotAllowedHere { what: "`prefer`", block: "a string setting".into() };
                self.error_with_help(word.span, error, Some("text values are not ordered".into()));
            }
            return Some((ty, None));
        }
        // Ordered settings default to "higher is better"; see docs/language.md.
        Some((ty, Some(prefer.unwrap_or(Preference::Higher))))
    }

    /// Resolves each tier's `extends`, breaking cycles and over-deep chains (both reported) so
    /// that the model is always a forest.
    #[expect(
        clippy::indexing_slicing,
        reason = "`state`, `parents` and `tiers` hold one entry per tier, every tier index comes from `self.tiers`, and `cycle_start` is a position in `path`"
    )]
    fn resolve_parents(&mut self, tiers: &[&'a ast::TierDecl]) -> Vec<Option<usize>> {
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

        for (index, tier) in tiers.iter().enumerate() {
            let mut depth = 0;
            let mut current = parents[index];
            while let Some(parent) = current {
                depth += 1;
                if depth > self.bounds.inheritance_depth {
                    let error = CheckError::InheritanceTooDeep {
                        name: tier.name.text.clone(),
                        max: self.bounds.inheritance_depth,
                    };
                    self.error(tier.name.span, error);
                    break;
                }
                current = parents[parent];
            }
        }
        parents
    }

    fn feature(&mut self, name: &ast::Name) -> Option<usize> {
        let found = self.features.get(&name.text);
        if found.is_none() {
            self.report_unknown(ast::DeclKind::Feature, name);
        }
        found
    }

    fn percentage(&mut self, percent: &ast::Percent) -> Option<Percentage> {
        match units::parse_percent(&percent.number) {
            Ok(p) => Some(p),
            Err(PercentError::AboveHundred) => {
                self.error(percent.span, CheckError::PercentAboveHundred { text: percent.number.clone() });
                None
            }
            Err(PercentError::TooPrecise) => {
                self.error(percent.span, CheckError::PercentTooPrecise { text: percent.number.clone() });
                None
            }
        }
    }

    /// Reads the items of a tier or add-on block, reporting unknown names, repeats, items the
    /// block may not hold, and ill-typed values.
    fn items(&mut self, items: &[ast::Item], kind: BlockKind, block: &str) -> Items {
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
                    out.valid = Some(ValidItem { from, until, span: valid.span });
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
        let Some(Some((ty, _))) = self.limit_types.get(limit).copied() else {
            return;
        };
        let value = self.amount(&item.value, ty, Target::Limit(&item.limit.text));
        match kind {
            BlockKind::Addon => {
                let op = if item.op == ast::AssignOp::Add { AddonOp::Add } else { AddonOp::AtLeast };
                if let Some(value) = value {
                    out.addon_limits.push(AddonLimit { limit, op, value, span: item.span });
                }
            }
            BlockKind::Tier => {
                let soft = match &item.soft {
                    None => Some(None),
                    Some(ast::Soft { cap: None, .. }) => Some(Some(Amount::Unlimited)),
                    Some(ast::Soft { cap: Some(cap), .. }) => {
                        self.amount(cap, ty, Target::SoftCap(&item.limit.text)).map(Some)
                    }
                };
                let warn = match &item.warn {
                    Some(p) => self.percentage(p).map(Some),
                    None => Some(None),
                };
                let (Some(value), Some(soft), Some(warn)) = (value, soft, warn) else {
                    return;
                };
                if let Some(cap) = soft {
                    if cap < value {
                        let error = CheckError::SoftCapBelowLimit {
                            limit: item.limit.text.clone(),
                            soft: format_amount(ty, cap),
                            value: format_amount(ty, value),
                        };
                        let span = item.soft.as_ref().map_or(item.span, |s| s.span);
                        self.error(span, error);
                        return;
                    }
                }
                out.tier_limits.push(TierLimit { limit, value, soft, warn, span: item.span });
            }
        }
    }

    /// Types a limit value: `unlimited` or a whole quantity of the limit's type.
    fn amount(&mut self, value: &ast::Value, ty: QuantityType, target: Target<'_>) -> Option<Amount> {
        match &value.kind {
            ast::ValueKind::Unlimited => Some(Amount::Unlimited),
            ast::ValueKind::Quantity { number, unit } => {
                self.quantity(number, unit.as_ref(), value.span, ty, target).map(Amount::Finite)
            }
            _ => {
                self.mismatch(value, target, quantity_phrase(ty));
                None
            }
        }
    }

    /// Types a number with an optional unit as a whole quantity of `ty`, in base units.
    fn quantity(
        &mut self,
        number: &str,
        unit: Option<&ast::Name>,
        span: Span,
        ty: QuantityType,
        target: Target<'_>,
    ) -> Option<u64> {
        // The number as written, for messages; built only when one is reported.
        let written = || match unit {
            Some(unit) => format!("{number} {}", unit.text),
            None => number.to_string(),
        };
        let n = match units::parse_whole(number) {
            Ok(n) => n,
            Err(NumberError::Fractional) => {
                let error = CheckError::TypeMismatch {
                    target: target.to_string(),
                    expected: "a whole number".into(),
                    found: format!("`{}`", written()),
                };
                let help = "write it in a smaller unit, such as `1536 MiB` for `1.5 GiB`";
                self.error_with_help(span, error, Some(help.into()));
                return None;
            }
            Err(NumberError::Overflow) => {
                self.error(span, CheckError::QuantityOverflow { text: written() });
                return None;
            }
        };
        let factor = match unit {
            None if ty == QuantityType::Count || n == 0 => 1,
            None => {
                let error = CheckError::TypeMismatch {
                    target: target.to_string(),
                    expected: quantity_phrase(ty).into(),
                    found: format!("`{}` (a plain number)", written()),
                };
                let example = if ty == QuantityType::Bytes { "`10 GiB`" } else { "`30 days`" };
                self.error_with_help(span, error, Some(format!("add a unit, as in {example}")));
                return None;
            }
            Some(unit_name) => match find_unit(&unit_name.text) {
                None => {
                    let error = CheckError::UnknownWord { what: "unit", word: unit_name.text.clone() };
                    // Unit names are case-sensitive, and the commonest slip is the case
                    // (`gib`, `gb`): suggest the spelling that differs only in case first.
                    let same_letters = UNITS.iter().find(|u| u.name.eq_ignore_ascii_case(&unit_name.text));
                    let help = same_letters
                        .map(|u| format!("did you mean `{}`? unit names are case-sensitive", u.name))
                        .or_else(|| did_you_mean(&unit_name.text, UNITS.iter().map(|u| u.name)));
                    self.error_with_help(unit_name.span, error, help);
                    return None;
                }
                Some(unit) if unit.ty != ty || ty == QuantityType::Count => {
                    let error = CheckError::TypeMismatch {
                        target: target.to_string(),
                        expected: quantity_phrase(ty).into(),
                        found: format!("`{}` ({})", written(), quantity_phrase(unit.ty)),
                    };
                    self.error(span, error);
                    return None;
                }
                Some(unit) => unit.factor,
            },
        };
        match n.checked_mul(factor) {
            Some(total) => Some(total),
            None => {
                self.error(span, CheckError::QuantityOverflow { text: written() });
                None
            }
        }
    }

    fn setting_value(&mut self, value: &ast::Value, setting: usize, name: &str) -> Option<SettingValue> {
        let ty = (*self.setting_types.get(setting)?)?;
        let target = Target::Setting(name);
        match (ty, &value.kind) {
            (SettingType::String, ast::ValueKind::Str(text)) => Some(SettingValue::Text(text.as_str().into())),
            (SettingType::Percent, ast::ValueKind::Percent(p)) => self.percentage(p).map(SettingValue::Percent),
            (SettingType::Number, ast::ValueKind::Quantity { number, unit }) => {
                self.quantity(number, unit.as_ref(), value.span, QuantityType::Count, target).map(SettingValue::Number)
            }
            (SettingType::Duration, ast::ValueKind::Quantity { number, unit }) => self
                .quantity(number, unit.as_ref(), value.span, QuantityType::Duration, target)
                .map(SettingValue::Duration),
            (SettingType::Bytes, ast::ValueKind::Quantity { number, unit }) => {
                self.quantity(number, unit.as_ref(), value.span, QuantityType::Bytes, target).map(SettingValue::Bytes)
            }
            (ty, _) => {
                let expected = match ty {
                    SettingType::Number => "a plain number",
                    SettingType::Percent => "a percentage",
                    SettingType::Duration => quantity_phrase(QuantityType::Duration),
                    SettingType::Bytes => quantity_phrase(QuantityType::Bytes),
                    SettingType::String => "a string",
                };
                self.mismatch(value, target, expected);
                None
            }
        }
    }

    fn mismatch(&mut self, value: &ast::Value, target: Target<'_>, expected: &str) {
        let found = match &value.kind {
            ast::ValueKind::Unlimited => "`unlimited`".to_string(),
            ast::ValueKind::Percent(p) => format!("`{}%` (a percentage)", p.number),
            ast::ValueKind::Str(_) => "a string".to_string(),
            ast::ValueKind::Quantity { number, unit: None } => {
                format!("`{number}` (a plain number)")
            }
            ast::ValueKind::Quantity { number, unit: Some(unit) } => {
                let what = find_unit(&unit.text).map_or("a quantity", |u| quantity_phrase(u.ty));
                format!("`{number} {}` ({what})", unit.text)
            }
        };
        let error = CheckError::TypeMismatch { target: target.to_string(), expected: expected.into(), found };
        self.error(value.span, error);
    }

    fn date(&mut self, date: &ast::Date) -> Option<(i64, String)> {
        match crate::time::parse_instant(&date.text) {
            Some(instant) => Some((instant, date.text.clone())),
            None => {
                let help = "dates are `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`, in UTC";
                self.error_with_help(date.span, CheckError::InvalidDate { text: date.text.clone() }, Some(help.into()));
                None
            }
        }
    }

    fn addon(&mut self, decl: &ast::AddonDecl) -> AddonDef {
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
        }
    }

    fn ladder(&mut self, decl: &ast::LadderDecl, ladders: &mut Vec<Vec<usize>>) {
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

/// What a value is given for, as type errors name it; written out only when one is reported,
/// since every limit and setting line of a policy passes one.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// The value of the limit so named.
    Limit(&'a str),
    /// The soft cap of the limit so named.
    SoftCap(&'a str),
    /// The value of the setting so named.
    Setting(&'a str),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Limit(name) => write!(f, "limit `{name}`"),
            Target::SoftCap(name) => write!(f, "the soft cap of `{name}`"),
            Target::Setting(name) => write!(f, "setting `{name}`"),
        }
    }
}

fn quantity_phrase(ty: QuantityType) -> &'static str {
    match ty {
        QuantityType::Count => "a plain number",
        QuantityType::Bytes => "a size in bytes",
        QuantityType::Duration => "a duration",
    }
}
