//! The JWT tolerance probe (issue 16) end to end: the real binary's `/probe` and `probe`
//! subcommand against loopback targets.
//!
//! - Security: look-alike targets are refused with 400 and nothing reaches them (listeners that
//!   count connections); a redirect is reported, never followed.
//! - Bad targets: one that accepts everything, rejects everything, answers 500, is down, or
//!   rate-limits: success 0 and the reason in words.
//! - Real verifiers, each under libfaketime for the whole process (a fixed `FAKETIME="+3"` or
//!   `"-2"`): FastAPI + PyJWT (leeway 0 and 10 s), node `jose` (`clockTolerance: 5`) and node
//!   `jsonwebtoken` (`clockTolerance` unset); and skew-exporter's own `/v1/verify` (leeway 5 s,
//!   this host's clock) behind a real nginx `auth_request`. The true offset and leeway must lie within the
//!   reported bound; the figures are printed (`cargo test --test probe -- --nocapture`).
//!
//! Needs libfaketime, the venv `/opt/jwt-libs-python` with FastAPI and uvicorn, Node.js and
//! `npm ci` in tests/libs (all installed by `.ci/run`); without them those tests print SKIPPED,
//! and fail under `CI=true`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{Exporter, Scrape};

const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const PYTHON: &str = "/opt/jwt-libs-python/bin/python";
const SECRET: &str = "probe-secret-0123456789abcdef0123";
/// The scrape timeout sent with each real verifier's probe: the probe stops earlier once its
/// edges are as narrow as the round trip allows (a few seconds when the machine is quiet).
const SCRAPE_TIMEOUT: f64 = 25.0;

/// A loopback HTTP/1.1 server answering every request with one fixed head, counting the
/// connections it accepts. Lives as long as the test process.
struct Fixed {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Fixed {
    fn start(head: String) -> Fixed {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let head = head.clone();
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut buf = Vec::new();
                    let mut byte = [0u8; 1];
                    while !buf.ends_with(b"\r\n\r\n")
                        && stream.read(&mut byte).is_ok_and(|n| n == 1)
                    {
                        buf.push(byte[0]);
                    }
                    let _ = stream.write_all(
                        format!("{head}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .as_bytes(),
                    );
                });
            }
        });
        Fixed { addr, connections }
    }

    fn status(code: &str) -> Fixed {
        Fixed::start(format!("HTTP/1.1 {code}"))
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A port nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
}

/// A config file with one module `api` (HS256 with [`SECRET`], audience `probe`) allowed to
/// probe `targets`.
fn setup(targets: &[String], extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("probe.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let config = dir.path().join("config.toml");
    let list: Vec<String> = targets.iter().map(|t| format!("{t:?}")).collect();
    std::fs::write(
        &config,
        format!(
            "[ntp]\nservers = [\"127.0.0.1:9\"]\n\n[probe.jwt.modules.api]\nkey-file = {:?}\n\
             type = \"hmac\"\nalgorithm = \"HS256\"\naud = \"probe\"\ntargets = [{}]\n{extra}\n",
            secret.display().to_string(),
            list.join(", ")
        ),
    )
    .unwrap();
    Setup { _dir: dir, config }
}

fn secret_file(dir: &Path) -> PathBuf {
    let p = dir.join("verifier.secret");
    std::fs::write(&p, format!("{SECRET}\n")).unwrap();
    p
}

/// GET /probe with a scrape timeout header: status and body.
fn probe(exporter: &Exporter, module: &str, target: &str, scrape_timeout: f64) -> (u16, String) {
    let url = url::Url::parse_with_params(
        &exporter.url("/probe"),
        &[("module", module), ("target", target)],
    )
    .unwrap();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs_f64(scrape_timeout + 10.0))
        .build()
        .unwrap();
    let resp = client
        .get(url)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            scrape_timeout.to_string(),
        )
        .send()
        .unwrap_or_else(|e| panic!("GET /probe: {e}\n{}", exporter.log_text()));
    let status = resp.status().as_u16();
    (status, resp.text().unwrap())
}

fn parse(body: &str) -> Scrape {
    Scrape::parse(body).unwrap_or_else(|e| panic!("cannot parse the /probe answer: {e}\n{body}"))
}

