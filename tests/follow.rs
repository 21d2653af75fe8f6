//! `[[events.follow]]` against the logs real services write: a node HTTP service verifying with
//! jsonwebtoken and logging with pino (JSON, the claims logged), and a FastAPI app served by
//! uvicorn, verifying with PyJWT and logging with the standard `logging` module (text, the
//! PyJWT exception on the line, a traceback after some, uvicorn's access lines between) or with
//! structlog (JSON, the Authorization header logged). Each
//! sends good, expired, premature and forged tokens (tests/libs/follow_*.{js,py}); the real
//! binary follows the log as it is written and must count every verification under the right
//! outcome and reason and, where the log carries claims or the token, the token ages and the
//! issuer lead that the log itself implies. `analyze --format-from` reads the same log the same
//! way.
//!
//! The writers need node with tests/libs/node_modules (`npm ci`), and the venv
//! /opt/jwt-libs-python with PyJWT, FastAPI, uvicorn and structlog (tests/libs/requirements.txt): `.ci/run`
//! installs both. Without them a test skips, and fails under `CI=true`.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Exporter, Scrape};

const PYTHON: &str = "/opt/jwt-libs-python/bin/python";
const WAIT: Duration = Duration::from_secs(30);
const ISSUER: &str = "https://auth.test";

fn libs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libs")
}

/// True when `ok`; otherwise skips (false) or, under CI, fails naming what is missing.
fn available(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    let msg = format!("needs {what} (installed by .ci/run: see tests/libs/README.md)");
    assert!(
        !common::in_ci(),
        "CI=true and a log writer is missing: {msg}"
    );
    eprintln!("SKIPPED: {msg}");
    false
}

fn node_ready() -> bool {
    let modules = libs().join("node_modules");
    let node = Command::new("node").arg("--version").output();
    available(
        node.is_ok_and(|o| o.status.success()),
        "node (Debian: nodejs)",
    ) && available(
        modules.join("pino/package.json").exists()
            && modules.join("jsonwebtoken/package.json").exists(),
        "pino and jsonwebtoken in tests/libs/node_modules (npm ci)",
    )
}

fn python_ready(module: &str) -> bool {
    let import = Command::new(PYTHON)
        .args(["-c", &format!("import jwt, {module}")])
        .output();
    available(
        import.is_ok_and(|o| o.status.success()),
        &format!("{PYTHON} with PyJWT and {module}"),
    )
}

/// Runs a writer to completion; it appends to a log the exporter already follows.
fn run_writer(command: &mut Command) {
    let out = command
        .current_dir(libs())
        .output()
        .expect("run the log writer");
    assert!(
        out.status.success(),
        "the log writer failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts an exporter with one `[[events.follow]]` table (`table`, TOML without the path)
/// following `log`, which does not exist yet: it is picked up when it appears and read from its
/// start, as a service's new log is.
fn start(dir: &Path, log: &Path, table: &str) -> (Exporter, PathBuf) {
    let config = dir.join("skew.toml");
    fs::write(
        &config,
        format!(
            "[events]\nfile-poll-interval = \"100ms\"\n\n[[events.follow]]\npath = {:?}\n{table}",
            log.display().to_string()
        ),
    )
    .expect("write the config");
    let ex = Exporter::start(&[
        "--ntp.server",
        "127.0.0.1:9",
        "--config.file",
        config.to_str().expect("UTF-8 path"),
    ]);
    (ex, config)
}

/// Waits until every line of `log` was read and recorded (lag 0), then scrapes once more (see
/// tests/tail.rs for why one more).
fn wait_read(ex: &Exporter, log: &Path, name: &str) -> Scrape {
    let lines = fs::read_to_string(log)
        .expect("read the log")
        .lines()
        .count() as f64;
    let pattern = [("pattern", name)];
    ex.wait_for(&format!("{lines} lines of {name} read"), WAIT, |s| {
        s.get("skew_tail_lines_total", &pattern) == Some(lines)
            && s.get("skew_tail_lag_bytes", &pattern) == Some(0.0)
    });
    ex.scrape()
}

/// What the exporter must have counted, from the writer's own cases.
struct Truth {
    source: &'static str,
    /// `iss`, or `unknown` for a log that carries no claims.
    issuer: &'static str,
    accepted: f64,
    rejections: &'static [(&'static str, f64)],
    /// Lines that are not verifications.
    skipped: f64,
}

