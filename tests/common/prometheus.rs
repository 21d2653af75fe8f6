//! A real `prometheus` server for the integration tests (`tests/rules.rs`, `tests/fleet.rs`):
//! started on 127.0.0.1 with an ephemeral port (learnt from its log), a temporary config and
//! storage, and queried through its HTTP API. Killed on drop.
//!
//! Needs /usr/bin/prometheus (Debian package `prometheus`): call
//! `require_paths(&[PROMETHEUS])` first.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The server binary.
pub const PROMETHEUS: &str = "/usr/bin/prometheus";

/// How long Prometheus may take to log its address and to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A `prometheus` server on 127.0.0.1 (ephemeral port, learnt from its log), with its data in a
/// temporary directory. Killed on drop.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

/// The address of Prometheus's `msg="Listening on" address=HOST:PORT` log line.
pub fn prometheus_listen_address(line: &str) -> Option<SocketAddr> {
    if !line.contains("msg=\"Listening on\"") {
        return None;
    }
    let rest = &line[line.find(" address=")? + " address=".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

impl Prometheus {
    /// Starts prometheus with `config` (written to `dir`, where relative rule file paths are
    /// resolved) and waits until it is ready.
    pub fn start(dir: tempfile::TempDir, config: &str) -> Prometheus {
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let mut child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:0")
            .arg("--log.level=info")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn prometheus");
        let (log, rx) = super::drain_lines(child.stderr.take().expect("stderr"));
        let log_text = |log: &Arc<Mutex<Vec<String>>>| log.lock().map(|l| l.join("\n")).unwrap();
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(addr) = prometheus_listen_address(&line) {
                        break addr;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().expect("wait");
                    panic!("prometheus exited ({status}):\n{}", log_text(&log));
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "prometheus logged no address within {START_TIMEOUT:?}:\n{}",
                    log_text(&log)
                );
            }
        };
        let prometheus = Prometheus {
            child,
            addr,
            log,
            http: http_client(),
            _dir: dir,
        };
        loop {
            let ready = prometheus
                .http
                .get(prometheus.url("/-/ready"))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return prometheus;
            }
            if Instant::now() > deadline {
                panic!(
                    "prometheus on {addr} not ready within {START_TIMEOUT:?}:\n{}",
                    prometheus.log_text()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Everything Prometheus has logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// GET an API path with parameters: its `data`, or the error Prometheus gave.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let resp = self
            .http
            .get(self.url(path))
            .query(params)
            .send()
            .map_err(|e| format!("GET {path}: {e}"))?;
        let text = resp.text().map_err(|e| format!("GET {path}: {e}"))?;
        let body: Value =
            serde_json::from_str(&text).map_err(|e| format!("GET {path}: {e}: {text}"))?;
        if body["status"] != "success" {
            return Err(format!("GET {path} {params:?}: {body}"));
        }
        Ok(body["data"].clone())
    }

    /// An instant query at the current time: its result vector (or scalar, as a one-element
    /// vector).
    pub fn query(&self, q: &str) -> Result<Vec<Value>, String> {
        self.query_params(q, &[("query", q)])
    }

    /// An instant query at `time` (Unix seconds, millisecond precision).
    pub fn query_at(&self, q: &str, time: f64) -> Result<Vec<Value>, String> {
        let time = format!("{time:.3}");
        self.query_params(q, &[("query", q), ("time", &time)])
    }

    fn query_params(&self, q: &str, params: &[(&str, &str)]) -> Result<Vec<Value>, String> {
        let data = self.api("/api/v1/query", params)?;
        match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => {
                Ok(data["result"].as_array().cloned().unwrap_or_default())
            }
            Some("scalar") => Ok(vec![
                serde_json::json!({"metric": {}, "value": data["result"]}),
            ]),
            other => Err(format!("{q}: result type {other:?}")),
        }
    }

    /// Every active alert (pending or firing).
    pub fn alerts(&self) -> Vec<Value> {
        self.api("/api/v1/alerts", &[])
            .ok()
            .and_then(|d| d["alerts"].as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of an instant-query sample (`"value": [ts, "1.5"]`).
pub fn sample_value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}
