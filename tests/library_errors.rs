//! The error texts real JWT libraries raise, logged the ways users log them, and what the
//! exporter makes of them as an event's `reason`.
//!
//! `tests/data/library_errors.jsonl` holds one line per (library, case, form): the text the
//! library produced (`null` when it accepted the token: a check it does not make) and the reason
//! that text must map to (`null`: the text says nothing, so `other`). The generators in
//! `tests/libs/` (node `jsonwebtoken` and `jose`, PyJWT and python-jose, golang-jwt) wrote
//! them; the Rust `jsonwebtoken` lines are made here. Two tests:
//! - every checked-in text maps as expected, through the event parser;
//! - the generators, re-run, still print exactly the checked-in lines, so a library upgrade that
//!   changes a text is caught. A generator whose runtime is missing is skipped locally and fails
//!   the test under `CI=true` (`.ci/run` installs them all).
//!
//! To refresh the file after a deliberate upgrade: `UPDATE_LIBRARY_FIXTURES=1 cargo test --test
//! library_errors` (every runtime must be present), then review the diff.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use skew_exporter::event::{parse_event, Reason};

const FIXTURES: &str = "tests/data/library_errors.jsonl";
/// The venv `.ci/run` creates with tests/libs/requirements.txt.
const PYTHON: &str = "/opt/jwt-libs-python/bin/python";
/// Debian's golang-github-golang-jwt-jwt-dev (v4), for GOPATH mode.
const GOPATH: &str = "/usr/share/gocode";

#[derive(Debug, Clone, PartialEq)]
struct Fixture {
    library: String,
    case: String,
    form: String,
    text: Option<String>,
    expected: Option<String>,
}

impl Fixture {
    fn from_json(line: &str) -> Fixture {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let s = |k: &str| v[k].as_str().map(str::to_owned);
        let field = |k: &str| s(k).unwrap_or_else(|| panic!("{line}: no {k}"));
        Fixture {
            library: field("library"),
            case: field("case"),
            form: field("form"),
            text: s("text"),
            expected: s("expected"),
        }
    }

