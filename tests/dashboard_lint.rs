//! Grafana's dashboard-linter rule set (github.com/grafana/dashboard-linter), reimplemented as a
//! test over every dashboard in `dashboards/*.json`: the linter is a Go tool that cannot be
//! installed here, and its rules are small. Rule names and the `.lint` exclusion file are the
//! linter's, so a dashboard that passes here passes `dashboard-linter lint --strict` too, with
//! these deliberate differences (each stricter than the Go linter):
//! - units, titles, descriptions and the templated data source are required on every panel that
//!   is not a row (the linter checks timeseries, stat, gauge and table only): heatmaps and state
//!   timelines mislead as much without a unit;
//! - every range (`[...]`, subquery ranges included) is `$__rate_interval`, not only those
//!   under `rate`/`irate`;
//! - `_total` series appear only as the range argument of `rate`, `irate` or `increase`, judged
//!   by the metric name (the linter compares the selector's whole text, matchers included, so
//!   it misses `x_total{job=~"$job"}`);
//! - an exclusion must carry a reason, and one that excuses nothing fails the test.
//!
//! PromQL is parsed with `promql-parser` after Grafana's variables are expanded as the linter
//! does: unquoted `$__rate_interval` (and the other time variables) become a magic duration that
//! the rate-interval rule recognises, other unquoted variables a placeholder name; a variable
//! inside a string (`job=~"$job"`) stays as written, which is what the matcher rules compare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self as promql, Expr, VectorSelector};
use serde::Deserialize;
use serde_json::Value;

const DASHBOARD_DIR: &str = "dashboards";
const LINT_FILE: &str = "dashboards/.lint";

/// What an unquoted `$__rate_interval` becomes: the linter's magic duration (130d12h46m4s),
/// which no real query uses.
const RATE_INTERVAL_SECS: u64 = 11_277_964;

/// Grafana's time-valued global variables and what they become (distinct magic durations).
const TIME_VARIABLES: &[(&str, u64)] = &[
    ("__rate_interval", RATE_INTERVAL_SECS),
    ("__interval", RATE_INTERVAL_SECS + 1),
    ("__interval_ms", RATE_INTERVAL_SECS + 2),
    ("__range", RATE_INTERVAL_SECS + 3),
    ("__range_s", RATE_INTERVAL_SECS + 4),
    ("__range_ms", RATE_INTERVAL_SECS + 5),
];

/// Units Grafana knows (the linter's list, from grafana-data's valueFormats/categories.ts),
/// restricted to the families a clock-skew dashboard can use.
const VALID_UNITS: &[&str] = &[
    "none",
    "string",
    "short",
    "percent",
    "percentunit",
    "locale",
    "sci", // misc
    "bytes",
    "decbytes",
    "bits",
    "decbits",
    "kbytes",
    "mbytes",
    "gbytes", // data
    "Bps",
    "binBps",
    "bps", // data rate
    "dateTimeAsIso",
    "dateTimeAsLocal",
    "dateTimeAsSystem",
    "dateTimeFromNow", // dates
    "hertz",
    "ns",
    "µs",
    "ms",
    "s",
    "m",
    "h",
    "d",
    "dtdurationms",
    "dtdurations",
    "dthms",
    "dtdhms",
    "timeticks",
    "clockms",
    "clocks", // time
    "cps",
    "ops",
    "reqps",
    "rps",
    "wps",
    "iops",
    "cpm",
    "opm",
    "rpm",
    "wpm", // throughput
    "bool",
    "bool_yes_no",
    "bool_on_off", // boolean
];

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

