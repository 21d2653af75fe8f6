//! Verification events end to end: the real binary, `POST /v1/events`, `/metrics`, and the
//! `analyze` subcommand, against synthetic streams whose truth is known exactly.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Exporter, Scrape};
use skew_exporter::synth::{self, PairTruth, Spec, Truth};

/// A port nothing answers on: tests must name their NTP servers, and these tests need none.
const NO_NTP: [&str; 2] = ["--ntp.server", "127.0.0.1:9"];

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// POSTs a body; returns the status and the parsed JSON answer.
fn post(
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::blocking::Body>,
) -> (u16, serde_json::Value) {
    let resp = client()
        .post(url)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn labels<'a>(source: &'a str, issuer: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("source", source), ("issuer", issuer)]
}

/// Asserts every cumulative bucket of a histogram child equals the truth's count.
fn assert_buckets(scrape: &Scrape, name: &str, base: &[(&str, &str)], values: &[f64]) {
    let bucket = format!("{name}_bucket");
    let mut seen = 0;
    for s in scrape.series(&bucket) {
        if !base
            .iter()
            .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        {
            continue;
        }
        if s.labels.len() != base.len() + 1 {
            continue;
        }
        let le = &s.labels["le"];
        let bound: f64 = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().expect("le")
        };
        assert_eq!(
            s.value,
            PairTruth::count_le(values, bound) as f64,
            "{bucket}{base:?} le={le}"
        );
        seen += 1;
    }
    if values.is_empty() {
        return;
    }
    assert!(seen > 0, "no {bucket}{base:?} in\n{}", scrape.dump(name));
    assert_eq!(
        scrape.value(&format!("{name}_count"), base),
        values.len() as f64,
        "{name}_count{base:?}"
    );
}

/// Every JWT series equals the truth exactly.
fn assert_truth(scrape: &Scrape, truth: &Truth) {
    for ((source, issuer), p) in &truth.pairs {
        let l = labels(source, issuer);
        let with = |k, v| {
            let mut x = l.clone();
            x.push((k, v));
            x
        };
        assert_eq!(
            scrape.value("skew_jwt_verifications_total", &with("outcome", "accepted")),
            p.accepted as f64,
            "accepted {source} {issuer}"
        );
        assert_eq!(
            scrape.value("skew_jwt_verifications_total", &with("outcome", "rejected")),
            p.rejected as f64,
            "rejected {source} {issuer}"
        );
        for (reason, n) in &p.reasons {
            assert_eq!(
                scrape.value("skew_jwt_rejections_total", &with("reason", reason)),
                *n as f64
            );
        }
        let reasons_exported = scrape
            .series("skew_jwt_rejections_total")
            .filter(|s| s.labels["source"] == *source && s.labels["issuer"] == *issuer)
            .count();
        assert_eq!(
            reasons_exported,
            p.reasons.len(),
            "only the reasons seen are exported"
        );
        assert_buckets(
            scrape,
            "skew_jwt_age_seconds",
            &with("outcome", "accepted"),
            &p.ages[0],
        );
        assert_buckets(
            scrape,
            "skew_jwt_age_seconds",
            &with("outcome", "rejected"),
            &p.ages[1],
        );
        for ((reason, cause), n) in &p.causes {
            let mut x = with("reason", reason);
            x.push(("cause", cause));
            assert_eq!(
                scrape.value("skew_jwt_time_rejections_total", &x),
                *n as f64,
                "{source} {issuer} {reason} {cause}"
            );
        }
        let causes_exported = scrape
            .series("skew_jwt_time_rejections_total")
            .filter(|s| s.labels["source"] == *source && s.labels["issuer"] == *issuer)
            .count();
        assert_eq!(causes_exported, p.causes.len(), "only the causes seen");
        assert_buckets(scrape, "skew_jwt_expired_by_seconds", &l, &p.expired_by);
        assert_buckets(scrape, "skew_jwt_premature_by_seconds", &l, &p.premature_by);
        let lead = scrape.value("skew_jwt_issuer_lead_seconds", &l);
        let expected = p.expected_lead(300.0).expect("trusted events");
        assert!(
            (lead - expected).abs() < 1e-9,
            "lead {source} {issuer}: {lead} != {expected}"
        );
    }
}

