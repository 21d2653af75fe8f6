//! `/v1/verify`: the exporter as the token check a gateway calls (nginx `auth_request`, Envoy
//! `ext_authz`). It verifies the bearer token, answers allow or deny, and records the
//! verification as an event (`transport="verify"`), so skew and 401 reasons show up in the
//! same metrics as pushed events, with no change to the services behind the gateway.
//!
//! # Layout
//! - this file: the pure decision. [`Verifier::verify`] takes a token, the current
//!   [`keys::KeySet`] and the clock, and returns a [`Verdict`] (allow, or the reason, plus the
//!   token's times for the event). No I/O; tested with tokens signed in the tests.
//! - [`keys`]: key material → keys (PEM, HMAC secret, JWKS), refusing keys RFC 7517/7518 forbid
//!   or that could never verify; the key set and its atomic swap.
//! - [`refresh`]: the tasks that keep the keys current: key files watched with `notify` (plus a
//!   poll), and the JWKS URL fetched on an interval and, rate-limited, on an unknown `kid`.
//! - [`config`]: the `[verify]` table and `--verify.*` flags, validated into [`VerifySettings`].
//! - [`http`]: the handler: `Authorization: Bearer`, the answer, the event.
//!
//! # The order of the checks
//! Shape and size → header (`alg` must be a known algorithm: `none` never is) → `alg` in the
//! allow-list → key by `kid` (keys without a `kid` answer to any; a `kid` no key has:
//! `unknown_key`; the named key, or without `kid` every key, of another type:
//! `invalid_algorithm`) → signature (`jsonwebtoken::crypto::verify`) → (jsonwebtoken's rules,
//! `claims`:) required `exp`/`nbf`/`iss`/`aud`/`sub` → `exp`, `nbf` → other required claims
//! → `iat` → `iss` → `aud`. The signature comes before
//! every claim, so a forged token is `invalid_signature` whatever its times say; times come
//! before issuer and audience, as most libraries order them. jsonwebtoken never reads `iat`:
//! `iat` further in the future than the leeway is ours, `issued_in_future`.
//!
//! Every time check uses the `now` given to [`Verifier::verify`] (the clock the event's `ts`
//! comes from), so one request is judged by one clock and tests pass a fixed one.
//! jsonwebtoken's own `exp`/`nbf` validation reads the system clock
//! (`jsonwebtoken::get_current_timestamp`), so it is off, and [`Verifier`] checks `exp` and
//! `nbf` itself with jsonwebtoken's semantics: whole seconds (the claims rounded, `now`
//! truncated), expired when `exp < now − leeway`, not yet valid when `nbf > now + leeway`, and
//! a present claim that is not such a number `malformed`.
//!
//! Tokens are credentials: nothing here logs, stores or returns one, and no message contains
//! a part of one.

pub mod cache;
mod claims;
pub mod config;
pub mod crypto;
pub mod http;
pub mod keys;
pub mod refresh;

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

pub use config::VerifySettings;

use crate::event::{Event, Outcome, Reason};
use cache::{Entry, TokenCache, TokenHash};
use claims::{numeric_date, Claims, Reading, Refusal, Rules, SPEC_CLAIMS};
use keys::{KeySet, Selection};

/// Longer tokens are `malformed` without being decoded.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What a token must satisfy (from `[verify]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Accepted algorithms; never empty, never `none` (jsonwebtoken has no such algorithm).
    pub algorithms: Vec<Algorithm>,
    /// Accepted `iss` values (and then `iss` is required); `None`: any.
    pub issuers: Option<Vec<String>>,
    /// Accepted `aud` values (and then `aud` is required); `None`: `aud` is not checked.
    pub audiences: Option<Vec<String>>,
    /// Claims that must be present; always includes `exp`.
    pub required_claims: Vec<String>,
    /// Tolerance for `exp`, `nbf` and `iat`, whole seconds (at most 30).
    pub leeway: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            algorithms: ALL_ALGORITHMS.to_vec(),
            issuers: None,
            audiences: None,
            required_claims: vec!["exp".into()],
            leeway: 5,
        }
    }
}

/// Every algorithm jsonwebtoken implements.
pub const ALL_ALGORITHMS: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The times and issuer of a token, read for the event (verified or not).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenTimes {
    /// The issuer label to record: `iss` when it is a string, `other` when an `issuers`
    /// allow-list is configured and does not hold it (forged tokens cannot create series).
    /// Shared: a cache hit's verdict copies it from the entry.
    pub issuer: Option<Arc<str>>,
    pub iat: Option<f64>,
    pub nbf: Option<f64>,
    pub exp: Option<f64>,
}

/// The answer for one token.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `None`: allow. Otherwise why the token is refused.
    pub reason: Option<Reason>,
    pub times: TokenTimes,
    /// The verified claims, only when allowed (for the claim → header mapping): only those
    /// named by [`Verifier::keeping_claims`] when it was called, else all of them.
    pub claims: Option<Arc<Map<String, Value>>>,
    /// The token named a `kid` no loaded key has (or no key is loaded): worth a JWKS refetch.
    pub unknown_kid: bool,
    /// The token header's `kid` when the verifier already read the header (every token whose
    /// header jsonwebtoken reads, and a cache hit: `Some(None)` for a header without one);
    /// `None`: not known here.
    pub header_kid: Option<Option<Arc<str>>>,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        self.reason.is_none()
    }

    fn reject(reason: Reason, times: TokenTimes) -> Self {
        Verdict {
            reason: Some(reason),
            times,
            claims: None,
            unknown_kid: false,
            header_kid: None,
        }
    }

    /// No bearer token in the request.
    pub fn missing_token() -> Self {
        Verdict::reject(Reason::MissingToken, TokenTimes::default())
    }

    /// The verification as an event, seen at `ts` by verifier `source`.
    pub fn event<'a>(&'a self, ts: f64, source: &'a str) -> Event<'a> {
        Event {
            ts,
            source: Some(source.into()),
            issuer: self.times.issuer.as_deref().map(Into::into),
            iat: self.times.iat,
            nbf: self.times.nbf,
            exp: self.times.exp,
            outcome: if self.allowed() {
                Outcome::Accepted
            } else {
                Outcome::Rejected
            },
            reason: self.reason,
            // /v1/verify reads its tokens itself: a garbage one is its `malformed` verdict.
            token_unreadable: false,
            received: None,
            leeway: None,
            kid: None,
        }
    }
}

/// Maps a jsonwebtoken error onto the reason set. `ErrorKind` is non-exhaustive: new kinds
/// land in `other` until they are mapped here.
pub fn reason_for(kind: &ErrorKind) -> Reason {
    match kind {
        ErrorKind::ExpiredSignature => Reason::Expired,
        ErrorKind::ImmatureSignature => Reason::NotYetValid,
        ErrorKind::InvalidSignature => Reason::InvalidSignature,
        ErrorKind::InvalidIssuer => Reason::InvalidIssuer,
        ErrorKind::InvalidAudience => Reason::InvalidAudience,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm => Reason::InvalidAlgorithm,
        ErrorKind::MissingRequiredClaim(_) => Reason::MissingClaim,
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_)
        | ErrorKind::InvalidClaimFormat(_) => Reason::Malformed,
        // A configured key jsonwebtoken cannot use: as docs/events.md maps these spellings.
        ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey => Reason::UnknownKey,
        _ => Reason::Other,
    }
}

