//! The verification event: its closed sets ([`Outcome`], [`Reason`]), its JSON form, and the
//! parsing that turns one JSON object into an [`Event`] or an [`InvalidEvent`].
//!
//! Parsing borrows from the input (no `serde_json::Value`, no copy of a string without
//! escapes), and never puts a string from the input into an error message: a `token` is a
//! credential, and it may sit in any field of a hostile event.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// Latest accepted time (9999-12-31T23:59:59Z), the RFC 3339 limit.
pub const MAX_TIME: f64 = 253_402_300_799.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Accepted,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
        }
    }

    /// `accepted` or `rejected`, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        // The exact spellings first: what nearly every event carries, and cheaper to compare.
        match s {
            "accepted" => return Some(Outcome::Accepted),
            "rejected" => return Some(Outcome::Rejected),
            _ => {}
        }
        if s.eq_ignore_ascii_case("accepted") {
            Some(Outcome::Accepted)
        } else if s.eq_ignore_ascii_case("rejected") {
            Some(Outcome::Rejected)
        } else {
            None
        }
    }
}

/// Why a token was refused: the closed set of the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Expired,
    NotYetValid,
    IssuedInFuture,
    InvalidSignature,
    UnknownKey,
    Malformed,
    InvalidIssuer,
    InvalidAudience,
    InvalidAlgorithm,
    MissingClaim,
    Revoked,
    MissingToken,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 13] = [
        Reason::Expired,
        Reason::NotYetValid,
        Reason::IssuedInFuture,
        Reason::InvalidSignature,
        Reason::UnknownKey,
        Reason::Malformed,
        Reason::InvalidIssuer,
        Reason::InvalidAudience,
        Reason::InvalidAlgorithm,
        Reason::MissingClaim,
        Reason::Revoked,
        Reason::MissingToken,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::IssuedInFuture => "issued_in_future",
            Reason::InvalidSignature => "invalid_signature",
            Reason::UnknownKey => "unknown_key",
            Reason::Malformed => "malformed",
            Reason::InvalidIssuer => "invalid_issuer",
            Reason::InvalidAudience => "invalid_audience",
            Reason::InvalidAlgorithm => "invalid_algorithm",
            Reason::MissingClaim => "missing_claim",
            Reason::Revoked => "revoked",
            Reason::MissingToken => "missing_token",
            Reason::Other => "other",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// True for the reasons that are about time, whose claims a verifier did check.
    pub fn is_time_related(self) -> bool {
        matches!(
            self,
            Reason::Expired | Reason::NotYetValid | Reason::IssuedInFuture
        )
    }

    /// Maps a verifier's reason text onto the closed set, case-insensitively: our own names and
    /// the spellings of PyJWT, python-jose, node jsonwebtoken, jose, golang-jwt, Rust
    /// jsonwebtoken, .NET and Spring Security (the table is in docs/events.md), then phrases in
    /// free text, then the `Name` of a `Name: message`. Anything else is `other`. What the first
    /// six libraries really raise, in each form users log it, is checked by
    /// tests/library_errors.rs.
    ///
    /// It runs once per rejected event, and a log repeats a handful of texts: each thread keeps
    /// the last 256 texts it mapped (of at most 256 bytes: `MEMO_ENTRIES`, `MEMO_TEXT_MAX`), so a
    /// repeated text costs one hash lookup rather than the tables (~7× fewer instructions,
    /// benches/README.md).
    /// A text seen the first time allocates its copy; a full memo starts again empty, so
    /// texts that never repeat cannot grow it. A text that could be a token (over 64 bytes
    /// without a space: a mapping that points `reason` at the wrong field) is never kept.
    pub fn from_text(text: &str) -> Reason {
        // Fast path: verifiers that already speak the contract.
        if let Some(r) = Reason::ALL.iter().find(|r| r.as_str() == text) {
            return *r;
        }
        let token_like = text.len() > 64 && memchr::memchr(b' ', text.as_bytes()).is_none();
        if text.len() > MEMO_TEXT_MAX || token_like {
            return Reason::classify(text);
        }
        REASON_MEMO.with_borrow_mut(|memo| {
            if let Some(&r) = memo.get(text) {
                return r;
            }
            let r = Reason::classify(text);
            if memo.len() >= MEMO_ENTRIES {
                memo.clear();
            }
            memo.insert(text.into(), r);
            r
        })
    }

    /// [`Reason::from_text`] without the memo: normalised spellings, phrases, then the name.
    fn classify(text: &str) -> Reason {
        let mut buf = [0u8; NORMALIZED_MAX];
        let key = normalize(text, &mut buf);
        if let Some(r) = table_lookup(key) {
            return r;
        }
        // Free text ("Signature has expired", "token has invalid claims: token is expired").
        if let Some(r) = phrase_lookup(key) {
            return r;
        }
        // `Name: message` whose message told nothing: the name alone
        // ("JWKSNoMatchingKey: no applicable key …" says at least what "JWKSNoMatchingKey" says).
        match text.split_once(':') {
            Some((name, _)) => table_lookup(normalize(name, &mut buf)).unwrap_or(Reason::Other),
            None => Reason::Other,
        }
    }
}

/// The texts [`Reason::from_text`] remembers per thread, and the longest it remembers.
const MEMO_ENTRIES: usize = 256;
const MEMO_TEXT_MAX: usize = 256;

thread_local! {
    /// [`Reason::from_text`]'s memo: at most [`MEMO_ENTRIES`] texts of this thread.
    static REASON_MEMO: RefCell<HashMap<Box<str>, Reason>> = RefCell::new(HashMap::new());
}

fn table_lookup(key: &str) -> Option<Reason> {
    static TABLE: LazyLock<HashMap<&str, Reason>> =
        LazyLock::new(|| REASON_TABLE.iter().copied().collect());
    TABLE.get(key).copied()
}

/// The first of [`REASON_PHRASES`] (in the list's order, not the text's) that `key` contains.
/// One pass of an Aho-Corasick automaton over the text finds them all: asking `contains` of
/// each phrase in turn set up a substring search per phrase, and cost more than the regex that
/// found the text (benches/README.md).
fn phrase_lookup(key: &str) -> Option<Reason> {
    static PHRASES: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(REASON_PHRASES.iter().map(|&(phrase, _)| phrase))
            // A few hundred bytes of constants, far below any of the builder's limits; every
            // test that maps a reason text builds it.
            .expect("the reason phrases make an automaton")
    });
    PHRASES
        .find_overlapping_iter(key)
        .map(|m| m.pattern().as_usize())
        .min()
        .and_then(|i| REASON_PHRASES.get(i))
        .map(|&(_, r)| r)
}

/// How much of a reason text is compared: enough for a library's `Name: message`
/// (jose's `JWTClaimValidationFailed: "iat" claim timestamp check failed (it should be in the
/// past)` is 71 letters; its end is what tells the reason).
const NORMALIZED_MAX: usize = 128;

/// Lower-case ASCII letters and digits only, at most [`NORMALIZED_MAX`] of them, without
/// allocating: `ExpiredSignatureError`, `expired-signature` and `token is expired` become
/// comparable.
fn normalize<'b>(text: &str, buf: &'b mut [u8; NORMALIZED_MAX]) -> &'b str {
    let mut n = 0;
    for c in text
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .take(buf.len())
    {
        buf[n] = c.to_ascii_lowercase();
        n += 1;
    }
    // Only ASCII alphanumerics were written.
    std::str::from_utf8(&buf[..n]).unwrap_or("")
}

