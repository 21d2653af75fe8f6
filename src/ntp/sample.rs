//! One NTP exchange, judged: a valid [`Sample`], or the [`QueryResult`] class of what went
//! wrong. Also the burst filter: the lowest-delay sample of a burst is the one to trust, because
//! queueing delay is what makes an offset wrong (the classic NTP clock-filter idea).
//!
//! Nothing here does I/O; the sampler hands in what `sntpc` returned plus the first bytes of
//! the datagram it received, if any.

use std::time::Duration;

use sntpc::{Error as SntpError, KissOfDeathCode, NtpResult};

/// The largest rate (s/s) at which the true offset is assumed to change after a sample was
/// taken: 15 ppm, NTP's PHI (RFC 5905 §7.3, the "frequency tolerance") and AWS ClockBound's
/// default. It covers both clocks: the local clock's frequency error against true time since the
/// sample (the offset drifts as the local oscillator does: this is what grows the bound of a
/// stale sample), and the server's between its own updates. A typical quartz oscillator
/// disciplined by an NTP daemon stays well within it; an undisciplined one can drift faster
/// (tens of ppm), which a 64 s round re-measures within a few ms at worst. A step or a fast slew
/// of the local clock between two rounds is not drift: `ClockStepped` reports steps, and the
/// next round measures the new offset.
pub const MAX_DRIFT: f64 = 15e-6;

/// What the arithmetic can lose (seconds): sntpc reads the local clock at µs resolution
/// (`subsec_micros`, truncated) for the request and reply timestamps, which moves the offset by
/// up to 1 µs, and returns offset and delay truncated to whole µs, up to 1 µs more. 3 µs covers
/// both with a margin. (That sntpc timestamps in user space only lengthens the measured delay:
/// the extra time is inside the round trip, so delay/2 already covers it.)
pub const RESOLUTION: f64 = 3e-6;

/// The class of one exchange, the `result` label of `skew_ntp_queries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryResult {
    Ok,
    Timeout,
    KissOfDeath,
    Unsynchronized,
    InvalidResponse,
    NetworkError,
    DnsError,
}

impl QueryResult {
    pub const ALL: [QueryResult; 7] = [
        QueryResult::Ok,
        QueryResult::Timeout,
        QueryResult::KissOfDeath,
        QueryResult::Unsynchronized,
        QueryResult::InvalidResponse,
        QueryResult::NetworkError,
        QueryResult::DnsError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueryResult::Ok => "ok",
            QueryResult::Timeout => "timeout",
            QueryResult::KissOfDeath => "kiss_of_death",
            QueryResult::Unsynchronized => "unsynchronized",
            QueryResult::InvalidResponse => "invalid_response",
            QueryResult::NetworkError => "network_error",
            QueryResult::DnsError => "dns_error",
        }
    }
}

/// What a Kiss-o'-Death code asks of the client (RFC 5905 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KissAction {
    /// RATE: poll this server less often.
    BackOff,
    /// DENY, RSTR: this server refuses us; poll it as rarely as allowed.
    Stop,
    /// Any other code: no protocol meaning for a client; the reply is discarded.
    Ignore,
}

impl KissAction {
    pub fn for_code(code: KissOfDeathCode) -> Self {
        match code {
            KissOfDeathCode::Rate => KissAction::BackOff,
            KissOfDeathCode::Deny | KissOfDeathCode::Rstr => KissAction::Stop,
            _ => KissAction::Ignore,
        }
    }
}

/// A reply that passed every check. Times in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Server clock − local clock.
    pub offset: f64,
    /// Round-trip time minus the server's processing time.
    pub delay: f64,
    pub stratum: u8,
    pub leap_indicator: u8,
    pub root_delay: f64,
    pub root_dispersion: f64,
}

impl Sample {
    /// The server's own error bound: root delay / 2 + root dispersion.
    pub fn root_distance(&self) -> f64 {
        self.root_delay / 2.0 + self.root_dispersion
    }

    /// Half-width of the interval this sample vouches for: delay / 2 + root distance, never
    /// below `floor` (loopback servers otherwise claim an implausibly exact interval).
    pub fn half_width(&self, floor: f64) -> f64 {
        (self.delay / 2.0 + self.root_distance()).max(floor)
    }

    /// The error bound of this sample when it is taken: the true offset (server's reference −
    /// local clock) lies within `offset ± bound`. Half the round trip (however asymmetric the
    /// path, the offset is wrong by at most that), plus the server's own root distance (how far
    /// its clock may be from its reference), plus [`RESOLUTION`]. A sample whose figures are
    /// not finite and non-negative gets an infinite bound: the widest honest one.
    pub fn bound(&self) -> f64 {
        let parts = [self.delay, self.root_delay, self.root_dispersion];
        if parts.iter().any(|p| !p.is_finite() || *p < 0.0) {
            return f64::INFINITY;
        }
        self.delay / 2.0 + self.root_distance() + RESOLUTION
    }
}

