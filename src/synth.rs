//! Synthetic verification streams with a known truth, for tests and benchmarks.
//!
//! A world of issuers whose clocks run ahead of (or behind) true time by a chosen lead, and
//! verifiers with perfect clocks and zero leeway. Verifications happen at steadily increasing
//! true times `ts`; each token was minted `delay` seconds earlier (`m = ts − delay`) and
//! stamped `iat = nbf = m + lead`, `exp = iat + lifetime`. The verifier rejects it as `not_yet_valid` while `ts < nbf`, as
//! `expired` once `ts >= exp`; a chosen share is rejected as `invalid_signature` instead.
//! Optionally (both shares are 0 in [`Spec::default`], whose stream they leave unchanged), a
//! share of the premature tokens is reported as `issued_in_future` (a verifier that checks
//! `iat`), and a share of all tokens is rejected for one of the other reasons of the closed set
//! ([`OTHER_REASONS`]), so that a stream can exercise every reason.
//! [`Truth`] accumulates what a correct exporter must report, computed independently of the
//! exporter's own code (plain comparisons, no shared helpers).
//!
//! Times are multiples of 1/1024 s so that every difference is exact in binary floating
//! point: the expected histogram buckets are then exact too.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One issuer of the synthetic world.
#[derive(Debug, Clone)]
pub struct IssuerSpec {
    pub name: String,
    /// How far this issuer's clock runs ahead of true time (negative: behind).
    pub lead: f64,
    /// Token lifetime (exp − iat).
    pub lifetime: f64,
}

/// The world's parameters.
#[derive(Debug, Clone)]
pub struct Spec {
    pub issuers: Vec<IssuerSpec>,
    pub sources: Vec<String>,
    /// True time of the first verification (Unix seconds).
    pub start: f64,
    /// True time between consecutive verifications.
    pub step: f64,
    /// Largest delivery delay between minting and verification.
    pub max_delay: f64,
    /// Share of tokens (0..1) that are kept by a client long past expiry.
    pub stale_share: f64,
    /// Share of tokens (0..1) rejected as `invalid_signature`.
    pub bad_signature_share: f64,
    /// Share (0..1) of the tokens seen before their `iat` that are rejected as
    /// `issued_in_future` rather than `not_yet_valid`.
    pub issued_in_future_share: f64,
    /// Share (0..1) of the tokens not rejected as `invalid_signature` that are rejected for one
    /// of [`OTHER_REASONS`] instead, each equally likely.
    pub other_reason_share: f64,
    /// Issue 13's event fields on every line: `received` (0.01 to 0.5 s before `ts`), `leeway`
    /// (0 or 5 s; absent for every third source) and `kid` (per issuer; absent for every fourth).
    /// Derived from the event itself, with no draw from the generator: the stream's other
    /// fields are the same either way. The truth's causes then know `in_transit`.
    pub verdict_fields: bool,
    pub seed: u64,
}

/// The rejection reasons that have nothing to do with time or the signature, as
/// [`Spec::other_reason_share`] draws them: with `expired`, `not_yet_valid`,
/// `issued_in_future` and `invalid_signature`, the whole closed set.
pub const OTHER_REASONS: [&str; 9] = [
    "unknown_key",
    "malformed",
    "invalid_issuer",
    "invalid_audience",
    "invalid_algorithm",
    "missing_claim",
    "revoked",
    "missing_token",
    "other",
];

impl Default for Spec {
    fn default() -> Self {
        Spec {
            issuers: vec![
                IssuerSpec {
                    name: "https://ahead.example".into(),
                    lead: 3.2,
                    lifetime: 300.0,
                },
                IssuerSpec {
                    name: "https://synced.example".into(),
                    lead: 0.0,
                    lifetime: 600.0,
                },
                IssuerSpec {
                    name: "https://behind.example".into(),
                    lead: -1.5,
                    lifetime: 900.0,
                },
            ],
            sources: vec!["orders".into(), "payments".into(), "search".into()],
            start: 1_790_000_000.0,
            step: 0.01,
            max_delay: 2.0,
            stale_share: 0.01,
            bad_signature_share: 0.005,
            issued_in_future_share: 0.0,
            other_reason_share: 0.0,
            verdict_fields: false,
            seed: 42,
        }
    }
}

/// One generated event and the facts behind it.
#[derive(Debug, Clone)]
pub struct Generated {
    pub source: usize,
    pub issuer: usize,
    pub ts: f64,
    pub iat: f64,
    pub exp: f64,
    /// `None` when accepted.
    pub reason: Option<&'static str>,
}

