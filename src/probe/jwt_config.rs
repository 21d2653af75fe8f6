//! The `[probe]` table: the `/probe` listener and the `[probe.jwt.modules.NAME]` modules of the
//! JWT tolerance probe, validated into [`JwtProbeSettings`]; and each module's target allow-list,
//! the check that keeps the probe from becoming a token oracle.
//!
//! The same stages as the areas of `crate::config`: [`RawJwtProbe`] is the TOML as written (unknown
//! keys refused), [`validate`] checks it (pure), [`JwtProbeSettings::read`] reads and parses each
//! signing key once (so `--check-config` and start-up name a broken key file). The key is read
//! again at every probe, so a replaced key file is used from the next probe on. Outside
//! `crate::probe` it uses only `crate::config::base`, so `crate::config` imports it without a
//! cycle.
//!
//! # Targets
//! `targets` lists exact URLs, or prefixes ending in `/`. Both the entries and a requested
//! `target` are parsed with the `url` crate (WHATWG parsing: scheme and host lower-cased,
//! default port dropped, `.`/`..` segments and their percent-encoded forms resolved) and
//! compared as scheme, host, port and path (and query, for an exact URL). A target with
//! credentials in its authority (`http://allowed@evil/`), a fragment, or a percent-encoded
//! `/`, `\` or `.` in its path is refused outright: servers disagree on how to decode those.
//! What is sent is the parsed URL that was checked, never the raw string.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Deserialize;
use url::Url;

use crate::config::base::{parse_listen_address, read_config_file, ConfigError};

/// Built-in defaults; the README's `[probe.jwt.modules.NAME]` table quotes these.
pub mod defaults {
    use std::time::Duration;

    pub const MAX_REQUESTS: u32 = 40;
    pub const TIMEOUT: Duration = Duration::from_secs(10);
    pub const SUB: &str = "skew-exporter-probe";
    pub const PRECISION: Duration = Duration::from_millis(20);
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawJwtProbe {
    #[serde(default)]
    pub modules: BTreeMap<String, RawModule>,
}

/// One `[probe.jwt.modules.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawModule {
    pub key_file: PathBuf,
    /// `pem` (a private key: RSA, EC or Ed25519) or `hmac` (a shared secret).
    #[serde(rename = "type")]
    pub kind: RawKeyKind,
    pub algorithm: String,
    pub kid: Option<String>,
    pub iss: Option<String>,
    pub aud: Option<String>,
    pub sub: Option<String>,
    /// Extra claims put in every probe token.
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
    pub targets: Option<Vec<String>>,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Send the token in this header (as is) instead of `Authorization: Bearer`.
    pub token_header: Option<String>,
    /// Send the token in this cookie instead of `Authorization: Bearer`.
    pub token_cookie: Option<String>,
    pub accept_status: Option<Vec<RawStatus>>,
    pub reject_status: Option<Vec<RawStatus>>,
    pub max_requests: Option<u32>,
    #[serde(default, deserialize_with = "de_duration")]
    pub timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub precision: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawKeyKind {
    Pem,
    Hmac,
}

/// A status code (`401`) or a class (`"2xx"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawStatus {
    Code(u16),
    Class(String),
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("`{s}` is not a duration like 5s: {e}")))
}

/// A set of status codes: single codes and classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
    }

    fn parse(list: &[RawStatus]) -> Result<Self, String> {
        let mut ranges = Vec::with_capacity(list.len());
        for s in list {
            let r = match s {
                RawStatus::Code(c @ 100..=599) => (*c, *c),
                RawStatus::Code(c) => return Err(format!("{c} is not an HTTP status")),
                RawStatus::Class(t) => match t.as_bytes() {
                    [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
                        let base = u16::from(d - b'0') * 100;
                        (base, base + 99)
                    }
                    _ => return Err(format!("`{t}` is neither a status nor a class like 2xx")),
                },
            };
            ranges.push(r);
        }
        Ok(StatusSet(ranges))
    }
}

/// How the token travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenIn {
    Bearer,
    Header(HeaderName),
    Cookie(String),
}

/// The signing key's file and how to read it.
#[derive(Debug, Clone)]
pub struct KeySource {
    pub path: PathBuf,
    pub kind: RawKeyKind,
    pub algorithm: Algorithm,
}

