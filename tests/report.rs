//! The pictures of issue 17 in a real browser: `analyze --format html` opened from disk and
//! the live page `/` of the running binary, both in headless Chromium. Each test checks that
//! the page logged nothing to its console (the pages have no script, so any message is a
//! fault), that its text holds the verdict, that a hostile issuer name stays text, and that
//! each chart is drawn: every chart's data has a colour no other chart uses
//! (`skew_exporter::report::*_COLOR`), so its pixels in the screenshot are the chart's own.
//! The thresholds are above what the HTML legend's 14 × 14 swatches could paint.
//!
//! Needs /usr/bin/chromium (Debian `chromium`): skipped locally without it, a failure under
//! `CI=true`. Screenshots go to the test's temporary directory; with
//! `SKEW_SCREENSHOTS=docs` they also replace docs/report.png and docs/live-page.png.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::chromium::{rgb, shoot, Shot, CHROMIUM};
use common::scripted::{Behaviour, Scripted};
use common::{require_paths, run_binary, Exporter};
use skew_exporter::report::{
    AGE_COLOR, DELAY_COLOR, EXPIRED_COLOR, ISSUER_COLORS, NTP_COLOR, PREMATURE_COLOR, REASON_COLORS,
};
use skew_exporter::synth::{Generator, Spec};

/// An issuer name that would run a script if it reached the page unescaped.
const HOSTILE: &str = "<script>console.error('pwned')</script>";

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

/// `n` synthetic events (the default world: an issuer 3.2 s ahead, one in sync, one 1.5 s
/// behind) and ten expired rejections from the hostile issuer, as JSON lines.
fn events_file(dir: &Path, n: usize) -> PathBuf {
    // With issue 13's fields (`received` above all), so the verification-delay chart has data.
    let spec = Spec {
        verdict_fields: true,
        ..Spec::default()
    };
    let path = dir.join(format!("events-{n}.jsonl"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("events file"));
    for g in Generator::new(spec.clone()).take(n) {
        writeln!(f, "{}", g.to_json(&spec)).expect("write");
    }
    for k in 0..10 {
        let ts = spec.start + f64::from(k);
        let line = serde_json::json!({
            "ts": ts, "source": "orders", "iss": HOSTILE, "iat": ts - 700.0,
            "exp": ts - 100.0, "outcome": "rejected", "reason": "expired"
        });
        writeln!(f, "{line}").expect("write");
    }
    f.flush().expect("flush");
    path
}

fn analyze(format: &str, file: &Path) -> String {
    let out = run_binary(
        &["analyze", "--format", format, &file.display().to_string()],
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "analyze --format {format}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The verdict the text format prints for `issuer`.
fn text_verdict(text: &str, issuer: &str) -> String {
    let mut lines = text.lines();
    lines
        .position(|l| l == format!("issuer {issuer}"))
        .unwrap_or_else(|| panic!("no issuer {issuer} in:\n{text}"));
    let v = lines.next().expect("verdict line");
    v.strip_prefix("  verdict: ")
        .unwrap_or_else(|| panic!("not a verdict line: {v}"))
        .to_owned()
}

/// Pixels of `color` (±8 per channel, for anti-aliasing) in the screenshot.
fn drawn(shot: &Shot, color: &str) -> usize {
    shot.count(rgb(color), 8)
}

fn keep_for_docs(png: &Path, name: &str) {
    if std::env::var("SKEW_SCREENSHOTS").as_deref() == Ok("docs") {
        let to = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name);
        std::fs::copy(png, &to).expect("copy the screenshot to docs/");
    }
}

fn assert_hostile_issuer_is_text(html: &str, dom: &str) {
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "a script element reached the page"
    );
    assert!(html.contains("&lt;script&gt;console.error(&#39;pwned&#39;)&lt;/script&gt;"));
    // In the parsed DOM it is a text node (serialised escaped), never an element.
    assert!(!dom.contains("<script>console.error"), "{dom}");
    assert!(dom.contains("&lt;script&gt;console.error('pwned')&lt;/script&gt;"));
}

/// The detector itself: a console message is seen, and a page without the colours counts none.
#[test]
fn chromium_console_and_pixel_checks_see_what_they_claim() {
    if !require_paths(&[CHROMIUM]) {
        return;
    }
    let dir = tmp();
    let page = dir.path().join("control.html");
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html><html><body><p>control</p>\
             <svg width=\"100\" height=\"50\"><rect width=\"100\" height=\"50\" fill=\"{AGE_COLOR}\"/></svg>\
             <script>console.error('control-message')</script></body></html>"
        ),
    )
    .expect("write control page");
    let shot = shoot(
        &format!("file://{}", page.display()),
        &dir.path().join("control.png"),
        400,
        300,
    );
    assert!(
        shot.console.iter().any(|l| l.contains("control-message")),
        "{:?}",
        shot.console
    );
    assert_eq!((shot.width, shot.height), (400, 300));
    assert_eq!(drawn(&shot, AGE_COLOR), 100 * 50);
    assert_eq!(drawn(&shot, EXPIRED_COLOR), 0);
    assert!(shot.dom.contains("<p>control</p>"));
}

