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
//!
//! The network sits behind one seam, [`Network`]: "resolve this server" and "send one request
//! to this address, classify the answer". [`Udp`] is the real one; the tests drive the loop
//! (bursts, Kiss-o'-Death back-off, a fresh resolution every round, timeouts) with a scripted
//! fake under tokio's paused clock. What the agreement gauges show is decided by the pure
//! [`select::agreement`].
//!
//! The two bound gauges are set here to the bound of the sample (or of the combined offset) and
//! the instant the sample was taken, and grow at [`sample::MAX_DRIFT`] from then on, computed at
//! scrape time ([`crate::metrics::GrowingGaugeVec`]). A sample is dated at the start of its
//! burst: a little older than it is, so its bound is never under-stated.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sntpc::{NtpContext, NtpUdpSocket, StdTimestampGen};
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::health::{self, Outage, Outcome, ServerHealth};
use super::sample::{self, best_of_burst, Failure, KissAction, QueryResult, Sample, MAX_DRIFT};
use super::select::{self, Candidate, Latest};
use crate::config::{NtpSettings, ServerSpec};
use crate::metrics::{Metrics, NtpMetrics};

/// How long name resolution of one server may take before the round counts a `dns_error`.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// The sampler's view of the network: name resolution and one NTP exchange. Timeouts are the
/// sampler's business, not the implementation's.
pub trait Network: Send + Sync + 'static {
    /// The address to query for `host:port` this round (the first one resolution gives).
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = std::io::Result<SocketAddr>> + Send;

    /// One request to `addr` and its classified answer. May never finish (no reply): the
    /// sampler bounds it with `--ntp.timeout`.
    fn exchange(&self, addr: SocketAddr) -> impl Future<Output = Result<Sample, Failure>> + Send;
}

/// The real network: the system resolver, and a fresh connected UDP socket per exchange.
pub struct Udp;

impl Network for Udp {
    async fn resolve(&self, host: &str, port: u16) -> std::io::Result<SocketAddr> {
        tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
    }

    async fn exchange(&self, addr: SocketAddr) -> Result<Sample, Failure> {
        udp_exchange(addr).await
    }
}

/// Starts one sampling task per server on `tracker`; they stop when `cancel` fires.
pub fn spawn(
    settings: &NtpSettings,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    spawn_with(settings, metrics, cancel, tracker, Arc::new(Udp));
}

