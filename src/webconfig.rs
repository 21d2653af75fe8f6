//! `--web.config.file`: TLS, basic authentication and response headers, read from a file in
//! the Prometheus exporter-toolkit format, so the file a user already has for node_exporter
//! works here unchanged:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # relative paths are relative to this file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: clients-ca.crt
//!   min_version: TLS12
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash (htpasswd -nbBC 10 "" password)
//! ```
//!
//! [`WebConfig::load`] reads and checks everything up front (certificates parse, the key
//! matches, hashes are bcrypt, headers are among the ones exporter-toolkit allows), so a bad
//! file is a start-up error. [`LiveWebConfig`] is what a listener holds: like exporter-toolkit,
//! it notices a changed file (the YAML, the certificate, the key, the client CA) when a
//! connection arrives, at most once a second, and swaps in the new configuration; a new file
//! that does not load is logged once and the previous one keeps serving. A reload (SIGHUP)
//! replaces it too.
//!
//! Client certificates (`VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`) are verified
//! as Go verifies them for exporter-toolkit: against `client_ca_file`, or without one against
//! the system trust store (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set); chains by webpki, and a
//! certificate byte-identical to one of `client_ca_file` (a self-signed client that is its own
//! CA) trusted as it is (`VerifiedClientCert`).
//!
//! What exporter-toolkit has and this exporter refuses with a clear error rather than ignores:
//! `client_allowed_sans` and `rate_limit`. Only TLS 1.2 and 1.3 exist in rustls: a
//! `min_version` of TLS10/TLS11 therefore means TLS 1.2, a `max_version` below TLS12 is an
//! error. HTTP/2 is not served (`http2` is accepted and has no effect).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The response headers a web config may set, and the values allowed where the header is an
/// enumeration: exporter-toolkit's list, so a file valid there is valid here.
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// How often, at most, a listener looks at the files' modification times.
const RECHECK: Duration = Duration::from_secs(1);

/// Successful and failed password checks remembered, so that a scrape every few seconds does
/// not pay a bcrypt (~50 ms at cost 10) each time. Cleared when full.
const AUTH_CACHE_ENTRIES: usize = 256;

/// The bcrypt hash checked for an unknown user, so that timing does not tell which users exist
/// (the same idea as exporter-toolkit's). Its password is not any a client would send.
const DECOY_HASH: &str = "$2b$10$NDIrLHn3RW703xpGm9nBH.LKoEWtPYKVMQ2b1axNeTUBDfAQX0dv2";

/// Why a web config file cannot be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
#[error("web config {path}: {message}")]
pub struct WebConfigError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<HashMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    /// Inline PEM, exporter-toolkit's alternative to the files.
    cert: Option<String>,
    key: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_auth_type: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[allow(dead_code)] // accepted for compatibility; only HTTP/1.1 is served
    http2: Option<bool>,
    headers: Option<HashMap<String, String>>,
}

/// A loaded and checked web config.
pub struct WebConfig {
    /// The file it was read from; `None` for [`WebConfig::none`].
    path: Option<PathBuf>,
    /// The TLS configuration, `None` when the file has no `tls_server_config`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// User name → bcrypt hash. Empty: no authentication.
    users: HashMap<String, String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The files this configuration was read from, with what they looked like then.
    stamps: Vec<(PathBuf, Option<Stamp>)>,
}

impl std::fmt::Debug for WebConfig {
    // Hand-written: the hashes are credentials too.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.len())
            .field("headers", &self.headers.len())
            .finish()
    }
}

/// What a file looked like: a change to either means it was replaced or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: SystemTime,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: m.modified().ok()?,
        len: m.len(),
    })
}

