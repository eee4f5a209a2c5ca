//! A hand-written reader of the grammar in `grammar/entitle.pest`, for declarations that parse.
//!
//! pest's generated parser costs several hundred instructions a byte, most of it in its rule
//! machinery; this reader walks the same rules by hand in a few dozen. It follows the grammar's
//! ordered choices one for one, and the moment anything does not fit (a token it does not
//! expect, an optional group that matches only in part) it gives up and returns `None`. The
//! driver then hands the declaration to pest, which either reads it after all or reports the
//! error. So pest remains the judge of every input this reader declines and the author of every
//! syntax message; what this reader accepts, pest accepts with the same tree, which a test over
//! mutated policies and the `parse_check` fuzz target check.
//!
//! Trivia (whitespace and `//` comments) is skipped before every token. That matches pest's
//! implicit whitespace, which sits between the elements of every non-atomic rule, because each
//! atomic rule of the grammar (a name, a number with its unit, a string, a date) is read here as
//! one token.

use super::ast::*;
use super::unescape;
use crate::source::Span;

/// Reads the declaration that starts at `start` (past any trivia) and must end before `end`.
/// Returns it with the offset just past its last token, or `None` to leave it to pest.
pub(crate) fn declaration(text: &str, start: usize, end: usize) -> Option<(Decl, usize)> {
    let mut reader = Reader { text, at: start, end: end.min(text.len()), last_end: start };
    let decl = reader.declaration()?;
    Some((decl, reader.last_end))
}

/// Where the trivia starting at `at` ends, reading no further than `end`: the grammar's
/// `WHITESPACE` (space, tab, carriage return, line feed; no other whitespace) and `COMMENT`
/// (`//` to the end of the line). The parser's driver finds where each declaration starts with
/// it too, so both agree on what may stand between declarations.
pub(crate) fn trivia_end(text: &str, mut at: usize, end: usize) -> usize {
    let bytes = text.as_bytes().get(..end.min(text.len())).unwrap_or_default();
    loop {
        match bytes.get(at) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => at += 1,
            Some(b'/') if bytes.get(at + 1) == Some(&b'/') => {
                at += 2;
                while bytes.get(at).is_some_and(|&b| b != b'\n') {
                    at += 1;
                }
            }
            _ => return at,
        }
    }
}

/// The words that cannot be names (the grammar's `keyword` rule).
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "policy"
            | "version"
            | "feature"
            | "limit"
            | "setting"
            | "ladder"
            | "tier"
            | "extends"
            | "addon"
            | "for"
            | "grant"
            | "revoke"
            | "all"
            | "rollout"
            | "set"
            | "soft"
            | "warn"
            | "at"
            | "unlimited"
            | "valid"
            | "from"
            | "until"
            | "gauge"
            | "per"
            | "prefer"
            | "max"
    )
}

fn is_ident_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// A cursor over `text[..end]`. `at` may sit past trivia the last token did not include;
/// `last_end` is the end of the last token, where a node's span ends.
struct Reader<'t> {
    text: &'t str,
    at: usize,
    end: usize,
    last_end: usize,
}

