//! HTTP hardening, against the real binary on loopback with raw sockets: slow and silent clients
//! are cut off by the header, idle and body timeouts, the ingestion concurrency cap answers 503
//! with `Retry-After` while `/metrics` keeps answering, and a SIGTERM lets an upload in flight
//! finish without waiting for idle connections.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::Exporter;

/// A port nothing answers on: tests must name their NTP servers, and these tests need none.
const NO_NTP: [&str; 2] = ["--ntp.server", "127.0.0.1:9"];

fn start(extra: &[&str]) -> Exporter {
    let mut args = NO_NTP.to_vec();
    args.extend_from_slice(extra);
    Exporter::start(&args)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");
    s
}

/// True when a read error only means "nothing yet".
fn would_block(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Keeps sending `trickle` one byte every `every` (nothing when empty) until the server closes
/// the connection; returns how long that took and what the server sent. Panics after `limit`.
fn wait_closed(
    s: &mut TcpStream,
    trickle: &[u8],
    every: Duration,
    limit: Duration,
) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut next = 0;
    let mut last_write = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (start.elapsed(), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if would_block(&e) => {}
            Err(_) => return (start.elapsed(), got), // reset
        }
        if !trickle.is_empty() && last_write.elapsed() >= every {
            if s.write_all(&trickle[next % trickle.len()..][..1]).is_err() {
                return (start.elapsed(), got);
            }
            next += 1;
            last_write = Instant::now();
        }
        assert!(
            start.elapsed() < limit,
            "the connection was still open after {limit:?}; the server sent {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// Reads one response: status code, head, body (by Content-Length). Panics after 10 s.
fn read_response(s: &mut TcpStream) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + len {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or_else(|| panic!("no status in {head:?}"));
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + len]).into_owned();
                return (status, head, body);
            }
        }
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "connection closed before a full response: {:?}",
                String::from_utf8_lossy(&data)
            ),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if would_block(&e) => {}
            Err(e) => panic!("read: {e}"),
        }
        assert!(Instant::now() < deadline, "no full response within 10 s");
    }
}