/// 100 000 events posted as NDJSON batches of 1 000: every counter equals the truth exactly,
/// the +3.2 s issuer's lead reads 3.2 ± 0.05 s, and `analyze` on the same file prints the same
/// numbers as `/metrics`.
#[test]
fn hundred_thousand_events_match_the_truth_and_analyze_agrees() {
    let (lines, truth) = synth::stream(Spec::default(), 100_000);
    // The world exercises two causes (no `received`, so no in_transit; its expired tokens are
    // all stale, so no expiry_edge: src/verdict.rs's table covers those).
    let causes: std::collections::BTreeSet<_> = truth
        .pairs
        .values()
        .flat_map(|p| p.causes.keys().map(|(r, c)| (*r, *c)))
        .collect();
    for want in [("not_yet_valid", "clock_skew"), ("expired", "stale_token")] {
        assert!(causes.contains(&want), "{want:?} not in {causes:?}");
    }
    let ex = Exporter::start(&NO_NTP);
    let url = ex.url("/v1/events");
    for chunk in lines.chunks(1000) {
        let body = chunk.join("\n") + "\n";
        let (status, answer) = post(&url, "application/x-ndjson", body);
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["accepted"], 1000, "{answer}");
        assert_eq!(answer["invalid"], 0, "{answer}");
    }
    let scrape = ex.scrape();
    assert_eq!(
        scrape.value("skew_events_received_total", &[("transport", "http")]),
        100_000.0
    );
    for s in scrape.series("skew_events_invalid_total") {
        assert_eq!(s.value, 0.0, "{s:?}");
    }
    assert_truth(&scrape, &truth);
    for source in &Spec::default().sources {
        let lead = scrape.value(
            "skew_jwt_issuer_lead_seconds",
            &labels(source, "https://ahead.example"),
        );
        assert!(
            (lead - 3.2).abs() <= 0.05,
            "lead of the +3.2 s issuer via {source}: {lead}"
        );
    }

    // The same stream through `analyze`.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").expect("write events");
    let file = file.to_str().expect("utf-8 path");
    let out = common::run_binary(
        &["analyze", "--format", "prometheus", file],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline = Scrape::parse(&String::from_utf8_lossy(&out.stdout)).expect("analyze exposition");
    let jwt = |s: &Scrape| -> BTreeMap<String, f64> {
        s.samples
            .iter()
            .filter(|x| x.name.starts_with("skew_jwt_"))
            .map(|x| (format!("{}{:?}", x.name, x.labels), x.value))
            .collect()
    };
    assert_eq!(jwt(&offline), jwt(&scrape), "analyze and /metrics disagree");
    assert_eq!(
        offline.value("skew_events_received_total", &[("transport", "file")]),
        100_000.0
    );

    let out = common::run_binary(&["analyze", file], Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("events recorded: 100000  refused: 0"),
        "{text}"
    );
    assert!(
        text.contains(
            "issuer https://ahead.example\n  verdict: issuer clock ~3.2 s ahead of verifiers"
        ),
        "{text}"
    );

    let out = common::run_binary(
        &["analyze", "--format", "json", file],
        Duration::from_secs(60),
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("analyze json");
    assert_eq!(summary["events_recorded"], 100_000);
    let ahead = summary["issuers"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["issuer"] == "https://ahead.example"))
        .expect("ahead issuer in summary");
    let total: u64 = truth
        .pairs
        .iter()
        .filter(|((_, i), _)| i == "https://ahead.example")
        .map(|(_, p)| p.accepted)
        .sum();
    assert_eq!(ahead["accepted"], total);
    let lead = ahead["issuer_lead_seconds"].as_f64().expect("lead");
    assert!((lead - 3.2).abs() <= 0.05, "{lead}");
}