impl Reader<'_> {
    fn byte(&self, at: usize) -> Option<u8> {
        if at < self.end {
            self.text.as_bytes().get(at).copied()
        } else {
            None
        }
    }

    fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// Moves past whitespace and comments.
    fn skip_trivia(&mut self) {
        self.at = trivia_end(self.text, self.at, self.end);
    }

    /// Takes the token `start..end` that the caller has recognised.
    fn take(&mut self, start: usize, end: usize) -> Span {
        self.at = end;
        self.last_end = end;
        Span::new(start, end)
    }

    /// The identifier after the trivia at the cursor, without moving past it: the longest run
    /// of ASCII letters, digits and `_` that starts with a letter or `_`.
    fn peek_ident(&mut self) -> Option<Span> {
        self.skip_trivia();
        let start = self.at;
        match self.byte(start) {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
            _ => return None,
        }
        let mut end = start + 1;
        while self.byte(end).is_some_and(is_ident_char) {
            end += 1;
        }
        Some(Span::new(start, end))
    }

    /// The keyword `word` next (the grammar's `kw_*` rules): the whole identifier, so that
    /// `limits` is not `limit`.
    fn keyword(&mut self, word: &str) -> Option<Span> {
        let ident = self.peek_ident()?;
        (self.slice(ident) == word).then(|| self.take(ident.start, ident.end))
    }

    /// Whether the next token is the keyword `word`, without moving past it.
    fn sees_keyword(&mut self, word: &str) -> bool {
        self.peek_ident().is_some_and(|ident| self.slice(ident) == word)
    }

    fn punct(&mut self, mark: u8) -> Option<Span> {
        self.skip_trivia();
        (self.byte(self.at) == Some(mark)).then(|| self.take(self.at, self.at + 1))
    }

    /// The grammar's `name`: an identifier that is not a keyword.
    fn name(&mut self) -> Option<Name> {
        let ident = self.peek_ident()?;
        if is_keyword(self.slice(ident)) {
            return None;
        }
        self.word_at(ident)
    }

    /// The grammar's `word`: any identifier, keywords included.
    fn word(&mut self) -> Option<Name> {
        let ident = self.peek_ident()?;
        self.word_at(ident)
    }

    fn word_at(&mut self, ident: Span) -> Option<Name> {
        let span = self.take(ident.start, ident.end);
        Some(Name { text: self.slice(span).to_string(), span })
    }

    /// `name ~ (comma ~ name)*`.
    fn name_list(&mut self) -> Option<Vec<Name>> {
        let mut names = vec![self.name()?];
        while self.punct(b',').is_some() {
            names.push(self.name()?);
        }
        Some(names)
    }

    /// The end of the grammar's `decimal` starting at `start`, which must be a digit.
    fn decimal_end(&self, start: usize) -> Option<usize> {
        let digits_from = |mut at: usize| {
            while self.byte(at).is_some_and(|b| b.is_ascii_digit() || b == b'_') {
                at += 1;
            }
            at
        };
        if !self.byte(start).is_some_and(|b| b.is_ascii_digit()) {
            return None;
        }
        let end = digits_from(start + 1);
        if self.byte(end) == Some(b'.') && self.byte(end + 1).is_some_and(|b| b.is_ascii_digit()) {
            return Some(digits_from(end + 2));
        }
        Some(end)
    }

    /// The grammar's `percent`: a decimal and `%`, with nothing between.
    fn percent(&mut self) -> Option<Percent> {
        self.skip_trivia();
        let start = self.at;
        let number_end = self.decimal_end(start)?;
        if self.byte(number_end) != Some(b'%') {
            return None;
        }
        let span = self.take(start, number_end + 1);
        Some(Percent { number: self.slice(Span::new(start, number_end)).to_string(), span })
    }

    /// Whether a `value` starts at the next token.
    fn sees_value(&mut self) -> bool {
        self.skip_trivia();
        match self.byte(self.at) {
            Some(b'"') => true,
            Some(b) if b.is_ascii_digit() => true,
            _ => self.sees_keyword("unlimited"),
        }
    }

    /// The grammar's `value`: `unlimited`, a quantity (a number with a `%` or a unit on its
    /// line) or a string.
    fn value(&mut self) -> Option<Value> {
        self.skip_trivia();
        let start = self.at;
        if self.byte(start) == Some(b'"') {
            let string = self.string()?;
            return Some(Value { kind: ValueKind::Str(string.value), span: string.span });
        }
        if let Some(span) = self.keyword("unlimited") {
            return Some(Value { kind: ValueKind::Unlimited, span });
        }
        let number_end = self.decimal_end(start)?;
        let number = self.slice(Span::new(start, number_end)).to_string();
        if self.byte(number_end) == Some(b'%') {
            let span = self.take(start, number_end + 1);
            return Some(Value { kind: ValueKind::Percent(Percent { number, span }), span });
        }
        // `inline_space ~ unit`, all or nothing: a unit is ASCII letters only, not a keyword,
        // on the number's line.
        let mut unit_start = number_end;
        while matches!(self.byte(unit_start), Some(b' ' | b'\t')) {
            unit_start += 1;
        }
        let mut unit_end = unit_start;
        while self.byte(unit_end).is_some_and(|b| b.is_ascii_alphabetic()) {
            unit_end += 1;
        }
        let unit_span = Span::new(unit_start, unit_end);
        let is_unit = unit_start > number_end
            && unit_end > unit_start
            && !self.byte(unit_end).is_some_and(is_ident_char)
            && !is_keyword(self.slice(unit_span));
        if is_unit {
            let unit = Name { text: self.slice(unit_span).to_string(), span: unit_span };
            let span = self.take(start, unit_end);
            return Some(Value { kind: ValueKind::Quantity { number, unit: Some(unit) }, span });
        }
        let span = self.take(start, number_end);
        Some(Value { kind: ValueKind::Quantity { number, unit: None }, span })
    }

    /// The grammar's `quantity`: a value that starts with a digit (a number with its `%` or
    /// unit), where `unlimited` and strings are not allowed.
    fn quantity(&mut self) -> Option<Value> {
        self.skip_trivia();
        if !self.byte(self.at).is_some_and(|b| b.is_ascii_digit()) {
            return None;
        }
        self.value()
    }

    /// The grammar's `string`: quotes around characters other than `"`, `\` and line breaks,
    /// or the escapes `\"`, `\\`, `\n`, `\t`.
    fn string(&mut self) -> Option<Str> {
        self.skip_trivia();
        let start = self.at;
        if self.byte(start) != Some(b'"') {
            return None;
        }
        // Every byte compared is ASCII, so the body ends on a character boundary even in text
        // that is not.
        let mut at = start + 1;
        loop {
            match self.byte(at)? {
                b'"' => break,
                b'\\' if matches!(self.byte(at + 1), Some(b'"' | b'\\' | b'n' | b't')) => at += 2,
                b'\\' | b'\n' | b'\r' => return None,
                _ => at += 1,
            }
        }
        let value = unescape(self.slice(Span::new(start + 1, at)));
        Some(Str { value, span: self.take(start, at + 1) })
    }

    /// The grammar's `date`: `YYYY-MM-DD`, optionally `THH:MM` or `THH:MM:SS`, then `Z`.
    fn date(&mut self) -> Option<Date> {
        self.skip_trivia();
        let start = self.at;
        let fits = |at: usize, pattern: &[u8]| {
            pattern
                .iter()
                .enumerate()
                .all(|(i, &p)| self.byte(at + i).is_some_and(|b| if p == b'9' { b.is_ascii_digit() } else { b == p }))
        };
        if !fits(start, b"9999-99-99") {
            return None;
        }
        let day_end = start + 10;
        let end = if fits(day_end, b"T99:99:99Z") {
            day_end + 10
        } else if fits(day_end, b"T99:99Z") {
            day_end + 7
        } else {
            day_end
        };
        let span = self.take(start, end);
        Some(Date { text: self.slice(span).to_string(), span })
    }

    fn declaration(&mut self) -> Option<Decl> {
        let head = self.peek_ident()?;
        let read: fn(&mut Self, usize) -> Option<Decl> = match self.slice(head) {
            "policy" => Self::header,
            "feature" => Self::feature,
            "limit" => Self::limit_decl,
            "setting" => Self::setting,
            "ladder" => Self::ladder,
            "tier" => Self::tier,
            "addon" => Self::addon,
            _ => return None,
        };
        self.take(head.start, head.end);
        read(self, head.start)
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.last_end)
    }

    fn header(&mut self, start: usize) -> Option<Decl> {
        let name = self.string()?;
        let version = if self.keyword("version").is_some() { Some(self.string()?) } else { None };
        Some(Decl::Header(Header { name, version, span: self.span_from(start) }))
    }

    fn feature(&mut self, start: usize) -> Option<Decl> {
        let name = self.name()?;
        self.skip_trivia();
        let description = if self.byte(self.at) == Some(b'"') { Some(self.string()?) } else { None };
        Some(Decl::Feature(FeatureDecl { name, description, span: self.span_from(start) }))
    }

    fn limit_decl(&mut self, start: usize) -> Option<Decl> {
        let name = self.name()?;
        self.punct(b':')?;
        let ty = self.word()?;
        let kind = if let Some(span) = self.keyword("gauge") {
            LimitKind::Gauge(span)
        } else if let Some(draws) = self.keyword("draws") {
            let pool = self.name()?;
            self.keyword("at")?;
            let rate = self.quantity()?;
            let per = match self.per()? {
                None => None,
                Some(Ok(quantity)) => Some(DrawPer::Quantity(quantity)),
                Some(Err(unit)) => Some(DrawPer::Unit(unit)),
            };
            LimitKind::Draws(Draws { pool, rate, per, span: self.span_from(draws.start) })
        } else if let Some(rolling) = self.keyword("rolling") {
            match self.length()? {
                Ok(quantity) => LimitKind::RollingEvery(rolling, quantity),
                Err(word) => LimitKind::RollingPer(rolling, word),
            }
        } else {
            match self.per()? {
                None => LimitKind::Cap,
                Some(Ok(quantity)) => LimitKind::Every(quantity),
                Some(Err(word)) => LimitKind::Per(word),
            }
        };
        Some(Decl::Limit(LimitDecl { name, ty, kind, span: self.span_from(start) }))
    }

    /// An optional `per` and what follows it: `Some(None)` when there is no `per`,
    /// `Some(Some(Ok(_)))` for a number (with its unit, if any), `Some(Some(Err(_)))` for a
    /// word alone, and `None` when the text does not fit and pest must read it.
    fn per(&mut self) -> Option<Option<Result<Value, Name>>> {
        if self.keyword("per").is_none() {
            return Some(None);
        }
        self.length().map(Some)
    }

    /// A window's length after `per` or `rolling`: `Ok` for a number (with its unit, if
    /// any), `Err` for a word alone, and `None` when the text does not fit.
    fn length(&mut self) -> Option<Result<Value, Name>> {
        self.skip_trivia();
        Some(if self.byte(self.at).is_some_and(|b| b.is_ascii_digit()) {
            Ok(self.quantity()?)
        } else {
            Err(self.word()?)
        })
    }

    fn setting(&mut self, start: usize) -> Option<Decl> {
        let name = self.name()?;
        self.punct(b':')?;
        let ty = self.word()?;
        let prefer = if self.keyword("prefer").is_some() { Some(self.word()?) } else { None };
        Some(Decl::Setting(SettingDecl { name, ty, prefer, span: self.span_from(start) }))
    }

    fn ladder(&mut self, start: usize) -> Option<Decl> {
        let mut tiers = vec![self.name()?];
        while self.punct(b'<').is_some() {
            tiers.push(self.name()?);
        }
        if tiers.len() < 2 {
            return None;
        }
        Some(Decl::Ladder(LadderDecl { tiers, span: self.span_from(start) }))
    }

    fn tier(&mut self, start: usize) -> Option<Decl> {
        let name = self.name()?;
        let extends = if self.keyword("extends").is_some() { Some(self.name()?) } else { None };
        let items = self.block()?;
        Some(Decl::Tier(TierDecl { name, extends, items, span: self.span_from(start) }))
    }

    fn addon(&mut self, start: usize) -> Option<Decl> {
        let name = self.name()?;
        self.keyword("for")?;
        let for_tiers = self.name_list()?;
        let items = self.block()?;
        Some(Decl::Addon(AddonDecl { name, for_tiers, items, span: self.span_from(start) }))
    }

    /// `lbrace ~ item* ~ rbrace`. Every item starts with its own keyword, so a word that
    /// starts none ends the items, and the next token must be `}`.
    fn block(&mut self) -> Option<Vec<Item>> {
        self.punct(b'{')?;
        let mut items = Vec::new();
        while let Some(head) = self.peek_ident() {
            let start = head.start;
            let item = match self.slice(head) {
                "limit" => {
                    self.take(head.start, head.end);
                    self.limit_item(start)?
                }
                "grant" => {
                    self.take(head.start, head.end);
                    if self.keyword("all").is_some() {
                        Item::GrantAll(self.span_from(start))
                    } else {
                        let features = self.name_list()?;
                        let rollout = if self.keyword("rollout").is_some() { Some(self.percent()?) } else { None };
                        Item::Grant(Grant { features, rollout, span: self.span_from(start) })
                    }
                }
                "revoke" => {
                    self.take(head.start, head.end);
                    Item::Revoke(Revoke { features: self.name_list()?, span: self.span_from(start) })
                }
                "set" => {
                    self.take(head.start, head.end);
                    let setting = self.name()?;
                    self.punct(b'=')?;
                    let value = self.value()?;
                    Item::Set(SetItem { setting, value, span: self.span_from(start) })
                }
                "valid" => {
                    self.take(head.start, head.end);
                    let length = if self.keyword("for").is_some() { Some(self.quantity()?) } else { None };
                    let from = if self.keyword("from").is_some() { Some(self.date()?) } else { None };
                    let until = if self.keyword("until").is_some() { Some(self.date()?) } else { None };
                    if length.is_none() && from.is_none() && until.is_none() {
                        return None;
                    }
                    Item::Valid(Valid { length, from, until, span: self.span_from(start) })
                }
                "max" => {
                    self.take(head.start, head.end);
                    let value = self.value()?;
                    Item::Max(MaxItem { value, span: self.span_from(start) })
                }
                _ => break,
            };
            items.push(item);
        }
        self.punct(b'}')?;
        Some(items)
    }

    fn limit_item(&mut self, start: usize) -> Option<Item> {
        let limit = self.name()?;
        self.skip_trivia();
        let op_start = self.at;
        let (op, op_end) = match (self.byte(op_start), self.byte(op_start + 1)) {
            (Some(b'+'), Some(b'=')) => (AssignOp::Add, op_start + 2),
            (Some(b'='), _) => (AssignOp::Set, op_start + 1),
            _ => return None,
        };
        let op_span = self.take(op_start, op_end);
        let value = self.value()?;
        let per_seat = self.per_seat()?;
        let soft = match self.keyword("soft") {
            Some(keyword) => {
                let (cap, cap_per_seat) =
                    if self.sees_value() { (Some(self.value()?), self.per_seat()?) } else { (None, None) };
                Some(Soft { cap, cap_per_seat, span: self.span_from(keyword.start) })
            }
            None => None,
        };
        let warn = if self.keyword("warn").is_some() {
            self.keyword("at")?;
            Some(self.percent()?)
        } else {
            None
        };
        Some(Item::Limit(LimitItem { limit, op, op_span, value, per_seat, soft, warn, span: self.span_from(start) }))
    }

    /// The grammar's optional `per_seat`: `Some(None)` when the next word is not `per`, and
    /// `None` (declining) when `per` is not followed by `seat`, which only pest reports.
    fn per_seat(&mut self) -> Option<Option<Span>> {
        let Some(per) = self.keyword("per") else {
            return Some(None);
        };
        self.keyword("seat")?;
        Some(Some(self.span_from(per.start)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader's keywords are the grammar's: every word quoted in the grammar file is a
    /// keyword here exactly when the grammar's `keyword` rule lists it, so a keyword added to
    /// the grammar cannot be read as a name here.
    #[test]
    fn keywords_are_the_grammars() {
        let grammar = include_str!("../../grammar/entitle.pest");
        let quoted = |text: &str| -> Vec<String> {
            text.split('"')
                .skip(1)
                .step_by(2)
                .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
                .map(str::to_string)
                .collect()
        };
        let rule_start = grammar.find("keyword = @{").expect("the grammar has a keyword rule");
        let rule = grammar.get(rule_start..).and_then(|rest| rest.split('}').next()).expect("the rule ends");
        let keywords = quoted(rule);
        assert_eq!(keywords.len(), 26, "{keywords:?}");
        for word in quoted(grammar) {
            assert_eq!(is_keyword(&word), keywords.contains(&word), "`{word}`");
        }
    }
}
