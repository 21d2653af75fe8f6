//! The connection loop behind every listener: accept, serve each connection with hyper under
//! the limits a daemon beside production services needs, and stop gracefully.
//!
//! `axum::serve` has no knobs for timeouts (it never sets hyper's timer, so hyper's header
//! timeout is off), so the loop is ours. It owns the connection-level limits:
//! - a request head must arrive within `read_header_timeout`. hyper's header timer also runs
//!   while a kept-alive connection waits for its next request, so it closes idle connections
//!   and a client that trickles its headers (slowloris) alike;
//! - a connection on which no byte moves for `idle_timeout` while the server waits on the client
//!   outside a handler is closed ([`IdleIo`]): a client that stops reading its response cannot
//!   hold it. While a request is in flight (`InFlight`) reads do not count as waiting, so a
//!   slow handler is never cut off; a body that stops arriving is the route's business
//!   (`--events.read-timeout`);
//! - with TLS (`--web.config.file`, [`crate::webconfig`]) the handshake must finish within
//!   `read_header_timeout` too, and counts as a `header` timeout when it does not. A handshake
//!   the server refuses (a client certificate turned away, plain HTTP, no common version) is
//!   logged at warn, once a minute per reason (`HandshakeLog`); a client that just hangs up
//!   mid-handshake only at debug;
//! - an accept error (out of file descriptors) is logged and retried after a pause; an error in
//!   one connection is logged at debug and never reaches the accept loop;
//! - at most `max_connections` connections are served at once on each listener
//!   (`--web.max-connections`); one accepted beyond that is closed at once and counted in
//!   `skew_http_connections_refused_total{listener}`. The main listener keeps
//!   [`SCRAPE_RESERVE`] more connections for the telemetry path and `/healthz`, so that a flood
//!   of clients does not blind the exporter's own monitoring: a connection in the reserve is
//!   served one request, and any other path gets 503 (counted as refused too);
//! - on shutdown the listener closes, idle connections close at once, requests in flight get
//!   `shutdown_timeout` (`--web.shutdown-timeout`) to finish; connections still open then are
//!   dropped.
//!
//! Per-route limits live with their route: the body deadline and the concurrency cap of
//! `POST /v1/events` are in [`crate::ingest::http`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus::{IntCounter, IntCounterVec};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::WebSettings;
use crate::metrics::Metrics;
use crate::webconfig::LiveWebConfig;

/// How long to wait after an accept error that is not about one connection (EMFILE, ENFILE).
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// Connections the main listener serves beyond `--web.max-connections`, for the telemetry
/// path and `/healthz` only, one request each.
pub const SCRAPE_RESERVE: usize = 4;

/// The connection-level limits and the counter of connections they closed. Cheap to clone:
/// one per listener.
#[derive(Clone)]
pub struct Server {
    read_header_timeout: Duration,
    idle_timeout: Duration,
    /// Connections served at once; each listener counts its own.
    max_connections: usize,
    /// How long requests in flight may hold shutdown.
    shutdown_timeout: Duration,
    timed_out: IntCounterVec,
    /// This listener's name (`main`, `events`, `verify`), for logs and the refusal counter.
    listener: &'static str,
    /// `skew_http_connections_refused_total` of this listener.
    refused: IntCounter,
    /// The paths a connection in the scrape reserve may ask for; `None`: no reserve (the
    /// events and verify listeners).
    reserve_paths: Option<Arc<[String]>>,
    /// TLS, basic auth and headers of this listener (`--web.config.file`); every listener
    /// has one, empty by default, so that a reload can add TLS or authentication.
    web: LiveWebConfig,
}

/// What ended a connection's wait in [`Server::connection`].
enum Step<T> {
    Done(T),
    Shutdown,
}

/// What ended the accept loop's wait.
enum Accept {
    Stop,
    Next(io::Result<(TcpStream, std::net::SocketAddr)>),
}

/// Which connections a listener takes, and how.
enum Admit {
    /// Within `max_connections`: every route.
    Full(OwnedSemaphorePermit),
    /// In the main listener's scrape reserve: one request, for the reserve's paths.
    Reserve(OwnedSemaphorePermit),
    /// Closed at once, counted.
    Refuse,
}

