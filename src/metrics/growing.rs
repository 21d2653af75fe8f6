//! A gauge whose value grows linearly with the time since it was set, computed when it is
//! scraped: the NTP offset bounds (`skew_ntp_offset_bound_seconds`,
//! `skew_ntp_system_offset_bound_seconds`), which widen with a sample's age at the assumed
//! maximum drift rate.
//!
//! Why at scrape time and not on a tick: a bound read between two rounds must be the bound of
//! the offset as it stands *now*, and a 1 s tick would still under-state it by up to a second's
//! growth and cost a task and a wake-up per second for nothing when nobody scrapes. Computing
//! `value + rate × (now − set_at)` in [`Collector::collect`] is a few multiplications per series
//! and does no I/O, so a scrape stays as fast as before.
//!
//! Time is `tokio::time::Instant` (monotonic; under a paused test clock it follows that clock).
//! Concurrency: one std mutex around the stamps, held only for in-memory work; a scrape holds
//! it across computing and collecting, so two concurrent scrapes never interleave.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, Opts};
use tokio::time::Instant;

/// A value, how fast it grows (per second) and since when.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stamp {
    value: f64,
    rate: f64,
    at: Instant,
}

impl Stamp {
    fn at(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.at).as_secs_f64();
        let v = self.value + self.rate * age;
        // A bound is never negative or NaN: anything not a number is "no bound at all".
        if v.is_nan() {
            f64::INFINITY
        } else {
            v.max(0.0)
        }
    }
}

/// A gauge family whose series grow linearly from the value they were last set to. Clones share
/// the series (register one clone, write through another).
#[derive(Clone)]
pub struct GrowingGaugeVec {
    /// Only the carrier of the family's descriptor and encoding: reset and refilled from the
    /// stamps at every collect, never registered by itself.
    vec: GaugeVec,
    stamps: Arc<Mutex<BTreeMap<Vec<String>, Stamp>>>,
}

impl GrowingGaugeVec {
    pub fn new(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<Self> {
        Ok(GrowingGaugeVec {
            vec: GaugeVec::new(Opts::new(name, help), labels)?,
            stamps: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    /// Sets the series `labels` to `value` at `at`, growing by `rate` per second from then on.
    pub fn set(&self, labels: &[&str], value: f64, rate: f64, at: Instant) {
        if let Ok(mut s) = self.stamps.lock() {
            let key = labels.iter().map(|l| (*l).to_owned()).collect();
            s.insert(key, Stamp { value, rate, at });
        }
    }

    /// Removes the series `labels`: absent from the next scrape on.
    pub fn remove(&self, labels: &[&str]) {
        if let Ok(mut s) = self.stamps.lock() {
            let key: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
            s.remove(&key);
        }
    }

    /// The value of the series `labels` at `now`, if it exists.
    pub fn get_at(&self, labels: &[&str], now: Instant) -> Option<f64> {
        let s = self.stamps.lock().ok()?;
        let key: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        s.get(&key).map(|stamp| stamp.at(now))
    }

    /// The value of the series `labels` now, if it exists.
    pub fn get(&self, labels: &[&str]) -> Option<f64> {
        self.get_at(labels, Instant::now())
    }
}

impl Collector for GrowingGaugeVec {
    fn desc(&self) -> Vec<&Desc> {
        self.vec.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(stamps) = self.stamps.lock() else {
            return Vec::new();
        };
        let now = Instant::now();
        self.vec.reset();
        for (labels, stamp) in stamps.iter() {
            let l: Vec<&str> = labels.iter().map(String::as_str).collect();
            self.vec.with_label_values(&l).set(stamp.at(now));
        }
        self.vec.collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prometheus::{Registry, TextEncoder};

    use super::*;

    fn render(r: &Registry) -> String {
        let mut out = String::new();
        TextEncoder::new()
            .encode_utf8(&r.gather(), &mut out)
            .unwrap();
        out
    }

    #[tokio::test(start_paused = true)]
    async fn grows_with_time_since_set_and_is_removable() {
        let r = Registry::new();
        let g = GrowingGaugeVec::new("g_seconds", "help", &["server"]).unwrap();
        r.register(Box::new(g.clone())).unwrap();
        assert!(!render(&r).contains("g_seconds{"));
        g.set(&["a"], 0.001, 15e-6, Instant::now());
        assert!(
            render(&r).contains("g_seconds{server=\"a\"} 0.001\n"),
            "{}",
            render(&r)
        );
        tokio::time::advance(Duration::from_secs(100)).await;
        // 1 ms + 15 ppm × 100 s = 2.5 ms.
        let v = g.get(&["a"]).unwrap();
        assert!((v - 0.0025).abs() < 1e-12, "{v}");
        assert!(
            render(&r).contains("g_seconds{server=\"a\"} 0.0025"),
            "{}",
            render(&r)
        );
        g.remove(&["a"]);
        assert!(!render(&r).contains("g_seconds{"));
        assert_eq!(g.get(&["a"]), None);
    }

    #[test]
    fn never_negative_or_nan() {
        let g = GrowingGaugeVec::new("g", "help", &[]).unwrap();
        let now = Instant::now();
        g.set(&[], f64::NAN, 0.0, now);
        assert_eq!(g.get_at(&[], now), Some(f64::INFINITY));
        g.set(&[], -1.0, 0.0, now);
        assert_eq!(g.get_at(&[], now), Some(0.0));
        g.set(&[], f64::INFINITY, 15e-6, now);
        assert_eq!(
            g.get_at(&[], now + Duration::from_secs(5)),
            Some(f64::INFINITY)
        );
    }
}