#[test]
fn targets_outside_the_list_are_refused_and_never_contacted() {
    let allowed = Fixed::status("200 OK");
    let other = Fixed::status("200 OK");
    let s = setup(&[allowed.url("/api/")], "");
    let exporter = Exporter::start(&["--config.file", s.config.to_str().unwrap()]);
    let (a, o) = (allowed.addr, other.addr);
    let look_alikes = [
        format!("http://{o}/api/"),              // another port
        format!("http://{a}@{o}/api/"),          // `@` in the authority
        format!("http://evil.example@{a}/api/"), // credentials, even to the right host
        format!("http://{a}/api"),               // the prefix without its `/`
        format!("http://{a}/apix/"),             // a longer sibling
        format!("http://{a}/api%2f..%2f"),       // percent-encoded `/`
        format!("http://{a}/api/%2e%2e/admin"),  // percent-encoded `..` (resolved: /admin)
        format!("http://{a}/api/..%5cadmin"),    // percent-encoded `\`
        format!("https://{a}/api/"),             // another scheme
        format!("http://{a}/api/#x"),            // a fragment
        "http://127.0.0.1/api/".to_owned(),      // the default port
        "file:///etc/passwd".to_owned(),
    ];
    for t in &look_alikes {
        let (status, body) = probe(&exporter, "api", t, 5.0);
        assert_eq!(status, 400, "{t}: {body}");
    }
    let (status, _) = probe(&exporter, "nope", &allowed.url("/api/"), 5.0);
    assert_eq!(status, 400);
    assert_eq!(other.connections(), 0, "a refused target was contacted");
    assert_eq!(
        allowed.connections(),
        0,
        "a refused path was sent to the allowed host"
    );
    let scrape = exporter.scrape();
    assert_eq!(
        scrape.value(
            "skew_probe_refused_total",
            &[("reason", "target_not_allowed")]
        ),
        look_alikes.len() as f64
    );
    assert_eq!(
        scrape.value("skew_probe_refused_total", &[("reason", "unknown_module")]),
        1.0
    );
    // The token never appears in the log.
    assert!(
        !exporter.log_text().contains("eyJ"),
        "{}",
        exporter.log_text()
    );
}

#[test]
fn a_redirect_is_reported_and_not_followed() {
    let login = Fixed::status("200 OK");
    let redirect = Fixed::start(format!(
        "HTTP/1.1 302 Found\r\nLocation: {}",
        login.url("/login?next=/api/")
    ));
    let s = setup(&[redirect.url("/api/")], "");
    let exporter = Exporter::start(&["--config.file", s.config.to_str().unwrap()]);
    let (status, body) = probe(&exporter, "api", &redirect.url("/api/health"), 5.0);
    assert_eq!(status, 200, "{body}");
    let r = parse(&body);
    assert_eq!(r.value("skew_probe_success", &[]), 0.0, "{body}");
    assert_eq!(r.value("skew_probe_requests", &[]), 1.0, "{body}");
    assert_eq!(redirect.connections(), 1);
    assert_eq!(login.connections(), 0, "the redirect was followed");
    assert!(
        exporter.log_text().contains("redirect"),
        "{}",
        exporter.log_text()
    );
}

