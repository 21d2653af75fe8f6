//! The leaf of the configuration: what every area needs and nothing else. Reading a file the
//! configuration names ([`read_config_file`]), the error type ([`ConfigError`]), and the parsers
//! of values written the same way in every area (durations, sizes, listen addresses).
//!
//! It imports nothing of the crate, so `crate::webconfig`, `crate::verify::config` and every
//! area under `crate::config` can use it without an import cycle.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Largest configuration-side file read: the TOML file, secrets, keys, web configs, certificates.
pub const MAX_CONFIG_FILE: u64 = 16 << 20;

/// Reads a small file the configuration names. Only regular files: a FIFO or a device would
/// block the reader (at start-up, or the reloader) until someone writes to it, and
/// `/dev/zero` would never end.
pub fn read_config_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > MAX_CONFIG_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_CONFIG_FILE >> 20),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(MAX_CONFIG_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_CONFIG_FILE >> 20),
        ));
    }
    Ok(bytes)
}

/// A path where `""` is allowed and means "none" (clap refuses empty paths by default).
pub(crate) fn path_or_empty(s: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(s))
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 500ms, 2s or 1m: {e}"))
}

pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 512KiB, 16MiB or 1000000"))?;
    usize::try_from(size.as_u64()).map_err(|_| format!("`{s}` is too large"))
}

/// Serde adapter: sizes in the file are strings like "16MiB" or plain numbers of bytes.
pub(crate) fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => usize::try_from(n)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Size::Text(s) => parse_size(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Serde adapter: durations in the file are human-readable strings.
pub(crate) fn de_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// The TOML file, as written. Every table refuses unknown keys.
/// A configuration problem. Displayed to the user as is, then the process exits with 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// The usual [`ConfigError::Invalid`]: which setting, and what is wrong with it.
pub(crate) fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

/// Turns `:9797`, `0.0.0.0:9797`, `127.0.0.1:0`, `[::1]:9797` or `localhost:9797` into
/// something `TcpListener::bind` takes. `:PORT` means every IPv4 and IPv6 interface.
pub fn parse_listen_address(addr: &str) -> Result<String, String> {
    let addr = addr.trim();
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("`{addr}` has no port; use HOST:PORT or :PORT"))?;
    port.parse::<u16>()
        .map_err(|_| format!("`{addr}`: invalid port `{port}`"))?;
    if host.is_empty() {
        Ok(format!("[::]:{port}"))
    } else if host.starts_with('[') != host.ends_with(']') {
        Err(format!("`{addr}`: unbalanced brackets"))
    } else {
        Ok(addr.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_address_forms() {
        assert_eq!(parse_listen_address(":9797").unwrap(), "[::]:9797");
        assert_eq!(parse_listen_address("127.0.0.1:0").unwrap(), "127.0.0.1:0");
        assert_eq!(parse_listen_address("[::1]:9797").unwrap(), "[::1]:9797");
        assert!(parse_listen_address("localhost").is_err());
        assert!(parse_listen_address("x:port").is_err());
    }
}
