//! Wiring: bind every listener (main, and the separate events, verify and probe ones when configured),
//! spawn every task under one `CancellationToken` and one `TaskTracker`, serve until the
//! shutdown future completes, then wait for everything to stop.
//!
//! The shutdown trigger is a parameter (`ctrl_c`/SIGTERM in `main`, anything in tests), as in
//! mini-redis. In-flight requests finish before `run` returns, within `--web.shutdown-timeout`:
//! after that, `run` returns anyway (and `main` drops what is left with the runtime).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{parse_listen_address, Settings};
use crate::http::{router, AppState};
use crate::metrics::{Metrics, ReloadMetrics};
use crate::record::Recorder;
use crate::reload::{web_config, Generation, Reloader, Switch};
use crate::verify::http::VerifyState;
use crate::webconfig::LiveWebConfig;

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
    let listeners = Listeners::bind(&settings).await?;
    // What this configuration does, before any task can log. No line of it says `listening`
    // (scripts read the first such line for the main listener's address).
    crate::summary::log(&settings);
    let metrics = Arc::new(Metrics::with_age_buckets(
        settings.events.age_buckets.clone(),
    )?);
    let outcome = ReloadMetrics::register(&metrics)?;
    let recorder = Arc::new(Recorder::new(metrics.clone(), &settings.events.recorder));
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let tasks = Tasks::start(&settings, &metrics, &recorder, &cancel, &tracker)?;
    // Header and idle timeouts on every listener, and each listener's web config.
    let server = crate::server::Server::new(&settings.web, &metrics);
    let web = WebConfigs::new(&settings, &listeners);
    let Listeners {
        main,
        sides: side_listeners,
    } = listeners;

    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
    let app = router(AppState {
        metrics: metrics.clone(),
        telemetry_path: settings.web.telemetry_path.clone(),
    })
    .merge(crate::reload::lifecycle_routes(
        settings.web.enable_lifecycle.then_some(reload_tx),
    ));
    // SIGHUP is handled from here on; its default action would end the process.
    let hangup = crate::reload::hangup_signal();
    // The main listener is announced first: tests and scripts read the first address logged.
    log_listening("main", &main);
    let sides = Sides {
        server: &server,
        metrics: &metrics,
        tracker: &tracker,
        cancel: &cancel,
    };
    let app = sides.place_all(app, side_listeners, &tasks, &web);
    // The main listener: a few connections beyond the cap for scrapes.
    let shutdown_timeout = settings.web.shutdown_timeout;
    let scrape_paths = vec![settings.web.telemetry_path.clone(), "/healthz".to_owned()];
    let main_server = server
        .for_listener("main", web.main.clone(), &metrics)
        .with_scrape_reserve(scrape_paths);
    let reloader = Reloader {
        current: settings,
        metrics,
        recorder,
        outcome,
        web_main: web.main,
        web_events: web.events,
        web_verify: web.verify,
        ntp: tasks.ntp,
        probe: tasks.probe,
        tail: tasks.tail,
        verify: tasks.verify,
        events_switch: tasks.events_switch,
        verify_switch: tasks.verify_switch,
        probe_switch: tasks.probe_switch,
        probe_refused: tasks.probe_refused,
        web_probe: web.probe,
        cancel: cancel.clone(),
    };
    tracker.spawn(reloader.run(hangup, reload_rx));
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            shutdown.await;
            cancel.cancel();
        });
    }
    serve_until_stopped(main_server, main, app, &cancel, &tracker, shutdown_timeout).await;
    Ok(())
}

/// Every listener of a configuration: the main one, and the events, verify and probe ones
/// when they are set.
struct Listeners {
    main: TcpListener,
    sides: SideListeners,
}

/// The listeners besides the main one.
struct SideListeners {
    events: Option<TcpListener>,
    verify: Option<TcpListener>,
    probe: Option<TcpListener>,
}

impl Listeners {
    async fn bind(settings: &Settings) -> Result<Self, RunError> {
        Ok(Listeners {
            main: bind(&settings.web.listen_address).await?,
            sides: SideListeners {
                events: bind_side(settings.events.listen_address.as_deref()).await?,
                verify: bind_side(settings.verify.listen_address.as_deref()).await?,
                probe: bind_side(settings.jwt_probe.listen_address.as_deref()).await?,
            },
        })
    }
}

/// Each listener's live web configuration (`--web.config.file` and the per-listener ones);
/// a side without a listener has none.
struct WebConfigs {
    main: LiveWebConfig,
    events: Option<LiveWebConfig>,
    verify: Option<LiveWebConfig>,
    probe: Option<LiveWebConfig>,
}

impl WebConfigs {
    fn new(settings: &Settings, listeners: &Listeners) -> Self {
        let web = &settings.web;
        let side = |listener: &Option<TcpListener>, file| {
            listener
                .as_ref()
                .map(|_| LiveWebConfig::new(web_config(file)))
        };
        WebConfigs {
            main: LiveWebConfig::new(web_config(&web.config)),
            events: side(&listeners.sides.events, &web.events_config),
            verify: side(&listeners.sides.verify, &web.verify_config),
            probe: side(&listeners.sides.probe, &web.probe_config),
        }
    }
}

/// What runs besides the listeners: the NTP sampler, the HTTP Date probes, the tailer and
/// `/v1/verify` in generations a reload can replace; the switches a reload turns the events,
/// verify and probe routes with; and, for the life of the process, the host clock watcher and
/// the live page's snapshots.
struct Tasks {
    ntp: Generation,
    probe: Generation,
    tail: Generation,
    verify: Generation,
    verify_enabled: bool,
    events_switch: Switch,
    verify_switch: Switch<VerifyState>,
    probe_switch: Switch,
    probe_refused: prometheus::IntCounterVec,
}

