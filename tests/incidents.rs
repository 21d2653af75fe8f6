//! Issue 13, section 6: the three token incidents of the field, reproduced end to end with real
//! parts, each judged the way an operator would see it.
//!
//! Every incident runs its own stack on loopback: a real token issuer (PyJWT behind Python's
//! HTTP server, `tests/libs/incident_issuer.py`), real APIs that verify the tokens and append
//! one verification event per request to a file (FastAPI + PyJWT, `incident_verifier.py`; node
//! `jose`, `incident_verifier.mjs`), skew-exporter following those files, its NTP server a
//! scripted one on loopback with no shift, and a real Prometheus scraping the exporter every
//! second. Clients (threads of this test) log in and call the APIs. Then:
//! - the exporter's own series carry the exact truth the clients saw (every 401 is a counted
//!   rejection, with the right reason and cause), and the figures the incident is about (lead,
//!   issuer clock error, delay) are where the incident puts them;
//! - the dashboard panel that is meant to show the incident shows it (its query, from
//!   `dashboards/skew-exporter.json`, through Prometheus's HTTP API);
//! - of the three alerts of issue 13, the `expr` (read from `alerts/skew-exporter.rules.yml`) of
//!   the right one returns the right series and the two others return nothing. Their `for:`
//!   durations are promtool's job (`alerts/tests/`), not this file's.
//!
//! The incidents:
//! 1. An issuer 3 s fast (libfaketime `+3` on the issuer process only): clients log in and call
//!    right away; a FastAPI + PyJWT verifier and a node `jose` verifier (leeway 0, both on this
//!    host, listed in `events.local-sources`) reject the fresh tokens as not yet valid. Cause
//!    `clock_skew`, lead ≈ 3 s, issuer clock error ≈ +3 s; `JwtRejectionsFromClockSkew`.
//! 2. Blocking validation under load: a synchronous `time.sleep(0.04)` inside the async FastAPI
//!    dependency, 50 concurrent clients, 6 requests each, behind a real nginx that stamps
//!    `X-Request-Start` (the verifier's `received`). Tokens live 3 s, not the issue's 60 s, so
//!    that the test stays short: what matters is that the wait (≈ 50 × 0.04 s = 2 s) is a
//!    large part of the lifetime. Delay p99 over 1 s, expired rejections with cause
//!    `in_transit`, NTP offset and lead ≈ 0; `JwtVerificationDelayHigh`.
//! 3. Zero leeway at the expiry edge, with the verifier 300 ms ahead (libfaketime `+0.3` on the
//!    FastAPI + PyJWT verifier): clients use each token until its `exp` by their own clock, so
//!    calls in its last 300 ms fail. Cause `expiry_edge`, the "would have let through with 1 s
//!    more leeway" panel is non-zero; `JwtVerifierWithoutLeeway`.
//!
//! Bounded: a fixed number of requests per incident, every wait under a deadline that only
//! fails a hung run; no assertion on speed. Needs libfaketime, the venv `/opt/jwt-libs-python`
//! (PyJWT, FastAPI, uvicorn), Node.js with `npm ci` run in tests/libs, nginx and prometheus (all
//! installed by `.ci/run`); without them a test prints SKIPPED, and fails under `CI=true`.
//! `cargo test --test incidents -- --nocapture` prints the figures each incident saw.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use common::nginx::{free_port, NGINX};
use common::prometheus::{sample_value, Prometheus, PROMETHEUS};
use common::scripted::{Behaviour, Scripted};
use common::{require_paths, Exporter, Scrape};

const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const PYTHON: &str = "/opt/jwt-libs-python/bin/python";
const SECRET: &str = "incident-secret-0123456789abcdef0123";
const AUD: &str = "api";
const RULES: &str = "alerts/skew-exporter.rules.yml";
const DASHBOARD: &str = "dashboards/skew-exporter.json";
/// The alerts of issue 13: in each incident, one returns series and the two others nothing.
const ALERTS: [&str; 3] = [
    "JwtRejectionsFromClockSkew",
    "JwtVerificationDelayHigh",
    "JwtVerifierWithoutLeeway",
];
/// `events.lead-min-samples` (default 3): the first events of a pair have no lead yet, so their
/// time rejections cannot be `clock_skew`.
const LEAD_MIN_SAMPLES: f64 = 3.0;
/// Bound on every wait for the exporter and Prometheus to catch up (never reached on a healthy
/// run, whatever the load).
const DEADLINE: Duration = Duration::from_secs(90);

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn libs() -> PathBuf {
    repo("tests/libs")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// What each incident needs

/// The first `name` on PATH.
fn which(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.to_str().map(str::to_owned))
}

