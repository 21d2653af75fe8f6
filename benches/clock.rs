//! The host clock watcher's cost (issue 14: "sampling the clocks costs < 0.1 % of one core").
//!
//! `tick`: one whole tick as `clock::watch::run` does it once a second: the bracketed
//! `clock_gettime` reads, `adjtimex`, the step/suspend decision and the metric updates. The
//! peer in the same run is `clock_gettime(CLOCK_REALTIME)` alone through `SystemTime::now`, the
//! cheapest clock read there is. Cost as a share of one core = tick time / 1 s.
//!
//! `cargo bench --bench clock`.

use criterion::{criterion_group, criterion_main, Criterion};
use prometheus::Registry;
use skew_exporter::clock::watch::{ClockMetrics, Watcher};
use skew_exporter::clock::{kernel, ClockSource, SystemClocks};

fn bench(c: &mut Criterion) {
    let registry = Registry::new();
    let mut watcher = Watcher::new(ClockMetrics::register(&registry).expect("register"));
    let mut clocks = SystemClocks;
    c.bench_function("tick", |b| {
        b.iter(|| watcher.tick(clocks.read(), kernel::read()))
    });
    c.bench_function("system_time_now", |b| b.iter(std::time::SystemTime::now));
}

criterion_group!(benches, bench);
criterion_main!(benches);
