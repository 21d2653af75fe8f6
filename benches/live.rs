//! The live page `/` with every label slot filled (issue 17: < 50 ms with 32 × 32 issuer ×
//! source pairs): one accepted and one rejection of every reason per pair through the real
//! [`Recorder`], three NTP servers, and the ring of recent counts holding a window's worth of
//! snapshots; then [`skew_exporter::http::live_page`], the function the handler calls
//! (gather, summarize, verdicts, tables, charts).
//!
//! `cargo bench --bench live`; the page size is printed first. `cargo test --all-targets` runs
//! it once as a test, unoptimised, with 4 × 4 pairs.

use std::borrow::Cow;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use skew_exporter::event::{Event, Outcome, Reason};
use skew_exporter::metrics::recent::{SLOT, WINDOW};
use skew_exporter::metrics::{Metrics, Transport};
use skew_exporter::record::{Recorder, RecorderSettings};

/// Sources and issuers (the label guard's default limits), or 4 when run as a test.
fn slots() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        32
    } else {
        4
    }
}

/// The metrics, and the time the page is drawn at: a window's worth of snapshots after they
/// were created, as the app's task leaves them.
fn filled() -> (Arc<Metrics>, f64) {
    let metrics = Arc::new(Metrics::new().expect("metrics register"));
    let recorder = Recorder::new(metrics.clone(), &RecorderSettings::default());
    let start = skew_exporter::unix_now();
    let slots_in_window = (WINDOW / SLOT) as u32;
    for k in 1..=slots_in_window {
        metrics
            .recent
            .tick(start + SLOT * f64::from(k), &metrics.gather());
    }
    let now = start + SLOT * f64::from(slots_in_window + 1);
    let mut batch = recorder.batch(Transport::Http);
    let n = slots();
    for s in 0..n {
        let source = format!("source-{s}");
        for i in 0..n {
            let issuer = format!("https://issuer-{i}.example");
            let ts = now - 10.0;
            let event = |outcome, reason| Event {
                ts,
                source: Some(Cow::Borrowed(source.as_str())),
                issuer: Some(Cow::Borrowed(issuer.as_str())),
                iat: Some(ts - 1.0 + i as f64 * 0.1),
                nbf: Some(ts + 2.5),
                exp: Some(ts - 1.0),
                outcome,
                reason,
                token_unreadable: false,
                received: None,
                leeway: None,
                kid: None,
            };
            batch.record(&event(Outcome::Accepted, None));
            for r in Reason::ALL {
                batch.record(&event(Outcome::Rejected, Some(r)));
            }
        }
    }
    drop(batch);
    for (k, server) in ["a.example:123", "b.example:123", "c.example:123"]
        .iter()
        .enumerate()
    {
        let offset = 0.0004 * (k as f64 + 1.0);
        metrics.ntp.offset.with_label_values(&[server]).set(offset);
        metrics.ntp.delay.with_label_values(&[server]).set(0.002);
        metrics.ntp.stratum.with_label_values(&[server]).set(2);
        metrics
            .ntp
            .queries
            .with_label_values(&[server, "ok"])
            .inc_by(40);
        metrics.ntp.falseticker.with_label_values(&[server]).set(0);
    }
    metrics
        .ntp
        .system_offset
        .with_label_values::<&str>(&[])
        .set(0.0004);
    (metrics, now)
}

fn bench(c: &mut Criterion) {
    let (metrics, now) = filled();
    let page = skew_exporter::http::live_page(&metrics, "/metrics", now);
    let n = slots();
    assert!(page.contains("https://issuer-0.example"));
    assert!(page.contains("this host is 0.4 ms behind its NTP servers"));
    eprintln!(
        "live page, {n} × {n} pairs: {} bytes, {} verdict sentences",
        page.len(),
        page.matches("<li class=").count()
    );
    let mut g = c.benchmark_group("live_page");
    g.sample_size(20);
    g.bench_function(format!("{n}x{n}"), |b| {
        b.iter(|| skew_exporter::http::live_page(&metrics, "/metrics", now))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
