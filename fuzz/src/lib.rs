//! What every fuzz target checks, beyond "does not panic". One function per target; each takes
//! the raw fuzz input and panics when an invariant breaks.
//!
//! The same file is compiled twice: as the library of the fuzz crate (libFuzzer, nightly
//! features through `RUSTC_BOOTSTRAP=1`), and on stable by `tests/fuzz_regressions.rs`
//! (`#[path]` include), which feeds every file of `fuzz/seeds/` and `fuzz/regressions/` through
//! these functions in the normal test run. So it may only use `skew_exporter`, `serde_json` and
//! `std`, and it names everything by absolute path.
//!
//! - [`event`]: `parse_event` on the raw bytes. A valid event has its documented ranges; an
//!   error never quotes a string of the input; and the fast path (`fastjson`) reads every flat
//!   object exactly as the full serde parser does (the same bytes with one extra member that the
//!   fast path refuses, `"…":true`, must give the same event or the same error class).
//! - [`token`]: the claim reader through `{"token": …, "outcome": "accepted"}`: the token is the
//!   raw input, or a well-formed JWT whose payload (and header) are the input, base64url-encoded,
//!   so the fuzzer reaches the claims' JSON. Claims read must equal what `serde_json::Value`
//!   reads; claims of a wrong type must be refused as `bad_token`; no error echoes the token.
//!   The same token in a rejected event is never refused: it is read alike, or kept as a
//!   rejection with `token_unreadable` exactly when the accepted event was refused.
//! - [`ingest`]: `Ingest::ndjson` and `Ingest::json` against a per-line model (counts, line
//!   numbers, the first ten errors, the `skew_events_*` counters), an array and the NDJSON of its
//!   elements agreeing, and the file tailer's `LineBuffer` giving the same lines whatever the
//!   chunking.
//! - [`config`]: `RawConfig::parse` and `Settings::from_sources` with default flags: no panic,
//!   and every accepted configuration within the documented limits.

use std::time::Duration;

use skew_exporter::event::{parse_event, Event, InvalidEvent, InvalidKind, Outcome, MAX_TIME};

/// `now` for events without `ts`.
pub const NOW: f64 = 1_790_000_100.0;

/// Strings at least this long must never appear in an error message (shorter ones may, by
/// chance: `"rejected"` is both a value and a word of a message).
const ECHO_MIN: usize = 24;

/// Every message `read_token` (src/event.rs) gives: fixed texts, with nothing from the input.
const BAD_TOKEN_MESSAGES: [&str; 7] = [
    "`token` is longer than 64 KiB",
    "`token` is not a compact JWT (three dot-separated parts)",
    "`token` is not a readable JWT: its claims are not a base64url JSON object",
    "`token` is not a readable JWT: a part is not base64url",
    "`token` is not a readable JWT: the claims are not a JSON object of the expected types",
    "`token` is not a readable JWT: the claims are not UTF-8",
    "`token` is not a readable JWT: it cannot be decoded",
];

fn in_time_range(t: f64) -> bool {
    t.is_finite() && (0.0..=MAX_TIME).contains(&t)
}

/// What every accepted event must satisfy.
fn check_event(e: &Event<'_>) {
    assert!(in_time_range(e.ts), "ts out of range: {}", e.ts);
    for (name, t) in [
        ("iat", e.iat),
        ("nbf", e.nbf),
        ("exp", e.exp),
        ("received", e.received),
        ("leeway", e.leeway),
    ] {
        if let Some(t) = t {
            assert!(in_time_range(t), "{name} out of range: {t}");
        }
    }
    assert_eq!(
        e.reason.is_some(),
        e.outcome == Outcome::Rejected,
        "a reason exactly when rejected: {e:?}"
    );
    assert!(
        !e.token_unreadable || e.outcome == Outcome::Rejected,
        "only a rejection is kept with an unreadable token: {e:?}"
    );
}

/// Every string of a JSON value (object keys and values, recursively).
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                strings(x, out);
            }
        }
        _ => {}
    }
}

