//! The HTTP `Date` probe's I/O shell: one task per target, a round of requests every
//! `interval`, the result written into the metrics. What the answers mean is decided in
//! [`super::estimate`]; this file only sends, times and classifies.
//!
//! One round: resolve the host once (a `dns_error` is ours to tell apart from a refused
//! connection), build a client pinned to that address with one pooled connection (kept alive
//! where the server allows, so later requests pay no handshake and hit the same backend), then
//! send up to `max-requests` requests, each at the instant [`Estimator::next_send`] picks and
//! never sooner than 250 ms after the previous one (a followed redirect counts as a request
//! too). The round ends early once the interval is as narrow as the round trip allows.
//!
//! Local time during a round is the wall clock read once at its start plus the monotonic time
//! since: a step of the local clock during a round cannot tear the round's intervals apart.
//!
//! The probe connects directly: proxy variables (`HTTPS_PROXY`…) are ignored, since a proxy
//! would add its own latency and, for plain HTTP, may write its own `Date`.
//!
//! A round that fails (any request failing, or answers contradicting each other) publishes no
//! offset; after [`STALE_AFTER`] failed rounds in a row the offset and bound series are removed,
//! so no alert keeps judging a clock nobody can read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::estimate::{
    parse_date, status_is_a_clock, Estimate, Estimator, Exchange, ProbeResult, MIN_SPACING,
};
use crate::config::probe::{HttpDateTarget, Method, ProbeSettings};
use crate::metrics::{HttpDateMetrics, Metrics};

/// Failed rounds in a row after which a target's offset and bound series are removed.
pub const STALE_AFTER: u32 = 3;
/// Redirects followed within one request (same origin only).
pub const MAX_REDIRECTS: usize = 3;
/// Most body bytes read from a `GET` answer before the connection is dropped instead.
const MAX_BODY: usize = 64 << 10;

/// The `User-Agent` of every probe request.
pub const USER_AGENT: &str = concat!(
    "skew-exporter/",
    env!("CARGO_PKG_VERSION"),
    " (HTTP Date clock probe)"
);

/// Starts one task per target on `tracker`; they stop when `cancel` fires.
pub fn spawn(
    settings: &ProbeSettings,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    for t in &settings.http_date {
        init_series(&metrics.http_date, t);
        tracker.spawn(run(t.clone(), metrics.clone(), cancel.clone()));
    }
}

/// Creates the counters at zero (so `rate()` works from the first scrape) and the issuer
/// info series.
fn init_series(m: &HttpDateMetrics, t: &HttpDateTarget) {
    for r in ProbeResult::ALL {
        m.probes.with_label_values(&[&t.name, r.as_str()]);
    }
    m.requests.with_label_values(&[&t.name]);
    if let Some(i) = &t.issuer {
        m.target_info.with_label_values(&[&t.name, i]).set(1);
    }
}

/// Removes every series of a target no longer configured (after a reload).
pub fn forget_target(m: &HttpDateMetrics, t: &HttpDateTarget) {
    let l = &[t.name.as_str()];
    let _ = m.offset.remove_label_values(l);
    let _ = m.bound.remove_label_values(l);
    let _ = m.requests.remove_label_values(l);
    for r in ProbeResult::ALL {
        let _ = m.probes.remove_label_values(&[&t.name, r.as_str()]);
    }
    if let Some(i) = &t.issuer {
        let _ = m.target_info.remove_label_values(&[&t.name, i]);
    }
}

async fn run(target: HttpDateTarget, metrics: Arc<Metrics>, cancel: CancellationToken) {
    let m = &metrics.http_date;
    let l = &[target.name.as_str()];
    let mut failed_in_a_row = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            o = round(&target) => o,
        };
        m.requests
            .with_label_values(l)
            .inc_by(outcome.requests.into());
        m.probes
            .with_label_values(&[&target.name, outcome.result.as_str()])
            .inc();
        match outcome.estimate {
            Some(e) if outcome.result == ProbeResult::Ok => {
                failed_in_a_row = 0;
                m.offset.with_label_values(l).set(e.offset);
                m.bound.with_label_values(l).set(e.bound);
            }
            _ => {
                failed_in_a_row += 1;
                tracing::debug!(target = %target.name, result = outcome.result.as_str(), detail = %outcome.detail, "HTTP Date round failed");
                if failed_in_a_row == STALE_AFTER {
                    tracing::warn!(target = %target.name, result = outcome.result.as_str(), detail = %outcome.detail, "{STALE_AFTER} HTTP Date rounds failed in a row; its offset is no longer exported");
                    let _ = m.offset.remove_label_values(l);
                    let _ = m.bound.remove_label_values(l);
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(started + target.interval) => {}
        }
    }
}

