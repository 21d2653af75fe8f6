//! A real nginx for the tests: [`start`] writes a configuration around a `server` block and waits
//! until it listens; [`start_nginx`] is the gateway in front of `/v1/verify` (`auth_request`) of
//! tests/verify.rs and tests/probe.rs; tests/http_date.rs and tests/incidents.rs give their own.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Nginx {
    pub child: Child,
    pub error_log: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = super::terminate_child(&mut self.child, Duration::from_secs(5));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts nginx in `dir` listening on 127.0.0.1:`port`, `auth_request` → `verify`, proxying
/// allowed requests to `upstream` with the subject the exporter returned.
pub fn start_nginx(dir: &Path, port: u16, verify: SocketAddr, upstream: SocketAddr) -> Nginx {
    let server = format!(
        r#"
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_request /_verify;
            auth_request_set $auth_subject $upstream_http_x_auth_subject;
            proxy_set_header X-Auth-Subject $auth_subject;
            proxy_pass http://{upstream};
        }}
        location = /_verify {{
            internal;
            proxy_pass http://{verify}/v1/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}
    }}"#
    );
    start(
        dir,
        port,
        &Conf {
            server: &server,
            ..Conf::default()
        },
    )
}

/// What differs between the tests' nginx configurations; the rest (pid, temp paths, no access
/// log, `user root` when run as root) is [`start`]'s.
#[derive(Default)]
pub struct Conf<'a> {
    /// Extra main-context lines (e.g. `env FAKETIME;`).
    pub main: &'a str,
    /// `worker_connections` (64 when 0).
    pub worker_connections: u32,
    /// The `server { ... }` block(s) inside `http`.
    pub server: &'a str,
    /// Environment for the nginx process (e.g. libfaketime's).
    pub env: &'a [(&'a str, &'a str)],
}

/// Writes `conf` into `dir`/nginx.conf, starts nginx on it, and waits (at most 10 s) until
/// 127.0.0.1:`port` accepts; panics with nginx's stderr and error log if it exits first.
pub fn start(dir: &Path, port: u16, conf: &Conf<'_>) -> Nginx {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false);
    let d = dir.display();
    let text = format!(
        r#"
{user}
worker_processes 1;
{main}
pid {d}/nginx.pid;
events {{ worker_connections {workers}; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{server}
}}
"#,
        user = if root { "user root;" } else { "" },
        main = conf.main,
        workers = if conf.worker_connections == 0 {
            64
        } else {
            conf.worker_connections
        },
        server = conf.server,
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, text).expect("write nginx.conf");
    let error_log = dir.join("error.log");
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(&error_log)
        .args(["-g", "daemon off;"])
        .envs(conf.env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nginx");
    let mut nginx = Nginx { child, error_log };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return nginx;
        }
        if let Ok(Some(status)) = nginx.child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut e) = nginx.child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            panic!(
                "nginx exited ({status}) before listening: {stderr}\n{}",
                std::fs::read_to_string(&nginx.error_log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "nginx did not listen within 10s");
        thread::sleep(Duration::from_millis(20));
    }
}
