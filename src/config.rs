//! Configuration: command-line flags (clap) and the TOML file, merged into one validated
//! [`Settings`].
//!
//! Two stages, as ripgrep does it: [`Flags`] and [`RawConfig`] are shaped like their sources and
//! accept anything that parses; [`Settings::from_sources`] merges them (a flag wins over the file,
//! the file over the built-in default) and validates, so the rest of the program only ever sees
//! values that make sense. Every error names what was wrong and, for the file, the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// NTP servers used when neither `--ntp.server` nor the config file names any.
pub const DEFAULT_NTP_SERVERS: &[&str] = &[
    "0.pool.ntp.org",
    "1.pool.ntp.org",
    "2.pool.ntp.org",
    "3.pool.ntp.org",
];

/// Built-in defaults; the README's flag table quotes these.
pub mod defaults {
    use std::time::Duration;

    pub const LISTEN_ADDRESS: &str = ":9797";
    pub const TELEMETRY_PATH: &str = "/metrics";
    pub const NTP_INTERVAL: Duration = Duration::from_secs(32);
    pub const NTP_TIMEOUT: Duration = Duration::from_secs(2);
    pub const NTP_BURST: u32 = 4;
    pub const NTP_BURST_SPACING: Duration = Duration::from_secs(2);
    pub const NTP_FALSETICKER_FLOOR: Duration = Duration::from_millis(1);
    pub const NTP_MAX_BACKOFF: u32 = 16;
    pub const LOG_LEVEL: &str = "info";
    pub const EVENTS_MAX_BODY: usize = 16 << 20;
    pub const EVENTS_MAX_LINE: usize = 1 << 20;
    pub const LEAD_WINDOW: Duration = Duration::from_secs(300);
    pub const MAX_LABEL_VALUES: usize = 32;
    pub const FILE_POLL_INTERVAL: Duration = Duration::from_secs(1);
    pub const FILE_IDLE_DROP: Duration = Duration::from_secs(5);
    pub const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
    pub const EVENTS_READ_TIMEOUT: Duration = Duration::from_secs(60);
    /// Each request may buffer up to `events.max-body`: 16 × 16 MiB bounds that memory, and
    /// 16 keep 2 cores busy while the others upload.
    pub const EVENTS_MAX_CONCURRENT: usize = 16;
}

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
    /// Output: a human report, the Prometheus exposition, or a JSON summary.
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Text)]
    pub format: AnalyzeFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    Text,
    Prometheus,
    Json,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Largest configuration-side file read: the TOML file, secrets, keys, web configs, certificates.
pub const MAX_CONFIG_FILE: u64 = 16 << 20;

/// Reads a small file the configuration names. Only regular files: a FIFO or a device would
/// block the reader (at start-up, or the reloader) until someone writes to it, and
/// `/dev/zero` would never end.
pub fn read_config_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > MAX_CONFIG_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_CONFIG_FILE >> 20),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(MAX_CONFIG_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_CONFIG_FILE >> 20),
        ));
    }
    Ok(bytes)
}

/// A path where `""` is allowed and means "none" (clap refuses empty paths by default).
pub(crate) fn path_or_empty(s: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(s))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 500ms, 2s or 1m: {e}"))
}

fn parse_size(s: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 512KiB, 16MiB or 1000000"))?;
    usize::try_from(size.as_u64()).map_err(|_| format!("`{s}` is too large"))
}

