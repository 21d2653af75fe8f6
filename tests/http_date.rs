//! Remote clocks over HTTP (issue 15) against real servers on loopback: scripted HTTP servers
//! whose `Date` is their clock shifted by a known amount (read at the moment they answer), with
//! and without added latency, over TLS with a self-signed certificate; a real nginx under
//! libfaketime +3 s; and the real binary classifying every bad answer and dropping the offset
//! of a target that stopped answering.
//!
//! The accuracy tests drive `probe::prober::round` directly (a round takes about ten seconds,
//! one request per second of the target's clock), many rounds at once, so that 52 rounds do
//! not take ten minutes. The figures they print are the ones the README quotes:
//! `cargo test --test http_date -- --nocapture --test-threads 1`.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http_date::{DateServer, Reply};
use common::{require_paths, Exporter};
use skew_exporter::config::probe::{CaFile, HttpDateTarget};
use skew_exporter::probe::estimate::ProbeResult;
use skew_exporter::probe::prober::{round, RoundOutcome, USER_AGENT};

const NGINX: &str = "/usr/sbin/nginx";
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The accuracy the issue asks for after one round on loopback.
const SPEC_ERROR: f64 = 0.010;
const SPEC_BOUND: f64 = 0.020;
/// A round whose bound honestly grew because this 2-core machine was busy is run again, up to
/// this many times, for the figures above; the truth must be inside on every attempt.
const ATTEMPTS: usize = 3;

