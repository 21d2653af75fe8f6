//! Built-in defaults of every area; the README's flag table and `examples/skew-exporter.toml`
//! quote these (`tests/packaging.rs` checks the example against them).

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
/// `events.expiry-edge`: expired by at most this (and not skew or transit) is `expiry_edge`.
pub const EXPIRY_EDGE: Duration = Duration::from_secs(5);
/// `events.stale-after`: expired by more than this is `stale_token`.
pub const STALE_AFTER: Duration = Duration::from_secs(60);
pub const MAX_LABEL_VALUES: usize = 32;
/// `events.lead-min-samples`: no issuer lead from fewer tokens in the window.
pub const LEAD_MIN_SAMPLES: u64 = 3;
pub const FILE_POLL_INTERVAL: Duration = Duration::from_secs(1);
pub const FILE_IDLE_DROP: Duration = Duration::from_secs(5);
pub const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once per listener; each costs a file descriptor and a task.
pub const MAX_CONNECTIONS: usize = 1024;
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
pub const EVENTS_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Each request may buffer up to `events.max-body`: 16 × 16 MiB bounds that memory, and
/// 16 keep 2 cores busy while the others upload.
pub const EVENTS_MAX_CONCURRENT: usize = 16;