impl Tasks {
    fn start(
        settings: &Settings,
        metrics: &Arc<Metrics>,
        recorder: &Arc<Recorder>,
        cancel: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<Self, RunError> {
        let ntp = Reloader::start_ntp(settings, metrics, cancel);
        let probe = Reloader::start_probe(settings, metrics, cancel);
        // The host's own clocks: kernel sync state, steps and suspends (Linux only).
        #[cfg(target_os = "linux")]
        tracker.spawn(crate::clock::watch::run(
            crate::clock::watch::ClockMetrics::register(metrics.registry())?,
            crate::clock::SystemClocks,
            cancel.clone(),
        ));
        // The live page's five-minute counts: one snapshot of the counters per slot.
        tracker.spawn(recent_snapshots(metrics.clone(), cancel.clone()));
        let tail = Reloader::start_tail(settings, recorder, cancel);
        let (verify, verify_state) = Reloader::start_verify(settings, recorder, cancel);
        let probe_refused = crate::probe::jwt_http::register(metrics)?;
        Ok(Tasks {
            ntp,
            probe,
            tail,
            verify,
            verify_enabled: verify_state.is_some(),
            events_switch: Switch::new(Some(Reloader::events_router(settings, recorder))),
            verify_switch: Switch::new(verify_state),
            probe_switch: Switch::new(crate::probe::jwt_http::router(
                &settings.jwt_probe,
                &probe_refused,
            )),
            probe_refused,
        })
    }
}

/// Serves the main listener until `cancel` fires, then waits for every tracked task, at most
/// `shutdown_timeout`. Each listener drops its connections at the shutdown timeout itself;
/// this bounds the rest (a task that does not stop) by the same deadline.
async fn serve_until_stopped(
    main_server: crate::server::Server,
    main: TcpListener,
    app: Router,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
    shutdown_timeout: std::time::Duration,
) {
    let everything = async {
        main_server.serve(main, app, cancel.clone()).await;
        cancel.cancel();
        tracker.close();
        tracker.wait().await;
    };
    let deadline = async {
        cancel.cancelled().await;
        tokio::time::sleep(shutdown_timeout).await;
    };
    tokio::select! {
        _ = everything => tracing::info!("stopped"),
        _ = deadline => tracing::warn!(
            tasks = tracker.len(),
            timeout = ?shutdown_timeout,
            "shutdown timeout reached: stopping with tasks still running"
        ),
    }
}

/// Binds a side listener (events, verify, probe) when its address is set.
async fn bind_side(address: Option<&str>) -> Result<Option<TcpListener>, RunError> {
    match address {
        Some(a) => Ok(Some(bind(a).await?)),
        None => Ok(None),
    }
}

/// What a side's routes need to be served on a listener of their own.
struct Sides<'a> {
    server: &'a crate::server::Server,
    metrics: &'a Arc<Metrics>,
    tracker: &'a TaskTracker,
    cancel: &'a CancellationToken,
}

impl Sides<'_> {
    /// The events, verify and probe routes, each on its own listener when it has one, else on
    /// the main one.
    fn place_all(
        &self,
        app: Router,
        listeners: SideListeners,
        tasks: &Tasks,
        web: &WebConfigs,
    ) -> Router {
        let events_routes = tasks.events_switch.routes(&["/v1/events"]);
        let mut app = self.place(
            app,
            "events",
            listeners.events,
            web.events.as_ref(),
            events_routes,
        );
        // /v1/verify: on its own listener when one is set, else on the main one. A verify
        // listener exists only with keys configured at start-up (configuration refuses one
        // without); on the main listener a reload can turn /v1/verify on or off.
        let verify_routes = crate::verify::http::routes(tasks.verify_switch.clone());
        match listeners.verify {
            Some(_) if !tasks.verify_enabled => {}
            verify => app = self.place(app, "verify", verify, web.verify.as_ref(), verify_routes),
        }
        // /probe: on its own listener when one is set (configuration requires modules for
        // it), else on the main one.
        let probe_routes = tasks.probe_switch.routes(&["/probe"]);
        self.place(
            app,
            "probe",
            listeners.probe,
            web.probe.as_ref(),
            probe_routes,
        )
    }

    /// Serves `routes` on `listener` (with its web config) when the side has one, under the
    /// tracker and the shared cancel token, and returns `main` as it was; without a listener
    /// the routes join `main`.
    fn place(
        &self,
        main: Router,
        role: &'static str,
        listener: Option<TcpListener>,
        web: Option<&LiveWebConfig>,
        routes: Router,
    ) -> Router {
        let (Some(listener), Some(web)) = (listener, web) else {
            return main.merge(routes);
        };
        log_listening(role, &listener);
        let server = self.server.for_listener(role, web.clone(), self.metrics);
        let cancel = self.cancel.clone();
        self.tracker
            .spawn(async move { server.serve(listener, routes, cancel).await });
        main
    }
}

fn log_listening(role: &str, listener: &TcpListener) {
    let local: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(role, address = %local.map(|a| a.to_string()).unwrap_or_default(), "listening");
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

/// Keeps the live page's ring of recent counts ([`crate::metrics::recent`]) one snapshot per
/// slot, whether or not anyone looks at the page.
async fn recent_snapshots(metrics: Arc<Metrics>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs_f64(
        crate::metrics::recent::SLOT,
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        metrics.recent.tick(crate::unix_now(), &metrics.gather());
    }
}
