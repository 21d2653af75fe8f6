//! `/v1/verify` end to end: the real binary with keys of every type, every reason over HTTP,
//! a JWKS file replaced while requests flow, a JWKS URL served on loopback by the test, a real
//! nginx with `auth_request` in front of an upstream, and the token never reaching the logs.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::nginx::{free_port, start_nginx, NGINX};
use common::{Exporter, Scrape};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{json, Value};

/// A port nothing answers on: tests must name their NTP servers, and these tests need none.
const NO_NTP: [&str; 2] = ["--ntp.server", "127.0.0.1:9"];
const ISS: &str = "https://idp.example";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/verify")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
        .floor()
}

/// Signs tokens with one of the test keys.
struct Signer {
    alg: Algorithm,
    kid: &'static str,
    key: EncodingKey,
}

impl Signer {
    fn new(alg: Algorithm, kid: &'static str) -> Signer {
        Signer::with_file(alg, kid, None)
    }

    fn with_file(alg: Algorithm, kid: &'static str, file: Option<&str>) -> Signer {
        let key = match alg {
            Algorithm::HS256 => EncodingKey::from_secret(read("hmac.secret").trim_ascii()),
            Algorithm::RS256 => {
                EncodingKey::from_rsa_pem(&read(file.unwrap_or("rsa.key.pem"))).expect("rsa")
            }
            Algorithm::ES256 => EncodingKey::from_ec_pem(&read("ec.key.pem")).expect("ec"),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&read("ed.key.pem")).expect("ed"),
            other => panic!("no test key for {other:?}"),
        };
        Signer { alg, kid, key }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.to_owned());
        encode(&h, claims, &self.key).expect("sign")
    }
}

/// An RS256 token signed with the `rsa` crate (RSASSA-PKCS1-v1_5 over SHA-256, RFC 7518
/// §3.3), for keys jsonwebtoken's default backend (AWS-LC) refuses to sign with: those under
/// 2048 bits, which the exporter must refuse to verify with.
fn rs256_with_the_rsa_crate(key_file: &str, kid: &str, claims: &Value) -> String {
    use base64::Engine as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    use sha2::Digest as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let pem = String::from_utf8(read(key_file)).expect("PEM is text");
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).expect("PKCS#8 RSA private key");
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "RS256", "typ": "JWT", "kid": kid})
            .to_string()
            .as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    // The DigestInfo prefix of SHA-256 (RFC 8017 §9.2, note 1), then the hash.
    let mut digest_info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    digest_info.extend_from_slice(&sha2::Sha256::digest(input.as_bytes()));
    let signature = key
        .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info)
        .expect("sign");
    format!("{input}.{}", b64(&signature))
}

/// Claims of a token that passes every check.
fn good() -> Value {
    let t = now();
    json!({"iss": ISS, "aud": "api", "sub": "alice", "iat": t - 2.0, "nbf": t - 2.0, "exp": t + 600.0})
}

fn with(mut claims: Value, k: &str, v: Value) -> Value {
    if v.is_null() {
        claims.as_object_mut().expect("object").remove(k);
    } else {
        claims[k] = v;
    }
    claims
}

/// A JWK of a public key file, with its `kid`.
fn jwk(pub_pem: &str, alg: Algorithm, kid: &str) -> Value {
    let key = match alg {
        Algorithm::RS256 => DecodingKey::from_rsa_pem(&read(pub_pem)),
        Algorithm::ES256 => DecodingKey::from_ec_pem(&read(pub_pem)),
        _ => DecodingKey::from_ed_pem(&read(pub_pem)),
    }
    .expect("public key");
    let mut jwk = Jwk::from_decoding_key(&key, Some(alg)).expect("jwk");
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).expect("jwk json")
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// One answer of /v1/verify.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    reason: Option<String>,
    subject: Option<String>,
    challenge: Option<String>,
}

fn ask(http: &reqwest::blocking::Client, url: &str, token: Option<&str>) -> Answer {
    ask_with(http, reqwest::Method::GET, url, token)
}

fn ask_with(
    http: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
) -> Answer {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send().unwrap_or_else(|e| panic!("{url}: {e}"));
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    Answer {
        status: resp.status().as_u16(),
        reason: header("x-auth-reason"),
        subject: header("x-auth-subject"),
        challenge: header("www-authenticate"),
    }
}

/// Writes `text` to `path` atomically (a temporary file renamed over it).
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write temporary");
    std::fs::rename(&tmp, path).expect("rename");
}

fn config(dir: &Path, text: &str) -> String {
    let path = dir.join("skew.toml");
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

fn start(config_file: &str, extra: &[&str]) -> Exporter {
    let mut args = vec!["--config.file", config_file];
    args.extend(NO_NTP);
    args.extend(extra);
    Exporter::start(&args)
}

fn jwt_labels<'a>(issuer: &'a str, k: &'a str, v: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("source", "gateway"), ("issuer", issuer), (k, v)]
}