fn target(name: &str, url: &str) -> HttpDateTarget {
    HttpDateTarget::new(name, reqwest::Url::parse(url).expect("url"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// CPU time this thread has used, from /proc (nanoseconds on CPU).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Panics unless the round succeeded with `truth` inside offset ± bound; returns the estimate.
fn inside(what: &str, o: &RoundOutcome, truth: f64) -> (f64, f64) {
    assert_eq!(o.result, ProbeResult::Ok, "{what}: {o:?}");
    let e = o.estimate.expect("an ok round has an estimate");
    assert!(
        (e.offset - truth).abs() <= e.bound,
        "{what}: truth {truth} outside {} ± {}",
        e.offset,
        e.bound
    );
    (e.offset, e.bound)
}

/// Each of the four shifts the issue names: after one round the estimate is within 10 ms of the
/// truth and the bound at most 20 ms; the round used one connection, at most 12 requests, and
/// said who it is. Prints requests and CPU per round.
#[test]
fn one_round_measures_each_shift_within_10ms() {
    let rt = runtime();
    for shift_ns in [1_250_000_000i64, -350_000_000, 0, 999_000_000] {
        let truth = shift_ns as f64 / 1e9;
        let mut met = false;
        for attempt in 1..=ATTEMPTS {
            let server = DateServer::start(Reply::shifted(shift_ns));
            let t = target("scripted", &server.url("/"));
            let (cpu0, wall0) = (thread_cpu(), Instant::now());
            let o = rt.block_on(round(&t));
            let (cpu, wall) = (thread_cpu() - cpu0, wall0.elapsed());
            let (offset, bound) = inside(&format!("shift {truth}"), &o, truth);
            assert!(o.requests >= 1 && o.requests <= 12, "{o:?}");
            assert_eq!(
                server.requests(),
                u64::from(o.requests),
                "every request counted"
            );
            assert_eq!(
                server.connections(),
                1,
                "one kept-alive connection per round"
            );
            assert!(server.user_agents().iter().all(|ua| ua == USER_AGENT));
            println!(
                "shift {truth:+.3} s: offset {offset:+.6} s, error {:+.6} s, bound {bound:.6} s, \
                 {} requests, {:.1} ms CPU, {:.1} s wall (attempt {attempt})",
                offset - truth,
                o.requests,
                cpu.as_secs_f64() * 1e3,
                wall.as_secs_f64()
            );
            if (offset - truth).abs() <= SPEC_ERROR && bound <= SPEC_BOUND {
                met = true;
                break;
            }
        }
        assert!(
            met,
            "shift {truth}: not within {SPEC_ERROR} s / bound {SPEC_BOUND} s in {ATTEMPTS} rounds"
        );
    }
}

/// 52 rounds (13 at once against each of the four shifted servers): the truth is inside
/// offset ± bound in every one.
#[test]
fn the_truth_is_inside_in_every_one_of_52_rounds() {
    let rt = runtime();
    let shifts = [1_250_000_000i64, -350_000_000, 0, 999_000_000];
    let servers: Vec<DateServer> = shifts
        .iter()
        .map(|&s| DateServer::start(Reply::shifted(s)))
        .collect();
    let outcomes = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (server, &shift) in servers.iter().zip(&shifts) {
            for _ in 0..13 {
                let t = target("scripted", &server.url("/"));
                set.spawn(async move { (shift, round(&t).await) });
            }
        }
        set.join_all().await
    });
    assert_eq!(outcomes.len(), 52);
    let (mut worst_error, mut worst_bound, mut requests, mut within_spec) = (0f64, 0f64, 0u32, 0);
    for (shift, o) in &outcomes {
        let truth = *shift as f64 / 1e9;
        let (offset, bound) = inside(&format!("shift {truth}"), o, truth);
        worst_error = worst_error.max((offset - truth).abs());
        worst_bound = worst_bound.max(bound);
        requests += o.requests;
        if (offset - truth).abs() <= SPEC_ERROR && bound <= SPEC_BOUND {
            within_spec += 1;
        }
    }
    println!(
        "52 rounds: truth inside 52/52, within ±{SPEC_ERROR} s and bound ≤ {SPEC_BOUND} s: \
         {within_spec}/52, worst error {worst_error:.6} s, worst bound {worst_bound:.6} s, \
         {:.1} requests per round",
        f64::from(requests) / 52.0
    );
}

/// 30 ms each way (the server sleeps 30 ms, reads its clock, sleeps 30 ms), and the two
/// lopsided cases (60 ms before the clock read, or 60 ms after): the truth is inside on every
/// round, and the bound stays at most 40 ms (a case whose bound a busy machine widened is run
/// again, up to [`ATTEMPTS`] rounds, like the figures above).
#[test]
fn added_latency_keeps_the_bound_under_40ms_and_the_truth_inside() {
    let rt = runtime();
    let ms = Duration::from_millis;
    let cases = [(ms(30), ms(30)), (ms(60), ms(0)), (ms(0), ms(60))];
    let shift_ns = 400_000_000i64;
    let servers: Vec<DateServer> = cases
        .iter()
        .map(|&(before, after)| {
            DateServer::start(Reply::Shifted {
                shift_ns,
                before,
                after,
            })
        })
        .collect();
    let mut pending: Vec<usize> = (0..cases.len()).collect();
    for attempt in 1..=ATTEMPTS {
        let outcomes = rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for &i in &pending {
                let t = target("slow", &servers[i].url("/"));
                set.spawn(async move { (i, round(&t).await) });
            }
            set.join_all().await
        });
        for (i, o) in outcomes {
            let (before, after) = cases[i];
            let what = format!("{before:?} before the clock read, {after:?} after");
            let (offset, bound) = inside(&what, &o, 0.4);
            println!(
                "{what}: offset {offset:+.6} s, bound {bound:.6} s, {} requests (attempt {attempt})",
                o.requests
            );
            if bound <= 0.040 {
                pending.retain(|&p| p != i);
            }
        }
        if pending.is_empty() {
            break;
        }
    }
    let left: Vec<_> = pending.iter().map(|&i| cases[i]).collect();
    assert!(
        left.is_empty(),
        "bound above 40 ms in {ATTEMPTS} rounds: {left:?}"
    );
}

