//! `POST /v1/events`: verifiers push events as one JSON object, a JSON array, or NDJSON.
//!
//! Answers 202 with the [`Report`] when at least one event was recorded, 400 when nothing in
//! the body was valid (or it was empty), 401 when a shared secret is configured and the request
//! does not carry it, 413 over `--events.max-body`, 415 for other content types, 503 with
//! `Retry-After` when `--events.max-concurrent` requests are already in progress, 408 when the
//! body has not arrived within `--events.read-timeout`. Checks run in that order of cost: the
//! secret, the content type and a free slot before the body is read. Each refusal is a
//! [`Refusal`] (its status, reason and message are written there), counted in
//! `skew_events_requests_refused_total{reason}`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use prometheus::IntCounterVec;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::refusal::{error, Refusal};
use super::{Ingest, Report};
use crate::config::EventsSettings;
use crate::event::{InvalidEvent, InvalidKind};
use crate::metrics::Transport;
use crate::record::Recorder;

/// Bodies larger than this are parsed on the blocking pool, not on a runtime worker.
const INLINE_PARSE_LIMIT: usize = 1 << 20;

#[derive(Clone)]
pub struct EventsState {
    pub recorder: Arc<Recorder>,
    pub max_body: usize,
    pub max_event: usize,
    /// The shared secret a sender must present as `Authorization: Bearer …`.
    pub auth_token: Option<Arc<[u8]>>,
    /// The whole body must arrive within this (408 after): a slow upload cannot hold a slot.
    pub read_timeout: Duration,
    /// One permit per request being read or ingested; none left means 503. Shared by every
    /// clone of the state, so it caps the listener.
    pub slots: Arc<Semaphore>,
    /// `skew_events_requests_refused_total`.
    pub refused: IntCounterVec,
}

impl EventsState {
    pub fn new(recorder: Arc<Recorder>, settings: &EventsSettings) -> Self {
        let refused = recorder.metrics().http.events_refused.clone();
        EventsState {
            recorder,
            max_body: settings.max_body,
            max_event: settings.max_line,
            auth_token: settings.auth_token.clone(),
            read_timeout: settings.read_timeout,
            slots: Arc::new(Semaphore::new(settings.max_concurrent)),
            refused,
        }
    }

    /// Counts a refused request and builds its answer.
    fn refuse(&self, refusal: Refusal) -> Response {
        self.refused.with_label_values(&[refusal.reason()]).inc();
        refusal.into_response()
    }
}

pub fn router(state: EventsState) -> Router {
    Router::new()
        .route("/v1/events", post(post_events))
        .with_state(state)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Ndjson,
}

fn body_format(headers: &HeaderMap) -> Option<BodyFormat> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = ct.split(';').next()?.trim();
    if media.eq_ignore_ascii_case("application/json") {
        Some(BodyFormat::Json)
    } else if [
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
    ]
    .iter()
    .any(|m| media.eq_ignore_ascii_case(m))
    {
        Some(BodyFormat::Ndjson)
    } else {
        None
    }
}

/// Constant-time check of `Authorization: Bearer <secret>`.
fn authorized(headers: &HeaderMap, secret: &[u8]) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let value = value.as_bytes();
    let Some(token) = value
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case(b"bearer "))
        .map(|_| value[7..].trim_ascii())
    else {
        return false;
    };
    token.ct_eq(secret).into()
}

async fn post_events(State(state): State<EventsState>, headers: HeaderMap, body: Body) -> Response {
    if let Some(secret) = &state.auth_token {
        if !authorized(&headers, secret) {
            return state.refuse(Refusal::Unauthorized);
        }
    }
    let Some(format) = body_format(&headers) else {
        return state.refuse(Refusal::UnsupportedMediaType);
    };
    // Held until the body is ingested (it moves into `work`), also when that runs on the
    // blocking pool after the client has gone.
    let Ok(permit) = state.slots.clone().try_acquire_owned() else {
        return state.refuse(Refusal::Busy);
    };
    let read = tokio::time::timeout(
        state.read_timeout,
        axum::body::to_bytes(body, state.max_body),
    )
    .await;
    let Ok(read) = read else {
        return state.refuse(Refusal::Timeout {
            after: state.read_timeout,
        });
    };
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            // to_bytes fails on the limit or on a broken connection.
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                // Its events are refused too (unread, so counted as one).
                let mut batch = state.recorder.batch(Transport::Http);
                Ingest::new(&mut batch, state.max_event, crate::unix_now()).refuse(
                    1,
                    InvalidEvent::new(InvalidKind::TooLarge, "body over the limit"),
                );
                return state.refuse(Refusal::TooLarge {
                    limit: state.max_body,
                });
            }
            return error(StatusCode::BAD_REQUEST, "cannot read the request body");
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return state.refuse(Refusal::Empty);
    }
    let inline = bytes.len() <= INLINE_PARSE_LIMIT;
    let work = move || {
        let _permit = permit;
        let mut batch = state.recorder.batch(Transport::Http);
        let mut ingest = Ingest::new(&mut batch, state.max_event, crate::unix_now());
        match format {
            BodyFormat::Json => ingest.json(&bytes),
            BodyFormat::Ndjson => ingest.ndjson(&bytes),
        }
        ingest.finish()
    };
    let report: Report = if inline {
        work()
    } else {
        match tokio::task::spawn_blocking(work).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "ingestion task failed");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        }
    };
    let status = if report.accepted == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::ACCEPTED
    };
    (status, Json(report)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn content_types() {
        let f = |ct: &str| body_format(&headers(&[(header::CONTENT_TYPE, ct)]));
        assert_eq!(f("application/json"), Some(BodyFormat::Json));
        assert_eq!(f("application/json; charset=utf-8"), Some(BodyFormat::Json));
        assert_eq!(f("Application/X-NDJSON"), Some(BodyFormat::Ndjson));
        assert_eq!(f("text/plain"), None);
        assert_eq!(body_format(&HeaderMap::new()), None);
    }

    #[test]
    fn bearer_secret_is_checked() {
        let ok = headers(&[(header::AUTHORIZATION, "Bearer s3cret")]);
        assert!(authorized(&ok, b"s3cret"));
        assert!(authorized(
            &headers(&[(header::AUTHORIZATION, "bearer s3cret ")]),
            b"s3cret"
        ));
        assert!(!authorized(
            &headers(&[(header::AUTHORIZATION, "Bearer s3cre")]),
            b"s3cret"
        ));
        assert!(!authorized(
            &headers(&[(header::AUTHORIZATION, "Basic s3cret")]),
            b"s3cret"
        ));
        assert!(!authorized(&HeaderMap::new(), b"s3cret"));
    }
}
