//! The NTP I/O shell: one task per configured server, a burst of exchanges every interval,
//! the results written into the metrics; after every round, the agreement between servers is
//! recomputed from each server's freshest best sample.
//!
//! Sampling never happens inside a scrape: `/metrics` only reads what the tasks last wrote, so
//! a slow or dead server cannot slow it down.
//!
//! Each exchange uses a fresh, connected UDP socket of the server's address family: `sntpc`
//! reads one datagram per call, so a reused socket could read a late reply to an earlier
//! request as the answer to the next; the connect makes the kernel drop datagrams from any other
//! source and report an ICMP refusal as an error instead of a silent timeout. `sntpc` has no
//! timeout of its own, so each exchange runs under `--ntp.timeout`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sntpc::{NtpContext, NtpUdpSocket, StdTimestampGen};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::sample::{self, best_of_burst, Failure, KissAction, QueryResult, Sample};
use super::select::{self, Candidate};
use crate::config::{NtpSettings, ServerSpec};
use crate::metrics::{Metrics, NtpMetrics};

/// How long name resolution of one server may take before the round counts a `dns_error`.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts one sampling task per server on `tracker`; they stop when `cancel` fires.
pub fn spawn(
    settings: &NtpSettings,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    let agreement = Arc::new(Agreement::new(settings));
    for (index, spec) in settings.servers.iter().enumerate() {
        init_series(&metrics.ntp, &spec.label);
        let task = ServerTask {
            index,
            spec: spec.clone(),
            settings: settings.clone(),
            metrics: metrics.clone(),
            agreement: agreement.clone(),
            cancel: cancel.clone(),
        };
        tracker.spawn(task.run());
    }
}

/// Creates every per-server series at zero, so that `rate()` and `absent()` work from the first
/// scrape on.
fn init_series(m: &NtpMetrics, server: &str) {
    for r in QueryResult::ALL {
        m.queries.with_label_values(&[server, r.as_str()]);
    }
    m.falseticker.with_label_values(&[server]).set(0);
}

struct ServerTask {
    index: usize,
    spec: ServerSpec,
    settings: NtpSettings,
    metrics: Arc<Metrics>,
    agreement: Arc<Agreement>,
    cancel: CancellationToken,
}

/// What one round of a server's burst produced.
struct Round {
    best: Option<Sample>,
    kiss: Option<KissAction>,
}

impl ServerTask {
    async fn run(self) {
        let mut backoff: u32 = 1;
        loop {
            let round = self.round().await;
            backoff = next_backoff(backoff, &round, self.settings.max_backoff);
            if let Some(best) = round.best {
                self.publish(&best);
            }
            self.agreement
                .update(self.index, round.best, &self.metrics.ntp);
            if round.kiss == Some(KissAction::Stop) {
                tracing::warn!(server = %self.spec.label, "server denies service (Kiss-o'-Death DENY/RSTR); polling at the slowest rate");
            }
            let wait = self.settings.interval.saturating_mul(backoff);
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Resolves the server afresh and runs one burst, counting every exchange.
    async fn round(&self) -> Round {
        let mut round = Round {
            best: None,
            kiss: None,
        };
        let addr = match resolve(&self.spec).await {
            Ok(addr) => addr,
            Err(e) => {
                tracing::debug!(server = %self.spec.label, error = %e, "cannot resolve NTP server");
                self.count(QueryResult::DnsError);
                return round;
            }
        };
        let mut samples = Vec::with_capacity(self.settings.burst as usize);
        for i in 0..self.settings.burst {
            if i > 0 {
                tokio::select! {
                    _ = self.cancel.cancelled() => break,
                    _ = tokio::time::sleep(self.settings.burst_spacing) => {}
                }
            }
            let outcome = tokio::select! {
                _ = self.cancel.cancelled() => break,
                o = exchange(addr, self.settings.timeout) => o,
            };
            match outcome {
                Ok(s) => {
                    self.count(QueryResult::Ok);
                    self.metrics
                        .ntp
                        .sample_offset
                        .with_label_values(&[&self.spec.label])
                        .observe(s.offset);
                    samples.push(s);
                }
                Err(f) => {
                    self.count(f.result);
                    if let Some(li) = f.leap_indicator {
                        self.metrics
                            .ntp
                            .leap_indicator
                            .with_label_values(&[&self.spec.label])
                            .set(li.into());
                    }
                    tracing::debug!(server = %self.spec.label, %addr, result = f.result.as_str(), "NTP exchange failed");
                    if let Some(kiss) = f.kiss {
                        round.kiss = Some(kiss);
                        if kiss != KissAction::Ignore {
                            break; // never keep asking a server that told us to stop
                        }
                    }
                }
            }
        }
        round.best = best_of_burst(&samples);
        round
    }

    fn count(&self, result: QueryResult) {
        self.metrics
            .ntp
            .queries
            .with_label_values(&[&self.spec.label, result.as_str()])
            .inc();
    }

    /// Writes the best sample of a round into the per-server gauges.
    fn publish(&self, s: &Sample) {
        let m = &self.metrics.ntp;
        let l = &[self.spec.label.as_str()];
        m.offset.with_label_values(l).set(s.offset);
        m.delay.with_label_values(l).set(s.delay);
        m.stratum.with_label_values(l).set(s.stratum.into());
        m.leap_indicator
            .with_label_values(l)
            .set(s.leap_indicator.into());
        m.root_distance.with_label_values(l).set(s.root_distance());
        m.last_success.with_label_values(l).set(crate::unix_now());
    }
}

/// The next round's interval multiplier: doubled on a RATE kiss, the cap on DENY/RSTR, back to
/// 1 after a round that produced a sample without a kiss.
fn next_backoff(current: u32, round: &Round, cap: u32) -> u32 {
    match round.kiss {
        Some(KissAction::BackOff) => current.saturating_mul(2).min(cap),
        Some(KissAction::Stop) => cap,
        _ if round.best.is_some() => 1,
        _ => current,
    }
}

async fn resolve(spec: &ServerSpec) -> std::io::Result<SocketAddr> {
    let lookup = tokio::net::lookup_host((spec.host.as_str(), spec.port));
    let mut addrs = tokio::time::timeout(DNS_TIMEOUT, lookup)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "DNS timeout"))??;
    addrs
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
}

