//! `--web.config.file` end to end: the real binary with TLS, basic auth and headers, driven by
//! real clients: `curl` (server and client certificates, wrong CA, plain HTTP, TLS versions)
//! and a real `prometheus` scraping over TLS with basic auth. Certificates are generated here
//! with rcgen; nothing is checked in.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::prometheus::{sample_value, Prometheus, PROMETHEUS};
use common::{require_paths, run_binary, Exporter};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};

const NO_NTP: [&str; 2] = ["--ntp.server", "127.0.0.1:9"];
const CURL: &str = "/usr/bin/curl";
/// bcrypt cost of the test hashes: the lowest, so the suite stays fast (the check is the same).
const COST: u32 = 4;

/// A CA and the certificates it signed, as PEM files in one directory.
struct Pki {
    dir: PathBuf,
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed CA");
    (Issuer::new(params, key), cert.pem())
}

fn leaf(issuer: &Issuer<'static, KeyPair>, sans: Vec<SanType>, client: bool) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![if client {
        rcgen::ExtendedKeyUsagePurpose::ClientAuth
    } else {
        rcgen::ExtendedKeyUsagePurpose::ServerAuth
    }];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("sign");
    (cert.pem(), key.serialize_pem())
}

fn server_sans() -> Vec<SanType> {
    vec![
        SanType::IpAddress("127.0.0.1".parse().expect("ip")),
        SanType::DnsName("localhost".try_into().expect("dns")),
    ]
}