    /// One NDJSON line, its keys in the generators' order.
    fn to_json(&self) -> String {
        format!(
            r#"{{"library":{},"case":{},"form":{},"text":{},"expected":{}}}"#,
            json!(self.library),
            json!(self.case),
            json!(self.form),
            json!(self.text),
            json!(self.expected)
        )
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn checked_in() -> Vec<Fixture> {
    let text = std::fs::read_to_string(root().join(FIXTURES)).expect("read the fixture file");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(Fixture::from_json)
        .collect()
}

/// The reason the exporter records for a rejected event with this `reason` text.
fn recorded_reason(text: &str) -> Reason {
    let event = json!({"ts": 1790000000, "iss": "https://issuer.test", "outcome": "rejected",
                       "reason": text})
    .to_string();
    let parsed = parse_event(event.as_bytes(), 1.0).expect("a rejected event with a reason");
    let reason = parsed.reason.expect("a rejected event keeps its reason");
    assert_eq!(reason, Reason::from_text(text), "{text}");
    reason
}

#[test]
fn every_library_text_maps_to_its_reason() {
    let fixtures = checked_in();
    let mut wrong = String::new();
    let mut mapped = 0;
    for f in &fixtures {
        let Some(text) = &f.text else { continue };
        let want = f.expected.as_deref().unwrap_or("other");
        let got = recorded_reason(text).as_str();
        mapped += 1;
        if got != want {
            let _ = writeln!(
                wrong,
                "{} / {} / {}: {text:?} -> {got}, want {want}",
                f.library, f.case, f.form
            );
        }
    }
    assert!(wrong.is_empty(), "texts that map wrong:\n{wrong}");
    // Every library is there, with every kind of rejection it makes.
    for library in LIBRARIES {
        let n = fixtures.iter().filter(|f| f.library == *library).count();
        assert!(n >= 10, "{library}: only {n} fixture lines");
    }
    assert!(
        mapped >= 170,
        "only {mapped} texts: a truncated {FIXTURES}?"
    );
}

/// For every rejection a library makes, some form users log carries the reason: the forms that
/// say nothing alone (`expected: null`) always have a better neighbour, which docs/events.md
/// recommends.
#[test]
fn every_rejection_has_a_form_that_tells_the_reason() {
    let fixtures = checked_in();
    for f in fixtures.iter().filter(|f| f.text.is_some()) {
        let told = fixtures.iter().any(|g| {
            g.library == f.library && g.case == f.case && g.text.is_some() && g.expected.is_some()
        });
        assert!(told, "{} / {}: no form tells the reason", f.library, f.case);
    }
}

/// The library names, as the generators print them (a new major version is a new name, and
/// shows as a difference).
const LIBRARIES: &[&str] = &[
    "node jsonwebtoken 9",
    "node jose 6",
    "PyJWT 2",
    "python-jose 3",
    "golang-jwt 4",
    "Rust jsonwebtoken 11",
];

/// The lines the checked-in file holds for these libraries, in order.
fn checked_in_for(libraries: &[&str]) -> Vec<Fixture> {
    checked_in()
        .into_iter()
        .filter(|f| libraries.contains(&f.library.as_str()))
        .collect()
}

/// What differs between two lists of fixture lines, as text (empty when equal).
fn differences(checked: &[Fixture], generated: &[Fixture]) -> String {
    let mut out = String::new();
    for f in checked.iter().filter(|f| !generated.contains(f)) {
        let _ = writeln!(out, "- {}", f.to_json());
    }
    for f in generated.iter().filter(|f| !checked.contains(f)) {
        let _ = writeln!(out, "+ {}", f.to_json());
    }
    if out.is_empty() && checked != generated {
        out.push_str("same lines, in another order\n");
    }
    out
}

/// Runs a generator: its NDJSON lines, or `None` (after a skip message) when its runtime is
/// missing outside CI.
fn run_generator(name: &str, needs: &[&str], command: &mut Command) -> Option<Vec<Fixture>> {
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        let msg = format!(
            "the {name} generator needs {} (installed by .ci/run: see tests/libs/README.md)",
            missing.join(", ")
        );
        assert!(!common::in_ci(), "CI=true and {msg}");
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the {name} generator: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the {name} generator failed ({}):\n{stderr}",
        output.status
    );
    let stdout = String::from_utf8(output.stdout).expect("the generator prints UTF-8");
    Some(stdout.lines().map(Fixture::from_json).collect())
}

fn libs_dir() -> PathBuf {
    root().join("tests/libs")
}

fn node_lines() -> Option<Vec<Fixture>> {
    let dir = libs_dir();
    let modules = dir.join("node_modules");
    let jose = modules.join("jose/package.json");
    let jsonwebtoken = modules.join("jsonwebtoken/package.json");
    let (jose, jsonwebtoken) = (jose.to_str()?, jsonwebtoken.to_str()?);
    let node = which("node").unwrap_or_else(|| "node (nodejs)".into());
    let mut command = Command::new(&node);
    command.arg("gen.js").current_dir(&dir);
    run_generator("node", &[&node, jose, jsonwebtoken], &mut command)
}

fn python_lines() -> Option<Vec<Fixture>> {
    let mut command = Command::new(PYTHON);
    command.arg("gen.py").current_dir(libs_dir());
    run_generator("python", &[PYTHON], &mut command)
}

fn go_lines() -> Option<Vec<Fixture>> {
    let go = which("go").unwrap_or_else(|| "go (golang-go)".into());
    let package = format!("{GOPATH}/src/github.com/golang-jwt/jwt/claims.go");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build");
    let mut command = Command::new(&go);
    command
        .args(["run", "gen.go"])
        .current_dir(libs_dir())
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .env("GOCACHE", cache);
    run_generator("go", &[&go, &package], &mut command)
}

/// The first `name` on PATH.
fn which(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.to_str().map(str::to_owned))
}

