//! Which servers agree: the intersection algorithm of NTP's clock select (RFC 5905 §11.2.1,
//! after Marzullo).
//!
//! Each server vouches for an interval `offset ± half_width`. For f = 0, 1, … while f is a
//! minority, look for the lowest point `l` covered by at least n − f intervals and the highest
//! point `u` covered by at least n − f; the first f for which `l ≤ u` gives the agreement
//! interval `[l, u]`. A server agrees when its own interval reaches into `[l, u]`; the others
//! are falsetickers. Only when the agreeing servers are a strict majority of the candidates is a
//! system offset exported (the inverse-half-width weighted mean of the agreeing offsets).
//!
//! Intervals that merely touch at an endpoint overlap. Ties between several equally large
//! groups are settled the way NTP settles them: `[l, u]` then spans all of them, and every
//! server that reaches into it agrees.
//!
//! [`agreement`] wraps the selection for the sampler: from every configured server's latest
//! best sample (and its age) it decides the final value of every agreement gauge at once:
//! stale samples take no part, and a server is a falseticker only when a majority exists and
//! it is outside it.

use std::time::Duration;

use super::sample::{grown, RESOLUTION};

/// One server's claim: its offset and the half-width of the interval it vouches for (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub offset: f64,
    pub half_width: f64,
}

/// The outcome of a selection over `n` candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Per candidate, in input order: true when it agrees with the majority. All false when
    /// there is no majority.
    pub agreeing: Vec<bool>,
    /// How many candidates agree (0 without a majority).
    pub count: usize,
    /// Combined offset of the agreeing candidates; `None` without a strict majority.
    pub system_offset: Option<f64>,
}

/// Runs the intersection over the candidates. Non-finite candidates never agree.
pub fn select(candidates: &[Candidate]) -> Selection {
    let n = candidates.len();
    let none = Selection {
        agreeing: vec![false; n],
        count: 0,
        system_offset: None,
    };
    let valid =
        |c: &Candidate| c.offset.is_finite() && c.half_width.is_finite() && c.half_width >= 0.0;

    // Endpoints: (value, +1 for a low end, -1 for a high end). Sorted ascending with low ends
    // first at equal values, so that touching intervals count as overlapping.
    let mut ends: Vec<(f64, i32)> = Vec::with_capacity(2 * n);
    for c in candidates.iter().filter(|c| valid(c)) {
        ends.push((c.offset - c.half_width, 1));
        ends.push((c.offset + c.half_width, -1));
    }
    ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));

    let mut interval = None;
    let mut f = 0;
    while 2 * f < n {
        let need = (n - f) as i32;
        let low = first_reaching(ends.iter().copied(), need);
        // Descending, high ends (which open an interval on the way down) come first at equal
        // values, which is exactly the reverse of the ascending order.
        let high = first_reaching(ends.iter().rev().map(|&(v, t)| (v, -t)), need);
        if let (Some(l), Some(u)) = (low, high) {
            if l <= u {
                interval = Some((l, u));
                break;
            }
        }
        f += 1;
    }
    let Some((l, u)) = interval else { return none };

    let agreeing: Vec<bool> = candidates
        .iter()
        .map(|c| valid(c) && c.offset - c.half_width <= u && c.offset + c.half_width >= l)
        .collect();
    let count = agreeing.iter().filter(|&&a| a).count();
    if 2 * count <= n {
        return none;
    }
    let (mut sum, mut weights) = (0.0, 0.0);
    for (c, _) in candidates.iter().zip(&agreeing).filter(|(_, &a)| a) {
        let w = 1.0 / c.half_width.max(1e-9);
        sum += w * c.offset;
        weights += w;
    }
    Selection {
        agreeing,
        count,
        system_offset: Some(sum / weights),
    }
}

/// One configured server's latest best sample, as the agreement sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latest {
    /// How long ago the sample was taken.
    pub age: Duration,
    pub candidate: Candidate,
}

