//! Recent counts for the live page (`/`): rejections by issuer and reason over the last five
//! minutes, and what each NTP server's last round came to. Counters only hold totals, so this
//! keeps a short ring of their snapshots: one per [`SLOT`], taken by a task in `app` (and by
//! the page itself when one is due), at most `WINDOW / SLOT + 2` of them. Each snapshot holds
//! one number per (issuer, reason) and per (server, result): both label sets are bounded (the
//! issuer guard, the configured servers, the closed sets), so the ring is too.
//!
//! A `std::sync::Mutex` is enough: it is taken once per snapshot and once per page, never
//! across an `.await`, and never on the recording path.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use prometheus::proto::MetricFamily;

/// Time between snapshots (seconds).
pub const SLOT: f64 = 30.0;
/// The window the page reports (seconds).
pub const WINDOW: f64 = 300.0;

type Counts = BTreeMap<(String, String), u64>;

#[derive(Debug, Clone)]
struct Snapshot {
    at: f64,
    rejections: Counts,
    ntp: Counts,
}

#[derive(Debug, Default)]
struct Inner {
    snaps: VecDeque<Snapshot>,
    /// Per server: the query results counted between the last two snapshots that differed.
    last_round: BTreeMap<String, Vec<(String, u64)>>,
}

/// The ring of snapshots.
#[derive(Debug, Default)]
pub struct Recent {
    inner: Mutex<Inner>,
}

/// What the page shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecentView {
    /// Seconds the counts cover (less than [`WINDOW`] shortly after start).
    pub span: f64,
    /// Issuer → reason → rejections within `span`.
    pub rejections: BTreeMap<String, BTreeMap<String, u64>>,
    /// Server → results of its last round (result, queries).
    pub last_round: BTreeMap<String, Vec<(String, u64)>>,
}

fn label<'a>(m: &'a prometheus::proto::Metric, name: &str) -> &'a str {
    m.get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value())
        .unwrap_or("")
}

fn counts(families: &[MetricFamily], name: &str, a: &str, b: &str) -> Counts {
    let mut out = Counts::new();
    if let Some(f) = families.iter().find(|f| f.name() == name) {
        // Series come sorted by their labels, so equal keys are mostly neighbours: sum a run
        // before allocating its key (1024 pairs × 13 reasons fold into 33 × 13 keys).
        let mut run: Option<((&str, &str), u64)> = None;
        for m in f.get_metric() {
            let key = (label(m, a), label(m, b));
            let n = m.get_counter().value() as u64;
            match &mut run {
                Some((k, total)) if *k == key => *total += n,
                _ => {
                    if let Some(((x, y), total)) = run.replace((key, n)) {
                        *out.entry((x.to_owned(), y.to_owned())).or_default() += total;
                    }
                }
            }
        }
        if let Some(((x, y), total)) = run {
            *out.entry((x.to_owned(), y.to_owned())).or_default() += total;
        }
    }
    out
}

fn snapshot(at: f64, families: &[MetricFamily]) -> Snapshot {
    Snapshot {
        at,
        rejections: counts(families, "skew_jwt_rejections_total", "issuer", "reason"),
        ntp: counts(families, "skew_ntp_queries_total", "server", "result"),
    }
}

/// Per first key: what grew from `old` to `new`.
fn growth(old: &Counts, new: &Counts) -> BTreeMap<String, Vec<(String, u64)>> {
    let mut out: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for ((a, b), &n) in new {
        let d = n.saturating_sub(old.get(&(a.clone(), b.clone())).copied().unwrap_or(0));
        if d > 0 {
            out.entry(a.clone()).or_default().push((b.clone(), d));
        }
    }
    out
}

impl Inner {
    fn push(&mut self, s: Snapshot) {
        if let Some(prev) = self.snaps.back() {
            self.last_round.extend(growth(&prev.ntp, &s.ntp));
        }
        self.snaps.push_back(s);
        let now = self.snaps.back().map_or(0.0, |s| s.at);
        // Keep one snapshot at or before the window's start, as the baseline.
        while self.snaps.len() > 1 && self.snaps[1].at <= now - WINDOW {
            self.snaps.pop_front();
        }
    }
}

