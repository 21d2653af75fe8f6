//! Token verdicts (issue 13) end to end: the real binary, events with `received`, `leeway` and
//! `kid` posted to `/v1/events`, every new family checked on `/metrics` against figures worked
//! out by hand, and the issuer clock error against three scripted NTP servers that run exactly
//! 250 ms ahead of this host (a local source, `events.local-sources`).

mod common;

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use common::scripted::{Behaviour, Scripted};
use common::{Exporter, Scrape};

const T: f64 = 1_790_000_000.0;

/// The scripted servers' shift: they run this far ahead, so this host's offset is +0.25 s.
const SHIFT_NS: i64 = 250_000_000;

fn post_ndjson(ex: &Exporter, body: &str) -> u16 {
    let resp = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
        .post(ex.url("/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .body(body.to_owned())
        .send()
        .expect("POST /v1/events");
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    assert_eq!(status, 202, "{text}");
    status
}

/// base64url without padding.
fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// The events, with what each one adds (issuer `idp` runs 3.5 s ahead of the `orders`
/// verifier; `remote` is not local).
fn events() -> Vec<String> {
    let mut lines = Vec::new();
    // Three accepted tokens issued 3 s "in the future": the verifier's 5 s of leeway saved
    // them (leeway used at edge iat: 3 s each), key k1, each waited 0.2 s.
    for i in 0..3 {
        let ts = T + f64::from(i);
        lines.push(format!(
            r#"{{"ts":{ts},"received":{},"leeway":5,"kid":"k1","source":"orders","iss":"idp","iat":{},"exp":{},"outcome":"accepted"}}"#,
            ts - 0.25,
            ts + 3.0,
            ts + 63.0
        ));
    }
    // A not_yet_valid 3.5 s before nbf/iat: the lead becomes 3.5 (4 tokens), cause clock_skew;
    // its lifetime fraction is -3.5/60 (first bucket). Its key comes from the token's header.
    let ts = T + 10.0;
    let token = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"RS256","kid":"k2"}"#),
        b64(&format!(
            r#"{{"iss":"idp","iat":{},"nbf":{},"exp":{}}}"#,
            ts + 3.5,
            ts + 3.5,
            ts + 63.5
        )),
        b64("sig")
    );
    lines.push(format!(
        r#"{{"ts":{ts},"leeway":0,"source":"orders","token":"{token}","outcome":"rejected","reason":"nbf claim timestamp check failed"}}"#
    ));
    // An expired token that was still valid when its request arrived: in_transit; delay 0.5 s;
    // lifetime fraction (100 - 40)/59.75 ≈ 1.004 (the le="1.01" bucket). No kid: "none".
    lines.push(format!(
        r#"{{"ts":{},"received":{},"source":"orders","iss":"idp","iat":{},"exp":{},"outcome":"rejected","reason":"expired"}}"#,
        T + 100.0,
        T + 99.5,
        T + 40.0,
        T + 99.75
    ));
    // A remote verifier sees another issuer 2 s ahead: a lead, but no clock error (not local).
    for i in 0..3 {
        let ts = T + f64::from(i);
        lines.push(format!(
            r#"{{"ts":{ts},"source":"remote","iss":"idp2","iat":{},"outcome":"accepted"}}"#,
            ts + 2.0
        ));
    }
    lines
}