/// Keys of every type, each reason once over HTTP on the separate verify listener; the
/// answers, the challenge, the reason header and every counter are what they must be.
#[test]
fn every_reason_over_http_on_its_own_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        &format!(
            r#"
[verify]
listen-address = "127.0.0.1:0"
issuers = ["{ISS}"]
audiences = ["api"]
reason-header = "X-Auth-Reason"
[verify.claim-headers]
sub = "X-Auth-Subject"
[[verify.keys]]
file = "{}"
kid = "r1"
[[verify.keys]]
file = "{}"
kid = "e1"
[[verify.keys]]
file = "{}"
kid = "d1"
[[verify.keys]]
file = "{}"
type = "hmac"
kid = "h1"
"#,
            data("rsa.pub.pem").display(),
            data("ec.pub.pem").display(),
            data("ed.pub.pem").display(),
            data("hmac.secret").display(),
        ),
    );
    let ex = start(&cfg, &[]);
    let verify = ex.listener("verify");
    let url = format!("http://{verify}/v1/verify");
    let http = client();
    let t = now();
    let rsa = Signer::new(Algorithm::RS256, "r1");
    let ec = Signer::new(Algorithm::ES256, "e1");
    let ed = Signer::new(Algorithm::EdDSA, "d1");
    let hs = Signer::new(Algorithm::HS256, "h1");

    for s in [&rsa, &ec, &ed, &hs] {
        let a = ask(&http, &url, Some(&s.sign(&good())));
        assert_eq!(a.status, 200, "{:?}: {a:?}", s.alg);
        assert_eq!(a.subject.as_deref(), Some("alice"));
        assert_eq!(a.reason, None);
    }
    // Envoy's ext_authz HTTP service: the client's method, its path under the prefix.
    let a = ask_with(
        &http,
        reqwest::Method::PUT,
        &format!("{url}/orders/7?x=1"),
        Some(&rsa.sign(&good())),
    );
    assert_eq!(a.status, 200, "{a:?}");

    let forged = {
        let token = hs.sign(&good());
        let (rest, sig) = token.rsplit_once('.').expect("three parts");
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        format!("{rest}.{flipped}{}", &sig[1..])
    };
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&good().to_string())
    );
    let confused = Signer {
        kid: "r1",
        ..Signer::new(Algorithm::HS256, "x")
    };
    let stranger = Signer::new(Algorithm::RS256, "nope");
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        (
            "expired",
            Some(rsa.sign(&with(good(), "exp", (t - 100.0).into()))),
            ISS,
        ),
        (
            "not_yet_valid",
            Some(ec.sign(&with(good(), "nbf", (t + 100.0).into()))),
            ISS,
        ),
        (
            "issued_in_future",
            Some(ed.sign(&with(good(), "iat", (t + 100.0).into()))),
            ISS,
        ),
        ("invalid_signature", Some(forged), ISS),
        ("unknown_key", Some(stranger.sign(&good())), ISS),
        ("malformed", Some("not-a-token".into()), "unknown"),
        (
            "invalid_issuer",
            Some(hs.sign(&with(good(), "iss", "https://evil.example".into()))),
            "other",
        ),
        (
            "invalid_audience",
            Some(rsa.sign(&with(good(), "aud", "billing".into()))),
            ISS,
        ),
        ("invalid_algorithm", Some(unsigned), ISS),
        ("invalid_algorithm", Some(confused.sign(&good())), ISS),
        (
            "missing_claim",
            Some(ec.sign(&with(good(), "exp", Value::Null))),
            ISS,
        ),
        ("missing_token", None, "unknown"),
    ];
    for (reason, token, _) in &cases {
        let a = ask(&http, &url, token.as_deref());
        assert_eq!(a.status, 401, "{reason}: {a:?}");
        assert_eq!(a.reason.as_deref(), Some(*reason), "{a:?}");
        assert_eq!(a.subject, None, "no claims of a refused token");
        let challenge = if *reason == "missing_token" {
            "Bearer"
        } else {
            "Bearer error=\"invalid_token\""
        };
        assert_eq!(a.challenge.as_deref(), Some(challenge), "{reason}");
    }

    // The verify listener serves nothing else; the main one does not serve /v1/verify.
    let (status, _) = ex.get("/v1/verify");
    assert_eq!(status, 404, "/v1/verify is only on the verify listener");
    let r = http
        .get(format!("http://{verify}/metrics"))
        .send()
        .expect("GET /metrics on the verify listener");
    assert_eq!(r.status().as_u16(), 404);
    let r = http
        .post(format!("http://{verify}/v1/events"))
        .header("Content-Type", "application/json")
        .body(r#"{"outcome":"accepted"}"#)
        .send()
        .expect("POST /v1/events on the verify listener");
    assert_eq!(r.status().as_u16(), 404);

    let scrape = ex.scrape();
    let total = 5 + cases.len();
    assert_eq!(
        scrape.value("skew_events_received_total", &[("transport", "verify")]),
        total as f64
    );
    assert_eq!(
        scrape.value(
            "skew_jwt_verifications_total",
            &jwt_labels(ISS, "outcome", "accepted")
        ),
        5.0
    );
    let mut expected: std::collections::BTreeMap<(&str, &str), f64> = Default::default();
    for (reason, _, issuer) in &cases {
        *expected.entry((issuer, reason)).or_default() += 1.0;
    }
    for ((issuer, reason), n) in &expected {
        assert_eq!(
            scrape.value(
                "skew_jwt_rejections_total",
                &jwt_labels(issuer, "reason", reason)
            ),
            *n,
            "{issuer} {reason}"
        );
    }
    let rejected: f64 = scrape
        .series("skew_jwt_verifications_total")
        .filter(|s| s.labels["outcome"] == "rejected")
        .map(|s| s.value)
        .sum();
    assert_eq!(rejected, cases.len() as f64);
    let l = [("source", "gateway"), ("issuer", ISS)];
    assert_eq!(scrape.value("skew_jwt_expired_by_seconds_count", &l), 1.0);
    assert_eq!(scrape.value("skew_jwt_premature_by_seconds_count", &l), 2.0);
    assert_eq!(scrape.value("skew_verify_keys", &[]), 4.0);
    assert_eq!(
        scrape.value("skew_verify_key_reloads_total", &[("result", "error")]),
        0.0
    );
}