fn check_counts(s: &Scrape, name: &str, t: &Truth) {
    let pair =
        |extra: (&'static str, &'static str)| [("source", t.source), ("issuer", t.issuer), extra];
    let rejected: f64 = t.rejections.iter().map(|r| r.1).sum();
    assert_eq!(
        s.get(
            "skew_jwt_verifications_total",
            &pair(("outcome", "accepted"))
        )
        .unwrap_or(0.0),
        t.accepted,
        "{}",
        s.dump("skew_jwt_verifications_total")
    );
    assert_eq!(
        s.value(
            "skew_jwt_verifications_total",
            &pair(("outcome", "rejected"))
        ),
        rejected
    );
    let mut seen = BTreeMap::new();
    for sample in s.series("skew_jwt_rejections_total") {
        seen.insert(sample.labels["reason"].clone(), sample.value);
    }
    let want: BTreeMap<String, f64> = t
        .rejections
        .iter()
        .map(|(r, n)| (r.to_string(), *n))
        .collect();
    assert_eq!(seen, want, "rejections by reason");
    let pattern = [("pattern", name)];
    assert_eq!(
        s.value("skew_tail_lines_skipped_total", &pattern),
        t.skipped
    );
    assert_eq!(s.value("skew_tail_lines_refused_total", &pattern), 0.0);
    assert_eq!(
        s.get(
            "skew_events_invalid_total",
            &[("transport", "file"), ("error", "json")]
        )
        .unwrap_or(0.0),
        0.0
    );
}

/// One verification as the log shows it: the verifier's time, the token's `iat`, the outcome,
/// and whether its times were checked (accepted or a time rejection: what the lead uses).
struct Seen {
    ts: f64,
    iat: f64,
    accepted: bool,
    trusted: bool,
}

/// The token ages (count and sum per outcome) and the issuer lead the log implies must be what
/// the exporter exports.
fn check_ages(s: &Scrape, source: &str, seen: &[Seen]) {
    for (outcome, accepted) in [("accepted", true), ("rejected", false)] {
        let ages: Vec<f64> = seen
            .iter()
            .filter(|v| v.accepted == accepted)
            .map(|v| v.ts - v.iat)
            .collect();
        let labels = [("source", source), ("issuer", ISSUER), ("outcome", outcome)];
        assert_eq!(
            s.value("skew_jwt_age_seconds_count", &labels),
            ages.len() as f64,
            "{outcome}"
        );
        let sum = s.value("skew_jwt_age_seconds_sum", &labels);
        let want: f64 = ages.iter().sum();
        assert!(
            (sum - want).abs() < 1e-6,
            "{outcome}: age sum {sum}, the log says {want}"
        );
    }
    let lead = -seen
        .iter()
        .filter(|v| v.trusted)
        .map(|v| v.ts - v.iat)
        .fold(f64::INFINITY, f64::min);
    let got = s.value(
        "skew_jwt_issuer_lead_seconds",
        &[("source", source), ("issuer", ISSUER)],
    );
    assert!((got - lead).abs() < 1e-9, "lead {got}, the log says {lead}");
}

/// `skew-exporter analyze --config.file C --format-from NAME --format json LOG`: the whole
/// summary, checked to hold the one issuer.
fn analyze(config: &Path, name: &str, log: &Path, issuer: &str) -> serde_json::Value {
    let out = common::run_binary(
        &[
            "analyze",
            "--config.file",
            config.to_str().unwrap(),
            "--format-from",
            name,
            "--format",
            "json",
            log.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let issuers = v["issuers"].as_array().expect("issuers");
    assert_eq!(issuers.len(), 1, "{v}");
    assert_eq!(issuers[0]["issuer"], issuer);
    v
}

fn check_analyze(all: &serde_json::Value, t: &Truth) {
    // The lines that are not verifications, as the tailer counts them.
    assert_eq!(all["lines_skipped"].as_f64(), Some(t.skipped), "{all}");
    let summary = &all["issuers"][0];
    assert_eq!(summary["accepted"].as_f64(), Some(t.accepted), "{summary}");
    let reasons: BTreeMap<String, f64> = summary["reasons"]
        .as_object()
        .expect("reasons")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(-1.0)))
        .collect();
    let want: BTreeMap<String, f64> = t
        .rejections
        .iter()
        .map(|(r, n)| (r.to_string(), *n))
        .collect();
    assert_eq!(reasons, want, "analyze: rejections by reason");
}

