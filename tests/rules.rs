//! The Grafana dashboard and the Prometheus alert rules against the real exporter and the real
//! Prometheus tools:
//! - `promtool check rules` and `promtool test rules` pass for every rule file
//!   (`alerts/*.rules.yml`: the alerts and the fleet recording rules) and every test file
//!   (`alerts/tests/*.yml`), every alert has a unit test and a runbook section, every recording
//!   rule a unit test;
//! - every PromQL expression of the dashboard (panel targets and variable queries) and of the
//!   rule files parses (`promql-parser`) and selects only metrics, and label names, that a live
//!   `/metrics` scrape of the real binary shows, or series an earlier recording rule records;
//! - end to end: a real `prometheus` on loopback scrapes four exporters every second, whose
//!   scripted NTP servers run exactly +150 ms, −150 ms, +80 ms and −80 ms off, with the rule file
//!   files loaded (copies with shortened `for:`, see [`E2E_FOR`]) and events posted all along. Through
//!   its HTTP API: every dashboard query returns data, every rule evaluates without error,
//!   `ClockDriftHigh` fires for ±150 ms and never even goes pending for ±80 ms, where
//!   `ClockDriftWarning` fires instead (proof that those exporters were scraped and judged).
//!
//! Loopback only: scripted NTP servers on 127.0.0.51-.55 (other test files use other
//! addresses), exporters and Prometheus on 127.0.0.1 with ephemeral ports. Needs
//! /usr/bin/promtool and /usr/bin/prometheus (Debian package `prometheus`, Prometheus 2.42 in
//! CI); without them a test prints SKIPPED, or fails when CI=true. Run with
//! `cargo test --test rules -- --nocapture` to see the figures.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promql_parser::label::{MatchOp, METRIC_NAME};
use promql_parser::parser::{self as promql, Expr, VectorSelector};
use promql_parser::util::{walk_expr, ExprVisitor};
use serde::Deserialize;
use serde_json::Value;

use common::http_date::{DateServer, Reply};
use common::prometheus::{prometheus_listen_address, sample_value, Prometheus, PROMETHEUS};
use common::scripted::{Behaviour, Scripted};
use common::{require_paths, Exporter};

const PROMTOOL: &str = "/usr/bin/promtool";

/// Paths relative to the repository root.
const RULES: &str = "alerts/skew-exporter.rules.yml";
const RULE_TESTS: &str = "alerts/tests/skew-exporter.test.yml";
/// Every `*.rules.yml` here is a rule file: the alerts ([`RULES`]) and the fleet recording
/// rules (`skew-exporter.recording.rules.yml`).
const RULE_DIR: &str = "alerts";
/// Every `*.yml` here is a promtool unit test file.
const RULE_TEST_DIR: &str = "alerts/tests";
const DASHBOARD: &str = "dashboards/skew-exporter.json";
const RUNBOOK: &str = "docs/runbook.md";

/// Metrics the dashboard already shows but the exporter does not expose yet, each with the
/// issue that adds it, e.g. `("skew_foo_bytes", "issue N: ...")`: the name check lets them
/// through and the end-to-end test lets their panels stay empty. Remove an entry when its issue
/// lands: the name check then requires the series, and it fails as long as an entry names a
/// metric the exporter already exposes. (`skew_tail_lag_bytes` was here until issue 4, file
/// tailing, landed; the exporters under test now follow a file with `--events.file`.)
const PLANNED: &[(&str, &str)] = &[];

/// The issuer allow-list of the exporters under test: events from any other issuer are folded
/// into `other` and counted in `skew_label_overflow_total`, so that panel has data too.
/// `orders` runs on the exporter's host (`events.local-sources`): its lead gives the issuer
/// clock error.
const EXPORTER_CONFIG: &str =
    "# written by tests/rules.rs\n[events]\nissuers = [\"https://idp.example\"]\n\
     local-sources = [\"orders\"]\n";

/// The `for:` every rule that has one gets in the end-to-end copy of the rule file (nothing
/// else is rewritten: the [160s], [5m] and [10m] windows stay, since a single server is its own
/// majority and `ClockDriftHigh` fires on the system offset alone).
const E2E_FOR: &str = "5s";

/// What `$__rate_interval` becomes in the end-to-end queries (Prometheus scrapes every second).
const E2E_RATE_INTERVAL: &str = "15s";

/// How closely the offsets Prometheus sees must match the scripted servers' shifts (loopback
/// measures within a millisecond; the margin is for a loaded machine, well inside the 20 ms
/// between 80 ms and the threshold).
const OFFSET_TOLERANCE: f64 = 0.005;

/// Bound on the end-to-end wait for every panel to have data and the alerts to settle, counted
/// from Prometheus's start. It typically takes about 11 s: Prometheus's scrape manager applies
/// its first targets about 5 s after start, then `for: 5s` plus one evaluation.
const E2E_DEADLINE: Duration = Duration::from_secs(40);

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

// ---------------------------------------------------------------------------------------------
// The rule file and the dashboard, as data

