//! Every metric family the exporter exposes, registered in one registry: all of them here, but
//! for the two reload gauges (`skew_config_last_reload_*`), which `reload::ReloadMetrics`
//! registers in the same registry.
//!
//! The names, types and labels are the contract in the README's metric list; dashboards, alert
//! rules and tests depend on them. Label values that come from configuration (the NTP `server`)
//! are bounded by the configuration; label values that come from input are bounded by
//! [`crate::labels`] before they reach a family here.

use std::sync::atomic::{AtomicUsize, Ordering};

use arc_swap::ArcSwap;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::event::InvalidKind;
use crate::ingest::refusal::Refusal;
use crate::ntp::sample::QueryResult;

mod growing;
mod histogram;
mod jwt;
mod lead;
pub mod recent;
pub use growing::GrowingGaugeVec;
pub use histogram::{AtomicHistogram, Buckets, LocalHistogram, SourceHistograms};
#[cfg(test)]
pub(crate) use jwt::reference;
pub use jwt::{Family, JwtMetrics, PairSeries, Reserved, Snapshot};
pub use lead::{LeadWindow, LEAD_SLOT};

/// Buckets of `skew_ntp_sample_offset_seconds`: dense around the ±100 ms alert threshold.
pub const NTP_OFFSET_BUCKETS: &[f64] = &[
    -1.0, -0.5, -0.25, -0.15, -0.1, -0.075, -0.05, -0.025, -0.01, -0.005, -0.001, 0.0, 0.001,
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
];

/// Default buckets of `skew_jwt_age_seconds` (seconds), negative bounds included: they show a
/// verifier behind its issuer.
pub const DEFAULT_AGE_BUCKETS: &[f64] = &[
    -300.0, -60.0, -30.0, -10.0, -5.0, -2.0, -1.0, -0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5, 1.0,
    2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 86400.0,
];

/// Buckets of `skew_jwt_expired_by_seconds` and `skew_jwt_premature_by_seconds`. 5 s must stay
/// a bound: "expired less than 5 s ago" is the zero-leeway signature alerts look for.
pub const EDGE_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
    604800.0,
];

/// Buckets of `skew_jwt_rejection_lifetime_fraction`: dense around 1 (the end of a token's
/// life), where skew and delay at the edge show; a negative fraction (rejected before `iat`)
/// lands in the first bucket.
pub const LIFETIME_BUCKETS: &[f64] = &[
    0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0, 1.01, 1.05, 1.1, 1.5, 2.0, 10.0,
];

/// Buckets of `skew_jwt_verification_delay_seconds` (`ts − received`): 1 s is the alert's
/// threshold (`JwtVerificationDelayHigh`, p99 above it).
pub const DELAY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];

/// The families of issue 13 ("token verdicts") that are labelled by `source` (or `issuer`)
/// alone, not by the pair: kept in the registry, resolved once per pair by the recorder.
pub struct VerdictMetrics {
    /// `skew_jwt_verification_delay_seconds{source}`: `ts − received`, in atomics that a
    /// [`crate::record::Batch`] adds its local counts to.
    pub delay: SourceHistograms,
    /// `skew_jwt_verifier_leeway_seconds{source}`: the `leeway` a source reports.
    pub verifier_leeway: GaugeVec,
    /// `skew_jwt_key_verifications_total{source,kid,outcome}`: `kid` bounded like `issuer`.
    pub key_verifications: IntCounterVec,
}

/// (name, HELP) of the [`VerdictMetrics`] families, shared with the tests' reference recorder.
pub mod verdict_names {
    pub const DELAY: (&str, &str) = (
        "skew_jwt_verification_delay_seconds",
        "Verification delay reported by verifiers: ts - received (the request waited; a negative delay is counted at 0).",
    );
    pub const VERIFIER_LEEWAY: (&str, &str) = (
        "skew_jwt_verifier_leeway_seconds",
        "The leeway a verifier reports applying (the event's leeway field; /v1/verify's own).",
    );
    pub const ISSUER_CLOCK_ERROR: (&str, &str) = (
        "skew_jwt_issuer_clock_error_seconds",
        "Issuer clock minus true time: the issuer lead seen by verifiers on this host (/v1/verify, events.local-sources) minus this host's NTP system offset. Absent without either.",
    );
    pub const KEY_VERIFICATIONS: (&str, &str) = (
        "skew_jwt_key_verifications_total",
        "JWT verifications by key id (kid; none when absent) and outcome.",
    );
}

