//! `/metrics` with every label slot filled (issue 6): 32 sources × 32 issuers recorded through
//! the real [`Recorder`], then the whole body rendered by [`Metrics::render`], the function the
//! HTTP handler calls.
//!
//! The peer, measured in the same run, is the path `/metrics` took before the per-pair families
//! got their own encoder: the same events recorded into the `prometheus` crate's vectors (the
//! registration and recording code of that time, below in [`OldPath`]), then
//! `Registry::gather()` into protobuf structs and the crate's `TextEncoder`, for those six
//! families and every other family of the registry. The setup checks that both bodies are the
//! same apart from the process collector's lines.
//!
//! Two shapes:
//! - `loadgen`: one accepted and one expired event per pair, what `benches/http.sh`
//!   (`loadgen --labels`) posts;
//! - `every_series`: one accepted event and one rejection of every reason per pair, so every
//!   family has every series it can have (age by both outcomes, expired-by, premature-by, lead,
//!   all 13 reasons).
//!
//! `cargo bench --bench render`; the body sizes are printed before the measurements.
//! `cargo test --all-targets` runs each benchmark once as a test, unoptimised: then 4 × 4
//! pairs instead of 32 × 32 keep it to about a second, the old/new comparison included.

use std::borrow::Cow;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use skew_exporter::event::{Event, Outcome, Reason};
use skew_exporter::metrics::{Family, Metrics, Transport, DEFAULT_AGE_BUCKETS, EDGE_BUCKETS};
use skew_exporter::record::{LeadWindow, Recorder, RecorderSettings, LEAD_SLOT};

/// Sources and issuers (the label guard's default limits), or 4 when run as a test.
fn slots() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        32
    } else {
        4
    }
}

#[derive(Clone, Copy)]
enum Shape {
    Loadgen,
    EverySeries,
}

fn event<'a>(
    source: &'a str,
    issuer: &'a str,
    outcome: Outcome,
    reason: Option<Reason>,
) -> Event<'a> {
    // The times of benches/http.sh: issued one second before verification, expired at issue.
    let ts = 1_790_000_001.0;
    Event {
        ts,
        source: Some(Cow::Borrowed(source)),
        issuer: Some(Cow::Borrowed(issuer)),
        iat: Some(ts - 1.0),
        nbf: match reason {
            Some(Reason::NotYetValid) => Some(ts + 2.5),
            _ => None,
        },
        exp: Some(ts - 1.0),
        outcome,
        reason,
        token_unreadable: false,
        received: None,
        leeway: None,
        kid: None,
    }
}

/// Every event of `shape`, pair by pair.
fn events(shape: Shape, mut each: impl FnMut(&Event<'_>)) {
    let n = slots();
    for s in 0..n {
        let source = format!("source-{s}");
        for i in 0..n {
            let issuer = format!("https://issuer-{i}.example");
            each(&event(&source, &issuer, Outcome::Accepted, None));
            let reasons: &[Reason] = match shape {
                Shape::Loadgen => &[Reason::Expired],
                Shape::EverySeries => &Reason::ALL,
            };
            for &r in reasons {
                each(&event(&source, &issuer, Outcome::Rejected, Some(r)));
            }
        }
    }
}

/// Metrics with every (source, issuer) pair filled in `shape`, through the real recorder.
fn filled(shape: Shape) -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::new().expect("metrics register"));
    // A lead from every pair's first token, as the old path exported it (issue 13's
    // `events.lead-min-samples` would hide the leads of these two-token pairs).
    let settings = RecorderSettings {
        lead_min_samples: 1,
        ..RecorderSettings::default()
    };
    let recorder = Recorder::new(metrics.clone(), &settings);
    let mut batch = recorder.batch(Transport::Http);
    events(shape, |e| batch.record(e));
    drop(batch);
    metrics
}

/// The six per-pair families as the `prometheus` crate's vectors, registered and recorded as
/// `src/metrics.rs` and `src/record.rs` did before issue 6 (32 × 32 fits the label guard, so
/// the raw values are the bounded ones; they concatenate differently, so the crate's
/// concatenated-values hash keeps them apart).
struct OldPath {
    registry: Registry,
    verifications: IntCounterVec,
    rejections: IntCounterVec,
    age: HistogramVec,
    expired_by: HistogramVec,
    premature_by: HistogramVec,
    issuer_lead: GaugeVec,
    windows: std::collections::HashMap<(String, String), LeadWindow>,
}