/// The middleware of a connection in the scrape reserve: the telemetry path and `/healthz`
/// are served, with `Connection: close` so that the reserve slot is free again for the next
/// scrape; anything else is 503, counted as a refused connection.
async fn reserve_only(
    axum::extract::State((paths, refused)): axum::extract::State<(Arc<[String]>, IntCounter)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let mut response = if paths.iter().any(|p| p == req.uri().path()) {
        next.run(req).await
    } else {
        refused.inc();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "too many connections\n",
        )
            .into_response()
    };
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

impl Server {
    /// The limits of `web`, for the main listener, with no web config and no scrape reserve
    /// yet ([`Server::for_listener`], [`Server::with_scrape_reserve`]).
    pub fn new(web: &WebSettings, metrics: &Metrics) -> Self {
        Server {
            read_header_timeout: web.read_header_timeout,
            idle_timeout: web.idle_timeout,
            max_connections: web.max_connections,
            shutdown_timeout: web.shutdown_timeout,
            timed_out: metrics.http.connections_timed_out.clone(),
            listener: "main",
            refused: metrics
                .http
                .connections_refused
                .with_label_values(&["main"]),
            reserve_paths: None,
            web: LiveWebConfig::new(Arc::new(crate::webconfig::WebConfig::none())),
        }
    }

    /// The same limits for the listener named `listener` (the `listener` label of
    /// `skew_http_connections_refused_total`: `main`, `events`, `verify`, `probe`), with `web` as its
    /// web config and no scrape reserve.
    pub fn for_listener(
        &self,
        listener: &'static str,
        web: LiveWebConfig,
        metrics: &Metrics,
    ) -> Self {
        Server {
            web,
            listener,
            reserve_paths: None,
            refused: metrics
                .http
                .connections_refused
                .with_label_values(&[listener]),
            ..self.clone()
        }
    }

    /// Keeps [`SCRAPE_RESERVE`] connections beyond the cap for requests to `paths` (the main
    /// listener: the telemetry path and `/healthz`).
    pub fn with_scrape_reserve(self, paths: Vec<String>) -> Self {
        Server {
            reserve_paths: Some(paths.into()),
            ..self
        }
    }

