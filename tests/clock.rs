//! The host clock watcher end to end: the real binary under libfaketime, whose wall clock the
//! test steps by rewriting a timestamp file (re-read on every call, monotonic clocks left
//! real, as PITFALLS.md describes). The machine's own clock is never touched.
//!
//! - a +2 s step and a −0.4 s step are each counted once, in the right direction and size
//!   (sizes away from bucket bounds: a measured size carries up to ~1 ms of reading jitter);
//! - a change of the fake offset too small to be anything but a slew is not counted;
//! - the kernel's clock state is exported (Linux).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{require_paths, Exporter, Scrape};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Replaces the timestamp file by rename, so libfaketime never reads a half-written one.
fn set_offset(file: &Path, offset: &str) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("{offset}\n")).expect("write timestamp file");
    std::fs::rename(&tmp, file).expect("rename timestamp file");
}

fn steps(s: &Scrape, direction: &str) -> f64 {
    s.value("skew_clock_steps_total", &[("direction", direction)])
}

#[test]
fn steps_under_libfaketime_are_counted_once_with_size_and_direction() {
    if !require_paths(&[LIBFAKETIME]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let stamp = dir.path().join("faketime");
    set_offset(&stamp, "+0");
    let stamp_path = stamp.to_str().expect("utf-8 path");
    let exporter = Exporter::start_with_env(
        &["--ntp.server", "127.0.0.1:9"],
        &[
            ("LD_PRELOAD", LIBFAKETIME),
            ("FAKETIME_TIMESTAMP_FILE", stamp_path),
            ("FAKETIME_NO_CACHE", "1"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    let wait = Duration::from_secs(20);
    // The watcher has read at least twice: the first reading only sets the baseline.
    let first = exporter.wait_for("the kernel clock gauges", wait, |s| {
        s.has("skew_kernel_clock_synchronized", &[])
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(steps(&first, "forward") + steps(&first, "backward"), 0.0);

    set_offset(&stamp, "+2");
    exporter.wait_for("a forward step", wait, |s| steps(s, "forward") >= 1.0);
    set_offset(&stamp, "+1.6");
    exporter.wait_for("a backward step", wait, |s| steps(s, "backward") >= 1.0);
    // A change the kernel could have slewed (0.1 ms in well over a second) is no step.
    std::thread::sleep(Duration::from_millis(1500));
    set_offset(&stamp, "+1.6001");
    // Several more readings after each change: each step stays counted once.
    std::thread::sleep(Duration::from_millis(3500));

    let s = exporter.scrape();
    assert_eq!(steps(&s, "forward"), 1.0, "{}", s.dump("skew_clock"));
    assert_eq!(steps(&s, "backward"), 1.0, "{}", s.dump("skew_clock"));
    assert_eq!(s.value("skew_clock_step_seconds_count", &[]), 2.0);
    let sum = s.value("skew_clock_step_seconds_sum", &[]);
    assert!(
        (sum - 2.4).abs() < 0.01,
        "steps of 2 s and 0.4 s add up to {sum}"
    );
    // One in (0.25, 0.5], one in (1, 2.5]: the sizes, not just the count.
    assert_eq!(
        s.value("skew_clock_step_seconds_bucket", &[("le", "0.25")]),
        0.0
    );
    assert_eq!(
        s.value("skew_clock_step_seconds_bucket", &[("le", "0.5")]),
        1.0
    );
    assert_eq!(
        s.value("skew_clock_step_seconds_bucket", &[("le", "1")]),
        1.0
    );
    assert_eq!(
        s.value("skew_clock_step_seconds_bucket", &[("le", "2.5")]),
        2.0
    );
    assert_eq!(s.value("skew_host_suspended_seconds_total", &[]), 0.0);
    // Each step is logged once, with its size.
    let log = exporter.log_text();
    let logged: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("wall clock stepped"))
        .collect();
    assert_eq!(logged.len(), 2, "{log}");
    assert!(logged[0].contains("+2.0"), "{}", logged[0]);
    assert!(logged[1].contains("-0.4"), "{}", logged[1]);
}

#[cfg(target_os = "linux")]
#[test]
fn kernel_clock_state_is_exported() {
    let exporter = Exporter::start(&["--ntp.server", "127.0.0.1:9"]);
    let s = exporter.wait_for("the kernel clock gauges", Duration::from_secs(10), |s| {
        s.has("skew_kernel_clock_synchronized", &[])
    });
    let synced = s.value("skew_kernel_clock_synchronized", &[]);
    assert!(synced == 0.0 || synced == 1.0, "{synced}");
    for name in [
        "skew_kernel_clock_maxerror_seconds",
        "skew_kernel_clock_esterror_seconds",
    ] {
        let v = s.value(name, &[]);
        assert!(v >= 0.0 && v.is_finite(), "{name} = {v}");
    }
    // Both step directions exist from the start, so rate() and increase() see them.
    assert_eq!(steps(&s, "forward"), 0.0);
    assert_eq!(steps(&s, "backward"), 0.0);
}
