//! `[[events.follow]]` mappings: reading the logs services already write. A [`Mapping`] turns
//! one line of a JSON log (fields found by RFC 6901 pointers) or of a text log (fields found by
//! the named groups of a regex) into the same `crate::event::Wire` the event format fills,
//! and from there into an [`Event`] through `crate::event::from_wire`: one set of checks, one
//! recording path, whatever the shape of the line.
//!
//! It is pure: bytes in, [`Mapped`] out. The tailer ([`super::tail`]) and `analyze` feed it
//! lines through [`super::Ingest::mapped_line`], which counts what it refuses.
//!
//! Edges and costs:
//! - JSON lines are read in one borrowed pass (a `serde` seed that walks only the members on
//!   the way to a configured pointer and skips the rest with `IgnoredAny`): no
//!   `serde_json::Value`, no allocation for a string without escapes.
//! - Regexes are the `regex` crate's: matching is linear in the line, whatever the pattern and
//!   the line, and lines are at most `events.max-line` long (the tailer skips longer ones), so a
//!   hostile line costs at most one linear pass. Two shortcuts for log-shaped patterns
//!   (`LineRegex::read`): a line without the pattern's required literal is passed over by a
//!   substring search, and an anchored pattern's capture engine runs without a lazy DFA pass
//!   first on lines up to 4 KiB.
//! - A line the mapping does not select (the regex does not match, or `event-when` is absent)
//!   is [`Mapped::Skipped`], not an error. A selected line whose fields do not parse is an
//!   invalid event, counted as every other one.
//! - Nothing from the line reaches an error message: a `token` may be in any field.

use std::borrow::Cow;
use std::fmt;

use chrono::format::{Item, Parsed, StrftimeItems};
use regex_automata::Input;
use regex_syntax::hir::{Hir, HirKind, Look};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::event::{from_wire, time_in_range, Event, InvalidEvent, InvalidKind, Outcome, Wire};

/// The fields a mapping can fill: the keys of a `[[events.follow]]` table that hold a JSON
/// pointer, and the group names a regex may use (except the last two, JSON only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Ts,
    Source,
    Iss,
    Iat,
    Nbf,
    Exp,
    Kid,
    Token,
    Reason,
    Outcome,
    /// Rejected when the pointer exists and is not `null` (JSON only).
    RejectedWhen,
    /// The line is an event only when the pointer exists and is not `null` (JSON only).
    EventWhen,
}

const FIELDS: usize = 12;

impl Field {
    pub const ALL: [Field; FIELDS] = [
        Field::Ts,
        Field::Source,
        Field::Iss,
        Field::Iat,
        Field::Nbf,
        Field::Exp,
        Field::Kid,
        Field::Token,
        Field::Reason,
        Field::Outcome,
        Field::RejectedWhen,
        Field::EventWhen,
    ];

    /// The config key (and, for the first ten, the regex group name).
    pub fn key(self) -> &'static str {
        match self {
            Field::Ts => "ts",
            Field::Source => "source",
            Field::Iss => "iss",
            Field::Iat => "iat",
            Field::Nbf => "nbf",
            Field::Exp => "exp",
            Field::Kid => "kid",
            Field::Token => "token",
            Field::Reason => "reason",
            Field::Outcome => "outcome",
            Field::RejectedWhen => "rejected-when",
            Field::EventWhen => "event-when",
        }
    }

    /// True for the fields a regex group can fill.
    pub fn is_group(self) -> bool {
        !matches!(self, Field::RejectedWhen | Field::EventWhen)
    }
}

/// How `ts` is written.
#[derive(Debug, Clone, PartialEq)]
pub enum TsFormat {
    /// Not configured: a number is Unix seconds, a string Unix seconds or RFC 3339 (as in the
    /// event format).
    Auto,
    Unix,
    UnixMs,
    UnixUs,
    Rfc3339,
    /// A strftime pattern (chrono's); without an offset in it the time is read as UTC.
    Strftime(Strftime),
}

/// A checked strftime pattern, its items parsed once.
#[derive(Clone)]
pub struct Strftime {
    pattern: String,
    items: Vec<Item<'static>>,
}

impl fmt::Debug for Strftime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Strftime").field(&self.pattern).finish()
    }
}

impl PartialEq for Strftime {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// The time [`Strftime::new`] formats and parses back.
const EXAMPLE_TIME: i64 = 1_790_000_000;

impl Strftime {
    /// Checks a pattern: it must be valid, and parse back the example it formats (a pattern
    /// without a date, or with a directive chrono can write but not read, cannot). The error is
    /// the message for the `ts-format` key.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let items: Vec<Item<'static>> = StrftimeItems::new(pattern).map(Item::to_owned).collect();
        if items.iter().any(|i| matches!(i, Item::Error)) {
            return Err(format!("`{pattern}` is not a valid strftime pattern"));
        }
        let example =
            chrono::DateTime::from_timestamp(EXAMPLE_TIME, 123_456_789).ok_or("no example time")?;
        let mut text = String::new();
        {
            use std::fmt::Write as _;
            write!(text, "{}", example.format_with_items(items.iter()))
                .map_err(|_| format!("`{pattern}` cannot format a time"))?;
        }
        let s = Strftime {
            pattern: pattern.to_owned(),
            items,
        };
        match s.parse(&text) {
            Some(t) if (t - EXAMPLE_TIME as f64).abs() < 86_400.0 => Ok(s),
            _ => Err(format!(
                "`{pattern}` cannot parse its own example `{text}` back to a time (a date and a \
                 time of day are needed)"
            )),
        }
    }

    /// Unix seconds, or `None` when `text` does not fit the pattern.
    fn parse(&self, text: &str) -> Option<f64> {
        let mut p = Parsed::new();
        chrono::format::parse(&mut p, text, self.items.iter()).ok()?;
        let t = match p.offset {
            Some(_) => p.to_datetime().ok()?.to_utc(),
            None => p.to_naive_datetime_with_offset(0).ok()?.and_utc(),
        };
        Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
    }
}