#[derive(Debug, Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
struct RuleGroup {
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct Rule {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Rule {
    fn name(&self) -> &str {
        self.alert
            .as_deref()
            .or(self.record.as_deref())
            .unwrap_or("?")
    }
}

/// The files in `dir` (relative to the repository root) whose names end in `suffix`, as
/// repository-relative paths sorted by name.
fn files_in(dir: &str, suffix: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|e| e.expect("directory entry").file_name())
        .filter_map(|n| n.to_str().map(str::to_owned))
        .filter(|n| n.ends_with(suffix))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    files.sort();
    files
}

/// Every rule file, sorted by name.
fn rule_files() -> Vec<String> {
    files_in(RULE_DIR, ".rules.yml")
}

fn rules_of(path: &str) -> Vec<Rule> {
    let file: RuleFile =
        serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    file.groups.into_iter().flat_map(|g| g.rules).collect()
}

/// The rules of every rule file, in file order.
fn rules() -> Vec<Rule> {
    rule_files().iter().flat_map(|f| rules_of(f)).collect()
}

/// One PromQL expression of the dashboard or the rule file, with where it comes from.
#[derive(Debug, Clone)]
struct Query {
    what: String,
    expr: String,
    /// For `label_values(SELECTOR, LABEL)` variables: the label.
    label: Option<String>,
    /// For panel targets: the legend format (`{{label}}` placeholders).
    legend: Option<String>,
}

struct Dashboard {
    /// Every panel target's `expr`.
    panels: Vec<Query>,
    /// The selector of every variable query.
    variables: Vec<Query>,
    /// The names of the dashboard's template variables.
    variable_names: Vec<String>,
    /// The queries of Prometheus annotations (clock steps, suspends). Checked like the
    /// panels' queries, but not required to return data: they mark rare events.
    annotations: Vec<Query>,
}

fn dashboard() -> Dashboard {
    let d: Value = serde_json::from_str(&read(DASHBOARD)).expect("dashboard JSON");
    let mut panels = Vec::new();
    let mut stack: Vec<&Value> = d["panels"].as_array().expect("panels").iter().collect();
    while let Some(p) = stack.pop() {
        // Collapsed rows hold their panels.
        if let Some(children) = p["panels"].as_array() {
            stack.extend(children);
        }
        let title = p["title"].as_str().unwrap_or("?").to_owned();
        let ty = p["type"].as_str().unwrap_or("?");
        if ty == "row" || ty == "text" {
            continue;
        }
        let mut n = 0;
        for t in p["targets"].as_array().into_iter().flatten() {
            let Some(expr) = t["expr"].as_str().filter(|e| !e.trim().is_empty()) else {
                continue;
            };
            n += 1;
            panels.push(Query {
                what: format!(
                    "panel {} {title:?} target {}",
                    p["id"],
                    t["refId"].as_str().unwrap_or("?")
                ),
                expr: expr.to_owned(),
                label: None,
                legend: t["legendFormat"].as_str().map(str::to_owned),
            });
        }
        assert!(n > 0, "{DASHBOARD}: panel {title:?} ({ty}) has no query");
    }
    panels.sort_by(|a, b| a.what.cmp(&b.what));

    let mut variables = Vec::new();
    let mut variable_names = Vec::new();
    for v in d["templating"]["list"].as_array().expect("templating.list") {
        let name = v["name"].as_str().expect("variable name").to_owned();
        variable_names.push(name.clone());
        if v["type"] != "query" {
            continue;
        }
        let q = match &v["query"] {
            Value::String(s) => s.clone(),
            o => o["query"].as_str().unwrap_or_default().to_owned(),
        };
        let what = format!("variable ${name} ({q})");
        if let Some((selector, label)) = label_values(&q) {
            variables.push(Query {
                what,
                expr: selector,
                label: Some(label),
                legend: None,
            });
        } else if let Some(expr) = q
            .trim()
            .strip_prefix("query_result(")
            .and_then(|r| r.strip_suffix(')'))
        {
            variables.push(Query {
                what,
                expr: expr.to_owned(),
                label: None,
                legend: None,
            });
        } else {
            panic!("{DASHBOARD}: {what}: a query this test does not know how to check");
        }
    }
    let annotations = d["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let expr = a["expr"].as_str().filter(|e| !e.trim().is_empty())?;
            Some(Query {
                what: format!("annotation {:?}", a["name"].as_str().unwrap_or("?")),
                expr: expr.to_owned(),
                label: None,
                legend: None,
            })
        })
        .collect();
    Dashboard {
        panels,
        variables,
        variable_names,
        annotations,
    }
}

/// `label_values(SELECTOR, LABEL)`: the selector and the label. None for anything else,
/// including `label_values(LABEL)`, which selects no metric.
fn label_values(q: &str) -> Option<(String, String)> {
    let inner = q.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    // The last comma outside braces and quotes.
    let (mut depth, mut quoted, mut escaped, mut split) = (0i32, false, false, None);
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '{' | '(' if !quoted => depth += 1,
            '}' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => split = Some(i),
            _ => {}
        }
    }
    let i = split?;
    Some((
        inner[..i].trim().to_owned(),
        inner[i + 1..].trim().to_owned(),
    ))
}

