//! Tools for `benches/verify.sh`:
//!
//! - `verify_load sign --alg HS256|RS256|ES256|EdDSA --key FILE [--kid K] [--ttl SECS]
//!   [--count N]` prints a token signed with a private key (PEM) or HMAC secret file,
//!   `iss` = `https://bench.example`, with the claims of a typical OpenID Connect access token;
//!   with `--count`, N distinct tokens (a `jti` each), one per line, signed on every core
//!   (RS256/384/512 with `ring`, ~3.5× RustCrypto's speed here; the rest through jsonwebtoken).
//! - `verify_load pace --url http://127.0.0.1:PORT/PATH [--token T | --tokens FILE] --rate N
//!   --duration D [--connections C]` sends GET requests at a steady `rate` per second over `C`
//!   keep-alive connections (connection `i` sends requests `i`, `i + C`, …, each at its
//!   scheduled time; request `k` carries token `k` of the file, round robin) and prints the
//!   latency distribution. Latency is measured from the moment a request is written
//!   to the moment its response is read completely; the send lag (how late a request left
//!   against its schedule, which tokio's 1 ms timer makes up to ~1 ms) is reported beside it,
//!   so a generator that fell behind is visible.
//!
//! Loopback only: the URL must name a 127.0.0.0/8 address.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::{Parser, Subcommand};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print a signed token.
    Sign {
        #[arg(long)]
        alg: String,
        #[arg(long)]
        key: std::path::PathBuf,
        #[arg(long)]
        kid: Option<String>,
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// How many distinct tokens (each with its own `jti`).
        #[arg(long)]
        count: Option<usize>,
    },
    /// Steady-rate GETs; prints latency percentiles.
    Pace {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: Option<String>,
        /// A file of tokens, one per line, used round robin.
        #[arg(long, conflicts_with = "token")]
        tokens: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 5000)]
        rate: u32,
        #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
        duration: Duration,
        #[arg(long, default_value_t = 50)]
        connections: usize,
        /// Label printed with the results.
        #[arg(long, default_value = "")]
        name: String,
    },
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Cmd::Sign {
            alg,
            key,
            kid,
            ttl,
            count,
        } => sign(&alg, &key, kid, ttl, count),
        Cmd::Pace {
            url,
            token,
            tokens,
            rate,
            duration,
            connections,
            name,
        } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                let tokens = match (token, tokens) {
                    (Some(t), _) => vec![t],
                    (None, Some(file)) => std::fs::read_to_string(&file)
                        .map_err(|e| format!("{}: {e}", file.display()))?
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    (None, None) => Vec::new(),
                };
                rt.block_on(pace(&url, &tokens, rate, duration, connections, &name))
            }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verify_load: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

fn sign(
    alg: &str,
    key: &std::path::Path,
    kid: Option<String>,
    ttl: u64,
    count: Option<usize>,
) -> Result<(), String> {
    let alg: Algorithm = alg
        .parse()
        .map_err(|_| format!("unknown algorithm {alg}"))?;
    let bytes = std::fs::read(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            Ok(EncodingKey::from_secret(bytes.trim_ascii()))
        }
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&bytes),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&bytes),
        _ => EncodingKey::from_rsa_pem(&bytes),
    }
    .map_err(|e| format!("{}: {e}", key.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let mut header = Header::new(alg);
    header.kid = kid;
    let rsa = ring_rsa(alg, &bytes);
    let rng = ring::rand::SystemRandom::new();
    let one = |jti: Option<String>| {
        let mut claims = serde_json::json!({
            "iss": "https://bench.example", "sub": "bench", "iat": now, "nbf": now, "exp": now + ttl,
        });
        if count.is_some() {
            // The rest of a typical OpenID Connect access token (~450 bytes of claims).
            claims["aud"] = "api.bench.example".into();
            claims["azp"] = "bench-gateway-client".into();
            claims["scope"] = "openid profile email orders:read orders:write".into();
            claims["email"] = "bench.user@bench.example".into();
            claims["name"] = "Bench User".into();
            claims["sid"] = "2f6c8a0e-5b1d-4c7e-9a3f-1d2e3f4a5b6c".into();
            claims["jti"] = jti.into();
        }
        let Some((pair, padding)) = &rsa else {
            return encode(&header, &claims, &key).map_err(|e| e.to_string());
        };
        // What jsonwebtoken's `encode` writes: base64url(header).base64url(claims).signature.
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let header_json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        let claims_json = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
        let input = format!("{}.{}", b64(&header_json), b64(&claims_json));
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(*padding, &rng, input.as_bytes(), &mut signature)
            .map_err(|_| "ring could not sign".to_owned())?;
        Ok(format!("{input}.{}", b64(&signature)))
    };
    let Some(count) = count else {
        println!("{}", one(None)?);
        return Ok(());
    };
    // Distinct tokens, signed on every core (RSA signing is the slow part of a bench set-up).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let seed = std::process::id();
    let chunks: Vec<Result<Vec<String>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let one = &one;
                s.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|i| one(Some(format!("{seed:x}-{i}"))))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a signing thread panicked".into()))
            })
            .collect()
    });
    let mut out = String::new();
    for chunk in chunks {
        for token in chunk? {
            out.push_str(&token);
            out.push('\n');
        }
    }
    print!("{out}");
    Ok(())
}

