//! Parser for SCIM 2.0 filter expressions (RFC 7644 §3.4.2.2) and PATCH operation paths
//! (RFC 7644 §3.5.2), tolerant of the dialect Microsoft Entra ID actually sends.
//!
//! The parser only builds an AST: it evaluates nothing and knows no schema. Attribute names are
//! kept exactly as written; resolving them (case-insensitively) is another module's job.
//!
//! Leniencies beyond the RFC grammar, all observed from Entra ID or cheap to accept:
//! - operators and `and`/`or`/`not` are case-insensitive, and so are `true`/`false`/`null`
//!   (Entra writes `True`);
//! - any amount of whitespace (spaces, tabs, newlines) may separate tokens, and none is needed
//!   where the token boundary is obvious (`not(x)`, `eq"x"`);
//! - an unquoted value that is not a JSON literal or number (`externalId eq jyoung`) is taken
//!   as a string, as legacy Entra provisioning sends;
//! - `emails[type eq "work"].value eq "x"` is normalised to the RFC form
//!   `emails[type eq "work" and value eq "x"]`.
//!
//! The input is hostile: its length, its nesting depth and its number of conditions are
//! bounded, the parser is recursive descent with an explicit depth counter (no stack overflow),
//! it never backtracks (linear time) and it reports every problem as a [`FilterError`].

use std::fmt;

/// Longest filter or path accepted, in characters.
const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and `[...]` accepted (each counts one level).
const MAX_DEPTH: usize = 32;
/// Most comparison / presence conditions accepted in one filter or path.
const MAX_TERMS: usize = 64;
/// Longest piece of input quoted back in an error message.
const SNIPPET_LEN: usize = 24;

const OPERATORS: &str = "eq, ne, co, sw, ew, gt, ge, lt, le, pr";
const BAD_SURROGATE: &str = "invalid \\u escape: unpaired UTF-16 surrogate";

/// An attribute reference as written: optional schema URN, attribute name, optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// A comparison operator (`pr` is not one: it is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, CompareOp, CompValue),
    /// `emails[type eq "work"]`: `attr` has no `sub`; the inner filter's paths are relative to
    /// the elements (e.g. AttrPath{name:"type"}).
    ValuePath(AttrPath, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// A PATCH operation path.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute; its `sub` is `None` when a value filter is present (the sub-attribute
    /// after `[...]` goes to [`PatchPath::sub`]).
    pub attr: AttrPath,
    /// The value filter of `attr[filter]`, with paths relative to the elements.
    pub filter: Option<Filter>,
    /// The sub-attribute of `attr[filter].sub`.
    pub sub: Option<String>,
}

/// Why a filter or path was rejected, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    /// 0-based character (not byte) offset where the problem was detected.
    pub position: usize,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position, self.message)
    }
}

impl std::error::Error for FilterError {}

/// Parses a SCIM filter such as `userName eq "bjensen" and emails[type eq "work"]`.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input, "filter")?;
    p.skip_ws();
    if p.at_end() {
        return p.fail(p.pos, "filter is empty");
    }
    let filter = p.parse_or()?;
    p.skip_ws();
    p.expect_filter_end()?;
    Ok(filter)
}

/// Parses a PATCH path: `attr`, `attr.sub`, `urn:...:attr[.sub]`, `attr[filter]` or
/// `attr[filter].sub`. Unlike filters, no whitespace is allowed outside the brackets.
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(input, "path")?;
    if p.at_end() {
        return p.fail(0, "path is empty");
    }
    let attr = p.parse_attr_path()?;
    let (mut filter, mut sub) = (None, None);
    if p.peek() == Some('[') {
        p.check_filterable(&attr)?;
        filter = Some(p.parse_value_filter()?);
        sub = p.parse_sub()?;
    }
    if !p.at_end() {
        let (after, found) = (p.snippet(0, p.pos), p.found(p.pos));
        let msg =
            format!("expected \"[\", \".\" or the end of the path after {after}, found {found}");
        return p.fail(p.pos, msg);
    }
    Ok(PatchPath { attr, filter, sub })
}

/// What follows an attribute path in a condition.
enum Operator {
    Present,
    Compare(CompareOp),
}

impl Operator {
    fn from_word(word: &str) -> Option<Self> {
        let op = match word.to_ascii_lowercase().as_str() {
            "pr" => return Some(Operator::Present),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        };
        Some(Operator::Compare(op))
    }
}

fn is_ws(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// RFC 7644 nameChar: `"-" / "_" / DIGIT / ALPHA`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_delimiter(c: char) -> bool {
    matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Characters of a bare word: an unquoted value or a URN-qualified path.
fn is_word_char(c: char) -> bool {
    !is_ws(c) && !is_delimiter(c)
}

/// Recursive-descent parser over the input's characters. Grammar, loosest binding first:
///
/// ```text
/// or       = and *("or" and)
/// and      = unary *("and" unary)
/// unary    = "not" "(" or ")" / "(" or ")" / attrExpr
/// attrExpr = attrPath "[" or "]" ["." name ("pr" / op value)]
///          / attrPath ("pr" / op value)
/// ```
struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    terms: usize,
    in_brackets: bool,
}

