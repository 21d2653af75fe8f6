//! Why a time rejection happened: the `cause` label of `skew_jwt_time_rejections_total`.
//!
//! Pure: [`cause`] takes the event's times, the lead measured for its (source, issuer) pair and
//! the two thresholds of `[events]`, and returns one [`Cause`] from the closed set. The recorder
//! calls it once per `expired`, `not_yet_valid` or `issued_in_future` rejection; nothing here
//! allocates or locks. The causes, first match wins (the order of issue 13):
//!
//! 1. `in_transit`: the event has `received` and the token was still valid then (for the
//!    claim that failed). The request waited between arrival and verification: an event loop
//!    blocked by synchronous validation under load, a queue. *Do*: look at
//!    `skew_jwt_verification_delay_seconds`; move validation off the event loop, add capacity.
//! 2. `clock_skew`: the margin (how far past `exp`, or before `nbf`/`iat`) is within the
//!    issuer–verifier lead measured for the pair, plus 1 s for whole-second NumericDates. For
//!    `not_yet_valid`/`issued_in_future` that is an issuer ahead (lead > 0); for `expired`, an
//!    issuer behind (lead < 0), and only one more than 2 s behind. An expired token does not
//!    prove skew the way a not-yet-valid one does, and for it the lead overstates the skew: a
//!    whole-second `iat` makes every age up to 1 s older, so −lead is the verifier's true lead
//!    plus up to 1 s (issue 13's incident 3, a verifier 300 ms ahead whose clients log in again
//!    right after each rejection, measured −1.02 s). Beyond that second, the skew must still
//!    exceed the 1 s resolution of NumericDates: a verifier less than that ahead with zero
//!    leeway is `expiry_edge`. *Do*: fix the clock that is off (`skew_jwt_issuer_clock_error_seconds`
//!    says which, where the verifier is local), or give the verifier that much leeway.
//! 3. `expiry_edge`: expired by at most `events.expiry-edge` (default 5 s) and not explained by
//!    the above: a verifier with zero leeway at the boundary, a token used in its last second.
//!    *Do*: give the verifier a few seconds of leeway (`skew_jwt_verifier_leeway_seconds`), or
//!    have the client refresh a little before `exp`.
//! 4. `stale_token`: expired by more than `events.stale-after` (default 60 s): a client that
//!    does not refresh, or loses a refresh race. *Do*: look at the client's refresh logic; no
//!    clock is at fault.
//! 5. `unexplained`: anything else. *Do*: look at `skew_jwt_rejection_lifetime_fraction` and the
//!    verifier's own logs.

use crate::event::{Event, Reason};

/// The cause of a time rejection (closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    InTransit,
    ClockSkew,
    ExpiryEdge,
    StaleToken,
    Unexplained,
}

impl Cause {
    /// Every cause, in the order they are decided.
    pub const ALL: [Cause; 5] = [
        Cause::InTransit,
        Cause::ClockSkew,
        Cause::ExpiryEdge,
        Cause::StaleToken,
        Cause::Unexplained,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::InTransit => "in_transit",
            Cause::ClockSkew => "clock_skew",
            Cause::ExpiryEdge => "expiry_edge",
            Cause::StaleToken => "stale_token",
            Cause::Unexplained => "unexplained",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Slack for whole-second NumericDates: an issuer that truncates `iat` to the second makes a
/// token look up to 1 s older or younger than it is.
pub const NUMERIC_DATE_SLACK: f64 = 1.0;

/// The thresholds of the decision (`events.expiry-edge`, `events.stale-after`), in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CauseSettings {
    pub expiry_edge: f64,
    pub stale_after: f64,
}

impl Default for CauseSettings {
    fn default() -> Self {
        CauseSettings {
            expiry_edge: 5.0,
            stale_after: 60.0,
        }
    }
}

/// The times of one rejected event that the decision reads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Times {
    /// The verifier's clock at verification.
    pub ts: f64,
    /// The verifier's clock when the request arrived.
    pub received: Option<f64>,
    pub iat: Option<f64>,
    pub nbf: Option<f64>,
    pub exp: Option<f64>,
}

