//! The deployment examples against the real loader, the real binary and the real tools:
//! - `examples/skew-exporter.toml` passes `--check-config`, shows every key the loader accepts
//!   (the list is read from the loader itself: each table's "unknown field, expected one of"
//!   answer), each with a line saying why, and every commented-out value that is not marked
//!   `# example` is the built-in default;
//! - `examples/systemd/skew-exporter.service` passes `systemd-analyze verify` without a word
//!   about the unit, carries the hardening issue 8 asks for, and its
//!   `systemd-analyze security --offline=true` exposure stays at or below the figure the README
//!   quotes;
//! - `examples/kubernetes/`: the PrometheusRule carries exactly the groups of
//!   `alerts/*.rules.yml`; the manifests agree with each other (ports, labels, mounts, the
//!   ConfigMap's TOML, which passes `--check-config`); and, where `kubernetes-validate` is
//!   installed (`.ci/run` installs it from PyPI), the built-in kinds validate strictly against
//!   the Kubernetes schemas. The Prometheus Operator kinds have no schema there: the structural
//!   checks are all they get.
//!
//! Needs /usr/bin/systemd-analyze (Debian package `systemd`) and
//! /opt/kubernetes-validate/bin/kubernetes-validate; without them those tests print SKIPPED, or
//! fail when CI=true. Nothing here opens a socket.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_yaml_ng::{Mapping, Value};
use skew_exporter::config::{defaults, Flags, RawConfig, Settings};

use common::{require_paths, run_binary, BIN};

const EXAMPLE: &str = "examples/skew-exporter.toml";
const UNIT: &str = "examples/systemd/skew-exporter.service";
const KUBERNETES: &str = "examples/kubernetes";
const PROMETHEUS_RULE: &str = "examples/kubernetes/prometheusrule.yaml";
const ALERTS: &str = "alerts";
const README: &str = "README.md";

const SYSTEMD_ANALYZE: &str = "/usr/bin/systemd-analyze";
/// A venv, so that the validator and its pinned schemas stay out of the system Python.
const KUBERNETES_VALIDATE: &str = "/opt/kubernetes-validate/bin/kubernetes-validate";

/// Where the shipped unit expects the binary; the tests point a copy at the one under test.
const INSTALLED_BINARY: &str = "/usr/local/bin/skew-exporter";

/// How long `--check-config` may take (it reads a file and exits).
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// The comment that opens a block of keys another change adds (web config files, reload):
/// until the loader knows such a key, the example may already show it.
/// A line of the example that ends with this shows an example value, not the default.
const EXAMPLE_MARK: &str = "# example";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check_config(path: &Path) -> Output {
    let path = path.to_str().expect("UTF-8 path");
    run_binary(&["--check-config", "--config.file", path], CHECK_TIMEOUT)
}

// ------------------------------------------------------------------------------------------
// The example configuration
// ------------------------------------------------------------------------------------------

#[test]
fn example_config_passes_check_config() {
    let out = check_config(&root().join(EXAMPLE));
    assert!(
        out.status.success(),
        "--check-config refused {EXAMPLE} ({}):\n{}",
        out.status,
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("configuration OK"),
        "{}",
        text(&out)
    );
}

/// A field name no table has: the loader answers it with the names it accepts.
const PROBE: &str = "zz-packaging-probe";

enum Probe {
    /// The document parsed: the table takes any key (a map such as `verify.claim-headers`).
    Accepted,
    /// A struct table: the names it accepts, from serde's "unknown field" message.
    Fields(Vec<String>),
    /// Anything else (the key is a value, not a table).
    Refused,
}

