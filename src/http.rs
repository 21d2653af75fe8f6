//! The main listener's own routes: `router(state)` builds them apart from the connection loop
//! ([`crate::server`]), so tests can drive them with `tower::ServiceExt::oneshot` and no socket.
//!
//! Routes: the telemetry path (default `/metrics`), `/healthz`, and `/`, a small landing page
//! linking to the metrics, as Prometheus exporters have. The other routes are built with what
//! they serve and merged in by [`crate::app`]: `POST /v1/events` ([`crate::ingest::http`]),
//! `/v1/verify` ([`crate::verify::http`]) and `POST /-/reload` ([`crate::reload`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;

/// What every handler may read.
#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<Metrics>,
    pub telemetry_path: String,
}

/// Every route of the main listener.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(&state.telemetry_path, get(metrics))
        .route("/healthz", get(healthz))
        .route("/", get(landing))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(body) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics\n").into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn landing(State(state): State<AppState>) -> Html<String> {
    let path = html_escape(&state.telemetry_path);
    Html(format!(
        "<!DOCTYPE html>\n<html><head><title>skew-exporter</title></head><body>\n\
         <h1>skew-exporter</h1>\n\
         <p>Clock skew between JWT issuers and verifiers: NTP offsets and token-age metrics.</p>\n\
         <p><a href=\"{path}\">Metrics</a> · <a href=\"/healthz\">Health</a></p>\n\
         <p>Version {}, revision {}.</p>\n</body></html>\n",
        env!("CARGO_PKG_VERSION"),
        crate::REVISION
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
