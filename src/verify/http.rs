//! `/v1/verify`: the endpoint a gateway asks before it forwards a request.
//!
//! Any method, on `/v1/verify` and below it: nginx `auth_request` sends a GET subrequest, Envoy's
//! `ext_authz` HTTP service sends the client's method with the client's path appended to its
//! `path_prefix`. The body is never read. The token is the `Authorization: Bearer` credential;
//! another scheme or none is `missing_token`.
//!
//! Allowed: 200, and each configured claim copied into its response header (the gateway passes
//! it on upstream). Refused: 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750;
//! a bare `Bearer` challenge when no token was sent). The precise reason goes to the metrics, and
//! to a response header only when `reason-header` is configured: a client should not learn which
//! check failed. Every answer is recorded as an event with `transport="verify"` and `ts` = now.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cache::{CacheMetrics, TokenCache};
use super::keys::{Key, KeyStore, StoreMetrics};
use super::{refresh, Verdict, Verifier, VerifySettings};
use crate::event::Reason;
use crate::metrics::{Metrics, Transport};
use crate::record::{PairCache, Recorder};
use crate::switch::Switch;

/// Claim values longer than this are not copied into a header.
const MAX_CLAIM_HEADER: usize = 4096;

#[derive(Clone)]
pub struct VerifyState {
    pub verifier: Arc<Verifier>,
    pub keys: Arc<KeyStore>,
    pub recorder: Arc<Recorder>,
    pub source: Arc<str>,
    pub claim_headers: Arc<[(String, HeaderName)]>,
    pub reason_header: Option<HeaderName>,
    /// A JWKS URL is configured: an unknown `kid` asks for a refetch.
    pub refetch: bool,
    /// The resolved pairs of finished requests' batches, for the next requests (a request
    /// takes one out while it records; at most `MAX_PAIR_CACHES` are kept).
    pub pairs: Arc<Mutex<Vec<PairCache>>>,
}

/// How many finished batches' pairs are kept for reuse: more than requests are recorded at
/// once (the runtime's workers), so a request rarely starts without one.
const MAX_PAIR_CACHES: usize = 16;

/// The `skew_verify_*` handles, created (at 0) only when verification is on.
pub fn store_metrics(m: &Metrics) -> StoreMetrics {
    StoreMetrics {
        reload_ok: m.verify.key_reloads.with_label_values(&["ok"]),
        reload_error: m.verify.key_reloads.with_label_values(&["error"]),
        keys: m.verify.keys.with_label_values::<&str>(&[]),
    }
}

/// The cache's handles; only called when the cache is on, so an exporter without one exports
/// no `skew_verify_cache_*` series.
pub fn cache_metrics(m: &Metrics) -> CacheMetrics {
    CacheMetrics {
        hit: m.verify.cache_requests.with_label_values(&["hit"]),
        miss: m.verify.cache_requests.with_label_values(&["miss"]),
        entries: m.verify.cache_entries.with_label_values::<&str>(&[]),
    }
}