/// Per-thread record of one request through the rotation.
struct Seen {
    kid: &'static str,
    started: Instant,
    answer: Answer,
}

/// The JWKS file is replaced (by rename, rewritten in place, broken) while two threads keep
/// asking with tokens of two keys. No request fails with anything but `unknown_key`; a key
/// present in every version is accepted throughout; keys appear and disappear once.
#[test]
fn jwks_file_rotation_while_requests_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks_path = dir.path().join("jwks.json");
    let k1 = jwk("rsa.pub.pem", Algorithm::RS256, "k1");
    let k2 = jwk("rsa2.pub.pem", Algorithm::RS256, "k2");
    std::fs::write(&jwks_path, jwks(std::slice::from_ref(&k1))).expect("write jwks");
    let cfg = config(
        dir.path(),
        "[verify]\nreason-header = \"X-Auth-Reason\"\nkey-poll-interval = \"1s\"\n",
    );
    let jwks_arg = jwks_path.display().to_string();
    let ex = start(&cfg, &["--verify.jwks-file", &jwks_arg]);
    let url = ex.url("/v1/verify");
    let t1 = Signer::with_file(Algorithm::RS256, "k1", Some("rsa.key.pem")).sign(&good());
    let t2 = Signer::with_file(Algorithm::RS256, "k2", Some("rsa2.key.pem")).sign(&good());

    let stop = Arc::new(AtomicBool::new(false));
    // Workers that have seen k1 refused: the test stops them only once every one has, so
    // each worker's answers span the whole rotation however slowly the machine runs.
    let saw_removal = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (url, t1, t2) = (url.clone(), t1.clone(), t2.clone());
            let (stop, saw_removal) = (stop.clone(), saw_removal.clone());
            thread::spawn(move || {
                let http = client();
                let mut seen = Vec::new();
                let mut removed = false;
                while !stop.load(Ordering::SeqCst)
                    && Instant::now() < deadline
                    && seen.len() < 200_000
                {
                    for (kid, token) in [("k1", &t1), ("k2", &t2)] {
                        let started = Instant::now();
                        let answer = ask(&http, &url, Some(token));
                        if kid == "k1" && answer.status == 401 && !removed {
                            removed = true;
                            saw_removal.fetch_add(1, Ordering::SeqCst);
                        }
                        seen.push(Seen {
                            kid,
                            started,
                            answer,
                        });
                    }
                }
                seen
            })
        })
        .collect();
    let http = client();
    let mut probes: Vec<Answer> = Vec::new();
    let mut probe_until = |what: &str, token: &str, status: u16| {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let a = ask(&http, &url, Some(token));
            let done = a.status == status;
            probes.push(a);
            if done {
                return;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}\n{}",
                ex.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
    };
    thread::sleep(Duration::from_millis(300));

    // 1. Add k2 (rename).
    let t_add = Instant::now();
    replace(&jwks_path, &jwks(&[k1.clone(), k2.clone()]));
    probe_until("k2 to be accepted", &t2, 200);
    let t_k2_seen = Instant::now();
    // 2. Rewrite in place, several times (a reader may see a half-written file).
    for _ in 0..5 {
        std::fs::write(&jwks_path, jwks(&[k2.clone(), k1.clone()])).expect("rewrite");
        thread::sleep(Duration::from_millis(100));
    }
    // 3. A broken file keeps the keys.
    let errors_before = ex
        .scrape()
        .value("skew_verify_key_reloads_total", &[("result", "error")]);
    std::fs::write(&jwks_path, "{\"keys\": [").expect("break");
    ex.wait_for(
        "the broken JWKS to be counted",
        Duration::from_secs(10),
        |s| s.value("skew_verify_key_reloads_total", &[("result", "error")]) > errors_before,
    );
    thread::sleep(Duration::from_millis(200));
    // 4. Remove k1 (rename).
    let t_remove = Instant::now();
    replace(&jwks_path, &jwks(std::slice::from_ref(&k2)));
    probe_until("k1 to be refused", &t1, 401);
    let until = Instant::now() + Duration::from_secs(30);
    while saw_removal.load(Ordering::SeqCst) < 2 && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    let seen: Vec<Vec<Seen>> = workers
        .into_iter()
        .map(|w| w.join().expect("worker thread"))
        .collect();

    let (mut ok, mut refused) = (0usize, 0usize);
    for thread_seen in &seen {
        // Per key: has its answer flipped yet (k1: refused, k2: accepted)? It flips once.
        let mut flipped = [false, false];
        for s in thread_seen {
            let a = &s.answer;
            match a.status {
                200 => ok += 1,
                401 => {
                    assert_eq!(a.reason.as_deref(), Some("unknown_key"), "{}: {a:?}", s.kid);
                    refused += 1;
                }
                other => panic!("{}: status {other}: {a:?}", s.kid),
            }
            let i = usize::from(s.kid == "k2");
            if s.kid == "k1" {
                if s.started < t_remove {
                    assert_eq!(a.status, 200, "k1 is in every file before the removal");
                }
                if a.status == 401 {
                    flipped[i] = true;
                } else {
                    assert!(!flipped[i], "k1 came back after it was refused");
                }
            } else {
                if s.started < t_add {
                    assert_eq!(a.status, 401, "k2 before it was added");
                }
                if s.started > t_k2_seen {
                    assert_eq!(a.status, 200, "k2 stays through rewrites and a broken file");
                }
                if a.status == 200 {
                    flipped[i] = true;
                } else {
                    assert!(!flipped[i], "k2 disappeared after it was accepted");
                }
            }
        }
        // Requests flowed through the whole rotation on every thread (how many depends on
        // the machine's load, so no count is asserted).
        for (kid, status, what) in [("k1", 401, "k1 removed"), ("k2", 200, "k2 added")] {
            assert!(
                thread_seen
                    .iter()
                    .any(|s| s.kid == kid && s.answer.status == status),
                "each thread saw {what}"
            );
        }
    }
    for a in &probes {
        match a.status {
            200 => ok += 1,
            _ => {
                assert_eq!(a.reason.as_deref(), Some("unknown_key"), "{a:?}");
                refused += 1;
            }
        }
    }
    let scrape = ex.scrape();
    let labels = |k, v| vec![("source", "gateway"), ("issuer", ISS), (k, v)];
    assert_eq!(
        scrape.value(
            "skew_jwt_verifications_total",
            &labels("outcome", "accepted")
        ),
        ok as f64
    );
    assert_eq!(
        scrape.value(
            "skew_jwt_rejections_total",
            &labels("reason", "unknown_key")
        ),
        refused as f64
    );
    assert_eq!(
        scrape.value("skew_events_received_total", &[("transport", "verify")]),
        (ok + refused) as f64
    );
    assert!(scrape.value("skew_verify_key_reloads_total", &[("result", "ok")]) >= 2.0);
    assert_eq!(scrape.value("skew_verify_keys", &[]), 1.0);
}

