//! Fleet-scale aggregation: one exporter per host, Prometheus sums. Three exporters (A, B, C)
//! each fed an interleaved third of an event stream and one exporter (D) fed the whole stream
//! are scraped every second by a real `prometheus` on loopback, in two jobs (`fleet`: A, B, C
//! with target label `cluster="fleet"`; `single`: D with `cluster="single"`), with the fleet
//! recording rules (`alerts/skew-exporter.recording.rules.yml`) loaded as they are.
//!
//! Through Prometheus's HTTP API, once every target has been scraped after the last event:
//! - for every counter and histogram family the events produce, every label combination,
//!   every `le` bucket, `_count` and `_sum`: `sum without (instance, job, cluster)` over the
//!   fleet equals the single exporter (counts exactly, sums of floats within 1e-9 relative);
//! - the recorded fleet age quantiles agree with the single exporter's: both lie within the
//!   bounds that Prometheus's `rate()` extrapolation allows around the quantile of the exact
//!   bucket counts (see [`quantile_bounds`]), and the recorded issuer lead maximum is equal.
//!
//! The stream is `skew_exporter::synth` with a world chosen so that token ages fall into every
//! bucket of `skew_jwt_age_seconds` (negative ones and +Inf included), every rejection reason
//! occurs, `expired_by` and `premature_by` spread over many buckets, one issuer is outside the
//! allow-list (folded into `other`), and a few invalid lines are interleaved.
//!
//! Loopback only: the exporters' NTP server is 127.0.0.1:9, where nothing answers, and
//! everything listens on 127.0.0.1 with ephemeral ports. Needs /usr/bin/prometheus (Debian
//! package `prometheus`); without it the test prints SKIPPED, or fails when CI=true. Run with
//! `cargo test --test fleet -- --nocapture` to see the figures.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use skew_exporter::synth::{Generated, Generator, IssuerSpec, Spec, Truth};

use common::prometheus::{sample_value, Prometheus, PROMETHEUS};
use common::{require_paths, Exporter};

/// A port nothing answers on: the exporters must name an NTP server, and this test needs none.
const NO_NTP: [&str; 2] = ["--ntp.server", "127.0.0.1:9"];

/// The recording rules under test, relative to the repository root.
const RECORDING_RULES: &str = "alerts/skew-exporter.recording.rules.yml";