/// An error message must not quote any long string of the input.
fn check_no_echo(e: &InvalidEvent, input: &[u8]) {
    assert!(!e.message.is_empty(), "empty error message");
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(input) else {
        return;
    };
    let mut all = Vec::new();
    strings(&v, &mut all);
    for s in all.iter().filter(|s| s.len() >= ECHO_MIN) {
        let message_for = |variant: &[u8]| parse_event(variant, NOW).err().map(|e| e.message);
        assert!(
            !quotes(&e.message, s, input, message_for),
            "the error quotes the input: {e}"
        );
    }
}

/// Whether `message` quotes the input string `s`: it contains `s`, and it changes when `s` is
/// replaced in the input by a filler of the same length. A string that is itself a piece of a
/// fixed text (`" event must be a JSON obj"`) stands in the message without being quoted
/// (fuzz/regressions/event/string-is-the-error-text). Where `s` does not stand in the input
/// as it is (it was written with escapes), containing it counts as quoting. `message_for`
/// gives the message for another input (`None`: no error).
fn quotes(
    message: &str,
    s: &str,
    input: &[u8],
    message_for: impl Fn(&[u8]) -> Option<String>,
) -> bool {
    if !message.contains(s) {
        return false;
    }
    let quoted = format!("\"{s}\"");
    let quoted = quoted.as_bytes();
    let fill = if s.bytes().all(|b| b == b'q') {
        "z"
    } else {
        "q"
    };
    let filler = format!("\"{}\"", fill.repeat(s.len()));
    let mut variant = Vec::with_capacity(input.len());
    let mut rest = input;
    let mut replaced = false;
    while let Some(at) = rest.windows(quoted.len()).position(|w| w == quoted) {
        variant.extend_from_slice(&rest[..at]);
        variant.extend_from_slice(filler.as_bytes());
        rest = &rest[at + quoted.len()..];
        replaced = true;
    }
    variant.extend_from_slice(rest);
    !replaced || message_for(&variant).is_none_or(|m| m != message)
}

/// The same object with one more member, `"…":true`, which the fast path never accepts (it
/// defers `true` to serde), so the full parser reads it. `None` when the input is not a flat
/// object the fast path scans.
fn with_full_parser(data: &[u8]) -> Option<Vec<u8>> {
    let members = skew_exporter::fastjson::scan(data)?.iter().count();
    let brace = data.iter().position(|&b| b == b'{')?;
    let mut out = Vec::with_capacity(data.len() + 40);
    out.extend_from_slice(&data[..=brace]);
    out.extend_from_slice(br#""fuzz: force the full parser":true"#);
    if members > 0 {
        out.push(b',');
    }
    out.extend_from_slice(&data[brace + 1..]);
    Some(out)
}

/// Two events read from the same object must be equal, times to the last bit (`-0` included:
/// fuzz/regressions/event/negative-zero pins that the fast path keeps it `-0.0`, as serde_json
/// does).
fn same_event(a: &Event<'_>, b: &Event<'_>) -> bool {
    let same = |x: f64, y: f64| x.to_bits() == y.to_bits();
    let same_opt = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => same(x, y),
        (None, None) => true,
        _ => false,
    };
    same(a.ts, b.ts)
        && a.source == b.source
        && a.issuer == b.issuer
        && same_opt(a.iat, b.iat)
        && same_opt(a.nbf, b.nbf)
        && same_opt(a.exp, b.exp)
        && a.outcome == b.outcome
        && a.reason == b.reason
        && a.token_unreadable == b.token_unreadable
        && same_opt(a.received, b.received)
        && same_opt(a.leeway, b.leeway)
        && a.kid == b.kid
}

/// Target `event`: one event, as `POST /v1/events` and the tailer hand it over.
pub fn event(data: &[u8]) {
    let parsed = parse_event(data, NOW);
    match &parsed {
        Ok(e) => check_event(e),
        Err(e) => check_no_echo(e, data),
    }
    let Some(forced) = with_full_parser(data) else {
        return;
    };
    let full = parse_event(&forced, NOW);
    match (&parsed, &full) {
        (Ok(a), Ok(b)) => assert!(
            same_event(a, b),
            "fast path and full parser read differently:\n fast {a:?}\n full {b:?}"
        ),
        (Err(a), Err(b)) => assert_eq!(
            a.kind, b.kind,
            "fast path and full parser refuse differently: {a} / {b}"
        ),
        _ => panic!("fast path and full parser disagree:\n fast {parsed:?}\n full {full:?}"),
    }
}