/// A minimal HTTP/1.1 server on loopback: `respond(request head)` gives the whole response.
/// One thread per connection; the listener thread lives as long as the test process.
fn serve_http(respond: impl Fn(&str) -> String + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let respond = Arc::new(respond);
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let respond = respond.clone();
            thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(&conn);
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" || line == "\n" => break,
                        Ok(_) => head.push_str(&line),
                    }
                }
                let response = respond(&head);
                let _ = (&conn).write_all(response.as_bytes());
            });
        }
    });
    addr
}

fn response(status: &str, body: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}

/// The JWKS from a URL served on loopback: fetched at start; after the IdP rotates, an unknown
/// `kid` triggers a refetch (rate-limited: a burst of such requests makes at most one fetch a
/// second), and the new key is accepted without a restart.
#[test]
fn jwks_url_served_on_loopback_is_refetched_on_an_unknown_kid() {
    let doc = Arc::new(Mutex::new(jwks(&[jwk(
        "ec.pub.pem",
        Algorithm::ES256,
        "e1",
    )])));
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = {
        let (doc, hits) = (doc.clone(), hits.clone());
        serve_http(move |head| {
            hits.fetch_add(1, Ordering::SeqCst);
            if !head.starts_with("GET /jwks.json ") {
                return response("404 Not Found", "", "");
            }
            let body = doc.lock().expect("doc").clone();
            response("200 OK", &body, "content-type: application/json\r\n")
        })
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        "[verify]\nreason-header = \"X-Auth-Reason\"\njwks-min-refetch-interval = \"1s\"\njwks-refresh = \"1h\"\n",
    );
    let url_arg = format!("http://{addr}/jwks.json");
    let ex = start(&cfg, &["--verify.jwks-url", &url_arg]);
    ex.wait_for("the first fetch", Duration::from_secs(10), |s| {
        s.get("skew_verify_keys", &[]) == Some(1.0)
    });
    let url = ex.url("/v1/verify");
    let http = client();
    let e1 = Signer::new(Algorithm::ES256, "e1").sign(&good());
    let d2 = Signer::new(Algorithm::EdDSA, "d2").sign(&good());
    assert_eq!(ask(&http, &url, Some(&e1)).status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // The IdP adds an Ed25519 key.
    *doc.lock().expect("doc") = jwks(&[
        jwk("ec.pub.pem", Algorithm::ES256, "e1"),
        jwk("ed.pub.pem", Algorithm::EdDSA, "d2"),
    ]);
    let burst_start = Instant::now();
    let mut refused = 0;
    let accepted_at = loop {
        let a = ask(&http, &url, Some(&d2));
        if a.status == 200 {
            break burst_start.elapsed();
        }
        assert_eq!(a.reason.as_deref(), Some("unknown_key"), "{a:?}");
        refused += 1;
        assert!(
            burst_start.elapsed() < Duration::from_secs(10),
            "d2 never accepted:\n{}",
            ex.log_text()
        );
        thread::sleep(Duration::from_millis(5));
    };
    let fetches = hits.load(Ordering::SeqCst) - 1;
    assert!(
        fetches >= 1 && fetches as u64 <= 1 + accepted_at.as_secs(),
        "{fetches} fetches in {accepted_at:?} for {refused} unknown-kid requests"
    );
    assert_eq!(ask(&http, &url, Some(&e1)).status, 200, "e1 still there");

    let scrape = ex.scrape();
    assert_eq!(scrape.value("skew_verify_keys", &[]), 2.0);
    assert!(scrape.value("skew_verify_key_reloads_total", &[("result", "ok")]) >= 2.0);
    assert_eq!(
        scrape.value(
            "skew_jwt_rejections_total",
            &jwt_labels(ISS, "reason", "unknown_key")
        ),
        refused as f64
    );
}

/// A JWKS file mixing good keys with keys RFC 7517/7518 forbid or that could never verify
/// (issue 20): the good ones verify; each bad one is named in the log exactly once, without key
/// material, the refused ones are counted as errors, none is loaded, and tokens correctly
/// signed with the bad keys are refused.
#[test]
fn a_jwks_file_with_bad_keys_keeps_the_good_ones_and_names_each_bad_one_once() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let hmac64 = read("hmac.secret").trim_ascii().to_vec();
    let secret32 = b"0123456789abcdef0123456789abcdef".to_vec();
    let secret47 = b"forty-seven-bytes-of-a-secret-for-hs384-tokens!".to_vec();
    assert_eq!((hmac64.len(), secret32.len(), secret47.len()), (64, 32, 47));
    let with_members = |mut jwk: Value, members: Value| {
        for (k, v) in members.as_object().expect("object") {
            jwk[k] = v.clone();
        }
        jwk
    };
    let rsa2 = || jwk("rsa2.pub.pem", Algorithm::RS256, "x");
    let off_curve = {
        let mut ec = jwk("ec.pub.pem", Algorithm::ES256, "bad-curve");
        let mut y = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(ec["y"].as_str().expect("y"))
            .expect("base64url");
        y[31] ^= 1;
        ec["y"] = b64(&y).into();
        ec
    };
    let doc = jwks(&[
        jwk("rsa.pub.pem", Algorithm::RS256, "good-rsa"),
        jwk("ec.pub.pem", Algorithm::ES256, "good-ec"),
        jwk("ed.pub.pem", Algorithm::EdDSA, "good-ed"),
        json!({"kty": "oct", "kid": "good-hs64", "k": b64(&hmac64)}),
        json!({"kty": "oct", "kid": "good-hs32", "k": b64(&secret32)}),
        with_members(
            rsa2(),
            json!({"kid": "good-ops", "use": "sig", "key_ops": ["verify"]}),
        ),
        // Refused: must not or cannot verify.
        jwk("rsa1024.pub.pem", Algorithm::RS256, "bad-small"),
        with_members(
            jwk("rsa.pub.pem", Algorithm::RS256, "x"),
            json!({"kid": "bad-e1", "e": "AQ"}),
        ),
        off_curve,
        json!({"kty": "oct", "kid": "bad-hs47", "alg": "HS384", "k": b64(&secret47)}),
        with_members(
            rsa2(),
            json!({"kid": "bad-contradict", "use": "sig", "key_ops": ["verify", "encrypt"]}),
        ),
        // Skipped: not for verification here.
        with_members(
            rsa2(),
            json!({"kid": "bad-encrypt", "key_ops": ["encrypt"]}),
        ),
        json!({"kty": "EC", "crv": "P-521", "kid": "bad-p521", "x": "AA", "y": "AA"}),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, &doc).expect("write jwks");
    let cfg = config(
        dir.path(),
        "[verify]\nreason-header = \"X-Auth-Reason\"\nkey-poll-interval = \"100ms\"\n",
    );
    let jwks_arg = jwks_path.display().to_string();
    let ex = start(&cfg, &["--verify.jwks-file", &jwks_arg]);
    let url = ex.url("/v1/verify");
    let http = client();

    let signer = |alg, kid, key| Signer { alg, kid, key };
    let rsa_key = |file: &str| EncodingKey::from_rsa_pem(&read(file)).expect("rsa key");
    let cases = [
        (Signer::new(Algorithm::RS256, "good-rsa"), 200, None),
        (Signer::new(Algorithm::ES256, "good-ec"), 200, None),
        (Signer::new(Algorithm::EdDSA, "good-ed"), 200, None),
        (
            signer(
                Algorithm::HS512,
                "good-hs64",
                EncodingKey::from_secret(&hmac64),
            ),
            200,
            None,
        ),
        (
            signer(
                Algorithm::HS256,
                "good-hs32",
                EncodingKey::from_secret(&secret32),
            ),
            200,
            None,
        ),
        // A 32-byte secret never verifies HS512, even a token it signed.
        (
            signer(
                Algorithm::HS512,
                "good-hs32",
                EncodingKey::from_secret(&secret32),
            ),
            401,
            Some("invalid_algorithm"),
        ),
        (
            signer(Algorithm::RS256, "good-ops", rsa_key("rsa2.key.pem")),
            200,
            None,
        ),
        // Correctly signed with keys that must not verify: their kid is not loaded. (The
        // 1024-bit RSA one below the loop: AWS-LC does not sign with it.)
        (
            signer(
                Algorithm::HS384,
                "bad-hs47",
                EncodingKey::from_secret(&secret47),
            ),
            401,
            Some("unknown_key"),
        ),
        (
            signer(Algorithm::RS256, "bad-contradict", rsa_key("rsa2.key.pem")),
            401,
            Some("unknown_key"),
        ),
        (
            signer(Algorithm::RS256, "bad-encrypt", rsa_key("rsa2.key.pem")),
            401,
            Some("unknown_key"),
        ),
    ];
    for (s, status, reason) in &cases {
        let a = ask(&http, &url, Some(&s.sign(&good())));
        assert_eq!(
            (a.status, a.reason.as_deref()),
            (*status, *reason),
            "{} {:?}: {a:?}",
            s.kid,
            s.alg
        );
    }
    let a = ask(
        &http,
        &url,
        Some(&rs256_with_the_rsa_crate(
            "rsa1024.key.pem",
            "bad-small",
            &good(),
        )),
    );
    assert_eq!(
        (a.status, a.reason.as_deref()),
        (401, Some("unknown_key")),
        "bad-small RS256: {a:?}"
    );
    // Several polls of the unchanged file: nothing is re-read, nothing logged again.
    thread::sleep(Duration::from_millis(500));

    let scrape = ex.scrape();
    assert_eq!(scrape.value("skew_verify_keys", &[]), 6.0);
    assert_eq!(
        scrape.value("skew_verify_key_reloads_total", &[("result", "error")]),
        5.0,
        "the five refused keys"
    );
    let log = ex.log_text();
    for (kid, message, reason) in [
        (
            "bad-small",
            "verification key refused",
            "an RSA key of 1024 bits; RFC 7518 §3.3 requires 2048 bits or more",
        ),
        (
            "bad-e1",
            "verification key refused",
            "an RSA public exponent of 1",
        ),
        (
            "bad-curve",
            "verification key refused",
            "an EC public key that is not a point on P-256",
        ),
        (
            "bad-hs47",
            "verification key refused",
            "HS384 needs an HMAC secret of at least 48 bytes",
        ),
        (
            "bad-contradict",
            "verification key refused",
            "`use` and `key_ops` contradict each other",
        ),
        (
            "bad-encrypt",
            "verification key skipped",
            "`key_ops` does not include `verify`",
        ),
        (
            "bad-p521",
            "verification key skipped",
            "an EC key on P-521: the verification library has no ES512",
        ),
    ] {
        let named = format!("(kid \"{kid}\")");
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&named)).collect();
        assert_eq!(lines.len(), 1, "{kid} named once:\n{log}");
        assert!(
            lines[0].contains(message) && lines[0].contains(reason),
            "{kid}: {}",
            lines[0]
        );
        assert!(
            lines[0].contains(&jwks_arg),
            "the file is named: {}",
            lines[0]
        );
    }
    assert!(
        !log.contains("(kid \"good-"),
        "good keys are not reported:\n{log}"
    );
    let rsa_n = jwk("rsa.pub.pem", Algorithm::RS256, "x")["n"].clone();
    for material in [
        b64(&hmac64),
        b64(&secret32),
        b64(&secret47),
        String::from_utf8_lossy(&secret47).into_owned(),
        rsa_n.as_str().expect("n").to_owned(),
    ] {
        assert!(!log.contains(&material), "key material in the log:\n{log}");
    }
}