/// Phrases looked for inside free text when no spelling matches exactly, first match wins: the
/// specific ones (a claim named, a check described) before the generic words, since a library's
/// message often names one claim while its class name is another's (PyJWT raises
/// `ImmatureSignatureError` for an `iat` in the future). The texts are the libraries' own, as
/// tests/data/library_errors.jsonl records them.
const REASON_PHRASES: &[(&str, Reason)] = &[
    // Time, claim by claim.
    ("notyetvalidiat", Reason::IssuedInFuture), // PyJWT: The token is not yet valid (iat)
    ("itshouldbeinthepast", Reason::IssuedInFuture), // jose: "iat" claim … (it should be in the past)
    ("usedbeforeissued", Reason::IssuedInFuture),
    ("issuedinthefuture", Reason::IssuedInFuture),
    ("issuedinfuture", Reason::IssuedInFuture),
    ("toofarinthepast", Reason::Expired), // jose maxTokenAge: "iat" claim … (too far in the past)
    ("nbfclaimtimestamp", Reason::NotYetValid), // jose: "nbf" claim timestamp check failed
    ("expclaimtimestamp", Reason::Expired), // jose: "exp" claim timestamp check failed
    ("notvalidyet", Reason::NotYetValid),
    ("notyetvalid", Reason::NotYetValid),
    ("immature", Reason::NotYetValid),
    ("notbefore", Reason::NotYetValid),
    ("notactive", Reason::NotYetValid),
    ("expired", Reason::Expired),
    ("revoked", Reason::Revoked),
    // A required claim absent, before the claims' own words (`missing required "iss" claim`).
    ("missingrequired", Reason::MissingClaim), // jose, python-jose, Rust jsonwebtoken
    ("ismissingthe", Reason::MissingClaim),    // PyJWT: Token is missing the "exp" claim
    ("unexpectedissclaim", Reason::InvalidIssuer), // jose: unexpected "iss" claim value
    ("unexpectedaudclaim", Reason::InvalidAudience), // jose: unexpected "aud" claim value
    // The algorithm, before `signature` and `key`.
    ("signingmethod", Reason::InvalidAlgorithm), // golang-jwt: signing method HS512 is invalid
    ("algvalueisnotallowed", Reason::InvalidAlgorithm), // PyJWT, python-jose
    ("signature", Reason::InvalidSignature),
    // Key lookup.
    ("noapplicablekey", Reason::UnknownKey), // jose: no applicable key found in the JWKS
    ("nomatchingkey", Reason::UnknownKey),
    ("signingkey", Reason::UnknownKey), // PyJWKClient: Unable to find a signing key that matches
    ("secretorpublickeycallback", Reason::UnknownKey), // jsonwebtoken: error in … key callback
    ("unknownkey", Reason::UnknownKey),
    ("malformed", Reason::Malformed),
    ("segments", Reason::Malformed), // PyJWT, python-jose: Not enough segments; golang-jwt
    ("invalidcompact", Reason::Malformed), // jose: Invalid Compact JWS
    ("audience", Reason::InvalidAudience),
    ("issuer", Reason::InvalidIssuer),
    ("algorithm", Reason::InvalidAlgorithm),
];

/// Normalised spelling → reason. Keep in step with the table in docs/events.md.
const REASON_TABLE: &[(&str, Reason)] = &[
    // Our own names.
    ("expired", Reason::Expired),
    ("notyetvalid", Reason::NotYetValid),
    ("issuedinfuture", Reason::IssuedInFuture),
    ("invalidsignature", Reason::InvalidSignature),
    ("unknownkey", Reason::UnknownKey),
    ("malformed", Reason::Malformed),
    ("invalidissuer", Reason::InvalidIssuer),
    ("invalidaudience", Reason::InvalidAudience),
    ("invalidalgorithm", Reason::InvalidAlgorithm),
    ("missingclaim", Reason::MissingClaim),
    ("revoked", Reason::Revoked),
    ("missingtoken", Reason::MissingToken),
    ("other", Reason::Other),
    // PyJWT.
    ("expiredsignatureerror", Reason::Expired),
    ("immaturesignatureerror", Reason::NotYetValid),
    ("invalidissuedaterror", Reason::IssuedInFuture),
    ("invalidsignatureerror", Reason::InvalidSignature),
    ("decodeerror", Reason::Malformed),
    ("invalidtokenerror", Reason::Malformed),
    ("invalidissuererror", Reason::InvalidIssuer),
    ("invalidaudienceerror", Reason::InvalidAudience),
    ("invalidalgorithmerror", Reason::InvalidAlgorithm),
    ("missingrequiredclaimerror", Reason::MissingClaim),
    ("invalidkeyerror", Reason::UnknownKey),
    ("pyjwkclienterror", Reason::UnknownKey),
    // python-jose.
    ("expiredsignature", Reason::Expired),
    // JWTError and JWSError are the classes most of its errors are raised as (signature,
    // algorithm, missing claim, garbage): the name alone says nothing.
    ("jwtclaimserror", Reason::Other),
    ("jwterror", Reason::Other),
    ("jwserror", Reason::Other),
    ("jwssignatureerror", Reason::InvalidSignature),
    ("jwkerror", Reason::UnknownKey),
    // node jsonwebtoken (error names and messages).
    ("tokenexpirederror", Reason::Expired),
    ("jwtexpired", Reason::Expired),
    ("notbeforeerror", Reason::NotYetValid),
    ("jwtnotactive", Reason::NotYetValid),
    // The class of every error but expiry and nbf (signature, issuer, audience, algorithm,
    // garbage): the name alone says nothing.
    ("jsonwebtokenerror", Reason::Other),
    ("jwtmalformed", Reason::Malformed),
    ("invalidtoken", Reason::Malformed),
    ("jwtsignaturerequired", Reason::InvalidSignature),
    ("jwtmustbeprovided", Reason::MissingToken),
    ("jwtaudienceinvalid", Reason::InvalidAudience),
    ("jwtissuerinvalid", Reason::InvalidIssuer),
    // jose (panva): error codes and class names.
    ("errjwtexpired", Reason::Expired),
    ("errjwtclaimvalidationfailed", Reason::Other),
    ("jwtclaimvalidationfailed", Reason::Other),
    ("errjwsinvalid", Reason::Malformed),
    ("jwsinvalid", Reason::Malformed),
    ("errjwtinvalid", Reason::Malformed),
    ("jwtinvalid", Reason::Malformed),
    (
        "errjwssignatureverificationfailed",
        Reason::InvalidSignature,
    ),
    ("jwssignatureverificationfailed", Reason::InvalidSignature),
    ("errjwksnomatchingkey", Reason::UnknownKey),
    ("jwksnomatchingkey", Reason::UnknownKey),
    ("errjwksmultiplematchingkeys", Reason::UnknownKey),
    ("jwksmultiplematchingkeys", Reason::UnknownKey),
    ("errjosealgnotallowed", Reason::InvalidAlgorithm),
    ("josealgnotallowed", Reason::InvalidAlgorithm),
    ("errjosenotsupported", Reason::InvalidAlgorithm),
    // golang-jwt v5 (sentinel errors and their messages).
    ("errtokenexpired", Reason::Expired),
    ("tokenisexpired", Reason::Expired),
    ("tokenhasexpired", Reason::Expired),
    ("errtokennotvalidyet", Reason::NotYetValid),
    ("tokenisnotvalidyet", Reason::NotYetValid),
    ("errtokenusedbeforeissued", Reason::IssuedInFuture),
    ("tokenusedbeforeissued", Reason::IssuedInFuture),
    ("errtokensignatureinvalid", Reason::InvalidSignature),
    ("tokensignatureisinvalid", Reason::InvalidSignature),
    ("errtokenmalformed", Reason::Malformed),
    ("tokenismalformed", Reason::Malformed),
    ("errtokenunverifiable", Reason::UnknownKey),
    ("tokenisunverifiable", Reason::UnknownKey),
    ("errtokeninvalidissuer", Reason::InvalidIssuer),
    ("tokenhasinvalidissuer", Reason::InvalidIssuer),
    ("errtokeninvalidaudience", Reason::InvalidAudience),
    ("tokenhasinvalidaudience", Reason::InvalidAudience),
    ("errtokenrequiredclaimmissing", Reason::MissingClaim),
    ("tokenisrequiredclaimmissing", Reason::MissingClaim),
    ("errtokeninvalidclaims", Reason::Other),
    ("errsignatureinvalid", Reason::InvalidSignature),
    ("errtokenunverifiablekey", Reason::UnknownKey),
    // Rust jsonwebtoken ErrorKind names.
    ("immaturesignature", Reason::NotYetValid),
    ("base64", Reason::Malformed),
    ("json", Reason::Malformed),
    ("utf8", Reason::Malformed),
    ("invalidkeyformat", Reason::UnknownKey),
    ("invalidecdsakey", Reason::UnknownKey),
    ("invalidrsakey", Reason::UnknownKey),
    ("invalidalgorithmname", Reason::InvalidAlgorithm),
    ("missingalgorithm", Reason::InvalidAlgorithm),
    ("missingrequiredclaim", Reason::MissingClaim),
    ("invalidsubject", Reason::Other),
    // .NET (System.IdentityModel.Tokens / Microsoft.IdentityModel).
    ("securitytokenexpiredexception", Reason::Expired),
    ("securitytokennotyetvalidexception", Reason::NotYetValid),
    ("securitytokeninvalidlifetimeexception", Reason::NotYetValid),
    ("securitytokennoexpirationexception", Reason::MissingClaim),
    (
        "securitytokeninvalidsignatureexception",
        Reason::InvalidSignature,
    ),
    (
        "securitytokensignaturekeynotfoundexception",
        Reason::UnknownKey,
    ),
    ("securitytokenunabletovalidateexception", Reason::UnknownKey),
    ("securitytokeninvalidissuerexception", Reason::InvalidIssuer),
    (
        "securitytokeninvalidaudienceexception",
        Reason::InvalidAudience,
    ),
    (
        "securitytokeninvalidalgorithmexception",
        Reason::InvalidAlgorithm,
    ),
    ("securitytokenmalformedexception", Reason::Malformed),
    ("securitytokenreplaydetectedexception", Reason::Revoked),
    ("securitytokenreplayaddedexception", Reason::Revoked),
    ("securitytokenexception", Reason::Other),
    // Spring Security (exception classes and OAuth2 error texts).
    ("jwtvalidationexception", Reason::Other),
    ("badjwtexception", Reason::Malformed),
    ("jwtexception", Reason::Malformed),
    ("invalidbearertokenexception", Reason::Other),
    ("jwtexpiredat", Reason::Expired),
    ("jwtusedbeforenbf", Reason::NotYetValid),
    ("jwtusedbefore", Reason::NotYetValid),
    (
        "authenticationcredentialsnotfoundexception",
        Reason::MissingToken,
    ),
    ("bearertokenmissing", Reason::MissingToken),
    ("signedjwtverifierexception", Reason::InvalidSignature),
    ("badjoseexception", Reason::Malformed),
    ("revokedtoken", Reason::Revoked),
    ("tokenrevoked", Reason::Revoked),
];