/// Events in the stream (A, B and C get a third each, D all of them).
const EVENTS: usize = 60_000;
/// An invalid line follows every this many events.
const INVALID_EVERY: usize = 997;
/// Invalid lines, with the `error` label each is counted under.
const INVALID: [(&str, &str); 3] = [
    ("this is not json", "json"),
    (r#"{"iat":1790000000}"#, "missing_field"),
    (r#"{"iat":"yesterday","outcome":"accepted"}"#, "bad_value"),
];
/// Lines per POST.
const BATCH: usize = 1_000;

/// The issuer left out of the exporters' allow-list: its events are counted under `other`.
const UNLISTED: &str = "https://unlisted.example";

/// Samples of every target the quantile comparison waits for in the rules' 5-minute window:
/// the more samples, the less `rate()` may extrapolate (see [`quantile_bounds`]).
const MIN_SAMPLES: usize = 25;

/// Bound on the whole test from Prometheus's start. Must stay well under the rules' 5-minute
/// window, so that the window always reaches back to the first scrape. It typically takes
/// about 30 s: Prometheus applies its first targets about 5 s after start, then
/// [`MIN_SAMPLES`] scrapes a second apart (the whole test about 40 s).
const DEADLINE: Duration = Duration::from_secs(150);

/// The recorded quantiles and the issuer-lead maximum of the rule file.
const QUANTILES: &str = "cluster_issuer_outcome_quantile:skew_jwt_age_seconds:histogram_quantile";
const LEAD_MAX: &str = "cluster_issuer:skew_jwt_issuer_lead_seconds:max";

/// Default bounds of `skew_jwt_age_seconds` (README, "Metrics").
const AGE_BUCKETS: [f64; 25] = [
    -300.0, -60.0, -30.0, -10.0, -5.0, -2.0, -1.0, -0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5, 1.0,
    2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 86400.0,
];

/// Counter families (by prefix) that something other than the events moves, so the fleet's sum
/// need not equal the single exporter: left out of the comparison.
const NOT_FROM_EVENTS: [(&str, &str); 3] = [
    ("skew_ntp_", "the NTP sampler's, moved by its timing"),
    (
        "skew_http_connections_timed_out_total",
        "idle keep-alive connections of the test's client and of Prometheus",
    ),
    (
        "skew_events_requests_refused_total",
        "requests refused before any event is read (none here)",
    ),
];

/// Families with a label each exporter decides from its own state, not from the event alone:
/// the split by that label is per instance, the sum over it must still equal the single
/// exporter's. The `cause` of a time rejection uses the issuer lead that exporter measured for
/// the pair, and three exporters seeing a third of a pair's events each measure three leads.
const STATEFUL_LABEL: [(&str, &str); 1] = [("skew_jwt_time_rejections_total", "cause")];

/// The families these events must produce (histograms by their base name). Of issue 13's
/// counters and histograms, `skew_jwt_leeway_used_seconds` is the one this world cannot
/// produce (its verifier accepts no token outside the strict window); it sums like any
/// histogram of per-event observations.
const PRODUCED: [&str; 12] = [
    "skew_events_received_total",
    "skew_events_invalid_total",
    "skew_label_overflow_total",
    "skew_jwt_verifications_total",
    "skew_jwt_rejections_total",
    "skew_jwt_age_seconds",
    "skew_jwt_expired_by_seconds",
    "skew_jwt_premature_by_seconds",
    "skew_jwt_time_rejections_total",
    "skew_jwt_verification_delay_seconds",
    "skew_jwt_rejection_lifetime_fraction",
    "skew_jwt_key_verifications_total",
];

/// The synthetic world: issuers from 400 s ahead to a day behind, so that token ages (delay
/// minus lead; the delay is 0..2 s, or over an hour for the stale 2 %) reach every age bucket;
/// lifetimes of 1 s, 5 s and 10 s for tokens that expire a few seconds after issue. The two
/// issuers far ahead have a 1 s lifetime so that their (rare) stale tokens are expired rather
/// than accepted: every age series then starts early in the stream (see [`coverage`]).
fn world() -> Spec {
    let issuer = |name: &str, lead: f64, lifetime: f64| IssuerSpec {
        name: name.to_owned(),
        lead,
        lifetime,
    };
    Spec {
        issuers: vec![
            issuer("https://far-ahead.example", 400.0, 1.0),
            issuer("https://minutes-ahead.example", 100.0, 1.0),
            issuer("https://40s-ahead.example", 40.0, 600.0),
            issuer("https://15s-ahead.example", 15.0, 600.0),
            issuer("https://7s-ahead.example", 7.0, 300.0),
            issuer("https://ahead.example", 3.2, 300.0),
            issuer("https://near.example", 1.0, 300.0),
            issuer("https://synced.example", 0.0, 1.0),
            issuer("https://behind.example", -1.5, 900.0),
            issuer("https://8s-behind.example", -8.0, 5.0),
            issuer("https://20s-behind.example", -20.0, 10.0),
            issuer("https://45s-behind.example", -45.0, 600.0),
            issuer(UNLISTED, -200.0, 900.0),
            issuer("https://day-behind.example", -100_000.0, 3600.0),
        ],
        stale_share: 0.02,
        bad_signature_share: 0.01,
        issued_in_future_share: 0.3,
        other_reason_share: 0.05,
        // received, leeway and kid on every line: their families must sum too.
        verdict_fields: true,
        ..Spec::default()
    }
}

/// One line of the stream: an event (with its facts) or an invalid line.
enum Line {
    Event(String, Generated),
    Invalid(&'static str, &'static str),
}

impl Line {
    fn text(&self) -> &str {
        match self {
            Line::Event(text, _) => text,
            Line::Invalid(text, _) => text,
        }
    }
}

/// The whole stream, in order. Line `k` goes to fleet member `k % 3`, and to D.
fn stream(spec: &Spec) -> Vec<Line> {
    let mut lines = Vec::with_capacity(EVENTS + EVENTS / INVALID_EVERY + 1);
    for (n, g) in Generator::new(spec.clone()).take(EVENTS).enumerate() {
        lines.push(Line::Event(g.to_json(spec), g));
        if (n + 1) % INVALID_EVERY == 0 {
            let (text, error) = INVALID[(n / INVALID_EVERY) % INVALID.len()];
            lines.push(Line::Invalid(text, error));
        }
    }
    lines
}

/// The issuer label the exporters give an issuer (allow-list: everything else is `other`).
fn issuer_label(spec: &Spec, g: &Generated) -> String {
    let name = &spec.issuers[g.issuer].name;
    if name == UNLISTED {
        "other".to_owned()
    } else {
        name.clone()
    }
}

/// The key of the age histogram child an event lands in: (source, issuer, outcome).
fn age_key(spec: &Spec, g: &Generated) -> (String, String, &'static str) {
    let outcome = if g.reason.is_some() {
        "rejected"
    } else {
        "accepted"
    };
    (
        spec.sources[g.source].clone(),
        issuer_label(spec, g),
        outcome,
    )
}

/// Which lines each target gets: A, B, C (`k % 3`) and D (everything).
fn targets_of(k: usize) -> [bool; 4] {
    [k % 3 == 0, k % 3 == 1, k % 3 == 2, true]
}

/// `rate()` only counts what a series gained after its first sample. The primer (the lines
/// before `cut`) is posted before Prometheus starts, so every series it creates has its
/// first sample at the primer's counts, and `rate()` sees exactly the rest; a series born
/// later would lose the events before its first scrape. So every age series (and with it every
/// verifications series) that a target gets after the cut must already exist before it.
/// Returns the problems (empty when the stream is fit).
fn coverage(spec: &Spec, lines: &[Line], cut: usize) -> Vec<String> {
    let mut problems = Vec::new();
    for t in 0..4 {
        let keys = |range: &[Line], offset: usize| -> BTreeSet<(String, String, &'static str)> {
            range
                .iter()
                .enumerate()
                .filter(|(i, _)| targets_of(offset + i)[t])
                .filter_map(|(_, l)| match l {
                    Line::Event(_, g) => Some(age_key(spec, g)),
                    Line::Invalid(..) => None,
                })
                .collect()
        };
        let before = keys(&lines[..cut], 0);
        let after = keys(&lines[cut..], cut);
        for k in after.difference(&before) {
            problems.push(format!(
                "target {t}: age series {k:?} first appears after the primer"
            ));
        }
    }
    problems
}

/// The exact cumulative bucket counts (bounds of [`AGE_BUCKETS`], then +Inf) of the ages in
/// `lines` per (issuer, outcome), over all sources: what every target together gained after
/// its first sample.
fn age_counts(spec: &Spec, lines: &[Line]) -> BTreeMap<(String, String), Vec<f64>> {
    let mut counts: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for l in lines {
        let Line::Event(_, g) = l else { continue };
        let (_, issuer, outcome) = age_key(spec, g);
        let c = counts
            .entry((issuer, outcome.to_owned()))
            .or_insert_with(|| vec![0.0; AGE_BUCKETS.len() + 1]);
        let age = g.ts - g.iat;
        for (i, le) in AGE_BUCKETS.iter().chain([f64::INFINITY].iter()).enumerate() {
            if age <= *le {
                c[i] += 1.0;
            }
        }
    }
    counts
}

/// `histogram_quantile` as Prometheus 2.x computes it from cumulative `counts` over
/// [`AGE_BUCKETS`] and +Inf: linear interpolation inside the bucket that holds the rank; the
/// lowest bucket's bound when that bound is not positive; the highest finite bound for ranks in
/// +Inf; NaN without observations.
fn bucket_quantile(q: f64, counts: &[f64]) -> f64 {
    let total = counts[counts.len() - 1];
    if total == 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let b = counts[..counts.len() - 1]
        .iter()
        .position(|&c| c >= rank)
        .unwrap_or(counts.len() - 1);
    if b == counts.len() - 1 {
        return AGE_BUCKETS[AGE_BUCKETS.len() - 1];
    }
    if b == 0 && AGE_BUCKETS[0] <= 0.0 {
        return AGE_BUCKETS[0];
    }
    let (start, below) = if b == 0 {
        (0.0, 0.0)
    } else {
        (AGE_BUCKETS[b - 1], counts[b - 1])
    };
    start + (AGE_BUCKETS[b] - start) * ((rank - below) / (counts[b] - below))
}

/// The share of the observations at or below `v`, interpolated inside its bucket as
/// [`bucket_quantile`] does (its inverse): how far apart two quantile values are in quantile
/// terms. None at or below the lowest bound, where `bucket_quantile` clamps.
fn rank_of(v: f64, counts: &[f64]) -> Option<f64> {
    let b = AGE_BUCKETS.iter().position(|&le| v <= le)?;
    if b == 0 {
        return None;
    }
    let (start, end, below) = (AGE_BUCKETS[b - 1], AGE_BUCKETS[b], counts[b - 1]);
    let at = below + (counts[b] - below) * (v - start) / (end - start);
    Some(at / counts[counts.len() - 1])
}

/// The interval in which a quantile recorded from `rate()` of buckets must lie.
///
/// `rate()` is the increase between the first and last sample in the window, extrapolated
/// towards the window's edges by at most 1.1 average sample intervals at each end, and divided
/// by the window. With `n` samples that multiplies each series' exact increase by a factor in
/// [1, 1 + 2.2/(n − 1)], a factor that differs between series (with their scrape times and
/// first values): it is why a fleet quantile and a single exporter's quantile agree closely
/// but not to the last bit. If every summed bucket lies between its exact count and
/// (1 + ε) times it, the quantile at `q` lies between the exact counts' quantiles at q/(1 + ε)
/// and q·(1 + ε).
fn quantile_bounds(q: f64, counts: &[f64], samples: usize) -> (f64, f64) {
    let eps = 2.2 / (samples as f64 - 1.0);
    (
        bucket_quantile(q / (1.0 + eps), counts),
        bucket_quantile((q * (1.0 + eps)).min(1.0), counts),
    )
}

/// The exporters' configuration: the issuer allow-list without [`UNLISTED`]. An allow-list maps
/// every value the same way on every exporter; `max-issuers` keeps the first values each
/// exporter happens to see, which differ across a fleet.
fn write_config(dir: &Path, spec: &Spec) -> String {
    let allowed: Vec<String> = spec
        .issuers
        .iter()
        .filter(|i| i.name != UNLISTED)
        .map(|i| format!("{:?}", i.name))
        .collect();
    let path = dir.join("skew-exporter.toml");
    std::fs::write(
        &path,
        format!(
            "# written by tests/fleet.rs\n[events]\nissuers = [{}]\n",
            allowed.join(", ")
        ),
    )
    .expect("write exporter config");
    path.to_str().expect("utf-8 path").to_owned()
}

fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// POSTs `lines` (indices into the stream) to each target that gets them, in NDJSON batches,
/// and checks every answer. Returns (events, invalid lines) posted per target.
fn post(
    client: &reqwest::blocking::Client,
    exporters: &[Exporter],
    lines: &[Line],
    range: std::ops::Range<usize>,
) -> [(u64, u64); 4] {
    let mut posted = [(0u64, 0u64); 4];
    for (t, ex) in exporters.iter().enumerate() {
        let mine: Vec<&Line> = range
            .clone()
            .filter(|&k| targets_of(k)[t])
            .map(|k| &lines[k])
            .collect();
        for batch in mine.chunks(BATCH) {
            let valid = batch
                .iter()
                .filter(|l| matches!(l, Line::Event(..)))
                .count() as u64;
            let invalid = batch.len() as u64 - valid;
            let body: String = batch.iter().map(|l| format!("{}\n", l.text())).collect();
            let url = ex.url("/v1/events");
            let resp = client
                .post(&url)
                .header("Content-Type", "application/x-ndjson")
                .body(body)
                .send()
                .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            let status = resp.status().as_u16();
            let text = resp.text().expect("response body");
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            assert!(
                status == 202 && answer["accepted"] == valid && answer["invalid"] == invalid,
                "POST {url}: {status} {answer}, expected {valid} accepted, {invalid} invalid"
            );
            posted[t].0 += valid;
            posted[t].1 += invalid;
        }
    }
    posted
}

/// A series' labels as a map, without `__name__`.
fn labels(sample: &Value) -> BTreeMap<String, String> {
    sample["metric"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| *k != "__name__")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The result of `query` at `time` as labels → value.
fn query_map(prom: &Prometheus, query: &str, time: f64) -> BTreeMap<BTreeMap<String, String>, f64> {
    prom.query_at(query, time)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .iter()
        .map(|s| (labels(s), sample_value(s)))
        .collect()
}

/// The counter and histogram families of an exposition (histograms by base name), from its
/// `# TYPE` lines.
fn families(exposition: &str) -> Vec<(String, String)> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .filter(|(_, t)| t == "counter" || t == "histogram")
        .collect()
}

/// Polls `cond` every 500 ms until it returns `Ok`; once the test's deadline (counted from
/// `since`) has passed, panics with `what`, the last error and Prometheus's log.
fn poll<T>(
    prom: &Prometheus,
    since: Instant,
    what: &str,
    mut cond: impl FnMut() -> Result<T, String>,
) -> T {
    loop {
        let last = match cond() {
            Ok(v) => return v,
            Err(e) => e,
        };
        if since.elapsed() > DEADLINE {
            panic!(
                "after {DEADLINE:?}, still waiting for {what}: {last}\nprometheus log:\n{}",
                prom.log_text()
            );
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// The proof that counters and histogram buckets sum across a fleet: A + B + C = D, through a
/// real Prometheus, and the recorded fleet quantiles and lead with them.
#[test]
fn three_exporters_sum_to_one_that_saw_everything() {
    if !require_paths(&[PROMETHEUS]) {
        return;
    }
    let started = Instant::now();
    let spec = world();
    let lines = stream(&spec);
    let cut = lines.len() / 2;
    let problems = coverage(&spec, &lines, cut);
    assert!(
        problems.is_empty(),
        "the stream does not fit the test: {}",
        problems.join("\n")
    );
    // What every target together gains after its first sample, per (issuer, outcome).
    let exact = age_counts(&spec, &lines[cut..]);

    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &spec);
    let exporters: Vec<Exporter> = (0..4)
        .map(|_| {
            let mut args = vec!["--config.file", config.as_str()];
            args.extend(NO_NTP);
            Exporter::start(&args)
        })
        .collect();
    let instances: Vec<String> = exporters.iter().map(|e| e.addr.to_string()).collect();
    let client = http_client();

    // The primer, before Prometheus exists: the first sample of every series holds it.
    let primer = post(&client, &exporters, &lines, 0..cut);
    let posted_primer = started.elapsed();

    let prom_dir = tempfile::tempdir().expect("temp dir");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDING_RULES);
    let quoted = |v: &[String]| -> String {
        v.iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let prom_config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {:?}\n\
         scrape_configs:\n\
         \x20 - job_name: fleet\n    static_configs:\n      - targets: [{}]\n        labels: {{cluster: fleet}}\n\
         \x20 - job_name: single\n    static_configs:\n      - targets: [{}]\n        labels: {{cluster: single}}\n",
        rules.display().to_string(),
        quoted(&instances[..3]),
        quoted(&instances[3..]),
    );
    let prom = Prometheus::start(prom_dir, &prom_config);
    let prom_started = Instant::now();
    let received = r#"skew_events_received_total{transport="http"}"#;

    // Every target scraped once with the primer: the baseline of every series.
    poll(
        &prom,
        prom_started,
        "a first scrape of every target",
        || {
            let seen = prom
                .query(&format!("count_over_time({received}[5m])"))
                .map_err(|e| e.to_string())?;
            if seen.len() == 4 {
                Ok(())
            } else {
                Err(format!("{} of 4 targets scraped", seen.len()))
            }
        },
    );
    let baseline = prom_started.elapsed();

    // The rest of the stream.
    let rest = post(&client, &exporters, &lines, cut..lines.len());
    let expected: Vec<(u64, u64)> = (0..4)
        .map(|t| (primer[t].0 + rest[t].0, primer[t].1 + rest[t].1))
        .collect();
    assert_eq!(
        expected[..3].iter().map(|e| e.0).sum::<u64>(),
        expected[3].0,
        "the fleet must get exactly the events D gets"
    );
    let posted_all = prom_started.elapsed();

    // Every target scraped after its last event.
    let final_at = poll(&prom, prom_started, "every target's final counts", || {
        let now = skew_exporter::unix_now();
        let got = query_map(&prom, received, now);
        for (t, instance) in instances.iter().enumerate() {
            let v = got
                .iter()
                .find(|(l, _)| l.get("instance") == Some(instance))
                .map(|(_, v)| *v);
            if v != Some(expected[t].0 as f64) {
                return Err(format!("{instance}: {v:?} of {} events", expected[t].0));
            }
        }
        Ok(now)
    });
    let scraped_all = prom_started.elapsed();

    // A rule evaluation after that, with at least MIN_SAMPLES samples of every target in the
    // rules' window.
    let (at, samples) = poll(&prom, prom_started, "the recording rules", || {
        let now = skew_exporter::unix_now();
        let stamps = prom
            .query_at(&format!("timestamp({QUANTILES})"), now)
            .map_err(|e| e.to_string())?;
        let at = stamps.iter().map(sample_value).fold(f64::NAN, f64::max);
        if at.is_nan() || at <= final_at {
            return Err(format!("no evaluation after the final scrape yet ({at})"));
        }
        let n = prom
            .query_at(&format!("min(count_over_time({received}[5m]))"), at)
            .map_err(|e| e.to_string())?
            .first()
            .map(sample_value)
            .unwrap_or(0.0);
        if n < MIN_SAMPLES as f64 {
            return Err(format!("{n} samples per target in the window"));
        }
        Ok((at, n as usize))
    });
    let evaluated = prom_started.elapsed();

    // Every counter and histogram family the events produced: fleet sum = single.
    let (status, exposition) = exporters[3].get("/metrics");
    assert_eq!(status, 200);
    let mut compared = BTreeMap::new();
    let mut produced = BTreeSet::new();
    for (family, kind) in families(&exposition) {
        if !family.starts_with("skew_")
            || NOT_FROM_EVENTS.iter().any(|(p, _)| family.starts_with(p))
        {
            continue;
        }
        let names: Vec<String> = if kind == "histogram" {
            ["_bucket", "_count", "_sum"]
                .iter()
                .map(|s| format!("{family}{s}"))
                .collect()
        } else {
            vec![family.clone()]
        };
        let stateful = STATEFUL_LABEL
            .iter()
            .find(|(f, _)| *f == family)
            .map(|(_, label)| format!(", {label}"))
            .unwrap_or_default();
        for name in names {
            let sum = |job: &str| {
                query_map(
                    &prom,
                    &format!(
                        "sum without (instance, job, cluster{stateful}) ({name}{{job={job:?}}})"
                    ),
                    at,
                )
            };
            let (fleet, single) = (sum("fleet"), sum("single"));
            if single.values().all(|v| *v == 0.0) {
                continue;
            }
            produced.insert(family.clone());
            let fleet_keys: BTreeSet<_> = fleet.keys().collect();
            let single_keys: BTreeSet<_> = single.keys().collect();
            assert_eq!(fleet_keys, single_keys, "{name}: label sets differ");
            for (l, s) in &single {
                let f = fleet[l];
                let equal = if name.ends_with("_sum") {
                    (f - s).abs() <= 1e-9 * f.abs().max(s.abs())
                } else {
                    f == *s
                };
                assert!(equal, "{name}{l:?}: fleet {f} != single {s}");
            }
            compared.insert(name, single.len());
        }
    }
    for f in PRODUCED {
        assert!(produced.contains(f), "the events did not produce {f}");
    }
    let series: usize = compared.values().sum();

    // The stream is what the test says it is: ages in every bucket, every reason.
    let ages = query_map(
        &prom,
        r#"sum by (le) (skew_jwt_age_seconds_bucket{job="single"})"#,
        at,
    );
    let mut cumulative: Vec<(f64, f64)> = ages
        .iter()
        .map(|(l, v)| (l["le"].parse::<f64>().expect("le"), *v))
        .collect();
    cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(cumulative.len(), AGE_BUCKETS.len() + 1, "{cumulative:?}");
    let mut below = 0.0;
    for (le, c) in &cumulative {
        assert!(
            *c > below,
            "no token age in the bucket up to {le}: {cumulative:?}"
        );
        below = *c;
    }
    let reasons = query_map(
        &prom,
        r#"sum by (reason) (skew_jwt_rejections_total{job="single"})"#,
        at,
    );
    assert_eq!(reasons.len(), 13, "every rejection reason: {reasons:?}");
    let nonempty = |family: &str| -> usize {
        let mut c: Vec<(f64, f64)> = query_map(
            &prom,
            &format!("sum by (le) ({family}_bucket{{job=\"single\"}})"),
            at,
        )
        .iter()
        .map(|(l, v)| (l["le"].parse::<f64>().expect("le"), *v))
        .collect();
        c.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut below = 0.0;
        c.iter()
            .filter(|(_, v)| {
                let more = *v > below;
                below = *v;
                more
            })
            .count()
    };
    let (expired_buckets, premature_buckets) = (
        nonempty("skew_jwt_expired_by_seconds"),
        nonempty("skew_jwt_premature_by_seconds"),
    );
    assert!(
        expired_buckets >= 8 && premature_buckets >= 8,
        "expired_by in {expired_buckets} buckets, premature_by in {premature_buckets}"
    );

    // The recording rules: all healthy, the token rules recorded for both clusters.
    let groups = prom.api("/api/v1/rules", &[]).expect("rules API");
    let loaded: Vec<&Value> = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .collect();
    assert!(!loaded.is_empty(), "no rule loaded: {groups}");
    for r in &loaded {
        assert_eq!(r["health"], "ok", "rule {}: {}", r["name"], r["lastError"]);
    }
    let names: BTreeSet<&str> = loaded.iter().filter_map(|r| r["name"].as_str()).collect();
    for name in &names {
        let got = query_map(&prom, name, at);
        let clusters = |c: &str| -> BTreeSet<BTreeMap<String, String>> {
            got.keys()
                .filter(|l| l.get("cluster").map(String::as_str) == Some(c))
                .map(|l| {
                    let mut l = l.clone();
                    l.remove("cluster");
                    l
                })
                .collect()
        };
        if name.contains("skew_ntp_") {
            // No NTP server answers: no system offset, nothing to record.
            assert!(got.is_empty(), "{name}: {got:?}");
            continue;
        }
        assert!(!clusters("fleet").is_empty(), "{name}: nothing recorded");
        assert_eq!(
            clusters("fleet"),
            clusters("single"),
            "{name}: the fleet and the single exporter have different series"
        );
    }

    // The fleet's recorded age quantiles against the single exporter's.
    let recorded = query_map(&prom, QUANTILES, at);
    let mut checked = 0;
    let (mut max_diff, mut max_rank_diff) = (0.0f64, 0.0f64);
    for (l, single) in recorded
        .iter()
        .filter(|(l, _)| l.get("cluster").map(String::as_str) == Some("single"))
    {
        let mut fl = l.clone();
        fl.insert("cluster".into(), "fleet".into());
        let fleet = *recorded
            .get(&fl)
            .unwrap_or_else(|| panic!("{QUANTILES}{l:?}: none for the fleet"));
        let key = (l["issuer"].clone(), l["outcome"].clone());
        let q: f64 = l["quantile"].parse().expect("quantile label");
        let counts = exact.get(&key).map(Vec::as_slice).unwrap_or(&[0.0]);
        if counts[counts.len() - 1] == 0.0 {
            assert!(fleet.is_nan() && single.is_nan(), "{l:?}: {fleet} {single}");
            continue;
        }
        let (lo, hi) = quantile_bounds(q, counts, samples);
        let slack = 1e-9 * lo.abs().max(hi.abs()).max(1.0);
        for (who, v) in [("fleet", fleet), ("single", *single)] {
            assert!(
                v >= lo - slack && v <= hi + slack,
                "{key:?} p{q}: {who} {v} outside [{lo}, {hi}] (exact {}, {samples} samples)",
                bucket_quantile(q, counts)
            );
        }
        max_diff = max_diff.max((fleet - single).abs());
        if let (Some(f), Some(s)) = (rank_of(fleet, counts), rank_of(*single, counts)) {
            max_rank_diff = max_rank_diff.max((f - s).abs());
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        3 * exact.len(),
        "recorded quantiles compared, for {} (issuer, outcome) groups",
        exact.len()
    );

    // The issuer lead does not sum: the fleet view is the largest lead any verifier sees, for
    // each issuer the maximum over instances and sources of what each exporter's own window
    // holds (the truth of each target's share of the stream).
    let leads = query_map(&prom, LEAD_MAX, at);
    let expected_max = |targets: std::ops::Range<usize>| -> BTreeMap<String, f64> {
        let mut max: BTreeMap<String, f64> = BTreeMap::new();
        for t in targets {
            let mut truth = Truth::default();
            for (k, l) in lines.iter().enumerate() {
                if let (true, Line::Event(_, g)) = (targets_of(k)[t], l) {
                    truth.add(&spec, g);
                }
            }
            for ((_, issuer), p) in &truth.pairs {
                let issuer = if issuer == UNLISTED {
                    "other"
                } else {
                    issuer.as_str()
                };
                if let Some(lead) = p.expected_lead(300.0) {
                    let m = max.entry(issuer.to_owned()).or_insert(f64::NEG_INFINITY);
                    *m = m.max(lead);
                }
            }
        }
        max
    };
    let mut lead_equal = 0;
    for (cluster, want) in [
        ("fleet", expected_max(0..3)),
        ("single", expected_max(3..4)),
    ] {
        let got: BTreeMap<String, f64> = leads
            .iter()
            .filter(|(l, _)| l.get("cluster").map(String::as_str) == Some(cluster))
            .map(|(l, v)| (l["issuer"].clone(), *v))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{LEAD_MAX}: issuers of {cluster}"
        );
        for (issuer, w) in &want {
            assert!(
                (got[issuer] - w).abs() < 1e-9,
                "{LEAD_MAX}{{cluster={cluster:?}, issuer={issuer:?}}}: {} != {w}",
                got[issuer]
            );
        }
    }
    let lead_checked = leads.len() / 2;
    for (l, single) in leads
        .iter()
        .filter(|(l, _)| l.get("cluster").map(String::as_str) == Some("single"))
    {
        let mut fl = l.clone();
        fl.insert("cluster".into(), "fleet".into());
        if leads.get(&fl) == Some(single) {
            lead_equal += 1;
        }
    }

    let total: u64 = expected.iter().map(|e| e.0 + e.1).sum();
    println!(
        "{EVENTS} events and {} invalid lines; {total} lines posted in all; A, B, C got {:?} events, D {}",
        expected[3].1,
        expected[..3].iter().map(|e| e.0).collect::<Vec<_>>(),
        expected[3].0
    );
    println!(
        "compared {series} series of {} families (fleet sum = single): {compared:?}",
        produced.len()
    );
    println!(
        "age buckets all non-empty ({}), 13 reasons, expired_by in {expired_buckets} buckets, premature_by in {premature_buckets}",
        cumulative.len()
    );
    println!(
        "{checked} recorded quantiles within the rate() bounds ({samples} samples per target: at most {:.1} % extrapolation); largest |fleet - single| {max_diff:.3e} s, or {max_rank_diff:.2e} in quantile terms; {lead_checked} recorded lead maxima as expected, {lead_equal} of them equal to the single exporter's",
        220.0 / (samples as f64 - 1.0)
    );
    println!(
        "{} rules healthy; primer posted after {posted_primer:?}; from prometheus start: baseline {baseline:?}, all posted {posted_all:?}, all scraped {scraped_all:?}, compared at {evaluated:?}; test took {:?}",
        loaded.len(),
        started.elapsed()
    );
}

/// The helpers: the quantile matches Prometheus's semantics, the bounds contain it, and the
/// stream has every line the test relies on.
#[test]
fn helpers_compute_quantiles_like_prometheus() {
    // Cumulative counts over AGE_BUCKETS and +Inf: 1 at or below -300, 3 up to 0.5 (so 2 in
    // (0.25, 0.5]), 4 in all (one above 86400).
    let mut counts = vec![0.0; AGE_BUCKETS.len() + 1];
    for (i, le) in AGE_BUCKETS.iter().enumerate() {
        counts[i] = if *le < 0.5 { 1.0 } else { 3.0 };
    }
    counts[AGE_BUCKETS.len()] = 4.0;
    assert_eq!(
        bucket_quantile(0.1, &counts),
        -300.0,
        "lowest bucket, negative bound"
    );
    // rank 2 in (0.25, 0.5]: 0.25 + 0.25 * (2 - 1) / (3 - 1)
    assert_eq!(bucket_quantile(0.5, &counts), 0.375);
    assert_eq!(
        bucket_quantile(0.99, &counts),
        86400.0,
        "+Inf: highest finite bound"
    );
    assert!(bucket_quantile(0.5, &[0.0; 26]).is_nan());
    let (lo, hi) = quantile_bounds(0.5, &counts, 23);
    assert!(lo < 0.375 && 0.375 < hi, "{lo} {hi}");
    // 0.375 is half-way through (0.25, 0.5], whose 2 observations are ranks 1..3 of 4.
    assert_eq!(rank_of(0.375, &counts), Some(0.5));
    assert_eq!(rank_of(-300.0, &counts), None, "clamped");

    let spec = world();
    let lines = stream(&spec);
    let invalid: Vec<&str> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Invalid(_, e) => Some(*e),
            Line::Event(..) => None,
        })
        .collect();
    assert_eq!(invalid.len(), EVENTS / INVALID_EVERY);
    for (_, e) in INVALID {
        assert!(invalid.contains(&e), "no {e} line");
    }
    for l in &lines {
        if let Line::Invalid(text, error) = l {
            let got = skew_exporter::event::parse_event(text.as_bytes(), 0.0)
                .expect_err("an invalid line");
            assert_eq!(got.kind.as_str(), *error, "{text}");
        }
    }
    assert!(coverage(&spec, &lines, lines.len() / 2).is_empty());
}