impl Times {
    /// The times an event carries.
    pub fn of(e: &Event<'_>) -> Self {
        Times {
            ts: e.ts,
            received: e.received,
            iat: e.iat,
            nbf: e.nbf,
            exp: e.exp,
        }
    }
}

/// The claim that failed and how far the token was outside it at `ts` (≥ 0 when the rejection
/// is consistent with its times), or `None` when the event lacks that claim.
fn margin(reason: Reason, t: &Times) -> Option<(f64, f64)> {
    // (the claim's time, the margin at ts)
    match reason {
        Reason::Expired => t.exp.map(|exp| (exp, t.ts - exp)),
        Reason::NotYetValid => t.nbf.or(t.iat).map(|nbf| (nbf, nbf - t.ts)),
        Reason::IssuedInFuture => t.iat.or(t.nbf).map(|iat| (iat, iat - t.ts)),
        _ => None,
    }
}

/// Decides the cause of a time rejection; `None` for other reasons. `lead` is the issuer lead
/// measured for the pair (issuer clock − verifier clock, a lower bound), `None` when too few
/// tokens back it.
pub fn cause(reason: Reason, t: &Times, lead: Option<f64>, s: &CauseSettings) -> Option<Cause> {
    if !reason.is_time_related() {
        return None;
    }
    let Some((claim, margin)) = margin(reason, t) else {
        return Some(Cause::Unexplained);
    };
    // 1. Still valid when the request arrived: exp was after `received`; nbf/iat before it.
    if let Some(received) = t.received {
        let valid_then = match reason {
            Reason::Expired => received < claim,
            _ => received >= claim,
        };
        if valid_then {
            return Some(Cause::InTransit);
        }
    }
    // 2. Within the measured skew, in the direction that explains this rejection: an issuer
    // ahead makes tokens not yet valid, an issuer behind makes them expire early.
    if let Some(lead) = lead {
        let skew = match reason {
            Reason::Expired => -lead,
            _ => lead,
        };
        // A token that is not yet valid proves that the issuer is ahead; one that expired does
        // not, and −lead overstates the verifier's lead by up to the 1 s of whole-second iat:
        // what is left must exceed NumericDates' 1 s resolution.
        let measurable = match reason {
            Reason::Expired => skew - NUMERIC_DATE_SLACK > NUMERIC_DATE_SLACK,
            _ => skew > 0.0,
        };
        if measurable && margin <= skew + NUMERIC_DATE_SLACK {
            return Some(Cause::ClockSkew);
        }
    }
    if reason == Reason::Expired {
        // 3. and 4.
        if margin <= s.expiry_edge {
            return Some(Cause::ExpiryEdge);
        }
        if margin > s.stale_after {
            return Some(Cause::StaleToken);
        }
    }
    Some(Cause::Unexplained)
}

/// The edge of the strict validity window an accepted token was outside of: the `edge` label
/// of `skew_jwt_leeway_used_seconds`. Declared in label-value order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edge {
    /// Verified after `exp`.
    Exp,
    /// Verified before `iat`.
    Iat,
    /// Verified before `nbf`.
    Nbf,
}

impl Edge {
    /// Every edge, sorted by label value.
    pub const ALL: [Edge; 3] = [Edge::Exp, Edge::Iat, Edge::Nbf];

