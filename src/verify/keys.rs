//! Verification keys: parsing key material into [`Key`]s, the [`KeySet`] a verification reads,
//! and the [`KeyStore`] that swaps it atomically when a source changes.
//!
//! Parsing is pure (bytes in, keys or a message out) so it is tested without files. A key knows
//! the algorithms it may verify: those of its type (RSA: RS*/PS*; EC: ES256 or ES384 by curve;
//! Ed25519: EdDSA; HMAC: HS*), narrowed by a JWK's `alg` or the configured `algorithm`. That is
//! what makes "an algorithm that does not fit the key" refusable before any signature check.
//!
//! Every source (a key file, the JWKS file, the JWKS URL) keeps its own last good keys; the
//! combined set is rebuilt and swapped when one changes, so a broken source keeps what it had
//! and never takes the others down. Readers take an `Arc` of the current set under a read lock
//! held for one pointer copy (a std lock: no `.await` while it is held).
//!
//! Error messages name the file or URL and the problem, never key material: a JWKS parse error
//! gives a line and column, not serde's text, which may quote a value (an `oct` key is a secret).

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use prometheus::{IntCounter, IntGauge};

/// Shortest HMAC secret accepted: RFC 7518 §3.2 wants at least the hash size (32 bytes for
/// HS256).
pub const MIN_HMAC_SECRET: usize = 32;
/// Largest key file or JWKS document read.
pub const MAX_KEY_DOCUMENT: usize = 1 << 20;

/// One verification key.
pub struct Key {
    /// The `kid` tokens name it by; `None` for a key without one.
    pub kid: Option<String>,
    /// The algorithms it may verify, all of one family.
    pub algorithms: Vec<Algorithm>,
    pub key: DecodingKey,
}

impl fmt::Debug for Key {
    // Hand-written: key material never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl Key {
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }
}

/// The algorithms a key of this family may verify. EC keys are narrowed by curve elsewhere.
pub fn family_algorithms(family: AlgorithmFamily) -> Vec<Algorithm> {
    family.algorithms().to_vec()
}

/// How a configured key file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A JWKS document (`{"keys": [...]}`).
    Jwks,
    /// A PEM public key: RSA (`PUBLIC KEY` or `RSA PUBLIC KEY`), EC P-256/P-384 or Ed25519.
    Pem,
    /// An HMAC secret: the file's bytes, surrounding ASCII whitespace trimmed.
    Hmac,
}

/// A configured key file: what it is and what the configuration says about its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: PathBuf,
    pub kind: FileKind,
    /// The `kid` of a PEM or HMAC key (a JWKS names its own).
    pub kid: Option<String>,
    /// Narrows a PEM or HMAC key to one algorithm.
    pub algorithm: Option<Algorithm>,
}

/// A fingerprint of a key document, to notice a change (not a security measure).
pub fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Parses the bytes of a key file according to its spec.
pub fn parse_file(spec: &FileSpec, bytes: &[u8]) -> Result<Vec<Key>, String> {
    if bytes.len() > MAX_KEY_DOCUMENT {
        return Err(format!("larger than {MAX_KEY_DOCUMENT} bytes"));
    }
    let (key, algorithms) = match spec.kind {
        FileKind::Jwks => return parse_jwks(bytes).map(|(keys, _skipped)| keys),
        FileKind::Pem => parse_pem(bytes)?,
        FileKind::Hmac => {
            let secret = bytes.trim_ascii();
            if secret.len() < MIN_HMAC_SECRET {
                return Err(format!(
                    "an HMAC secret must be at least {MIN_HMAC_SECRET} bytes (RFC 7518 §3.2), this one has {}",
                    secret.len()
                ));
            }
            (
                DecodingKey::from_secret(secret),
                family_algorithms(AlgorithmFamily::Hmac),
            )
        }
    };
    let algorithms = narrow(algorithms, spec.algorithm)?;
    Ok(vec![Key {
        kid: spec.kid.clone(),
        algorithms,
        key,
    }])
}

