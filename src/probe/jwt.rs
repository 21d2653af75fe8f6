//! The JWT tolerance probe's I/O shell: mints each token the search plans
//! ([`super::jwt_search`]), sends it at the planned time, and feeds the answer back. One probe
//! is one call to [`run`]; it ends on the search's word, on the time budget, or on the first
//! answer that is neither an acceptance nor a rejection (a redirect, 429, 5xx, a connection
//! error), which becomes the probe's failure.
//!
//! Probe tokens are credentials valid at the probed verifier: they live only in this function,
//! go only to the URL the allow-list passed (redirects are never followed, no proxy is used),
//! and are never logged. Each carries its own `jti` and `sub` naming the probe, and expires as
//! soon as the search allows (the largest `exp` is the search range plus a margin).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::header;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Map, Value};
use url::Url;

use super::jwt_config::{JwtModule, TokenIn};
use super::jwt_search::{Answer, Estimate, Plan, Search};

/// Most of a response body read (to keep the connection reusable); the rest is dropped.
const MAX_BODY: usize = 64 << 10;

/// What one probe found.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub estimate: Option<Estimate>,
    /// Why the probe failed, in words (`None` on success).
    pub failure: Option<String>,
    pub requests: u32,
    pub duration: Duration,
}

impl ProbeResult {
    pub fn success(&self) -> bool {
        self.failure.is_none() && self.estimate.is_some()
    }

