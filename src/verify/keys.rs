//! Verification keys: parsing key material into [`Key`]s, the [`KeySet`] a verification reads,
//! and the [`KeyStore`] that swaps it atomically when a source changes.
//!
//! Parsing is pure (bytes in, keys or a message out) so it is tested without files. A key knows
//! the algorithms it may verify: those of its type (RSA: RS*/PS*; EC: ES256 or ES384 by curve;
//! Ed25519: EdDSA; HMAC: HS* as far as the secret's length allows), narrowed by a JWK's `alg` or
//! the configured `algorithm`. That is what makes "an algorithm that does not fit the key"
//! refusable before any signature check.
//!
//! A key is refused at load when RFC 7518 forbids it (RSA under 2048 bits, §3.3; an HMAC secret
//! shorter than the hash, §3.2) or when it could never verify: the checks are those
//! jsonwebtoken's `rust_crypto` backend runs on every token (it builds an
//! `rsa::RsaPublicKey`, a `p256`/`p384` `VerifyingKey` from the SEC1 point, an `ed25519_dalek`
//! `VerifyingKey`), so a key that passes here fails a token only on its signature. They run
//! whichever library verifies RSA and ECDSA (AWS-LC by default, `ring` without the `aws-lc`
//! feature: `verify/crypto.rs`), so all accept the same keys: ring's and AWS-LC's
//! own limits are as wide or wider (RSA: 2048 to 8192 bits, an odd exponent of at most 33
//! bits; EC points are checked on the curve when a signature is verified), and what they
//! would take beyond them (RSA keys of 4097 to 8192 bits) is refused here as under
//! `rust_crypto`. A JWK is used
//! only when `use` and `key_ops` allow verification (RFC 7517 §4.2, §4.3). A JWKS keeps its
//! usable keys and reports each one it skipped ([`Skipped`]: which, and why) for the caller to log.
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
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use prometheus::{IntCounter, IntGauge};
use serde_json::Value;

/// Shortest HMAC secret accepted: RFC 7518 §3.2 wants at least the hash size (32 bytes for
/// HS256).
pub const MIN_HMAC_SECRET: usize = 32;
/// The shortest secret each HMAC algorithm accepts: its hash output (RFC 7518 §3.2).
const HMAC_MIN: [(Algorithm, usize); 3] = [
    (Algorithm::HS256, 32),
    (Algorithm::HS384, 48),
    (Algorithm::HS512, 64),
];
/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;
/// A skipped key's `kid` is cut to this many bytes in reports (a JWKS may hold anything).
const MAX_REPORTED_KID: usize = 128;
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

/// The keys a key file gave, and the JWKS keys it skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    pub keys: Vec<Key>,
    pub skipped: Vec<Skipped>,
}

/// Parses the bytes of a key file according to its spec: the keys alone (see [`load_file`]).
pub fn parse_file(spec: &FileSpec, bytes: &[u8]) -> Result<Vec<Key>, String> {
    load_file(spec, bytes).map(|l| l.keys)
}

/// Parses the bytes of a key file according to its spec. A PEM or HMAC file holds one key and
/// is an error when that key is refused; a JWKS also reports the keys it skipped.
pub fn load_file(spec: &FileSpec, bytes: &[u8]) -> Result<Loaded, String> {
    if bytes.len() > MAX_KEY_DOCUMENT {
        return Err(format!("larger than {MAX_KEY_DOCUMENT} bytes"));
    }
    let (key, algorithms) = match spec.kind {
        FileKind::Jwks => return load_jwks(bytes),
        FileKind::Pem => parse_pem(bytes)?,
        FileKind::Hmac => {
            let secret = bytes.trim_ascii();
            let algorithms = hmac_algorithms(secret.len(), spec.algorithm)?;
            (DecodingKey::from_secret(secret), algorithms)
        }
    };
    let algorithms = narrow(algorithms, spec.algorithm)?;
    Ok(Loaded {
        keys: vec![Key {
            kid: spec.kid.clone(),
            algorithms,
            key,
        }],
        skipped: Vec::new(),
    })
}