/// Applies a configured `algorithm` to the algorithms a key type allows.
fn narrow(algorithms: Vec<Algorithm>, only: Option<Algorithm>) -> Result<Vec<Algorithm>, String> {
    match only {
        None => Ok(algorithms),
        Some(a) if algorithms.contains(&a) => Ok(vec![a]),
        Some(a) => Err(format!(
            "algorithm {a:?} does not fit this key (it can verify {})",
            names(&algorithms)
        )),
    }
}

pub fn names(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A PEM public key of any supported type, and the algorithms it fits.
fn parse_pem(bytes: &[u8]) -> Result<(DecodingKey, Vec<Algorithm>), String> {
    // Checked first: jsonwebtoken would take an RSA private key and fail every verification.
    if bytes.windows(11).any(|w| w == b"PRIVATE KEY") {
        return Err("holds a private key; give the public key (openssl pkey -pubout)".into());
    }
    if let Ok(k) = DecodingKey::from_rsa_pem(bytes) {
        return Ok((k, family_algorithms(AlgorithmFamily::Rsa)));
    }
    if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
        // The SEC1 point: 0x04 || x || y, 65 bytes on P-256, 97 on P-384.
        let alg = match k.try_get_as_bytes().map(<[u8]>::len) {
            Ok(65) => Algorithm::ES256,
            Ok(97) => Algorithm::ES384,
            _ => return Err("an EC key on a curve other than P-256 or P-384".into()),
        };
        return Ok((k, vec![alg]));
    }
    if let Ok(k) = DecodingKey::from_ed_pem(bytes) {
        return Ok((k, vec![Algorithm::EdDSA]));
    }
    Err("not a PEM public key (RSA, EC P-256/P-384 or Ed25519)".into())
}

/// Parses a JWKS document. Keys that cannot verify signatures (`"use": "enc"`, unsupported
/// types or curves, an `alg` that does not fit the key) are skipped and counted in the second
/// value; a document that is not a JWKS at all, or whose every key was skipped, is an error.
pub fn parse_jwks(bytes: &[u8]) -> Result<(Vec<Key>, usize), String> {
    #[derive(serde::Deserialize)]
    struct Doc {
        keys: Vec<serde_json::Value>,
    }
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| {
        // serde's own text may quote a value; say only where and what kind.
        let what = match e.classify() {
            serde_json::error::Category::Data => "not a JWKS (an object with a `keys` array)",
            _ => "not valid JSON",
        };
        format!("{what} (line {}, column {})", e.line(), e.column())
    })?;
    let total = doc.keys.len();
    let keys: Vec<Key> = doc.keys.into_iter().filter_map(jwk_key).collect();
    let skipped = total - keys.len();
    if total > 0 && keys.is_empty() {
        return Err(format!(
            "none of its {total} keys can verify signatures (unsupported types, `use` other than `sig`, or an `alg` that does not fit)"
        ));
    }
    Ok((keys, skipped))
}

/// One JWK, or `None` when it cannot serve as a verification key here.
fn jwk_key(value: serde_json::Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let algorithms = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => family_algorithms(AlgorithmFamily::Rsa),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
            _ => return None,
        },
        AlgorithmParameters::OctetKey(_) => family_algorithms(AlgorithmFamily::Hmac),
        _ => return None,
    };
    let only = match jwk.common.key_algorithm {
        None => None,
        Some(a) => Some(Algorithm::try_from(a).ok()?),
    };
    let algorithms = narrow(algorithms, only).ok()?;
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    if let AlgorithmParameters::OctetKey(_) = &jwk.algorithm {
        if key
            .try_get_as_bytes()
            .map_or(true, |s| s.len() < MIN_HMAC_SECRET)
        {
            return None;
        }
    }
    Some(Key {
        kid: jwk.common.key_id,
        algorithms,
        key,
    })
}

/// The keys a verification reads: every source's last good keys, combined.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Arc<Key>>,
}

