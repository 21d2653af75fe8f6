//! One JWT signature check, the cost of a `/v1/verify` cache miss that is not HTTP (issue 18):
//! the default build's verifier factory (`skew_exporter::verify::crypto`: `ring` for RSA and
//! ECDSA) against jsonwebtoken's RustCrypto provider, the peer in the same run, each called as
//! jsonwebtoken calls it (the factory, then `verify`). RS256 with the 2048-bit test key, ES256
//! with the P-256 one, over a 600-byte signing input (a real token's header and claims).
//!
//! `cargo bench --bench signature`.

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::crypto::rust_crypto;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use skew_exporter::verify::crypto::PROVIDER;

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
        for (name, factory) in [
            ("ours", PROVIDER.verifier_factory),
            (
                "rust_crypto",
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