/// base64url without padding, as JWTs use it.
fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// What the claim reader must make of a payload, judged with `serde_json::Value`: these claims
/// (`iss`, then `iat`, `nbf`, `exp`), a refusal, or `Unknown` where `Value` cannot judge
/// (payloads `Value` refuses, duplicate or escaped keys; see `expected_claims`).
enum Expected {
    Claims(Option<String>, [Option<f64>; 3]),
    Refused,
    Unknown,
}

fn expected_claims(payload: &[u8]) -> Expected {
    use serde_json::Value;
    // serde_json checks UTF-8, escapes and number ranges only in the values it reads: inside an
    // ignored claim, invalid UTF-8 (fuzz/regressions/token/invalid-utf8-in-unknown-claim), a
    // lone surrogate `\ud800` (…/lone-surrogate-in-unknown-claim) or `1e3333339`
    // (…/number-out-of-range-in-unknown-claim) is skipped and the claims are read, where
    // `Value` refuses the whole payload. So a payload `Value` refuses is undecided; one it
    // reads is judged exactly.
    let Ok(text) = std::str::from_utf8(payload) else {
        return Expected::Unknown;
    };
    let m = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(m)) => m,
        // Valid JSON but not an object: refused. An array once was read positionally
        // (fuzz/regressions/token/array-payload-read-positionally).
        Ok(_) => return Expected::Refused,
        Err(_) => return Expected::Unknown,
    };
    let iss = match m.get("iss") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Expected::Refused,
    };
    match m.get("aud") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => return Expected::Refused,
    }
    let mut times = [None; 3];
    for (slot, name) in times.iter_mut().zip(["iat", "nbf", "exp"]) {
        *slot = match m.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(t) if in_time_range(t) => Some(t),
                _ => return Expected::Refused,
            },
            Some(_) => return Expected::Refused,
        };
    }
    // A known key twice is refused by the reader; `Value` keeps the last one.
    let twice = ["iss", "aud", "iat", "nbf", "exp"]
        .iter()
        .any(|k| text.matches(&format!("\"{k}\"")).count() > 1);
    // An escaped key can be a duplicate the text search does not see.
    if twice || text.contains('\\') {
        return Expected::Unknown;
    }
    Expected::Claims(iss, times)
}

/// Target `token`. The first byte picks the shape: 0 the raw input as the token; 1 a JWT whose
/// payload is the input; 2 header and payload both from the input, split at the first `0x00`.
pub fn token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (token, payload) = match mode % 3 {
        0 => (String::from_utf8_lossy(rest).into_owned(), None),
        1 => (
            format!(
                "{}.{}.c2lnbmF0dXJl",
                b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
                b64url(rest)
            ),
            Some(rest),
        ),
        _ => {
            let cut = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let (header, payload) = (&rest[..cut], rest.get(cut + 1..).unwrap_or_default());
            (
                format!("{}.{}.c2lnbmF0dXJl", b64url(header), b64url(payload)),
                Some(payload),
            )
        }
    };
    let body = format!(
        r#"{{"token":{},"outcome":"accepted"}}"#,
        serde_json::Value::String(token.clone())
    );
    let parsed = parse_event(body.as_bytes(), NOW);
    match &parsed {
        Ok(e) => {
            check_event(e);
            assert_eq!((e.ts, e.source.as_deref()), (NOW, None));
        }
        Err(e) => {
            assert_eq!(e.kind, InvalidKind::BadToken, "{e}");
            // Every message is one of the exporter's own fixed texts, so none can carry the
            // token or a part of it. (A substring test is not enough: a token that is itself the
            // text of a message is in that message without being quoted,
            // fuzz/regressions/token/token-is-the-error-text.)
            assert!(
                BAD_TOKEN_MESSAGES.contains(&e.message.as_str()),
                "a bad_token message that is not one of the fixed texts (does it quote the token?): {e}"
            );
        }
    }
    // The same token in a rejection: never refused (a rejection is always counted), and its
    // token is unreadable exactly when the accepted event was refused for it.
    let rejected = format!(
        r#"{{"token":{},"outcome":"rejected","reason":"malformed"}}"#,
        serde_json::Value::String(token.clone())
    );
    match parse_event(rejected.as_bytes(), NOW) {
        Ok(r) => {
            check_event(&r);
            assert_eq!(r.token_unreadable, parsed.is_err(), "{r:?}");
            if let Ok(e) = &parsed {
                assert_eq!(
                    (&r.issuer, r.iat.map(f64::to_bits)),
                    (&e.issuer, e.iat.map(f64::to_bits))
                );
            }
        }
        Err(e) => panic!("a rejection with this token was refused: {e}"),
    }
    let Some(payload) = payload else {
        return;
    };
    match (expected_claims(payload), &parsed) {
        (Expected::Unknown, _) => {}
        (Expected::Refused, Ok(e)) => panic!("claims of a wrong type were read: {e:?}"),
        (Expected::Refused, Err(_)) => {}
        (Expected::Claims(..), Err(e)) => panic!("valid claims were refused: {e}"),
        (Expected::Claims(iss, [iat, nbf, exp]), Ok(e)) => {
            assert_eq!(e.issuer.as_deref(), iss.as_deref(), "iss");
            let bits = |t: Option<f64>| t.map(f64::to_bits);
            assert_eq!(bits(e.iat), bits(iat), "iat");
            assert_eq!(bits(e.nbf), bits(nbf), "nbf");
            assert_eq!(bits(e.exp), bits(exp), "exp");
        }
    }
}