/// Why an event was refused: the `error` label of `skew_events_invalid_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    Json,
    MissingField,
    BadValue,
    TooLarge,
    BadToken,
}

impl InvalidKind {
    pub const ALL: [InvalidKind; 5] = [
        InvalidKind::Json,
        InvalidKind::MissingField,
        InvalidKind::BadValue,
        InvalidKind::TooLarge,
        InvalidKind::BadToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvalidKind::Json => "json",
            InvalidKind::MissingField => "missing_field",
            InvalidKind::BadValue => "bad_value",
            InvalidKind::TooLarge => "too_large",
            InvalidKind::BadToken => "bad_token",
        }
    }
}

/// A refused event: its class and a message safe to return to the sender and to log (it never
/// contains a string from the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent {
    pub kind: InvalidKind,
    pub message: String,
}

impl InvalidEvent {
    pub fn new(kind: InvalidKind, message: impl Into<String>) -> Self {
        InvalidEvent {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// A valid event, ready to record. Strings borrow from the input where they can.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// The verifier's clock at verification, Unix seconds.
    pub ts: f64,
    /// The verifier's clock when the request arrived (`received`), Unix seconds: `ts −
    /// received` is the verification delay.
    pub received: Option<f64>,
    pub source: Option<Cow<'a, str>>,
    pub issuer: Option<Cow<'a, str>>,
    pub iat: Option<f64>,
    pub nbf: Option<f64>,
    pub exp: Option<f64>,
    pub outcome: Outcome,
    /// Always `Some` for a rejected event, `None` for an accepted one.
    pub reason: Option<Reason>,
    /// A rejected event whose `token` could not be read: the rejection is still recorded
    /// (its claims come from the explicit fields alone), and the unreadable token is counted in
    /// `skew_events_token_unreadable_total`. Never true for an accepted event, which is refused
    /// as `bad_token` instead.
    pub token_unreadable: bool,
    /// Seconds of tolerance the verifier applied (`leeway`, ≥ 0).
    pub leeway: Option<f64>,
    /// The key id: the `kid` field, else the `kid` of a `token`'s header.
    pub kid: Option<Cow<'a, str>>,
}

impl Event<'_> {
    /// Token age: `ts − iat`.
    pub fn age(&self) -> Option<f64> {
        self.iat.map(|iat| self.ts - iat)
    }
}

/// The event as written, before its checks. Unknown fields are ignored (verifiers add their
/// own). `[[events.follow]]` mappings ([`crate::ingest::follow`]) fill the same struct from
/// other shapes of line, so that both go through [`from_wire`].
#[derive(Default, Deserialize)]
pub(crate) struct Wire<'a> {
    #[serde(default, deserialize_with = "de_ts")]
    pub(crate) ts: Option<f64>,
    #[serde(default, deserialize_with = "de_received")]
    pub(crate) received: Option<f64>,
    #[serde(default, deserialize_with = "de_leeway")]
    pub(crate) leeway: Option<f64>,
    #[serde(default, borrow, deserialize_with = "de_opt_cow")]
    pub(crate) kid: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "de_opt_cow")]
    pub(crate) source: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "de_opt_cow")]
    pub(crate) iss: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "de_aud")]
    #[allow(dead_code)]
    pub(crate) aud: Option<()>,
    #[serde(default, deserialize_with = "de_numeric_date")]
    pub(crate) iat: Option<f64>,
    #[serde(default, deserialize_with = "de_numeric_date")]
    pub(crate) nbf: Option<f64>,
    #[serde(default, deserialize_with = "de_numeric_date")]
    pub(crate) exp: Option<f64>,
    #[serde(default, borrow, deserialize_with = "de_opt_cow")]
    pub(crate) token: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "de_opt_cow")]
    pub(crate) outcome: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "de_opt_cow")]
    pub(crate) reason: Option<Cow<'a, str>>,
}