/// The agreement gauges' values after a round, for every configured server.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Per configured server, in configuration order: the value of
    /// `skew_ntp_falseticker{server}`. False for a server without a fresh sample, and for every
    /// server when there is no majority.
    pub falseticker: Vec<bool>,
    /// `skew_ntp_system_offset_seconds`; `None`: the series is absent.
    pub system_offset: Option<f64>,
    /// `skew_ntp_servers_agreeing`.
    pub servers_agreeing: usize,
    /// `skew_ntp_system_offset_bound_seconds` at the moment of the decision (it then grows at
    /// the drift rate); `Some` exactly when `system_offset` is.
    pub system_bound: Option<f64>,
}

/// Decides the agreement over the servers' latest samples. A sample older than `stale_after`
/// does not count (as if the server had none); only fresh samples are candidates, so the
/// majority is a majority of the servers heard from recently.
pub fn agreement(latest: &[Option<Latest>], stale_after: Duration) -> Agreement {
    let fresh: Vec<(usize, Candidate)> = latest
        .iter()
        .enumerate()
        .filter_map(|(i, slot)| {
            let l = slot.as_ref()?;
            (l.age <= stale_after).then_some((i, l.candidate))
        })
        .collect();
    let candidates: Vec<Candidate> = fresh.iter().map(|(_, c)| *c).collect();
    let selection = select(&candidates);
    let mut falseticker = vec![false; latest.len()];
    let mut members = Vec::new();
    if selection.system_offset.is_some() {
        for ((i, c), agrees) in fresh.iter().zip(&selection.agreeing) {
            falseticker[*i] = !agrees;
            if *agrees {
                let age = latest[*i].map_or(Duration::ZERO, |l| l.age);
                members.push(Candidate {
                    offset: c.offset,
                    half_width: grown(c.half_width + RESOLUTION, age),
                });
            }
        }
    }
    Agreement {
        falseticker,
        system_offset: selection.system_offset,
        servers_agreeing: selection.count,
        system_bound: selection
            .system_offset
            .map(|offset| system_bound(offset, &members)),
    }
}

/// The bound of the combined `offset` of the agreeing `members`, each with its interval as it
/// stands now (half-width grown with its age). The truth lies in every truechimer's interval, so
/// in their intersection `[L, U]`: the bound is the distance from `offset` to its far end. When
/// the members' intervals share no point (a tie spanned by [`select`]), it is the widest
/// `|offset − o_i| + h_i`, which holds as long as any one member tells the truth. Either way it
/// is never smaller than the tightest member's own half-width: combining servers does not buy a
/// claim tighter than the best single measurement supports. Infinite (the widest honest bound)
/// when there is nothing to go on.
pub fn system_bound(offset: f64, members: &[Candidate]) -> f64 {
    let tightest = members
        .iter()
        .map(|c| c.half_width)
        .fold(f64::INFINITY, f64::min);
    let low = members
        .iter()
        .map(|c| c.offset - c.half_width)
        .fold(f64::NEG_INFINITY, f64::max);
    let high = members
        .iter()
        .map(|c| c.offset + c.half_width)
        .fold(f64::INFINITY, f64::min);
    let spread = if low <= high {
        (offset - low).max(high - offset)
    } else {
        members
            .iter()
            .map(|c| (offset - c.offset).abs() + c.half_width)
            .fold(0.0, f64::max)
    };
    let b = spread.max(tightest);
    if b.is_nan() {
        f64::INFINITY
    } else {
        b.max(0.0)
    }
}

