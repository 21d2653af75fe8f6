//! The per-(source, issuer) JWT families, kept in the exporter's own atomics and written
//! straight to the text format.
//!
//! Why not the `prometheus` crate here: with every label slot filled (32 sources × 32 issuers)
//! these six families are ~80 000 sample lines (8.6 MB; ~110 000 with every possible series),
//! and `Registry::gather()` copies every series into protobuf structs (cloning every label
//! pair) before `TextEncoder` formats them again: 45–80 ms per render (benches/README.md). Here each pair keeps its label text, escaped once
//! when the pair is created, and [`JwtMetrics::encode_family`] appends lines to one `String`
//! straight from the atomics: a few `push_str`s and an integer format per line.
//!
//! The output is byte for byte what the crate wrote for the same values: the same names, HELP,
//! TYPE, label order (label names sorted, `le` last), series order (label values compared in
//! label-name order, as `Registry::gather` sorts), float formatting (Rust's `Display` for `f64`,
//! which the crate's encoder uses: `1` for 1.0, `-0.25`, `inf`, `NaN`), and a family without
//! series is left out. A series appears when it is first touched, as the crate's children did.
//! The tests below check all of this against the crate itself. One difference is deliberate:
//! the crate finds a child by an FNV hash of its label values written back to back and compares
//! nothing else, so source `a` + issuer `bc` and source `ab` + issuer `c` were one series (with
//! the labels of whichever came first); here a pair is found by its values.
//!
//! [`JwtMetrics`] also implements [`Collector`], so [`super::Metrics::gather`] (and `analyze`,
//! which reads gathered families) sees the same data as protobuf structs.
//!
//! Concurrency: counters are `AtomicU64` adds, exact under any interleaving. A histogram keeps
//! one non-cumulative counter per bucket plus one for values above the last bound (and NaN, as
//! the crate counts them); a scrape loads each counter once and derives every cumulative
//! bucket, the `+Inf` bucket and `_count` from those loads, so within one scrape `_count` always
//! equals the `+Inf` bucket and the buckets never decrease, even while observations land. The
//! `_sum` is an `f64` in an `AtomicU64` updated with a compare-and-swap loop (as the crate's
//! `AtomicF64` does); an observation in flight during a scrape can be in `_sum` and not yet in
//! the buckets or the other way round, and shows up in full at the next scrape. (The crate's
//! hot/cold shards also kept `_sum` in step, at the price of a lock, a wait for writers in
//! flight and two atomic adds per bucket per scrape: thousands of histograms per scrape here.)

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};

use super::histogram::{
    escape, histogram_proto, label_pair, AtomicHistogram, Buckets, LocalHistogram,
};
use super::lead::{LeadWindow, LEAD_SLOT};
use crate::event::{Outcome, Reason};
use crate::verdict::{Cause, Edge};

/// One of the per-pair families, in the order `/metrics` lists them (sorted by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Age,
    ExpiredBy,
    LeadSamples,
    IssuerLead,
    LeewayUsed,
    PrematureBy,
    LifetimeFraction,
    Rejections,
    TimeRejections,
    Verifications,
}

impl Family {
    /// Every family, sorted by name.
    pub const ALL: [Family; 10] = [
        Family::Age,
        Family::ExpiredBy,
        Family::LeadSamples,
        Family::IssuerLead,
        Family::LeewayUsed,
        Family::PrematureBy,
        Family::LifetimeFraction,
        Family::Rejections,
        Family::TimeRejections,
        Family::Verifications,
    ];

    /// The family's name, as exported.
    pub fn name(self) -> &'static str {
        self.spec().0
    }

    /// The family's HELP text, unescaped.
    pub fn help(self) -> &'static str {
        self.spec().1
    }

    /// (name, HELP, label names in the order `with_label_values` took them, type).
    fn spec(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static [&'static str],
        MetricType,
    ) {
        const PAIR: &[&str] = &["source", "issuer"];
        match self {
            Family::Age => (
                "skew_jwt_age_seconds",
                "Token age at verification (verifier clock - iat). Negative: the verifier is behind the issuer. Never rate() the _sum: it can decrease.",
                &["source", "issuer", "outcome"],
                MetricType::HISTOGRAM,
            ),
            Family::ExpiredBy => (
                "skew_jwt_expired_by_seconds",
                "ts - exp of expired rejections (small: skew or zero leeway; hours: clients not refreshing).",
                PAIR,
                MetricType::HISTOGRAM,
            ),
            Family::LeadSamples => (
                "skew_jwt_issuer_lead_samples",
                "Tokens in the issuer-lead window behind skew_jwt_issuer_lead_seconds (no lead is exported from fewer than events.lead-min-samples).",
                PAIR,
                MetricType::GAUGE,
            ),
            Family::LeewayUsed => (
                "skew_jwt_leeway_used_seconds",
                "Accepted tokens outside the strict window, by edge (exp: ts - exp, nbf: nbf - ts, iat: iat - ts): how much of the verifier's leeway they needed.",
                &["source", "issuer", "edge"],
                MetricType::HISTOGRAM,
            ),
            Family::LifetimeFraction => (
                "skew_jwt_rejection_lifetime_fraction",
                "(ts - iat) / (exp - iat) of rejections: near 1 = skew or delay at the edge, spread = refresh or revocation logic.",
                &["source", "issuer", "reason"],
                MetricType::HISTOGRAM,
            ),
            Family::IssuerLead => (
                "skew_jwt_issuer_lead_seconds",
                "How far the issuer's clock runs ahead of the verifiers' (a lower bound): -(lowest token age in the window).",
                PAIR,
                MetricType::GAUGE,
            ),
            Family::PrematureBy => (
                "skew_jwt_premature_by_seconds",
                "nbf - ts (or iat - ts) of not_yet_valid and issued_in_future rejections.",
                PAIR,
                MetricType::HISTOGRAM,
            ),
            Family::Rejections => (
                "skew_jwt_rejections_total",
                "Rejected JWTs (the 401s) by reason.",
                &["source", "issuer", "reason"],
                MetricType::COUNTER,
            ),
            Family::TimeRejections => (
                "skew_jwt_time_rejections_total",
                "Time rejections (expired, not_yet_valid, issued_in_future) by cause: in_transit, clock_skew, expiry_edge, stale_token, unexplained.",
                &["source", "issuer", "reason", "cause"],
                MetricType::COUNTER,
            ),
            Family::Verifications => (
                "skew_jwt_verifications_total",
                "JWT verifications reported, by outcome (accepted, rejected).",
                &["source", "issuer", "outcome"],
                MetricType::COUNTER,
            ),
        }
    }
}

/// The text of one family that does not depend on a series, built once.
struct FamilyText {
    /// `# HELP …\n# TYPE …\n`.
    header: String,
    /// `name{`, `name_bucket{`, `name_sum{`, `name_count{`.
    open: String,
    bucket_open: String,
    sum_open: String,
    count_open: String,
}