/// The claims of a compact JWT (read without verifying, as the exporter does).
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a compact JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn json_lines(log: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(log)
        .expect("read the log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON log line"))
        .collect()
}

#[test]
fn pino_json_from_node_jsonwebtoken() {
    if !node_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("orders.log");
    let table = r#"name = "orders"
format = "json"
event-when = "/jwt"
ts = "/time"
ts-format = "unix_ms"
source = "/svc"
iss = "/jwt/iss"
iat = "/jwt/iat"
nbf = "/jwt/nbf"
exp = "/jwt/exp"
reason = "/err/message"
rejected-when = "/err"
"#;
    let (ex, config) = start(dir.path(), &log, table);
    run_writer(Command::new("node").arg("follow_pino.js").arg(&log));
    let s = wait_read(&ex, &log, "orders");
    let lines = json_lines(&log);
    let truth = Truth {
        source: "orders",
        issuer: ISSUER,
        accepted: 3.0,
        rejections: &[
            ("expired", 2.0),
            ("not_yet_valid", 2.0),
            ("invalid_signature", 1.0),
        ],
        skipped: (lines.len() - 8) as f64,
    };
    check_counts(&s, "orders", &truth);
    let seen: Vec<Seen> = lines
        .iter()
        .filter(|l| l.get("jwt").is_some())
        .map(|l| {
            let rejected = l.get("err").is_some();
            Seen {
                ts: l["time"].as_f64().unwrap() / 1e3,
                iat: l["jwt"]["iat"].as_f64().unwrap(),
                accepted: !rejected,
                trusted: !rejected || l["err"]["message"] != "invalid signature",
            }
        })
        .collect();
    assert_eq!(seen.len(), 8);
    check_ages(&s, "orders", &seen);
    // The issuer 3 s ahead shows: the lead is the 3 s less the few ms between signing and
    // logging, which the log's own times account for exactly above.
    let lead = s.value(
        "skew_jwt_issuer_lead_seconds",
        &[("source", "orders"), ("issuer", ISSUER)],
    );
    assert!((2.0..=3.0).contains(&lead), "lead {lead}");
    check_analyze(&analyze(&config, "orders", &log, ISSUER), &truth);
}

#[test]
fn python_logging_text_with_pyjwt_exceptions() {
    if !python_ready("fastapi, uvicorn") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let table = r#"name = "api"
format = "regex"
regex = '^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: .*jwt\.exceptions\.(?P<reason>\w+: .*)$'
ts-format = "%Y-%m-%d %H:%M:%S,%3f"
source-value = "api"
outcome-value = "rejected"
"#;
    let (ex, config) = start(dir.path(), &log, table);
    run_writer(
        Command::new(PYTHON)
            .args(["follow_python.py", "logging"])
            .arg(&log),
    );
    let s = wait_read(&ex, &log, "api");
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("Traceback (most recent call last)"),
        "the forged token's traceback is in the log:\n{text}"
    );
    let truth = Truth {
        source: "api",
        issuer: "unknown",
        accepted: 0.0,
        rejections: &[
            ("expired", 2.0),
            ("not_yet_valid", 2.0),
            ("issued_in_future", 1.0),
            ("invalid_signature", 1.0),
        ],
        // uvicorn's start-up, access and shutdown lines, three accepted lines and the
        // traceback: every line but the six rejections.
        skipped: (text.lines().count() - 6) as f64,
    };
    check_counts(&s, "api", &truth);
    // No claims on these lines: no token ages.
    assert_eq!(
        s.series("skew_jwt_age_seconds_count")
            .map(|x| x.value)
            .sum::<f64>(),
        0.0
    );
    check_analyze(&analyze(&config, "api", &log, "unknown"), &truth);
}