    /// Takes a slot for a new connection: one of `slots`, else one of `reserve`, else none.
    fn admit(slots: &Arc<Semaphore>, reserve: Option<&Arc<Semaphore>>) -> Admit {
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return Admit::Full(permit);
        }
        match reserve.map(|r| r.clone().try_acquire_owned()) {
            Some(Ok(permit)) => Admit::Reserve(permit),
            _ => Admit::Refuse,
        }
    }

    /// Serves `app` on `listener` until `cancel` fires, then waits for every connection to end
    /// (in-flight requests finish; idle connections close at once), at most
    /// `shutdown_timeout`: connections still open then are dropped.
    pub async fn serve(&self, listener: TcpListener, app: Router, cancel: CancellationToken) {
        let (app, reserve_app) = self.routers(app);
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let reserve = reserve_app
            .as_ref()
            .map(|_| Arc::new(Semaphore::new(SCRAPE_RESERVE)));
        let connections = TaskTracker::new();
        // Fired when shutdown has waited `shutdown_timeout`: every connection ends at once.
        let abort = CancellationToken::new();
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => Accept::Stop,
                r = listener.accept() => Accept::Next(r),
            };
            match next {
                Accept::Stop => break,
                Accept::Next(Ok((stream, peer))) => {
                    let (permit, app) = match Self::admit(&slots, reserve.as_ref()) {
                        Admit::Full(permit) => (permit, app.clone()),
                        Admit::Reserve(permit) => match &reserve_app {
                            Some(r) => (permit, r.clone()),
                            None => (permit, app.clone()),
                        },
                        Admit::Refuse => {
                            self.refused.inc();
                            tracing::debug!(
                                listener = self.listener,
                                max = self.max_connections,
                                "connection refused: too many connections"
                            );
                            drop(stream);
                            continue;
                        }
                    };
                    let conn = self.clone().connection(stream, peer, app, cancel.clone());
                    let abort = abort.clone();
                    connections.spawn(async move {
                        let _permit = permit;
                        tokio::select! {
                            _ = conn => {}
                            _ = abort.cancelled() => {}
                        }
                    });
                }
                // The peer went away between SYN and accept: nothing to do.
                Accept::Next(Err(e)) if is_connection_error(&e) => {}
                Accept::Next(Err(e)) => {
                    tracing::error!(error = %e, "cannot accept a connection; retrying in 1s");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(ACCEPT_RETRY) => {}
                    }
                }
            }
        }
        drop(listener);
        self.drain(&connections, &abort).await;
    }

    /// `app` inside the web config, and the scrape reserve's router when the listener has one:
    /// the same routes behind a filter on the path, inside the web config too (authentication
    /// and headers apply first, as everywhere).
    fn routers(&self, app: Router) -> (Router, Option<Router>) {
        let enforce =
            axum::middleware::from_fn_with_state(self.web.clone(), crate::webconfig::enforce);
        let reserve_app = self.reserve_paths.clone().map(|paths| {
            app.clone()
                .layer(axum::middleware::from_fn_with_state(
                    (paths, self.refused.clone()),
                    reserve_only,
                ))
                .layer(enforce.clone())
        });
        (app.layer(enforce), reserve_app)
    }

    /// Waits for the open connections to end, at most `shutdown_timeout`; then fires `abort`,
    /// which ends the rest at once.
    async fn drain(&self, connections: &TaskTracker, abort: &CancellationToken) {
        connections.close();
        if tokio::time::timeout(self.shutdown_timeout, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                connections = connections.len(),
                timeout = ?self.shutdown_timeout,
                "shutdown timeout reached: dropping the connections still open"
            );
            abort.cancel();
            connections.wait().await;
        }
    }

    /// One connection: the TLS handshake when the listener has TLS (within the header
    /// timeout: a client that stalls it is cut off like a slow head), then HTTP/1.1.
    async fn connection(
        self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        app: Router,
        cancel: CancellationToken,
    ) {
        // Small responses (a verdict, a 202) go out at once, not after a delayed ACK.
        let _ = stream.set_nodelay(true);
        let busy = Arc::new(AtomicUsize::new(0));
        let io = IdleIo::new(stream, self.idle_timeout, busy.clone());
        // Certificates rotated on disk are picked up here, at most once a second; the files
        // are read on a blocking thread.
        self.web.refresh_on_blocking_thread().await;
        let tls = self.web.current().tls.clone();
        match tls {
            None => self.http(io, app, busy, cancel).await,
            Some(config) => {
                let accept = tokio_rustls::TlsAcceptor::from(config).accept(io);
                let handshake = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = tokio::time::timeout(self.read_header_timeout, accept) => r,
                };
                match handshake {
                    Ok(Ok(tls)) => self.http(tls, app, busy, cancel).await,
                    Ok(Err(e)) => handshake_failed(&e, peer),
                    Err(_) => {
                        self.timed_out.with_label_values(&["header"]).inc();
                        tracing::debug!("TLS handshake not finished within the header timeout");
                    }
                }
            }
        }
    }

    /// HTTP/1.1 with keep-alive on `io`, until the connection ends or shutdown has drained it.
    async fn http<I>(self, io: I, app: Router, busy: Arc<AtomicUsize>, cancel: CancellationToken)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(io);
        let service = InFlight {
            inner: TowerToHyperService::new(app),
            busy,
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.read_header_timeout);
        let conn = builder.serve_connection(io, service);
        let mut conn = std::pin::pin!(conn);
        let mut draining = false;
        let result = loop {
            let step = tokio::select! {
                r = conn.as_mut() => Step::Done(r),
                _ = cancel.cancelled(), if !draining => Step::Shutdown,
            };
            match step {
                Step::Done(r) => break r,
                Step::Shutdown => {
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        };
        let Err(e) = result else { return };
        match timeout_kind(&e) {
            Some(kind) => {
                self.timed_out.with_label_values(&[kind]).inc();
                tracing::debug!(timeout = kind, "connection closed: timeout");
            }
            None => tracing::debug!(error = %e, "connection ended with an error"),
        }
    }
}

/// Logs a failed TLS handshake: at warn when the server turned the client away, once a
/// minute per reason (with how many more there were), so that an operator sees why clients
/// fail without a flood; at debug when the client only went away.
fn handshake_failed(e: &io::Error, peer: std::net::SocketAddr) {
    let Some(reason) = handshake_failure_reason(e) else {
        tracing::debug!(error = %e, %peer, "TLS handshake ended: the client went away");
        return;
    };
    let admitted = match HANDSHAKE_LOG.lock() {
        Ok(mut log) => log.admit(&reason, Instant::now().into_std()),
        Err(p) => p.into_inner().admit(&reason, Instant::now().into_std()),
    };
    match admitted {
        Some(0) => tracing::warn!(error = %e, %peer, "TLS handshake refused"),
        Some(more) => tracing::warn!(
            error = %e,
            %peer,
            "TLS handshake refused ({more} more for the same reason since the last report, not logged)"
        ),
        None => tracing::debug!(error = %e, %peer, "TLS handshake refused"),
    }
}

