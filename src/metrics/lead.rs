//! The issuer-lead window: the state behind `skew_jwt_issuer_lead_seconds`. Each pair's
//! series ([`super::PairSeries`]) holds one, so the pair's series and its window are found by
//! one lookup in one map. Pure: it never reads a clock, only the events' own `ts`.

use std::time::Duration;

/// Width of one slot of the issuer-lead window.
pub const LEAD_SLOT: Duration = Duration::from_secs(10);

/// The lowest token age per slot of event time, over a sliding window that ends at the newest
/// `ts` seen, and how many tokens each slot holds. Fixed size: a ring of `slots` minima and
/// counts, no allocation per event.
#[derive(Debug, Clone)]
pub struct LeadWindow {
    minima: Box<[f64]>,
    counts: Box<[u64]>,
    slot_secs: f64,
    /// Slot number (ts / slot_secs) of the newest event, `None` before the first.
    newest: Option<i64>,
    /// Where the newest slot is in the ring (`newest` mod the slots): most events fall in it,
    /// and then no division is needed.
    newest_index: usize,
    /// The minimum over the whole window.
    min: f64,
    /// Tokens in the whole window (`skew_jwt_issuer_lead_samples`).
    samples: u64,
}

impl LeadWindow {
    pub fn new(slots: usize, slot_secs: f64) -> Self {
        LeadWindow {
            minima: vec![f64::INFINITY; slots.max(1)].into_boxed_slice(),
            counts: vec![0; slots.max(1)].into_boxed_slice(),
            slot_secs,
            newest: None,
            newest_index: 0,
            min: f64::INFINITY,
            samples: 0,
        }
    }

    /// Tokens in the window after the last [`LeadWindow::observe`] that fell in it.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Adds one token age seen at `ts`. Returns the lead (−lowest age in the window) when the
    /// event falls in the window, `None` when it is older than the window; [`LeadWindow::samples`]
    /// then says how many tokens are behind it.
    pub fn observe(&mut self, ts: f64, age: f64) -> Option<f64> {
        let slot = (ts / self.slot_secs).floor() as i64;
        if self.newest == Some(slot) {
            let i = self.newest_index;
            if age < self.minima[i] {
                self.minima[i] = age;
            }
            self.counts[i] += 1;
            self.min = self.min.min(age);
            self.samples += 1;
            return Some(-self.min);
        }
        let n = self.minima.len() as i64;
        let mut recompute = false;
        match self.newest {
            None => {
                self.newest = Some(slot);
                self.newest_index = slot.rem_euclid(n) as usize;
            }
            Some(newest) if slot > newest => {
                if slot - newest >= n {
                    self.minima.fill(f64::INFINITY);
                    self.counts.fill(0);
                } else {
                    for s in newest + 1..=slot {
                        self.minima[s.rem_euclid(n) as usize] = f64::INFINITY;
                        self.counts[s.rem_euclid(n) as usize] = 0;
                    }
                }
                self.newest = Some(slot);
                self.newest_index = slot.rem_euclid(n) as usize;
                recompute = true;
            }
            Some(newest) if slot <= newest - n => return None,
            Some(_) => {}
        }
        let i = slot.rem_euclid(n) as usize;
        if age < self.minima[i] {
            self.minima[i] = age;
        }
        self.counts[i] += 1;
        if recompute {
            self.min = self.minima.iter().copied().fold(f64::INFINITY, f64::min);
            self.samples = self.counts.iter().sum();
        } else {
            self.min = self.min.min(age);
            self.samples += 1;
        }
        Some(-self.min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_window_slides_with_event_time() {
        let mut w = LeadWindow::new(30, 10.0);
        assert_eq!(w.observe(1000.0, -3.2), Some(3.2));
        assert_eq!(w.observe(1001.0, 0.5), Some(3.2));
        assert_eq!(w.observe(1290.0, 0.5), Some(3.2), "still inside 5 minutes");
        assert_eq!(
            w.observe(1300.0, 0.7),
            Some(-0.5),
            "slot of ts=1000 dropped"
        );
        assert_eq!(w.observe(900.0, -50.0), None, "older than the window");
        assert_eq!(
            w.observe(5000.0, 1.0),
            Some(-1.0),
            "a jump clears everything"
        );
    }

    #[test]
    fn lead_window_counts_the_tokens_behind_the_lead() {
        let mut w = LeadWindow::new(30, 10.0);
        assert_eq!(w.samples(), 0);
        w.observe(1000.0, 1.0);
        w.observe(1005.0, 2.0);
        w.observe(1010.0, 0.5);
        assert_eq!(w.samples(), 3);
        assert_eq!(w.observe(600.0, -50.0), None, "older than the window");
        assert_eq!(w.samples(), 3, "not counted");
        // ts 1300: the slot of 1000/1005 leaves the window, 1010's stays.
        assert_eq!(w.observe(1300.0, 0.7), Some(-0.5));
        assert_eq!(w.samples(), 2);
        w.observe(9000.0, 1.0);
        assert_eq!(w.samples(), 1, "a jump clears everything");
    }

    /// Against a model that keeps every (slot, age) and recomputes from scratch: the newest
    /// slot's shortcut, slides, jumps and late events give the same lead and sample count.
    #[test]
    fn lead_window_matches_a_recomputing_model() {
        let (slots, width) = (30usize, 10.0);
        let mut w = LeadWindow::new(slots, width);
        let mut kept: Vec<(i64, f64)> = Vec::new();
        let mut newest: Option<i64> = None;
        let mut x = 12345u64;
        let mut ts = 1000.0;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (x >> 33) as f64 / (1u64 << 31) as f64;
            // Mostly small steps forward, sometimes back or a long jump.
            ts += match (x >> 20) % 20 {
                0 => -40.0 * r,
                1 => 400.0 * r,
                _ => 2.0 * r,
            };
            let age = 10.0 * r - 3.0;
            let slot = (ts / width).floor() as i64;
            let got = w.observe(ts, age);
            let newest_now = newest.map_or(slot, |n| n.max(slot));
            if slot <= newest_now - slots as i64 {
                assert_eq!(got, None);
                continue;
            }
            newest = Some(newest_now);
            kept.push((slot, age));
            kept.retain(|&(s, _)| s > newest_now - slots as i64);
            let min = kept.iter().map(|&(_, a)| a).fold(f64::INFINITY, f64::min);
            assert_eq!(got, Some(-min));
            assert_eq!(w.samples(), kept.len() as u64);
        }
    }

    #[test]
    fn lead_window_handles_out_of_order_events_inside_the_window() {
        let mut w = LeadWindow::new(30, 10.0);
        w.observe(1100.0, 1.0);
        assert_eq!(w.observe(1050.0, -2.0), Some(2.0));
        assert_eq!(w.observe(1110.0, 0.0), Some(2.0));
    }
}