/// The verifier: a policy, the claim checks it asks of jsonwebtoken's rules (`claims`),
/// and optionally the verified-token cache ([`cache`]; its answers are the same as without
/// it, by test).
#[derive(Debug)]
pub struct Verifier {
    policy: Policy,
    /// Required `exp`/`nbf`/`sub`/`iss`/`aud`, and the `iss` and `aud` allow-lists.
    rules: Rules,
    /// Other required claims (`iat`, `jti`, custom ones): present, whatever their value.
    extra_required: Vec<String>,
    cache: Option<TokenCache>,
    /// The claims an allowed token's verdict and cache entry keep; `None`: all of them.
    kept_claims: Option<Box<[String]>>,
}

impl Verifier {
    /// The leeway it applies to `exp`, `nbf` and `iat`, in seconds.
    pub fn leeway(&self) -> f64 {
        self.policy.leeway as f64
    }

    pub fn new(policy: Policy) -> Self {
        crypto::install();
        let spec = |c: &str| SPEC_CLAIMS.iter().position(|s| *s == c);
        let mut required: Vec<usize> = policy
            .required_claims
            .iter()
            .filter_map(|c| spec(c))
            .collect();
        // jsonwebtoken's rules check `iss` and `aud` against their lists only when present:
        // with a list, a token without the claim must not slip through.
        for (list, claim) in [
            (policy.issuers.is_some(), "iss"),
            (policy.audiences.is_some(), "aud"),
        ] {
            if let (true, Some(i)) = (list, spec(claim)) {
                required.push(i);
            }
        }
        let mut seen = HashSet::new();
        required.retain(|i| seen.insert(*i));
        let extra_required = policy
            .required_claims
            .iter()
            .filter(|c| spec(c).is_none())
            .cloned()
            .collect();
        let set = |l: &Option<Vec<String>>| l.as_ref().map(|l| l.iter().cloned().collect());
        Verifier {
            rules: Rules {
                required,
                issuers: set(&policy.issuers),
                audiences: set(&policy.audiences),
            },
            policy,
            extra_required,
            cache: None,
            kept_claims: None,
        }
    }

    /// The same verifier, remembering the tokens it allows in `cache` (`None`: no cache).
    pub fn with_cache(mut self, cache: Option<TokenCache>) -> Self {
        self.cache = cache;
        self
    }

    /// The same verifier, keeping only `claims` of an allowed token (those the claim headers
    /// read) in its verdict and cache entry: a smaller entry, quicker to read on a hit and to
    /// drop when evicted, and fewer values built on a miss, than the token's whole claims.
    pub fn keeping_claims(mut self, claims: impl IntoIterator<Item = String>) -> Self {
        self.kept_claims = Some(claims.into_iter().collect());
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn cache(&self) -> Option<&TokenCache> {
        self.cache.as_ref()
    }

    /// Verifies `token` with `keys`; `now` is the verifier's clock (Unix seconds).
    pub fn verify(&self, token: &str, keys: &KeySet, now: f64) -> Verdict {
        // memchr's count: a byte filter over an ~800-byte token was ~2 000 instructions, a
        // tenth of a cache hit's own work.
        if token.len() > MAX_TOKEN_LEN || memchr::memchr_iter(b'.', token.as_bytes()).count() != 2 {
            return Verdict::reject(Reason::Malformed, TokenTimes::default());
        }
        let Some(cache) = &self.cache else {
            return self.verify_signed(token, keys, now, None);
        };
        let hash = cache::token_hash(token);
        match cache.lookup(&hash, keys.generation()) {
            Some(entry) => self.hit(cache, &hash, &entry, now),
            None => self.verify_signed(token, keys, now, Some((cache, hash))),
        }
    }

    /// A token the cache holds: its signature was verified under this key set and its claims
    /// passed this verifier's policy (required claims, `iss`, `aud`): both are fixed for the
    /// entry's life, since a reload builds a new verifier with a new cache. What depends on
    /// `now` is checked again, in a full verification's order: `exp`, `nbf`, then `iat`.
    /// Expired, it leaves the cache.
    fn hit(&self, cache: &TokenCache, hash: &TokenHash, entry: &Entry, now: f64) -> Verdict {
        let leeway = self.policy.leeway;
        let reason = entry
            .time
            .exp_nbf(now, leeway)
            .or_else(|| entry.time.iat(now, leeway));
        if reason == Some(Reason::Expired) {
            cache.remove(hash);
        }
        Verdict {
            reason,
            times: entry.times.clone(),
            claims: reason.is_none().then(|| entry.claims.clone()),
            unknown_kid: false,
            header_kid: Some(entry.kid.clone()),
        }
    }

    /// The verification past the cache: header, key, signature, claims. An allowed token is
    /// remembered in `cache` under `hash`.
    fn verify_signed(
        &self,
        token: &str,
        keys: &KeySet,
        now: f64,
        cache: Option<(&TokenCache, TokenHash)>,
    ) -> Verdict {
        let header = match jsonwebtoken::decode_header(token) {
            Ok(h) => h,
            Err(_) => return self.refuse(header_problem(token), token),
        };
        let kid: Option<Arc<str>> = header.kid.as_deref().map(Arc::from);
        let mut verdict = self.verify_header(token, (&header, &kid), keys, now, cache);
        // The `kid` label needs it: no other reading of the header.
        verdict.header_kid = Some(kid);
        verdict
    }

    /// [`Self::verify_signed`] after the header.
    fn verify_header(
        &self,
        token: &str,
        (header, kid): (&jsonwebtoken::Header, &Option<Arc<str>>),
        keys: &KeySet,
        now: f64,
        cache: Option<(&TokenCache, TokenHash)>,
    ) -> Verdict {
        if !self.policy.algorithms.contains(&header.alg) {
            return self.refuse(Reason::InvalidAlgorithm, token);
        }
        let candidates = match keys.select(header.kid.as_deref(), header.alg) {
            Selection::Keys(k) => k,
            Selection::UnknownKid | Selection::NoKeys => {
                let mut v = self.refuse(Reason::UnknownKey, token);
                v.unknown_kid = true;
                return v;
            }
            Selection::WrongAlgorithm => return self.refuse(Reason::InvalidAlgorithm, token),
        };
        // Two dots, counted by `verify`.
        let Some((message, signature)) = token.rsplit_once('.') else {
            return self.refuse(Reason::Malformed, token);
        };
        // Each fitting key until one verifies the signature (`decode` without its second and
        // third reading of the header); an unusable key sets the reason unless a key already
        // did, and the next is tried.
        let mut reason = Reason::InvalidSignature;
        for key in candidates {
            match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.key, header.alg)
            {
                Ok(true) => {
                    let (verdict, time) = self.signed(token, message, now);
                    if let (Some((cache, hash)), Some(time)) = (cache, time) {
                        let kid = kid.clone();
                        self.remember((cache, hash), (keys, key, kid), time, &verdict, now);
                    }
                    return verdict;
                }
                Ok(false) => {}
                Err(e) => match e.kind() {
                    k @ (ErrorKind::InvalidKeyFormat
                    | ErrorKind::InvalidRsaKey(_)
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidEddsaKey) => {
                        if reason == Reason::InvalidSignature {
                            reason = reason_for(k);
                        }
                    }
                    // The signature is not base64url: no key can verify it.
                    k => return self.refuse(reason_for(k), token),
                },
            }
        }
        self.refuse(reason, token)
    }