impl Parser {
    /// Refuses over-long input up front; `what` names it ("filter" or "path") in the message.
    fn new(input: &str, what: &str) -> Result<Self, FilterError> {
        // The byte length bounds the character count, so huge inputs are not even collected.
        if input.len() > MAX_LEN && input.chars().nth(MAX_LEN).is_some() {
            let message = format!("{what} is too long (max {MAX_LEN} characters)");
            return Err(FilterError {
                position: MAX_LEN,
                message,
            });
        }
        let chars = input.chars().collect();
        Ok(Parser {
            chars,
            pos: 0,
            depth: 0,
            terms: 0,
            in_brackets: false,
        })
    }

    // ----- logical structure -----

    fn parse_or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_and()?;
        while self.eat_logical("or")? {
            left = Filter::Or(Box::new(left), Box::new(self.parse_and()?));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary()?;
        while self.eat_logical("and")? {
            left = Filter::And(Box::new(left), Box::new(self.parse_unary()?));
        }
        Ok(left)
    }

    /// Consumes the logical keyword `kw` if it comes next, and makes sure an operand follows
    /// so that `a eq 1 and` gets a message about `and` rather than a generic one.
    fn eat_logical(&mut self, kw: &str) -> Result<bool, FilterError> {
        self.skip_ws();
        if !self.eat_keyword(kw) {
            return Ok(false);
        }
        self.skip_ws();
        if matches!(self.peek(), None | Some(')') | Some(']')) {
            let msg = format!(
                "expected a condition after \"{kw}\", found {}",
                self.found(self.pos)
            );
            return self.fail(self.pos, msg);
        }
        Ok(true)
    }

    fn parse_unary(&mut self) -> Result<Filter, FilterError> {
        self.skip_ws();
        let start = self.pos;
        if self.eat_keyword("not") {
            return self.parse_not(start);
        }
        // `and`/`or` here means a missing left operand, not an attribute called "and".
        let keyword = self.peek_keyword("and") || self.peek_keyword("or");
        match self.peek() {
            Some('(') => self.parse_group(),
            Some(c) if (c.is_ascii_alphabetic() || c == '$') && !keyword => self.parse_attr_expr(),
            _ => {
                let found = self.found(start);
                let msg = format!(
                    "expected a condition (an attribute name, \"(\" or \"not\"), found {found}"
                );
                self.fail(start, msg)
            }
        }
    }

    /// `not` has already been consumed at `start`. RFC 7644 requires the parentheses, which
    /// also keeps the scope of `not a eq 1 and b eq 2` from being a guess.
    fn parse_not(&mut self, start: usize) -> Result<Filter, FilterError> {
        self.enter(start)?;
        self.skip_ws();
        if self.peek() != Some('(') {
            let found = self.found(self.pos);
            let msg =
                format!("expected \"(\" after \"not\" (write not (condition)), found {found}");
            return self.fail(self.pos, msg);
        }
        let inner = self.parse_group()?;
        self.leave();
        Ok(Filter::Not(Box::new(inner)))
    }

    /// `( or )`, with the cursor on the opening parenthesis.
    fn parse_group(&mut self) -> Result<Filter, FilterError> {
        let open = self.pos;
        self.pos += 1;
        self.enter(open)?;
        let inner = self.parse_or()?;
        self.expect_close(')', open)?;
        self.leave();
        Ok(inner)
    }

    /// `[ or ]`, with the cursor on the opening bracket. The inner paths are relative to the
    /// multi-valued attribute's elements, so a second level of brackets has no meaning.
    fn parse_value_filter(&mut self) -> Result<Filter, FilterError> {
        let open = self.pos;
        if self.in_brackets {
            return self.fail(
                open,
                "value filters can't be nested: found \"[\" inside \"[...]\"",
            );
        }
        self.pos += 1;
        self.enter(open)?;
        self.in_brackets = true;
        let inner = self.parse_or()?;
        self.expect_close(']', open)?;
        self.in_brackets = false;
        self.leave();
        Ok(inner)
    }

    fn expect_close(&mut self, close: char, open: usize) -> Result<(), FilterError> {
        self.skip_ws();
        let opening = if close == ')' { '(' } else { '[' };
        let msg = match self.peek() {
            Some(c) if c == close => {
                self.pos += 1;
                return Ok(());
            }
            None => format!("missing \"{close}\" to close the \"{opening}\" at character {open}"),
            Some(_) => format!(
                "expected \"and\", \"or\" or \"{close}\" (closing the \"{opening}\" at character \
                 {open}), found {}",
                self.found(self.pos)
            ),
        };
        self.fail(self.pos, msg)
    }

    fn expect_filter_end(&self) -> Result<(), FilterError> {
        let msg = match self.peek() {
            None => return Ok(()),
            Some(')') => "unmatched \")\": there is no \"(\" before it".to_string(),
            Some(']') => "unmatched \"]\": there is no \"[\" before it".to_string(),
            Some(_) => format!(
                "expected \"and\", \"or\" or the end of the filter, found {}",
                self.found(self.pos)
            ),
        };
        self.fail(self.pos, msg)
    }

    // ----- conditions -----

    /// A condition starting with an attribute path: a comparison, a presence test or a value
    /// filter.
    fn parse_attr_expr(&mut self) -> Result<Filter, FilterError> {
        let start = self.pos;
        let attr = self.parse_attr_path()?;
        let attr_end = self.pos;
        self.skip_ws();
        if self.peek() != Some('[') {
            return self.parse_condition(attr, (start, attr_end));
        }
        self.check_filterable(&attr)?;
        let inner = self.parse_value_filter()?;
        let Some(sub) = self.parse_sub()? else {
            return Ok(Filter::ValuePath(attr, Box::new(inner)));
        };
        // Entra sends `emails[type eq "work"].value eq "x"`, which RFC 7644 has no filter
        // syntax for; its meaning is `emails[type eq "work" and value eq "x"]`.
        let sub_attr = AttrPath {
            urn: None,
            name: sub,
            sub: None,
        };
        let cond = self.parse_condition(sub_attr, (start, self.pos))?;
        let both = Filter::And(Box::new(inner), Box::new(cond));
        Ok(Filter::ValuePath(attr, Box::new(both)))
    }

