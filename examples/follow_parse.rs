//! The JSON side of `[[events.follow]]` (issue 22): the borrowed one-pass walk of
//! `src/ingest/follow.rs` against the obvious alternative, `serde_json::Value` plus
//! `Value::pointer` for each configured pointer, on the same lines, in the same process.
//! Parsing only (no recording): CPU time per line, from `getrusage`.
//!
//! `cargo run --release --example follow_parse -- pino.log` (benches/follow.sh writes such a log;
//! benches/README.md has the figures).

use skew_exporter::ingest::follow::{Field, Mapped, Mapping, MappingSpec};

const POINTERS: [(Field, &str); 10] = [
    (Field::EventWhen, "/jwt"),
    (Field::Ts, "/time"),
    (Field::Source, "/svc"),
    (Field::Iss, "/jwt/iss"),
    (Field::Iat, "/jwt/iat"),
    (Field::Nbf, "/jwt/nbf"),
    (Field::Exp, "/jwt/exp"),
    (Field::Reason, "/err/message"),
    (Field::RejectedWhen, "/err"),
    (Field::Token, "/auth/token"),
];

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: follow_parse LOG");
    let text = std::fs::read(&path).expect("read the log");
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mapping = Mapping::new(MappingSpec {
        pointers: POINTERS.iter().map(|(f, p)| (*f, p.to_string())).collect(),
        ts_format: Some("unix_ms".into()),
        ..MappingSpec::default()
    })
    .expect("a valid mapping");
    for round in 0..3 {
        let start = cpu_seconds();
        let mut events = 0usize;
        for l in &lines {
            if let Mapped::Event(_) = mapping.map(l, 0.0) {
                events += 1;
            }
        }
        let walk = cpu_seconds() - start;
        let start = cpu_seconds();
        let mut found = 0usize;
        for l in &lines {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(l) else {
                continue;
            };
            found += POINTERS
                .iter()
                .filter(|(_, p)| v.pointer(p).is_some())
                .count();
        }
        let value = cpu_seconds() - start;
        let per = |s: f64| s / lines.len() as f64 * 1e9;
        println!(
            "round {round}: {} lines ({events} events): borrowed walk + event {:.0} ns/line; \
             serde_json::Value + pointers {:.0} ns/line ({found} fields found)",
            lines.len(),
            per(walk),
            per(value)
        );
    }
}