impl VerdictMetrics {
    fn register(r: &Registry) -> prometheus::Result<Self> {
        use verdict_names::*;
        Ok(VerdictMetrics {
            delay: {
                let h = SourceHistograms::new(DELAY.0, DELAY.1, DELAY_BUCKETS)?;
                r.register(Box::new(h.clone()))?;
                h
            },
            verifier_leeway: gauge(r, VERIFIER_LEEWAY.0, VERIFIER_LEEWAY.1, &["source"])?,
            key_verifications: counter(
                r,
                KEY_VERIFICATIONS.0,
                KEY_VERIFICATIONS.1,
                &["source", "kid", "outcome"],
            )?,
        })
    }
}

/// The ingestion transports: the `transport` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Http,
    File,
    Verify,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Http, Transport::File, Transport::Verify];

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::File => "file",
            Transport::Verify => "verify",
        }
    }
}

/// The registry and typed handles to every family.
pub struct Metrics {
    /// Every family except the six per-pair JWT ones, which [`JwtMetrics`] keeps and writes
    /// itself (their names are reserved here, see [`Reserved`]).
    registry: Registry,
    /// Size of the last rendered body: the next one is allocated at about that size at once.
    last_render: AtomicUsize,
    pub ntp: NtpMetrics,
    pub jwt: JwtMetrics,
    pub ingest: IngestMetrics,
    pub tail: TailMetrics,
    pub verify: VerifyMetrics,
    pub http: HttpMetrics,
    pub http_date: HttpDateMetrics,
    /// Snapshots of the rejection and NTP query counters for the live page (not exported).
    pub recent: recent::Recent,
    pub verdicts: VerdictMetrics,
    /// The sources whose verifier runs on this host: `events.local-sources` and `/v1/verify`'s.
    local_sources: ArcSwap<LocalSources>,
}

/// The sources whose clock is this host's, set by the recorder (`events.local-sources`) and by
/// `/v1/verify` (its own source, while it runs).
#[derive(Debug, Default, Clone)]
struct LocalSources {
    events: Vec<String>,
    verify: Option<String>,
}

impl LocalSources {
    fn contains(&self, source: &str) -> bool {
        self.verify.as_deref() == Some(source) || self.events.iter().any(|s| s == source)
    }
}

/// Remote clocks measured from HTTP `Date` headers (label `target`: the configured name, so
/// bounded by the configuration). Series are created by `probe::prober::spawn`.
pub struct HttpDateMetrics {
    pub offset: GaugeVec,
    pub bound: GaugeVec,
    /// `result` ∈ `probe::estimate::ProbeResult::ALL`, one per round.
    pub probes: IntCounterVec,
    pub requests: IntCounterVec,
    /// 1 for each target configured with an `issuer` (labels `target`, `issuer`): what the
    /// dashboard joins the token-derived lead with.
    pub target_info: IntGaugeVec,
}

impl HttpDateMetrics {
    fn register(r: &Registry) -> prometheus::Result<Self> {
        let t = &["target"];
        Ok(HttpDateMetrics {
            offset: gauge(
                r,
                "skew_http_date_offset_seconds",
                "Target clock minus local clock, from its HTTP Date headers (midpoint of the interval of the last good round; same sign as NTP).",
                t,
            )?,
            bound: gauge(
                r,
                "skew_http_date_offset_bound_seconds",
                "Half-width of the interval that holds the target's true offset.",
                t,
            )?,
            probes: counter(
                r,
                "skew_http_date_probes_total",
                "HTTP Date probe rounds by result (ok, timeout, connection_error, dns_error, tls_error, http_error, no_date, bad_date).",
                &["target", "result"],
            )?,
            requests: counter(
                r,
                "skew_http_date_requests_total",
                "HTTP requests the Date probe sent (redirects followed included).",
                t,
            )?,
            target_info: int_gauge(
                r,
                "skew_http_date_target_info",
                "1 for each HTTP Date target configured with the JWT issuer it measures.",
                &["target", "issuer"],
            )?,
        })
    }
}

