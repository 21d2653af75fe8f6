//! The main listener's own routes: `router(state)` builds them apart from the connection loop
//! ([`crate::server`]), so tests can drive them with `tower::ServiceExt::oneshot` and no socket.
//!
//! Routes: the telemetry path (default `/metrics`), `/healthz`, and `/`, the live diagnosis
//! page ([`crate::report::live`]: the verdict in words, NTP servers, issuers, small charts)
//! linking to the metrics, as Prometheus exporters' landing pages do. The other routes are built with what
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

/// The live diagnosis page ([`crate::report::live`]): drawn from the gathered families and
/// the ring of recent counts, which it also ticks (the task in `app` keeps it current).
async fn landing(State(state): State<AppState>) -> Html<String> {
    Html(live_page(
        &state.metrics,
        &state.telemetry_path,
        crate::unix_now(),
    ))
}

/// The page at `now`, out of the handler for the bench and the tests.
pub fn live_page(metrics: &Metrics, telemetry_path: &str, now: f64) -> String {
    let families = metrics.gather();
    metrics.recent.tick(now, &families);
    let recent = metrics.recent.view(now, &families);
    crate::report::live::render(
        &crate::report::live::Input {
            families: &families,
            recent: &recent,
            telemetry_path,
        },
        now,
    )
}

