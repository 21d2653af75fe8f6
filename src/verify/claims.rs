//! A verified token's claims, read once, and the claim checks jsonwebtoken would make.
//!
//! jsonwebtoken's `decode` decodes the header twice more after the verifier has read it
//! (for its `kid`) and parses the claims JSON twice: into the caller's map and into its own
//! validation struct. In one RS256 verification that was 61 k of 357 k instructions (the
//! signature check is 296 k; cachegrind, benches/README.md), and more of the time on a cache
//! miss, where each token is new to the caches. So the verifier checks the
//! signature with `jsonwebtoken::crypto::verify` (the same installed provider) and reads the
//! claims here in one pass, keeping only the claims it was asked for and the ones the checks
//! read, then makes jsonwebtoken's checks for the options the verifier uses: required `exp`,
//! `nbf`, `sub`, `iss`, `aud`; `iss` in the allow-list; `aud` in the allow-list.
//!
//! The answers are jsonwebtoken's, including how its validation struct reads a payload
//! (`verify::claims::tests::one_reading_answers_as_jsonwebtoken_decode` compares both over
//! generated payloads):
//! - the payload must be a JSON object that serde_json can read whole into a map (a number
//!   out of `f64`'s range such as `1e400` makes it unreadable);
//! - `exp`, `nbf`, `sub`, `iss` and `aud` at most once each (serde's `duplicate field`); any
//!   other claim may repeat and the last one counts (as in a map);
//! - `exp`, `nbf`: a non-negative integer, or a finite non-negative number below 2^64 rounded
//!   to the second ([`whole_seconds`]); anything else (`null` too) present but unreadable,
//!   except a non-empty array or object, which leaves serde_json mid-value and the whole
//!   payload unreadable;
//! - `sub`: a string; `null` as if absent; a number or boolean unreadable; any array or object
//!   makes the payload unreadable (serde_json refuses it without reading past it);
//! - `iss`, `aud`: a string or an array of strings; `null` as if absent; anything else
//!   unreadable.
//!
//! A required claim must be readable. The required claims are checked in the policy's
//! order, where jsonwebtoken keeps them in a `HashSet`: with two required claims wrong, the
//! one it named varied from run to run (and with it `missing_claim` or `malformed`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::event::MAX_TIME;

/// The claims jsonwebtoken's validation reads, in the order of `Claims::spec`.
pub(super) const SPEC_CLAIMS: [&str; 5] = ["exp", "nbf", "sub", "iss", "aud"];

/// What to keep of a payload besides what the checks read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading<'a> {
    /// Claims whose presence is required beyond jsonwebtoken's (`iat`, `jti`, custom).
    pub extra_required: &'a [String],
    /// The claims to keep as values; `None`: all of them.
    pub kept: Option<&'a [String]>,
}

/// A string claim or an array of strings (`iss`, `aud`).
#[derive(Debug, Clone, PartialEq)]
enum Strings {
    One(String),
    Many(Vec<String>),
}

/// How jsonwebtoken's validation struct read one of its claims: absent, `null` and
/// unreadable are all not read (its checks tell them apart only by `seen`).
#[derive(Debug, Clone, PartialEq, Default)]
enum Spec {
    #[default]
    NotRead,
    Read(Option<Strings>),
}

/// The claims of a payload, read once.
#[derive(Debug, Clone, Default)]
pub(super) struct Claims {
    /// `exp` and `nbf` in whole seconds: `None` absent, `Some(None)` present but unreadable.
    pub exp: Option<Option<u64>>,
    pub nbf: Option<Option<u64>>,
    /// `iat` as a NumericDate in range: `None` absent, `Some(None)` present but not one.
    pub iat: Option<Option<f64>>,
    /// `exp` and `nbf` as NumericDates in range, for the event.
    pub exp_date: Option<f64>,
    pub nbf_date: Option<f64>,
    /// [`SPEC_CLAIMS`] as jsonwebtoken read them, and whether each key was there at all.
    spec: [Spec; 5],
    seen: [bool; 5],
    /// Whether each of [`Reading::extra_required`] is present.
    extra_present: Vec<bool>,
    /// The kept claims.
    pub kept: Map<String, Value>,
}

