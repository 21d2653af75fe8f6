//! `[log]` and the `--log.*` flags, validated into [`LogSettings`]. Pure.

use serde::Deserialize;

use super::base::{invalid, ConfigError};
use super::flags::Flags;
pub use super::flags::LogFormat;

/// `[log]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<LogFormat>,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `None`: not set by flag or file, so `RUST_LOG` or `info` applies.
    pub level: Option<String>,
    pub format: LogFormat,
}

/// Flag over file; a level must be a filter `tracing` accepts.
pub fn validate(flags: &Flags, raw: RawLog) -> Result<LogSettings, ConfigError> {
    let level = flags.log_level.clone().or(raw.level);
    if let Some(l) = &level {
        tracing_subscriber::EnvFilter::try_new(l)
            .map_err(|e| invalid("log.level", format!("`{l}`: {e}")))?;
    }
    let format = flags.log_format.or(raw.format).unwrap_or_default();
    Ok(LogSettings { level, format })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::assert_unknown_key_refused;

    #[test]
    fn unknown_keys_are_refused_naming_key_and_file() {
        assert_unknown_key_refused("[log]\nlevels = \"info\"\n", "levels");
    }

    #[test]
    fn flag_over_file_and_a_bad_filter_is_named() {
        let raw = || RawLog {
            level: Some("warn,skew_exporter=debug".into()),
            format: Some(LogFormat::Json),
        };
        let s = validate(&Flags::default(), raw()).unwrap();
        assert_eq!(s.level.as_deref(), Some("warn,skew_exporter=debug"));
        assert_eq!(s.format, LogFormat::Json);
        let flags = Flags {
            log_level: Some("error".into()),
            log_format: Some(LogFormat::Text),
            ..Flags::default()
        };
        let s = validate(&flags, raw()).unwrap();
        assert_eq!(
            (s.level.as_deref(), s.format),
            (Some("error"), LogFormat::Text)
        );
        let s = validate(&Flags::default(), RawLog::default()).unwrap();
        assert_eq!((s.level, s.format), (None, LogFormat::Text));
        let e = validate(
            &Flags::default(),
            RawLog {
                level: Some("[[[".into()),
                format: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("log.level") && e.contains("[[["), "{e}");
    }
}
