//! A bounded load test on loopback: concurrent clients push NDJSON batches of a synthetic stream
//! while another thread scrapes `/metrics` the whole time. Afterwards every counter equals what
//! the clients got a 202 for (nothing lost, nothing counted twice) and the synthetic truth, and
//! every scrape during the load answered 200.
//!
//! The ingestion cap is set below the number of clients, so some requests get 503 with
//! `Retry-After`; the client retries them (after a short pause, not the full second the header
//! asks for, to keep the test short), and only 202 answers count.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Exporter, Scrape};
use skew_exporter::synth::{self, Spec};

const CLIENTS: usize = 8;
const BATCHES: usize = 30;
const BATCH: usize = 1000;
/// Below `CLIENTS`: the cap is part of the load.
const MAX_CONCURRENT: &str = "2";

/// What one client saw.
#[derive(Debug, Default)]
struct ClientReport {
    accepted: u64,
    busy: u64,
}

/// What the scraping thread saw.
#[derive(Debug, Default)]
struct ScrapeReport {
    scrapes: u64,
    not_ok: Vec<String>,
    slowest: Duration,
    /// `skew_events_received_total{transport="http"}`, scrape by scrape.
    received: Vec<f64>,
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

fn push(url: &str, batches: Vec<String>) -> ClientReport {
    let http = client();
    let mut report = ClientReport::default();
    for body in batches {
        loop {
            let resp = http
                .post(url)
                .header("Content-Type", "application/x-ndjson")
                .body(body.clone())
                .send()
                .unwrap_or_else(|e| panic!("POST: {e:?}"));
            match resp.status().as_u16() {
                202 => {
                    let answer: serde_json::Value =
                        serde_json::from_str(&resp.text().expect("body")).expect("JSON answer");
                    let n = answer["accepted"].as_u64().expect("accepted");
                    assert_eq!(answer["invalid"], 0, "{answer}");
                    report.accepted += n;
                    break;
                }
                503 => {
                    assert_eq!(
                        resp.headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()),
                        Some("1")
                    );
                    report.busy += 1;
                    thread::sleep(Duration::from_millis(5));
                }
                other => panic!("POST answered {other}: {:?}", resp.text()),
            }
        }
    }
    report
}

fn scrape_until(url: String, done: Arc<AtomicBool>) -> ScrapeReport {
    let http = client();
    let mut report = ScrapeReport::default();
    while !done.load(Ordering::Acquire) {
        let start = Instant::now();
        let resp = http.get(&url).send();
        let took = start.elapsed();
        report.scrapes += 1;
        report.slowest = report.slowest.max(took);
        match resp {
            Ok(r) if r.status().as_u16() == 200 => {
                let text = r.text().expect("scrape body");
                let scrape = Scrape::parse(&text).expect("exposition");
                report
                    .received
                    .push(scrape.value("skew_events_received_total", &[("transport", "http")]));
            }
            Ok(r) => report.not_ok.push(format!("status {}", r.status())),
            Err(e) => report.not_ok.push(e.to_string()),
        }
        thread::sleep(Duration::from_millis(20));
    }
    report
}

#[test]
fn concurrent_batches_while_scraping_lose_and_double_count_nothing() {
    let total = CLIENTS * BATCHES * BATCH;
    let (lines, truth) = synth::stream(Spec::default(), total);
    let ex = Exporter::start(&[
        "--ntp.server",
        "127.0.0.1:9",
        "--events.max-concurrent",
        MAX_CONCURRENT,
    ]);
    let url = ex.url("/v1/events");

    // Client c sends batches c, c + CLIENTS, c + 2 CLIENTS, …: disjoint, together the stream.
    let batches: Vec<String> = lines.chunks(BATCH).map(|c| c.join("\n") + "\n").collect();
    let mut per_client: Vec<Vec<String>> = vec![Vec::new(); CLIENTS];
    for (i, b) in batches.into_iter().enumerate() {
        per_client[i % CLIENTS].push(b);
    }

    let done = Arc::new(AtomicBool::new(false));
    let scraper = {
        let done = done.clone();
        let url = ex.url("/metrics");
        thread::spawn(move || scrape_until(url, done))
    };
    let start = Instant::now();
    let clients: Vec<_> = per_client
        .into_iter()
        .map(|b| {
            let url = url.clone();
            thread::spawn(move || push(&url, b))
        })
        .collect();
    let reports: Vec<ClientReport> = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .collect();
    let took = start.elapsed();
    done.store(true, Ordering::Release);
    let scrapes = scraper.join().expect("scraper thread");

    let accepted: u64 = reports.iter().map(|r| r.accepted).sum();
    let busy: u64 = reports.iter().map(|r| r.busy).sum();
    println!(
        "{total} events from {CLIENTS} clients in {took:?} ({:.0} events/s, debug build), \
         {busy} answers 503 (retried); {} scrapes, slowest {:?}",
        total as f64 / took.as_secs_f64(),
        scrapes.scrapes,
        scrapes.slowest
    );

    assert!(
        scrapes.not_ok.is_empty(),
        "scrapes failed: {:?}",
        scrapes.not_ok
    );
    assert!(
        scrapes.scrapes >= 3,
        "only {} scrapes during the load",
        scrapes.scrapes
    );
    assert!(
        scrapes.received.windows(2).all(|w| w[0] <= w[1]),
        "the received counter went down between scrapes"
    );
    assert_eq!(
        accepted, total as u64,
        "every batch was eventually accepted"
    );

    let scrape = ex.scrape();
    assert_eq!(
        scrape.value("skew_events_received_total", &[("transport", "http")]),
        accepted as f64,
        "received equals what the clients got 202 for"
    );
    for s in scrape.series("skew_events_invalid_total") {
        assert_eq!(s.value, 0.0, "{s:?}");
    }
    assert_eq!(
        scrape.value("skew_events_requests_refused_total", &[("reason", "busy")]),
        busy as f64,
        "every 503 counted once"
    );
    let mut verifications = 0.0;
    for ((source, issuer), p) in &truth.pairs {
        let l = |k, v| {
            [
                ("source", source.as_str()),
                ("issuer", issuer.as_str()),
                (k, v),
            ]
        };
        let acc = scrape.value("skew_jwt_verifications_total", &l("outcome", "accepted"));
        let rej = scrape.value("skew_jwt_verifications_total", &l("outcome", "rejected"));
        assert_eq!(
            (acc, rej),
            (p.accepted as f64, p.rejected as f64),
            "{source} {issuer}"
        );
        for (reason, n) in &p.reasons {
            assert_eq!(
                scrape.value("skew_jwt_rejections_total", &l("reason", reason)),
                *n as f64,
                "{source} {issuer} {reason}"
            );
        }
        for (outcome, ages) in [("accepted", &p.ages[0]), ("rejected", &p.ages[1])] {
            if !ages.is_empty() {
                assert_eq!(
                    scrape.value("skew_jwt_age_seconds_count", &l("outcome", outcome)),
                    ages.len() as f64
                );
            }
        }
        verifications += acc + rej;
    }
    assert_eq!(verifications, total as f64);
}