/// Which keys may verify a token, from its `kid` and `alg`.
#[derive(Debug)]
pub enum Selection<'a> {
    Keys(Vec<&'a Key>),
    /// The token names a `kid` no key has.
    UnknownKid,
    /// No key at all is loaded.
    NoKeys,
    /// Keys exist (with that `kid`, or at all), but none fits the token's algorithm.
    WrongAlgorithm,
}

impl KeySet {
    pub fn new(keys: Vec<Arc<Key>>) -> Self {
        KeySet { keys }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that may verify a token with this `kid` and `alg`: those that fit `alg` and
    /// either carry that `kid` or carry none (a key configured without a `kid` verifies tokens
    /// with any, so a single PEM key works whatever the issuer puts in its headers). Key sets
    /// are small; each candidate is tried until one verifies.
    ///
    /// When none is left: a `kid` no key carries is unknown (it may be a key not fetched yet,
    /// of any type); a key with that `kid` of another type, or for a token without `kid` no
    /// key of its type at all, is `WrongAlgorithm`.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Selection<'_> {
        if self.keys.is_empty() {
            return Selection::NoKeys;
        }
        let mut exact = false;
        let mut fitting = Vec::new();
        for k in &self.keys {
            let fits = k.fits(alg);
            let candidate = match (kid, k.kid.as_deref()) {
                (Some(want), Some(have)) => {
                    exact |= want == have;
                    want == have
                }
                _ => true,
            };
            if candidate && fits {
                fitting.push(&**k);
            }
        }
        if !fitting.is_empty() {
            Selection::Keys(fitting)
        } else if kid.is_some() && !exact {
            Selection::UnknownKid
        } else {
            Selection::WrongAlgorithm
        }
    }
}

/// The metric handles a store updates (`skew_verify_*`, an addition to the contract).
#[derive(Clone)]
pub struct StoreMetrics {
    pub reload_ok: IntCounter,
    pub reload_error: IntCounter,
    pub keys: IntGauge,
}

/// The current [`KeySet`], swapped whole when a source changes.
pub struct KeyStore {
    current: RwLock<Arc<KeySet>>,
    /// Each source's last good keys, in source order.
    sources: Mutex<Vec<Vec<Arc<Key>>>>,
    metrics: Option<StoreMetrics>,
    /// Wakes the JWKS URL task when a token names an unknown `kid`.
    refetch: tokio::sync::Notify,
}

impl KeyStore {
    /// A store over `sources` initial key lists (one per source, possibly empty).
    pub fn new(sources: Vec<Vec<Arc<Key>>>, metrics: Option<StoreMetrics>) -> Self {
        let set = KeySet::new(sources.iter().flatten().cloned().collect());
        if let Some(m) = &metrics {
            m.keys.set(set.len() as i64);
        }
        KeyStore {
            current: RwLock::new(Arc::new(set)),
            sources: Mutex::new(sources),
            metrics,
            refetch: tokio::sync::Notify::new(),
        }
    }

    /// The keys to verify with now.
    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(k) => k.clone(),
            // Poisoned by a panic elsewhere: the value is still a whole set.
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replaces one source's keys and swaps in the new combined set.
    pub fn replace(&self, source: usize, keys: Vec<Arc<Key>>) {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = sources.get_mut(source) {
            *slot = keys;
        }
        let set = Arc::new(KeySet::new(sources.iter().flatten().cloned().collect()));
        if let Some(m) = &self.metrics {
            m.keys.set(set.len() as i64);
        }
        match self.current.write() {
            Ok(mut c) => *c = set,
            Err(p) => *p.into_inner() = set,
        }
    }

    /// Counts one load of a source after start-up.
    pub fn count_reload(&self, ok: bool) {
        if let Some(m) = &self.metrics {
            if ok {
                m.reload_ok.inc();
            } else {
                m.reload_error.inc();
            }
        }
    }

    /// Asks the JWKS URL task for a fetch (it rate-limits); a no-op without one.
    pub fn request_refetch(&self) {
        self.refetch.notify_one();
    }

