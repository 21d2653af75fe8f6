//! One JWT signature check, the cost of a `/v1/verify` cache miss that is not HTTP (issue 18):
//! our verifier factory (`skew_exporter::verify::crypto`: AWS-LC with the default `aws-lc`
//! feature, `ring` without) against jsonwebtoken's RustCrypto provider, each called as
//! jsonwebtoken calls it (the factory, then `verify`), and `ring` called directly (the key
//! read again for every signature, as `ring` must), all in the same run. RS256 with the
//! 2048-bit test key, ES256 with the P-256 one, over a 600-byte signing input (a real token's
//! header and claims).
//!
//! `cargo bench --bench signature`; `cargo bench --no-default-features --bench signature` for
//! the `ring` build.

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::crypto::rust_crypto;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use skew_exporter::verify::crypto::{LIBRARY, PROVIDER};

fn key(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/verify/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).expect("test key")
}

fn bench(c: &mut Criterion) {
    use base64::Engine as _;
    let msg = vec![b'e'; 600];
    let cases = [
        (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&key("rsa.key.pem")).expect("key"),
            DecodingKey::from_rsa_pem(&key("rsa.pub.pem")).expect("key"),
        ),
        (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&key("ec.key.pem")).expect("key"),
            DecodingKey::from_ec_pem(&key("ec.pub.pem")).expect("key"),
        ),
    ];
    for (alg, private, public) in cases {
        let b64 = jsonwebtoken::crypto::sign(&msg, &private, alg).expect("signs");
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .expect("base64");
        let bytes = public.try_get_as_bytes().expect("key bytes").to_vec();
        let ring_alg: &'static dyn ring::signature::VerificationAlgorithm = match alg {
            Algorithm::RS256 => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            _ => &ring::signature::ECDSA_P256_SHA256_FIXED,
        };
        c.bench_function(&format!("{alg:?}/ring-direct"), |b| {
            b.iter(|| {
                let key = ring::signature::UnparsedPublicKey::new(ring_alg, &bytes);
                assert!(key.verify(&msg, &sig).is_ok());
            })
        });
        for (name, factory) in [
            (format!("ours-{LIBRARY}"), PROVIDER.verifier_factory),
            (
                "rust_crypto".to_owned(),
                rust_crypto::DEFAULT_PROVIDER.verifier_factory,
            ),
        ] {
            c.bench_function(&format!("{alg:?}/{name}"), |b| {
                b.iter(|| {
                    let ok = factory(&alg, &public)
                        .expect("key")
                        .verify(&msg, &sig)
                        .is_ok();
                    assert!(ok);
                })
            });
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