/// An RFC 6901 JSON pointer, split into its unescaped reference tokens. The empty pointer (the
/// whole line) is refused: no field is the whole line.
pub fn parse_pointer(p: &str) -> Result<Vec<String>, String> {
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!(
            "`{p}` is not a JSON pointer (RFC 6901: it starts with `/`, as in `/err/type`)"
        ));
    };
    rest.split('/')
        .map(|t| {
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => {
                        return Err(format!(
                            "`{p}` is not a JSON pointer: `~` must be followed by 0 or 1"
                        ))
                    }
                }
            }
            Ok(out)
        })
        .collect()
}

/// How the lines of a followed file are read.
#[derive(Debug, Clone, PartialEq)]
pub enum LineFormat {
    /// Our event schema, one JSON object per line.
    Events,
    /// A `[[events.follow]]` mapping.
    Mapped(std::sync::Arc<Mapping>),
}

/// What a mapping reads: pointers into a JSON line, or a regex over a text line.
#[derive(Debug, Clone)]
pub enum Extract {
    Json(Node),
    Regex(Box<LineRegex>),
}

/// A `regex` table's pattern, compiled for reading lines.
#[derive(Debug, Clone)]
pub struct LineRegex {
    regex: regex::bytes::Regex,
    /// The capture group of each field, by [`Field`] index.
    groups: [Option<usize>; FIELDS],
    /// The longest literal every match contains, looked for before the regex runs.
    required: Option<memchr::memmem::Finder<'static>>,
    /// For a pattern anchored at the line's start (`^…`), the same pattern without the lazy
    /// DFA's pass, for lines up to [`SHORT_LINE`] bytes.
    anchored: Option<regex_automata::meta::Regex>,
    /// Its capture slots (two per group, the whole match included).
    slots: usize,
}

/// The most capture slots read into an array on the stack (31 groups and the whole match); a
/// pattern with more groups is read by the full engine.
const MAX_SLOTS: usize = 64;

/// One level of the pointers' tree: the members on the way to a pointer, and the fields that
/// end here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    key: String,
    /// `key` as an array index, when it is one.
    index: Option<usize>,
    fields: Vec<Field>,
    children: Vec<Node>,
}

impl Node {
    /// Adds a pointer's tokens, ending in `field`.
    fn insert(&mut self, tokens: &[String], field: Field) {
        match tokens.split_first() {
            None => self.fields.push(field),
            Some((first, rest)) => {
                let i = match self.children.iter().position(|c| &c.key == first) {
                    Some(i) => i,
                    None => {
                        self.children.push(Node {
                            key: first.clone(),
                            // RFC 6901: an index is `0` or digits without a leading zero.
                            index: (first == "0" || !first.starts_with('0'))
                                .then(|| first.parse().ok())
                                .flatten(),
                            ..Node::default()
                        });
                        self.children.len() - 1
                    }
                };
                self.children[i].insert(rest, field);
            }
        }
    }
}

/// What a [`Mapping`] is built from (the validated keys of one `[[events.follow]]` table, with
/// `format` "json" or "regex").
#[derive(Debug, Clone, Default)]
pub struct MappingSpec {
    /// For JSON: each field's pointer.
    pub pointers: Vec<(Field, String)>,
    /// For text: the regex (its named groups fill the fields).
    pub regex: Option<String>,
    pub ts_format: Option<String>,
    pub source_value: Option<String>,
    pub outcome_value: Option<Outcome>,
    pub event_when_equals: Option<String>,
}

/// A spec that cannot be built: the config key at fault and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub key: &'static str,
    pub message: String,
}

fn spec_error(key: &'static str, message: impl Into<String>) -> SpecError {
    SpecError {
        key,
        message: message.into(),
    }
}

/// The largest compiled regex accepted (the `regex` crate's own default is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 4 << 20;

/// One `[[events.follow]]` table's reading of a line.
#[derive(Debug, Clone)]
pub struct Mapping {
    extract: Extract,
    ts_format: TsFormat,
    source_value: Option<String>,
    outcome_value: Option<Outcome>,
    event_when_equals: Option<String>,
    /// Whether a JSON mapping has `event-when` / `rejected-when` pointers: found once here
    /// rather than by walking the pointer tree for every line.
    has_event_when: bool,
    has_rejected_when: bool,
}

impl PartialEq for Mapping {
    fn eq(&self, other: &Self) -> bool {
        let extract = match (&self.extract, &other.extract) {
            (Extract::Json(a), Extract::Json(b)) => a == b,
            (Extract::Regex(a), Extract::Regex(b)) => a.regex.as_str() == b.regex.as_str(),
            _ => false,
        };
        extract
            && self.ts_format == other.ts_format
            && self.source_value == other.source_value
            && self.outcome_value == other.outcome_value
            && self.event_when_equals == other.event_when_equals
    }
}

/// What a line became.
#[derive(Debug, PartialEq)]
pub enum Mapped<'a> {
    Event(Event<'a>),
    /// Not a verification: the regex did not match, or `event-when` is absent.
    Skipped,
    Invalid(InvalidEvent),
}

