//! tracing-subscriber set-up: text or JSON lines on stderr.
//!
//! The filter comes from `--log.level` (or the file's `log.level`), else `RUST_LOG`, else
//! `info`. Nothing in this crate ever logs a raw token; see `docs/events.md`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

pub fn init(settings: &LogSettings) {
    let filter = match &settings.level {
        Some(level) => EnvFilter::try_new(level),
        None => EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(crate::config::defaults::LOG_LEVEL)),
    }
    .unwrap_or_else(|_| EnvFilter::new(crate::config::defaults::LOG_LEVEL));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling run twice in one process) keeps the first subscriber.
    let _ = match settings.format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