/// One recorder for every run of a thread (building the registry per input would dominate the
/// time); per thread, so that the counts a run adds are its own when tests run in parallel.
fn recorder() -> &'static skew_exporter::record::Recorder {
    thread_local! {
        static R: &'static skew_exporter::record::Recorder = {
            let metrics = skew_exporter::metrics::Metrics::new().expect("metrics register");
            Box::leak(Box::new(skew_exporter::record::Recorder::new(
                std::sync::Arc::new(metrics),
                &skew_exporter::record::RecorderSettings::default(),
            )))
        };
    }
    R.with(|r| *r)
}

/// `skew_events_received_total` and the sum of `skew_events_invalid_total` of `transport="http"`.
fn counted(r: &skew_exporter::record::Recorder) -> (u64, u64) {
    let ingest = &r.metrics().ingest;
    let received = ingest.received.with_label_values(&["http"]).get();
    let invalid = InvalidKind::ALL
        .iter()
        .map(|k| {
            ingest
                .invalid
                .with_label_values(&["http", k.as_str()])
                .get()
        })
        .sum();
    (received, invalid)
}

/// The report the splitter must produce, built line by line from `parse_event`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Model {
    accepted: u64,
    invalid: u64,
    errors: Vec<(u64, String)>,
}

impl Model {
    fn event(&mut self, bytes: &[u8], line: u64, max_event: usize) {
        let err = if bytes.len() > max_event {
            Some(format!(
                "too_large: event of {} bytes is over the {}-byte limit",
                bytes.len(),
                max_event
            ))
        } else {
            parse_event(bytes, NOW).err().map(|e| e.to_string())
        };
        match err {
            None => self.accepted += 1,
            Some(e) => {
                self.invalid += 1;
                if self.errors.len() < skew_exporter::ingest::MAX_REPORTED_ERRORS {
                    self.errors.push((line, e));
                }
            }
        }
    }
}

/// Runs the splitter over `body` and compares it with the model; returns the report.
fn run_ingest(
    body: &[u8],
    max_event: usize,
    ndjson: bool,
    model: &Model,
) -> skew_exporter::ingest::Report {
    let recorder = recorder();
    let (received, invalid) = counted(recorder);
    let mut batch = recorder.batch(skew_exporter::metrics::Transport::Http);
    let mut ingest = skew_exporter::ingest::Ingest::new(&mut batch, max_event, NOW);
    if ndjson {
        ingest.ndjson(body);
    } else {
        ingest.json(body);
    }
    let report = ingest.finish();
    let after = counted(recorder);
    assert_eq!(
        after.0 - received,
        report.accepted,
        "metrics and report agree"
    );
    assert_eq!(
        after.1 - invalid,
        report.invalid,
        "metrics and report agree"
    );
    let got = Model {
        accepted: report.accepted,
        invalid: report.invalid,
        errors: report
            .errors
            .iter()
            .map(|e| (e.line, e.error.clone()))
            .collect(),
    };
    assert_eq!(&got, model, "ndjson={ndjson}");
    report
}

