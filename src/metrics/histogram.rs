//! Histogram storage shared by the exporter's own families: bucket bounds with their `le`
//! text ([`Buckets`]), a histogram in atomics ([`AtomicHistogram`], what a scrape reads), the
//! same counts kept by one thread before they are added at once ([`LocalHistogram`], what a
//! [`crate::record::Batch`] fills), and `skew_jwt_verification_delay_seconds{source}`
//! ([`SourceHistograms`]), a registry collector over atomic histograms.
//!
//! Why a local histogram: an atomic add costs ~7 ns on these machines (two per observation:
//! the bucket and the sum), a plain add well under 1 ns. A batch records hundreds of events of
//! one pair in a row, so it counts them locally and adds the totals when it is done, when it
//! forgets a pair, and every [`crate::record::FLUSH_EVERY`] events (benches/README.md).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};

/// Upper bounds of a histogram and their `le` label text.
#[derive(Debug)]
pub struct Buckets {
    pub(super) bounds: Box<[f64]>,
    /// `,le="<bound>"} ` for every bound, then `,le="+Inf"} `.
    pub(super) le: Box<[String]>,
}

impl Buckets {
    /// Checks and adjusts the bounds exactly as `prometheus::HistogramOpts` does: empty means
    /// the crate's default buckets, they must increase, a trailing `+Inf` is implicit and
    /// dropped.
    pub fn new(bounds: &[f64]) -> prometheus::Result<Self> {
        let mut bounds = if bounds.is_empty() {
            prometheus::DEFAULT_BUCKETS.to_vec()
        } else {
            bounds.to_vec()
        };
        for w in bounds.windows(2) {
            if w[0] >= w[1] {
                return Err(prometheus::Error::Msg(format!(
                    "histogram buckets must be in increasing order: {} >= {}",
                    w[0], w[1]
                )));
            }
        }
        if bounds
            .last()
            .is_some_and(|b| b.is_sign_positive() && b.is_infinite())
        {
            bounds.pop();
        }
        let le = bounds
            .iter()
            .map(|b| format!(",le=\"{}\"}} ", escape(&b.to_string(), true)))
            .chain(std::iter::once(",le=\"+Inf\"} ".to_owned()))
            .collect();
        Ok(Buckets {
            bounds: bounds.into_boxed_slice(),
            le,
        })
    }

    /// The upper bounds after adjustment, without the implicit `+Inf`.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }
}

/// A histogram's counters: one per bucket, non-cumulative, plus one for everything above the
/// last bound (NaN included, as the crate counts it in `_count` only), and the sum.
#[derive(Debug)]
pub struct AtomicHistogram {
    pub(super) counts: Box<[AtomicU64]>,
    /// `f64` bits.
    sum: AtomicU64,
}

impl AtomicHistogram {
    pub(super) fn new(bounds: usize) -> Self {
        AtomicHistogram {
            counts: (0..=bounds).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0.0f64.to_bits()),
        }
    }

    pub(super) fn observe(&self, bounds: &[f64], v: f64) {
        let i = bucket_index(bounds, v);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        add_f64(&self.sum, v);
    }

    pub(super) fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Ordering::Relaxed))
    }

    /// Adds what `local` holds and empties it: one atomic add per touched bucket and one for
    /// the sum, however many observations it holds.
    pub fn merge(&self, local: &mut LocalHistogram) {
        if local.observations == 0 {
            return;
        }
        for (c, n) in self.counts.iter().zip(local.counts.iter_mut()) {
            if *n > 0 {
                c.fetch_add(*n, Ordering::Relaxed);
                *n = 0;
            }
        }
        add_f64(&self.sum, local.sum);
        local.sum = 0.0;
        local.observations = 0;
    }
}

/// The counter of `v`: the first bound with `v <= bound`, as the crate's linear search finds
/// it, by binary search (the bounds increase: [`Buckets::new`] and the configuration check
/// that); NaN compares false with every bound and lands in the last counter, above them all.
#[inline]
fn bucket_index(bounds: &[f64], v: f64) -> usize {
    if v.is_nan() {
        return bounds.len();
    }
    bounds.partition_point(|b| *b < v)
}