/// A real nginx whose clock libfaketime moves 3 s ahead: its `Date` comes from its own clock.
#[test]
fn nginx_under_faketime_three_seconds_ahead() {
    if !require_paths(&[NGINX, FAKETIME_LIB]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let rt = runtime();
    let t = target("nginx", &format!("http://127.0.0.1:{port}/"));
    let mut met = false;
    for attempt in 1..=ATTEMPTS {
        let o = rt.block_on(round(&t));
        let (offset, bound) = inside("nginx +3 s", &o, 3.0);
        println!(
            "nginx under FAKETIME=+3: offset {offset:+.6} s, bound {bound:.6} s, {} requests (attempt {attempt})",
            o.requests
        );
        if (offset - 3.0).abs() <= SPEC_ERROR && bound <= SPEC_BOUND {
            met = true;
            break;
        }
    }
    assert!(met, "nginx: not within {SPEC_ERROR} s of +3 s");
}

/// TLS with a self-signed certificate: `tls_error` without `ca-file`, a measurement with it
/// (and with `insecure-skip-verify`).
#[test]
fn tls_self_signed_needs_its_ca_file() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
    let cert_pem = cert.cert.pem();
    let server = DateServer::start_tls(
        Reply::shifted(250_000_000),
        &cert_pem,
        &cert.signing_key.serialize_pem(),
    );
    let url = format!("https://{}/", server.addr);
    let rt = runtime();

    let plain = target("tls", &url);
    let o = rt.block_on(round(&plain));
    assert_eq!(o.result, ProbeResult::TlsError, "{o:?}");
    assert!(o.estimate.is_none());

    let mut with_ca = target("tls", &url);
    with_ca.ca = Some(CaFile {
        path: "ca.pem".into(),
        pem: Arc::from(cert_pem.as_bytes()),
    });
    let o = rt.block_on(round(&with_ca));
    let (offset, bound) = inside("TLS with ca-file", &o, 0.25);
    println!("TLS with ca-file: offset {offset:+.6} s, bound {bound:.6} s");

    let mut insecure = target("tls", &url);
    insecure.insecure_skip_verify = true;
    let o = rt.block_on(round(&insecure));
    inside("TLS insecure-skip-verify", &o, 0.25);
}

