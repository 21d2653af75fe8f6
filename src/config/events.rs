//! `[events]` and the `--events.*` flags: `POST /v1/events` (its listener, limits and shared
//! secret), the cardinality guard and lead window of the recorder, and file tailing.
//!
//! Two stages: [`validate`] is pure and returns the settings with the secret's *path*;
//! [`EventsSettings::read`] reads the secret, and [`secret`] (pure again) checks what it held.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::base::{
    de_duration, de_size, invalid, parse_listen_address, read_config_file, ConfigError,
};
use super::defaults;
use super::flags::Flags;
use crate::ingest::tail::{StartAt, TailSettings};
use crate::record::RecorderSettings;
use crate::verdict::CauseSettings;

/// `[events]` as written.
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
    /// An `expired` rejection at most this far past `exp` (and not explained by skew or
    /// transit) has cause `expiry_edge`.
    #[serde(default, deserialize_with = "de_duration")]
    pub expiry_edge: Option<Duration>,
    /// An `expired` rejection more than this far past `exp` has cause `stale_token`.
    #[serde(default, deserialize_with = "de_duration")]
    pub stale_after: Option<Duration>,
    /// No issuer lead is exported (or used for a cause) from fewer tokens in the window.
    pub lead_min_samples: Option<u64>,
    /// Allow-list of `kid` values; everything else becomes `other`.
    pub kids: Option<Vec<String>>,
    pub max_kids: Option<usize>,
    /// Sources that verify on this host (their clock is this host's, whose NTP offset is
    /// known): their lead gives `skew_jwt_issuer_clock_error_seconds`.
    pub local_sources: Option<Vec<String>>,
    /// JSON-lines files or globs to follow.
    pub files: Option<Vec<String>>,
    pub file_start: Option<StartAt>,
    pub checkpoint: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_duration")]
    pub file_poll_interval: Option<Duration>,
}

/// The validated events settings. `S` is what the shared secret is: its file (`PathBuf`)
/// between [`validate`] and [`EventsSettings::read`], then its bytes (the default, which the
/// rest of the program uses).
#[derive(Clone)]
pub struct EventsSettings<S = Arc<[u8]>> {
    /// `None`: /v1/events is served on the main listener.
    pub listen_address: Option<String>,
    pub max_body: usize,
    pub max_line: usize,
    /// A `POST /v1/events` body must arrive in full within this.
    pub read_timeout: Duration,
    /// `POST /v1/events` requests handled at once.
    pub max_concurrent: usize,
    /// The shared secret read from `auth-token-file`, whitespace trimmed.
    pub auth_token: Option<S>,
    pub age_buckets: Vec<f64>,
    pub recorder: RecorderSettings,
    /// File tailing; no patterns means no tailing.
    pub tail: TailSettings,
}

impl<S> std::fmt::Debug for EventsSettings<S> {
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

/// Merges flags over the file over the defaults and checks the values; reads nothing.
pub fn validate(flags: &Flags, raw: RawEvents) -> Result<EventsSettings<PathBuf>, ConfigError> {
    let listen_address = flags
        .events_listen_address
        .clone()
        .or(raw.listen_address.clone());
    if let Some(a) = &listen_address {
        parse_listen_address(a).map_err(|m| invalid("events.listen-address", m))?;
    }
    let (max_body, max_line) = sizes(flags, &raw)?;
    let (read_timeout, max_concurrent) = request_limits(flags, &raw)?;
    let auth_token = flags
        .events_auth_token_file
        .clone()
        .or(raw.auth_token_file.clone());
    let age_buckets = age_buckets(raw.age_buckets.clone())?;
    let lead_window = raw.lead_window.unwrap_or(defaults::LEAD_WINDOW);
    if lead_window < crate::record::LEAD_SLOT || lead_window > Duration::from_secs(24 * 3600) {
        return Err(invalid("events.lead-window", "must be between 10s and 24h"));
    }
    let tail = tail(flags, &raw, max_line)?;
    let causes = causes(&raw)?;
    let recorder = recorder(raw, lead_window, causes)?;
    Ok(EventsSettings {
        listen_address,
        max_body,
        max_line,
        read_timeout,
        max_concurrent,
        auth_token,
        age_buckets,
        recorder,
        tail,
    })
}

/// `max-body` and `max-line`.
fn sizes(flags: &Flags, raw: &RawEvents) -> Result<(usize, usize), ConfigError> {
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
    Ok((max_body, max_line))
}

/// `read-timeout` and `max-concurrent` of `POST /v1/events`.
fn request_limits(flags: &Flags, raw: &RawEvents) -> Result<(Duration, usize), ConfigError> {
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
    Ok((read_timeout, max_concurrent))
}

/// 1 to 64 finite, strictly increasing bounds; the metrics' defaults when not set.
fn age_buckets(raw: Option<Vec<f64>>) -> Result<Vec<f64>, ConfigError> {
    let age_buckets = raw.unwrap_or_else(|| crate::metrics::DEFAULT_AGE_BUCKETS.to_vec());
    if age_buckets.is_empty() || age_buckets.len() > 64 {
        return Err(invalid("events.age-buckets", "between 1 and 64 bounds"));
    }
    if age_buckets.iter().any(|b| !b.is_finite()) || age_buckets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(invalid(
            "events.age-buckets",
            "bounds must be finite and strictly increasing",
        ));
    }
    Ok(age_buckets)
}

