//! skew-exporter: makes clock skew between JWT issuers and verifiers visible to Prometheus.
//!
//! # Layout
//! - [`config`]: command-line flags and the TOML file, merged and validated into `Settings`:
//!   `config::base` (file reading, `ConfigError`, value parsers; a leaf), `config::flags` (clap),
//!   one file per area (`config::web`, `ntp`, `log`, `events` with its `[[events.follow]]`
//!   tables in `config::follow`, `probe`; `[verify]` is
//!   `verify::config`), each pure `validate` first, then a step that reads the files the
//!   settings name.
//! - [`app`]: wiring; spawns every task under one cancellation token and serves HTTP.
//! - [`http`]: `router(state)`: `/metrics`, `/healthz`, `/` (the live diagnosis page,
//!   `report::live`; `/probe` is `probe::jwt_http`'s).
//! - [`server`]: the connection loop behind every listener: header and idle timeouts, the
//!   connection cap and the main listener's scrape reserve, graceful shutdown with a deadline
//!   (`axum::serve` has none of these).
//! - [`metrics`]: every metric family, registered once, with typed handles (and the removal of
//!   the series a reload leaves behind); the per-pair JWT families live in the exporter's own
//!   atomics (`metrics::jwt`), one entry per (source, issuer) pair with its issuer-lead window
//!   (`metrics::lead`), and are encoded straight to text by `Metrics::render`; the
//!   `skew_jwt_*` families labelled by `source` alone are registry families
//!   (`metrics::VerdictMetrics`), and `skew_jwt_issuer_clock_error_seconds` is computed at
//!   scrape time.
//! - [`ntp`]: the offset sampler. `ntp::sample` and `ntp::select` are pure (judge one exchange,
//!   filter a burst, find the agreeing servers, bound each offset), and so is `ntp::health`
//!   (which server state changes the log reports); `ntp::sampler` owns sockets and timers,
//!   behind the `ntp::sampler::Network` seam that its tests fake under paused time.
//! - [`logging`]: tracing-subscriber set-up.
//! - [`summary`]: the start-up summary (listeners and paths, NTP servers, followed files,
//!   whether `/v1/events` needs a token, `/v1/verify`), logged by `app` and printed by
//!   `--check-config`; no secrets.
//! - [`clock`]: this host's own clocks: the kernel's sync state (`adjtimex`), wall clock steps
//!   and suspends (CLOCK_REALTIME and CLOCK_MONOTONIC against CLOCK_BOOTTIME), read once a
//!   second by `clock::watch`; the step and suspend decisions are pure (`clock::Detector`).
//! - [`event`]: the verification event, its closed sets (outcome, reason) and its parsing;
//!   [`fastjson`] reads the common flat shape without serde and defers everything else.
//! - [`labels`]: the cardinality guard for `source` and `issuer`.
//! - [`record`]: the one recording path: event → counters, histograms, issuer lead.
//! - [`ingest`]: NDJSON/array splitting and per-line errors; `ingest::http` is `POST /v1/events`
//!   (its refusals: `ingest::refusal`), `ingest::tail` follows files (rotation, truncation,
//!   `ingest::checkpoint`), `ingest::follow` reads the lines of logs services already write
//!   (JSON by pointer, text by regex) into the same events.
//! - [`verdict`]: token verdicts, pure: why a time rejection happened (the `cause` of
//!   `skew_jwt_time_rejections_total`, with its table test), the leeway an accepted token used,
//!   a rejection's lifetime fraction, the issuer clock error (lead − NTP offset, with the sign
//!   algebra) and the sentences `analyze` prints ("issuer X runs 3.2 s fast; …").
//! - [`analyze`]: the offline `analyze` subcommand, through the same recorder; its verdict
//!   (`analyze::judge`) is the one behind every report.
//! - [`report`]: the pictures: `analyze --format html` (`report::html`, an incident report in
//!   one file) and the live page `/` (`report::live`), with hand-written SVG (`report::svg`)
//!   and the report's time axis (`report::timeline`).
//! - [`synth`]: synthetic event streams with a known truth, for tests and benchmarks.
//! - [`verify`]: `/v1/verify`, the token check a gateway calls; `verify` itself is the pure
//!   decision (token → verdict), `verify::cache` the verified-token cache it consults,
//!   `verify::config` the `[verify]` table, `verify::keys` the keys (parsing, fingerprints),
//!   `verify::refresh` the tasks that keep them current, `verify::http` the endpoint. Each
//!   verification, from the cache or not, becomes an event.
//! - [`probe`]: remote clocks over HTTP: `probe::estimate` is the pure core (a `Date` header
//!   and the request's timing → an interval holding the target's offset; bisection of its
//!   second), `probe::prober` the task per target; its targets are `config::probe`. And the
//!   JWT tolerance probe: `probe::jwt_search` is the pure edge search (answers → next request,
//!   edges, offset, leeway, bound), `probe::jwt_config` the modules and their target
//!   allow-lists, `probe::jwt` mints and sends the tokens, `probe::jwt_http` is `GET /probe`
//!   (blackbox_exporter style) and `skew-exporter probe` its command-line form.
//! - [`reload`]: SIGHUP and `POST /-/reload`: re-read the configuration and restart what
//!   changed (NTP sampler, HTTP Date probes, tailer, `/v1/events`, `/v1/verify`, `/probe`, web
//!   configs); counters survive.
//! - [`webconfig`]: `--web.config.file` (exporter-toolkit format): TLS, basic auth and headers
//!   of a listener, re-read when its files change.
//!
//! # The flow of one NTP sample
//! `ntp::sampler` resolves the server, sends a request on a fresh socket under a timeout, and
//! hands `sntpc`'s answer to `ntp::sample::classify`, which returns a `Sample` or the result
//! class. The lowest-delay sample of a burst sets the server's gauges; then
//! `ntp::select::agreement` recomputes which servers agree, the system offset and its bound.
//! `/metrics` only reads the gauges; the two bound gauges (`metrics::GrowingGaugeVec`) add the
//! growth since the sample at scrape time, with no I/O.
//!
//! # The flow of one event
//! A transport (`ingest::http`, `ingest::tail`, `analyze`) hands bytes to `ingest::Ingest`, which splits them
//! into events and calls `event::parse_event`; a valid `Event` goes to `record::Batch::record`,
//! which counts it in `skew_events_received_total`, bounds its labels once per pair and updates
//! the metrics; an invalid one goes to `ingest::Ingest::refuse`, which counts it in
//! `skew_events_invalid_total` and reports it to the sender. `/v1/verify` has no parsing step:
//! `verify::Verifier::verify` returns a `Verdict`, whose `event()` goes to the same
//! `record::Batch::record` with `transport="verify"`.

pub mod analyze;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod event;
pub mod fastjson;
pub mod http;
pub mod ingest;
pub mod labels;
pub mod logging;
pub mod metrics;
pub mod ntp;
pub mod probe;
pub mod record;
pub mod reload;
pub mod report;
pub mod server;
pub mod summary;
pub mod switch;
pub mod synth;
pub mod verdict;
pub mod verify;
pub mod webconfig;

/// Seconds since the Unix epoch, as the verifier-side `ts` and gauges use.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The git revision this binary was built from (`unknown` outside a checkout).
pub const REVISION: &str = env!("SKEW_EXPORTER_REVISION");