/// Builds the key store from the keys loaded at configuration time, spawns the tasks that keep
/// it current, and returns the handler's state ([`routes`] serve it); `None` when no key
/// source is configured.
pub fn start(
    settings: &VerifySettings,
    recorder: Arc<Recorder>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) -> Option<VerifyState> {
    // Its source verifies on this host: its lead gives skew_jwt_issuer_clock_error_seconds.
    recorder
        .metrics()
        .set_verify_source(settings.enabled().then_some(settings.source.as_str()));
    if !settings.enabled() {
        return None;
    }
    let mut sources: Vec<Vec<Arc<Key>>> = settings.files.iter().map(|f| f.keys.clone()).collect();
    if settings.jwks_url.is_some() {
        sources.push(Vec::new());
    }
    let store = Arc::new(KeyStore::new(
        sources,
        Some(store_metrics(recorder.metrics())),
    ));
    tracing::info!(
        keys = store.current().len(),
        files = settings.files.len(),
        jwks_url = settings.jwks_url.as_ref().map(|u| u.url.as_str()),
        "token verification enabled"
    );
    for (path, skipped) in &settings.skipped_keys {
        refresh::report_skipped(&path.display(), skipped, &store);
    }
    refresh::spawn(
        settings.files.clone(),
        settings.jwks_url.clone(),
        settings.key_poll_interval,
        store.clone(),
        cancel,
        tracker,
    );
    let metrics = recorder.metrics();
    let cache = match settings.cache_size {
        0 => {
            // Turned off by a reload: no cache holds anything any more.
            metrics.verify.cache_entries.reset();
            None
        }
        size => TokenCache::new(size, Some(cache_metrics(metrics))),
    };
    Some(VerifyState {
        verifier: Arc::new(
            Verifier::new(settings.policy.clone())
                .with_cache(cache)
                .keeping_claims(settings.claim_headers.iter().map(|(c, _)| c.clone())),
        ),
        keys: store,
        recorder,
        source: Arc::from(settings.source.as_str()),
        claim_headers: settings.claim_headers.clone().into(),
        reason_header: settings.reason_header.clone(),
        refetch: settings.jwks_url.is_some(),
        pairs: Default::default(),
    })
}

/// `/v1/verify` and below, answered with `state`.
pub fn router(state: VerifyState) -> Router {
    routes(Switch::new(Some(state)))
}

/// `/v1/verify` and below, answered with whatever state `switch` holds (404 without one): a
/// reload replaces the state, not the routes.
pub fn routes(switch: Switch<VerifyState>) -> Router {
    Router::new()
        .route("/v1/verify", any(verify))
        .route("/v1/verify/{*rest}", any(verify))
        .with_state(switch)
}

/// What the `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
enum Bearer<'a> {
    Missing,
    Malformed,
    Token(&'a str),
}

fn bearer(headers: &HeaderMap) -> Bearer<'_> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Bearer::Missing;
    };
    let Ok(value) = value.to_str() else {
        return Bearer::Malformed;
    };
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Bearer::Missing;
    }
    // `to_str` lets through visible ASCII and tabs only, so a space or a tab is all the
    // whitespace there can be (a byte search: a `char` walk over an ~800-byte token cost 5 %
    // of a cache hit's CPU).
    match rest.trim() {
        "" => Bearer::Missing,
        t if memchr::memchr2(b' ', b'\t', t.as_bytes()).is_some() => Bearer::Malformed,
        t => Bearer::Token(t),
    }
}