/// The kind of a failed handshake, bounded: rustls's error as `Debug` with every `{ … }`
/// (times, algorithm ids, names: the variable part) left out, e.g.
/// `InvalidCertificate(UnknownIssuer)`, `InvalidCertificate(Other(OtherError(CaUsedAsEndEntity)))`,
/// `AlertReceived(UnknownCA)`, `InvalidMessage(InvalidContentType)`. `None` when the client
/// closed or reset the connection: nothing was refused.
fn handshake_failure_reason(e: &io::Error) -> Option<String> {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        let debug = format!("{tls:?}");
        let mut reason = String::with_capacity(debug.len());
        let mut depth = 0usize;
        for c in debug.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                _ if depth == 0 => reason.push(c),
                _ => {}
            }
        }
        let mut reason = reason.replace(" )", ")");
        reason.truncate(reason.trim_end().len().min(120));
        return Some(reason);
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => None,
        kind => Some(format!("io: {kind:?}")),
    }
}

/// Handshake failures logged in the last minute, by reason: one process-wide log, so that
/// the limit holds across listeners.
static HANDSHAKE_LOG: std::sync::LazyLock<std::sync::Mutex<HandshakeLog>> =
    std::sync::LazyLock::new(|| std::sync::Mutex::new(HandshakeLog::default()));

/// Once per reason per [`HandshakeLog::WINDOW`]: which failures to log.
#[derive(Debug, Default)]
struct HandshakeLog {
    /// Reason → when it was last logged, and how many were not logged since.
    seen: std::collections::HashMap<String, (std::time::Instant, u64)>,
}

impl HandshakeLog {
    const WINDOW: Duration = Duration::from_secs(60);
    /// Distinct reasons remembered at once. The reasons are few by construction; past this,
    /// a new reason is not logged at warn until old ones expire.
    const MAX_REASONS: usize = 64;

    /// `Some(n)` when a failure with `reason` is to be logged now, `n` being how many with
    /// the same reason were held back since it was last logged; `None` to hold it back.
    fn admit(&mut self, reason: &str, now: std::time::Instant) -> Option<u64> {
        if let Some((last, held)) = self.seen.get_mut(reason) {
            if now.duration_since(*last) < Self::WINDOW {
                *held += 1;
                return None;
            }
            let more = *held;
            *last = now;
            *held = 0;
            return Some(more);
        }
        if self.seen.len() >= Self::MAX_REASONS {
            self.seen
                .retain(|_, (last, _)| now.duration_since(*last) < Self::WINDOW);
            if self.seen.len() >= Self::MAX_REASONS {
                return None;
            }
        }
        self.seen.insert(reason.to_owned(), (now, 0));
        Some(0)
    }
}

/// `header` or `idle` when the connection was closed by one of our timeouts.
fn timeout_kind(e: &hyper::Error) -> Option<&'static str> {
    if e.is_timeout() {
        return Some("header");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            if io.get_ref().is_some_and(|inner| inner.is::<IdleTimeout>()) {
                return Some("idle");
            }
        }
        source = s.source();
    }
    None
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The error [`IdleIo`] fails with: no byte moved for the idle timeout.
#[derive(Debug)]
struct IdleTimeout;

impl std::fmt::Display for IdleTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no data moved on the connection for the idle timeout")
    }
}

impl std::error::Error for IdleTimeout {}

/// The hyper service of one connection: the router, counting the requests in flight (called,
/// response not yet produced) in `busy`, which the connection's [`IdleIo`] reads. One boxed
/// future per request.
struct InFlight<S> {
    inner: S,
    busy: Arc<AtomicUsize>,
}

/// Decrements the in-flight count when the request's future completes or is dropped.
struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for InFlight<S>
where
    S: hyper::service::Service<hyper::Request<Incoming>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        self.busy.fetch_add(1, Ordering::Relaxed);
        let guard = BusyGuard(self.busy.clone());
        let response = self.inner.call(req);
        Box::pin(async move {
            let _guard = guard;
            response.await
        })
    }
}