/// Checks the programs and libraries an incident needs: true when all are there; otherwise
/// false locally (SKIPPED printed), a panic under `CI=true`.
fn needs(node: bool, nginx: bool) -> bool {
    let mut paths = vec![PYTHON, FAKETIME_LIB, PROMETHEUS];
    if nginx {
        paths.push(NGINX);
    }
    let node_bin = which("node").unwrap_or_else(|| "node (nodejs)".into());
    let jose = libs().join("node_modules/jose/package.json");
    let jose = jose.to_str().expect("utf-8 path").to_owned();
    if node {
        paths.push(&node_bin);
        paths.push(&jose);
    }
    if !require_paths(&paths) {
        return false;
    }
    let python_has = |m: &str| {
        Command::new(PYTHON)
            .args(["-c", &format!("import {m}")])
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !["jwt", "fastapi", "uvicorn"].iter().all(|m| python_has(m)) {
        let msg = "needs PyJWT, fastapi and uvicorn in /opt/jwt-libs-python (pip install -r tests/libs/requirements.txt)";
        assert!(!common::in_ci(), "CI=true and this test {msg}");
        eprintln!("SKIPPED: {msg}");
        return false;
    }
    true
}

// ---------------------------------------------------------------------------------------------
// The real parts

/// A helper program from tests/libs that prints its port on its first line; killed on drop.
struct Program {
    child: Child,
    port: u16,
    what: String,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Program {
    /// Starts `program script` in tests/libs with `env`, its whole clock shifted by `faketime`
    /// (libfaketime's `FAKETIME` syntax, e.g. `"+3"`) if given.
    fn start(program: &str, script: &str, env: &[(&str, &str)], faketime: Option<&str>) -> Program {
        let what = format!("{script} {env:?} faketime {faketime:?}");
        let mut cmd = Command::new(program);
        cmd.arg(script)
            .current_dir(libs())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(shift) = faketime {
            cmd.env("LD_PRELOAD", FAKETIME_LIB)
                .env("FAKETIME", shift)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program} {script}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{what}: no port on its first line: {line:?}"));
        Program { child, port, what }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// The issuer: PyJWT, `iat` = `nbf` = its clock in whole seconds, `exp` = `iat` + `lifetime`.
fn issuer(dir: &Path, iss: &str, lifetime: u32, faketime: Option<&str>) -> Program {
    let secret = secret_file(dir);
    Program::start(
        PYTHON,
        "incident_issuer.py",
        &[
            ("SECRET_FILE", &secret),
            ("ISS", iss),
            ("AUD", AUD),
            ("LIFETIME", &lifetime.to_string()),
        ],
        faketime,
    )
}

/// A FastAPI + PyJWT verifier of `source` appending its events to `events`; `block` seconds of
/// synchronous sleep in its async dependency.
fn fastapi_verifier(
    dir: &Path,
    source: &str,
    events: &Path,
    block: f64,
    faketime: Option<&str>,
) -> Program {
    let secret = secret_file(dir);
    Program::start(
        PYTHON,
        "incident_verifier.py",
        &[
            ("SECRET_FILE", &secret),
            ("AUD", AUD),
            ("LEEWAY", "0"),
            ("SOURCE", source),
            ("BLOCK", &block.to_string()),
            ("EVENTS_FILE", events.to_str().expect("utf-8 path")),
        ],
        faketime,
    )
}

/// A node `jose` verifier of `source` (clockTolerance 0) appending its events to `events`.
fn jose_verifier(dir: &Path, source: &str, events: &Path) -> Program {
    let secret = secret_file(dir);
    let node = which("node").expect("checked by needs()");
    Program::start(
        &node,
        "incident_verifier.mjs",
        &[
            ("SECRET_FILE", &secret),
            ("AUD", AUD),
            ("LEEWAY", "0"),
            ("SOURCE", source),
            ("EVENTS_FILE", events.to_str().expect("utf-8 path")),
        ],
        None,
    )
}

fn secret_file(dir: &Path) -> String {
    let path = dir.join("secret");
    std::fs::write(&path, format!("{SECRET}\n")).expect("write secret");
    path.to_str().expect("utf-8 path").to_owned()
}

/// nginx on `port` in front of `upstream`, stamping each request's arrival as
/// `X-Request-Start: t=<unix seconds with milliseconds>` (the verifier's `received`).
fn request_start_proxy(dir: &Path, port: u16, upstream: u16) -> common::nginx::Nginx {
    let server = format!(
        r#"
    server {{
        listen 127.0.0.1:{port} backlog=512;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header X-Request-Start "t=${{msec}}";
            proxy_read_timeout 120s;
        }}
    }}"#
    );
    common::nginx::start(
        dir,
        port,
        &common::nginx::Conf {
            worker_connections: 512,
            server: &server,
            ..Default::default()
        },
    )
}

/// The exporter following `files` (created empty first), its NTP server a scripted one on
/// `127.0.0.<ntp_ip>` with no shift, `local` listed in `events.local-sources` (the verifiers
/// that run on this host, for the issuer clock error); and a real
/// Prometheus scraping it every second.
struct Stack {
    exporter: Exporter,
    prom: Prometheus,
    _ntp: Scripted,
}

fn start_stack(dir: &Path, ntp_ip: u8, files: &[&Path], local: &[&str]) -> Stack {
    let ntp = Scripted::start(Ipv4Addr::new(127, 0, 0, ntp_ip), 0, Behaviour::Shifted(0))
        .expect("bind the scripted NTP server");
    let config = dir.join("skew-exporter.toml");
    let mut toml = "# written by tests/incidents.rs\n[events]\n".to_owned();
    if !local.is_empty() {
        let local: Vec<String> = local.iter().map(|s| format!("{s:?}")).collect();
        toml.push_str(&format!("local-sources = [{}]\n", local.join(", ")));
    }
    std::fs::write(&config, toml).expect("write config");
    let label = ntp.label();
    let mut args: Vec<String> = [
        "--ntp.server",
        &label,
        "--ntp.interval",
        "1s",
        "--ntp.burst",
        "2",
        "--ntp.burst-spacing",
        "100ms",
        "--ntp.timeout",
        "300ms",
        "--config.file",
        config.to_str().expect("utf-8 path"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for f in files {
        std::fs::write(f, "").expect("create events file");
        args.push("--events.file".into());
        args.push(f.to_str().expect("utf-8 path").into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let exporter = Exporter::start(&args);
    exporter.wait_for("the NTP system offset", DEADLINE, |s| {
        s.has("skew_ntp_system_offset_seconds", &[])
    });
    let prom_dir = tempfile::tempdir().expect("temp dir");
    let prom = Prometheus::start(
        prom_dir,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: skew-exporter\n    static_configs:\n      \
             - targets: [\"{}\"]\n",
            exporter.addr
        ),
    );
    // Prometheus scrapes before the incident starts: a counter it first sees only after the
    // incident (a quiet machine runs one in a few seconds) would stay flat to rate().
    let deadline = Instant::now() + DEADLINE;
    while query(&prom, "up{job=\"skew-exporter\"} == 1").is_empty() {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the exporter"
        );
        thread::sleep(Duration::from_millis(200));
    }
    Stack {
        exporter,
        prom,
        _ntp: ntp,
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("HTTP client")
}

/// Logs in: the token and its `exp`. The token stays in this test's memory only.
fn login(c: &reqwest::blocking::Client, issuer: &Program) -> (String, f64) {
    let text = c
        .post(issuer.url("/login"))
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("login at {}: {e}", issuer.what));
    let body: Value = serde_json::from_str(&text).expect("the issuer answers JSON");
    let token = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    (token, body["exp"].as_f64().expect("exp"))
}

/// Calls `url` with the token: the status code.
fn call(c: &reqwest::blocking::Client, url: &str, token: &str) -> u16 {
    c.get(url)
        .bearer_auth(token)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .status()
        .as_u16()
}

/// Status codes the clients saw, per source.
#[derive(Default, Debug)]
struct Seen(BTreeMap<(String, u16), u64>);

impl Seen {
    fn add(&mut self, source: &str, status: u16) {
        *self.0.entry((source.to_owned(), status)).or_default() += 1;
    }
    fn get(&self, source: &str, status: u16) -> u64 {
        self.0
            .get(&(source.to_owned(), status))
            .copied()
            .unwrap_or(0)
    }
    fn total(&self) -> u64 {
        self.0.values().sum()
    }
    fn merge(&mut self, other: Seen) {
        for (k, v) in other.0 {
            *self.0.entry(k).or_default() += v;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Judging

/// Waits until the exporter has counted all `total` verifications and Prometheus has scraped
/// that count; returns the exporter's scrape at that point.
fn settle(stack: &Stack, total: u64) -> Scrape {
    let sum = |s: &Scrape| -> f64 {
        s.series("skew_jwt_verifications_total")
            .map(|x| x.value)
            .sum()
    };
    let scrape = stack
        .exporter
        .wait_for("every verification event counted", DEADLINE, |s| {
            sum(s) >= total as f64
        });
    assert_eq!(
        sum(&scrape),
        total as f64,
        "the exporter counted more verifications than the clients made:\n{}",
        scrape.dump("skew_jwt_")
    );
    let deadline = Instant::now() + DEADLINE;
    loop {
        let seen = stack
            .prom
            .query("sum(skew_jwt_verifications_total)")
            .ok()
            .and_then(|r| r.first().map(sample_value));
        if seen == Some(total as f64) {
            return scrape;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus saw {seen:?} verifications, not {total}"
        );
        thread::sleep(Duration::from_millis(250));
    }
}

/// The `expr` of every alert in the rule file.
fn alert_exprs() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo(RULES)).expect("read the rule file");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("rule file YAML");
    let mut out = BTreeMap::new();
    for group in doc["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            if let (Some(name), Some(expr)) = (rule["alert"].as_str(), rule["expr"].as_str()) {
                out.insert(name.to_owned(), expr.to_owned());
            }
        }
    }
    out
}

/// The queries of the dashboard panel titled `title`, with the variables as "all" (`.*`), and
/// `$__rate_interval` and `$__range` as 10 minutes (longer than any incident: Grafana widens
/// `$__rate_interval` with the zoom, and a panel read after a slow incident must still see it;
/// at 15 s a busy machine's incident had left the window before the query ran).
fn panel_queries(title: &str) -> Vec<(String, String)> {
    let d: Value =
        serde_json::from_str(&std::fs::read_to_string(repo(DASHBOARD)).expect("read dashboard"))
            .expect("dashboard JSON");
    let mut stack: Vec<&Value> = d["panels"].as_array().expect("panels").iter().collect();
    while let Some(p) = stack.pop() {
        if let Some(children) = p["panels"].as_array() {
            stack.extend(children);
        }
        if p["title"] != title {
            continue;
        }
        return p["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .map(|t| {
                let mut e = t["expr"].as_str().expect("expr").to_owned();
                for (var, value) in [
                    ("$__rate_interval", "10m"),
                    ("$__range", "10m"),
                    ("$job", ".*"),
                    ("$instance", ".*"),
                    ("$source", ".*"),
                    ("$issuer", ".*"),
                ] {
                    e = e.replace(var, value);
                }
                (t["refId"].as_str().unwrap_or("?").to_owned(), e)
            })
            .collect();
    }
    panic!("{DASHBOARD} has no panel {title:?}");
}

/// One series of a query result: its labels (without `__name__`) and value.
#[derive(Debug, Clone)]
struct Series {
    labels: BTreeMap<String, String>,
    value: f64,
}

fn query(prom: &Prometheus, q: &str) -> Vec<Series> {
    prom.query(q)
        .unwrap_or_else(|e| panic!("Prometheus refused {q}: {e}"))
        .iter()
        .map(|s| Series {
            labels: s["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| *k != "__name__")
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            value: sample_value(s),
        })
        .collect()
}

/// Evaluates the three alerts' expressions until `firing`'s returns a series for every one of
/// `want` (label sets, as `[("source", "orders")]`), then checks that it returns only those and
/// that the two other alerts return nothing. Returns what `firing` returned.
fn judge_alerts(prom: &Prometheus, firing: &str, want: &[Vec<(&str, &str)>]) -> Vec<Series> {
    let exprs = alert_exprs();
    let expr_of = |name: &str| -> &String {
        exprs
            .get(name)
            .unwrap_or_else(|| panic!("{RULES} has no alert {name}"))
    };
    let matches = |s: &Series, w: &[(&str, &str)]| {
        w.iter()
            .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    };
    let deadline = Instant::now() + DEADLINE;
    let got = loop {
        let got = query(prom, expr_of(firing));
        if want.iter().all(|w| got.iter().any(|s| matches(s, w))) {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "{firing} returned {got:?}, not a series for each of {want:?}"
        );
        thread::sleep(Duration::from_millis(500));
    };
    for s in &got {
        assert!(
            want.iter().any(|w| matches(s, w)),
            "{firing} returned a series nobody expects: {s:?}"
        );
    }
    for other in ALERTS.iter().filter(|a| **a != firing) {
        let r = query(prom, expr_of(other));
        assert!(
            r.is_empty(),
            "{other} must stay silent in this incident: {r:?}"
        );
    }
    got
}

/// The value of the series of `scrape`'s family `name` whose labels include `labels`, summed.
fn sum_of(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .series(name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum::<f64>()
        + 0.0 // an empty sum is -0.0
}

// ---------------------------------------------------------------------------------------------
// The incidents

/// Incident 1: an issuer 3 s fast.
#[test]
fn incident_1_issuer_three_seconds_fast() {
    if !needs(true, false) {
        return;
    }
    const ISS: &str = "https://idp.incident1.test";
    const THREADS: usize = 5;
    const LOGINS: usize = 24;
    const RETRIES: usize = 2;
    let dir = tempfile::tempdir().expect("temp dir");
    let (orders_log, profile_log) = (
        dir.path().join("orders.jsonl"),
        dir.path().join("profile.jsonl"),
    );
    let stack = start_stack(
        dir.path(),
        91,
        &[&orders_log, &profile_log],
        &["orders", "profile"],
    );
    let issuer = Arc::new(issuer(dir.path(), ISS, 900, Some("+3")));
    let orders = Arc::new(fastapi_verifier(
        dir.path(),
        "orders",
        &orders_log,
        0.0,
        None,
    ));
    let profile = Arc::new(jose_verifier(dir.path(), "profile", &profile_log));

    // Log in and call both APIs right away, a little apart; keep a few tokens to call again
    // once their nbf has passed on the real clock (the retry that works).
    let kept: Arc<Mutex<Vec<(String, f64)>>> = Arc::default();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (issuer, orders, profile, kept) = (
                issuer.clone(),
                orders.clone(),
                profile.clone(),
                kept.clone(),
            );
            thread::spawn(move || {
                let c = client();
                let mut seen = Seen::default();
                for i in 0..LOGINS {
                    let (token, exp) = login(&c, &issuer);
                    seen.add("orders", call(&c, &orders.url("/api/orders"), &token));
                    seen.add("profile", call(&c, &profile.url("/api/profile"), &token));
                    if i < RETRIES {
                        kept.lock().expect("lock").push((token, exp));
                    }
                    thread::sleep(Duration::from_millis(150));
                }
                seen
            })
        })
        .collect();
    let mut seen = Seen::default();
    for t in threads {
        seen.merge(t.join().expect("client thread"));
    }
    let kept = std::mem::take(&mut *kept.lock().expect("lock"));
    // nbf = iat = exp − 900 on the issuer's clock; wait until the real clock is past the last.
    let last_nbf = kept.iter().map(|(_, exp)| exp - 900.0).fold(0.0, f64::max);
    while unix_now() < last_nbf + 0.5 {
        thread::sleep(Duration::from_millis(100));
    }
    let c = client();
    for (token, _) in &kept {
        seen.add("orders", call(&c, &orders.url("/api/orders"), token));
        seen.add("profile", call(&c, &profile.url("/api/profile"), token));
    }
    let scrape = settle(&stack, seen.total());

    // The truth the clients saw, per source: every 401 a rejection, every 200 an acceptance;
    // every rejection a time rejection (not yet valid, or issued in the future for PyJWT's iat
    // check) with cause clock_skew, except the first events of a pair, before a lead exists.
    let mut figures = Vec::new();
    for source in ["orders", "profile"] {
        let (ok, refused) = (seen.get(source, 200), seen.get(source, 401));
        let all: u64 = seen
            .0
            .iter()
            .filter(|((s, _), _)| s == source)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(ok + refused, all, "only 200 and 401: {seen:?}");
        assert!(
            ok >= (THREADS * RETRIES) as u64,
            "the retries after nbf pass: {seen:?}"
        );
        let l = [("source", source), ("issuer", ISS)];
        let rejected = sum_of(
            &scrape,
            "skew_jwt_verifications_total",
            &[l[0], l[1], ("outcome", "rejected")],
        );
        let accepted = sum_of(
            &scrape,
            "skew_jwt_verifications_total",
            &[l[0], l[1], ("outcome", "accepted")],
        );
        assert_eq!(
            (accepted, rejected),
            (ok as f64, refused as f64),
            "{source}"
        );
        let time = sum_of(&scrape, "skew_jwt_time_rejections_total", &l);
        let skew = sum_of(
            &scrape,
            "skew_jwt_time_rejections_total",
            &[l[0], l[1], ("cause", "clock_skew")],
        );
        let before_lead = sum_of(
            &scrape,
            "skew_jwt_time_rejections_total",
            &[l[0], l[1], ("cause", "unexplained")],
        );
        assert_eq!(
            time,
            rejected,
            "{source}: every rejection is a time rejection\n{}",
            scrape.dump("skew_jwt_time")
        );
        assert!(
            skew >= rejected - (LEAD_MIN_SAMPLES - 1.0) && skew + before_lead == rejected,
            "{source}: {skew} clock_skew and {before_lead} unexplained of {rejected}\n{}",
            scrape.dump("skew_jwt_time")
        );
        let reasons: Vec<String> = scrape
            .series("skew_jwt_rejections_total")
            .filter(|s| s.labels.get("source").map(String::as_str) == Some(source))
            .map(|s| format!("{}={}", s.labels["reason"], s.value))
            .collect();
        let lead = scrape.value("skew_jwt_issuer_lead_seconds", &l);
        assert!((2.5..=3.05).contains(&lead), "{source}: lead {lead}");
        figures.push(format!(
            "{source}: {ok} accepted, {refused} rejected ({}), {skew} clock_skew + {before_lead} before a lead existed; lead {lead:+.3} s",
            reasons.join(" ")
        ));
    }
    let error = scrape.value("skew_jwt_issuer_clock_error_seconds", &[("issuer", ISS)]);
    let offset = scrape.value("skew_ntp_system_offset_seconds", &[]);
    assert!(offset.abs() < 0.05, "this host's NTP offset {offset}");
    assert!((2.5..=3.1).contains(&error), "issuer clock error {error}");

    // The panels: time rejections by cause show clock_skew; the issuer clock error ≈ +3 s.
    // Polled like the alerts: Prometheus scrapes every second and may not have the latest
    // samples yet when the exporter has settled.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let by_cause = query(&stack.prom, &panel_queries("Time rejections by cause")[0].1);
        if by_cause.iter().any(|s| {
            s.labels.get("cause").map(String::as_str) == Some("clock_skew") && s.value > 0.0
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "{by_cause:?}");
        thread::sleep(Duration::from_millis(500));
    }
    let panel_error = query(&stack.prom, &panel_queries("Issuer clock error")[0].1);
    assert!(
        panel_error
            .iter()
            .any(|s| s.labels.get("issuer").map(String::as_str) == Some(ISS)
                && (2.5..=3.1).contains(&s.value)),
        "{panel_error:?}"
    );

    // The alerts: JwtRejectionsFromClockSkew for both sources, naming the issuer.
    let fired = judge_alerts(
        &stack.prom,
        "JwtRejectionsFromClockSkew",
        &[
            vec![("source", "orders"), ("issuer", ISS)],
            vec![("source", "profile"), ("issuer", ISS)],
        ],
    );
    println!("FIGURES incident 1 (issuer +3 s, PyJWT and jose, leeway 0):");
    for f in &figures {
        println!("  {f}");
    }
    println!("  issuer clock error {error:+.3} s; this host's NTP offset {offset:+.6} s");
    for s in &fired {
        println!(
            "  JwtRejectionsFromClockSkew expr: source={} issuer={} share {:.1} %",
            s.labels["source"],
            s.labels["issuer"],
            s.value * 100.0
        );
    }
}

/// Incident 2: blocking validation under load.
#[test]
fn incident_2_blocking_validation_under_load() {
    if !needs(false, true) {
        return;
    }
    const ISS: &str = "https://idp.incident2.test";
    const CLIENTS: usize = 50;
    const REQUESTS: usize = 6;
    /// Seconds of synchronous sleep per request inside the async dependency.
    const BLOCK: f64 = 0.04;
    /// Tokens live 3 s (the issue's 60 s scaled down); clients log in again when less than
    /// this is left, so that every token is valid when it reaches the proxy.
    const LIFETIME: u32 = 3;
    const MARGIN: f64 = 0.5;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("checkout.jsonl");
    let stack = start_stack(dir.path(), 92, &[&log], &[]);
    let issuer = Arc::new(issuer(dir.path(), ISS, LIFETIME, None));
    let api = fastapi_verifier(dir.path(), "checkout", &log, BLOCK, None);
    let proxy_dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let _proxy = request_start_proxy(proxy_dir.path(), port, api.port);
    let url = Arc::new(format!("http://127.0.0.1:{port}/api/checkout"));

    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (issuer, url) = (issuer.clone(), url.clone());
            thread::spawn(move || {
                let c = client();
                let mut seen = Seen::default();
                let mut token: Option<(String, f64)> = None;
                for _ in 0..REQUESTS {
                    let fresh = token
                        .as_ref()
                        .is_some_and(|(_, exp)| exp - unix_now() >= MARGIN);
                    if !fresh {
                        token = Some(login(&c, &issuer));
                    }
                    let (t, _) = token.as_ref().expect("a token");
                    seen.add("checkout", call(&c, &url, t));
                }
                seen
            })
        })
        .collect();
    let mut seen = Seen::default();
    for t in threads {
        seen.merge(t.join().expect("client thread"));
    }
    assert_eq!(seen.total(), (CLIENTS * REQUESTS) as u64);
    let scrape = settle(&stack, seen.total());

    let l = [("source", "checkout"), ("issuer", ISS)];
    let (ok, refused) = (seen.get("checkout", 200), seen.get("checkout", 401));
    assert_eq!(ok + refused, seen.total(), "{seen:?}");
    let expired = sum_of(
        &scrape,
        "skew_jwt_rejections_total",
        &[l[0], l[1], ("reason", "expired")],
    );
    let rejected = sum_of(
        &scrape,
        "skew_jwt_verifications_total",
        &[l[0], l[1], ("outcome", "rejected")],
    );
    assert_eq!(
        (rejected, expired),
        (refused as f64, refused as f64),
        "every 401 is an expired rejection"
    );
    let in_transit = sum_of(
        &scrape,
        "skew_jwt_time_rejections_total",
        &[l[0], l[1], ("reason", "expired"), ("cause", "in_transit")],
    );
    assert!(expired > 0.0, "no token expired while waiting: {seen:?}");
    assert_eq!(
        in_transit,
        expired,
        "every expired rejection waited past exp\n{}",
        scrape.dump("skew_jwt_time")
    );
    let offset = scrape.value("skew_ntp_system_offset_seconds", &[]);
    assert!(offset.abs() < 0.05, "this host's NTP offset {offset}");
    // No issuer ahead: the lead is at most 0. Below 0 by no more than the whole second of
    // `iat` plus the longest wait (checked below against the measured delay): −lead is the
    // smallest age seen, and every age here is that wait plus the truncated fraction.
    let lead = scrape.value("skew_jwt_issuer_lead_seconds", &l);
    assert!(lead <= 0.05, "lead {lead}");
    let delay_count = sum_of(
        &scrape,
        "skew_jwt_verification_delay_seconds_count",
        &[l[0]],
    );
    assert_eq!(
        delay_count,
        seen.total() as f64,
        "every event had `received`"
    );

    // The panel: delay p99 over 1 s for checkout.
    let delay = panel_queries("Verification delay p50 / p99 by source");
    let p50 = query(&stack.prom, &delay[0].1);
    let p99 = query(&stack.prom, &delay[1].1);
    let at = |r: &[Series]| {
        r.iter()
            .find(|s| s.labels.get("source").map(String::as_str) == Some("checkout"))
            .map(|s| s.value)
            .unwrap_or(f64::NAN)
    };
    assert!(at(&p99) > 1.0, "p99 {p99:?}");
    let by_cause = query(&stack.prom, &panel_queries("Time rejections by cause")[0].1);
    assert!(
        by_cause
            .iter()
            .any(|s| s.labels.get("cause").map(String::as_str) == Some("in_transit")),
        "{by_cause:?}"
    );

    let fired = judge_alerts(
        &stack.prom,
        "JwtVerificationDelayHigh",
        &[vec![("source", "checkout")]],
    );
    assert!(
        lead >= -(1.0 + fired[0].value),
        "lead {lead} beyond 1 s + the p99 delay {}",
        fired[0].value
    );
    println!(
        "FIGURES incident 2 ({CLIENTS} clients x {REQUESTS} requests, {BLOCK} s blocking per request, {LIFETIME} s tokens, leeway 0):"
    );
    println!(
        "  {ok} accepted, {refused} rejected: {expired} expired, {in_transit} of them in_transit; delay p50 {:.2} s p99 {:.2} s (dashboard, 15 s rate); JwtVerificationDelayHigh expr p99 {:.2} s",
        at(&p50),
        at(&p99),
        fired[0].value
    );
    println!("  lead {lead:+.3} s; this host's NTP offset {offset:+.6} s");
}

/// Incident 3: zero leeway at the expiry edge, the verifier 300 ms ahead.
#[test]
fn incident_3_zero_leeway_at_the_expiry_edge() {
    if !needs(false, false) {
        return;
    }
    const ISS: &str = "https://idp.incident3.test";
    const THREADS: usize = 6;
    const TOKENS: usize = 4;
    /// Tokens live 2 s (whole seconds: 1 to 2 s by the real clock), so edges come quickly.
    const LIFETIME: u32 = 2;
    const PACE: Duration = Duration::from_millis(50);
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("ledger.jsonl");
    let stack = start_stack(dir.path(), 93, &[&log], &[]);
    let issuer = Arc::new(issuer(dir.path(), ISS, LIFETIME, None));
    let api = Arc::new(fastapi_verifier(
        dir.path(),
        "ledger",
        &log,
        0.0,
        Some("+0.3"),
    ));

    // Each client uses its token until exp by its own (true) clock, and logs in again after
    // the first 401: the calls in a token's last 300 ms reach a verifier whose clock is past exp.
    // The clients start 170 ms apart, as real ones never start in step (their later logins
    // follow a rejection, just before a whole second: in step again).
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (issuer, api) = (issuer.clone(), api.clone());
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(170) * i as u32);
                let c = client();
                let mut seen = Seen::default();
                for _ in 0..TOKENS {
                    let (token, exp) = login(&c, &issuer);
                    while unix_now() < exp {
                        let status = call(&c, &api.url("/api/ledger"), &token);
                        seen.add("ledger", status);
                        if status == 401 {
                            break;
                        }
                        thread::sleep(PACE);
                    }
                }
                seen
            })
        })
        .collect();
    let mut seen = Seen::default();
    for t in threads {
        seen.merge(t.join().expect("client thread"));
    }
    let scrape = settle(&stack, seen.total());

    let l = [("source", "ledger"), ("issuer", ISS)];
    let (ok, refused) = (seen.get("ledger", 200), seen.get("ledger", 401));
    let expired = sum_of(
        &scrape,
        "skew_jwt_rejections_total",
        &[l[0], l[1], ("reason", "expired")],
    );
    let rejected = sum_of(
        &scrape,
        "skew_jwt_verifications_total",
        &[l[0], l[1], ("outcome", "rejected")],
    );
    assert_eq!(
        (rejected, expired),
        (refused as f64, refused as f64),
        "every 401 is an expired rejection"
    );
    assert!(
        refused > 0,
        "no call reached the verifier in a token's last 300 ms: {seen:?}"
    );
    let edge = sum_of(
        &scrape,
        "skew_jwt_time_rejections_total",
        &[l[0], l[1], ("reason", "expired"), ("cause", "expiry_edge")],
    );
    // A token that reached nginx in its last millisecond and the verifier just after is
    // `in_transit` (still valid at `received`): the one cause ahead of `expiry_edge`, and a
    // right one. The rest are at the expiry edge, and they are most.
    let in_transit = sum_of(
        &scrape,
        "skew_jwt_time_rejections_total",
        &[l[0], l[1], ("reason", "expired"), ("cause", "in_transit")],
    );
    assert!(
        edge + in_transit == expired && edge >= expired / 2.0,
        "every expired rejection is at the expiry edge or in transit, most at the edge\n{}{}",
        scrape.dump("skew_jwt_time"),
        scrape.dump("skew_jwt_issuer_lead")
    );
    let within_1s = sum_of(
        &scrape,
        "skew_jwt_expired_by_seconds_bucket",
        &[l[0], l[1], ("le", "1")],
    );
    assert_eq!(within_1s, expired, "all were under 1 s past exp");
    let leeway = scrape.value("skew_jwt_verifier_leeway_seconds", &[("source", "ledger")]);
    assert_eq!(leeway, 0.0);
    let lead = scrape.value("skew_jwt_issuer_lead_seconds", &l);

    // The panel: rejections that 1 s more leeway would have let through.
    let would = query(
        &stack.prom,
        &panel_queries("Rejections that N more seconds of leeway would have let through")[0].1,
    );
    let with = |le: &str| {
        would
            .iter()
            .find(|s| s.labels.get("le").map(String::as_str) == Some(le))
            .map(|s| s.value)
            .unwrap_or(0.0)
    };
    assert!(with("1") > 0.0, "{would:?}");

    let fired = judge_alerts(
        &stack.prom,
        "JwtVerifierWithoutLeeway",
        &[vec![("source", "ledger")]],
    );
    println!("FIGURES incident 3 (verifier +0.3 s, PyJWT leeway 0, {LIFETIME} s tokens, {THREADS} clients x {TOKENS} tokens):");
    println!(
        "  {ok} accepted, {refused} rejected as expired, {edge} expiry_edge + {in_transit} in_transit, {within_1s} under 1 s past exp; lead {lead:+.3} s"
    );
    println!(
        "  panel 'would have let through': 1 s {:.1}, 2 s {:.1}, 5 s {:.1} (increase over 10 m, extrapolated); JwtVerifierWithoutLeeway expr {:.1}",
        with("1"),
        with("2"),
        with("5"),
        fired[0].value
    );
}