impl OldPath {
    fn new() -> Self {
        let registry = Registry::new();
        let counter = |f: Family, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(f.name(), f.help()), labels).expect("counter");
            registry.register(Box::new(c.clone())).expect("register");
            c
        };
        let histogram = |f: Family, labels: &[&str], buckets: &[f64]| {
            let h = HistogramVec::new(
                HistogramOpts::new(f.name(), f.help()).buckets(buckets.to_vec()),
                labels,
            )
            .expect("histogram");
            registry.register(Box::new(h.clone())).expect("register");
            h
        };
        let pair = &["source", "issuer"];
        let lead = Family::IssuerLead;
        let issuer_lead = GaugeVec::new(Opts::new(lead.name(), lead.help()), pair).expect("gauge");
        registry
            .register(Box::new(issuer_lead.clone()))
            .expect("register");
        OldPath {
            verifications: counter(Family::Verifications, &["source", "issuer", "outcome"]),
            rejections: counter(Family::Rejections, &["source", "issuer", "reason"]),
            age: histogram(
                Family::Age,
                &["source", "issuer", "outcome"],
                DEFAULT_AGE_BUCKETS,
            ),
            expired_by: histogram(Family::ExpiredBy, pair, EDGE_BUCKETS),
            premature_by: histogram(Family::PrematureBy, pair, EDGE_BUCKETS),
            issuer_lead,
            registry,
            windows: Default::default(),
        }
    }

    fn record(&mut self, e: &Event<'_>) {
        let (s, i) = (
            e.source.as_deref().unwrap_or("unknown"),
            e.issuer.as_deref().unwrap_or("unknown"),
        );
        for o in [Outcome::Accepted, Outcome::Rejected] {
            self.verifications.with_label_values(&[s, i, o.as_str()]);
        }
        self.verifications
            .with_label_values(&[s, i, e.outcome.as_str()])
            .inc();
        if let Some(age) = e.age() {
            self.age
                .with_label_values(&[s, i, e.outcome.as_str()])
                .observe(age);
        }
        if let Some(reason) = e.reason {
            self.rejections
                .with_label_values(&[s, i, reason.as_str()])
                .inc();
            match reason {
                Reason::Expired => {
                    if let Some(exp) = e.exp {
                        self.expired_by
                            .with_label_values(&[s, i])
                            .observe((e.ts - exp).max(0.0));
                    }
                }
                Reason::NotYetValid => {
                    if let Some(t) = e.nbf.or(e.iat) {
                        self.premature_by
                            .with_label_values(&[s, i])
                            .observe((t - e.ts).max(0.0));
                    }
                }
                Reason::IssuedInFuture => {
                    if let Some(t) = e.iat.or(e.nbf) {
                        self.premature_by
                            .with_label_values(&[s, i])
                            .observe((t - e.ts).max(0.0));
                    }
                }
                _ => {}
            }
        }
        let trusted = e.reason.is_none_or(Reason::is_time_related);
        if let (true, Some(age)) = (trusted, e.age()) {
            let slots =
                (RecorderSettings::default().lead_window.as_secs() / LEAD_SLOT.as_secs()) as usize;
            let w = self
                .windows
                .entry((s.to_owned(), i.to_owned()))
                .or_insert_with(|| LeadWindow::new(slots, LEAD_SLOT.as_secs_f64()));
            if let Some(lead) = w.observe(e.ts, age) {
                self.issuer_lead.with_label_values(&[s, i]).set(lead);
            }
        }
    }

    /// The old `/metrics` body: every family gathered into protobuf structs, sorted by name,
    /// then text-encoded.
    fn render(&self, metrics: &Metrics) -> String {
        let mut families = metrics.registry().gather();
        families.extend(self.registry.gather());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut buf = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&families, &mut buf)
            .expect("encode");
        String::from_utf8(buf).expect("utf-8")
    }
}

/// Families the old path never had: added to the exporter's own encoder later, and checked
/// byte for byte against the prometheus crate by `metrics::jwt`'s unit tests instead.
const NEWER_FAMILIES: [&str; 4] = [
    "skew_jwt_time_rejections_total",
    "skew_jwt_issuer_lead_samples",
    "skew_jwt_rejection_lifetime_fraction",
    "skew_jwt_leeway_used_seconds",
];

/// An exposition without the process collector's lines, which change between two reads, and
/// without [`NEWER_FAMILIES`].
fn without_process(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for l in text.lines() {
        let newer = NEWER_FAMILIES
            .iter()
            .any(|f| l.starts_with(f) || l.contains(&format!(" {f} ")));
        if !l.starts_with("process_") && !l.contains(" process_") && !newer {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    for (name, shape) in [
        ("loadgen", Shape::Loadgen),
        ("every_series", Shape::EverySeries),
    ] {
        let metrics = filled(shape);
        let mut old = OldPath::new();
        events(shape, |e| old.record(e));
        let body = metrics.render().expect("render");
        let old_body = old.render(&metrics);
        assert_eq!(
            without_process(&body),
            without_process(&old_body),
            "the new and the old path disagree"
        );
        let samples = body.lines().filter(|l| !l.starts_with('#')).count();
        let n = slots();
        println!(
            "{name}, {n} x {n} pairs: /metrics body {} bytes, {samples} sample lines (old path: {} bytes)",
            body.len(),
            old_body.len()
        );
        let mut g = c.benchmark_group(format!("metrics_{name}"));
        // The old path takes ~100 ms an iteration: 20 samples keep a full run near a minute.
        g.sample_size(20);
        g.bench_function("render", |b| b.iter(|| metrics.render().expect("render")));
        g.bench_function("old_gather_text_encoder", |b| {
            b.iter(|| old.render(&metrics))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
