//! HTTP load generator for `POST /v1/events` (used by `benches/http.sh`).
//!
//! `loadgen URL [CLIENTS] [SECONDS] [BATCH]`: CLIENTS threads post NDJSON batches of BATCH
//! synthetic events (pre-generated, so the generator costs little CPU) for SECONDS seconds over
//! keep-alive connections, then print one line of JSON: requests, 202s, events accepted, other
//! statuses, elapsed seconds, events per second.
//!
//! `loadgen --labels URL`: posts events for 32 sources × 32 issuers (every label slot filled),
//! then times 50 scrapes of `/metrics` and prints the median and the body size.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skew_exporter::synth::{Generator, Spec};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| fail(&format!("HTTP client: {e}")))
}

fn fail(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).map_or(default, |a| {
        a.parse()
            .unwrap_or_else(|_| fail(&format!("bad argument {a}")))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--labels") {
        let url = args
            .get(1)
            .unwrap_or_else(|| fail("usage: loadgen --labels URL"));
        return labels(url);
    }
    let url = args
        .first()
        .unwrap_or_else(|| fail("usage: loadgen URL [CLIENTS] [SECONDS] [BATCH]"))
        .clone();
    let clients: usize = arg(&args, 1, 4);
    let seconds: f64 = arg(&args, 2, 10.0);
    let batch: usize = arg(&args, 3, 1000);

    let spec = Spec::default();
    let bodies: Arc<Vec<String>> = Arc::new(
        Generator::new(spec.clone())
            .take(batch * 16)
            .map(|g| g.to_json(&spec))
            .collect::<Vec<_>>()
            .chunks(batch)
            .map(|c| c.join("\n") + "\n")
            .collect(),
    );
    let (requests, ok, events, other) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (url, bodies) = (format!("{url}/v1/events"), bodies.clone());
            let (requests, ok, events, other) =
                (requests.clone(), ok.clone(), events.clone(), other.clone());
            std::thread::spawn(move || {
                let http = client();
                let mut i = c;
                while Instant::now() < deadline {
                    let body = bodies[i % bodies.len()].clone();
                    i += 1;
                    requests.fetch_add(1, Ordering::Relaxed);
                    match http
                        .post(&url)
                        .header("Content-Type", "application/x-ndjson")
                        .body(body)
                        .send()
                    {
                        Ok(r) if r.status().as_u16() == 202 => {
                            let text = r.text().unwrap_or_default();
                            let accepted = serde_json::from_str::<serde_json::Value>(&text)
                                .ok()
                                .and_then(|v| v["accepted"].as_u64())
                                .unwrap_or(0);
                            ok.fetch_add(1, Ordering::Relaxed);
                            events.fetch_add(accepted, Ordering::Relaxed);
                        }
                        Ok(_) | Err(_) => {
                            other.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let events = events.load(Ordering::Relaxed);
    println!(
        "{{\"requests\":{},\"accepted_202\":{},\"events_accepted\":{},\"other_status\":{},\"elapsed_s\":{:.3},\"events_per_s\":{:.0}}}",
        requests.load(Ordering::Relaxed),
        ok.load(Ordering::Relaxed),
        events,
        other.load(Ordering::Relaxed),
        elapsed,
        events as f64 / elapsed
    );
}

/// Fills every label slot (32 × 32) and times `/metrics`.
fn labels(url: &str) {
    let http = client();
    let mut body = String::new();
    for s in 0..32 {
        for i in 0..32 {
            body.push_str(&format!(
                "{{\"ts\":1790000001,\"source\":\"source-{s}\",\"iss\":\"https://issuer-{i}.example\",\"iat\":1790000000,\"exp\":1790000000,\"outcome\":\"rejected\",\"reason\":\"expired\"}}\n{{\"ts\":1790000001,\"source\":\"source-{s}\",\"iss\":\"https://issuer-{i}.example\",\"iat\":1790000000,\"outcome\":\"accepted\"}}\n"
            ));
        }
    }
    let r = http
        .post(format!("{url}/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap_or_else(|e| fail(&format!("POST: {e}")));
    if r.status().as_u16() != 202 {
        fail(&format!("POST answered {}", r.status()));
    }
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..50 {
        let t = Instant::now();
        let text = http
            .get(format!("{url}/metrics"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_else(|e| fail(&format!("GET /metrics: {e}")));
        times.push(t.elapsed());
        size = text.len();
    }
    times.sort();
    println!(
        "{{\"scrapes\":50,\"median_ms\":{:.2},\"p90_ms\":{:.2},\"body_bytes\":{}}}",
        times[25].as_secs_f64() * 1e3,
        times[45].as_secs_f64() * 1e3,
        size
    );
}