/// Replaces Grafana's variables: `$__rate_interval` and `$__interval` by `interval`,
/// `$__range` by `1h`, and the dashboard's own variables (`$v`, `${v}`, `${v:format}`) by `.*`,
/// which every matcher that uses them (`=~`) reads as "all". An unknown variable is an error.
fn substitute(expr: &str, variables: &[String], interval: &str) -> Result<String, String> {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unterminated ${{ in {expr}"))?;
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let value = match name {
            "__rate_interval" | "__interval" => interval,
            "__range" => "1h",
            v if variables.iter().any(|n| n == v) => ".*",
            v => return Err(format!("unknown variable ${v} in {expr}")),
        };
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Walking the PromQL AST

/// One vector selector: the metric name and the label names its matchers use.
#[derive(Debug, Clone, PartialEq)]
struct Selector {
    name: Option<String>,
    labels: Vec<String>,
}

#[derive(Default)]
struct Walk {
    selectors: Vec<Selector>,
    /// (function, metric) for every counter function applied to a range selector.
    counter_functions: Vec<(String, String)>,
}

impl Walk {
    fn add(&mut self, vs: &VectorSelector) -> Option<String> {
        let name = vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
                .map(|m| m.value.clone())
        });
        let labels = vs
            .matchers
            .matchers
            .iter()
            .chain(vs.matchers.or_matchers.iter().flatten())
            .map(|m| m.name.clone())
            .filter(|n| n != METRIC_NAME)
            .collect();
        self.selectors.push(Selector {
            name: name.clone(),
            labels,
        });
        name
    }
}

impl ExprVisitor for Walk {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        match expr {
            Expr::VectorSelector(vs) => {
                self.add(vs);
            }
            // The walker does not descend into a matrix selector: take its vector selector here.
            Expr::MatrixSelector(ms) => {
                self.add(&ms.vs);
            }
            Expr::Call(call) => {
                if matches!(call.func.name, "rate" | "irate" | "increase" | "resets") {
                    for arg in &call.args.args {
                        if let Expr::MatrixSelector(ms) = arg.as_ref() {
                            let name = ms.vs.name.clone().unwrap_or_default();
                            self.counter_functions
                                .push((call.func.name.to_owned(), name));
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(true)
    }
}

/// Parses `expr` and walks it.
fn walk(expr: &str) -> Result<Walk, String> {
    let ast = promql::parse(expr)?;
    let mut w = Walk::default();
    walk_expr(&mut w, &ast)?;
    Ok(w)
}

// ---------------------------------------------------------------------------------------------
// What the exporter really exposes

/// The sample names of a live `/metrics` page with the label names each carries, and the
/// histogram families (whose base name is no series: only `_bucket`, `_sum`, `_count` are).
#[derive(Debug, Default)]
struct Exposed {
    samples: BTreeMap<String, BTreeSet<String>>,
    histograms: BTreeSet<String>,
}

impl Exposed {
    fn parse(text: &str) -> Exposed {
        let mut e = Exposed::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut it = rest.split_whitespace();
                if let (Some(name), Some("histogram")) = (it.next(), it.next()) {
                    e.histograms.insert(name.to_owned());
                }
            }
        }
        let scrape = common::Scrape::parse(text).expect("parse /metrics");
        for s in scrape.samples {
            e.samples
                .entry(s.name)
                .or_default()
                .extend(s.labels.into_keys());
        }
        e
    }

    /// What is wrong with `selector`, if anything. `up` is synthesised by Prometheus; `job` and
    /// `instance` are target labels Prometheus attaches to every series.
    fn check(&self, selector: &Selector) -> Result<(), String> {
        let Some(name) = selector.name.as_deref() else {
            return Err("a selector without a metric name".into());
        };
        if name == "up" {
            return match selector
                .labels
                .iter()
                .find(|l| !["job", "instance"].contains(&l.as_str()))
            {
                Some(l) => Err(format!("`up` has no label `{l}`")),
                None => Ok(()),
            };
        }
        if let Some((_, why)) = PLANNED.iter().find(|(m, _)| *m == name) {
            if self.samples.contains_key(name) {
                return Err(format!(
                    "`{name}` is exposed now: remove it from PLANNED in tests/rules.rs ({why})"
                ));
            }
            return Ok(());
        }
        let Some(labels) = self.samples.get(name) else {
            if self.histograms.contains(name) {
                return Err(format!(
                    "`{name}` is a histogram: select `{name}_bucket`, `{name}_sum` or `{name}_count`"
                ));
            }
            return Err(format!("the exporter exposes no metric `{name}`"));
        };
        for l in &selector.labels {
            if !labels.contains(l) && l != "job" && l != "instance" {
                return Err(format!(
                    "`{name}` has no label `{l}` (it has: {})",
                    labels.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Exporters and events

/// Starts the exporter against one scripted server: a sampling round every second, of two
/// exchanges 100 ms apart (the lower-delay one counts, so a test thread descheduled on a busy
/// machine cannot fake an offset), [`EXPORTER_CONFIG`], and following the events file in `dir` (both
/// written by [`write_exporter_config`]), so that the file-tailing series exist.
fn start_exporter(server: &Scripted, dir: &Path) -> Exporter {
    let label = server.label();
    let config = dir.join(CONFIG_FILE);
    let events = dir.join(EVENTS_FILE);
    Exporter::start(&[
        "--events.file",
        events.to_str().expect("utf-8 path"),
        "--ntp.server",
        &label,
        "--ntp.interval",
        "1s",
        "--ntp.burst",
        "2",
        "--ntp.burst-spacing",
        "100ms",
        "--ntp.timeout",
        "300ms",
        "--config.file",
        config.to_str().expect("utf-8 path"),
    ])
}

const CONFIG_FILE: &str = "skew-exporter.toml";
const EVENTS_FILE: &str = "events.jsonl";

/// Writes [`EXPORTER_CONFIG`] and an empty events file for the exporters to follow (events
/// are posted over HTTP; the file only makes the per-pattern tail series exist), plus an HTTP
/// `Date` probe of `clock` as the clock of the allow-listed issuer, so that the remote-clock
/// series exist (three requests a round: a round takes about two seconds).
fn write_exporter_config(dir: &Path, clock: &DateServer) {
    let probe = format!(
        "[[probe.http-date]]\nname = \"idp\"\nurl = {:?}\nissuer = \"https://idp.example\"\n\
         interval = \"1s\"\nmax-requests = 3\n",
        clock.url("/")
    );
    std::fs::write(dir.join(CONFIG_FILE), format!("{EXPORTER_CONFIG}{probe}"))
        .expect("write exporter config");
    std::fs::write(dir.join(EVENTS_FILE), "").expect("write events file");
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// Valid events in [`event_batch`].
const BATCH_VALID: u64 = 7;
/// Invalid lines in [`event_batch`].
const BATCH_INVALID: u64 = 2;

/// An NDJSON batch stamped `now` (the exporter's receive time): accepted tokens 1 s and 0.3 s
/// old; an `expired` rejection 2 s past `exp`; a `not_yet_valid` one 3 s before `nbf`; an
/// `invalid_signature` one; an accepted token from an issuer outside the allow-list (label
/// overflow); and two invalid lines (`missing_field`, `json`). The `orders` events say when
/// their request arrived (`received`, 50 ms earlier: the verification delay) and the leeway
/// their verifier applies (0), and one of its accepted tokens needed 0.5 s of a 5 s leeway.
fn event_batch(now: f64) -> String {
    let idp = "https://idp.example";
    [
        format!(r#"{{"source":"orders","iss":"{idp}","aud":"api","iat":{},"exp":{},"received":{},"leeway":0,"outcome":"accepted"}}"#, now - 1.0, now + 899.0, now - 0.05),
        format!(r#"{{"source":"orders","iss":"{idp}","aud":"api","iat":{},"exp":{},"received":{},"leeway":0,"outcome":"accepted"}}"#, now - 0.3, now + 899.7, now - 0.05),
        format!(r#"{{"source":"billing","iss":"{idp}","aud":"api","iat":{},"exp":{},"outcome":"rejected","reason":"ExpiredSignatureError"}}"#, now - 902.0, now - 2.0),
        format!(r#"{{"source":"billing","iss":"{idp}","aud":"api","iat":{},"nbf":{},"exp":{},"outcome":"rejected","reason":"not_yet_valid"}}"#, now + 3.0, now + 3.0, now + 903.0),
        format!(r#"{{"source":"orders","iss":"{idp}","aud":"api","iat":{},"exp":{},"received":{},"leeway":0,"outcome":"rejected","reason":"invalid_signature"}}"#, now - 5.0, now + 895.0, now - 0.05),
        format!(r#"{{"source":"payments","iss":"{idp}","aud":"api","iat":{},"exp":{},"leeway":5,"outcome":"accepted"}}"#, now - 900.5, now - 0.5),
        format!(r#"{{"source":"orders","iss":"https://stranger.example","iat":{},"outcome":"accepted"}}"#, now - 1.0),
        r#"{"iat":1790000000}"#.to_owned(),
        "this is not json".to_owned(),
    ]
    .join("\n")
}

/// POSTs one [`event_batch`] and checks the answer.
fn post_batch(client: &reqwest::blocking::Client, url: &str) -> Result<(), String> {
    let resp = client
        .post(url)
        .header("Content-Type", "application/x-ndjson")
        .body(event_batch(unix_now()))
        .send()
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp.text().map_err(|e| format!("POST {url}: {e}"))?;
    let answer: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if status != 202 || answer["accepted"] != BATCH_VALID || answer["invalid"] != BATCH_INVALID {
        return Err(format!("POST {url}: {status} {body}"));
    }
    Ok(())
}

/// Posts a batch every 500 ms until dropped, so that every rate() has something to see.
struct Poster {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<u32, String>>>,
}

impl Poster {
    fn start(url: String) -> Poster {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                let client = http_client();
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) {
                    post_batch(&client, &url)?;
                    sent += 1;
                    thread::sleep(Duration::from_millis(500));
                }
                Ok(sent)
            })
        };
        Poster {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops posting: the number of batches posted, or the first failure.
    fn finish(mut self) -> Result<u32, String> {
        self.stop.store(true, Ordering::Relaxed);
        let t = self.thread.take().expect("finish once");
        t.join().expect("poster thread")
    }
}

impl Drop for Poster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The alerts named `name` in state `state`, by instance, with their value.
fn alerts_in_state(alerts: &[Value], name: &str, state: &str) -> BTreeMap<String, f64> {
    alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == name && a["state"] == state)
        .map(|a| {
            let value = a["value"].as_str().and_then(|v| v.parse().ok());
            (
                a["labels"]["instance"].as_str().unwrap_or("").to_owned(),
                value.unwrap_or(f64::NAN),
            )
        })
        .collect()
}

/// The end-to-end copies of the rule files.
struct RuleCopies {
    /// (file name, YAML) of each rule file.
    files: Vec<(String, String)>,
    /// (rule, original `for`) of each rule whose `for` was shortened.
    rewritten: Vec<(String, String)>,
}

/// The test copies of the rule files: every `for:` replaced by [`E2E_FOR`], nothing else
/// changed.
fn rules_for_e2e() -> RuleCopies {
    let mut copies = Vec::new();
    let mut rewritten = Vec::new();
    for path in rule_files() {
        let mut doc: Value = serde_yaml_ng::from_str(&read(&path)).expect("rule file YAML");
        for group in doc["groups"].as_array_mut().expect("groups") {
            for rule in group["rules"].as_array_mut().expect("rules") {
                let name = rule["alert"].as_str().unwrap_or("?").to_owned();
                if let Some(old) = rule.get("for").and_then(Value::as_str).map(str::to_owned) {
                    rule["for"] = Value::String(E2E_FOR.to_owned());
                    rewritten.push((name, old));
                }
            }
        }
        let yaml = serde_yaml_ng::to_string(&doc).expect("serialise rules");
        let name = Path::new(&path)
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name")
            .to_owned();
        copies.push((name, yaml));
    }
    RuleCopies {
        files: copies,
        rewritten,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

/// `promtool check rules` and `promtool test rules` pass; every alert has a unit test, the
/// annotations the runbook and dashboards rely on, and a runbook section its link points to.
#[test]
fn promtool_checks_the_rules_and_passes_their_unit_tests() {
    // Static checks first: they need no tool.
    let rules = rules();
    let tests = read(RULE_TESTS);
    let runbook = read(RUNBOOK);
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    let tested: BTreeSet<&str> = tests
        .lines()
        .filter_map(|l| l.trim().strip_prefix("alertname:"))
        .map(|n| n.trim().trim_matches('"'))
        .collect();
    let alerts: Vec<&Rule> = rules.iter().filter(|r| r.alert.is_some()).collect();
    assert!(
        alerts.len() >= 10,
        "only {} alerts in {RULES}",
        alerts.len()
    );
    for rule in &alerts {
        let name = rule.name();
        assert!(tested.contains(name), "{name} has no test in {RULE_TESTS}");
        for key in ["summary", "description", "runbook"] {
            assert!(
                rule.annotations.contains_key(key),
                "{name} has no `{key}` annotation"
            );
        }
        let link = &rule.annotations["runbook"];
        let anchor = link
            .strip_prefix(&format!("{RUNBOOK}#"))
            .unwrap_or_else(|| panic!("{name}: runbook {link:?} does not point into {RUNBOOK}"));
        assert_eq!(anchor, name.to_lowercase(), "{name}: runbook anchor");
        assert!(
            anchors.contains(anchor),
            "{name}: {RUNBOOK} has no section `## {name}`"
        );
    }
    // Every recording rule is the `expr` of some promtool test.
    let test_files = files_in(RULE_TEST_DIR, ".yml");
    let tested_exprs: BTreeSet<String> = test_files
        .iter()
        .flat_map(|f| {
            read(f)
                .lines()
                .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("expr:"))
                .map(|e| e.trim().trim_matches(['"', '\'']).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let records: BTreeSet<&str> = rules.iter().filter_map(|r| r.record.as_deref()).collect();
    assert!(
        !records.is_empty(),
        "no recording rule in {:?}",
        rule_files()
    );
    for name in &records {
        assert!(
            tested_exprs.contains(*name),
            "recording rule {name} is the `expr` of no test in {test_files:?}"
        );
    }

    if !require_paths(&[PROMTOOL]) {
        return;
    }
    let mut runs: Vec<([&str; 3], String)> = Vec::new();
    let files = rule_files();
    for f in &files {
        runs.push((
            ["check", "rules", f.as_str()],
            format!("SUCCESS: {} rules found", rules_of(f).len()),
        ));
    }
    for f in &test_files {
        runs.push((["test", "rules", f.as_str()], "SUCCESS".to_owned()));
    }
    for (args, expected) in runs {
        let started = Instant::now();
        let out = Command::new(PROMTOOL)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .output()
            .expect("run promtool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "promtool {} ({:?}): {}",
            args.join(" "),
            started.elapsed(),
            text.trim()
        );
        assert!(
            out.status.success(),
            "promtool {} failed ({}):\n{text}",
            args.join(" "),
            out.status
        );
        assert!(
            text.contains(&expected),
            "expected {expected:?} in:\n{text}"
        );
    }
}

/// Every expression of the dashboard and the rule file parses, selects only metrics the live
/// exporter exposes (with the label names it exposes), and never applies a counter function to
/// `skew_jwt_age_seconds_sum`, which negative ages make go down.
#[test]
fn every_query_parses_and_uses_only_exposed_metrics() {
    let dash = dashboard();
    let rules = rules();
    let mut queries: Vec<Query> = dash.panels.clone();
    queries.extend(dash.variables.iter().cloned());
    assert!(
        !dash.annotations.is_empty(),
        "the clock step and suspend annotations are queries too"
    );
    queries.extend(dash.annotations.iter().cloned());
    queries.extend(rules.iter().map(|r| Query {
        what: format!("rule {}", r.name()),
        expr: r.expr.clone(),
        label: None,
        legend: None,
    }));

    // Series that recording rules record: a rule may select them once an earlier rule has
    // recorded them (Prometheus evaluates a group's rules in order).
    let recorded: BTreeSet<String> = rules.iter().filter_map(|r| r.record.clone()).collect();
    let mut problems = Vec::new();
    let mut recorded_so_far = BTreeSet::new();
    for r in &rules {
        if let Ok(w) = walk(&r.expr) {
            for name in w.selectors.iter().filter_map(|s| s.name.as_ref()) {
                if recorded.contains(name) && !recorded_so_far.contains(name) {
                    problems.push(format!(
                        "rule {}: selects {name} before the rule that records it",
                        r.name()
                    ));
                }
            }
        }
        if let Some(name) = &r.record {
            recorded_so_far.insert(name.clone());
        }
    }

    // Parse everything before starting anything.
    let mut walks = Vec::new();
    for q in &queries {
        let expr = match substitute(&q.expr, &dash.variable_names, "1m") {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{}: {e}", q.what));
                continue;
            }
        };
        match walk(&expr) {
            Ok(w) => walks.push((q, w)),
            Err(e) => problems.push(format!("{}: does not parse: {e}\n  {expr}", q.what)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // A live exporter with every family populated: an NTP server 150 ms ahead, and events of
    // every outcome, both time-related rejections, label overflow and invalid lines.
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = DateServer::start(Reply::shifted(250_000_000));
    write_exporter_config(dir.path(), &clock);
    let server = Scripted::start(ip(51), 0, Behaviour::Shifted(150_000_000)).expect("bind");
    let exporter = start_exporter(&server, dir.path());
    let client = http_client();
    // Three batches: the issuer lead is exported from `events.lead-min-samples` (3) tokens of a
    // pair on, and one batch holds two per pair.
    for _ in 0..3 {
        post_batch(&client, &exporter.url("/v1/events")).unwrap_or_else(|e| panic!("{e}"));
    }
    exporter.wait_for("NTP and HTTP Date series", Duration::from_secs(15), |s| {
        s.has("skew_ntp_system_offset_seconds", &[])
            && s.series("skew_ntp_sample_offset_seconds_bucket").count() > 0
            && s.has("skew_http_date_offset_seconds", &[("target", "idp")])
    });
    let (status, text) = exporter.get("/metrics");
    assert_eq!(status, 200);
    // The JWT tolerance probe's gauges are answered by /probe (a scrape job of their own):
    // a successful probe's answer, rendered by the exporter's own code.
    let text = format!("{text}{}", probe_answer());
    let exposed = Exposed::parse(&text);
    for family in [
        "skew_jwt_age_seconds",
        "skew_jwt_expired_by_seconds",
        "skew_jwt_premature_by_seconds",
    ] {
        assert!(
            exposed.samples.contains_key(&format!("{family}_bucket")),
            "the events did not create {family}"
        );
    }

    let mut used = BTreeSet::new();
    let mut selectors = 0;
    for (q, w) in &walks {
        assert!(!w.selectors.is_empty(), "{}: selects no metric", q.what);
        for s in &w.selectors {
            selectors += 1;
            if let Some(n) = s.name.as_ref().filter(|n| recorded.contains(*n)) {
                used.insert(n.clone());
                continue;
            }
            if let Err(e) = exposed.check(s) {
                problems.push(format!("{}: {e}", q.what));
            }
            if let Some(n) = &s.name {
                used.insert(n.clone());
            }
        }
        for (f, metric) in &w.counter_functions {
            if metric == "skew_jwt_age_seconds_sum" {
                problems.push(format!(
                    "{}: {f}() of {metric}, which goes down with negative ages",
                    q.what
                ));
            }
        }
        if let Some(label) = &q.label {
            let name = w.selectors[0].name.clone().unwrap_or_default();
            let target_label = label == "job" || label == "instance";
            if !target_label
                && !exposed
                    .samples
                    .get(&name)
                    .is_some_and(|l| l.contains(label))
            {
                problems.push(format!("{}: `{name}` has no label `{label}`", q.what));
            }
        }
    }
    println!(
        "{} expressions ({} panel targets, {} variables, {} rules), {selectors} selectors, {} metric names; all parse",
        queries.len(),
        dash.panels.len(),
        dash.variables.len(),
        rules.len(),
        used.len()
    );
    let unused: Vec<&String> = exposed
        .samples
        .keys()
        .filter(|n| n.starts_with("skew_") && !used.contains(*n))
        .collect();
    println!("exposed skew_ series no query uses: {unused:?}");
    for (m, why) in PLANNED {
        println!("allowed although not exposed: {m} ({why})");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What `/probe` answers for a successful JWT tolerance probe.
fn probe_answer() -> String {
    use skew_exporter::probe::jwt::ProbeResult;
    use skew_exporter::probe::jwt_search::{ClockKind, Estimate, Interval};
    ProbeResult {
        estimate: Some(Estimate {
            nbf_edge: Interval { lo: 2.9, hi: 3.1 },
            exp_edge: Interval { lo: -3.1, hi: -2.9 },
            offset: 3.0,
            leeway: 0.0,
            bound: 0.1,
            clock: ClockKind::Fractional,
        }),
        failure: None,
        requests: 30,
        duration: Duration::from_secs(5),
    }
    .to_prometheus()
}

/// The whole chain: exporters → a real Prometheus with the rules → its HTTP API.
#[test]
fn prometheus_end_to_end_panels_have_data_and_clock_drift_high_fires_only_beyond_100ms() {
    if !require_paths(&[PROMETHEUS]) {
        return;
    }
    let started = Instant::now();
    let dash = dashboard();
    let original_rules = rules();
    let RuleCopies {
        files: rule_copies,
        rewritten,
    } = rules_for_e2e();
    assert!(
        rewritten.iter().any(|(n, _)| n == "ClockDriftHigh"),
        "ClockDriftHigh has no `for` to shorten"
    );
    println!("rule copy: `for: {E2E_FOR}` instead of {rewritten:?}; nothing else changed");

    // (offset of the scripted server, whether ClockDriftHigh must fire)
    let cases: [(i64, bool); 4] = [
        (150_000_000, true),
        (-150_000_000, true),
        (80_000_000, false),
        (-80_000_000, false),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = DateServer::start(Reply::shifted(250_000_000));
    write_exporter_config(dir.path(), &clock);
    let servers: Vec<Scripted> = cases
        .iter()
        .zip(52..)
        .map(|(&(ns, _), n)| Scripted::start(ip(n), 0, Behaviour::Shifted(ns)).expect("bind"))
        .collect();
    let exporters: Vec<Exporter> = servers
        .iter()
        .map(|s| start_exporter(s, dir.path()))
        .collect();
    let instances: Vec<String> = exporters.iter().map(|e| e.addr.to_string()).collect();
    let poster = Poster::start(exporters[0].url("/v1/events"));

    let prom_dir = tempfile::tempdir().expect("temp dir");
    let mut rule_paths = Vec::new();
    for (name, yaml) in &rule_copies {
        let path = prom_dir.path().join(name);
        std::fs::write(&path, yaml).expect("write rule copy");
        rule_paths.push(format!("  - {:?}\n", path.display().to_string()));
    }
    let targets: Vec<String> = instances.iter().map(|i| format!("{i:?}")).collect();
    let prom_config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n{}\
         scrape_configs:\n  - job_name: skew-exporter\n    static_configs:\n      - targets: [{}]\n",
        rule_paths.concat(),
        targets.join(", ")
    );
    let prom = Prometheus::start(prom_dir, &prom_config);
    let prom_started = Instant::now();
    println!(
        "prometheus on {} ready after {:?}; exporters {instances:?}",
        prom.addr,
        started.elapsed()
    );

    // Every panel target, and every variable as the label values it lists.
    let mut checks: Vec<(Query, String)> = Vec::new();
    for q in &dash.panels {
        let expr = substitute(&q.expr, &dash.variable_names, E2E_RATE_INTERVAL)
            .unwrap_or_else(|e| panic!("{}: {e}", q.what));
        checks.push((q.clone(), expr));
    }
    for q in &dash.variables {
        let selector = substitute(&q.expr, &dash.variable_names, E2E_RATE_INTERVAL)
            .unwrap_or_else(|e| panic!("{}: {e}", q.what));
        let expr = match &q.label {
            Some(l) => format!("group by ({l}) ({selector})"),
            None => selector,
        };
        checks.push((q.clone(), expr));
    }
    // Panels allowed to stay empty in this setup, with the reason.
    let may_be_empty = |q: &Query| -> Option<&'static str> {
        let walk = walk(&substitute(&q.expr, &dash.variable_names, "1m").ok()?).ok()?;
        walk.selectors.iter().find_map(|s| {
            PLANNED
                .iter()
                .find(|(m, _)| s.name.as_deref() == Some(*m))
                .map(|(_, why)| *why)
        })
    };

    let (high, warning) = ("ClockDriftHigh", "ClockDriftWarning");
    let must_fire: Vec<&String> = instances
        .iter()
        .zip(&cases)
        .filter(|(_, c)| c.1)
        .map(|(i, _)| i)
        .collect();
    let must_not: Vec<&String> = instances
        .iter()
        .zip(&cases)
        .filter(|(_, c)| !c.1)
        .map(|(i, _)| i)
        .collect();
    let mut fired_after = None;
    let (alerts, empty_allowed) = loop {
        let mut missing = Vec::new();
        let mut empty_allowed = Vec::new();
        for (q, expr) in &checks {
            let has_data = match prom.query(expr) {
                Ok(result) => result.iter().any(|s| sample_value(s).is_finite()),
                Err(e) => panic!("{}: Prometheus refused the query: {e}", q.what),
            };
            if has_data {
                continue;
            }
            match may_be_empty(q) {
                Some(why) => empty_allowed.push(format!("{} ({why})", q.what)),
                None => missing.push(format!("{}: no data from {expr}", q.what)),
            }
        }
        let alerts = prom.alerts();
        let firing = alerts_in_state(&alerts, high, "firing");
        if fired_after.is_none() && must_fire.iter().all(|i| firing.contains_key(*i)) {
            fired_after = Some(prom_started.elapsed());
        }
        for i in &must_fire {
            if !firing.contains_key(*i) {
                missing.push(format!("{high} not firing for {i}"));
            }
        }
        let warnings = alerts_in_state(&alerts, warning, "firing");
        for i in &instances {
            if !warnings.contains_key(i) {
                missing.push(format!("{warning} not firing for {i}"));
            }
        }
        if missing.is_empty() {
            break (alerts, empty_allowed);
        }
        if prom_started.elapsed() > E2E_DEADLINE {
            panic!(
                "after {E2E_DEADLINE:?}:\n{}\nalerts: {alerts:#?}\nprometheus log:\n{}",
                missing.join("\n"),
                prom.log_text()
            );
        }
        thread::sleep(Duration::from_millis(500));
    };
    let settled = prom_started.elapsed();
    println!(
        "{high} fired for ±150 ms {:?} after prometheus started; all {} dashboard queries had data after {settled:?}",
        fired_after.expect("fired"),
        checks.len() - empty_allowed.len()
    );
    for e in &empty_allowed {
        println!("allowed to be empty: {e}");
    }

    // Legends name labels the query's series carry (`{{server}}` after `sum by (instance)`
    // would print nothing).
    let mut bad_legends = Vec::new();
    for (q, expr) in &checks {
        let Some(legend) = &q.legend else { continue };
        let result = prom.query(expr).expect("query");
        // A PLANNED metric's panel has no series yet: nothing to check its legend against.
        if result.is_empty() && may_be_empty(q).is_some() {
            continue;
        }
        for placeholder in legend.split("{{").skip(1) {
            let label = placeholder.split("}}").next().unwrap_or_default().trim();
            if !result.iter().any(|s| s["metric"].get(label).is_some()) {
                bad_legends.push(format!(
                    "{}: legend {legend:?}: no series has `{label}`",
                    q.what
                ));
            }
        }
    }
    assert!(bad_legends.is_empty(), "{}", bad_legends.join("\n"));

    // The alerts: values are the offsets, with their sign.
    let firing = alerts_in_state(&alerts, high, "firing");
    for (instance, &(ns, fire)) in instances.iter().zip(&cases) {
        let expected = ns as f64 / 1e9;
        let offset = prom
            .query(&format!(
                "skew_ntp_system_offset_seconds{{instance={instance:?}}}"
            ))
            .expect("query")
            .first()
            .map(sample_value);
        println!(
            "server {:+} ms: instance {instance} system offset {offset:?}, {high} {}",
            ns / 1_000_000,
            if firing.contains_key(instance) {
                "firing"
            } else {
                "silent"
            }
        );
        let offset = offset.expect("a system offset");
        assert!(
            (offset - expected).abs() < OFFSET_TOLERANCE,
            "{instance}: system offset {offset} s, server {expected} s"
        );
        if fire {
            let active_at = alerts
                .iter()
                .find(|a| a["labels"]["alertname"] == high && a["labels"]["instance"] == **instance)
                .map(|a| a["activeAt"].clone());
            println!(
                "  {high} for {instance} active since {}",
                active_at.unwrap_or_default()
            );
            let value = firing[instance];
            assert!(
                (value - expected).abs() < OFFSET_TOLERANCE,
                "{high} for {instance} has value {value}, expected {expected}"
            );
        }
    }
    for a in alerts.iter().filter(|a| a["labels"]["alertname"] == high) {
        assert_eq!(a["labels"]["severity"], "critical", "{a}");
        assert_eq!(
            a["annotations"]["runbook"], "docs/runbook.md#clockdrifthigh",
            "{a}"
        );
    }
    // ±80 ms: never pending, let alone firing, over the whole run; and the alert's expression
    // (from the original rule file) selects exactly the ±150 ms instances.
    for i in &must_not {
        assert!(
            !alerts
                .iter()
                .any(|a| a["labels"]["alertname"] == high && a["labels"]["instance"] == **i),
            "{high} is active for {i} (80 ms): {alerts:#?}"
        );
        let ever = prom
            .query(&format!(
                "count_over_time(ALERTS{{alertname={high:?}, instance={i:?}}}[5m])"
            ))
            .expect("query");
        assert!(ever.is_empty(), "{high} was active for {i}: {ever:?}");
    }
    let high_rule = original_rules
        .iter()
        .find(|r| r.name() == high)
        .expect("ClockDriftHigh rule");
    let selected: BTreeSet<String> = prom
        .query(&high_rule.expr)
        .expect("ClockDriftHigh expression")
        .iter()
        .map(|s| s["metric"]["instance"].as_str().unwrap_or("").to_owned())
        .collect();
    let expected: BTreeSet<String> = must_fire.iter().map(|i| (*i).clone()).collect();
    assert_eq!(selected, expected, "instances {high}'s expression selects");
    assert!(
        !prom
            .alerts()
            .iter()
            .any(|a| a["labels"]["alertname"] == "SkewExporterDown"),
        "SkewExporterDown is active although every target is up (job name?)"
    );

    // Every rule of the copy was loaded and evaluates without error against real data.
    let groups = prom.api("/api/v1/rules", &[]).expect("rules API");
    let loaded: Vec<&Value> = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .collect();
    assert_eq!(loaded.len(), original_rules.len(), "rules loaded: {groups}");
    for r in &loaded {
        assert_eq!(
            r["health"], "ok",
            "rule {} does not evaluate: {}",
            r["name"], r["lastError"]
        );
    }

    let batches = poster
        .finish()
        .unwrap_or_else(|e| panic!("posting events: {e}"));
    assert!(batches >= 3, "only {batches} event batches posted");
    println!(
        "{} rules evaluate cleanly; {batches} event batches posted; test took {:?}",
        loaded.len(),
        started.elapsed()
    );
}

/// The helpers above: variable substitution, `label_values` parsing, selector extraction.
#[test]
fn helpers_substitute_variables_and_find_selectors() {
    let vars = vec!["job".to_owned(), "instance".to_owned()];
    assert_eq!(
        substitute(
            r#"rate(x{job=~"$job", instance=~"${instance}"}[$__rate_interval])"#,
            &vars,
            "15s"
        )
        .unwrap(),
        r#"rate(x{job=~".*", instance=~".*"}[15s])"#
    );
    assert_eq!(
        substitute("y[$__interval] offset $__range", &vars, "1m").unwrap(),
        "y[1m] offset 1h"
    );
    assert_eq!(
        substitute(r#"x{a=~"${job:regex}"}"#, &vars, "1m").unwrap(),
        r#"x{a=~".*"}"#
    );
    assert!(substitute(r#"x{a=~"$jbo"}"#, &vars, "1m").is_err());

    assert_eq!(
        label_values(r#"label_values(m{a=~"x,y", b="}"}, instance)"#),
        Some((r#"m{a=~"x,y", b="}"}"#.to_owned(), "instance".to_owned()))
    );
    assert_eq!(label_values("label_values(job)"), None);

    let w = walk(
        r#"histogram_quantile(0.5, sum by (le) (rate(a_bucket{x="1"}[5m]))) / on() group_left b
           + rate(skew_jwt_age_seconds_sum[1m]) + {__name__="c", y!="2"} offset 1m"#,
    )
    .unwrap();
    let names: Vec<Option<&str>> = w.selectors.iter().map(|s| s.name.as_deref()).collect();
    assert_eq!(
        names,
        [
            Some("a_bucket"),
            Some("b"),
            Some("skew_jwt_age_seconds_sum"),
            Some("c")
        ]
    );
    assert_eq!(w.selectors[0].labels, ["x"]);
    assert_eq!(w.selectors[3].labels, ["y"]);
    assert_eq!(
        w.counter_functions,
        [
            ("rate".to_owned(), "a_bucket".to_owned()),
            ("rate".to_owned(), "skew_jwt_age_seconds_sum".to_owned())
        ]
    );
    assert!(walk("sum(rate(x[5m])").is_err(), "unbalanced parentheses");

    let exposed = Exposed::parse(
        "# TYPE h histogram\nh_bucket{le=\"1\",s=\"a\"} 1\nh_sum{s=\"a\"} 1\nh_count{s=\"a\"} 1\n",
    );
    let sel = |name: &str, labels: &[&str]| Selector {
        name: Some(name.to_owned()),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    };
    assert!(exposed.check(&sel("h_bucket", &["le", "s", "job"])).is_ok());
    assert!(exposed.check(&sel("up", &["job", "instance"])).is_ok());
    assert!(exposed
        .check(&sel("h", &[]))
        .unwrap_err()
        .contains("histogram"));
    assert!(exposed.check(&sel("h_count", &["le"])).is_err());
    assert!(exposed.check(&sel("nope", &[])).is_err());

    assert_eq!(
        prometheus_listen_address(
            r#"ts=2026-01-01T00:00:00Z caller=tls_config.go:232 level=info component=web msg="Listening on" address=127.0.0.1:40851"#
        ),
        Some("127.0.0.1:40851".parse().unwrap())
    );
    assert_eq!(
        prometheus_listen_address(
            r#"level=info component=web msg="Start listening for connections" address=127.0.0.1:0"#
        ),
        None
    );
}