impl Mapping {
    /// Builds a mapping, checking every pointer, the regex and its group names, and the
    /// `ts-format`.
    pub fn new(spec: MappingSpec) -> Result<Mapping, SpecError> {
        let ts_format = match spec.ts_format.as_deref() {
            None => TsFormat::Auto,
            Some("unix") => TsFormat::Unix,
            Some("unix_ms") => TsFormat::UnixMs,
            Some("unix_us") => TsFormat::UnixUs,
            Some("rfc3339") => TsFormat::Rfc3339,
            Some(p) if p.contains('%') => {
                TsFormat::Strftime(Strftime::new(p).map_err(|m| spec_error("ts-format", m))?)
            }
            Some(other) => {
                return Err(spec_error(
                    "ts-format",
                    format!(
                        "`{other}` is none of unix, unix_ms, unix_us, rfc3339, nor a strftime \
                         pattern (with `%`)"
                    ),
                ))
            }
        };
        let has = |f: Field| spec.pointers.iter().any(|(g, _)| *g == f);
        let extract = match &spec.regex {
            Some(re) => Extract::Regex(Box::new(LineRegex::new(re)?)),
            None => {
                let mut root = Node::default();
                for (field, pointer) in &spec.pointers {
                    let tokens = parse_pointer(pointer).map_err(|m| spec_error(field.key(), m))?;
                    root.insert(&tokens, *field);
                }
                Extract::Json(root)
            }
        };
        let (source_group, outcome_group) = match &extract {
            Extract::Regex(re) => (
                re.groups[Field::Source as usize].is_some(),
                re.groups[Field::Outcome as usize].is_some(),
            ),
            Extract::Json(_) => (has(Field::Source), has(Field::Outcome)),
        };
        if source_group && spec.source_value.is_some() {
            return Err(spec_error(
                "source-value",
                "give `source` or `source-value`, not both",
            ));
        }
        let outcomes = [
            outcome_group,
            has(Field::RejectedWhen),
            spec.outcome_value.is_some(),
        ];
        if outcomes.iter().filter(|&&b| b).count() > 1 {
            return Err(spec_error(
                "outcome-value",
                "give at most one of `outcome`, `rejected-when` and `outcome-value`",
            ));
        }
        if spec.event_when_equals.is_some() && !has(Field::EventWhen) {
            return Err(spec_error(
                "event-when-equals",
                "needs `event-when` (the pointer whose value it is compared with)",
            ));
        }
        let json_has = |f| matches!(&extract, Extract::Json(root) if root_has(root, f));
        Ok(Mapping {
            has_event_when: json_has(Field::EventWhen),
            has_rejected_when: json_has(Field::RejectedWhen),
            extract,
            ts_format,
            source_value: spec.source_value,
            outcome_value: spec.outcome_value,
            event_when_equals: spec.event_when_equals,
        })
    }

    /// True for a text log read by a regex (false: JSON by pointer).
    pub fn is_regex(&self) -> bool {
        matches!(self.extract, Extract::Regex(_))
    }

    /// Reads one line (without its newline). `now` is the time of a line without `ts`.
    pub fn map<'a>(&'a self, line: &'a [u8], now: f64) -> Mapped<'a> {
        let mut slots: Slots<'a> = Default::default();
        match &self.extract {
            Extract::Json(root) => {
                if let Err(e) = walk_json(root, line, &mut slots) {
                    return Mapped::Invalid(e);
                }
                if !self.selected(&slots) {
                    return Mapped::Skipped;
                }
            }
            Extract::Regex(re) => {
                if !re.read(line, &mut slots) {
                    return Mapped::Skipped;
                }
            }
        }
        match self.wire(slots) {
            Ok(w) => match from_wire(w, now) {
                Ok(ev) => Mapped::Event(ev),
                Err(e) => Mapped::Invalid(e),
            },
            Err(e) => Mapped::Invalid(e),
        }
    }

    /// `event-when` (and `event-when-equals`): whether a JSON line is a verification at all.
    fn selected(&self, slots: &Slots<'_>) -> bool {
        if !self.has_event_when {
            return true;
        }
        match (&slots[Field::EventWhen as usize], &self.event_when_equals) {
            (None | Some(Scalar::Null), _) => false,
            (Some(_), None) => true,
            (Some(Scalar::Str(s)), Some(want)) => s == want,
            (Some(_), Some(_)) => false,
        }
    }

    /// The fields found, checked and converted, as the event format's fields.
    fn wire<'a>(&'a self, mut slots: Slots<'a>) -> Result<Wire<'a>, InvalidEvent> {
        let mut take = |f: Field| slots[f as usize].take();
        let ts = match take(Field::Ts) {
            None | Some(Scalar::Null) => None,
            Some(v) => Some(self.ts(v)?),
        };
        let iat = time(Field::Iat, take(Field::Iat))?;
        let nbf = time(Field::Nbf, take(Field::Nbf))?;
        let exp = time(Field::Exp, take(Field::Exp))?;
        let source = match &self.source_value {
            Some(s) => Some(Cow::Borrowed(s.as_str())),
            None => text(Field::Source, take(Field::Source))?,
        };
        let iss = text(Field::Iss, take(Field::Iss))?;
        let kid = text(Field::Kid, take(Field::Kid))?;
        let token = text(Field::Token, take(Field::Token))?.map(strip_bearer);
        let reason = text(Field::Reason, take(Field::Reason))?;
        let rejected_when = take(Field::RejectedWhen);
        let outcome = match (
            self.outcome_value,
            text(Field::Outcome, take(Field::Outcome))?,
        ) {
            (Some(o), _) => Some(Cow::Borrowed(o.as_str())),
            (None, Some(text)) => Some(text),
            (None, None) if self.has_rejected_when() => Some(Cow::Borrowed(
                match rejected_when {
                    None | Some(Scalar::Null) => Outcome::Accepted,
                    Some(_) => Outcome::Rejected,
                }
                .as_str(),
            )),
            // Nothing says: a line with a reason is a rejection.
            (None, None) => Some(Cow::Borrowed(if reason.is_some() {
                Outcome::Rejected.as_str()
            } else {
                Outcome::Accepted.as_str()
            })),
        };
        Ok(Wire {
            ts,
            kid,
            source,
            iss,
            iat,
            nbf,
            exp,
            token,
            outcome,
            reason,
            ..Wire::default()
        })
    }

    fn has_rejected_when(&self) -> bool {
        self.has_rejected_when
    }

    /// `ts` in Unix seconds, as `ts-format` says.
    fn ts(&self, v: Scalar<'_>) -> Result<f64, InvalidEvent> {
        let bad = |why: &str| InvalidEvent::new(InvalidKind::BadValue, format!("`ts` {why}"));
        let number = |v: &Scalar<'_>| match v {
            Scalar::Num(x) => Some(*x),
            Scalar::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let secs = match (&self.ts_format, &v) {
            (TsFormat::Auto, Scalar::Str(s)) if number(&v).is_none() => rfc3339(s),
            (TsFormat::Auto | TsFormat::Unix, _) => number(&v),
            (TsFormat::UnixMs, _) => number(&v).map(|x| x / 1e3),
            (TsFormat::UnixUs, _) => number(&v).map(|x| x / 1e6),
            (TsFormat::Rfc3339, Scalar::Str(s)) => rfc3339(s),
            (TsFormat::Strftime(p), Scalar::Str(s)) => p.parse(s),
            _ => None,
        }
        .ok_or_else(|| bad("does not fit `ts-format`"))?;
        if time_in_range(secs) {
            Ok(secs)
        } else {
            Err(bad("is out of range (0 to year 9999 in Unix seconds)"))
        }
    }
}

