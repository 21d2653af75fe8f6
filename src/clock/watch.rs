//! The once-a-second task behind the host clock families: reads the kernel's clock state and
//! the three clocks, hands the readings to [`Detector`], and sets the metrics. All the deciding
//! happens in [`Watcher::tick`], which takes what was read as arguments, so tests call it with
//! literal readings; [`run`] only reads and waits.
//!
//! Cost: four `clock_gettime` calls and one `adjtimex` a second, all vDSO or trivial syscalls
//! (`cargo bench --bench clock` measures a whole tick; benches/README.md has the figure).

use std::io;
use std::time::Duration;

use prometheus::{Counter, GaugeVec, Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
use tokio_util::sync::CancellationToken;

use super::kernel::{self, KernelClock};
use super::{ClockSource, Detector, Reading};

const NO_LABELS: &[&str] = &[];

/// How often the clocks are read. Steps are found by comparing consecutive readings, so a
/// step is reported at most this long after it happened.
pub const PERIOD: Duration = Duration::from_secs(1);

/// Buckets of `skew_clock_step_seconds`: 0.1 s must stay a bound (the `ClockStepped` alert
/// counts steps above it).
pub const STEP_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0,
];

/// The host clock families (README, "Host clock").
#[derive(Clone)]
pub struct ClockMetrics {
    /// No labels; the child exists only while `adjtimex` answers, so the series are absent
    /// off Linux or when the call fails.
    synchronized: GaugeVec,
    maxerror: GaugeVec,
    esterror: GaugeVec,
    steps: IntCounterVec,
    step_size: Histogram,
    suspended: Counter,
}

impl ClockMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| -> prometheus::Result<GaugeVec> {
            let g = GaugeVec::new(Opts::new(name, help), &[])?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let synchronized = gauge(
            "skew_kernel_clock_synchronized",
            "1 when the kernel calls the wall clock synchronised (adjtimex: no TIME_ERROR, no STA_UNSYNC), else 0",
        )?;
        let maxerror = gauge(
            "skew_kernel_clock_maxerror_seconds",
            "The kernel's maximum error of the wall clock (adjtimex maxerror)",
        )?;
        let esterror = gauge(
            "skew_kernel_clock_esterror_seconds",
            "The kernel's estimated error of the wall clock (adjtimex esterror)",
        )?;
        let steps = IntCounterVec::new(
            Opts::new(
                "skew_clock_steps_total",
                "Times the wall clock jumped against CLOCK_BOOTTIME beyond any slew, by direction",
            ),
            &["direction"],
        )?;
        registry.register(Box::new(steps.clone()))?;
        for direction in ["forward", "backward"] {
            steps.with_label_values(&[direction]);
        }
        let step_size = Histogram::with_opts(
            HistogramOpts::new(
                "skew_clock_step_seconds",
                "Size of each wall clock step, absolute",
            )
            .buckets(STEP_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(step_size.clone()))?;
        let suspended = Counter::new(
            "skew_host_suspended_seconds_total",
            "Time the host was suspended (CLOCK_BOOTTIME moved against CLOCK_MONOTONIC)",
        )?;
        registry.register(Box::new(suspended.clone()))?;
        Ok(Self {
            synchronized,
            maxerror,
            esterror,
            steps,
            step_size,
            suspended,
        })
    }
}

/// The state between ticks: the detector and whether `adjtimex` was failing.
pub struct Watcher {
    metrics: ClockMetrics,
    detector: Detector,
    kernel_failing: bool,
}

impl Watcher {
    pub fn new(metrics: ClockMetrics) -> Self {
        Self {
            metrics,
            detector: Detector::new(),
            kernel_failing: false,
        }
    }

    /// One reading of everything: sets the kernel gauges (or removes them, warning once per
    /// failure), and counts a step or a suspend the readings show.
    pub fn tick(&mut self, reading: Option<Reading>, kernel: io::Result<KernelClock>) {
        self.kernel(kernel);
        let Some(reading) = reading else { return };
        let seen = self.detector.observe(reading);
        if let Some(step) = seen.step {
            let direction = if step > 0.0 { "forward" } else { "backward" };
            self.metrics.steps.with_label_values(&[direction]).inc();
            self.metrics.step_size.observe(step.abs());
            tracing::warn!(
                step_seconds = format_args!("{step:+.3}"),
                direction,
                "wall clock stepped (VM resume, a manual or makestep correction); token rejections around it are explained by it"
            );
        }
        if seen.suspended > 0.0 {
            self.metrics.suspended.inc_by(seen.suspended);
            tracing::info!(
                suspended_seconds = format_args!("{:.3}", seen.suspended),
                "host was suspended"
            );
        }
    }

