//! The `[verify]` table and the `--verify.*` flags, validated into [`VerifySettings`].
//!
//! Same stages as the other areas of `crate::config`: [`RawVerify`] is the TOML as written
//! (unknown keys refused), [`VerifyFlags`] the command line; [`validate`] merges them (flag over
//! file over default) and checks the values without reading anything; [`VerifySettings::read`]
//! then reads and parses the key files (through [`key_source`], pure), so `--check-config` and a
//! start-up with a broken key fail with a message naming the file, and the daemon starts with
//! keys already loaded. Outside `crate::verify` it uses only `crate::config::base` and
//! `crate::labels`, so `crate::config` can import it without a cycle.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::keys::{self, FileKind, FileSpec, Key, Skipped};
use super::{Policy, ALL_ALGORITHMS};
use crate::config::base::{
    invalid, parse_listen_address, path_or_empty, read_config_file, ConfigError,
};

/// Built-in defaults; the README's `[verify]` table quotes these.
pub mod defaults {
    use std::time::Duration;

    pub const LEEWAY: Duration = Duration::from_secs(5);
    pub const MAX_LEEWAY: Duration = Duration::from_secs(30);
    pub const SOURCE: &str = "gateway";
    pub const JWKS_REFRESH: Duration = Duration::from_secs(300);
    pub const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);
    pub const JWKS_TIMEOUT: Duration = Duration::from_secs(10);
    pub const KEY_POLL_INTERVAL: Duration = Duration::from_secs(10);
}

/// The `--verify.*` flags (flattened into `crate::config::Flags`; clap ids are field names, so
/// they carry the `verify_` prefix).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct VerifyFlags {
    /// Serve /v1/verify on its own address (gateways then never reach /metrics or /v1/events).
    #[arg(long = "verify.listen-address", value_name = "ADDR")]
    pub verify_listen_address: Option<String>,
    /// Web config file of the verify listener instead of --web.config.file (`""` for none).
    #[arg(long = "verify.web-config-file", value_name = "FILE", value_parser = path_or_empty)]
    pub verify_web_config_file: Option<PathBuf>,
    /// JWKS file with the keys /v1/verify checks tokens with (watched and reloaded on change).
    #[arg(long = "verify.jwks-file", value_name = "FILE")]
    pub verify_jwks_file: Option<PathBuf>,
    /// JWKS URL to fetch verification keys from (http or https).
    #[arg(long = "verify.jwks-url", value_name = "URL")]
    pub verify_jwks_url: Option<String>,
}

/// `[verify]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawVerify {
    pub listen_address: Option<String>,
    pub web_config_file: Option<PathBuf>,
    pub algorithms: Option<Vec<String>>,
    pub issuers: Option<Vec<String>>,
    pub audiences: Option<Vec<String>>,
    pub required_claims: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de_duration")]
    pub leeway: Option<Duration>,
    pub source: Option<String>,
    pub reason_header: Option<String>,
    pub claim_headers: Option<BTreeMap<String, String>>,
    pub jwks_file: Option<PathBuf>,
    pub jwks_url: Option<String>,
    #[serde(default, deserialize_with = "de_duration")]
    pub jwks_refresh: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub jwks_min_refetch_interval: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub jwks_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    pub key_poll_interval: Option<Duration>,
    pub cache_size: Option<usize>,
    #[serde(default)]
    pub keys: Vec<RawKey>,
}

/// One `[[verify.keys]]` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawKey {
    pub file: PathBuf,
    /// `pem` (default: an RSA, EC or Ed25519 public key) or `hmac` (a shared secret).
    #[serde(rename = "type", default)]
    pub kind: RawKeyKind,
    pub kid: Option<String>,
    pub algorithm: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawKeyKind {
    #[default]
    Pem,
    Hmac,
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("`{s}` is not a duration like 5s: {e}")))
}