/// A bound `age` after it was computed: it grows at [`MAX_DRIFT`].
pub fn grown(bound: f64, age: Duration) -> f64 {
    bound + MAX_DRIFT * age.as_secs_f64()
}

/// A failed exchange: its class, and what the reply (if there was one) told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub result: QueryResult,
    /// The leap indicator of a reply that came back unsynchronised (LI = 3 or stratum 16).
    pub leap_indicator: Option<u8>,
    pub kiss: Option<KissAction>,
}

impl Failure {
    pub fn new(result: QueryResult) -> Self {
        Failure {
            result,
            leap_indicator: None,
            kiss: None,
        }
    }
}

/// NTP short format (16.16 fixed point) to seconds.
fn short_to_secs(v: u32) -> f64 {
    f64::from(v) / 65536.0
}

/// Leap indicator from the first byte of a datagram, when there was one.
pub fn leap_from_header(first_byte: Option<u8>) -> Option<u8> {
    first_byte.map(|b| b >> 6)
}

/// Judges what `sntpc` made of one exchange. `first_byte` is the first byte of the datagram
/// received, used to report the leap indicator of unsynchronised replies (sntpc drops it).
pub fn classify(
    result: Result<NtpResult, SntpError>,
    first_byte: Option<u8>,
) -> Result<Sample, Failure> {
    let r = match result {
        Ok(r) => r,
        Err(e) => return Err(classify_error(e, first_byte)),
    };
    // sntpc already refused LI = 3 and stratum >= 16; keep the checks here so that this
    // function, not a dependency's internals, is what guarantees the gauges never move on them.
    if r.leap_indicator == 3 || r.stratum >= 16 {
        return Err(Failure {
            result: QueryResult::Unsynchronized,
            leap_indicator: Some(r.leap_indicator),
            kiss: None,
        });
    }
    Ok(Sample {
        offset: r.offset as f64 / 1e6,
        delay: r.roundtrip as f64 / 1e6,
        stratum: r.stratum,
        leap_indicator: r.leap_indicator,
        root_delay: short_to_secs(r.root_delay),
        root_dispersion: short_to_secs(r.root_dispersion),
    })
}

fn classify_error(e: SntpError, first_byte: Option<u8>) -> Failure {
    match e {
        SntpError::KissOfDeath(code) => Failure {
            result: QueryResult::KissOfDeath,
            leap_indicator: None,
            kiss: Some(KissAction::for_code(code)),
        },
        SntpError::UnsynchronizedClock
        | SntpError::IncorrectStratumHeaders
        | SntpError::ExcessiveRootDistance => Failure {
            result: QueryResult::Unsynchronized,
            leap_indicator: leap_from_header(first_byte),
            kiss: None,
        },
        SntpError::Network => Failure::new(QueryResult::NetworkError),
        SntpError::AddressResolve => Failure::new(QueryResult::DnsError),
        // IncorrectOriginTimestamp, IncorrectMode, InvalidTimestamp, IncorrectPayload,
        // IncorrectResponseVersion, BackwardReferenceTimestamp, ResponseAddressMismatch, and
        // whatever a later sntpc adds (the enum is non-exhaustive).
        _ => Failure::new(QueryResult::InvalidResponse),
    }
}

