//! `POST /v1/events`: verifiers push events as one JSON object, a JSON array, or NDJSON.
//!
//! Answers 202 with the [`Report`] when at least one event was recorded, 400 when nothing in
//! the body was valid (or it was empty), 401 when a shared secret is configured and the request
//! does not carry it, 413 over `--events.max-body`, 415 for other content types. Checks run in
//! that order of cost: the secret and the content type before the body is read.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use subtle::ConstantTimeEq;

use super::{Ingest, Report};
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

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn post_events(State(state): State<EventsState>, headers: HeaderMap, body: Body) -> Response {
    if let Some(secret) = &state.auth_token {
        if !authorized(&headers, secret) {
            let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"skew-exporter\""),
            );
            return r;
        }
    }
    let Some(format) = body_format(&headers) else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json or application/x-ndjson",
        );
    };
    let bytes = match axum::body::to_bytes(body, state.max_body).await {
        Ok(b) => b,
        Err(e) => {
            // to_bytes fails on the limit or on a broken connection.
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                state.recorder.count_invalid(
                    Transport::Http,
                    &InvalidEvent::new(InvalidKind::TooLarge, "body over the limit"),
                );
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "body is over the {}-byte limit (--events.max-body)",
                        state.max_body
                    ),
                );
            }
            return error(StatusCode::BAD_REQUEST, "cannot read the request body");
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return error(StatusCode::BAD_REQUEST, "empty body");
    }
    let inline = bytes.len() <= INLINE_PARSE_LIMIT;
    let work = move || {
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
