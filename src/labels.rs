//! The cardinality guard for label values that come from input (`source`, `issuer`).
//!
//! Either an allow-list from the configuration, or the first N distinct values seen (default
//! 32). Everything else, and any value longer than [`MAX_LABEL_LEN`] bytes, becomes `other`,
//! and the caller counts it in `skew_label_overflow_total`. The guard never stores more than N
//! values, so a flood of random issuers cannot grow memory or series.
//!
//! A missing value is recorded as `unknown`, which takes a slot like any other value.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

/// The label value for everything beyond the limit or outside the allow-list.
pub const OTHER: &str = "other";
/// The label value for an event without the field.
pub const UNKNOWN: &str = "unknown";
/// Longer values are folded into `other` rather than stored.
pub const MAX_LABEL_LEN: usize = 256;

/// What the guard made of one input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bounded {
    /// The value is (now) one of the tracked ones.
    Kept(Arc<str>),
    /// Folded into `other`: count it as an overflow.
    Overflow,
}

impl Bounded {
    pub fn as_str(&self) -> &str {
        match self {
            Bounded::Kept(s) => s,
            Bounded::Overflow => OTHER,
        }
    }
}

/// Bounds one label. Cheap to share: lookups take a read lock; only the first sighting of a
/// new value, at most `limit` times over the life of the process, takes the write lock.
#[derive(Debug)]
pub struct LabelGuard {
    allow: Option<HashSet<Arc<str>>>,
    limit: usize,
    seen: RwLock<HashSet<Arc<str>>>,
}

impl LabelGuard {
    /// `allow`: when given, exactly these values are kept (plus `unknown`), whatever `limit`.
    pub fn new(allow: Option<Vec<String>>, limit: usize) -> Self {
        LabelGuard {
            allow: allow.map(|v| v.into_iter().map(Arc::from).collect()),
            limit,
            seen: RwLock::new(HashSet::new()),
        }
    }

    /// Maps an input value (or its absence) onto a bounded label value.
    pub fn bound(&self, value: Option<&str>) -> Bounded {
        let value = match value {
            None => UNKNOWN,
            Some(v) if v.len() > MAX_LABEL_LEN => return Bounded::Overflow,
            Some(v) => v,
        };
        if value == OTHER {
            return Bounded::Kept(Arc::from(OTHER));
        }
        if let Some(allow) = &self.allow {
            return match allow.get(value) {
                Some(v) => Bounded::Kept(v.clone()),
                None if value == UNKNOWN => Bounded::Kept(Arc::from(UNKNOWN)),
                None => Bounded::Overflow,
            };
        }
        if let Ok(seen) = self.seen.read() {
            if let Some(v) = seen.get(value) {
                return Bounded::Kept(v.clone());
            }
            if seen.len() >= self.limit {
                return Bounded::Overflow;
            }
        }
        let Ok(mut seen) = self.seen.write() else {
            return Bounded::Overflow;
        };
        if let Some(v) = seen.get(value) {
            return Bounded::Kept(v.clone());
        }
        if seen.len() >= self.limit {
            return Bounded::Overflow;
        }
        let v: Arc<str> = Arc::from(value);
        seen.insert(v.clone());
        Bounded::Kept(v)
    }

    /// This guard, remembering the values `old` has already given series to (as many as the
    /// limit allows), when it has no allow-list: so that a reload keeps the existing series.
    pub fn seeded_from(self, old: &LabelGuard) -> Self {
        if self.allow.is_some() {
            return self;
        }
        if let (Ok(mut seen), Ok(old_seen)) = (self.seen.write(), old.seen.read()) {
            let keep = old_seen.iter().take(self.limit).cloned();
            seen.extend(keep);
        }
        self
    }

    /// How many distinct values are tracked (allow-list size, or values seen so far).
    pub fn len(&self) -> usize {
        match &self.allow {
            Some(a) => a.len(),
            None => self.seen.read().map(|s| s.len()).unwrap_or(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_n_values_are_kept_the_rest_overflow() {
        let g = LabelGuard::new(None, 2);
        assert_eq!(g.bound(Some("a")).as_str(), "a");
        assert_eq!(g.bound(Some("b")).as_str(), "b");
        assert_eq!(g.bound(Some("c")), Bounded::Overflow);
        assert_eq!(g.bound(Some("a")).as_str(), "a", "known values stay known");
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn missing_value_is_unknown_and_takes_a_slot() {
        let g = LabelGuard::new(None, 1);
        assert_eq!(g.bound(None).as_str(), "unknown");
        assert_eq!(g.bound(Some("x")), Bounded::Overflow);
    }

    #[test]
    fn allow_list_wins_over_first_seen() {
        let g = LabelGuard::new(Some(vec!["idp".into()]), 32);
        assert_eq!(g.bound(Some("idp")).as_str(), "idp");
        assert_eq!(g.bound(Some("evil")), Bounded::Overflow);
        assert_eq!(g.bound(None).as_str(), "unknown");
    }

    #[test]
    fn over_long_values_overflow() {
        let g = LabelGuard::new(None, 32);
        assert_eq!(
            g.bound(Some(&"x".repeat(MAX_LABEL_LEN + 1))),
            Bounded::Overflow
        );
        assert!(g.is_empty());
    }

    #[test]
    fn a_flood_of_distinct_values_stores_only_the_limit() {
        let g = LabelGuard::new(None, 32);
        for i in 0..100_000 {
            g.bound(Some(&format!("issuer-{i}")));
        }
        assert_eq!(g.len(), 32);
    }
}