impl KeySource {
    /// Reads and parses the key file (regular files only, as every configured file).
    pub fn load(&self) -> Result<EncodingKey, String> {
        let bytes = read_config_file(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        encoding_key(self.kind, self.algorithm, &bytes)
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

fn encoding_key(kind: RawKeyKind, alg: Algorithm, bytes: &[u8]) -> Result<EncodingKey, String> {
    use Algorithm::*;
    match (kind, alg) {
        (RawKeyKind::Hmac, HS256 | HS384 | HS512) => {
            let secret = bytes.trim_ascii();
            if secret.is_empty() {
                return Err("the secret is empty".into());
            }
            Ok(EncodingKey::from_secret(secret))
        }
        (RawKeyKind::Pem, RS256 | RS384 | RS512 | PS256 | PS384 | PS512) => {
            EncodingKey::from_rsa_pem(bytes).map_err(|e| format!("not an RSA private key: {e}"))
        }
        (RawKeyKind::Pem, ES256 | ES384) => {
            EncodingKey::from_ec_pem(bytes).map_err(|e| format!("not an EC private key: {e}"))
        }
        (RawKeyKind::Pem, EdDSA) => {
            EncodingKey::from_ed_pem(bytes).map_err(|e| format!("not an Ed25519 private key: {e}"))
        }
        (k, a) => Err(format!(
            "algorithm {a:?} does not go with a key of type {}",
            if k == RawKeyKind::Hmac { "hmac" } else { "pem" }
        )),
    }
}

/// One allow-list entry: an exact URL, or a prefix (its path ends in `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRule {
    url: Url,
    prefix: bool,
}

/// Why a target is refused (the 400's text; the target itself is never echoed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unparsable,
    Scheme,
    Credentials,
    Fragment,
    EncodedSeparator,
    NotListed,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Unparsable => "the target is not a URL",
            Refusal::Scheme => "the target is not http or https",
            Refusal::Credentials => "the target carries credentials in its authority",
            Refusal::Fragment => "the target has a fragment",
            Refusal::EncodedSeparator => "the target's path has a percent-encoded /, \\ or .",
            Refusal::NotListed => "the target is not in the module's targets",
        })
    }
}

/// Parses a URL the way both entries and targets are parsed, refusing the look-alike forms.
fn parse_target(s: &str) -> Result<Url, Refusal> {
    let url = Url::parse(s.trim()).map_err(|_| Refusal::Unparsable)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Refusal::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    if url.fragment().is_some() {
        return Err(Refusal::Fragment);
    }
    let path = url.path().to_ascii_lowercase();
    if ["%2f", "%5c", "%2e"].iter().any(|e| path.contains(e)) {
        return Err(Refusal::EncodedSeparator);
    }
    Ok(url)
}

impl TargetRule {
    pub fn parse(s: &str) -> Result<Self, String> {
        let url = parse_target(s).map_err(|r| format!("`{s}`: {r}"))?;
        let prefix = url.path().ends_with('/');
        if prefix && url.query().is_some() {
            return Err(format!("`{s}`: a prefix (ending in /) cannot have a query"));
        }
        Ok(TargetRule { url, prefix })
    }

    fn matches(&self, t: &Url) -> bool {
        let u = &self.url;
        u.scheme() == t.scheme()
            && u.host_str() == t.host_str()
            && u.port_or_known_default() == t.port_or_known_default()
            && if self.prefix {
                t.path().starts_with(u.path())
            } else {
                t.path() == u.path() && t.query() == u.query()
            }
    }
}

/// Extra request headers a module sends, in its configured order.
pub type Headers = Vec<(HeaderName, HeaderValue)>;

/// A validated module.
#[derive(Debug, Clone)]
pub struct JwtModule {
    pub name: String,
    pub key: KeySource,
    pub kid: Option<String>,
    pub iss: Option<String>,
    pub aud: String,
    pub sub: String,
    pub claims: serde_json::Map<String, serde_json::Value>,
    pub targets: Vec<TargetRule>,
    pub method: Method,
    pub headers: Headers,
    pub token_in: TokenIn,
    pub accept: StatusSet,
    pub reject: StatusSet,
    pub max_requests: u32,
    pub timeout: Duration,
    pub precision: Duration,
}

impl JwtModule {
    /// The parsed target to send to, when the allow-list permits it.
    pub fn allow(&self, target: &str) -> Result<Url, Refusal> {
        let url = parse_target(target)?;
        if self.targets.iter().any(|r| r.matches(&url)) {
            Ok(url)
        } else {
            Err(Refusal::NotListed)
        }
    }
}

