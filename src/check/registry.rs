//! The declaration registry: every declared name, its duplicates, and the reports (with a
//! "did you mean") for names that are used but never declared.

use std::collections::HashMap;

use super::errors::CheckError;
use super::Checker;
use crate::diagnostic::did_you_mean;
use crate::source::Span;
use crate::syntax::ast;

/// A name → index table for one kind of declaration.
#[derive(Default)]
pub(super) struct Names<'a> {
    index: HashMap<&'a str, usize>,
    spans: Vec<Span>,
}

impl<'a> Names<'a> {
    pub(super) fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    fn suggest(&self, name: &str) -> Option<String> {
        did_you_mean(name, self.index.keys().copied())
    }
}

/// The most "did you mean" searches one check makes.
pub(super) const SUGGESTION_BUDGET: usize = 200;

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

    /// Reports `name` as an unknown `kind`, with a suggestion, unless a declaration of that
    /// name was cut short by a syntax error: that error is already reported, and "unknown"
    /// would send the author looking for a declaration that is there.
    pub(super) fn report_unknown(&mut self, kind: ast::DeclKind, name: &ast::Name) {
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

    /// Registers every declared name, reporting duplicates and over-long names. Only the first
    /// declaration of a name counts; later ones are reported and otherwise ignored.
    pub(super) fn declare_all(&mut self, file: &'a ast::File) {
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
    pub(super) fn is_first(&self, names: &Names<'_>, name: &ast::Name) -> bool {
        names.get(&name.text).is_some_and(|i| names.spans.get(i) == Some(&name.span))
    }

    pub(super) fn feature(&mut self, name: &ast::Name) -> Option<usize> {
        let found = self.features.get(&name.text);
        if found.is_none() {
            self.report_unknown(ast::DeclKind::Feature, name);
        }
        found
    }
}