/// Sweeps endpoints in the given order and returns the first value at which the number of open
/// intervals reaches `need`.
fn first_reaching(ends: impl Iterator<Item = (f64, i32)>, need: i32) -> Option<f64> {
    let mut open = 0;
    for (value, delta) in ends {
        open += delta;
        if open >= need {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(offset: f64, half_width: f64) -> Candidate {
        Candidate { offset, half_width }
    }

    #[test]
    fn no_candidates_no_majority() {
        let s = select(&[]);
        assert_eq!((s.count, s.system_offset), (0, None));
    }

    #[test]
    fn one_server_is_its_own_majority() {
        let s = select(&[c(0.25, 0.01)]);
        assert_eq!(s.agreeing, [true]);
        assert_eq!(s.system_offset, Some(0.25));
    }

    #[test]
    fn three_agree_one_falseticker() {
        let s = select(&[
            c(0.0001, 0.001),
            c(-0.0002, 0.001),
            c(3.0, 0.001),
            c(0.0003, 0.001),
        ]);
        assert_eq!(s.agreeing, [true, true, false, true]);
        assert_eq!(s.count, 3);
        let off = s.system_offset.unwrap();
        assert!((off - 0.0000667).abs() < 1e-6, "{off}");
    }

    #[test]
    fn two_disjoint_servers_have_no_majority() {
        let s = select(&[c(0.0, 0.001), c(1.0, 0.001)]);
        assert_eq!(s.agreeing, [false, false]);
        assert_eq!(s.system_offset, None);
    }

    #[test]
    fn two_against_two_has_no_majority() {
        let s = select(&[c(0.0, 0.01), c(0.001, 0.01), c(1.0, 0.01), c(1.001, 0.01)]);
        assert_eq!((s.count, s.system_offset), (0, None));
    }

    #[test]
    fn touching_intervals_overlap() {
        let s = select(&[c(0.0, 1.0), c(2.0, 1.0)]);
        assert_eq!(s.agreeing, [true, true]);
        assert_eq!(s.system_offset, Some(1.0));
    }

    #[test]
    fn tied_groups_are_spanned_not_picked_arbitrarily() {
        // a overlaps b and c, b and c do not overlap: two groups of two, tied. NTP spans both,
        // so all three agree and none is called a falseticker on a coin toss.
        let s = select(&[c(5.0, 5.0), c(0.5, 0.5), c(5.5, 0.5)]);
        assert_eq!(s.agreeing, [true, true, true]);
        assert_eq!(s.count, 3);
    }

    #[test]
    fn wide_truechimer_reaching_into_the_intersection_agrees() {
        // The wide interval's midpoint is outside [l, u], but it vouches for it.
        let s = select(&[c(0.0, 1.0), c(0.5, 0.1), c(0.55, 0.1)]);
        assert_eq!(s.agreeing, [true, true, true]);
    }

    #[test]
    fn weights_favour_the_tighter_interval() {
        let s = select(&[c(0.0, 0.001), c(0.009, 0.01)]);
        let off = s.system_offset.unwrap();
        assert!(off < 0.001, "{off}");
    }

    #[test]
    fn non_finite_candidates_never_agree() {
        let s = select(&[c(f64::NAN, 0.1), c(0.0, 0.1), c(0.01, 0.1)]);
        assert_eq!(s.agreeing, [false, true, true]);
        assert_eq!(s.count, 2);
    }

    #[test]
    fn negative_offsets_behave_like_positive_ones() {
        let s = select(&[c(-2.0, 0.01), c(-2.001, 0.01), c(0.0, 0.01)]);
        assert_eq!(s.agreeing, [true, true, false]);
        let off = s.system_offset.unwrap();
        assert!((off + 2.0005).abs() < 1e-9, "{off}");
    }

    #[test]
    fn system_bound_table() {
        let cases: [(&str, f64, Vec<Candidate>, f64); 6] = [
            ("nothing to go on", 0.0, vec![], f64::INFINITY),
            (
                "one server: its own interval",
                0.25,
                vec![c(0.25, 0.01)],
                0.01,
            ),
            (
                "two identical: no tighter than one",
                0.0,
                vec![c(0.0, 0.001), c(0.0, 0.001)],
                0.001,
            ),
            // [4, 6] is the intersection; 4.545 ms is the weighted mean, 1.455 ms from 6.
            (
                "far end of the intersection",
                0.004545,
                vec![c(0.0, 0.010), c(0.005, 0.001)],
                0.001455,
            ),
            // Intersection [1, 2], offset 1.5: 0.5 from either end, but each server alone
            // only supports 1.
            (
                "never tighter than the tightest member",
                1.5,
                vec![c(0.0, 2.0), c(3.0, 2.0)],
                2.0,
            ),
            // Tied groups spanned by select: a overlaps b and c, b and c are disjoint.
            (
                "no common point: widest member distance",
                3.0,
                vec![c(5.0, 5.0), c(0.5, 0.5), c(5.5, 0.5)],
                7.0,
            ),
        ];
        for (name, offset, members, want) in cases {
            let got = system_bound(offset, &members);
            assert!(
                got == want || (got - want).abs() < 1e-9,
                "{name}: {got} != {want}"
            );
        }
    }

    #[test]
    fn agreement_bounds_the_system_offset_with_grown_intervals() {
        let stale = Duration::from_secs(300);
        let latest = [at(0, 0.0), at(100, 0.0002), at(1, 2.0), None];
        let a = agreement(&latest, stale);
        // Both agreeing intervals are 1 ms (+3 µs); the older one grew by 1.5 ms in 100 s.
        // Intersection [−0.001003 + 0.0002 − 0.0015 ... ]: the far end from the mean decides,
        // and the result is never below the tightest member (1.003 ms).
        let b = a.system_bound.expect("a bound with the offset");
        let off = a.system_offset.expect("offset");
        let members = [c(0.0, 0.001003), c(0.0002, 0.001003 + 0.0015)];
        assert!((b - system_bound(off, &members)).abs() < 1e-12, "{b}");
        assert!((0.001003..=0.001003 + 0.0002).contains(&b), "{b}");
        // No majority: no offset, no bound.
        let a = agreement(&[at(1, 0.0), at(1, 1.0)], stale);
        assert_eq!((a.system_offset, a.system_bound), (None, None));
    }

    fn at(age_secs: u64, offset: f64) -> Option<Latest> {
        Some(Latest {
            age: Duration::from_secs(age_secs),
            candidate: c(offset, 0.001),
        })
    }

    #[test]
    fn agreement_table() {
        // 4 intervals of 64 s, plus a burst's spacing and timeouts: the sampler's bound.
        let stale = Duration::from_secs(4 * 64 + 30);
        struct Case {
            name: &'static str,
            latest: Vec<Option<Latest>>,
            falseticker: Vec<bool>,
            agreeing: usize,
            offset: Option<f64>,
        }
        let cases = [
            Case {
                name: "no server heard yet",
                latest: vec![None, None, None],
                falseticker: vec![false, false, false],
                agreeing: 0,
                offset: None,
            },
            Case {
                name: "three agree, one falseticker",
                latest: vec![at(1, 0.0), at(2, 0.0002), at(3, 2.0), at(60, 0.0004)],
                falseticker: vec![false, false, true, false],
                agreeing: 3,
                offset: Some(0.0002),
            },
            Case {
                name: "a sample exactly at the bound still counts",
                latest: vec![at(286, 0.0), at(1, 0.0002), at(1, 2.0)],
                falseticker: vec![false, false, true],
                agreeing: 2,
                offset: Some(0.0001),
            },
            Case {
                name: "a sample older than 4 intervals does not count",
                latest: vec![at(287, 0.0), at(1, 0.0002), at(1, 2.0)],
                falseticker: vec![false, false, false],
                agreeing: 0,
                offset: None,
            },
            Case {
                name: "a stale falseticker is no longer called one",
                latest: vec![at(1, 0.0), at(1, 0.0002), at(10_000, 2.0)],
                falseticker: vec![false, false, false],
                agreeing: 2,
                offset: Some(0.0001),
            },
            Case {
                name:
                    "the majority is over fresh servers: two fresh agree, the rest unheard or stale",
                latest: vec![None, at(5, 0.0), at(400, 7.0), at(5, 0.0002), None],
                falseticker: vec![false; 5],
                agreeing: 2,
                offset: Some(0.0001),
            },
            Case {
                name: "two fresh that disagree: no majority, nobody a falseticker",
                latest: vec![at(1, 0.0), at(1, 1.0), at(1000, 0.0)],
                falseticker: vec![false, false, false],
                agreeing: 0,
                offset: None,
            },
            Case {
                name: "a single fresh server is its own majority",
                latest: vec![at(1000, 3.0), at(10, 0.25)],
                falseticker: vec![false, false],
                agreeing: 1,
                offset: Some(0.25),
            },
        ];
        for case in cases {
            let a = agreement(&case.latest, stale);
            assert_eq!(a.falseticker, case.falseticker, "{}", case.name);
            assert_eq!(a.servers_agreeing, case.agreeing, "{}", case.name);
            match (a.system_offset, case.offset) {
                (Some(got), Some(want)) => {
                    assert!((got - want).abs() < 1e-9, "{}: {got} != {want}", case.name)
                }
                (got, want) => assert_eq!(got, want, "{}", case.name),
            }
        }
    }
}