/// Why jsonwebtoken's checks refuse a payload whose signature is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The named required claim is absent or unreadable.
    MissingRequired(&'static str),
    InvalidIssuer,
    InvalidAudience,
}

/// The checks the verifier asks of jsonwebtoken.
#[derive(Debug, Clone, Default)]
pub(super) struct Rules {
    /// Indices into [`SPEC_CLAIMS`], in the policy's order.
    pub required: Vec<usize>,
    pub issuers: Option<HashSet<String>>,
    pub audiences: Option<HashSet<String>>,
}

impl Claims {
    /// Reads a payload (the JSON, base64url-decoded); `None`: unreadable (`malformed`).
    pub fn read(json: &[u8], reading: Reading<'_>) -> Option<Claims> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let claims = ClaimsSeed(reading).deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(claims)
    }

    /// Whether one of [`SPEC_CLAIMS`] is present (any value, `null` too).
    pub fn seen(&self, spec_claim: &str) -> bool {
        SPEC_CLAIMS
            .iter()
            .position(|c| *c == spec_claim)
            .is_some_and(|i| self.seen[i])
    }

    /// `iss` when it is a string.
    pub fn issuer(&self) -> Option<&str> {
        match &self.spec[3] {
            Spec::Read(Some(Strings::One(iss))) => Some(iss),
            _ => None,
        }
    }

    /// Whether every [`Reading::extra_required`] claim is present.
    pub fn extra_required_present(&self) -> bool {
        self.extra_present.iter().all(|p| *p)
    }

    /// jsonwebtoken's checks, in its order: required claims, then `iss`, then `aud`.
    pub fn check(&self, rules: &Rules) -> Result<(), Refusal> {
        if let Some(&i) = rules
            .required
            .iter()
            .find(|&&i| !matches!(self.spec[i], Spec::Read(_)))
        {
            return Err(Refusal::MissingRequired(SPEC_CLAIMS[i]));
        }
        let outside = |allowed: &HashSet<String>, given: &Spec| match given {
            Spec::Read(Some(Strings::One(s))) => !allowed.contains(s),
            Spec::Read(Some(Strings::Many(v))) => !v.iter().any(|s| allowed.contains(s)),
            _ => false,
        };
        if let Some(iss) = &rules.issuers {
            if outside(iss, &self.spec[3]) {
                return Err(Refusal::InvalidIssuer);
            }
        }
        if let Some(aud) = &rules.audiences {
            if outside(aud, &self.spec[4]) {
                return Err(Refusal::InvalidAudience);
            }
        }
        Ok(())
    }

    /// Takes one claim's value, and keeps it when `keep`; `Err`: the payload is unreadable as
    /// jsonwebtoken reads it.
    fn take(&mut self, name: &str, value: Value, keep: bool) -> Result<(), ()> {
        if let Some(i) = SPEC_CLAIMS.iter().position(|c| *c == name) {
            if std::mem::replace(&mut self.seen[i], true) {
                return Err(()); // serde's `duplicate field`
            }
            let nonempty = match &value {
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => false,
            };
            self.spec[i] = match i {
                0 | 1 => {
                    if nonempty {
                        return Err(());
                    }
                    let secs = whole_seconds(&value);
                    let date = numeric_date(&value);
                    if i == 0 {
                        (self.exp, self.exp_date) = (Some(secs), date);
                    } else {
                        (self.nbf, self.nbf_date) = (Some(secs), date);
                    }
                    secs.map_or(Spec::NotRead, |_| Spec::Read(None))
                }
                2 => match &value {
                    Value::String(_) => Spec::Read(None),
                    Value::Array(_) | Value::Object(_) => return Err(()),
                    _ => Spec::NotRead,
                },
                _ => strings(&value),
            };
        } else if name == "iat" {
            self.iat = Some(numeric_date(&value));
        }
        if keep {
            self.kept.insert(name.to_owned(), value);
        }
        Ok(())
    }
}