/// The HMAC algorithms a secret of `len` bytes may verify: each needs at least its hash output
/// (RFC 7518 §3.2). An error when it allows none, or not the configured one (`only`).
fn hmac_algorithms(len: usize, only: Option<Algorithm>) -> Result<Vec<Algorithm>, String> {
    if len < MIN_HMAC_SECRET {
        return Err(format!(
            "an HMAC secret must be at least {MIN_HMAC_SECRET} bytes (RFC 7518 §3.2), this one has {len}"
        ));
    }
    if let Some((a, min)) = HMAC_MIN.iter().find(|(a, _)| Some(*a) == only) {
        if len < *min {
            return Err(format!(
                "{a:?} needs an HMAC secret of at least {min} bytes (RFC 7518 §3.2), this one has {len}"
            ));
        }
    }
    Ok(HMAC_MIN
        .iter()
        .filter(|(_, min)| len >= *min)
        .map(|(a, _)| *a)
        .collect())
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
        // The PKCS#1 `RSAPublicKey` inside, also of a `PUBLIC KEY` (SPKI) file.
        check_rsa_pkcs1(raw(&k))?;
        return Ok((k, family_algorithms(AlgorithmFamily::Rsa)));
    }
    if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
        // The SEC1 point: 0x04 || x || y, 65 bytes on P-256, 97 on P-384.
        let alg = match raw(&k).len() {
            65 => Algorithm::ES256,
            97 => Algorithm::ES384,
            _ => return Err("an EC key on a curve other than P-256 or P-384".into()),
        };
        check_ec(raw(&k), alg)?;
        return Ok((k, vec![alg]));
    }
    if let Ok(k) = DecodingKey::from_ed_pem(bytes) {
        check_ed25519(raw(&k))?;
        return Ok((k, vec![Algorithm::EdDSA]));
    }
    Err("not a PEM public key (RSA, EC P-256/P-384 or Ed25519)".into())
}

/// The bytes a PEM- or JWK-made key holds (empty for RSA components, which have their own).
fn raw(key: &DecodingKey) -> &[u8] {
    match key.kind() {
        DecodingKeyKind::SecretOrDer(b) => b,
        DecodingKeyKind::RsaModulusExponent { .. } => &[],
    }
}

/// An RSA key as a PKCS#1 `RSAPublicKey` (what jsonwebtoken holds for a PEM file).
fn check_rsa_pkcs1(der: &[u8]) -> Result<(), String> {
    use rsa::pkcs1::der::Decode as _;
    let k = rsa::pkcs1::RsaPublicKey::from_der(der)
        .map_err(|_| "an RSA public key that cannot be decoded".to_owned())?;
    check_rsa(k.modulus.as_bytes(), k.public_exponent.as_bytes())
}

/// An RSA key from its modulus and exponent (big-endian): at least [`MIN_RSA_BITS`], and one
/// `rsa::RsaPublicKey::new` takes, as every verification with it calls that.
fn check_rsa(n: &[u8], e: &[u8]) -> Result<(), String> {
    let n = rsa::BigUint::from_bytes_be(n);
    let bits = n.bits();
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "an RSA key of {bits} bits; RFC 7518 §3.3 requires {MIN_RSA_BITS} bits or more"
        ));
    }
    match rsa::RsaPublicKey::new(n, rsa::BigUint::from_bytes_be(e)) {
        Ok(_) => Ok(()),
        Err(err) => Err(match err {
            rsa::Error::ModulusTooLarge => format!(
                "an RSA key of {bits} bits; this exporter takes at most {} (RustCrypto's limit, \
                 kept whichever library verifies)",
                rsa::RsaPublicKey::MAX_SIZE
            ),
            rsa::Error::InvalidModulus => {
                "an RSA modulus that is even or not larger than the exponent".into()
            }
            rsa::Error::InvalidExponent => "an even RSA public exponent".into(),
            rsa::Error::PublicExponentTooSmall => "an RSA public exponent of 1".into(),
            rsa::Error::PublicExponentTooLarge => format!(
                "an RSA public exponent above {} (the verification library's limit)",
                rsa::RsaPublicKey::MAX_PUB_EXPONENT
            ),
            _ => "an RSA key the verification library refuses".into(),
        }),
    }
}