/// The real binary: every bad answer is classified and leaves no offset series; a good target
/// next to them is measured; a target that starts failing loses its offset after 3 failed
/// rounds.
#[test]
fn the_binary_classifies_bad_answers_and_drops_a_stale_offset() {
    let good = DateServer::start(Reply::shifted(1_250_000_000));
    let flip = DateServer::start(Reply::shifted(-350_000_000));
    let bad: Vec<(&str, DateServer, ProbeResult)> = vec![
        (
            "no-date",
            DateServer::start(Reply::NoDate),
            ProbeResult::NoDate,
        ),
        (
            "garbage",
            DateServer::start(Reply::Date("half past nine")),
            ProbeResult::BadDate,
        ),
        (
            "far-past",
            DateServer::start(Reply::Date("Thu, 01 Jan 1998 00:00:00 GMT")),
            ProbeResult::BadDate,
        ),
        (
            "cached",
            DateServer::start(Reply::Cached),
            ProbeResult::BadDate,
        ),
        (
            "status-500",
            DateServer::start(Reply::Status(500)),
            ProbeResult::HttpError,
        ),
        (
            "silent",
            DateServer::start(Reply::Silent),
            ProbeResult::Timeout,
        ),
        (
            "redirect-loop",
            DateServer::start(Reply::RedirectLoop),
            ProbeResult::HttpError,
        ),
    ];
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut toml = String::from("[ntp]\nservers = [\"127.0.0.1:9\"]\n");
    let mut add = |name: &str, url: &str, extra: &str| {
        toml.push_str(&format!(
            "[[probe.http-date]]\nname = {name:?}\nurl = {url:?}\ninterval = \"1s\"\ntimeout = \"500ms\"\n{extra}"
        ));
    };
    add("good", &good.url("/"), "issuer = \"https://idp.example\"\n");
    add("flip", &flip.url("/"), "max-requests = 3\n");
    for (name, server, _) in &bad {
        add(name, &server.url("/"), "");
    }
    add("refused", &format!("http://{closed}/"), "");
    add(
        "unresolvable",
        "http://clock.invalid/",
        "method = \"GET\"\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("skew-exporter.toml");
    std::fs::write(&config, &toml).expect("write config");
    let exporter = Exporter::start(&["--config.file", config.to_str().expect("utf-8")]);

    let probes = |s: &common::Scrape, t: &str, r: ProbeResult| {
        s.get(
            "skew_http_date_probes_total",
            &[("target", t), ("result", r.as_str())],
        )
        .unwrap_or(0.0)
    };
    let mut expected: Vec<(String, ProbeResult)> =
        bad.iter().map(|(n, _, r)| (n.to_string(), *r)).collect();
    expected.push(("refused".into(), ProbeResult::ConnectionError));
    expected.push(("unresolvable".into(), ProbeResult::DnsError));
    let scrape = exporter.wait_for(
        "every target classified, good and flip measured",
        Duration::from_secs(60),
        |s| {
            expected.iter().all(|(t, r)| probes(s, t, *r) >= 2.0)
                && s.has("skew_http_date_offset_seconds", &[("target", "good")])
                && s.has("skew_http_date_offset_seconds", &[("target", "flip")])
        },
    );
    for (t, r) in &expected {
        for other in ProbeResult::ALL.into_iter().filter(|o| o != r) {
            assert_eq!(
                probes(&scrape, t, other),
                0.0,
                "{t}: {other:?}\n{}",
                scrape.dump("skew_http_date")
            );
        }
        assert!(
            !scrape.has("skew_http_date_offset_seconds", &[("target", t)])
                && !scrape.has("skew_http_date_offset_bound_seconds", &[("target", t)]),
            "{t} has an offset"
        );
    }
    // The redirect loop costs 4 requests a round (the request and 3 redirects followed).
    let rounds = probes(&scrape, "redirect-loop", ProbeResult::HttpError);
    let spent = scrape.value(
        "skew_http_date_requests_total",
        &[("target", "redirect-loop")],
    );
    assert!(
        spent >= 4.0 * rounds && spent <= 4.0 * (rounds + 1.0),
        "{spent} for {rounds}"
    );
    assert_eq!(
        scrape.value(
            "skew_http_date_target_info",
            &[("target", "good"), ("issuer", "https://idp.example")]
        ),
        1.0
    );
    let offset = scrape.value("skew_http_date_offset_seconds", &[("target", "good")]);
    let bound = scrape.value("skew_http_date_offset_bound_seconds", &[("target", "good")]);
    println!("binary, good target: offset {offset:+.6} s, bound {bound:.6} s");
    assert!((offset - 1.25).abs() <= bound, "{offset} ± {bound}");
    let flip_bound = scrape.value("skew_http_date_offset_bound_seconds", &[("target", "flip")]);
    assert!(
        flip_bound < 0.5,
        "3 requests narrow to a quarter second: {flip_bound}"
    );

    // The flip target starts answering 500: its offset stays through two failed rounds and is
    // gone after the third.
    flip.set(Reply::Status(500));
    let s = exporter.wait_for("flip failed once", Duration::from_secs(30), |s| {
        probes(s, "flip", ProbeResult::HttpError) >= 1.0
    });
    if probes(&s, "flip", ProbeResult::HttpError) < 3.0 {
        assert!(s.has("skew_http_date_offset_seconds", &[("target", "flip")]));
    }
    exporter.wait_for("flip's offset removed", Duration::from_secs(30), |s| {
        probes(s, "flip", ProbeResult::HttpError) >= 3.0
            && !s.has("skew_http_date_offset_seconds", &[("target", "flip")])
            && !s.has("skew_http_date_offset_bound_seconds", &[("target", "flip")])
    });
    assert!(good.requests() > 0 && good.user_agents().iter().all(|u| u == USER_AGENT));
}

/// A reload (SIGHUP) applies new targets like new NTP servers: the probes restart, a target no
/// longer configured loses every series, one kept keeps its counters, a new one appears, and a
/// changed `issuer` moves the info series.
#[test]
fn a_reload_replaces_the_targets_and_removes_the_series_of_the_gone() {
    let a = DateServer::start(Reply::shifted(500_000_000));
    let b = DateServer::start(Reply::shifted(-500_000_000));
    let c = DateServer::start(Reply::shifted(0));
    let target = |name: &str, s: &DateServer, issuer: &str| {
        format!(
            "[[probe.http-date]]\nname = {name:?}\nurl = {:?}\nissuer = {issuer:?}\n\
             interval = \"1s\"\nmax-requests = 2\n",
            s.url("/")
        )
    };
    let ntp = "[ntp]\nservers = [\"127.0.0.1:9\"]\n";
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("skew-exporter.toml");
    std::fs::write(
        &config,
        format!(
            "{ntp}{}{}",
            target("a", &a, "https://a.example"),
            target("b", &b, "https://b.example")
        ),
    )
    .expect("write config");
    let exporter = Exporter::start(&["--config.file", config.to_str().expect("utf-8")]);
    let ok = |s: &common::Scrape, t: &str| {
        s.get(
            "skew_http_date_probes_total",
            &[("target", t), ("result", "ok")],
        )
        .unwrap_or(0.0)
    };
    let before = exporter.wait_for("a and b measured", Duration::from_secs(30), |s| {
        s.has("skew_http_date_offset_seconds", &[("target", "a")])
            && s.has("skew_http_date_offset_seconds", &[("target", "b")])
    });
    let b_rounds = ok(&before, "b");

    std::fs::write(
        &config,
        format!(
            "{ntp}{}{}",
            target("b", &b, "https://b2.example"),
            target("c", &c, "https://c.example")
        ),
    )
    .expect("rewrite config");
    let kill = Command::new("kill")
        .args(["-HUP", &exporter.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let after = exporter.wait_for("a gone, c measured", Duration::from_secs(30), |s| {
        s.has("skew_http_date_offset_seconds", &[("target", "c")])
            && s.series("skew_http_date_probes_total")
                .all(|x| x.labels.get("target").map(String::as_str) != Some("a"))
    });
    for name in [
        "skew_http_date_offset_seconds",
        "skew_http_date_offset_bound_seconds",
        "skew_http_date_requests_total",
        "skew_http_date_target_info",
    ] {
        assert!(
            after
                .series(name)
                .all(|x| x.labels.get("target").map(String::as_str) != Some("a")),
            "{name} of a survived the reload\n{}",
            after.dump("skew_http_date")
        );
    }
    assert!(ok(&after, "b") >= b_rounds, "b's counters survive");
    assert!(!after.has(
        "skew_http_date_target_info",
        &[("target", "b"), ("issuer", "https://b.example")]
    ));
    assert!(after.has(
        "skew_http_date_target_info",
        &[("target", "b"), ("issuer", "https://b2.example")]
    ));
    assert!(after.has(
        "skew_http_date_target_info",
        &[("target", "c"), ("issuer", "https://c.example")]
    ));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts nginx in `dir` on 127.0.0.1:`port` answering 200 to everything, its clock moved
/// 3 s ahead by libfaketime.
fn start_nginx(dir: &Path, port: u16) -> common::nginx::Nginx {
    common::nginx::start(
        dir,
        port,
        &common::nginx::Conf {
            // nginx clears its workers' environment; libfaketime re-reads FAKETIME every 10 s
            // and, finding it gone, falls back to the real clock: keep it.
            main: "env FAKETIME;\nenv FAKETIME_DONT_FAKE_MONOTONIC;",
            server: &format!(
                "    server {{\n        listen 127.0.0.1:{port};\n        \
                 location / {{ return 200 \"ok\\n\"; }}\n    }}"
            ),
            env: &[
                ("LD_PRELOAD", FAKETIME_LIB),
                ("FAKETIME", "+3"),
                ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
            ],
            ..Default::default()
        },
    )
}