/// `iss` or `aud` as jsonwebtoken reads it.
fn strings(value: &Value) -> Spec {
    match value {
        Value::String(s) => Spec::Read(Some(Strings::One(s.clone()))),
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map_or(Spec::NotRead, |v| Spec::Read(Some(Strings::Many(v)))),
        _ => Spec::NotRead,
    }
}

/// A NumericDate in range (as `event` accepts them), or `None`.
pub(super) fn numeric_date(v: &Value) -> Option<f64> {
    v.as_f64()
        .filter(|t| t.is_finite() && (0.0..=MAX_TIME).contains(t))
}

/// A NumericDate as jsonwebtoken reads `exp` and `nbf`: a non-negative integer, or a finite
/// non-negative number below 2^64 rounded to the nearest second; `None` for anything else
/// (a string, a negative number, `null`).
pub(super) fn whole_seconds(v: &Value) -> Option<u64> {
    let Value::Number(n) = v else { return None };
    if let Some(u) = n.as_u64() {
        return Some(u);
    }
    n.as_f64()
        .filter(|f| n.is_f64() && f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
        .map(|f| f.round() as u64)
}

struct ClaimsSeed<'a>(Reading<'a>);

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Claims, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
        let reading = self.0;
        let mut claims = Claims {
            extra_present: vec![false; reading.extra_required.len()],
            ..Claims::default()
        };
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            let keep = reading.kept.is_none_or(|k| k.iter().any(|c| *c == *name));
            // The checks' claims and the kept ones as values; the others only checked.
            if keep || name == "iat" || SPEC_CLAIMS.contains(&&*name) {
                let value: Value = map.next_value()?;
                claims
                    .take(&name, value, keep)
                    .map_err(|()| de::Error::custom("unreadable claims"))?;
            } else {
                map.next_value_seed(Check)?;
            }
            if let Some(i) = reading.extra_required.iter().position(|c| *c == *name) {
                claims.extra_present[i] = true;
            }
        }
        Ok(claims)
    }
}

