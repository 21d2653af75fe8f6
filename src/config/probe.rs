//! `[[probe.http-date]]` and `--probe.http-date`: the remote clocks measured over HTTP
//! (`crate::probe`).
//!
//! Two stages, as the other areas: [`validate`] is pure (targets named by flag replace the
//! file's, as `--ntp.server` does) and returns the targets with the `ca-file` *path*;
//! [`ProbeSettings::read`] reads and checks each CA file, so `--check-config` names a broken one
//! and a reload notices a changed one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::base::{de_duration, read_config_file, ConfigError};
use super::flags::Flags;
use crate::probe::estimate::MAX_REQUESTS_LIMIT;

/// Built-in defaults; the README's `[[probe.http-date]]` table quotes these.
pub mod defaults {
    use std::time::Duration;

    pub const INTERVAL: Duration = Duration::from_secs(60);
    pub const TIMEOUT: Duration = Duration::from_secs(5);
    pub const MAX_REQUESTS: u32 = 12;
}

/// Most targets configured at once (each is a task and a handful of series).
pub const MAX_TARGETS: usize = 64;

/// `[probe]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawProbe {
    #[serde(default)]
    pub http_date: Vec<RawHttpDate>,
    /// `/probe` (the JWT tolerance probe) on its own address.
    pub listen_address: Option<String>,
    /// Web config of that listener.
    pub web_config_file: Option<PathBuf>,
    /// `[probe.jwt.modules.NAME]`, validated by `crate::probe::jwt_config`.
    #[serde(default)]
    pub jwt: crate::probe::jwt_config::RawJwtProbe,
}

/// One `[[probe.http-date]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawHttpDate {
    pub url: String,
    pub name: Option<String>,
    pub issuer: Option<String>,
    #[serde(default, deserialize_with = "de_duration")]
    pub interval: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub timeout: Option<Duration>,
    pub method: Option<Method>,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_verify: Option<bool>,
    pub max_requests: Option<u32>,
}

/// The request method: `HEAD` asks for no body; `GET` for servers that answer `HEAD` badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Method {
    #[default]
    #[serde(alias = "head")]
    HEAD,
    #[serde(alias = "get")]
    GET,
}

/// A CA file and the PEM it held when the settings were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFile {
    pub path: PathBuf,
    pub pem: Arc<[u8]>,
}

/// One validated target. `C` is what `ca-file` is at each stage: its path after [`validate`],
/// the [`CaFile`] read after [`ProbeSettings::read`].
#[derive(Debug, Clone, PartialEq)]
pub struct HttpDateTarget<C = CaFile> {
    /// The `target` label: `name`, or the URL's host.
    pub name: String,
    pub url: reqwest::Url,
    /// The JWT issuer whose clock this is, if any (the dashboard sets their views side by side).
    pub issuer: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub method: Method,
    /// Trust these CAs instead of the built-in roots.
    pub ca: Option<C>,
    pub insecure_skip_verify: bool,
    pub max_requests: u32,
}