#[test]
fn structlog_json_with_the_authorization_header() {
    if !python_ready("fastapi, uvicorn, structlog") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("api.jsonl");
    let table = r#"name = "api-structlog"
format = "json"
event-when = "/outcome"
ts = "/timestamp"
ts-format = "rfc3339"
source-value = "api"
token = "/authorization"
outcome = "/outcome"
reason = "/error"
"#;
    let (ex, config) = start(dir.path(), &log, table);
    run_writer(
        Command::new(PYTHON)
            .args(["follow_python.py", "structlog"])
            .arg(&log),
    );
    let s = wait_read(&ex, &log, "api-structlog");
    let lines = json_lines(&log);
    let truth = Truth {
        source: "api",
        issuer: ISSUER,
        accepted: 3.0,
        rejections: &[
            ("expired", 2.0),
            ("not_yet_valid", 2.0),
            ("issued_in_future", 1.0),
            ("invalid_signature", 1.0),
        ],
        skipped: (lines.len() - 9) as f64,
    };
    check_counts(&s, "api-structlog", &truth);
    let seen: Vec<Seen> = lines
        .iter()
        .filter(|l| l.get("outcome").is_some())
        .map(|l| {
            let header = l["authorization"].as_str().unwrap();
            let token = header.strip_prefix("Bearer ").expect("a Bearer header");
            let t = chrono::DateTime::parse_from_rfc3339(l["timestamp"].as_str().unwrap())
                .expect("an RFC 3339 timestamp");
            let accepted = l["outcome"] == "accepted";
            Seen {
                ts: t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9,
                iat: claims(token)["iat"].as_f64().unwrap(),
                accepted,
                trusted: accepted
                    || !l["error"]
                        .as_str()
                        .unwrap()
                        .starts_with("InvalidSignatureError"),
            }
        })
        .collect();
    assert_eq!(seen.len(), 9);
    check_ages(&s, "api", &seen);
    // The token is a credential: never in the exporter's log.
    let token = lines[1]["authorization"].as_str().unwrap();
    let secret_part = token.rsplit('.').next().unwrap();
    assert!(
        !ex.log_text().contains(secret_part),
        "the exporter logged a token"
    );
    check_analyze(&analyze(&config, "api-structlog", &log, ISSUER), &truth);
}

/// Hostile lines never stall the tailer: a line over `events.max-line` (1 MiB by default) is
/// skipped to its newline and refused as `too_large`; a line just under it that the pattern
/// almost matches, and one built against a backtracking engine, are one linear pass each; the
/// line after them is recorded.
#[test]
fn hostile_lines_do_not_stall_the_tailer() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let table = r#"name = "hostile"
format = "regex"
regex = '^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*(a+)*jwt\.exceptions\.(?P<reason>\w+: .*)$'
ts-format = "%Y-%m-%d %H:%M:%S,%3f"
outcome-value = "rejected"
"#;
    let (ex, _config) = start(dir.path(), &log, table);
    let ts = "2026-12-01 14:00:00,250";
    let mut text = String::new();
    text.push_str(&format!("{ts} {}\n", "x".repeat(2 << 20)));
    text.push_str(&format!("{ts} {}!\n", "a".repeat((1 << 20) - 64)));
    text.push_str(&format!(
        "{ts} {}\n",
        "jwt.exceptions.".repeat(((1 << 20) - 64) / 15)
    ));
    text.push_str(&format!(
        "{ts} WARNING api: jwt.exceptions.ExpiredSignatureError: Signature has expired\n"
    ));
    fs::write(&log, text).unwrap();
    let s = wait_read(&ex, &log, "hostile");
    let pattern = [("pattern", "hostile")];
    assert_eq!(s.value("skew_tail_lines_refused_total", &pattern), 1.0);
    assert_eq!(s.value("skew_tail_lines_skipped_total", &pattern), 2.0);
    assert_eq!(
        s.value(
            "skew_events_invalid_total",
            &[("transport", "file"), ("error", "too_large")]
        ),
        1.0
    );
    assert_eq!(
        s.value(
            "skew_jwt_rejections_total",
            &[
                ("source", "unknown"),
                ("issuer", "unknown"),
                ("reason", "expired")
            ]
        ),
        1.0,
        "{}",
        s.dump("skew_jwt_rejections_total")
    );
}