/// A claim name, borrowed from the payload when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Reads a value without keeping it, refusing what `serde_json::Value` refuses (a number out
/// of range): `IgnoredAny` only checks the syntax.
struct Check;

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(Check)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Check)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Check)?.is_some() {
            map.next_value_seed(Check)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::errors::ErrorKind;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
    use proptest::prelude::*;

    use super::*;

    const SECRET: &[u8] = b"a secret of thirty-two bytes....";

    /// A signed HS256 token around `payload` (any bytes, valid JSON or not).
    fn token(payload: &str) -> String {
        use base64::Engine as _;
        // Ours, not the feature default, for every test of this process that verifies after.
        crate::verify::crypto::install();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let message = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(payload.as_bytes()));
        let key = EncodingKey::from_secret(SECRET);
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256)
            .expect("HMAC signs anything");
        format!("{message}.{signature}")
    }

    /// The `Validation` the verifier gave jsonwebtoken's `decode` before it read the claims
    /// itself: times off (checked against the verifier's clock), required claims, lists.
    fn validation(rules: &Rules) -> Validation {
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.reject_tokens_expiring_in_less_than = 0;
        let required: Vec<&str> = rules.required.iter().map(|&i| SPEC_CLAIMS[i]).collect();
        v.set_required_spec_claims(&required);
        v.sub = None;
        v.iss = rules.issuers.clone();
        match &rules.audiences {
            Some(aud) => {
                v.aud = Some(aud.clone());
                v.validate_aud = true;
            }
            None => {
                v.aud = None;
                v.validate_aud = false;
            }
        }
        v
    }

    /// One payload, both ways: what `decode` answers, what one reading answers, and that
    /// every value the verifier takes from a reading is what it took from the claims map.
    fn compare(payload: &str, rules: &Rules, reading: Reading<'_>) {
        let decoded = jsonwebtoken::decode::<Map<String, Value>>(
            token(payload),
            &DecodingKey::from_secret(SECRET),
            &validation(rules),
        );
        let read = Claims::read(payload.as_bytes(), reading);
        let checked = read.as_ref().map(|c| c.check(rules));
        let unreadable: Vec<&str> = rules
            .required
            .iter()
            .map(|&i| SPEC_CLAIMS[i])
            .filter(|c| {
                read.as_ref()
                    .is_some_and(|r| !matches!(r.spec[spec(c)], Spec::Read(_)))
            })
            .collect();
        match (&decoded, &checked) {
            (Ok(_), Some(Ok(()))) => {}
            (Err(e), None) => assert!(
                matches!(e.kind(), ErrorKind::Json(_)),
                "{payload}: {:?}",
                e.kind()
            ),
            (Err(e), Some(Err(r))) => match (e.kind(), r) {
                (ErrorKind::InvalidIssuer, Refusal::InvalidIssuer)
                | (ErrorKind::InvalidAudience, Refusal::InvalidAudience) => {}
                // jsonwebtoken's required claims are a HashSet: with two wrong, it names
                // either; a reading names the first in the policy's order.
                (ErrorKind::MissingRequiredClaim(a), Refusal::MissingRequired(b)) => {
                    assert!(unreadable.contains(&a.as_str()), "{payload}: {a}");
                    assert_eq!(unreadable.first(), Some(b), "{payload}");
                }
                (k, r) => panic!("{payload}: decode {k:?}, one reading {r:?}"),
            },
            (d, c) => panic!("{payload}: decode {d:?}, one reading {c:?}"),
        }
        let Some(read) = read else { return };
        // What the verifier read from the map (`read_claims`, `times`, `time_checks`, …).
        let map: Map<String, Value> =
            serde_json::from_str(payload).expect("a payload one reading reads is a map");
        assert_eq!(read.exp, map.get("exp").map(whole_seconds), "{payload}");
        assert_eq!(read.nbf, map.get("nbf").map(whole_seconds), "{payload}");
        assert_eq!(read.iat, map.get("iat").map(numeric_date), "{payload}");
        assert_eq!(read.exp_date, map.get("exp").and_then(numeric_date));
        assert_eq!(read.nbf_date, map.get("nbf").and_then(numeric_date));
        let iss = map.get("iss").and_then(Value::as_str);
        assert_eq!(read.issuer(), iss, "{payload}");
        for c in SPEC_CLAIMS {
            assert_eq!(read.seen(c), map.contains_key(c), "{payload}: {c}");
        }
        let extra = reading.extra_required.iter().all(|c| map.contains_key(c));
        assert_eq!(read.extra_required_present(), extra, "{payload}");
        let kept: Map<String, Value> = match reading.kept {
            None => map,
            Some(k) => map.into_iter().filter(|(c, _)| k.contains(c)).collect(),
        };
        assert_eq!(read.kept, kept, "{payload}");
    }

    fn spec(c: &str) -> usize {
        SPEC_CLAIMS
            .iter()
            .position(|s| *s == c)
            .expect("a spec claim")
    }

    fn rules(required: &[&str], issuers: bool, audiences: bool) -> Rules {
        let list = |on: bool, v: &str| on.then(|| HashSet::from([v.to_owned()]));
        Rules {
            required: required.iter().map(|c| spec(c)).collect(),
            issuers: list(issuers, "https://idp.example"),
            audiences: list(audiences, "api"),
        }
    }

    /// The cases the module's documentation lists, each against `decode`.
    #[test]
    fn the_documented_readings() {
        let extra = ["jti".to_owned()];
        let readings = [
            Reading {
                extra_required: &[],
                kept: None,
            },
            Reading {
                extra_required: &extra,
                kept: Some(&[]),
            },
        ];
        let strict = rules(&["exp", "nbf", "sub", "iss", "aud"], true, true);
        let payloads = [
            r#"{"exp": 1, "nbf": 0, "sub": "a", "iss": "https://idp.example", "aud": "api"}"#,
            r#"{"exp": 1.5, "nbf": -0.0, "sub": "a", "iss": ["x", "https://idp.example"], "aud": ["api"]}"#,
            r#"{"exp": 1, "exp": 2}"#,
            r#"{"e\u0078p": 1, "exp": 2}"#,
            r#"{"sub": "a", "sub": "a"}"#,
            r#"{"jti": "a", "jti": "b", "iat": 1, "iat": "x"}"#,
            r#"{"exp": 1e400}"#,
            r#"{"x": [1, {"y": -1e400}]}"#,
            r#"{"exp": [1]}"#,
            r#"{"exp": []}"#,
            r#"{"nbf": {"a": 1}}"#,
            r#"{"nbf": {}}"#,
            r#"{"exp": null, "nbf": "1", "sub": null, "iss": null, "aud": null}"#,
            r#"{"sub": 5}"#,
            r#"{"sub": []}"#,
            r#"{"sub": {}}"#,
            r#"{"iss": 5, "aud": [1]}"#,
            r#"{"iss": [], "aud": []}"#,
            r#"{"exp": 18446744073709551615, "nbf": 18446744073709551616}"#,
            r#"{"exp": -1, "nbf": 1e19}"#,
            r#"[]"#,
            r#"5"#,
            r#""#,
            r#"{} {}"#,
            r#"{"a": "\ud800"}"#,
        ];
        for p in payloads {
            for r in [
                rules(&[], false, false),
                rules(&["exp"], true, false),
                strict.clone(),
            ] {
                for reading in readings {
                    compare(p, &r, reading);
                }
            }
        }
    }

    fn value() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "0",
            "1700000000",
            "-5",
            "-0",
            "1.5",
            "1e3",
            "1e400",
            "18446744073709551615",
            "18446744073709551616",
            "\"a\"",
            "\"https://idp.example\"",
            "\"api\"",
            "\"\\u00e9\"",
            "null",
            "true",
            "[]",
            "[1]",
            "[\"api\"]",
            "[\"api\", \"x\"]",
            "[\"x\"]",
            "[null]",
            "{}",
            "{\"a\": 1}",
            "[[]]",
            "{\"k\": [1, {\"z\": 1e400}]}",
        ])
    }

    fn name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "exp",
            "nbf",
            "sub",
            "iss",
            "aud",
            "iat",
            "jti",
            "email",
            "groups",
            "e\\u0078p",
            "x",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Generated payloads (claims repeated, of every JSON type, numbers out of range,
        /// escaped names) under generated rules: one reading answers as `decode` does, and
        /// reads what the verifier read from the claims map.
        #[test]
        fn one_reading_answers_as_jsonwebtoken_decode(
            // Half of them start from claims every check accepts, so that one change decides.
            good in any::<bool>(),
            claims in prop::collection::vec((name(), value()), 0..8),
            required in prop::sample::subsequence(SPEC_CLAIMS.to_vec(), 0..=5).prop_shuffle(),
            issuers in any::<bool>(),
            audiences in any::<bool>(),
            extra in prop::sample::subsequence(vec!["iat", "jti", "email"], 0..=3),
            kept in prop::option::of(prop::sample::subsequence(vec!["sub", "email", "groups", "exp", "x"], 0..=5)),
        ) {
            let base = [
                ("exp", "1700000000"),
                ("nbf", "0"),
                ("sub", "\"a\""),
                ("iss", "\"https://idp.example\""),
                ("aud", "[\"api\", \"x\"]"),
                ("iat", "1.5"),
            ];
            let good = if good { &base[..] } else { &[] };
            // A claim of the base given again is a duplicate: replace it instead, mostly.
            let (again, other): (Vec<_>, Vec<_>) =
                claims.iter().partition(|(k, _)| good.iter().any(|(b, _)| b == k));
            let body: Vec<String> = good
                .iter()
                .map(|(k, v)| {
                    let v = again.iter().find(|(a, _)| a == k).map_or(*v, |(_, v)| *v);
                    format!("\"{k}\": {v}")
                })
                .chain(other.iter().map(|(k, v)| format!("\"{k}\": {v}")))
                .collect();
            let payload = format!("{{{}}}", body.join(", "));
            let extra: Vec<String> = extra.into_iter().map(str::to_owned).collect();
            let kept: Option<Vec<String>> = kept.map(|k| k.into_iter().map(str::to_owned).collect());
            let reading = Reading { extra_required: &extra, kept: kept.as_deref() };
            compare(&payload, &rules(&required, issuers, audiences), reading);
        }
    }
}