/// Each malformed-input class gets its counted error, and the good lines around it are kept.
#[test]
fn every_malformed_class_is_counted_and_neighbours_survive() {
    let ex = Exporter::start(&NO_NTP);
    let url = ex.url("/v1/events");
    let good = r#"{"ts":1790000001,"iss":"idp","iat":1790000000,"outcome":"accepted"}"#;
    let header = "eyJhbGciOiJIUzI1NiJ9";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("json", b"this is not json".to_vec()),
        ("json", br#"{"ts":1790000001,"outcome":"acc"#.to_vec()),
        (
            "bad_value",
            br#"{"iat":"yesterday","outcome":"accepted"}"#.to_vec(),
        ),
        (
            "bad_value",
            br#"{"source":42,"outcome":"accepted"}"#.to_vec(),
        ),
        ("bad_value", br#"{"iat":-5,"outcome":"accepted"}"#.to_vec()),
        (
            "bad_value",
            br#"{"exp":1e300,"outcome":"accepted"}"#.to_vec(),
        ),
        (
            "bad_value",
            br#"{"ts":"NaN","outcome":"accepted"}"#.to_vec(),
        ),
        (
            "bad_value",
            br#"{"nbf":"Infinity","outcome":"accepted"}"#.to_vec(),
        ),
        ("bad_value", br#"[1,2,3]"#.to_vec()),
        ("missing_field", br#"{"iat":1790000000}"#.to_vec()),
        ("missing_field", br#"{"outcome":"rejected"}"#.to_vec()),
        (
            "json",
            b"{\"iss\":\"\xff\xfe\",\"outcome\":\"accepted\"}".to_vec(),
        ),
        (
            "bad_token",
            br#"{"token":"definitely not a jwt","outcome":"accepted"}"#.to_vec(),
        ),
        (
            "bad_token",
            format!(r#"{{"token":"{header}.%%%not*base64%%%.c2ln","outcome":"accepted"}}"#)
                .into_bytes(),
        ),
        (
            "too_large",
            format!(
                r#"{{"outcome":"accepted","pad":"{}"}}"#,
                "x".repeat(10 << 20)
            )
            .into_bytes(),
        ),
    ];
    let mut body = Vec::new();
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for (kind, line) in &cases {
        body.extend_from_slice(good.as_bytes());
        body.push(b'\n');
        body.extend_from_slice(line);
        body.push(b'\n');
        *expected.entry(kind).or_default() += 1;
    }
    body.extend_from_slice(good.as_bytes());
    let (status, answer) = post(&url, "application/x-ndjson", body);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["accepted"], cases.len() as u64 + 1, "{answer}");
    assert_eq!(answer["invalid"], cases.len() as u64, "{answer}");
    let errors = answer["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 10, "the first ten errors are listed");
    for (i, e) in errors.iter().enumerate() {
        assert_eq!(e["line"], 2 * i as u64 + 2, "{e}");
        let kind = e["error"]
            .as_str()
            .expect("error text")
            .split(':')
            .next()
            .expect("kind");
        assert_eq!(kind, cases[i].0, "{e}");
    }
    let scrape = ex.scrape();
    for (kind, n) in &expected {
        assert_eq!(
            scrape.value(
                "skew_events_invalid_total",
                &[("transport", "http"), ("error", kind)]
            ),
            *n as f64,
            "{kind}"
        );
    }
    assert_eq!(
        scrape.value(
            "skew_jwt_verifications_total",
            &[
                ("source", "unknown"),
                ("issuer", "idp"),
                ("outcome", "accepted")
            ]
        ),
        cases.len() as f64 + 1.0
    );
    // Issue 13: a rejection with a garbage token is never dropped: it is recorded (issuer from
    // `iss`, else `unknown`) and its token counted as unreadable.
    let body = concat!(
        r#"{"ts":1790000001,"source":"cookie","iss":"idp","token":"abc.def","outcome":"rejected","reason":"jwt malformed"}"#,
        "\n",
        r#"{"ts":1790000001,"source":"cookie","token":"truncated","outcome":"rejected","reason":"TokenExpiredError"}"#,
    );
    let (status, answer) = post(&url, "application/x-ndjson", body.as_bytes().to_vec());
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["invalid"].as_u64()),
        (Some(2), Some(0)),
        "{answer}"
    );
    let scrape = ex.scrape();
    assert_eq!(
        scrape.value(
            "skew_events_token_unreadable_total",
            &[("transport", "http")]
        ),
        2.0
    );
    for (issuer, reason) in [("idp", "malformed"), ("unknown", "expired")] {
        assert_eq!(
            scrape.value(
                "skew_jwt_rejections_total",
                &[("source", "cookie"), ("issuer", issuer), ("reason", reason)]
            ),
            1.0,
            "{issuer} {reason}"
        );
    }
}

/// Status codes of `POST /v1/events`, a separate events listener, and the shared secret.
#[test]
fn http_statuses_auth_and_separate_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "s3cret-push-token\n").expect("write secret");
    let secret_path = secret_file.to_str().expect("utf-8 path");
    let ex = Exporter::start(&[
        NO_NTP[0],
        NO_NTP[1],
        "--events.listen-address",
        "127.0.0.1:0",
        "--events.max-body",
        "4KiB",
        "--events.auth-token-file",
        secret_path,
    ]);
    let events_addr = ex.listener("events");
    assert_ne!(events_addr, ex.addr);
    let url = format!("http://{events_addr}/v1/events");
    let good = r#"{"iss":"idp","outcome":"accepted"}"#;
    let send = |auth: Option<&str>, ct: &str, body: String| {
        let mut req = client().post(&url).header("Content-Type", ct).body(body);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().expect("POST");
        let status = resp.status().as_u16();
        let www = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        (status, www, resp.text().unwrap_or_default())
    };
    let auth = Some("Bearer s3cret-push-token");

    let (status, www, _) = send(None, "application/json", good.into());
    assert_eq!(
        (status, www.as_deref()),
        (401, Some("Bearer realm=\"skew-exporter\""))
    );
    let (status, _, body) = send(Some("Bearer wrong"), "application/json", good.into());
    assert_eq!(status, 401);
    assert!(!body.contains("s3cret"), "{body}");
    assert_eq!(send(auth, "application/json", good.into()).0, 202);
    assert_eq!(
        send(auth, "application/json", format!("[{good},{good}]")).0,
        202
    );
    assert_eq!(send(auth, "text/plain", good.into()).0, 415);
    assert_eq!(send(auth, "application/x-ndjson", String::new()).0, 400);
    assert_eq!(
        send(
            auth,
            "application/x-ndjson",
            "garbage\nmore garbage\n".into()
        )
        .0,
        400
    );
    let big = format!("{good}\n").repeat(200);
    assert_eq!(send(auth, "application/x-ndjson", big).0, 413);

    // Ingestion is not served on the main listener, and /metrics not on the events one.
    let (status, _) = post(&ex.url("/v1/events"), "application/json", good);
    assert!(status == 404 || status == 405, "{status}");
    let status = client()
        .get(format!("http://{events_addr}/metrics"))
        .send()
        .expect("GET")
        .status()
        .as_u16();
    assert_eq!(status, 404);

    let scrape = ex.scrape();
    assert_eq!(
        scrape.value("skew_events_received_total", &[("transport", "http")]),
        3.0
    );
    assert_eq!(
        scrape.value(
            "skew_events_invalid_total",
            &[("transport", "http"), ("error", "too_large")]
        ),
        1.0
    );
    assert_eq!(
        scrape.value(
            "skew_events_invalid_total",
            &[("transport", "http"), ("error", "json")]
        ),
        2.0
    );
}

/// A flood of distinct issuers: at most 32 issuer series plus `other`, the rest counted.
#[test]
fn random_issuers_are_folded_into_other() {
    let ex = Exporter::start(&NO_NTP);
    let body: String = (0..5000)
        .map(|i| format!("{{\"iss\":\"https://evil-{i}.example\",\"outcome\":\"accepted\"}}\n"))
        .collect();
    let (status, answer) = post(&ex.url("/v1/events"), "application/x-ndjson", body);
    assert_eq!(status, 202, "{answer}");
    let scrape = ex.scrape();
    let issuers: std::collections::BTreeSet<_> = scrape
        .series("skew_jwt_verifications_total")
        .map(|s| s.labels["issuer"].clone())
        .collect();
    assert_eq!(issuers.len(), 33, "32 first-seen issuers plus other");
    assert!(issuers.contains("other"));
    assert_eq!(
        scrape.value("skew_label_overflow_total", &[("label", "issuer")]),
        5000.0 - 32.0
    );
}

/// With `RUST_LOG=trace`, no token text ever reaches the logs, whether the token is valid,
/// malformed, or misplaced in another field.
#[test]
fn tokens_never_reach_the_logs_even_at_trace() {
    let ex = Exporter::start_with_env(&NO_NTP, &[("RUST_LOG", "trace")]);
    let header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
    let claims =
        "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwiaWF0IjoxNzkwMDAwMDAwLCJleHAiOjE3OTAwMDA2MDB9";
    let sig = "c2VjcmV0LXNpZ25hdHVyZS1ieXRlcy1oZXJl";
    let valid = format!("{header}.{claims}.{sig}");
    let broken = format!("{header}.{claims}!!!.{sig}");
    let body = [
        format!(r#"{{"token":"{valid}","outcome":"accepted"}}"#),
        format!(r#"{{"token":"{broken}","outcome":"accepted"}}"#),
        format!(r#"{{"iat":"{valid}","outcome":"accepted"}}"#),
        format!(r#"{{"ts":"{valid}","outcome":"accepted"}}"#),
        format!(r#"{{"outcome":"{valid}"}}"#),
        format!(r#"{{"token":"{valid}","outcome":"rejected","reason":"{valid}"}}"#),
    ]
    .join("\n");
    let (status, answer) = post(&ex.url("/v1/events"), "application/x-ndjson", body);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["accepted"], 2);
    let answer_text = answer.to_string();
    let log = ex.log_text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging is on:\n{log}"
    );
    for secret in [&valid[..], &broken[..], claims, sig] {
        assert!(
            !log.contains(secret),
            "a token part reached the log:\n{log}"
        );
        assert!(
            !answer_text.contains(secret),
            "a token part was echoed: {answer_text}"
        );
    }
    let scrape = ex.scrape();
    assert_eq!(
        scrape.value(
            "skew_jwt_verifications_total",
            &[
                ("source", "unknown"),
                ("issuer", "https://idp.example"),
                ("outcome", "accepted")
            ]
        ),
        1.0
    );
}