/// `*cell += v` for an `f64` kept as bits: the crate's `AtomicF64::inc_by`.
fn add_f64(cell: &AtomicU64, v: f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(current) + v).to_bits();
        match cell.compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

pub(super) fn histogram_proto(h: &AtomicHistogram, b: &Buckets) -> proto::Histogram {
    let mut cumulative = 0;
    let mut buckets = Vec::with_capacity(b.bounds.len());
    for (c, bound) in h.counts.iter().zip(b.bounds.iter()) {
        cumulative += c.load(Ordering::Relaxed);
        let mut pb = proto::Bucket::default();
        pb.set_cumulative_count(cumulative);
        pb.set_upper_bound(*bound);
        buckets.push(pb);
    }
    let above = h.counts.last().map_or(0, |c| c.load(Ordering::Relaxed));
    let mut p = proto::Histogram::default();
    p.set_sample_sum(h.sum());
    p.set_sample_count(cumulative + above);
    p.set_bucket(buckets);
    p
}

/// The text format's escaping, as the crate's `escape_string`: `\` → `\\`, newline → `\n`, and
/// in label values `"` → `\"`.
pub(super) fn escape(v: &str, quote: bool) -> Cow<'_, str> {
    if !v
        .bytes()
        .any(|b| b == b'\\' || b == b'\n' || (quote && b == b'"'))
    {
        return Cow::Borrowed(v);
    }
    let mut s = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '"' if quote => s.push_str("\\\""),
            c => s.push(c),
        }
    }
    Cow::Owned(s)
}

/// One label of a gathered series (the protobuf path of the exporter's own families).
pub(super) fn label_pair(name: &str, value: &str) -> proto::LabelPair {
    let mut l = proto::LabelPair::default();
    l.set_name(name.to_owned());
    l.set_value(value.to_owned());
    l
}

/// A histogram's counts held by one thread: what [`AtomicHistogram::merge`] adds.
#[derive(Debug, Clone, Default)]
pub struct LocalHistogram {
    /// Empty until the first observation (`/v1/verify` records one event per batch, and most
    /// of a pair's histograms never see one there), then one counter per bound plus one.
    counts: Box<[u64]>,
    sum: f64,
    observations: u64,
}

impl LocalHistogram {
    /// Empty; its counters (one per bound, plus the one above the last) are allocated by the
    /// first observation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether it holds no observation.
    pub fn is_empty(&self) -> bool {
        self.observations == 0
    }

    /// One observation, in the bucket `AtomicHistogram::observe` would choose.
    #[inline]
    pub fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len() + 1].into_boxed_slice();
        }
        let i = bucket_index(bounds, v);
        self.counts[i] += 1;
        self.sum += v;
        self.observations += 1;
    }
}

/// A histogram family with one label, `source`, kept in atomics and gathered through the
/// registry: `skew_jwt_verification_delay_seconds`. A series appears when it is first asked
/// for. Cloning shares the series.
#[derive(Clone)]
pub struct SourceHistograms(Arc<SourceInner>);

struct SourceInner {
    desc: Desc,
    buckets: Buckets,
    series: RwLock<BTreeMap<Arc<str>, Arc<AtomicHistogram>>>,
}

impl SourceHistograms {
    /// Errors as the crate's `HistogramOpts` would on bad bounds or a bad name.
    pub fn new(name: &str, help: &str, bounds: &[f64]) -> prometheus::Result<Self> {
        let desc = Desc::new(
            name.to_owned(),
            help.to_owned(),
            vec!["source".to_owned()],
            HashMap::new(),
        )?;
        Ok(SourceHistograms(Arc::new(SourceInner {
            desc,
            buckets: Buckets::new(bounds)?,
            series: RwLock::new(BTreeMap::new()),
        })))
    }

    /// The bounds (without `+Inf`), for [`LocalHistogram::observe`].
    pub fn bounds(&self) -> &[f64] {
        &self.0.buckets.bounds
    }

