//! Wiring: bind the listener, spawn every task under one `CancellationToken` and one
//! `TaskTracker`, serve until the shutdown future completes, then wait for everything to stop.
//!
//! The shutdown trigger is a parameter (`ctrl_c`/SIGTERM in `main`, anything in tests), as in
//! mini-redis. In-flight requests finish before `run` returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{parse_listen_address, Settings};
use crate::http::{router, AppState};
use crate::ingest::http::EventsState;
use crate::metrics::Metrics;
use crate::record::Recorder;

/// Why the daemon could not run. `exit_code` maps it onto the process exit status.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

impl RunError {
    /// 2 for what the user must fix (configuration, a port in use), 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Bind { .. } => 2,
            _ => 1,
        }
    }
}

/// Binds `address` as written in the configuration. `:PORT` is tried dual-stack first, then
/// IPv4 only for hosts without IPv6.
pub async fn bind(address: &str) -> Result<TcpListener, RunError> {
    let spec = parse_listen_address(address).map_err(|m| RunError::Bind {
        address: address.into(),
        source: std::io::Error::other(m),
    })?;
    let bind_err = |source| RunError::Bind {
        address: address.into(),
        source,
    };
    match TcpListener::bind(&spec).await {
        Ok(l) => Ok(l),
        Err(e) if spec.starts_with("[::]:") && e.kind() != std::io::ErrorKind::AddrInUse => {
            let v4 = spec.replacen("[::]", "0.0.0.0", 1);
            TcpListener::bind(&v4).await.map_err(bind_err)
        }
        Err(e) => Err(bind_err(e)),
    }
}

/// Runs the exporter until `shutdown` completes. Every listener is bound before any task
/// starts, so a port in use is reported (exit code 2) before anything else happens.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let main = bind(&settings.web.listen_address).await?;
    let events = match &settings.events.listen_address {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let verify = match &settings.verify.listen_address {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let metrics = Arc::new(Metrics::with_age_buckets(
        settings.events.age_buckets.clone(),
    )?);
    let recorder = Arc::new(Recorder::new(metrics.clone(), &settings.events.recorder));
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();

    crate::ntp::sampler::spawn(&settings.ntp, metrics.clone(), cancel.clone(), &tracker);
    crate::ingest::tail::spawn(
        settings.events.tail.clone(),
        recorder.clone(),
        cancel.clone(),
        &tracker,
    );

    let events_router =
        crate::ingest::http::router(EventsState::new(recorder.clone(), &settings.events));
    // Header and idle timeouts on every listener.
    let server = crate::server::Server::new(&settings.web, &metrics);
    let mut app = router(AppState {
        metrics: metrics.clone(),
        telemetry_path: settings.web.telemetry_path.clone(),
    });
    // The main listener is announced first: tests and scripts read the first address logged.
    log_listening("main", &main);
    match events {
        None => app = app.merge(events_router),
        Some(listener) => {
            log_listening("events", &listener);
            tracker.spawn(serve(
                listener,
                events_router,
                server.clone(),
                cancel.clone(),
            ));
        }
    }
    // /v1/verify: on its own listener when one is set, else on the main one.
    let verify_router =
        crate::verify::http::start(&settings.verify, recorder.clone(), cancel.clone(), &tracker);
    match (verify_router, verify) {
        (Some(r), None) => app = app.merge(r),
        (Some(r), Some(listener)) => {
            log_listening("verify", &listener);
            tracker.spawn(serve(listener, r, server.clone(), cancel.clone()));
        }
        // Configuration refuses a verify listener without keys.
        (None, _) => {}
    }
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            shutdown.await;
            cancel.cancel();
        });
    }
    let served = serve(main, app, server, cancel.clone()).await;
    cancel.cancel();
    tracker.close();
    tracker.wait().await;
    tracing::info!("stopped");
    served
}

fn log_listening(role: &str, listener: &TcpListener) {
    let local: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(role, address = %local.map(|a| a.to_string()).unwrap_or_default(), "listening");
}

/// Serves `app` until `cancel` fires; in-flight requests finish first. Accept errors are
/// retried inside (as `axum::serve` did), so this never fails today; the `Result` keeps the
/// callers' shape.
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    server: crate::server::Server,
    cancel: CancellationToken,
) -> Result<(), RunError> {
    server.serve(listener, app, cancel).await;
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
}
