//! The pure core of the HTTP `Date` probe: what one answer proves about a remote clock, how
//! answers combine, when to send the next request, and how a `Date` header is read. No I/O:
//! every function takes local times as numbers (Unix seconds) and is tested with literals.
//!
//! # The method (as htp does it)
//! A request sent at local time `t0` and answered at `t2` carries `Date: D`, whole seconds. The
//! target read its clock at some local instant in `[t0, t2]`, and that clock showed a time in
//! `[D, D + 1)`. So the offset θ = target clock − local clock lies in `[D − t2, D + 1 − t0)`.
//! Every answer gives such an interval; the truth lies in all of them, hence in their
//! intersection. The first answer pins θ to about one second; each next request is sent so that
//! the target's second boundary, if θ were the current midpoint, falls in the middle of the
//! request window: whichever second the answer names, one half of the interval is ruled out.
//! After `n` requests the interval is about `2^-(n-1) + rtt` wide.
//!
//! The estimate is the interval's midpoint; its half-width bounds the error, whatever the
//! network's asymmetry (an asymmetric path only slows the narrowing).

/// An interval of offsets `[lo, hi)`, seconds (target clock − local clock).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn width(&self) -> f64 {
        self.hi - self.lo
    }

    pub fn mid(&self) -> f64 {
        (self.lo + self.hi) / 2.0
    }

    /// The intersection, `None` when the two do not meet (the answers contradict each other).
    pub fn intersect(&self, other: &Interval) -> Option<Interval> {
        let lo = self.lo.max(other.lo);
        let hi = self.hi.min(other.hi);
        (lo <= hi).then_some(Interval { lo, hi })
    }
}

/// One answered request: local send and receive times and the `Date` it carried (Unix
/// seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exchange {
    pub sent: f64,
    pub received: f64,
    pub date: i64,
}

impl Exchange {
    /// The offsets this answer allows: `[D − t2, D + 1 − t0)`.
    pub fn constraint(&self) -> Interval {
        let d = self.date as f64;
        Interval {
            lo: d - self.received,
            hi: d + 1.0 - self.sent,
        }
    }

    pub fn rtt(&self) -> f64 {
        (self.received - self.sent).max(0.0)
    }
}

/// The result of a round: the midpoint and the half-width of the interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub offset: f64,
    pub bound: f64,
}

/// The answers of this round contradict each other: no offset is compatible with all of them
/// (a load balancer whose backends disagree, a cache replaying a `Date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inconsistent;

/// Most requests per round allowed in configuration.
pub const MAX_REQUESTS_LIMIT: u32 = 64;
/// Least time between two requests to one target: never more than 4 a second.
pub const MIN_SPACING: f64 = 0.25;
/// Once the interval is within this much of the fastest round trip seen, further requests
/// cannot narrow it noticeably: the round ends early.
pub const DONE_SLACK: f64 = 0.001;

/// Accumulates the answers of one round.
#[derive(Debug, Clone, Default)]
pub struct Estimator {
    interval: Option<Interval>,
    min_rtt: Option<f64>,
    answers: u32,
}

impl Estimator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one answer. On `Inconsistent` the estimator keeps what it had.
    pub fn add(&mut self, x: &Exchange) -> Result<(), Inconsistent> {
        let c = x.constraint();
        let next = match &self.interval {
            None => c,
            Some(i) => i.intersect(&c).ok_or(Inconsistent)?,
        };
        self.interval = Some(next);
        self.answers += 1;
        let rtt = x.rtt();
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m: f64| m.min(rtt)));
        Ok(())
    }

    pub fn interval(&self) -> Option<Interval> {
        self.interval
    }

    pub fn answers(&self) -> u32 {
        self.answers
    }

    pub fn estimate(&self) -> Option<Estimate> {
        self.interval.map(|i| Estimate {
            offset: i.mid(),
            bound: i.width() / 2.0,
        })
    }

    /// True when another request would not narrow the interval much further.
    pub fn converged(&self) -> bool {
        match (self.interval, self.min_rtt) {
            (Some(i), Some(rtt)) => i.width() <= rtt + DONE_SLACK,
            _ => false,
        }
    }

    /// The local time at which to send the next request, no earlier than `earliest`: the one
    /// at which the target's clock, if the offset were the current midpoint, crosses a second
    /// boundary half a round trip after the send. Before any answer: `earliest` itself.
    pub fn next_send(&self, earliest: f64) -> f64 {
        let (Some(i), Some(rtt)) = (self.interval, self.min_rtt) else {
            return earliest;
        };
        // Wanted: t + rtt/2 + mid ≡ 0 (mod 1).
        let phase = (-(rtt / 2.0 + i.mid())).rem_euclid(1.0);
        let mut t = earliest.floor() + phase;
        if t < earliest {
            t += 1.0;
        }
        t
    }
}