fn probe(prefix: &str, header: &str) -> Probe {
    let doc = format!("{prefix}{header}\n{PROBE} = \"x\"\n");
    match RawConfig::parse(&doc) {
        Ok(_) => Probe::Accepted,
        Err(e) => {
            // "unknown field `p`, expected one of `a`, `b`" / "expected `a` or `b`" / "expected `a`"
            let needle = format!("unknown field `{PROBE}`");
            match e.lines().find(|l| l.contains(&needle)) {
                Some(line) => {
                    let after = &line[line.find(&needle).unwrap_or(0) + needle.len()..];
                    let names = after
                        .split('`')
                        .skip(1)
                        .step_by(2)
                        .map(str::to_owned)
                        .collect();
                    Probe::Fields(names)
                }
                None => Probe::Refused,
            }
        }
    }
}

/// What the loader accepts at a dotted path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Table,
    /// A table of free-form keys (claim → header).
    FreeTable,
    Value,
}

/// Every path the loader accepts (`web`, `web.listen-address`, `verify.keys`,
/// `verify.keys.file`, ...), asked of `RawConfig::parse` itself, so the list cannot drift.
fn loader_keys() -> BTreeMap<String, Shape> {
    fn walk(prefix: &str, path: &str, fields: Vec<String>, out: &mut BTreeMap<String, Shape>) {
        for field in fields {
            let child = if path.is_empty() {
                field.clone()
            } else {
                format!("{path}.{field}")
            };
            assert!(
                child.matches('.').count() < 4,
                "{child}: deeper than any table"
            );
            match probe(prefix, &format!("[{child}]")) {
                Probe::Accepted => {
                    out.insert(child, Shape::FreeTable);
                }
                Probe::Fields(f) => {
                    out.insert(child.clone(), Shape::Table);
                    walk(prefix, &child, f, out);
                }
                Probe::Refused => match probe(prefix, &format!("[[{child}]]")) {
                    Probe::Fields(f) => {
                        out.insert(child.clone(), Shape::Table);
                        let prefix = format!("{prefix}[[{child}]]\n");
                        walk(&prefix, &child, f, out);
                    }
                    _ => {
                        out.insert(child, Shape::Value);
                    }
                },
            }
        }
    }
    let Probe::Fields(top) = probe("", "") else {
        panic!("the loader did not list its tables for an unknown top-level key");
    };
    let mut out = BTreeMap::new();
    walk("", "", top, &mut out);
    out
}

#[derive(Debug)]
struct Entry {
    /// Dotted path of a key, or of a table header.
    path: String,
    line: usize,
    header: bool,
    commented: bool,
    /// The line above is a prose comment (the "why").
    has_why: bool,
    /// The line ends in `# example`.
    example: bool,
}

/// The line without its comment marker, and whether it had one.
fn uncomment(line: &str) -> (&str, bool) {
    let t = line.trim();
    match t.strip_prefix('#') {
        Some(rest) => (rest.trim(), true),
        None => (t, false),
    }
}

fn header_of(body: &str) -> Option<&str> {
    let inner = body
        .strip_prefix("[[")
        .and_then(|b| b.strip_suffix("]]"))
        .or_else(|| body.strip_prefix('[').and_then(|b| b.strip_suffix(']')))?;
    let ok = !inner.is_empty()
        && inner
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    ok.then_some(inner)
}

fn key_of(body: &str) -> Option<&str> {
    let (key, _) = body.split_once('=')?;
    let key = key.trim();
    let ok = key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then_some(key)
}

/// Every key and table header of the example, set or commented out.
fn example_entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut table = String::new();
    let mut prev_prose = false;
    for (i, line) in text.lines().enumerate() {
        let (body, commented) = uncomment(line);
        if let Some(h) = header_of(body) {
            table = h.to_owned();
            out.push(Entry {
                path: table.clone(),
                line: i + 1,
                header: true,
                commented,
                has_why: prev_prose,
                example: false,
            });
            prev_prose = false;
        } else if let Some(k) = key_of(body) {
            out.push(Entry {
                path: if table.is_empty() {
                    k.to_owned()
                } else {
                    format!("{table}.{k}")
                },
                line: i + 1,
                header: false,
                commented,
                has_why: prev_prose,
                example: line.trim_end().ends_with(EXAMPLE_MARK),
            });
            prev_prose = false;
        } else {
            prev_prose = commented && !body.is_empty();
        }
    }
    out
}

