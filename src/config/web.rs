//! `[web]` and the `--web.*` flags: the main listener's address, metrics path, HTTP timeouts,
//! connection cap, shutdown deadline and the web config file (TLS, basic auth, headers) of
//! every listener.
//!
//! Two stages: [`validate`] is pure (flags over file over default, then range checks) and
//! returns the settings with web config *paths*; [`WebSettings::read`] loads those files. Which
//! file a separate listener (events, verify) runs with is decided in between, by
//! [`WebSettings::listener_file`], since it needs the other areas' listen addresses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::base::{de_duration, invalid, parse_listen_address, ConfigError};
use super::defaults;
use super::flags::Flags;

/// `[web]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawWeb {
    pub listen_address: Option<String>,
    pub telemetry_path: Option<String>,
    #[serde(default, deserialize_with = "de_duration")]
    pub read_header_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub idle_timeout: Option<Duration>,
    pub max_connections: Option<usize>,
    #[serde(default, deserialize_with = "de_duration")]
    pub shutdown_timeout: Option<Duration>,
    pub config_file: Option<PathBuf>,
    pub enable_lifecycle: Option<bool>,
}

/// The validated web settings. `C` is what a listener's web config is: the file it runs with
/// (`PathBuf`) between [`validate`] and [`WebSettings::read`], then what that file held (the
/// default, which the rest of the program uses). `None` is a listener without a web config.
#[derive(Debug, Clone)]
pub struct WebSettings<C = WebConfigSource> {
    pub listen_address: String,
    pub telemetry_path: String,
    /// A request head must arrive within this (also the keep-alive idle limit).
    pub read_header_timeout: Duration,
    /// A connection on which nothing moves for this long while the server waits on the
    /// client (outside a request in flight) is closed.
    pub idle_timeout: Duration,
    /// Connections served at once on each listener (the main one keeps
    /// [`crate::server::SCRAPE_RESERVE`] more for the telemetry path).
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight before the process ends anyway.
    pub shutdown_timeout: Duration,
    /// `web.config-file`: TLS, basic auth and headers of the main listener, and of the events
    /// and verify listeners unless they have their own.
    pub config: Option<C>,
    /// What the separate events listener (if any) runs with.
    pub events_config: Option<C>,
    /// What the separate verify listener (if any) runs with.
    pub verify_config: Option<C>,
    /// What the separate `/probe` listener (if any) runs with.
    pub probe_config: Option<C>,
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
    fn load(setting: &'static str, path: &Path) -> Result<Self, ConfigError> {
        let config =
            crate::webconfig::WebConfig::load(path).map_err(|e| invalid(setting, e.to_string()))?;
        Ok(WebConfigSource {
            path: path.to_owned(),
            config: Arc::new(config),
        })
    }

    /// The listener runs with a web config that requires basic auth.
    pub fn has_users(this: &Option<Self>) -> bool {
        this.as_ref().is_some_and(|s| s.config.has_users())
    }
}