// ---------------------------------------------------------------------------------------------
// The `.lint` file (the linter's format, YAML):
//
//   exclusions:
//     target-counter-agg-rule:
//       reason: why this rule does not apply here
//       entries:                       # optional: without entries the whole rule is excluded
//         - dashboard: skew-exporter: clock skew
//           panel: Servers agreeing
//           targetIdx: 1               # optional
//           reason: why
//   warnings: { ... same shape: reported, not failed }

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LintConfig {
    #[serde(default)]
    exclusions: BTreeMap<String, Option<RuleEntries>>,
    #[serde(default)]
    warnings: BTreeMap<String, Option<RuleEntries>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntries {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    entries: Vec<Entry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    reason: String,
    dashboard: Option<String>,
    panel: Option<String>,
    /// A string in the linter's format (0 is a valid index).
    target_idx: Option<serde_yaml_ng::Value>,
}

/// One problem found: the rule, where, and what.
#[derive(Debug, Clone, PartialEq)]
struct Finding {
    rule: &'static str,
    dashboard: String,
    panel: Option<String>,
    target: Option<usize>,
    message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] dashboard {:?}", self.rule, self.dashboard)?;
        if let Some(p) = &self.panel {
            write!(f, ", panel {p:?}")?;
        }
        if let Some(t) = self.target {
            write!(f, ", target {t}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Entry {
    /// The linter's matching: every field the entry sets must equal the finding's.
    fn matches(&self, f: &Finding) -> bool {
        let idx = self.target_idx.as_ref().and_then(|v| match v {
            serde_yaml_ng::Value::Number(n) => n.as_u64().map(|n| n as usize),
            serde_yaml_ng::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        self.dashboard.as_ref().is_none_or(|d| *d == f.dashboard)
            && self
                .panel
                .as_ref()
                .is_none_or(|p| Some(p) == f.panel.as_ref())
            && idx.is_none_or(|i| Some(i) == f.target)
    }
}

/// Which findings a rule's entries excuse; `None` = the whole rule.
fn excused(entries: &Option<RuleEntries>, f: &Finding) -> Option<usize> {
    match entries {
        None => Some(usize::MAX),
        Some(e) if e.entries.is_empty() => Some(usize::MAX),
        Some(e) => e.entries.iter().position(|x| x.matches(f)),
    }
}

// ---------------------------------------------------------------------------------------------
// PromQL after variable expansion

/// Expands Grafana's variables as the linter does: outside double-quoted strings, the time
/// variables become magic durations and every other `$var`, `${var}`, `${var:fmt}` or
/// `[[var]]` a placeholder identifier; inside strings nothing changes.
fn expand(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let chars: Vec<char> = expr.chars().collect();
    let (mut i, mut quoted, mut escaped) = (0, false, false);
    while i < chars.len() {
        let c = chars[i];
        if quoted {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let (name, len) = match c {
            '"' => {
                quoted = true;
                out.push(c);
                i += 1;
                continue;
            }
            '$' if chars.get(i + 1) == Some(&'{') => {
                let end = chars[i..].iter().position(|&c| c == '}');
                let Some(end) = end else {
                    out.push(c);
                    i += 1;
                    continue;
                };
                let inner: String = chars[i + 2..i + end].iter().collect();
                (
                    inner.split(':').next().unwrap_or_default().to_owned(),
                    end + 1,
                )
            }
            '$' => {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                let len = name.chars().count() + 1;
                (name, len)
            }
            '[' if chars.get(i + 1) == Some(&'[') => {
                let end = chars[i..].windows(2).position(|w| w == [']', ']']);
                let Some(end) = end else {
                    out.push(c);
                    i += 1;
                    continue;
                };
                (chars[i + 2..i + end].iter().collect(), end + 2)
            }
            _ => {
                out.push(c);
                i += 1;
                continue;
            }
        };
        match TIME_VARIABLES.iter().find(|(n, _)| *n == name) {
            Some((_, secs)) => out.push_str(&format!("{secs}s")),
            None => out.push_str(&format!("bgludgvy_{}", name.replace('.', "_"))),
        }
        i += len;
    }
    out
}

/// The expression's nodes, each with its parent chain (outermost first), depth first.
fn nodes_with_parents(expr: &Expr) -> Vec<(&Expr, Vec<&Expr>)> {
    fn go<'a>(e: &'a Expr, parents: &mut Vec<&'a Expr>, out: &mut Vec<(&'a Expr, Vec<&'a Expr>)>) {
        out.push((e, parents.clone()));
        parents.push(e);
        let children: Vec<&Expr> = match e {
            Expr::Aggregate(a) => [Some(a.expr.as_ref()), a.param.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
            Expr::Unary(u) => vec![u.expr.as_ref()],
            Expr::Binary(b) => vec![b.lhs.as_ref(), b.rhs.as_ref()],
            Expr::Paren(p) => vec![p.expr.as_ref()],
            Expr::Subquery(s) => vec![s.expr.as_ref()],
            Expr::Call(c) => c.args.args.iter().map(|a| a.as_ref()).collect(),
            _ => Vec::new(),
        };
        for c in children {
            go(c, parents, out);
        }
        parents.pop();
    }
    let mut out = Vec::new();
    go(expr, &mut Vec::new(), &mut out);
    out
}

/// Every vector selector, including those inside matrix selectors.
fn selectors(expr: &Expr) -> Vec<&VectorSelector> {
    nodes_with_parents(expr)
        .into_iter()
        .filter_map(|(e, _)| match e {
            Expr::VectorSelector(vs) => Some(vs),
            Expr::MatrixSelector(ms) => Some(&ms.vs),
            _ => None,
        })
        .collect()
}

fn metric_name(vs: &VectorSelector) -> String {
    vs.name.clone().unwrap_or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == "__name__")
            .map(|m| m.value.clone())
            .unwrap_or_default()
    })
}

/// The linter's checkForMatcher: `label=~"$label"` on this selector.
fn check_matcher(vs: &VectorSelector, label: &str) -> Result<(), String> {
    let want = format!("${label}");
    let alternatives = [want.clone(), format!("${{{label}}}")];
    match vs.matchers.matchers.iter().find(|m| m.name == label) {
        None => Err(format!("{} has no `{label}` matcher", metric_name(vs))),
        Some(m) if !matches!(m.op, MatchOp::Re(_)) => Err(format!(
            "{}: `{label}` matcher is {}, not =~",
            metric_name(vs),
            m.op
        )),
        Some(m) if !alternatives.contains(&m.value) => Err(format!(
            "{}: `{label}` matcher is {:?}, not {want:?}",
            metric_name(vs),
            m.value
        )),
        Some(_) => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// The rules

/// Lints one dashboard: every finding of every rule, before exclusions.
fn lint(d: &Value) -> Vec<Finding> {
    let title = d["title"].as_str().unwrap_or("?").to_owned();
    let mut out = Vec::new();
    let mut add = |rule: &'static str, panel: Option<&str>, target: Option<usize>, m: String| {
        out.push(Finding {
            rule,
            dashboard: title.clone(),
            panel: panel.map(str::to_owned),
            target,
            message: m,
        })
    };
    let variables: Vec<&Value> = d["templating"]["list"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default();

    // uneditable-dashboard-rule
    if d["editable"] != Value::Bool(false) {
        add(
            "uneditable-dashboard-rule",
            None,
            None,
            "is editable, it should be set to 'editable: false'".into(),
        );
    }

    // template-datasource-rule
    let ds: Vec<&&Value> = variables
        .iter()
        .filter(|v| v["type"] == "datasource")
        .collect();
    match ds.as_slice() {
        [] => add(
            "template-datasource-rule",
            None,
            None,
            "does not have a templated data source".into(),
        ),
        list => {
            for v in list {
                let query = v["query"].as_str().unwrap_or_default();
                let names = [format!("{query}_datasource"), "datasource".to_owned()];
                let name = v["name"].as_str().unwrap_or_default();
                if query != "prometheus" {
                    add(
                        "template-datasource-rule",
                        None,
                        None,
                        format!(
                            "data source variable {name:?} is of type {query:?}, not prometheus"
                        ),
                    );
                }
                if !names[..if list.len() == 1 { 2 } else { 1 }].contains(&name.to_owned()) {
                    add(
                        "template-datasource-rule",
                        None,
                        None,
                        format!(
                            "data source variable named {name:?}, should be {:?}",
                            names[1]
                        ),
                    );
                }
                let label = v["label"].as_str().unwrap_or_default();
                if label != "Data source" && label != "Prometheus data source" {
                    add(
                        "template-datasource-rule",
                        None,
                        None,
                        format!("data source variable labeled {label:?}, should be 'Data source'"),
                    );
                }
            }
        }
    }
    let ds_names: Vec<String> = ds
        .iter()
        .filter_map(|v| v["name"].as_str())
        .flat_map(|n| [format!("${n}"), format!("${{{n}}}")])
        .collect();

    // template-job-rule, template-instance-rule
    for (rule, name, label) in [
        ("template-job-rule", "job", "Job"),
        ("template-instance-rule", "instance", "Instance"),
    ] {
        let Some(v) = variables.iter().find(|v| v["name"] == name) else {
            add(rule, None, None, format!("is missing the {name} template"));
            continue;
        };
        let uid = v["datasource"]["uid"].as_str().unwrap_or_default();
        if !ds_names.iter().any(|n| n == uid) {
            add(
                rule,
                None,
                None,
                format!(
                    "{name} template should use datasource '$datasource', is currently {uid:?}"
                ),
            );
        }
        if v["type"] != "query" {
            add(
                rule,
                None,
                None,
                format!(
                    "{name} template should be a Prometheus query, is {}",
                    v["type"]
                ),
            );
        }
        if v["label"] != label {
            add(
                rule,
                None,
                None,
                format!(
                    "{name} template should be labeled {label:?}, is {}",
                    v["label"]
                ),
            );
        }
        if v["multi"] != Value::Bool(true) {
            add(
                rule,
                None,
                None,
                format!("{name} template should be a multi select"),
            );
        }
        if v["allValue"] != ".+" {
            add(
                rule,
                None,
                None,
                format!(
                    "{name} template allValue should be '.+', is {}",
                    v["allValue"]
                ),
            );
        }
    }

    // template-label-promql-rule, template-on-time-change-reload
    for v in variables.iter().filter(|v| v["type"] == "query") {
        let name = v["name"].as_str().unwrap_or("?");
        let q = match &v["query"] {
            Value::String(s) => s.clone(),
            o => o["query"].as_str().unwrap_or_default().to_owned(),
        };
        let parsed = q
            .split_once('(')
            .filter(|(f, _)| ["label_names", "label_values", "metrics", "query_result"].contains(f))
            .and_then(|(_, rest)| rest.trim_end().strip_suffix(')'));
        match parsed {
            None => add(
                "template-label-promql-rule",
                None,
                None,
                format!("template {name}: invalid query {q:?}"),
            ),
            Some(inner) => {
                // label_values(SELECTOR, LABEL): the selector is the part before the last comma.
                let selector = inner.rsplit_once(',').map_or(inner, |(s, _)| s);
                if let Err(e) = promql::parse(&expand(selector)) {
                    add(
                        "template-label-promql-rule",
                        None,
                        None,
                        format!("template {name}: {q:?}: {e}"),
                    );
                }
            }
        }
        if v["refresh"] != 2 {
            add(
                "template-on-time-change-reload",
                None,
                None,
                format!(
                    "variable {name} should refresh on time range change (2), is {}",
                    v["refresh"]
                ),
            );
        }
    }

    // Panel rules, over every panel including those inside collapsed rows.
    let mut panels: Vec<&Value> = Vec::new();
    let mut stack: Vec<&Value> = d["panels"]
        .as_array()
        .map(|a| a.iter().rev().collect())
        .unwrap_or_default();
    while let Some(p) = stack.pop() {
        panels.push(p);
        if let Some(children) = p["panels"].as_array() {
            stack.extend(children.iter().rev());
        }
    }
    for p in panels {
        let ty = p["type"].as_str().unwrap_or_default();
        if ty == "row" || ty == "text" {
            continue;
        }
        let ptitle = p["title"].as_str().unwrap_or_default();
        let pt = Some(ptitle);
        // panel-title-description-rule
        if ptitle.is_empty() || p["description"].as_str().unwrap_or_default().is_empty() {
            add(
                "panel-title-description-rule",
                pt,
                None,
                format!("panel {} has no title or no description", p["id"]),
            );
        }
        // panel-datasource-rule (the panel and each target)
        let uid = p["datasource"]["uid"].as_str().unwrap_or_default();
        if !ds_names.iter().any(|n| n == uid) {
            add(
                "panel-datasource-rule",
                pt,
                None,
                format!("does not use a templated datasource, uses {uid:?}"),
            );
        }
        // panel-units-rule: the default unit, every unit an override sets, and a heatmap's axis.
        let mut units = vec![p["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .unwrap_or_default()];
        for o in p["fieldConfig"]["overrides"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for prop in o["properties"].as_array().into_iter().flatten() {
                if prop["id"] == "unit" {
                    units.push(prop["value"].as_str().unwrap_or_default());
                }
            }
        }
        if ty == "heatmap" {
            let axis = p["options"]["yAxis"]["unit"].as_str().unwrap_or_default();
            if axis != units[0] {
                add(
                    "panel-units-rule",
                    pt,
                    None,
                    format!(
                        "heatmap axis unit {axis:?} differs from the panel's {:?}",
                        units[0]
                    ),
                );
            }
        }
        for u in units {
            if !VALID_UNITS.contains(&u) {
                add(
                    "panel-units-rule",
                    pt,
                    None,
                    format!("has no or invalid units defined: {u:?}"),
                );
            }
        }
        // panel-no-targets-rule
        let targets: Vec<&Value> = p["targets"]
            .as_array()
            .map(|t| t.iter().collect())
            .unwrap_or_default();
        if targets.is_empty() {
            add("panel-no-targets-rule", pt, None, "has no targets".into());
        }
        for (idx, t) in targets.into_iter().enumerate() {
            let ti = Some(idx);
            // A target without a data source of its own uses the panel's (checked above).
            let tuid = t["datasource"]["uid"].as_str();
            if let Some(tuid) = tuid.filter(|u| !ds_names.iter().any(|n| n == u)) {
                add(
                    "panel-datasource-rule",
                    pt,
                    ti,
                    format!("target does not use a templated datasource, uses {tuid:?}"),
                );
            }
            let raw = t["expr"].as_str().unwrap_or_default();
            // target-promql-rule
            let expr = match promql::parse(&expand(raw)) {
                Ok(e) => e,
                Err(e) => {
                    add(
                        "target-promql-rule",
                        pt,
                        ti,
                        format!("invalid PromQL query {raw:?}: {e}"),
                    );
                    continue;
                }
            };
            // target-job-rule, target-instance-rule
            for vs in selectors(&expr) {
                for (rule, label) in [
                    ("target-job-rule", "job"),
                    ("target-instance-rule", "instance"),
                ] {
                    if let Err(e) = check_matcher(vs, label) {
                        add(rule, pt, ti, format!("{e} in {raw:?}"));
                    }
                }
            }
            for (node, parents) in nodes_with_parents(&expr) {
                let parent = parents.last();
                // target-rate-interval-rule
                let range = match node {
                    Expr::MatrixSelector(ms) => Some(ms.range),
                    Expr::Subquery(sq) => Some(sq.range),
                    _ => None,
                };
                if let Some(range) = range.filter(|r| *r != Duration::from_secs(RATE_INTERVAL_SECS))
                {
                    add(
                        "target-rate-interval-rule",
                        pt,
                        ti,
                        format!("range {range:?} is not $__rate_interval in {raw:?}"),
                    );
                }
                // target-counter-agg-rule
                let counter = match node {
                    Expr::VectorSelector(vs) => Some((metric_name(vs), false)),
                    Expr::MatrixSelector(ms) => Some((metric_name(&ms.vs), true)),
                    _ => None,
                };
                if let Some((name, ranged)) = counter.filter(|(n, _)| n.ends_with("_total")) {
                    let in_counter_fn = matches!(parent, Some(Expr::Call(c)) if ["rate", "irate", "increase"].contains(&c.func.name));
                    if !(ranged && in_counter_fn) {
                        add("target-counter-agg-rule", pt, ti, format!("counter metric {name} is not aggregated with rate, irate, or increase in {raw:?}"));
                    }
                }
            }
        }
    }
    out
}

/// The findings left after the `.lint` file, and the exclusion entries that excused nothing.
fn apply(config: &LintConfig, findings: Vec<Finding>) -> (Vec<Finding>, Vec<String>, Vec<String>) {
    let mut used: BTreeMap<(String, usize), bool> = BTreeMap::new();
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    for f in findings {
        if let Some(e) = config.exclusions.get(f.rule) {
            if let Some(i) = excused(e, &f) {
                used.insert((f.rule.to_owned(), i), true);
                continue;
            }
        }
        if let Some(w) = config.warnings.get(f.rule) {
            if excused(w, &f).is_some() {
                warnings.push(f.to_string());
                continue;
            }
        }
        errors.push(f);
    }
    let mut unused = Vec::new();
    for (rule, entries) in &config.exclusions {
        let n = entries.as_ref().map_or(0, |e| e.entries.len());
        let slots: Vec<usize> = if n == 0 {
            vec![usize::MAX]
        } else {
            (0..n).collect()
        };
        for i in slots {
            if !used.contains_key(&(rule.clone(), i)) {
                unused.push(format!("{rule} entry {i}"));
            }
        }
    }
    (errors, warnings, unused)
}

/// Every exclusion and warning, of the rule or of each entry, says why.
fn reasons_missing(config: &LintConfig) -> Vec<String> {
    let mut missing = Vec::new();
    for (kind, map) in [
        ("exclusions", &config.exclusions),
        ("warnings", &config.warnings),
    ] {
        for (rule, entries) in map {
            let rule_reason = entries
                .as_ref()
                .is_some_and(|e| !e.reason.trim().is_empty());
            for (i, e) in entries.iter().flat_map(|e| e.entries.iter().enumerate()) {
                if !rule_reason && e.reason.trim().is_empty() {
                    missing.push(format!("{kind}.{rule} entry {i}"));
                }
            }
            if !rule_reason && entries.as_ref().is_none_or(|e| e.entries.is_empty()) {
                missing.push(format!("{kind}.{rule}"));
            }
        }
    }
    missing
}

fn load_config() -> LintConfig {
    match std::fs::read_to_string(repo(LINT_FILE)) {
        Ok(text) => serde_yaml_ng::from_str::<Option<LintConfig>>(&text)
            .unwrap_or_else(|e| panic!("{LINT_FILE}: {e}"))
            .unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => LintConfig::default(),
        Err(e) => panic!("{LINT_FILE}: {e}"),
    }
}

fn dashboards() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo(DASHBOARD_DIR))
        .expect("dashboards/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read dashboard");
            let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), v)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn every_dashboard_passes_the_dashboard_linter_rules() {
    let config = load_config();
    let missing = reasons_missing(&config);
    assert!(
        missing.is_empty(),
        "{LINT_FILE}: exceptions without a reason: {missing:?}"
    );
    let all = dashboards();
    assert!(!all.is_empty(), "no dashboard in {DASHBOARD_DIR}/");
    let mut findings = Vec::new();
    let mut targets = 0;
    for (path, d) in &all {
        targets += d["panels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["targets"].as_array().map_or(0, Vec::len))
            .sum::<usize>();
        println!("linting {path}");
        findings.extend(lint(d));
    }
    let (errors, warnings, unused) = apply(&config, findings);
    for w in &warnings {
        println!("warning (per {LINT_FILE}): {w}");
    }
    println!(
        "{} dashboards, {targets} targets: {} errors",
        all.len(),
        errors.len()
    );
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        errors.is_empty(),
        "dashboard-linter rules:\n{}",
        text.join("\n")
    );
    assert!(
        unused.is_empty(),
        "{LINT_FILE}: exclusions that excuse nothing: {unused:?}"
    );
}

/// A minimal dashboard that passes every rule, and one defect per rule that is found by exactly
/// that rule: proof that each rule can fail.
#[test]
fn each_rule_finds_its_defect() {
    let good = serde_json::json!({
        "title": "t", "editable": false,
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
            {"name": "job", "label": "Job", "type": "query", "multi": true, "allValue": ".+", "refresh": 2,
             "datasource": {"uid": "${datasource}"}, "query": "label_values(up, job)"},
            {"name": "instance", "label": "Instance", "type": "query", "multi": true, "allValue": ".+", "refresh": 2,
             "datasource": {"uid": "$datasource"},
             "query": {"query": "label_values(up{job=~\"$job\"}, instance)"}}
        ]},
        "panels": [{"id": 1, "type": "timeseries", "title": "p", "description": "d",
            "datasource": {"uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": "s"}, "overrides": []},
            "targets": [{"expr": "sum by (x) (rate(a_total{job=~\"$job\", instance=~\"${instance}\"}[$__rate_interval])) / on (x) b{job=~\"$job\", instance=~\"$instance\"}"}]}]
    });
    assert_eq!(lint(&good), Vec::<Finding>::new());

    let expr = |e: &str| {
        let mut d = good.clone();
        d["panels"][0]["targets"][0]["expr"] = e.into();
        d
    };
    let with = |path: &[&str], v: Value| {
        let mut d = good.clone();
        let mut at = &mut d;
        for k in path {
            at = match k.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*k],
            };
        }
        *at = v;
        d
    };
    let m = r#"job=~"$job", instance=~"$instance""#;
    let cases: Vec<(&str, Value)> = vec![
        (
            "uneditable-dashboard-rule",
            with(&["editable"], true.into()),
        ),
        (
            "template-datasource-rule",
            with(&["templating", "list", "0", "label"], "DS".into()),
        ),
        (
            "template-job-rule",
            with(&["templating", "list", "1", "allValue"], ".*".into()),
        ),
        (
            "template-instance-rule",
            with(&["templating", "list", "2", "multi"], false.into()),
        ),
        (
            "template-label-promql-rule",
            with(
                &["templating", "list", "1", "query"],
                "label_values(up{, job)".into(),
            ),
        ),
        (
            "template-on-time-change-reload",
            with(&["templating", "list", "2", "refresh"], 1.into()),
        ),
        (
            "panel-title-description-rule",
            with(&["panels", "0", "description"], "".into()),
        ),
        (
            "panel-units-rule",
            with(
                &["panels", "0", "fieldConfig", "defaults", "unit"],
                Value::Null,
            ),
        ),
        (
            "panel-datasource-rule",
            with(
                &["panels", "0", "datasource", "uid"],
                "P1809F7CD0C75ACF3".into(),
            ),
        ),
        (
            "panel-no-targets-rule",
            with(&["panels", "0", "targets"], serde_json::json!([])),
        ),
        ("target-promql-rule", expr("sum(rate(a[5m])")),
        ("target-job-rule", expr(r#"b{instance=~"$instance"}"#)),
        (
            "target-instance-rule",
            expr(r#"b{job=~"$job", instance="x"}"#),
        ),
        (
            "target-rate-interval-rule",
            expr(&format!("increase(b{{{m}}}[5m])")),
        ),
        (
            "target-rate-interval-rule",
            expr(&format!("max_over_time(b{{{m}}}[$__interval])")),
        ),
        (
            "target-counter-agg-rule",
            expr(&format!("count(a_total{{{m}}})")),
        ),
        (
            "target-counter-agg-rule",
            expr(&format!("max_over_time(a_total{{{m}}}[$__rate_interval])")),
        ),
    ];
    for (rule, d) in cases {
        let rules: Vec<&str> = lint(&d).iter().map(|f| f.rule).collect();
        assert_eq!(rules, [rule], "expected exactly one {rule} finding");
    }
}

/// The `.lint` file: an entry excuses only what it names, a rule without entries everything,
/// an entry that matches nothing is reported, and a missing reason is found.
#[test]
fn lint_file_exclusions_match_like_the_linter() {
    let config: LintConfig = serde_yaml_ng::from_str(
        "exclusions:\n  target-job-rule:\n    reason: r\n    entries:\n      - dashboard: t\n        panel: p\n        targetIdx: \"0\"\n      - panel: gone\n  panel-units-rule:\nwarnings:\n  target-instance-rule:\n    reason: w\n",
    )
    .expect("parse");
    let f = |rule, panel: &str, target| Finding {
        rule,
        dashboard: "t".into(),
        panel: Some(panel.into()),
        target: Some(target),
        message: String::new(),
    };
    let (errors, warnings, unused) = apply(
        &config,
        vec![
            f("target-job-rule", "p", 0),
            f("target-job-rule", "p", 1),
            f("panel-units-rule", "q", 0),
            f("target-instance-rule", "p", 0),
        ],
    );
    assert_eq!(errors, [f("target-job-rule", "p", 1)]);
    assert_eq!(warnings.len(), 1);
    assert_eq!(unused, ["target-job-rule entry 1"]);
    assert_eq!(reasons_missing(&config), ["exclusions.panel-units-rule"]);
}

#[test]
fn variables_expand_outside_strings_only() {
    assert_eq!(
        expand(r#"rate(x{job=~"$job", a="[[b]]"}[$__rate_interval]) / ${c:raw} + [[d]]"#),
        r#"rate(x{job=~"$job", a="[[b]]"}[11277964s]) / bgludgvy_c + bgludgvy_d"#
    );
    assert_eq!(
        expand(r#"x{a="\"$b"}[${__interval}]"#),
        r#"x{a="\"$b"}[11277965s]"#
    );
}