#[cfg(test)]
mod tests {
    //! Every HTTP surface in process, through `tower::ServiceExt::oneshot`: the main routes, and
    //! `/v1/events` and `/v1/verify` merged as `app::run` merges them. Behaviour over a real
    //! socket (timeouts, TLS, concurrency) is in `tests/`.

    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Method, Request};
    use jsonwebtoken::Algorithm;
    use tokio::sync::Semaphore;
    use tower::ServiceExt;

    use super::*;
    // The landing page's escaping moved to `report` with the page.
    use crate::ingest::http::EventsState;
    use crate::record::{Recorder, RecorderSettings};
    use crate::report::escape as html_escape;
    use crate::verify::http::VerifyState;
    use crate::verify::keys::KeyStore;
    use crate::verify::tests::Signer;
    use crate::verify::{Policy, Verifier};

    const MAX_BODY: usize = 1024;

    struct App {
        metrics: Arc<Metrics>,
        router: Router,
        signer: Signer,
    }

    /// The app with `/v1/events` (secret `secret` when `auth`, `slots` requests at once) and
    /// `/v1/verify` (an HMAC key).
    fn app(telemetry_path: &str, auth: bool, slots: usize) -> App {
        let metrics = Arc::new(Metrics::new().unwrap());
        let recorder = Arc::new(Recorder::new(metrics.clone(), &RecorderSettings::default()));
        let events = EventsState {
            recorder: recorder.clone(),
            max_body: MAX_BODY,
            max_event: MAX_BODY,
            auth_token: auth.then(|| Arc::from(&b"secret"[..])),
            read_timeout: Duration::from_secs(10),
            slots: Arc::new(Semaphore::new(slots)),
            refused: metrics.http.events_refused.clone(),
        };
        let signer = Signer::new(Algorithm::HS256, None);
        let verify = VerifyState {
            verifier: Arc::new(Verifier::new(Policy::default())),
            keys: Arc::new(KeyStore::new(vec![vec![signer.key()]], None)),
            recorder,
            source: Arc::from("gateway"),
            claim_headers: Arc::from(Vec::new()),
            reason_header: Some(header::HeaderName::from_static("x-auth-reason")),
            refetch: false,
            pairs: Default::default(),
        };
        let router = router(AppState {
            metrics: metrics.clone(),
            telemetry_path: telemetry_path.to_owned(),
        })
        .merge(crate::ingest::http::router(events))
        .merge(crate::verify::http::router(verify));
        App {
            metrics,
            router,
            signer,
        }
    }

    async fn call(app: &App, request: Request<Body>) -> (StatusCode, header::HeaderMap, String) {
        let response = app.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    fn post_events(content_type: &str, auth: Option<&str>, body: impl Into<Body>) -> Request<Body> {
        let mut r = Request::post("/v1/events").header(header::CONTENT_TYPE, content_type);
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.body(body.into()).unwrap()
    }

    fn line(text: &str, needle: &str) -> bool {
        text.lines().any(|l| l == needle)
    }

    #[tokio::test]
    async fn metrics_healthz_landing_and_404() {
        let app = app("/metrics", false, 4);
        let (status, headers, body) = call(&app, get("/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], prometheus::TEXT_FORMAT);
        assert!(body.contains("\nskew_exporter_build_info{"), "{body}");

        let (status, _, body) = call(&app, get("/healthz")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));

        let (status, headers, body) = call(&app, get("/")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(body.contains("<a href=\"/metrics\">Metrics</a>"), "{body}");
        assert!(body.contains(env!("CARGO_PKG_VERSION")));

        for path in ["/nope", "/metrics/x", "/v1"] {
            let (status, _, _) = call(&app, get(path)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[tokio::test]
    async fn the_telemetry_path_moves_the_metrics_and_the_landing_link() {
        let app = app("/stats", false, 4);
        let (status, _, body) = call(&app, get("/stats")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("skew_exporter_build_info"));
        assert_eq!(call(&app, get("/metrics")).await.0, StatusCode::NOT_FOUND);
        let (_, _, body) = call(&app, get("/")).await;
        assert!(body.contains("<a href=\"/stats\">Metrics</a>"), "{body}");
        assert_eq!(html_escape("/a\"<&>"), "/a&quot;&lt;&amp;&gt;");
    }

    #[tokio::test]
    async fn events_status_codes() {
        let app = app("/metrics", false, 4);
        let event = r#"{"ts": 1790000010, "source": "orders", "iss": "idp", "iat": 1790000000, "outcome": "accepted"}"#;
        let ndjson = format!("{event}\n{event}\nnot json\n");
        let big = format!("[{}]", vec![event; 20].join(","));
        assert!(big.len() > MAX_BODY);
        for (request, want, why) in [
            (
                post_events("application/json", None, event),
                StatusCode::ACCEPTED,
                "one event",
            ),
            (
                post_events("application/x-ndjson", None, ndjson),
                StatusCode::ACCEPTED,
                "NDJSON, one bad line",
            ),
            (
                post_events("application/json", None, "{\"ts\": \"x\"}"),
                StatusCode::BAD_REQUEST,
                "nothing valid",
            ),
            (
                post_events("application/json", None, " \n"),
                StatusCode::BAD_REQUEST,
                "empty",
            ),
            (
                post_events("text/plain", None, event),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content type",
            ),
            (
                post_events("application/json", None, big),
                StatusCode::PAYLOAD_TOO_LARGE,
                "over max-body",
            ),
            (get("/v1/events"), StatusCode::METHOD_NOT_ALLOWED, "GET"),
        ] {
            assert_eq!(call(&app, request).await.0, want, "{why}");
        }
        let text = app.metrics.render().unwrap();
        assert!(
            line(&text, "skew_events_received_total{transport=\"http\"} 3"),
            "{text}"
        );
        assert!(line(&text, "skew_jwt_verifications_total{issuer=\"idp\",outcome=\"accepted\",source=\"orders\"} 3"), "{text}");
    }

    #[tokio::test]
    async fn events_secret_and_slots() {
        let secured = app("/metrics", true, 4);
        let event = r#"{"ts": 1790000010, "iss": "idp", "iat": 1790000000, "outcome": "accepted"}"#;
        for (auth, want) in [
            (None, StatusCode::UNAUTHORIZED),
            (Some("Bearer wrong"), StatusCode::UNAUTHORIZED),
            (Some("Basic secret"), StatusCode::UNAUTHORIZED),
            (Some("Bearer secret"), StatusCode::ACCEPTED),
        ] {
            let (status, _, body) =
                call(&secured, post_events("application/json", auth, event)).await;
            assert_eq!(status, want, "{auth:?}: {body}");
            assert!(!body.contains("secret"), "the secret is never echoed");
        }

        let full = app("/metrics", false, 0);
        let (status, headers, _) = call(&full, post_events("application/json", None, event)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(headers.contains_key(header::RETRY_AFTER));
    }

    #[tokio::test]
    async fn verify_basic_cases() {
        let app = app("/metrics", false, 4);
        let now = crate::unix_now();
        let good = app
            .signer
            .sign(&serde_json::json!({"iss": "idp", "iat": now - 1.0, "exp": now + 3600.0}));
        let expired = app
            .signer
            .sign(&serde_json::json!({"iss": "idp", "iat": now - 7200.0, "exp": now - 3600.0}));
        let verify = |method: Method, path: &str, auth: Option<String>| {
            let mut r = Request::builder().method(method).uri(path);
            if let Some(a) = auth {
                r = r.header(header::AUTHORIZATION, a);
            }
            r.body(Body::empty()).unwrap()
        };
        let bearer = |t: &str| Some(format!("Bearer {t}"));
        // (request, status, x-auth-reason)
        for (request, want, reason) in [
            (
                verify(Method::GET, "/v1/verify", bearer(&good)),
                StatusCode::OK,
                None,
            ),
            (
                verify(Method::POST, "/v1/verify/orders/42", bearer(&good)),
                StatusCode::OK,
                None,
            ),
            (
                verify(Method::GET, "/v1/verify", None),
                StatusCode::UNAUTHORIZED,
                Some("missing_token"),
            ),
            (
                verify(Method::GET, "/v1/verify", bearer(&expired)),
                StatusCode::UNAUTHORIZED,
                Some("expired"),
            ),
            (
                verify(Method::GET, "/v1/verify", bearer("a.b.c")),
                StatusCode::UNAUTHORIZED,
                Some("malformed"),
            ),
        ] {
            let (status, headers, body) = call(&app, request).await;
            assert_eq!(status, want);
            assert_eq!(
                headers.get("x-auth-reason").map(|v| v.to_str().unwrap()),
                reason
            );
            if status == StatusCode::UNAUTHORIZED {
                assert!(headers[header::WWW_AUTHENTICATE]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer"));
            }
            assert!(!body.contains(&good[..20]) && !body.contains(&expired[..20]));
        }
        let text = app.metrics.render().unwrap();
        assert!(
            line(&text, "skew_events_received_total{transport=\"verify\"} 5"),
            "{text}"
        );
        assert!(line(&text, "skew_jwt_verifications_total{issuer=\"idp\",outcome=\"accepted\",source=\"gateway\"} 2"), "{text}");
        assert!(
            line(
                &text,
                "skew_jwt_rejections_total{issuer=\"idp\",reason=\"expired\",source=\"gateway\"} 1"
            ),
            "{text}"
        );
    }
}