/// What one round produced.
#[derive(Debug, Clone)]
pub struct RoundOutcome {
    pub result: ProbeResult,
    /// Set when `result` is `Ok`.
    pub estimate: Option<Estimate>,
    /// Requests sent, redirects included.
    pub requests: u32,
    /// For the log: why the round failed (never a header value or a body).
    pub detail: String,
}

impl RoundOutcome {
    fn failed(result: ProbeResult, requests: u32, detail: impl Into<String>) -> Self {
        RoundOutcome {
            result,
            estimate: None,
            requests,
            detail: detail.into(),
        }
    }
}

/// The local clock of one round: the wall clock at its start plus monotonic time since.
struct LocalClock {
    wall: f64,
    mono: Instant,
}

impl LocalClock {
    fn new() -> Self {
        LocalClock {
            mono: Instant::now(),
            wall: crate::unix_now(),
        }
    }

    fn now(&self) -> f64 {
        self.wall + self.mono.elapsed().as_secs_f64()
    }
}

/// Runs one round against `target`: at most `max-requests` requests, then the estimate or the
/// class of the first failure. Public so that tests can run many rounds without the timer.
pub async fn round(target: &HttpDateTarget) -> RoundOutcome {
    let hops = Arc::new(AtomicU32::new(0));
    let client = match client(target, hops.clone()).await {
        Ok(c) => c,
        Err(failed) => return failed,
    };
    let method = match target.method {
        Method::HEAD => reqwest::Method::HEAD,
        Method::GET => reqwest::Method::GET,
    };
    let clock = LocalClock::new();
    let mut estimator = Estimator::new();
    let mut earliest = clock.now();
    let mut requests = 0u32;
    while requests < target.max_requests {
        let send_at = estimator.next_send(earliest);
        let wait = send_at - clock.now();
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        let before = hops.load(Ordering::Relaxed);
        let sent = clock.now();
        let answer = client
            .request(method.clone(), target.url.clone())
            .header(reqwest::header::CACHE_CONTROL, "no-cache")
            .send()
            .await;
        let received = clock.now();
        let spent = 1 + hops.load(Ordering::Relaxed).saturating_sub(before);
        requests += spent;
        let response = match answer {
            Ok(r) => r,
            Err(e) => {
                // Without the URL: its host must not decide the class, and its query string
                // stays out of the log.
                let e = e.without_url();
                return RoundOutcome::failed(classify(&e), requests, error_chain(&e));
            }
        };
        let date = match judge(&response, received) {
            Ok(d) => d,
            Err((class, detail)) => return RoundOutcome::failed(class, requests, detail),
        };
        if target.method == Method::GET {
            drain(response).await;
        }
        let x = Exchange {
            sent,
            received,
            date,
        };
        if estimator.add(&x).is_err() {
            return RoundOutcome::failed(
                ProbeResult::BadDate,
                requests,
                "the Dates of this round contradict each other (backends with different clocks, or a cache)",
            );
        }
        if estimator.converged() {
            break;
        }
        earliest = sent + MIN_SPACING * f64::from(spent);
    }
    match estimator.estimate() {
        Some(e) => RoundOutcome {
            result: ProbeResult::Ok,
            estimate: Some(e),
            requests,
            detail: String::new(),
        },
        None => RoundOutcome::failed(ProbeResult::ConnectionError, requests, "no answer"),
    }
}

/// The `Date` of one answer, or why it is not a reading of the target's clock.
fn judge(response: &reqwest::Response, received: f64) -> Result<i64, (ProbeResult, String)> {
    let status = response.status().as_u16();
    if !status_is_a_clock(status) {
        return Err((ProbeResult::HttpError, format!("HTTP status {status}")));
    }
    let headers = response.headers();
    let Some(value) = headers.get(reqwest::header::DATE) else {
        return Err((ProbeResult::NoDate, format!("HTTP {status} without Date")));
    };
    // A cache that answered from storage sends Age: its Date is the origin's, from then.
    let age = headers
        .get(reqwest::header::AGE)
        .and_then(|a| a.to_str().ok())
        .and_then(|a| a.trim().parse::<u64>().ok());
    if age.is_some_and(|a| a > 0) {
        return Err((
            ProbeResult::BadDate,
            "answered from a cache (Age > 0)".into(),
        ));
    }
    parse_date(value.as_bytes(), received)
        .map_err(|e| (ProbeResult::BadDate, format!("unusable Date header: {e:?}")))
}