    fn kernel(&mut self, kernel: io::Result<KernelClock>) {
        let m = &self.metrics;
        match kernel {
            Ok(k) => {
                if self.kernel_failing {
                    tracing::info!("adjtimex answers again: kernel clock state exported");
                    self.kernel_failing = false;
                }
                m.synchronized
                    .with_label_values(NO_LABELS)
                    .set(f64::from(u8::from(k.synchronized)));
                m.maxerror.with_label_values(NO_LABELS).set(k.maxerror);
                m.esterror.with_label_values(NO_LABELS).set(k.esterror);
            }
            Err(e) => {
                if !self.kernel_failing {
                    tracing::warn!(error = %e, "cannot read the kernel clock state (adjtimex); skew_kernel_clock_* are absent until it answers");
                    self.kernel_failing = true;
                }
                for g in [&m.synchronized, &m.maxerror, &m.esterror] {
                    g.reset();
                }
            }
        }
    }
}

/// Reads the clocks every [`PERIOD`] until `cancel` fires.
pub async fn run(metrics: ClockMetrics, mut source: impl ClockSource, cancel: CancellationToken) {
    let mut watcher = Watcher::new(metrics);
    let mut ticks = tokio::time::interval(PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        watcher.tick(source.read(), kernel::read());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(registry: &Registry) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("encode")
    }

    fn reading(boot_s: i64, wall_shift_ms: i64, asleep_s: i64) -> Reading {
        let boot = boot_s * 1_000_000_000;
        Reading {
            realtime_ns: 1_790_000_000_000_000_000 + boot + wall_shift_ms * 1_000_000,
            boottime_ns: boot,
            monotonic_ns: boot - asleep_s * 1_000_000_000,
        }
    }

    fn kernel_ok() -> io::Result<KernelClock> {
        Ok(KernelClock {
            synchronized: true,
            maxerror: 0.016,
            esterror: 0.001,
        })
    }

    #[test]
    fn ticks_set_every_family() {
        let registry = Registry::new();
        let mut w = Watcher::new(ClockMetrics::register(&registry).expect("register"));
        w.tick(Some(reading(10, 0, 0)), kernel_ok());
        w.tick(Some(reading(11, 2_000, 0)), kernel_ok());
        w.tick(Some(reading(12, 1_500, 0)), kernel_ok());
        w.tick(Some(reading(43, 1_500, 30)), kernel_ok());
        let out = text(&registry);
        for line in [
            "skew_clock_steps_total{direction=\"forward\"} 1",
            "skew_clock_steps_total{direction=\"backward\"} 1",
            "skew_clock_step_seconds_count 2",
            "skew_clock_step_seconds_sum 2.5",
            "skew_clock_step_seconds_bucket{le=\"0.1\"} 0",
            "skew_clock_step_seconds_bucket{le=\"0.5\"} 1",
            "skew_clock_step_seconds_bucket{le=\"2.5\"} 2",
            "skew_host_suspended_seconds_total 30",
            "skew_kernel_clock_synchronized 1",
            "skew_kernel_clock_maxerror_seconds 0.016",
            "skew_kernel_clock_esterror_seconds 0.001",
        ] {
            assert!(out.contains(line), "missing {line:?} in\n{out}");
        }
    }

    #[test]
    fn kernel_gauges_absent_while_adjtimex_fails_and_back_after() {
        let registry = Registry::new();
        let mut w = Watcher::new(ClockMetrics::register(&registry).expect("register"));
        w.tick(None, kernel_ok());
        assert!(text(&registry).contains("skew_kernel_clock_synchronized 1"));
        w.tick(None, Err(io::Error::other("no adjtimex")));
        let out = text(&registry);
        assert!(!out.contains("skew_kernel_clock"), "{out}");
        // Steps are still counted (zero, both directions present).
        assert!(out.contains("skew_clock_steps_total{direction=\"forward\"} 0"));
        w.tick(
            None,
            Ok(KernelClock {
                synchronized: false,
                maxerror: 16.0,
                esterror: 16.0,
            }),
        );
        let out = text(&registry);
        assert!(out.contains("skew_kernel_clock_synchronized 0"), "{out}");
        assert!(
            out.contains("skew_kernel_clock_maxerror_seconds 16"),
            "{out}"
        );
    }

    #[test]
    fn a_dropped_reading_does_not_hide_a_step() {
        let registry = Registry::new();
        let mut w = Watcher::new(ClockMetrics::register(&registry).expect("register"));
        w.tick(Some(reading(10, 0, 0)), kernel_ok());
        w.tick(None, kernel_ok());
        w.tick(Some(reading(12, -500, 0)), kernel_ok());
        assert!(text(&registry).contains("skew_clock_steps_total{direction=\"backward\"} 1"));
    }
}
