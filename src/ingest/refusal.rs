//! The refusals of `POST /v1/events`: requests answered without reading any event. Each one's
//! status code, `reason` label (of `skew_events_requests_refused_total`) and message are
//! written here and nowhere else; the handler counts a refusal and returns it, and
//! `IntoResponse` builds the answer.
//!
//! A leaf module (it imports nothing from the crate), so that [`crate::metrics`] can create
//! every `reason` series at start-up from [`Refusal::ALL`] without an import cycle.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why a `POST /v1/events` request was refused before any event was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A shared secret is configured and the request does not carry it.
    Unauthorized,
    /// A `Content-Type` other than JSON or NDJSON.
    UnsupportedMediaType,
    /// A body of whitespace only.
    Empty,
    /// A body over `--events.max-body` (`limit` bytes).
    TooLarge { limit: usize },
    /// The body did not arrive within `--events.read-timeout` (`after`).
    Timeout { after: Duration },
    /// `--events.max-concurrent` requests were already in progress.
    Busy,
}

impl Refusal {
    /// One of each kind: the `reason` label values. (The limits here are placeholders; only
    /// the kind matters.)
    pub const ALL: [Refusal; 6] = [
        Refusal::Unauthorized,
        Refusal::UnsupportedMediaType,
        Refusal::Empty,
        Refusal::TooLarge { limit: 0 },
        Refusal::Timeout {
            after: Duration::ZERO,
        },
        Refusal::Busy,
    ];

    /// The `reason` label of `skew_events_requests_refused_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::UnsupportedMediaType => "unsupported_media_type",
            Refusal::Empty => "empty",
            Refusal::TooLarge { .. } => "too_large",
            Refusal::Timeout { .. } => "timeout",
            Refusal::Busy => "busy",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
            Refusal::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::Empty => StatusCode::BAD_REQUEST,
            Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the sender is told (the `error` of the JSON body).
    pub fn message(self) -> String {
        match self {
            Refusal::Unauthorized => "missing or wrong bearer token".into(),
            Refusal::UnsupportedMediaType => {
                "Content-Type must be application/json or application/x-ndjson".into()
            }
            Refusal::Empty => "empty body".into(),
            Refusal::TooLarge { limit } => {
                format!("body is over the {limit}-byte limit (--events.max-body)")
            }
            Refusal::Timeout { after } => {
                format!("the body did not arrive within {after:?} (--events.read-timeout)")
            }
            Refusal::Busy => {
                "too many concurrent requests (--events.max-concurrent); retry later".into()
            }
        }
    }
}

impl IntoResponse for Refusal {
    /// The JSON error, with `Connection: close`: the body may be unread, so the connection
    /// closes after the answer, and says so (a client that kept it for its next request would
    /// see that one fail without an answer; hyper closes it but does not announce it).
    fn into_response(self) -> Response {
        let mut r = error(self.status(), &self.message());
        let h = r.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        match self {
            Refusal::Unauthorized => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"skew-exporter\""),
                );
            }
            Refusal::Busy => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        r
    }
}

/// The JSON error answer of `/v1/events`: `{"error": message}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (refusal, status, reason, message): the contract of the endpoint's refusals (README,
    /// docs/bad-input.md), one row per kind, in [`Refusal::ALL`] order.
    fn table() -> [(Refusal, u16, &'static str, &'static str); 6] {
        [
            (
                Refusal::Unauthorized,
                401,
                "unauthorized",
                "missing or wrong bearer token",
            ),
            (
                Refusal::UnsupportedMediaType,
                415,
                "unsupported_media_type",
                "Content-Type must be application/json or application/x-ndjson",
            ),
            (Refusal::Empty, 400, "empty", "empty body"),
            (
                Refusal::TooLarge { limit: 1024 },
                413,
                "too_large",
                "body is over the 1024-byte limit (--events.max-body)",
            ),
            (
                Refusal::Timeout {
                    after: Duration::from_millis(1500),
                },
                408,
                "timeout",
                "the body did not arrive within 1.5s (--events.read-timeout)",
            ),
            (
                Refusal::Busy,
                503,
                "busy",
                "too many concurrent requests (--events.max-concurrent); retry later",
            ),
        ]
    }

    #[test]
    fn each_refusal_has_its_status_reason_and_message() {
        let table = table();
        for ((r, status, reason, message), kind) in table.iter().zip(Refusal::ALL) {
            assert_eq!(r.status().as_u16(), *status, "{r:?}");
            assert_eq!(r.reason(), *reason, "{r:?}");
            assert_eq!(r.message(), *message, "{r:?}");
            assert_eq!(kind.reason(), *reason, "ALL is in table order");
        }
    }

    #[test]
    fn reasons_are_distinct() {
        let mut reasons: Vec<_> = Refusal::ALL.iter().map(|r| r.reason()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), Refusal::ALL.len());
    }

    #[tokio::test]
    async fn the_answer_is_json_and_closes_the_connection() {
        for (r, status, _, message) in table() {
            let response = r.into_response();
            assert_eq!(response.status().as_u16(), status);
            let h = response.headers();
            assert_eq!(h[header::CONNECTION], "close", "{r:?}");
            assert_eq!(
                h.get(header::WWW_AUTHENTICATE).map(|v| v.as_bytes()),
                (r == Refusal::Unauthorized).then_some(&b"Bearer realm=\"skew-exporter\""[..]),
                "{r:?}"
            );
            assert_eq!(
                h.get(header::RETRY_AFTER).map(|v| v.as_bytes()),
                (r == Refusal::Busy).then_some(&b"1"[..]),
                "{r:?}"
            );
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json, serde_json::json!({ "error": message }), "{r:?}");
        }
    }
}