/// The result of one round: the `result` label of `skew_http_date_probes_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeResult {
    Ok,
    /// No answer within `timeout`.
    Timeout,
    /// Refused, reset, or closed before an answer.
    ConnectionError,
    /// The host name did not resolve.
    DnsError,
    /// The TLS handshake failed (an untrusted certificate, a wrong name).
    TlsError,
    /// An answer that is not a clock reading of the target: a 5xx (often made by a gateway in
    /// front of it), a redirect loop or off-site redirect, a malformed response.
    HttpError,
    /// An answer without a `Date` header.
    NoDate,
    /// A `Date` that does not parse, lies more than a day from the local clock, comes from a
    /// cache (`Age` above 0), or contradicts the round's other answers.
    BadDate,
}

impl ProbeResult {
    pub const ALL: [ProbeResult; 8] = [
        ProbeResult::Ok,
        ProbeResult::Timeout,
        ProbeResult::ConnectionError,
        ProbeResult::DnsError,
        ProbeResult::TlsError,
        ProbeResult::HttpError,
        ProbeResult::NoDate,
        ProbeResult::BadDate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeResult::Ok => "ok",
            ProbeResult::Timeout => "timeout",
            ProbeResult::ConnectionError => "connection_error",
            ProbeResult::DnsError => "dns_error",
            ProbeResult::TlsError => "tls_error",
            ProbeResult::HttpError => "http_error",
            ProbeResult::NoDate => "no_date",
            ProbeResult::BadDate => "bad_date",
        }
    }
}

/// How a final answer's status is judged. 1xx–4xx come from the target itself (RFC 9110
/// §6.6.1: an origin with a clock must send `Date` on them; a 401 or 404 is still its clock).
/// A 5xx is not used: RFC 9110 makes `Date` optional there, and a 502/503/504 is typically
/// written by a proxy or load balancer in front of the target, whose clock is not the
/// target's.
pub fn status_is_a_clock(status: u16) -> bool {
    (100..500).contains(&status)
}

/// Why a `Date` header was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Not one of the three formats of RFC 9110 (IMF-fixdate, RFC 850, asctime).
    Unparsable,
    /// Further from the local clock than [`MAX_PLAUSIBLE_OFFSET`]: a replayed or made-up
    /// header, not a running clock.
    Implausible,
}

/// Largest offset believed (seconds): a `Date` a day away from the local clock is a replayed
/// response or an unset clock, and says nothing useful about token validity.
pub const MAX_PLAUSIBLE_OFFSET: f64 = 86_400.0;

