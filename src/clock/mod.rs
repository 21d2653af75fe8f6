//! This host's own clocks, read from the kernel: whether the kernel calls the wall clock
//! synchronised (`adjtimex(2)`, [`kernel`]), and whether the wall clock was stepped or the host
//! suspended (this module). [`watch`] is the once-a-second task that reads both and sets the
//! `skew_kernel_clock_*`, `skew_clock_step*` and `skew_host_suspended_seconds_total` families.
//!
//! The step and suspend decisions are pure ([`Detector`]) over [`Reading`]s that a
//! [`ClockSource`] provides, so the unit tests drive them with literal readings.
//!
//! # How a step is told from a slew
//! CLOCK_REALTIME is the wall clock that NTP daemons adjust; CLOCK_BOOTTIME counts every
//! second since boot, suspended time included, and is never set. So `realtime − boottime`
//! changes only when the wall clock is adjusted: a slew moves it by at most 500 ppm of the time
//! elapsed (the kernel's `MAXFREQ`, the largest frequency correction `adjtimex` accepts), a step
//! by anything. A change larger than `500 ppm × elapsed + STEP_FLOOR` between two readings is a
//! step. Likewise `boottime − monotonic` grows only while the host is suspended (CLOCK_MONOTONIC
//! stops in suspend; a VM paused by its hypervisor and resumed with a suspend notification
//! shows the same).
//!
//! Linux only: elsewhere there is no CLOCK_BOOTTIME or `adjtimex`, and [`watch`] is not started.

pub mod kernel;
pub mod watch;

/// The largest rate at which the kernel slews the wall clock (500 ppm, `MAXFREQ` in the
/// kernel's timekeeping): a larger change of `realtime − boottime` is a step.
pub const MAX_SLEW: f64 = 500e-6;

/// Added to the slew allowance: what two readings a second apart can disagree by without any
/// adjustment (the reads are not atomic; [`SystemClocks`] refuses readings whose bracket is
/// wider than [`MAX_BRACKET_NS`], so this is generous).
pub const STEP_FLOOR: f64 = 0.005;

/// `boottime − monotonic` must grow by more than this to count as a suspend.
pub const SUSPEND_FLOOR: f64 = 0.005;

/// A reading whose two CLOCK_BOOTTIME reads lie further apart than this (the thread was
/// preempted between them) is dropped.
pub const MAX_BRACKET_NS: i64 = 1_000_000;

/// The three clocks at (nearly) one instant, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub realtime_ns: i64,
    pub boottime_ns: i64,
    pub monotonic_ns: i64,
}

impl Reading {
    fn realtime_minus_boottime(&self) -> i64 {
        self.realtime_ns - self.boottime_ns
    }

    fn boottime_minus_monotonic(&self) -> i64 {
        self.boottime_ns - self.monotonic_ns
    }
}

/// What one reading says happened since the one before.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    /// The wall clock was stepped by this many seconds (positive: forward).
    pub step: Option<f64>,
    /// Seconds the host spent suspended since the previous reading (0 when none).
    pub suspended: f64,
}

/// Compares each reading with the previous one. Pure: no clock is read here.
#[derive(Debug, Default)]
pub struct Detector {
    previous: Option<Reading>,
}

impl Detector {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn observe(&mut self, now: Reading) -> Observation {
        let Some(before) = self.previous.replace(now) else {
            return Observation::default();
        };
        let elapsed = ns_to_s(now.boottime_ns - before.boottime_ns).max(0.0);
        let moved = ns_to_s(now.realtime_minus_boottime() - before.realtime_minus_boottime());
        let step = (moved.abs() > MAX_SLEW * elapsed + STEP_FLOOR).then_some(moved);
        let slept = ns_to_s(now.boottime_minus_monotonic() - before.boottime_minus_monotonic());
        let suspended = if slept > SUSPEND_FLOOR { slept } else { 0.0 };
        Observation { step, suspended }
    }
}

fn ns_to_s(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// Where readings come from: the kernel in production, a script in tests.
pub trait ClockSource: Send + 'static {
    /// `None` when this reading cannot be trusted (preempted between the reads) or the clocks
    /// cannot be read.
    fn read(&mut self) -> Option<Reading>;
}

/// The kernel's clocks through `clock_gettime(2)`.
#[derive(Debug, Default)]
pub struct SystemClocks;

#[cfg(target_os = "linux")]
#[allow(
    clippy::useless_conversion,
    reason = "time_t and c_long are i32 on 32-bit targets"
)]
fn clock_ns(clock: libc::clockid_t) -> Option<i64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call, and
    // clock_gettime writes nothing else.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return None;
    }
    i64::from(ts.tv_sec)
        .checked_mul(1_000_000_000)?
        .checked_add(i64::from(ts.tv_nsec))
}