/// A `[[verify.keys]]` file whose key is refused is a configuration error naming the file and
/// why (issue 20): an RSA key under 2048 bits, an HMAC secret too short for its `algorithm`.
/// A JWKS with a usable key passes `--check-config`, which names the keys it skipped.
#[test]
fn refused_key_files_are_configuration_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret47 = dir.path().join("hs384.secret");
    std::fs::write(&secret47, [b'k'; 47]).expect("write secret");
    let cases = [
        (
            format!(
                "[verify]\n[[verify.keys]]\nfile = \"{}\"\n",
                data("rsa1024.pub.pem").display()
            ),
            "rsa1024.pub.pem: an RSA key of 1024 bits; RFC 7518 §3.3 requires 2048 bits or more",
        ),
        (
            format!(
                "[verify]\n[[verify.keys]]\nfile = \"{}\"\ntype = \"hmac\"\nalgorithm = \"HS384\"\n",
                secret47.display()
            ),
            "hs384.secret: HS384 needs an HMAC secret of at least 48 bytes (RFC 7518 §3.2), this one has 47",
        ),
    ];
    for (toml, want) in cases {
        let cfg = config(dir.path(), &toml);
        let out = common::run_binary(
            &["--config.file", &cfg, "--check-config"],
            Duration::from_secs(10),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {stderr}");
        assert!(stderr.contains(want), "{toml}: {stderr}");
    }
    // A JWKS with a usable key passes the check, and the check names the keys it skipped.
    let jwks_path = dir.path().join("jwks.json");
    let mut enc = jwk("rsa2.pub.pem", Algorithm::RS256, "enc");
    enc["use"] = "enc".into();
    std::fs::write(
        &jwks_path,
        jwks(&[
            jwk("rsa.pub.pem", Algorithm::RS256, "good"),
            jwk("rsa1024.pub.pem", Algorithm::RS256, "small"),
            enc,
        ]),
    )
    .expect("write jwks");
    let cfg = config(
        dir.path(),
        &format!("[verify]\njwks-file = \"{}\"\n", jwks_path.display()),
    );
    let out = common::run_binary(
        &["--config.file", &cfg, "--check-config"],
        Duration::from_secs(10),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "skew-exporter: {}: refused key 2 (kid \"small\"): an RSA key of 1024 bits; RFC 7518 §3.3 requires 2048 bits or more",
                jwks_path.display()
            ),
            format!(
                "skew-exporter: {}: skipped key 3 (kid \"enc\"): `use` is not `sig`",
                jwks_path.display()
            ),
        ]
    );
}