/// File tailing: the patterns (flags replace the file's list), where to start, the checkpoint.
fn tail(flags: &Flags, raw: &RawEvents, max_line: usize) -> Result<TailSettings, ConfigError> {
    let patterns = if flags.events_files.is_empty() {
        raw.files.clone().unwrap_or_default()
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
    Ok(TailSettings {
        patterns,
        start: flags
            .events_file_start
            .or(raw.file_start)
            .unwrap_or_default(),
        checkpoint: flags.events_checkpoint.clone().or(raw.checkpoint.clone()),
        poll_interval,
        max_line,
        idle_drop: defaults::FILE_IDLE_DROP,
    })
}

/// `expiry-edge` and `stale-after`: the thresholds of a time rejection's cause.
fn causes(raw: &RawEvents) -> Result<CauseSettings, ConfigError> {
    let expiry_edge = raw.expiry_edge.unwrap_or(defaults::EXPIRY_EDGE);
    let stale_after = raw.stale_after.unwrap_or(defaults::STALE_AFTER);
    if expiry_edge > Duration::from_secs(3600) {
        return Err(invalid("events.expiry-edge", "must be at most 1h"));
    }
    if stale_after < expiry_edge || stale_after > Duration::from_secs(30 * 24 * 3600) {
        return Err(invalid(
            "events.stale-after",
            "must be at least events.expiry-edge and at most 30d",
        ));
    }
    Ok(CauseSettings {
        expiry_edge: expiry_edge.as_secs_f64(),
        stale_after: stale_after.as_secs_f64(),
    })
}

/// The cardinality guard: allow-lists or how many distinct values to keep, per label.
fn recorder(
    raw: RawEvents,
    lead_window: Duration,
    causes: CauseSettings,
) -> Result<RecorderSettings, ConfigError> {
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
    check_allow(&raw.sources, "events.sources")?;
    check_allow(&raw.issuers, "events.issuers")?;
    check_allow(&raw.kids, "events.kids")?;
    check_allow(&raw.local_sources, "events.local-sources")?;
    let lead_min_samples = raw.lead_min_samples.unwrap_or(defaults::LEAD_MIN_SAMPLES);
    if !(1..=1_000_000).contains(&lead_min_samples) {
        return Err(invalid(
            "events.lead-min-samples",
            "must be between 1 and 1000000",
        ));
    }
    Ok(RecorderSettings {
        max_sources: limit(raw.max_sources, "events.max-sources")?,
        max_issuers: limit(raw.max_issuers, "events.max-issuers")?,
        max_kids: limit(raw.max_kids, "events.max-kids")?,
        source_allow: raw.sources,
        issuer_allow: raw.issuers,
        kid_allow: raw.kids,
        local_sources: raw.local_sources.unwrap_or_default(),
        lead_window,
        causes,
        lead_min_samples,
    })
}

impl EventsSettings<PathBuf> {
    /// Reads the shared secret's file, if one is named.
    pub fn read(self) -> Result<EventsSettings, ConfigError> {
        let auth_token = match &self.auth_token {
            None => None,
            Some(path) => {
                let bytes = read_config_file(path).map_err(|e| {
                    invalid(
                        "events.auth-token-file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Some(secret(path, &bytes)?)
            }
        };
        Ok(EventsSettings {
            listen_address: self.listen_address,
            max_body: self.max_body,
            max_line: self.max_line,
            read_timeout: self.read_timeout,
            max_concurrent: self.max_concurrent,
            auth_token,
            age_buckets: self.age_buckets,
            recorder: self.recorder,
            tail: self.tail,
        })
    }
}

/// The shared secret in the bytes of `path`: one printable token, surrounding whitespace
/// trimmed. Errors name the file, never its content.
pub fn secret(path: &Path, bytes: &[u8]) -> Result<Arc<[u8]>, ConfigError> {
    let secret = bytes.trim_ascii();
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
    Ok(Arc::from(secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::assert_unknown_key_refused;

    fn err(flags: &Flags, raw: RawEvents) -> String {
        validate(flags, raw).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_refused_naming_key_and_file() {
        assert_unknown_key_refused("[events]\nmax-bodies = 1\n", "max-bodies");
    }

    /// Validation reads nothing: a secret's file is kept as a path, even one that does not
    /// exist; reading it is the next step.
    #[test]
    fn validation_keeps_the_secret_file_unread() {
        let raw = RawEvents {
            auth_token_file: Some("/nonexistent/secret".into()),
            max_body: Some(2048),
            sources: Some(vec!["orders".into()]),
            files: Some(vec!["/var/log/api/*.jsonl".into()]),
            ..RawEvents::default()
        };
        let s = validate(&Flags::default(), raw).unwrap();
        assert_eq!(s.auth_token, Some(PathBuf::from("/nonexistent/secret")));
        assert_eq!(s.max_body, 2048);
        assert_eq!(s.max_line, defaults::EVENTS_MAX_LINE);
        assert_eq!(s.recorder.source_allow, Some(vec!["orders".to_owned()]));
        assert_eq!(s.recorder.max_issuers, defaults::MAX_LABEL_VALUES);
        assert_eq!(s.tail.patterns, ["/var/log/api/*.jsonl"]);
        assert_eq!(s.tail.max_line, s.max_line);
        let e = s.read().unwrap_err().to_string();
        assert!(
            e.contains("events.auth-token-file") && e.contains("/nonexistent/secret"),
            "{e}"
        );
    }

    #[test]
    fn flags_replace_the_file() {
        let flags = Flags {
            events_files: vec!["/a/*.jsonl".into()],
            events_file_start: Some(StartAt::Beginning),
            events_max_line: Some(512),
            events_auth_token_file: Some("/run/flag-secret".into()),
            ..Flags::default()
        };
        let raw = RawEvents {
            files: Some(vec!["/b/*.jsonl".into(), "/c/*.jsonl".into()]),
            file_start: Some(StartAt::End),
            max_line: Some(4096),
            auth_token_file: Some("/run/file-secret".into()),
            ..RawEvents::default()
        };
        let s = validate(&flags, raw).unwrap();
        assert_eq!(s.tail.patterns, ["/a/*.jsonl"]);
        assert_eq!(s.tail.start, StartAt::Beginning);
        assert_eq!((s.max_line, s.tail.max_line), (512, 512));
        assert_eq!(s.auth_token, Some(PathBuf::from("/run/flag-secret")));
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let f = Flags::default();
        let long = "x".repeat(crate::labels::MAX_LABEL_LEN + 1);
        let cases = [
            (
                RawEvents {
                    listen_address: Some("nowhere".into()),
                    ..RawEvents::default()
                },
                "events.listen-address",
            ),
            (
                RawEvents {
                    max_line: Some(255),
                    ..RawEvents::default()
                },
                "events.max-line",
            ),
            (
                RawEvents {
                    max_concurrent: Some(4097),
                    ..RawEvents::default()
                },
                "events.max-concurrent",
            ),
            (
                RawEvents {
                    age_buckets: Some(vec![0.0, f64::NAN]),
                    ..RawEvents::default()
                },
                "events.age-buckets",
            ),
            (
                RawEvents {
                    lead_window: Some(Duration::from_secs(25 * 3600)),
                    ..RawEvents::default()
                },
                "events.lead-window",
            ),
            (
                RawEvents {
                    expiry_edge: Some(Duration::from_secs(2 * 3600)),
                    ..RawEvents::default()
                },
                "events.expiry-edge",
            ),
            (
                RawEvents {
                    expiry_edge: Some(Duration::from_secs(10)),
                    stale_after: Some(Duration::from_secs(5)),
                    ..RawEvents::default()
                },
                "events.stale-after",
            ),
            (
                RawEvents {
                    files: Some(vec!["/var/log/".into()]),
                    ..RawEvents::default()
                },
                "events.files",
            ),
            (
                RawEvents {
                    sources: Some(vec![long]),
                    ..RawEvents::default()
                },
                "events.sources",
            ),
            (
                RawEvents {
                    max_sources: Some(1001),
                    ..RawEvents::default()
                },
                "events.max-sources",
            ),
            (
                RawEvents {
                    max_kids: Some(0),
                    ..RawEvents::default()
                },
                "events.max-kids",
            ),
            (
                RawEvents {
                    kids: Some(vec![]),
                    ..RawEvents::default()
                },
                "events.kids",
            ),
            (
                RawEvents {
                    local_sources: Some(vec![String::new()]),
                    ..RawEvents::default()
                },
                "events.local-sources",
            ),
            (
                RawEvents {
                    lead_min_samples: Some(0),
                    ..RawEvents::default()
                },
                "events.lead-min-samples",
            ),
        ];
        for (raw, key) in cases {
            let e = err(&f, raw);
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn a_secret_is_one_printable_token() {
        let path = Path::new("/run/secret");
        assert_eq!(&*secret(path, b"  hunter2\n").unwrap(), b"hunter2");
        for (bytes, why) in [
            (&b" \n\t"[..], "/run/secret is empty"),
            (b"two words", "one printable token"),
            (b"caf\xc3\xa9", "one printable token"),
        ] {
            let e = secret(path, bytes).unwrap_err().to_string();
            assert!(
                e.contains("events.auth-token-file") && e.contains(why),
                "{e}"
            );
            assert!(!e.contains("two words"), "the secret is never echoed: {e}");
        }
    }
}
