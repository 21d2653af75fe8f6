//! The signature checks behind jsonwebtoken: RSA (RS256/384/512, PS256/384/512) and ECDSA
//! (ES256, ES384) through AWS-LC (`aws-lc-rs`, the default `aws-lc` feature) or, built without
//! it, through `ring`; everything else (HMAC, EdDSA, and every signing, which only tests and
//! `examples/verify_load` do) through jsonwebtoken's own RustCrypto provider.
//!
//! Why: an RS256 check costs 165–235 µs with RustCrypto's `rsa` on the bench machine, ~30 µs
//! with `ring` and ~23 µs with AWS-LC, which, unlike `ring`, can keep a key parsed across
//! tokens (`ring` computes the modulus's Montgomery constants again for every signature:
//! a quarter of its RS256 check). `cargo bench --bench signature`, benches/README.md.
//! jsonwebtoken's [`CryptoProvider`] is the seam it offers for exactly this; the JWT parsing,
//! the claims and their validation stay jsonwebtoken's.
//!
//! The parsed keys: jsonwebtoken asks its provider for a verifier per token, with the
//! [`DecodingKey`] alone, so each thread keeps the last [`PARSED_PER_THREAD`] keys it parsed,
//! found again by algorithm and exact key bytes. Bounded, and keys come only from the
//! configuration and JWKS documents, never from tokens.
//!
//! Same keys, same answers: [`keys`](super::keys) refuses at load every key outside what all
//! three libraries take (RSA 2048 to 4096 bits with an odd exponent of at most 33 bits; EC
//! points on their curve), so they differ only in speed. An EC key that is not an uncompressed
//! point of its curve's length (SEC1 also allows compressed ones, which `ring` does not read)
//! goes to RustCrypto with either library. The tests below check every algorithm against
//! jsonwebtoken's RustCrypto provider on valid, altered, truncated and foreign signatures.

use std::sync::{LazyLock, Once};

use jsonwebtoken::crypto::{rust_crypto, CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::Result;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

#[cfg(feature = "aws-lc")]
use aws_lc_rs::signature as sig;
#[cfg(not(feature = "aws-lc"))]
use ring::signature as sig;

/// The library that checks RSA and ECDSA signatures in this build.
pub const LIBRARY: &str = if cfg!(feature = "aws-lc") {
    "aws-lc"
} else {
    "ring"
};

/// How many parsed keys each thread keeps (AWS-LC only).
pub const PARSED_PER_THREAD: usize = 32;

/// jsonwebtoken's RustCrypto provider with this module's verifier factory in place of its own
/// (RSA and ECDSA through the library above, each key parsed once per thread).
pub static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    verifier_factory: verifier,
    ..rust_crypto::DEFAULT_PROVIDER.clone()
});

/// Makes [`PROVIDER`] jsonwebtoken's process-wide provider. Idempotent; must run before the
/// first signature or verification (jsonwebtoken otherwise fixes its feature default on first
/// use), so the daemon calls it first thing and [`Verifier::new`](super::Verifier::new) calls it
/// too. If another provider was installed first, that one stays: it answers the same, slower.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if CryptoProvider::install_default(&PROVIDER).is_err() {
            tracing::debug!("a jsonwebtoken crypto provider was installed before ours");
        }
    });
}

