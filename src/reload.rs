//! Live reconfiguration: SIGHUP, or `POST /-/reload` with `--web.enable-lifecycle` (the
//! names and behaviour of Prometheus), re-reads the configuration file under the same
//! command-line flags and applies what can change without dropping anything:
//!
//! - the web config of every listener (TLS, basic auth, headers);
//! - the NTP servers and sampling settings (the sampler restarts; series of servers no longer
//!   configured are removed, so no alert keeps judging a server nobody samples);
//! - the HTTP `Date` probe targets (the probes restart; series of targets no longer configured
//!   are removed);
//! - the followed files (the tailer stops, writes its checkpoint, and restarts from it: no line
//!   is lost or read twice; series of patterns no longer configured are removed);
//! - `/v1/events` (shared secret, limits) and `/v1/verify` (keys, policy, headers);
//! - the `source`/`issuer` allow-lists and limits, for events from then on (values that already
//!   have series keep them).
//!
//! Counters and histograms are never reset. What needs a restart (listen addresses, the
//! telemetry path, timeouts, age buckets, the lead window, logging) is logged as such and
//! otherwise ignored; the reload still counts as successful. A file that does not load
//! changes nothing: the old configuration keeps running, the error is logged (and returned to
//! `POST /-/reload`), and `skew_config_last_reload_successful` drops to 0.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Settings, WebConfigSource};
use crate::metrics::{Metrics, ReloadMetrics};
use crate::record::Recorder;
pub use crate::switch::Switch;
use crate::verify::http::VerifyState;
use crate::webconfig::{LiveWebConfig, WebConfig};

/// Tasks started together and stopped together when their settings change.
pub struct Generation {
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
}

impl Generation {
    pub fn new(parent: &CancellationToken) -> Self {
        Generation {
            cancel: parent.child_token(),
            tracker: TaskTracker::new(),
        }
    }