/// A real nginx with `auth_request` pointing at /v1/verify in front of an upstream: valid
/// tokens reach the upstream (with the subject), expired, forged and missing ones get 401 from
/// nginx, and the exporter's counters match exactly what nginx answered.
#[test]
fn nginx_auth_request_in_front_of_an_upstream() {
    if !common::require_paths(&[NGINX]) {
        return;
    }
    let upstream_hits = Arc::new(AtomicUsize::new(0));
    let upstream = {
        let hits = upstream_hits.clone();
        serve_http(move |head| {
            hits.fetch_add(1, Ordering::SeqCst);
            let subject = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("x-auth-subject")
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default();
            response(
                "200 OK",
                &format!("hello from upstream; subject={subject}"),
                "",
            )
        })
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        &format!(
            "[verify]\nlisten-address = \"127.0.0.1:0\"\nissuers = [\"{ISS}\"]\n[verify.claim-headers]\nsub = \"X-Auth-Subject\"\n[[verify.keys]]\nfile = \"{}\"\nkid = \"r1\"\n",
            data("rsa.pub.pem").display()
        ),
    );
    let ex = start(&cfg, &[]);
    let verify = ex.listener("verify");
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port, verify, upstream);

    let rsa = Signer::new(Algorithm::RS256, "r1");
    let t = now();
    let valid = rsa.sign(&good());
    let expired = rsa.sign(&with(good(), "exp", (t - 30.0).into()));
    let forged = Signer::with_file(Algorithm::RS256, "r1", Some("rsa2.key.pem")).sign(&good());
    let http = client();
    let through = |token: Option<&str>| {
        let mut req = http.get(format!("http://127.0.0.1:{port}/orders/7"));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let resp = req.send().expect("request through nginx");
        let status = resp.status().as_u16();
        (status, resp.text().unwrap_or_default())
    };
    let mut answered = std::collections::BTreeMap::<(&str, u16), usize>::new();
    for (kind, token, n) in [
        ("valid", Some(valid.as_str()), 20),
        ("expired", Some(expired.as_str()), 10),
        ("forged", Some(forged.as_str()), 4),
        ("missing", None, 3),
    ] {
        for _ in 0..n {
            let (status, body) = through(token);
            if status == 200 {
                assert_eq!(body, "hello from upstream; subject=alice", "{kind}");
            }
            *answered.entry((kind, status)).or_default() += 1;
        }
    }
    assert_eq!(
        answered,
        [
            (("expired", 401), 10),
            (("forged", 401), 4),
            (("missing", 401), 3),
            (("valid", 200), 20),
        ]
        .into_iter()
        .collect(),
        "nginx answers; error log:\n{}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );
    assert_eq!(
        upstream_hits.load(Ordering::SeqCst),
        20,
        "only valid tokens reach it"
    );

    let scrape: Scrape = ex.scrape();
    let v = |name: &str, labels: &[(&str, &str)]| scrape.value(name, labels);
    assert_eq!(
        v(
            "skew_jwt_verifications_total",
            &jwt_labels(ISS, "outcome", "accepted")
        ),
        20.0
    );
    assert_eq!(
        v(
            "skew_jwt_verifications_total",
            &jwt_labels(ISS, "outcome", "rejected")
        ),
        14.0
    );
    assert_eq!(
        v(
            "skew_jwt_verifications_total",
            &jwt_labels("unknown", "outcome", "rejected")
        ),
        3.0
    );
    assert_eq!(
        v(
            "skew_jwt_rejections_total",
            &jwt_labels(ISS, "reason", "expired")
        ),
        10.0
    );
    assert_eq!(
        v(
            "skew_jwt_rejections_total",
            &jwt_labels(ISS, "reason", "invalid_signature")
        ),
        4.0
    );
    assert_eq!(
        v(
            "skew_jwt_rejections_total",
            &jwt_labels("unknown", "reason", "missing_token")
        ),
        3.0
    );
    assert_eq!(
        v("skew_events_received_total", &[("transport", "verify")]),
        37.0
    );
    // Expired 30 s before the verification: every observation between 10 s and 60 s.
    let l = [("source", "gateway"), ("issuer", ISS)];
    assert_eq!(v("skew_jwt_expired_by_seconds_count", &l), 10.0);
    let bucket = |le| {
        scrape.value(
            "skew_jwt_expired_by_seconds_bucket",
            &[("source", "gateway"), ("issuer", ISS), ("le", le)],
        )
    };
    assert_eq!(bucket("10"), 0.0);
    assert_eq!(bucket("60"), 10.0);
}