/// An EC public key (SEC1 `0x04 || x || y`) for ES256 (P-256) or ES384 (P-384): a point on
/// that curve, as the verification reads it.
fn check_ec(point: &[u8], alg: Algorithm) -> Result<(), String> {
    let (on_curve, curve) = match alg {
        Algorithm::ES256 => (
            p256::ecdsa::VerifyingKey::from_sec1_bytes(point).is_ok(),
            "P-256",
        ),
        Algorithm::ES384 => (
            p384::ecdsa::VerifyingKey::from_sec1_bytes(point).is_ok(),
            "P-384",
        ),
        _ => (false, "a supported curve"),
    };
    if on_curve {
        Ok(())
    } else {
        Err(format!("an EC public key that is not a point on {curve}"))
    }
}

/// An Ed25519 public key: 32 bytes that decode to a curve point. (jsonwebtoken reads the first
/// 32 bytes of whatever it is given, and panics on fewer.)
fn check_ed25519(x: &[u8]) -> Result<(), String> {
    let bytes: &[u8; 32] = x
        .try_into()
        .map_err(|_| format!("an Ed25519 public key of {} bytes (32 expected)", x.len()))?;
    ed25519_dalek::VerifyingKey::from_bytes(bytes)
        .map(drop)
        .map_err(|_| "an Ed25519 public key that is not a point on the curve".into())
}

/// Why a JWKS key was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipKind {
    /// Not a verification key here: `use` or `key_ops` say it is for something else, or its
    /// type, curve or `alg` is one this exporter does not verify with. Reported, not an error.
    Ignored,
    /// Meant to verify, but must not or cannot: too weak for RFC 7518, not a valid key, or
    /// inconsistent. Reported as an error.
    Refused,
}

/// A JWKS key that was skipped: which one and why, without key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its place in the `keys` array, from 1.
    pub position: usize,
    /// Its `kid` (cut to 128 bytes), when it has one.
    pub kid: Option<String>,
    pub kind: SkipKind,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            // Debug: quoted, control characters escaped.
            Some(kid) => write!(f, "key {} (kid {kid:?}): {}", self.position, self.reason),
            None => write!(f, "key {} (no kid): {}", self.position, self.reason),
        }
    }
}

/// Parses a JWKS document: the keys alone and how many were skipped (see [`load_jwks`]).
pub fn parse_jwks(bytes: &[u8]) -> Result<(Vec<Key>, usize), String> {
    load_jwks(bytes).map(|l| {
        let skipped = l.skipped.len();
        (l.keys, skipped)
    })
}

/// Parses a JWKS document. Keys that cannot or must not verify here are skipped and reported
/// ([`Skipped`]); a document that is not a JWKS at all, or whose every key was skipped, is an
/// error (naming the first few keys and why).
pub fn load_jwks(bytes: &[u8]) -> Result<Loaded, String> {
    #[derive(serde::Deserialize)]
    struct Doc {
        keys: Vec<Value>,
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
    let mut loaded = Loaded::default();
    for (i, value) in doc.keys.into_iter().enumerate() {
        let kid = value.get("kid").and_then(Value::as_str).map(reported_kid);
        match jwk_key(&value) {
            Ok(key) => loaded.keys.push(key),
            Err((kind, reason)) => loaded.skipped.push(Skipped {
                position: i + 1,
                kid,
                kind,
                reason,
            }),
        }
    }
    if total > 0 && loaded.keys.is_empty() {
        const SHOWN: usize = 3;
        let mut why: Vec<String> = loaded
            .skipped
            .iter()
            .take(SHOWN)
            .map(Skipped::to_string)
            .collect();
        if total > SHOWN {
            why.push(format!("and {} more", total - SHOWN));
        }
        return Err(format!(
            "none of its {total} keys can verify signatures: {}",
            why.join("; ")
        ));
    }
    Ok(loaded)
}

fn reported_kid(kid: &str) -> String {
    if kid.len() <= MAX_REPORTED_KID {
        return kid.to_owned();
    }
    let mut end = MAX_REPORTED_KID;
    while !kid.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &kid[..end])
}