/// What the library checks a signature with.
#[derive(Clone, Copy)]
enum Scheme {
    Rsa(&'static sig::RsaParameters),
    /// The algorithm and the length of an uncompressed point of its curve.
    Ecdsa(&'static sig::EcdsaVerificationAlgorithm, usize),
}

fn scheme(alg: Algorithm) -> Option<Scheme> {
    Some(match alg {
        Algorithm::RS256 => Scheme::Rsa(&sig::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => Scheme::Rsa(&sig::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => Scheme::Rsa(&sig::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => Scheme::Rsa(&sig::RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => Scheme::Rsa(&sig::RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => Scheme::Rsa(&sig::RSA_PSS_2048_8192_SHA512),
        Algorithm::ES256 => Scheme::Ecdsa(&sig::ECDSA_P256_SHA256_FIXED, 65),
        Algorithm::ES384 => Scheme::Ecdsa(&sig::ECDSA_P384_SHA384_FIXED, 97),
        _ => return None,
    })
}

/// The public key as the library reads it, borrowed from the [`DecodingKey`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Public<'a> {
    /// PKCS#1 `RSAPublicKey` DER (a PEM key) or a SEC1 uncompressed EC point.
    Bytes(&'a [u8]),
    /// An RSA key from a JWK: modulus and exponent, big-endian, without leading zeros.
    RsaComponents { n: &'a [u8], e: &'a [u8] },
}

/// The key in the form `scheme` reads, or `None` for RustCrypto's (a key of another family,
/// a compressed EC point).
fn public(scheme: Scheme, key: &DecodingKey) -> Option<Public<'_>> {
    match (scheme, key.family(), key.kind()) {
        (Scheme::Rsa(_), AlgorithmFamily::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
            Some(Public::Bytes(der))
        }
        (Scheme::Rsa(_), AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Some(Public::RsaComponents {
                n: without_leading_zeros(n),
                e: without_leading_zeros(e),
            })
        }
        (Scheme::Ecdsa(_, len), AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point))
            if point.len() == len && point.first() == Some(&4) =>
        {
            Some(Public::Bytes(point))
        }
        _ => None,
    }
}

fn without_leading_zeros(b: &[u8]) -> &[u8] {
    let zeros = b.iter().take_while(|&&x| x == 0).count();
    &b[zeros..]
}

/// The verifier factory of [`PROVIDER`]: the library's for RSA and ECDSA keys it reads,
/// jsonwebtoken's RustCrypto for the rest (including the errors a key of the wrong family gets).
fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let fallback = rust_crypto::DEFAULT_PROVIDER.verifier_factory;
    let Some((scheme, public)) = scheme(*alg).and_then(|s| Some((s, public(s, key)?))) else {
        return fallback(alg, key);
    };
    Ok(Box::new(Checker {
        alg: *alg,
        check: backend::check(*alg, scheme, public),
    }))
}

/// One token's signature check.
struct Checker {
    alg: Algorithm,
    check: backend::Check,
}

impl signature::Verifier<Vec<u8>> for Checker {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        self.check
            .verify(msg, sig)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Checker {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// `ring`: the key as bytes, read again for every signature (it has no parsed public key).
#[cfg(not(feature = "aws-lc"))]
mod backend {
    use super::{sig, Public, Scheme};
    use jsonwebtoken::Algorithm;
    use ring::error::Unspecified;
    use sig::VerificationAlgorithm;

    pub struct Check {
        scheme: Scheme,
        public: Owned,
    }

    enum Owned {
        Bytes(Vec<u8>),
        RsaComponents { n: Vec<u8>, e: Vec<u8> },
    }

    pub fn check(_: Algorithm, scheme: Scheme, public: Public<'_>) -> Check {
        let public = match public {
            Public::Bytes(b) => Owned::Bytes(b.to_vec()),
            Public::RsaComponents { n, e } => Owned::RsaComponents {
                n: n.to_vec(),
                e: e.to_vec(),
            },
        };
        Check { scheme, public }
    }

    impl Check {
        pub fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), Unspecified> {
            match (&self.public, self.scheme) {
                (Owned::Bytes(der), Scheme::Rsa(params)) => {
                    sig::UnparsedPublicKey::new(params as &dyn VerificationAlgorithm, der)
                        .verify(msg, signature)
                }
                (Owned::RsaComponents { n, e }, Scheme::Rsa(params)) => {
                    sig::RsaPublicKeyComponents { n, e }.verify(params, msg, signature)
                }
                (Owned::Bytes(point), Scheme::Ecdsa(alg, _)) => {
                    sig::UnparsedPublicKey::new(alg as &dyn VerificationAlgorithm, point)
                        .verify(msg, signature)
                }
                (Owned::RsaComponents { .. }, Scheme::Ecdsa(..)) => Err(Unspecified),
            }
        }
    }
}

/// AWS-LC: each key parsed once per thread ([`PARSED_PER_THREAD`](super::PARSED_PER_THREAD)).
#[cfg(feature = "aws-lc")]
mod backend {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::sync::Arc;

    use super::{sig, Public, Scheme, PARSED_PER_THREAD};
    use aws_lc_rs::error::Unspecified;
    use jsonwebtoken::Algorithm;
    use sig::ParsedPublicKey;

    /// A parsed key, or `None` for bytes the library refused (every signature then fails, as
    /// with `ring`, which reads the key only when it verifies).
    pub struct Check(Option<Arc<ParsedPublicKey>>);

    /// A key parsed by this thread: the algorithm and the exact bytes it was parsed from.
    struct Parsed {
        alg: Algorithm,
        bytes: Vec<u8>,
        /// Where the exponent starts in `bytes` (JWK components: `n` then `e`); `None` for
        /// a key given as one byte string.
        e_at: Option<usize>,
        key: Arc<ParsedPublicKey>,
    }

    impl Parsed {
        fn is(&self, alg: Algorithm, public: Public<'_>) -> bool {
            self.alg == alg
                && match (public, self.e_at) {
                    (Public::Bytes(b), None) => self.bytes == b,
                    (Public::RsaComponents { n, e }, Some(at)) => {
                        self.bytes[..at] == *n && self.bytes[at..] == *e
                    }
                    _ => false,
                }
        }
    }

    thread_local! {
        static PARSED: RefCell<VecDeque<Parsed>> = const { RefCell::new(VecDeque::new()) };
    }

    pub fn check(alg: Algorithm, scheme: Scheme, public: Public<'_>) -> Check {
        let found = PARSED.with_borrow(|parsed| {
            parsed
                .iter()
                .find(|p| p.is(alg, public))
                .map(|p| Arc::clone(&p.key))
        });
        if let Some(key) = found {
            return Check(Some(key));
        }
        let parsed = match (scheme, public) {
            (Scheme::Rsa(params), Public::Bytes(der)) => ParsedPublicKey::new(params, der),
            (Scheme::Rsa(params), Public::RsaComponents { n, e }) => {
                sig::RsaPublicKeyComponents { n, e }.to_parsed_public_key(params)
            }
            (Scheme::Ecdsa(alg, _), Public::Bytes(point)) => ParsedPublicKey::new(alg, point),
            (Scheme::Ecdsa(..), Public::RsaComponents { .. }) => return Check(None),
        };
        let Ok(key) = parsed.map(Arc::new) else {
            return Check(None);
        };
        let (bytes, e_at) = match public {
            Public::Bytes(b) => (b.to_vec(), None),
            Public::RsaComponents { n, e } => ([n, e].concat(), Some(n.len())),
        };
        PARSED.with_borrow_mut(|parsed| {
            if parsed.len() >= PARSED_PER_THREAD {
                parsed.pop_front();
            }
            parsed.push_back(Parsed {
                alg,
                bytes,
                e_at,
                key: Arc::clone(&key),
            });
        });
        Check(Some(key))
    }

    /// How many keys this thread holds parsed.
    #[cfg(test)]
    pub fn parsed_here() -> usize {
        PARSED.with_borrow(VecDeque::len)
    }

    impl Check {
        pub fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), Unspecified> {
            match &self.0 {
                Some(key) => key.verify_sig(msg, signature),
                None => Err(Unspecified),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use jsonwebtoken::EncodingKey;
    use proptest::prelude::*;

    // The verify tests' reader of tests/data/verify.
    use super::super::tests::data as file;
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;

    type Factory = fn(&Algorithm, &DecodingKey) -> Result<Box<dyn JwtVerifier>>;

    /// The answers of ours and of jsonwebtoken's RustCrypto provider to one signature: `None`
    /// when the factory refuses the key, else whether the signature verifies.
    fn answers(alg: Algorithm, key: &DecodingKey, msg: &[u8], sig: &[u8]) -> [Option<bool>; 2] {
        let ask = |factory: Factory| {
            factory(&alg, key)
                .ok()
                .map(|v| v.verify(msg, &sig.to_vec()).is_ok())
        };
        [
            ask(verifier),
            ask(rust_crypto::DEFAULT_PROVIDER.verifier_factory),
        ]
    }

    fn sign(alg: Algorithm, private_pem: &str, msg: &[u8]) -> Vec<u8> {
        let pem = file(private_pem);
        let key = match alg.family() {
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(&pem),
            _ => EncodingKey::from_ec_pem(&pem),
        }
        .expect("test key");
        let b64 = jsonwebtoken::crypto::sign(msg, &key, alg).expect("signs");
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .expect("base64")
    }

    /// The RSA test key as the three forms a key set can hold it in: PEM (PKCS#1 DER), JWK
    /// components, and components with a leading zero byte (some JWKs carry one).
    fn rsa_keys() -> Vec<(&'static str, DecodingKey)> {
        let pem = file("rsa.pub.pem");
        let k = rsa::RsaPublicKey::from_public_key_pem(std::str::from_utf8(&pem).unwrap())
            .expect("test key");
        let (n, e) = (k.n().to_bytes_be(), k.e().to_bytes_be());
        let padded = [&[0u8][..], &n].concat();
        vec![
            ("pem", DecodingKey::from_rsa_pem(&pem).unwrap()),
            ("components", DecodingKey::from_rsa_raw_components(&n, &e)),
            (
                "zero-padded n",
                DecodingKey::from_rsa_raw_components(&padded, &e),
            ),
        ]
    }

    /// The P-256 test key uncompressed (ring's path) and compressed (RustCrypto's).
    fn p256_keys() -> Vec<(&'static str, DecodingKey)> {
        let pem = file("ec.pub.pem");
        let key = DecodingKey::from_ec_pem(&pem).unwrap();
        let point = key.try_get_as_bytes().unwrap().to_vec();
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
        let compressed = vk.to_encoded_point(true).as_bytes().to_vec();
        vec![
            ("pem", key),
            ("compressed", DecodingKey::from_ec_der(&compressed)),
        ]
    }

    /// A valid signature and the ways one can be wrong.
    fn variants(sig: &[u8]) -> Vec<(String, Vec<u8>, bool)> {
        let mut v = vec![("valid".to_owned(), sig.to_vec(), true)];
        for at in [0, sig.len() / 2, sig.len() - 1] {
            let mut s = sig.to_vec();
            s[at] ^= 0x01;
            v.push((format!("bit flipped at {at}"), s, false));
        }
        v.push(("truncated".into(), sig[..sig.len() - 1].to_vec(), false));
        v.push(("zero appended".into(), [sig, &[0]].concat(), false));
        v.push(("zero prepended".into(), [&[0], sig].concat(), false));
        v.push(("all zeros".into(), vec![0; sig.len()], false));
        v.push(("all ones".into(), vec![0xff; sig.len()], false));
        v.push(("empty".into(), Vec::new(), false));
        v
    }

    #[test]
    fn every_rsa_and_ecdsa_algorithm_answers_as_rust_crypto_does() {
        // A signing input is any bytes to the signature check (no token in src/).
        let msg = b"header.payload: what a token's signature covers";
        let cases = [
            (Algorithm::RS256, "rsa.key.pem", rsa_keys()),
            (Algorithm::RS384, "rsa.key.pem", rsa_keys()),
            (Algorithm::RS512, "rsa.key.pem", rsa_keys()),
            (Algorithm::PS256, "rsa.key.pem", rsa_keys()),
            (Algorithm::PS384, "rsa.key.pem", rsa_keys()),
            (Algorithm::PS512, "rsa.key.pem", rsa_keys()),
            (Algorithm::ES256, "ec.key.pem", p256_keys()),
            (
                Algorithm::ES384,
                "ec384.key.pem",
                vec![(
                    "pem",
                    DecodingKey::from_ec_pem(&file("ec384.pub.pem")).unwrap(),
                )],
            ),
        ];
        for (alg, private, keys) in cases {
            let sig = sign(alg, private, msg);
            for (form, key) in &keys {
                for (what, s, valid) in variants(&sig) {
                    let [ours, theirs] = answers(alg, key, msg, &s);
                    assert_eq!(ours, theirs, "{alg:?}, key as {form}, signature {what}");
                    assert_eq!(
                        ours,
                        Some(valid),
                        "{alg:?}, key as {form}, signature {what}"
                    );
                }
                let [ours, theirs] = answers(alg, key, b"another message", &sig);
                assert_eq!([ours, theirs], [Some(false); 2], "{alg:?} {form}");
            }
        }
    }

    #[test]
    fn a_foreign_signature_or_a_key_of_another_family_or_curve_fails_as_with_rust_crypto() {
        let msg = b"header.payload";
        let rsa = DecodingKey::from_rsa_pem(&file("rsa.pub.pem")).unwrap();
        let p256 = DecodingKey::from_ec_pem(&file("ec.pub.pem")).unwrap();
        let p384 = DecodingKey::from_ec_pem(&file("ec384.pub.pem")).unwrap();
        let other_rsa = sign(Algorithm::RS256, "rsa2.key.pem", msg);
        assert_eq!(
            answers(Algorithm::RS256, &rsa, msg, &other_rsa),
            [Some(false); 2]
        );
        let es256 = sign(Algorithm::ES256, "ec.key.pem", msg);
        let es384 = sign(Algorithm::ES384, "ec384.key.pem", msg);
        for (alg, key, sig) in [
            (Algorithm::RS256, &p256, &other_rsa),
            (Algorithm::ES256, &rsa, &es256),
            (Algorithm::ES256, &p384, &es256),
            (Algorithm::ES384, &p256, &es384),
        ] {
            let [ours, theirs] = answers(alg, key, msg, sig);
            assert_eq!(ours, theirs, "{alg:?}");
            assert_ne!(ours, Some(true), "{alg:?}");
        }
        // HMAC and EdDSA are RustCrypto's either way.
        let hs = DecodingKey::from_secret(&[7; 32]);
        let sig = {
            let key = EncodingKey::from_secret(&[7; 32]);
            let b64 = jsonwebtoken::crypto::sign(msg, &key, Algorithm::HS256).unwrap();
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .unwrap()
        };
        assert_eq!(answers(Algorithm::HS256, &hs, msg, &sig), [Some(true); 2]);
    }

    #[test]
    fn many_keys_each_answer_for_itself_and_the_parsed_ones_stay_bounded() {
        use p256::ecdsa::signature::Signer as _;
        // More keys than a thread keeps parsed, each asked for twice: evicted keys are parsed
        // again, and a key is never taken for another (a signature verifies only with its own
        // key, under its own algorithm).
        let msg = b"header.payload";
        let keys: Vec<_> = (1..=PARSED_PER_THREAD as u8 + 8)
            .map(|i| {
                let signing = p256::ecdsa::SigningKey::from_bytes(&[i; 32].into()).unwrap();
                let point = signing.verifying_key().to_encoded_point(false);
                let sig: p256::ecdsa::Signature = signing.sign(msg);
                (
                    DecodingKey::from_ec_der(point.as_bytes()),
                    sig.to_bytes().to_vec(),
                )
            })
            .collect();
        for _ in 0..2 {
            for (i, (key, sig)) in keys.iter().enumerate() {
                let next = &keys[(i + 1) % keys.len()].1;
                assert_eq!(answers(Algorithm::ES256, key, msg, sig), [Some(true); 2]);
                assert_eq!(answers(Algorithm::ES256, key, msg, next), [Some(false); 2]);
                assert_eq!(answers(Algorithm::ES384, key, msg, sig), [None; 2]);
            }
        }
        // The same RSA key as PEM bytes and as components, under RS256 and PS256.
        let msg = b"another signing input";
        for alg in [Algorithm::RS256, Algorithm::PS256, Algorithm::RS256] {
            let sig = sign(alg, "rsa.key.pem", msg);
            let other = if alg == Algorithm::RS256 {
                Algorithm::PS256
            } else {
                Algorithm::RS256
            };
            for (form, key) in rsa_keys() {
                assert_eq!(answers(alg, &key, msg, &sig), [Some(true); 2], "{form}");
                assert_eq!(answers(other, &key, msg, &sig), [Some(false); 2], "{form}");
            }
        }
        #[cfg(feature = "aws-lc")]
        assert_eq!(backend::parsed_here(), PARSED_PER_THREAD);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Random messages, one random byte of the signature changed (or none): the same
        /// answer as RustCrypto for RS256 and ES256, the algorithms real issuers use.
        #[test]
        fn random_messages_and_altered_signatures_get_rust_crypto_s_answer(
            msg in proptest::collection::vec(any::<u8>(), 0..400),
            es in any::<bool>(),
            at in any::<prop::sample::Index>(),
            xor in any::<u8>(),
        ) {
            let (alg, private, key) = if es {
                (Algorithm::ES256, "ec.key.pem", DecodingKey::from_ec_pem(&file("ec.pub.pem")).unwrap())
            } else {
                (Algorithm::RS256, "rsa.key.pem", DecodingKey::from_rsa_pem(&file("rsa.pub.pem")).unwrap())
            };
            let mut sig = sign(alg, private, &msg);
            let i = at.index(sig.len());
            sig[i] ^= xor;
            let [ours, theirs] = answers(alg, &key, &msg, &sig);
            prop_assert_eq!(ours, theirs);
            prop_assert_eq!(ours, Some(xor == 0));
        }
    }
}
