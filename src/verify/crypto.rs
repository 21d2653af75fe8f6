//! The signature checks behind jsonwebtoken in the default build (feature `rust-crypto`):
//! RSA (RS256/384/512, PS256/384/512) and ECDSA (ES256, ES384) through `ring`, everything else
//! (HMAC, EdDSA, and every signing, which only tests and `examples/verify_load` do) through
//! jsonwebtoken's own RustCrypto provider.
//!
//! Why: an RS256 check costs ~30 µs with `ring` on the bench machine against 165–235 µs with
//! RustCrypto's `rsa`, ES256 ~90 µs against 320–450 µs (`cargo bench --bench signature`,
//! benches/README.md). `ring` is already in the
//! build (rustls's provider for `--web.config.file` TLS), so this adds no compile time, unlike
//! the `aws-lc` feature's C build. jsonwebtoken's [`CryptoProvider`] is the seam it offers for
//! exactly this; the JWT parsing, the claims and their validation stay jsonwebtoken's.
//!
//! Same keys, same answers: [`keys`](super::keys) refuses at load every key outside what both
//! libraries take (RSA 2048 to 4096 bits with an odd exponent of at most 33 bits; EC points on
//! their curve), so the two differ only in speed. An EC key that is not an uncompressed point
//! of its curve's length (SEC1 also allows compressed ones, which `ring` does not read) goes to
//! RustCrypto. The tests below check every algorithm against jsonwebtoken's RustCrypto provider
//! on valid, altered, truncated and foreign signatures.

use std::sync::{LazyLock, Once};

use jsonwebtoken::crypto::{rust_crypto, CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::Result;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use ring::signature::{self as ring_sig, RsaParameters, VerificationAlgorithm};

/// jsonwebtoken's RustCrypto provider with [`verifier`] in place of its verifier factory.
pub static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    verifier_factory: verifier,
    ..rust_crypto::DEFAULT_PROVIDER.clone()
});

/// Makes [`PROVIDER`] jsonwebtoken's process-wide provider. Idempotent; must run before the
/// first verification (jsonwebtoken otherwise fixes its feature default on first use), so
/// [`Verifier::new`](super::Verifier::new) calls it. If another provider was installed first,
/// that one stays: it answers the same, slower.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if CryptoProvider::install_default(&PROVIDER).is_err() {
            tracing::debug!("a jsonwebtoken crypto provider was installed before ours");
        }
    });
}

/// What `ring` checks a signature with.
#[derive(Clone, Copy)]
enum Scheme {
    Rsa(&'static RsaParameters),
    /// The algorithm and the length of an uncompressed point of its curve.
    Ecdsa(&'static ring_sig::EcdsaVerificationAlgorithm, usize),
}

fn scheme(alg: Algorithm) -> Option<Scheme> {
    Some(match alg {
        Algorithm::RS256 => Scheme::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => Scheme::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => Scheme::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => Scheme::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => Scheme::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => Scheme::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA512),
        Algorithm::ES256 => Scheme::Ecdsa(&ring_sig::ECDSA_P256_SHA256_FIXED, 65),
        Algorithm::ES384 => Scheme::Ecdsa(&ring_sig::ECDSA_P384_SHA384_FIXED, 97),
        _ => return None,
    })
}

/// The public key as `ring` reads it.
enum Public {
    /// PKCS#1 `RSAPublicKey` DER (a PEM key) or a SEC1 uncompressed EC point.
    Bytes(Vec<u8>),
    /// An RSA key from a JWK: modulus and exponent, big-endian, without leading zeros.
    RsaComponents { n: Vec<u8>, e: Vec<u8> },
}

struct RingVerifier {
    alg: Algorithm,
    scheme: Scheme,
    public: Public,
}

/// The verifier factory of [`PROVIDER`]: `ring` for RSA and ECDSA keys it reads, jsonwebtoken's
/// RustCrypto for the rest (including the errors a key of the wrong family gets).
fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let fallback = rust_crypto::DEFAULT_PROVIDER.verifier_factory;
    let Some(scheme) = scheme(*alg) else {
        return fallback(alg, key);
    };
    let public = match (scheme, key.family(), key.kind()) {
        (Scheme::Rsa(_), AlgorithmFamily::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
            Public::Bytes(der.clone())
        }
        (Scheme::Rsa(_), AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Public::RsaComponents {
                n: without_leading_zeros(n).to_vec(),
                e: without_leading_zeros(e).to_vec(),
            }
        }
        (Scheme::Ecdsa(_, len), AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point))
            if point.len() == len && point.first() == Some(&4) =>
        {
            Public::Bytes(point.clone())
        }
        _ => return fallback(alg, key),
    };
    Ok(Box::new(RingVerifier {
        alg: *alg,
        scheme,
        public,
    }))
}

fn without_leading_zeros(b: &[u8]) -> &[u8] {
    let zeros = b.iter().take_while(|&&x| x == 0).count();
    &b[zeros..]
}

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        let checked = match (&self.public, self.scheme) {
            (Public::Bytes(der), Scheme::Rsa(params)) => {
                ring_sig::UnparsedPublicKey::new(params as &dyn VerificationAlgorithm, der)
                    .verify(msg, sig)
            }
            (Public::RsaComponents { n, e }, Scheme::Rsa(params)) => {
                ring_sig::RsaPublicKeyComponents { n, e }.verify(params, msg, sig)
            }
            (Public::Bytes(point), Scheme::Ecdsa(alg, _)) => {
                ring_sig::UnparsedPublicKey::new(alg as &dyn VerificationAlgorithm, point)
                    .verify(msg, sig)
            }
            (Public::RsaComponents { .. }, Scheme::Ecdsa(..)) => Err(ring::error::Unspecified),
        };
        checked.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
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