/// One JWK as a verification key, or why not. Reasons are fixed texts and numbers: a JWK's
/// values are never quoted (an `oct` key is a secret).
fn jwk_key(value: &Value) -> Result<Key, (SkipKind, String)> {
    let ignored = |why: &str| (SkipKind::Ignored, why.to_owned());
    let refused = |why: String| (SkipKind::Refused, why);
    if !value.is_object() {
        return Err(refused("not a JSON object".into()));
    }
    purpose(value)?;
    let kty = value.get("kty").and_then(Value::as_str);
    match (kty, value.get("crv").and_then(Value::as_str)) {
        (Some("RSA" | "oct"), _)
        | (Some("EC"), Some("P-256" | "P-384"))
        | (Some("OKP"), Some("Ed25519")) => {}
        (Some("EC"), Some("P-521")) => {
            return Err(ignored(
                "an EC key on P-521: the verification library has no ES512",
            ))
        }
        (Some("EC" | "OKP"), Some(_)) => {
            return Err(ignored("a curve this exporter does not verify with"))
        }
        (Some("EC" | "OKP"), None) => return Err(refused("an EC or OKP key without `crv`".into())),
        (Some(_), _) => return Err(ignored("a key type this exporter does not verify with")),
        (None, _) => return Err(refused("no `kty`".into())),
    }
    let only = match value.get("alg") {
        None => None,
        Some(Value::String(name)) => match Algorithm::from_str(name) {
            Ok(a) => Some(a),
            Err(_) if name == "ES512" => {
                return Err(ignored(
                    "`alg` ES512: the verification library does not support it",
                ))
            }
            Err(_) => {
                return Err(ignored(
                    "an `alg` that is not a signature algorithm this exporter verifies",
                ))
            }
        },
        Some(_) => return Err(refused("an `alg` that is not a string".into())),
    };
    let jwk: Jwk = serde_json::from_value(value.clone())
        .map_err(|_| refused("members missing or of the wrong type for its `kty`".into()))?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|_| refused("members that are not valid base64url".into()))?;
    let algorithms = match (&jwk.algorithm, key.kind()) {
        (AlgorithmParameters::RSA(_), DecodingKeyKind::RsaModulusExponent { n, e }) => {
            check_rsa(n, e).map_err(refused)?;
            family_algorithms(AlgorithmFamily::Rsa)
        }
        (AlgorithmParameters::EllipticCurve(p), DecodingKeyKind::SecretOrDer(point)) => {
            let alg = match p.curve {
                EllipticCurve::P384 => Algorithm::ES384,
                _ => Algorithm::ES256,
            };
            check_ec(point, alg).map_err(refused)?;
            vec![alg]
        }
        (AlgorithmParameters::OctetKeyPair(_), DecodingKeyKind::SecretOrDer(x)) => {
            check_ed25519(x).map_err(refused)?;
            vec![Algorithm::EdDSA]
        }
        (AlgorithmParameters::OctetKey(_), DecodingKeyKind::SecretOrDer(secret)) => {
            hmac_algorithms(secret.len(), only).map_err(refused)?
        }
        _ => return Err(refused("members missing for its `kty`".into())),
    };
    let algorithms = narrow(algorithms, only).map_err(refused)?;
    Ok(Key {
        kid: jwk.common.key_id,
        algorithms,
        key,
    })
}