#[test]
fn the_html_report_opens_from_disk_with_the_verdict_and_every_chart() {
    if !require_paths(&[CHROMIUM]) {
        return;
    }
    let dir = tmp();
    let events = events_file(dir.path(), 20_000);
    let html = analyze("html", &events);
    let text = analyze("text", &events);
    let report = dir.path().join("report.html");
    std::fs::write(&report, &html).expect("write report");
    // Self-contained: nothing is fetched.
    for needle in ["src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(needle), "the report refers to {needle}");
    }

    let png = dir.path().join("report.png");
    let shot = shoot(&format!("file://{}", report.display()), &png, 1200, 5200);
    assert!(shot.console.is_empty(), "console: {:?}", shot.console);
    assert_hostile_issuer_is_text(&html, &shot.dom);

    // The same verdicts as the text format, the problem first.
    let ahead = text_verdict(&text, "https://ahead.example");
    assert!(
        ahead.starts_with("issuer clock ~3.2 s ahead of verifiers"),
        "{ahead}"
    );
    for issuer in [
        "https://ahead.example",
        "https://synced.example",
        "https://behind.example",
    ] {
        let v = text_verdict(&text, issuer);
        assert!(shot.dom.contains(&v), "{issuer}: {v} not in the page");
    }
    let first = shot.dom.split("<li class=\"").nth(1).expect("a verdict");
    assert!(
        first.starts_with("problem\"") && first.contains("https://ahead.example</b>"),
        "{first}"
    );

    for (chart, color, at_least) in [
        ("token age", AGE_COLOR, 3000),
        (
            "rejections over time (not_yet_valid)",
            REASON_COLORS[1],
            3000,
        ),
        ("issuer lead (first issuer's line)", ISSUER_COLORS[0], 1000),
        ("issuer lead (second issuer's line)", ISSUER_COLORS[1], 1000),
        ("expired by", EXPIRED_COLOR, 1000),
        ("premature by", PREMATURE_COLOR, 1000),
        ("verification delay", DELAY_COLOR, 1000),
    ] {
        let n = drawn(&shot, color);
        assert!(
            n >= at_least,
            "{chart}: {n} pixels of {color}, want {at_least}+"
        );
    }
    keep_for_docs(&png, "report.png");
}

/// The report's size is bounded by its aggregates, not by the events: sixteen times the
/// events, about the same file (the time axis is capped at `MAX_BINS` bins).
#[test]
fn the_report_size_does_not_grow_with_the_events() {
    let dir = tmp();
    let sizes: Vec<usize> = [25_000, 100_000, 400_000]
        .iter()
        .map(|&n| analyze("html", &events_file(dir.path(), n)).len())
        .collect();
    for s in &sizes {
        assert!(*s < 400_000, "{sizes:?}");
    }
    let (a, b) = (sizes[1] as f64, sizes[2] as f64);
    assert!((b / a - 1.0).abs() < 0.25, "{sizes:?}");
}