/// The validated JWT tolerance probe settings (`[probe]`'s `listen-address` and
/// `[probe.jwt]`).
#[derive(Debug, Clone, Default)]
pub struct JwtProbeSettings {
    /// `None`: `/probe` is served on the main listener.
    pub listen_address: Option<String>,
    pub modules: BTreeMap<String, Arc<JwtModule>>,
}

impl JwtProbeSettings {
    pub fn enabled(&self) -> bool {
        !self.modules.is_empty()
    }

    /// Reads and parses every module's signing key once.
    pub fn read(self) -> Result<Self, ConfigError> {
        for m in self.modules.values() {
            m.key.load().map_err(|e| ConfigError::Invalid {
                setting: "probe.jwt.modules",
                message: format!("module `{}`: key-file: {e}", m.name),
            })?;
        }
        Ok(self)
    }
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

/// Claims the probe sets itself.
const RESERVED_CLAIMS: [&str; 7] = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"];

/// Validates `[probe]`'s `listen-address` and `[probe.jwt]` without reading any file (the web
/// config file is the caller's, with the other listeners').
pub fn validate(
    listen_address: Option<String>,
    jwt: RawJwtProbe,
) -> Result<JwtProbeSettings, ConfigError> {
    if let Some(a) = &listen_address {
        parse_listen_address(a).map_err(|m| invalid("probe.listen-address", m))?;
        if jwt.modules.is_empty() {
            return Err(invalid(
                "probe.listen-address",
                "no [probe.jwt.modules.NAME] is configured",
            ));
        }
    }
    let mut modules = BTreeMap::new();
    for (name, m) in jwt.modules {
        let module = module(&name, m).map_err(|message| ConfigError::Invalid {
            setting: "probe.jwt.modules",
            message: format!("module `{name}`: {message}"),
        })?;
        modules.insert(name, Arc::new(module));
    }
    Ok(JwtProbeSettings {
        listen_address,
        modules,
    })
}

fn module(name: &str, m: RawModule) -> Result<JwtModule, String> {
    check_name(name)?;
    let (method, headers, token_in) = request_parts(&m)?;
    let algorithm = Algorithm::from_str(&m.algorithm)
        .map_err(|_| format!("algorithm: `{}` is not a JWS algorithm", m.algorithm))?;
    let key = KeySource {
        path: m.key_file,
        kind: m.kind,
        algorithm,
    };
    let aud = m
        .aud
        .filter(|a| !a.is_empty())
        .ok_or("aud is required: give the probe an audience of its own")?;
    let targets = m
        .targets
        .filter(|t| !t.is_empty())
        .ok_or("targets is required: the URLs (or prefixes ending in /) it may probe")?
        .iter()
        .map(|t| TargetRule::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("targets: {e}"))?;
    let mut claims = serde_json::Map::new();
    for (k, v) in m.claims {
        if RESERVED_CLAIMS.contains(&k.as_str()) {
            return Err(format!(
                "claims: `{k}` is set by the probe (use its own key)"
            ));
        }
        claims.insert(k, v);
    }
    let (accept, reject) = statuses(m.accept_status.as_deref(), m.reject_status.as_deref())?;
    let max_requests = m.max_requests.unwrap_or(defaults::MAX_REQUESTS);
    if !(4..=200).contains(&max_requests) {
        return Err(format!("max-requests: {max_requests} is outside 4..=200"));
    }
    let timeout = m.timeout.unwrap_or(defaults::TIMEOUT);
    if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(300) {
        return Err("timeout: must be between 1s and 5m".into());
    }
    let precision = m.precision.unwrap_or(defaults::PRECISION);
    if precision < Duration::from_millis(1) || precision > Duration::from_secs(2) {
        return Err("precision: must be between 1ms and 2s".into());
    }
    Ok(JwtModule {
        name: name.to_owned(),
        key,
        kid: m.kid,
        iss: m.iss,
        aud,
        sub: m.sub.unwrap_or_else(|| defaults::SUB.into()),
        claims,
        targets,
        method,
        headers,
        token_in,
        accept,
        reject,
        max_requests,
        timeout,
        precision,
    })
}

/// Module names are label values and URL parameters: 1 to 64 of A-Z a-z 0-9 - _ .
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err("names are 1 to 64 of A-Z a-z 0-9 - _ .".into());
    }
    Ok(())
}