    /// A value filter selects elements of an attribute, so it can't follow a sub-attribute.
    fn check_filterable(&self, attr: &AttrPath) -> Result<(), FilterError> {
        match attr.sub {
            None => Ok(()),
            Some(_) => self.fail(
                self.pos,
                "a value filter \"[...]\" must follow the attribute name, not a sub-attribute \
                 (write emails[type eq \"work\"].value)",
            ),
        }
    }

    /// The operator (and value) after an attribute path; `label` spans the path for messages.
    fn parse_condition(
        &mut self,
        attr: AttrPath,
        label: (usize, usize),
    ) -> Result<Filter, FilterError> {
        self.skip_ws();
        let op_pos = self.pos;
        let word = self.read_word();
        let Some(op) = Operator::from_word(&word) else {
            let (after, found) = (self.snippet(label.0, label.1), self.found(op_pos));
            let msg = format!(
                "expected a comparison operator ({OPERATORS}) after {after}, found {found}"
            );
            return self.fail(op_pos, msg);
        };
        self.count_term(label.0)?;
        match op {
            Operator::Present => Ok(Filter::Present(attr)),
            Operator::Compare(op) => {
                self.skip_ws();
                let value = self.parse_value(&word)?;
                Ok(Filter::Compare(attr, op, value))
            }
        }
    }

    /// A comparison value. Anything unquoted that is not `true`/`false`/`null` (any case) or a
    /// JSON number is a string: legacy Entra provisioning sends `externalId eq jyoung`.
    fn parse_value(&mut self, op_word: &str) -> Result<CompValue, FilterError> {
        let start = self.pos;
        if self.peek() == Some('"') {
            return self.parse_string().map(CompValue::String);
        }
        self.pos = self.scan(start, is_word_char);
        let word = self.text(start, self.pos);
        match word.to_ascii_lowercase().as_str() {
            // A logical keyword here means the value was forgotten (`a eq and b eq 1`).
            "" | "and" | "or" | "not" => {
                let found = self.found(start);
                let msg = format!(
                    "expected a value after \"{op_word}\" (a \"quoted string\", a number, true, \
                     false or null), found {found}"
                );
                self.fail(start, msg)
            }
            "true" => Ok(CompValue::Bool(true)),
            "false" => Ok(CompValue::Bool(false)),
            "null" => Ok(CompValue::Null),
            _ => Ok(word
                .parse()
                .map_or(CompValue::String(word), CompValue::Number)),
        }
    }

