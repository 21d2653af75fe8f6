//! What the HTML report draws over event time, aggregated while `analyze` reads: rejections by
//! reason and each issuer's lead, per time bin. The metrics hold no time axis (a counter is a
//! total), so this is the one extra pass over the events, fed by `Ingest`'s observer.
//!
//! Bounded whatever the input: at most [`MAX_BINS`] bins (when the events span more, bins
//! double in width and merge), and issuers go through the same kind of [`LabelGuard`] as the
//! metrics (beyond the limit, `other`). So memory and the charts drawn from it are
//! `MAX_BINS × (13 reasons + issuers)` numbers, for ten events or ten million.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::event::{Event, Reason};
use crate::labels::{Bounded, LabelGuard, OTHER};

/// Most time bins kept.
pub const MAX_BINS: usize = 240;

/// The latest event time drawn (Unix seconds, year 5138).
const MAX_TS: f64 = 1e11;

/// One time bin.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bin {
    /// Rejections by reason, indexed like [`Reason::ALL`].
    pub rejections: [u64; Reason::ALL.len()],
    /// Per issuer (indexed like [`Timeline::issuers`]): the lowest age of a trusted token in
    /// the bin (its lead is the negation), `None` when there was none.
    pub min_age: Vec<Option<f64>>,
}