/// Parses a `Date` value (IMF-fixdate, or the obsolete RFC 850 and asctime formats, as RFC
/// 9110 §5.6.7 requires recipients to accept) into Unix seconds, and checks it lies within
/// [`MAX_PLAUSIBLE_OFFSET`] of `local_now`.
pub fn parse_date(value: &[u8], local_now: f64) -> Result<i64, DateError> {
    let text = std::str::from_utf8(value).map_err(|_| DateError::Unparsable)?;
    let t = httpdate::parse_http_date(text.trim()).map_err(|_| DateError::Unparsable)?;
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| DateError::Unparsable)?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| DateError::Unparsable)?;
    if (secs as f64 - local_now).abs() > MAX_PLAUSIBLE_OFFSET {
        return Err(DateError::Implausible);
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: f64 = 1_790_000_000.0;

    #[test]
    fn one_answer_bounds_the_offset_to_one_second_plus_the_round_trip() {
        let x = Exchange {
            sent: 100.2,
            received: 100.3,
            date: 101,
        };
        let c = x.constraint();
        assert!(
            (c.lo - 0.7).abs() < 1e-9 && (c.hi - 1.8).abs() < 1e-9,
            "{c:?}"
        );
        let mut e = Estimator::new();
        e.add(&x).unwrap();
        let est = e.estimate().unwrap();
        assert!((est.offset - 1.25).abs() < 1e-9 && (est.bound - 0.55).abs() < 1e-9);
        assert!(!e.converged());
    }

    #[test]
    fn contradicting_answers_are_reported_and_change_nothing() {
        let mut e = Estimator::new();
        e.add(&Exchange {
            sent: 10.0,
            received: 10.01,
            date: 10,
        })
        .unwrap();
        let before = e.interval();
        // 3 s later the same Date: the target's clock stood still (a cache).
        let r = e.add(&Exchange {
            sent: 13.0,
            received: 13.01,
            date: 10,
        });
        assert_eq!(r, Err(Inconsistent));
        assert_eq!(e.interval(), before);
        assert_eq!(e.answers(), 1);
    }

    #[test]
    fn the_next_send_puts_the_presumed_boundary_mid_window() {
        let mut e = Estimator::new();
        e.add(&Exchange {
            sent: 100.0,
            received: 100.02,
            date: 100,
        })
        .unwrap();
        // interval [-0.02, 1.0): mid 0.49, rtt 0.02 → t + 0.01 + 0.49 ≡ 0 → t ≡ 0.5
        let t = e.next_send(100.27);
        assert!((t - 100.5).abs() < 1e-9, "{t}");
        let t = e.next_send(100.6);
        assert!((t - 101.5).abs() < 1e-9, "{t}");
        assert_eq!(Estimator::new().next_send(5.0), 5.0);
    }

    #[test]
    fn answers_up_to_4xx_are_the_targets_clock_and_5xx_are_not() {
        for s in [100, 200, 204, 301, 304, 401, 404, 405, 499] {
            assert!(status_is_a_clock(s), "{s}");
        }
        for s in [500, 502, 503, 504, 599] {
            assert!(!status_is_a_clock(s), "{s}");
        }
    }

    #[test]
    fn dates_in_all_three_formats() {
        let want = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        let near = want as f64;
        for v in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "  Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(parse_date(v.as_bytes(), near), Ok(want), "{v}");
        }
        for v in ["", "yesterday", "Sun, 06 Nov 1994 08:49:37 CET", "\u{ff}"] {
            assert_eq!(
                parse_date(v.as_bytes(), near),
                Err(DateError::Unparsable),
                "{v}"
            );
        }
        assert_eq!(parse_date(&[0xff, 0xfe], near), Err(DateError::Unparsable));
        assert_eq!(
            parse_date(b"Sun, 06 Nov 1994 08:49:37 GMT", NOW),
            Err(DateError::Implausible)
        );
        assert_eq!(
            parse_date(b"Thu, 01 Jan 1970 00:00:00 GMT", NOW),
            Err(DateError::Implausible)
        );
    }

    /// Simulates rounds against a target whose clock runs `shift` ahead, whose path takes
    /// `out` and `back` seconds, and which reads its clock `proc_before` after the request
    /// arrives; the truth must stay inside every interval, and the round must narrow to about
    /// a round trip.
    fn simulate(shift: f64, out: f64, back: f64, start: f64, requests: u32) -> (Estimator, u32) {
        let mut e = Estimator::new();
        let mut earliest = start;
        let mut used = 0;
        for _ in 0..requests {
            let sent = e.next_send(earliest);
            let read_at = sent + out;
            let date = (read_at + shift).floor() as i64;
            let received = read_at + back;
            used += 1;
            e.add(&Exchange {
                sent,
                received,
                date,
            })
            .expect("a true clock never contradicts itself");
            let i = e.interval().unwrap();
            assert!(
                i.lo <= shift + 1e-6 && shift < i.hi + 1e-6,
                "{shift} outside {i:?}"
            );
            if e.converged() {
                break;
            }
            earliest = sent + MIN_SPACING;
        }
        (e, used)
    }

    #[test]
    fn twelve_requests_narrow_to_about_the_round_trip() {
        for shift in [1.25, -0.35, 0.0, 0.999, -3600.5] {
            let (e, used) = simulate(shift, 0.0002, 0.0002, NOW + 0.123, 12);
            let est = e.estimate().unwrap();
            assert!(est.bound <= 0.002, "{shift}: {est:?} after {used}");
            assert!((est.offset - shift).abs() <= est.bound);
        }
        // 30 ms each way: the interval ends about one round trip wide.
        let (e, _) = simulate(0.7, 0.03, 0.03, NOW, 12);
        assert!(e.estimate().unwrap().bound <= 0.04, "{:?}", e.estimate());
    }

    proptest! {
        #[test]
        fn the_truth_always_stays_inside(
            shift in -5000.0f64..5000.0,
            out in 0.0f64..0.5,
            back in 0.0f64..0.5,
            start in 0.0f64..2.0,
            requests in 1u32..16,
        ) {
            let (e, used) = simulate(shift, out, back, NOW + start, requests);
            let est = e.estimate().unwrap();
            prop_assert!((est.offset - shift).abs() <= est.bound + 1e-6);
            prop_assert!(used <= requests);
        }

        #[test]
        fn next_send_is_never_early_and_within_a_second(
            lo in -10.0f64..10.0, w in 0.0f64..1.5, rtt in 0.0f64..1.0, earliest in 0.0f64..1e9,
        ) {
            let e = Estimator {
                interval: Some(Interval { lo, hi: lo + w }),
                min_rtt: Some(rtt),
                answers: 1,
            };
            let t = e.next_send(earliest);
            prop_assert!(t >= earliest && t < earliest + 1.0 + 1e-6);
        }
    }
}
