//! skew-exporter: makes clock skew between JWT issuers and verifiers visible to Prometheus.
//!
//! # Layout
//! - [`config`]: command-line flags and the TOML file, merged and validated into `Settings`.
//! - [`app`]: wiring; spawns every task under one cancellation token and serves HTTP.
//! - [`http`]: `router(state)`: `/metrics`, `/healthz`, `/`.
//! - [`metrics`]: every metric family, registered once, with typed handles.
//! - [`ntp`]: the offset sampler. `ntp::sample` and `ntp::select` are pure (judge one exchange,
//!   filter a burst, find the agreeing servers); `ntp::sampler` owns sockets and timers.
//! - [`logging`]: tracing-subscriber set-up.
//!
//! # The flow of one NTP sample
//! `ntp::sampler` resolves the server, sends a request on a fresh socket under a timeout, and
//! hands `sntpc`'s answer to `ntp::sample::classify`, which returns a `Sample` or the result
//! class. The lowest-delay sample of a burst sets the server's gauges; then `ntp::select`
//! recomputes which servers agree and the system offset. `/metrics` only reads the gauges.

pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod ntp;

/// The git revision this binary was built from (`unknown` outside a checkout).
pub const REVISION: &str = env!("SKEW_EXPORTER_REVISION");
