//! The monitoring mixin (`mixin/`, jsonnet) against the files it generates and the Prometheus
//! tools:
//! - the checked-in `alerts/*.rules.yml`, `dashboards/*.json` and
//!   `examples/kubernetes/prometheusrule.yaml` hold exactly what `mixin/render.jsonnet` renders
//!   with the default `_config` (compared as values: `mixin/generate.sh` lays the text out,
//!   and comments live in the jsonnet), carry the generated-file header, and no other rule
//!   file or dashboard exists;
//! - every alert follows the mixin conventions: `severity` critical, warning or info; a static
//!   `summary` ending with a period; a templated `description`; `runbook_url`;
//! - rendered with another `_config` (`mixin/tests/custom-config.jsonnet`: job `time-skew`, a
//!   200 ms threshold, another runbook URL), the rules pass `promtool check rules` and the unit
//!   tests of `mixin/tests/custom-config.test.yml`, which fail against the defaults.
//!
//! Needs /usr/bin/jsonnet (Debian package `jsonnet`) and /usr/bin/promtool (`prometheus`);
//! without them a test prints SKIPPED, or fails when CI=true.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use common::require_paths;

const JSONNET: &str = "/usr/bin/jsonnet";
const PROMTOOL: &str = "/usr/bin/promtool";
const RENDER: &str = "mixin/render.jsonnet";
const CUSTOM_CONFIG: &str = "mixin/tests/custom-config.jsonnet";
const CUSTOM_TESTS: &str = "mixin/tests/custom-config.test.yml";
const ALERTS: &str = "alerts/skew-exporter.rules.yml";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Renders the mixin (with `config` as the `_config` override, if any): repository-relative
/// path -> the value mixin/generate.sh writes there.
fn render(config: Option<&str>) -> BTreeMap<String, Value> {
    let mut cmd = Command::new(JSONNET);
    cmd.arg("-J").arg(repo("mixin"));
    if let Some(c) = config {
        cmd.arg("--tla-code-file")
            .arg(format!("config={}", repo(c).display()));
    }
    let result = cmd
        .arg(repo(RENDER))
        .stdin(Stdio::null())
        .output()
        .expect("run jsonnet");
    assert!(
        result.status.success(),
        "jsonnet {RENDER} failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    serde_json::from_slice(&result.stdout).expect("jsonnet prints JSON")
}

/// A checked-in file as a value: JSON, or YAML read into the same data model.
fn parse_file(rel: &str) -> Value {
    let text = read(&repo(rel));
    if rel.ends_with(".json") {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
    } else {
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

/// Repository-relative paths of the files in `dir` whose names end in `suffix`.
fn files_in(dir: &str, suffix: &str) -> BTreeSet<String> {
    std::fs::read_dir(repo(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|e| e.expect("dir entry").file_name())
        .filter_map(|n| n.to_str().map(str::to_owned))
        .filter(|n| n.ends_with(suffix))
        .map(|n| format!("{dir}/{n}"))
        .collect()
}

/// The alert `name` of rendered rule groups.
fn alert<'a>(groups: &'a Value, name: &str) -> &'a Value {
    groups["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .find(|r| r["alert"] == name)
        .unwrap_or_else(|| panic!("no alert {name}"))
}

/// Writes the rendered alert rules and the custom-config unit tests into `dir` and runs
/// `promtool ARGS` there; returns whether it succeeded, and its output.
fn promtool_in(dir: &Path, rendered: &BTreeMap<String, Value>, args: &[&str]) -> (bool, String) {
    std::fs::create_dir_all(dir.join("alerts")).expect("mkdir");
    // YAML is a superset of JSON: promtool reads the rule file as written here.
    let rules = serde_json::to_string_pretty(&rendered[ALERTS]).expect("serialise");
    std::fs::write(dir.join(ALERTS), rules).expect("write rules");
    std::fs::copy(repo(CUSTOM_TESTS), dir.join("custom-config.test.yml")).expect("copy tests");
    let result = Command::new(PROMTOOL)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    (result.status.success(), text)
}

#[test]
fn checked_in_files_are_what_the_mixin_renders() {
    if !require_paths(&[JSONNET]) {
        return;
    }
    let rendered = render(None);
    println!("rendered: {:?}", rendered.keys().collect::<Vec<_>>());

    // Every shipped rule file and dashboard comes from the mixin.
    let mut expected: BTreeSet<String> = files_in("alerts", ".rules.yml");
    expected.extend(files_in("dashboards", ".json"));
    expected.insert("examples/kubernetes/prometheusrule.yaml".into());
    let written: BTreeSet<String> = rendered.keys().cloned().collect();
    assert_eq!(
        written, expected,
        "the mixin renders other files than the repository ships"
    );

    let stale: Vec<&String> = rendered
        .iter()
        .filter(|(rel, value)| parse_file(rel) != **value)
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what the mixin renders: edit mixin/ (not the generated files) \
         and run mixin/generate.sh"
    );
    // Generated files say so, and where they come from.
    for rel in rendered.keys().filter(|r| !r.ends_with(".json")) {
        assert!(
            read(&repo(rel)).starts_with("# Generated by mixin/generate.sh from "),
            "{rel} lacks the generated-file header"
        );
    }
}

#[test]
fn alerts_follow_the_mixin_conventions() {
    let doc: Value = serde_yaml_ng::from_str(&read(&repo(ALERTS))).expect("alerts YAML");
    let mut alerts = 0;
    let mut problems = Vec::new();
    for group in doc["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let Some(name) = rule["alert"].as_str() else {
                continue;
            };
            alerts += 1;
            let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
            if !["critical", "warning", "info"].contains(&severity) {
                problems.push(format!("{name}: severity {severity:?}"));
            }
            let a = &rule["annotations"];
            let summary = a["summary"].as_str().unwrap_or_default();
            if summary.contains("{{") || !summary.ends_with('.') || summary.len() < 10 {
                problems.push(format!(
                    "{name}: summary {summary:?} is not a static sentence ending with a period"
                ));
            }
            let description = a["description"].as_str().unwrap_or_default();
            if !description.contains("{{") {
                problems.push(format!("{name}: description is not templated"));
            }
            let url = a["runbook_url"].as_str().unwrap_or_default();
            if !url.ends_with(&format!("#{}", name.to_lowercase())) {
                problems.push(format!("{name}: runbook_url {url:?}"));
            }
        }
    }
    assert!(alerts >= 10, "only {alerts} alerts in {ALERTS}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_changed_config_renders_rules_that_pass_their_own_promtool_tests() {
    if !require_paths(&[JSONNET, PROMTOOL]) {
        return;
    }
    let rendered = render(Some(CUSTOM_CONFIG));
    let defaults = render(None);
    let (rules, default_rules) = (&rendered[ALERTS], &defaults[ALERTS]);

    // The overrides reached the rules...
    let down = alert(rules, "SkewExporterDown")["expr"]
        .as_str()
        .unwrap_or_default();
    assert!(down.contains(r#"up{job="time-skew"}"#), "{down}");
    assert!(!down.contains("skew-exporter"), "{down}");
    let high = alert(rules, "ClockDriftHigh");
    let expr = high["expr"].as_str().unwrap_or_default();
    assert!(
        expr.contains("> 0.2\n") && expr.contains("< -0.2\n") && !expr.contains("0.1"),
        "{expr}"
    );
    assert_eq!(
        high["annotations"]["runbook_url"],
        "https://runbooks.example/skew-exporter/clockdrifthigh"
    );
    // ... and nothing else: ClockDriftWarning's expression is the default one.
    let warning = |rules: &Value| alert(rules, "ClockDriftWarning")["expr"].clone();
    assert_eq!(warning(rules), warning(default_rules));
    // The dashboard's threshold lines follow the config.
    let dash = &rendered["dashboards/skew-exporter.json"];
    let steps = &dash["panels"][1]["fieldConfig"]["defaults"]["thresholds"]["steps"];
    assert!(
        steps
            .as_array()
            .expect("steps")
            .iter()
            .any(|s| s["value"].as_f64() == Some(0.2)),
        "System offset panel thresholds: {steps}"
    );
    let description = dash["panels"][1]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.contains("±200 ms limit of ClockDriftHigh"),
        "{description}"
    );

    let out = tempfile::tempdir().expect("temp dir");
    for args in [
        ["check", "rules", ALERTS],
        ["test", "rules", "custom-config.test.yml"],
    ] {
        let (ok, text) = promtool_in(out.path(), &rendered, &args);
        println!("promtool {}: {}", args.join(" "), text.trim());
        assert!(
            ok && text.contains("SUCCESS"),
            "promtool {} on the custom rendering failed:\n{text}",
            args.join(" ")
        );
    }

    // The same unit tests fail against the default rendering: they pin the overrides.
    let out = tempfile::tempdir().expect("temp dir");
    let (ok, text) = promtool_in(
        out.path(),
        &defaults,
        &["test", "rules", "custom-config.test.yml"],
    );
    assert!(
        !ok,
        "{CUSTOM_TESTS} also passes against the default _config, so it pins nothing:\n{text}"
    );
}
