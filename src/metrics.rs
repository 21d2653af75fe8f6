//! Every metric family the exporter exposes, in one place, registered in one registry.
//!
//! The names, types and labels are the contract in the README's metric list; dashboards, alert
//! rules and tests depend on them. Label values that come from configuration (the NTP `server`)
//! are bounded by the configuration; label values that come from input are bounded by
//! [`crate::labels`] before they reach a family here.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets of `skew_ntp_sample_offset_seconds`: dense around the ±100 ms alert threshold.
pub const NTP_OFFSET_BUCKETS: &[f64] = &[
    -1.0, -0.5, -0.25, -0.15, -0.1, -0.075, -0.05, -0.025, -0.01, -0.005, -0.001, 0.0, 0.001, 0.005, 0.01,
    0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
];

/// The registry and typed handles to every family.
pub struct Metrics {
    registry: Registry,
    pub ntp: NtpMetrics,
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
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn int_gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
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
        })
    }
}

impl Metrics {
    /// Registers every family, the process collector and `skew_exporter_build_info`.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
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
        Ok(Metrics { registry, ntp })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::with_capacity(16 * 1024);
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_build_info_and_process_metrics() {
        let m = Metrics::new().unwrap();
        let text = m.render().unwrap();
        assert!(text.contains("skew_exporter_build_info{revision="), "{text}");
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }

    #[test]
    fn system_offset_is_absent_until_set_and_after_reset() {
        let m = Metrics::new().unwrap();
        assert!(!m.render().unwrap().contains("\nskew_ntp_system_offset_seconds "));
        m.ntp.system_offset.with_label_values::<&str>(&[]).set(0.5);
        assert!(m.render().unwrap().contains("\nskew_ntp_system_offset_seconds 0.5\n"));
        m.ntp.system_offset.reset();
        assert!(!m.render().unwrap().contains("\nskew_ntp_system_offset_seconds "));
    }

    #[test]
    fn offset_buckets_are_sorted_and_dense_at_the_threshold() {
        assert!(NTP_OFFSET_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert!(NTP_OFFSET_BUCKETS.contains(&0.1) && NTP_OFFSET_BUCKETS.contains(&-0.1));
    }
}