/// The request the probe sends: its method, extra headers, and where the token goes.
fn request_parts(m: &RawModule) -> Result<(Method, Headers, TokenIn), String> {
    let method = Method::from_str(m.method.as_deref().unwrap_or("GET"))
        .map_err(|_| "method: not an HTTP method".to_owned())?;
    let mut headers = Vec::with_capacity(m.headers.len());
    for (k, v) in &m.headers {
        let name =
            HeaderName::from_str(k).map_err(|_| format!("headers: `{k}` is not a header name"))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| format!("headers: the value of `{k}` is invalid"))?;
        headers.push((name, value));
    }
    let token_in = match (&m.token_header, &m.token_cookie) {
        (Some(_), Some(_)) => return Err("token-header and token-cookie exclude each other".into()),
        (Some(h), None) => TokenIn::Header(
            HeaderName::from_str(h)
                .map_err(|_| format!("token-header: `{h}` is not a header name"))?,
        ),
        (None, Some(c)) => {
            if c.is_empty()
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
            {
                return Err(format!("token-cookie: `{c}` is not a cookie name"));
            }
            TokenIn::Cookie(c.clone())
        }
        (None, None) => TokenIn::Bearer,
    };
    Ok((method, headers, token_in))
}

/// The statuses that mean accepted and rejected (defaults 2xx and 404; 401 and 403): disjoint,
/// and without redirects, which are never followed.
fn statuses(
    accept_status: Option<&[RawStatus]>,
    reject_status: Option<&[RawStatus]>,
) -> Result<(StatusSet, StatusSet), String> {
    let accept = StatusSet::parse(
        accept_status.unwrap_or(&[RawStatus::Class("2xx".into()), RawStatus::Code(404)]),
    )
    .map_err(|e| format!("accept-status: {e}"))?;
    let reject =
        StatusSet::parse(reject_status.unwrap_or(&[RawStatus::Code(401), RawStatus::Code(403)]))
            .map_err(|e| format!("reject-status: {e}"))?;
    if let Some(c) = (100..600).find(|&c| accept.contains(c) && reject.contains(c)) {
        return Err(format!(
            "status {c} is in both accept-status and reject-status"
        ));
    }
    if (300..400).any(|c| accept.contains(c) || reject.contains(c)) {
        return Err(
            "a redirect (3xx) can be neither accepted nor rejected: it is never followed".into(),
        );
    }
    Ok((accept, reject))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn secret_file() -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "probe-secret-0123456789abcdef\n").unwrap();
        f
    }

    /// `toml` is the `[probe]` table's content.
    fn parse(toml: &str) -> Result<JwtProbeSettings, String> {
        let raw: crate::config::RawProbe = toml::from_str(toml).map_err(|e| e.to_string())?;
        validate(raw.listen_address, raw.jwt)
            .and_then(JwtProbeSettings::read)
            .map_err(|e| e.to_string())
    }

    fn module_toml(key: &Path, extra: &str) -> String {
        format!(
            "[jwt.modules.api]\nkey-file = {:?}\ntype = \"hmac\"\nalgorithm = \"HS256\"\naud = \"probe\"\n{extra}\n",
            key.display().to_string()
        )
    }

    fn api(targets: &str) -> Arc<JwtModule> {
        let key = secret_file();
        let s = parse(&module_toml(key.path(), &format!("targets = {targets}"))).unwrap();
        s.modules["api"].clone()
    }

    #[test]
    fn unknown_fields_are_refused() {
        let key = secret_file();
        for extra in [
            "bogus = 1",
            "targets = [\"http://a/\"]\n[jwt.modules.api.headerz]",
        ] {
            let e = parse(&module_toml(key.path(), extra)).unwrap_err();
            assert!(e.contains("unknown field"), "{e}");
        }
        assert!(parse("bogus = 1").unwrap_err().contains("unknown field"));
        assert!(parse("[jwt]\nbogus = 1")
            .unwrap_err()
            .contains("unknown field"));
    }

    #[test]
    fn a_module_needs_targets_and_an_audience() {
        let key = secret_file();
        let e = parse(&module_toml(key.path(), "")).unwrap_err();
        assert!(e.contains("targets is required"), "{e}");
        let no_aud = format!(
            "[jwt.modules.api]\nkey-file = {:?}\ntype = \"hmac\"\nalgorithm = \"HS256\"\ntargets = [\"http://a/\"]\n",
            key.path().display().to_string()
        );
        assert!(parse(&no_aud).unwrap_err().contains("aud is required"));
    }

    #[test]
    fn defaults_and_refusals() {
        let m = api("[\"http://127.0.0.1:8080/api/\"]");
        assert_eq!(m.method, Method::GET);
        assert_eq!(m.token_in, TokenIn::Bearer);
        assert!(m.accept.contains(200) && m.accept.contains(299) && m.accept.contains(404));
        assert!(!m.accept.contains(401) && m.reject.contains(401) && m.reject.contains(403));
        assert_eq!(m.max_requests, 40);
        let key = secret_file();
        for (extra, want) in [
            (
                "targets = [\"http://a/\"]\nclaims = { exp = 1 }",
                "set by the probe",
            ),
            (
                "targets = [\"http://a/\"]\naccept-status = [401]",
                "in both",
            ),
            (
                "targets = [\"http://a/\"]\naccept-status = [\"3xx\"]",
                "redirect",
            ),
            (
                "targets = [\"http://a/\"]\nmax-requests = 1000",
                "max-requests",
            ),
            ("targets = [\"ftp://a/\"]", "not http"),
            ("targets = [\"http://u:p@a/\"]", "credentials"),
            (
                "targets = [\"http://a/\"]\ntoken-header = \"X\"\ntoken-cookie = \"c\"",
                "exclude",
            ),
        ] {
            let e = parse(&module_toml(key.path(), extra)).unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
        }
        let bad_key = tempfile::NamedTempFile::new().unwrap();
        let e = parse(&module_toml(bad_key.path(), "targets = [\"http://a/\"]")).unwrap_err();
        assert!(e.contains("secret is empty"), "{e}");
        let e = parse(&module_toml(
            Path::new("/dev/null"),
            "targets = [\"http://a/\"]",
        ))
        .unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn exact_and_prefix_targets() {
        let m = api("[\"https://api.internal.example/health\", \"http://127.0.0.1:8080/api/\"]");
        for ok in [
            "https://api.internal.example/health",
            "HTTPS://API.internal.example:443/health",
            "http://127.0.0.1:8080/api/",
            "http://127.0.0.1:8080/api/v1/x?y=1",
            "http://127.0.0.1:8080/api/./v1",
        ] {
            assert!(m.allow(ok).is_ok(), "{ok}");
        }
        // What is sent is the normalised URL (a percent-encoded host is decoded, then compared).
        assert_eq!(
            m.allow("http://127%2e0.0.1:8080/api/").unwrap().as_str(),
            "http://127.0.0.1:8080/api/"
        );
        assert_eq!(
            m.allow("HTTPS://API.internal.example:443/health")
                .unwrap()
                .as_str(),
            "https://api.internal.example/health"
        );
    }

    #[test]
    fn look_alike_targets_are_refused() {
        let m = api("[\"https://api.internal.example/health\", \"http://127.0.0.1:8080/api/\"]");
        for (bad, why) in [
            ("http://127.0.0.1:8081/api/", Refusal::NotListed),
            ("http://127.0.0.1/api/", Refusal::NotListed),
            ("https://127.0.0.1:8080/api/", Refusal::NotListed),
            (
                "http://127.0.0.1:8080@evil.example/api/",
                Refusal::Credentials,
            ),
            (
                "http://evil.example@127.0.0.1:8080/api/",
                Refusal::Credentials,
            ),
            ("http://127.0.0.1:8080/api", Refusal::NotListed),
            ("http://127.0.0.1:8080/apix/", Refusal::NotListed),
            ("http://127.0.0.1:8080/api/../admin", Refusal::NotListed),
            ("http://127.0.0.1:8080/api/%2e%2e/admin", Refusal::NotListed),
            (
                "http://127.0.0.1:8080/api%2f../admin",
                Refusal::EncodedSeparator,
            ),
            (
                "http://127.0.0.1:8080/api/%2E%2E%2Fadmin",
                Refusal::EncodedSeparator,
            ),
            (
                "http://127.0.0.1:8080/api/..%5cadmin",
                Refusal::EncodedSeparator,
            ),
            ("https://api.internal.example/health/", Refusal::NotListed),
            ("https://api.internal.example/healthz", Refusal::NotListed),
            (
                "https://api.internal.example/health?x=1",
                Refusal::NotListed,
            ),
            ("https://api.internal.example/health#x", Refusal::Fragment),
            (
                "https://api.internal.example.evil/health",
                Refusal::NotListed,
            ),
            (
                "https://api.internal.example:8443/health",
                Refusal::NotListed,
            ),
            ("file:///etc/passwd", Refusal::Scheme),
            ("not a url", Refusal::Unparsable),
        ] {
            assert_eq!(m.allow(bad).map(|u| u.to_string()), Err(why), "{bad}");
        }
    }
}