/// Serde adapter: sizes in the file are strings like "16MiB" or plain numbers of bytes.
fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => usize::try_from(n)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Size::Text(s) => parse_size(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Serde adapter: durations in the file are human-readable strings.
fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// The TOML file, as written. Every table refuses unknown keys.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub web: RawWeb,
    #[serde(default)]
    pub ntp: RawNtp,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub events: RawEvents,
    #[serde(default)]
    pub verify: crate::verify::config::RawVerify,
    #[serde(default)]
    pub probe: crate::probe::jwt_config::RawProbe,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawEvents {
    pub listen_address: Option<String>,
    pub web_config_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_size")]
    pub max_body: Option<usize>,
    #[serde(default, deserialize_with = "de_size")]
    pub max_line: Option<usize>,
    #[serde(default, deserialize_with = "de_duration")]
    pub read_timeout: Option<Duration>,
    pub max_concurrent: Option<usize>,
    pub auth_token_file: Option<PathBuf>,
    /// Allow-list of `source` values; everything else becomes `other`.
    pub sources: Option<Vec<String>>,
    /// Allow-list of `issuer` values; everything else becomes `other`.
    pub issuers: Option<Vec<String>>,
    pub max_sources: Option<usize>,
    pub max_issuers: Option<usize>,
    pub age_buckets: Option<Vec<f64>>,
    #[serde(default, deserialize_with = "de_duration")]
    pub lead_window: Option<Duration>,
    /// JSON-lines files or globs to follow.
    pub files: Option<Vec<String>>,
    pub file_start: Option<crate::ingest::tail::StartAt>,
    pub checkpoint: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_duration")]
    pub file_poll_interval: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawWeb {
    pub listen_address: Option<String>,
    pub telemetry_path: Option<String>,
    #[serde(default, deserialize_with = "de_duration")]
    pub read_header_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub idle_timeout: Option<Duration>,
    pub config_file: Option<PathBuf>,
    pub enable_lifecycle: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawNtp {
    pub servers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de_duration")]
    pub interval: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub timeout: Option<Duration>,
    pub burst: Option<u32>,
    #[serde(default, deserialize_with = "de_duration")]
    pub burst_spacing: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub falseticker_floor: Option<Duration>,
    pub max_backoff: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<LogFormat>,
}

/// A configuration problem. Displayed to the user as is, then the process exits with 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

impl RawConfig {
    /// Reads and parses a TOML file; unknown keys are an error naming the key and the file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read_config_file(path)
            .and_then(|b| {
                String::from_utf8(b)
                    .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
            })
            .map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }
}

/// One configured NTP server: the label is the string the user wrote, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub label: String,
    pub host: String,
    pub port: u16,
}

impl ServerSpec {
    /// Parses `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address. Port defaults to 123.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let label = spec.trim().to_owned();
        if label.is_empty() {
            return Err("empty server name".into());
        }
        let (host, port) = if let Some(rest) = label.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{label}`: missing `]`"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("`{label}`: expected `:port` after `]`"))?,
                ),
            };
            (host, port)
        } else if label.matches(':').count() > 1 {
            (label.as_str(), None) // a bare IPv6 address
        } else if let Some((h, p)) = label.rsplit_once(':') {
            (h, Some(p))
        } else {
            (label.as_str(), None)
        };
        if host.is_empty() || host.chars().any(char::is_whitespace) {
            return Err(format!("`{label}`: invalid host"));
        }
        let port = match port {
            None => 123,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("`{label}`: invalid port `{p}`"))?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            label,
        })
    }
}

#[derive(Debug, Clone)]
pub struct WebSettings {
    pub listen_address: String,
    pub telemetry_path: String,
    /// A request head must arrive within this (also the keep-alive idle limit).
    pub read_header_timeout: Duration,
    /// A connection on which nothing moves for this long while the server waits on the
    /// client (outside a request in flight) is closed.
    pub idle_timeout: Duration,
    /// `web.config-file`: TLS, basic auth and headers of the main listener, and of the events
    /// and verify listeners unless they have their own.
    pub config: Option<WebConfigSource>,
    /// What the separate events listener (if any) runs with.
    pub events_config: Option<WebConfigSource>,
    /// What the separate verify listener (if any) runs with.
    pub verify_config: Option<WebConfigSource>,
    /// What the separate `/probe` listener (if any) runs with.
    pub probe_config: Option<WebConfigSource>,
    /// `POST /-/reload` is served.
    pub enable_lifecycle: bool,
}

/// A web config file and what it held when the settings were loaded.
#[derive(Debug, Clone)]
pub struct WebConfigSource {
    pub path: PathBuf,
    pub config: Arc<crate::webconfig::WebConfig>,
}

impl WebConfigSource {
    /// `None` for an empty path (exporter-toolkit's "no web config").
    fn load(setting: &'static str, path: &Path) -> Result<Option<Self>, ConfigError> {
        if path.as_os_str().is_empty() {
            return Ok(None);
        }
        let config =
            crate::webconfig::WebConfig::load(path).map_err(|e| invalid(setting, e.to_string()))?;
        Ok(Some(WebConfigSource {
            path: path.to_owned(),
            config: Arc::new(config),
        }))
    }

    fn has_users(this: &Option<Self>) -> bool {
        this.as_ref().is_some_and(|s| s.config.has_users())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NtpSettings {
    pub servers: Vec<ServerSpec>,
    pub interval: Duration,
    pub timeout: Duration,
    pub burst: u32,
    pub burst_spacing: Duration,
    pub falseticker_floor: Duration,
    /// Cap on the Kiss-o'-Death RATE backoff, as a multiple of `interval`.
    pub max_backoff: u32,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `None`: not set by flag or file, so `RUST_LOG` or `info` applies.
    pub level: Option<String>,
    pub format: LogFormat,
}

#[derive(Clone)]
pub struct EventsSettings {
    /// `None`: /v1/events is served on the main listener.
    pub listen_address: Option<String>,
    pub max_body: usize,
    pub max_line: usize,
    /// A `POST /v1/events` body must arrive in full within this.
    pub read_timeout: Duration,
    /// `POST /v1/events` requests handled at once.
    pub max_concurrent: usize,
    /// The shared secret read from `auth-token-file`, whitespace trimmed.
    pub auth_token: Option<Arc<[u8]>>,
    pub age_buckets: Vec<f64>,
    pub recorder: crate::record::RecorderSettings,
    /// File tailing; no patterns means no tailing.
    pub tail: crate::ingest::tail::TailSettings,
}

impl std::fmt::Debug for EventsSettings {
    // Hand-written so the secret never reaches a log line or an error.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsSettings")
            .field("listen_address", &self.listen_address)
            .field("max_body", &self.max_body)
            .field("max_line", &self.max_line)
            .field("read_timeout", &self.read_timeout)
            .field("max_concurrent", &self.max_concurrent)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("age_buckets", &self.age_buckets)
            .field("recorder", &self.recorder)
            .field("tail", &self.tail)
            .finish()
    }
}

/// The validated configuration the program runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The command line the settings came from: a reload re-reads the file under the same flags.
    pub flags: Arc<Flags>,
    pub config_file: Option<PathBuf>,
    pub web: WebSettings,
    pub ntp: NtpSettings,
    pub log: LogSettings,
    pub events: EventsSettings,
    /// `/v1/verify`; off when no key source is configured.
    pub verify: crate::verify::VerifySettings,
    /// `/probe`; off when no module is configured.
    pub probe: crate::probe::jwt_config::ProbeSettings,
}

impl Settings {
    /// Loads the file named by `--config.file` (if any) and merges it with the flags.
    pub fn load(flags: &Flags) -> Result<Self, ConfigError> {
        let raw = match &flags.config_file {
            Some(path) => RawConfig::load(path)?,
            None => RawConfig::default(),
        };
        Self::from_sources(flags, raw)
    }

    /// Merges flags over the file over the defaults, then validates.
    pub fn from_sources(flags: &Flags, raw: RawConfig) -> Result<Self, ConfigError> {
        let listen_address = flags
            .listen_address
            .clone()
            .or(raw.web.listen_address)
            .unwrap_or_else(|| defaults::LISTEN_ADDRESS.into());
        parse_listen_address(&listen_address).map_err(|m| invalid("web.listen-address", m))?;

        let telemetry_path = flags
            .telemetry_path
            .clone()
            .or(raw.web.telemetry_path)
            .unwrap_or_else(|| defaults::TELEMETRY_PATH.into());
        if !telemetry_path.starts_with('/')
            || telemetry_path.len() < 2
            || telemetry_path.contains(['?', '#', ' '])
        {
            return Err(invalid(
                "web.telemetry-path",
                format!(
                    "`{telemetry_path}` must be an absolute path other than `/`, like /metrics"
                ),
            ));
        }

        let read_header_timeout = flags
            .read_header_timeout
            .or(raw.web.read_header_timeout)
            .unwrap_or(defaults::READ_HEADER_TIMEOUT);
        if read_header_timeout < Duration::from_millis(100)
            || read_header_timeout > Duration::from_secs(300)
        {
            return Err(invalid(
                "web.read-header-timeout",
                "must be between 100ms and 5m",
            ));
        }
        let idle_timeout = flags
            .idle_timeout
            .or(raw.web.idle_timeout)
            .unwrap_or(defaults::IDLE_TIMEOUT);
        if idle_timeout < Duration::from_millis(100) || idle_timeout > Duration::from_secs(3600) {
            return Err(invalid("web.idle-timeout", "must be between 100ms and 1h"));
        }

        let server_strings: Vec<String> = if !flags.ntp_servers.is_empty() {
            flags.ntp_servers.clone()
        } else if let Some(s) = raw.ntp.servers {
            s
        } else {
            DEFAULT_NTP_SERVERS.iter().map(|s| s.to_string()).collect()
        };
        if server_strings.is_empty() {
            return Err(invalid("ntp.servers", "at least one server is needed"));
        }
        if server_strings.len() > 64 {
            return Err(invalid("ntp.servers", "at most 64 servers"));
        }
        let mut servers = Vec::with_capacity(server_strings.len());
        for s in &server_strings {
            let spec = ServerSpec::parse(s).map_err(|m| invalid("ntp.servers", m))?;
            if servers.iter().any(|o: &ServerSpec| o.label == spec.label) {
                return Err(invalid(
                    "ntp.servers",
                    format!("`{}` is listed twice", spec.label),
                ));
            }
            servers.push(spec);
        }

        let interval = flags
            .ntp_interval
            .or(raw.ntp.interval)
            .unwrap_or(defaults::NTP_INTERVAL);
        let timeout = flags
            .ntp_timeout
            .or(raw.ntp.timeout)
            .unwrap_or(defaults::NTP_TIMEOUT);
        let burst = flags
            .ntp_burst
            .or(raw.ntp.burst)
            .unwrap_or(defaults::NTP_BURST);
        let burst_spacing = flags
            .ntp_burst_spacing
            .or(raw.ntp.burst_spacing)
            .unwrap_or(defaults::NTP_BURST_SPACING);
        let falseticker_floor = flags
            .ntp_falseticker_floor
            .or(raw.ntp.falseticker_floor)
            .unwrap_or(defaults::NTP_FALSETICKER_FLOOR);
        let max_backoff = raw.ntp.max_backoff.unwrap_or(defaults::NTP_MAX_BACKOFF);

        if interval < Duration::from_secs(1) {
            return Err(invalid("ntp.interval", "must be at least 1s"));
        }
        if timeout.is_zero() || timeout > Duration::from_secs(60) {
            return Err(invalid("ntp.timeout", "must be between 1ms and 60s"));
        }
        if !(1..=16).contains(&burst) {
            return Err(invalid("ntp.burst", format!("{burst} is outside 1..=16")));
        }
        if burst_spacing < Duration::from_millis(10) {
            return Err(invalid(
                "ntp.burst-spacing",
                "must be at least 10ms (never back to back)",
            ));
        }
        if falseticker_floor > Duration::from_secs(1) {
            return Err(invalid("ntp.falseticker-floor", "must be at most 1s"));
        }
        if !(1..=1024).contains(&max_backoff) {
            return Err(invalid(
                "ntp.max-backoff",
                format!("{max_backoff} is outside 1..=1024"),
            ));
        }

        let level = flags.log_level.clone().or(raw.log.level);
        if let Some(l) = &level {
            tracing_subscriber::EnvFilter::try_new(l)
                .map_err(|e| invalid("log.level", format!("`{l}`: {e}")))?;
        }
        let format = flags.log_format.or(raw.log.format).unwrap_or_default();
        let web_config_path = flags.web_config_file.clone().or(raw.web.config_file);
        let config = match &web_config_path {
            Some(p) => WebConfigSource::load("web.config-file", p)?,
            None => None,
        };
        let enable_lifecycle = flags.enable_lifecycle || raw.web.enable_lifecycle.unwrap_or(false);
        let events_web = flags
            .events_web_config_file
            .clone()
            .or(raw.events.web_config_file.clone());
        let verify_web = flags
            .verify
            .verify_web_config_file
            .clone()
            .or(raw.verify.web_config_file.clone());
        let probe_web = raw.probe.web_config_file.clone();
        let events = events_settings(flags, raw.events)?;
        let probe = crate::probe::jwt_config::settings(raw.probe)?;
        let verify = crate::verify::config::settings(&flags.verify, raw.verify)?;
        // A separate listener runs with its own web config when one is named, else the main
        // one; naming one without a separate listener is a mistake worth reporting.
        let separate = |setting: &'static str,
                        listener: &Option<String>,
                        own: Option<PathBuf>|
         -> Result<Option<WebConfigSource>, ConfigError> {
            match (listener, own) {
                (None, Some(_)) => Err(invalid(
                    setting,
                    "applies only to a separate listener; set its listen-address too",
                )),
                (_, Some(p)) => WebConfigSource::load(setting, &p),
                (_, None) => Ok(config.clone()),
            }
        };
        let events_config = separate("events.web-config-file", &events.listen_address, events_web)?;
        let verify_config = separate("verify.web-config-file", &verify.listen_address, verify_web)?;
        let probe_config = separate("probe.web-config-file", &probe.listen_address, probe_web)?;
        // /v1/events (with a shared secret) and /v1/verify read the Authorization header
        // themselves: basic auth on their listener would take it from them.
        let events_listener = if events.listen_address.is_some() {
            &events_config
        } else {
            &config
        };
        if events.auth_token.is_some() && WebConfigSource::has_users(events_listener) {
            return Err(invalid(
                "events.auth-token-file",
                "the listener of /v1/events also requires basic auth (basic_auth_users in its web \
                 config), and both use the Authorization header; serve /v1/events on its own \
                 listener (events.listen-address) with an events.web-config-file without \
                 basic_auth_users, or drop one of the two",
            ));
        }
        let verify_listener = if verify.listen_address.is_some() {
            &verify_config
        } else {
            &config
        };
        if verify.enabled() && WebConfigSource::has_users(verify_listener) {
            return Err(invalid(
                "verify.listen-address",
                "/v1/verify reads the token from the Authorization header, so its listener cannot \
                 require basic auth (basic_auth_users in the web config): serve it on its own \
                 listener (verify.listen-address) with a verify.web-config-file without \
                 basic_auth_users",
            ));
        }

        Ok(Settings {
            flags: Arc::new(flags.clone()),
            config_file: flags.config_file.clone(),
            web: WebSettings {
                listen_address,
                telemetry_path,
                read_header_timeout,
                idle_timeout,
                config,
                events_config,
                verify_config,
                probe_config,
                enable_lifecycle,
            },
            ntp: NtpSettings {
                servers,
                interval,
                timeout,
                burst,
                burst_spacing,
                falseticker_floor,
                max_backoff,
            },
            log: LogSettings { level, format },
            events,
            verify,
            probe,
        })
    }
}

fn events_settings(flags: &Flags, raw: RawEvents) -> Result<EventsSettings, ConfigError> {
    let listen_address = flags.events_listen_address.clone().or(raw.listen_address);
    if let Some(a) = &listen_address {
        parse_listen_address(a).map_err(|m| invalid("events.listen-address", m))?;
    }
    let max_body = flags
        .events_max_body
        .or(raw.max_body)
        .unwrap_or(defaults::EVENTS_MAX_BODY);
    let max_line = flags
        .events_max_line
        .or(raw.max_line)
        .unwrap_or(defaults::EVENTS_MAX_LINE);
    if !(1024..=1 << 30).contains(&max_body) {
        return Err(invalid("events.max-body", "must be between 1KiB and 1GiB"));
    }
    if !(256..=64 << 20).contains(&max_line) {
        return Err(invalid("events.max-line", "must be between 256B and 64MiB"));
    }
    let read_timeout = flags
        .events_read_timeout
        .or(raw.read_timeout)
        .unwrap_or(defaults::EVENTS_READ_TIMEOUT);
    if read_timeout < Duration::from_millis(100) || read_timeout > Duration::from_secs(3600) {
        return Err(invalid(
            "events.read-timeout",
            "must be between 100ms and 1h",
        ));
    }
    let max_concurrent = flags
        .events_max_concurrent
        .or(raw.max_concurrent)
        .unwrap_or(defaults::EVENTS_MAX_CONCURRENT);
    if !(1..=4096).contains(&max_concurrent) {
        return Err(invalid(
            "events.max-concurrent",
            format!("{max_concurrent} is outside 1..=4096"),
        ));
    }
    let auth_token = match flags.events_auth_token_file.clone().or(raw.auth_token_file) {
        None => None,
        Some(path) => {
            let text = read_config_file(&path).map_err(|e| {
                invalid(
                    "events.auth-token-file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let secret = text.trim_ascii();
            if secret.is_empty() {
                return Err(invalid(
                    "events.auth-token-file",
                    format!("{} is empty", path.display()),
                ));
            }
            if secret.iter().any(|b| !b.is_ascii_graphic()) {
                return Err(invalid(
                    "events.auth-token-file",
                    format!(
                        "{} must hold one printable token without spaces",
                        path.display()
                    ),
                ));
            }
            Some(Arc::from(secret))
        }
    };
    let age_buckets = raw
        .age_buckets
        .unwrap_or_else(|| crate::metrics::DEFAULT_AGE_BUCKETS.to_vec());
    if age_buckets.is_empty() || age_buckets.len() > 64 {
        return Err(invalid("events.age-buckets", "between 1 and 64 bounds"));
    }
    if age_buckets.iter().any(|b| !b.is_finite()) || age_buckets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(invalid(
            "events.age-buckets",
            "bounds must be finite and strictly increasing",
        ));
    }
    let lead_window = raw.lead_window.unwrap_or(defaults::LEAD_WINDOW);
    if lead_window < crate::record::LEAD_SLOT || lead_window > Duration::from_secs(24 * 3600) {
        return Err(invalid("events.lead-window", "must be between 10s and 24h"));
    }
    let limit = |v: Option<usize>, name| match v.unwrap_or(defaults::MAX_LABEL_VALUES) {
        n @ 1..=1000 => Ok(n),
        _ => Err(invalid(name, "must be between 1 and 1000")),
    };
    let check_allow = |v: &Option<Vec<String>>, name| match v {
        Some(list) if list.is_empty() || list.len() > 1000 => Err(invalid(
            name,
            "an allow-list needs between 1 and 1000 values",
        )),
        Some(list)
            if list
                .iter()
                .any(|s| s.is_empty() || s.len() > crate::labels::MAX_LABEL_LEN) =>
        {
            Err(invalid(name, "values must be 1 to 256 bytes long"))
        }
        _ => Ok(()),
    };
    let patterns = if flags.events_files.is_empty() {
        raw.files.unwrap_or_default()
    } else {
        flags.events_files.clone()
    };
    if patterns.len() > 64 {
        return Err(invalid("events.files", "at most 64 patterns"));
    }
    for p in &patterns {
        glob::Pattern::new(p).map_err(|e| invalid("events.files", format!("`{p}`: {e}")))?;
        if p.ends_with('/') || p.is_empty() {
            return Err(invalid(
                "events.files",
                format!("`{p}` must name files, not a directory"),
            ));
        }
    }
    let poll_interval = raw
        .file_poll_interval
        .unwrap_or(defaults::FILE_POLL_INTERVAL);
    if poll_interval < Duration::from_millis(50) || poll_interval > Duration::from_secs(300) {
        return Err(invalid(
            "events.file-poll-interval",
            "must be between 50ms and 5m",
        ));
    }
    let tail = crate::ingest::tail::TailSettings {
        patterns,
        start: flags
            .events_file_start
            .or(raw.file_start)
            .unwrap_or_default(),
        checkpoint: flags.events_checkpoint.clone().or(raw.checkpoint),
        poll_interval,
        max_line,
        idle_drop: defaults::FILE_IDLE_DROP,
    };
    check_allow(&raw.sources, "events.sources")?;
    check_allow(&raw.issuers, "events.issuers")?;
    Ok(EventsSettings {
        listen_address,
        max_body,
        max_line,
        read_timeout,
        max_concurrent,
        auth_token,
        age_buckets,
        recorder: crate::record::RecorderSettings {
            source_allow: raw.sources,
            issuer_allow: raw.issuers,
            max_sources: limit(raw.max_sources, "events.max-sources")?,
            max_issuers: limit(raw.max_issuers, "events.max-issuers")?,
            lead_window,
        },
        tail,
    })
}

/// Turns `:9797`, `0.0.0.0:9797`, `127.0.0.1:0`, `[::1]:9797` or `localhost:9797` into
/// something `TcpListener::bind` takes. `:PORT` means every IPv4 and IPv6 interface.
pub fn parse_listen_address(addr: &str) -> Result<String, String> {
    let addr = addr.trim();
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("`{addr}` has no port; use HOST:PORT or :PORT"))?;
    port.parse::<u16>()
        .map_err(|_| format!("`{addr}`: invalid port `{port}`"))?;
    if host.is_empty() {
        Ok(format!("[::]:{port}"))
    } else if host.starts_with('[') != host.ends_with(']') {
        Err(format!("`{addr}`: unbalanced brackets"))
    } else {
        Ok(addr.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(flags: Flags, toml: &str) -> Result<Settings, ConfigError> {
        Settings::from_sources(&flags, RawConfig::parse(toml).expect("toml parses"))
    }

    /// Configuration-side files must be regular: a FIFO, a device or a directory is refused at
    /// once instead of blocking (or never ending) the read.
    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for p in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
            let e = read_config_file(p).unwrap_err();
            assert!(
                e.to_string().contains("not a regular file"),
                "{}: {e}",
                p.display()
            );
        }
        // Where the file is named, the error says which setting and which file.
        let e = settings(
            Flags::default(),
            &format!("[events]\nauth-token-file = {fifo:?}\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("events.auth-token-file") && e.contains("not a regular file"),
            "{e}"
        );
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "x").unwrap();
        assert_eq!(read_config_file(&ok).unwrap(), b"x");
    }

    /// /v1/events with a shared secret and basic auth cannot share a listener (both use the
    /// Authorization header); on its own listener with its own web config they can.
    #[test]
    fn basic_auth_and_the_events_secret_need_separate_listeners() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("pw", 4).unwrap();
        let auth = dir.path().join("auth.yml");
        std::fs::write(&auth, format!("basic_auth_users:\n  p: '{hash}'\n")).unwrap();
        let empty = dir.path().join("empty.yml");
        std::fs::write(&empty, "").unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret").unwrap();
        let toml = |events: &str| {
            format!(
                "[web]\nconfig-file = {auth:?}\n[events]\nauth-token-file = {secret:?}\n{events}"
            )
        };
        let e = settings(Flags::default(), &toml(""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("events.auth-token-file") && e.contains("Authorization"),
            "{e}"
        );
        let e = settings(
            Flags::default(),
            &toml(&format!("web-config-file = {empty:?}\n")),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("applies only to a separate listener"), "{e}");
        let s = settings(
            Flags::default(),
            &toml(&format!(
                "listen-address = \"127.0.0.1:0\"\nweb-config-file = {empty:?}\n"
            )),
        )
        .unwrap();
        assert!(s.web.config.as_ref().unwrap().config.has_users());
        assert!(!s.web.events_config.as_ref().unwrap().config.has_users());
        // Without its own file, the events listener inherits the main one, and the conflict.
        let e = settings(
            Flags::default(),
            &toml("listen-address = \"127.0.0.1:0\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("events.auth-token-file"), "{e}");
    }

    #[test]
    fn defaults_apply_without_flags_or_file() {
        let s = settings(Flags::default(), "").unwrap();
        assert_eq!(s.web.listen_address, ":9797");
        assert_eq!(s.web.telemetry_path, "/metrics");
        assert_eq!(s.ntp.servers.len(), DEFAULT_NTP_SERVERS.len());
        assert_eq!(s.ntp.interval, Duration::from_secs(32));
        assert_eq!(s.ntp.timeout, Duration::from_secs(2));
        assert_eq!(s.ntp.burst, 4);
        assert_eq!(s.log.format, LogFormat::Text);
        assert_eq!(s.web.read_header_timeout, Duration::from_secs(10));
        assert_eq!(s.web.idle_timeout, Duration::from_secs(30));
        assert_eq!(s.events.read_timeout, Duration::from_secs(60));
        assert_eq!(s.events.max_concurrent, 16);
    }

    #[test]
    fn http_limits_from_flags_and_file() {
        let toml = "[web]\nread-header-timeout = \"2s\"\nidle-timeout = \"5s\"\n\
                    [events]\nread-timeout = \"3s\"\nmax-concurrent = 4\n";
        let s = settings(Flags::default(), toml).unwrap();
        assert_eq!(s.web.read_header_timeout, Duration::from_secs(2));
        assert_eq!(s.web.idle_timeout, Duration::from_secs(5));
        assert_eq!(s.events.read_timeout, Duration::from_secs(3));
        assert_eq!(s.events.max_concurrent, 4);
        let flags = Flags {
            read_header_timeout: Some(Duration::from_millis(500)),
            events_max_concurrent: Some(64),
            ..Flags::default()
        };
        let s = settings(flags, toml).unwrap();
        assert_eq!(s.web.read_header_timeout, Duration::from_millis(500));
        assert_eq!(s.events.max_concurrent, 64);
    }

    #[test]
    fn flags_win_over_file() {
        let flags = Flags {
            ntp_interval: Some(Duration::from_secs(5)),
            ntp_servers: vec!["127.0.0.1:1234".into()],
            ..Flags::default()
        };
        let s = settings(
            flags,
            "[ntp]\ninterval = \"1m\"\ntimeout = \"500ms\"\nservers = [\"a.example\"]\n",
        )
        .unwrap();
        assert_eq!(s.ntp.interval, Duration::from_secs(5));
        assert_eq!(s.ntp.timeout, Duration::from_millis(500));
        assert_eq!(s.ntp.servers[0].label, "127.0.0.1:1234");
    }

    #[test]
    fn unknown_keys_are_refused_in_every_table() {
        for toml in [
            "bogus = 1",
            "[web]\nbogus = 1",
            "[ntp]\nbogus = 1",
            "[log]\nbogus = 1",
            "[events]\nbogus = 1",
            "[nonsense]\nx = 1",
        ] {
            let err = RawConfig::parse(toml).unwrap_err();
            assert!(err.contains("unknown field"), "{toml}: {err}");
        }
    }

    #[test]
    fn file_errors_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[ntp]\nintervall = \"1s\"\n").unwrap();
        let msg = RawConfig::load(&path).unwrap_err().to_string();
        assert!(msg.contains("c.toml"), "{msg}");
        assert!(msg.contains("intervall"), "{msg}");
    }

    #[test]
    fn bad_durations_are_explained() {
        let err = RawConfig::parse("[ntp]\ninterval = \"fast\"").unwrap_err();
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn bad_sizes_and_types_are_explained() {
        let err = RawConfig::parse("[events]\nmax-body = \"16 potatoes\"").unwrap_err();
        assert!(err.contains("not a size"), "{err}");
        let err = RawConfig::parse("[events]\nmax-body = -1").unwrap_err();
        assert!(err.contains("max-body"), "{err}");
        let err = RawConfig::parse("[events]\nmax-concurrent = \"many\"").unwrap_err();
        assert!(err.contains("max-concurrent"), "{err}");
        assert!(parse_size("99999999999999999999").is_err());
    }

    #[test]
    fn a_missing_config_file_is_named() {
        let msg = RawConfig::load(Path::new("/nonexistent/skew.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("/nonexistent/skew.toml"), "{msg}");
    }

    #[test]
    fn server_spec_forms() {
        let p = |s| ServerSpec::parse(s).unwrap();
        assert_eq!(
            (p("pool.ntp.org").host, p("pool.ntp.org").port),
            ("pool.ntp.org".into(), 123)
        );
        assert_eq!(p("127.0.0.1:1123").port, 1123);
        assert_eq!(p("[::1]:1123").host, "::1");
        assert_eq!(p("[::1]:1123").port, 1123);
        assert_eq!(p("[::1]").port, 123);
        assert_eq!(p("::1").host, "::1");
        assert_eq!(p("::1").port, 123);
        assert_eq!(p("[::1]:1123").label, "[::1]:1123");
        for bad in [
            "",
            "host:",
            "host:70000",
            "host:0",
            "[::1",
            "[::1]x",
            ":123",
        ] {
            assert!(ServerSpec::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn invalid_values_are_refused() {
        let cases = [
            ("[ntp]\nburst = 0", "ntp.burst"),
            ("[ntp]\nburst = 17", "ntp.burst"),
            ("[ntp]\ninterval = \"10ms\"", "ntp.interval"),
            ("[ntp]\nservers = []", "ntp.servers"),
            ("[ntp]\nservers = [\"a\", \"a\"]", "ntp.servers"),
            ("[web]\ntelemetry-path = \"metrics\"", "web.telemetry-path"),
            ("[web]\nlisten-address = \"9797\"", "web.listen-address"),
            ("[log]\nlevel = \"[[[\"", "log.level"),
            ("[events]\nage-buckets = [1.0, 0.5]", "events.age-buckets"),
            ("[events]\nmax-issuers = 0", "events.max-issuers"),
            ("[events]\nissuers = []", "events.issuers"),
            ("[events]\nlead-window = \"1s\"", "events.lead-window"),
            ("[events]\nmax-body = \"10B\"", "events.max-body"),
            ("[events]\nmax-concurrent = 0", "events.max-concurrent"),
            ("[events]\nread-timeout = \"1ms\"", "events.read-timeout"),
            (
                "[web]\nread-header-timeout = \"1h\"",
                "web.read-header-timeout",
            ),
            ("[web]\nidle-timeout = \"0s\"", "web.idle-timeout"),
            ("[events]\nfiles = [\"/var/log/[\"]", "events.files"),
            (
                "[events]\nfile-poll-interval = \"1ms\"",
                "events.file-poll-interval",
            ),
            (
                "[events]\nauth-token-file = \"/nonexistent/secret\"",
                "events.auth-token-file",
            ),
        ];
        for (toml, setting) in cases {
            let msg = settings(Flags::default(), toml).unwrap_err().to_string();
            assert!(msg.contains(setting), "{toml}: {msg}");
        }
    }

    #[test]
    fn events_settings_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "  hunter2\n").unwrap();
        let toml = format!(
            "[events]\nmax-body = \"1MiB\"\nmax-line = 4096\nissuers = [\"https://idp\"]\nauth-token-file = {:?}\nlead-window = \"1m\"\n",
            secret.display().to_string()
        );
        let s = settings(Flags::default(), &toml).unwrap();
        assert_eq!(s.events.max_body, 1 << 20);
        assert_eq!(s.events.max_line, 4096);
        assert_eq!(s.events.auth_token.as_deref(), Some(&b"hunter2"[..]));
        assert!(
            !format!("{:?}", s.events).contains("hunter2"),
            "Debug must redact the secret"
        );
        assert_eq!(
            s.events.recorder.issuer_allow,
            Some(vec!["https://idp".to_string()])
        );
        assert_eq!(s.events.recorder.lead_window, Duration::from_secs(60));
        assert_eq!(s.events.age_buckets, crate::metrics::DEFAULT_AGE_BUCKETS);
    }

    #[test]
    fn listen_address_forms() {
        assert_eq!(parse_listen_address(":9797").unwrap(), "[::]:9797");
        assert_eq!(parse_listen_address("127.0.0.1:0").unwrap(), "127.0.0.1:0");
        assert_eq!(parse_listen_address("[::1]:9797").unwrap(), "[::1]:9797");
        assert!(parse_listen_address("localhost").is_err());
        assert!(parse_listen_address("x:port").is_err());
    }
}