/// RFC 7517 §4.2 and §4.3: `use` and `key_ops` say what a key is for. It may verify only when
/// `use` (if present) is `sig` and `key_ops` (if present) includes `verify`; when both are
/// present they must agree, or the key is unusable.
fn purpose(value: &Value) -> Result<(), (SkipKind, String)> {
    const SIGNATURE_OPS: [&str; 2] = ["sign", "verify"];
    const ENCRYPTION_OPS: [&str; 6] = [
        "encrypt",
        "decrypt",
        "wrapKey",
        "unwrapKey",
        "deriveKey",
        "deriveBits",
    ];
    let refused = |why: &str| (SkipKind::Refused, why.to_owned());
    let ignored = |why: &str| (SkipKind::Ignored, why.to_owned());
    let use_ = match value.get("use") {
        None => None,
        Some(Value::String(u)) => Some(u.as_str()),
        Some(_) => return Err(refused("a `use` that is not a string")),
    };
    let ops: Option<Vec<&str>> = match value.get("key_ops") {
        None => None,
        Some(Value::Array(ops)) => Some(
            ops.iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or_else(|| refused("a `key_ops` value that is not a string"))?,
        ),
        Some(_) => return Err(refused("a `key_ops` that is not an array")),
    };
    if let (Some(u), Some(ops)) = (use_, &ops) {
        let other = match u {
            "sig" => &ENCRYPTION_OPS[..],
            "enc" => &SIGNATURE_OPS[..],
            _ => &[][..],
        };
        if ops.iter().any(|op| other.contains(op)) {
            return Err(refused(
                "`use` and `key_ops` contradict each other (RFC 7517 §4.3)",
            ));
        }
    }
    if use_.is_some_and(|u| u != "sig") {
        return Err(ignored("`use` is not `sig`"));
    }
    if ops.is_some_and(|ops| !ops.contains(&"verify")) {
        return Err(ignored("`key_ops` does not include `verify`"));
    }
    Ok(())
}

/// The keys a verification reads: every source's last good keys, combined.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<Arc<Key>>,
    /// Unique and increasing in the process: the verified-token cache drops what it holds
    /// when it sees a newer one (`verify::cache`).
    generation: u64,
}

impl Default for KeySet {
    fn default() -> Self {
        KeySet::new(Vec::new())
    }
}

/// Which keys may verify a token, from its `kid` and `alg`.
#[derive(Debug)]
pub enum Selection<'a> {
    Keys(Vec<&'a Arc<Key>>),
    /// The token names a `kid` no key has.
    UnknownKid,
    /// No key at all is loaded.
    NoKeys,
    /// Keys exist (with that `kid`, or at all), but none fits the token's algorithm.
    WrongAlgorithm,
}

impl KeySet {
    pub fn new(keys: Vec<Arc<Key>>) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static GENERATION: AtomicU64 = AtomicU64::new(1);
        KeySet {
            keys,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// This set's generation: a set made later has a larger one.
    pub fn generation(&self) -> u64 {
        self.generation
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
                fitting.push(k);
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
    current: ArcSwap<KeySet>,
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
            current: ArcSwap::from_pointee(set),
            sources: Mutex::new(sources),
            metrics,
            refetch: tokio::sync::Notify::new(),
        }
    }

    /// The keys to verify with now.
    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
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
        self.current.store(set);
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