/// [`spawn`] over any [`Network`].
pub fn spawn_with<N: Network>(
    settings: &NtpSettings,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
    network: Arc<N>,
) {
    let agreement = Arc::new(Agreement::new(settings));
    let silence = Arc::new(Silence {
        outage: Mutex::new(Outage::new(settings.interval, Instant::now())),
        servers: settings.servers.iter().map(|s| s.label.clone()).collect(),
    });
    for (index, spec) in settings.servers.iter().enumerate() {
        init_series(&metrics.ntp, &spec.label);
        let task = ServerTask {
            index,
            spec: spec.clone(),
            settings: settings.clone(),
            metrics: metrics.clone(),
            agreement: agreement.clone(),
            silence: silence.clone(),
            cancel: cancel.clone(),
            network: network.clone(),
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

struct ServerTask<N> {
    index: usize,
    spec: ServerSpec,
    settings: NtpSettings,
    metrics: Arc<Metrics>,
    agreement: Arc<Agreement>,
    silence: Arc<Silence>,
    cancel: CancellationToken,
    network: Arc<N>,
}

/// Whether any server has answered lately, for the log (see [`health::Outage`]).
struct Silence {
    outage: Mutex<Outage>,
    servers: Vec<String>,
}

/// What one round of a server's burst produced.
struct Round {
    best: Option<Sample>,
    kiss: Option<KissAction>,
    /// The last failure's class, and the resolver's message or the address queried.
    failure: Option<(QueryResult, Option<String>)>,
    /// When the burst began: no sample of it is older.
    started: Instant,
}

impl<N: Network> ServerTask<N> {
    async fn run(self) {
        let mut backoff: u32 = 1;
        let mut health = ServerHealth::default();
        loop {
            let round = self.round().await;
            backoff = next_backoff(backoff, &round, self.settings.max_backoff);
            if let Some(best) = round.best {
                self.publish(&best, round.started);
            }
            self.agreement
                .update_taken(self.index, round.best, round.started, &self.metrics.ntp);
            let wait = self.settings.interval.saturating_mul(backoff);
            self.report(&mut health, &round, wait);
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
            failure: None,
            started: Instant::now(),
        };
        let addr = match self.resolve().await {
            Ok(addr) => addr,
            Err(e) => {
                tracing::debug!(server = %self.spec.label, error = %e, "cannot resolve NTP server");
                self.count(QueryResult::DnsError);
                round.failure = Some((QueryResult::DnsError, Some(e.to_string())));
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
                o = self.exchange(addr) => o,
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
                    round.failure = Some((f.result, Some(addr.to_string())));
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

    /// Hands the round to the log's state machines ([`health`]) and logs what they return:
    /// a line when this server's state changes, and one when no server has answered for long.
    /// `wait` is the time until the next round.
    fn report(&self, health: &mut ServerHealth, round: &Round, wait: Duration) {
        if self.cancel.is_cancelled() {
            return; // a round cut short by shutdown says nothing about the server
        }
        let describe = |result, kiss, detail: Option<&str>| Outcome::Failed {
            result,
            error: health::describe(
                result,
                kiss,
                &self.spec.host,
                detail,
                self.settings.timeout,
                wait,
            ),
        };
        let outcome = match (&round.best, round.kiss, &round.failure) {
            // A server that asks us to back off or go away is failing, samples or not.
            (_, Some(k @ (KissAction::BackOff | KissAction::Stop)), _) => {
                describe(QueryResult::KissOfDeath, Some(k), None)
            }
            (Some(s), _, _) => Outcome::Answered {
                offset: s.offset,
                delay: s.delay,
            },
            (None, kiss, Some((result, detail))) => describe(*result, kiss, detail.as_deref()),
            (None, _, None) => return,
        };
        let now = Instant::now();
        if let Some(line) = health.observe(&outcome, now) {
            line.log(&self.spec.label);
        }
        let line = match self.silence.outage.lock() {
            Ok(mut o) => o.observe(round.best.is_some(), now),
            Err(_) => None,
        };
        if let Some(line) = line {
            line.log(&self.silence.servers);
        }
    }

    async fn resolve(&self) -> std::io::Result<SocketAddr> {
        let lookup = self.network.resolve(&self.spec.host, self.spec.port);
        tokio::time::timeout(DNS_TIMEOUT, lookup)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "DNS timeout"))?
    }

    async fn exchange(&self, addr: SocketAddr) -> Result<Sample, Failure> {
        tokio::time::timeout(self.settings.timeout, self.network.exchange(addr))
            .await
            .unwrap_or(Err(Failure::new(QueryResult::Timeout)))
    }

    fn count(&self, result: QueryResult) {
        self.metrics
            .ntp
            .queries
            .with_label_values(&[&self.spec.label, result.as_str()])
            .inc();
    }

    /// Writes the best sample of a round, taken no earlier than `taken`, into the per-server
    /// gauges.
    fn publish(&self, s: &Sample, taken: Instant) {
        let m = &self.metrics.ntp;
        let l = &[self.spec.label.as_str()];
        m.offset.with_label_values(l).set(s.offset);
        m.delay.with_label_values(l).set(s.delay);
        m.stratum.with_label_values(l).set(s.stratum.into());
        m.leap_indicator
            .with_label_values(l)
            .set(s.leap_indicator.into());
        m.root_distance.with_label_values(l).set(s.root_distance());
        m.offset_bound.set(l, s.bound(), MAX_DRIFT, taken);
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
    tokio::time::timeout(timeout, udp_exchange(addr))
        .await
        .unwrap_or(Err(Failure::new(QueryResult::Timeout)))
}

/// One request/response exchange with `addr` on a fresh socket, without a timeout.
async fn udp_exchange(addr: SocketAddr) -> Result<Sample, Failure> {
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
    let result = sntpc::get_time(addr, &conn, context).await;
    let first = conn.first_byte.lock().ok().and_then(|b| *b);
    sample::classify(result, first)
}

/// The freshest best sample of every server, and the agreement gauges written from it.
struct Agreement {
    floor: f64,
    /// A sample older than this no longer takes part in the selection.
    stale_after: Duration,
    labels: Vec<String>,
    /// Per server: when the sample was recorded (for staleness), when it was taken (for its
    /// bound's growth), and the sample.
    latest: Mutex<Vec<Option<Slot>>>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    recorded: Instant,
    taken: Instant,
    sample: Sample,
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

    /// Records a server's round and rewrites the agreement gauges, each once, straight from
    /// its old value to its new one (a scrape in between never sees a falseticker blink to 0).
    /// The lock is held only for in-memory work (no `.await`), and across the writes so that
    /// two servers' rounds cannot interleave them: a std mutex is the right tool.
    #[cfg(test)]
    fn update(&self, index: usize, best: Option<Sample>, m: &NtpMetrics) {
        self.update_taken(index, best, Instant::now(), m);
    }

    /// [`Agreement::update`] for a sample taken no earlier than `taken`.
    fn update_taken(&self, index: usize, best: Option<Sample>, taken: Instant, m: &NtpMetrics) {
        let Ok(mut latest) = self.latest.lock() else {
            return;
        };
        let now = Instant::now();
        if let Some(sample) = best {
            latest[index] = Some(Slot {
                recorded: now,
                taken,
                sample,
            });
        }
        let view: Vec<Option<Latest>> = latest
            .iter()
            .map(|slot| {
                slot.as_ref().map(|s| Latest {
                    age: now.duration_since(s.recorded),
                    candidate: Candidate {
                        offset: s.sample.offset,
                        half_width: s.sample.half_width(self.floor),
                    },
                })
            })
            .collect();
        let a = select::agreement(&view, self.stale_after);
        // The bound's ages count from when each sample was taken, not recorded (the staleness
        // rule keeps counting from the recording, as before): the oldest one decides.
        let taken_oldest = latest
            .iter()
            .flatten()
            .map(|s| s.recorded.duration_since(s.taken))
            .max()
            .unwrap_or_default();
        for (label, &falseticker) in self.labels.iter().zip(&a.falseticker) {
            m.falseticker
                .with_label_values(&[label])
                .set(i64::from(falseticker));
        }
        match (a.system_offset, a.system_bound) {
            (Some(offset), Some(bound)) => {
                m.system_offset.with_label_values::<&str>(&[]).set(offset);
                let bound = sample::grown(bound, taken_oldest);
                m.system_offset_bound.set(&[], bound, MAX_DRIFT, now);
            }
            _ => {
                m.system_offset.reset();
                m.system_offset_bound.remove(&[]);
            }
        }
        m.servers_agreeing
            .with_label_values::<&str>(&[])
            .set(a.servers_agreeing as i64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use sntpc::KissOfDeathCode;

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
            failure: None,
            started: Instant::now(),
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

    /// What the fake server does with one request.
    #[derive(Clone, Copy)]
    enum Reply {
        /// A good reply with this round-trip delay (ms).
        Good(u64),
        Kiss(KissOfDeathCode),
        /// No reply at all.
        Silent,
    }

    /// What the fake resolver answers.
    #[derive(Clone, Copy)]
    enum Lookup {
        At(SocketAddr),
        Fails,
        Hangs,
    }

    /// A scripted network: replies and lookups are taken in order (a good reply / the first
    /// address once a script runs out), and every call is logged with its virtual time.
    struct Fake {
        start: Instant,
        replies: Mutex<VecDeque<Reply>>,
        lookups: Mutex<VecDeque<Lookup>>,
        exchanges: Mutex<Vec<(u128, SocketAddr)>>,
        resolutions: Mutex<Vec<u128>>,
    }

    const A: ([u8; 4], u16) = ([192, 0, 2, 1], 123);
    const B: ([u8; 4], u16) = ([192, 0, 2, 2], 123);

    impl Fake {
        fn new(replies: &[Reply], lookups: &[Lookup]) -> Arc<Self> {
            Arc::new(Fake {
                start: Instant::now(),
                replies: Mutex::new(replies.iter().copied().collect()),
                lookups: Mutex::new(lookups.iter().copied().collect()),
                exchanges: Mutex::new(Vec::new()),
                resolutions: Mutex::new(Vec::new()),
            })
        }

        fn ms(&self) -> u128 {
            self.start.elapsed().as_millis()
        }

        fn exchanges(&self) -> Vec<(u128, SocketAddr)> {
            self.exchanges.lock().unwrap().clone()
        }

        fn resolutions(&self) -> Vec<u128> {
            self.resolutions.lock().unwrap().clone()
        }
    }

    impl Network for Fake {
        async fn resolve(&self, _host: &str, _port: u16) -> std::io::Result<SocketAddr> {
            let lookup = {
                self.resolutions.lock().unwrap().push(self.ms());
                self.lookups.lock().unwrap().pop_front()
            };
            match lookup.unwrap_or(Lookup::At(A.into())) {
                Lookup::At(addr) => Ok(addr),
                Lookup::Fails => Err(std::io::Error::other("NXDOMAIN")),
                Lookup::Hangs => std::future::pending().await,
            }
        }

        async fn exchange(&self, addr: SocketAddr) -> Result<Sample, Failure> {
            let reply = {
                self.exchanges.lock().unwrap().push((self.ms(), addr));
                self.replies.lock().unwrap().pop_front()
            };
            match reply.unwrap_or(Reply::Good(10)) {
                Reply::Good(delay_ms) => Ok(Sample {
                    offset: delay_ms as f64 / 1000.0,
                    delay: delay_ms as f64 / 1000.0,
                    stratum: 2,
                    leap_indicator: 0,
                    root_delay: 0.0,
                    root_dispersion: 0.0,
                }),
                Reply::Kiss(code) => sample::classify(Err(sntpc::Error::KissOfDeath(code)), None),
                Reply::Silent => std::future::pending().await,
            }
        }
    }

    const SERVER: &str = "ntp.test";

    fn settings() -> NtpSettings {
        NtpSettings {
            servers: vec![ServerSpec {
                label: SERVER.to_owned(),
                host: SERVER.to_owned(),
                port: 123,
            }],
            interval: Duration::from_secs(64),
            timeout: Duration::from_secs(1),
            burst: 4,
            burst_spacing: Duration::from_secs(2),
            falseticker_floor: Duration::from_millis(1),
            max_backoff: 8,
        }
    }

    /// [`settings`] with these hosts as its servers (port 123, label = host).
    fn settings_for(hosts: &[&str]) -> NtpSettings {
        let mut settings = settings();
        settings.servers = hosts
            .iter()
            .map(|h| ServerSpec {
                label: h.to_string(),
                host: h.to_string(),
                port: 123,
            })
            .collect();
        settings
    }

    /// A stratum-1 sample with this offset, 1 ms delay and no root delay or dispersion.
    fn sample_at(offset: f64) -> Sample {
        Sample {
            offset,
            delay: 0.001,
            stratum: 1,
            leap_indicator: 0,
            root_delay: 0.0,
            root_dispersion: 0.0,
        }
    }

    /// Runs the sampler over `fake` for `secs` of virtual time, then stops it.
    async fn run_for(fake: &Arc<Fake>, secs: u64) -> Arc<Metrics> {
        let metrics = Arc::new(Metrics::new().unwrap());
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        spawn_with(
            &settings(),
            metrics.clone(),
            cancel.clone(),
            &tracker,
            fake.clone(),
        );
        tokio::time::sleep(Duration::from_secs(secs)).await;
        cancel.cancel();
        tracker.close();
        tracker.wait().await;
        metrics
    }

    fn queries(m: &Metrics, result: QueryResult) -> u64 {
        m.ntp
            .queries
            .with_label_values(&[SERVER, result.as_str()])
            .get()
    }

    fn at(ms: &[u128], addr: impl Into<SocketAddr>) -> Vec<(u128, SocketAddr)> {
        let addr = addr.into();
        ms.iter().map(|&t| (t, addr)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn bursts_every_interval_and_publish_the_lowest_delay_sample() {
        let fake = Fake::new(
            &[
                Reply::Good(30),
                Reply::Good(12),
                Reply::Good(20),
                Reply::Good(40),
            ],
            &[],
        );
        let m = run_for(&fake, 200).await;
        // A burst of 4, 2 s apart; the next round one interval after the burst ended.
        assert_eq!(
            fake.exchanges(),
            at(
                &[
                    0, 2000, 4000, 6000, 70_000, 72_000, 74_000, 76_000, 140_000, 142_000, 144_000,
                    146_000
                ],
                A
            )
        );
        assert_eq!(fake.resolutions(), [0, 70_000, 140_000]);
        assert_eq!(queries(&m, QueryResult::Ok), 12);
        assert_eq!(queries(&m, QueryResult::Timeout), 0);
        // Rounds 2 and 3 only had 10 ms samples; the first round's best was 12 ms.
        assert_eq!(m.ntp.delay.with_label_values(&[SERVER]).get(), 0.010);
        assert_eq!(m.ntp.stratum.with_label_values(&[SERVER]).get(), 2);
        assert_eq!(m.ntp.falseticker.with_label_values(&[SERVER]).get(), 0);
        assert_eq!(
            m.ntp.servers_agreeing.with_label_values::<&str>(&[]).get(),
            1
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_round_publishes_its_best_sample() {
        let fake = Fake::new(
            &[
                Reply::Good(30),
                Reply::Good(12),
                Reply::Good(20),
                Reply::Good(40),
            ],
            &[],
        );
        let m = run_for(&fake, 10).await;
        assert_eq!(fake.exchanges().len(), 4);
        assert_eq!(m.ntp.delay.with_label_values(&[SERVER]).get(), 0.012);
        assert_eq!(m.ntp.offset.with_label_values(&[SERVER]).get(), 0.012);
        assert_eq!(
            m.ntp.system_offset.with_label_values::<&str>(&[]).get(),
            0.012
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bounds_follow_the_published_sample_and_grow_with_its_age() {
        let fake = Fake::new(
            &[
                Reply::Good(30),
                Reply::Good(12),
                Reply::Good(20),
                Reply::Good(40),
            ],
            &[],
        );
        let m = run_for(&fake, 10).await;
        // The 12 ms sample: 6 ms + 3 µs, dated at the burst's start (0 s), read at 10 s.
        let want = 0.006 + sample::RESOLUTION + MAX_DRIFT * 10.0;
        let b = m.ntp.offset_bound.get(&[SERVER]).expect("a bound");
        assert!((b - want).abs() < 1e-12, "{b} != {want}");
        // One server: the system offset is its offset, and so is the bound.
        let sys = m.ntp.system_offset_bound.get(&[]).expect("a system bound");
        assert!((sys - want).abs() < 1e-12, "{sys} != {want}");
        // Nobody samples any more: both grow at 15 ppm, also in the rendered text.
        tokio::time::advance(Duration::from_secs(1000)).await;
        let later = m.ntp.offset_bound.get(&[SERVER]).expect("a bound");
        assert!((later - (want + 0.015)).abs() < 1e-12, "{later}");
        let text = m.render().unwrap();
        assert!(
            text.contains(&format!(
                "skew_ntp_offset_bound_seconds{{server=\"{SERVER}\"}} {later}\n"
            )),
            "{text}"
        );
        m.ntp.forget(SERVER);
        assert_eq!(m.ntp.offset_bound.get(&[SERVER]), None);
    }

    #[test]
    fn the_system_bound_is_absent_exactly_when_the_system_offset_is() {
        let settings = settings_for(&["a", "b"]);
        let m = Metrics::new().unwrap();
        let agreement = Agreement::new(&settings);
        let s = sample_at;
        let present = |m: &Metrics| {
            let text = m.render().unwrap();
            (
                text.contains("\nskew_ntp_system_offset_seconds "),
                text.contains("\nskew_ntp_system_offset_bound_seconds "),
            )
        };
        agreement.update(0, Some(s(0.0)), &m.ntp);
        assert_eq!(present(&m), (true, true));
        let b = m.ntp.system_offset_bound.get(&[]).unwrap();
        assert!(
            b >= 0.001 + sample::RESOLUTION,
            "never below the floor: {b}"
        );
        agreement.update(1, Some(s(5.0)), &m.ntp);
        assert_eq!(present(&m), (false, false));
        agreement.update(1, Some(s(0.0005)), &m.ntp);
        assert_eq!(present(&m), (true, true));
    }

    #[tokio::test(start_paused = true)]
    async fn kiss_of_death_ends_the_burst_and_backs_off() {
        let fake = Fake::new(
            &[
                Reply::Kiss(KissOfDeathCode::Rate),
                Reply::Kiss(KissOfDeathCode::Rate),
                Reply::Good(10),
                Reply::Good(10),
                Reply::Good(10),
                Reply::Good(10),
                Reply::Kiss(KissOfDeathCode::Deny),
            ],
            &[],
        );
        let m = run_for(&fake, 1000).await;
        // RATE: 2 intervals, RATE again: 4, a clean round: back to 1, DENY: the cap (8).
        assert_eq!(
            fake.exchanges(),
            at(
                &[
                    0, 128_000, 384_000, 386_000, 388_000, 390_000, 454_000, 966_000, 968_000,
                    970_000, 972_000
                ],
                A
            )
        );
        assert_eq!(queries(&m, QueryResult::KissOfDeath), 3);
        assert_eq!(queries(&m, QueryResult::Ok), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn other_kiss_codes_do_not_end_the_burst() {
        let fake = Fake::new(&[Reply::Kiss(KissOfDeathCode::Step)], &[]);
        let m = run_for(&fake, 100).await;
        assert_eq!(
            fake.exchanges(),
            at(&[0, 2000, 4000, 6000, 70_000, 72_000, 74_000, 76_000], A)
        );
        assert_eq!(queries(&m, QueryResult::KissOfDeath), 1);
        assert_eq!(queries(&m, QueryResult::Ok), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn every_round_resolves_afresh_and_times_out_silent_servers() {
        let fake = Fake::new(
            &[Reply::Silent],
            &[
                Lookup::At(A.into()),
                Lookup::Fails,
                Lookup::Hangs,
                Lookup::At(B.into()),
            ],
        );
        let m = run_for(&fake, 250).await;
        // Round 1 at A: the silent first exchange times out after 1 s, then the burst goes
        // on. Round 2 (71 s): the lookup fails, no exchange. Round 3 (135 s): the lookup hangs
        // for the 5 s DNS timeout. Round 4 (204 s): the server moved to B.
        let mut want = at(&[0, 3000, 5000, 7000], A);
        want.extend(at(&[204_000, 206_000, 208_000, 210_000], B));
        assert_eq!(fake.exchanges(), want);
        assert_eq!(fake.resolutions(), [0, 71_000, 135_000, 204_000]);
        assert_eq!(queries(&m, QueryResult::Timeout), 1);
        assert_eq!(queries(&m, QueryResult::DnsError), 2);
        assert_eq!(queries(&m, QueryResult::Ok), 7);
    }

    /// Every log line written while `f` runs on this thread (the paused-time tests run on a
    /// current-thread runtime, so the sampler's tasks log here too), without ANSI colours.
    async fn captured<F: Future>(f: F) -> (F::Output, Vec<String>) {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        let out = {
            let _guard = tracing::subscriber::set_default(subscriber);
            f.await
        };
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        (out, text.lines().map(str::to_owned).collect())
    }

    /// The lines at `level` (`WARN`, `INFO`) about the NTP servers' state.
    fn state_lines(lines: &[String], level: &str) -> Vec<String> {
        lines
            .iter()
            .filter(|l| {
                l.trim_start().starts_with(level)
                    && (l.contains("NTP server answers") || l.contains("NTP server fails"))
            })
            .cloned()
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn one_line_per_state_change_over_many_rounds() {
        // Rounds (64 s apart plus the burst): 3 failed lookups, 2 answering rounds, 3 silent
        // rounds (every exchange times out), then answers again.
        let mut replies = vec![Reply::Good(10); 8];
        replies.extend([Reply::Silent; 12]);
        let fake = Fake::new(&replies, &[Lookup::Fails, Lookup::Fails, Lookup::Fails]);
        let (m, lines) = captured(run_for(&fake, 700)).await;
        assert_eq!(queries(&m, QueryResult::DnsError), 3);
        assert_eq!(queries(&m, QueryResult::Timeout), 12);
        let warn = state_lines(&lines, "WARN");
        let info = state_lines(&lines, "INFO");
        assert_eq!(warn.len(), 2, "{lines:#?}");
        assert!(
            warn[0].contains("result=\"dns_error\"")
                && warn[0].contains("cannot resolve ntp.test: NXDOMAIN"),
            "{}",
            warn[0]
        );
        assert!(
            warn[1].contains("result=\"timeout\"") && warn[1].contains("no answer within 1s"),
            "{}",
            warn[1]
        );
        assert_eq!(info.len(), 2, "{lines:#?}");
        assert!(
            info[0].contains("NTP server answers server=\"ntp.test\" offset=0.01 delay=0.01"),
            "{}",
            info[0]
        );
        assert!(info[1].contains("NTP server answers again"), "{}", info[1]);
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("no NTP server has answered")),
            "never 5 intervals without an answer: {lines:#?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_outage_is_reported_once_and_its_end_too() {
        // 8 rounds without resolution (64 s apart), then answers.
        let fake = Fake::new(&[], &[Lookup::Fails; 8]);
        let (_, lines) = captured(run_for(&fake, 600)).await;
        let outage: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("no NTP server has answered for 5 intervals"))
            .collect();
        assert_eq!(outage.len(), 1, "{lines:#?}");
        assert!(outage[0].trim_start().starts_with("WARN"), "{}", outage[0]);
        assert!(
            outage[0].contains("UDP port 123") && outage[0].contains("--ntp.server"),
            "{}",
            outage[0]
        );
        let known: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("the clock offset is known"))
            .collect();
        assert_eq!(known.len(), 1, "{lines:#?}");
        assert_eq!(state_lines(&lines, "WARN").len(), 1, "{lines:#?}");
    }

    #[test]
    fn the_agreement_writes_final_values_and_drops_the_offset_without_majority() {
        let settings = settings_for(&["a", "b", "c"]);
        let m = Metrics::new().unwrap();
        let agreement = Agreement::new(&settings);
        let s = sample_at;
        let falsetickers =
            |m: &Metrics| ["a", "b", "c"].map(|l| m.ntp.falseticker.with_label_values(&[l]).get());
        agreement.update(0, Some(s(0.0)), &m.ntp);
        agreement.update(1, Some(s(5.0)), &m.ntp);
        // Two servers that disagree: no majority, nobody is called a falseticker.
        assert_eq!(falsetickers(&m), [0, 0, 0]);
        assert_eq!(
            m.ntp.servers_agreeing.with_label_values::<&str>(&[]).get(),
            0
        );
        assert!(!m
            .render()
            .unwrap()
            .contains("skew_ntp_system_offset_seconds "));
        agreement.update(2, Some(s(0.0002)), &m.ntp);
        assert_eq!(falsetickers(&m), [0, 1, 0]);
        assert_eq!(
            m.ntp.servers_agreeing.with_label_values::<&str>(&[]).get(),
            2
        );
        let offset = m.ntp.system_offset.with_label_values::<&str>(&[]).get();
        assert!((offset - 0.0001).abs() < 1e-9, "{offset}");
    }
}
