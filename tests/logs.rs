//! What the log tells someone watching the exporter (issue 21), read from the real binary's
//! stderr: one line per NTP server state change (an unresolvable server, a server that starts
//! answering), one warning when no server answers, the start-up summary, and no token or
//! secret anywhere, at trace level included.
//!
//! Everything stays on the machine: the unresolvable server is under `.invalid` (RFC 2606,
//! never delegated), and the others are loopback addresses .51-.53 (tests/ntp.rs uses
//! .21-.46), on unprivileged ports, so no root is needed.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::scripted::{Behaviour, Scripted};
use common::{run_binary, Exporter};

/// A round every second; four exchanges 100 ms apart.
const FAST: &[&str] = &[
    "--ntp.interval",
    "1s",
    "--ntp.burst",
    "4",
    "--ntp.burst-spacing",
    "100ms",
    "--ntp.timeout",
    "300ms",
];

const UNRESOLVABLE: &str = "nowhere.invalid";

/// Bound on waits for what takes a few rounds.
const WAIT: Duration = Duration::from_secs(20);
/// A server's second line may come only a minute after its first (the rate limit).
const RATE_LIMITED_WAIT: Duration = Duration::from_secs(90);

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// A UDP port on `addr` free right now (nothing listens on it after this returns).
fn free_udp_port(addr: Ipv4Addr) -> u16 {
    UdpSocket::bind((addr, 0))
        .and_then(|s| s.local_addr())
        .expect("bind an ephemeral UDP port")
        .port()
}

/// The log lines that contain every one of `parts`.
fn lines_with(log: &str, parts: &[&str]) -> Vec<String> {
    log.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .map(str::to_owned)
        .collect()
}

/// The server label as a log line quotes it.
fn field(server: &str) -> String {
    format!("server=\"{server}\"")
}

#[test]
fn ntp_state_changes_are_logged_once_each_and_the_outage_once() {
    // The resolver must answer at once for a `.invalid` name, or the rounds stretch to the
    // 5 s DNS timeout (and this test would measure the resolver, not the exporter).
    let t = Instant::now();
    let resolved = std::net::ToSocketAddrs::to_socket_addrs(&(UNRESOLVABLE, 123));
    assert!(resolved.is_err(), "{UNRESOLVABLE} resolved: {resolved:?}");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "the resolver took {:?} to refuse {UNRESOLVABLE}",
        t.elapsed()
    );

    // A server with nothing listening yet: refused (ICMP) or silent, until it starts below.
    let late_ip = ip(51);
    let late_port = free_udp_port(late_ip);
    let late = format!("{late_ip}:{late_port}");
    let mut args = FAST.to_vec();
    args.extend(["--ntp.server", UNRESOLVABLE, "--ntp.server", late.as_str()]);
    let ex = Exporter::start(&args);

    // Within the first round: why there is no offset.
    let dns = ex.wait_for_log("warning about the unresolvable server", WAIT, |l| {
        l.contains("WARN") && l.contains("NTP server fails") && l.contains(&field(UNRESOLVABLE))
    });
    assert!(
        dns.contains("result=\"dns_error\"") && dns.contains("cannot resolve nowhere.invalid"),
        "{dns}"
    );
    let failing = ex.wait_for_log("warning about the server not running yet", WAIT, |l| {
        l.contains("WARN") && l.contains("NTP server fails") && l.contains(&field(&late))
    });
    assert!(
        failing.contains("result=\"network_error\"") || failing.contains("result=\"timeout\""),
        "{failing}"
    );
    let outage = ex.wait_for_log("the outage warning", WAIT, |l| {
        l.contains("no NTP server has answered for 5 intervals")
    });
    assert!(
        outage.contains("WARN") && outage.contains("UDP port 123"),
        "{outage}"
    );
    // Several more rounds of both failing: nothing more is said.
    ex.wait_for("8 failed rounds of the unresolvable server", WAIT, |s| {
        s.get(
            "skew_ntp_queries_total",
            &[("server", UNRESOLVABLE), ("result", "dns_error")],
        )
        .unwrap_or(0.0)
            >= 8.0
    });

    // The server comes up: it answers; the line waits out the minute since its last one.
    let _server = Scripted::start(late_ip, late_port, Behaviour::Shifted(0))
        .expect("bind the scripted server");
    let answers = ex.wait_for_log("the server's first answer", RATE_LIMITED_WAIT, |l| {
        l.contains("INFO") && l.contains("NTP server answers") && l.contains(&field(&late))
    });
    assert!(
        answers.contains("offset=") && answers.contains("delay="),
        "{answers}"
    );
    ex.wait_for_log("the end of the outage", WAIT, |l| {
        l.contains("INFO") && l.contains("the clock offset is known")
    });
    // A few more rounds, to see that nothing repeats.
    thread::sleep(Duration::from_secs(3));

    let log = ex.log_text();
    let count = |parts: &[&str]| lines_with(&log, parts).len();
    let unresolvable = field(UNRESOLVABLE);
    assert_eq!(
        count(&["NTP server fails", &unresolvable]),
        1,
        "one warning for the unresolvable server over all its rounds:\n{log}"
    );
    assert_eq!(count(&["NTP server answers", &unresolvable]), 0, "{log}");
    let late_field = field(&late);
    assert_eq!(count(&["NTP server fails", &late_field]), 1, "{log}");
    assert_eq!(count(&["NTP server answers", &late_field]), 1, "{log}");
    assert_eq!(count(&["no NTP server has answered"]), 1, "{log}");
    assert_eq!(count(&["the clock offset is known"]), 1, "{log}");
}