/// Configuration mistakes stop the binary with exit status 2 and a message naming them.
#[test]
fn configuration_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "[verify]\nleeway = \"45s\"\n[[verify.keys]]\nfile = \"KEY\"\n".to_owned(),
            "above the 30s limit",
        ),
        (
            "[verify]\nlisten-address = \"127.0.0.1:0\"\n".to_owned(),
            "no keys are configured",
        ),
        (
            "[verify]\njwks-file = \"/nonexistent/jwks.json\"\n".to_owned(),
            "/nonexistent/jwks.json",
        ),
        (
            "[verify]\nalgorithms = [\"none\"]\n".to_owned(),
            "never accepted",
        ),
    ];
    for (toml, want) in cases {
        let toml = toml.replace("KEY", &data("rsa.pub.pem").display().to_string());
        let cfg = config(dir.path(), &toml);
        let out = common::run_binary(
            &["--config.file", &cfg, "--check-config"],
            Duration::from_secs(10),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {stderr}");
        assert!(stderr.contains(want), "{toml}: {stderr}");
    }
}

/// With `RUST_LOG=trace`, no part of a token reaches the log, valid or not.
#[test]
fn tokens_never_reach_the_logs_even_at_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        &format!(
            "[verify]\n[[verify.keys]]\nfile = \"{}\"\ntype = \"hmac\"\n",
            data("hmac.secret").display()
        ),
    );
    let mut args = vec!["--config.file", cfg.as_str()];
    args.extend(NO_NTP);
    let ex = Exporter::start_with_env(&args, &[("RUST_LOG", "trace")]);
    let url = ex.url("/v1/verify");
    let http = client();
    let hs = Signer::new(Algorithm::HS256, "h");
    let valid = hs.sign(&good());
    let expired = hs.sign(&with(good(), "exp", (now() - 100.0).into()));
    let broken = format!("{valid}!!");
    assert_eq!(ask(&http, &url, Some(&valid)).status, 200);
    assert_eq!(ask(&http, &url, Some(&expired)).status, 401);
    assert_eq!(ask(&http, &url, Some(&broken)).status, 401);
    let log = ex.log_text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging is on:\n{log}"
    );
    for token in [&valid, &expired, &broken] {
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!log.contains(part), "a token part reached the log:\n{log}");
        }
    }
    let secret = String::from_utf8(read("hmac.secret")).expect("utf8");
    assert!(
        !log.contains(secret.trim()),
        "the HMAC secret reached the log"
    );
}