    pub fn as_str(self) -> &'static str {
        match self {
            Edge::Exp => "exp",
            Edge::Iat => "iat",
            Edge::Nbf => "nbf",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// How far an **accepted** token was outside the strict window at `ts`, per edge (indexed by
/// [`Edge::index`]): `ts − exp` past `exp`, `nbf − ts` before `nbf`, `iat − ts` before `iat`;
/// `None` where it was inside (or the claim is absent). What the verifier's leeway saved.
pub fn leeway_used(t: &Times) -> [Option<f64>; 3] {
    let outside = |claim: Option<f64>, margin: fn(f64, f64) -> f64| {
        claim.map(|c| margin(c, t.ts)).filter(|m| *m > 0.0)
    };
    [
        outside(t.exp, |exp, ts| ts - exp),
        outside(t.iat, |iat, ts| iat - ts),
        outside(t.nbf, |nbf, ts| nbf - ts),
    ]
}

/// Where in its lifetime a token was rejected: `(ts − iat) / (exp − iat)`, when both claims
/// are there and `exp > iat`. Near 1: skew or delay at the edge; spread over 0..1: refresh or
/// revocation logic; above 1: expired.
pub fn lifetime_fraction(t: &Times) -> Option<f64> {
    let (iat, exp) = (t.iat?, t.exp?);
    (exp > iat).then(|| (t.ts - iat) / (exp - iat))
}

/// How far each issuer's clock is off true time, from the leads that verifiers on this host see
/// and this host's NTP offset: `skew_jwt_issuer_clock_error_seconds{issuer}`.
///
/// The sign algebra, with the conventions of the metrics:
/// - NTP offset `θ` = server clock − local clock (`skew_ntp_system_offset_seconds`; positive:
///   this host is behind). The servers keep true time, so `θ = true − local`.
/// - Lead `L` = issuer clock − verifier clock (`skew_jwt_issuer_lead_seconds` = −(lowest
///   `ts − iat`) = `iat − ts` at best, `iat` on the issuer's clock and `ts` on the verifier's).
///   For a verifier on this host, verifier clock = local clock: `L = issuer − local`.
/// - So issuer − true = (issuer − local) + (local − true) = `L − θ`.
///
/// E.g. an issuer 3 s fast seen from a host 0.4 ms behind (θ = +0.0004): the verifier sees
/// L = 3.0004, and the error is 3.0004 − 0.0004 = 3 s.
///
/// `leads` are (issuer, lead) of the local verifiers' pairs (several sources may see one issuer:
/// each lead is a lower bound of the same `issuer − local`, so the largest is the tightest, and
/// it is the one used). Without an NTP offset (no majority of servers) there is nothing to
/// correct with: no error at all. Sorted by issuer.
pub fn issuer_clock_errors<'a>(
    leads: impl IntoIterator<Item = (&'a str, f64)>,
    ntp_offset: Option<f64>,
) -> Vec<(&'a str, f64)> {
    let Some(theta) = ntp_offset else {
        return Vec::new();
    };
    let mut best: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for (issuer, lead) in leads {
        best.entry(issuer)
            .and_modify(|l| *l = l.max(lead))
            .or_insert(lead);
    }
    best.into_iter()
        .map(|(i, lead)| (i, lead - theta))
        .collect()
}

/// A duration for a sentence: `3.2 s`, `0.4 ms` (from 0.1 ms on), `20 µs` (absolute value; the
/// words say the direction).
pub fn human_seconds(v: f64) -> String {
    let a = v.abs();
    if a >= 1.0 {
        format!("{a:.1} s")
    } else if a >= 0.0001 {
        format!("{:.1} ms", a * 1e3)
    } else {
        format!("{:.0} µs", a * 1e6)
    }
}

/// Whose clock is wrong, in words, for an issuer whose `lead` verifiers see (issuer clock −
/// verifier clock, a lower bound). With this host's NTP offset (the verifiers are on this host),
/// the issuer's own error ([`issuer_clock_errors`]'s algebra): "issuer X runs 3.2 s fast; this
/// host is 0.4 ms off". Without it (`analyze` has no NTP), only the lead can be told. A lead at
/// or below 0 is no evidence of a slow issuer (delivery delay alone makes it negative), so it
/// is not called slow.
pub fn clock_words(issuer: &str, lead: f64, ntp_offset: Option<f64>) -> String {
    match ntp_offset {
        Some(theta) => {
            let error = lead - theta;
            let host = format!("this host is {} off", human_seconds(theta));
            if error > 0.0 {
                format!("issuer {issuer} runs {} fast; {host}", human_seconds(error))
            } else {
                format!("issuer {issuer} shows no fast clock; {host}")
            }
        }
        None if lead > 0.0 => format!(
            "issuer {issuer} runs {} ahead of its verifiers (at least)",
            human_seconds(lead)
        ),
        None => format!("issuer {issuer} shows no clock ahead of its verifiers"),
    }
}

/// The cause breakdown of one reason's time rejections in words, most frequent cause first:
/// "12 expired rejections: 10 clock_skew, 2 stale_token". `None` without rejections.
pub fn cause_words(reason: &str, causes: &[(&str, u64)]) -> Option<String> {
    let total: u64 = causes.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let mut sorted: Vec<&(&str, u64)> = causes.iter().filter(|(_, n)| *n > 0).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = sorted.iter().map(|(c, n)| format!("{n} {c}")).collect();
    Some(format!(
        "{total} {reason} rejection{}: {}",
        if total == 1 { "" } else { "s" },
        parts.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: f64 = 1_790_000_000.0;

    fn times(ts: f64) -> Times {
        Times {
            ts,
            ..Times::default()
        }
    }

    /// (name, reason, times, the pair's lead, the cause expected).
    type Case = (&'static str, Reason, Times, Option<f64>, Option<Cause>);

    /// The decision, case by case, in the order of issue 13.
    #[test]
    fn causes_are_decided_in_order() {
        use Cause::*;
        use Reason::*;
        let s = CauseSettings::default();
        let exp = |ts: f64, exp: f64| Times {
            exp: Some(exp),
            iat: Some(exp - 60.0),
            ..times(ts)
        };
        let with_received = |mut t: Times, r: f64| {
            t.received = Some(r);
            t
        };
        let nbf = |ts: f64, nbf: f64| Times {
            nbf: Some(nbf),
            iat: Some(nbf),
            ..times(ts)
        };
        let iat = |ts: f64, iat: f64| Times {
            iat: Some(iat),
            ..times(ts)
        };
        #[rustfmt::skip]
        let cases: &[Case] = &[
            // Not a time rejection: no cause.
            ("signature", InvalidSignature, exp(T, T - 1.0), Some(-10.0), None),
            // in_transit: valid when it arrived, expired when verified, whatever else holds.
            ("waited past exp", Expired, with_received(exp(T + 0.5, T), T - 0.2), None, Some(InTransit)),
            ("waited, also skewed", Expired, with_received(exp(T + 0.5, T), T - 0.2), Some(-3.0), Some(InTransit)),
            ("waited, long", Expired, with_received(exp(T + 120.0, T), T - 1.0), None, Some(InTransit)),
            ("arrived at exp exactly", Expired, with_received(exp(T + 0.5, T), T), None, Some(ExpiryEdge)),
            ("arrived already expired", Expired, with_received(exp(T + 0.5, T), T + 0.1), None, Some(ExpiryEdge)),
            ("nbf passed while waiting", NotYetValid, with_received(nbf(T, T - 1.0), T - 0.5), None, Some(InTransit)),
            ("nbf ahead at arrival too", NotYetValid, with_received(nbf(T, T + 2.0), T - 0.5), Some(2.5), Some(ClockSkew)),
            ("arrived at nbf exactly", NotYetValid, with_received(nbf(T - 0.5, T), T), None, Some(InTransit)),
            ("iat passed while waiting", IssuedInFuture, with_received(iat(T, T - 0.2), T - 0.1), Some(3.0), Some(InTransit)),
            ("iat ahead at arrival", IssuedInFuture, with_received(iat(T, T + 1.0), T - 0.1), Some(1.5), Some(ClockSkew)),
            ("received, expired long before", Expired, with_received(exp(T + 90.0, T), T + 80.0), None, Some(StaleToken)),
            ("received without the claim", Expired, with_received(iat(T, T - 10.0), T - 20.0), None, Some(Unexplained)),
            // clock_skew: within the lead (+1 s), in the direction that explains the rejection.
            ("issuer 3 s ahead, nbf", NotYetValid, nbf(T, T + 2.9), Some(3.0), Some(ClockSkew)),
            ("issuer 3 s ahead, +1 s slack", NotYetValid, nbf(T, T + 3.9), Some(3.0), Some(ClockSkew)),
            ("beyond the lead + 1 s", NotYetValid, nbf(T, T + 4.5), Some(3.0), Some(Unexplained)),
            ("issuer ahead, iat", IssuedInFuture, iat(T, T + 1.5), Some(1.5), Some(ClockSkew)),
            ("issuer behind: no nbf skew", NotYetValid, nbf(T, T + 0.5), Some(-2.0), Some(Unexplained)),
            ("no lead measured", NotYetValid, nbf(T, T + 0.5), None, Some(Unexplained)),
            ("lead exactly 0", NotYetValid, nbf(T, T + 0.5), Some(0.0), Some(Unexplained)),
            ("issuer 3 s behind, expired early", Expired, exp(T + 2.0, T), Some(-3.0), Some(ClockSkew)),
            ("issuer behind, expired beyond", Expired, exp(T + 30.0, T), Some(-3.0), Some(Unexplained)),
            ("issuer ahead: no exp skew", Expired, exp(T + 2.0, T), Some(3.0), Some(ExpiryEdge)),
            ("verifier 0.3 s ahead, zero leeway", Expired, exp(T + 0.2, T), Some(-0.3), Some(ExpiryEdge)),
            ("verifier 1 s ahead: within whole seconds", Expired, exp(T + 0.5, T), Some(-1.0), Some(ExpiryEdge)),
            ("verifier 0.3 s ahead, logins in phase", Expired, exp(T + 0.2, T), Some(-1.02), Some(ExpiryEdge)),
            ("verifier measured 2 s ahead", Expired, exp(T + 0.5, T), Some(-2.0), Some(ExpiryEdge)),
            ("verifier measured 2.5 s ahead", Expired, exp(T + 0.5, T), Some(-2.5), Some(ClockSkew)),
            // expiry_edge: within 5 s of exp, unexplained otherwise.
            ("0.3 s past exp", Expired, exp(T + 0.3, T), None, Some(ExpiryEdge)),
            ("5 s past exp", Expired, exp(T + 5.0, T), Some(0.0), Some(ExpiryEdge)),
            ("6 s past exp", Expired, exp(T + 6.0, T), None, Some(Unexplained)),
            ("60 s past exp", Expired, exp(T + 60.0, T), None, Some(Unexplained)),
            // stale_token: more than 60 s past exp.
            ("61 s past exp", Expired, exp(T + 61.0, T), None, Some(StaleToken)),
            ("a day past exp", Expired, exp(T + 86_400.0, T), Some(-3.0), Some(StaleToken)),
            // Times missing for the claim that failed.
            ("expired without exp", Expired, iat(T, T - 10.0), Some(-3.0), Some(Unexplained)),
            ("nbf rejection without nbf or iat", NotYetValid, times(T), Some(3.0), Some(Unexplained)),
        ];
        for (name, reason, t, lead, want) in cases {
            assert_eq!(cause(*reason, t, *lead, &s), *want, "{name}");
        }
    }

    #[test]
    fn thresholds_come_from_the_settings() {
        let t = Times {
            exp: Some(T),
            ..times(T + 8.0)
        };
        let at = |expiry_edge, stale_after| {
            cause(
                Reason::Expired,
                &t,
                None,
                &CauseSettings {
                    expiry_edge,
                    stale_after,
                },
            )
        };
        assert_eq!(at(10.0, 60.0), Some(Cause::ExpiryEdge));
        assert_eq!(at(5.0, 60.0), Some(Cause::Unexplained));
        assert_eq!(at(5.0, 7.0), Some(Cause::StaleToken));
    }

    #[test]
    fn leeway_used_per_edge() {
        let t = |ts: f64, iat: Option<f64>, nbf: Option<f64>, exp: Option<f64>| Times {
            ts,
            iat,
            nbf,
            exp,
            received: None,
        };
        #[rustfmt::skip]
        let cases: &[(&str, Times, [Option<f64>; 3])] = &[
            ("inside", t(T, Some(T - 1.0), Some(T - 1.0), Some(T + 60.0)), [None, None, None]),
            ("no claims", t(T, None, None, None), [None, None, None]),
            ("at exp exactly", t(T, None, None, Some(T)), [None, None, None]),
            ("2 s past exp", t(T + 2.0, Some(T - 60.0), None, Some(T)), [Some(2.0), None, None]),
            ("1.5 s before nbf and iat", t(T, Some(T + 1.5), Some(T + 1.5), Some(T + 60.0)), [None, Some(1.5), Some(1.5)]),
            ("before nbf only", t(T, Some(T - 5.0), Some(T + 0.25), None), [None, None, Some(0.25)]),
        ];
        for (name, times, want) in cases {
            assert_eq!(leeway_used(times), *want, "{name}");
        }
        for (i, e) in Edge::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
        }
        let mut sorted = Edge::ALL.map(Edge::as_str);
        sorted.sort_unstable();
        assert_eq!(sorted, Edge::ALL.map(Edge::as_str));
    }

    #[test]
    fn lifetime_fraction_needs_both_claims_and_a_positive_lifetime() {
        let t = |ts: f64, iat: Option<f64>, exp: Option<f64>| Times {
            ts,
            iat,
            exp,
            ..Times::default()
        };
        assert_eq!(
            lifetime_fraction(&t(T + 30.0, Some(T), Some(T + 60.0))),
            Some(0.5)
        );
        assert_eq!(
            lifetime_fraction(&t(T + 66.0, Some(T), Some(T + 60.0))),
            Some(1.1)
        );
        assert_eq!(
            lifetime_fraction(&t(T - 6.0, Some(T), Some(T + 60.0))),
            Some(-0.1)
        );
        assert_eq!(lifetime_fraction(&t(T, None, Some(T + 60.0))), None);
        assert_eq!(lifetime_fraction(&t(T, Some(T), None)), None);
        assert_eq!(lifetime_fraction(&t(T, Some(T), Some(T))), None);
        assert_eq!(lifetime_fraction(&t(T, Some(T + 1.0), Some(T))), None);
    }

    #[test]
    fn issuer_clock_error_is_the_lead_minus_the_ntp_offset() {
        // An issuer 3 s fast; this host 0.4 ms behind true time (offset +0.0004): the local
        // verifier sees a lead of 3.0004 s.
        let e = issuer_clock_errors([("idp", 3.0004)], Some(0.0004));
        assert_eq!(e.len(), 1);
        assert!((e[0].1 - 3.0).abs() < 1e-12, "{e:?}");
        // This host 2 s ahead (offset −2): an issuer on true time looks 2 s behind (lead −2).
        assert_eq!(
            issuer_clock_errors([("idp", -2.0)], Some(-2.0)),
            [("idp", 0.0)]
        );
        // Two local sources: the larger lead is the tighter bound. Sorted by issuer.
        assert_eq!(
            issuer_clock_errors(
                [("z", 0.5), ("a", 1.0), ("a", 1.5), ("a", 1.25)],
                Some(0.25)
            ),
            [("a", 1.25), ("z", 0.25)]
        );
        // No NTP offset, or no local lead: nothing.
        assert!(issuer_clock_errors([("idp", 3.0)], None).is_empty());
        assert!(issuer_clock_errors([], Some(0.1)).is_empty());
    }

    #[test]
    fn whose_clock_in_words() {
        assert_eq!(
            clock_words("X", 3.2004, Some(0.0004)),
            "issuer X runs 3.2 s fast; this host is 0.4 ms off"
        );
        assert_eq!(
            clock_words("X", 0.2, Some(-0.25)),
            "issuer X runs 450.0 ms fast; this host is 250.0 ms off"
        );
        assert_eq!(
            clock_words("X", -0.5, Some(0.00002)),
            "issuer X shows no fast clock; this host is 20 µs off"
        );
        assert_eq!(
            clock_words("X", 3.2, None),
            "issuer X runs 3.2 s ahead of its verifiers (at least)"
        );
        assert_eq!(
            clock_words("X", -0.3, None),
            "issuer X shows no clock ahead of its verifiers"
        );
    }

    #[test]
    fn causes_in_words() {
        assert_eq!(
            cause_words(
                "expired",
                &[("clock_skew", 10), ("stale_token", 2), ("in_transit", 0)]
            ),
            Some("12 expired rejections: 10 clock_skew, 2 stale_token".to_owned())
        );
        assert_eq!(
            cause_words("not_yet_valid", &[("unexplained", 1), ("clock_skew", 1)]),
            Some("2 not_yet_valid rejections: 1 clock_skew, 1 unexplained".to_owned())
        );
        assert_eq!(
            cause_words("expired", &[("expiry_edge", 1)]),
            Some("1 expired rejection: 1 expiry_edge".to_owned())
        );
        assert_eq!(cause_words("expired", &[]), None);
    }

    #[test]
    fn cause_indices_match_all() {
        for (i, c) in Cause::ALL.iter().enumerate() {
            assert_eq!(c.index(), i, "{}", c.as_str());
        }
    }
}