/// A key file and the keys it held when last read.
#[derive(Debug, Clone)]
pub struct FileSource {
    pub spec: FileSpec,
    /// Fingerprint of the bytes the keys came from (to notice a change).
    pub fingerprint: u64,
    pub keys: Vec<Arc<Key>>,
}

/// Where and how often the JWKS URL is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSource {
    pub url: String,
    pub refresh: Duration,
    /// Shortest time between two fetches; an unknown `kid` triggers at most one per interval.
    pub min_refetch: Duration,
    pub timeout: Duration,
}

/// The validated `[verify]` settings. `enabled()` is false when no key source is configured,
/// and then `/v1/verify` is not served at all. `K` is what a key file is: its [`FileSpec`]
/// between [`validate`] and [`VerifySettings::read`], then a [`FileSource`] with its keys (the
/// default, which the rest of the program uses).
#[derive(Debug, Clone)]
pub struct VerifySettings<K = FileSource> {
    pub listen_address: Option<String>,
    pub policy: Policy,
    /// The `source` label of the recorded events.
    pub source: String,
    /// When set, a refusal's reason is also sent in this response header.
    pub reason_header: Option<HeaderName>,
    /// Claim → response header of an allowed request.
    pub claim_headers: Vec<(String, HeaderName)>,
    pub files: Vec<K>,
    /// The keys a JWKS file held that were skipped at this load, reported (logged, the refused
    /// ones counted) when verification starts: logging is not set up yet while this is built.
    pub skipped_keys: Vec<(PathBuf, Vec<Skipped>)>,
    pub jwks_url: Option<UrlSource>,
    pub key_poll_interval: Duration,
    /// Entries of the verified-token cache (`verify::cache`); 0: no cache.
    pub cache_size: usize,
}

impl<K> VerifySettings<K> {
    pub fn enabled(&self) -> bool {
        !self.files.is_empty() || self.jwks_url.is_some()
    }
}

/// Response headers a claim may not be mapped to: they would break the response or the
/// gateway's reading of it.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "content-type",
    "date",
    "keep-alive",
    "set-cookie",
    "transfer-encoding",
    "upgrade",
    "www-authenticate",
];

fn header_name(setting: &'static str, name: &str) -> Result<HeaderName, ConfigError> {
    let h = HeaderName::from_str(name)
        .map_err(|_| invalid(setting, format!("`{name}` is not a valid header name")))?;
    if RESERVED_HEADERS.contains(&h.as_str()) {
        return Err(invalid(
            setting,
            format!("`{name}` is reserved; pick a header of your own like X-Auth-Subject"),
        ));
    }
    Ok(h)
}