    /// The `/probe` answer, in the Prometheus text format.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(1024);
        let mut gauge = |name: &str, help: &str, samples: &[(&str, f64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for (labels, v) in samples {
                out.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        gauge(
            "skew_probe_success",
            "Whether the probe found both edges (1) or not (0).",
            &[("", if self.success() { 1.0 } else { 0.0 })],
        );
        gauge(
            "skew_probe_requests",
            "Requests the probe sent.",
            &[("", f64::from(self.requests))],
        );
        gauge(
            "skew_probe_duration_seconds",
            "How long the probe took.",
            &[("", self.duration.as_secs_f64())],
        );
        if let (Some(e), true) = (&self.estimate, self.success()) {
            gauge(
                "skew_probe_verifier_offset_seconds",
                "Verifier clock minus this host's clock, from the nbf and exp edges.",
                &[("", e.offset)],
            );
            gauge(
                "skew_probe_verifier_leeway_seconds",
                "The leeway the verifier applies, from the nbf and exp edges.",
                &[("", e.leeway)],
            );
            gauge(
                "skew_probe_bound_seconds",
                "Half-width of the interval around the offset and the leeway that holds the truth.",
                &[("", e.bound)],
            );
            gauge(
                "skew_probe_edge_seconds",
                "Largest accepted x for nbf = now + x (edge nbf) and y for exp = now - y (edge exp).",
                &[
                    ("{edge=\"nbf\"}", e.nbf_edge.mid()),
                    ("{edge=\"exp\"}", e.exp_edge.mid()),
                ],
            );
        }
        out
    }

    /// The result in words, for `skew-exporter probe`.
    pub fn describe(&self) -> String {
        let head = format!(
            "{} requests in {:.2} s",
            self.requests,
            self.duration.as_secs_f64()
        );
        match (&self.failure, &self.estimate) {
            (None, Some(e)) => format!(
                "probe succeeded ({head})\n\
                 verifier clock offset: {:+.3} s (verifier minus this host; positive = verifier ahead)\n\
                 verifier leeway:       {:.3} s\n\
                 bound:                 ±{:.3} s on both ({})\n\
                 edges: accepted while nbf <= now {:+.3} s and exp > now {:+.3} s (this host's now)\n",
                e.offset,
                e.leeway,
                e.bound,
                e.clock.describe(),
                e.nbf_edge.mid(),
                -e.exp_edge.mid(),
            ),
            (Some(f), _) => format!("probe failed ({head}): {f}\n"),
            (None, None) => format!("probe failed ({head})\n"),
        }
    }
}

/// How one answer is read.
enum Reply {
    Accepted,
    Rejected,
    /// Ends the probe, with this reason.
    Stop(String),
}

fn classify(module: &JwtModule, status: u16, retry_after: Option<&str>) -> Reply {
    if module.accept.contains(status) {
        Reply::Accepted
    } else if module.reject.contains(status) {
        Reply::Rejected
    } else if (300..400).contains(&status) {
        Reply::Stop(format!(
            "the target answered a redirect ({status}), which is never followed; probe the URL \
             the verifier answers on"
        ))
    } else if status == 429 {
        Reply::Stop(format!(
            "the target rate-limits the probe (429{}); stopped, try a longer scrape interval or \
             a lower max-requests",
            retry_after
                .map(|r| format!(", Retry-After {r}"))
                .unwrap_or_default()
        ))
    } else {
        Reply::Stop(format!(
            "the target answered {status}, neither an acceptance nor a rejection"
        ))
    }
}

/// Runs one probe of `target` (already passed by the module's allow-list) within `budget`.
pub async fn run(module: &JwtModule, target: Url, budget: Duration) -> ProbeResult {
    let started = Instant::now();
    let deadline = crate::unix_now() + budget.as_secs_f64();
    let mut search = Search::new(module.max_requests, module.precision.as_secs_f64());
    let failure = probe(module, &target, &mut search, deadline).await.err();
    let (estimate, failure) = match (failure, search.finish()) {
        (Some(f), _) => (None, Some(f)),
        (None, Ok(e)) => (Some(e), None),
        (None, Err(f)) => (None, Some(f.to_string())),
    };
    if let Some(f) = &failure {
        tracing::warn!(module = %module.name, target = %target, reason = %f, "JWT probe failed");
    }
    ProbeResult {
        estimate,
        failure,
        requests: search.requests(),
        duration: started.elapsed(),
    }
}

async fn probe(
    module: &JwtModule,
    target: &Url,
    search: &mut Search,
    deadline: f64,
) -> Result<(), String> {
    let key = module
        .key
        .load()
        .map_err(|e| format!("cannot load the signing key: {e}"))?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    while let Some(plan) = search.next(crate::unix_now(), deadline) {
        let wait = plan.send_at - crate::unix_now();
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        let Some(Exchange {
            status,
            retry_after,
            sent,
            received,
        }) = exchange(&client, module, target, &key, &plan, deadline).await?
        else {
            // The answer did not come back within the budget: what is known stands.
            tracing::debug!(module = %module.name, "JWT probe request timed out at the deadline");
            return Ok(());
        };
        let accepted = match classify(module, status, retry_after.as_deref()) {
            Reply::Accepted => true,
            Reply::Rejected => false,
            Reply::Stop(reason) => {
                // Counted: the request was spent.
                search.count_unanswered();
                return Err(reason);
            }
        };
        tracing::debug!(
            module = %module.name,
            edge = plan.edge.label(),
            purpose = ?plan.purpose,
            claim_minus_sent = plan.claim - sent,
            rtt = received - sent,
            accepted,
            "JWT probe answer"
        );
        search.answer(&Answer {
            plan,
            sent,
            received,
            accepted,
        });
    }
    Ok(())
}

/// One request and what came back: its status and `Retry-After`, when it left and returned.
struct Exchange {
    status: u16,
    retry_after: Option<String>,
    sent: f64,
    received: f64,
}

/// Sends the request `plan` asks for (its token minted, attached, then dropped) within what
/// is left of `deadline`, and drains at most [`MAX_BODY`] of the answer. `Ok(None)`: no answer
/// in time.
async fn exchange(
    client: &reqwest::Client,
    module: &JwtModule,
    target: &Url,
    key: &EncodingKey,
    plan: &Plan,
    deadline: f64,
) -> Result<Option<Exchange>, String> {
    let token = mint(module, key, plan)?;
    let remaining = (deadline - crate::unix_now()).max(0.001);
    let request = attach(
        client
            .request(module.method.clone(), target.clone())
            .timeout(Duration::from_secs_f64(remaining)),
        module,
        &token,
    );
    drop(token);
    let sent = crate::unix_now();
    let response = request.send().await;
    let received = crate::unix_now();
    let mut response = match response {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Ok(None),
        Err(e) => return Err(format!("the target cannot be reached: {}", without_url(&e))),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut read = 0;
    while read < MAX_BODY {
        match response.chunk().await {
            Ok(Some(c)) => read += c.len(),
            _ => break,
        }
    }
    Ok(Some(Exchange {
        status,
        retry_after,
        sent,
        received,
    }))
}

/// reqwest's error text without the URL it may carry (the caller logs the target once).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "the target");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

fn attach(
    mut request: reqwest::RequestBuilder,
    module: &JwtModule,
    token: &str,
) -> reqwest::RequestBuilder {
    for (name, value) in &module.headers {
        request = request.header(name, value);
    }
    match &module.token_in {
        TokenIn::Bearer => request.header(header::AUTHORIZATION, format!("Bearer {token}")),
        TokenIn::Header(name) => request.header(name, token),
        TokenIn::Cookie(name) => request.header(header::COOKIE, format!("{name}={token}")),
    }
}

/// A NumericDate: an integer when it is one (some verifiers refuse `5.0`), else fractional.
fn numeric_date(t: f64) -> Value {
    if t.fract() == 0.0 && t.abs() < 9.0e15 {
        json!(t as i64)
    } else {
        json!(t)
    }
}

/// A fresh `jti`: unique per token (process id, time, counter), hashed so it reveals nothing.
fn jti() -> String {
    use sha2::{Digest, Sha256};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let digest = Sha256::digest(format!("{}:{nanos}:{n}", std::process::id()));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The probe token's claims for `plan`.
pub fn claims(module: &JwtModule, plan: &Plan) -> Map<String, Value> {
    let mut c = module.claims.clone();
    if let Some(iss) = &module.iss {
        c.insert("iss".into(), json!(iss));
    }
    c.insert("aud".into(), json!(module.aud));
    c.insert("sub".into(), json!(module.sub));
    c.insert("jti".into(), json!(jti()));
    c.insert("iat".into(), numeric_date(plan.iat));
    if let Some(nbf) = plan.nbf {
        c.insert("nbf".into(), numeric_date(nbf));
    }
    c.insert("exp".into(), numeric_date(plan.exp));
    c
}

fn mint(module: &JwtModule, key: &EncodingKey, plan: &Plan) -> Result<String, String> {
    let mut header = Header::new(module.key.algorithm);
    header.kid = module.kid.clone();
    jsonwebtoken::encode(&header, &claims(module, plan), key)
        .map_err(|e| format!("cannot sign the probe token: {e}"))
}
