//! The `policy` header: exactly one, before every declaration.

use super::errors::CheckError;
use super::Checker;
use crate::source::Span;
use crate::syntax::ast;

impl Checker<'_> {
    /// Checks that exactly one header exists and comes first, and returns its name and version.
    pub(super) fn header(&mut self, file: &ast::File) -> (String, Option<String>) {
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
}