impl Bin {
    fn absorb(&mut self, o: Bin) {
        for (a, b) in self.rejections.iter_mut().zip(o.rejections) {
            *a += b;
        }
        if self.min_age.len() < o.min_age.len() {
            self.min_age.resize(o.min_age.len(), None);
        }
        for (a, b) in self.min_age.iter_mut().zip(o.min_age) {
            *a = min_opt(*a, b);
        }
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Events folded into time bins.
#[derive(Debug)]
pub struct Timeline {
    guard: LabelGuard,
    /// Issuer names, in order of first sight (`other` included when it occurred).
    pub issuers: Vec<Arc<str>>,
    /// Bin width in seconds: 1 s doubled as often as the span needs.
    pub width: f64,
    /// Bin index (event time / width, floored) → bin.
    pub bins: BTreeMap<i64, Bin>,
}

impl Timeline {
    /// Issuers bounded like the metrics' `issuer` label (allow-list or the first `limit`).
    pub fn new(issuer_allow: Option<Vec<String>>, limit: usize) -> Self {
        Timeline {
            guard: LabelGuard::new(issuer_allow, limit),
            issuers: Vec::new(),
            width: 1.0,
            bins: BTreeMap::new(),
        }
    }

    fn issuer_index(&mut self, issuer: Option<&str>) -> usize {
        let name = match self.guard.bound(issuer) {
            Bounded::Kept(s) => s,
            Bounded::Overflow => Arc::from(OTHER),
        };
        match self.issuers.iter().position(|i| *i == name) {
            Some(i) => i,
            None => {
                self.issuers.push(name);
                self.issuers.len() - 1
            }
        }
    }

    /// Adds one recorded event. The lead takes the same tokens as the metrics' lead:
    /// accepted ones and time-related rejections.
    pub fn observe(&mut self, e: &Event<'_>) {
        // Event times far outside any real incident (before 1970, after year 5000) stay in the
        // metrics but out of the time axis, which they would stretch to nothing.
        if !(0.0..=MAX_TS).contains(&e.ts) {
            return;
        }
        let issuer = self.issuer_index(e.issuer.as_deref());
        let key = (e.ts / self.width).floor() as i64;
        let bin = self.bins.entry(key).or_default();
        if let Some(r) = e.reason {
            if let Some(i) = Reason::ALL.iter().position(|&x| x == r) {
                bin.rejections[i] += 1;
            }
        }
        let trusted = e.reason.is_none_or(Reason::is_time_related);
        if let (true, Some(age)) = (trusted, e.age()) {
            if bin.min_age.len() <= issuer {
                bin.min_age.resize(issuer + 1, None);
            }
            bin.min_age[issuer] = min_opt(bin.min_age[issuer], Some(age));
        }
        while self.span_bins() > MAX_BINS as i64 {
            self.coarsen();
        }
    }

    /// Bins from the first to the last, empty ones included.
    fn span_bins(&self) -> i64 {
        match (self.bins.first_key_value(), self.bins.last_key_value()) {
            (Some((a, _)), Some((b, _))) => b - a + 1,
            _ => 0,
        }
    }

    /// Doubles the bin width, merging neighbours.
    fn coarsen(&mut self) {
        self.width *= 2.0;
        let old = std::mem::take(&mut self.bins);
        for (k, b) in old {
            self.bins.entry(k.div_euclid(2)).or_default().absorb(b);
        }
    }

    /// Every bin from the first to the last as (start time, bin), gaps filled with empty bins.
    pub fn dense(&self) -> Vec<(f64, Bin)> {
        let (Some((&a, _)), Some((&b, _))) =
            (self.bins.first_key_value(), self.bins.last_key_value())
        else {
            return Vec::new();
        };
        (a..=b)
            .map(|k| {
                let bin = self.bins.get(&k).cloned().unwrap_or_default();
                (k as f64 * self.width, bin)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::event::Outcome;

    fn event(ts: f64, issuer: &str, age: f64, reason: Option<Reason>) -> Event<'static> {
        Event {
            ts,
            source: None,
            issuer: Some(Cow::Owned(issuer.to_owned())),
            iat: Some(ts - age),
            nbf: None,
            exp: None,
            outcome: if reason.is_some() {
                Outcome::Rejected
            } else {
                Outcome::Accepted
            },
            reason,
            token_unreadable: false,
            received: None,
            leeway: None,
            kid: None,
        }
    }

    #[test]
    fn bins_hold_rejections_and_the_lowest_trusted_age() {
        let mut t = Timeline::new(None, 32);
        t.observe(&event(100.2, "a", 5.0, None));
        t.observe(&event(100.7, "a", -2.0, Some(Reason::IssuedInFuture)));
        // A forged token's iat never moves the lead.
        t.observe(&event(100.9, "a", -50.0, Some(Reason::InvalidSignature)));
        t.observe(&event(102.0, "b", 1.0, Some(Reason::Expired)));
        let dense = t.dense();
        assert_eq!(dense.len(), 3);
        assert_eq!(dense[0].0, 100.0);
        assert_eq!(dense[0].1.min_age, vec![Some(-2.0)]);
        assert_eq!(dense[0].1.rejections[Reason::ALL.len() - 1], 0);
        assert_eq!(dense[0].1.rejections.iter().sum::<u64>(), 2);
        assert_eq!(dense[1].1, Bin::default());
        assert_eq!(dense[2].1.rejections[0], 1);
        assert_eq!(dense[2].1.min_age, vec![None, Some(1.0)]);
        assert_eq!(&*t.issuers[1], "b");
    }

    #[test]
    fn the_bins_stay_bounded_and_keep_every_count() {
        let mut t = Timeline::new(None, 32);
        let n: u32 = 100_000;
        for i in 0..n {
            t.observe(&event(
                1.79e9 + f64::from(i) * 7.3,
                "a",
                1.0,
                Some(Reason::Expired),
            ));
        }
        assert!(t.dense().len() <= MAX_BINS, "{}", t.dense().len());
        let total: u64 = t.bins.values().map(|b| b.rejections[0]).sum();
        assert_eq!(total, u64::from(n));
        assert!(t.width >= 7.3 * f64::from(n) / MAX_BINS as f64);
    }

    #[test]
    fn issuers_beyond_the_limit_are_other() {
        let mut t = Timeline::new(None, 2);
        for name in ["a", "b", "c", "d"] {
            t.observe(&event(1.0, name, 0.0, None));
        }
        let names: Vec<&str> = t.issuers.iter().map(|s| &**s).collect();
        assert_eq!(names, ["a", "b", OTHER]);
    }
}