    /// Completes when a refetch was requested.
    pub async fn refetch_requested(&self) {
        self.refetch.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn data(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/verify/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn spec(kind: FileKind) -> FileSpec {
        FileSpec {
            path: PathBuf::from("k"),
            kind,
            kid: Some("k1".into()),
            algorithm: None,
        }
    }

    #[test]
    fn pem_keys_get_the_algorithms_of_their_type() {
        let one = |name: &str| {
            let keys = parse_file(&spec(FileKind::Pem), &data(name)).unwrap();
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].kid.as_deref(), Some("k1"));
            keys[0].algorithms.clone()
        };
        assert_eq!(one("rsa.pub.pem"), AlgorithmFamily::Rsa.algorithms());
        assert_eq!(one("ec.pub.pem"), [Algorithm::ES256]);
        assert_eq!(one("ed.pub.pem"), [Algorithm::EdDSA]);
    }

    #[test]
    fn a_configured_algorithm_must_fit_the_key() {
        let mut s = spec(FileKind::Pem);
        s.algorithm = Some(Algorithm::PS256);
        assert_eq!(
            parse_file(&s, &data("rsa.pub.pem")).unwrap()[0].algorithms,
            [Algorithm::PS256]
        );
        s.algorithm = Some(Algorithm::HS256);
        let e = parse_file(&s, &data("rsa.pub.pem")).unwrap_err();
        assert!(e.contains("does not fit"), "{e}");
    }

    #[test]
    fn bad_pem_files_are_explained_without_their_content() {
        let e = parse_file(&spec(FileKind::Pem), &data("rsa.key.pem")).unwrap_err();
        assert!(e.contains("private key"), "{e}");
        let e = parse_file(&spec(FileKind::Pem), b"garbage").unwrap_err();
        assert!(e.contains("not a PEM public key"), "{e}");
    }

    #[test]
    fn hmac_secrets_are_trimmed_and_must_be_long_enough() {
        let keys = parse_file(&spec(FileKind::Hmac), &data("hmac.secret")).unwrap();
        assert_eq!(keys[0].algorithms, AlgorithmFamily::Hmac.algorithms());
        assert_eq!(keys[0].key.try_get_as_bytes().unwrap().len(), 64);
        let e = parse_file(&spec(FileKind::Hmac), b"short-secret\n").unwrap_err();
        assert!(e.contains("at least 32 bytes"), "{e}");
        assert!(!e.contains("short-secret"), "{e}");
    }

    fn jwk_json(pem: &str, alg: Algorithm, kid: &str) -> serde_json::Value {
        let key = match alg.family() {
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(&data(pem)).unwrap(),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(&data(pem)).unwrap(),
            _ => DecodingKey::from_ed_pem(&data(pem)).unwrap(),
        };
        let mut jwk = Jwk::from_decoding_key(&key, Some(alg)).unwrap();
        jwk.common.key_id = Some(kid.into());
        serde_json::to_value(jwk).unwrap()
    }

    #[test]
    fn jwks_keys_are_read_and_unusable_ones_skipped() {
        let mut enc = jwk_json("rsa.pub.pem", Algorithm::RS256, "enc");
        enc["use"] = "enc".into();
        let mut wrong_alg = jwk_json("ec.pub.pem", Algorithm::ES256, "wrong");
        wrong_alg["alg"] = "RS256".into();
        let doc = serde_json::json!({"keys": [
            jwk_json("rsa.pub.pem", Algorithm::RS256, "r"),
            jwk_json("ec.pub.pem", Algorithm::ES256, "e"),
            jwk_json("ed.pub.pem", Algorithm::EdDSA, "d"),
            {"kty": "oct", "kid": "short", "k": "c2hvcnQ"},
            {"kty": "oct", "kid": "h", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "weird"},
            enc,
            wrong_alg,
        ]});
        let (keys, skipped) = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let got: Vec<_> = keys
            .iter()
            .map(|k| (k.kid.clone().unwrap(), k.algorithms.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("r".to_string(), vec![Algorithm::RS256]),
                ("e".to_string(), vec![Algorithm::ES256]),
                ("d".to_string(), vec![Algorithm::EdDSA]),
                ("h".to_string(), AlgorithmFamily::Hmac.algorithms().to_vec()),
            ]
        );
        assert_eq!(skipped, 5);
    }