impl WebConfig {
    /// Reads `path` and everything it names. An empty file is valid and changes nothing.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let fail = |message: String| WebConfigError {
            path: path.to_owned(),
            message,
        };
        let before = stamp(path);
        let text = crate::config::base::read_config_file(path)
            .and_then(|b| {
                String::from_utf8(b)
                    .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
            })
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| fail(e.to_string()))?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut stamps = vec![(path.to_owned(), before)];
        if raw.rate_limit.is_some() {
            return Err(fail(
                "rate_limit is not supported by skew-exporter (see --events.max-concurrent)".into(),
            ));
        }
        let tls = match raw.tls_server_config {
            Some(t) => Some(Arc::new(tls_config(t, dir, &mut stamps).map_err(fail)?)),
            None => None,
        };
        let headers = match raw.http_server_config.and_then(|h| h.headers) {
            Some(h) => headers(h).map_err(fail)?,
            None => Vec::new(),
        };
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(fail(format!(
                    "basic_auth_users: user `{user}` contains `:`, which basic auth cannot carry"
                )));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                // The value is not echoed: it may be a password pasted by mistake.
                return Err(fail(format!(
                    "basic_auth_users: the password of `{user}` is not a bcrypt hash \
                     (generate one with `htpasswd -nBC 10 {user}`)"
                )));
            }
        }
        Ok(WebConfig {
            path: Some(path.to_owned()),
            tls,
            users,
            headers,
            stamps,
        })
    }

    /// No TLS, no authentication, no headers: a listener without a web config.
    pub fn none() -> WebConfig {
        WebConfig {
            path: None,
            tls: None,
            users: HashMap::new(),
            headers: Vec::new(),
            stamps: Vec::new(),
        }
    }

    /// True when requests must carry basic authentication.
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// True when one of the files this configuration came from changed since it was read.
    fn changed(&self) -> bool {
        self.stamps.iter().any(|(p, s)| stamp(p) != *s)
    }
}

fn resolve(dir: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_owned()
    } else {
        dir.join(p)
    }
}

/// Reads a file named in the config, remembering its stamp (taken before reading, so a change
/// made while reading is seen at the next check).
fn read_named(
    dir: &Path,
    key: &str,
    file: &str,
    stamps: &mut Vec<(PathBuf, Option<Stamp>)>,
) -> Result<Vec<u8>, String> {
    let path = resolve(dir, file);
    stamps.push((path.clone(), stamp(&path)));
    crate::config::base::read_config_file(&path)
        .map_err(|e| format!("{key} {}: {e}", path.display()))
}

fn pem_source(
    dir: &Path,
    stamps: &mut Vec<(PathBuf, Option<Stamp>)>,
    key: &str,
    file: Option<String>,
    inline: Option<String>,
) -> Result<Option<Vec<u8>>, String> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(format!("set {key}_file or {key}, not both")),
        (Some(f), None) if !f.is_empty() => {
            read_named(dir, &format!("{key}_file"), &f, stamps).map(Some)
        }
        (_, Some(text)) if !text.is_empty() => Ok(Some(text.into_bytes())),
        _ => Ok(None),
    }
}