/// The Rust `jsonwebtoken` crate's errors, made here: the `ErrorKind` Debug form and the
/// Display text. It has no key lookup (a missing `kid` is the caller's, so no `unknown_key`
/// case), never reads `iat`, and takes no "now" (its texts carry no time).
fn rust_lines() -> Vec<Fixture> {
    use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};

    let library = "Rust jsonwebtoken 11";
    let secret = b"skew-exporter library fixtures, not a real secret, 64 bytes long.";
    let other = b"another secret, so the signature does not verify, 64 bytes long.";
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).expect("a sane clock");
    let claims = |changes: Value| {
        let mut c = json!({"iss": "https://issuer.test", "aud": "api", "sub": "user",
                           "iat": now - 60, "exp": now + 3600});
        for (k, v) in changes.as_object().expect("an object") {
            if v.is_null() {
                c.as_object_mut().expect("an object").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let sign = |c: &Value, key: &[u8], alg: Algorithm| {
        encode(&Header::new(alg), c, &EncodingKey::from_secret(key)).expect("sign")
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.set_issuer(&["https://issuer.test"]);
    validation.set_audience(&["api"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);

    let cases: Vec<(&str, &str, String)> = vec![
        (
            "good",
            "",
            sign(&claims(json!({})), secret, Algorithm::HS256),
        ),
        (
            "expired",
            "expired",
            sign(
                &claims(json!({"iat": now - 7200, "exp": now - 3600})),
                secret,
                Algorithm::HS256,
            ),
        ),
        (
            "nbf_future",
            "not_yet_valid",
            sign(
                &claims(json!({"nbf": now + 3600, "exp": now + 7200})),
                secret,
                Algorithm::HS256,
            ),
        ),
        (
            "iat_future",
            "issued_in_future",
            sign(
                &claims(json!({"iat": now + 3600, "exp": now + 7200})),
                secret,
                Algorithm::HS256,
            ),
        ),
        (
            "bad_signature",
            "invalid_signature",
            sign(&claims(json!({})), other, Algorithm::HS256),
        ),
        (
            "wrong_issuer",
            "invalid_issuer",
            sign(
                &claims(json!({"iss": "https://someone-else.test"})),
                secret,
                Algorithm::HS256,
            ),
        ),
        (
            "wrong_audience",
            "invalid_audience",
            sign(&claims(json!({"aud": "not-api"})), secret, Algorithm::HS256),
        ),
        (
            "missing_exp",
            "missing_claim",
            sign(&claims(json!({"exp": null})), secret, Algorithm::HS256),
        ),
        (
            "alg_not_allowed",
            "invalid_algorithm",
            sign(&claims(json!({})), secret, Algorithm::HS512),
        ),
        ("garbage", "malformed", "this is not a token".to_owned()),
    ];
    let mut out = Vec::new();
    for (case, reason, token) in cases {
        let line = |form: &str, text: Option<String>| Fixture {
            library: library.to_owned(),
            case: case.to_owned(),
            form: form.to_owned(),
            expected: text.as_ref().map(|_| reason.to_owned()),
            text,
        };
        match decode::<Value>(&token, &DecodingKey::from_secret(secret), &validation) {
            Ok(_) => out.push(line("accepted", None)),
            Err(e) => {
                out.push(line("{:?} of e.kind()", Some(format!("{:?}", e.kind()))));
                out.push(line("e.to_string()", Some(e.to_string())));
            }
        }
    }
    out
}

#[test]
fn the_libraries_still_raise_the_checked_in_texts() {
    let update = std::env::var_os("UPDATE_LIBRARY_FIXTURES").is_some();
    let generated: Vec<(&[&str], Option<Vec<Fixture>>)> = vec![
        (&["node jsonwebtoken 9", "node jose 6"], node_lines()),
        (&["PyJWT 2", "python-jose 3"], python_lines()),
        (&["golang-jwt 4"], go_lines()),
        (&["Rust jsonwebtoken 11"], Some(rust_lines())),
    ];
    if update {
        let mut all = String::new();
        for (libraries, lines) in &generated {
            let lines = lines
                .as_ref()
                .unwrap_or_else(|| panic!("cannot update: no generator for {libraries:?}"));
            for f in lines {
                all.push_str(&f.to_json());
                all.push('\n');
            }
        }
        std::fs::write(root().join(FIXTURES), all).expect("write the fixture file");
        eprintln!("wrote {FIXTURES}: review the diff");
        return;
    }
    let mut report = String::new();
    for (libraries, lines) in &generated {
        let Some(lines) = lines else { continue };
        for f in lines {
            assert!(
                libraries.contains(&f.library.as_str()),
                "the generator for {libraries:?} printed a line for {:?}: a new version? \
                 Update LIBRARIES and the fixtures",
                f.library
            );
        }
        let diff = differences(&checked_in_for(libraries), lines);
        if !diff.is_empty() {
            let _ = writeln!(report, "{libraries:?}:\n{diff}");
        }
    }
    assert!(
        report.is_empty(),
        "the libraries' texts differ from {FIXTURES} (refresh with UPDATE_LIBRARY_FIXTURES=1, \
         then check the mapping):\n{report}"
    );
}