    /// Cancels the tasks and waits until every one has ended (the tailer has written its
    /// checkpoint).
    pub async fn stop(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// What `POST /-/reload` sends the reloader: a place for the outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// `POST /-/reload`: 200 when the configuration was reloaded, 500 with the reason when not,
/// 403 when `--web.enable-lifecycle` is off (Prometheus's answers).
pub fn lifecycle_routes(requests: Option<mpsc::Sender<ReloadRequest>>) -> Router {
    Router::new()
        .route("/-/reload", axum::routing::post(reload_endpoint))
        .with_state(requests)
}

async fn reload_endpoint(State(requests): State<Option<mpsc::Sender<ReloadRequest>>>) -> Response {
    let Some(requests) = requests else {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n").into_response();
    };
    let (tx, rx) = oneshot::channel();
    if requests.send(tx).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match rx.await {
        Ok(Ok(())) => (StatusCode::OK, "configuration reloaded\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

/// The web config a listener runs with, or none.
pub fn web_config(source: &Option<WebConfigSource>) -> Arc<WebConfig> {
    match source {
        Some(s) => s.config.clone(),
        None => Arc::new(WebConfig::none()),
    }
}

/// Everything a reload touches. Owned by the one reloader task.
pub struct Reloader {
    pub current: Settings,
    pub metrics: Arc<Metrics>,
    pub recorder: Arc<Recorder>,
    pub outcome: ReloadMetrics,
    pub web_main: LiveWebConfig,
    pub web_events: Option<LiveWebConfig>,
    pub web_verify: Option<LiveWebConfig>,
    pub ntp: Generation,
    pub probe: Generation,
    pub tail: Generation,
    pub verify: Generation,
    pub events_switch: Switch,
    pub verify_switch: Switch<VerifyState>,
    /// `/probe` (its modules are swapped by a reload; its listener stays) and its web config.
    pub probe_switch: Switch,
    pub probe_refused: prometheus::IntCounterVec,
    pub web_probe: Option<LiveWebConfig>,
    /// Parent of every generation: the daemon's shutdown.
    pub cancel: CancellationToken,
}

impl Reloader {
    /// Starts the NTP sampler, the tailer and `/v1/verify` for `settings`, in generations a
    /// reload can replace.
    pub fn start_ntp(
        settings: &Settings,
        metrics: &Arc<Metrics>,
        cancel: &CancellationToken,
    ) -> Generation {
        let g = Generation::new(cancel);
        crate::ntp::sampler::spawn(&settings.ntp, metrics.clone(), g.cancel.clone(), &g.tracker);
        g
    }

    pub fn start_probe(
        settings: &Settings,
        metrics: &Arc<Metrics>,
        cancel: &CancellationToken,
    ) -> Generation {
        let g = Generation::new(cancel);
        crate::probe::prober::spawn(
            &settings.probe,
            metrics.clone(),
            g.cancel.clone(),
            &g.tracker,
        );
        g
    }

    pub fn start_tail(
        settings: &Settings,
        recorder: &Arc<Recorder>,
        cancel: &CancellationToken,
    ) -> Generation {
        let g = Generation::new(cancel);
        crate::ingest::tail::spawn(
            settings.events.tail.clone(),
            recorder.clone(),
            g.cancel.clone(),
            &g.tracker,
        );
        g
    }

    pub fn start_verify(
        settings: &Settings,
        recorder: &Arc<Recorder>,
        cancel: &CancellationToken,
    ) -> (Generation, Option<VerifyState>) {
        let g = Generation::new(cancel);
        let state = crate::verify::http::start(
            &settings.verify,
            recorder.clone(),
            g.cancel.clone(),
            &g.tracker,
        );
        (g, state)
    }

    pub fn events_router(settings: &Settings, recorder: &Arc<Recorder>) -> Router {
        crate::ingest::http::router(crate::ingest::http::EventsState::new(
            recorder.clone(),
            &settings.events,
        ))
    }

    /// Reloads on SIGHUP and on each request until shutdown, then stops its generations.
    pub async fn run(mut self, mut hangup: Hangup, mut requests: mpsc::Receiver<ReloadRequest>) {
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                Some(()) = hangup.recv() => {
                    tracing::info!("SIGHUP received, reloading the configuration");
                    let _ = self.reload().await;
                }
                Some(reply) = requests.recv() => {
                    tracing::info!("reload requested over HTTP");
                    let outcome = self.reload().await;
                    let _ = reply.send(outcome);
                }
            }
        }
        self.ntp.stop().await;
        self.probe.stop().await;
        self.tail.stop().await;
        self.verify.stop().await;
    }

    /// Reads the configuration again, off the runtime's threads (it reads files: keys,
    /// certificates, the TOML file). On failure the outcome gauge says so and the error is logged.
    async fn load(&self) -> Result<Settings, String> {
        let flags = self.current.flags.clone();
        let error = match tokio::task::spawn_blocking(move || Settings::load(&flags)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        self.outcome.successful.set(0);
        tracing::error!(%error, "reload failed; the previous configuration keeps running");
        Err(error)
    }

    /// A new NTP sampler when the NTP settings changed; the series of servers no longer listed go.
    async fn restart_ntp(&mut self, new: &Settings) {
        if new.ntp == self.current.ntp {
            return;
        }
        let old = std::mem::replace(&mut self.ntp, Generation::new(&self.cancel));
        old.stop().await;
        for gone in self
            .current
            .ntp
            .servers
            .iter()
            .filter(|s| !new.ntp.servers.iter().any(|n| n.label == s.label))
        {
            self.metrics.ntp.forget(&gone.label);
        }
        self.ntp = Self::start_ntp(new, &self.metrics, &self.cancel);
        tracing::info!(servers = new.ntp.servers.len(), "NTP sampler restarted");
    }

    /// New HTTP Date probes when their settings changed; a gone target's series go, and a kept target's old issuer link.
    async fn restart_probe(&mut self, new: &Settings) {
        if new.probe == self.current.probe {
            return;
        }
        let old = std::mem::replace(&mut self.probe, Generation::new(&self.cancel));
        old.stop().await;
        for gone in &self.current.probe.http_date {
            match new.probe.http_date.iter().find(|n| n.name == gone.name) {
                None => crate::probe::prober::forget_target(&self.metrics.http_date, gone),
                Some(kept) if kept.issuer != gone.issuer => {
                    if let Some(i) = &gone.issuer {
                        let _ = self
                            .metrics
                            .http_date
                            .target_info
                            .remove_label_values(&[&gone.name, i]);
                    }
                }
                Some(_) => {}
            }
        }
        self.probe = Self::start_probe(new, &self.metrics, &self.cancel);
        tracing::info!(
            targets = new.probe.http_date.len(),
            "HTTP Date probes restarted"
        );
    }

    /// A new tailer when the followed files changed; the series of patterns no longer listed go.
    async fn restart_tail(&mut self, new: &Settings) {
        if new.events.tail == self.current.events.tail {
            return;
        }
        let old = std::mem::replace(&mut self.tail, Generation::new(&self.cancel));
        old.stop().await;
        let kept = new.events.tail.labels();
        for gone in self
            .current
            .events
            .tail
            .labels()
            .into_iter()
            .filter(|p| !kept.contains(p))
        {
            self.metrics.tail.forget(gone);
        }
        self.tail = Self::start_tail(new, &self.recorder, &self.cancel);
        tracing::info!(
            patterns = new.events.tail.patterns.len() + new.events.tail.follow.len(),
            "file tailing restarted"
        );
    }

    /// One reload. `Err` carries the reason the new configuration was refused.
    pub async fn reload(&mut self) -> Result<(), String> {
        let new = self.load().await?;
        for setting in needs_restart(&self.current, &new) {
            tracing::warn!(setting, "changed, but takes effect only after a restart");
        }

        self.web_main.replace(web_config(&new.web.config));
        if let Some(w) = &self.web_events {
            w.replace(web_config(&new.web.events_config));
        }
        if let Some(w) = &self.web_verify {
            w.replace(web_config(&new.web.verify_config));
        }
        if let Some(w) = &self.web_probe {
            w.replace(web_config(&new.web.probe_config));
        }
        self.probe_switch.replace(crate::probe::jwt_http::router(
            &new.jwt_probe,
            &self.probe_refused,
        ));

        self.restart_ntp(&new).await;
        self.restart_probe(&new).await;
        self.restart_tail(&new).await;

        self.events_switch
            .replace(Some(Self::events_router(&new, &self.recorder)));

        let old = std::mem::replace(&mut self.verify, Generation::new(&self.cancel));
        old.stop().await;
        let (verify, state) = Self::start_verify(&new, &self.recorder, &self.cancel);
        self.verify = verify;
        self.verify_switch.replace(state);

        if new.events.recorder != self.current.events.recorder {
            self.recorder.reconfigure(&new.events.recorder);
        }

        self.current = new;
        self.outcome.successful.set(1);
        self.outcome.success_timestamp.set(crate::unix_now());
        tracing::info!("configuration reloaded");
        Ok(())
    }
}

/// The settings that differ between `old` and `new` and are only read at start-up.
fn needs_restart(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name, changed: bool| {
        if changed {
            out.push(name);
        }
    };
    check(
        "web.listen-address",
        old.web.listen_address != new.web.listen_address,
    );
    check(
        "probe.listen-address",
        old.jwt_probe.listen_address != new.jwt_probe.listen_address,
    );
    check(
        "web.telemetry-path",
        old.web.telemetry_path != new.web.telemetry_path,
    );
    check(
        "web.read-header-timeout",
        old.web.read_header_timeout != new.web.read_header_timeout,
    );
    check(
        "web.idle-timeout",
        old.web.idle_timeout != new.web.idle_timeout,
    );
    check(
        "web.max-connections",
        old.web.max_connections != new.web.max_connections,
    );
    check(
        "web.shutdown-timeout",
        old.web.shutdown_timeout != new.web.shutdown_timeout,
    );
    check(
        "web.enable-lifecycle",
        old.web.enable_lifecycle != new.web.enable_lifecycle,
    );
    check(
        "events.listen-address",
        old.events.listen_address != new.events.listen_address,
    );
    check(
        "verify.listen-address",
        old.verify.listen_address != new.verify.listen_address,
    );
    check(
        "events.age-buckets",
        old.events.age_buckets != new.events.age_buckets,
    );
    check(
        "events.lead-window",
        old.events.recorder.lead_window != new.events.recorder.lead_window,
    );
    check("log.level", old.log.level != new.log.level);
    check("log.format", old.log.format != new.log.format);
    out
}

/// Completes once per SIGHUP; never where signals do not exist.
pub struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    async fn recv(&mut self) -> Option<()> {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal {
            return s.recv().await;
        }
        std::future::pending().await
    }
}

/// Installs the SIGHUP handler. Call it before announcing the listeners: until then SIGHUP's
/// default action would end the process.
pub fn hangup_signal() -> Hangup {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Hangup { signal: Some(s) },
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP; reload with POST /-/reload");
                Hangup { signal: None }
            }
        }
    }
    #[cfg(not(unix))]
    Hangup {}
}
