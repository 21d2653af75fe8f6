//! Scripted HTTP servers for the `Date` probe: a TCP listener on loopback, a thread per
//! connection (keep-alive honoured), that answers every request as a [`Reply`] says. An honest
//! server computes its `Date` from the local clock plus a known shift at the moment it reads
//! the clock, so the truth of every measurement is known exactly; the others are the bad
//! answers the prober must classify. The behaviour can be switched while the server runs.
//! With [`DateServer::start_tls`] the same answers come over TLS with a given certificate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a scripted server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A 200 whose `Date` is the local clock + `shift_ns`, read after sleeping `before`; the
    /// answer is written `after` later.
    Shifted {
        shift_ns: i64,
        before: Duration,
        after: Duration,
    },
    /// A 200 without `Date`.
    NoDate,
    /// A 200 whose `Date` is this text.
    Date(&'static str),
    /// This status with an honest `Date` (shift 0).
    Status(u16),
    /// Reads the request and never answers.
    Silent,
    /// A 302 to the same path, forever (with an honest `Date`).
    RedirectLoop,
    /// A 200 with an honest `Date` and `Age: 120` (a cache's answer).
    Cached,
}

impl Reply {
    pub fn shifted(shift_ns: i64) -> Reply {
        Reply::Shifted {
            shift_ns,
            before: Duration::ZERO,
            after: Duration::ZERO,
        }
    }
}

struct Shared {
    reply: Mutex<Reply>,
    requests: AtomicU64,
    connections: AtomicU64,
    stop: AtomicBool,
    user_agents: Mutex<Vec<String>>,
}

/// A running scripted server; stops accepting when dropped.
pub struct DateServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// The `Date` a server whose clock runs `shift_ns` ahead shows now.
pub fn shifted_date(shift_ns: i64) -> String {
    let now = SystemTime::now();
    let t = if shift_ns >= 0 {
        now + Duration::from_nanos(shift_ns as u64)
    } else {
        now - Duration::from_nanos(shift_ns.unsigned_abs())
    };
    httpdate::fmt_http_date(t)
}

type Tls = Option<Arc<rustls::ServerConfig>>;

impl DateServer {
    pub fn start(reply: Reply) -> DateServer {
        Self::spawn(reply, None)
    }

    /// The same over TLS with `cert_pem` / `key_pem`.
    pub fn start_tls(reply: Reply, cert_pem: &str, key_pem: &str) -> DateServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("cert")];
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        Self::spawn(reply, Some(Arc::new(config)))
    }

    fn spawn(reply: Reply, tls: Tls) -> DateServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            reply: Mutex::new(reply),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            user_agents: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                s.connections.fetch_add(1, Ordering::Relaxed);
                let s = s.clone();
                let tls = tls.clone();
                thread::spawn(move || serve_connection(conn, &s, tls));
            }
        });
        DateServer { addr, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, reply: Reply) {
        *self.shared.reply.lock().expect("lock") = reply;
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    pub fn user_agents(&self) -> Vec<String> {
        self.shared.user_agents.lock().expect("lock").clone()
    }
}

impl Drop for DateServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
    }
}

fn serve_connection(conn: TcpStream, s: &Shared, tls: Tls) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    match tls {
        None => serve_stream(conn, s),
        Some(config) => {
            let Ok(session) = rustls::ServerConnection::new(config) else {
                return;
            };
            serve_stream(rustls::StreamOwned::new(session, conn), s)
        }
    }
}

fn serve_stream<S: Read + Write>(stream: S, s: &Shared) {
    let mut reader = BufReader::new(stream);
    loop {
        // The request head: the request line, headers, an empty line.
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push(line);
        }
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        s.requests.fetch_add(1, Ordering::Relaxed);
        let method_head = head.first().is_some_and(|l| l.starts_with("HEAD "));
        let path = head
            .first()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/")
            .to_owned();
        if let Some(ua) = head.iter().find_map(|l| {
            l.strip_prefix("user-agent: ")
                .or(l.strip_prefix("User-Agent: "))
        }) {
            s.user_agents
                .lock()
                .expect("lock")
                .push(ua.trim().to_owned());
        }
        let reply = s.reply.lock().expect("lock").clone();
        let (status, extra) = match reply {
            Reply::Shifted {
                shift_ns,
                before,
                after,
            } => {
                thread::sleep(before);
                let date = shifted_date(shift_ns);
                thread::sleep(after);
                (200, format!("Date: {date}\r\n"))
            }
            Reply::NoDate => (200, String::new()),
            Reply::Date(d) => (200, format!("Date: {d}\r\n")),
            Reply::Status(code) => (code, format!("Date: {}\r\n", shifted_date(0))),
            Reply::Silent => {
                // Hold the connection open without answering until the client gives up.
                let mut sink = [0u8; 64];
                while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
            Reply::RedirectLoop => (
                302,
                format!("Date: {}\r\nLocation: {path}\r\n", shifted_date(0)),
            ),
            Reply::Cached => (200, format!("Date: {}\r\nAge: 120\r\n", shifted_date(0))),
        };
        let body = if method_head { "" } else { "ok" };
        let response = format!(
            "HTTP/1.1 {status} Scripted\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            if method_head { 2 } else { body.len() }
        );
        let stream = reader.get_mut();
        if stream.write_all(response.as_bytes()).is_err() || stream.flush().is_err() {
            return;
        }
    }
}

/// Now, Unix seconds (for the truth the tests compare against).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}
