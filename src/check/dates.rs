//! Dates: the bounds of a `valid` item, read as instants.

use super::errors::CheckError;
use super::Checker;
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn date(&mut self, date: &ast::Date) -> Option<(i64, String)> {
        match crate::time::parse_instant(&date.text) {
            Some(instant) => Some((instant, date.text.clone())),
            None => {
                let help = "dates are `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`, in UTC";
                self.error_with_help(date.span, CheckError::InvalidDate { text: date.text.clone() }, Some(help.into()));
                None
            }
        }
    }
}