    /// After a good signature: the claims read once, jsonwebtoken's checks (`claims`), the
    /// time checks, ours. With the verdict, an allowed token's time claims (for the cache).
    fn signed(&self, token: &str, message: &str, now: f64) -> (Verdict, Option<TimeClaims>) {
        let payload = message.split_once('.').map_or("", |(_, p)| p);
        let reading = Reading {
            extra_required: &self.extra_required,
            kept: self.kept_claims.as_deref(),
        };
        let Some(claims) = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| Claims::read(&json, reading))
        else {
            return (self.refuse(Reason::Malformed, token), None);
        };
        let times = self.claims_times(&claims);
        let later = || {
            self.time_checks(&claims, now)
                .or_else(|| self.own_checks(&claims, now))
        };
        let reason = match claims.check(&self.rules) {
            // jsonwebtoken calls a claim of the wrong type (`"exp": "soon"`) missing; present
            // but unreadable is malformed.
            Err(Refusal::MissingRequired(c)) if claims.seen(c) => Some(Reason::Malformed),
            Err(Refusal::MissingRequired(_)) => Some(Reason::MissingClaim),
            // The time and other claim checks come before issuer and audience.
            Err(Refusal::InvalidIssuer) => Some(later().unwrap_or(Reason::InvalidIssuer)),
            Err(Refusal::InvalidAudience) => Some(later().unwrap_or(Reason::InvalidAudience)),
            Ok(()) => later(),
        };
        match reason {
            Some(r) => (Verdict::reject(r, times), None),
            None => {
                // Allowed, so every present time claim is well-formed.
                let time = TimeClaims::of(&claims);
                let verdict = Verdict {
                    reason: None,
                    times,
                    claims: Some(Arc::new(claims.kept)),
                    unknown_kid: false,
                    header_kid: None,
                };
                (verdict, Some(time))
            }
        }
    }

    /// Puts an allowed token in the cache, until its `exp` + leeway.
    fn remember(
        &self,
        (cache, hash): (&TokenCache, TokenHash),
        (keys, key, kid): (&KeySet, &Arc<keys::Key>, Option<Arc<str>>),
        time: TimeClaims,
        verdict: &Verdict,
        now: f64,
    ) {
        let entry = Entry::new(
            keys.generation(),
            Arc::clone(key),
            kid,
            verdict.claims.clone().unwrap_or_default(),
            verdict.times.clone(),
            (time, self.policy.leeway),
        );
        cache.insert(hash, entry, now);
    }

    /// `exp` and `nbf` against `now`, exactly as jsonwebtoken checks them against the system
    /// clock: both claims' format first, then `exp`, then `nbf`, in whole seconds.
    fn time_checks(&self, claims: &Claims, now: f64) -> Option<Reason> {
        if claims.exp == Some(None) || claims.nbf == Some(None) {
            return Some(Reason::Malformed); // jsonwebtoken's InvalidClaimFormat
        }
        TimeClaims::of(claims).exp_nbf(now, self.policy.leeway)
    }

    /// The checks jsonwebtoken does not do: other required claims, then `iat`.
    fn own_checks(&self, claims: &Claims, now: f64) -> Option<Reason> {
        if !claims.extra_required_present() {
            return Some(Reason::MissingClaim);
        }
        match claims.iat {
            None => None,
            Some(None) => Some(Reason::Malformed),
            Some(_) => TimeClaims::of(claims).iat(now, self.policy.leeway),
        }
    }

    /// A refusal, with the token's times read without verification (for the event).
    fn refuse(&self, reason: Reason, token: &str) -> Verdict {
        let times = read_claims(token)
            .map(|c| self.times(&c))
            .unwrap_or_default();
        Verdict::reject(reason, times)
    }

    fn times(&self, claims: &Map<String, Value>) -> TokenTimes {
        let time = |k| claims.get(k).and_then(numeric_date);
        TokenTimes {
            issuer: claims
                .get("iss")
                .and_then(Value::as_str)
                .map(|i| self.issuer(i)),
            iat: time("iat"),
            nbf: time("nbf"),
            exp: time("exp"),
        }
    }

    /// [`Self::times`] of claims read by [`Claims::read`].
    fn claims_times(&self, claims: &Claims) -> TokenTimes {
        TokenTimes {
            issuer: claims.issuer().map(|i| self.issuer(i)),
            iat: claims.iat.flatten(),
            nbf: claims.nbf_date,
            exp: claims.exp_date,
        }
    }

    /// The issuer label: `iss`, or `other` when an allow-list does not hold it (forged tokens
    /// cannot create series).
    fn issuer(&self, iss: &str) -> Arc<str> {
        match &self.rules.issuers {
            Some(allowed) if !allowed.contains(iss) => Arc::from(crate::labels::OTHER),
            _ => Arc::from(iss),
        }
    }
}

/// A token's time claims as the checks read them: `exp` and `nbf` in whole seconds (as
/// jsonwebtoken reads them: `claims::whole_seconds`), `iat` as a NumericDate; `None` when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeClaims {
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub iat: Option<f64>,
}

impl TimeClaims {
    /// The readable time claims of a payload (an unreadable one as absent).
    fn of(claims: &Claims) -> Self {
        TimeClaims {
            exp: claims.exp.flatten(),
            nbf: claims.nbf.flatten(),
            iat: claims.iat.flatten(),
        }
    }

    /// `exp`, then `nbf`, against `now`, with jsonwebtoken's semantics: `now` truncated to the
    /// second, expired when `exp < now − leeway`, not yet valid when `nbf > now + leeway`.
    fn exp_nbf(&self, now: f64, leeway: u64) -> Option<Reason> {
        // `as` saturates: a negative or NaN clock is 0, as far from any token as it gets.
        let now = now as u64;
        if self.exp.is_some_and(|exp| exp < now.saturating_sub(leeway)) {
            return Some(Reason::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Some(Reason::NotYetValid);
        }
        None
    }

    /// `iat` further in the future than the leeway: `issued_in_future`.
    fn iat(&self, now: f64, leeway: u64) -> Option<Reason> {
        self.iat
            .is_some_and(|iat| iat > now + leeway as f64)
            .then_some(Reason::IssuedInFuture)
    }
}

/// The claims of a token, unverified: only its times and issuer are used, for the event.
fn read_claims(token: &str) -> Option<Map<String, Value>> {
    jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token).ok()
}