/// Merges flags over the file over the defaults and checks the values; reads nothing. The
/// key files are [`VerifySettings::read`]'s.
pub fn validate(
    flags: &VerifyFlags,
    raw: RawVerify,
) -> Result<VerifySettings<FileSpec>, ConfigError> {
    let listen_address = flags.verify_listen_address.clone().or(raw.listen_address);
    if let Some(a) = &listen_address {
        parse_listen_address(a).map_err(|m| invalid("verify.listen-address", m))?;
    }
    let algorithms = algorithms(raw.algorithms)?;
    let check_list = |v: &Option<Vec<String>>, name: &'static str| match v {
        Some(l) if l.is_empty() || l.iter().any(String::is_empty) => Err(invalid(
            name,
            "an allow-list needs at least one value, none of them empty",
        )),
        _ => Ok(()),
    };
    check_list(&raw.issuers, "verify.issuers")?;
    check_list(&raw.audiences, "verify.audiences")?;
    let required_claims = required_claims(raw.required_claims)?;
    let leeway = leeway(raw.leeway)?;
    let source = raw.source.unwrap_or_else(|| defaults::SOURCE.into());
    if source.is_empty() || source.len() > crate::labels::MAX_LABEL_LEN {
        return Err(invalid("verify.source", "must be 1 to 256 bytes long"));
    }
    let (reason_header, claim_headers) = headers(raw.reason_header, raw.claim_headers)?;
    let jwks_file = flags.verify_jwks_file.clone().or(raw.jwks_file);
    let files = key_files(raw.keys, jwks_file, &algorithms)?;
    let jwks_url = match flags.verify_jwks_url.clone().or(raw.jwks_url) {
        None => None,
        Some(url) => Some(url_source(
            url,
            raw.jwks_refresh,
            raw.jwks_min_refetch_interval,
            raw.jwks_timeout,
        )?),
    };
    let key_poll_interval = raw.key_poll_interval.unwrap_or(defaults::KEY_POLL_INTERVAL);
    if !(Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&key_poll_interval) {
        return Err(invalid(
            "verify.key-poll-interval",
            "must be between 100ms and 1h",
        ));
    }
    let settings = VerifySettings {
        listen_address,
        policy: Policy {
            algorithms,
            issuers: raw.issuers,
            audiences: raw.audiences,
            required_claims,
            leeway: leeway.as_secs(),
        },
        source,
        reason_header,
        claim_headers,
        files,
        skipped_keys: Vec::new(),
        jwks_url,
        key_poll_interval,
        cache_size: cache_size(raw.cache_size)?,
    };
    if settings.listen_address.is_some() && !settings.enabled() {
        return Err(invalid(
            "verify.listen-address",
            "is set but no keys are configured ([[verify.keys]], verify.jwks-file or verify.jwks-url)",
        ));
    }
    Ok(settings)
}

/// Entries of the verified-token cache: the default when not set, 0 for none, at most
/// [`super::cache::MAX_SIZE`] (the cache sizes its tables for it at start).
fn cache_size(raw: Option<usize>) -> Result<usize, ConfigError> {
    match raw.unwrap_or(super::cache::DEFAULT_SIZE) {
        n if n > super::cache::MAX_SIZE => Err(invalid(
            "verify.cache-size",
            format!(
                "{n} is above the limit of {} entries",
                super::cache::MAX_SIZE
            ),
        )),
        n => Ok(n),
    }
}