/// A TCP stream that fails with `TimedOut` (`IdleTimeout`) when it has waited while nothing
/// moved for `idle`: a write always (a response the client does not read), a read only while
/// no request is in flight (`busy` is 0). hyper keeps a read pending while a handler runs, to
/// notice a client that goes away; that wait is not idleness, so a handler that takes long is
/// never cut off.
///
/// The timer is reset lazily: a read or write that moves bytes only records the time; the sleep
/// is pushed back when it fires early.
pub struct IdleIo {
    io: TcpStream,
    idle: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    busy: Arc<AtomicUsize>,
}

impl IdleIo {
    pub fn new(io: TcpStream, idle: Duration, busy: Arc<AtomicUsize>) -> Self {
        let last = Instant::now();
        IdleIo {
            io,
            idle,
            last,
            timer: Box::pin(tokio::time::sleep_until(last + idle)),
            busy,
        }
    }

    /// Called when the stream would block: `Ready(Err)` once the idle time has run out.
    fn poll_idle<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last + self.idle;
            if Instant::now() >= deadline {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, IdleTimeout)));
            }
            self.timer.as_mut().reset(deadline);
        }
    }

    /// What a write (plain or vectored) returns: bytes moved reset the idle time, a write
    /// that would block waits on the idle timer.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Pending => self.poll_idle(cx),
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.last = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            ready => ready,
        }
    }
}