impl Generated {
    /// The event as one JSON line (no newline).
    pub fn to_json(&self, spec: &Spec) -> String {
        let mut s = String::with_capacity(200);
        let _ = write!(
            s,
            r#"{{"ts":{},"source":"{}","iss":"{}","aud":"api","iat":{},"nbf":{},"exp":{},"outcome":"{}""#,
            self.ts,
            spec.sources[self.source],
            spec.issuers[self.issuer].name,
            self.iat,
            self.iat,
            self.exp,
            if self.reason.is_some() {
                "rejected"
            } else {
                "accepted"
            },
        );
        if let Some(r) = self.reason {
            let _ = write!(s, r#","reason":"{r}""#);
        }
        if spec.verdict_fields {
            let _ = write!(s, r#","received":{}"#, self.received());
            if self.source % 3 != 2 {
                let _ = write!(s, r#","leeway":{}"#, 5 * (self.source % 2));
            }
            if self.issuer % 4 != 3 {
                let _ = write!(s, r#","kid":"k{}""#, self.issuer);
            }
        }
        s.push('}');
        s
    }

    /// `received` when [`Spec::verdict_fields`] is set: 0.01 to 0.5 s before `ts`, a multiple
    /// of 1/1024 s, derived from `ts`.
    pub fn received(&self) -> f64 {
        q(self.ts - 0.01 - 0.49 * (self.ts * 0.37).fract())
    }
}

/// A small deterministic PRNG (splitmix64): the stream must not change between releases of a
/// dependency, or the truth of a stored file would.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rounds to a multiple of 1/1024 s.
fn q(t: f64) -> f64 {
    (t * 1024.0).round() / 1024.0
}

/// Iterates over the events of a world.
pub struct Generator {
    spec: Spec,
    rng: SplitMix,
    n: u64,
}

impl Generator {
    pub fn new(spec: Spec) -> Self {
        let rng = SplitMix(spec.seed);
        Generator { spec, rng, n: 0 }
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }
}

impl Iterator for Generator {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        let s = &self.spec;
        let issuer = (self.rng.next() % s.issuers.len() as u64) as usize;
        let source = (self.rng.next() % s.sources.len() as u64) as usize;
        let spec = &s.issuers[issuer];
        let ts = q(s.start + self.n as f64 * s.step);
        self.n += 1;
        let stale = self.rng.unit() < s.stale_share;
        let delay = if stale {
            q(spec.lifetime + 60.0 + self.rng.unit() * 3600.0)
        } else {
            q(self.rng.unit() * s.max_delay)
        };
        let iat = q(ts - delay + spec.lead);
        let exp = iat + q(spec.lifetime);
        let reason = if self.rng.unit() < s.bad_signature_share {
            Some("invalid_signature")
        } else if ts < iat {
            Some("not_yet_valid")
        } else if ts >= exp {
            Some("expired")
        } else {
            None
        };
        // The optional reasons draw from the generator only when their share is set, after
        // every draw above: a world without them yields exactly the stream it always did.
        let reason = match reason {
            Some("not_yet_valid")
                if s.issued_in_future_share > 0.0 && self.rng.unit() < s.issued_in_future_share =>
            {
                Some("issued_in_future")
            }
            r => r,
        };
        let reason = match reason {
            Some("invalid_signature") => reason,
            r => {
                if s.other_reason_share > 0.0 && self.rng.unit() < s.other_reason_share {
                    let i = (self.rng.next() % OTHER_REASONS.len() as u64) as usize;
                    Some(OTHER_REASONS[i])
                } else {
                    r
                }
            }
        };
        Some(Generated {
            source,
            issuer,
            ts,
            iat,
            exp,
            reason,
        })
    }
}

/// What a correct exporter reports for a stream, per (source, issuer).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PairTruth {
    pub accepted: u64,
    pub rejected: u64,
    pub reasons: BTreeMap<&'static str, u64>,
    /// Ages of accepted and rejected tokens.
    pub ages: [Vec<f64>; 2],
    pub expired_by: Vec<f64>,
    pub premature_by: Vec<f64>,
    /// `skew_jwt_time_rejections_total` by (reason, cause), with the default thresholds and
    /// the lead of a 300 s window as it stood after each event.
    pub causes: BTreeMap<(&'static str, &'static str), u64>,
    /// Lowest age of trusted events in the last lead window, with the newest ts.
    pub newest_ts: f64,
    trusted: Vec<(f64, f64)>,
    /// Lowest trusted age and trusted tokens per 10 s slot of event time, for the running lead
    /// behind `causes`.
    slot_min: BTreeMap<i64, (f64, u64)>,
}

/// `events.lead-min-samples` by default: no lead from fewer tokens in the window.
pub const LEAD_MIN_SAMPLES: usize = 3;

impl PairTruth {
    /// How many observations in `values` are ≤ `bound`: the cumulative bucket count.
    pub fn count_le(values: &[f64], bound: f64) -> u64 {
        values.iter().filter(|&&v| v <= bound).count() as u64
    }

    /// The issuer lead a window of `window` seconds of event time (in 10 s slots) must show:
    /// none from fewer than [`LEAD_MIN_SAMPLES`] tokens.
    pub fn expected_lead(&self, window: f64) -> Option<f64> {
        let slot = |t: f64| (t / 10.0).floor();
        let newest = slot(self.newest_ts);
        let slots = (window / 10.0).floor();
        let ages: Vec<f64> = self
            .trusted
            .iter()
            .filter(|(ts, _)| slot(*ts) > newest - slots)
            .map(|&(_, age)| age)
            .collect();
        if ages.len() < LEAD_MIN_SAMPLES {
            return None;
        }
        ages.into_iter().reduce(f64::min).map(|m| -m)
    }
}

/// The truth of a whole stream.
#[derive(Debug, Default, Clone)]
pub struct Truth {
    pub pairs: BTreeMap<(String, String), PairTruth>,
    pub events: u64,
}

impl Truth {
    pub fn add(&mut self, spec: &Spec, g: &Generated) {
        let key = (
            spec.sources[g.source].clone(),
            spec.issuers[g.issuer].name.clone(),
        );
        let p = self.pairs.entry(key).or_default();
        self.events += 1;
        let age = g.ts - g.iat;
        match g.reason {
            None => {
                p.accepted += 1;
                p.ages[0].push(age);
            }
            Some(r) => {
                p.rejected += 1;
                p.ages[1].push(age);
                *p.reasons.entry(r).or_default() += 1;
                match r {
                    "expired" => p.expired_by.push(g.ts - g.exp),
                    // nbf = iat in this world
                    "not_yet_valid" | "issued_in_future" => p.premature_by.push(g.iat - g.ts),
                    _ => {}
                }
            }
        }
        // Accepted tokens and time-related rejections: a verifier checked their times.
        if matches!(
            g.reason,
            None | Some("expired" | "not_yet_valid" | "issued_in_future")
        ) {
            p.trusted.push((g.ts, age));
        }
        p.newest_ts = p.newest_ts.max(g.ts);
        // The cause of a time rejection (issue 13), in plain comparisons; nbf = iat.
        if let Some(r @ ("expired" | "not_yet_valid" | "issued_in_future")) = g.reason {
            let lead = p.running_lead(g, age);
            let (margin, skew) = if r == "expired" {
                (g.ts - g.exp, lead.map(|l| -l))
            } else {
                (g.iat - g.ts, lead)
            };
            // Still valid when the request arrived.
            let in_transit = spec.verdict_fields
                && if r == "expired" {
                    g.received() < g.exp
                } else {
                    g.received() >= g.iat
                };
            // An expired token needs −lead beyond twice the 1 s NumericDate slack
            // (verdict::cause).
            let floor = if r == "expired" { 2.0 } else { 0.0 };
            let cause = match skew {
                _ if in_transit => "in_transit",
                Some(k) if k > floor && margin <= k + 1.0 => "clock_skew",
                _ if r == "expired" && margin <= 5.0 => "expiry_edge",
                _ if r == "expired" && margin > 60.0 => "stale_token",
                _ => "unexplained",
            };
            *p.causes.entry((r, cause)).or_default() += 1;
        }
        if g.reason.is_none() {
            p.running_lead(g, age);
        }
    }
}

impl PairTruth {
    /// The lead of a 300 s window (10 s slots) after the trusted event `g` (age `age`), kept
    /// slot by slot here, apart from the exporter's `LeadWindow`.
    fn running_lead(&mut self, g: &Generated, age: f64) -> Option<f64> {
        let slot = (g.ts / 10.0).floor() as i64;
        let m = self.slot_min.entry(slot).or_insert((age, 0));
        m.0 = m.0.min(age);
        m.1 += 1;
        let newest = (self.newest_ts / 10.0).floor() as i64;
        self.slot_min.retain(|&s, _| s > newest - 30);
        let samples: u64 = self.slot_min.values().map(|(_, n)| n).sum();
        if samples < LEAD_MIN_SAMPLES as u64 {
            return None;
        }
        self.slot_min
            .values()
            .map(|(m, _)| *m)
            .reduce(f64::min)
            .map(|m| -m)
    }
}

/// Generates `n` events as NDJSON lines together with their truth.
pub fn stream(spec: Spec, n: usize) -> (Vec<String>, Truth) {
    let mut truth = Truth::default();
    let generator = Generator::new(spec.clone());
    let lines = generator
        .take(n)
        .map(|g| {
            truth.add(&spec, &g);
            g.to_json(&spec)
        })
        .collect();
    (lines, truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_plausible() {
        let (a, truth) = stream(Spec::default(), 20_000);
        let (b, _) = stream(Spec::default(), 20_000);
        assert_eq!(a, b);
        let ahead = &truth.pairs[&("orders".to_string(), "https://ahead.example".to_string())];
        assert!(
            ahead.reasons.get("not_yet_valid").copied().unwrap_or(0) > 100,
            "{ahead:?}"
        );
        let lead = ahead.expected_lead(300.0).unwrap();
        assert!((3.15..=3.21).contains(&lead), "{lead}");
        let synced = &truth.pairs[&("orders".to_string(), "https://synced.example".to_string())];
        assert_eq!(synced.reasons.get("not_yet_valid"), None);
        assert!(synced.reasons.get("expired").copied().unwrap_or(0) > 0);
    }

    /// Issue 13's fields: the same stream otherwise, and the exporter's causes (in-process
    /// recorder) equal the truth's, `in_transit` among them.
    #[test]
    fn verdict_fields_keep_the_stream_and_the_truth_knows_in_transit() {
        // One-second lifetimes and up to 2 s of delivery delay: many tokens expire while their
        // request waits.
        let mut spec = Spec {
            verdict_fields: true,
            ..Spec::default()
        };
        for i in &mut spec.issuers {
            i.lifetime = 1.0;
        }
        let (with, truth) = stream(spec.clone(), 20_000);
        let (without, _) = stream(
            Spec {
                verdict_fields: false,
                ..spec
            },
            20_000,
        );
        for (a, b) in with.iter().zip(&without) {
            let e = crate::event::parse_event(a.as_bytes(), 0.0).unwrap();
            let f = crate::event::parse_event(b.as_bytes(), 0.0).unwrap();
            assert_eq!(
                (e.ts, e.iat, e.exp, e.reason),
                (f.ts, f.iat, f.exp, f.reason)
            );
            let r = e.received.expect("received");
            assert!((0.0..=0.5).contains(&(e.ts - r)), "{a}");
        }
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new().unwrap());
        let recorder = crate::record::Recorder::new(metrics.clone(), &Default::default());
        let mut b = recorder.batch(crate::metrics::Transport::File);
        for l in &with {
            b.record(&crate::event::parse_event(l.as_bytes(), 0.0).unwrap());
        }
        drop(b);
        let text = metrics.render().unwrap();
        let mut in_transit = 0;
        for ((source, issuer), p) in &truth.pairs {
            for ((reason, cause), n) in &p.causes {
                let line = format!(
                    "skew_jwt_time_rejections_total{{cause=\"{cause}\",issuer=\"{issuer}\",reason=\"{reason}\",source=\"{source}\"}} {n}\n"
                );
                assert!(text.contains(&line), "{line}");
                if *cause == "in_transit" {
                    in_transit += n;
                }
            }
        }
        assert!(
            in_transit > 0,
            "the world has requests that waited past exp"
        );
    }

    /// The optional reasons: every reason of the closed set occurs, premature_by holds the
    /// `issued_in_future` rejections too, and the lead ignores the non-time reasons.
    #[test]
    fn optional_reasons_cover_the_closed_set() {
        let spec = Spec {
            issued_in_future_share: 0.5,
            other_reason_share: 0.1,
            ..Spec::default()
        };
        let (lines, truth) = stream(spec, 20_000);
        let mut seen = std::collections::BTreeSet::new();
        for p in truth.pairs.values() {
            seen.extend(p.reasons.keys().copied());
        }
        for r in crate::event::Reason::ALL {
            assert!(seen.contains(r.as_str()), "{r:?} never drawn: {seen:?}");
        }
        for l in &lines {
            let e = crate::event::parse_event(l.as_bytes(), 0.0).unwrap();
            if let Some(r) = e.reason {
                assert!(l.contains(&format!(r#""reason":"{}""#, r.as_str())), "{l}");
            }
        }
        let ahead = &truth.pairs[&("orders".to_string(), "https://ahead.example".to_string())];
        let premature: u64 = ["not_yet_valid", "issued_in_future"]
            .iter()
            .map(|r| ahead.reasons.get(r).copied().unwrap_or(0))
            .sum();
        assert_eq!(ahead.premature_by.len() as u64, premature);
        assert!(ahead.reasons["issued_in_future"] > 0, "{ahead:?}");
        let lead = ahead.expected_lead(300.0).unwrap();
        assert!((3.15..=3.21).contains(&lead), "{lead}");
    }

    #[test]
    fn events_parse() {
        let (lines, _) = stream(Spec::default(), 100);
        for l in lines {
            crate::event::parse_event(l.as_bytes(), 0.0).unwrap();
        }
    }
}
