//! Helpers shared by the integration tests: start the real binary on an ephemeral port, learn
//! the port from its log, scrape and parse `/metrics`, poll until a condition holds, stop it
//! with SIGTERM; run the binary to completion for exit-code tests; skip or fail when an external
//! program a test needs is missing.
//!
//! Every test crate includes this file with `mod common;` and uses only part of it.
#![allow(dead_code)]

pub mod chromium;
pub mod http_date;
pub mod nginx;
pub mod prometheus;
pub mod scripted;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_skew-exporter");

/// How long the binary may take to log its listening address.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// True when running under CI (`CI=true`), where a missing tool is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The Debian package that installs `path`, for the skip message of [`require_paths`].
/// `.ci/run` installs every package named here.
fn debian_package(path: &str) -> Option<&'static str> {
    let file = Path::new(path).file_name()?.to_str()?;
    Some(match file {
        "chronyd" | "chronyc" => "chrony",
        "ntpdig" => "ntpsec-ntpdate",
        "promtool" | "prometheus" => "prometheus",
        "nginx" => "nginx",
        "systemd-analyze" => "systemd",
        "chromium" => "chromium",
        "jsonnet" => "jsonnet",
        f if f.starts_with("libfaketime") => "faketime",
        _ => return None,
    })
}

/// Checks that every path exists. When one is missing: panics under CI, otherwise prints a
/// skip message naming the Debian packages to install and returns false (the test should then
/// return early).
pub fn require_paths(paths: &[&str]) -> bool {
    let missing: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let test = thread::current().name().unwrap_or("this test").to_owned();
    let mut packages: Vec<&str> = Vec::new();
    for p in &missing {
        let package = debian_package(p).unwrap_or("the package that provides it");
        if !packages.contains(&package) {
            packages.push(package);
        }
    }
    let msg = format!(
        "{test} needs {} (install {})",
        missing.join(", "),
        packages.join(", ")
    );
    if in_ci() {
        panic!("CI=true and a required program is missing: {msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// Waits up to `timeout` for `child` to exit: its status, or `None` while it still runs.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGTERM (through the `kill` command) and waits up to `grace` for the exit status. A
/// child still running then, or one SIGTERM could not be sent to, is killed (SIGKILL) and
/// reaped, and the error says which.
pub fn terminate_child(child: &mut Child, grace: Duration) -> Result<ExitStatus, String> {
    let pid = child.id();
    let error = match Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
    {
        Ok(sent) if sent.success() => match wait_timeout(child, grace) {
            Some(status) => return Ok(status),
            None => format!("process {pid} did not exit within {grace:?} of SIGTERM"),
        },
        Ok(sent) => format!("kill -TERM {pid} failed: {sent}"),
        Err(e) => format!("cannot run kill: {e}"),
    };
    let _ = child.kill();
    let _ = child.wait();
    Err(error)
}

/// Drains a child's stderr on a thread of its own for the life of the process (a full pipe
/// would block it): every line is kept in the returned log and sent on the channel until
/// nobody listens.
pub fn drain_lines(stderr: ChildStderr) -> (Arc<Mutex<Vec<String>>>, mpsc::Receiver<String>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel::<String>();
    let kept = log.clone();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut l) = kept.lock() {
                l.push(line.clone());
            }
            let _ = tx.send(line);
        }
    });
    (log, rx)
}