/// The file tailer's line splitter over `body` cut into chunks: must equal splitting it whole.
fn check_line_buffer(body: &[u8], max_line: usize, seed: u8) {
    use skew_exporter::ingest::tail::{LineBuffer, Piece};
    // The model: every terminated line is a line or over-long; an unterminated tail over the
    // limit is reported as over-long as soon as it is known to be.
    let mut expected: Vec<Option<Vec<u8>>> = Vec::new();
    let mut parts = body.split(|&b| b == b'\n').peekable();
    let mut tail_len = 0;
    while let Some(p) = parts.next() {
        let terminated = parts.peek().is_some();
        if terminated {
            expected.push((p.len() <= max_line).then(|| p.to_vec()));
        } else {
            tail_len = p.len();
            if p.len() > max_line {
                expected.push(None);
            }
        }
    }
    let mut buf = LineBuffer::new(max_line);
    let mut got: Vec<Option<Vec<u8>>> = Vec::new();
    // Chunk lengths from a small LCG seeded by the input: 1 to 64 bytes, and sometimes all.
    let mut state = u32::from(seed) | 1;
    let mut rest = body;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = match state >> 26 {
            0 => rest.len(),
            k => (k as usize).min(rest.len()),
        };
        buf.feed(&rest[..n], |p| match p {
            Piece::Line(l) => got.push(Some(l.to_vec())),
            Piece::Overlong => got.push(None),
        });
        rest = &rest[n..];
    }
    assert_eq!(
        got, expected,
        "LineBuffer depends on chunking (max_line {max_line})"
    );
    assert_eq!(buf.pending(), tail_len, "pending bytes");
}

/// Target `ingest`. Byte 0 picks the per-event limit and the chunking seed; the rest is the body,
/// fed as NDJSON, as a JSON body, and through the tailer's line splitter.
pub fn ingest(data: &[u8]) {
    let Some((&knobs, body)) = data.split_first() else {
        return;
    };
    let max_event = [64, 200, 1024, 1 << 20][usize::from(knobs & 3)];

    // NDJSON: one event per line, blank lines skipped, a trailing `\r` dropped.
    let mut model = Model::default();
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            model.event(line, i as u64 + 1, max_event);
        }
    }
    run_ingest(body, max_event, true, &model);

    // JSON: an array is split per element; anything else is one event.
    let mut model = Model::default();
    let trimmed = body.trim_ascii_start();
    let elements = if trimmed.first() == Some(&b'[') {
        match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(trimmed) {
            Ok(items) => {
                for (i, item) in items.iter().enumerate() {
                    model.event(item.get().as_bytes(), i as u64 + 1, max_event);
                }
                Some(items)
            }
            Err(e) => {
                model.invalid = 1;
                model
                    .errors
                    .push((1, format!("json: the array is not valid JSON: {e}")));
                None
            }
        }
    } else {
        model.event(body, 1, max_event);
        None
    };
    let report = run_ingest(body, max_event, false, &model);

    // The same elements as NDJSON (when none spans lines) are read the same way.
    if let Some(items) = elements.filter(|i| i.iter().all(|x| !x.get().contains('\n'))) {
        let lines: Vec<&str> = items.iter().map(|x| x.get()).collect();
        let mut nd = Model::default();
        for (i, l) in lines.iter().enumerate() {
            if !l.bytes().all(|b| b.is_ascii_whitespace()) {
                nd.event(l.as_bytes(), i as u64 + 1, max_event);
            }
        }
        let as_ndjson = run_ingest(lines.join("\n").as_bytes(), max_event, true, &nd);
        assert_eq!(
            (as_ndjson.accepted, as_ndjson.invalid),
            (report.accepted, report.invalid),
            "an array and the NDJSON of its elements"
        );
    }

    check_line_buffer(body, max_event, knobs >> 2);
}