impl Pki {
    /// `ca.pem`, `server.pem`/`server.key` (for 127.0.0.1 and localhost), `clients-ca.pem`,
    /// `client.pem`/`client.key` (signed by it), `rogue-ca.pem`, `rogue.pem`/`rogue.key` (a
    /// client certificate from another CA).
    fn new(dir: &Path) -> Pki {
        let (server_ca, server_ca_pem) = ca("test server CA");
        let (server_pem, server_key) = leaf(&server_ca, server_sans(), false);
        let (clients_ca, clients_ca_pem) = ca("test clients CA");
        let (client_pem, client_key) = leaf(
            &clients_ca,
            vec![SanType::DnsName("prometheus".try_into().expect("dns"))],
            true,
        );
        let (rogue_ca, rogue_ca_pem) = ca("rogue CA");
        let (rogue_pem, rogue_key) = leaf(
            &rogue_ca,
            vec![SanType::DnsName("prometheus".try_into().expect("dns"))],
            true,
        );
        for (name, text) in [
            ("ca.pem", server_ca_pem),
            ("server.pem", server_pem),
            ("server.key", server_key),
            ("clients-ca.pem", clients_ca_pem),
            ("client.pem", client_pem),
            ("client.key", client_key),
            ("rogue-ca.pem", rogue_ca_pem),
            ("rogue.pem", rogue_pem),
            ("rogue.key", rogue_key),
        ] {
            std::fs::write(dir.join(name), text).expect("write PEM");
        }
        Pki {
            dir: dir.to_owned(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// What curl saw: exit code, HTTP status (0 when there was none), response headers, body.
struct Curl {
    exit: i32,
    status: u16,
    headers: String,
    body: String,
}

fn curl(args: &[&str], url: &str) -> Curl {
    let out = Command::new(CURL)
        .args(["-sS", "--max-time", "10", "-D", "-", "-o", "/dev/stderr"])
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (headers, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    Curl {
        exit: out.status.code().unwrap_or(-1),
        status: code.trim().parse().unwrap_or(0),
        headers: headers.to_ascii_lowercase(),
        body: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn https(addr: SocketAddr, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", addr.port())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

fn hash(password: &str) -> String {
    bcrypt::hash(password, COST).expect("bcrypt")
}

/// The start of every TLS web config here: the server certificate `Pki` wrote.
const TLS: &str = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";

/// An exporter whose web config is `yaml`, with its certificates in `dir`.
struct Tls {
    dir: tempfile::TempDir,
    pki: Pki,
    exporter: Exporter,
}

fn start_tls(yaml: &str, args: &[&str]) -> Tls {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(dir.path());
    let web = write(dir.path(), "web.yml", yaml);
    let exporter = Exporter::start(&[&NO_NTP[..], &["--web.config.file", &web], args].concat());
    Tls { dir, pki, exporter }
}

/// TLS + basic auth + headers, as node_exporter users write them; checked with curl.
#[test]
fn tls_basic_auth_and_headers_with_curl() {
    if !require_paths(&[CURL]) {
        return;
    }
    let Tls {
        dir: _dir,
        pki,
        exporter,
    } = start_tls(
        &format!(
            "{TLS}http_server_config:\n  headers:\n    X-Frame-Options: deny\n    \
             Strict-Transport-Security: max-age=31536000\n\
             basic_auth_users:\n  prometheus: '{}'\n",
            hash("s3cret")
        ),
        &[],
    );
    let url = https(exporter.addr, "/metrics");
    let ca = ["--cacert", &pki.path("ca.pem")];

    let ok = curl(&[&ca[..], &["-u", "prometheus:s3cret"]].concat(), &url);
    assert_eq!((ok.exit, ok.status), (0, 200), "{}", ok.body);
    assert!(ok.body.contains("skew_exporter_build_info"));
    assert!(
        ok.headers.contains("x-frame-options: deny"),
        "{}",
        ok.headers
    );
    assert!(ok
        .headers
        .contains("strict-transport-security: max-age=31536000"));

    for creds in [
        vec![],
        vec!["-u", "prometheus:wrong"],
        vec!["-u", "someone:s3cret"],
    ] {
        let refused = curl(&[&ca[..], &creds[..]].concat(), &url);
        assert_eq!(refused.status, 401, "{creds:?}: {}", refused.body);
        assert!(
            refused.headers.contains("www-authenticate: basic"),
            "{}",
            refused.headers
        );
        // Headers are set on refusals too.
        assert!(refused.headers.contains("x-frame-options: deny"));
        assert!(!refused.body.contains("skew_"), "{}", refused.body);
    }
    // Every path needs the credentials, not only /metrics.
    assert_eq!(curl(&ca, &https(exporter.addr, "/healthz")).status, 401);
    assert_eq!(
        curl(
            &[&ca[..], &["-u", "prometheus:s3cret"]].concat(),
            &https(exporter.addr, "/healthz")
        )
        .status,
        200
    );

    // A client that does not trust the CA stops at the handshake (curl 60: peer certificate
    // cannot be authenticated); a plain HTTP client gets no HTTP answer.
    let untrusted = curl(&["-u", "prometheus:s3cret"], &url);
    assert_eq!(untrusted.exit, 60, "{}", untrusted.body);
    let plain = curl(
        &["-u", "prometheus:s3cret"],
        &format!("http://127.0.0.1:{}/metrics", exporter.addr.port()),
    );
    assert_ne!(plain.status, 200, "plain HTTP was answered: {}", plain.body);

    // TLS 1.2 and 1.3 are both offered by default.
    for v in [
        ["--tlsv1.2", "--tls-max", "1.2"],
        ["--tlsv1.3", "--tls-max", "1.3"],
    ] {
        let r = curl(
            &[&ca[..], &v[..], &["-u", "prometheus:s3cret"]].concat(),
            &url,
        );
        assert_eq!(r.status, 200, "{v:?}: {}", r.body);
    }
}

/// `min_version: TLS13` refuses a TLS 1.2 client; `RequireAndVerifyClientCert` refuses clients
/// without a certificate or with one from another CA.
#[test]
fn client_certificates_and_minimum_version_are_enforced() {
    if !require_paths(&[CURL]) {
        return;
    }
    let Tls {
        dir: _dir,
        pki,
        exporter,
    } = start_tls(
        &format!(
            "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  \
             client_ca_file: clients-ca.pem\n  min_version: TLS13\n"
        ),
        &[],
    );
    let url = https(exporter.addr, "/metrics");
    let ca = ["--cacert", &pki.path("ca.pem")];
    let client = [
        "--cert",
        &pki.path("client.pem"),
        "--key",
        &pki.path("client.key"),
    ];
    let rogue = [
        "--cert",
        &pki.path("rogue.pem"),
        "--key",
        &pki.path("rogue.key"),
    ];

    let ok = curl(&[&ca[..], &client[..]].concat(), &url);
    assert_eq!((ok.exit, ok.status), (0, 200), "{}", ok.body);
    let without = curl(&ca, &url);
    assert_ne!(
        without.status, 200,
        "no client certificate was answered: {}",
        without.body
    );
    let other_ca = curl(&[&ca[..], &rogue[..]].concat(), &url);
    assert_ne!(
        other_ca.status, 200,
        "a rogue client certificate was answered: {}",
        other_ca.body
    );
    let old = curl(
        &[&ca[..], &client[..], &["--tls-max", "1.2"]].concat(),
        &url,
    );
    assert_ne!(old.status, 200, "TLS 1.2 was answered: {}", old.body);
    assert_ne!(old.exit, 0);
}

/// A certificate replaced on disk is served to the next connection, without a restart (as
/// exporter-toolkit does); a broken replacement keeps the old one serving.
#[test]
fn a_rotated_certificate_is_picked_up_by_new_connections() {
    if !require_paths(&[CURL]) {
        return;
    }
    let Tls { dir, pki, exporter } = start_tls(TLS, &[]);
    let url = https(exporter.addr, "/healthz");
    let old_ca = ["--cacert", &pki.path("ca.pem")];
    assert_eq!(curl(&old_ca, &url).status, 200);

    // A broken key: the old certificate keeps serving, the error is logged once.
    std::fs::write(dir.path().join("server.key"), "not a key").expect("write");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(curl(&old_ca, &url).status, 200);
    exporter.wait_for_log(
        "about the broken web config",
        Duration::from_secs(10),
        |l| l.contains("does not load"),
    );

    // A certificate from a new CA.
    let (new_ca, new_ca_pem) = ca("rotated server CA");
    let (pem, key) = leaf(&new_ca, server_sans(), false);
    std::fs::write(dir.path().join("new-ca.pem"), new_ca_pem).expect("write");
    std::fs::write(dir.path().join("server.pem"), pem).expect("write");
    std::fs::write(dir.path().join("server.key"), key).expect("write");
    let new_ca_arg = ["--cacert", &pki.path("new-ca.pem")];
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = curl(&new_ca_arg, &url);
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served: {}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        curl(&old_ca, &url).exit,
        60,
        "the old certificate is still served"
    );
}

/// A client that connects to a TLS listener and never finishes the handshake is cut off at
/// `--web.read-header-timeout`, like a slow request head, and counted as such.
#[test]
fn a_stalled_tls_handshake_is_cut_off_at_the_header_timeout() {
    use std::io::Read;
    if !require_paths(&[CURL]) {
        return;
    }
    let Tls {
        dir: _dir,
        pki,
        exporter,
    } = start_tls(TLS, &["--web.read-header-timeout", "500ms"]);
    let mut silent = std::net::TcpStream::connect(exporter.addr).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    // The server sends nothing before the ClientHello, then closes: EOF (or a reset).
    match silent.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "the server wrote to a silent client"),
        Err(e) => assert!(
            matches!(e.kind(), std::io::ErrorKind::ConnectionReset),
            "not closed by the server: {e}"
        ),
    }
    let metrics = curl(
        &["--cacert", &pki.path("ca.pem")],
        &https(exporter.addr, "/metrics"),
    );
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert!(
        metrics
            .body
            .contains("skew_http_connections_timed_out_total{timeout=\"header\"} 1"),
        "{}",
        metrics.body
    );
}

/// A bad web config is a start-up error (exit 2) that names the file and the problem, and
/// `--check-config` finds it too. Basic auth where the Authorization header belongs to
/// `/v1/verify` is refused with the way out.
#[test]
fn bad_web_configs_are_clear_startup_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _pki = Pki::new(dir.path());
    let cases = [
        ("nonsense: 1\n", "unknown field `nonsense`"),
        (
            "tls_server_config:\n  cert_file: server.pem\n",
            "needs key_file",
        ),
        (
            "tls_server_config:\n  cert_file: nope.pem\n  key_file: server.key\n",
            "nope.pem",
        ),
        ("basic_auth_users:\n  alice: hunter2\n", "not a bcrypt hash"),
    ];
    for (yaml, expect) in cases {
        let web = write(dir.path(), "bad.yml", yaml);
        for extra in [&[][..], &["--check-config"][..]] {
            let out = run_binary(
                &[
                    &NO_NTP[..],
                    &[
                        "--web.listen-address",
                        "127.0.0.1:0",
                        "--web.config.file",
                        &web,
                    ],
                    extra,
                ]
                .concat(),
                Duration::from_secs(20),
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{yaml:?} {extra:?}: {stderr}");
            assert!(
                stderr.contains(expect) && stderr.contains("bad.yml"),
                "{yaml:?}: {stderr}"
            );
            assert!(!stderr.contains("hunter2"), "{stderr}");
        }
    }

    let web = write(
        dir.path(),
        "auth.yml",
        &format!("basic_auth_users:\n  prometheus: '{}'\n", hash("x")),
    );
    let jwks = write(dir.path(), "jwks.json", r#"{"keys":[]}"#);
    let out = run_binary(
        &[
            &NO_NTP[..],
            &[
                "--web.listen-address",
                "127.0.0.1:0",
                "--web.config.file",
                &web,
                "--verify.jwks-file",
                &jwks,
            ],
        ]
        .concat(),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("verify.web-config-file"), "{stderr}");
}

/// With basic auth on the main listener, `/v1/verify` on its own listener with its own (empty)
/// web config answers bearer tokens, while `/metrics` still needs the password.
#[test]
fn verify_gets_its_own_listener_and_web_config() {
    if !require_paths(&[CURL]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let web = write(
        dir.path(),
        "auth.yml",
        &format!("basic_auth_users:\n  prometheus: '{}'\n", hash("pw")),
    );
    let jwks = write(dir.path(), "jwks.json", r#"{"keys":[]}"#);
    let exporter = Exporter::start(
        &[
            &NO_NTP[..],
            &[
                "--web.config.file",
                &web,
                "--verify.jwks-file",
                &jwks,
                "--verify.listen-address",
                "127.0.0.1:0",
                "--verify.web-config-file",
                "",
            ],
        ]
        .concat(),
    );
    let verify = exporter.listener("verify");
    let metrics = format!("http://{}/metrics", exporter.addr);
    assert_eq!(curl(&[], &metrics).status, 401);
    assert_eq!(curl(&["-u", "prometheus:pw"], &metrics).status, 200);
    // A token the (empty) key set cannot check: the verifier's 401, with its Bearer challenge,
    // not the basic auth one.
    let r = curl(
        &["-H", "Authorization: Bearer a.b.c"],
        &format!("http://{verify}/v1/verify"),
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.headers.contains("www-authenticate: bearer"),
        "{}",
        r.headers
    );
}

/// A real Prometheus scrapes over TLS with basic auth: `up` is 1 and the exporter's series
/// arrive; a second job with a wrong password gets `up` 0.
#[test]
fn prometheus_scrapes_over_tls_with_basic_auth() {
    if !require_paths(&[PROMETHEUS]) {
        return;
    }
    let Tls {
        dir: _dir,
        pki,
        exporter,
    } = start_tls(
        &format!(
            "{TLS}basic_auth_users:\n  prometheus: '{}'\n",
            hash("scrape-pw")
        ),
        &[],
    );
    let target = format!("127.0.0.1:{}", exporter.addr.port());
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n    \
             basic_auth:\n      username: prometheus\n      password: {password}\n    \
             static_configs:\n      - targets: ['{target}']\n",
            ca = pki.path("ca.pem")
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{}{}",
        job("good", "scrape-pw"),
        job("wrong", "not-it")
    );
    let prom_dir = tempfile::tempdir().expect("tempdir");
    let prometheus = Prometheus::start(prom_dir, &config);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = |job: &str| {
            prometheus
                .query(&format!("up{{job=\"{job}\"}}"))
                .ok()
                .and_then(|v| v.first().map(sample_value))
        };
        let build = prometheus
            .query("skew_exporter_build_info{job=\"good\"}")
            .unwrap_or_default();
        if up("good") == Some(1.0) && up("wrong") == Some(0.0) && !build.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "good up={:?} wrong up={:?}; prometheus log:\n{}",
            up("good"),
            up("wrong"),
            prometheus.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A self-signed client certificate, as `openssl req -x509` makes it: `CA:TRUE`, no extended
/// key usage. Its PEM and its key's PEM.
fn self_signed_client(name: &str) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), key.serialize_pem())
}

/// issue 19: `RequireAndVerifyClientCert` with `client_ca_file` listing exactly the client's
/// self-signed `CA:TRUE` certificate (exporter-toolkit's `client_selfsigned.pem` case): the
/// client is served, as by Go. A certificate of the same shape and name that is not listed is
/// refused, and the refusal is logged at warn with its reason.
#[test]
fn a_self_signed_client_certificate_that_is_its_own_ca_is_accepted() {
    if !require_paths(&[CURL]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(dir.path());
    let (own, own_key) = self_signed_client("prometheus");
    let (stranger, stranger_key) = self_signed_client("prometheus");
    let own_pem = write(dir.path(), "own.pem", &own);
    let own_key = write(dir.path(), "own.key", &own_key);
    let stranger_pem = write(dir.path(), "stranger.pem", &stranger);
    let stranger_key = write(dir.path(), "stranger.key", &stranger_key);
    let web = write(
        dir.path(),
        "web.yml",
        &format!(
            "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: own.pem\n"
        ),
    );
    let args = [&NO_NTP[..], &["--web.config.file", &web]].concat();
    let check = run_binary(
        &[&args[..], &["--check-config"]].concat(),
        Duration::from_secs(20),
    );
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let exporter = Exporter::start(&args);
    let url = https(exporter.addr, "/metrics");
    let ca = ["--cacert", &pki.path("ca.pem")];

    let ok = curl(
        &[&ca[..], &["--cert", &own_pem, "--key", &own_key]].concat(),
        &url,
    );
    assert_eq!((ok.exit, ok.status), (0, 200), "{}", ok.body);
    assert!(ok.body.contains("skew_exporter_build_info"));

    let refused = curl(
        &[&ca[..], &["--cert", &stranger_pem, "--key", &stranger_key]].concat(),
        &url,
    );
    assert_ne!(
        refused.status, 200,
        "an unlisted self-signed certificate was answered: {}",
        refused.body
    );
    assert_ne!(refused.exit, 0);
    let line = exporter.wait_for_log(
        "about the refused handshake",
        Duration::from_secs(10),
        |l| l.contains("WARN") && l.contains("TLS handshake refused"),
    );
    assert!(line.contains("127.0.0.1"), "no peer address: {line}");
    // The reason is in the line (webpki's: a CA certificate that is not itself listed).
    assert!(line.contains("invalid peer certificate"), "{line}");
}

/// issue 19: a verifying `client_auth_type` without `client_ca_file` (exporter-toolkit's
/// `web_config_noAuth.good.yml` shape) starts, and verifies client certificates against the
/// system trust store, here one the test controls through `SSL_CERT_FILE` and, separately,
/// `SSL_CERT_DIR` on the exporter process. A certificate from a CA outside it is refused.
#[test]
fn verifying_without_client_ca_file_uses_the_system_trust_store() {
    if !require_paths(&[CURL]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(dir.path());
    let store_dir = dir.path().join("store");
    std::fs::create_dir(&store_dir).expect("mkdir");
    std::fs::copy(
        dir.path().join("clients-ca.pem"),
        store_dir.join("clients.pem"),
    )
    .expect("copy");
    let store_file = pki.path("clients-ca.pem");
    let store_dir = store_dir.display().to_string();
    let ca = ["--cacert", &pki.path("ca.pem")];
    let client = [
        "--cert",
        &pki.path("client.pem"),
        "--key",
        &pki.path("client.key"),
    ];
    let rogue = [
        "--cert",
        &pki.path("rogue.pem"),
        "--key",
        &pki.path("rogue.key"),
    ];
    for (auth, store) in [
        (
            "VerifyClientCertIfGiven",
            ("SSL_CERT_FILE", store_file.as_str()),
        ),
        (
            "RequireAndVerifyClientCert",
            ("SSL_CERT_DIR", store_dir.as_str()),
        ),
    ] {
        let web = write(
            dir.path(),
            "web.yml",
            &format!("{TLS}  client_auth_type: {auth}\n"),
        );
        let exporter = Exporter::start_with_env(
            &[&NO_NTP[..], &["--web.config.file", &web]].concat(),
            &[store],
        );
        let url = https(exporter.addr, "/metrics");

        let ok = curl(&[&ca[..], &client[..]].concat(), &url);
        assert_eq!(
            (ok.exit, ok.status),
            (0, 200),
            "{auth} {store:?}: {}",
            ok.body
        );
        let other_ca = curl(&[&ca[..], &rogue[..]].concat(), &url);
        assert_ne!(
            other_ca.status, 200,
            "{auth}: a client certificate outside the trust store was answered: {}",
            other_ca.body
        );
        let without = curl(&ca, &url);
        if auth == "VerifyClientCertIfGiven" {
            assert_eq!(without.status, 200, "{auth}: {}", without.body);
        } else {
            assert_ne!(without.status, 200, "{auth}: no certificate was answered");
        }
        exporter.wait_for_log(
            "about the refused handshake",
            Duration::from_secs(10),
            |l| l.contains("WARN") && l.contains("TLS handshake refused"),
        );
    }
}
