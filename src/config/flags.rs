//! The command line (clap): [`Cli`], its subcommands, and [`Flags`], every setting that can
//! also be given as a flag. Flag values are only parsed here (durations, sizes); merging them
//! with the file and validating them is each area's job (`super::web`, `super::ntp`, ...).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

use super::base::{parse_duration, parse_size, path_or_empty};

/// Command line. Flag names follow the Prometheus exporter convention (`--web.listen-address`).
#[derive(Debug, Parser)]
#[command(name = "skew-exporter", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub flags: Flags,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read JSON-lines verification events from files (or `-` for stdin), record them exactly
    /// as the daemon would, and print a report (incident forensics).
    Analyze(AnalyzeArgs),
    /// Run one JWT tolerance probe (a `[probe.jwt.modules.NAME]` of the configuration file)
    /// against a target and print the verifier's clock offset and leeway in words.
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The module's name, as in `[probe.jwt.modules.NAME]`.
    #[arg(long)]
    pub module: String,
    /// The URL to probe; it must pass the module's `targets`.
    #[arg(long)]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// JSON-lines files of events; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output: a human report, the Prometheus exposition, a JSON summary, or an HTML incident
    /// report (one self-contained file with charts).
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Text)]
    pub format: AnalyzeFormat,
    /// Read the files as the `[[events.follow]]` table of this `name` (or `path`) in
    /// `--config.file` says. Without it, a configuration with exactly one such table is read
    /// that way, and one without any as our event schema.
    #[arg(long = "format-from", value_name = "NAME")]
    pub format_from: Option<String>,
    /// No progress bar (it is shown on standard error only when that is a terminal).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    Text,
    Prometheus,
    Json,
    Html,
}

/// Every setting that can also be given on the command line. `None` means "not given".
#[derive(Debug, Default, Clone, Args)]
pub struct Flags {
    /// TOML configuration file; flags given on the command line win over it.
    #[arg(long = "config.file", value_name = "FILE", global = true)]
    pub config_file: Option<PathBuf>,
    /// Validate the configuration, print a summary and exit (0 when valid, 2 when not).
    #[arg(long = "check-config")]
    pub check_config: bool,
    /// Address to serve /metrics, /healthz and / on (`:PORT` means every interface).
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    pub listen_address: Option<String>,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", value_name = "PATH")]
    pub telemetry_path: Option<String>,
    /// Time a client has to send a request's headers; also the longest wait for the next
    /// request on a kept-alive connection.
    #[arg(long = "web.read-header-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub read_header_timeout: Option<Duration>,
    /// Close a connection on which nothing moved for this long while waiting on the client
    /// (outside a request in flight).
    #[arg(long = "web.idle-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Connections served at once on each listener; beyond, new ones are closed and counted
    /// (the main listener keeps a few more for scrapes of the telemetry path).
    #[arg(long = "web.max-connections", value_name = "N")]
    pub max_connections: Option<usize>,
    /// On SIGTERM/SIGINT, requests in flight get this long to finish; then the process ends
    /// anyway.
    #[arg(long = "web.shutdown-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub shutdown_timeout: Option<Duration>,
    /// Web config file (Prometheus exporter-toolkit format: TLS, basic auth, headers) for every
    /// listener; `""` for none.
    #[arg(long = "web.config.file", value_name = "FILE", value_parser = path_or_empty)]
    pub web_config_file: Option<PathBuf>,
    /// Serve POST /-/reload (reload the configuration, like SIGHUP).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// NTP server to sample, `host`, `host:port` or `[v6]:port` (repeatable).
    #[arg(long = "ntp.server", value_name = "HOST[:PORT]")]
    pub ntp_servers: Vec<String>,
    /// Time between sampling rounds of one server, e.g. `32s`.
    #[arg(long = "ntp.interval", value_name = "DURATION", value_parser = parse_duration)]
    pub ntp_interval: Option<Duration>,
    /// Timeout of one NTP exchange, e.g. `2s`.
    #[arg(long = "ntp.timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub ntp_timeout: Option<Duration>,
    /// Exchanges per round; the lowest-delay one sets the gauges.
    #[arg(long = "ntp.burst", value_name = "N")]
    pub ntp_burst: Option<u32>,
    /// Pause between the exchanges of one burst (never back to back).
    #[arg(long = "ntp.burst-spacing", value_name = "DURATION", value_parser = parse_duration)]
    pub ntp_burst_spacing: Option<Duration>,
    /// Minimum half-width of a server's agreement interval (falseticker detection).
    #[arg(long = "ntp.falseticker-floor", value_name = "DURATION", value_parser = parse_duration)]
    pub ntp_falseticker_floor: Option<Duration>,
    /// Serve POST /v1/events on this address instead of the main listener.
    #[arg(long = "events.listen-address", value_name = "ADDR")]
    pub events_listen_address: Option<String>,
    /// Web config file of the events listener instead of --web.config.file (`""` for none).
    #[arg(long = "events.web-config-file", value_name = "FILE", value_parser = path_or_empty)]
    pub events_web_config_file: Option<PathBuf>,
    /// Largest accepted POST /v1/events body, e.g. `16MiB`.
    #[arg(long = "events.max-body", value_name = "SIZE", value_parser = parse_size)]
    pub events_max_body: Option<usize>,
    /// Largest accepted single event (one line), e.g. `1MiB`.
    #[arg(long = "events.max-line", value_name = "SIZE", value_parser = parse_size)]
    pub events_max_line: Option<usize>,
    /// Time a POST /v1/events body has to arrive in full (408 after).
    #[arg(long = "events.read-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub events_read_timeout: Option<Duration>,
    /// Most POST /v1/events requests handled at once; beyond, 503 with Retry-After.
    #[arg(long = "events.max-concurrent", value_name = "N")]
    pub events_max_concurrent: Option<usize>,
    /// JSON-lines file or glob of files to follow (repeatable), e.g. `/var/log/api/*.jsonl`.
    #[arg(long = "events.file", value_name = "PATH")]
    pub events_files: Vec<String>,
    /// Where to start in a file seen for the first time: `end` (no replay) or `beginning`.
    #[arg(long = "events.file-start", value_name = "WHERE")]
    pub events_file_start: Option<crate::ingest::tail::StartAt>,
    /// Persist read positions here (atomically, every second and at shutdown) and resume
    /// from them after a restart.
    #[arg(long = "events.checkpoint", value_name = "FILE")]
    pub events_checkpoint: Option<PathBuf>,
    /// File holding a shared secret that senders must present as `Authorization: Bearer …`.
    #[arg(long = "events.auth-token-file", value_name = "FILE")]
    pub events_auth_token_file: Option<PathBuf>,
    /// Log filter: `error`, `warn`, `info`, `debug`, `trace`, or a tracing directive list.
    #[arg(long = "log.level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format.
    #[arg(long = "log.format", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    #[command(flatten)]
    pub verify: crate::verify::config::VerifyFlags,
    /// URL whose HTTP `Date` header measures a remote clock (repeatable); replaces the file's
    /// `[[probe.http-date]]` targets.
    #[arg(long = "probe.http-date", value_name = "URL")]
    pub probe_http_date: Vec<String>,
}

/// `--log.format` and `log.format`. It lives with the flags (`super::log` re-exports it) so that
/// the flags and the log area do not import each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}
