//! Configuration: command-line flags (clap) and the TOML file, merged into one validated
//! [`Settings`].
//!
//! Stages, as ripgrep does it: [`Flags`] and [`RawConfig`] are shaped like their sources and
//! accept anything that parses. Each area then *validates* its part, purely: a flag wins over
//! the file, the file over the built-in default, and every value is checked. Only then are the
//! files the settings name *read* (web configs, the events secret, verification keys), and
//! finally the checks that span areas run. The rest of the program only ever sees values that
//! make sense. Every error names what was wrong and, for the file, the file.
//!
//! # Layout
//! - [`base`]: the leaf every area (and `crate::webconfig`) uses: [`read_config_file`],
//!   [`ConfigError`], the duration, size and listen-address parsers. Imports nothing of the
//!   crate.
//! - [`defaults`]: built-in defaults. [`flags`]: the command line.
//! - One file per area, each with its raw (serde) struct, its settings and its `validate`:
//!   [`web`], [`ntp`], [`log`], [`events`] (its `[[events.follow]]` tables in [`follow`]),
//!   [`probe`] (`[[probe.http-date]]`, the remote
//!   clocks); `[verify]` is `crate::verify::config`, beside the keys it describes;
//!   `[probe.jwt]` is `crate::probe::jwt_config`, beside the JWT tolerance probe.
//! - Here: [`RawConfig`] (the whole file) and [`Settings::from_sources`], one call per area plus
//!   the cross-area checks.

pub mod base;
pub mod defaults;
pub mod events;
pub mod flags;
pub mod follow;
pub mod log;
pub mod ntp;
pub mod probe;
pub mod web;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

pub use base::{parse_listen_address, read_config_file, ConfigError, MAX_CONFIG_FILE};
pub use events::{EventsSettings, RawEvents};
pub use flags::{AnalyzeArgs, AnalyzeFormat, Cli, Command, Flags, LogFormat, ProbeArgs};
pub use log::{LogSettings, RawLog};
pub use ntp::{NtpSettings, RawNtp, ServerSpec, DEFAULT_NTP_SERVERS};
pub use probe::{ProbeSettings, RawProbe};
pub use web::{RawWeb, WebConfigSource, WebSettings};