impl Recent {
    /// A ring whose first snapshot is "every counter at 0" at `now`: what the counters of a
    /// fresh registry are, so the first window starts with them.
    pub fn new(now: f64) -> Self {
        let recent = Recent::default();
        recent.tick(now, &[]);
        recent
    }

    /// Takes a snapshot when the last one is at least a [`SLOT`] old (or the clock went back).
    pub fn tick(&self, now: f64, families: &[MetricFamily]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let due = inner
            .snaps
            .back()
            .is_none_or(|s| now - s.at >= SLOT || now < s.at);
        if due {
            inner.push(snapshot(now, families));
        }
    }

    /// The counts of the window ending at `now`, from `families` (the current totals).
    pub fn view(&self, now: f64, families: &[MetricFamily]) -> RecentView {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let current = snapshot(now, families);
        // The newest snapshot at or before the window's start, else the oldest one.
        let base = inner
            .snaps
            .iter()
            .rev()
            .find(|s| s.at <= now - WINDOW)
            .or(inner.snaps.front());
        let (span, rejections) = match base {
            Some(b) => (
                (now - b.at).max(0.0),
                growth(&b.rejections, &current.rejections),
            ),
            None => (0.0, BTreeMap::new()),
        };
        let mut last_round = inner.last_round.clone();
        if let Some(newest) = inner.snaps.back() {
            last_round.extend(growth(&newest.ntp, &current.ntp));
        }
        RecentView {
            span,
            rejections: rejections
                .into_iter()
                .map(|(i, r)| (i, r.into_iter().collect()))
                .collect(),
            last_round,
        }
    }

    /// Snapshots held (for the bound's test).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .snaps
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn rejections_are_counted_over_the_last_five_minutes() {
        let m = Metrics::new().unwrap();
        let pair = m.jwt.pair("api".into(), "idp".into());
        let recent = Recent::default();
        let t0 = 1_790_000_000.0;
        recent.tick(t0, &m.gather());
        // 10 rejections in the first minute, then 3 at minute 7.
        for _ in 0..10 {
            pair.reject(crate::event::Reason::Expired);
        }
        for k in 1..=14 {
            recent.tick(t0 + SLOT * f64::from(k), &m.gather());
        }
        for _ in 0..3 {
            pair.reject(crate::event::Reason::Expired);
        }
        let now = t0 + 7.0 * 60.0 + 5.0;
        let v = recent.view(now, &m.gather());
        assert_eq!(v.rejections["idp"]["expired"], 3, "{v:?}");
        assert!(v.span >= WINDOW && v.span < WINDOW + SLOT, "{}", v.span);
        // Early on, the window is what there is.
        let early = Recent::default();
        early.tick(t0, &m.gather());
        let v = early.view(t0 + 60.0, &m.gather());
        assert_eq!(v.span, 60.0);
        assert!(v.rejections.is_empty());
    }

    #[test]
    fn the_ring_stays_bounded() {
        let m = Metrics::new().unwrap();
        let recent = Recent::default();
        for k in 0..1000 {
            recent.tick(f64::from(k) * SLOT, &m.gather());
        }
        assert!(
            recent.len() <= (WINDOW / SLOT) as usize + 2,
            "{}",
            recent.len()
        );
        // Ticks within a slot take nothing.
        let n = recent.len();
        recent.tick(999.0 * SLOT + 1.0, &m.gather());
        assert_eq!(recent.len(), n);
    }

    #[test]
    fn the_last_round_is_what_grew_last() {
        let m = Metrics::new().unwrap();
        let recent = Recent::default();
        let q = |r: &str| m.ntp.queries.with_label_values(&["a:123", r]);
        recent.tick(0.0, &m.gather());
        q("ok").inc_by(4);
        recent.tick(SLOT, &m.gather());
        recent.tick(2.0 * SLOT, &m.gather());
        assert_eq!(
            recent.view(2.0 * SLOT + 1.0, &m.gather()).last_round["a:123"],
            [("ok".to_owned(), 4)]
        );
        q("timeout").inc_by(4);
        assert_eq!(
            recent.view(2.0 * SLOT + 2.0, &m.gather()).last_round["a:123"],
            [("timeout".to_owned(), 4)]
        );
    }
}