/// Reads and drops a `GET` body so the connection can be reused; a large one is cut off (the
/// connection is then closed instead).
async fn drain(mut response: reqwest::Response) {
    let mut read = 0usize;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        if read > MAX_BODY {
            break;
        }
    }
}

/// Resolves the host (`dns_error` on failure) and builds the round's client: pinned to the
/// resolved address, one pooled connection, same-origin redirects only, the target's TLS
/// trust.
async fn client(
    target: &HttpDateTarget,
    hops: Arc<AtomicU32>,
) -> Result<reqwest::Client, RoundOutcome> {
    let url = &target.url;
    let port = url.port_or_known_default().unwrap_or(80);
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(target.timeout)
        .connect_timeout(target.timeout)
        .pool_max_idle_per_host(1)
        .http1_only()
        .no_proxy()
        .redirect(same_origin_redirects(hops));
    if let Some(domain) = url.domain() {
        let lookup = tokio::time::timeout(
            target.timeout,
            tokio::net::lookup_host((domain.to_owned(), port)),
        )
        .await;
        let addr: Option<SocketAddr> = match lookup {
            Ok(Ok(mut addrs)) => addrs.next(),
            Ok(Err(e)) => {
                return Err(RoundOutcome::failed(
                    ProbeResult::DnsError,
                    0,
                    e.to_string(),
                ))
            }
            Err(_) => None,
        };
        let Some(addr) = addr else {
            return Err(RoundOutcome::failed(
                ProbeResult::DnsError,
                0,
                "no address, or no answer in time",
            ));
        };
        builder = builder.resolve(domain, addr);
    }
    if target.insecure_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(ca) = &target.ca {
        // Checked when the configuration was loaded.
        let certs = reqwest::Certificate::from_pem_bundle(&ca.pem).unwrap_or_default();
        builder = builder.tls_built_in_root_certs(false);
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    builder
        .build()
        .map_err(|e| RoundOutcome::failed(ProbeResult::TlsError, 0, e.to_string()))
}

/// Follows a redirect only to the same scheme, host and port (another host is another clock),
/// and at most [`MAX_REDIRECTS`] times; counts each one followed in `hops`.
fn same_origin_redirects(hops: Arc<AtomicU32>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same {
            attempt.error("redirect to another origin (another clock): probe that URL instead")
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            hops.fetch_add(1, Ordering::Relaxed);
            attempt.follow()
        }
    })
}

/// The result class of a failed request.
fn classify(e: &reqwest::Error) -> ProbeResult {
    if e.is_timeout() {
        return ProbeResult::Timeout;
    }
    if e.is_redirect() {
        return ProbeResult::HttpError;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<rustls::Error>() {
            return ProbeResult::TlsError;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            // io::Error::source() skips the error it wraps: look at it directly.
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return ProbeResult::TlsError;
            }
            if io.kind() == std::io::ErrorKind::TimedOut {
                return ProbeResult::Timeout;
            }
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() || h.is_parse_too_large() {
                return ProbeResult::HttpError;
            }
        }
        source = err.source();
    }
    // The connector may box the handshake error where no downcast reaches it; rustls's own
    // words name it then.
    if e.is_connect() && looks_like_tls(&error_chain(e)) {
        return ProbeResult::TlsError;
    }
    ProbeResult::ConnectionError
}

/// rustls's wording of a failed handshake.
fn looks_like_tls(chain: &str) -> bool {
    let chain = chain.to_ascii_lowercase();
    [
        "certificate",
        "handshake",
        "received fatal alert",
        "peer is incompatible",
        "corrupt message",
        "tls",
    ]
    .iter()
    .any(|w| chain.contains(w))
}

/// The error and its causes on one line, for the log (never a header or a body; the caller
/// strips the URL).
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback that names a handshake failure the downcasts could not reach, with the
    /// chains reqwest 0.12 produces on loopback.
    #[test]
    fn rustls_wording_is_a_tls_error_and_a_refusal_is_not() {
        for tls in [
            "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer",
            "error sending request: client error (Connect): received fatal alert: HandshakeFailure",
        ] {
            assert!(looks_like_tls(tls), "{tls}");
        }
        for other in [
            "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)",
            "error sending request: connection closed before message completed",
        ] {
            assert!(!looks_like_tls(other), "{other}");
        }
    }
}