/// The head of a `POST /v1/events` of `len` bytes of NDJSON.
fn post_head(len: usize) -> String {
    format!(
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// An NDJSON body of exactly `len` bytes holding one valid event (padded in an ignored field).
fn event_body(len: usize) -> Vec<u8> {
    let base = r#"{"iss":"slow","outcome":"accepted","pad":""}"#;
    assert!(len >= base.len());
    let pad = "x".repeat(len - base.len());
    format!(r#"{{"iss":"slow","outcome":"accepted","pad":"{pad}"}}"#).into_bytes()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

fn timed_out(ex: &Exporter, kind: &str) -> f64 {
    ex.scrape().value(
        "skew_http_connections_timed_out_total",
        &[("timeout", kind)],
    )
}

/// Slowloris: a client that sends its headers one byte every 100 ms (never idle, never done)
/// is cut off at `--web.read-header-timeout`, and counted.
#[test]
fn slowloris_headers_are_cut_off_at_the_header_timeout() {
    let ex = start(&[
        "--web.read-header-timeout",
        "1s",
        "--web.idle-timeout",
        "30s",
    ]);
    let mut s = connect(ex.addr);
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .expect("write");
    let (took, answer) = wait_closed(
        &mut s,
        b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        Duration::from_millis(100),
        Duration::from_secs(10),
    );
    println!(
        "slow headers closed after {took:?}; the server sent {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(!String::from_utf8_lossy(&answer).contains(" 200 "));
    assert_eq!(timed_out(&ex, "header"), 1.0);
}

/// A connection that never sends a byte, and a kept-alive one after its first request, are
/// closed at the header timeout: idle connections cannot pile up.
#[test]
fn idle_and_kept_alive_connections_are_closed_at_the_header_timeout() {
    let ex = start(&["--web.read-header-timeout", "1s"]);
    let mut silent = connect(ex.addr);
    let mut kept = connect(ex.addr);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write");
    let (status, _, body) = read_response(&mut kept);
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    let (took, sent) = wait_closed(&mut silent, b"", Duration::ZERO, Duration::from_secs(10));
    assert!(sent.is_empty(), "{sent:?}");
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(5)).contains(&took),
        "silent connection closed after {took:?}"
    );
    let (took, sent) = wait_closed(&mut kept, b"", Duration::ZERO, Duration::from_secs(10));
    assert!(sent.is_empty(), "{sent:?}");
    assert!(
        took < Duration::from_secs(5),
        "kept-alive connection closed after {took:?}"
    );
    assert_eq!(timed_out(&ex, "header"), 2.0);
}

/// An upload trickled one byte every 100 ms gets 408 at `--events.read-timeout`, the connection
/// closes, nothing of it is recorded, and its slot is free again.
#[test]
fn a_trickled_upload_gets_408_at_the_read_timeout() {
    let ex = start(&[
        "--events.read-timeout",
        "1s",
        "--events.max-concurrent",
        "1",
        "--web.idle-timeout",
        "30s",
    ]);
    let mut s = connect(ex.addr);
    let body = event_body(4000);
    s.write_all(post_head(body.len()).as_bytes())
        .expect("write head");
    let start = Instant::now();
    let (took, answer) = wait_closed(
        &mut s,
        &body,
        Duration::from_millis(100),
        Duration::from_secs(10),
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("--events.read-timeout"), "{answer}");
    assert!(start.elapsed() >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let scrape = ex.scrape();
    assert_eq!(
        scrape.value(
            "skew_events_requests_refused_total",
            &[("reason", "timeout")]
        ),
        1.0
    );
    assert_eq!(
        scrape.value("skew_events_received_total", &[("transport", "http")]),
        0.0
    );
    // The only slot was released: the next upload is served.
    let resp = client()
        .post(ex.url("/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .body(event_body(100))
        .send()
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 202);
}

/// A client that requests a large `/metrics` page and stops reading it: once the socket
/// buffers are full nothing moves, and the connection is dropped at `--web.idle-timeout`
/// instead of being held (with its response) forever.
#[test]
fn a_client_that_stops_reading_is_dropped_at_the_idle_timeout() {
    let ex = start(&["--web.idle-timeout", "1s"]);
    // 32 sources x 32 issuers, each with accepted, expired and premature events: every label
    // slot filled, every histogram present (a page of several MiB).
    let mut body = String::new();
    for s in 0..32 {
        for i in 0..32 {
            let pair = format!(r#""source":"s{s}","iss":"https://issuer-{i}.example""#);
            body += &format!(
                "{{{pair},\"ts\":1790000010,\"iat\":1790000000,\"outcome\":\"accepted\"}}\n"
            );
            body += &format!("{{{pair},\"ts\":1790000010,\"iat\":1790000000,\"exp\":1790000005,\"outcome\":\"rejected\",\"reason\":\"expired\"}}\n");
            body += &format!("{{{pair},\"ts\":1790000010,\"iat\":1790000000,\"nbf\":1790000020,\"outcome\":\"rejected\",\"reason\":\"not_yet_valid\"}}\n");
        }
    }
    let resp = client()
        .post(ex.url("/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 202);
    let (_, page) = ex.get("/metrics");
    println!(
        "/metrics with every label slot filled: {} bytes",
        page.len()
    );
    // More than the server's send buffer (tcp_wmem max, 4 MiB by default) and ours can hold.
    assert!(page.len() > 6 << 20, "{} bytes", page.len());

    // A receive buffer of a few KiB, set before connecting so the window stays small.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let mut s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = sock.connect(ex.addr).await.expect("connect");
        stream.into_std().expect("into_std")
    });
    s.set_nonblocking(false).expect("blocking");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write");
    // Do not read for well past the idle timeout.
    thread::sleep(Duration::from_secs(4));
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) if would_block(&e) => {
                panic!("the stalled connection was still open ({received} bytes received)")
            }
            Err(_) => break, // reset
        }
    }
    println!(
        "the stalled client got {received} of {} bytes before the server dropped it",
        page.len()
    );
    assert!(
        received < page.len(),
        "the whole page arrived: nothing stalled"
    );
    assert_eq!(timed_out(&ex, "idle"), 1.0);
}

/// `--events.max-concurrent 2`: two uploads in progress take both slots; a third request gets
/// 503 with `Retry-After: 1`; `/metrics` and `/healthz` still answer; finishing or abandoning
/// an upload gives its slot back (no permit leaks).
#[test]
fn the_ingestion_cap_answers_503_and_metrics_still_answer() {
    let ex = start(&[
        "--events.max-concurrent",
        "2",
        "--events.read-timeout",
        "30s",
    ]);
    let body = event_body(200);
    let hold = || {
        let mut s = connect(ex.addr);
        s.write_all(post_head(body.len()).as_bytes()).expect("head");
        s.write_all(&body[..20]).expect("start of body");
        s
    };
    let post = || {
        client()
            .post(ex.url("/v1/events"))
            .header("Content-Type", "application/x-ndjson")
            .body(event_body(100))
            .send()
            .expect("POST")
    };
    // Uploads that got in before the holders took their slots (and were recorded).
    let early = std::cell::Cell::new(0.0);
    let busy = |what: &str| {
        // The holders' requests reach the handler asynchronously: allow them a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let resp = post();
            match resp.status().as_u16() {
                503 => return resp,
                202 => early.set(early.get() + 1.0),
                other => panic!("{what}: {other}"),
            }
            assert!(Instant::now() < deadline, "{what}: never 503");
            thread::sleep(Duration::from_millis(20));
        }
    };
    let no_answer_yet = |s: &mut TcpStream| {
        let mut b = [0u8; 64];
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        match s.read(&mut b) {
            Err(e) if would_block(&e) => {}
            other => panic!(
                "a holder was answered: {other:?} {:?}",
                String::from_utf8_lossy(&b)
            ),
        }
    };

    let mut h1 = hold();
    let mut h2 = hold();
    let resp = busy("two holders");
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let text = resp.text().expect("body");
    assert!(text.contains("--events.max-concurrent"), "{text}");
    no_answer_yet(&mut h1);
    no_answer_yet(&mut h2);

    // Saturated ingestion does not touch the other routes.
    let scrape = ex.scrape();
    assert!(scrape.value("skew_events_requests_refused_total", &[("reason", "busy")]) >= 1.0);
    assert_eq!(ex.get("/healthz"), (200, "ok\n".to_string()));

    // Finishing an upload frees its slot.
    h1.write_all(&body[20..]).expect("rest of body");
    let (status, _, answer) = read_response(&mut h1);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(post().status().as_u16(), 202);

    // Abandoning one frees its slot too: two new holders fit, and then the cap is full again.
    drop(h2);
    thread::sleep(Duration::from_millis(200));
    let mut h3 = hold();
    let mut h4 = hold();
    busy("two new holders");
    no_answer_yet(&mut h3);
    no_answer_yet(&mut h4);
    let received = ex
        .scrape()
        .value("skew_events_received_total", &[("transport", "http")]);
    assert_eq!(
        received,
        2.0 + early.get(),
        "h1's event, one free-slot upload, and any that came before the holders"
    );
}

/// SIGTERM with an upload half sent and an idle connection open: the upload finishes (202),
/// the idle connection is closed at once rather than at its timeout, and the exit status is 0.
#[test]
fn sigterm_lets_an_upload_in_flight_finish_and_closes_idle_connections() {
    let mut ex = start(&["--web.read-header-timeout", "8s"]);
    let body = event_body(300);
    let mut idle = connect(ex.addr);
    let mut upload = connect(ex.addr);
    upload
        .write_all(post_head(body.len()).as_bytes())
        .expect("head");
    upload.write_all(&body[..100]).expect("start of body");
    thread::sleep(Duration::from_millis(200));
    let finisher = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1500));
        upload.write_all(&body[100..]).expect("rest of body");
        read_response(&mut upload)
    });
    let start = Instant::now();
    let status = ex.terminate();
    let took = start.elapsed();
    assert!(status.success(), "exit status {status}");
    let (code, _, answer) = finisher.join().expect("finisher");
    assert_eq!(code, 202, "{answer}");
    assert!(answer.contains("\"accepted\":1"), "{answer}");
    assert!(
        took >= Duration::from_millis(1000),
        "exited before the upload finished: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "waited for the idle connection: {took:?}"
    );
    let (_, sent) = wait_closed(&mut idle, b"", Duration::ZERO, Duration::from_secs(1));
    assert!(sent.is_empty(), "{sent:?}");
}