/// Claims read from a token (no signature check: the exporter only reads times here).
#[derive(Deserialize)]
struct TokenClaims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default, deserialize_with = "de_aud")]
    #[allow(dead_code)]
    aud: Option<()>,
    #[serde(default, deserialize_with = "de_numeric_date")]
    iat: Option<f64>,
    #[serde(default, deserialize_with = "de_numeric_date")]
    nbf: Option<f64>,
    #[serde(default, deserialize_with = "de_numeric_date")]
    exp: Option<f64>,
}

/// Parses one JSON event. `now` is used when the event has no `ts`.
pub fn parse_event(bytes: &[u8], now: f64) -> Result<Event<'_>, InvalidEvent> {
    // The common shape, without serde; anything unusual (and every error) takes the full path.
    // Filled in place and handed on by value: an `Option<Wire>` returned by the scan was
    // copied twice per event (~300 bytes each time).
    let mut wire = Wire::default();
    if wire_fast(bytes, &mut wire).is_some() {
        return from_wire(wire, now);
    }
    parse_event_serde(bytes, now)
}

/// The full parser: serde_json, with the errors and their classes.
fn parse_event_serde(bytes: &[u8], now: f64) -> Result<Event<'_>, InvalidEvent> {
    // serde would also read a struct from an array, positionally: refuse anything but an object.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(match serde_json::from_slice::<de::IgnoredAny>(bytes) {
            Ok(_) => InvalidEvent::new(InvalidKind::BadValue, "an event must be a JSON object"),
            Err(e) => json_error(e),
        });
    }
    let wire: Wire<'_> = serde_json::from_slice(bytes).map_err(json_error)?;
    from_wire(wire, now)
}

/// The fast path's reading of a flat object, or `None` where serde_json must decide (a type or
/// range error, an RFC 3339 `ts`, anything [`crate::fastjson`] does not scan): it accepts
/// exactly what the serde path accepts, the same way.
fn wire_fast<'a>(bytes: &'a [u8], w: &mut Wire<'a>) -> Option<()> {
    // Known fields seen so far, one bit each.
    let mut seen = 0u16;
    crate::fastjson::scan_with(bytes, |key, v| member(w, &mut seen, key, v))
}

/// Reads one member into `w`; `None` defers the whole object to serde_json.
#[inline]
fn member<'a>(
    w: &mut Wire<'a>,
    seen: &mut u16,
    key: &str,
    v: crate::fastjson::Value<'a>,
) -> Option<()> {
    use crate::fastjson::Value;
    // Plain `fn`s rather than closures: the compiler then inlines all of this into the scan.
    #[inline(always)]
    fn time(v: Value<'_>) -> Option<Option<f64>> {
        match v {
            Value::Num(x) if time_in_range(x) => Some(Some(x)),
            Value::Null => Some(None),
            _ => None,
        }
    }
    #[inline(always)]
    fn text(v: Value<'_>) -> Option<Option<Cow<'_, str>>> {
        match v {
            Value::Str(s) => Some(Some(Cow::Borrowed(s))),
            Value::Null => Some(None),
            _ => None,
        }
    }
    // A known field twice is serde's "duplicate field" error: defer to it.
    #[inline(always)]
    fn once(seen: &mut u16, bit: u16) -> Option<()> {
        let dup = *seen & bit != 0;
        *seen |= bit;
        (!dup).then_some(())
    }
    match key {
        "ts" => {
            once(seen, 1 << 0)?;
            w.ts = time(v)?
        }
        "iat" => {
            once(seen, 1 << 1)?;
            w.iat = time(v)?
        }
        "nbf" => {
            once(seen, 1 << 2)?;
            w.nbf = time(v)?
        }
        "exp" => {
            once(seen, 1 << 3)?;
            w.exp = time(v)?
        }
        "source" => {
            once(seen, 1 << 4)?;
            w.source = text(v)?
        }
        "iss" => {
            once(seen, 1 << 5)?;
            w.iss = text(v)?
        }
        "token" => {
            once(seen, 1 << 6)?;
            w.token = text(v)?
        }
        "outcome" => {
            once(seen, 1 << 7)?;
            w.outcome = text(v)?
        }
        "reason" => {
            once(seen, 1 << 8)?;
            w.reason = text(v)?
        }
        "received" => {
            once(seen, 1 << 10)?;
            w.received = time(v)?
        }
        // A number >= 0 with the range of a time (the one check both paths use).
        "leeway" => {
            once(seen, 1 << 11)?;
            w.leeway = time(v)?
        }
        "kid" => {
            once(seen, 1 << 12)?;
            w.kid = text(v)?
        }
        "aud" => {
            once(seen, 1 << 9)?;
            w.aud = match v {
                Value::Str(_) | Value::StrArray => Some(()),
                Value::Null => None,
                Value::Num(_) => return None,
            }
        }
        _ => {}
    }
    Some(())
}

/// `Option<Cow<str>>` that borrows from the input when the string has no escapes (serde's own
/// `Option<Cow>` always allocates).
fn de_opt_cow<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_option(OptionStr(V))
}

/// Adapts an `Option` visitor so that `Some` goes on to a string.
struct OptionStr<V>(V);

impl<'de, V: Visitor<'de, Value = Option<Cow<'de, str>>>> Visitor<'de> for OptionStr<V> {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self.0)
    }
}

fn json_error(e: serde_json::Error) -> InvalidEvent {
    use serde_json::error::Category;
    let kind = match e.classify() {
        Category::Data => InvalidKind::BadValue,
        Category::Io | Category::Syntax | Category::Eof => InvalidKind::Json,
    };
    // serde_json messages quote the offending value only for strings that a visitor refused;
    // every string-accepting visitor here is ours and never quotes, so the text is safe.
    InvalidEvent::new(kind, e.to_string())
}

