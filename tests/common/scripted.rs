//! Scripted NTP servers for the integration tests: a UDP socket on loopback, on its own
//! thread, that answers every request as a [`Behaviour`] says: an honest server whose clock runs
//! exactly a given amount ahead (a correct mode-4 reply), or one of the misbehaviours the
//! sampler must classify (Kiss-o'-Death, wrong origin, silence, leap indicator 3, garbage), or
//! an honest clock behind a lying path (one direction slower than the other).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the NTP epoch (1900) to the Unix epoch.
const NTP_UNIX_DELTA: i128 = 2_208_988_800;

/// What a scripted server does with each request.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Kiss-o'-Death: stratum 0, reference id `RATE`.
    KissOfDeath,
    /// A valid-looking reply whose origin timestamp is not the request's transmit timestamp.
    WrongOrigin,
    /// Never answers.
    Silent,
    /// A valid reply with leap indicator 3 (clock unsynchronised).
    Unsynchronized,
    /// 17 bytes of garbage.
    Garbage,
    /// An honest server whose clock runs exactly this many nanoseconds ahead.
    Shifted(i64),
    /// As `Shifted`, but every reply is held for this many milliseconds after its transmit
    /// timestamp was written: the return path is that much slower than the outbound one, so a
    /// naive offset reads half of it too low.
    DelayedReply(i64, u64),
    /// As `Shifted`, but the request waits this many milliseconds before its receive timestamp
    /// is taken: the outbound path is slower, and a naive offset reads half of it too high.
    DelayedRequest(i64, u64),
}

impl Behaviour {
    /// The server clock − the local clock this behaviour serves (0 for the misbehaviours).
    pub fn shift_ns(self) -> i64 {
        match self {
            Behaviour::Shifted(ns)
            | Behaviour::DelayedReply(ns, _)
            | Behaviour::DelayedRequest(ns, _) => ns,
            _ => 0,
        }
    }
}

/// The local clock plus `shift_ns`, as an NTP 64-bit timestamp.
fn ntp_now(shift_ns: i64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    let ns = now.as_nanos() as i128 + i128::from(shift_ns);
    let secs = ns.div_euclid(1_000_000_000) + NTP_UNIX_DELTA;
    let frac = (ns.rem_euclid(1_000_000_000) << 32) / 1_000_000_000;
    ((secs as u64) << 32) | frac as u64
}

/// A mode-4 reply: `li`, the request's version and poll, `stratum`, `refid`, and the three
/// timestamps; the reference timestamp is one second before `tx`.
fn reply_packet(
    request: &[u8],
    li: u8,
    stratum: u8,
    refid: [u8; 4],
    origin: u64,
    rx: u64,
    tx: u64,
) -> Vec<u8> {
    let version = (request[0] >> 3) & 0x07;
    let mut p = vec![0u8; 48];
    p[0] = (li << 6) | (version << 3) | 4;
    p[1] = stratum;
    p[2] = request[2];
    p[3] = (-20i8) as u8;
    p[4..8].copy_from_slice(&0u32.to_be_bytes()); // root delay
    p[8..12].copy_from_slice(&0x20u32.to_be_bytes()); // root dispersion, ~0.5 ms
    p[12..16].copy_from_slice(&refid);
    p[16..24].copy_from_slice(&tx.wrapping_sub(1 << 32).to_be_bytes());
    p[24..32].copy_from_slice(&origin.to_be_bytes());
    p[32..40].copy_from_slice(&rx.to_be_bytes());
    p[40..48].copy_from_slice(&tx.to_be_bytes());
    p
}

/// What `behaviour` answers to `request` (None: no answer).
fn respond(behaviour: Behaviour, request: &[u8]) -> Option<Vec<u8>> {
    if let Behaviour::DelayedRequest(_, ms) = behaviour {
        thread::sleep(Duration::from_millis(ms));
    }
    let rx = ntp_now(behaviour.shift_ns());
    let req_tx = u64::from_be_bytes(request[40..48].try_into().expect("8 bytes"));
    let refid = *b"LOCL";
    match behaviour {
        Behaviour::Silent => None,
        Behaviour::Garbage => Some(vec![0xa5; 17]),
        Behaviour::KissOfDeath => Some(reply_packet(request, 3, 0, *b"RATE", req_tx, rx, rx)),
        Behaviour::WrongOrigin => Some(reply_packet(
            request,
            0,
            2,
            refid,
            req_tx.wrapping_sub(1 << 32),
            rx,
            rx,
        )),
        Behaviour::Unsynchronized => Some(reply_packet(request, 3, 2, refid, req_tx, rx, rx)),
        Behaviour::Shifted(ns) | Behaviour::DelayedRequest(ns, _) => {
            Some(reply_packet(request, 0, 2, refid, req_tx, rx, ntp_now(ns)))
        }
        Behaviour::DelayedReply(ns, ms) => {
            let reply = reply_packet(request, 0, 2, refid, req_tx, rx, ntp_now(ns));
            thread::sleep(Duration::from_millis(ms));
            Some(reply)
        }
    }
}

/// A scripted NTP server on its own thread. Stopped on drop.
pub struct Scripted {
    pub addr: SocketAddr,
    /// Requests received (of at least 48 bytes).
    pub requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Scripted {
    /// Binds `addr:port` (port 0: any free port) and starts answering.
    pub fn start(addr: Ipv4Addr, port: u16, behaviour: Behaviour) -> std::io::Result<Scripted> {
        let socket = UdpSocket::bind((addr, port))?;
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = socket.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            thread::spawn(move || {
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    if n < 48 {
                        continue;
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    if let Some(reply) = respond(behaviour, &buf[..n]) {
                        let _ = socket.send_to(&reply, peer);
                    }
                }
            })
        };
        Ok(Scripted {
            addr,
            requests,
            stop,
            thread: Some(thread),
        })
    }

    /// The server as the exporter's `--ntp.server` and its `server` label spell it.
    pub fn label(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
