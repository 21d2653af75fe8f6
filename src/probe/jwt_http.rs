//! `GET /probe?module=NAME&target=URL`, in blackbox_exporter's style: every scrape runs one
//! probe and answers its own small exposition (`skew_probe_*`), while the exporter's own
//! `/metrics` counts only the refusals (`skew_probe_refused_total{reason}`).
//!
//! The allow-list check comes before anything else touches the target: a refused target gets a
//! 400 and no token is minted, no connection opened. The time budget is the scrape timeout
//! Prometheus sends (`X-Prometheus-Scrape-Timeout-Seconds`) less half a second, as
//! blackbox_exporter's `timeout_offset`, and never more than the module's `timeout`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::{IntCounterVec, Opts};

use super::jwt_config::{JwtModule, JwtProbeSettings};
use crate::metrics::Metrics;

/// The `reason` label of `skew_probe_refused_total`.
pub const REFUSALS: [&str; 3] = ["unknown_module", "target_not_allowed", "bad_request"];

/// Kept out of the budget for the answer itself (blackbox_exporter's default `timeout_offset`).
const TIMEOUT_OFFSET: f64 = 0.5;

#[derive(Clone)]
pub struct ProbeState {
    pub modules: Arc<std::collections::BTreeMap<String, Arc<JwtModule>>>,
    pub refused: IntCounterVec,
}

/// Registers `skew_probe_refused_total` (every reason at 0).
pub fn register(metrics: &Metrics) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(
        Opts::new(
            "skew_probe_refused_total",
            "/probe requests refused before any token was minted: unknown_module, \
             target_not_allowed (not in the module's targets, or a look-alike), bad_request.",
        ),
        &["reason"],
    )?;
    metrics.registry().register(Box::new(c.clone()))?;
    for r in REFUSALS {
        c.with_label_values(&[r]);
    }
    Ok(c)
}

/// The `/probe` router, or `None` when no module is configured.
pub fn router(settings: &JwtProbeSettings, refused: &IntCounterVec) -> Option<Router> {
    settings.enabled().then(|| {
        Router::new()
            .route("/probe", get(probe))
            .with_state(ProbeState {
                modules: Arc::new(settings.modules.clone()),
                refused: refused.clone(),
            })
    })
}

/// The probe's time budget: the scrape timeout less the offset, capped by the module's.
pub fn budget(headers: &HeaderMap, module: Duration) -> Duration {
    let scrape = headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64((s - TIMEOUT_OFFSET).max(0.1)));
    scrape.map_or(module, |s| s.min(module))
}

fn refuse(state: &ProbeState, reason: &'static str, text: String) -> Response {
    state.refused.with_label_values(&[reason]).inc();
    (StatusCode::BAD_REQUEST, format!("{text}\n")).into_response()
}

async fn probe(
    State(state): State<ProbeState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (Some(name), Some(target)) = (query.get("module"), query.get("target")) else {
        return refuse(
            &state,
            "bad_request",
            "both module and target are required: /probe?module=NAME&target=URL".into(),
        );
    };
    let Some(module) = state.modules.get(name) else {
        return refuse(&state, "unknown_module", "unknown module".into());
    };
    let url = match module.allow(target) {
        Ok(u) => u,
        Err(refusal) => {
            tracing::warn!(module = %module.name, reason = %refusal, "/probe target refused");
            return refuse(&state, "target_not_allowed", refusal.to_string());
        }
    };
    let result = super::jwt::run(module, url, budget(&headers, module.timeout)).await;
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        result.to_prometheus(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_follows_the_scrape_timeout() {
        let mut h = HeaderMap::new();
        assert_eq!(budget(&h, Duration::from_secs(10)), Duration::from_secs(10));
        h.insert("x-prometheus-scrape-timeout-seconds", "4".parse().unwrap());
        assert_eq!(
            budget(&h, Duration::from_secs(10)),
            Duration::from_millis(3500)
        );
        assert_eq!(budget(&h, Duration::from_secs(2)), Duration::from_secs(2));
        h.insert(
            "x-prometheus-scrape-timeout-seconds",
            "nan".parse().unwrap(),
        );
        assert_eq!(budget(&h, Duration::from_secs(10)), Duration::from_secs(10));
    }
}