/// Checks the fields and builds the event: the one place an event is made from what a
/// transport read.
pub(crate) fn from_wire(w: Wire<'_>, now: f64) -> Result<Event<'_>, InvalidEvent> {
    let outcome_text = w
        .outcome
        .ok_or_else(|| InvalidEvent::new(InvalidKind::MissingField, "`outcome` is required"))?;
    let outcome = Outcome::parse(&outcome_text).ok_or_else(|| {
        InvalidEvent::new(
            InvalidKind::BadValue,
            "`outcome` must be \"accepted\" or \"rejected\"",
        )
    })?;
    let reason = match (outcome, &w.reason) {
        (Outcome::Accepted, _) => None,
        (Outcome::Rejected, Some(text)) => Some(Reason::from_text(text)),
        (Outcome::Rejected, None) => {
            return Err(InvalidEvent::new(
                InvalidKind::MissingField,
                "`reason` is required when rejected",
            ))
        }
    };
    let (mut issuer, mut iat, mut nbf, mut exp) = (w.iss, w.iat, w.nbf, w.exp);
    let mut kid = w.kid;
    let mut token_unreadable = false;
    if let Some(token) = &w.token {
        // Explicit fields win over the token's claims. The token itself is dropped with `w`.
        match read_token(token) {
            Ok(claims) => {
                if kid.is_none() {
                    kid = header_kid(token).map(Cow::Owned);
                }
                issuer = issuer.or(claims.iss.map(Cow::Owned));
                iat = iat.or(claims.iat);
                nbf = nbf.or(claims.nbf);
                exp = exp.or(claims.exp);
            }
            // A garbage token is the most common 401 of all: the rejection is counted, with
            // the explicit fields only. An accepted event with one is refused: a verifier that
            // accepted it read something else than what it reports.
            Err(_) if outcome == Outcome::Rejected => token_unreadable = true,
            Err(e) => return Err(e),
        }
    }
    let ts = match w.ts {
        Some(ts) => ts,
        None => now,
    };
    Ok(Event {
        ts,
        received: w.received,
        source: w.source,
        issuer,
        iat,
        nbf,
        exp,
        outcome,
        reason,
        token_unreadable,
        leeway: w.leeway,
        kid,
    })
}

/// The `kid` of a compact JWT's header, when the header is a base64url JSON object whose `kid`
/// is a string; `None` otherwise (the header is not checked further: the claims decide whether
/// the token is readable).
pub(crate) fn header_kid(token: &str) -> Option<String> {
    use base64::Engine as _;
    #[derive(Deserialize)]
    struct Header {
        #[serde(default)]
        kid: Option<serde_json::Value>,
    }
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice::<Header>(&bytes).ok()?.kid? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// Reads the claims of a compact JWT without verifying it. The error never includes the token.
fn read_token(token: &str) -> Result<TokenClaims, InvalidEvent> {
    if token.len() > 64 * 1024 {
        return Err(InvalidEvent::new(
            InvalidKind::BadToken,
            "`token` is longer than 64 KiB",
        ));
    }
    if token.split('.').count() != 3 {
        return Err(InvalidEvent::new(
            InvalidKind::BadToken,
            "`token` is not a compact JWT (three dot-separated parts)",
        ));
    }
    // serde reads a struct from an array positionally: claims must be a JSON object.
    let payload = token.split('.').nth(1).unwrap_or("");
    let object = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .is_ok_and(|p| p.trim_ascii_start().first() == Some(&b'{'))
    };
    if !object {
        return Err(InvalidEvent::new(
            InvalidKind::BadToken,
            "`token` is not a readable JWT: its claims are not a base64url JSON object",
        ));
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<TokenClaims>(token).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        let what = match e.kind() {
            ErrorKind::Base64(_) => "a part is not base64url",
            ErrorKind::Json(_) => "the claims are not a JSON object of the expected types",
            ErrorKind::Utf8(_) => "the claims are not UTF-8",
            _ => "it cannot be decoded",
        };
        InvalidEvent::new(
            InvalidKind::BadToken,
            format!("`token` is not a readable JWT: {what}"),
        )
    })
}

/// A plausible Unix time: finite, not negative, not past year 9999. The one test both
/// parsing paths use.
#[inline(always)]
pub(crate) fn time_in_range(v: f64) -> bool {
    v.is_finite() && (0.0..=MAX_TIME).contains(&v)
}

/// Checks a time is a plausible Unix time: finite, not negative, not past year 9999.
fn check_time<E: de::Error>(field: &str, v: f64) -> Result<f64, E> {
    if time_in_range(v) {
        Ok(v)
    } else {
        Err(E::custom(format_args!(
            "`{field}` is out of range (0 to year 9999 in Unix seconds)"
        )))
    }
}

/// A NumericDate: a JSON number of seconds (fractional allowed).
fn de_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a NumericDate (Unix seconds as a number)")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            check_time("NumericDate", v).map(Some)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom("a NumericDate must be a number, not a string"))
        }
    }
    d.deserialize_any(V)
}

/// `ts`: Unix seconds as a number, or an RFC 3339 string.
fn de_ts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(TimeVisitor("ts"))
}

/// `received`: the same forms as `ts`.
fn de_received<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(TimeVisitor("received"))
}

/// A verifier's time (`ts`, `received`): Unix seconds as a number, or an RFC 3339 string. The
/// field's name is only used in error messages.
struct TimeVisitor(&'static str);

impl Visitor<'_> for TimeVisitor {
    type Value = Option<f64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Unix seconds or an RFC 3339 time")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        check_time(self.0, v).map(Some)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_f64(v as f64)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = chrono::DateTime::parse_from_rfc3339(v).map_err(|_| {
            E::custom(format_args!(
                "`{}` is a string but not an RFC 3339 time",
                self.0
            ))
        })?;
        let secs = t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9;
        check_time(self.0, secs).map(Some)
    }
}

/// `leeway`: seconds as a number, at least 0 (and, like a time, finite and at most the year
/// 9999 in seconds: the one range check both parsing paths share).
fn de_leeway<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("`leeway`: seconds as a number, at least 0")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if time_in_range(v) {
                Ok(Some(v))
            } else {
                Err(E::custom(
                    "`leeway` must be a number of seconds, at least 0",
                ))
            }
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        // serde's default message would quote the string (`invalid type: string "…"`).
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom(
                "`leeway` must be a number of seconds, not a string",
            ))
        }
    }
    d.deserialize_any(V)
}

/// `aud`: a string or an array of strings. Its value is not used by the metrics.
fn de_aud<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<()>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or an array of strings")
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Some(()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<AudItem>()?.is_some() {}
            Ok(Some(()))
        }
    }
    d.deserialize_any(V)
}

/// One element of an `aud` array: must be a string, its content is skipped.
struct AudItem;

impl<'de> Deserialize<'de> for AudItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AudItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<AudItem, E> {
                Ok(AudItem)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_790_000_100.0;

    fn ok(json: &str) -> Event<'_> {
        parse_event(json.as_bytes(), NOW).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn err(json: &str) -> InvalidEvent {
        parse_event(json.as_bytes(), NOW).expect_err(json)
    }