/// Each refusal before parsing is counted in `skew_events_requests_refused_total{reason}`:
/// no or a wrong secret (401), another content type (415), an empty body (400), a body over
/// `--events.max-body` (413, also one `too_large` invalid event), and answered with
/// `Connection: close`. Nothing is recorded.
#[test]
fn refused_requests_are_counted_by_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").expect("write secret");
    let ex = start(&[
        "--events.auth-token-file",
        secret.to_str().expect("utf-8"),
        "--events.max-body",
        "4KiB",
    ]);
    let send = |auth: Option<&str>, ct: &str, body: Vec<u8>| {
        let mut req = client()
            .post(ex.url("/v1/events"))
            .header("Content-Type", ct)
            .body(body);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().expect("POST");
        // The body may be unread: the answer says the connection closes, so no client reuses
        // it for a request that would then fail unanswered.
        assert_eq!(
            resp.headers()
                .get("connection")
                .and_then(|v| v.to_str().ok()),
            Some("close"),
            "{:?}",
            resp.status()
        );
        resp.status().as_u16()
    };
    let ok = Some("Bearer s3cret");
    assert_eq!(send(None, "application/json", event_body(100)), 401);
    assert_eq!(
        send(Some("Bearer nope"), "application/json", event_body(100)),
        401
    );
    assert_eq!(send(ok, "text/plain", event_body(100)), 415);
    assert_eq!(send(ok, "application/x-ndjson", b" \n\r\n".to_vec()), 400);
    assert_eq!(send(ok, "application/x-ndjson", event_body(8000)), 413);
    let scrape = ex.scrape();
    let refused = |r| scrape.value("skew_events_requests_refused_total", &[("reason", r)]);
    assert_eq!(refused("unauthorized"), 2.0);
    assert_eq!(refused("unsupported_media_type"), 1.0);
    assert_eq!(refused("empty"), 1.0);
    assert_eq!(refused("too_large"), 1.0);
    assert_eq!((refused("busy"), refused("timeout")), (0.0, 0.0));
    assert_eq!(
        scrape.value(
            "skew_events_invalid_total",
            &[("transport", "http"), ("error", "too_large")]
        ),
        1.0
    );
    assert_eq!(
        scrape.value("skew_events_received_total", &[("transport", "http")]),
        0.0
    );
}