/// Why jsonwebtoken could not read a header: an `alg` it does not implement (`none`,
/// `HS1024`, …) is `invalid_algorithm`; anything else `malformed`.
fn header_problem(token: &str) -> Reason {
    #[derive(serde::Deserialize)]
    struct RawHeader {
        alg: String,
    }
    let first = token.split('.').next().unwrap_or_default();
    let Ok(json) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(first) else {
        return Reason::Malformed;
    };
    match serde_json::from_slice::<RawHeader>(&json) {
        Ok(h) if Algorithm::from_str(&h.alg).is_err() => Reason::InvalidAlgorithm,
        _ => Reason::Malformed,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use jsonwebtoken::{encode, EncodingKey, Header};

    use super::claims::whole_seconds;
    use super::keys::{parse_file, FileKind, FileSpec, Key};
    use super::*;

    pub(crate) fn data(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/verify/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn now() -> f64 {
        crate::unix_now().floor()
    }

    /// A signer per algorithm family, with its public key loaded as the verifier would.
    pub(crate) struct Signer {
        pub alg: Algorithm,
        pub kid: Option<&'static str>,
        enc: EncodingKey,
    }

    impl Signer {
        pub fn new(alg: Algorithm, kid: Option<&'static str>) -> Self {
            let enc = match alg {
                Algorithm::HS256 => EncodingKey::from_secret(data("hmac.secret").trim_ascii()),
                Algorithm::RS256 => EncodingKey::from_rsa_pem(&data("rsa.key.pem")).unwrap(),
                Algorithm::ES256 => EncodingKey::from_ec_pem(&data("ec.key.pem")).unwrap(),
                Algorithm::EdDSA => EncodingKey::from_ed_pem(&data("ed.key.pem")).unwrap(),
                other => panic!("no test key for {other:?}"),
            };
            Signer { alg, kid, enc }
        }

        /// The verification key, as a `[[verify.keys]]` entry would load it.
        pub fn key(&self) -> Arc<Key> {
            let (file, kind) = match self.alg {
                Algorithm::HS256 => ("hmac.secret", FileKind::Hmac),
                Algorithm::RS256 => ("rsa.pub.pem", FileKind::Pem),
                Algorithm::ES256 => ("ec.pub.pem", FileKind::Pem),
                _ => ("ed.pub.pem", FileKind::Pem),
            };
            let spec = FileSpec {
                path: file.into(),
                kind,
                kid: self.kid.map(String::from),
                algorithm: None,
            };
            Arc::new(parse_file(&spec, &data(file)).unwrap().remove(0))
        }

        pub fn sign(&self, claims: &Value) -> String {
            let mut h = Header::new(self.alg);
            h.kid = self.kid.map(String::from);
            encode(&h, claims, &self.enc).unwrap()
        }
    }

    fn good(now: f64) -> Value {
        serde_json::json!({
            "iss": "https://idp.example", "aud": "api", "sub": "alice",
            "iat": now - 10.0, "nbf": now - 10.0, "exp": now + 600.0,
        })
    }

    fn with(mut claims: Value, k: &str, v: Value) -> Value {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v;
        }
        claims
    }

    fn policy() -> Policy {
        Policy {
            issuers: Some(vec!["https://idp.example".into()]),
            audiences: Some(vec!["api".into()]),
            ..Policy::default()
        }
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    /// Every reason, for each algorithm family.
    #[test]
    fn every_reason_for_every_algorithm() {
        for alg in [
            Algorithm::HS256,
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ] {
            let s = Signer::new(alg, Some("k1"));
            let keys = KeySet::new(vec![s.key()]);
            let v = Verifier::new(policy());
            let t = now();
            let check = |claims: Value, want: Option<Reason>| {
                let token = s.sign(&claims);
                let verdict = v.verify(&token, &keys, t);
                assert_eq!(verdict.reason, want, "{alg:?} {claims}");
                verdict
            };
            let ok = check(good(t), None);
            assert_eq!(ok.claims.as_ref().unwrap()["sub"], "alice");
            assert_eq!(ok.times.issuer.as_deref(), Some("https://idp.example"));
            assert_eq!(ok.times.iat, Some(t - 10.0));
            // Leeway (5 s) is honoured on both sides.
            check(with(good(t), "exp", (t - 3.0).into()), None);
            check(with(good(t), "nbf", (t + 3.0).into()), None);
            check(with(good(t), "iat", (t + 3.0).into()), None);
            let expired = check(
                with(good(t), "exp", (t - 100.0).into()),
                Some(Reason::Expired),
            );
            assert_eq!(
                expired.times.exp,
                Some(t - 100.0),
                "times read for the event"
            );
            check(
                with(good(t), "nbf", (t + 100.0).into()),
                Some(Reason::NotYetValid),
            );
            let future = check(
                with(good(t), "iat", (t + 100.0).into()),
                Some(Reason::IssuedInFuture),
            );
            assert_eq!(future.times.iat, Some(t + 100.0));
            check(
                with(good(t), "iss", "https://evil.example".into()),
                Some(Reason::InvalidIssuer),
            );
            check(
                with(good(t), "aud", "other-api".into()),
                Some(Reason::InvalidAudience),
            );
            check(
                with(good(t), "exp", Value::Null),
                Some(Reason::MissingClaim),
            );
            // With allow-lists, iss and aud cannot be left out to skip their checks.
            check(
                with(good(t), "iss", Value::Null),
                Some(Reason::MissingClaim),
            );
            check(
                with(good(t), "aud", Value::Null),
                Some(Reason::MissingClaim),
            );
            check(with(good(t), "iss", 7.into()), Some(Reason::Malformed));
            check(
                with(good(t), "exp", "tomorrow".into()),
                Some(Reason::Malformed),
            );

            // A bad signature wins over a bad exp.
            let token = s.sign(&with(good(t), "exp", (t - 100.0).into()));
            let (rest, sig) = token.rsplit_once('.').unwrap();
            let flipped = if sig.starts_with('A') { "B" } else { "A" };
            let forged = format!("{rest}.{flipped}{}", &sig[1..]);
            assert_eq!(
                v.verify(&forged, &keys, t).reason,
                Some(Reason::InvalidSignature),
                "{alg:?}"
            );
            // A payload swapped under a good signature.
            let (h, _, sig) = {
                let mut p = token.split('.');
                (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
            };
            let swapped = format!("{h}.{}.{sig}", b64(&good(t).to_string()));
            let r = v.verify(&swapped, &keys, t);
            assert_eq!(r.reason, Some(Reason::InvalidSignature), "{alg:?}");
            assert_eq!(
                r.times.exp,
                Some(t + 600.0),
                "forged claims are still read for the event"
            );

            // Unknown kid.
            let other = Signer {
                kid: Some("k2"),
                ..Signer::new(alg, None)
            };
            let r = v.verify(&other.sign(&good(t)), &keys, t);
            assert_eq!(r.reason, Some(Reason::UnknownKey), "{alg:?}");
            assert!(r.unknown_kid);
        }
    }

    #[test]
    fn algorithms_that_do_not_fit_the_key_are_refused() {
        let t = now();
        let rsa = Signer::new(Algorithm::RS256, Some("k1"));
        let keys = KeySet::new(vec![rsa.key()]);
        let v = Verifier::new(Policy::default());
        // HS256 signed with some secret, naming the RSA key: the classic confusion attack.
        let hs = Signer {
            kid: Some("k1"),
            ..Signer::new(Algorithm::HS256, None)
        };
        let r = v.verify(&hs.sign(&good(t)), &keys, t);
        assert_eq!(r.reason, Some(Reason::InvalidAlgorithm));
        assert!(!r.unknown_kid, "the kid is known: no refetch");
        // A kid nobody has, of a type no key has: unknown, worth a refetch (an IdP that moved
        // to another key type).
        let new = Signer {
            kid: Some("new"),
            ..Signer::new(Algorithm::EdDSA, None)
        };
        let r = v.verify(&new.sign(&good(t)), &keys, t);
        assert_eq!(r.reason, Some(Reason::UnknownKey));
        assert!(r.unknown_kid);
        let hs = Signer::new(Algorithm::HS256, None);
        assert_eq!(
            v.verify(&hs.sign(&good(t)), &keys, t).reason,
            Some(Reason::InvalidAlgorithm),
            "without kid"
        );
        // An allowed family, but not in the allow-list.
        let only_ps = Verifier::new(Policy {
            algorithms: vec![Algorithm::PS256],
            ..Policy::default()
        });
        assert_eq!(
            only_ps.verify(&rsa.sign(&good(t)), &keys, t).reason,
            Some(Reason::InvalidAlgorithm)
        );
        // `none` and made-up algorithms.
        for alg in ["none", "HS1024"] {
            let token = format!(
                "{}.{}.",
                b64(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#)),
                b64(&good(t).to_string())
            );
            let r = v.verify(&token, &keys, t);
            assert_eq!(r.reason, Some(Reason::InvalidAlgorithm), "{alg}");
            assert_eq!(r.times.exp, Some(t + 600.0));
        }
    }

    #[test]
    fn malformed_tokens() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let v = Verifier::new(Policy::default());
        let t = now();
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        let good_token = s.sign(&good(t));
        let (h, rest) = good_token.split_once('.').unwrap();
        for token in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            &long,
            &format!("{}.{rest}", b64("not json")),
            &format!("{}.{rest}", b64(r#"{"typ":"JWT"}"#)),
            &format!("{h}.{}", rest.replace('.', ".***")),
        ] {
            assert_eq!(
                v.verify(token, &keys, t).reason,
                Some(Reason::Malformed),
                "{token:.40}"
            );
        }
        // The signature is checked before the payload is decoded.
        assert_eq!(
            v.verify(&format!("{h}.!!!.sig"), &keys, t).reason,
            Some(Reason::InvalidSignature)
        );
        // A non-numeric iat under a good signature.
        assert_eq!(
            v.verify(&s.sign(&with(good(t), "iat", "x".into())), &keys, t)
                .reason,
            Some(Reason::Malformed)
        );
    }

    #[test]
    fn extra_required_claims_and_time_before_issuer() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let t = now();
        let v = Verifier::new(Policy {
            required_claims: vec!["exp".into(), "iat".into(), "jti".into()],
            ..policy()
        });
        let token = s.sign(&with(good(t), "jti", "1".into()));
        assert_eq!(v.verify(&token, &keys, t).reason, None);
        assert_eq!(
            v.verify(&s.sign(&good(t)), &keys, t).reason,
            Some(Reason::MissingClaim),
            "no jti"
        );
        assert_eq!(
            v.verify(
                &s.sign(&with(with(good(t), "jti", "1".into()), "iat", Value::Null)),
                &keys,
                t
            )
            .reason,
            Some(Reason::MissingClaim),
            "no iat"
        );
        // iat in the future and a wrong issuer: the time problem is reported.
        let claims = with(with(good(t), "jti", "1".into()), "iat", (t + 100.0).into());
        let claims = with(claims, "iss", "https://evil.example".into());
        let r = v.verify(&s.sign(&claims), &keys, t);
        assert_eq!(r.reason, Some(Reason::IssuedInFuture));
        assert_eq!(
            r.times.issuer.as_deref(),
            Some("other"),
            "an issuer outside the allow-list is recorded as other"
        );
    }

    #[test]
    fn without_audiences_aud_is_not_checked_and_keys_without_kid_are_tried() {
        let a = Signer::new(Algorithm::RS256, None);
        let b = Signer {
            kid: None,
            ..Signer::new(Algorithm::HS256, None)
        };
        let keys = KeySet::new(vec![b.key(), a.key()]);
        let v = Verifier::new(Policy::default());
        let t = now();
        assert_eq!(v.verify(&a.sign(&good(t)), &keys, t).reason, None);
        assert_eq!(v.verify(&b.sign(&good(t)), &keys, t).reason, None);
        // A key without kid answers to any kid.
        let named = Signer {
            kid: Some("2024-06"),
            ..Signer::new(Algorithm::RS256, None)
        };
        assert_eq!(v.verify(&named.sign(&good(t)), &keys, t).reason, None);
        // Two keys of one family: the second verifies.
        let secret2 = Arc::new(Key {
            kid: None,
            algorithms: vec![Algorithm::HS256],
            key: jsonwebtoken::DecodingKey::from_secret(&[7u8; 32]),
        });
        let keys = KeySet::new(vec![secret2, b.key()]);
        assert_eq!(v.verify(&b.sign(&good(t)), &keys, t).reason, None);
        assert_eq!(
            v.verify(&b.sign(&good(t)), &KeySet::default(), t),
            Verdict {
                reason: Some(Reason::UnknownKey),
                times: TokenTimes {
                    issuer: Some("https://idp.example".into()),
                    iat: Some(t - 10.0),
                    nbf: Some(t - 10.0),
                    exp: Some(t + 600.0),
                },
                claims: None,
                unknown_kid: true,
                header_kid: Some(None),
            },
            "no keys loaded"
        );
    }

    /// RFC 7518 §3.2 at the token: a secret verifies an HMAC algorithm only when it is at least
    /// that hash's length; a token of a longer hash is `invalid_algorithm`, even correctly signed.
    #[test]
    fn hmac_tokens_verify_only_with_secrets_as_long_as_their_hash() {
        let v = Verifier::new(Policy::default());
        let t = now();
        for len in [32, 47, 48, 63, 64] {
            let secret = vec![b'k'; len];
            let spec = FileSpec {
                path: "secret".into(),
                kind: FileKind::Hmac,
                kid: Some("h".into()),
                algorithm: None,
            };
            let keys = KeySet::new(vec![Arc::new(
                parse_file(&spec, &secret).unwrap().remove(0),
            )]);
            for (alg, min) in [
                (Algorithm::HS256, 32),
                (Algorithm::HS384, 48),
                (Algorithm::HS512, 64),
            ] {
                let signer = Signer {
                    alg,
                    kid: Some("h"),
                    enc: EncodingKey::from_secret(&secret),
                };
                let want = (len < min).then_some(Reason::InvalidAlgorithm);
                assert_eq!(
                    v.verify(&signer.sign(&good(t)), &keys, t).reason,
                    want,
                    "{alg:?} with {len} bytes"
                );
            }
        }
    }

    #[test]
    fn error_kinds_map_onto_reasons() {
        let cases = [
            (ErrorKind::ExpiredSignature, Reason::Expired),
            (ErrorKind::ImmatureSignature, Reason::NotYetValid),
            (ErrorKind::InvalidSignature, Reason::InvalidSignature),
            (ErrorKind::InvalidIssuer, Reason::InvalidIssuer),
            (ErrorKind::InvalidAudience, Reason::InvalidAudience),
            (ErrorKind::InvalidAlgorithm, Reason::InvalidAlgorithm),
            (ErrorKind::MissingAlgorithm, Reason::InvalidAlgorithm),
            (
                ErrorKind::MissingRequiredClaim("exp".into()),
                Reason::MissingClaim,
            ),
            (ErrorKind::InvalidToken, Reason::Malformed),
            (
                ErrorKind::Base64(base64::DecodeError::InvalidLength(1)),
                Reason::Malformed,
            ),
            (ErrorKind::InvalidSubject, Reason::Other),
            (ErrorKind::Provider("x".into()), Reason::Other),
        ];
        for (kind, reason) in cases {
            assert_eq!(reason_for(&kind), reason, "{kind:?}");
            // The spelling maps the same way through the event reason table.
            let name = format!("{kind:?}");
            let name = name.split('(').next().unwrap();
            if !matches!(kind, ErrorKind::Provider(_)) {
                assert_eq!(Reason::from_text(name), reason, "{name}");
            }
        }
    }

    #[test]
    fn the_event_carries_the_verdict() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let v = Verifier::new(Policy::default());
        let t = now();
        let verdict = v.verify(&s.sign(&with(good(t), "exp", (t - 60.0).into())), &keys, t);
        let e = verdict.event(t + 0.5, "gateway");
        assert_eq!(e.outcome, Outcome::Rejected);
        assert_eq!(e.reason, Some(Reason::Expired));
        assert_eq!(e.source.as_deref(), Some("gateway"));
        assert_eq!(e.issuer.as_deref(), Some("https://idp.example"));
        assert_eq!(e.exp, Some(t - 60.0));
        assert_eq!(e.age(), Some(10.5));
        let missing = Verdict::missing_token();
        let m = missing.event(t, "gateway");
        assert_eq!(
            (m.reason, m.issuer, m.iat),
            (Some(Reason::MissingToken), None, None)
        );
    }

    /// A fixed clock, long ago: jsonwebtoken's system-clock check would call every token made
    /// for it expired.
    const PAST: f64 = 1_000_000_000.0;
    /// A fixed clock in the future (2096): the system clock would call these not yet valid.
    const FUTURE: f64 = 4_000_000_000.0;

    #[test]
    fn times_are_checked_against_the_given_now_not_the_system_clock() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let v = Verifier::new(policy());
        for t in [PAST, FUTURE] {
            let r = v.verify(&s.sign(&good(t)), &keys, t);
            assert_eq!(r.reason, None, "now = {t}");
            assert_eq!(r.times.exp, Some(t + 600.0));
        }
        let expired = with(good(PAST), "exp", (PAST - 60.0).into());
        assert_eq!(
            v.verify(&s.sign(&expired), &keys, PAST).reason,
            Some(Reason::Expired)
        );
        let early = with(good(FUTURE), "nbf", (FUTURE + 60.0).into());
        assert_eq!(
            v.verify(&s.sign(&early), &keys, FUTURE).reason,
            Some(Reason::NotYetValid)
        );
    }

    #[test]
    fn exp_and_nbf_edges_with_the_leeway_in_whole_seconds() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let v = Verifier::new(policy()); // leeway 5 s
        let t = PAST;
        let token = |exp: f64, nbf: f64| {
            s.sign(&with(
                with(good(t - 100.0), "exp", exp.into()),
                "nbf",
                nbf.into(),
            ))
        };
        // (exp, nbf, now, expected, why)
        let cases = [
            (
                t,
                t - 100.0,
                t + 5.0,
                None,
                "exp 5 s ago: within the leeway",
            ),
            (
                t,
                t - 100.0,
                t + 5.9,
                None,
                "now is truncated to whole seconds",
            ),
            (
                t,
                t - 100.0,
                t + 6.0,
                Some(Reason::Expired),
                "6 s after exp",
            ),
            (
                t + 0.4,
                t - 100.0,
                t + 6.0,
                Some(Reason::Expired),
                "exp rounds down to t",
            ),
            (t + 0.5, t - 100.0, t + 6.0, None, "exp rounds up to t + 1"),
            (
                t + 100.0,
                t + 5.0,
                t,
                None,
                "nbf 5 s ahead: within the leeway",
            ),
            (
                t + 100.0,
                t + 6.0,
                t + 0.9,
                Some(Reason::NotYetValid),
                "nbf 6 s ahead of the truncated now",
            ),
            (
                t + 100.0,
                t + 6.0,
                t + 1.0,
                None,
                "nbf 5 s ahead a second later",
            ),
            (
                t - 100.0,
                t + 100.0,
                t,
                Some(Reason::Expired),
                "both: exp is checked first",
            ),
        ];
        for (exp, nbf, now, want, why) in cases {
            assert_eq!(v.verify(&token(exp, nbf), &keys, now).reason, want, "{why}");
        }
    }

    #[test]
    fn time_checks_keep_their_place_in_the_order() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let v = Verifier::new(policy());
        let t = PAST;
        let expired = with(good(t), "exp", (t - 60.0).into());
        // The signature comes first: an expired forgery is invalid_signature.
        let genuine = s.sign(&expired);
        let other = s.sign(&with(expired.clone(), "sub", "mallory".into()));
        let (body, _) = genuine.rsplit_once('.').unwrap();
        let (_, signature) = other.rsplit_once('.').unwrap();
        let forged = format!("{body}.{signature}");
        assert_eq!(
            v.verify(&forged, &keys, t).reason,
            Some(Reason::InvalidSignature)
        );
        // Times before issuer and audience, and exp before iat.
        for (k, val) in [
            ("iss", Value::from("https://evil.example")),
            ("aud", Value::from("elsewhere")),
            ("iat", Value::from(t + 100.0)),
        ] {
            let r = v.verify(&s.sign(&with(expired.clone(), k, val)), &keys, t);
            assert_eq!(r.reason, Some(Reason::Expired), "expired and a bad {k}");
        }
        let early = with(good(t), "nbf", (t + 60.0).into());
        let r = v.verify(
            &s.sign(&with(early, "iss", "https://evil.example".into())),
            &keys,
            t,
        );
        assert_eq!(r.reason, Some(Reason::NotYetValid));
        // A required claim that is missing comes before the times.
        let no_aud = with(expired, "aud", Value::Null);
        assert_eq!(
            v.verify(&s.sign(&no_aud), &keys, t).reason,
            Some(Reason::MissingClaim)
        );
    }

    #[test]
    fn unreadable_exp_or_nbf_is_malformed_even_when_not_required() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let v = Verifier::new(Policy {
            required_claims: vec![],
            ..policy()
        });
        let t = PAST;
        assert_eq!(v.verify(&s.sign(&good(t)), &keys, t).reason, None);
        let no_times = with(with(good(t), "exp", Value::Null), "nbf", Value::Null);
        assert_eq!(v.verify(&s.sign(&no_times), &keys, t).reason, None);
        for (k, val) in [
            ("exp", serde_json::json!("soon")),
            ("exp", serde_json::json!(-1)),
            ("exp", serde_json::json!(1e30)),
            ("exp", serde_json::json!(true)),
            ("nbf", serde_json::json!("now")),
            ("nbf", serde_json::json!(-0.5)),
            ("nbf", serde_json::json!([1])),
        ] {
            let r = v.verify(&s.sign(&with(good(t), k, val.clone())), &keys, t);
            assert_eq!(r.reason, Some(Reason::Malformed), "{k}: {val}");
        }
        let mut null_exp = good(t);
        null_exp["exp"] = Value::Null;
        assert_eq!(
            v.verify(&s.sign(&null_exp), &keys, t).reason,
            Some(Reason::Malformed),
            "exp: null"
        );
    }

    #[test]
    fn whole_seconds_reads_numeric_dates_as_jsonwebtoken_does() {
        let w = |j: &str| whole_seconds(&serde_json::from_str(j).unwrap());
        assert_eq!(w("0"), Some(0));
        assert_eq!(w("1790000000"), Some(1_790_000_000));
        assert_eq!(w("18446744073709551615"), Some(u64::MAX));
        assert_eq!(w("1.4"), Some(1));
        assert_eq!(w("1.5"), Some(2));
        assert_eq!(w("-0"), Some(0), "serde_json reads -0 as the float -0.0");
        assert_eq!(w("-0.4"), None);
        assert_eq!(w("-1"), None);
        assert_eq!(w("1e300"), None);
        assert_eq!(w("18446744073709551616"), None, "2^64, read as a float");
        assert_eq!(w("\"1\""), None);
        assert_eq!(w("null"), None);
    }

    // --- The verified-token cache (`cache`): same answers, fewer signature checks. ---

    fn cached(policy: Policy, size: usize) -> Verifier {
        Verifier::new(policy).with_cache(TokenCache::new(size, None))
    }

    /// Every answer from the cache is the answer a verifier without one gives, at every
    /// `now` around the token's times, under policies with and without allow-lists.
    #[test]
    fn a_hit_answers_as_a_full_verification_would() {
        let s = Signer::new(Algorithm::RS256, Some("k1"));
        let keys = KeySet::new(vec![s.key()]);
        let t = PAST;
        let policies = [
            policy(),
            Policy::default(),
            Policy {
                required_claims: vec!["exp".into(), "iat".into(), "jti".into()],
                leeway: 0,
                ..policy()
            },
        ];
        let tokens = [
            s.sign(&good(t)),
            s.sign(&with(good(t), "jti", "1".into())),
            s.sign(&with(good(t), "aud", serde_json::json!(["other", "api"]))),
            s.sign(&with(good(t), "iat", (t + 3.0).into())),
            s.sign(&with(good(t), "exp", (t + 0.5).into())),
            s.sign(&with(
                with(good(t), "nbf", (t + 4.0).into()),
                "exp",
                Value::Null,
            )),
        ];
        let offsets = [
            -30.0, -7.0, -6.0, -5.0, 0.0, 0.9, 1.0, 5.0, 5.5, 6.0, 600.0, 605.0, 605.9, 606.0, 1e6,
        ];
        for p in policies {
            let plain = Verifier::new(p.clone());
            for token in &tokens {
                let v = cached(p.clone(), 16);
                // Filled at t (a miss), then asked at every offset, then again.
                let first = v.verify(token, &keys, t);
                assert_eq!(first, plain.verify(token, &keys, t));
                // Verdicts past the header know its kid, which is the one the event reads.
                let header = crate::event::header_kid(token);
                assert_eq!(first.header_kid, Some(header.as_deref().map(Arc::from)));
                assert_eq!(
                    v.cache().unwrap().len(),
                    usize::from(first.allowed()),
                    "only allowed tokens enter"
                );
                for round in 0..2 {
                    for dt in offsets {
                        let answer = v.verify(token, &keys, t + dt);
                        assert_eq!(
                            answer,
                            plain.verify(token, &keys, t + dt),
                            "{:?} round {round}, now = t + {dt}",
                            p.required_claims
                        );
                    }
                }
            }
        }
    }

    /// A verifier keeping some claims: its verdicts, miss or hit, carry those (the ones the
    /// token has), with everything else as a full verification's; its own checks still read
    /// the claims it does not keep (`iss`, times, other required claims).
    #[test]
    fn a_verifier_keeping_some_claims_keeps_only_those() {
        let s = Signer::new(Algorithm::RS256, Some("k1"));
        let keys = KeySet::new(vec![s.key()]);
        let t = PAST;
        let token = s.sign(&with(good(t), "email", "alice@example.org".into()));
        let plain = Verifier::new(policy()).verify(&token, &keys, t);
        let all = plain.claims.clone().unwrap();
        assert!(all.contains_key("email") && all.contains_key("iss"));
        for cache in [0, 16] {
            let v = cached(policy(), cache).keeping_claims(["sub".to_owned(), "groups".to_owned()]);
            for (dt, what) in [(0.0, "miss"), (1.0, "hit")] {
                let answer = v.verify(&token, &keys, t + dt);
                let kept = answer.claims.clone().unwrap();
                assert_eq!(kept.len(), 1, "{what}");
                assert_eq!(kept["sub"], all["sub"], "{what}");
                assert_eq!(
                    Verdict {
                        claims: plain.claims.clone(),
                        ..answer
                    },
                    Verifier::new(policy()).verify(&token, &keys, t + dt),
                    "{what}, cache size {cache}"
                );
            }
            // Refusals read what they need without keeping it.
            let p = Policy {
                required_claims: vec!["exp".into(), "jti".into()],
                ..policy()
            };
            let strict = cached(p, cache).keeping_claims([]);
            let answer = strict.verify(&token, &keys, t);
            assert_eq!(answer.reason, Some(Reason::MissingClaim));
            assert_eq!(answer.times, plain.times);
            let future = s.sign(&with(good(t), "iat", (t + 60.0).into()));
            let answer = v.verify(&future, &keys, t);
            assert_eq!(answer.reason, Some(Reason::IssuedInFuture));
        }
        // Keeping none: still allows, with an empty map.
        let none = cached(policy(), 16).keeping_claims([]);
        for _ in 0..2 {
            let answer = none.verify(&token, &keys, t);
            assert!(answer.allowed());
            assert_eq!(answer.claims.as_deref(), Some(&Map::new()));
        }
    }

    /// A cached token expires on time: a hit one second past `exp` + leeway is `expired`
    /// and removes the entry; the next request is a miss.
    #[test]
    fn a_cached_token_expires_on_time() {
        let metrics = crate::metrics::Metrics::new().unwrap();
        let cm = crate::verify::http::cache_metrics(&metrics);
        let s = Signer::new(Algorithm::ES256, Some("k1"));
        let keys = KeySet::new(vec![s.key()]);
        let v = Verifier::new(policy()).with_cache(TokenCache::new(16, Some(cm.clone())));
        let t = PAST;
        let token = s.sign(&with(good(t), "exp", (t + 60.0).into()));
        assert_eq!(v.verify(&token, &keys, t).reason, None);
        assert_eq!((cm.hit.get(), cm.miss.get(), cm.entries.get()), (0, 1, 1));
        let hit = v.verify(&token, &keys, t + 65.9);
        assert_eq!(hit.reason, None, "exp + leeway (5 s), truncated");
        assert_eq!(hit.claims.as_ref().unwrap()["sub"], "alice");
        assert_eq!((cm.hit.get(), cm.miss.get(), cm.entries.get()), (1, 1, 1));
        let late = v.verify(&token, &keys, t + 66.0);
        assert_eq!(late.reason, Some(Reason::Expired));
        assert_eq!(late.claims, None);
        assert_eq!(
            late.times.exp,
            Some(t + 60.0),
            "the event still has the times"
        );
        assert_eq!((cm.hit.get(), cm.miss.get(), cm.entries.get()), (2, 1, 0));
        assert_eq!(
            v.verify(&token, &keys, t + 67.0).reason,
            Some(Reason::Expired)
        );
        assert_eq!((cm.hit.get(), cm.miss.get(), cm.entries.get()), (2, 2, 0));
    }

    /// Expired entries nobody asks for again are swept out (on a miss, once a minute).
    #[test]
    fn expired_entries_are_swept() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let v = cached(policy(), 64);
        let t = PAST;
        for i in 0..10 {
            let claims = with(good(t), "exp", (t + 10.0 + f64::from(i)).into());
            assert_eq!(v.verify(&s.sign(&claims), &keys, t).reason, None);
        }
        assert_eq!(v.cache().unwrap().len(), 10);
        // 20 s later (exp + leeway of the first five passed): a miss 60 s after the first
        // sweep sweeps again.
        let other = s.sign(&with(good(t), "jti", "x".into()));
        assert_eq!(v.verify(&other, &keys, t + 60.0 - 40.0).reason, None);
        assert_eq!(v.cache().unwrap().len(), 11, "no sweep within the minute");
        let late = s.sign(&with(good(t), "jti", "y".into()));
        assert_eq!(v.verify(&late, &keys, t + 60.0 + 0.0).reason, None);
        // exp = t + 10 + i, dead when t + 60 > exp + 5: i < 45, so all ten are gone.
        assert_eq!(v.cache().unwrap().len(), 2);
    }

    /// A new key set (rotation, reload) drops the whole cache at its first lookup: a revoked
    /// key's token fails on the next request; a token of a key still present is verified
    /// again (a miss) and cached under the new set.
    #[test]
    fn a_new_key_set_drops_the_cache() {
        let s = Signer::new(Algorithm::RS256, Some("k1"));
        let e = Signer::new(Algorithm::ES256, Some("k2"));
        let metrics = crate::metrics::Metrics::new().unwrap();
        let cm = crate::verify::http::cache_metrics(&metrics);
        let v = Verifier::new(policy()).with_cache(TokenCache::new(16, Some(cm.clone())));
        let store = keys::KeyStore::new(vec![vec![s.key()], vec![e.key()]], None);
        let t = now();
        let (rs, es) = (s.sign(&good(t)), e.sign(&good(t)));
        for _ in 0..2 {
            assert_eq!(v.verify(&rs, &store.current(), t).reason, None);
            assert_eq!(v.verify(&es, &store.current(), t).reason, None);
        }
        assert_eq!((cm.hit.get(), cm.miss.get(), cm.entries.get()), (2, 2, 2));
        // k1 revoked.
        store.replace(0, Vec::new());
        assert_eq!(
            v.verify(&rs, &store.current(), t).reason,
            Some(Reason::UnknownKey)
        );
        assert_eq!(cm.entries.get(), 0, "dropped whole");
        assert_eq!(v.verify(&es, &store.current(), t).reason, None);
        assert_eq!((cm.hit.get(), cm.miss.get(), cm.entries.get()), (2, 4, 1));
        // A request that loaded the previous set before the swap neither uses nor fills it.
        let old = KeySet::new(vec![s.key()]);
        let newer = KeySet::new(vec![s.key(), e.key()]);
        assert_eq!(v.verify(&es, &newer, t).reason, None);
        assert_eq!(v.verify(&rs, &old, t).reason, None);
        assert_eq!(
            v.cache().unwrap().len(),
            1,
            "the older set's token was not cached"
        );
        assert_eq!(v.verify(&rs, &newer, t).reason, None);
        assert_eq!(cm.hit.get(), 2, "…and is a miss under the newer set");
        // The same key under another `kid` is another key set: same result.
        let same_key_other_set = KeySet::new(vec![s.key()]);
        assert_eq!(v.verify(&rs, &same_key_other_set, t).reason, None);
        assert_eq!(v.cache().unwrap().len(), 1);
    }

    /// Forged and refused tokens never enter; the hash of the whole token is the key, so a
    /// forgery of a cached token (same header and payload, another signature) is checked.
    #[test]
    fn refused_tokens_never_enter_the_cache() {
        let s = Signer::new(Algorithm::RS256, Some("k1"));
        let forger = Signer {
            enc: EncodingKey::from_rsa_pem(&data("rsa2.key.pem")).unwrap(),
            ..Signer::new(Algorithm::RS256, Some("k1"))
        };
        let keys = KeySet::new(vec![s.key()]);
        let v = cached(policy(), 64);
        let t = now();
        for i in 0..200 {
            let claims = with(good(t), "jti", format!("forged-{i}").into());
            assert_eq!(
                v.verify(&forger.sign(&claims), &keys, t).reason,
                Some(Reason::InvalidSignature)
            );
            let wrong_issuer = with(claims, "iss", "https://evil.example".into());
            assert_eq!(
                v.verify(&s.sign(&wrong_issuer), &keys, t).reason,
                Some(Reason::InvalidIssuer)
            );
        }
        assert!(v.cache().unwrap().is_empty());
        let genuine = s.sign(&good(t));
        assert_eq!(v.verify(&genuine, &keys, t).reason, None);
        let (body, _) = genuine.rsplit_once('.').unwrap();
        let (_, other_sig) = forger
            .sign(&good(t))
            .rsplit_once('.')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap();
        let forged = format!("{body}.{other_sig}");
        assert_eq!(
            v.verify(&forged, &keys, t).reason,
            Some(Reason::InvalidSignature)
        );
        assert_eq!(v.cache().unwrap().len(), 1);
    }

    /// A flood of distinct valid tokens evicts: never more entries than the size, never more
    /// bytes than size × ENTRY_BUDGET (large tokens count for several entries).
    #[test]
    fn a_flood_of_valid_tokens_stays_within_the_bounds() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let t = now();
        for (size, padding, per_entry) in [(64, 0, 1), (64, 3000, 2), (100, 0, 1), (10, 0, 1)] {
            let v = cached(policy(), size);
            let c = v.cache().unwrap();
            assert!(c.capacity() <= size as u64 && c.capacity() * 10 >= size as u64 * 9);
            let pad = "x".repeat(padding);
            for i in 0..2000 {
                let claims = with(with(good(t), "jti", i.into()), "pad", pad.as_str().into());
                let claims = if padding == 0 {
                    with(claims, "pad", Value::Null)
                } else {
                    claims
                };
                assert_eq!(v.verify(&s.sign(&claims), &keys, t).reason, None);
                assert!(c.len() <= size, "size {size}: {} entries", c.len());
                assert!(c.weight() <= c.capacity());
            }
            assert!(
                c.len() * per_entry <= c.capacity() as usize
                    && c.len() >= c.capacity() as usize / per_entry / 2,
                "size {size}, padding {padding}: {} entries",
                c.len()
            );
        }
        // A token larger than the whole cache is not kept.
        let v = cached(policy(), 4);
        let huge = with(good(t), "pad", "x".repeat(10_000).into());
        assert_eq!(v.verify(&s.sign(&huge), &keys, t).reason, None);
        assert!(v.cache().unwrap().is_empty());
    }

    /// What the cache's module docs say of quick_cache's policy (and `benches/verify.sh` relies
    /// on): a flood of one-time tokens leaves the first entries of an empty cache in place, and
    /// tokens used again take their place.
    #[test]
    fn one_time_tokens_leave_the_first_entries_and_reused_ones_replace_them() {
        let s = Signer::new(Algorithm::HS256, None);
        let keys = KeySet::new(vec![s.key()]);
        let t = now();
        let v = cached(policy(), 1000);
        let c = v.cache().unwrap();
        let capacity = c.capacity() as usize;
        let mut next = 0u64;
        let mut tokens = |n: usize| -> Vec<String> {
            (0..n)
                .map(|_| {
                    next += 1;
                    s.sign(&with(good(t), "jti", next.into()))
                })
                .collect()
        };
        let send = |tokens: &[String]| {
            for token in tokens {
                assert_eq!(v.verify(token, &keys, t).reason, None);
            }
        };
        let held = |tokens: &[String]| {
            tokens
                .iter()
                .filter(|t| c.lookup(&cache::token_hash(t), keys.generation()).is_some())
                .count()
        };
        // `held` looks the tokens up, which marks those found as used: it is called only where
        // that cannot help the assertion that follows.
        // Half the capacity: however the hashes fall into the shards, all of it fits.
        let first = tokens(capacity / 2);
        send(&first);
        assert_eq!(c.len(), first.len());
        let flood = tokens(5 * capacity);
        send(&flood);
        let after_flood = held(&first);
        let early = [&first[..], &flood[..capacity / 2]].concat();
        let before = held(&early);
        assert!(
            after_flood * 100 >= first.len() * 95,
            "{after_flood} of {}",
            first.len()
        );
        // Used twice in a row (the second a hit), beside as many sent once; then another flood.
        let (reused, once) = (tokens(capacity / 4), tokens(capacity / 4));
        for (r, o) in reused.iter().zip(&once) {
            send(&[r.clone(), r.clone(), o.clone()]);
        }
        send(&tokens(5 * capacity));
        let (kept, gone) = (held(&reused), once.len() - held(&once));
        // (232 or 233 of 248 in six runs: quick_cache's hasher is seeded per process.)
        assert!(kept * 10 >= reused.len() * 8, "{kept} of {}", reused.len());
        assert!(gone * 10 >= once.len() * 9, "{gone} of {}", once.len());
        // They took the places of some that entered an empty cache: the first, or the flood's
        // first tokens that filled the rest of the hot section (even though `before` marked
        // those as used once).
        let after = held(&early);
        assert!(after + kept / 2 <= before, "{after} + {kept} of {before}");
    }

    #[test]
    fn size_zero_is_no_cache() {
        assert!(TokenCache::new(0, None).is_none());
        let v = cached(policy(), 0);
        assert!(v.cache().is_none());
    }
}