/// An RSA key pair for `ring` and the padding of `alg`, or `None` (not RS256/384/512, or a key
/// `ring` does not read: jsonwebtoken signs then).
fn ring_rsa(
    alg: Algorithm,
    pem: &[u8],
) -> Option<(
    ring::signature::RsaKeyPair,
    &'static dyn ring::signature::RsaEncoding,
)> {
    use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512};
    use rustls::pki_types::{pem::PemObject as _, PrivateKeyDer};
    let padding: &'static dyn ring::signature::RsaEncoding = match alg {
        Algorithm::RS256 => &RSA_PKCS1_SHA256,
        Algorithm::RS384 => &RSA_PKCS1_SHA384,
        Algorithm::RS512 => &RSA_PKCS1_SHA512,
        _ => return None,
    };
    let pair = match PrivateKeyDer::from_pem_slice(pem).ok()? {
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()).ok()?,
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()).ok()?,
        _ => return None,
    };
    Some((pair, padding))
}

/// `http://127.0.0.1:PORT/path` → address, host header, path.
fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = host
        .parse()
        .map_err(|_| format!("`{host}` is not IP:PORT"))?;
    let loopback = match addr {
        SocketAddr::V4(a) => a.ip().octets()[0] == Ipv4Addr::LOCALHOST.octets()[0],
        SocketAddr::V6(a) => a.ip().is_loopback(),
    };
    if !loopback {
        return Err(format!("{addr} is not a loopback address"));
    }
    Ok((addr, host.to_owned(), path.to_owned()))
}

#[derive(Default)]
struct ConnResult {
    latencies_us: Vec<u32>,
    lags_us: Vec<u32>,
    non_2xx: u64,
    errors: u64,
}

async fn pace(
    url: &str,
    tokens: &[String],
    rate: u32,
    duration: Duration,
    connections: usize,
    name: &str,
) -> Result<(), String> {
    let (addr, host, path) = parse_url(url)?;
    if rate == 0 || connections == 0 {
        return Err("rate and connections must be positive".into());
    }
    let total = (f64::from(rate) * duration.as_secs_f64()) as usize;
    let requests: std::sync::Arc<[Vec<u8>]> = if tokens.is_empty() {
        vec![format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()].into()
    } else {
        tokens
            .iter()
            .map(|t| {
                format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {t}\r\n\r\n")
                    .into_bytes()
            })
            .collect()
    };
    let start = Instant::now() + Duration::from_millis(200);
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            let request = requests.clone();
            tokio::spawn(async move {
                connection(addr, request, start, i, connections, rate, total).await
            })
        })
        .collect();
    let mut all = ConnResult::default();
    for t in tasks {
        let r = t.await.map_err(|e| e.to_string())??;
        all.latencies_us.extend(r.latencies_us);
        all.lags_us.extend(r.lags_us);
        all.non_2xx += r.non_2xx;
        all.errors += r.errors;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    all.lags_us.sort_unstable();
    let q = |v: &[u32], p: f64| -> u32 {
        if v.is_empty() {
            return 0;
        }
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    };
    let l = &all.latencies_us;
    println!(
        "{name:<12} requests={} rate={:.0}/s non2xx={} errors={} latency_us p50={} p90={} p99={} p99.9={} max={} | send_lag_us p99={} max={}",
        l.len(),
        l.len() as f64 / elapsed,
        all.non_2xx,
        all.errors,
        q(l, 0.5),
        q(l, 0.9),
        q(l, 0.99),
        q(l, 0.999),
        l.last().copied().unwrap_or(0),
        q(&all.lags_us, 0.99),
        all.lags_us.last().copied().unwrap_or(0),
    );
    Ok(())
}

async fn connection(
    addr: SocketAddr,
    requests: std::sync::Arc<[Vec<u8>]>,
    start: Instant,
    first: usize,
    step: usize,
    rate: u32,
    total: usize,
) -> Result<ConnResult, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut out = ConnResult::default();
    let mut buf = Vec::with_capacity(4096);
    let mut k = first;
    while k < total {
        let due = start + Duration::from_secs_f64(k as f64 / f64::from(rate));
        tokio::time::sleep_until(due).await;
        let sent = Instant::now();
        let request = &requests[k % requests.len()];
        let status = match exchange(&mut stream, request, &mut buf).await {
            Ok(s) => s,
            Err(_) => {
                out.errors += 1;
                stream = TcpStream::connect(addr)
                    .await
                    .map_err(|e| format!("reconnect {addr}: {e}"))?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                k += step;
                continue;
            }
        };
        let done = Instant::now();
        if !(200..300).contains(&status) {
            out.non_2xx += 1;
        }
        out.latencies_us
            .push(u32::try_from((done - sent).as_micros()).unwrap_or(u32::MAX));
        out.lags_us
            .push(u32::try_from((sent - due).as_micros()).unwrap_or(u32::MAX));
        k += step;
    }
    Ok(out)
}

/// Writes one request and reads one whole response; returns its status.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<u16> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("head not UTF-8"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or_else(|| bad("no content-length"))?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed in the body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}