fn root_has(node: &Node, field: Field) -> bool {
    node.fields.contains(&field) || node.children.iter().any(|c| root_has(c, field))
}

fn rfc3339(s: &str) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(s.trim()).ok()?;
    Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
}

/// A NumericDate field: a number, or a string holding one.
fn time(field: Field, v: Option<Scalar<'_>>) -> Result<Option<f64>, InvalidEvent> {
    let x = match v {
        None | Some(Scalar::Null) => return Ok(None),
        Some(Scalar::Num(x)) => Some(x),
        Some(Scalar::Str(s)) => s.trim().parse::<f64>().ok(),
        Some(Scalar::Other) => None,
    };
    match x {
        Some(x) if time_in_range(x) => Ok(Some(x)),
        _ => Err(InvalidEvent::new(
            InvalidKind::BadValue,
            format!(
                "`{}` is not a NumericDate (Unix seconds, 0 to year 9999)",
                field.key()
            ),
        )),
    }
}

/// A text field: a string.
fn text(field: Field, v: Option<Scalar<'_>>) -> Result<Option<Cow<'_, str>>, InvalidEvent> {
    match v {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s)),
        Some(_) => Err(InvalidEvent::new(
            InvalidKind::BadValue,
            format!("`{}` must be a UTF-8 string", field.key()),
        )),
    }
}

/// A token as an `Authorization` header carries it: without its scheme and blanks.
fn strip_bearer(token: Cow<'_, str>) -> Cow<'_, str> {
    match token {
        Cow::Borrowed(t) => Cow::Borrowed(bare_token(t)),
        Cow::Owned(t) if bare_token(&t).len() == t.len() => Cow::Owned(t),
        Cow::Owned(t) => Cow::Owned(bare_token(&t).to_owned()),
    }
}

fn bare_token(t: &str) -> &str {
    let t = t.trim();
    match t.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => t[7..].trim_start(),
        _ => t,
    }
}

/// Lines up to this long are read by a pattern anchored at the start without the lazy DFA's
/// pass (see [`LineRegex::read`]); longer ones, rare in logs, by the full `regex` engine.
const SHORT_LINE: usize = 4096;

impl LineRegex {
    /// Compiles a pattern: every named group must be a field's name, and at least one.
    fn new(re: &str) -> Result<LineRegex, SpecError> {
        // ASCII classes (`\w`, `\d`, `\s`, word boundaries), as RE2 and so mtail have them: the
        // Unicode `\w` is a union of hundreds of ranges, and the capture pass of a matched line
        // (the bounded backtracker) cost about half the CPU with it (perf, benches/README.md).
        // `(?u)` in the pattern turns Unicode back on where it is wanted.
        // `.` may match a newline (`(?s)`): a line never holds one, so no match changes, and
        // `.` is then one byte range rather than two in the NFA, which makes the capture pass
        // over a `.*` ~13 % cheaper. `(?-s)` in the pattern still says otherwise.
        let regex = regex::bytes::RegexBuilder::new(re)
            .unicode(false)
            .dot_matches_new_line(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| spec_error("regex", e.to_string()))?;
        let mut groups = [None; FIELDS];
        for (i, name) in regex.capture_names().enumerate() {
            let Some(name) = name else { continue };
            let Some(field) = Field::ALL.iter().find(|f| f.is_group() && f.key() == name) else {
                return Err(spec_error(
                    "regex",
                    format!(
                        "unknown group name `{name}`: groups may be named ts, source, iss, iat, \
                         nbf, exp, kid, token, reason, outcome"
                    ),
                ));
            };
            groups[*field as usize] = Some(i);
        }
        if groups.iter().all(Option::is_none) {
            return Err(spec_error(
                "regex",
                "no named group: name what a match holds, as in `(?P<reason>\\w+)`",
            ));
        }
        let hir = syntax_tree(re);
        let required = hir
            .as_ref()
            .and_then(required_literal)
            .map(|l| memchr::memmem::Finder::new(&l).into_owned());
        let anchored = hir
            .as_ref()
            .filter(|h| h.properties().look_set_prefix().contains(Look::Start))
            .and_then(|_| {
                use regex_automata::{meta, util::syntax};
                meta::Regex::builder()
                    .configure(
                        meta::Config::new()
                            .hybrid(false)
                            .dfa(false)
                            .utf8_empty(false)
                            .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
                            .onepass_size_limit(Some(REGEX_SIZE_LIMIT)),
                    )
                    .syntax(
                        syntax::Config::new()
                            .unicode(false)
                            .utf8(false)
                            .dot_matches_new_line(true),
                    )
                    .build(re)
                    .ok()
            });
        let slots = anchored.as_ref().map_or(0, |a| a.group_info().slot_len());
        Ok(LineRegex {
            regex,
            groups,
            required,
            anchored,
            slots,
        })
    }