/// A connected UDP socket that remembers the first byte of the last datagram it received, so
/// that an unsynchronised reply's leap indicator can be reported (sntpc drops the packet).
struct Connected {
    socket: UdpSocket,
    peer: SocketAddr,
    first_byte: Mutex<Option<u8>>,
}

impl NtpUdpSocket for Connected {
    async fn send_to(&self, buf: &[u8], _addr: SocketAddr) -> sntpc::Result<usize> {
        self.socket
            .send(buf)
            .await
            .map_err(|_| sntpc::Error::Network)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> sntpc::Result<(usize, SocketAddr)> {
        let n = self
            .socket
            .recv(buf)
            .await
            .map_err(|_| sntpc::Error::Network)?;
        if let Ok(mut b) = self.first_byte.lock() {
            *b = buf[..n].first().copied();
        }
        Ok((n, self.peer))
    }
}

/// One request/response exchange with `addr` on a fresh socket, under `timeout`.
pub async fn exchange(addr: SocketAddr, timeout: Duration) -> Result<Sample, Failure> {
    let network = |e: std::io::Error| {
        tracing::trace!(%addr, error = %e, "socket error");
        Failure::new(QueryResult::NetworkError)
    };
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(network)?;
    socket.connect(addr).await.map_err(network)?;
    let conn = Connected {
        socket,
        peer: addr,
        first_byte: Mutex::new(None),
    };
    let context = NtpContext::new(StdTimestampGen::default());
    match tokio::time::timeout(timeout, sntpc::get_time(addr, &conn, context)).await {
        Err(_) => Err(Failure::new(QueryResult::Timeout)),
        Ok(result) => {
            let first = conn.first_byte.lock().ok().and_then(|b| *b);
            sample::classify(result, first)
        }
    }
}

/// The freshest best sample of every server, and the selection over them.
struct Agreement {
    floor: f64,
    /// A sample older than this no longer takes part in the selection.
    stale_after: Duration,
    labels: Vec<String>,
    latest: Mutex<Vec<Option<(Instant, Sample)>>>,
}

impl Agreement {
    fn new(settings: &NtpSettings) -> Self {
        Agreement {
            floor: settings.falseticker_floor.as_secs_f64(),
            stale_after: settings.interval * 4
                + settings.burst_spacing * settings.burst
                + settings.timeout * settings.burst,
            labels: settings.servers.iter().map(|s| s.label.clone()).collect(),
            latest: Mutex::new(vec![None; settings.servers.len()]),
        }
    }

    /// Records a server's round and rewrites the agreement gauges. The lock is held only for
    /// in-memory work (no `.await`), so a std mutex is the right tool.
    fn update(&self, index: usize, best: Option<Sample>, m: &NtpMetrics) {
        let Ok(mut latest) = self.latest.lock() else {
            return;
        };
        let now = Instant::now();
        if let Some(s) = best {
            latest[index] = Some((now, s));
        }
        let fresh: Vec<(usize, Candidate)> = latest
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| {
                let (at, s) = slot.as_ref()?;
                (now.duration_since(*at) <= self.stale_after).then(|| {
                    (
                        i,
                        Candidate {
                            offset: s.offset,
                            half_width: s.half_width(self.floor),
                        },
                    )
                })
            })
            .collect();
        let candidates: Vec<Candidate> = fresh.iter().map(|(_, c)| *c).collect();
        let selection = select::select(&candidates);

        for label in &self.labels {
            m.falseticker.with_label_values(&[label]).set(0);
        }
        if let Some(offset) = selection.system_offset {
            for ((i, _), agrees) in fresh.iter().zip(&selection.agreeing) {
                m.falseticker
                    .with_label_values(&[&self.labels[*i]])
                    .set(i64::from(!agrees));
            }
            m.system_offset.with_label_values::<&str>(&[]).set(offset);
        } else {
            m.system_offset.reset();
        }
        m.servers_agreeing
            .with_label_values::<&str>(&[])
            .set(selection.count as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(best: bool, kiss: Option<KissAction>) -> Round {
        let s = Sample {
            offset: 0.0,
            delay: 0.0,
            stratum: 1,
            leap_indicator: 0,
            root_delay: 0.0,
            root_dispersion: 0.0,
        };
        Round {
            best: best.then_some(s),
            kiss,
        }
    }

    #[test]
    fn backoff_doubles_on_rate_up_to_the_cap_and_resets() {
        let rate = round(false, Some(KissAction::BackOff));
        assert_eq!(next_backoff(1, &rate, 16), 2);
        assert_eq!(next_backoff(8, &rate, 16), 16);
        assert_eq!(next_backoff(16, &rate, 16), 16);
        assert_eq!(
            next_backoff(1, &round(false, Some(KissAction::Stop)), 16),
            16
        );
        assert_eq!(next_backoff(8, &round(true, None), 16), 1);
        assert_eq!(
            next_backoff(8, &round(false, None), 16),
            8,
            "a silent round keeps the backoff"
        );
        assert_eq!(
            next_backoff(4, &round(true, Some(KissAction::Ignore)), 16),
            1
        );
    }
}