    /// Counts the keys a load refused ([`SkipKind::Refused`]): each is an error, though the
    /// load kept the source's other keys.
    pub fn count_refused(&self, skipped: &[Skipped]) {
        let refused = skipped
            .iter()
            .filter(|s| s.kind == SkipKind::Refused)
            .count();
        if let Some(m) = &self.metrics {
            m.reload_error.inc_by(refused as u64);
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
                // 32 bytes: HS256 only (RFC 7518 §3.2).
                ("h".to_string(), vec![Algorithm::HS256]),
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

    fn b64u(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn unb64u(text: &Value) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.as_str().unwrap())
            .unwrap()
    }

    /// An odd number of exactly `bits` bits, made here: loading reads only an RSA modulus's
    /// size and shape, so it need not be a real key's.
    fn modulus(bits: usize) -> Vec<u8> {
        let mut x: u32 = 0x2545_f491;
        let mut n: Vec<u8> = (0..bits.div_ceil(8))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        let top = (bits - 1) % 8;
        n[0] = (n[0] & ((1u16 << (top + 1)) - 1) as u8) | (1 << top);
        *n.last_mut().unwrap() |= 1;
        n
    }

    fn rsa_jwk(n: &[u8], e: &[u8]) -> Value {
        serde_json::json!({"kty": "RSA", "kid": "r", "n": b64u(n), "e": b64u(e)})
    }

    fn refused(r: Result<Key, (SkipKind, String)>) -> String {
        match r {
            Err((SkipKind::Refused, why)) => why,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn rsa_keys_under_2048_bits_are_refused() {
        let e = [1, 0, 1];
        for bits in [1024, 2047, 4097, 8192] {
            let why = refused(jwk_key(&rsa_jwk(&modulus(bits), &e)));
            assert!(why.contains(&format!("an RSA key of {bits} bits")), "{why}");
        }
        for bits in [2048, 3072, 4096] {
            let key = jwk_key(&rsa_jwk(&modulus(bits), &e)).unwrap();
            assert_eq!(key.algorithms, AlgorithmFamily::Rsa.algorithms(), "{bits}");
        }
        // Real keys made by openssl: the 2048-bit one loads from PEM and as a JWK, the
        // 1024-bit one (which signs tokens just fine) from neither.
        let e = parse_file(&spec(FileKind::Pem), &data("rsa1024.pub.pem")).unwrap_err();
        assert_eq!(
            e,
            "an RSA key of 1024 bits; RFC 7518 §3.3 requires 2048 bits or more"
        );
        let why = refused(jwk_key(&jwk_json("rsa1024.pub.pem", Algorithm::RS256, "s")));
        assert_eq!(why, e);
        assert!(jwk_key(&jwk_json("rsa.pub.pem", Algorithm::RS256, "r")).is_ok());
    }

    #[test]
    fn rsa_exponents_that_can_never_verify_are_refused() {
        use rsa::pkcs1::EncodeRsaPublicKey as _;
        let n = modulus(2048);
        for (e, want) in [
            (&[1u8][..], "an RSA public exponent of 1"),
            (&[0], "an even RSA public exponent"),
            (&[1, 0, 0], "an even RSA public exponent"),
            (
                &[1, 0, 0, 0, 0, 1],
                "an RSA public exponent above 8589934591 (the verification library's limit)",
            ),
        ] {
            assert_eq!(refused(jwk_key(&rsa_jwk(&n, e))), want, "e = {e:?}");
            // The same key as a PEM file (PKCS#1 `RSA PUBLIC KEY`).
            let pem = rsa::RsaPublicKey::new_unchecked(
                rsa::BigUint::from_bytes_be(&n),
                rsa::BigUint::from_bytes_be(e),
            )
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .unwrap();
            let err = parse_file(&spec(FileKind::Pem), pem.as_bytes()).unwrap_err();
            assert_eq!(err, want, "PEM, e = {e:?}");
        }
        // e = 3 is small but sound.
        assert!(jwk_key(&rsa_jwk(&n, &[3])).is_ok());
    }

    #[test]
    fn hmac_secrets_verify_only_the_algorithms_their_length_allows() {
        let all = AlgorithmFamily::Hmac.algorithms();
        for (len, allowed) in [
            (32, &all[..1]),
            (47, &all[..1]),
            (48, &all[..2]),
            (63, &all[..2]),
            (64, all),
        ] {
            let secret = vec![b'k'; len];
            let jwk = serde_json::json!({"kty": "oct", "kid": "h", "k": b64u(&secret)});
            let file = parse_file(&spec(FileKind::Hmac), &secret).unwrap();
            assert_eq!(file[0].algorithms, allowed, "file, {len} bytes");
            assert_eq!(
                jwk_key(&jwk).unwrap().algorithms,
                allowed,
                "JWK, {len} bytes"
            );
            for &alg in all {
                // Narrowed to one algorithm by `algorithm` or the JWK's `alg`.
                let mut s = spec(FileKind::Hmac);
                s.algorithm = Some(alg);
                let mut one = jwk.clone();
                one["alg"] = format!("{alg:?}").into();
                if allowed.contains(&alg) {
                    assert_eq!(parse_file(&s, &secret).unwrap()[0].algorithms, [alg]);
                    assert_eq!(jwk_key(&one).unwrap().algorithms, [alg]);
                } else {
                    let min = match alg {
                        Algorithm::HS384 => 48,
                        _ => 64,
                    };
                    let want = format!(
                        "{alg:?} needs an HMAC secret of at least {min} bytes (RFC 7518 §3.2), this one has {len}"
                    );
                    assert_eq!(parse_file(&s, &secret).unwrap_err(), want);
                    assert_eq!(refused(jwk_key(&one)), want);
                }
            }
        }
        let short = [b'k'; 31];
        assert!(parse_file(&spec(FileKind::Hmac), &short)
            .unwrap_err()
            .contains("at least 32 bytes"));
        let why = refused(jwk_key(
            &serde_json::json!({"kty": "oct", "k": b64u(&short)}),
        ));
        assert!(why.contains("at least 32 bytes"), "{why}");
    }

    #[test]
    fn key_ops_and_use_decide_whether_a_jwk_may_verify() {
        use SkipKind::{Ignored, Refused};
        let base = jwk_json("rsa.pub.pem", Algorithm::RS256, "r");
        let contradict = "`use` and `key_ops` contradict each other (RFC 7517 §4.3)";
        let cases: [(Value, Option<(SkipKind, &str)>); 13] = [
            (serde_json::json!({}), None),
            (serde_json::json!({"key_ops": ["verify"]}), None),
            (serde_json::json!({"key_ops": ["sign", "verify"]}), None),
            (
                serde_json::json!({"key_ops": ["encrypt"]}),
                Some((Ignored, "`key_ops` does not include `verify`")),
            ),
            (
                serde_json::json!({"key_ops": []}),
                Some((Ignored, "`key_ops` does not include `verify`")),
            ),
            (serde_json::json!({"use": "sig"}), None),
            (
                serde_json::json!({"use": "enc"}),
                Some((Ignored, "`use` is not `sig`")),
            ),
            (
                serde_json::json!({"use": "sig", "key_ops": ["verify"]}),
                None,
            ),
            (
                serde_json::json!({"use": "sig", "key_ops": ["verify", "encrypt"]}),
                Some((Refused, contradict)),
            ),
            (
                serde_json::json!({"use": "sig", "key_ops": ["wrapKey"]}),
                Some((Refused, contradict)),
            ),
            (
                serde_json::json!({"use": "enc", "key_ops": ["verify"]}),
                Some((Refused, contradict)),
            ),
            (
                serde_json::json!({"key_ops": "verify"}),
                Some((Refused, "a `key_ops` that is not an array")),
            ),
            (
                serde_json::json!({"use": ["sig"]}),
                Some((Refused, "a `use` that is not a string")),
            ),
        ];
        for (members, want) in cases {
            let mut jwk = base.clone();
            for (k, v) in members.as_object().unwrap() {
                jwk[k] = v.clone();
            }
            let got = jwk_key(&jwk);
            match want {
                None => assert_eq!(got.unwrap().algorithms, [Algorithm::RS256], "{members}"),
                Some((kind, why)) => {
                    let (k, w) = got.unwrap_err();
                    assert_eq!((k, w.as_str()), (kind, why), "{members}");
                }
            }
        }
    }

    #[test]
    fn ec_points_off_their_curve_are_refused() {
        let good = jwk_json("ec.pub.pem", Algorithm::ES256, "e");
        assert_eq!(jwk_key(&good).unwrap().algorithms, [Algorithm::ES256]);
        let mut off = good.clone();
        let mut y = unb64u(&good["y"]);
        y[31] ^= 1;
        off["y"] = b64u(&y).into();
        assert_eq!(
            refused(jwk_key(&off)),
            "an EC public key that is not a point on P-256"
        );
        // Coordinates of P-384's size under `"crv": "P-256"`.
        let mut sized = good.clone();
        sized["x"] = b64u(&[1; 48]).into();
        sized["y"] = b64u(&[2; 48]).into();
        assert_eq!(
            refused(jwk_key(&sized)),
            "an EC public key that is not a point on P-256"
        );
        let mut p384 = sized.clone();
        p384["crv"] = "P-384".into();
        p384.as_object_mut().unwrap().remove("alg");
        assert_eq!(
            refused(jwk_key(&p384)),
            "an EC public key that is not a point on P-384"
        );
        // The same off-curve point in a PEM file: the SPKI ends with y.
        let pem = String::from_utf8(data("ec.pub.pem")).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut der = b64.decode(body).unwrap();
        *der.last_mut().unwrap() ^= 1;
        let bad = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64.encode(&der)
        );
        assert_eq!(
            parse_file(&spec(FileKind::Pem), bad.as_bytes()).unwrap_err(),
            "an EC public key that is not a point on P-256"
        );
    }

    #[test]
    fn ed25519_keys_that_are_not_a_point_are_refused() {
        let good = jwk_json("ed.pub.pem", Algorithm::EdDSA, "d");
        assert_eq!(jwk_key(&good).unwrap().algorithms, [Algorithm::EdDSA]);
        // y = 2 has no x on edwards25519: (y² − 1) / (d·y² + 1) is not a square mod p.
        let mut no_point = [0u8; 32];
        no_point[0] = 2;
        let okp = |x: &[u8]| serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(x)});
        assert_eq!(
            refused(jwk_key(&okp(&no_point))),
            "an Ed25519 public key that is not a point on the curve"
        );
        // Shorter than 32 bytes: jsonwebtoken would panic on the first token.
        assert_eq!(
            refused(jwk_key(&okp(&[9; 31]))),
            "an Ed25519 public key of 31 bytes (32 expected)"
        );
    }