/// What the HTTP server refused or cut off: an addition to the contract (README, "Limits and
/// hardening"; docs/bad-input.md).
pub struct HttpMetrics {
    /// `timeout` ∈ `header`, `idle`: connections closed because the peer was too slow.
    pub connections_timed_out: IntCounterVec,
    /// `listener` ∈ `main`, `events`, `verify`, `probe`: connections over `--web.max-connections`
    /// closed unserved, and scrape-reserve connections that asked for another path. A child
    /// exists for each listener that runs (`server::Server::for_listener`).
    pub connections_refused: IntCounterVec,
    /// `reason` ∈ the [`Refusal`]s: `POST /v1/events` requests answered without reading any
    /// event (the events of a body over the limit also count as `too_large`).
    pub events_refused: IntCounterVec,
}

impl HttpMetrics {
    fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = HttpMetrics {
            connections_timed_out: counter(
                r,
                "skew_http_connections_timed_out_total",
                "HTTP connections closed by a timeout: header (request head not received in time, or idle keep-alive), idle (nothing moved while waiting on the client, e.g. a response not read).",
                &["timeout"],
            )?,
            connections_refused: counter(
                r,
                "skew_http_connections_refused_total",
                "HTTP connections refused because the listener already served --web.max-connections (on the main listener: and its scrape reserve was full, or the connection asked the reserve for another path than the metrics or /healthz).",
                &["listener"],
            )?,
            events_refused: counter(
                r,
                "skew_events_requests_refused_total",
                "POST /v1/events requests refused before any event was read, by reason.",
                &["reason"],
            )?,
        };
        for t in ["header", "idle"] {
            m.connections_timed_out.with_label_values(&[t]);
        }
        for r in Refusal::ALL {
            m.events_refused.with_label_values(&[r.reason()]);
        }
        Ok(m)
    }
}

/// `/v1/verify` key management: an addition to the contract (README, "Token verification").
/// Children are created by `verify::http::start`, so only exporters that verify export them.
pub struct VerifyMetrics {
    /// `result` ∈ `ok`, `error`: loads of a key source after start-up; `error` also counts
    /// each JWKS key a load refused.
    pub key_reloads: IntCounterVec,
    /// No labels: keys currently loaded.
    pub keys: IntGaugeVec,
    /// `result` ∈ `hit`, `miss`: lookups in the verified-token cache (when it is on).
    pub cache_requests: IntCounterVec,
    /// No labels: verified tokens the cache holds (when it is on).
    pub cache_entries: IntGaugeVec,
}

impl VerifyMetrics {
    fn register(r: &Registry) -> prometheus::Result<Self> {
        Ok(VerifyMetrics {
            key_reloads: counter(
                r,
                "skew_verify_key_reloads_total",
                "Loads of a /v1/verify key source after start-up (a changed key file, a JWKS URL fetch), by result (ok, error). On error the previous keys stay. Error also counts each JWKS key a load refused (start-up included).",
                &["result"],
            )?,
            keys: int_gauge(
                r,
                "skew_verify_keys",
                "Verification keys /v1/verify currently holds.",
                &[],
            )?,
            cache_requests: counter(
                r,
                "skew_verify_cache_requests_total",
                "Lookups of a token in the /v1/verify verified-token cache, by result (hit, miss). A hit skips the signature check; the token's times and the policy are still checked.",
                &["result"],
            )?,
            cache_entries: int_gauge(
                r,
                "skew_verify_cache_entries",
                "Verified tokens the /v1/verify cache holds.",
                &[],
            )?,
        })
    }
}

/// File tailing, per configured pattern (label `pattern`, the pattern as configured; for an
/// `[[events.follow]]` table, its `name`, or else its `path`).
pub struct TailMetrics {
    pub lines: IntCounterVec,
    pub bytes: IntCounterVec,
    pub rotations: IntCounterVec,
    pub truncations: IntCounterVec,
    pub refused: IntCounterVec,
    pub skipped: IntCounterVec,
    pub read_errors: IntCounterVec,
    pub lag: IntGaugeVec,
    pub files: IntGaugeVec,
}