#[test]
fn the_live_page_shows_the_verdict_the_servers_and_the_issuers() {
    if !require_paths(&[CHROMIUM]) {
        return;
    }
    let loopback = std::net::Ipv4Addr::LOCALHOST;
    // Two honest servers 0.4 ms ahead of this host, one that never answers.
    let a = Scripted::start(loopback, 0, Behaviour::Shifted(400_000)).expect("server a");
    let b = Scripted::start(loopback, 0, Behaviour::Shifted(400_000)).expect("server b");
    let silent = Scripted::start(loopback, 0, Behaviour::Silent).expect("silent server");
    let (la, lb, ls) = (a.label(), b.label(), silent.label());
    let mut ex = Exporter::start(&[
        "--ntp.interval",
        "1s",
        "--ntp.burst",
        "2",
        "--ntp.burst-spacing",
        "100ms",
        "--ntp.timeout",
        "300ms",
        "--ntp.server",
        &la,
        "--ntp.server",
        &lb,
        "--ntp.server",
        &ls,
    ]);

    // An issuer 3.2 s ahead (every token arrives 3.2 s before its iat), one in sync, and the
    // hostile one.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let mut body = String::new();
    for k in 0..200 {
        let ts = now - 60.0 + f64::from(k) * 0.25;
        let lines = [
            serde_json::json!({"ts": ts, "source": "orders", "iss": "https://auth.ahead.example",
                "iat": ts + 3.2, "nbf": ts + 3.2, "exp": ts + 903.2,
                "outcome": "rejected", "reason": "not_yet_valid"}),
            serde_json::json!({"ts": ts, "source": "orders", "iss": "https://synced.example",
                "iat": ts - 0.5, "exp": ts + 600.0, "outcome": "accepted"}),
            serde_json::json!({"ts": ts, "source": "web", "iss": HOSTILE,
                "iat": ts - 1.0, "exp": ts + 600.0, "outcome": "accepted"}),
        ];
        for l in lines {
            body.push_str(&l.to_string());
            body.push('\n');
        }
    }
    let resp = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(ex.url("/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .expect("POST /v1/events");
    assert_eq!(resp.status().as_u16(), 202);

    ex.wait_for(
        "an agreed offset and a timeout",
        Duration::from_secs(30),
        |s| {
            s.has("skew_ntp_system_offset_seconds", &[])
                && s.get(
                    "skew_ntp_queries_total",
                    &[("server", &ls), ("result", "timeout")],
                )
                .is_some_and(|n| n > 0.0)
        },
    );
    // This host is 0.4 ms behind in truth; on a loaded machine loopback delays can flip the
    // measured sign, so the host sentence is checked for its shape only.
    let (status, html) = ex.get("/");
    assert_eq!(status, 200);

    let png = tmp();
    let png = png.path().join("live-page.png");
    let shot = shoot(&ex.url("/"), &png, 1200, 1500);
    assert!(shot.console.is_empty(), "console: {:?}", shot.console);
    assert_hostile_issuer_is_text(&html, &shot.dom);
    assert!(
        shot.dom.contains("ms behind its NTP servers (bound ")
            || shot.dom.contains("ms ahead of its NTP servers (bound "),
        "no host sentence in:\n{}",
        shot.dom
    );
    for needle in [
        "issuer clock ~3.2 s ahead of verifiers: 200 nbf/iat rejections",
        "<td>not_yet_valid 200</td>",
    ] {
        assert!(shot.dom.contains(needle), "{needle} not in:\n{}", shot.dom);
    }
    // The silent server's row says its last round timed out.
    let row = shot
        .dom
        .split("<tr>")
        .find(|r| r.contains(&format!("<td>{ls}</td>")))
        .expect("the silent server's row");
    assert!(row.contains("timeout"), "{row}");
    for (chart, color, at_least) in [
        ("NTP offsets ± bound", NTP_COLOR, 1000),
        ("recent rejections (not_yet_valid)", REASON_COLORS[1], 3000),
        ("token age", AGE_COLOR, 1000),
    ] {
        let n = drawn(&shot, color);
        assert!(
            n >= at_least,
            "{chart}: {n} pixels of {color}, want {at_least}+"
        );
    }
    keep_for_docs(&png, "live-page.png");
    ex.terminate();
}