/// The verified-token cache over HTTP (issue 18). A repeated token is a hit; when its key file
/// is replaced by another key (a revocation), the very next request after the reload is
/// refused: the cache went with the old key set. A configuration reload (`POST /-/reload`)
/// that drops the key starts over too, and `cache-size = 0` turns the cache off.
#[test]
fn a_revoked_keys_cached_token_fails_on_the_next_request_after_the_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("key.pem");
    let rsa2_path = dir.path().join("rsa2.pem");
    std::fs::write(&key_path, read("rsa.pub.pem")).expect("write key");
    std::fs::write(&rsa2_path, read("rsa2.pub.pem")).expect("write key");
    let table = |keys: &[&Path], extra: &str| {
        let mut t = format!(
            "[verify]\nreason-header = \"X-Auth-Reason\"\nkey-poll-interval = \"1s\"\n{extra}\n"
        );
        for k in keys {
            t += &format!("[[verify.keys]]\nfile = \"{}\"\n", k.display());
        }
        t
    };
    let cfg = config(dir.path(), &table(&[key_path.as_path()], ""));
    let ex = start(&cfg, &["--web.enable-lifecycle"]);
    let url = ex.url("/v1/verify");
    let http = client();
    let t1 = Signer::with_file(Algorithm::RS256, "k1", Some("rsa.key.pem")).sign(&good());
    let t2 = Signer::with_file(Algorithm::RS256, "k2", Some("rsa2.key.pem")).sign(&good());
    let cache = |s: &Scrape| {
        (
            s.value("skew_verify_cache_requests_total", &[("result", "hit")]),
            s.value("skew_verify_cache_requests_total", &[("result", "miss")]),
            s.value("skew_verify_cache_entries", &[]),
        )
    };
    for _ in 0..3 {
        assert_eq!(ask(&http, &url, Some(&t1)).status, 200);
    }
    assert_eq!(cache(&ex.scrape()), (2.0, 1.0, 1.0));

    // 1. The key file now holds another key.
    let ok = |s: &Scrape| s.value("skew_verify_key_reloads_total", &[("result", "ok")]);
    let before = ok(&ex.scrape());
    replace(
        &key_path,
        &String::from_utf8(read("rsa2.pub.pem")).expect("utf-8"),
    );
    ex.wait_for(
        "the key file to be reloaded",
        Duration::from_secs(15),
        |s| ok(s) > before,
    );
    let a = ask(&http, &url, Some(&t1));
    assert_eq!(
        (a.status, a.reason.as_deref()),
        (401, Some("invalid_signature"))
    );
    assert_eq!(
        cache(&ex.scrape()),
        (2.0, 2.0, 0.0),
        "the first request after the reload was a miss and found the cache empty"
    );
    for _ in 0..2 {
        assert_eq!(ask(&http, &url, Some(&t2)).status, 200);
    }
    assert_eq!(cache(&ex.scrape()), (3.0, 3.0, 1.0));

    // 2. A configuration reload that drops that key: t2 fails at once.
    config(
        dir.path(),
        &format!(
            "{}[[verify.keys]]\nfile = \"{}\"\ntype = \"hmac\"\n",
            table(&[], ""),
            data("hmac.secret").display()
        ),
    );
    let r = http
        .post(ex.url("/-/reload"))
        .send()
        .expect("POST /-/reload");
    assert_eq!(r.status().as_u16(), 200);
    let a = ask(&http, &url, Some(&t2));
    assert_eq!((a.status, a.reason.as_deref()), (401, Some("unknown_key")));
    assert_eq!(cache(&ex.scrape()).2, 0.0);

    // 3. cache-size = 0: no lookups any more, and no entries gauge.
    config(dir.path(), &table(&[rsa2_path.as_path()], "cache-size = 0"));
    let r = http
        .post(ex.url("/-/reload"))
        .send()
        .expect("POST /-/reload");
    assert_eq!(r.status().as_u16(), 200);
    let s = ex.scrape();
    let hits = s.value("skew_verify_cache_requests_total", &[("result", "hit")]);
    let misses = s.value("skew_verify_cache_requests_total", &[("result", "miss")]);
    for _ in 0..3 {
        assert_eq!(ask(&http, &url, Some(&t2)).status, 200);
    }
    let s = ex.scrape();
    assert_eq!(
        (
            s.value("skew_verify_cache_requests_total", &[("result", "hit")]),
            s.value("skew_verify_cache_requests_total", &[("result", "miss")])
        ),
        (hits, misses)
    );
    assert!(
        !s.has("skew_verify_cache_entries", &[]),
        "no cache, no entries gauge"
    );
}