fn tls_config(
    raw: RawTls,
    dir: &Path,
    stamps: &mut Vec<(PathBuf, Option<Stamp>)>,
) -> Result<rustls::ServerConfig, String> {
    if raw.client_allowed_sans.is_some() {
        return Err(
            "tls_server_config.client_allowed_sans is not supported by skew-exporter; \
             restrict clients with client_ca_file instead"
                .into(),
        );
    }
    let cert_pem = pem_source(dir, stamps, "cert", raw.cert_file, raw.cert)?
        .ok_or("tls_server_config needs cert_file (or cert)")?;
    let key_pem = pem_source(dir, stamps, "key", raw.key_file, raw.key)?
        .ok_or("tls_server_config needs key_file (or key)")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cert_file: {e}"))?;
    if certs.is_empty() {
        return Err("cert_file holds no PEM certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("key_file holds no usable PEM private key: {e}"))?;

    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = raw.cipher_suites {
        provider.cipher_suites = cipher_suites(&provider, &names)?;
    }
    if let Some(names) = raw.curve_preferences {
        provider.kx_groups = curves(&provider, &names)?;
    }
    let provider = Arc::new(provider);

    let min = version(raw.min_version.as_deref(), "min_version")?.unwrap_or(12);
    let max = version(raw.max_version.as_deref(), "max_version")?.unwrap_or(13);
    if max < 12 {
        return Err(
            "max_version below TLS12 is not supported (rustls speaks TLS 1.2 and 1.3)".into(),
        );
    }
    let min = min.max(12);
    if min > max {
        return Err("min_version is above max_version".into());
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }

    let ca_pem = pem_source(dir, stamps, "client_ca", raw.client_ca_file, raw.client_ca)?;
    let auth = raw.client_auth_type.unwrap_or_default();
    let verifier = client_verifier(&auth, ca_pem.as_deref(), &provider)?;

    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS versions and cipher suites do not fit together: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file and key_file do not form a usable pair: {e}"))?;
    config.ignore_client_order = raw.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `TLS12` → 12. TLS10/TLS11 are accepted (rustls's floor, 1.2, is stricter).
fn version(v: Option<&str>, key: &str) -> Result<Option<u8>, String> {
    match v {
        None | Some("") => Ok(None),
        Some("TLS10") => Ok(Some(10)),
        Some("TLS11") => Ok(Some(11)),
        Some("TLS12") => Ok(Some(12)),
        Some("TLS13") => Ok(Some(13)),
        Some(other) => Err(format!(
            "{key} `{other}` is not one of TLS10, TLS11, TLS12, TLS13"
        )),
    }
}

/// Go's cipher suite names are the IANA names, as rustls prints them. Only TLS 1.2 suites
/// can be chosen (as in Go); the TLS 1.3 suites stay.
fn cipher_suites(
    provider: &CryptoProvider,
    names: &[String],
) -> Result<Vec<rustls::SupportedCipherSuite>, String> {
    let mut chosen: Vec<rustls::SupportedCipherSuite> = provider
        .cipher_suites
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS13)
        .copied()
        .collect();
    for name in names {
        let suite = provider
            .cipher_suites
            .iter()
            .find(|s| {
                s.version() == &rustls::version::TLS12
                    && s.suite().as_str().is_some_and(|n| n == name.as_str())
            })
            .ok_or_else(|| {
                let known: Vec<&str> = provider
                    .cipher_suites
                    .iter()
                    .filter(|s| s.version() == &rustls::version::TLS12)
                    .filter_map(|s| s.suite().as_str())
                    .collect();
                format!(
                    "cipher_suites: `{name}` is not supported; choose among {}",
                    known.join(", ")
                )
            })?;
        chosen.push(*suite);
    }
    Ok(chosen)
}

fn curves(
    provider: &CryptoProvider,
    names: &[String],
) -> Result<Vec<&'static dyn rustls::crypto::SupportedKxGroup>, String> {
    names
        .iter()
        .map(|name| {
            let group = match name.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                other => {
                    return Err(format!(
                        "curve_preferences: `{other}` is not supported; choose among X25519, \
                         CurveP256, CurveP384"
                    ))
                }
            };
            provider
                .kx_groups
                .iter()
                .find(|g| g.name() == group)
                .copied()
                .ok_or_else(|| format!("curve_preferences: `{name}` is not available"))
        })
        .collect()
}

fn client_verifier(
    auth: &str,
    ca_pem: Option<&[u8]>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    match auth {
        "" | "NoClientCert" => {
            if ca_pem.is_some() {
                return Err(
                    "client_ca_file is set but client_auth_type is NoClientCert: set \
                     client_auth_type (e.g. RequireAndVerifyClientCert)"
                        .into(),
                );
            }
            Ok(WebPkiClientVerifier::no_client_auth())
        }
        "RequestClientCert" => Ok(Arc::new(AnyClientCert {
            mandatory: false,
            provider: provider.clone(),
        })),
        "RequireAnyClientCert" | "RequireClientCert" => Ok(Arc::new(AnyClientCert {
            mandatory: true,
            provider: provider.clone(),
        })),
        "VerifyClientCertIfGiven" => verifying(ca_pem, false, provider),
        "RequireAndVerifyClientCert" => verifying(ca_pem, true, provider),
        other => Err(format!(
            "client_auth_type `{other}` is not one of NoClientCert, RequestClientCert, \
             RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
        )),
    }
}

/// `VerifyClientCertIfGiven` / `RequireAndVerifyClientCert`: client certificates are verified
/// against `client_ca_file`, or, without one, against the system trust store (what Go does
/// when `ClientCAs` is nil, so what exporter-toolkit does).
fn verifying(
    ca_pem: Option<&[u8]>,
    mandatory: bool,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let (roots, listed) = match ca_pem {
        Some(pem) => {
            let listed: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("client_ca_file: {e}"))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in &listed {
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("client_ca_file: {e}"))?;
            }
            if roots.is_empty() {
                return Err("client_ca_file holds no PEM certificate".into());
            }
            (roots, listed)
        }
        None => (system_roots(), Vec::new()),
    };
    let chains = if roots.is_empty() {
        None
    } else {
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        if !mandatory {
            builder = builder.allow_unauthenticated();
        }
        if ca_pem.is_none() {
            // Like Go with no ClientCAs: the CertificateRequest names no CA (the system
            // store's hundred-odd names would only make it large).
            builder = builder.clear_root_hint_subjects();
        }
        Some(
            builder
                .build()
                .map_err(|e| format!("client_ca_file: {e}"))?,
        )
    };
    Ok(Arc::new(VerifiedClientCert {
        chains,
        listed,
        mandatory,
        provider: provider.clone(),
    }))
}