impl FamilyText {
    fn new(f: Family) -> Self {
        let (name, help, _, kind) = f.spec();
        let kind = match kind {
            MetricType::COUNTER => "counter",
            MetricType::GAUGE => "gauge",
            _ => "histogram",
        };
        FamilyText {
            header: format!(
                "# HELP {name} {}\n# TYPE {name} {kind}\n",
                escape(help, false)
            ),
            open: format!("{name}{{"),
            bucket_open: format!("{name}_bucket{{"),
            sum_open: format!("{name}_sum{{"),
            count_open: format!("{name}_count{{"),
        }
    }
}

fn outcome_index(o: Outcome) -> usize {
    // "accepted" < "rejected": the index is also the series order.
    match o {
        Outcome::Accepted => 0,
        Outcome::Rejected => 1,
    }
}

const OUTCOMES: [Outcome; 2] = [Outcome::Accepted, Outcome::Rejected];

/// The reasons of `skew_jwt_time_rejections_total`, sorted by label value.
const TIME_REASONS: [Reason; 3] = [Reason::Expired, Reason::IssuedInFuture, Reason::NotYetValid];

/// The causes sorted by label value: the outer order of `skew_jwt_time_rejections_total`
/// (`cause` is its first label name).
const CAUSES_BY_NAME: [Cause; 5] = [
    Cause::ClockSkew,
    Cause::ExpiryEdge,
    Cause::InTransit,
    Cause::StaleToken,
    Cause::Unexplained,
];

/// Where a (time reason, cause) counts in [`PairSeries`]'s `time_rejections`.
fn time_index(reason: Reason, cause: Cause) -> Option<usize> {
    let r = TIME_REASONS.iter().position(|&t| t == reason)?;
    Some(r * Cause::ALL.len() + cause.index())
}

/// Every series of one (source, issuer) pair, and the issuer-lead window behind its lead
/// gauge. Handed out once per pair by [`JwtMetrics::pair`]; recording is atomics only, apart
/// from the lead window's lock.
#[derive(Debug)]
pub struct PairSeries {
    source: Arc<str>,
    issuer: Arc<str>,
    /// `issuer="…"` and `source="…"`, escaped.
    issuer_label: String,
    source_label: String,
    /// `issuer="…",source="…"`.
    pair_labels: String,
    /// `issuer="…",outcome="accepted",source="…"`, then `rejected`.
    outcome_labels: [String; 2],
    /// Both outcomes exist from the pair's creation on, at 0, as before.
    verifications: [AtomicU64; 2],
    /// Created on first use, so a pair only exports the reasons it has seen.
    rejections: [OnceLock<AtomicU64>; Reason::ALL.len()],
    /// `skew_jwt_time_rejections_total`, at [`time_index`]; created on first use.
    time_rejections: [OnceLock<AtomicU64>; TIME_REASONS.len() * Cause::ALL.len()],
    /// Created on first use too: a pair that never saw an expired token exports no expired-by
    /// series (a full 32 × 32 label space is large enough).
    age: [OnceLock<AtomicHistogram>; 2],
    expired_by: OnceLock<AtomicHistogram>,
    premature_by: OnceLock<AtomicHistogram>,
    /// `skew_jwt_leeway_used_seconds{edge}`, at [`Edge::index`].
    leeway_used: [OnceLock<AtomicHistogram>; Edge::ALL.len()],
    /// `skew_jwt_rejection_lifetime_fraction{reason}`, at [`Reason::index`].
    lifetime: [OnceLock<AtomicHistogram>; Reason::ALL.len()],
    /// `f64` bits; absent until the first lead is known.
    lead: OnceLock<AtomicU64>,
    /// Whether `lead` is exported: a window with fewer tokens than the minimum hides it.
    lead_shown: AtomicBool,
    /// `skew_jwt_issuer_lead_samples`: tokens in the window; absent before the first.
    lead_samples: OnceLock<AtomicU64>,
    /// The lowest token ages behind `lead`, created by the first [`PairSeries::observe_lead`].
    window: OnceLock<Mutex<LeadWindow>>,
    age_buckets: Arc<Buckets>,
    edge_buckets: Arc<Buckets>,
    lifetime_buckets: Arc<Buckets>,
}

impl PairSeries {
    fn new(
        source: Arc<str>,
        issuer: Arc<str>,
        age_buckets: Arc<Buckets>,
        edge_buckets: Arc<Buckets>,
        lifetime_buckets: Arc<Buckets>,
    ) -> Self {
        let issuer_label = format!("issuer=\"{}\"", escape(&issuer, true));
        let source_label = format!("source=\"{}\"", escape(&source, true));
        let outcome_labels =
            OUTCOMES.map(|o| format!("{issuer_label},outcome=\"{}\",{source_label}", o.as_str()));
        PairSeries {
            pair_labels: format!("{issuer_label},{source_label}"),
            issuer_label,
            source_label,
            outcome_labels,
            source,
            issuer,
            verifications: Default::default(),
            rejections: Default::default(),
            time_rejections: Default::default(),
            age: Default::default(),
            expired_by: OnceLock::new(),
            premature_by: OnceLock::new(),
            leeway_used: Default::default(),
            lifetime: Default::default(),
            lead: OnceLock::new(),
            lead_shown: AtomicBool::new(false),
            lead_samples: OnceLock::new(),
            window: OnceLock::new(),
            age_buckets,
            edge_buckets,
            lifetime_buckets,
        }
    }

    /// The pair's `source` label value (bounded).
    pub fn source(&self) -> Arc<str> {
        self.source.clone()
    }

    /// The pair's `issuer` label value (bounded).
    pub fn issuer(&self) -> Arc<str> {
        self.issuer.clone()
    }