/// Every algorithm when not set; `none` never; duplicates dropped, order kept.
fn algorithms(raw: Option<Vec<String>>) -> Result<Vec<Algorithm>, ConfigError> {
    let list = match raw {
        None => return Ok(ALL_ALGORITHMS.to_vec()),
        Some(list) if list.is_empty() => {
            return Err(invalid("verify.algorithms", "name at least one algorithm"))
        }
        Some(list) => list,
    };
    let mut algs = Vec::new();
    for name in &list {
        if name.eq_ignore_ascii_case("none") {
            return Err(invalid(
                "verify.algorithms",
                "`none` (unsigned tokens) is never accepted",
            ));
        }
        let alg = Algorithm::from_str(name).map_err(|_| {
            invalid(
                "verify.algorithms",
                format!("`{name}` is not one of {}", keys::names(&ALL_ALGORITHMS)),
            )
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    Ok(algs)
}

/// `exp` always, then the configured ones.
fn required_claims(raw: Option<Vec<String>>) -> Result<Vec<String>, ConfigError> {
    let mut required_claims = vec!["exp".to_owned()];
    for c in raw.unwrap_or_default() {
        if c.is_empty() {
            return Err(invalid("verify.required-claims", "empty claim name"));
        }
        if !required_claims.contains(&c) {
            required_claims.push(c);
        }
    }
    Ok(required_claims)
}

/// Whole seconds, at most [`defaults::MAX_LEEWAY`].
fn leeway(raw: Option<Duration>) -> Result<Duration, ConfigError> {
    let leeway = raw.unwrap_or(defaults::LEEWAY);
    if leeway > defaults::MAX_LEEWAY {
        return Err(invalid(
            "verify.leeway",
            format!(
                "{} is above the 30s limit: a leeway that large hides a clock problem; \
                 fix the clocks (see skew_ntp_offset_seconds and skew_jwt_issuer_lead_seconds) \
                 and keep the leeway at a few seconds",
                humantime::format_duration(leeway)
            ),
        ));
    }
    if leeway.subsec_nanos() != 0 {
        return Err(invalid(
            "verify.leeway",
            "must be a whole number of seconds (jsonwebtoken counts in seconds)",
        ));
    }
    Ok(leeway)
}

/// Claim → response header, in the order of [`VerifySettings::claim_headers`].
type ClaimHeaders = Vec<(String, HeaderName)>;

/// The reason header and the claim headers: valid names, none reserved, none used twice.
fn headers(
    reason_header: Option<String>,
    claim_headers: Option<BTreeMap<String, String>>,
) -> Result<(Option<HeaderName>, ClaimHeaders), ConfigError> {
    let reason_header = reason_header
        .as_deref()
        .map(|h| header_name("verify.reason-header", h))
        .transpose()?;
    let mut claims = Vec::new();
    for (claim, header) in claim_headers.unwrap_or_default() {
        if claim.is_empty() {
            return Err(invalid("verify.claim-headers", "empty claim name"));
        }
        let h = header_name("verify.claim-headers", &header)?;
        if reason_header.as_ref() == Some(&h) || claims.iter().any(|(_, o)| *o == h) {
            return Err(invalid(
                "verify.claim-headers",
                format!("header `{header}` is used twice"),
            ));
        }
        claims.push((claim, h));
    }
    Ok((reason_header, claims))
}

/// The `[[verify.keys]]` entries, then the JWKS file. A key's algorithm must be a known one,
/// and one of `verify.algorithms`.
fn key_files(
    keys: Vec<RawKey>,
    jwks_file: Option<PathBuf>,
    algorithms: &[Algorithm],
) -> Result<Vec<FileSpec>, ConfigError> {
    let mut specs = Vec::new();
    for k in keys {
        let algorithm = match k.algorithm.as_deref() {
            None => None,
            Some(name) => {
                let alg = Algorithm::from_str(name).map_err(|_| {
                    invalid(
                        "verify.keys",
                        format!("{}: unknown algorithm `{name}`", k.file.display()),
                    )
                })?;
                if !algorithms.contains(&alg) {
                    return Err(invalid(
                        "verify.keys",
                        format!(
                            "{}: algorithm {name} is not in verify.algorithms",
                            k.file.display()
                        ),
                    ));
                }
                Some(alg)
            }
        };
        specs.push(FileSpec {
            path: k.file,
            kind: match k.kind {
                RawKeyKind::Pem => FileKind::Pem,
                RawKeyKind::Hmac => FileKind::Hmac,
            },
            kid: k.kid,
            algorithm,
        });
    }
    if let Some(path) = jwks_file {
        specs.push(FileSpec {
            path,
            kind: FileKind::Jwks,
            kid: None,
            algorithm: None,
        });
    }
    Ok(specs)
}

/// The JWKS URL and its timings: refresh 1s..=24h, refetch 1s..=refresh, timeout 100ms..=60s.
fn url_source(
    url: String,
    refresh: Option<Duration>,
    min_refetch: Option<Duration>,
    timeout: Option<Duration>,
) -> Result<UrlSource, ConfigError> {
    check_url(&url)?;
    let refresh = refresh.unwrap_or(defaults::JWKS_REFRESH);
    let min_refetch = min_refetch.unwrap_or(defaults::JWKS_MIN_REFETCH);
    let timeout = timeout.unwrap_or(defaults::JWKS_TIMEOUT);
    if !(Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&refresh) {
        return Err(invalid("verify.jwks-refresh", "must be between 1s and 24h"));
    }
    if !(Duration::from_secs(1)..=refresh).contains(&min_refetch) {
        return Err(invalid(
            "verify.jwks-min-refetch-interval",
            "must be between 1s and verify.jwks-refresh",
        ));
    }
    if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&timeout) {
        return Err(invalid(
            "verify.jwks-timeout",
            "must be between 100ms and 60s",
        ));
    }
    Ok(UrlSource {
        url,
        refresh,
        min_refetch,
        timeout,
    })
}

impl VerifySettings<FileSpec> {
    /// Reads and parses the key files, so that `--check-config` and a start-up with a broken
    /// key fail with a message naming the file, and the daemon starts with keys loaded.
    pub fn read(self) -> Result<VerifySettings, ConfigError> {
        let mut files = Vec::with_capacity(self.files.len());
        let mut skipped_keys = Vec::new();
        for spec in self.files {
            let bytes = read_config_file(&spec.path).map_err(|e| {
                invalid(
                    "verify.keys",
                    format!("cannot read {}: {e}", spec.path.display()),
                )
            })?;
            let path = spec.path.clone();
            let (source, skipped) = key_source(spec, &bytes)?;
            if !skipped.is_empty() {
                skipped_keys.push((path, skipped));
            }
            files.push(source);
        }
        Ok(VerifySettings {
            listen_address: self.listen_address,
            policy: self.policy,
            source: self.source,
            reason_header: self.reason_header,
            claim_headers: self.claim_headers,
            files,
            skipped_keys,
            jwks_url: self.jwks_url,
            key_poll_interval: self.key_poll_interval,
            cache_size: self.cache_size,
        })
    }
}

/// The keys in the bytes of a key file, and the JWKS keys it skipped. Errors name the file and
/// the setting, never key material.
pub fn key_source(spec: FileSpec, bytes: &[u8]) -> Result<(FileSource, Vec<Skipped>), ConfigError> {
    let loaded = keys::load_file(&spec, bytes).map_err(|m| {
        invalid(
            if spec.kind == FileKind::Jwks {
                "verify.jwks-file"
            } else {
                "verify.keys"
            },
            format!("{}: {m}", spec.path.display()),
        )
    })?;
    let source = FileSource {
        fingerprint: keys::fingerprint(bytes),
        keys: loaded.keys.into_iter().map(Arc::new).collect(),
        spec,
    };
    Ok((source, loaded.skipped))
}

/// http or https, a host, no credentials in the URL (they would end up in logs).
fn check_url(url: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| invalid("verify.jwks-url", format!("`{url}`: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            "verify.jwks-url",
            format!("`{url}`: only http and https are supported"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "verify.jwks-url",
            "credentials in the URL are not supported",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("verify.jwks-url", format!("`{url}` has no host")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flags, RawConfig, Settings};

    fn data(name: &str) -> String {
        format!("{}/tests/data/verify/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn parse(toml: &str) -> Result<VerifySettings, ConfigError> {
        let raw = RawConfig::parse(toml).map_err(|m| ConfigError::Parse {
            path: "test.toml".into(),
            message: m,
        })?;
        Settings::from_sources(&Flags::default(), raw).map(|s| s.verify)
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::{CommandFactory, Parser};
        crate::config::Cli::command().debug_assert();
        let cli = crate::config::Cli::try_parse_from([
            "skew-exporter",
            "--verify.listen-address",
            "127.0.0.1:0",
            "--verify.jwks-file",
            "/k.json",
            "--verify.jwks-url",
            "http://127.0.0.1/jwks",
        ])
        .unwrap();
        assert_eq!(
            cli.flags.verify.verify_listen_address.as_deref(),
            Some("127.0.0.1:0")
        );
        assert_eq!(
            cli.flags.verify.verify_jwks_file,
            Some(PathBuf::from("/k.json"))
        );
        assert!(cli.flags.verify.verify_jwks_url.is_some());
    }

    #[test]
    fn unknown_keys_are_refused() {
        for toml in [
            "[verify]\nbogus = 1",
            "[[verify.keys]]\nfile = \"x\"\nbogus = 1",
        ] {
            let err = RawConfig::parse(toml).unwrap_err();
            assert!(err.contains("unknown field"), "{toml}: {err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_naming_key_and_file() {
        use crate::config::test_support::assert_unknown_key_refused;
        assert_unknown_key_refused("[verify]\njwks-uri = \"http://x/\"\n", "jwks-uri");
        assert_unknown_key_refused("[[verify.keys]]\nfile = \"x\"\nkind = \"hmac\"\n", "kind");
    }

    fn key(file: &str) -> RawKey {
        RawKey {
            file: file.into(),
            kind: RawKeyKind::Hmac,
            kid: None,
            algorithm: None,
        }
    }

    /// Validation reads no key file: the specs come out as configured (key entries first,
    /// then the JWKS file), even for files that do not exist.
    #[test]
    fn validation_keeps_key_files_unread() {
        let flags = VerifyFlags {
            verify_jwks_file: Some("/nonexistent/jwks.json".into()),
            ..VerifyFlags::default()
        };
        let raw = RawVerify {
            listen_address: Some("127.0.0.1:0".into()),
            algorithms: Some(vec!["HS256".into(), "ES256".into(), "HS256".into()]),
            required_claims: Some(vec!["iat".into(), "exp".into()]),
            keys: vec![RawKey {
                kid: Some("h1".into()),
                algorithm: Some("HS256".into()),
                ..key("/nonexistent/h.secret")
            }],
            ..RawVerify::default()
        };
        let s = validate(&flags, raw).unwrap();
        assert!(s.enabled());
        assert_eq!(s.policy.algorithms, [Algorithm::HS256, Algorithm::ES256]);
        assert_eq!(s.policy.required_claims, ["exp", "iat"]);
        assert_eq!(s.policy.leeway, defaults::LEEWAY.as_secs());
        assert_eq!(s.source, defaults::SOURCE);
        assert_eq!(
            s.files,
            [
                FileSpec {
                    path: "/nonexistent/h.secret".into(),
                    kind: FileKind::Hmac,
                    kid: Some("h1".into()),
                    algorithm: Some(Algorithm::HS256),
                },
                FileSpec {
                    path: "/nonexistent/jwks.json".into(),
                    kind: FileKind::Jwks,
                    kid: None,
                    algorithm: None,
                },
            ]
        );
        let e = s.read().unwrap_err().to_string();
        assert!(
            e.contains("verify.keys") && e.contains("cannot read /nonexistent/h.secret"),
            "{e}"
        );
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let f = VerifyFlags::default();
        let cases = [
            (
                RawVerify {
                    required_claims: Some(vec!["".into()]),
                    ..RawVerify::default()
                },
                "verify.required-claims",
            ),
            (
                RawVerify {
                    source: Some(String::new()),
                    ..RawVerify::default()
                },
                "verify.source",
            ),
            (
                RawVerify {
                    reason_header: Some("X-Why".into()),
                    claim_headers: Some([("sub".to_owned(), "x-why".to_owned())].into()),
                    ..RawVerify::default()
                },
                "verify.claim-headers",
            ),
            (
                RawVerify {
                    keys: vec![RawKey {
                        algorithm: Some("HS999".into()),
                        ..key("/k")
                    }],
                    ..RawVerify::default()
                },
                "verify.keys",
            ),
            (
                RawVerify {
                    jwks_url: Some("https://idp/jwks".into()),
                    jwks_timeout: Some(Duration::from_secs(61)),
                    ..RawVerify::default()
                },
                "verify.jwks-timeout",
            ),
            (
                RawVerify {
                    jwks_url: Some("https://idp/jwks".into()),
                    jwks_refresh: Some(Duration::from_secs(25 * 3600)),
                    ..RawVerify::default()
                },
                "verify.jwks-refresh",
            ),
            (
                RawVerify {
                    key_poll_interval: Some(Duration::from_millis(99)),
                    ..RawVerify::default()
                },
                "verify.key-poll-interval",
            ),
        ];
        for (raw, setting) in cases {
            let e = validate(&f, raw).unwrap_err().to_string();
            assert!(e.contains(setting), "{setting}: {e}");
        }
    }

    /// Parsing a key file's bytes is pure; errors name the setting and the file.
    #[test]
    fn key_sources_from_bytes() {
        let spec = |kind, algorithm| FileSpec {
            path: "/etc/k".into(),
            kind,
            kid: Some("k1".into()),
            algorithm,
        };
        // HS384 needs a 48-byte secret (RFC 7518 §3.2).
        let secret = b"0123456789abcdef0123456789abcdef0123456789abcdef\n";
        let (s, skipped) =
            key_source(spec(FileKind::Hmac, Some(Algorithm::HS384)), secret).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(s.fingerprint, keys::fingerprint(secret));
        assert_eq!(s.keys.len(), 1);
        assert_eq!(s.keys[0].kid.as_deref(), Some("k1"));
        assert_eq!(s.keys[0].algorithms, [Algorithm::HS384]);
        let e = key_source(spec(FileKind::Hmac, None), b"short")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("verify.keys") && e.contains("/etc/k") && e.contains("at least 32 bytes"),
            "{e}"
        );
        assert!(!e.contains("short"), "never echoes key material: {e}");
        let e = key_source(spec(FileKind::Jwks, None), b"{\"keys\": 1}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("verify.jwks-file") && e.contains("not a JWKS"),
            "{e}"
        );
    }

    #[test]
    fn without_keys_verification_is_off() {
        let s = parse("").unwrap();
        assert!(!s.enabled());
        assert_eq!(s.policy, Policy::default());
        assert_eq!(s.policy.leeway, 5);
        let e = parse("[verify]\nlisten-address = \"127.0.0.1:0\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no keys are configured"), "{e}");
    }

    #[test]
    fn a_full_table_is_read() {
        let toml = format!(
            r#"
[verify]
listen-address = "127.0.0.1:0"
algorithms = ["RS256", "ES256", "HS256", "RS256"]
issuers = ["https://idp"]
audiences = ["api"]
required-claims = ["iat", "exp"]
leeway = "2s"
source = "edge"
reason-header = "X-Auth-Reason"
jwks-url = "https://idp.example/jwks.json"
jwks-refresh = "1m"
jwks-min-refetch-interval = "5s"
[verify.claim-headers]
sub = "X-Auth-Subject"
scope = "X-Auth-Scope"
[[verify.keys]]
file = "{}"
kid = "r1"
algorithm = "RS256"
[[verify.keys]]
file = "{}"
type = "hmac"
"#,
            data("rsa.pub.pem"),
            data("hmac.secret")
        );
        let s = parse(&toml).unwrap();
        assert!(s.enabled());
        assert_eq!(
            s.policy.algorithms,
            [Algorithm::RS256, Algorithm::ES256, Algorithm::HS256]
        );
        assert_eq!(s.policy.required_claims, ["exp", "iat"]);
        assert_eq!(s.policy.leeway, 2);
        assert_eq!(s.source, "edge");
        assert_eq!(s.reason_header.unwrap().as_str(), "x-auth-reason");
        assert_eq!(s.claim_headers.len(), 2);
        assert_eq!(s.files.len(), 2);
        assert_eq!(s.files[0].keys[0].algorithms, [Algorithm::RS256]);
        let url = s.jwks_url.unwrap();
        assert_eq!(url.refresh, Duration::from_secs(60));
        assert_eq!(url.min_refetch, Duration::from_secs(5));
        assert!(
            !format!("{:?}", s.files[1])
                .contains(&std::fs::read_to_string(data("hmac.secret")).unwrap()[..16]),
            "Debug never shows a secret"
        );
    }

    #[test]
    fn cache_size_defaults_to_10000_takes_0_for_off_and_has_a_limit() {
        let rsa = data("rsa.pub.pem");
        let table = |extra: &str| format!("[verify]\n{extra}\n[[verify.keys]]\nfile = \"{rsa}\"\n");
        assert_eq!(parse(&table("")).unwrap().cache_size, 10_000);
        assert_eq!(parse(&table("cache-size = 0")).unwrap().cache_size, 0);
        assert_eq!(
            parse(&table("cache-size = 1000000")).unwrap().cache_size,
            1_000_000
        );
        let e = parse(&table("cache-size = 1000001"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("verify.cache-size") && e.contains("above the limit"),
            "{e}"
        );
        assert!(parse(&table("cache-size = -1")).is_err());
    }

    #[test]
    fn invalid_values_are_explained() {
        let rsa = data("rsa.pub.pem");
        let cases = [
            ("[verify]\nleeway = \"31s\"", "above the 30s limit"),
            ("[verify]\nleeway = \"1500ms\"", "whole number of seconds"),
            ("[verify]\nalgorithms = [\"none\"]", "never accepted"),
            ("[verify]\nalgorithms = [\"HS1\"]", "is not one of"),
            ("[verify]\nalgorithms = []", "at least one"),
            ("[verify]\nissuers = []", "verify.issuers"),
            ("[verify]\njwks-url = \"ftp://x/y\"", "only http and https"),
            ("[verify]\njwks-url = \"http://u:p@x/y\"", "credentials"),
            ("[verify]\njwks-url = \"not a url\"", "verify.jwks-url"),
            (
                "[verify]\njwks-url = \"http://x/\"\njwks-refresh = \"10s\"\njwks-min-refetch-interval = \"1m\"",
                "verify.jwks-min-refetch-interval",
            ),
            ("[verify]\nreason-header = \"bad header\"", "not a valid header"),
            ("[verify.claim-headers]\nsub = \"Content-Length\"", "reserved"),
            ("[verify]\njwks-file = \"/nonexistent/jwks.json\"", "cannot read"),
            ("[[verify.keys]]\nfile = \"/nonexistent/k.pem\"", "cannot read"),
        ];
        for (toml, want) in cases {
            let msg = parse(toml).unwrap_err().to_string();
            assert!(msg.contains(want), "{toml}: {msg}");
        }
        let msg = parse(&format!(
            "[[verify.keys]]\nfile = \"{rsa}\"\nalgorithm = \"ES256\""
        ))
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("does not fit") && msg.contains("rsa.pub.pem"),
            "{msg}"
        );
        let msg = parse(&format!(
            "[verify]\nalgorithms = [\"ES256\"]\n[[verify.keys]]\nfile = \"{rsa}\"\nalgorithm = \"RS256\""
        ))
        .unwrap_err()
        .to_string();
        assert!(msg.contains("not in verify.algorithms"), "{msg}");
        let msg = parse(&format!(
            "[[verify.keys]]\nfile = \"{}\"",
            data("rsa.key.pem")
        ))
        .unwrap_err()
        .to_string();
        assert!(msg.contains("private key"), "{msg}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let mut flags = Flags::default();
        flags.verify.verify_jwks_url = Some("http://127.0.0.1:1/jwks".into());
        flags.verify.verify_listen_address = Some("127.0.0.1:0".into());
        let raw = RawConfig::parse(
            "[verify]\njwks-url = \"http://127.0.0.1:2/jwks\"\nlisten-address = \"127.0.0.1:9\"",
        )
        .unwrap();
        let s = Settings::from_sources(&flags, raw).unwrap().verify;
        assert_eq!(s.jwks_url.unwrap().url, "http://127.0.0.1:1/jwks");
        assert_eq!(s.listen_address.as_deref(), Some("127.0.0.1:0"));
    }
}