/// Runs the binary with `args` to completion (killed after `timeout`) and returns its output.
pub fn run_binary(args: &[&str], timeout: Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn skew-exporter");
    let read_all = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read_all(Box::new(child.stderr.take().expect("stderr")));
    let Some(status) = wait_timeout(&mut child, timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("skew-exporter {args:?} did not exit within {timeout:?}");
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// A running skew-exporter. Killed (SIGKILL) on drop if [`Exporter::terminate`] was not called.
pub struct Exporter {
    child: Option<Child>,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    http: reqwest::blocking::Client,
}

impl Exporter {
    /// Starts the binary with `args`, plus `--web.listen-address 127.0.0.1:0` unless `args`
    /// name a listen address, and waits for its `listening address=...` log line.
    ///
    /// `args` must name the NTP servers (`--ntp.server` or `--config.file`): without them the
    /// binary would query the public pool, and tests stay on loopback. `RUST_LOG` is removed
    /// from the environment so that the `info` line announcing the address is always logged.
    pub fn start(args: &[&str]) -> Exporter {
        Exporter::start_with_env(args, &[])
    }

    /// As [`Exporter::start`], with extra environment variables (set after `RUST_LOG` is
    /// removed, so `("RUST_LOG", "trace")` works).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        assert!(
            args.iter().any(|a| a.starts_with("--ntp.server") || a.starts_with("--config.file")),
            "tests must name their NTP servers (--ntp.server or --config.file) so nothing leaves loopback"
        );
        let mut full: Vec<&str> = Vec::new();
        if !args.iter().any(|a| a.starts_with("--web.listen-address")) {
            full.extend(["--web.listen-address", "127.0.0.1:0"]);
        }
        full.extend_from_slice(args);

        let mut child = Command::new(BIN)
            .args(&full)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn skew-exporter");

        let (log, rx) = drain_lines(child.stderr.take().expect("stderr"));

        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) => {
                    // Other listeners log `listening` too, with another `role`.
                    let main = listening_role(&line).is_none_or(|r| r == "main");
                    if let Some(addr) = listening_address(&line).filter(|_| main) {
                        break addr;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().expect("wait");
                    panic!(
                        "skew-exporter {full:?} exited ({status}) before listening:\n{}",
                        log.lock().map(|l| l.join("\n")).unwrap_or_default()
                    );
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "skew-exporter {full:?} logged no listening address within {START_TIMEOUT:?}:\n{}",
                    log.lock().map(|l| l.join("\n")).unwrap_or_default()
                );
            }
        };
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client");
        Exporter {
            child: Some(child),
            addr,
            log,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET `path`: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nlog:\n{}", self.log_text()));
        let status = resp.status().as_u16();
        (status, resp.text().expect("response body"))
    }

    /// Scrapes `/metrics` (must answer 200) and parses it.
    pub fn scrape(&self) -> Scrape {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "/metrics answered {status}: {body}");
        Scrape::parse(&body).unwrap_or_else(|e| panic!("cannot parse /metrics: {e}\n{body}"))
    }

    /// Scrapes every 100 ms until `cond` holds and returns that scrape; panics after `timeout`
    /// with the last scrape's `skew_` series and the daemon's log.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut(&Scrape) -> bool,
    ) -> Scrape {
        let deadline = Instant::now() + timeout;
        loop {
            let scrape = self.scrape();
            if cond(&scrape) {
                return scrape;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\nlast scrape:\n{}\nlog:\n{}",
                    scrape.dump("skew_"),
                    self.log_text()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("still owned").id()
    }

    /// Waits (at most `timeout`) for a log line for which `pred` holds, and returns it. Lines
    /// already logged count.
    pub fn wait_for_log(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .log
                .lock()
                .ok()
                .and_then(|l| l.iter().find(|line| pred(line)).cloned());
            if let Some(line) = found {
                return line;
            }
            if Instant::now() > deadline {
                panic!(
                    "no log line {what} within {timeout:?}; log:\n{}",
                    self.log_text()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address of the listener logged as `listening` with this `role` (e.g. `events`),
    /// waiting for its line: listeners other than the main one may be logged after
    /// [`Exporter::start`] returned.
    pub fn listener(&self, role: &str) -> SocketAddr {
        let line = self.wait_for_log(&format!("`listening role={role}`"), START_TIMEOUT, |l| {
            listening_role(l) == Some(role) && listening_address(l).is_some()
        });
        listening_address(&line).expect("checked above")
    }

    /// Everything the daemon has logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Sends SIGTERM (through the `kill` command) and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("terminate called once");
        terminate_child(&mut child, STOP_TIMEOUT)
            .unwrap_or_else(|e| panic!("skew-exporter: {e}\nlog:\n{}", self.log_text()))
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The address in a `listening` log line, text (`address=127.0.0.1:PORT`) or JSON
/// (`"address":"127.0.0.1:PORT"`).
pub fn listening_address(line: &str) -> Option<SocketAddr> {
    if !line.contains("listening") {
        return None;
    }
    let rest = if let Some(i) = line.find("address=") {
        &line[i + "address=".len()..]
    } else {
        let i = line.find("\"address\":\"")?;
        &line[i + "\"address\":\"".len()..]
    };
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The `role` field of a log line, text (`role=main` or `role="main"`) or JSON
/// (`"role":"main"`), if it has one.
pub fn listening_role(line: &str) -> Option<&str> {
    let rest = if let Some(i) = line.find(" role=") {
        &line[i + " role=".len()..]
    } else {
        let i = line.find("\"role\":")?;
        &line[i + "\"role\":".len()..]
    };
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// One sample line of the text exposition format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed `/metrics` page: every sample line, in order (comments are skipped).
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// Parses the Prometheus text format (version 0.0.4): `name{l="v",...} value [timestamp]`.
    pub fn parse(text: &str) -> Result<Scrape, String> {
        let mut samples = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            samples.push(parse_line(line).map_err(|e| format!("line {}: {e}: {line}", n + 1))?);
        }
        Ok(Scrape { samples })
    }

    /// Every sample of metric `name`.
    pub fn series<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the sample with exactly this name and label set, if present.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.series(name)
            .find(|s| {
                s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }

    /// As [`Scrape::get`], panicking with the metric's series when absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?}; present:\n{}", self.dump(name)))
    }

    /// True when a sample with exactly this name and label set exists.
    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.get(name, labels).is_some()
    }

    /// The sample lines whose name starts with `prefix`, re-rendered, for failure messages.
    pub fn dump(&self, prefix: &str) -> String {
        let mut out = String::new();
        for s in self.samples.iter().filter(|s| s.name.starts_with(prefix)) {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            let _ = writeln!(out, "{}{{{}}} {}", s.name, labels.join(","), s.value);
        }
        out
    }
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ', '\t']).ok_or("no value")?;
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        loop {
            // Label name, up to `=`; or the closing brace (also after a trailing comma).
            let mut key = String::new();
            let end = loop {
                match chars.next() {
                    Some((i, '}')) if key.trim().is_empty() => break Some(i),
                    Some((_, '=')) => break None,
                    Some((_, c)) => key.push(c),
                    None => return Err("unterminated label set".into()),
                }
            };
            if let Some(i) = end {
                rest = &r[i + 1..];
                break;
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key}: value not quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err("unterminated escape".into()),
                    },
                    Some((_, '"')) => break,
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label {key}: unterminated value")),
                }
            }
            labels.insert(key.trim().to_owned(), value);
            if let Some(&(_, ',')) = chars.peek() {
                chars.next();
            }
        }
    }
    let value_text = rest.split_whitespace().next().ok_or("no value")?;
    let value = match value_text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse::<f64>().map_err(|e| format!("value `{v}`: {e}"))?,
    };
    Ok(Sample {
        name,
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_text_format() {
        let text = "# HELP a_total x\n# TYPE a_total counter\n\
                    a_total{result=\"ok\",server=\"127.0.0.1:123\"} 4\n\
                    b 0.25\n\
                    c{path=\"a\\\"b\\\\c\\nd\",} -1e-3 1700000000\n\
                    d_bucket{le=\"+Inf\"} +Inf\n";
        let s = Scrape::parse(text).unwrap();
        assert_eq!(
            s.get("a_total", &[("server", "127.0.0.1:123"), ("result", "ok")]),
            Some(4.0)
        );
        assert_eq!(
            s.get("a_total", &[("server", "127.0.0.1:123")]),
            None,
            "label sets match exactly"
        );
        assert_eq!(s.get("b", &[]), Some(0.25));
        assert_eq!(s.get("c", &[("path", "a\"b\\c\nd")]), Some(-0.001));
        assert_eq!(s.get("d_bucket", &[("le", "+Inf")]), Some(f64::INFINITY));
    }

    #[test]
    fn names_the_package_of_a_missing_program() {
        assert_eq!(debian_package("/usr/sbin/chronyd"), Some("chrony"));
        assert_eq!(debian_package("/usr/bin/ntpdig"), Some("ntpsec-ntpdate"));
        assert_eq!(debian_package("/usr/bin/promtool"), Some("prometheus"));
        assert_eq!(debian_package("/usr/bin/prometheus"), Some("prometheus"));
        assert_eq!(
            debian_package("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
            Some("faketime")
        );
        assert_eq!(debian_package("/usr/bin/systemd-analyze"), Some("systemd"));
        assert_eq!(debian_package("/usr/bin/jsonnet"), Some("jsonnet"));
        assert_eq!(debian_package("/usr/bin/true"), None);
        assert!(require_paths(&[]), "nothing required, nothing missing");
    }

    #[test]
    fn finds_the_listening_address() {
        let text = "2026-01-01T00:00:00Z  INFO skew_exporter::app: listening address=127.0.0.1:4242 telemetry_path=/metrics";
        assert_eq!(
            listening_address(text),
            Some("127.0.0.1:4242".parse().unwrap())
        );
        let json = r#"{"fields":{"message":"listening","address":"127.0.0.1:4243"}}"#;
        assert_eq!(
            listening_address(json),
            Some("127.0.0.1:4243".parse().unwrap())
        );
        assert_eq!(listening_address("INFO stopped"), None);
        let events = "INFO skew_exporter::app: listening role=\"events\" address=127.0.0.1:4244";
        assert_eq!(listening_role(events), Some("events"));
        assert_eq!(
            listening_address(events),
            Some("127.0.0.1:4244".parse().unwrap())
        );
        assert_eq!(
            listening_role(r#"{"fields":{"message":"listening","role":"main"}}"#),
            Some("main")
        );
        assert_eq!(listening_role(text), None);
    }
}