/// Merges flags over the file over the defaults and checks the values; reads nothing. The
/// separate listeners start out with the main listener's file.
pub fn validate(flags: &Flags, raw: RawWeb) -> Result<WebSettings<PathBuf>, ConfigError> {
    let listen_address = flags
        .listen_address
        .clone()
        .or(raw.listen_address)
        .unwrap_or_else(|| defaults::LISTEN_ADDRESS.into());
    parse_listen_address(&listen_address).map_err(|m| invalid("web.listen-address", m))?;

    let telemetry_path = flags
        .telemetry_path
        .clone()
        .or(raw.telemetry_path)
        .unwrap_or_else(|| defaults::TELEMETRY_PATH.into());
    if !telemetry_path.starts_with('/')
        || telemetry_path.len() < 2
        || telemetry_path.contains(['?', '#', ' '])
    {
        return Err(invalid(
            "web.telemetry-path",
            format!("`{telemetry_path}` must be an absolute path other than `/`, like /metrics"),
        ));
    }

    let read_header_timeout = flags
        .read_header_timeout
        .or(raw.read_header_timeout)
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
        .or(raw.idle_timeout)
        .unwrap_or(defaults::IDLE_TIMEOUT);
    if idle_timeout < Duration::from_millis(100) || idle_timeout > Duration::from_secs(3600) {
        return Err(invalid("web.idle-timeout", "must be between 100ms and 1h"));
    }
    let max_connections = flags
        .max_connections
        .or(raw.max_connections)
        .unwrap_or(defaults::MAX_CONNECTIONS);
    if !(1..=1_000_000).contains(&max_connections) {
        return Err(invalid(
            "web.max-connections",
            format!("{max_connections} is outside 1..=1000000"),
        ));
    }
    let shutdown_timeout = flags
        .shutdown_timeout
        .or(raw.shutdown_timeout)
        .unwrap_or(defaults::SHUTDOWN_TIMEOUT);
    if shutdown_timeout > Duration::from_secs(3600) {
        return Err(invalid("web.shutdown-timeout", "must be at most 1h"));
    }

    // `""` is exporter-toolkit's "no web config".
    let config = flags
        .web_config_file
        .clone()
        .or(raw.config_file)
        .filter(|p| !p.as_os_str().is_empty());
    Ok(WebSettings {
        listen_address,
        telemetry_path,
        read_header_timeout,
        idle_timeout,
        max_connections,
        shutdown_timeout,
        events_config: config.clone(),
        verify_config: config.clone(),
        probe_config: config.clone(),
        config,
        enable_lifecycle: flags.enable_lifecycle || raw.enable_lifecycle.unwrap_or(false),
    })
}

impl WebSettings<PathBuf> {
    /// The file a separate listener runs with: its own when one is named (`""`: none), else
    /// the main listener's. Naming one without a separate listener is a mistake worth
    /// reporting. `setting` is the key of its own file (`events.web-config-file`).
    pub fn listener_file(
        &self,
        setting: &'static str,
        listener: &Option<String>,
        own: Option<PathBuf>,
    ) -> Result<Option<PathBuf>, ConfigError> {
        match (listener, own) {
            (None, Some(_)) => Err(invalid(
                setting,
                "applies only to a separate listener; set its listen-address too",
            )),
            (_, Some(p)) => Ok(Some(p).filter(|p| !p.as_os_str().is_empty())),
            (_, None) => Ok(self.config.clone()),
        }
    }