    /// `skew_jwt_verifications_total{outcome}` += `n` (accepted, rejected).
    pub fn count(&self, n: [u64; 2]) {
        for (c, n) in self.verifications.iter().zip(n) {
            if n > 0 {
                c.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// The bounds of `skew_jwt_age_seconds`, for a batch's [`LocalHistogram`].
    pub fn age_bounds(&self) -> &[f64] {
        &self.age_buckets.bounds
    }

    /// Adds a batch's `skew_jwt_age_seconds{outcome}` observations (a no-op when it holds
    /// none, so an untouched series is not created).
    pub fn merge_age(&self, outcome: Outcome, local: &mut LocalHistogram) {
        if local.is_empty() {
            return;
        }
        let b = &self.age_buckets.bounds;
        self.age[outcome_index(outcome)]
            .get_or_init(|| AtomicHistogram::new(b.len()))
            .merge(local);
    }

    /// `skew_jwt_rejections_total{reason}` += 1.
    pub fn reject(&self, reason: Reason) {
        self.rejections[reason.index()]
            .get_or_init(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    /// `skew_jwt_time_rejections_total{reason,cause}` += 1; other reasons are not counted.
    pub fn time_reject(&self, reason: Reason, cause: Cause) {
        if let Some(i) = time_index(reason, cause) {
            self.time_rejections[i]
                .get_or_init(|| AtomicU64::new(0))
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The issuer lead exported now, if any.
    pub fn lead(&self) -> Option<f64> {
        if !self.lead_shown.load(Ordering::Relaxed) {
            return None;
        }
        self.lead
            .get()
            .map(|v| f64::from_bits(v.load(Ordering::Relaxed)))
    }

    /// One `skew_jwt_leeway_used_seconds{edge}` observation.
    pub fn observe_leeway_used(&self, edge: Edge, v: f64) {
        let b = &self.edge_buckets.bounds;
        self.leeway_used[edge.index()]
            .get_or_init(|| AtomicHistogram::new(b.len()))
            .observe(b, v);
    }

    /// One `skew_jwt_rejection_lifetime_fraction{reason}` observation.
    pub fn observe_lifetime_fraction(&self, reason: Reason, v: f64) {
        let b = &self.lifetime_buckets.bounds;
        self.lifetime[reason.index()]
            .get_or_init(|| AtomicHistogram::new(b.len()))
            .observe(b, v);
    }

    /// Sets `skew_jwt_issuer_lead_samples`.
    pub fn set_lead_samples(&self, n: u64) {
        self.lead_samples
            .get_or_init(|| AtomicU64::new(n))
            .store(n, Ordering::Relaxed);
    }

    /// Removes `skew_jwt_issuer_lead_seconds` until it is set again (too few tokens behind it).
    pub fn hide_issuer_lead(&self) {
        self.lead_shown.store(false, Ordering::Relaxed);
    }

    /// One `skew_jwt_expired_by_seconds` observation.
    pub fn observe_expired_by(&self, v: f64) {
        let b = &self.edge_buckets.bounds;
        self.expired_by
            .get_or_init(|| AtomicHistogram::new(b.len()))
            .observe(b, v);
    }

    /// One `skew_jwt_premature_by_seconds` observation.
    pub fn observe_premature_by(&self, v: f64) {
        let b = &self.edge_buckets.bounds;
        self.premature_by
            .get_or_init(|| AtomicHistogram::new(b.len()))
            .observe(b, v);
    }

    /// Sets `skew_jwt_issuer_lead_seconds`.
    pub fn set_issuer_lead(&self, lead: f64) {
        // Created holding the value, so a scrape never sees a 0 that was never set.
        self.lead
            .get_or_init(|| AtomicU64::new(lead.to_bits()))
            .store(lead.to_bits(), Ordering::Relaxed);
        self.lead_shown.store(true, Ordering::Relaxed);
    }

    /// One token age seen at `ts` that may move the lead (the recorder decides which may): into
    /// the pair's lead window, `skew_jwt_issuer_lead_samples` set to the tokens in it, and
    /// `skew_jwt_issuer_lead_seconds` set from it when at least `min_samples` tokens back it
    /// (removed when fewer do), unless `ts` is older than the window. The window has `slots`
    /// slots of [`LEAD_SLOT`], fixed by the first call. The gauges are set under the window's
    /// lock, so they always show the window's latest state.
    pub fn observe_lead(&self, ts: f64, age: f64, slots: usize, min_samples: u64) {
        let window = self
            .window
            .get_or_init(|| Mutex::new(LeadWindow::new(slots, LEAD_SLOT.as_secs_f64())));
        if let Ok(mut w) = window.lock() {
            if let Some(lead) = w.observe(ts, age) {
                let n = w.samples();
                self.set_lead_samples(n);
                if n >= min_samples {
                    self.set_issuer_lead(lead);
                } else {
                    self.hide_issuer_lead();
                }
            }
        }
    }
}

/// (issuer, source), the order in which the crate sorts the pair families' series.
type IssuerSource = (Arc<str>, Arc<str>);

/// The six per-pair JWT families: every pair's series, the bucket bounds, and the text that
/// does not change. Shared by every recorder and by `/metrics`.
pub struct JwtMetrics {
    /// Keyed by (issuer, source): iteration order is the series order of the pair families.
    /// The one map of pairs: the recorder finds a pair's series (and lead window) here too.
    pairs: RwLock<BTreeMap<IssuerSource, Arc<PairSeries>>>,
    age_buckets: Arc<Buckets>,
    edge_buckets: Arc<Buckets>,
    lifetime_buckets: Arc<Buckets>,
    text: [FamilyText; Family::ALL.len()],
    descs: Vec<Desc>,
    /// Reasons sorted by their label value: the series order of `skew_jwt_rejections_total`.
    reasons_by_name: [Reason; Reason::ALL.len()],
}

/// The pairs as one scrape sees them, sorted by (issuer, source), with the ranges of equal
/// issuers (the families with a third label sort by issuer, that label, then source).
pub struct Snapshot {
    pairs: Vec<Arc<PairSeries>>,
    issuers: Vec<Range<usize>>,
}

impl Snapshot {
    /// The pairs, sorted by (issuer, source).
    pub fn pairs(&self) -> &[Arc<PairSeries>] {
        &self.pairs
    }
}

impl JwtMetrics {
    /// `age_buckets` for `skew_jwt_age_seconds`, `edge_buckets` for expired-by and
    /// premature-by. Errors as the crate's `HistogramOpts` would on bad bounds.
    pub fn new(age_buckets: &[f64], edge_buckets: &[f64]) -> prometheus::Result<Self> {
        let descs = Family::ALL
            .iter()
            .map(|f| {
                let (name, help, labels, _) = f.spec();
                Desc::new(
                    name.to_owned(),
                    help.to_owned(),
                    labels.iter().map(|l| (*l).to_owned()).collect(),
                    HashMap::new(),
                )
            })
            .collect::<prometheus::Result<Vec<_>>>()?;
        let mut reasons_by_name = Reason::ALL;
        reasons_by_name.sort_by_key(|r| r.as_str());
        Ok(JwtMetrics {
            pairs: RwLock::new(BTreeMap::new()),
            age_buckets: Arc::new(Buckets::new(age_buckets)?),
            edge_buckets: Arc::new(Buckets::new(edge_buckets)?),
            lifetime_buckets: Arc::new(Buckets::new(super::LIFETIME_BUCKETS)?),
            text: Family::ALL.map(FamilyText::new),
            descs,
            reasons_by_name,
        })
    }

    /// The series of one pair of (already bounded) label values, created on first request
    /// with both verification counters at 0. Every caller asking for the same pair gets the
    /// same series.
    pub fn pair(&self, source: Arc<str>, issuer: Arc<str>) -> Arc<PairSeries> {
        let key = (issuer, source);
        // A poisoned map (a panic elsewhere while holding it) is still a consistent map: its
        // only writer is the insert below.
        if let Some(p) = self
            .pairs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return p.clone();
        }
        let mut pairs = self.pairs.write().unwrap_or_else(|e| e.into_inner());
        pairs
            .entry(key)
            .or_insert_with_key(|(issuer, source)| {
                Arc::new(PairSeries::new(
                    source.clone(),
                    issuer.clone(),
                    self.age_buckets.clone(),
                    self.edge_buckets.clone(),
                    self.lifetime_buckets.clone(),
                ))
            })
            .clone()
    }

    /// The pairs as they are now. Taken once per scrape: pairs created afterwards appear at
    /// the next one.
    pub fn snapshot(&self) -> Snapshot {
        let pairs: Vec<Arc<PairSeries>> = self
            .pairs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut issuers = Vec::new();
        let mut start = 0;
        for i in 1..=pairs.len() {
            if i == pairs.len() || pairs[i].issuer != pairs[start].issuer {
                issuers.push(start..i);
                start = i;
            }
        }
        Snapshot { pairs, issuers }
    }

    /// Appends every non-empty family in the text format, sorted by name.
    pub fn encode(&self, out: &mut String) {
        let snap = self.snapshot();
        for f in Family::ALL {
            self.encode_family(f, &snap, out);
        }
    }

    /// Appends one family in the text format: HELP, TYPE and every series, or nothing when it
    /// has no series yet.
    pub fn encode_family(&self, family: Family, snap: &Snapshot, out: &mut String) {
        let text = &self.text[family as usize];
        let start = out.len();
        out.push_str(&text.header);
        let header_end = out.len();
        match family {
            Family::Age => self.encode_age(snap, text, out),
            Family::ExpiredBy | Family::PrematureBy => self.encode_edge(snap, text, out, family),
            Family::IssuerLead => self.encode_lead(snap, text, out),
            Family::LeadSamples => self.encode_lead_samples(snap, text, out),
            Family::LeewayUsed => self.encode_leeway_used(snap, text, out),
            Family::LifetimeFraction => self.encode_lifetime(snap, text, out),
            Family::Rejections => self.encode_rejections(snap, text, out),
            Family::TimeRejections => self.encode_time_rejections(snap, text, out),
            Family::Verifications => self.encode_verifications(snap, text, out),
        }
        if out.len() == header_end {
            out.truncate(start);
        }
    }

    // One function per family: its series in the order `Registry::gather` would sort them (by
    // label values), which the reference tests below pin byte for byte.

    fn encode_age(&self, snap: &Snapshot, text: &FamilyText, out: &mut String) {
        let mut prefix = String::new();
        let b = &self.age_buckets;
        for group in &snap.issuers {
            for o in 0..OUTCOMES.len() {
                for p in &snap.pairs[group.clone()] {
                    if let Some(h) = p.age[o].get() {
                        write_histogram(out, &mut prefix, text, &p.outcome_labels[o], h, b);
                    }
                }
            }
        }
    }

    fn encode_edge(&self, snap: &Snapshot, text: &FamilyText, out: &mut String, family: Family) {
        let mut prefix = String::new();
        for p in &snap.pairs {
            let h = match family {
                Family::ExpiredBy => &p.expired_by,
                _ => &p.premature_by,
            };
            if let Some(h) = h.get() {
                write_histogram(
                    out,
                    &mut prefix,
                    text,
                    &p.pair_labels,
                    h,
                    &self.edge_buckets,
                );
            }
        }
    }

    fn encode_lead(&self, snap: &Snapshot, text: &FamilyText, out: &mut String) {
        for p in &snap.pairs {
            if let Some(v) = p.lead() {
                write_line(out, &text.open, &[&p.pair_labels]);
                push_f64(out, v);
                out.push('\n');
            }
        }
    }

    fn encode_lead_samples(&self, snap: &Snapshot, text: &FamilyText, out: &mut String) {
        for p in &snap.pairs {
            if let Some(n) = p.lead_samples.get() {
                write_line(out, &text.open, &[&p.pair_labels]);
                push_f64(out, n.load(Ordering::Relaxed) as f64);
                out.push('\n');
            }
        }
    }

    fn encode_leeway_used(&self, snap: &Snapshot, text: &FamilyText, out: &mut String) {
        let mut prefix = String::new();
        let mut labels = String::new();
        for e in Edge::ALL {
            for group in &snap.issuers {
                for p in &snap.pairs[group.clone()] {
                    if let Some(h) = p.leeway_used[e.index()].get() {
                        prefix_labels(&mut labels, &["edge=\"", e.as_str(), "\","], p);
                        write_histogram(out, &mut prefix, text, &labels, h, &self.edge_buckets);
                    }
                }
            }
        }
    }

    fn encode_lifetime(&self, snap: &Snapshot, text: &FamilyText, out: &mut String) {
        let mut prefix = String::new();
        let mut labels = String::new();
        for group in &snap.issuers {
            for r in self.reasons_by_name {
                for p in &snap.pairs[group.clone()] {
                    if let Some(h) = p.lifetime[r.index()].get() {
                        labels.clear();
                        for part in [
                            &p.issuer_label,
                            ",reason=\"",
                            r.as_str(),
                            "\",",
                            &p.source_label,
                        ] {
                            labels.push_str(part);
                        }
                        write_histogram(out, &mut prefix, text, &labels, h, &self.lifetime_buckets);
                    }
                }
            }
        }
    }

    fn encode_rejections(&self, snap: &Snapshot, text: &FamilyText, out: &mut String) {
        for group in &snap.issuers {
            for r in self.reasons_by_name {
                for p in &snap.pairs[group.clone()] {
                    if let Some(c) = p.rejections[r.index()].get() {
                        write_line(
                            out,
                            &text.open,
                            &[
                                &p.issuer_label,
                                ",reason=\"",
                                r.as_str(),
                                "\",",
                                &p.source_label,
                            ],
                        );
                        push_u64(out, c.load(Ordering::Relaxed));
                        out.push('\n');
                    }
                }
            }
        }
    }

    fn encode_time_rejections(&self, snap: &Snapshot, text: &FamilyText, out: &mut String) {
        for c in CAUSES_BY_NAME {
            for group in &snap.issuers {
                for r in TIME_REASONS {
                    for p in &snap.pairs[group.clone()] {
                        let Some(i) = time_index(r, c) else { continue };
                        if let Some(n) = p.time_rejections[i].get() {
                            write_line(
                                out,
                                &text.open,
                                &[
                                    "cause=\"",
                                    c.as_str(),
                                    "\",",
                                    &p.issuer_label,
                                    ",reason=\"",
                                    r.as_str(),
                                    "\",",
                                    &p.source_label,
                                ],
                            );
                            push_u64(out, n.load(Ordering::Relaxed));
                            out.push('\n');
                        }
                    }
                }
            }
        }
    }

    fn encode_verifications(&self, snap: &Snapshot, text: &FamilyText, out: &mut String) {
        for group in &snap.issuers {
            for o in 0..OUTCOMES.len() {
                for p in &snap.pairs[group.clone()] {
                    write_line(out, &text.open, &[&p.outcome_labels[o]]);
                    push_u64(out, p.verifications[o].load(Ordering::Relaxed));
                    out.push('\n');
                }
            }
        }
    }

    /// The families as protobuf structs, sorted as `Registry::gather` sorts them; empty
    /// families left out.
    pub fn families(&self) -> Vec<MetricFamily> {
        let snap = self.snapshot();
        Family::ALL
            .iter()
            .map(|&f| self.family_proto(f, &snap))
            .filter(|mf| !mf.get_metric().is_empty())
            .collect()
    }

    fn family_proto(&self, family: Family, snap: &Snapshot) -> MetricFamily {
        let (name, help, _, kind) = family.spec();
        let mut metrics = Vec::new();
        match family {
            Family::Age => self.proto_age(snap, &mut metrics),
            Family::ExpiredBy | Family::PrematureBy => self.proto_edge(snap, &mut metrics, family),
            Family::IssuerLead | Family::LeadSamples => self.proto_lead(snap, &mut metrics, family),
            Family::LeewayUsed => self.proto_leeway_used(snap, &mut metrics),
            Family::LifetimeFraction => self.proto_lifetime(snap, &mut metrics),
            Family::Rejections => self.proto_rejections(snap, &mut metrics),
            Family::TimeRejections => self.proto_time_rejections(snap, &mut metrics),
            Family::Verifications => self.proto_verifications(snap, &mut metrics),
        }
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_owned());
        mf.set_help(help.to_owned());
        mf.set_field_type(kind);
        mf.set_metric(metrics);
        mf
    }

    fn proto_age(&self, snap: &Snapshot, metrics: &mut Vec<proto::Metric>) {
        for group in &snap.issuers {
            for (o, outcome) in OUTCOMES.iter().enumerate() {
                for p in &snap.pairs[group.clone()] {
                    if let Some(h) = p.age[o].get() {
                        let mut m = proto::Metric::from_label(pair_labels(
                            p,
                            Some(("outcome", outcome.as_str())),
                        ));
                        m.set_histogram(histogram_proto(h, &self.age_buckets));
                        metrics.push(m);
                    }
                }
            }
        }
    }

    fn proto_edge(&self, snap: &Snapshot, metrics: &mut Vec<proto::Metric>, family: Family) {
        for p in &snap.pairs {
            let h = match family {
                Family::ExpiredBy => &p.expired_by,
                _ => &p.premature_by,
            };
            if let Some(h) = h.get() {
                let mut m = proto::Metric::from_label(pair_labels(p, None));
                m.set_histogram(histogram_proto(h, &self.edge_buckets));
                metrics.push(m);
            }
        }
    }

    fn proto_lead(&self, snap: &Snapshot, metrics: &mut Vec<proto::Metric>, family: Family) {
        for p in &snap.pairs {
            let v = match family {
                Family::IssuerLead => p.lead(),
                _ => p
                    .lead_samples
                    .get()
                    .map(|n| n.load(Ordering::Relaxed) as f64),
            };
            if let Some(v) = v {
                let mut g = proto::Gauge::default();
                g.set_value(v);
                let mut m = proto::Metric::from_label(pair_labels(p, None));
                m.set_gauge(g);
                metrics.push(m);
            }
        }
    }

    fn proto_leeway_used(&self, snap: &Snapshot, metrics: &mut Vec<proto::Metric>) {
        for e in Edge::ALL {
            for group in &snap.issuers {
                for p in &snap.pairs[group.clone()] {
                    if let Some(h) = p.leeway_used[e.index()].get() {
                        let mut l = vec![label_pair("edge", e.as_str())];
                        l.extend(pair_labels(p, None));
                        let mut m = proto::Metric::from_label(l);
                        m.set_histogram(histogram_proto(h, &self.edge_buckets));
                        metrics.push(m);
                    }
                }
            }
        }
    }

    fn proto_lifetime(&self, snap: &Snapshot, metrics: &mut Vec<proto::Metric>) {
        for group in &snap.issuers {
            for r in self.reasons_by_name {
                for p in &snap.pairs[group.clone()] {
                    if let Some(h) = p.lifetime[r.index()].get() {
                        let mut m =
                            proto::Metric::from_label(pair_labels(p, Some(("reason", r.as_str()))));
                        m.set_histogram(histogram_proto(h, &self.lifetime_buckets));
                        metrics.push(m);
                    }
                }
            }
        }
    }

    fn proto_rejections(&self, snap: &Snapshot, metrics: &mut Vec<proto::Metric>) {
        for group in &snap.issuers {
            for r in self.reasons_by_name {
                for p in &snap.pairs[group.clone()] {
                    if let Some(c) = p.rejections[r.index()].get() {
                        let mut m =
                            proto::Metric::from_label(pair_labels(p, Some(("reason", r.as_str()))));
                        m.set_counter(counter_proto(c.load(Ordering::Relaxed)));
                        metrics.push(m);
                    }
                }
            }
        }
    }

    fn proto_time_rejections(&self, snap: &Snapshot, metrics: &mut Vec<proto::Metric>) {
        for c in CAUSES_BY_NAME {
            for group in &snap.issuers {
                for r in TIME_REASONS {
                    for p in &snap.pairs[group.clone()] {
                        let Some(i) = time_index(r, c) else { continue };
                        if let Some(n) = p.time_rejections[i].get() {
                            let mut l = vec![label_pair("cause", c.as_str())];
                            l.extend(pair_labels(p, Some(("reason", r.as_str()))));
                            let mut m = proto::Metric::from_label(l);
                            m.set_counter(counter_proto(n.load(Ordering::Relaxed)));
                            metrics.push(m);
                        }
                    }
                }
            }
        }
    }

    fn proto_verifications(&self, snap: &Snapshot, metrics: &mut Vec<proto::Metric>) {
        for group in &snap.issuers {
            for (o, outcome) in OUTCOMES.iter().enumerate() {
                for p in &snap.pairs[group.clone()] {
                    let mut m = proto::Metric::from_label(pair_labels(
                        p,
                        Some(("outcome", outcome.as_str())),
                    ));
                    m.set_counter(counter_proto(p.verifications[o].load(Ordering::Relaxed)));
                    metrics.push(m);
                }
            }
        }
    }
}

/// A pair's labels for the protobuf path: `issuer`, an optional third label, `source` (sorted,
/// as `Registry::gather` sorts them).
fn pair_labels(p: &PairSeries, third: Option<(&str, &str)>) -> Vec<proto::LabelPair> {
    let mut l = vec![label_pair("issuer", &p.issuer)];
    if let Some((n, v)) = third {
        l.push(label_pair(n, v));
    }
    l.push(label_pair("source", &p.source));
    l
}

impl Collector for JwtMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.families()
    }
}

/// Holds the six names in a `Registry` without exporting anything through it, so that
/// registering another family under one of these names fails as it did when the crate held
/// them, and `Registry::gather` never duplicates what [`JwtMetrics`] writes itself.
pub struct Reserved(Vec<Desc>);

impl Reserved {
    /// The six descriptors of `jwt`.
    pub fn new(jwt: &JwtMetrics) -> Self {
        Reserved(jwt.descs.clone())
    }
}

impl Collector for Reserved {
    fn desc(&self) -> Vec<&Desc> {
        self.0.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        Vec::new()
    }
}

fn counter_proto(v: u64) -> proto::Counter {
    let mut c = proto::Counter::default();
    c.set_value(v as f64);
    c
}

/// `labels` = `first` then the pair's `issuer="…",source="…"`.
fn prefix_labels(labels: &mut String, first: &[&str], p: &PairSeries) {
    labels.clear();
    for part in first {
        labels.push_str(part);
    }
    labels.push_str(&p.pair_labels);
}

/// `open` then `parts` then `} `: a sample line up to its value.
fn write_line(out: &mut String, open: &str, parts: &[&str]) {
    out.push_str(open);
    for p in parts {
        out.push_str(p);
    }
    out.push_str("} ");
}

/// Every line of one histogram series. Each counter is loaded once; `+Inf` and `_count` are
/// the last cumulative value, so they are equal in every scrape. `prefix` is scratch space:
/// `name_bucket{labels` is assembled there once per series, so a bucket line is two copies
/// and a number.
fn write_histogram(
    out: &mut String,
    prefix: &mut String,
    text: &FamilyText,
    labels: &str,
    h: &AtomicHistogram,
    b: &Buckets,
) {
    prefix.clear();
    prefix.push_str(&text.bucket_open);
    prefix.push_str(labels);
    let mut cumulative = 0u64;
    for (c, le) in h.counts.iter().zip(b.le.iter()) {
        cumulative += c.load(Ordering::Relaxed);
        out.push_str(prefix);
        out.push_str(le);
        push_u64(out, cumulative);
        out.push('\n');
    }
    write_line(out, &text.sum_open, &[labels]);
    push_f64(out, h.sum());
    out.push('\n');
    write_line(out, &text.count_open, &[labels]);
    push_u64(out, cumulative);
    out.push('\n');
}

/// An integer count as the crate writes it: converted to `f64`, then `Display`ed. Up to 2^53
/// that is the integer's own digits, which `itoa` writes without the float formatter.
fn push_u64(out: &mut String, v: u64) {
    if v <= 1 << f64::MANTISSA_DIGITS {
        out.push_str(itoa::Buffer::new().format(v));
    } else {
        push_f64(out, v as f64);
    }
}

fn push_f64(out: &mut String, v: f64) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{v}");
}

/// The pre-issue-6 path, kept as the reference the tests compare against: the same six
/// families as `prometheus` crate vectors, registered exactly as `Metrics` registered them.
#[cfg(test)]
pub(crate) mod reference {
    use prometheus::{
        GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
    };

    use super::Family;

    pub(crate) struct Reference {
        pub registry: Registry,
        pub verifications: IntCounterVec,
        pub rejections: IntCounterVec,
        pub time_rejections: IntCounterVec,
        pub age: HistogramVec,
        pub expired_by: HistogramVec,
        pub premature_by: HistogramVec,
        pub issuer_lead: GaugeVec,
        pub lead_samples: GaugeVec,
        pub leeway_used: HistogramVec,
        pub lifetime: HistogramVec,
    }

    impl Reference {
        pub fn new(age_buckets: &[f64], edge_buckets: &[f64]) -> Self {
            let registry = Registry::new();
            let counter = |f: Family, labels: &[&str]| {
                let c = IntCounterVec::new(Opts::new(f.name(), f.help()), labels).unwrap();
                registry.register(Box::new(c.clone())).unwrap();
                c
            };
            let histogram = |f: Family, labels: &[&str], buckets: &[f64]| {
                let h = HistogramVec::new(
                    HistogramOpts::new(f.name(), f.help()).buckets(buckets.to_vec()),
                    labels,
                )
                .unwrap();
                registry.register(Box::new(h.clone())).unwrap();
                h
            };
            let pair = &["source", "issuer"];
            let issuer_lead = GaugeVec::new(
                Opts::new(Family::IssuerLead.name(), Family::IssuerLead.help()),
                pair,
            )
            .unwrap();
            registry.register(Box::new(issuer_lead.clone())).unwrap();
            let lead_samples = GaugeVec::new(
                Opts::new(Family::LeadSamples.name(), Family::LeadSamples.help()),
                pair,
            )
            .unwrap();
            registry.register(Box::new(lead_samples.clone())).unwrap();
            Reference {
                leeway_used: histogram(
                    Family::LeewayUsed,
                    &["source", "issuer", "edge"],
                    edge_buckets,
                ),
                lifetime: histogram(
                    Family::LifetimeFraction,
                    &["source", "issuer", "reason"],
                    crate::metrics::LIFETIME_BUCKETS,
                ),
                lead_samples,
                verifications: counter(Family::Verifications, &["source", "issuer", "outcome"]),
                rejections: counter(Family::Rejections, &["source", "issuer", "reason"]),
                time_rejections: counter(
                    Family::TimeRejections,
                    &["source", "issuer", "reason", "cause"],
                ),
                age: histogram(Family::Age, &["source", "issuer", "outcome"], age_buckets),
                expired_by: histogram(Family::ExpiredBy, pair, edge_buckets),
                premature_by: histogram(Family::PrematureBy, pair, edge_buckets),
                issuer_lead,
                registry,
            }
        }

        /// What creating a pair did: both verification series, at 0.
        pub fn touch(&self, source: &str, issuer: &str) {
            for o in ["accepted", "rejected"] {
                self.verifications.with_label_values(&[source, issuer, o]);
            }
        }

        /// The crate's exposition of the six families.
        pub fn text(&self) -> String {
            TextEncoder::new()
                .encode_to_string(&self.registry.gather())
                .unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::Reference;
    use super::*;
    use crate::metrics::{DEFAULT_AGE_BUCKETS, EDGE_BUCKETS};
    use prometheus::{Encoder, TextEncoder};

    /// One verification, as a batch of one adds it.
    fn count(p: &PairSeries, o: Outcome) {
        let mut n = [0; 2];
        n[outcome_index(o)] = 1;
        p.count(n);
    }

    /// One age observation, as a batch of one adds it.
    fn observe_age(p: &PairSeries, o: Outcome, v: f64) {
        let mut l = LocalHistogram::new();
        l.observe(p.age_bounds(), v);
        p.merge_age(o, &mut l);
    }
    use proptest::prelude::*;

    /// One thing a recorder can do to a pair.
    #[derive(Debug, Clone)]
    enum Op {
        Touch,
        Count(Outcome),
        Reject(Reason),
        TimeReject(Reason, Cause),
        Age(Outcome, f64),
        ExpiredBy(f64),
        PrematureBy(f64),
        Lead(f64),
        HideLead,
        LeadSamples(u64),
        LeewayUsed(Edge, f64),
        Lifetime(Reason, f64),
    }

    fn apply(jwt: &JwtMetrics, r: &Reference, source: &str, issuer: &str, op: &Op) {
        let p = jwt.pair(Arc::from(source), Arc::from(issuer));
        r.touch(source, issuer);
        let l = [source, issuer];
        match *op {
            Op::Touch => {}
            Op::Count(o) => {
                count(&p, o);
                r.verifications
                    .with_label_values(&[source, issuer, o.as_str()])
                    .inc();
            }
            Op::Reject(reason) => {
                p.reject(reason);
                r.rejections
                    .with_label_values(&[source, issuer, reason.as_str()])
                    .inc();
            }
            Op::TimeReject(reason, cause) => {
                p.time_reject(reason, cause);
                r.time_rejections
                    .with_label_values(&[source, issuer, reason.as_str(), cause.as_str()])
                    .inc();
            }
            Op::Age(o, v) => {
                observe_age(&p, o, v);
                r.age
                    .with_label_values(&[source, issuer, o.as_str()])
                    .observe(v);
            }
            Op::ExpiredBy(v) => {
                p.observe_expired_by(v);
                r.expired_by.with_label_values(&l).observe(v);
            }
            Op::PrematureBy(v) => {
                p.observe_premature_by(v);
                r.premature_by.with_label_values(&l).observe(v);
            }
            Op::Lead(v) => {
                p.set_issuer_lead(v);
                r.issuer_lead.with_label_values(&l).set(v);
            }
            Op::HideLead => {
                p.hide_issuer_lead();
                let _ = r.issuer_lead.remove_label_values(&l);
            }
            Op::LeadSamples(n) => {
                p.set_lead_samples(n);
                r.lead_samples.with_label_values(&l).set(n as f64);
            }
            Op::LeewayUsed(e, v) => {
                p.observe_leeway_used(e, v);
                r.leeway_used
                    .with_label_values(&[source, issuer, e.as_str()])
                    .observe(v);
            }
            Op::Lifetime(reason, v) => {
                p.observe_lifetime_fraction(reason, v);
                r.lifetime
                    .with_label_values(&[source, issuer, reason.as_str()])
                    .observe(v);
            }
        }
    }

    fn text(jwt: &JwtMetrics) -> String {
        let mut s = String::new();
        jwt.encode(&mut s);
        s
    }

    /// The protobuf path, text-encoded by the crate (NaN-safe, unlike comparing structs).
    fn proto_text(jwt: &JwtMetrics) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&jwt.collect(), &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn new_pair() -> (JwtMetrics, Reference) {
        (
            JwtMetrics::new(DEFAULT_AGE_BUCKETS, EDGE_BUCKETS).unwrap(),
            Reference::new(DEFAULT_AGE_BUCKETS, EDGE_BUCKETS),
        )
    }

    #[test]
    fn empty_store_writes_nothing() {
        let (jwt, r) = new_pair();
        assert_eq!(text(&jwt), "");
        assert_eq!(r.text(), "");
        assert!(jwt.collect().is_empty());
    }

    #[test]
    fn matches_the_crate_byte_for_byte_and_as_structs() {
        let (jwt, r) = new_pair();
        let ops = [
            ("api", "https://idp", Op::Count(Outcome::Accepted)),
            ("api", "https://idp", Op::Age(Outcome::Accepted, 0.5)),
            ("api", "https://idp", Op::Age(Outcome::Accepted, -3.0)),
            ("web", "https://idp", Op::Reject(Reason::Expired)),
            ("web", "https://idp", Op::ExpiredBy(2.0)),
            ("web", "https://idp", Op::Age(Outcome::Rejected, 3602.5)),
            ("web", "a\"b\\c\nd", Op::Reject(Reason::NotYetValid)),
            ("web", "a\"b\\c\nd", Op::PrematureBy(0.1)),
            ("web", "a\"b\\c\nd", Op::Reject(Reason::InvalidSignature)),
            (
                "web",
                "https://idp",
                Op::TimeReject(Reason::Expired, Cause::StaleToken),
            ),
            (
                "web",
                "https://idp",
                Op::TimeReject(Reason::Expired, Cause::ExpiryEdge),
            ),
            (
                "api",
                "https://idp",
                Op::TimeReject(Reason::NotYetValid, Cause::ClockSkew),
            ),
            (
                "web",
                "a\"b\\c\nd",
                Op::TimeReject(Reason::NotYetValid, Cause::ClockSkew),
            ),
            ("api", "https://idp", Op::Lead(-1.25)),
            ("web", "https://idp", Op::Lead(0.0)),
            ("api", "https://idp", Op::LeadSamples(7)),
            ("web", "a\"b\\c\nd", Op::LeadSamples(2)),
            ("web", "a\"b\\c\nd", Op::Lead(3.0)),
            ("web", "a\"b\\c\nd", Op::HideLead),
            ("api", "https://idp", Op::LeewayUsed(Edge::Nbf, 1.5)),
            ("api", "https://idp", Op::LeewayUsed(Edge::Exp, 0.3)),
            ("web", "a\"b\\c\nd", Op::LeewayUsed(Edge::Exp, 2.0)),
            ("web", "https://idp", Op::Lifetime(Reason::Expired, 1.01)),
            ("web", "https://idp", Op::Lifetime(Reason::Revoked, 0.4)),
            ("api", "https://idp", Op::Lifetime(Reason::Expired, -0.1)),
            ("ünï", "https://idp", Op::Touch),
        ];
        for (s, i, op) in &ops {
            apply(&jwt, &r, s, i, op);
        }
        let expected = r.text();
        assert_eq!(text(&jwt), expected);
        assert_eq!(proto_text(&jwt), expected);
        // Structs too (no NaN here, so `==` is meaningful).
        assert_eq!(jwt.collect(), r.registry.gather());
        assert!(expected.contains(
            "skew_jwt_age_seconds_bucket{issuer=\"https://idp\",outcome=\"accepted\",source=\"api\",le=\"+Inf\"} 2\n"
        ));
        assert!(
            expected.contains("issuer=\"a\\\"b\\\\c\\nd\""),
            "{expected}"
        );
    }

    #[test]
    fn counts_beyond_two_to_the_53_are_written_as_the_crate_writes_them() {
        for v in [
            0,
            1,
            9,
            10,
            (1 << 53) - 1,
            1 << 53,
            (1 << 53) + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut s = String::new();
            push_u64(&mut s, v);
            assert_eq!(s, (v as f64).to_string(), "{v}");
        }
    }

    #[test]
    fn bucket_bounds_are_checked_and_adjusted_as_the_crate_does() {
        let b = Buckets::new(&[1.0, 2.0, f64::INFINITY]).unwrap();
        assert_eq!(b.bounds(), &[1.0, 2.0]);
        assert_eq!(b.le.last().map(String::as_str), Some(",le=\"+Inf\"} "));
        assert_eq!(
            Buckets::new(&[]).unwrap().bounds(),
            prometheus::DEFAULT_BUCKETS
        );
        // The crate checked bounds when a child was created (a `HistogramVec` with bad bounds
        // registers, then panics in `with_label_values`); they are checked at start-up now,
        // with the crate's message. The configuration refuses such bounds before either.
        let ours = Buckets::new(&[1.0, 0.5]).unwrap_err().to_string();
        let theirs = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new("x", "h").buckets(vec![1.0, 0.5]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(ours, theirs);
        assert!(JwtMetrics::new(&[1.0, 1.0], EDGE_BUCKETS).is_err());
        // Custom age buckets (with +Inf given) render like the crate's.
        let age = [-1.0, 0.0, 2.5, f64::INFINITY];
        let jwt = JwtMetrics::new(&age, EDGE_BUCKETS).unwrap();
        let r = Reference::new(&age, EDGE_BUCKETS);
        for v in [-5.0, -1.0, -0.0, 0.0, 2.5, 3.0, f64::INFINITY] {
            apply(&jwt, &r, "s", "i", &Op::Age(Outcome::Rejected, v));
        }
        assert_eq!(text(&jwt), r.text());
    }

    #[test]
    fn one_pair_is_one_set_of_series_whoever_asks() {
        let jwt = JwtMetrics::new(DEFAULT_AGE_BUCKETS, EDGE_BUCKETS).unwrap();
        let a = jwt.pair(Arc::from("s"), Arc::from("i"));
        let b = jwt.pair(Arc::from("s"), Arc::from("i"));
        assert!(Arc::ptr_eq(&a, &b));
        count(&a, Outcome::Accepted);
        count(&b, Outcome::Accepted);
        assert!(text(&jwt).contains(
            "skew_jwt_verifications_total{issuer=\"i\",outcome=\"accepted\",source=\"s\"} 2\n"
        ));
    }

    /// Parses a text exposition into (series, value) pairs, in order.
    fn samples(text: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_owned(), v.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn concurrent_writes_keep_every_scrape_consistent_and_totals_exact() {
        const THREADS: u64 = 4;
        const PER_THREAD: u64 = 20_000;
        let jwt = JwtMetrics::new(DEFAULT_AGE_BUCKETS, EDGE_BUCKETS).unwrap();
        let done = std::sync::atomic::AtomicU64::new(0);
        let mut scrapes = 0;
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (jwt, done) = (&jwt, &done);
                scope.spawn(move || {
                    let p = jwt.pair(Arc::from("s"), Arc::from(format!("i{}", t % 2)));
                    for n in 0..PER_THREAD {
                        count(&p, Outcome::Accepted);
                        observe_age(&p, Outcome::Accepted, (n % 600) as f64 - 300.0);
                        p.observe_expired_by((n % 50) as f64);
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            // Scrape while the writers run, at most 200 times.
            let mut last: BTreeMap<String, f64> = BTreeMap::new();
            while done.load(Ordering::SeqCst) < THREADS && scrapes < 200 {
                scrapes += 1;
                let s = samples(&text(&jwt));
                let mut inf = BTreeMap::new();
                let mut previous_bucket: Option<(String, f64)> = None;
                for (k, v) in &s {
                    if let Some(series) = k.strip_suffix(",le=\"+Inf\"}") {
                        inf.insert(series.replace("_bucket{", "{"), *v);
                    }
                    if let Some((series, _)) = k.split_once(",le=") {
                        if let Some((prev, pv)) = &previous_bucket {
                            if prev == series {
                                assert!(v >= pv, "buckets decrease: {k} {v} < {pv}");
                            }
                        }
                        previous_bucket = Some((series.to_owned(), *v));
                    }
                    if let Some(series) = k.strip_suffix('}').and_then(|k| k.split_once("_count{"))
                    {
                        let key = format!("{}{{{}", series.0, series.1);
                        assert_eq!(Some(v), inf.get(&key), "{k}: _count != +Inf bucket");
                    }
                    if !k.contains("_sum{") {
                        if let Some(before) = last.get(k) {
                            assert!(v >= before, "{k} went down: {before} -> {v}");
                        }
                        last.insert(k.clone(), *v);
                    }
                }
            }
        });
        let s: BTreeMap<String, f64> = samples(&text(&jwt)).into_iter().collect();
        let per_issuer = (THREADS / 2 * PER_THREAD) as f64;
        for i in ["i0", "i1"] {
            let l = format!("issuer=\"{i}\",outcome=\"accepted\",source=\"s\"");
            assert_eq!(
                s[&format!("skew_jwt_verifications_total{{{l}}}")],
                per_issuer
            );
            assert_eq!(s[&format!("skew_jwt_age_seconds_count{{{l}}}")], per_issuer);
            assert_eq!(
                s[&format!("skew_jwt_expired_by_seconds_count{{issuer=\"{i}\",source=\"s\"}}")],
                per_issuer
            );
        }
        assert!(scrapes >= 1);
    }

    /// No value is a prefix of another: the crate's vectors would otherwise merge pairs whose
    /// label values concatenate alike (see `pairs_that_concatenate_alike_stay_apart`), and the
    /// reference would be wrong.
    fn label_value() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "api",
            "web",
            "other",
            "unknown",
            "a\"b",
            "back\\slash",
            "new\nline",
            "ünï",
            "https://idp.example",
            "z",
        ])
    }

    #[test]
    fn pairs_that_concatenate_alike_stay_apart() {
        // The crate finds a child by an FNV hash of the label values written back to back, and
        // compares nothing else: ("a", "bc") and ("ab", "c") were one series, whose labels were
        // those of the first pair seen. Here a pair is found by its values.
        let (jwt, r) = new_pair();
        apply(&jwt, &r, "a", "bc", &Op::Count(Outcome::Accepted));
        apply(&jwt, &r, "ab", "c", &Op::Count(Outcome::Accepted));
        let old = r.text();
        assert!(
            old.contains("{issuer=\"bc\",outcome=\"accepted\",source=\"a\"} 2\n"),
            "{old}"
        );
        assert!(!old.contains("source=\"ab\""), "{old}");
        let new = text(&jwt);
        assert!(
            new.contains("{issuer=\"bc\",outcome=\"accepted\",source=\"a\"} 1\n"),
            "{new}"
        );
        assert!(
            new.contains("{issuer=\"c\",outcome=\"accepted\",source=\"ab\"} 1\n"),
            "{new}"
        );
    }

    #[test]
    fn empty_label_values_render_as_the_crate_renders_them() {
        let (jwt, r) = new_pair();
        apply(&jwt, &r, "", "idp", &Op::Reject(Reason::Revoked));
        apply(&jwt, &r, "", "idp", &Op::Age(Outcome::Rejected, 1.0));
        assert_eq!(text(&jwt), r.text());
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -400.0f64..100_000.0,
            2 => prop::sample::select(DEFAULT_AGE_BUCKETS.to_vec()),
            2 => prop::sample::select(EDGE_BUCKETS.to_vec()),
            1 => prop::sample::select(vec![
                0.0, -0.0, 1e300, -1e300, 1e-300, 5e-324, 0.1 + 0.2, 1e21, 1e-7,
                f64::INFINITY, f64::NEG_INFINITY, f64::NAN,
            ]),
            1 => any::<f64>(),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let outcome = prop::sample::select(vec![Outcome::Accepted, Outcome::Rejected]);
        prop_oneof![
            Just(Op::Touch),
            outcome.clone().prop_map(Op::Count),
            prop::sample::select(Reason::ALL.to_vec()).prop_map(Op::Reject),
            (
                prop::sample::select(TIME_REASONS.to_vec()),
                prop::sample::select(Cause::ALL.to_vec())
            )
                .prop_map(|(r, c)| Op::TimeReject(r, c)),
            (outcome, value()).prop_map(|(o, v)| Op::Age(o, v)),
            value().prop_map(Op::ExpiredBy),
            value().prop_map(Op::PrematureBy),
            value().prop_map(Op::Lead),
            Just(Op::HideLead),
            (0u64..1000).prop_map(Op::LeadSamples),
            (prop::sample::select(Edge::ALL.to_vec()), value())
                .prop_map(|(e, v)| Op::LeewayUsed(e, v)),
            (prop::sample::select(Reason::ALL.to_vec()), value())
                .prop_map(|(r, v)| Op::Lifetime(r, v)),
        ]
    }

    proptest! {
        #[test]
        fn any_sequence_renders_as_the_crate_renders_it(
            ops in prop::collection::vec((label_value(), label_value(), op()), 0..60)
        ) {
            let (jwt, r) = new_pair();
            for (s, i, op) in &ops {
                apply(&jwt, &r, s, i, op);
            }
            let expected = r.text();
            prop_assert_eq!(text(&jwt), expected.clone());
            prop_assert_eq!(proto_text(&jwt), expected);
        }
    }
}