/// Runs `skew-exporter probe` and returns (exit code, stdout).
fn cli_probe(config: &Path, target: &str) -> (i32, String) {
    let out = common::run_binary(
        &[
            "--config.file",
            config.to_str().unwrap(),
            "probe",
            "--module",
            "api",
            "--target",
            target,
        ],
        Duration::from_secs(60),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn bad_targets_end_the_probe_with_a_reason() {
    let accepts = Fixed::status("200 OK");
    let rejects = Fixed::status("401 Unauthorized");
    let broken = Fixed::status("500 Internal Server Error");
    let limited = Fixed::start("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30".into());
    let down = format!("http://127.0.0.1:{}/api/", closed_port());
    let s = setup(
        &[
            accepts.url("/api/"),
            rejects.url("/api/"),
            broken.url("/api/"),
            limited.url("/api/"),
            down.clone(),
        ],
        "timeout = \"5s\"",
    );
    for (target, words) in [
        (accepts.url("/api/"), "does not check tokens"),
        (rejects.url("/api/"), "rejected every probe token"),
        (broken.url("/api/"), "answered 500"),
        (
            limited.url("/api/"),
            "rate-limits the probe (429, Retry-After 30)",
        ),
        (down, "cannot be reached"),
    ] {
        let (code, out) = cli_probe(&s.config, &target);
        assert_eq!(code, 1, "{target}: {out}");
        assert!(
            out.contains(words),
            "{target}: expected {words:?} in\n{out}"
        );
    }
    // 429: backed off after the first request.
    assert_eq!(limited.connections(), 1);
    // The CLI refuses a target outside the list (exit 2) without contacting it.
    let (code, _) = cli_probe(&s.config, &format!("http://{}/other", accepts.addr));
    assert_eq!(code, 2);

    // Through /probe: success 0 and the counters of what was spent.
    let exporter = Exporter::start(&["--config.file", s.config.to_str().unwrap()]);
    let (status, body) = probe(&exporter, "api", &accepts.url("/api/x"), 5.0);
    assert_eq!(status, 200);
    let r = parse(&body);
    assert_eq!(r.value("skew_probe_success", &[]), 0.0, "{body}");
    assert!(r.value("skew_probe_requests", &[]) >= 2.0, "{body}");
    assert!(!r.has("skew_probe_verifier_offset_seconds", &[]), "{body}");
}

/// A verifier process under libfaketime, killed on drop.
struct Verifier {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args` with the verifier environment, the whole process's clock shifted by
/// `shift` seconds, and reads its port from the first line of stdout.
fn start_verifier(program: &str, args: &[&str], shift: i32, env: &[(&str, &str)]) -> Verifier {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path());
    let mut child = Command::new(program)
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libs"))
        .env("SECRET_FILE", &secret)
        .env("AUD", "probe")
        .env("LD_PRELOAD", FAKETIME_LIB)
        .env("FAKETIME", format!("{shift:+}"))
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the verifier prints its port");
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{program}: no port on its first line: {line:?}"));
    let v = Verifier {
        child,
        port,
        _dir: dir,
    };
    // Warm up (first-request costs are not the probe's), and check it verifies at all.
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let status = client
        .get(format!("http://127.0.0.1:{}/api/warmup", v.port))
        .send()
        .expect("the verifier answers")
        .status();
    assert_eq!(status, 401, "no token must be refused");
    v
}

struct Figures {
    name: String,
    offset: f64,
    leeway: f64,
    bound: f64,
    requests: f64,
    duration: f64,
}

/// Probes the verifier on `port` through the exporter and checks the truth against the bound.
fn measure(name: &str, port: u16, shift: f64, leeway: f64, scrape_timeout: f64) -> Figures {
    let target = format!("http://127.0.0.1:{port}/api/");
    let s = setup(std::slice::from_ref(&target), "timeout = \"60s\"");
    let exporter = Exporter::start(&["--config.file", s.config.to_str().unwrap()]);
    let (status, body) = probe(&exporter, "api", &format!("{target}health"), scrape_timeout);
    assert_eq!(status, 200, "{body}");
    let r = parse(&body);
    assert_eq!(
        r.value("skew_probe_success", &[]),
        1.0,
        "{name}: {body}\n{}",
        exporter.log_text()
    );
    let f = Figures {
        name: name.to_owned(),
        offset: r.value("skew_probe_verifier_offset_seconds", &[]),
        leeway: r.value("skew_probe_verifier_leeway_seconds", &[]),
        bound: r.value("skew_probe_bound_seconds", &[]),
        requests: r.value("skew_probe_requests", &[]),
        duration: r.value("skew_probe_duration_seconds", &[]),
    };
    eprintln!(
        "FIGURES {name}: true offset {shift:+} s leeway {leeway} s | measured offset {:+.3} s \
         leeway {:.3} s bound ±{:.3} s | {} requests in {:.2} s",
        f.offset, f.leeway, f.bound, f.requests, f.duration
    );
    assert!(
        (f.offset - shift).abs() <= f.bound,
        "{name}: offset {} not within ±{} of {shift}\n{body}",
        f.offset,
        f.bound
    );
    assert!(
        (f.leeway - leeway).abs() <= f.bound,
        "{name}: leeway {} not within ±{} of {leeway}\n{body}",
        f.leeway,
        f.bound
    );
    assert!(f.requests <= 40.0, "{body}");
    f
}

#[test]
fn fastapi_pyjwt_under_faketime() {
    if !common::require_paths(&[PYTHON, FAKETIME_LIB]) {
        return;
    }
    let python_has = |m: &str| {
        Command::new(PYTHON)
            .args(["-c", &format!("import {m}")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !(python_has("fastapi") && python_has("uvicorn")) {
        let msg = "fastapi_pyjwt_under_faketime needs fastapi and uvicorn in /opt/jwt-libs-python (pip install -r tests/libs/requirements.txt)";
        assert!(!common::in_ci(), "CI=true and {msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    // The four cases at once (each its own verifier and exporter): the file's wall time stays
    // within one budget on a loaded machine.
    let cases: Vec<_> = [(3, 0), (-2, 0), (3, 10), (-2, 10)]
        .into_iter()
        .map(|(shift, leeway)| {
            thread::spawn(move || {
                let v = start_verifier(
                    PYTHON,
                    &["probe_verifier.py"],
                    shift,
                    &[("LEEWAY", &leeway.to_string())],
                );
                let name = format!("FastAPI+PyJWT faketime {shift:+} leeway {leeway}");
                measure(
                    &name,
                    v.port,
                    f64::from(shift),
                    f64::from(leeway),
                    SCRAPE_TIMEOUT,
                )
            })
        })
        .collect();
    let all: Vec<Figures> = cases
        .into_iter()
        .map(|c| c.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect();
    for f in &all {
        eprintln!(
            "{}: offset {:+.3} leeway {:.3} bound {:.3} requests {} duration {:.2}",
            f.name, f.offset, f.leeway, f.bound, f.requests, f.duration
        );
    }
}

/// The first `name` on PATH.
fn which(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.to_str().map(str::to_owned))
}

#[test]
fn node_jose_and_jsonwebtoken_under_faketime() {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libs/node_modules");
    let node = which("node").unwrap_or_else(|| "node (nodejs)".into());
    let jose = modules.join("jose/package.json");
    let jsonwebtoken = modules.join("jsonwebtoken/package.json");
    if !common::require_paths(&[
        &node,
        FAKETIME_LIB,
        jose.to_str().unwrap(),
        jsonwebtoken.to_str().unwrap(),
    ]) {
        return;
    }
    // jose with clockTolerance 5 on a clock 3 s ahead; jsonwebtoken without clockTolerance on
    // a clock 2 s behind. Both floor their clock to the second: the bound must cover that.
    let cases: Vec<_> = [("jose", 3, Some(5)), ("jsonwebtoken", -2, None)]
        .into_iter()
        .map(|(lib, shift, leeway)| {
            let node = node.clone();
            thread::spawn(move || {
                let leeway_env = leeway.map(|l: i32| l.to_string());
                let mut env = vec![("LIB", lib)];
                if let Some(l) = &leeway_env {
                    env.push(("LEEWAY", l));
                }
                let v = start_verifier(&node, &["probe_verifier.mjs"], shift, &env);
                let name = format!("node {lib} faketime {shift:+} clockTolerance {leeway:?}");
                let truth = f64::from(leeway.unwrap_or(0));
                let f = measure(&name, v.port, f64::from(shift), truth, SCRAPE_TIMEOUT);
                assert!(
                    f.bound >= 0.5,
                    "{name}: a floored clock leaves half a second: {}",
                    f.bound
                );
            })
        })
        .collect();
    for c in cases {
        c.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
}

#[test]
fn nginx_auth_request_to_v1_verify() {
    if !common::require_paths(&[common::nginx::NGINX]) {
        return;
    }
    let upstream = Fixed::status("200 OK");
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path());
    let port = common::nginx::free_port();
    let target = format!("http://127.0.0.1:{port}/api/");
    // One exporter: /v1/verify on its own listener (HS256 with the probe's secret, audience
    // `probe`, leeway 5 s) and the probe module aimed at nginx.
    let s = setup(
        std::slice::from_ref(&target),
        &format!(
            "timeout = \"60s\"\n\n[verify]\nlisten-address = \"127.0.0.1:0\"\naudiences = [\"probe\"]\n\
             leeway = \"5s\"\n[[verify.keys]]\nfile = {:?}\ntype = \"hmac\"\n",
            secret.display().to_string()
        ),
    );
    let exporter = Exporter::start(&["--config.file", s.config.to_str().unwrap()]);
    let _nginx =
        common::nginx::start_nginx(dir.path(), port, exporter.listener("verify"), upstream.addr);
    let (status, body) = probe(&exporter, "api", &format!("{target}health"), SCRAPE_TIMEOUT);
    assert_eq!(status, 200, "{body}");
    let r = parse(&body);
    assert_eq!(
        r.value("skew_probe_success", &[]),
        1.0,
        "{body}\n{}",
        exporter.log_text()
    );
    let (offset, leeway, bound) = (
        r.value("skew_probe_verifier_offset_seconds", &[]),
        r.value("skew_probe_verifier_leeway_seconds", &[]),
        r.value("skew_probe_bound_seconds", &[]),
    );
    eprintln!(
        "FIGURES nginx + /v1/verify leeway 5: true offset 0 s leeway 5 s | measured offset \
         {offset:+.3} s leeway {leeway:.3} s bound ±{bound:.3} s | {} requests in {:.2} s",
        r.value("skew_probe_requests", &[]),
        r.value("skew_probe_duration_seconds", &[])
    );
    // The same host's clock; /v1/verify floors it (jsonwebtoken's whole seconds).
    assert!(offset.abs() <= bound, "{body}");
    assert!((leeway - 5.0).abs() <= bound, "{body}");
    assert!(bound >= 0.5, "{body}");
    // What reached the upstream was only what /v1/verify allowed.
    assert!(upstream.connections() >= 1);
}