/// The free-form table a path lies in, if any.
fn in_free_table<'a>(path: &str, loader: &'a BTreeMap<String, Shape>) -> Option<&'a str> {
    loader
        .iter()
        .find(|(p, s)| **s == Shape::FreeTable && path.starts_with(&format!("{p}.")))
        .map(|(p, _)| p.as_str())
}

#[test]
fn the_loader_lists_its_keys() {
    // The probe itself must work, or the coverage test below would compare nothing.
    let keys = loader_keys();
    for (path, shape) in [
        ("web", Shape::Table),
        ("web.listen-address", Shape::Value),
        ("ntp.servers", Shape::Value),
        ("log.format", Shape::Value),
        ("events.file-start", Shape::Value),
        ("verify.keys", Shape::Table),
        ("verify.keys.file", Shape::Value),
        ("verify.claim-headers", Shape::FreeTable),
    ] {
        assert_eq!(keys.get(path), Some(&shape), "{path} in {keys:#?}");
    }
    assert!(keys.len() > 40, "{keys:#?}");
}

#[test]
fn example_config_shows_every_key_with_why_and_default() {
    let loader = loader_keys();
    let text = read(EXAMPLE);
    let entries = example_entries(&text);
    let shown: BTreeSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();

    let missing: Vec<&String> = loader
        .keys()
        .filter(|p| !shown.contains(p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{EXAMPLE} does not show these keys the loader accepts (set them, or show them \
         commented out with their default and a line saying why): {missing:?}"
    );

    let mut errors = Vec::new();
    for e in &entries {
        let known = loader.contains_key(&e.path) || in_free_table(&e.path, &loader).is_some();
        if !known {
            errors.push(format!(
                "line {}: `{}` is not a key the loader accepts",
                e.line, e.path
            ));
            continue;
        }
        let needs_why = !e.header && in_free_table(&e.path, &loader).is_none();
        if needs_why && !e.has_why {
            errors.push(format!(
                "line {}: `{}` has no comment line above it saying why",
                e.line, e.path
            ));
        }
    }
    assert!(errors.is_empty(), "{EXAMPLE}:\n{}", errors.join("\n"));

    // With every commented-out key and header switched on, the loader still parses the file:
    // no typo, no value of the wrong type hides behind a comment.
    let mut all_on = String::new();
    for line in text.lines() {
        let (body, commented) = uncomment(line);
        let setting = header_of(body).is_some() || key_of(body).is_some();
        all_on.push_str(if commented && setting { body } else { line });
        all_on.push('\n');
    }
    if let Err(e) = RawConfig::parse(&all_on) {
        panic!("{EXAMPLE} with every commented-out setting switched on does not parse: {e}");
    }

    // A commented-out key not marked `# example` shows the default: setting it alone changes
    // nothing in the validated settings.
    let settings = |doc: &str| {
        let raw = RawConfig::parse(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let s =
            Settings::from_sources(&Flags::default(), raw).unwrap_or_else(|e| panic!("{doc}: {e}"));
        format!("{s:?}")
    };
    let defaults = settings("");
    let mut checked = 0;
    for e in entries
        .iter()
        .filter(|e| e.commented && !e.header && !e.example && loader.contains_key(&e.path))
    {
        let line = text.lines().nth(e.line - 1).expect("line exists");
        let (body, _) = uncomment(line);
        let (table, _) = e.path.rsplit_once('.').expect("keys live in tables");
        let doc = format!("[{table}]\n{body}\n");
        // Compared through Debug, the one view of the whole validated settings there is.
        assert!(
            settings(&doc) == defaults,
            "{EXAMPLE} line {}: `{body}` is not the default; fix the value, or end the line \
             with `{EXAMPLE_MARK}`",
            e.line
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} commented-out defaults found");
}

// ------------------------------------------------------------------------------------------
// The systemd unit
// ------------------------------------------------------------------------------------------

/// `(section, key, value)` of every directive, in order.
fn unit_directives(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_owned();
        } else if let Some((k, v)) = line.split_once('=') {
            out.push((section.clone(), k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

fn directive<'a>(d: &'a [(String, String, String)], key: &str) -> Vec<&'a str> {
    d.iter()
        .filter(|(s, k, _)| s == "Service" && k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

/// A copy of the unit whose `ExecStart` runs the binary under test (verify wants an existing
/// executable), with `edit` applied, in a fresh directory.
fn unit_copy(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let text = read(UNIT);
    let from = format!("ExecStart={INSTALLED_BINARY} ");
    assert_eq!(
        text.matches(&from).count(),
        1,
        "{UNIT}: expected one `{from}…` line"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("skew-exporter.service");
    let copy = edit(text.replace(&from, &format!("ExecStart={BIN} ")));
    std::fs::write(&path, copy).expect("write unit copy");
    (dir, path)
}

fn systemd_analyze(args: &[&str], unit: &Path) -> Output {
    Command::new(SYSTEMD_ANALYZE)
        .args(args)
        .arg(unit)
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_COLORS", "0")
        .output()
        .expect("run systemd-analyze")
}

#[test]
fn systemd_unit_carries_the_hardening_and_matches_the_example() {
    let d = unit_directives(&read(UNIT));
    for (key, want) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("ProtectClock", "yes"),
    ] {
        assert_eq!(directive(&d, key), [want], "{UNIT}: {key}");
    }
    let exec = directive(&d, "ExecStart");
    assert_eq!(exec.len(), 1, "{UNIT}: one ExecStart");
    let mut words = exec[0].split_whitespace();
    assert_eq!(words.next(), Some(INSTALLED_BINARY));
    let config = words
        .find_map(|w| w.strip_prefix("--config.file="))
        .expect("ExecStart passes --config.file=…");

    // The directories systemd creates are where the example config puts things.
    let [state] = directive(&d, "StateDirectory")[..] else {
        panic!("{UNIT}: one StateDirectory")
    };
    let [conf_dir] = directive(&d, "ConfigurationDirectory")[..] else {
        panic!("{UNIT}: one ConfigurationDirectory")
    };
    assert_eq!(
        config,
        format!("/etc/{conf_dir}/skew-exporter.toml"),
        "{UNIT}: the config file lies in the ConfigurationDirectory"
    );
    let raw = RawConfig::parse(&read(EXAMPLE)).expect("example parses");
    let checkpoint = raw
        .events
        .checkpoint
        .expect("the example sets events.checkpoint");
    assert!(
        checkpoint.starts_with(format!("/var/lib/{state}")),
        "{EXAMPLE}: events.checkpoint {} must lie in the unit's StateDirectory /var/lib/{state}",
        checkpoint.display()
    );
}

#[test]
fn systemd_unit_verifies_cleanly() {
    if !require_paths(&[SYSTEMD_ANALYZE]) {
        return;
    }
    let (_dir, unit) = unit_copy(|t| t);
    let out = systemd_analyze(&["verify"], &unit);
    let all = text(&out);
    let name = unit.file_name().and_then(|n| n.to_str()).expect("name");
    let about_unit: Vec<&str> = all.lines().filter(|l| l.contains(name)).collect();
    assert!(
        out.status.success() && about_unit.is_empty(),
        "systemd-analyze verify {} ({}):\n{all}",
        unit.display(),
        out.status
    );

    // The same check sees a misspelt directive, so its silence above means something.
    let (_dir, broken) = unit_copy(|t| t.replace("NoNewPrivileges=", "NoNewPrivilege="));
    let all = text(&systemd_analyze(&["verify"], &broken));
    assert!(
        all.lines()
            .any(|l| l.contains(name) && l.contains("NoNewPrivilege")),
        "systemd-analyze verify did not report a misspelt directive:\n{all}"
    );
}

/// The figure after "overall exposure level **" in the README.
fn readme_exposure() -> f64 {
    let readme = read(README);
    let marker = "overall exposure level **";
    let at = readme
        .find(marker)
        .unwrap_or_else(|| panic!("{README} quotes no `{marker}X.Y OK**`"));
    let rest = &readme[at + marker.len()..];
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|e| panic!("{README}: `{number}` after `{marker}`: {e}"))
}

#[test]
fn systemd_unit_exposure_stays_at_the_readme_figure() {
    if !require_paths(&[SYSTEMD_ANALYZE]) {
        return;
    }
    let quoted = readme_exposure();
    let (_dir, unit) = unit_copy(|t| t);
    let out = systemd_analyze(&["security", "--offline=true"], &unit);
    let all = text(&out);
    assert!(out.status.success(), "{}:\n{all}", out.status);
    // "→ Overall exposure level for skew-exporter.service: 1.1 OK 🙂"
    let line = all
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{all}"));
    let score: f64 = line
        .rsplit_once(": ")
        .and_then(|(_, s)| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in `{line}`"));
    eprintln!("systemd-analyze security --offline=true: {line}");
    assert!(
        score <= quoted,
        "the unit's exposure rose to {score} (the README quotes {quoted}); see which checks \
         turned into ✗:\n{all}"
    );

    // Without its hardening, the same unit scores far worse: the figure measures the unit.
    let (_dir, bare) = unit_copy(|t| {
        t.lines()
            .filter(|l| !l.starts_with("Protect") && !l.starts_with("Private"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let bare_all = text(&systemd_analyze(&["security", "--offline=true"], &bare));
    assert!(
        !bare_all.contains(&format!("skew-exporter.service: {score:.1} ")),
        "removing Protect*/Private* did not change the score:\n{bare_all}"
    );
}

// ------------------------------------------------------------------------------------------
// Kubernetes
// ------------------------------------------------------------------------------------------

/// The opening of `prometheusrule.yaml`, printed with the expected file. The file is rendered
/// by the mixin (`mixin/generate.sh`), like the rule files; tests/mixin.rs keeps it current.
const PROMETHEUS_RULE_HEADER: &str = "\
# Out of date: edit mixin/ (not this file) and run mixin/generate.sh.
";

fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{what}: {e}")))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn expected_rule_groups() -> (Vec<String>, Vec<Value>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(ALERTS))
        .expect("alerts/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".rules.yml"))
        })
        .collect();
    files.sort();
    let mut names = Vec::new();
    let mut groups = Vec::new();
    for f in &files {
        let what = f.strip_prefix(root()).unwrap_or(f).display().to_string();
        let doc: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{what}: {e}")),
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        let g = doc["groups"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{what}: no groups"));
        groups.extend(g.iter().cloned());
        names.push(what);
    }
    (names, groups)
}

#[test]
fn prometheus_rule_carries_exactly_the_alert_rules() {
    let (files, groups) = expected_rule_groups();
    assert!(
        files.iter().any(|f| f.ends_with("skew-exporter.rules.yml")),
        "{files:?}"
    );
    let text = std::fs::read_to_string(root().join(PROMETHEUS_RULE)).unwrap_or_default();
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap_or(Value::Null);

    // What the file should be: its own apiVersion, kind and metadata (or these), the groups.
    let mut want = Mapping::new();
    let field = |k: &str, default: &str| match &doc[k] {
        Value::Null => serde_yaml_ng::from_str(default).expect("default YAML"),
        v => v.clone(),
    };
    want.insert(
        "apiVersion".into(),
        field("apiVersion", "monitoring.coreos.com/v1"),
    );
    want.insert("kind".into(), field("kind", "PrometheusRule"));
    want.insert(
        "metadata".into(),
        field(
            "metadata",
            "{name: skew-exporter, labels: {app.kubernetes.io/name: skew-exporter}}",
        ),
    );
    let mut spec = Mapping::new();
    spec.insert("groups".into(), Value::Sequence(groups.clone()));
    want.insert("spec".into(), Value::Mapping(spec));
    let want = Value::Mapping(want);

    if doc != want {
        let yaml = serde_yaml_ng::to_string(&want).expect("serialise");
        panic!(
            "{PROMETHEUS_RULE} is not the groups of {files:?}. Replace it with:\n\
             ----8<----\n{PROMETHEUS_RULE_HEADER}{yaml}----8<----"
        );
    }
    assert_eq!(doc["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(doc["kind"], "PrometheusRule");
    assert!(!groups.is_empty());
}

/// Every manifest under examples/kubernetes, by kind (each kind once).
fn manifests() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(KUBERNETES))
        .expect("examples/kubernetes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    for f in files {
        let what = f.display().to_string();
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{what}: {e}"));
        for doc in yaml_docs(&text, &what) {
            for k in ["apiVersion", "kind"] {
                assert!(
                    doc[k].as_str().is_some_and(|s| !s.is_empty()),
                    "{what}: {k}"
                );
            }
            assert!(
                doc["metadata"]["name"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{what}: metadata.name"
            );
            let kind = doc["kind"].as_str().expect("checked").to_owned();
            assert!(
                out.insert(kind.clone(), doc).is_none(),
                "two {kind} manifests"
            );
        }
    }
    out
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn subset(small: &BTreeMap<String, String>, big: &BTreeMap<String, String>) -> bool {
    !small.is_empty() && small.iter().all(|(k, v)| big.get(k) == Some(v))
}

/// `--flag=value` or `--flag value` in a container's args.
fn arg(args: &[String], flag: &str) -> Option<String> {
    let eq = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix(&eq)
            .map(str::to_owned)
            .or_else(|| (a == flag).then(|| args.get(i + 1).cloned()).flatten())
    })
}

/// A port reference (`targetPort`, a probe's `port`) that names or numbers the container port.
fn refers_to(v: &Value, name: &str, number: u64) -> bool {
    v.as_str() == Some(name) || v.as_u64() == Some(number)
}

/// Mebibytes of a Kubernetes memory quantity like `128Mi` or `1Gi`.
fn mebibytes(q: &Value) -> f64 {
    let s = q.as_str().unwrap_or_else(|| panic!("quantity {q:?}"));
    let (n, unit) = s.split_at(s.find(|c: char| c.is_alphabetic()).unwrap_or(s.len()));
    let n: f64 = n.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
    n * match unit {
        "Ki" => 1.0 / 1024.0,
        "Mi" => 1.0,
        "Gi" => 1024.0,
        "" => 1.0 / (1024.0 * 1024.0),
        u => panic!("{s}: unit {u} not handled here"),
    }
}

/// The ConfigMap's TOML, by file name.
fn configmap_files(cm: &Value) -> BTreeMap<String, String> {
    str_map(&cm["data"])
}

#[test]
fn kubernetes_configmap_passes_check_config() {
    let m = manifests();
    let files = configmap_files(&m["ConfigMap"]);
    let toml = files
        .get("skew-exporter.toml")
        .expect("ConfigMap data skew-exporter.toml");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("skew-exporter.toml");
    std::fs::write(&path, toml).expect("write");
    let out = check_config(&path);
    assert!(
        out.status.success(),
        "--check-config refused the ConfigMap's TOML ({}):\n{}",
        out.status,
        text(&out)
    );
}

#[test]
fn kubernetes_manifests_agree_with_each_other() {
    let m = manifests();
    for kind in [
        "ConfigMap",
        "DaemonSet",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
    ] {
        assert!(
            m.contains_key(kind),
            "no {kind} in {KUBERNETES}: {:?}",
            m.keys()
        );
    }
    let ds = &m["DaemonSet"];
    let pod = &ds["spec"]["template"];
    let pod_labels = str_map(&pod["metadata"]["labels"]);
    assert!(
        subset(
            &str_map(&ds["spec"]["selector"]["matchLabels"]),
            &pod_labels
        ),
        "DaemonSet selector vs pod labels"
    );
    let spec = &pod["spec"];
    assert_ne!(
        spec["hostNetwork"], true,
        "the pod shares the node's clock without hostNetwork"
    );
    let containers = spec["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    let c = &containers[0];
    let args: Vec<String> = c["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_owned())
        .collect();

    // The port: args → containerPort → Service → ServiceMonitor, and the probes.
    let listen = arg(&args, "--web.listen-address").expect("args set --web.listen-address");
    let port: u64 = listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("port of {listen}"));
    let cport = c["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .find(|p| p["containerPort"].as_u64() == Some(port))
        .unwrap_or_else(|| panic!("no containerPort {port} (from {listen})"));
    let cname = cport["name"]
        .as_str()
        .expect("the container port has a name");
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], "/healthz", "{probe}");
        assert!(refers_to(&get["port"], cname, port), "{probe} port");
    }
    let svc = &m["Service"];
    assert!(
        subset(&str_map(&svc["spec"]["selector"]), &pod_labels),
        "Service selector vs pod labels"
    );
    let sport = svc["spec"]["ports"]
        .as_sequence()
        .expect("Service ports")
        .iter()
        .find(|p| refers_to(&p["targetPort"], cname, port))
        .unwrap_or_else(|| panic!("no Service port targets {cname}/{port}"));
    assert_eq!(sport["port"].as_u64(), Some(port), "Service port number");
    assert_eq!(sport["name"].as_str(), Some(cname), "Service port name");

    let sm = &m["ServiceMonitor"];
    assert!(
        subset(
            &str_map(&sm["spec"]["selector"]["matchLabels"]),
            &str_map(&svc["metadata"]["labels"])
        ),
        "ServiceMonitor selector vs Service labels"
    );
    let endpoints = sm["spec"]["endpoints"].as_sequence().expect("endpoints");
    assert!(!endpoints.is_empty());
    let files = configmap_files(&m["ConfigMap"]);
    let toml = files.get("skew-exporter.toml").expect("ConfigMap TOML");
    let raw = RawConfig::parse(toml).expect("ConfigMap TOML parses");
    if let Some(a) = &raw.web.listen_address {
        assert_eq!(a, &listen, "the ConfigMap and the args disagree (args win)");
    }
    let path = arg(&args, "--web.telemetry-path")
        .or(raw.web.telemetry_path.clone())
        .unwrap_or_else(|| defaults::TELEMETRY_PATH.into());
    for e in endpoints {
        assert_eq!(
            e["port"].as_str(),
            Some(cname),
            "ServiceMonitor endpoint port"
        );
        assert_eq!(
            e["path"].as_str(),
            Some(path.as_str()),
            "ServiceMonitor path"
        );
    }
    // The Prometheus Operator names the job after the Service; the alerts name the job.
    assert!(
        sm["spec"]["jobLabel"].is_null(),
        "jobLabel would rename the job"
    );
    let job = format!(
        "job=\"{}\"",
        svc["metadata"]["name"].as_str().expect("name")
    );
    assert!(
        read("alerts/skew-exporter.rules.yml").contains(&job),
        "the alerts do not select {job}"
    );

    // Mounts: the config, the host's /var/log read-only, a writable hostPath checkpoint.
    let volumes = spec["volumes"].as_sequence().expect("volumes");
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    let mount_of = |path: &str| {
        mounts
            .iter()
            .filter(|mt| {
                let at = mt["mountPath"].as_str().expect("mountPath");
                Path::new(path).starts_with(at)
            })
            .max_by_key(|mt| mt["mountPath"].as_str().map_or(0, str::len))
            .unwrap_or_else(|| panic!("nothing mounted at {path}"))
    };
    let config = arg(&args, "--config.file").expect("args set --config.file");
    let config_mount = mount_of(&config);
    let cm_volume = volume(config_mount["name"].as_str().expect("name"));
    assert_eq!(
        cm_volume["configMap"]["name"],
        m["ConfigMap"]["metadata"]["name"]
    );
    let file_name = Path::new(&config)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name");
    assert!(
        files.contains_key(file_name),
        "ConfigMap has no {file_name}"
    );

    let patterns = raw
        .events
        .files
        .clone()
        .expect("the ConfigMap follows files");
    assert!(!patterns.is_empty());
    for p in &patterns {
        let mt = mount_of(p);
        let v = volume(mt["name"].as_str().expect("name"));
        assert_eq!(
            v["hostPath"]["path"], "/var/log",
            "{p} comes from the host's /var/log"
        );
        assert_eq!(
            mt["readOnly"], true,
            "the host's /var/log is mounted read-only"
        );
    }
    let checkpoint = raw
        .events
        .checkpoint
        .clone()
        .expect("the ConfigMap sets a checkpoint");
    let mt = mount_of(checkpoint.to_str().expect("UTF-8"));
    let v = volume(mt["name"].as_str().expect("name"));
    assert!(
        v["hostPath"]["path"].as_str().is_some(),
        "the checkpoint survives the pod"
    );
    assert_ne!(mt["readOnly"], true, "the checkpoint directory is writable");

    // Hardening, at pod or container level.
    let sec = |k: &str| {
        let cv = &c["securityContext"][k];
        if cv.is_null() {
            spec["securityContext"][k].clone()
        } else {
            cv.clone()
        }
    };
    assert_eq!(sec("runAsNonRoot"), true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert!(
        c["securityContext"]["capabilities"]["drop"]
            .as_sequence()
            .is_some_and(|d| d.iter().any(|x| x == "ALL")),
        "capabilities drop ALL"
    );
    assert_eq!(sec("seccompProfile")["type"], "RuntimeDefault");

    // Memory: the limit holds the measured peak RSS (benches/README.md, 32 MiB with every
    // label slot filled) plus every POST /v1/events body the ConfigMap lets it buffer.
    let limit = mebibytes(&c["resources"]["limits"]["memory"]);
    let request = mebibytes(&c["resources"]["requests"]["memory"]);
    let bodies = raw
        .events
        .max_concurrent
        .unwrap_or(defaults::EVENTS_MAX_CONCURRENT) as f64
        * raw.events.max_body.unwrap_or(defaults::EVENTS_MAX_BODY) as f64
        / (1024.0 * 1024.0);
    assert!(
        request >= 32.0 && request <= limit,
        "request {request} Mi, limit {limit} Mi"
    );
    assert!(
        limit >= 32.0 + bodies,
        "limit {limit} Mi < 32 MiB + {bodies} MiB of request bodies"
    );
    assert!(c["resources"]["requests"]["cpu"].as_str().is_some());
}

#[test]
fn kubernetes_manifests_validate_against_the_schemas() {
    // Not a Debian package: say where it comes from before require_paths skips or fails.
    if !Path::new(KUBERNETES_VALIDATE).exists() {
        eprintln!(
            "{KUBERNETES_VALIDATE} is missing; .ci/run installs it: python3 -m venv \
             /opt/kubernetes-validate && /opt/kubernetes-validate/bin/pip install \
             kubernetes-validate==1.37.0"
        );
    }
    if !require_paths(&[KUBERNETES_VALIDATE]) {
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(KUBERNETES))
        .expect("examples/kubernetes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let out = Command::new(KUBERNETES_VALIDATE)
        .arg("--strict")
        .args(&files)
        .output()
        .expect("run kubernetes-validate");
    let all = text(&out);
    eprintln!("{all}");
    assert!(
        out.status.success(),
        "kubernetes-validate --strict ({}):\n{all}",
        out.status
    );
    assert!(!all.contains("ERROR"), "{all}");
    // The built-in kinds were checked, not skipped for want of a schema.
    for resource in ["configmap/", "daemonset/", "service/"] {
        assert!(
            all.lines()
                .any(|l| l.contains("passed") && l.contains(resource)),
            "{resource} was not validated:\n{all}"
        );
    }
}