    /// Loads the web config files. A listener running with the main listener's file shares
    /// what was loaded for it (one read, one `Arc`).
    pub fn read(self) -> Result<WebSettings, ConfigError> {
        let config = self
            .config
            .as_deref()
            .map(|p| WebConfigSource::load("web.config-file", p))
            .transpose()?;
        let listener = |setting, file: Option<PathBuf>| match file {
            None => Ok(None),
            Some(p) if Some(&p) == self.config.as_ref() => Ok(config.clone()),
            Some(p) => WebConfigSource::load(setting, &p).map(Some),
        };
        Ok(WebSettings {
            events_config: listener("events.web-config-file", self.events_config)?,
            verify_config: listener("verify.web-config-file", self.verify_config)?,
            probe_config: listener("probe.web-config-file", self.probe_config)?,
            listen_address: self.listen_address,
            telemetry_path: self.telemetry_path,
            read_header_timeout: self.read_header_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            shutdown_timeout: self.shutdown_timeout,
            config,
            enable_lifecycle: self.enable_lifecycle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::assert_unknown_key_refused;

    fn err(flags: &Flags, raw: RawWeb) -> String {
        validate(flags, raw).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_refused_naming_key_and_file() {
        assert_unknown_key_refused("[web]\nlisten-adress = \":1\"\n", "listen-adress");
    }

    #[test]
    fn defaults_flags_and_file_merge() {
        let s = validate(&Flags::default(), RawWeb::default()).unwrap();
        assert_eq!(s.listen_address, defaults::LISTEN_ADDRESS);
        assert_eq!(s.telemetry_path, defaults::TELEMETRY_PATH);
        assert_eq!(s.read_header_timeout, defaults::READ_HEADER_TIMEOUT);
        assert_eq!(s.idle_timeout, defaults::IDLE_TIMEOUT);
        assert_eq!(s.config, None);
        assert!(!s.enable_lifecycle);
        let flags = Flags {
            listen_address: Some("127.0.0.1:1".into()),
            enable_lifecycle: true,
            ..Flags::default()
        };
        let raw = RawWeb {
            listen_address: Some("127.0.0.1:2".into()),
            telemetry_path: Some("/m".into()),
            config_file: Some("/etc/web.yml".into()),
            enable_lifecycle: Some(false),
            ..RawWeb::default()
        };
        let s = validate(&flags, raw).unwrap();
        assert_eq!(s.listen_address, "127.0.0.1:1");
        assert_eq!(s.telemetry_path, "/m");
        assert!(s.enable_lifecycle);
        // Nothing is read yet: the path is kept, and every listener starts with it.
        let web = Some(PathBuf::from("/etc/web.yml"));
        assert_eq!(
            (&s.config, &s.events_config, &s.verify_config),
            (&web, &web, &web)
        );
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let f = Flags::default();
        let e = err(
            &f,
            RawWeb {
                telemetry_path: Some("/".into()),
                ..RawWeb::default()
            },
        );
        assert!(
            e.contains("web.telemetry-path") && e.contains("like /metrics"),
            "{e}"
        );
        let e = err(
            &f,
            RawWeb {
                listen_address: Some("localhost".into()),
                ..RawWeb::default()
            },
        );
        assert!(
            e.contains("web.listen-address") && e.contains("has no port"),
            "{e}"
        );
        let e = err(
            &f,
            RawWeb {
                read_header_timeout: Some(Duration::from_millis(99)),
                ..RawWeb::default()
            },
        );
        assert!(e.contains("web.read-header-timeout"), "{e}");
        let flags = Flags {
            idle_timeout: Some(Duration::from_secs(3601)),
            ..Flags::default()
        };
        let e = err(&flags, RawWeb::default());
        assert!(
            e.contains("web.idle-timeout") && e.contains("100ms and 1h"),
            "{e}"
        );
    }

    /// `""` means no web config, for the main listener and for a separate one; a separate
    /// listener's own file needs the separate listener.
    #[test]
    fn which_file_each_listener_runs_with() {
        let flags = Flags {
            web_config_file: Some("".into()),
            ..Flags::default()
        };
        let raw = RawWeb {
            config_file: Some("/etc/main.yml".into()),
            ..RawWeb::default()
        };
        assert_eq!(validate(&flags, raw).unwrap().config, None);

        let raw = RawWeb {
            config_file: Some("/etc/main.yml".into()),
            ..RawWeb::default()
        };
        let s = validate(&Flags::default(), raw).unwrap();
        let separate = Some("127.0.0.1:0".to_owned());
        let own = || Some(PathBuf::from("/etc/own.yml"));
        let pick = |listener: &Option<String>, own| {
            s.listener_file("events.web-config-file", listener, own)
        };
        assert_eq!(pick(&separate, own()).unwrap(), own());
        assert_eq!(pick(&separate, Some("".into())).unwrap(), None);
        assert_eq!(pick(&separate, None).unwrap(), s.config);
        assert_eq!(pick(&None, None).unwrap(), s.config);
        let e = pick(&None, own()).unwrap_err().to_string();
        assert!(
            e.contains("events.web-config-file") && e.contains("separate listener"),
            "{e}"
        );
    }

    /// Reading: a listener on the main file shares what was loaded for it; a file that does
    /// not load is named with the key it came from.
    #[test]
    fn reading_loads_each_file_once_and_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.yml");
        std::fs::write(&main, "").unwrap();
        let mut s = validate(
            &Flags::default(),
            RawWeb {
                config_file: Some(main.clone()),
                ..RawWeb::default()
            },
        )
        .unwrap();
        s.verify_config = None;
        let read = s.clone().read().unwrap();
        let (m, e) = (read.config.unwrap(), read.events_config.unwrap());
        assert!(Arc::ptr_eq(&m.config, &e.config));
        assert_eq!(m.path, main);
        assert!(read.verify_config.is_none());

        s.events_config = Some(dir.path().join("missing.yml"));
        let e = s.read().unwrap_err().to_string();
        assert!(
            e.contains("events.web-config-file") && e.contains("missing.yml"),
            "{e}"
        );
    }
}