    /// Fills `slots` from the named groups of a match; false when the line does not match.
    ///
    /// Two things the `regex` crate leaves undone for patterns shaped like log lines, each
    /// measured in benches/README.md: a line without the pattern's required literal is passed
    /// over by a substring search (the crate looks for an inner literal itself only in patterns
    /// not anchored at the start); and for a pattern anchored at the start, the capture engine
    /// runs at once rather than after a lazy DFA's pass that finds the match's bounds (in a
    /// log, a line with the literal nearly always matches, so that pass is wasted work; the
    /// crate's own comment says as much). Both engines are the crate's, with the same
    /// leftmost-first semantics: the groups found are the same (a test pins it).
    fn read<'a>(&self, line: &'a [u8], slots: &mut Slots<'a>) -> bool {
        if self
            .required
            .as_ref()
            .is_some_and(|r| r.find(line).is_none())
        {
            return false;
        }
        match &self.anchored {
            Some(anchored) if line.len() <= SHORT_LINE && self.slots <= MAX_SLOTS => {
                // The groups' offsets in an array on the stack: no `Captures` to allocate (and
                // its group names' `Arc` to count) for every line.
                let mut offsets = [None; MAX_SLOTS];
                let offsets = &mut offsets[..self.slots];
                if anchored.search_slots(&Input::new(line), offsets).is_none() {
                    return false;
                }
                self.fill(slots, |g| match (offsets[2 * g], offsets[2 * g + 1]) {
                    (Some(start), Some(end)) => line.get(start.get()..end.get()),
                    _ => None,
                });
            }
            _ => {
                let Some(caps) = self.regex.captures(line) else {
                    return false;
                };
                self.fill(slots, |g| caps.get(g).map(|m| m.as_bytes()));
            }
        }
        true
    }

    fn fill<'a>(&self, slots: &mut Slots<'a>, group: impl Fn(usize) -> Option<&'a [u8]>) {
        for (slot, g) in slots.iter_mut().zip(&self.groups) {
            let Some(text) = g.and_then(&group) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            // A group cut inside a UTF-8 sequence, or a line that is not UTF-8.
            *slot = Some(match std::str::from_utf8(text) {
                Ok(s) => Scalar::Str(Cow::Borrowed(s)),
                Err(_) => Scalar::Other,
            });
        }
    }
}

/// A pattern read again as a syntax tree, with the flags [`LineRegex::new`] compiles it with,
/// for what the engine does not tell (its required literal, its anchoring).
fn syntax_tree(re: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .build()
        .parse(re)
        .ok()
}

/// The longest literal that every match of a pattern contains (`jwt.exceptions.` in
/// `^(?P<ts>…) .*jwt\.exceptions\.(?P<reason>\w+)`), if any: a line without it cannot match.
/// Only the parts every match must pass through count: a concatenation's members, a group, a
/// repetition of at least one; an alternation's branches or an optional part do not.
fn required_literal(hir: &Hir) -> Option<Vec<u8>> {
    fn longest(hir: &Hir, best: &mut Option<Vec<u8>>) {
        match hir.kind() {
            HirKind::Literal(lit) if best.as_ref().is_none_or(|b| lit.0.len() > b.len()) => {
                *best = Some(lit.0.to_vec());
            }
            HirKind::Capture(c) => longest(&c.sub, best),
            HirKind::Repetition(r) if r.min > 0 => longest(&r.sub, best),
            HirKind::Concat(subs) => subs.iter().for_each(|h| longest(h, best)),
            _ => {}
        }
    }
    let mut best = None;
    longest(hir, &mut best);
    best.filter(|l| !l.is_empty())
}

/// A value found at a pointer.
#[derive(Debug, Clone, PartialEq)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Null,
    /// `true`, `false`, an object or an array.
    Other,
}

type Slots<'a> = [Option<Scalar<'a>>; FIELDS];

/// Walks one JSON line, filling the slots of the fields whose pointers it meets.
fn walk_json<'a>(root: &Node, line: &'a [u8], slots: &mut Slots<'a>) -> Result<(), InvalidEvent> {
    let mut de = serde_json::Deserializer::from_slice(line);
    Walk { node: root, slots }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| {
            // Our visitors accept every value, so the message is a syntax error's position,
            // never a string of the line.
            InvalidEvent::new(InvalidKind::Json, format!("the line is not JSON: {e}"))
        })
}

struct Walk<'n, 's, 'a> {
    node: &'n Node,
    slots: &'s mut Slots<'a>,
}