#[test]
fn received_leeway_and_kid_reach_every_new_family() {
    let servers: Vec<Scripted> = (131..134)
        .map(|last| {
            Scripted::start(
                Ipv4Addr::new(127, 0, 0, last),
                0,
                Behaviour::Shifted(SHIFT_NS),
            )
            .expect("bind scripted server")
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("skew-exporter.toml");
    let mut f = std::fs::File::create(&config).expect("config");
    writeln!(f, "[events]\nlocal-sources = [\"orders\"]\nmax-kids = 2").expect("write config");
    drop(f);
    let labels: Vec<String> = servers.iter().map(Scripted::label).collect();
    let config_arg = format!("--config.file={}", config.display());
    let mut args = vec![
        config_arg.as_str(),
        "--ntp.interval",
        "1s",
        "--ntp.burst",
        "2",
        "--ntp.burst-spacing",
        "100ms",
        "--ntp.timeout",
        "300ms",
    ];
    for l in &labels {
        args.extend(["--ntp.server", l.as_str()]);
    }
    let ex = Exporter::start(&args);
    post_ndjson(&ex, &events().join("\n"));

    let scrape = ex.wait_for(
        "the system offset and the clock error",
        Duration::from_secs(15),
        |s| {
            s.has("skew_ntp_system_offset_seconds", &[])
                && s.has("skew_jwt_issuer_clock_error_seconds", &[("issuer", "idp")])
        },
    );
    check(&scrape);
    drop(servers);
}

fn check(s: &Scrape) {
    let orders = [("source", "orders")];
    let pair = [("source", "orders"), ("issuer", "idp")];
    let with = |extra: (&'static str, &'static str)| {
        let mut l = pair.to_vec();
        l.push(extra);
        l
    };

    // Verification delay: 3 × 0.25 s and one 0.5 s.
    let delay = "skew_jwt_verification_delay_seconds";
    assert_eq!(s.value(&format!("{delay}_count"), &orders), 4.0);
    assert_eq!(s.value(&format!("{delay}_sum"), &orders), 1.25);
    assert_eq!(
        s.value(
            &format!("{delay}_bucket"),
            &[("source", "orders"), ("le", "0.25")]
        ),
        3.0
    );
    assert!(!s.has(&format!("{delay}_count"), &[("source", "remote")]));

    // The verifier's leeway: the last it reported (0, the nbf rejection).
    assert_eq!(s.value("skew_jwt_verifier_leeway_seconds", &orders), 0.0);

    // Leeway used: three accepted tokens 3 s before their iat.
    let used = "skew_jwt_leeway_used_seconds";
    assert_eq!(
        s.value(&format!("{used}_count"), &with(("edge", "iat"))),
        3.0
    );
    assert_eq!(s.value(&format!("{used}_sum"), &with(("edge", "iat"))), 9.0);
    assert!(!s.has(&format!("{used}_count"), &with(("edge", "exp"))));

    // Key ids: k1 from the field, k2 from the token header, none without.
    let keys = "skew_jwt_key_verifications_total";
    let key = |kid: &'static str, outcome: &'static str| {
        s.value(
            keys,
            &[("source", "orders"), ("kid", kid), ("outcome", outcome)],
        )
    };
    assert_eq!(key("k1", "accepted"), 3.0);
    assert_eq!(key("k1", "rejected"), 0.0);
    assert_eq!(key("k2", "rejected"), 1.0);
    assert_eq!(key("none", "rejected"), 1.0);
    assert_eq!(
        s.value(
            keys,
            &[
                ("source", "remote"),
                ("kid", "none"),
                ("outcome", "accepted")
            ]
        ),
        3.0
    );

    // Lead and its samples: 3.5 s from five tokens (the expired one is old enough not to move it).
    assert_eq!(s.value("skew_jwt_issuer_lead_samples", &pair), 5.0);
    assert_eq!(s.value("skew_jwt_issuer_lead_seconds", &pair), 3.5);

    // Causes: the nbf rejection within the lead, the expired one in transit.
    let cause = |reason: &'static str, cause: &'static str| {
        s.value(
            "skew_jwt_time_rejections_total",
            &[
                ("source", "orders"),
                ("issuer", "idp"),
                ("reason", reason),
                ("cause", cause),
            ],
        )
    };
    assert_eq!(cause("not_yet_valid", "clock_skew"), 1.0);
    assert_eq!(cause("expired", "in_transit"), 1.0);

    // Lifetime fractions.
    let frac = "skew_jwt_rejection_lifetime_fraction";
    assert_eq!(
        s.value(
            &format!("{frac}_bucket"),
            &[
                ("source", "orders"),
                ("issuer", "idp"),
                ("reason", "not_yet_valid"),
                ("le", "0")
            ]
        ),
        1.0
    );
    assert_eq!(
        s.value(
            &format!("{frac}_bucket"),
            &[
                ("source", "orders"),
                ("issuer", "idp"),
                ("reason", "expired"),
                ("le", "0.99")
            ]
        ),
        0.0
    );
    assert_eq!(
        s.value(
            &format!("{frac}_bucket"),
            &[
                ("source", "orders"),
                ("issuer", "idp"),
                ("reason", "expired"),
                ("le", "1.01")
            ]
        ),
        1.0
    );

    // Whose clock is wrong: the local lead (3.5) minus this host's offset (+0.25 against the
    // scripted servers): the issuer runs 3.25 s fast. The remote source's issuer has none.
    let offset = s.value("skew_ntp_system_offset_seconds", &[]);
    assert!((offset - 0.25).abs() < 0.005, "system offset {offset}");
    let error = s.value("skew_jwt_issuer_clock_error_seconds", &[("issuer", "idp")]);
    assert!(
        (error - (3.5 - offset)).abs() < 1e-9,
        "clock error {error} != 3.5 - {offset}"
    );
    assert!(!s.has("skew_jwt_issuer_clock_error_seconds", &[("issuer", "idp2")]));
    assert_eq!(
        s.value(
            "skew_jwt_issuer_lead_seconds",
            &[("source", "remote"), ("issuer", "idp2")]
        ),
        2.0
    );
}