    #[test]
    fn a_jwks_keeps_its_good_keys_and_names_each_skipped_one() {
        let secret = b"a-secret-of-forty-bytes-never-quoted-!!!";
        let mut e1 = jwk_json("rsa.pub.pem", Algorithm::RS256, "e1");
        e1["e"] = "AQ".into();
        let mut enc_only = jwk_json("rsa2.pub.pem", Algorithm::RS256, "enc-only");
        enc_only["key_ops"] = serde_json::json!(["encrypt"]);
        let doc = serde_json::json!({"keys": [
            jwk_json("rsa.pub.pem", Algorithm::RS256, "good"),
            jwk_json("rsa1024.pub.pem", Algorithm::RS256, "small\nkid"),
            e1,
            enc_only,
            {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
            {"kty": "oct", "kid": "hs512", "alg": "HS512", "k": b64u(secret)},
            {"kty": "oct", "k": b64u(&secret[..31])},
        ]});
        let text = doc.to_string();
        let loaded = load_jwks(text.as_bytes()).unwrap();
        let kids: Vec<_> = loaded.keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("good")]);
        let report: Vec<String> = loaded.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            report,
            [
                r#"key 2 (kid "small\nkid"): an RSA key of 1024 bits; RFC 7518 §3.3 requires 2048 bits or more"#,
                r#"key 3 (kid "e1"): an RSA public exponent of 1"#,
                r#"key 4 (kid "enc-only"): `key_ops` does not include `verify`"#,
                r#"key 5 (kid "p521"): an EC key on P-521: the verification library has no ES512"#,
                r#"key 6 (kid "hs512"): HS512 needs an HMAC secret of at least 64 bytes (RFC 7518 §3.2), this one has 40"#,
                "key 7 (no kid): an HMAC secret must be at least 32 bytes (RFC 7518 §3.2), this one has 31",
            ]
        );
        let kinds: Vec<_> = loaded.skipped.iter().map(|s| s.kind).collect();
        use SkipKind::{Ignored, Refused};
        assert_eq!(
            kinds,
            [Refused, Refused, Ignored, Ignored, Refused, Refused]
        );
        // A document of bad keys only is an error that names them, still without key material.
        let bad = serde_json::json!({"keys": [
            jwk_json("rsa1024.pub.pem", Algorithm::RS256, "small"),
            {"kty": "oct", "kid": "hs", "k": b64u(&secret[..20])},
        ]});
        let e = load_jwks(bad.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            e,
            "none of its 2 keys can verify signatures: key 1 (kid \"small\"): an RSA key of 1024 \
             bits; RFC 7518 §3.3 requires 2048 bits or more; key 2 (kid \"hs\"): an HMAC secret \
             must be at least 32 bytes (RFC 7518 §3.2), this one has 20"
        );
        let secret_text = String::from_utf8_lossy(&secret[..20]).into_owned();
        assert!(
            !e.contains(&secret_text) && !e.contains(&b64u(&secret[..20])),
            "{e}"
        );
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