/// Hostile shapes that would hurt a naive server: JSON nested 100 000 deep (a stack overflow
/// in a recursive parser) in an ignored field, as a whole line and as a JSON array element;
/// 500 request headers; a 1 MiB header. serde_json skips ignored values without recursion, so
/// the nesting in an ignored field is simply ignored and a nested array where an event should
/// be is `bad_value`; the header floods get 431; the daemon keeps serving.
#[test]
fn nesting_bombs_and_header_floods_are_refused_and_survived() {
    let ex = start(&[]);
    let deep = 100_000;
    let bomb = format!("{}{}", "[".repeat(deep), "]".repeat(deep));
    let good = r#"{"iss":"idp","outcome":"accepted"}"#;

    let ndjson = format!("{good}\n{{\"outcome\":\"accepted\",\"x\":{bomb}}}\n{bomb}\n{good}\n");
    let resp = client()
        .post(ex.url("/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 202);
    let answer: serde_json::Value =
        serde_json::from_str(&resp.text().expect("body")).expect("JSON");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["invalid"].as_u64()),
        (Some(3), Some(1)),
        "{answer}"
    );
    assert_eq!(answer["errors"][0]["line"], 3, "{answer}");
    assert!(answer["errors"][0]["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("bad_value:")));

    let resp = client()
        .post(ex.url("/v1/events"))
        .header("Content-Type", "application/json")
        .body(format!("[{good},{bomb}]"))
        .send()
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 202);
    let answer = resp.text().expect("body");
    assert!(answer.contains(r#""accepted":1,"invalid":1"#), "{answer}");

    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..500 {
        many += &format!("X-Flood-{i}: y\r\n");
    }
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: {}\r\n",
        "y".repeat(1 << 20)
    );
    for (what, head) in [("500 headers", many), ("a 1 MiB header", huge)] {
        let mut s = connect(ex.addr);
        // The server may answer and close before reading it all: a failed write is fine.
        let _ = s.write_all(format!("{head}\r\n").as_bytes());
        let (_, answer) = wait_closed(&mut s, b"", Duration::ZERO, Duration::from_secs(10));
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 431 "),
            "{what}: {:?}",
            answer.lines().next()
        );
    }

    let scrape = ex.scrape();
    assert_eq!(
        scrape.value(
            "skew_events_invalid_total",
            &[("transport", "http"), ("error", "bad_value")]
        ),
        2.0
    );
    assert_eq!(
        scrape.value("skew_events_received_total", &[("transport", "http")]),
        4.0
    );
    assert_eq!(ex.get("/healthz"), (200, "ok\n".to_string()));
}

/// Invalid UTF-8 where the exporter reads a string is refused as `json`; inside a field it
/// ignores, serde_json skips it unchecked and the event is recorded (docs/bad-input.md).
#[test]
fn invalid_utf8_is_refused_where_it_is_read() {
    let ex = start(&[]);
    let body = b"{\"iss\":\"\xff\xfe\",\"outcome\":\"accepted\"}\n\
                 {\"outcome\":\"accepted\",\"note\":\"\xff\xfe\"}\n"
        .to_vec();
    let resp = client()
        .post(ex.url("/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 202);
    let answer: serde_json::Value =
        serde_json::from_str(&resp.text().expect("body")).expect("JSON");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["invalid"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(answer["errors"][0]["line"], 1);
    assert!(
        answer["errors"][0]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("json:")),
        "{answer}"
    );
}

/// Sends `GET /healthz` on each connection (closing it after) and returns how many were
/// closed without an answer: the connections the server refused.
fn unserved_among(connections: &mut [TcpStream]) -> f64 {
    let mut unserved = 0.0;
    for s in connections {
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let answered = s.write_all(request).is_ok() && {
            let (_, sent) = wait_closed(s, b"", Duration::ZERO, Duration::from_secs(10));
            sent.starts_with(b"HTTP/1.1 ")
        };
        if !answered {
            unserved += 1.0;
        }
    }
    unserved
}

/// `--web.max-connections 8`: with 8 idle connections open on the main listener, a ninth is
/// served from the scrape reserve, which answers `/metrics` and `/healthz` only (anything
/// else 503, counted as refused); once the reserve is full too, new connections are closed
/// unserved and counted. The separate events listener has its own cap of 8, without a
/// reserve. Refusals are counted per listener, exactly those the clients saw; freeing
/// connections lets clients in again.
#[test]
fn connections_over_the_cap_are_refused_and_counted_while_metrics_still_answer() {
    let ex = start(&[
        "--web.max-connections",
        "8",
        "--web.read-header-timeout",
        "60s",
        "--events.listen-address",
        "127.0.0.1:0",
    ]);
    let events = ex.listener("events");
    let refused = |s: &common::Scrape, listener| {
        s.value(
            "skew_http_connections_refused_total",
            &[("listener", listener)],
        )
    };
    let before = ex.scrape();
    assert_eq!(refused(&before, "main"), 0.0);
    assert_eq!(refused(&before, "events"), 0.0);
    // A raw request on a connection of its own; the server answers and closes it.
    let ask = |path: &str| {
        let mut s = connect(ex.addr);
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
        let (status, head, body) = read_response(&mut s);
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        let (_, rest) = wait_closed(&mut s, b"", Duration::ZERO, Duration::from_secs(10));
        assert!(rest.is_empty(), "{rest:?}");
        (status, body)
    };
    // The cap: 8 idle connections. The accept loop takes connections in order, so every
    // later connection is judged with these 8 held.
    let mut idle: Vec<TcpStream> = (0..8).map(|_| connect(ex.addr)).collect();

    // Over the cap: a scrape is served (and its connection closed), another path is not.
    let (status, body) = ask("/metrics");
    assert_eq!(status, 200, "{body}");
    let scrape = common::Scrape::parse(&body).expect("metrics");
    assert_eq!(refused(&scrape, "main"), 0.0);
    assert_eq!(ask("/healthz"), (200, "ok\n".to_string()));
    let (status, body) = ask("/");
    assert_eq!(status, 503, "{body}");
    let (status, body) = ask("/metrics");
    assert_eq!(status, 200, "{body}");
    let scrape = common::Scrape::parse(&body).expect("metrics");
    assert_eq!(refused(&scrape, "main"), 1.0);

    // The reserve full too: with 4 more idle connections, 12 are held where 8 + 4 fit, so the
    // next one is closed unserved. The server accepts in order, so once it is, every earlier
    // connection has been judged. Some of those 4 may have been refused as well (a slot is
    // free again only once the server has seen the close of an ask above): a request on each
    // tells.
    idle.extend((0..4).map(|_| connect(ex.addr)));
    let mut over = connect(ex.addr);
    let (_, sent) = wait_closed(&mut over, b"", Duration::ZERO, Duration::from_secs(10));
    assert!(sent.is_empty(), "{sent:?}");
    let unserved_main = 1.0 + unserved_among(&mut idle);

    // The events listener: its own 8, no reserve.
    let mut events_idle: Vec<TcpStream> = (0..8).map(|_| connect(events)).collect();
    let mut over = connect(events);
    let (_, sent) = wait_closed(&mut over, b"", Duration::ZERO, Duration::from_secs(10));
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(unserved_among(&mut events_idle), 0.0);

    // Freed connections make room again. The server notices the closes on their own tasks,
    // so a scrape sent at once may still find every slot taken: such attempts are closed
    // unserved, and counted, as above.
    drop(idle);
    drop(events_idle);
    let mut unserved = 0.0;
    let scrape = loop {
        assert!(unserved < 100.0, "no scrape served after freeing the slots");
        let mut s = connect(ex.addr);
        let request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if s.write_all(request).is_ok() {
            let (_, sent) = wait_closed(&mut s, b"", Duration::ZERO, Duration::from_secs(10));
            let text = String::from_utf8_lossy(&sent);
            if let Some((_, body)) = text.split_once("\r\n\r\n") {
                break common::Scrape::parse(body).expect("metrics");
            }
        }
        unserved += 1.0;
    };
    assert_eq!(refused(&scrape, "main"), 1.0 + unserved_main + unserved);
    assert_eq!(refused(&scrape, "events"), 1.0);
    assert!(!scrape.has(
        "skew_http_connections_refused_total",
        &[("listener", "verify")]
    ));
    assert_eq!(ex.get("/").0, 200);
}

/// SIGTERM with an upload that never finishes (head and part of the body sent, then
/// silence; the body deadline is a minute away): the process still ends at
/// `--web.shutdown-timeout`, exit status 0, and the upload's connection is closed.
#[test]
fn sigterm_ends_the_process_at_the_shutdown_timeout_despite_a_stuck_upload() {
    let mut ex = start(&[
        "--web.shutdown-timeout",
        "1s",
        "--events.read-timeout",
        "60s",
    ]);
    let body = event_body(300);
    let mut upload = connect(ex.addr);
    upload
        .write_all(post_head(body.len()).as_bytes())
        .expect("head");
    upload.write_all(&body[..100]).expect("start of body");
    // The request is in flight (its handler waits for the body) before the signal.
    thread::sleep(Duration::from_millis(300));
    // `terminate` waits up to 10 s for the exit and fails the test beyond that.
    let status = ex.terminate();
    assert!(status.success(), "exit status {status}\n{}", ex.log_text());
    assert!(
        ex.log_text().contains("shutdown timeout reached"),
        "{}",
        ex.log_text()
    );
    let (_, sent) = wait_closed(&mut upload, b"", Duration::ZERO, Duration::from_secs(5));
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
}