    #[test]
    fn jwks_errors_never_quote_the_document() {
        let secret = "c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1uZXZlci1sZWFr";
        for doc in [
            format!(r#"{{"keys": "{secret}"}}"#),
            format!(r#"{{"keys": [{{"kty":"oct","k":"{secret}"}}"#),
            format!(r#"["{secret}"]"#),
        ] {
            let e = parse_jwks(doc.as_bytes()).unwrap_err();
            assert!(!e.contains(secret), "{e}");
            assert!(e.contains("line 1"), "{e}");
        }
        let e = parse_jwks(br#"{"keys": [{"kty": "weird"}]}"#).unwrap_err();
        assert!(e.contains("none of its 1 keys"), "{e}");
        assert_eq!(parse_jwks(br#"{"keys": []}"#).unwrap().0.len(), 0);
    }

    #[test]
    fn selection_by_kid_and_algorithm() {
        let key = |kid: Option<&str>, algs: &[Algorithm]| {
            Arc::new(Key {
                kid: kid.map(String::from),
                algorithms: algs.to_vec(),
                key: DecodingKey::from_secret(b"x"),
            })
        };
        let empty = KeySet::default();
        assert!(matches!(
            empty.select(None, Algorithm::HS256),
            Selection::NoKeys
        ));
        let set = KeySet::new(vec![
            key(Some("a"), &[Algorithm::HS256]),
            key(Some("b"), &[Algorithm::RS256]),
            key(None, &[Algorithm::HS256]),
        ]);
        let n = |s: Selection<'_>| match s {
            Selection::Keys(k) => k.len(),
            other => panic!("{other:?}"),
        };
        // `a` and the key without kid.
        assert_eq!(n(set.select(Some("a"), Algorithm::HS256)), 2);
        assert_eq!(n(set.select(None, Algorithm::HS256)), 2);
        assert_eq!(n(set.select(Some("b"), Algorithm::RS256)), 1);
        assert!(matches!(
            set.select(Some("a"), Algorithm::RS256),
            Selection::WrongAlgorithm
        ));
        // Only the key without kid answers to any kid.
        assert_eq!(n(set.select(Some("zz"), Algorithm::HS256)), 1);
        assert!(matches!(
            set.select(Some("zz"), Algorithm::RS256),
            Selection::UnknownKid
        ));
        assert!(
            matches!(
                set.select(Some("zz"), Algorithm::EdDSA),
                Selection::UnknownKid
            ),
            "an unknown kid may be a key of a new type"
        );
        assert!(matches!(
            set.select(None, Algorithm::EdDSA),
            Selection::WrongAlgorithm
        ));
    }

    #[test]
    fn the_store_swaps_one_source_and_keeps_the_others() {
        let key = |kid: &str| {
            Arc::new(Key {
                kid: Some(kid.into()),
                algorithms: vec![Algorithm::HS256],
                key: DecodingKey::from_secret(b"x"),
            })
        };
        let store = KeyStore::new(vec![vec![key("a")], vec![key("b")]], None);
        let before = store.current();
        assert_eq!(before.len(), 2);
        store.replace(1, vec![key("c"), key("d")]);
        let after = store.current();
        assert_eq!(after.len(), 3);
        assert!(matches!(
            after.select(Some("a"), Algorithm::HS256),
            Selection::Keys(_)
        ));
        assert!(matches!(
            after.select(Some("b"), Algorithm::HS256),
            Selection::UnknownKid
        ));
        assert_eq!(before.len(), 2, "a reader's set never changes under it");
    }
}