// The request by value: the `HeaderMap` extractor would copy every header.
async fn verify(State(switch): State<Switch<VerifyState>>, request: Request) -> Response {
    match switch.load().as_deref() {
        Some(s) => answer(s, request.headers(), crate::unix_now()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The whole answer to one request, judged and recorded at `now`: the one clock reading the
/// request gets (the token's times are checked against it, and it is the event's `ts`).
fn answer(s: &VerifyState, headers: &HeaderMap, now: f64) -> Response {
    let b = bearer(headers);
    let verdict = match b {
        Bearer::Missing => Verdict::missing_token(),
        Bearer::Malformed => Verdict::reject(Reason::Malformed, Default::default()),
        Bearer::Token(token) => s.verifier.verify(token, &s.keys.current(), now),
    };
    // The key id for skew_jwt_key_verifications_total, from the header as any token carries it
    // (bounded by the recorder's kid guard, as an event's kid is); known to the verdict of any
    // token whose header the verifier read.
    let kid: Option<Cow<'_, str>> = match (&verdict.header_kid, b) {
        (Some(known), _) => known.as_deref().map(Cow::Borrowed),
        (None, Bearer::Token(token)) => crate::event::header_kid(token).map(Cow::Owned),
        (None, _) => None,
    };
    if verdict.unknown_kid && s.refetch {
        s.keys.request_refetch();
    }
    let mut event = verdict.event(now, &s.source);
    // Its own leeway, as a verifier that reports one: skew_jwt_verifier_leeway_seconds{source}.
    event.leeway = Some(s.verifier.leeway());
    event.kid = kid;
    // A poisoned pool (a panic while it was held) only means no reuse.
    let reuse = s.pairs.lock().ok().and_then(|mut p| p.pop());
    let mut batch = s.recorder.batch_reusing(Transport::Verify, reuse);
    batch.record(&event);
    let done = batch.finish();
    if let Ok(mut p) = s.pairs.lock() {
        if p.len() < MAX_PAIR_CACHES {
            p.push(done);
        }
    }
    if let Some(r) = verdict.reason {
        tracing::debug!(reason = r.as_str(), "token refused");
    }
    respond(s, &verdict)
}

fn respond(s: &VerifyState, v: &Verdict) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match v.reason {
        None => {
            if let Some(claims) = &v.claims {
                for (claim, name) in s.claim_headers.iter() {
                    if let Some(value) = claims.get(claim).and_then(claim_header_value) {
                        headers.insert(name.clone(), value);
                    }
                }
            }
            (StatusCode::OK, headers).into_response()
        }
        Some(reason) => {
            let challenge = if reason == Reason::MissingToken {
                "Bearer"
            } else {
                "Bearer error=\"invalid_token\""
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
            if let Some(name) = &s.reason_header {
                headers.insert(name.clone(), HeaderValue::from_static(reason.as_str()));
            }
            (StatusCode::UNAUTHORIZED, headers, "unauthorized\n").into_response()
        }
    }
}

/// A claim as a header value: strings as they are, numbers and booleans as JSON text, arrays of
/// those joined with `,`. Objects, values that cannot be a header, and long ones are skipped.
fn claim_header_value(v: &Value) -> Option<HeaderValue> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let text = match v {
        Value::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()?
            .join(","),
        other => scalar(other)?,
    };
    if text.len() > MAX_CLAIM_HEADER {
        return None;
    }
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;

    use super::super::tests::Signer;
    use super::super::Policy;
    use super::*;
    use crate::record::RecorderSettings;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn bearer_forms() {
        assert_eq!(bearer(&HeaderMap::new()), Bearer::Missing);
        assert_eq!(
            bearer(&headers("Bearer abc.def.ghi")),
            Bearer::Token("abc.def.ghi")
        );
        assert_eq!(bearer(&headers("bearer  abc ")), Bearer::Token("abc"));
        assert_eq!(bearer(&headers("Basic dXNlcjpwYXNz")), Bearer::Missing);
        assert_eq!(bearer(&headers("Bearer")), Bearer::Missing);
        assert_eq!(bearer(&headers("Bearer a b")), Bearer::Malformed);
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert_eq!(bearer(&h), Bearer::Malformed);
    }

    #[test]
    fn claim_values_as_headers() {
        let v = |j: &str| claim_header_value(&serde_json::from_str(j).unwrap());
        assert_eq!(v(r#""alice""#).unwrap(), "alice");
        assert_eq!(v("42").unwrap(), "42");
        assert_eq!(v(r#"["a","b",3]"#).unwrap(), "a,b,3");
        assert_eq!(v(r#"{"a":1}"#), None);
        assert_eq!(v(r#""line\nbreak""#), None);
        assert_eq!(v(&format!("\"{}\"", "x".repeat(5000))), None);
    }

    fn state(signer: &Signer) -> VerifyState {
        let metrics = Arc::new(Metrics::new().unwrap());
        let recorder = Arc::new(Recorder::new(metrics.clone(), &RecorderSettings::default()));
        VerifyState {
            verifier: Arc::new(Verifier::new(Policy::default())),
            keys: Arc::new(KeyStore::new(
                vec![vec![signer.key()]],
                Some(store_metrics(&metrics)),
            )),
            recorder,
            source: Arc::from("gw"),
            claim_headers: vec![("sub".to_string(), HeaderName::from_static("x-auth-subject"))]
                .into(),
            reason_header: Some(HeaderName::from_static("x-auth-reason")),
            refetch: false,
            pairs: Default::default(),
        }
    }

    /// The handler itself (routing and methods are covered by tests/verify.rs).
    async fn call(st: &VerifyState, auth: Option<&str>) -> Response {
        let mut request = Request::new(axum::body::Body::empty());
        *request.headers_mut() = auth.map(headers).unwrap_or_default();
        verify(State(Switch::new(Some(st.clone()))), request).await
    }

    /// The routes answer with whatever state the switch holds now: 404 without one (a
    /// reload that turned verification off), the new state's answer after a replace.
    #[tokio::test]
    async fn the_routes_follow_the_switch() {
        use tower::ServiceExt as _;
        let get = |router: Router| async move {
            let request = Request::get("/v1/verify/some/path")
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        };
        let switch = Switch::new(None);
        let router = routes(switch.clone());
        assert_eq!(get(router.clone()).await, StatusCode::NOT_FOUND);
        let signer = Signer::new(Algorithm::HS256, None);
        switch.replace(Some(state(&signer)));
        assert_eq!(get(router.clone()).await, StatusCode::UNAUTHORIZED);
        switch.replace(None);
        assert_eq!(get(router).await, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn answers_and_records() {
        let signer = Signer::new(Algorithm::HS256, None);
        let st = state(&signer);
        let metrics = st.recorder.metrics().clone();
        let t = crate::unix_now();
        let good = signer
            .sign(&serde_json::json!({"sub": "alice", "iss": "idp", "iat": t, "exp": t + 60.0}));
        let expired = signer.sign(
            &serde_json::json!({"sub": "bob", "iss": "idp", "iat": t - 100.0, "exp": t - 60.0}),
        );

        for _ in 0..2 {
            let r = call(&st, Some(&format!("Bearer {good}"))).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["x-auth-subject"], "alice");
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
            assert!(r.headers().get("x-auth-reason").is_none());
        }

        let r = call(&st, Some(&format!("Bearer {expired}"))).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        assert_eq!(r.headers()["x-auth-reason"], "expired");
        assert!(
            r.headers().get("x-auth-subject").is_none(),
            "no claims of a refused token"
        );
        let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains(&expired[..20]));

        let r = call(&st, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(r.headers()["x-auth-reason"], "missing_token");

        let text = metrics.render().unwrap();
        for line in [
            "skew_events_received_total{transport=\"verify\"} 4",
            "skew_jwt_verifications_total{issuer=\"idp\",outcome=\"accepted\",source=\"gw\"} 2",
            "skew_jwt_rejections_total{issuer=\"idp\",reason=\"expired\",source=\"gw\"} 1",
            "skew_jwt_rejections_total{issuer=\"unknown\",reason=\"missing_token\",source=\"gw\"} 1",
            "skew_jwt_expired_by_seconds_count{issuer=\"idp\",source=\"gw\"} 1",
            "skew_verify_keys 1",
            "skew_verify_key_reloads_total{result=\"error\"} 0",
            // Issue 13: its own leeway, under its source; the signer sets no kid.
            "skew_jwt_verifier_leeway_seconds{source=\"gw\"} 5\n",
            "skew_jwt_key_verifications_total{kid=\"none\",outcome=\"accepted\",source=\"gw\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert!(!text.contains(&good[..30]));
    }

    /// Issue 13: the key id of a token's header reaches skew_jwt_key_verifications_total.
    #[tokio::test]
    async fn key_ids_are_recorded() {
        let signer = Signer::new(Algorithm::HS256, Some("k1"));
        let st = state(&signer);
        let t = crate::unix_now();
        let good = signer.sign(&serde_json::json!({"iss": "idp", "iat": t, "exp": t + 60.0}));
        let expired =
            signer.sign(&serde_json::json!({"iss": "idp", "iat": t - 100.0, "exp": t - 60.0}));
        assert_eq!(
            call(&st, Some(&format!("Bearer {good}"))).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            call(&st, Some(&format!("Bearer {expired}"))).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let text = st.recorder.metrics().render().unwrap();
        for line in [
            "skew_jwt_key_verifications_total{kid=\"k1\",outcome=\"accepted\",source=\"gw\"} 1\n",
            "skew_jwt_key_verifications_total{kid=\"k1\",outcome=\"rejected\",source=\"gw\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }

    #[tokio::test]
    async fn one_request_one_clock() {
        // A clock far from the system's: the token is judged and the event stamped by it.
        const NOW: f64 = 1_000_000_000.0;
        let signer = Signer::new(Algorithm::HS256, None);
        let st = state(&signer);
        let metrics = st.recorder.metrics().clone();
        let token = |iat: f64, exp: f64| {
            let t =
                signer.sign(&serde_json::json!({"sub": "s", "iss": "idp", "iat": iat, "exp": exp}));
            headers(&format!("Bearer {t}"))
        };
        let r = answer(&st, &token(NOW - 2.0, NOW + 60.0), NOW);
        assert_eq!(r.status(), StatusCode::OK);
        let r = answer(&st, &token(NOW - 100.0, NOW - 10.0), NOW);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()["x-auth-reason"], "expired");
        let r = answer(&st, &token(NOW + 60.0, NOW + 600.0), NOW);
        assert_eq!(r.headers()["x-auth-reason"], "issued_in_future");

        let text = metrics.render().unwrap();
        for line in [
            "skew_jwt_verifications_total{issuer=\"idp\",outcome=\"accepted\",source=\"gw\"} 1",
            "skew_jwt_rejections_total{issuer=\"idp\",reason=\"expired\",source=\"gw\"} 1",
            "skew_jwt_rejections_total{issuer=\"idp\",reason=\"issued_in_future\",source=\"gw\"} 1",
            // ts − exp = 10 s exactly, ts − iat = 2 s: the event's ts is the same `now`.
            "skew_jwt_expired_by_seconds_sum{issuer=\"idp\",source=\"gw\"} 10\n",
            "skew_jwt_age_seconds_sum{issuer=\"idp\",outcome=\"accepted\",source=\"gw\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }

    /// The same token sequence through a handler with the cache and one without, at the same
    /// clock readings: every metric but the cache's own is identical, line for line. The
    /// sequence repeats tokens (hits), lets a cached one expire, holds forged, refused,
    /// malformed and missing tokens, and rotates the keys half-way (a revoked key).
    #[test]
    fn metrics_are_the_same_with_the_cache_on_and_off() {
        const NOW: f64 = 1_000_000_000.0;
        let rs = Signer::new(Algorithm::RS256, Some("r1"));
        let es = Signer::new(Algorithm::ES256, Some("e1"));
        let forger = Signer::new(Algorithm::HS256, Some("r1"));
        let claims = |sub: &str, iat: f64, exp: f64| serde_json::json!({"sub": sub, "iss": "idp", "iat": iat, "exp": exp});
        let a = rs.sign(&claims("a", NOW - 3.0, NOW + 29.0));
        let b = es.sign(&claims("b", NOW - 1.5, NOW + 600.0));
        let c = rs.sign(&claims("c", NOW + 10.0, NOW + 600.0));
        let expired = es.sign(&claims("d", NOW - 100.0, NOW - 50.0));
        let forged = forger.sign(&claims("a", NOW - 3.0, NOW + 30.0));
        let mut sequence: Vec<(f64, Option<String>)> = Vec::new();
        for i in 0..40 {
            let now = NOW + f64::from(i) * 0.9; // a passes exp + leeway (34 s) at i = 39
            let tampered = format!(
                "{}.{}",
                a.rsplit_once('.').unwrap().0,
                c.rsplit_once('.').unwrap().1
            );
            for t in [
                &a,
                &b,
                &c,
                &a,
                &expired,
                &forged,
                &tampered,
                &"x.y.z".to_owned(),
            ] {
                sequence.push((now, Some(t.clone())));
            }
            sequence.push((now, None));
        }
        let run = |cache: bool| {
            let metrics = Arc::new(Metrics::new().unwrap());
            let recorder = Arc::new(Recorder::new(metrics.clone(), &RecorderSettings::default()));
            let cache = cache
                .then(|| TokenCache::new(100, Some(cache_metrics(&metrics))))
                .flatten();
            let st = VerifyState {
                // As `start` builds it: the cache keeps only the claim headers' claims.
                verifier: Arc::new(
                    Verifier::new(Policy::default())
                        .with_cache(cache)
                        .keeping_claims(["sub".to_owned()]),
                ),
                keys: Arc::new(KeyStore::new(
                    vec![vec![rs.key()], vec![es.key()]],
                    Some(store_metrics(&metrics)),
                )),
                recorder,
                source: Arc::from("gw"),
                claim_headers: vec![("sub".to_string(), HeaderName::from_static("x-sub"))].into(),
                reason_header: Some(HeaderName::from_static("x-auth-reason")),
                refetch: false,
                pairs: Default::default(),
            };
            let mut answers = Vec::new();
            for (i, (now, token)) in sequence.iter().enumerate() {
                if i == sequence.len() / 2 {
                    st.keys.replace(1, Vec::new()); // e1 revoked
                }
                let h = token
                    .as_ref()
                    .map(|t| headers(&format!("Bearer {t}")))
                    .unwrap_or_default();
                let r = answer(&st, &h, *now);
                answers.push((
                    r.status(),
                    r.headers().get("x-auth-reason").cloned(),
                    r.headers().get("x-sub").cloned(),
                ));
            }
            let text = metrics.render().unwrap();
            let cache_lines: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with("skew_verify_cache_"))
                .map(str::to_owned)
                .collect();
            let rest: Vec<String> = text
                .lines()
                .filter(|l| !l.contains("skew_verify_cache_") && !l.starts_with("process_"))
                .map(str::to_owned)
                .collect();
            (answers, rest, cache_lines)
        };
        let (answers_on, on, cache_on) = run(true);
        let (answers_off, off, cache_off) = run(false);
        assert_eq!(answers_on, answers_off);
        assert_eq!(on, off);
        assert!(cache_off.is_empty(), "{cache_off:?}");
        // 40 rounds of 8 tokens, each looked up (`x.y.z` has the shape checked before the
        // lookup, and is `malformed` at its header, after it).
        // The exact count. Rotation before round 20 (whose first lookup drops the cache);
        // a alive to round 38 (exp + leeway = NOW + 34); c issued in the future to round 5.
        // a: miss + hit in rounds 0 and 20, 2 hits in rounds 1-19 and 21-38, hit (expired,
        //    removed) + miss in round 39: 77 hits, 3 misses.
        // b: miss in round 0, hits in rounds 1-19, unknown_key (misses) from 20: 19 / 21.
        // c: misses in rounds 0-6 and 20, hits in 7-19 and 21-39: 32 / 8.
        // expired, forged, tampered, x.y.z: 160 misses. Left at the end: c.
        let value = |name: &str| {
            cache_on
                .iter()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().parse::<u64>().unwrap())
                .unwrap_or_else(|| panic!("{name} not in {cache_on:?}"))
        };
        let hits = value("skew_verify_cache_requests_total{result=\"hit\"}");
        let misses = value("skew_verify_cache_requests_total{result=\"miss\"}");
        assert_eq!((hits, misses), (128, 192));
        assert_eq!(value("skew_verify_cache_entries"), 1);
        for line in [
            "skew_jwt_rejections_total{issuer=\"idp\",reason=\"expired\",source=\"gw\"}",
            "skew_jwt_rejections_total{issuer=\"idp\",reason=\"unknown_key\",source=\"gw\"}",
            "skew_jwt_rejections_total{issuer=\"idp\",reason=\"invalid_algorithm\",source=\"gw\"}",
            "skew_jwt_rejections_total{issuer=\"idp\",reason=\"issued_in_future\",source=\"gw\"}",
            "skew_jwt_rejections_total{issuer=\"idp\",reason=\"invalid_signature\",source=\"gw\"}",
        ] {
            assert!(
                on.iter().any(|l| l.starts_with(line)),
                "{line} not in {on:?}"
            );
        }
    }
}