    #[test]
    fn parses_the_contract_example() {
        let e = ok(
            r#"{"ts": 1790000000.25, "source": "orders", "iss": "https://auth.example", "aud": "api",
            "iat": 1790000000, "nbf": 1790000000, "exp": 1790000900,
            "outcome": "rejected", "reason": "not_yet_valid"}"#,
        );
        assert_eq!(e.ts, 1_790_000_000.25);
        assert_eq!(e.source.as_deref(), Some("orders"));
        assert_eq!(e.issuer.as_deref(), Some("https://auth.example"));
        assert_eq!(
            (e.iat, e.nbf, e.exp),
            (
                Some(1_790_000_000.0),
                Some(1_790_000_000.0),
                Some(1_790_000_900.0)
            )
        );
        assert_eq!(e.outcome, Outcome::Rejected);
        assert_eq!(e.reason, Some(Reason::NotYetValid));
        assert_eq!(e.age(), Some(0.25));
    }

    #[test]
    fn ts_forms() {
        assert_eq!(ok(r#"{"outcome":"accepted"}"#).ts, NOW);
        assert_eq!(
            ok(r#"{"ts":"2026-09-21T14:13:20.5Z","outcome":"accepted"}"#).ts,
            1_790_000_000.5
        );
        assert_eq!(
            ok(r#"{"ts":"2026-09-21T16:13:20+02:00","outcome":"accepted"}"#).ts,
            1_790_000_000.0
        );
        assert_eq!(
            err(r#"{"ts":"yesterday","outcome":"accepted"}"#).kind,
            InvalidKind::BadValue
        );
        assert_eq!(
            err(r#"{"ts":"NaN","outcome":"accepted"}"#).kind,
            InvalidKind::BadValue
        );
    }

    /// Issue 13: `received` (the forms of `ts`), `leeway` (seconds >= 0) and `kid` (the field,
    /// else the token header's), on both parsing paths.
    #[test]
    fn received_leeway_and_kid() {
        let e = ok(
            r#"{"ts":1790000000.5,"received":1790000000.25,"leeway":0,"kid":"k1","outcome":"accepted"}"#,
        );
        assert_eq!(
            (e.received, e.leeway, e.kid.as_deref()),
            (Some(1_790_000_000.25), Some(0.0), Some("k1"))
        );
        let e = ok(r#"{"received":"2026-09-21T14:13:20.5Z","leeway":2.5,"outcome":"accepted"}"#);
        assert_eq!(
            (e.received, e.leeway, e.kid),
            (Some(1_790_000_000.5), Some(2.5), None)
        );
        let e = ok(r#"{"received":null,"leeway":null,"kid":null,"outcome":"accepted"}"#);
        assert_eq!((e.received, e.leeway, e.kid), (None, None, None));
        // Escapes and an unknown member force the serde path: the same reading.
        let e = ok(
            r#"{"received":1790000000,"leeway":5,"kid":"k\u0031","x":true,"outcome":"accepted"}"#,
        );
        assert_eq!(
            (e.received, e.leeway, e.kid.as_deref()),
            (Some(1_790_000_000.0), Some(5.0), Some("k1"))
        );
        for (json, what) in [
            (
                r#"{"received":-1,"outcome":"accepted"}"#,
                "`received` is out of range",
            ),
            (
                r#"{"received":"soon","outcome":"accepted"}"#,
                "`received` is a string but not an RFC 3339 time",
            ),
            (r#"{"received":true,"outcome":"accepted"}"#, "invalid type"),
            (
                r#"{"leeway":-0.5,"outcome":"accepted"}"#,
                "`leeway` must be a number of seconds, at least 0",
            ),
            (r#"{"leeway":"5s","outcome":"accepted"}"#, "not a string"),
            (
                r#"{"leeway":1e300,"outcome":"accepted"}"#,
                "`leeway` must be",
            ),
            (r#"{"kid":5,"outcome":"accepted"}"#, "invalid type"),
            (
                r#"{"kid":"a","kid":"b","outcome":"accepted"}"#,
                "duplicate field `kid`",
            ),
        ] {
            let e = err(json);
            assert_eq!(e.kind, InvalidKind::BadValue, "{json}");
            assert!(e.message.contains(what), "{json}: {}", e.message);
        }
    }

    #[test]
    fn kid_comes_from_the_token_header_unless_given() {
        let claims = b64(r#"{"iss":"https://idp","iat":1790000000}"#);
        let with_kid = format!(
            "{}.{claims}.{}",
            b64(r#"{"alg":"RS256","kid":"2026-09"}"#),
            b64("sig")
        );
        let json = format!(r#"{{"token":"{with_kid}","outcome":"accepted"}}"#);
        assert_eq!(ok(&json).kid.as_deref(), Some("2026-09"));
        let json = format!(r#"{{"kid":"given","token":"{with_kid}","outcome":"accepted"}}"#);
        assert_eq!(ok(&json).kid.as_deref(), Some("given"));
        // No kid, a kid that is not a string, a header that is not JSON: no kid, token still read.
        for header in [
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS256","kid":7}"#,
            "not json",
        ] {
            let t = format!("{}.{claims}.{}", b64(header), b64("sig"));
            let json = format!(r#"{{"token":"{t}","outcome":"accepted"}}"#);
            let e = ok(&json);
            assert_eq!(
                (e.kid, e.issuer.as_deref()),
                (None, Some("https://idp")),
                "{header}"
            );
        }
    }

    #[test]
    fn aud_may_be_string_or_array_of_strings() {
        ok(r#"{"aud":"a","outcome":"accepted"}"#);
        ok(r#"{"aud":["a","b"],"outcome":"accepted"}"#);
        assert_eq!(
            err(r#"{"aud":5,"outcome":"accepted"}"#).kind,
            InvalidKind::BadValue
        );
        assert_eq!(
            err(r#"{"aud":["a",5],"outcome":"accepted"}"#).kind,
            InvalidKind::BadValue
        );
    }

    #[test]
    fn known_keys_are_found_wherever_they_sit_in_the_line() {
        // Near the end of the line the scan reads byte by byte, elsewhere a word at a time.
        for json in [
            r#"{"outcome":"accepted","ts":5}"#,
            r#"{"ts":5,"outcome":"accepted"}"#,
            r#"{"outcome":"accepted","x":1,"ts":5}"#,
            r#"{"outcome":"accepted", "ts" :5 }"#,
        ] {
            assert_eq!(ok(json).ts, 5.0, "{json}");
        }
        assert_eq!(ok(r#"{"outcome":"accepted","ts2":5}"#).ts, NOW);
        assert_eq!(ok(r#"{"outcome":"accepted","t":5}"#).ts, NOW);
    }

    #[test]
    fn negative_zero_reads_like_serde_json() {
        let json = r#"{"ts":-0,"iat":-0.0,"nbf":0,"exp":-0e0,"outcome":"accepted"}"#;
        let fast = parse_event(json.as_bytes(), NOW).unwrap();
        let slow = parse_event_serde(json.as_bytes(), NOW).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        assert_eq!(fast.ts.to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        ok(r#"{"outcome":"accepted","trace_id":"x","nested":{"a":[1,2,{"b":null}]}}"#);
        ok(r#"{"outcome":"accepted","x":1,"x":2}"#);
    }

    #[test]
    fn duplicate_known_fields_are_refused_on_both_paths() {
        assert_eq!(
            err(r#"{"outcome":"accepted","iat":1,"iat":2}"#).kind,
            InvalidKind::BadValue
        );
        assert_eq!(
            err(r#"{"outcome":"accepted","outcome":"accepted"}"#).kind,
            InvalidKind::BadValue
        );
    }

    #[test]
    fn required_fields() {
        assert_eq!(err(r#"{"iat":1}"#).kind, InvalidKind::MissingField);
        assert_eq!(
            err(r#"{"outcome":"rejected"}"#).kind,
            InvalidKind::MissingField
        );
        assert_eq!(err(r#"{"outcome":"maybe"}"#).kind, InvalidKind::BadValue);
        assert_eq!(
            ok(r#"{"outcome":"ACCEPTED","reason":"ignored"}"#).reason,
            None
        );
    }

    #[test]
    fn bad_times_are_refused() {
        for json in [
            r#"{"iat":-1,"outcome":"accepted"}"#,
            r#"{"iat":1e300,"outcome":"accepted"}"#,
            r#"{"exp":"1790000000","outcome":"accepted"}"#,
            r#"{"ts":-5,"outcome":"accepted"}"#,
            r#"{"nbf":true,"outcome":"accepted"}"#,
        ] {
            assert_eq!(err(json).kind, InvalidKind::BadValue, "{json}");
        }
        assert_eq!(
            err(r#"{"iat":1e999,"outcome":"accepted"}"#).kind,
            InvalidKind::Json
        );
    }

    #[test]
    fn wrong_types_and_syntax() {
        assert_eq!(
            err(r#"{"source":5,"outcome":"accepted"}"#).kind,
            InvalidKind::BadValue
        );
        assert_eq!(err(r#"{"outcome":"accepted""#).kind, InvalidKind::Json);
        assert_eq!(err("not json").kind, InvalidKind::Json);
        assert_eq!(err("").kind, InvalidKind::Json);
        assert_eq!(err("[1]").kind, InvalidKind::BadValue);
        assert_eq!(
            parse_event(b"{\"source\":\"\xff\",\"outcome\":\"accepted\"}", NOW)
                .unwrap_err()
                .kind,
            InvalidKind::Json
        );
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        assert_eq!(
            ok(r#"{"iss":"a\/b\u0041","outcome":"accepted"}"#)
                .issuer
                .as_deref(),
            Some("a/bA")
        );
    }

    fn b64(s: &str) -> String {
        // base64url without padding, enough for tests.
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &c)| acc | (u32::from(c) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    fn token(claims: &str) -> String {
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(claims),
            b64("sig")
        )
    }

    #[test]
    fn token_claims_fill_missing_fields() {
        let t = token(
            r#"{"iss":"https://idp","aud":["x"],"iat":1790000000,"exp":1790000600,"sub":"u"}"#,
        );
        let json = format!(r#"{{"ts":1790000001,"token":"{t}","outcome":"accepted"}}"#);
        let e = ok(&json);
        assert_eq!(e.issuer.as_deref(), Some("https://idp"));
        assert_eq!(
            (e.iat, e.exp, e.nbf),
            (Some(1_790_000_000.0), Some(1_790_000_600.0), None)
        );
        let json = format!(r#"{{"iss":"explicit","token":"{t}","outcome":"accepted"}}"#);
        assert_eq!(ok(&json).issuer.as_deref(), Some("explicit"));
    }

    #[test]
    fn bad_tokens_are_refused_without_echo() {
        // Built from their parts, so no literal token sits in src/.
        let header = b64(r#"{"alg":"HS256"}"#);
        let cases = [
            "not a jwt".to_string(),
            "a.b".to_string(),
            format!("{header}.not-base64!!.{}", b64("sig")),
            format!("{header}.{}.{}", b64(r#"{"iat":"x"}"#), b64("sig")),
        ];
        for t in &cases {
            let json = format!(r#"{{"token":"{t}","outcome":"accepted"}}"#);
            let e = err(&json);
            assert_eq!(e.kind, InvalidKind::BadToken, "{t}");
            assert!(!e.message.contains(t.as_str()), "{}", e.message);
        }
        let t = token(r#"{"iat":-3}"#);
        let e = err(&format!(r#"{{"token":"{t}","outcome":"accepted"}}"#));
        assert_eq!(e.kind, InvalidKind::BadToken);
    }

    /// Issue 13: a rejection is never dropped. A garbage token in a rejected event keeps the
    /// event (claims from the explicit fields alone) and marks the token unreadable; the same
    /// token in an accepted event is refused as `bad_token`.
    #[test]
    fn a_rejection_with_an_unreadable_token_is_kept() {
        let header = b64(r#"{"alg":"HS256"}"#);
        for t in [
            "abc.def".to_string(),
            "not a jwt".to_string(),
            format!("{header}.not-base64!!.{}", b64("sig")),
            format!("{header}.{}.{}", b64(r#"{"iat":"x"}"#), b64("sig")),
        ] {
            let json = format!(
                r#"{{"ts":1790000001,"iss":"idp","exp":1790000000,"token":"{t}","outcome":"rejected","reason":"jwt expired"}}"#
            );
            let e = ok(&json);
            assert!(e.token_unreadable, "{t}");
            assert_eq!(
                (e.outcome, e.reason, e.issuer.as_deref(), e.exp),
                (
                    Outcome::Rejected,
                    Some(Reason::Expired),
                    Some("idp"),
                    Some(1_790_000_000.0)
                ),
                "{t}"
            );
            let json = format!(r#"{{"token":"{t}","outcome":"rejected","reason":"malformed"}}"#);
            let e = ok(&json);
            assert_eq!((e.issuer, e.token_unreadable), (None, true), "{t}");
            let json = format!(r#"{{"token":"{t}","outcome":"accepted"}}"#);
            assert_eq!(err(&json).kind, InvalidKind::BadToken, "{t}");
        }
        // A readable token in a rejection is read as before, and not marked.
        let t = token(r#"{"iss":"https://idp","iat":1790000000}"#);
        let json =
            format!(r#"{{"token":"{t}","outcome":"rejected","reason":"invalid_signature"}}"#);
        let e = ok(&json);
        assert_eq!(
            (e.issuer.as_deref(), e.iat, e.token_unreadable),
            (Some("https://idp"), Some(1_790_000_000.0), false)
        );
    }

    #[test]
    fn error_messages_never_quote_input_strings() {
        let secret = "eyJzZWNyZXQiOiJ0b2tlbiJ9";
        for json in [
            format!(r#"{{"iat":"{secret}","outcome":"accepted"}}"#),
            format!(r#"{{"ts":"{secret}","outcome":"accepted"}}"#),
            format!(r#"{{"outcome":"{secret}"}}"#),
            format!(r#"{{"aud":[1,"{secret}"],"outcome":"accepted"}}"#),
        ] {
            let e = err(&json);
            assert!(!e.message.contains(secret), "{json}: {}", e.message);
        }
    }

    #[test]
    fn reasons_map_from_library_spellings() {
        let cases = [
            ("ExpiredSignatureError", Reason::Expired),
            ("ExpiredSignature", Reason::Expired),
            ("TokenExpiredError", Reason::Expired),
            ("token is expired", Reason::Expired),
            ("ERR_JWT_EXPIRED", Reason::Expired),
            ("SecurityTokenExpiredException", Reason::Expired),
            ("ImmatureSignatureError", Reason::NotYetValid),
            ("ImmatureSignature", Reason::NotYetValid),
            ("NotBeforeError", Reason::NotYetValid),
            ("SecurityTokenNotYetValidException", Reason::NotYetValid),
            ("token is not valid yet", Reason::NotYetValid),
            ("token used before issued", Reason::IssuedInFuture),
            ("InvalidIssuedAtError", Reason::IssuedInFuture),
            (
                "SecurityTokenInvalidSignatureException",
                Reason::InvalidSignature,
            ),
            (
                "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
                Reason::InvalidSignature,
            ),
            ("InvalidSignature", Reason::InvalidSignature),
            ("ERR_JWKS_NO_MATCHING_KEY", Reason::UnknownKey),
            (
                "SecurityTokenSignatureKeyNotFoundException",
                Reason::UnknownKey,
            ),
            ("InvalidAudience", Reason::InvalidAudience),
            ("InvalidIssuer", Reason::InvalidIssuer),
            ("InvalidAlgorithm", Reason::InvalidAlgorithm),
            ("MissingRequiredClaim", Reason::MissingClaim),
            ("BadJwtException", Reason::Malformed),
            ("token is malformed", Reason::Malformed),
            ("missing_token", Reason::MissingToken),
            ("revoked", Reason::Revoked),
            ("EXPIRED", Reason::Expired),
            ("Signature has expired", Reason::Expired),
            (
                "token has invalid claims: token is expired",
                Reason::Expired,
            ),
            ("the moon is in the wrong phase", Reason::Other),
            ("", Reason::Other),
        ];
        for (text, reason) in cases {
            assert_eq!(Reason::from_text(text), reason, "{text}");
        }
    }

    /// The real libraries' texts are in tests/library_errors.rs; these pin the phrases whose
    /// order matters.
    #[test]
    fn claim_specific_phrases_win_over_generic_words() {
        let cases = [
            // jose: one class and code for every claim, the message names it.
            (r#""nbf" claim timestamp check failed"#, Reason::NotYetValid),
            (
                r#"JWTClaimValidationFailed: "nbf" claim timestamp check failed"#,
                Reason::NotYetValid,
            ),
            (r#""exp" claim timestamp check failed"#, Reason::Expired),
            (
                r#"JWTClaimValidationFailed: "iat" claim timestamp check failed (it should be in the past)"#,
                Reason::IssuedInFuture,
            ),
            (
                r#"JWTExpired: "iat" claim timestamp check failed (too far in the past)"#,
                Reason::Expired,
            ),
            (r#"unexpected "iss" claim value"#, Reason::InvalidIssuer),
            (r#"unexpected "aud" claim value"#, Reason::InvalidAudience),
            (r#"missing required "iss" claim"#, Reason::MissingClaim),
            ("ERR_JWT_CLAIM_VALIDATION_FAILED", Reason::Other),
            // PyJWT raises the nbf class for iat; the message tells.
            (
                "ImmatureSignatureError: The token is not yet valid (iat)",
                Reason::IssuedInFuture,
            ),
            ("The token is not yet valid (nbf)", Reason::NotYetValid),
            (r#"Token is missing the "aud" claim"#, Reason::MissingClaim),
            // Algorithm before signature and key.
            ("signing method HS512 is invalid", Reason::InvalidAlgorithm),
            (
                "JWTError: The specified alg value is not allowed",
                Reason::InvalidAlgorithm,
            ),
            (
                r#"PyJWKClientError: Unable to find a signing key that matches: "k2""#,
                Reason::UnknownKey,
            ),
            // A family name says nothing; its message, or the name of a `Name: message`, does.
            ("JsonWebTokenError", Reason::Other),
            ("JsonWebTokenError: jwt malformed", Reason::Malformed),
            ("JWTError", Reason::Other),
            ("JWKSNoMatchingKey: something new", Reason::UnknownKey),
            ("Not enough segments", Reason::Malformed),
        ];
        for (text, reason) in cases {
            assert_eq!(Reason::from_text(text), reason, "{text}");
        }
        // Remembered, the answers are the same; after more distinct texts than the memo holds
        // (it starts again), too; a text longer than it keeps is still mapped.
        for (text, reason) in cases {
            assert_eq!(Reason::from_text(text), reason, "{text} (memo)");
        }
        for i in 0..MEMO_ENTRIES * 2 {
            assert_eq!(Reason::from_text(&format!("odd {i}")), Reason::Other);
        }
        for (text, reason) in cases {
            assert_eq!(Reason::from_text(text), reason, "{text} (memo emptied)");
        }
        let long = format!("token is expired: {}", "x".repeat(MEMO_TEXT_MAX));
        assert_eq!(Reason::from_text(&long), Reason::Expired);
        assert_eq!(Reason::from_text(&long), Reason::Expired);
        // Never kept: a text too long, or one that could be a token.
        let kept = |t: &str| REASON_MEMO.with_borrow(|m| m.contains_key(t));
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", "e".repeat(60));
        assert_eq!(Reason::from_text(&token), Reason::Other);
        assert!(!kept(&token) && !kept(&long));
        assert!(kept("signing method HS512 is invalid"));
        assert!(REASON_MEMO.with_borrow(HashMap::len) <= MEMO_ENTRIES);
    }

    #[test]
    fn reason_table_has_no_conflicting_spellings() {
        for (i, (a, ra)) in REASON_TABLE.iter().enumerate() {
            assert!(
                a.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{a} is not normalised"
            );
            for (b, rb) in &REASON_TABLE[i + 1..] {
                assert!(a != b || ra == rb, "{a} maps to both {ra:?} and {rb:?}");
            }
        }
    }

    #[test]
    fn reason_indices_match_all() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    /// JSON-ish fragments that reach the interesting branches more often than random bytes.
    fn jsonish() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "ts", "iat", "nbf", "exp", "iss", "aud", "source", "token", "outcome", "reason", "x",
            "received", "leeway", "kid",
        ]);
        let value = prop_oneof![
            any::<f64>().prop_map(|v| format!("{v:e}")),
            (0u64..3_000_000_000, 0u32..1024)
                .prop_map(|(s, f)| format!("{}", s as f64 + f64::from(f) / 1024.0)),
            Just("-0".to_string()),
            Just("-0.0".to_string()),
            (0u64..2000, 1u32..20).prop_map(|(d, k)| format!(
                "{}.{:0k$}",
                (1u64 << 52) - 1000 + d,
                d * 7919,
                k = k as usize
            )),
            (1u64..300_000_000_000, 0u64..u64::MAX).prop_map(|(s, f)| format!("{s}.{f}")),
            Just("1e400".to_string()),
            any::<i64>().prop_map(|v| v.to_string()),
            "[a-zA-Z0-9_.:+ -]{0,30}".prop_map(|s| format!("{s:?}")),
            Just("null".to_string()),
            Just("[\"a\",1]".to_string()),
            Just("{}".to_string()),
            Just("\"accepted\"".to_string()),
            Just("\"rejected\"".to_string()),
            Just("\"2026-01-01T00:00:00Z\"".to_string()),
        ];
        // Mostly compact, as verifiers write; sometimes JSON whitespace, or a control
        // character that is not whitespace.
        let ws = || {
            prop::sample::select(vec![
                "", "", "", "", "", " ", "\t", "\n", "\r\n", "  ", "\u{c}", "\u{0}",
            ])
        };
        let member = (key, ws(), ws(), value, ws());
        (prop::collection::vec(member, 0..8), ws(), ws()).prop_map(|(kv, first, last)| {
            let body: Vec<String> = kv
                .into_iter()
                .map(|(k, a, b, v, c)| format!("{a}{k:?}{b}:{c}{v}{b}"))
                .collect();
            format!("{first}{{{}}}{last}", body.join(","))
        })
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_event(&bytes, 1.0);
        }

        #[test]
        fn parsing_jsonish_objects_never_panics_and_valid_times_are_finite(s in jsonish()) {
            if let Ok(e) = parse_event(s.as_bytes(), 1.0) {
                prop_assert!(e.ts.is_finite());
                for t in [e.iat, e.nbf, e.exp, e.received, e.leeway].into_iter().flatten() {
                    prop_assert!(t.is_finite() && t >= 0.0);
                }
                prop_assert_eq!(e.reason.is_some(), e.outcome == Outcome::Rejected);
            }
        }

        #[test]
        fn the_fast_path_reads_exactly_like_serde(s in jsonish()) {
            let mut w = Wire::default();
            if wire_fast(s.as_bytes(), &mut w).is_some() {
                let slow = parse_event_serde(s.as_bytes(), 1.0);
                // Debug formatting tells every f64 apart, -0.0 from 0.0 included: the times
                // must be the same to the last bit.
                prop_assert_eq!(format!("{:?}", from_wire(w, 1.0)), format!("{:?}", slow), "{}", s);
            }
        }

        #[test]
        fn reason_mapping_never_panics(s in ".{0,200}") {
            let _ = Reason::from_text(&s);
        }

        #[test]
        fn token_reading_never_panics(s in "[A-Za-z0-9_.=-]{0,300}") {
            let json = format!(r#"{{"token":"{s}","outcome":"accepted"}}"#);
            let _ = parse_event(json.as_bytes(), 1.0);
        }
    }
}