/// The lowest-delay sample of a burst (the first one on a tie), if any was valid.
pub fn best_of_burst(samples: &[Sample]) -> Option<Sample> {
    samples
        .iter()
        .copied()
        .reduce(|best, s| if s.delay < best.delay { s } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(offset_us: i64, roundtrip_us: u64, stratum: u8, li: u8) -> NtpResult {
        NtpResult::new(
            0,
            0,
            roundtrip_us,
            offset_us,
            stratum,
            -20,
            li,
            0x0000_8000,
            0x0001_0000,
            [0; 4],
            0,
            0,
            0,
        )
    }

    #[test]
    fn converts_units_and_root_distance() {
        let s = classify(Ok(result(-1_500_250, 2_000, 2, 0)), Some(0x24)).unwrap();
        assert_eq!(s.offset, -1.50025);
        assert_eq!(s.delay, 0.002);
        assert_eq!(s.root_delay, 0.5);
        assert_eq!(s.root_dispersion, 1.0);
        assert_eq!(s.root_distance(), 1.25);
        assert_eq!(s.half_width(0.0), 1.251);
        assert_eq!(s.stratum, 2);
    }

    #[test]
    fn half_width_has_a_floor() {
        let s = Sample {
            offset: 0.0,
            delay: 0.0001,
            stratum: 1,
            leap_indicator: 0,
            root_delay: 0.0,
            root_dispersion: 0.0,
        };
        assert_eq!(s.half_width(0.001), 0.001);
    }

    #[test]
    fn bound_is_half_the_delay_plus_root_distance_and_grows() {
        let s = classify(Ok(result(-1_500_250, 2_000, 2, 0)), Some(0x24)).unwrap();
        // 2 ms / 2 + 0.5 s / 2 + 1 s + 3 µs.
        assert!((s.bound() - 1.251003).abs() < 1e-12, "{}", s.bound());
        let b = grown(s.bound(), Duration::from_secs(1000));
        assert!((b - 1.266003).abs() < 1e-12, "{b}");
        // The smallest possible: a zero-delay loopback reply still carries the resolution.
        let exact = Sample {
            offset: 0.0,
            delay: 0.0,
            stratum: 1,
            leap_indicator: 0,
            root_delay: 0.0,
            root_dispersion: 0.0,
        };
        assert_eq!(exact.bound(), RESOLUTION);
    }

    #[test]
    fn unknown_figures_get_the_widest_bound() {
        let base = Sample {
            offset: 0.0,
            delay: 0.001,
            stratum: 2,
            leap_indicator: 0,
            root_delay: 0.0,
            root_dispersion: 0.0,
        };
        for s in [
            Sample {
                root_dispersion: f64::NAN,
                ..base
            },
            Sample {
                root_delay: f64::INFINITY,
                ..base
            },
            Sample {
                delay: -0.001,
                ..base
            },
        ] {
            assert_eq!(s.bound(), f64::INFINITY, "{s:?}");
        }
    }

    #[test]
    fn unsynchronized_results_never_become_samples() {
        let f = classify(Ok(result(0, 100, 16, 0)), None).unwrap_err();
        assert_eq!(f.result, QueryResult::Unsynchronized);
        let f = classify(Ok(result(0, 100, 2, 3)), None).unwrap_err();
        assert_eq!(
            (f.result, f.leap_indicator),
            (QueryResult::Unsynchronized, Some(3))
        );
        let f = classify(Err(SntpError::UnsynchronizedClock), Some(0xe4)).unwrap_err();
        assert_eq!(
            (f.result, f.leap_indicator),
            (QueryResult::Unsynchronized, Some(3))
        );
    }

    #[test]
    fn errors_map_to_their_class() {
        let cases = [
            (
                SntpError::IncorrectOriginTimestamp,
                QueryResult::InvalidResponse,
            ),
            (SntpError::IncorrectMode, QueryResult::InvalidResponse),
            (SntpError::InvalidTimestamp, QueryResult::InvalidResponse),
            (SntpError::IncorrectPayload, QueryResult::InvalidResponse),
            (
                SntpError::IncorrectResponseVersion,
                QueryResult::InvalidResponse,
            ),
            (
                SntpError::ResponseAddressMismatch,
                QueryResult::InvalidResponse,
            ),
            (
                SntpError::BackwardReferenceTimestamp,
                QueryResult::InvalidResponse,
            ),
            (
                SntpError::IncorrectStratumHeaders,
                QueryResult::Unsynchronized,
            ),
            (
                SntpError::ExcessiveRootDistance,
                QueryResult::Unsynchronized,
            ),
            (SntpError::Network, QueryResult::NetworkError),
            (SntpError::AddressResolve, QueryResult::DnsError),
        ];
        for (err, class) in cases {
            assert_eq!(
                classify(Err(err), None).unwrap_err().result,
                class,
                "{err:?}"
            );
        }
    }

    #[test]
    fn kiss_codes_choose_an_action() {
        let kiss = |c| classify(Err(SntpError::KissOfDeath(c)), None).unwrap_err();
        assert_eq!(kiss(KissOfDeathCode::Rate).kiss, Some(KissAction::BackOff));
        assert_eq!(kiss(KissOfDeathCode::Deny).kiss, Some(KissAction::Stop));
        assert_eq!(kiss(KissOfDeathCode::Rstr).kiss, Some(KissAction::Stop));
        assert_eq!(kiss(KissOfDeathCode::Init).kiss, Some(KissAction::Ignore));
        assert_eq!(kiss(KissOfDeathCode::Rate).result, QueryResult::KissOfDeath);
    }

    #[test]
    fn burst_filter_keeps_the_lowest_delay() {
        let s = |offset, delay| Sample {
            offset,
            delay,
            stratum: 2,
            leap_indicator: 0,
            root_delay: 0.0,
            root_dispersion: 0.0,
        };
        assert_eq!(best_of_burst(&[]), None);
        let burst = [
            s(0.010, 0.030),
            s(0.002, 0.004),
            s(-0.050, 0.100),
            s(0.003, 0.004),
        ];
        assert_eq!(
            best_of_burst(&burst),
            Some(s(0.002, 0.004)),
            "lowest delay, first on a tie"
        );
    }

    #[test]
    fn result_labels_are_the_contract() {
        let labels: Vec<_> = QueryResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            labels,
            [
                "ok",
                "timeout",
                "kiss_of_death",
                "unsynchronized",
                "invalid_response",
                "network_error",
                "dns_error"
            ]
        );
    }
}