impl AsyncRead for IdleIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending if this.busy.load(Ordering::Relaxed) > 0 => Poll::Pending,
            Poll::Pending => this.poll_idle(cx),
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            ready => ready,
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.after_write(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.poll_idle(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_shutdown(cx) {
            Poll::Pending => this.poll_idle(cx),
            ready => ready,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), l.accept());
        (client.unwrap(), server.unwrap().0)
    }

    fn is_idle_timeout(e: &io::Error) -> bool {
        e.kind() == io::ErrorKind::TimedOut && e.get_ref().is_some_and(|i| i.is::<IdleTimeout>())
    }

    /// A read that waits with nothing arriving fails after the idle time, not before.
    #[tokio::test]
    async fn a_silent_peer_times_out() {
        let (_client, server) = pair().await;
        let mut io = IdleIo::new(server, Duration::from_millis(300), Arc::default());
        let start = std::time::Instant::now();
        let mut buf = [0u8; 16];
        let e = io.read(&mut buf).await.unwrap_err();
        assert!(is_idle_timeout(&e), "{e}");
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    /// Bytes that keep arriving keep the connection alive past the idle time; the clock starts
    /// again from the last byte.
    #[tokio::test]
    async fn progress_resets_the_idle_clock() {
        let (mut client, server) = pair().await;
        let mut io = IdleIo::new(server, Duration::from_millis(400), Arc::default());
        let start = std::time::Instant::now();
        let writer = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                client.write_all(b"x").await.unwrap();
            }
            client // kept open, silent
        });
        let mut buf = [0u8; 16];
        for _ in 0..5 {
            assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        }
        // Five bytes 200 ms apart outlived the 400 ms idle time; then silence ends it.
        assert!(start.elapsed() >= Duration::from_millis(1000));
        let silent = std::time::Instant::now();
        let e = io.read(&mut buf).await.unwrap_err();
        assert!(is_idle_timeout(&e), "{e}");
        assert!(
            silent.elapsed() >= Duration::from_millis(300),
            "{:?}",
            silent.elapsed()
        );
        drop(writer.await.unwrap());
    }

    /// While a request is in flight a pending read is not idleness; once it is done, it is.
    #[tokio::test]
    async fn reads_do_not_time_out_while_a_request_is_in_flight() {
        let (_client, server) = pair().await;
        let busy = Arc::new(AtomicUsize::new(1));
        let mut io = IdleIo::new(server, Duration::from_millis(200), busy.clone());
        let mut buf = [0u8; 16];
        let waited = tokio::time::timeout(Duration::from_millis(800), io.read(&mut buf)).await;
        assert!(waited.is_err(), "the read ended while busy: {waited:?}");
        busy.store(0, Ordering::Relaxed);
        let e = io.read(&mut buf).await.unwrap_err();
        assert!(is_idle_timeout(&e), "{e}");
    }

    /// A handler that takes longer than the idle time is not cut off: hyper does not wait on
    /// the stream while the handler runs, and the answer arrives whole. Graceful shutdown then
    /// ends the loop.
    #[tokio::test]
    async fn a_slow_handler_outlives_the_idle_timeout() {
        use axum::routing::get;
        let metrics = Metrics::new().unwrap();
        let server = Server {
            read_header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_millis(300),
            max_connections: 8,
            shutdown_timeout: Duration::from_secs(10),
            timed_out: metrics.http.connections_timed_out.clone(),
            listener: "main",
            refused: metrics
                .http
                .connections_refused
                .with_label_values(&["main"]),
            reserve_paths: None,
            web: LiveWebConfig::new(Arc::new(crate::webconfig::WebConfig::none())),
        };
        let app = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1200)).await;
                "done"
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let serving = tokio::spawn({
            let cancel = cancel.clone();
            async move { server.serve(listener, app, cancel).await }
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while !answer.ends_with(b"done") {
            let n = c.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed early: {:?}",
                String::from_utf8_lossy(&answer)
            );
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200 "));
        assert_eq!(
            metrics
                .http
                .connections_timed_out
                .with_label_values(&["idle"])
                .get(),
            0
        );
        cancel.cancel();
        serving.await.unwrap();
    }

    /// Once per reason per minute; what was held back is counted in the next one logged.
    #[test]
    fn handshake_failures_are_logged_once_a_minute_per_reason() {
        let t0 = std::time::Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut log = HandshakeLog::default();
        assert_eq!(log.admit("a", at(0)), Some(0));
        assert_eq!(log.admit("a", at(1)), None);
        assert_eq!(log.admit("a", at(59)), None);
        assert_eq!(
            log.admit("b", at(59)),
            Some(0),
            "another reason is logged at once"
        );
        assert_eq!(
            log.admit("a", at(60)),
            Some(2),
            "the two held back are counted"
        );
        assert_eq!(log.admit("a", at(61)), None);
        assert_eq!(log.admit("a", at(200)), Some(1));
        assert_eq!(log.admit("b", at(200)), Some(0));
        // A flood of distinct reasons is bounded: past the limit, new reasons wait until old
        // ones have expired.
        let mut log = HandshakeLog::default();
        for i in 0..HandshakeLog::MAX_REASONS {
            assert_eq!(log.admit(&format!("r{i}"), at(0)), Some(0));
        }
        assert_eq!(log.admit("one too many", at(1)), None);
        assert_eq!(log.seen.len(), HandshakeLog::MAX_REASONS);
        assert_eq!(log.admit("one too many", at(61)), Some(0));
        assert_eq!(log.seen.len(), 1);
    }

    /// The reason leaves out what varies (times, names) so that the limit per reason holds;
    /// a client that hangs up is not a refusal.
    #[test]
    fn a_handshake_failure_reason_is_bounded() {
        use rustls::pki_types::UnixTime;
        let tls = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        let expired = |secs: u64| {
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ExpiredContext {
                    time: UnixTime::since_unix_epoch(Duration::from_secs(secs)),
                    not_after: UnixTime::since_unix_epoch(Duration::from_secs(1)),
                },
            ))
        };
        assert_eq!(
            handshake_failure_reason(&expired(1000)).as_deref(),
            Some("InvalidCertificate(ExpiredContext)")
        );
        assert_eq!(
            handshake_failure_reason(&expired(1000)),
            handshake_failure_reason(&expired(2000))
        );
        assert_eq!(
            handshake_failure_reason(&tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )))
            .as_deref(),
            Some("InvalidCertificate(UnknownIssuer)")
        );
        assert_eq!(
            handshake_failure_reason(&tls(rustls::Error::NoCertificatesPresented)).as_deref(),
            Some("NoCertificatesPresented")
        );
        for kind in [io::ErrorKind::UnexpectedEof, io::ErrorKind::ConnectionReset] {
            assert_eq!(handshake_failure_reason(&io::Error::from(kind)), None);
        }
    }

    /// A write to a peer that never reads fails once the buffers are full and the idle time
    /// has passed.
    #[tokio::test]
    async fn a_peer_that_does_not_read_times_out() {
        let (_client, server) = pair().await;
        let mut io = IdleIo::new(server, Duration::from_millis(300), Arc::default());
        let chunk = vec![0u8; 1 << 16];
        let start = std::time::Instant::now();
        let e = loop {
            match io.write(&chunk).await {
                Ok(_) => assert!(start.elapsed() < Duration::from_secs(30), "never blocked"),
                Err(e) => break e,
            }
        };
        assert!(is_idle_timeout(&e), "{e}");
    }
}