    /// The series of `source`, created on first request.
    pub fn series(&self, source: &Arc<str>) -> Arc<AtomicHistogram> {
        // A poisoned map is still consistent: its only writer is the insert below.
        if let Some(h) = self
            .0
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(source)
        {
            return h.clone();
        }
        let n = self.0.buckets.bounds.len();
        self.0
            .series
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(source.clone())
            .or_insert_with(|| Arc::new(AtomicHistogram::new(n)))
            .clone()
    }
}

impl Collector for SourceHistograms {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let series = self.0.series.read().unwrap_or_else(|e| e.into_inner());
        let metrics = series
            .iter()
            .map(|(source, h)| {
                let mut m = proto::Metric::from_label(vec![label_pair("source", source)]);
                m.set_histogram(histogram_proto(h, &self.0.buckets));
                m
            })
            .collect();
        let mut mf = MetricFamily::default();
        mf.set_name(self.0.desc.fq_name.clone());
        mf.set_help(self.0.desc.help.clone());
        mf.set_field_type(MetricType::HISTOGRAM);
        mf.set_metric(metrics);
        vec![mf]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A local histogram merged into an atomic one gives what observing each value there
    /// gives: the same buckets and, for these exactly representable values, the same sum
    /// (in general the sum can differ in its last bits: it is added in another order).
    #[test]
    fn merging_a_local_histogram_equals_observing_each_value() {
        let bounds = [0.25, 1.0, 5.0];
        let values = [0.0625, 0.25, 0.5, 3.0, 7.0, -1.0, 0.125, 1024.0];
        let direct = AtomicHistogram::new(bounds.len());
        let merged = AtomicHistogram::new(bounds.len());
        let mut local = LocalHistogram::new();
        for (i, v) in values.iter().enumerate() {
            direct.observe(&bounds, *v);
            local.observe(&bounds, *v);
            if i == 3 {
                merged.merge(&mut local);
            }
        }
        merged.merge(&mut local);
        merged.merge(&mut local); // empty: a no-op
        let counts = |h: &AtomicHistogram| -> Vec<u64> {
            h.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect()
        };
        assert_eq!(counts(&merged), counts(&direct));
        assert_eq!(counts(&direct), [4, 1, 1, 2]);
        assert_eq!(merged.sum(), 1033.9375);
        assert_eq!(merged.sum(), direct.sum());
    }

    /// The binary search picks the counter the crate's linear rule picks, at and between the
    /// bounds, beyond both ends, for infinities, -0.0 and NaN.
    #[test]
    fn bucket_index_is_the_first_bound_not_below_the_value() {
        let bounds = [-300.0, -1.0, 0.0, 0.5, 1.0, 5.0, 60.0, 3600.0];
        let linear = |v: f64| bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
        let mut values = vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e-300,
            7e9,
        ];
        for b in bounds {
            values.extend([b, b - 1e-9, b + 1e-9, f64::from_bits(b.to_bits() + 1)]);
        }
        for v in values {
            assert_eq!(bucket_index(&bounds, v), linear(v), "{v}");
        }
        assert_eq!(bucket_index(&[], 1.0), 0);
    }

    /// The delay family through the crate's own encoder: `source` label, cumulative buckets,
    /// nothing before the first series.
    #[test]
    fn source_histograms_gather_through_a_registry() {
        let h = SourceHistograms::new("d_seconds", "help", &[0.5, 1.0]).unwrap();
        let r = prometheus::Registry::new();
        r.register(Box::new(h.clone())).unwrap();
        assert!(r.gather().is_empty(), "no series yet");
        let mut local = LocalHistogram::new();
        for v in [0.25, 0.75, 2.0] {
            local.observe(h.bounds(), v);
        }
        h.series(&Arc::from("api")).merge(&mut local);
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&r.gather())
            .unwrap();
        assert_eq!(
            text,
            "# HELP d_seconds help\n# TYPE d_seconds histogram\n\
             d_seconds_bucket{source=\"api\",le=\"0.5\"} 1\n\
             d_seconds_bucket{source=\"api\",le=\"1\"} 2\n\
             d_seconds_bucket{source=\"api\",le=\"+Inf\"} 3\n\
             d_seconds_sum{source=\"api\"} 3\n\
             d_seconds_count{source=\"api\"} 3\n"
        );
    }
}