#[cfg(target_os = "linux")]
impl ClockSource for SystemClocks {
    /// Brackets the realtime and monotonic reads between two boottime reads and takes their
    /// midpoint as the boottime of the reading, so the three agree to within the bracket.
    fn read(&mut self) -> Option<Reading> {
        let boot_before = clock_ns(libc::CLOCK_BOOTTIME)?;
        let realtime_ns = clock_ns(libc::CLOCK_REALTIME)?;
        let monotonic_ns = clock_ns(libc::CLOCK_MONOTONIC)?;
        let boot_after = clock_ns(libc::CLOCK_BOOTTIME)?;
        if boot_after - boot_before > MAX_BRACKET_NS {
            return None;
        }
        Some(Reading {
            realtime_ns,
            boottime_ns: boot_before + (boot_after - boot_before) / 2,
            monotonic_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    /// A reading `t` seconds of boottime after the first, with the wall clock `wall_shift`
    /// seconds off its undisturbed course and `asleep` seconds of suspend so far.
    fn at(t: f64, wall_shift: f64, asleep: f64) -> Reading {
        let boot = 1_000 * S + (t * 1e9) as i64;
        Reading {
            realtime_ns: 1_790_000_000 * S + boot + (wall_shift * 1e9) as i64,
            boottime_ns: boot,
            monotonic_ns: boot - (asleep * 1e9) as i64,
        }
    }

    /// Each row: the readings, then the steps and the suspended seconds they must produce.
    #[test]
    fn steps_and_suspends_table() {
        type Row = (&'static str, Vec<Reading>, Vec<f64>, f64);
        let rows: Vec<Row> = vec![
            (
                "steady",
                vec![at(0.0, 0.0, 0.0), at(1.0, 0.0, 0.0), at(2.0, 0.0, 0.0)],
                vec![],
                0.0,
            ),
            // 500 ppm of one second, plus less than the floor: a slew, not a step.
            (
                "slewing at the limit",
                vec![at(0.0, 0.0, 0.0), at(1.0, 0.0005, 0.0), at(2.0, 0.001, 0.0)],
                vec![],
                0.0,
            ),
            (
                "slewing backwards",
                vec![at(0.0, 0.0, 0.0), at(1.0, -0.004, 0.0)],
                vec![],
                0.0,
            ),
            (
                "step forward 2 s",
                vec![at(0.0, 0.0, 0.0), at(1.0, 2.0, 0.0), at(2.0, 2.0, 0.0)],
                vec![2.0],
                0.0,
            ),
            (
                "step back 0.5 s",
                vec![at(0.0, 0.0, 0.0), at(1.0, -0.5, 0.0), at(2.0, -0.5, 0.0)],
                vec![-0.5],
                0.0,
            ),
            (
                "two steps",
                vec![at(0.0, 0.0, 0.0), at(1.0, 2.0, 0.0), at(2.0, 1.5, 0.0)],
                vec![2.0, -0.5],
                0.0,
            ),
            // Just beyond floor + slew allowance over 1 s.
            (
                "small step",
                vec![at(0.0, 0.0, 0.0), at(1.0, 0.0056, 0.0)],
                vec![0.0056],
                0.0,
            ),
            // A long gap allows a larger slew: 100 s at 500 ppm = 50 ms.
            (
                "slew over a long gap",
                vec![at(0.0, 0.0, 0.0), at(100.0, 0.05, 0.0)],
                vec![],
                0.0,
            ),
            // Suspended 30 s: boottime and realtime move on together, monotonic does not.
            (
                "suspend 30 s",
                vec![at(0.0, 0.0, 0.0), at(31.0, 0.0, 30.0), at(32.0, 0.0, 30.0)],
                vec![],
                30.0,
            ),
            (
                "suspend then step",
                vec![at(0.0, 0.0, 0.0), at(11.0, 0.0, 10.0), at(12.0, -3.0, 10.0)],
                vec![-3.0],
                10.0,
            ),
            (
                "first reading says nothing",
                vec![at(0.0, 5.0, 5.0)],
                vec![],
                0.0,
            ),
        ];
        for (name, readings, steps, asleep) in rows {
            let mut d = Detector::new();
            let mut seen = Vec::new();
            let mut slept = 0.0;
            for r in readings {
                let o = d.observe(r);
                seen.extend(o.step);
                slept += o.suspended;
            }
            assert_eq!(seen.len(), steps.len(), "{name}: steps {seen:?}");
            for (got, want) in seen.iter().zip(&steps) {
                assert!((got - want).abs() < 1e-6, "{name}: step {got} != {want}");
            }
            assert!(
                (slept - asleep).abs() < 1e-6,
                "{name}: suspended {slept} != {asleep}"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn system_clocks_read_consistent_values() {
        let mut c = SystemClocks;
        let a = (0..100).find_map(|_| c.read()).expect("a reading");
        let b = (0..100).find_map(|_| c.read()).expect("a reading");
        assert!(b.boottime_ns >= a.boottime_ns);
        assert!(b.monotonic_ns >= a.monotonic_ns);
        // Boottime counts suspend, monotonic does not (equal on a host never suspended, to
        // within the bracket the reads were taken in).
        assert!(a.boottime_ns - a.monotonic_ns > -MAX_BRACKET_NS);
        // Back to back, nothing was stepped or suspended.
        let mut d = Detector::new();
        d.observe(a);
        assert_eq!(d.observe(b), Observation::default());
    }
}