impl TailMetrics {
    fn register(r: &Registry) -> prometheus::Result<Self> {
        let p = &["pattern"];
        Ok(TailMetrics {
            lines: counter(r, "skew_tail_lines_total", "Lines read from followed files.", p)?,
            bytes: counter(r, "skew_tail_bytes_total", "Bytes read from followed files.", p)?,
            rotations: counter(
                r,
                "skew_tail_rotations_total",
                "Times a followed path was found to hold a new file (rename or delete + create).",
                p,
            )?,
            truncations: counter(
                r,
                "skew_tail_truncations_total",
                "Times a followed file shrank or was rewritten (copytruncate); reading restarted at 0.",
                p,
            )?,
            refused: counter(
                r,
                "skew_tail_lines_refused_total",
                "Lines refused (invalid events or over --events.max-line).",
                p,
            )?,
            skipped: counter(
                r,
                "skew_tail_lines_skipped_total",
                "Lines of an [[events.follow]] log that are not verifications: the regex did not match, event-when was absent, or the line was blank.",
                p,
            )?,
            read_errors: counter(
                r,
                "skew_tail_read_errors_total",
                "Failed opens, stats or reads of files matching the pattern (retried).",
                p,
            )?,
            lag: int_gauge(
                r,
                "skew_tail_lag_bytes",
                "Bytes written to the followed files but not yet recorded (size - offset).",
                p,
            )?,
            files: int_gauge(r, "skew_tail_files", "Files currently followed.", p)?,
        })
    }

    /// Removes every series of a pattern no longer followed (after a reload).
    pub fn forget(&self, pattern: &str) {
        let l = &[pattern];
        let _ = self.lines.remove_label_values(l);
        let _ = self.bytes.remove_label_values(l);
        let _ = self.rotations.remove_label_values(l);
        let _ = self.truncations.remove_label_values(l);
        let _ = self.refused.remove_label_values(l);
        let _ = self.skipped.remove_label_values(l);
        let _ = self.read_errors.remove_label_values(l);
        let _ = self.lag.remove_label_values(l);
        let _ = self.files.remove_label_values(l);
    }
}

/// Ingestion and the guard.
pub struct IngestMetrics {
    pub received: IntCounterVec,
    pub invalid: IntCounterVec,
    /// Rejected events whose `token` could not be read (the rejection itself is recorded).
    pub token_unreadable: IntCounterVec,
    pub label_overflow: IntCounterVec,
}

impl IngestMetrics {
    fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = IngestMetrics {
            received: counter(
                r,
                "skew_events_received_total",
                "Verification events recorded, by transport.",
                &["transport"],
            )?,
            invalid: counter(
                r,
                "skew_events_invalid_total",
                "Events refused, by transport and error class.",
                &["transport", "error"],
            )?,
            token_unreadable: counter(
                r,
                "skew_events_token_unreadable_total",
                "Rejected events whose token could not be read, by transport (the rejection is still counted).",
                &["transport"],
            )?,
            label_overflow: counter(
                r,
                "skew_label_overflow_total",
                "Events whose source, issuer or kid was folded into `other` by the cardinality guard.",
                &["label"],
            )?,
        };
        for t in Transport::ALL {
            m.received.with_label_values(&[t.as_str()]);
            m.token_unreadable.with_label_values(&[t.as_str()]);
            for k in InvalidKind::ALL {
                m.invalid.with_label_values(&[t.as_str(), k.as_str()]);
            }
        }
        for l in ["source", "issuer", "kid"] {
            m.label_overflow.with_label_values(&[l]);
        }
        Ok(m)
    }
}

/// The NTP section of the contract. Label `server` is the configured `host:port`, verbatim.
pub struct NtpMetrics {
    pub offset: GaugeVec,
    pub delay: GaugeVec,
    pub stratum: IntGaugeVec,
    pub leap_indicator: IntGaugeVec,
    pub root_distance: GaugeVec,
    pub sample_offset: HistogramVec,
    pub queries: IntCounterVec,
    pub last_success: GaugeVec,
    pub falseticker: IntGaugeVec,
    /// No labels; the single child exists only while a majority does.
    pub system_offset: GaugeVec,
    pub servers_agreeing: IntGaugeVec,
    /// `skew_ntp_offset_bound_seconds{server}`: grows with the sample's age, computed at scrape.
    pub offset_bound: GrowingGaugeVec,
    /// `skew_ntp_system_offset_bound_seconds`: present exactly when `system_offset` is.
    pub system_offset_bound: GrowingGaugeVec,
}