/// The summary names what was configured, in the log and in `--check-config`, and no token,
/// secret or key reaches the log, trace level included.
#[test]
fn the_summary_lists_what_was_configured_and_nothing_secret_is_logged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = "events-shared-secret-7c1d5e0a";
    let token_file = dir.path().join("events.token");
    std::fs::write(&token_file, format!("{token}\n")).expect("write token");
    let hmac_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/verify/hmac.secret");
    let hmac = std::fs::read_to_string(hmac_file).expect("hmac secret");
    let hmac = hmac.trim();
    let events_dir = dir.path().join("events");
    std::fs::create_dir(&events_dir).expect("events dir");
    let pattern = format!("{}/*.jsonl", events_dir.display());
    let config = dir.path().join("skew.toml");
    std::fs::write(
        &config,
        format!(
            "[ntp]\nservers = [\"{UNRESOLVABLE}\", \"127.0.0.52:9\"]\ninterval = \"1s\"\ntimeout = \"300ms\"\n\
             [events]\nauth-token-file = {token_file:?}\nfiles = [{pattern:?}]\nfile-start = \"beginning\"\n\
             [verify]\nissuers = [\"https://idp.example\"]\nleeway = \"2s\"\n\
             [[verify.keys]]\nfile = {hmac_file:?}\ntype = \"hmac\"\nkid = \"h\"\n"
        ),
    )
    .expect("write config");
    let config = config.to_str().expect("utf-8 path");

    let wants = [
        "main listener 127.0.0.1:0 over plain HTTP: /metrics, /healthz, /, /v1/events, /v1/verify"
            .to_owned(),
        format!("2 NTP server(s) every 1s: {UNRESOLVABLE}, 127.0.0.52:9;"),
        "POST /v1/events needs the bearer token from events.auth-token-file".to_owned(),
        format!("following {pattern}: files seen for the first time are read at their beginning"),
        "/v1/verify is on: 1 key(s) from 1 file(s); issuers: https://idp.example; leeway 2 s"
            .to_owned(),
    ];

    // --check-config prints the same summary.
    let out = run_binary(
        &[
            "--config.file",
            config,
            "--web.listen-address",
            "127.0.0.1:0",
            "--check-config",
        ],
        Duration::from_secs(10),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{} {stdout}", out.status);
    for want in &wants {
        assert!(
            stdout.contains(want.as_str()),
            "missing {want:?} in\n{stdout}"
        );
    }
    assert!(
        !stdout.contains(token) && !stdout.contains(hmac),
        "{stdout}"
    );

    let ex = Exporter::start_with_env(&["--config.file", config], &[("RUST_LOG", "trace")]);
    for want in &wants {
        let line = ex.wait_for_log(&format!("`{want}`"), WAIT, |l| l.contains(want.as_str()));
        assert!(line.contains("INFO"), "{line}");
    }
    // Push an event with a token in it, and verify a token.
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("h".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &serde_json::json!({"iss": "https://idp.example", "exp": 4_000_000_000u64, "iat": 1_790_000_000u64}),
        &jsonwebtoken::EncodingKey::from_secret(hmac.as_bytes()),
    )
    .expect("sign");
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client");
    let pushed = http
        .post(ex.url("/v1/events"))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(format!(
            "{{\"token\":\"{jwt}\",\"outcome\":\"accepted\"}}\n"
        ))
        .send()
        .expect("POST /v1/events");
    assert_eq!(pushed.status().as_u16(), 202);
    let wrong = http
        .post(ex.url("/v1/events"))
        .bearer_auth(format!("{token}-wrong"))
        .body("{}")
        .send()
        .expect("POST /v1/events");
    assert_eq!(wrong.status().as_u16(), 401);
    let verified = http
        .get(ex.url("/v1/verify"))
        .bearer_auth(&jwt)
        .send()
        .expect("GET /v1/verify");
    assert_eq!(verified.status().as_u16(), 200);
    ex.wait_for_log("the unresolvable server's warning", WAIT, |l| {
        l.contains("NTP server fails") && l.contains(UNRESOLVABLE)
    });

    let log = ex.log_text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace is on:\n{log}"
    );
    for part in jwt.split('.').filter(|p| p.len() > 8) {
        assert!(!log.contains(part), "a token part reached the log:\n{log}");
    }
    assert!(
        !log.contains(token),
        "the events token reached the log:\n{log}"
    );
    assert!(
        !log.contains(hmac),
        "the HMAC secret reached the log:\n{log}"
    );
}