/// The system trust store (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set, otherwise the
/// distribution's bundle), as Go's `x509.SystemCertPool` reads it. Certificates that do not
/// parse are skipped, as Go skips them.
fn system_roots() -> rustls::RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "reading the system trust store for client certificates");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (_, skipped) = roots.add_parsable_certificates(found.certs);
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "system trust store: certificates that do not parse"
        );
    }
    if roots.is_empty() {
        tracing::warn!(
            "client_auth_type verifies client certificates, there is no client_ca_file and \
             the system trust store is empty: every client certificate will be refused"
        );
    }
    roots
}

/// The verifying client auth types. A chain goes to webpki (`chains`), with one exception
/// that Go makes too: a client certificate byte-identical to a certificate of
/// `client_ca_file` (`listed`) is trusted as it is, so a self-signed certificate that is its
/// own CA (`CA:TRUE`, what `openssl req -x509` makes) works as in exporter-toolkit, where
/// webpki alone refuses it as `CaUsedAsEndEntity`. Such a certificate must still be within
/// its validity period and allowed for client authentication, and the handshake signature
/// is checked by rustls as for any other: it proves the client holds the key.
#[derive(Debug)]
struct VerifiedClientCert {
    /// `None` only when the system trust store is empty: every certificate is refused.
    chains: Option<Arc<dyn ClientCertVerifier>>,
    listed: Vec<CertificateDer<'static>>,
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for VerifiedClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        match &self.chains {
            Some(c) => c.root_hint_subjects(),
            None => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .listed
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return listed_cert_usable(end_entity, now).map(|()| ClientCertVerified::assertion());
        }
        match &self.chains {
            Some(c) => c.verify_client_cert(end_entity, intermediates, now),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What Go checks of a client certificate found in the trust pool itself: the validity
/// period, and an extended key usage (when there is one) that allows client authentication.
fn listed_cert_usable(cert: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    use rustls::CertificateError;
    let bad = |e: CertificateError| Err(rustls::Error::InvalidCertificate(e));
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return bad(CertificateError::BadEncoding);
    };
    let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let at =
        |secs: i64| UnixTime::since_unix_epoch(Duration::from_secs(secs.max(0).unsigned_abs()));
    let validity = parsed.validity();
    if now_secs < validity.not_before.timestamp() {
        return bad(CertificateError::NotValidYetContext {
            time: now,
            not_before: at(validity.not_before.timestamp()),
        });
    }
    if now_secs > validity.not_after.timestamp() {
        return bad(CertificateError::ExpiredContext {
            time: now,
            not_after: at(validity.not_after.timestamp()),
        });
    }
    match parsed.extended_key_usage() {
        Ok(None) => Ok(()),
        Ok(Some(eku)) if eku.value.any || eku.value.client_auth => Ok(()),
        Ok(Some(_)) => bad(CertificateError::InvalidPurpose),
        Err(_) => bad(CertificateError::BadEncoding),
    }
}

/// Go's `RequestClientCert` / `RequireAnyClientCert`: a client certificate is asked for (and
/// for the second, required) but its chain is not checked; the handshake signature still
/// proves the client holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn headers(raw: HashMap<String, String>) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut out = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let Some((canonical, allowed)) = ALLOWED_HEADERS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        else {
            let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "http_server_config.headers: `{name}` cannot be configured; allowed: {}",
                names.join(", ")
            ));
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            return Err(format!(
                "http_server_config.headers: {canonical} must be one of {allowed:?}, not `{value}`"
            ));
        }
        let v = HeaderValue::from_str(&value).map_err(|_| {
            format!(
                "http_server_config.headers: the value of {canonical} is not a valid header value"
            )
        })?;
        out.push((HeaderName::from_static(canonical_lower(canonical)), v));
    }
    Ok(out)
}