fn growing(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<GrowingGaugeVec> {
    let g = GrowingGaugeVec::new(name, help, labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<GaugeVec> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn int_gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> prometheus::Result<HistogramVec> {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)?;
    registry.register(Box::new(h.clone()))?;
    Ok(h)
}

impl NtpMetrics {
    fn register(r: &Registry) -> prometheus::Result<Self> {
        let s = &["server"];
        Ok(NtpMetrics {
            offset: gauge(
                r,
                "skew_ntp_offset_seconds",
                "Server clock minus local clock of the lowest-delay sample of the last burst (positive: local clock behind).",
                s,
            )?,
            delay: gauge(r, "skew_ntp_delay_seconds", "Round-trip delay of that sample.", s)?,
            stratum: int_gauge(r, "skew_ntp_stratum", "Server stratum from the last good reply.", s)?,
            leap_indicator: int_gauge(
                r,
                "skew_ntp_leap_indicator",
                "Leap indicator of the last reply, 0..3 (3 = server unsynchronised).",
                s,
            )?,
            root_distance: gauge(
                r,
                "skew_ntp_root_distance_seconds",
                "Root delay / 2 + root dispersion of the last good reply.",
                s,
            )?,
            sample_offset: histogram(
                r,
                "skew_ntp_sample_offset_seconds",
                "Every accepted raw offset sample.",
                s,
                NTP_OFFSET_BUCKETS.to_vec(),
            )?,
            queries: counter(r, "skew_ntp_queries_total", "NTP exchanges by result class.", &["server", "result"])?,
            last_success: gauge(
                r,
                "skew_ntp_last_success_timestamp_seconds",
                "Unix time of the last accepted sample.",
                s,
            )?,
            falseticker: int_gauge(
                r,
                "skew_ntp_falseticker",
                "1 when the server's interval disagrees with the majority.",
                s,
            )?,
            system_offset: gauge(
                r,
                "skew_ntp_system_offset_seconds",
                "Combined offset of the agreeing servers; absent when no majority.",
                &[],
            )?,
            servers_agreeing: int_gauge(
                r,
                "skew_ntp_servers_agreeing",
                "How many servers form the majority (0 without one).",
                &[],
            )?,
            offset_bound: growing(
                r,
                "skew_ntp_offset_bound_seconds",
                "Half-width of the interval that holds the true offset of that sample: delay/2 + root delay/2 + root dispersion + timestamp resolution, growing at 15 ppm of the sample's age.",
                s,
            )?,
            system_offset_bound: growing(
                r,
                "skew_ntp_system_offset_bound_seconds",
                "Half-width of the interval that holds the true system offset; absent when the system offset is.",
                &[],
            )?,
        })
    }

    /// Removes every series of a server no longer configured (after a reload), so that no
    /// alert keeps judging a server nobody samples any more. (`ntp::sampler` creates them.)
    pub fn forget(&self, server: &str) {
        let l = &[server];
        let _ = self.offset.remove_label_values(l);
        let _ = self.delay.remove_label_values(l);
        let _ = self.stratum.remove_label_values(l);
        let _ = self.leap_indicator.remove_label_values(l);
        let _ = self.root_distance.remove_label_values(l);
        let _ = self.sample_offset.remove_label_values(l);
        let _ = self.last_success.remove_label_values(l);
        let _ = self.falseticker.remove_label_values(l);
        self.offset_bound.remove(l);
        for r in QueryResult::ALL {
            let _ = self.queries.remove_label_values(&[server, r.as_str()]);
        }
    }
}

/// `skew_config_last_reload_*`, Prometheus's own names for the outcome of a reload. Registered
/// by the daemon only (`analyze` does not reload), see [`ReloadMetrics::register`].
#[derive(Clone)]
pub struct ReloadMetrics {
    pub successful: IntGauge,
    pub success_timestamp: Gauge,
}

impl ReloadMetrics {
    /// Registers both gauges; the start-up load counts as the first successful one.
    pub fn register(metrics: &Metrics) -> prometheus::Result<Self> {
        let successful = IntGauge::new(
            "skew_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful (1) or not (0).",
        )?;
        let success_timestamp = Gauge::new(
            "skew_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load (start-up or reload).",
        )?;
        metrics.registry().register(Box::new(successful.clone()))?;
        metrics
            .registry()
            .register(Box::new(success_timestamp.clone()))?;
        successful.set(1);
        success_timestamp.set(crate::unix_now());
        Ok(ReloadMetrics {
            successful,
            success_timestamp,
        })
    }
}

impl Metrics {
    /// Registers every family with the default age buckets.
    pub fn new() -> prometheus::Result<Self> {
        Self::with_age_buckets(DEFAULT_AGE_BUCKETS.to_vec())
    }

    /// Registers every family, the process collector and `skew_exporter_build_info`.
    pub fn with_age_buckets(age_buckets: Vec<f64>) -> prometheus::Result<Self> {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let build_info = int_gauge(
            &registry,
            "skew_exporter_build_info",
            "Version and git revision of this build; always 1.",
            &["version", "revision"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::REVISION])
            .set(1);
        let ntp = NtpMetrics::register(&registry)?;
        let jwt = JwtMetrics::new(&age_buckets, EDGE_BUCKETS)?;
        registry.register(Box::new(Reserved::new(&jwt)))?;
        let ingest = IngestMetrics::register(&registry)?;
        let tail = TailMetrics::register(&registry)?;
        let verify = VerifyMetrics::register(&registry)?;
        let http = HttpMetrics::register(&registry)?;
        let http_date = HttpDateMetrics::register(&registry)?;
        let verdicts = VerdictMetrics::register(&registry)?;
        Ok(Metrics {
            registry,
            last_render: AtomicUsize::new(0),
            ntp,
            jwt,
            ingest,
            tail,
            verify,
            http,
            http_date,
            recent: recent::Recent::new(crate::unix_now()),
            verdicts,
            local_sources: ArcSwap::from_pointee(LocalSources::default()),
        })
    }

    /// The registry of every family except the six per-pair JWT families (`skew_jwt_*` with
    /// `source` and `issuer`), which [`JwtMetrics`] holds. Register new families here: `/metrics`
    /// renders everything registered. To read every family, use [`Metrics::gather`], not this
    /// registry's `gather`.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every family as protobuf structs, sorted by name, as one registry holding them all would
    /// gather them. The slow path, for `analyze` and tests; `/metrics` uses [`Metrics::render`].
    pub fn gather(&self) -> Vec<MetricFamily> {
        let mut all = self.registry.gather();
        all.extend(self.jwt.collect());
        all.extend(self.issuer_clock_error());
        // Stable, and names are unique (the JWT names are reserved in the registry).
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }

    /// `events.local-sources`: sources whose verifier runs on this host.
    pub fn set_local_sources(&self, sources: &[String]) {
        self.local_sources.rcu(|l| LocalSources {
            events: sources.to_vec(),
            ..(**l).clone()
        });
    }

    /// `/v1/verify`'s source while it runs (`None` when it does not).
    pub fn set_verify_source(&self, source: Option<&str>) {
        self.local_sources.rcu(|l| LocalSources {
            verify: source.map(str::to_owned),
            ..(**l).clone()
        });
    }

    /// `skew_jwt_issuer_clock_error_seconds{issuer}`, computed at scrape time from the leads
    /// of the local sources' pairs and the NTP system offset (`verdict::issuer_clock_errors`,
    /// where the sign algebra is); `None` when it has no series.
    fn issuer_clock_error(&self) -> Option<MetricFamily> {
        use prometheus::proto::{Gauge as GaugeProto, Metric, MetricType};
        let offset = self
            .ntp
            .system_offset
            .collect()
            .first()
            .and_then(|f| f.get_metric().first().map(|m| m.get_gauge().value()));
        let local = self.local_sources.load();
        let snapshot = self.jwt.snapshot();
        let leads: Vec<(std::sync::Arc<str>, f64)> = snapshot
            .pairs()
            .iter()
            .filter(|p| local.contains(&p.source()))
            .filter_map(|p| p.lead().map(|l| (p.issuer(), l)))
            .collect();
        let errors =
            crate::verdict::issuer_clock_errors(leads.iter().map(|(i, l)| (&**i, *l)), offset);
        if errors.is_empty() {
            return None;
        }
        let metrics = errors
            .into_iter()
            .map(|(issuer, e)| {
                let mut g = GaugeProto::default();
                g.set_value(e);
                let mut m = Metric::from_label(vec![histogram::label_pair("issuer", issuer)]);
                m.set_gauge(g);
                m
            })
            .collect();
        let (name, help) = verdict_names::ISSUER_CLOCK_ERROR;
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_owned());
        mf.set_help(help.to_owned());
        mf.set_field_type(MetricType::GAUGE);
        mf.set_metric(metrics);
        Some(mf)
    }

    /// The Prometheus text exposition of every family, sorted by name: the registry's families
    /// through the crate's `TextEncoder`, the per-pair JWT families by [`JwtMetrics`] straight
    /// from their atomics, each at its place in the name order.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut families = self.registry.gather();
        if let Some(f) = self.issuer_clock_error() {
            let at = families.partition_point(|mf| mf.name() < f.name());
            families.insert(at, f);
        }
        // The body is about as large as the last one: allocating that at once saves the copies
        // of a growing buffer (megabytes with every label slot filled).
        let hint = self.last_render.load(Ordering::Relaxed);
        let mut out = String::with_capacity((hint + hint / 8).max(16 * 1024));
        let encoder = TextEncoder::new();
        let snapshot = self.jwt.snapshot();
        let mut rest = &families[..];
        for f in Family::ALL {
            let before = rest.partition_point(|mf| mf.name() < f.name());
            encoder.encode_utf8(&rest[..before], &mut out)?;
            rest = &rest[before..];
            self.jwt.encode_family(f, &snapshot, &mut out);
        }
        encoder.encode_utf8(rest, &mut out)?;
        self.last_render.store(out.len(), Ordering::Relaxed);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_build_info_and_process_metrics() {
        let m = Metrics::new().unwrap();
        let text = m.render().unwrap();
        assert!(
            text.contains("skew_exporter_build_info{revision="),
            "{text}"
        );
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }

    /// Issue 13, section 5: the lead of local sources, corrected by this host's NTP offset;
    /// absent without an offset or a local lead, in both the text and the gathered structs.
    #[test]
    fn issuer_clock_error_from_local_leads_and_the_ntp_offset() {
        let m = Metrics::new().unwrap();
        let family = "skew_jwt_issuer_clock_error_seconds";
        let lead = |source: &str, issuer: &str, v: f64| {
            m.jwt.pair(source.into(), issuer.into()).set_issuer_lead(v);
        };
        lead("orders", "https://idp", 3.0004);
        lead("gateway", "https://idp", 2.5);
        lead("remote", "https://other", 7.0);
        let has = |m: &Metrics| {
            m.gather().iter().any(|f| f.name() == family) || m.render().unwrap().contains(family)
        };
        assert!(!has(&m), "no local source yet");
        m.set_local_sources(&["orders".to_owned()]);
        assert!(!has(&m), "no NTP offset yet");
        m.ntp
            .system_offset
            .with_label_values::<&str>(&[])
            .set(0.0004);
        let text = m.render().unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{family}{{")))
            .unwrap_or_else(|| panic!("{text}"));
        let (series, v) = line.rsplit_once(' ').unwrap();
        assert_eq!(series, format!("{family}{{issuer=\"https://idp\"}}"));
        assert!((v.parse::<f64>().unwrap() - 3.0).abs() < 1e-9, "{line}");
        assert_eq!(
            text.matches(&format!("{family}{{")).count(),
            1,
            "remote is not local"
        );
        // /v1/verify's source counts too; the larger lead of one issuer wins.
        m.set_verify_source(Some("gateway"));
        lead("gateway", "https://idp", 4.0004);
        assert!(m
            .render()
            .unwrap()
            .contains(&format!("{family}{{issuer=\"https://idp\"}} 4\n")));
        assert!(m
            .gather()
            .iter()
            .any(|f| f.name() == family && f.get_metric().len() == 1));
        m.ntp.system_offset.reset();
        assert!(!has(&m), "no majority, no correction");
    }

    #[test]
    fn system_offset_is_absent_until_set_and_after_reset() {
        let m = Metrics::new().unwrap();
        assert!(!m
            .render()
            .unwrap()
            .contains("\nskew_ntp_system_offset_seconds "));
        m.ntp.system_offset.with_label_values::<&str>(&[]).set(0.5);
        assert!(m
            .render()
            .unwrap()
            .contains("\nskew_ntp_system_offset_seconds 0.5\n"));
        m.ntp.system_offset.reset();
        assert!(!m
            .render()
            .unwrap()
            .contains("\nskew_ntp_system_offset_seconds "));
    }

    /// The `server` / `pattern` label values of every sample line of `family`.
    fn labelled(m: &Metrics, family: &str, label: &str) -> Vec<String> {
        let needle = format!("{label}=\"");
        let mut out: Vec<String> = m
            .render()
            .unwrap()
            .lines()
            .filter(|l| l.starts_with(family) && !l.starts_with('#'))
            .filter_map(|l| {
                let rest = &l[l.find(&needle)? + needle.len()..];
                Some(rest[..rest.find('"')?].to_owned())
            })
            .collect();
        out.dedup();
        out
    }

    #[test]
    fn forgetting_a_server_removes_each_of_its_series_and_only_those() {
        let m = Metrics::new().unwrap();
        for server in ["a:123", "b:123"] {
            let n = &m.ntp;
            let l = &[server];
            n.offset.with_label_values(l).set(0.1);
            n.delay.with_label_values(l).set(0.01);
            n.stratum.with_label_values(l).set(2);
            n.leap_indicator.with_label_values(l).set(0);
            n.root_distance.with_label_values(l).set(0.02);
            n.sample_offset.with_label_values(l).observe(0.1);
            n.last_success.with_label_values(l).set(1.0);
            n.falseticker.with_label_values(l).set(0);
            for r in QueryResult::ALL {
                n.queries.with_label_values(&[server, r.as_str()]).inc();
            }
        }
        m.ntp.forget("a:123");
        let text = m.render().unwrap();
        assert!(!text.contains("server=\"a:123\""), "{text}");
        assert_eq!(labelled(&m, "skew_ntp_", "server"), ["b:123"]);
        // `b` keeps its series, a query result each among them.
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("skew_ntp_queries_total{"))
                .count(),
            QueryResult::ALL.len()
        );
    }

    #[test]
    fn forgetting_a_pattern_removes_each_of_its_series_and_only_those() {
        let m = Metrics::new().unwrap();
        let t = &m.tail;
        for p in ["/a/*.jsonl", "/b/*.jsonl"] {
            let l = &[p];
            for c in [
                &t.lines,
                &t.bytes,
                &t.rotations,
                &t.truncations,
                &t.refused,
                &t.read_errors,
            ] {
                c.with_label_values(l).inc();
            }
            t.lag.with_label_values(l).set(1);
            t.files.with_label_values(l).set(1);
        }
        t.forget("/a/*.jsonl");
        let text = m.render().unwrap();
        assert!(!text.contains("/a/"), "{text}");
        assert_eq!(labelled(&m, "skew_tail_", "pattern"), ["/b/*.jsonl"]);
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("skew_tail_") && l.contains("/b/"))
                .count(),
            8
        );
    }

    #[test]
    fn every_refusal_reason_exists_from_the_start() {
        let m = Metrics::new().unwrap();
        let text = m.render().unwrap();
        for r in Refusal::ALL {
            let line = format!(
                "skew_events_requests_refused_total{{reason=\"{}\"}} 0\n",
                r.reason()
            );
            assert!(text.contains(&line), "{line} not in {text}");
        }
    }

    #[test]
    fn edge_buckets_keep_the_five_second_bound() {
        assert!(EDGE_BUCKETS.contains(&5.0));
        // Issue 13: "rejections that N more seconds of leeway would have let through" is one
        // query on expired_by / premature_by for these N.
        for n in [1.0, 2.0, 5.0, 10.0, 30.0] {
            assert!(EDGE_BUCKETS.contains(&n), "{n}");
        }
        assert!(DELAY_BUCKETS.contains(&1.0), "the delay alert's threshold");
        assert!(LIFETIME_BUCKETS.contains(&1.0));
        assert!(DELAY_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert!(LIFETIME_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert!(EDGE_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert!(DEFAULT_AGE_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn offset_buckets_are_sorted_and_dense_at_the_threshold() {
        assert!(NTP_OFFSET_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert!(NTP_OFFSET_BUCKETS.contains(&0.1) && NTP_OFFSET_BUCKETS.contains(&-0.1));
    }
}
