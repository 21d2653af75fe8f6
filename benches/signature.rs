//! One JWT signature check, the cost of a `/v1/verify` cache miss that is not HTTP (issue 18):
//! our verifier factory (`skew_exporter::verify::crypto`: AWS-LC with the default `aws-lc`
//! feature, `ring` without) against jsonwebtoken's RustCrypto provider, each called as
//! jsonwebtoken calls it (the factory, then `verify`), and `ring` called directly (the key
//! read again for every signature, as `ring` must), all in the same run. RS256 with the
//! 2048-bit test key, ES256 with the P-256 one, over a 600-byte signing input (a real token's
//! header and claims).
//!
//! And one whole verification without the cache, a miss as `/v1/verify` makes it (an RS256
//! token with OpenID-Connect-like claims, `iss` allow-listed, only `sub` kept, as with
//! `benches/verify.toml`): `Verifier::verify` against what it called before the seventh
//! session, `jsonwebtoken::decode_header` (for the `kid`) then `jsonwebtoken::decode` into a
//! claims map with the same options. Ours does more (the time checks, the verdict), so the
//! difference is at least what reading the header and the claims once saves.
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
    // Before the first signature: jsonwebtoken fixes its provider on first use, and
    // `Verifier::verify` below must run on ours.
    skew_exporter::verify::crypto::install();
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

fn verification(c: &mut Criterion) {
    use serde_json::{json, Map, Value};
    use skew_exporter::verify::keys::{parse_file, FileKind, FileSpec, KeySet};
    use skew_exporter::verify::{Policy, Verifier};
    use std::sync::Arc;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let claims = json!({
        "iss": "https://bench.example", "sub": "248289761001", "aud": "api.bench.example",
        "azp": "bench-gateway-client", "email": "bench.user@bench.example", "name": "Bench User",
        "scope": "openid profile email", "jti": "0", "iat": now as u64 - 10,
        "nbf": now as u64 - 10, "exp": now as u64 + 3600,
    });
    let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
    header.kid = Some("r1".into());
    let private = EncodingKey::from_rsa_pem(&key("rsa.key.pem")).expect("key");
    let token = jsonwebtoken::encode(&header, &claims, &private).expect("signs");

    let spec = FileSpec {
        path: "rsa.pub.pem".into(),
        kind: FileKind::Pem,
        kid: Some("r1".into()),
        algorithm: None,
    };
    let keys = parse_file(&spec, &key("rsa.pub.pem")).expect("key");
    let public = keys[0].key.clone();
    let keys = KeySet::new(keys.into_iter().map(Arc::new).collect());
    let policy = Policy {
        issuers: Some(vec!["https://bench.example".into()]),
        ..Policy::default()
    };
    let ours = Verifier::new(policy).keeping_claims(["sub".to_owned()]);
    c.bench_function("RS256 miss/ours", |b| {
        b.iter(|| assert!(ours.verify(&token, &keys, now).allowed()))
    });

    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.set_issuer(&["https://bench.example"]);
    validation.validate_aud = false;
    c.bench_function("RS256 miss/jsonwebtoken-decode", |b| {
        b.iter(|| {
            let header = jsonwebtoken::decode_header(&token).expect("header");
            assert_eq!(header.kid.as_deref(), Some("r1"));
            let data = jsonwebtoken::decode::<Map<String, Value>>(&token, &public, &validation);
            assert!(data.expect("verifies").claims.contains_key("sub"));
        })
    });
}

criterion_group!(benches, bench, verification);
criterion_main!(benches);