/// `HeaderName::from_static` wants lower case.
fn canonical_lower(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

/// The web config of one listener, as it is now. Cheap to clone.
#[derive(Clone)]
pub struct LiveWebConfig {
    inner: Arc<Live>,
}

struct Live {
    current: ArcSwap<WebConfig>,
    /// When the files were last looked at, and the stamps of a change that failed to load
    /// (so it is logged once, not at every connection).
    checked: Mutex<(Instant, Option<Vec<Option<Stamp>>>)>,
    /// One bcrypt at a time: it is CPU-heavy by design, and a flood of wrong passwords must
    /// not take every core.
    bcrypt: tokio::sync::Mutex<()>,
    cache: Mutex<HashMap<[u8; 32], bool>>,
}

impl LiveWebConfig {
    pub fn new(config: Arc<WebConfig>) -> Self {
        LiveWebConfig {
            inner: Arc::new(Live {
                current: ArcSwap::new(config),
                checked: Mutex::new((Instant::now(), None)),
                bcrypt: tokio::sync::Mutex::new(()),
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The configuration now in force.
    pub fn current(&self) -> Arc<WebConfig> {
        self.inner.current.load_full()
    }

    /// Puts `config` in force (a reload that has already loaded it).
    pub fn replace(&self, config: Arc<WebConfig>) {
        self.inner.current.store(config);
        if let Ok(mut c) = self.inner.cache.lock() {
            c.clear();
        }
    }

    /// [`LiveWebConfig::refresh`] on a blocking thread (`spawn_blocking`), so that the file
    /// reads never hold an async worker; what a connection calls when it arrives. Between two
    /// looks at the files (a second), or without a file, it returns at once without a thread.
    pub async fn refresh_on_blocking_thread(&self) {
        let due = match self.inner.checked.lock() {
            Ok(checked) => checked.0.elapsed() >= RECHECK,
            Err(_) => false,
        };
        if !due || self.current().path.is_none() {
            return;
        }
        let live = self.clone();
        // A refresh that cannot run (the runtime is shutting down) leaves the config as it is.
        let _ = tokio::task::spawn_blocking(move || live.refresh()).await;
    }

    /// Re-reads the files if one changed and a second has passed since the last look. Blocks
    /// on file reads: async code calls [`LiveWebConfig::refresh_on_blocking_thread`]. A
    /// change that does not load keeps the old configuration and is logged once.
    pub fn refresh(&self) {
        let now = Instant::now();
        {
            let Ok(mut checked) = self.inner.checked.lock() else {
                return;
            };
            if now.duration_since(checked.0) < RECHECK {
                return;
            }
            checked.0 = now;
        }
        let current = self.current();
        let Some(path) = current.path.as_deref() else {
            return;
        };
        if !current.changed() {
            return;
        }
        match WebConfig::load(path) {
            Ok(new) => {
                tracing::info!(file = %path.display(), "web config changed on disk; reloaded");
                self.replace(Arc::new(new));
                if let Ok(mut checked) = self.inner.checked.lock() {
                    checked.1 = None;
                }
            }
            Err(e) => {
                let stamps: Vec<Option<Stamp>> =
                    current.stamps.iter().map(|(p, _)| stamp(p)).collect();
                let Ok(mut checked) = self.inner.checked.lock() else {
                    return;
                };
                if checked.1.as_ref() != Some(&stamps) {
                    tracing::error!(error = %e, "web config changed on disk but does not load; keeping the previous one");
                    checked.1 = Some(stamps);
                }
            }
        }
    }

    /// Checks `user`/`password` against the hashes; `None` user means no credentials sent.
    async fn authenticate(&self, config: &WebConfig, user: &str, password: &str) -> bool {
        let known = config.users.get(user);
        let hash = known.map(String::as_str).unwrap_or(DECOY_HASH);
        // Keyed by a digest, so the cache never holds a password.
        let mut h = Sha256::new();
        for part in [user.as_bytes(), hash.as_bytes(), password.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let key: [u8; 32] = h.finalize().into();
        if let Some(ok) = self
            .inner
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).copied())
        {
            return ok && known.is_some();
        }
        let _one = self.inner.bcrypt.lock().await;
        let hash = hash.to_owned();
        let password = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        let ok = matched && known.is_some();
        if let Ok(mut c) = self.inner.cache.lock() {
            if c.len() >= AUTH_CACHE_ENTRIES {
                c.clear();
            }
            c.insert(key, ok);
        }
        ok
    }
}

/// The user and password of an `Authorization: Basic` header.
fn basic_credentials(request: &Request) -> Option<(String, String)> {
    use base64::Engine;
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Middleware of every listener with a web config: basic authentication when users are
/// configured, then the configured headers on every response (refusals included).
pub async fn enforce(State(live): State<LiveWebConfig>, request: Request, next: Next) -> Response {
    let config = live.current();
    let mut response = if config.users.is_empty() {
        next.run(request).await
    } else {
        let allowed = match basic_credentials(&request) {
            Some((user, password)) => live.authenticate(&config, &user, &password).await,
            None => false,
        };
        if allowed {
            next.run(request).await
        } else {
            let mut r = StatusCode::UNAUTHORIZED.into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"skew-exporter\""),
            );
            r
        }
    };
    for (name, value) in &config.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn self_signed(dir: &Path) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        write(dir, "server.crt", &cert.cert.pem());
        write(dir, "server.key", &cert.signing_key.serialize_pem());
    }

    fn err(dir: &Path, yaml: &str) -> String {
        let p = write(dir, "web.yml", yaml);
        WebConfig::load(&p).unwrap_err().to_string()
    }

    #[test]
    fn an_empty_file_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = WebConfig::load(&write(dir.path(), "web.yml", "")).unwrap();
        assert!(c.tls.is_none() && !c.has_users() && c.headers.is_empty());
    }

    #[test]
    fn a_complete_file_loads_with_paths_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path());
        let hash = bcrypt::hash("secret", 4).unwrap();
        let yaml = format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n  \
             cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n\
             http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n\
             basic_auth_users:\n  prometheus: '{hash}'\n"
        );
        let c = WebConfig::load(&write(dir.path(), "web.yml", &yaml)).unwrap();
        assert!(c.tls.is_some());
        assert!(c.has_users());
        assert_eq!(c.headers.len(), 2);
        assert!(!c.changed());
        // Touching the key counts as a change.
        std::fs::write(dir.path().join("server.key"), "x").unwrap();
        assert!(c.changed());
    }

    #[test]
    fn bad_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path());
        let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
        for (yaml, expect) in [
            ("nonsense: 1\n", "unknown field `nonsense`"),
            (
                "tls_server_config:\n  cert_file: server.crt\n",
                "needs key_file",
            ),
            (
                "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
                "missing.crt",
            ),
            (
                "tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n",
                "no PEM certificate",
            ),
            (
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n",
                "private key",
            ),
            (
                &format!("{tls}  client_auth_type: Sometimes\n"),
                "not one of NoClientCert",
            ),
            (
                &format!("{tls}  client_ca_file: server.crt\n"),
                "client_auth_type is NoClientCert",
            ),
            (&format!("{tls}  min_version: SSL3\n"), "min_version `SSL3`"),
            (
                &format!("{tls}  max_version: TLS11\n"),
                "max_version below TLS12",
            ),
            (
                &format!("{tls}  min_version: TLS13\n  max_version: TLS12\n"),
                "above max_version",
            ),
            (
                &format!("{tls}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"),
                "not supported; choose among",
            ),
            (
                &format!("{tls}  curve_preferences: [CurveP521]\n"),
                "CurveP521",
            ),
            (
                &format!("{tls}  client_allowed_sans: [a]\n"),
                "client_allowed_sans is not supported",
            ),
            ("rate_limit:\n  burst: 1\n", "rate_limit is not supported"),
            (
                "http_server_config:\n  headers:\n    Server: x\n",
                "`Server` cannot be configured",
            ),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                "must be one of",
            ),
            ("basic_auth_users:\n  alice: hunter2\n", "not a bcrypt hash"),
        ] {
            let e = err(dir.path(), yaml);
            assert!(e.contains(expect), "{yaml:?}: {e}");
            assert!(e.contains("web.yml"), "{e}");
            assert!(!e.contains("hunter2"), "a pasted password is echoed: {e}");
        }
    }

    /// A client certificate: self-signed (`CA:TRUE` when `ca`), with `eku` when given and
    /// `not_after` when given; its PEM and its key's PEM.
    fn client_cert(
        name: &str,
        ca: bool,
        eku: Option<rcgen::ExtendedKeyUsagePurpose>,
        not_after: Option<(i32, u8, u8)>,
    ) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        params.extended_key_usages = eku.into_iter().collect();
        if let Some((y, m, d)) = not_after {
            params.not_before = rcgen::date_time_ymd(y - 1, m, d);
            params.not_after = rcgen::date_time_ymd(y, m, d);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A rustls client that trusts `server.crt` in `dir` and presents `cert` signed with
    /// `key` (not necessarily its own key: rustls's client does not check that here).
    fn client_config(dir: &Path, client: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let server = std::fs::read(dir.join("server.crt")).unwrap();
        for c in CertificateDer::pem_slice_iter(&server) {
            roots.add(c.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let certs = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
                let key = provider
                    .key_provider
                    .load_private_key(PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap())
                    .unwrap();
                let certified = rustls::sign::CertifiedKey::new(certs, key);
                builder.with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(
                    certified,
                )))
            }
        };
        Arc::new(config)
    }

    /// A full handshake in memory; the server's verdict (its error when it refuses).
    fn handshake(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
    ) -> Result<(), rustls::Error> {
        let mut c = rustls::ClientConnection::new(client, "localhost".try_into().unwrap()).unwrap();
        let mut s = rustls::ServerConnection::new(server).unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut wire).unwrap();
            }
            if !wire.is_empty() {
                s.read_tls(&mut &wire[..]).unwrap();
                s.process_new_packets()?;
            }
            let mut wire = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut wire).unwrap();
            }
            if !wire.is_empty() {
                c.read_tls(&mut &wire[..]).unwrap();
                // The server's verdict is what is asked; the client's own errors are not.
                let _ = c.process_new_packets();
            }
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
        }
        panic!("the handshake did not finish");
    }

    fn tls_server(dir: &Path, yaml: &str) -> Arc<rustls::ServerConfig> {
        WebConfig::load(&write(dir, "web.yml", yaml))
            .unwrap()
            .tls
            .unwrap()
    }

    /// issue 19: a self-signed `CA:TRUE` client certificate listed in `client_ca_file` is
    /// accepted (Go accepts it; webpki alone says `CaUsedAsEndEntity`), and only when the
    /// client holds its key, it is in its validity period and allowed for client auth.
    #[test]
    fn a_client_certificate_listed_in_client_ca_file_is_trusted_as_it_is() {
        use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path());
        let d = dir.path();
        let (own, own_key) = client_cert("own CA", true, None, None);
        let (with_eku, with_eku_key) = client_cert("client eku", true, Some(ClientAuth), None);
        let (server_only, server_only_key) =
            client_cert("server eku", true, Some(ServerAuth), None);
        let (expired, expired_key) = client_cert("expired", true, None, Some((2001, 1, 1)));
        let (stranger, stranger_key) = client_cert("own CA", true, None, None);
        let (_, other_key) = client_cert("other", true, None, None);
        write(
            d,
            "clients.pem",
            &[own.as_str(), &with_eku, &server_only, &expired].concat(),
        );
        for auth in ["RequireAndVerifyClientCert", "VerifyClientCertIfGiven"] {
            let server = tls_server(
                d,
                &format!(
                    "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
                     client_auth_type: {auth}\n  client_ca_file: clients.pem\n"
                ),
            );
            let run = |cert: &str, key: &str| {
                handshake(server.clone(), client_config(d, Some((cert, key))))
            };
            assert_eq!(run(&own, &own_key), Ok(()), "{auth}");
            assert_eq!(run(&with_eku, &with_eku_key), Ok(()), "{auth}");
            // The listed certificate with another key: rustls's signature check refuses it.
            assert_eq!(
                run(&own, &other_key),
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::BadSignature
                )),
                "{auth}"
            );
            // Same subject, same shape, not the same certificate: webpki's verdict stands.
            let e = run(&stranger, &stranger_key).unwrap_err();
            assert!(
                matches!(e, rustls::Error::InvalidCertificate(_)),
                "{auth}: {e:?}"
            );
            assert_eq!(
                run(&server_only, &server_only_key),
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::InvalidPurpose
                )),
                "{auth}"
            );
            let e = run(&expired, &expired_key).unwrap_err();
            assert!(
                matches!(
                    e,
                    rustls::Error::InvalidCertificate(
                        rustls::CertificateError::ExpiredContext { .. }
                    )
                ),
                "{auth}: {e:?}"
            );
            let without = handshake(server.clone(), client_config(d, None));
            if auth == "VerifyClientCertIfGiven" {
                assert_eq!(without, Ok(()));
            } else {
                assert_eq!(
                    without,
                    Err(rustls::Error::NoCertificatesPresented),
                    "{auth}"
                );
            }
        }
    }

    /// issue 19: a verifying `client_auth_type` without `client_ca_file` loads (exporter-toolkit
    /// verifies against the system trust store then), and a client without a certificate is
    /// served under `VerifyClientCertIfGiven`. (The store itself: tests/webconfig.rs, with
    /// SSL_CERT_FILE on the exporter process.)
    #[test]
    fn verifying_without_client_ca_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path());
        let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
        let server = tls_server(
            dir.path(),
            &format!("{tls}  client_auth_type: VerifyClientCertIfGiven\n"),
        );
        assert_eq!(handshake(server, client_config(dir.path(), None)), Ok(()));
        let server = tls_server(
            dir.path(),
            &format!("{tls}  client_auth_type: RequireAndVerifyClientCert\n"),
        );
        assert_eq!(
            handshake(server, client_config(dir.path(), None)),
            Err(rustls::Error::NoCertificatesPresented)
        );
    }

    #[tokio::test]
    async fn passwords_are_checked_and_unknown_users_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("right", 4).unwrap();
        let p = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
        );
        let config = Arc::new(WebConfig::load(&p).unwrap());
        let live = LiveWebConfig::new(config.clone());
        assert!(live.authenticate(&config, "alice", "right").await);
        // Cached answers stay the same.
        assert!(live.authenticate(&config, "alice", "right").await);
        assert!(!live.authenticate(&config, "alice", "wrong").await);
        assert!(!live.authenticate(&config, "alice", "wrong").await);
        assert!(!live.authenticate(&config, "bob", "right").await);
        assert!(!live.authenticate(&config, "", "").await);
    }

    #[test]
    fn the_decoy_hash_is_a_valid_bcrypt_hash() {
        assert!(DECOY_HASH.parse::<bcrypt::HashParts>().is_ok());
        assert_eq!(bcrypt::verify("", DECOY_HASH).ok(), Some(false));
    }

    #[test]
    fn a_broken_change_keeps_the_previous_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "web.yml",
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
        );
        let live = LiveWebConfig::new(Arc::new(WebConfig::load(&p).unwrap()));
        std::fs::write(&p, "tls_server_config: [").unwrap();
        // Let the once-a-second check through.
        live.inner.checked.lock().unwrap().0 = Instant::now() - RECHECK * 2;
        live.refresh();
        assert_eq!(live.current().headers.len(), 1);
        std::fs::write(&p, "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n").unwrap();
        live.inner.checked.lock().unwrap().0 = Instant::now() - RECHECK * 2;
        live.refresh();
        assert_eq!(live.current().headers.len(), 2);
    }
}