    /// A JSON string, with the cursor on the opening quote.
    fn parse_string(&mut self) -> Result<String, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return self.fail(open, "unterminated string: no closing quote after this one");
                }
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.parse_escape()?),
                Some(c) => out.push(c),
            }
        }
    }

    /// A JSON escape, with the cursor just after the backslash.
    fn parse_escape(&mut self) -> Result<char, FilterError> {
        let esc = self.pos - 1;
        Ok(match self.bump() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => return self.parse_unicode_escape(esc),
            other => {
                let shown = other.map_or("end of input".into(), |c| {
                    format!("\"\\{}\"", c.escape_debug())
                });
                let allowed = r#"\" \\ \/ \b \f \n \r \t \uXXXX"#;
                return self.fail(
                    esc,
                    format!("invalid escape {shown} in string (allowed: {allowed})"),
                );
            }
        })
    }

    /// `\uXXXX`, possibly a UTF-16 surrogate pair `\uD83D\uDE00`; `esc` is the backslash.
    fn parse_unicode_escape(&mut self, esc: usize) -> Result<char, FilterError> {
        let high = self.parse_hex4(esc)?;
        let mut code = high;
        if (0xD800..0xDC00).contains(&high) {
            if self.peek() != Some('\\') || self.peek_at(self.pos + 1) != Some('u') {
                return self.fail(esc, BAD_SURROGATE);
            }
            self.pos += 2;
            let low = self.parse_hex4(self.pos - 2)?;
            if !(0xDC00..0xE000).contains(&low) {
                return self.fail(esc, BAD_SURROGATE);
            }
            code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        }
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.fail(esc, BAD_SURROGATE),
        }
    }

    fn parse_hex4(&mut self, esc: usize) -> Result<u32, FilterError> {
        let mut value = 0;
        for _ in 0..4 {
            let Some(digit) = self.peek().and_then(|c| c.to_digit(16)) else {
                return self.fail(
                    esc,
                    "invalid \\u escape: expected 4 hexadecimal digits after \\u",
                );
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    // ----- attribute paths -----

    /// `name`, `name.sub`, `$ref`, or `urn:...:name[.sub]`.
    fn parse_attr_path(&mut self) -> Result<AttrPath, FilterError> {
        if self.starts_with_ci(self.pos, "urn:") {
            return self.parse_urn_path();
        }
        let name = self.parse_name("an attribute name")?;
        let sub = self.parse_sub()?;
        Ok(AttrPath {
            urn: None,
            name,
            sub,
        })
    }

    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`: the schema
    /// URN itself contains colons and dots (`2.0`), so the attribute is what follows the LAST
    /// colon of the run, which ends at whitespace or a bracket/parenthesis/quote.
    fn parse_urn_path(&mut self) -> Result<AttrPath, FilterError> {
        let start = self.pos;
        let end = self.scan(start, is_word_char);
        let colon = (start..end)
            .rev()
            .find(|&i| self.peek_at(i) == Some(':'))
            .unwrap_or(start);
        // The colon of "urn:" itself (start + 3) or "urn::" leaves no schema name.
        if colon <= start + 4 {
            let msg = format!(
                "expected a schema URN, \":\" and an attribute name \
                 (e.g. urn:ietf:params:scim:schemas:core:2.0:User:userName), found {}",
                self.snippet(start, end)
            );
            return self.fail(start, msg);
        }
        let urn = self.text(start, colon);
        self.pos = colon + 1;
        let name = self.parse_name("an attribute name after the schema URN")?;
        let sub = self.parse_sub()?;
        if self.pos != end {
            let (found, path) = (self.found(self.pos), self.snippet(start, end));
            return self.fail(
                self.pos,
                format!("unexpected {found} in the attribute path {path}"),
            );
        }
        Ok(AttrPath {
            urn: Some(urn),
            name,
            sub,
        })
    }

    /// ATTRNAME = ALPHA *nameChar, or `$ref` (the reference sub-attribute of SCIM).
    fn parse_name(&mut self, what: &str) -> Result<String, FilterError> {
        let start = self.pos;
        if self.starts_with_ci(start, "$ref") && !self.peek_at(start + 4).is_some_and(is_name_char)
        {
            self.pos += 4;
        } else if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos = self.scan(start, is_name_char);
        } else {
            return self.fail(
                start,
                format!("expected {what}, found {}", self.found(start)),
            );
        }
        Ok(self.text(start, self.pos))
    }

    /// An optional `.sub` right after a name or a `]`.
    fn parse_sub(&mut self) -> Result<Option<String>, FilterError> {
        if self.peek() != Some('.') {
            return Ok(None);
        }
        self.pos += 1;
        let sub = self.parse_name("a sub-attribute name after \".\"")?;
        if self.peek() == Some('.') {
            return self.fail(
                self.pos,
                "only one level of sub-attribute is allowed (attribute.subAttribute)",
            );
        }
        Ok(Some(sub))
    }

    // ----- bounds -----

    fn enter(&mut self, pos: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let msg = format!(
                "filter is nested too deeply (max {MAX_DEPTH} levels of parentheses, \"not\" and \"[...]\")"
            );
            return self.fail(pos, msg);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn count_term(&mut self, pos: usize) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return self.fail(
                pos,
                format!("filter has too many conditions (max {MAX_TERMS})"),
            );
        }
        Ok(())
    }

    // ----- cursor -----

    fn peek(&self) -> Option<char> {
        self.peek_at(self.pos)
    }

    fn peek_at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        self.pos = self.scan(self.pos, is_ws);
    }

    /// The first index at or after `from` whose character does not satisfy `pred`.
    fn scan(&self, from: usize, pred: impl Fn(char) -> bool) -> usize {
        let mut i = from;
        while self.peek_at(i).is_some_and(&pred) {
            i += 1;
        }
        i
    }

    /// The run of name characters at the cursor (an operator, normally), consumed.
    fn read_word(&mut self) -> String {
        let start = self.pos;
        self.pos = self.scan(start, is_name_char);
        self.text(start, self.pos)
    }

    fn starts_with_ci(&self, at: usize, s: &str) -> bool {
        let mut chars = s.chars().enumerate();
        chars.all(|(k, c)| {
            self.peek_at(at + k)
                .is_some_and(|x| x.eq_ignore_ascii_case(&c))
        })
    }

    /// Whether keyword `kw` is next, as a whole word (`order` is not `or`).
    fn peek_keyword(&self, kw: &str) -> bool {
        let after = self.peek_at(self.pos + kw.len());
        self.starts_with_ci(self.pos, kw) && !after.is_some_and(is_name_char)
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let found = self.peek_keyword(kw);
        if found {
            self.pos += kw.len();
        }
        found
    }

    // ----- messages -----

    fn fail<T>(&self, position: usize, message: impl Into<String>) -> Result<T, FilterError> {
        Err(FilterError {
            position,
            message: message.into(),
        })
    }

    fn text(&self, start: usize, end: usize) -> String {
        let end = end.min(self.chars.len());
        self.chars
            .get(start..end)
            .map_or_else(String::new, |s| s.iter().collect())
    }

    /// The input between `start` and `end`, quoted and shortened for an error message.
    fn snippet(&self, start: usize, end: usize) -> String {
        let cut = end.min(start + SNIPPET_LEN);
        let mut s = self.text(start, cut);
        if end > cut {
            s.push('…');
        }
        format!("{s:?}")
    }

    /// A description of the token at `pos`, for "found ..." in error messages.
    fn found(&self, pos: usize) -> String {
        let end = match self.peek_at(pos) {
            None => return "end of input".to_string(),
            Some(c) if is_ws(c) => return "whitespace".to_string(),
            Some('"') => (self.scan(pos + 1, |c| c != '"') + 1).min(self.chars.len()),
            Some(c) if is_delimiter(c) => pos + 1,
            Some(_) => self.scan(pos, is_word_char),
        };
        self.snippet(pos, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.to_string(),
            sub: None,
        }
    }

    fn sub_attr(name: &str, sub: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.to_string(),
            sub: Some(sub.to_string()),
        }
    }

    fn s(v: &str) -> CompValue {
        CompValue::String(v.to_string())
    }

    fn num(v: &str) -> CompValue {
        CompValue::Number(v.parse().unwrap())
    }

    fn cmp(name: &str, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare(attr(name), op, value)
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn vp(name: &str, inner: Filter) -> Filter {
        Filter::ValuePath(attr(name), Box::new(inner))
    }

    fn parse(input: &str) -> Filter {
        match parse_filter(input) {
            Ok(f) => f,
            Err(e) => panic!("{input:?} failed: {e}"),
        }
    }

    fn path(input: &str) -> PatchPath {
        match parse_path(input) {
            Ok(p) => p,
            Err(e) => panic!("{input:?} failed: {e}"),
        }
    }

    /// Asserts the filter is rejected with a message containing `needle` at `position`.
    fn filter_err(input: &str, position: usize, needle: &str) {
        let e = parse_filter(input).expect_err(input);
        assert!(!e.message.is_empty());
        assert!(
            e.message.contains(needle),
            "{input:?}: {:?} lacks {needle:?}",
            e.message
        );
        assert_eq!(e.position, position, "{input:?}: {e}");
    }

    fn path_err(input: &str, position: usize, needle: &str) {
        let e = parse_path(input).expect_err(input);
        assert!(
            e.message.contains(needle),
            "{input:?}: {:?} lacks {needle:?}",
            e.message
        );
        assert_eq!(e.position, position, "{input:?}: {e}");
    }

    #[test]
    fn username_eq_parses_with_any_operator_case() {
        for input in [
            r#"userName eq "bjensen""#,
            r#"userName EQ "bjensen""#,
            r#"userName Eq "bjensen""#,
        ] {
            assert_eq!(parse(input), cmp("userName", CompareOp::Eq, s("bjensen")));
        }
    }

    #[test]
    fn every_comparison_operator_is_recognised() {
        let ops = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("LE", CompareOp::Le),
        ];
        for (word, op) in ops {
            assert_eq!(
                parse(&format!("title {word} \"x\"")),
                cmp("title", op, s("x"))
            );
        }
    }

    #[test]
    fn pr_is_a_presence_test_without_value() {
        assert_eq!(parse("title pr"), Filter::Present(attr("title")));
        assert_eq!(
            parse("name.familyName PR"),
            Filter::Present(sub_attr("name", "familyName"))
        );
        filter_err(r#"title pr "x""#, 9, "end of the filter");
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let expected = or(
            cmp("a", CompareOp::Eq, num("1")),
            and(
                cmp("b", CompareOp::Eq, num("2")),
                cmp("c", CompareOp::Eq, num("3")),
            ),
        );
        assert_eq!(parse("a eq 1 or b eq 2 and c eq 3"), expected);
    }

    #[test]
    fn and_and_or_are_left_associative_and_case_insensitive() {
        let (a, b, c) = (
            cmp("a", CompareOp::Eq, num("1")),
            cmp("b", CompareOp::Eq, num("2")),
            cmp("c", CompareOp::Eq, num("3")),
        );
        assert_eq!(
            parse("a eq 1 AND b eq 2 And c eq 3"),
            and(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(parse("a eq 1 OR b eq 2 or c eq 3"), or(or(a, b), c));
    }

    #[test]
    fn parentheses_override_precedence() {
        let expected = and(
            or(
                cmp("a", CompareOp::Eq, num("1")),
                cmp("b", CompareOp::Eq, num("2")),
            ),
            cmp("c", CompareOp::Eq, num("3")),
        );
        assert_eq!(parse("(a eq 1 or b eq 2) and c eq 3"), expected);
        assert_eq!(
            parse("  ( ( a eq 1 or b eq 2 ) )\tand\t\tc eq 3  "),
            expected
        );
    }

    #[test]
    fn not_requires_parentheses_with_or_without_space() {
        let expected = not(cmp("a", CompareOp::Eq, num("1")));
        assert_eq!(parse("not (a eq 1)"), expected);
        assert_eq!(parse("NOT(a eq 1)"), expected);
        filter_err("not a eq 1", 4, "expected \"(\" after \"not\"");
    }

    #[test]
    fn nested_not_parses() {
        let expected = not(not(and(
            cmp("a", CompareOp::Eq, num("1")),
            not(Filter::Present(attr("b"))),
        )));
        assert_eq!(parse("not (not (a eq 1 and not(b pr)))"), expected);
    }

    #[test]
    fn not_binds_tighter_than_and() {
        let expected = and(
            not(cmp("a", CompareOp::Eq, num("1"))),
            cmp("b", CompareOp::Eq, num("2")),
        );
        assert_eq!(parse("not (a eq 1) and b eq 2"), expected);
    }

    #[test]
    fn value_filter_may_contain_and_or_not() {
        let inner = and(
            cmp("type", CompareOp::Eq, s("work")),
            or(
                cmp("value", CompareOp::Co, s("@example.com")),
                not(Filter::Present(attr("display"))),
            ),
        );
        assert_eq!(
            parse(r#"emails[type eq "work" and (value co "@example.com" or not (display pr))]"#),
            vp("emails", inner)
        );
        let combined = parse(r#"userType eq "Employee" and emails[type eq "work"]"#);
        assert_eq!(
            combined,
            and(
                cmp("userType", CompareOp::Eq, s("Employee")),
                vp("emails", cmp("type", CompareOp::Eq, s("work")))
            )
        );
    }

    #[test]
    fn entra_value_path_with_sub_attribute_comparison_is_normalised() {
        let expected = vp(
            "emails",
            and(
                cmp("type", CompareOp::Eq, s("work")),
                cmp("value", CompareOp::Eq, s("a@b.c")),
            ),
        );
        assert_eq!(
            parse(r#"emails[type eq "work"].value eq "a@b.c""#),
            expected
        );
        let present = vp(
            "emails",
            and(
                cmp("type", CompareOp::Eq, s("work")),
                Filter::Present(attr("value")),
            ),
        );
        assert_eq!(parse(r#"emails[type eq "work"].value pr"#), present);
        filter_err(r#"emails[type eq "work"].value"#, 28, "comparison operator");
        filter_err(r#"emails[type eq "work"] eq "x""#, 23, "end of the filter");
    }

    #[test]
    fn urn_qualified_enterprise_attribute_with_and_without_sub() {
        let urn = Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string());
        assert_eq!(
            parse(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
            ),
            Filter::Compare(
                AttrPath {
                    urn: urn.clone(),
                    name: "employeeNumber".into(),
                    sub: None
                },
                CompareOp::Eq,
                s("701984")
            )
        );
        assert_eq!(
            parse(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090""#
            ),
            Filter::Compare(
                AttrPath {
                    urn,
                    name: "manager".into(),
                    sub: Some("value".into())
                },
                CompareOp::Eq,
                s("26118915-6090")
            )
        );
    }

    #[test]
    fn urn_qualified_core_attribute() {
        let urn = Some("urn:ietf:params:scim:schemas:core:2.0:User".to_string());
        assert_eq!(
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#),
            Filter::Compare(
                AttrPath {
                    urn: urn.clone(),
                    name: "userName".into(),
                    sub: None
                },
                CompareOp::Eq,
                s("x")
            )
        );
        assert_eq!(
            parse(r#"URN:ietf:params:scim:schemas:core:2.0:User:name.familyName pr"#),
            Filter::Present(AttrPath {
                urn: Some("URN:ietf:params:scim:schemas:core:2.0:User".into()),
                name: "name".into(),
                sub: Some("familyName".into())
            })
        );
        assert_eq!(
            parse(r#"(urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"])"#),
            Filter::ValuePath(
                AttrPath {
                    urn,
                    name: "emails".into(),
                    sub: None
                },
                Box::new(cmp("type", CompareOp::Eq, s("work")))
            )
        );
    }

    #[test]
    fn meta_last_modified_gt_timestamp() {
        assert_eq!(
            parse(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
            Filter::Compare(
                sub_attr("meta", "lastModified"),
                CompareOp::Gt,
                s("2011-05-13T04:42:34Z")
            )
        );
    }

    #[test]
    fn numbers_booleans_and_null_are_typed() {
        assert_eq!(parse("a eq 42"), cmp("a", CompareOp::Eq, num("42")));
        assert_eq!(parse("a gt -7"), cmp("a", CompareOp::Gt, num("-7")));
        assert_eq!(parse("a lt 3.25"), cmp("a", CompareOp::Lt, num("3.25")));
        assert_eq!(parse("a le 1.5e3"), cmp("a", CompareOp::Le, num("1.5e3")));
        assert_eq!(
            parse("active eq true"),
            cmp("active", CompareOp::Eq, CompValue::Bool(true))
        );
        assert_eq!(
            parse("active eq True"),
            cmp("active", CompareOp::Eq, CompValue::Bool(true))
        );
        assert_eq!(
            parse("active eq FALSE"),
            cmp("active", CompareOp::Eq, CompValue::Bool(false))
        );
        assert_eq!(
            parse("manager eq null"),
            cmp("manager", CompareOp::Eq, CompValue::Null)
        );
        assert_eq!(
            parse("manager eq Null"),
            cmp("manager", CompareOp::Eq, CompValue::Null)
        );
    }

    #[test]
    fn escaped_characters_in_strings_are_decoded() {
        assert_eq!(
            parse(r#"displayName eq "say \"hi\"""#),
            cmp("displayName", CompareOp::Eq, s("say \"hi\""))
        );
        assert_eq!(
            parse(r#"a eq "back\\slash\/\n\t\u00e9\uD83D\uDE00""#),
            cmp("a", CompareOp::Eq, s("back\\slash/\n\té😀"))
        );
        assert_eq!(
            parse(r#"a eq "(and) [or]""#),
            cmp("a", CompareOp::Eq, s("(and) [or]"))
        );
    }

    #[test]
    fn unquoted_legacy_value_is_a_string() {
        assert_eq!(
            parse("externalId eq jyoung"),
            cmp("externalId", CompareOp::Eq, s("jyoung"))
        );
        assert_eq!(
            parse("id eq 5a1b-44c2-9f0e and (x eq y)"),
            and(
                cmp("id", CompareOp::Eq, s("5a1b-44c2-9f0e")),
                cmp("x", CompareOp::Eq, s("y"))
            )
        );
        assert_eq!(parse("a eq 007"), cmp("a", CompareOp::Eq, s("007")));
        assert_eq!(
            parse("members[value eq abc]"),
            vp("members", cmp("value", CompareOp::Eq, s("abc")))
        );
    }

    #[test]
    fn quoted_true_stays_a_string_in_value_filter() {
        assert_eq!(
            parse(r#"roles[primary eq "True"]"#),
            vp("roles", cmp("primary", CompareOp::Eq, s("True")))
        );
        assert_eq!(
            parse("roles[primary eq true]"),
            vp(
                "roles",
                cmp("primary", CompareOp::Eq, CompValue::Bool(true))
            )
        );
    }

    #[test]
    fn id_and_manager_conjunction() {
        assert_eq!(
            parse(r#"id eq "a" and manager eq "b""#),
            and(
                cmp("id", CompareOp::Eq, s("a")),
                cmp("manager", CompareOp::Eq, s("b"))
            )
        );
    }

    #[test]
    fn names_keep_their_case_and_ref_is_allowed() {
        assert_eq!(
            parse(r#"USERNAME eq "x""#),
            cmp("USERNAME", CompareOp::Eq, s("x"))
        );
        assert_eq!(
            parse(r#"members[$ref eq "x"]"#),
            vp("members", cmp("$ref", CompareOp::Eq, s("x")))
        );
        assert_eq!(
            parse("manager.$ref pr"),
            Filter::Present(sub_attr("manager", "$ref"))
        );
        assert_eq!(parse("x-attr_1 pr"), Filter::Present(attr("x-attr_1")));
    }

    #[test]
    fn members_value_filter_path() {
        assert_eq!(
            path(r#"members[value eq "id"]"#),
            PatchPath {
                attr: attr("members"),
                filter: Some(cmp("value", CompareOp::Eq, s("id"))),
                sub: None
            }
        );
    }

    #[test]
    fn every_path_form_parses() {
        assert_eq!(
            path("userName"),
            PatchPath {
                attr: attr("userName"),
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            path("name.givenName"),
            PatchPath {
                attr: sub_attr("name", "givenName"),
                filter: None,
                sub: None
            }
        );
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert_eq!(
            path(&format!("{enterprise}:manager")),
            PatchPath {
                attr: AttrPath {
                    urn: Some(enterprise.into()),
                    name: "manager".into(),
                    sub: None
                },
                filter: None,
                sub: None
            }
        );
        assert_eq!(
            path(&format!("{enterprise}:manager.value")),
            PatchPath {
                attr: AttrPath {
                    urn: Some(enterprise.into()),
                    name: "manager".into(),
                    sub: Some("value".into())
                },
                filter: None,
                sub: None
            }
        );
        let work = cmp("type", CompareOp::Eq, s("work"));
        assert_eq!(
            path(r#"emails[type eq "work"]"#),
            PatchPath {
                attr: attr("emails"),
                filter: Some(work.clone()),
                sub: None
            }
        );
        assert_eq!(
            path(r#"emails[type eq "work"].value"#),
            PatchPath {
                attr: attr("emails"),
                filter: Some(work),
                sub: Some("value".into())
            }
        );
        assert_eq!(
            path(r#"manager[value eq "x"]"#),
            PatchPath {
                attr: attr("manager"),
                filter: Some(cmp("value", CompareOp::Eq, s("x"))),
                sub: None
            }
        );
        assert_eq!(
            path(r#"addresses[type eq "work" and primary eq true].streetAddress"#).filter,
            Some(and(
                cmp("type", CompareOp::Eq, s("work")),
                cmp("primary", CompareOp::Eq, CompValue::Bool(true))
            ))
        );
        let core = "urn:ietf:params:scim:schemas:core:2.0:User";
        assert_eq!(
            path(&format!(r#"{core}:emails[type eq "work"].value"#)),
            PatchPath {
                attr: AttrPath {
                    urn: Some(core.into()),
                    name: "emails".into(),
                    sub: None
                },
                filter: Some(cmp("type", CompareOp::Eq, s("work"))),
                sub: Some("value".into())
            }
        );
    }

    #[test]
    fn invalid_paths_are_rejected() {
        path_err("", 0, "empty");
        path_err(" ", 0, "attribute name");
        path_err("userName ", 8, "end of the path");
        path_err(r#"userName eq "x""#, 8, "end of the path");
        path_err("name.", 5, "sub-attribute name");
        path_err("name.givenName.x", 14, "one level");
        path_err(r#"name.givenName[type eq "x"]"#, 14, "value filter");
        path_err(r#"emails[type eq "work"] "#, 22, "end of the path");
        path_err(r#"emails[type eq "work"]x"#, 22, "end of the path");
        path_err(r#"emails[type eq "work""#, 21, "missing \"]\"");
        path_err(r#"emails[type[x eq 1] eq "work"]"#, 11, "nested");
        path_err("1abc", 0, "attribute name");
        path_err("urn:foo", 0, "schema URN");
        path_err("urn:a:b:", 8, "attribute name after the schema URN");
        // A filter inside the URN itself.
        path_err(
            r#"urn:ietf:params:scim:schemas:core:2.0:User[type eq "x"]:emails"#,
            55,
            "end of the path",
        );
        path_err("urn:a:b:na,me", 10, "unexpected");
        path_err(&"a".repeat(4097), 4096, "too long");
    }

    #[test]
    fn empty_input_is_an_error() {
        filter_err("", 0, "empty");
        filter_err("   ", 3, "empty");
    }

    #[test]
    fn unbalanced_parentheses_and_brackets_are_errors() {
        filter_err(
            "(a eq 1",
            7,
            "missing \")\" to close the \"(\" at character 0",
        );
        filter_err("a eq 1)", 6, "unmatched \")\"");
        filter_err("a eq 1]", 6, "unmatched \"]\"");
        filter_err(r#"emails[type eq "work""#, 21, "missing \"]\"");
        filter_err(r#"emails[type eq "work")"#, 21, "\"]\"");
        filter_err("((a eq 1)", 9, "missing \")\"");
        filter_err("()", 1, "expected a condition");
    }

    #[test]
    fn missing_or_unknown_operator_is_an_error() {
        filter_err("userName", 8, "expected a comparison operator");
        filter_err(r#"userName "x""#, 9, "comparison operator");
        let e = parse_filter(r#"userName equals "x""#).unwrap_err();
        assert_eq!(e.position, 9);
        assert_eq!(
            e.to_string(),
            "at character 9: expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) \
             after \"userName\", found \"equals\""
        );
    }

    #[test]
    fn missing_value_is_an_error() {
        filter_err("userName eq", 11, "expected a value after \"eq\"");
        filter_err("userName eq   ", 14, "expected a value");
        filter_err("(userName eq)", 12, "expected a value");
        filter_err("a eq and b eq 1", 5, "found \"and\"");
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        filter_err(r#"userName eq "a" extra"#, 16, "found \"extra\"");
        filter_err(r#"userName eq "a" "b""#, 16, "end of the filter");
    }

    #[test]
    fn unterminated_string_and_bad_escapes_are_errors() {
        filter_err(r#"userName eq "abc"#, 12, "unterminated string");
        filter_err(r#"userName eq "a\qb""#, 14, "invalid escape");
        filter_err(r#"userName eq "a\"#, 14, "invalid escape");
        filter_err(r#"a eq "\u12g4""#, 6, "hexadecimal");
        filter_err(r#"a eq "\uD83D""#, 6, "surrogate");
        filter_err(r#"a eq "\uDE00""#, 6, "surrogate");
    }

    #[test]
    fn logical_operator_without_operand_is_an_error() {
        filter_err("a eq 1 and", 10, "expected a condition after \"and\"");
        filter_err("a eq 1 or ", 10, "after \"or\"");
        filter_err("(a eq 1 and)", 11, "after \"and\"");
        filter_err("and a eq 1", 0, "expected a condition");
        filter_err("a eq 1 and or b eq 2", 11, "found \"or\"");
    }

    #[test]
    fn nested_brackets_are_an_error() {
        filter_err(r#"emails[type[value eq 1] eq "work"]"#, 11, "nested");
        filter_err(r#"emails[x eq 1 and phones[type eq 1]]"#, 24, "nested");
    }

    #[test]
    fn value_filter_after_sub_attribute_is_an_error() {
        filter_err(r#"name.givenName[type eq "x"]"#, 14, "value filter");
    }

    #[test]
    fn bad_attribute_names_are_errors() {
        filter_err("1abc eq 1", 0, "expected a condition");
        filter_err("a. eq 1", 2, "sub-attribute name");
        filter_err("a.b.c eq 1", 3, "one level");
        filter_err(r#"urn:x eq "y""#, 0, "schema URN");
    }

    #[test]
    fn input_over_4096_characters_is_rejected() {
        let long = format!("userName eq \"{}\"", "x".repeat(5000));
        filter_err(&long, 4096, "filter is too long (max 4096 characters)");
        let multibyte = format!("a eq \"{}\"", "é".repeat(4080));
        assert!(
            parse_filter(&multibyte).is_ok(),
            "the bound counts characters, not bytes"
        );
    }

    #[test]
    fn nesting_up_to_32_levels_is_accepted_and_deeper_is_rejected() {
        let ok = format!("{}a pr{}", "(".repeat(32), ")".repeat(32));
        assert!(parse_filter(&ok).is_ok());
        let deep = format!("{}a pr{}", "(".repeat(33), ")".repeat(33));
        filter_err(&deep, 32, "nested too deeply");
    }

    #[test]
    fn more_than_64_conditions_are_rejected() {
        let terms = |n: usize| vec!["a eq 1"; n].join(" or ");
        assert!(parse_filter(&terms(64)).is_ok());
        filter_err(&terms(65), 64 * 10, "too many conditions");
    }

    #[test]
    fn four_thousand_open_parentheses_return_an_error() {
        let input = "(".repeat(4000);
        filter_err(&input, 32, "nested too deeply");
        let brackets = "a[".repeat(2000);
        assert!(parse_filter(&brackets).is_err());
    }

    #[test]
    fn deep_not_chain_returns_an_error() {
        let input = format!("{}a pr{}", "not (".repeat(600), ")".repeat(600));
        assert!(input.chars().count() <= MAX_LEN);
        let e = parse_filter(&input).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{e}");
        let compact = "not(".repeat(1000);
        assert!(
            parse_filter(&compact)
                .unwrap_err()
                .message
                .contains("nested too deeply")
        );
    }

    #[test]
    fn garbage_inputs_never_panic() {
        const PIECES: &[&str] = &[
            " ", "  ", "\t", "(", ")", "[", "]", "\"", "\\", "\\u", "\\uD83D", ".", ":", "$ref",
            "a", "Z", "x1", "-", "_", "1", "0", "-2.5e3", "e", "eq", "EQ", "pr", "co", "gt", "and",
            "or", "not", "Not", "true", "null", "urn:", "urn:a:b:", "emails", "type", "\"work\"",
            "é", "😀", "\u{0}", ",", "'", "+", "\n",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..10_000 {
            let len = (next() % 40) as usize;
            let input: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let chars = input.chars().count();
            let errors = [parse_filter(&input).err(), parse_path(&input).err()];
            for e in errors.into_iter().flatten() {
                assert!(!e.message.is_empty(), "{input:?}");
                assert!(e.position <= chars, "{input:?}: {e}");
            }
        }
    }
}