use crate::verify::config::{RawVerify, VerifySettings};
use base::invalid;

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
    pub verify: RawVerify,
    #[serde(default)]
    pub probe: RawProbe,
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
    pub verify: VerifySettings,
    /// Remote clocks measured over HTTP (`[[probe.http-date]]`).
    pub probe: ProbeSettings,
    /// The JWT tolerance probe (`/probe`); off when no module is configured.
    pub jwt_probe: crate::probe::jwt_config::JwtProbeSettings,
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

    /// Merges flags over the file over the defaults and validates (pure), then reads the files
    /// the settings name, then checks what spans areas.
    pub fn from_sources(flags: &Flags, mut raw: RawConfig) -> Result<Self, ConfigError> {
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
        let mut web = web::validate(flags, raw.web)?;
        let ntp = ntp::validate(flags, raw.ntp)?;
        let log = log::validate(flags, raw.log)?;
        let events = events::validate(flags, raw.events)?;
        let verify = crate::verify::config::validate(&flags.verify, raw.verify)?;
        let jwt_probe = crate::probe::jwt_config::validate(
            raw.probe.listen_address.take(),
            std::mem::take(&mut raw.probe.jwt),
        )?;
        let probe = probe::validate(flags, raw.probe)?;
        web.events_config =
            web.listener_file("events.web-config-file", &events.listen_address, events_web)?;
        web.verify_config =
            web.listener_file("verify.web-config-file", &verify.listen_address, verify_web)?;
        web.probe_config = web.listener_file(
            "probe.web-config-file",
            &jwt_probe.listen_address,
            probe_web,
        )?;

        let settings = Settings {
            flags: Arc::new(flags.clone()),
            config_file: flags.config_file.clone(),
            web: web.read()?,
            ntp,
            log,
            events: events.read()?,
            verify: verify.read()?,
            probe: probe.read()?,
            jwt_probe: jwt_probe.read()?,
        };
        settings.check_authorization()?;
        Ok(settings)
    }

    /// `/v1/events` (with a shared secret) and `/v1/verify` read the Authorization header
    /// themselves: basic auth on their listener would take it from them.
    fn check_authorization(&self) -> Result<(), ConfigError> {
        let listener = |separate: &Option<String>, own| {
            if separate.is_some() {
                own
            } else {
                &self.web.config
            }
        };
        let events_listener = listener(&self.events.listen_address, &self.web.events_config);
        if self.events.auth_token.is_some() && WebConfigSource::has_users(events_listener) {
            return Err(invalid(
                "events.auth-token-file",
                "the listener of /v1/events also requires basic auth (basic_auth_users in its web \
                 config), and both use the Authorization header; serve /v1/events on its own \
                 listener (events.listen-address) with an events.web-config-file without \
                 basic_auth_users, or drop one of the two",
            ));
        }
        let verify_listener = listener(&self.verify.listen_address, &self.web.verify_config);
        if self.verify.enabled() && WebConfigSource::has_users(verify_listener) {
            return Err(invalid(
                "verify.listen-address",
                "/v1/verify reads the token from the Authorization header, so its listener cannot \
                 require basic auth (basic_auth_users in the web config): serve it on its own \
                 listener (verify.listen-address) with a verify.web-config-file without \
                 basic_auth_users",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    /// What loading `toml` from a file says, and the file's path: for the tests that every raw
    /// struct refuses an unknown key, naming the key and the file.
    pub fn load_error(toml: &str) -> (String, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("skew.toml");
        std::fs::write(&path, toml).expect("write");
        let e = super::RawConfig::load(&path)
            .expect_err("the file is refused")
            .to_string();
        (e, path.display().to_string())
    }

    /// Asserts that `toml`, which has the key `key` where it does not belong, is refused with a
    /// message naming the key and the file.
    pub fn assert_unknown_key_refused(toml: &str, key: &str) {
        let (e, path) = load_error(toml);
        assert!(e.contains(&format!("unknown field `{key}`")), "{toml}: {e}");
        assert!(e.contains(&path), "{toml}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::base::parse_size;
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
        assert_eq!(s.web.max_connections, 1024);
        assert_eq!(s.web.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(s.events.read_timeout, Duration::from_secs(60));
        assert_eq!(s.events.max_concurrent, 16);
    }

    #[test]
    fn http_limits_from_flags_and_file() {
        let toml = "[web]\nread-header-timeout = \"2s\"\nidle-timeout = \"5s\"\n\
                    max-connections = 8\nshutdown-timeout = \"1s\"\n\
                    [events]\nread-timeout = \"3s\"\nmax-concurrent = 4\n";
        let s = settings(Flags::default(), toml).unwrap();
        assert_eq!(s.web.read_header_timeout, Duration::from_secs(2));
        assert_eq!(s.web.idle_timeout, Duration::from_secs(5));
        assert_eq!(s.web.max_connections, 8);
        assert_eq!(s.web.shutdown_timeout, Duration::from_secs(1));
        assert_eq!(s.events.read_timeout, Duration::from_secs(3));
        assert_eq!(s.events.max_concurrent, 4);
        let flags = Flags {
            read_header_timeout: Some(Duration::from_millis(500)),
            events_max_concurrent: Some(64),
            max_connections: Some(100),
            shutdown_timeout: Some(Duration::ZERO),
            ..Flags::default()
        };
        let s = settings(flags, toml).unwrap();
        assert_eq!(s.web.read_header_timeout, Duration::from_millis(500));
        assert_eq!(s.web.max_connections, 100);
        assert_eq!(s.web.shutdown_timeout, Duration::ZERO);
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
    fn unknown_keys_are_refused_naming_key_and_file() {
        test_support::assert_unknown_key_refused("zz-top = 1\n", "zz-top");
    }

    /// The pure stages compose: a flag wins over the file, and nothing is read when no file is
    /// named.
    #[test]
    fn every_area_validates_from_literals() {
        let flags = Flags {
            log_level: Some("debug".into()),
            ..Flags::default()
        };
        let raw = RawConfig {
            log: RawLog {
                level: Some("warn".into()),
                format: Some(LogFormat::Json),
            },
            ..RawConfig::default()
        };
        let s = Settings::from_sources(&flags, raw).unwrap();
        assert_eq!(s.log.level.as_deref(), Some("debug"));
        assert_eq!(s.log.format, LogFormat::Json);
        assert!(s.web.config.is_none() && s.events.auth_token.is_none());
        assert!(!s.verify.enabled());
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
            ("[web]\nmax-connections = 0", "web.max-connections"),
            ("[web]\nshutdown-timeout = \"2h\"", "web.shutdown-timeout"),
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
}