/// Target `config`: the TOML file through both configuration stages, with default flags.
pub fn config(data: &[u8]) {
    use skew_exporter::config::{Flags, RawConfig, Settings};
    let text = String::from_utf8_lossy(data);
    let raw = match RawConfig::parse(&text) {
        Ok(raw) => raw,
        Err(message) => {
            assert!(!message.is_empty(), "a parse error says something");
            return;
        }
    };
    let s = match Settings::from_sources(&Flags::default(), raw) {
        Ok(s) => s,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error says something");
            return;
        }
    };
    assert!(skew_exporter::config::parse_listen_address(&s.web.listen_address).is_ok());
    assert!(s.web.telemetry_path.starts_with('/') && s.web.telemetry_path.len() > 1);
    let n = &s.ntp;
    assert!((1..=64).contains(&n.servers.len()), "servers");
    for (i, a) in n.servers.iter().enumerate() {
        assert!(a.port != 0 && !a.host.is_empty(), "{a:?}");
        assert!(n.servers[..i].iter().all(|b| b.label != a.label), "dup");
    }
    assert!(n.interval >= Duration::from_secs(1), "interval");
    assert!(!n.timeout.is_zero() && n.timeout <= Duration::from_secs(60));
    assert!((1..=16).contains(&n.burst), "burst");
    assert!(n.burst_spacing >= Duration::from_millis(10), "spacing");
    assert!(n.falseticker_floor <= Duration::from_secs(1), "floor");
    assert!((1..=1024).contains(&n.max_backoff), "backoff");
    let e = &s.events;
    assert!((1024..=1 << 30).contains(&e.max_body), "max_body");
    assert!((256..=64 << 20).contains(&e.max_line), "max_line");
    assert!((1..=64).contains(&e.age_buckets.len()), "buckets");
    assert!(
        e.age_buckets.iter().all(|b| b.is_finite())
            && e.age_buckets.windows(2).all(|w| w[0] < w[1]),
        "buckets increase"
    );
    assert!((1..=1000).contains(&e.recorder.max_sources));
    assert!((1..=1000).contains(&e.recorder.max_issuers));
    for list in [&e.recorder.source_allow, &e.recorder.issuer_allow]
        .into_iter()
        .flatten()
    {
        assert!((1..=1000).contains(&list.len()), "allow-list length");
    }
    let p = &s.probe.http_date;
    assert!(p.len() <= 64, "probe targets");
    for (i, t) in p.iter().enumerate() {
        assert!(matches!(t.url.scheme(), "http" | "https"), "{}", t.url);
        assert!(t.url.host_str().is_some_and(|h| !h.is_empty()), "host");
        assert!(
            t.url.username().is_empty() && t.url.password().is_none(),
            "credentials"
        );
        assert!(!t.name.is_empty() && t.name.len() <= 256, "name");
        assert!(p[..i].iter().all(|o| o.name != t.name), "dup target");
        assert!(t.interval >= Duration::from_secs(1), "probe interval");
        assert!(t.timeout >= Duration::from_millis(10) && t.timeout <= Duration::from_secs(60));
        assert!((1..=64).contains(&t.max_requests), "max-requests");
        assert!(
            !(t.insecure_skip_verify && t.ca.is_some()),
            "ca and insecure"
        );
    }
    // Building the metrics with the accepted buckets must work too.
    skew_exporter::metrics::Metrics::with_age_buckets(e.age_buckets.clone())
        .expect("accepted age buckets register");
}

#[cfg(test)]
mod tests {
    use super::quotes;

    const S: &str = "a string long enough to count";

    #[test]
    fn a_message_that_changes_with_the_string_quotes_it() {
        let input = format!(r#"{{"iss":"{S}"}}"#);
        // A parser that would echo the string.
        let echo = |i: &[u8]| Some(format!("bad issuer {}", String::from_utf8_lossy(i)));
        assert!(quotes(
            &echo(input.as_bytes()).unwrap(),
            S,
            input.as_bytes(),
            echo
        ));
        // Written with an escape, the string cannot be replaced: containing it is enough.
        let escaped = format!(r#"{{"iss":"{}"}}"#, S.replace('a', "\\u0061"));
        let fixed = |_: &[u8]| Some(format!("fixed text with {S} in it"));
        assert!(quotes(&fixed(b"").unwrap(), S, escaped.as_bytes(), fixed));
    }

    #[test]
    fn a_fixed_text_that_contains_the_string_does_not_quote_it() {
        let input = format!(r#""{S}""#);
        let fixed = |_: &[u8]| Some(format!("fixed text with {S} in it"));
        assert!(!quotes(&fixed(b"").unwrap(), S, input.as_bytes(), fixed));
        assert!(!quotes("another text", S, input.as_bytes(), fixed));
    }
}