impl HttpDateTarget {
    /// A target with every default, for `url` (already validated).
    pub fn new(name: impl Into<String>, url: reqwest::Url) -> Self {
        HttpDateTarget {
            name: name.into(),
            url,
            issuer: None,
            interval: defaults::INTERVAL,
            timeout: defaults::TIMEOUT,
            method: Method::HEAD,
            ca: None,
            insecure_skip_verify: false,
            max_requests: defaults::MAX_REQUESTS,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings<C = CaFile> {
    pub http_date: Vec<HttpDateTarget<C>>,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            http_date: Vec::new(),
        }
    }
}

const SETTING: &str = "probe.http-date";

fn invalid(message: impl Into<String>) -> ConfigError {
    super::base::invalid(SETTING, message)
}

/// Merges the flag over the file and validates every target. Pure.
pub fn validate(flags: &Flags, raw: RawProbe) -> Result<ProbeSettings<PathBuf>, ConfigError> {
    let raws: Vec<RawHttpDate> = if flags.probe_http_date.is_empty() {
        raw.http_date
    } else {
        flags
            .probe_http_date
            .iter()
            .map(|u| RawHttpDate {
                url: u.clone(),
                ..RawHttpDate::default()
            })
            .collect()
    };
    if raws.len() > MAX_TARGETS {
        return Err(invalid(format!("at most {MAX_TARGETS} targets")));
    }
    let mut out: Vec<HttpDateTarget<PathBuf>> = Vec::with_capacity(raws.len());
    for r in raws {
        let t = target(r)?;
        if out.iter().any(|o| o.name == t.name) {
            return Err(invalid(format!(
                "two targets are named `{}`; give each a distinct `name`",
                t.name
            )));
        }
        out.push(t);
    }
    Ok(ProbeSettings { http_date: out })
}

/// Validates one target; every message names its URL. Pure.
fn target(r: RawHttpDate) -> Result<HttpDateTarget<PathBuf>, ConfigError> {
    let url = reqwest::Url::parse(r.url.trim())
        .map_err(|e| invalid(format!("`{}` is not a URL: {e}", r.url)))?;
    let at = |m: &str| invalid(format!("{url}: {m}"));
    if !matches!(url.scheme(), "http" | "https") {
        return Err(at("the scheme must be http or https"));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(at("the URL has no host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(at(
            "credentials in the URL are not supported (they would reach labels and logs)",
        ));
    }
    let name = r
        .name
        .unwrap_or_else(|| host.trim_matches(['[', ']']).to_owned());
    if name.is_empty() || name.len() > crate::labels::MAX_LABEL_LEN {
        return Err(at("name must be 1 to 256 bytes long"));
    }
    if let Some(i) = &r.issuer {
        if i.is_empty() || i.len() > crate::labels::MAX_LABEL_LEN {
            return Err(at("issuer must be 1 to 256 bytes long"));
        }
    }
    let interval = r.interval.unwrap_or(defaults::INTERVAL);
    if interval < Duration::from_secs(1) || interval > Duration::from_secs(24 * 3600) {
        return Err(at("interval must be between 1s and 24h"));
    }
    let timeout = r.timeout.unwrap_or(defaults::TIMEOUT);
    if timeout < Duration::from_millis(10) || timeout > Duration::from_secs(60) {
        return Err(at("timeout must be between 10ms and 60s"));
    }
    let max_requests = r.max_requests.unwrap_or(defaults::MAX_REQUESTS);
    if !(1..=MAX_REQUESTS_LIMIT).contains(&max_requests) {
        return Err(at(&format!(
            "max-requests {max_requests} is outside 1..={MAX_REQUESTS_LIMIT}"
        )));
    }
    let insecure_skip_verify = r.insecure_skip_verify.unwrap_or(false);
    if r.ca_file.is_some() && insecure_skip_verify {
        return Err(at("ca-file and insecure-skip-verify = true contradict"));
    }
    if r.ca_file.is_some() && url.scheme() != "https" {
        return Err(at("ca-file needs an https URL"));
    }
    Ok(HttpDateTarget {
        name,
        issuer: r.issuer,
        interval,
        timeout,
        method: r.method.unwrap_or_default(),
        ca: r.ca_file,
        insecure_skip_verify,
        max_requests,
        url,
    })
}

impl ProbeSettings<PathBuf> {
    /// Reads each `ca-file` and checks it holds at least one PEM certificate.
    pub fn read(self) -> Result<ProbeSettings, ConfigError> {
        let mut out = Vec::with_capacity(self.http_date.len());
        for t in self.http_date {
            let ca = match &t.ca {
                None => None,
                Some(path) => Some(read_ca(&t.url, path)?),
            };
            out.push(HttpDateTarget {
                name: t.name,
                url: t.url,
                issuer: t.issuer,
                interval: t.interval,
                timeout: t.timeout,
                method: t.method,
                ca,
                insecure_skip_verify: t.insecure_skip_verify,
                max_requests: t.max_requests,
            });
        }
        Ok(ProbeSettings { http_date: out })
    }
}

fn read_ca(url: &reqwest::Url, path: &std::path::Path) -> Result<CaFile, ConfigError> {
    let pem = read_config_file(path).map_err(|e| {
        invalid(format!(
            "{url}: cannot read ca-file {}: {e}",
            path.display()
        ))
    })?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(CaFile {
            path: path.to_owned(),
            pem: Arc::from(pem),
        }),
        _ => Err(invalid(format!(
            "{url}: ca-file {} holds no PEM certificate",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::assert_unknown_key_refused;
    use crate::config::{RawConfig, Settings};

    fn load(toml: &str) -> Result<ProbeSettings, String> {
        Settings::from_sources(&Flags::default(), RawConfig::parse(toml)?)
            .map(|s| s.probe)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_every_key() {
        assert!(load("").unwrap().http_date.is_empty());
        let s = load(
            "[[probe.http-date]]\nurl = \"https://idp.example/\"\n\
             [[probe.http-date]]\nurl = \"http://[::1]:8080/x\"\nname = \"v6\"\nissuer = \"https://idp.example\"\n\
             interval = \"10s\"\ntimeout = \"1s\"\nmethod = \"GET\"\nmax-requests = 6\n\
             insecure-skip-verify = false\n",
        )
        .unwrap();
        let a = &s.http_date[0];
        assert_eq!(a.name, "idp.example");
        assert_eq!(a.interval, Duration::from_secs(60));
        assert_eq!(a.timeout, Duration::from_secs(5));
        assert_eq!(a.method, Method::HEAD);
        assert_eq!(a.max_requests, 12);
        assert!(a.issuer.is_none() && a.ca.is_none() && !a.insecure_skip_verify);
        let b = &s.http_date[1];
        assert_eq!(b.name, "v6");
        assert_eq!(b.issuer.as_deref(), Some("https://idp.example"));
        assert_eq!(
            (b.interval, b.timeout, b.method, b.max_requests),
            (
                Duration::from_secs(10),
                Duration::from_secs(1),
                Method::GET,
                6
            )
        );
        let c = load("[[probe.http-date]]\nurl = \"http://[::1]:8080/\"\n").unwrap();
        assert_eq!(c.http_date[0].name, "::1");
    }

    #[test]
    fn the_flag_replaces_the_file() {
        let flags = Flags {
            probe_http_date: vec!["http://127.0.0.1:1/".into()],
            ..Flags::default()
        };
        let raw =
            RawConfig::parse("[[probe.http-date]]\nurl = \"https://idp.example/\"\n").unwrap();
        let s = Settings::from_sources(&flags, raw).unwrap();
        assert_eq!(s.probe.http_date.len(), 1);
        assert_eq!(s.probe.http_date[0].name, "127.0.0.1");
    }

    #[test]
    fn unknown_keys_are_refused_naming_key_and_file() {
        assert_unknown_key_refused("[probe]\nhttp-dates = []\n", "http-dates");
        assert_unknown_key_refused(
            "[[probe.http-date]]\nurl = \"https://a.example/\"\nintervall = \"1s\"\n",
            "intervall",
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let t = |body: &str| format!("[[probe.http-date]]\nurl = \"https://a.example/\"\n{body}");
        for (toml, want) in [
            (t("bogus = 1\n"), "unknown field"),
            ("[probe]\nbogus = 1\n".to_owned(), "unknown field"),
            (t("method = \"POST\"\n"), "unknown variant"),
            (t("interval = \"500ms\"\n"), "interval"),
            (t("timeout = \"2m\"\n"), "timeout"),
            (t("max-requests = 0\n"), "max-requests"),
            (t("max-requests = 65\n"), "max-requests"),
            (t("name = \"\"\n"), "name"),
            (t("issuer = \"\"\n"), "issuer"),
            (t("ca-file = \"/nonexistent\"\n"), "cannot read ca-file"),
            (
                t("ca-file = \"/etc/hostname\"\ninsecure-skip-verify = true\n"),
                "contradict",
            ),
            (t("url = \"x\"\n"), "duplicate key"),
            (
                "[[probe.http-date]]\nurl = \"ftp://a.example/\"\n".into(),
                "http or https",
            ),
            ("[[probe.http-date]]\nurl = \"nope\"\n".into(), "not a URL"),
            (
                "[[probe.http-date]]\nurl = \"https://u:p@a.example/\"\n".into(),
                "credentials",
            ),
            (
                "[[probe.http-date]]\nurl = \"http://a.example/ca\"\nca-file = \"/etc/hostname\"\n"
                    .into(),
                "needs an https URL",
            ),
            (
                format!(
                    "{}[[probe.http-date]]\nurl = \"https://a.example/other\"\n",
                    t("")
                ),
                "named `a.example`",
            ),
        ] {
            let e = load(&toml).unwrap_err();
            assert!(e.contains(want), "{toml}: {e}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "not a certificate").unwrap();
        let e = load(&format!(
            "[[probe.http-date]]\nurl = \"https://a.example/\"\nca-file = {bad:?}\n"
        ))
        .unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let cert = rcgen::generate_simple_self_signed(vec!["a.example".into()]).unwrap();
        let good = dir.path().join("good.pem");
        std::fs::write(&good, cert.cert.pem()).unwrap();
        let s = load(&format!(
            "[[probe.http-date]]\nurl = \"https://a.example/\"\nca-file = {good:?}\n"
        ))
        .unwrap();
        assert_eq!(s.http_date[0].ca.as_ref().unwrap().path, good);
    }
}
