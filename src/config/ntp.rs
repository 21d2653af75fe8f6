//! `[ntp]` and the `--ntp.*` flags: which servers to sample and how often, validated into
//! [`NtpSettings`]. Pure: [`validate`] reads no file and opens no socket.

use std::time::Duration;

use serde::Deserialize;

use super::base::{de_duration, invalid, ConfigError};
use super::defaults;
use super::flags::Flags;

/// NTP servers used when neither `--ntp.server` nor the config file names any.
pub const DEFAULT_NTP_SERVERS: &[&str] = &[
    "0.pool.ntp.org",
    "1.pool.ntp.org",
    "2.pool.ntp.org",
    "3.pool.ntp.org",
];

/// `[ntp]` as written.
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

/// Merges flags over the file over the defaults and checks the values.
pub fn validate(flags: &Flags, raw: RawNtp) -> Result<NtpSettings, ConfigError> {
    let servers = servers(flags, raw.servers)?;
    let interval = flags
        .ntp_interval
        .or(raw.interval)
        .unwrap_or(defaults::NTP_INTERVAL);
    let timeout = flags
        .ntp_timeout
        .or(raw.timeout)
        .unwrap_or(defaults::NTP_TIMEOUT);
    let burst = flags.ntp_burst.or(raw.burst).unwrap_or(defaults::NTP_BURST);
    let burst_spacing = flags
        .ntp_burst_spacing
        .or(raw.burst_spacing)
        .unwrap_or(defaults::NTP_BURST_SPACING);
    let falseticker_floor = flags
        .ntp_falseticker_floor
        .or(raw.falseticker_floor)
        .unwrap_or(defaults::NTP_FALSETICKER_FLOOR);
    let max_backoff = raw.max_backoff.unwrap_or(defaults::NTP_MAX_BACKOFF);

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
    Ok(NtpSettings {
        servers,
        interval,
        timeout,
        burst,
        burst_spacing,
        falseticker_floor,
        max_backoff,
    })
}

/// `--ntp.server` (all of them) over `ntp.servers` over [`DEFAULT_NTP_SERVERS`]: 1 to 64
/// distinct servers.
fn servers(flags: &Flags, raw: Option<Vec<String>>) -> Result<Vec<ServerSpec>, ConfigError> {
    let server_strings: Vec<String> = if !flags.ntp_servers.is_empty() {
        flags.ntp_servers.clone()
    } else if let Some(s) = raw {
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
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::assert_unknown_key_refused;

    fn err(flags: &Flags, raw: RawNtp) -> String {
        validate(flags, raw).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_refused_naming_key_and_file() {
        assert_unknown_key_refused(
            "[ntp]
server = [\"a\"]\n",
            "server",
        );
    }

    #[test]
    fn defaults_flags_and_file_merge() {
        let s = validate(&Flags::default(), RawNtp::default()).unwrap();
        let labels: Vec<&str> = s.servers.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, DEFAULT_NTP_SERVERS);
        assert_eq!(s.interval, defaults::NTP_INTERVAL);
        assert_eq!(s.timeout, defaults::NTP_TIMEOUT);
        assert_eq!(s.burst, defaults::NTP_BURST);
        assert_eq!(s.burst_spacing, defaults::NTP_BURST_SPACING);
        assert_eq!(s.falseticker_floor, defaults::NTP_FALSETICKER_FLOOR);
        assert_eq!(s.max_backoff, defaults::NTP_MAX_BACKOFF);
        let raw = || RawNtp {
            servers: Some(vec!["a.example".into(), "b.example:1123".into()]),
            burst: Some(8),
            max_backoff: Some(4),
            ..RawNtp::default()
        };
        let s = validate(&Flags::default(), raw()).unwrap();
        assert_eq!(s.servers[1].port, 1123);
        assert_eq!((s.burst, s.max_backoff), (8, 4));
        // Flags replace the file's server list as a whole.
        let flags = Flags {
            ntp_servers: vec!["c.example".into()],
            ntp_burst: Some(2),
            ..Flags::default()
        };
        let s = validate(&flags, raw()).unwrap();
        assert_eq!(s.servers.len(), 1);
        assert_eq!(s.servers[0].host, "c.example");
        assert_eq!(s.burst, 2);
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let f = Flags::default();
        let cases = [
            (
                RawNtp {
                    servers: Some((0..65).map(|i| format!("s{i}")).collect()),
                    ..RawNtp::default()
                },
                "ntp.servers",
                "at most 64",
            ),
            (
                RawNtp {
                    servers: Some(vec!["a:0".into()]),
                    ..RawNtp::default()
                },
                "ntp.servers",
                "invalid port",
            ),
            (
                RawNtp {
                    timeout: Some(Duration::from_secs(61)),
                    ..RawNtp::default()
                },
                "ntp.timeout",
                "1ms and 60s",
            ),
            (
                RawNtp {
                    burst_spacing: Some(Duration::from_millis(9)),
                    ..RawNtp::default()
                },
                "ntp.burst-spacing",
                "at least 10ms",
            ),
            (
                RawNtp {
                    falseticker_floor: Some(Duration::from_millis(1001)),
                    ..RawNtp::default()
                },
                "ntp.falseticker-floor",
                "at most 1s",
            ),
            (
                RawNtp {
                    max_backoff: Some(0),
                    ..RawNtp::default()
                },
                "ntp.max-backoff",
                "0 is outside 1..=1024",
            ),
        ];
        for (raw, key, why) in cases {
            let e = err(&f, raw);
            assert!(e.contains(key) && e.contains(why), "{key}: {e}");
        }
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
}