impl<'a> Walk<'_, '_, 'a> {
    fn set(&mut self, v: Scalar<'a>) {
        for f in &self.node.fields {
            self.slots[*f as usize] = Some(v.clone());
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<(), E> {
        self.set(Scalar::Str(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        if !self.node.fields.is_empty() {
            self.set(Scalar::Str(Cow::Owned(v.to_owned())));
        }
        Ok(())
    }
    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        self.set(Scalar::Num(v));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.set(Scalar::Other);
        Ok(())
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.set(Scalar::Null);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.set(Scalar::Other);
        while let Some(child) = map.next_key_seed(KeySeed(&self.node.children))? {
            match child {
                Some(i) => map.next_value_seed(Walk {
                    node: &self.node.children[i],
                    slots: &mut *self.slots,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.set(Scalar::Other);
        let mut i = 0usize;
        loop {
            let child = self.node.children.iter().find(|c| c.index == Some(i));
            let more = match child {
                Some(node) => seq
                    .next_element_seed(Walk {
                        node,
                        slots: &mut *self.slots,
                    })?
                    .is_some(),
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// A member's key: the index of the child it names, without allocating.
struct KeySeed<'n>(&'n [Node]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        // As bytes: serde_json then skips the UTF-8 check of every key of the line (the keys
        // we look for are UTF-8; a key that is not cannot match one and is passed over, as a
        // value we do not read is).
        d.deserialize_bytes(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Option<usize>, E> {
        // Length and first byte before the bytes: most keys of a log line (`pid`, `msg`, …)
        // differ from the mapping's at once, without a call to memcmp.
        let first = v.first();
        Ok(self.0.iter().position(|c| {
            let k = c.key.as_bytes();
            k.len() == v.len() && k.first() == first && k == v
        }))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        self.visit_bytes(v.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Reason;

    const NOW: f64 = 1_790_000_100.0;

    fn json(pointers: &[(Field, &str)]) -> MappingSpec {
        MappingSpec {
            pointers: pointers.iter().map(|(f, p)| (*f, p.to_string())).collect(),
            ..MappingSpec::default()
        }
    }

    fn event<'a>(m: &'a Mapping, line: &'a str) -> Event<'a> {
        match m.map(line.as_bytes(), NOW) {
            Mapped::Event(e) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn invalid(m: &Mapping, line: &str) -> InvalidEvent {
        match m.map(line.as_bytes(), NOW) {
            Mapped::Invalid(e) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    /// A compact JWT with these claims (unsigned: the exporter only reads them).
    fn token(claims: &str) -> String {
        use base64::Engine as _;
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", b(r#"{"alg":"HS256"}"#), b(claims))
    }

    fn pino() -> Mapping {
        let mut spec = json(&[
            (Field::Ts, "/time"),
            (Field::Source, "/svc"),
            (Field::Token, "/req/headers/authorization"),
            (Field::Reason, "/err/type"),
            (Field::RejectedWhen, "/err"),
            (Field::EventWhen, "/jwt"),
        ]);
        spec.ts_format = Some("unix_ms".into());
        Mapping::new(spec).unwrap()
    }

    /// Keys are matched as bytes (no UTF-8 check): a key that is not UTF-8 is passed over like
    /// any key the mapping does not name, and an escaped key still matches its text.
    #[test]
    fn keys_are_matched_as_bytes() {
        let m = pino();
        let mut line = br#"{"time":1790000002250,"svc":"orders","jwt":true,"#.to_vec();
        line.extend_from_slice(b"\"p\xffd\":7,");
        line.extend_from_slice(br#""\u0065rr":{"type":"TokenExpiredError"}}"#);
        let Mapped::Event(e) = m.map(&line, NOW) else {
            panic!("not an event");
        };
        assert_eq!(e.source.as_deref(), Some("orders"));
        assert_eq!(e.reason, Some(Reason::Expired), "`\\u0065rr` is `err`");
    }

    #[test]
    fn a_json_line_becomes_the_event_the_event_format_makes() {
        let m = pino();
        let t = token(r#"{"iss":"https://auth.example","iat":1790000001,"exp":1790000900}"#);
        let line = format!(
            r#"{{"level":50,"time":1790000002250,"svc":"orders","jwt":true,"req":{{"method":"GET","headers":{{"authorization":"Bearer {t}"}}}},"err":{{"type":"TokenExpiredError","message":"jwt expired","stack":"x\ny"}}}}"#
        );
        let e = event(&m, &line);
        assert_eq!(e.ts, 1_790_000_002.25);
        assert_eq!(e.source.as_deref(), Some("orders"));
        assert_eq!(e.issuer.as_deref(), Some("https://auth.example"));
        assert_eq!(
            (e.iat, e.exp),
            (Some(1_790_000_001.0), Some(1_790_000_900.0))
        );
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Rejected, Some(Reason::Expired))
        );
        assert_eq!(e.age(), Some(1.25));
        // The same without `err`: accepted.
        let line = format!(
            r#"{{"time":1790000002250,"svc":"orders","jwt":1,"req":{{"headers":{{"authorization":"{t}"}}}},"err":null}}"#
        );
        let e = event(&m, &line);
        assert_eq!((e.outcome, e.reason), (Outcome::Accepted, None));
        assert_eq!(e.issuer.as_deref(), Some("https://auth.example"));
    }

    #[test]
    fn lines_without_event_when_are_skipped() {
        let m = pino();
        for line in [
            r#"{"level":30,"time":1790000002250,"msg":"server listening"}"#,
            r#"{"jwt":null,"err":{"type":"x"}}"#,
            r#"[1, 2, {"jwt": true}]"#,
            "17",
        ] {
            assert_eq!(m.map(line.as_bytes(), NOW), Mapped::Skipped, "{line}");
        }
        let mut spec = json(&[(Field::EventWhen, "/msg"), (Field::Reason, "/e")]);
        spec.event_when_equals = Some("jwt rejected".into());
        let m = Mapping::new(spec).unwrap();
        assert_eq!(m.map(br#"{"msg":"hello","e":"x"}"#, NOW), Mapped::Skipped);
        assert_eq!(m.map(br#"{"msg":5,"e":"x"}"#, NOW), Mapped::Skipped);
        let e = event(&m, r#"{"msg":"jwt rejected","e":"ExpiredSignatureError"}"#);
        assert_eq!((e.ts, e.reason), (NOW, Some(Reason::Expired)));
    }

    #[test]
    fn pointers_follow_rfc_6901() {
        let m = Mapping::new(json(&[
            (Field::Iss, "/a~1b/m~0n"),
            (Field::Iat, "/list/1/iat"),
            (Field::Outcome, "/"),
            (Field::Kid, "/hdr/kid"),
        ]))
        .unwrap();
        let e = event(
            &m,
            r#"{"hdr":{"kid":"k1"},"":"accepted","list":[{"iat":1},{"iat":"1790000000.5"}],"a/b":{"m~n":"caf\u00e9 issuer"}}"#,
        );
        assert_eq!(e.issuer.as_deref(), Some("café issuer"));
        assert_eq!(e.kid.as_deref(), Some("k1"));
        assert_eq!(e.iat, Some(1_790_000_000.5));
        assert_eq!(parse_pointer("/a/0").unwrap(), ["a", "0"]);
        assert!(parse_pointer("a").is_err() && parse_pointer("").is_err());
        assert!(parse_pointer("/a~").is_err());
    }

    #[test]
    fn bad_fields_are_invalid_events_that_quote_nothing_of_the_line() {
        let m = pino();
        let secret = "Bearer not.a-token";
        let line = format!(
            r#"{{"time":1790000002250,"jwt":1,"req":{{"headers":{{"authorization":"{secret}"}}}}}}"#
        );
        let e = invalid(&m, &line);
        assert_eq!(
            e.kind,
            InvalidKind::BadToken,
            "an accepted event with a bad token"
        );
        assert!(!e.message.contains("not.a-token"), "{e}");
        let e = invalid(&m, r#"{"time":"soon","jwt":1}"#);
        assert_eq!(e.kind, InvalidKind::BadValue);
        assert!(
            e.message.contains("`ts`") && !e.message.contains("soon"),
            "{e}"
        );
        let e = invalid(&m, r#"{"time":1, "jwt":1, "svc": {"x": "secret-ish"}}"#);
        assert!(
            e.message.contains("`source`") && !e.message.contains("secret"),
            "{e}"
        );
        let e = invalid(&m, r#"{"time": 1, "jwt": "#);
        assert_eq!(e.kind, InvalidKind::Json);
        let e = invalid(&m, r#"{"jwt":1,"err":{}}"#);
        assert_eq!(
            e.kind,
            InvalidKind::MissingField,
            "rejected without a reason: {e}"
        );
    }

    /// A rejected line with a token that cannot be read is still a rejection.
    #[test]
    fn a_rejection_with_an_unreadable_token_is_recorded() {
        let m = pino();
        let e = event(
            &m,
            r#"{"jwt":1,"req":{"headers":{"authorization":"Bearer garbage"}},"err":{"type":"JsonWebTokenError","message":"jwt malformed"}}"#,
        );
        assert!(e.token_unreadable);
        assert_eq!(e.reason, Some(Reason::from_text("JsonWebTokenError")));
    }

    fn python_logging() -> Mapping {
        Mapping::new(MappingSpec {
            regex: Some(
                r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*jwt\.exceptions\.(?P<reason>\w+)"
                    .into(),
            ),
            ts_format: Some("%Y-%m-%d %H:%M:%S,%3f".into()),
            source_value: Some("api".into()),
            outcome_value: Some(Outcome::Rejected),
            ..MappingSpec::default()
        })
        .unwrap()
    }

    #[test]
    fn regex_groups_fill_the_fields() {
        let m = python_logging();
        let e = event(
            &m,
            "2026-09-21 14:13:20,250 WARNING api: rejected: jwt.exceptions.ImmatureSignatureError: The token is not yet valid (nbf)",
        );
        assert_eq!(e.ts, 1_790_000_000.25);
        assert_eq!(e.source.as_deref(), Some("api"));
        assert_eq!(
            (e.outcome, e.reason),
            (Outcome::Rejected, Some(Reason::NotYetValid))
        );
        assert_eq!(
            m.map(
                b"2026-09-21 14:13:20,250 INFO uvicorn: GET /health 200",
                NOW
            ),
            Mapped::Skipped
        );
        assert_eq!(m.map(b"", NOW), Mapped::Skipped);
        // Matched, but the time does not parse: an invalid event.
        let e = invalid(&m, "2026-13-45 14:13:20,250 x jwt.exceptions.DecodeError");
        assert_eq!(e.kind, InvalidKind::BadValue);
    }

    #[test]
    fn regex_claims_and_token_groups() {
        let m = Mapping::new(MappingSpec {
            regex: Some(
                r"^(?P<ts>\S+) (?P<outcome>\w+) iss=(?P<iss>\S*) iat=(?P<iat>\S*) token=(?P<token>\S*) reason=(?P<reason>.*)$"
                    .into(),
            ),
            ..MappingSpec::default()
        })
        .unwrap();
        let e = event(
            &m,
            "2026-09-21T14:13:20.5Z rejected iss=https://a.example iat=1790000003 token= reason=Signature has expired",
        );
        assert_eq!((e.ts, e.iat), (1_790_000_000.5, Some(1_790_000_003.0)));
        assert_eq!(e.issuer.as_deref(), Some("https://a.example"));
        assert_eq!(e.reason, Some(Reason::Expired));
        let t = token(r#"{"iss":"https://b.example","iat":1790000000}"#);
        let line = format!("1790000001 accepted iss= iat= token={t} reason=");
        let e = event(&m, &line);
        assert_eq!((e.outcome, e.age()), (Outcome::Accepted, Some(1.0)));
        assert_eq!(e.issuer.as_deref(), Some("https://b.example"));
    }

    #[test]
    fn ts_formats() {
        let line = |ts: &str| format!(r#"{{"t":{ts},"r":"expired"}}"#);
        for (format, ts, want) in [
            (None, "1790000000.5", 1_790_000_000.5),
            (None, "\"1790000000.5\"", 1_790_000_000.5),
            (None, "\"2026-09-21T16:13:20.5+02:00\"", 1_790_000_000.5),
            (Some("unix"), "1790000000", 1_790_000_000.0),
            (Some("unix_ms"), "1790000000500", 1_790_000_000.5),
            (Some("unix_us"), "\"1790000000500000\"", 1_790_000_000.5),
            (
                Some("rfc3339"),
                "\"2026-09-21T14:13:20.5Z\"",
                1_790_000_000.5,
            ),
            (
                Some("%d/%b/%Y:%H:%M:%S %z"),
                "\"21/Sep/2026:16:13:20 +0200\"",
                1_790_000_000.0,
            ),
            (
                Some("%Y-%m-%dT%H:%M:%S%.f"),
                "\"2026-09-21T14:13:20.25\"",
                1_790_000_000.25,
            ),
        ] {
            let mut spec = json(&[(Field::Ts, "/t"), (Field::Reason, "/r")]);
            spec.ts_format = format.map(str::to_owned);
            let m = Mapping::new(spec).unwrap();
            let l = line(ts);
            assert_eq!(event(&m, &l).ts, want, "{format:?} {ts}");
        }
        let mut spec = json(&[(Field::Ts, "/t"), (Field::Reason, "/r")]);
        spec.ts_format = Some("rfc3339".into());
        let m = Mapping::new(spec).unwrap();
        assert_eq!(invalid(&m, &line("1790000000")).kind, InvalidKind::BadValue);
        assert_eq!(invalid(&m, &line("\"-1\"")).kind, InvalidKind::BadValue);
    }

    fn literal(re: &str) -> Option<String> {
        required_literal(&syntax_tree(re).unwrap()).map(|l| String::from_utf8(l).unwrap())
    }

    #[test]
    fn the_required_literal_is_one_every_match_passes_through() {
        let lit = |re| literal(re);
        assert_eq!(
            lit(r"^(?P<ts>\d+) .*jwt\.exceptions\.(?P<reason>\w+)").as_deref(),
            Some("jwt.exceptions.")
        );
        assert_eq!(lit(r"(?:optional)?abc").as_deref(), Some("abc"));
        assert_eq!(lit(r"(?P<reason>(?:abcd)+)x").as_deref(), Some("abcd"));
        assert_eq!(lit(r"x{0,3}y").as_deref(), Some("y"));
        // Neither branch of an alternation is required, nor a letter under `(?i)`.
        assert_eq!(lit(r"(?P<reason>expired|immature)"), None);
        assert_eq!(lit(r"(?i)(?P<reason>jwt)"), None);
        assert_eq!(lit(r"(?P<reason>\w*)"), None);
        // No line without it is read: the regex is not even run.
        let re = LineRegex::new(r"^(?P<reason>a+)b.*jwt!").unwrap();
        let mut slots = Slots::default();
        assert!(!re.read(b"aaab jwt", &mut slots));
        assert!(re.read(b"aaab jwt!", &mut slots));
    }

    /// The pre-check and the engine without the lazy DFA change no result: each line read by
    /// the full `regex` engine alone gives the same groups, matched or not.
    #[test]
    fn the_shortcuts_find_what_the_regex_alone_finds() {
        let patterns = [
            r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: .*jwt\.exceptions\.(?P<reason>\w+: .*)$",
            r"^(?P<ts>\S+ \S+) .*?jwt\.exceptions\.(?P<reason>\w+)",
            r"^(?P<source>[a-z]+)(?: (?P<outcome>ok|fail))? (?P<reason>.*)",
            r"(?P<reason>jwt\.\w+)",
            r"(?m)^(?P<reason>\w+)$",
            r"^(?P<iss>(?u)\w+) (?-s:.)*(?P<reason>x)$",
        ];
        let long = format!(
            "2026-09-21 14:13:20,250 WARNING api: {} jwt.exceptions.E: m",
            "y".repeat(SHORT_LINE)
        );
        let lines: Vec<&[u8]> = vec![
            b"2026-09-21 14:13:20,250 WARNING api: token rejected: jwt.exceptions.ExpiredSignatureError: Signature has expired",
            b"2026-09-21 14:13:20,250 WARNING api: jwt.exceptions.A: jwt.exceptions.B: two",
            b"2026-09-21 14:13:20,250 INFO api: token accepted",
            b"2026-09-21 14:13:20,250 INFO api: mentions jwt.exceptions. but no name",
            b"orders ok token is fine",
            b"orders token is expired",
            b"\xc3\xa9t\xc3\xa9 mixed x",
            b"\xff\xfe jwt.exceptions.\xff",
            b"",
            long.as_bytes(),
        ];
        for p in patterns {
            let fast = LineRegex::new(p).unwrap();
            let plain = LineRegex {
                required: None,
                anchored: None,
                ..fast.clone()
            };
            for line in &lines {
                let (mut a, mut b) = (Slots::default(), Slots::default());
                let matched = fast.read(line, &mut a);
                assert_eq!(matched, plain.read(line, &mut b), "{p} on {line:?}");
                assert_eq!(a, b, "{p} on {line:?}");
            }
        }
        // More groups than the stack array holds: the full engine reads the line.
        let many = LineRegex::new(&format!("^{}(?P<reason>x)", "(a)".repeat(40))).unwrap();
        assert!(many.slots > MAX_SLOTS);
        let line = format!("{}x", "a".repeat(40));
        let mut got = Slots::default();
        assert!(many.read(line.as_bytes(), &mut got));
        assert_eq!(got[Field::Reason as usize], Some(Scalar::Str("x".into())));
        // The first pattern is anchored and has a literal: both shortcuts were taken.
        let first = LineRegex::new(patterns[0]).unwrap();
        assert!(first.required.is_some() && first.anchored.is_some());
        assert!(LineRegex::new(patterns[3]).unwrap().anchored.is_none());
        assert!(LineRegex::new(patterns[4]).unwrap().anchored.is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Random lines built from the pieces the patterns look for (the literal cut and
        /// repeated, digits, spaces, a colon, bytes that are not UTF-8): the shortcuts find
        /// exactly what the full engine alone finds.
        #[test]
        fn the_shortcuts_agree_on_random_lines(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "2026-09-21 14:13:20,250", " ", ": ", "WARNING", "api.v1", "jwt.",
                    "exceptions.", "jwt.exceptions.", "Expired", "Error", "x", "7", "\t",
                    "\u{e9}", "\u{ff}", ":",
                ]),
                0..24,
            ),
            cut in 0usize..4,
        ) {
            let mut line: Vec<u8> = pieces.concat().into_bytes();
            // Sometimes a byte that is not UTF-8, or a line cut inside a character.
            match cut {
                1 => line.push(0xff),
                2 if !line.is_empty() => { line.pop(); }
                _ => {}
            }
            for p in [
                r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: .*jwt\.exceptions\.(?P<reason>\w+: .*)$",
                r"^(?P<ts>\S+ \S+) .*?jwt\.exceptions\.(?P<reason>\w*)",
                r"^(?P<source>[a-z.]+)?.*(?P<reason>Expired|Error)",
                r"jwt\.(?P<reason>exceptions\.)+",
            ] {
                let fast = LineRegex::new(p).unwrap();
                let plain = LineRegex { required: None, anchored: None, ..fast.clone() };
                let (mut a, mut b) = (Slots::default(), Slots::default());
                proptest::prop_assert_eq!(fast.read(&line, &mut a), plain.read(&line, &mut b));
                proptest::prop_assert_eq!(a, b);
            }
        }
    }

    /// Linear time: a 1 MB line, and the classic catastrophic-backtracking pattern on input made
    /// to trigger it, are each one pass (a backtracking engine would not finish this test).
    #[test]
    fn hostile_lines_are_one_linear_pass() {
        let m = Mapping::new(MappingSpec {
            regex: Some(r"^(?P<reason>(a+)+)$".into()),
            ..MappingSpec::default()
        })
        .unwrap();
        let mut line = "a".repeat(1 << 20);
        line.push('!');
        assert_eq!(m.map(line.as_bytes(), NOW), Mapped::Skipped);
        // The same below SHORT_LINE, read by the capture engine alone (no lazy DFA first).
        let short = format!("{}!", "a".repeat(SHORT_LINE - 1));
        assert_eq!(m.map(short.as_bytes(), NOW), Mapped::Skipped);
        let m = python_logging();
        let big = format!(
            "2026-09-21 14:13:20,250 {} jwt.exceptions.{}",
            "jwt.exceptions ".repeat(70_000),
            "x".repeat(100_000)
        );
        assert!(big.len() > 1 << 20);
        assert!(matches!(m.map(big.as_bytes(), NOW), Mapped::Event(_)));
        let m = pino();
        // Nesting deeper than any stack: skipped (no pointer goes there), without recursion.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(m.map(deep.as_bytes(), NOW) == Mapped::Skipped);
        let deep = format!("{{\"jwt\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(m.map(deep.as_bytes(), NOW), Mapped::Event(_)));
    }
}
