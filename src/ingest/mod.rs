//! Ingestion: turning bytes from a transport into recorded events.
//!
//! [`Ingest`] is the shared splitter and error accounting: NDJSON lines, a JSON array, or a
//! single object go through [`crate::event::parse_event`] one event at a time, so one bad line
//! never drops the good ones around it. The transports are [`http`] (push) and [`tail`]
//! (JSON-lines files, with [`checkpoint`]); `analyze` feeds files through the same type.

pub mod checkpoint;
pub mod http;
pub mod tail;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::event::{parse_event, InvalidEvent, InvalidKind};
use crate::record::Batch;

/// How many per-line errors a report carries.
pub const MAX_REPORTED_ERRORS: usize = 10;

/// One refused line, as reported to the sender. `line` is the 1-based line of an NDJSON body
/// or the 1-based element of a JSON array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: u64,
    pub error: String,
}

/// The outcome of ingesting a body or a file: the `POST /v1/events` response.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub accepted: u64,
    pub invalid: u64,
    pub errors: Vec<LineError>,
}

impl Report {
    fn refuse(&mut self, batch: &mut Batch<'_>, line: u64, e: InvalidEvent) {
        batch.invalid(&e);
        self.invalid += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(LineError {
                line,
                error: e.to_string(),
            });
        }
    }
}

/// Feeds events into a batch, counting what was refused.
pub struct Ingest<'b, 'r> {
    pub batch: &'b mut Batch<'r>,
    pub report: Report,
    /// Events longer than this are refused as `too_large` without being parsed.
    pub max_event: usize,
    /// The time used for events without `ts` (Unix seconds).
    pub now: f64,
}

impl<'b, 'r> Ingest<'b, 'r> {
    pub fn new(batch: &'b mut Batch<'r>, max_event: usize, now: f64) -> Self {
        Ingest {
            batch,
            report: Report::default(),
            max_event,
            now,
        }
    }

    /// One event; `line` numbers it in the report.
    pub fn event(&mut self, bytes: &[u8], line: u64) {
        if bytes.len() > self.max_event {
            let e = InvalidEvent::new(
                InvalidKind::TooLarge,
                format!(
                    "event of {} bytes is over the {}-byte limit",
                    bytes.len(),
                    self.max_event
                ),
            );
            return self.report.refuse(self.batch, line, e);
        }
        match parse_event(bytes, self.now) {
            Ok(ev) => {
                self.batch.record(&ev);
                self.report.accepted += 1;
            }
            Err(e) => {
                tracing::debug!(line, error = %e, "event refused");
                self.report.refuse(self.batch, line, e);
            }
        }
    }

    /// One NDJSON line, numbered `line`. Blank lines are skipped; a trailing `\r` is dropped.
    pub fn line(&mut self, bytes: &[u8], line: u64) {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.event(bytes, line);
    }

    /// A whole NDJSON body.
    pub fn ndjson(&mut self, body: &[u8]) {
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            self.line(line, i as u64 + 1);
        }
    }

    /// A JSON body: one object or an array of objects.
    pub fn json(&mut self, body: &[u8]) {
        let trimmed = body.trim_ascii_start();
        if trimmed.first() != Some(&b'[') {
            return self.event(body, 1);
        }
        match serde_json::from_slice::<Vec<&RawValue>>(trimmed) {
            Ok(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.event(item.get().as_bytes(), i as u64 + 1);
                }
            }
            Err(e) => {
                let e = InvalidEvent::new(
                    InvalidKind::Json,
                    format!("the array is not valid JSON: {e}"),
                );
                self.report.refuse(self.batch, 1, e);
            }
        }
    }

    pub fn finish(self) -> Report {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::{Metrics, Transport};
    use crate::record::{Recorder, RecorderSettings};

    fn run(f: impl FnOnce(&mut Ingest<'_, '_>)) -> Report {
        let r = Recorder::new(
            Arc::new(Metrics::new().unwrap()),
            &RecorderSettings::default(),
        );
        let mut batch = r.batch(Transport::Http);
        let mut ingest = Ingest::new(&mut batch, 1024, 1000.0);
        f(&mut ingest);
        ingest.finish()
    }

    #[test]
    fn one_bad_line_never_drops_its_neighbours() {
        let body = b"{\"outcome\":\"accepted\"}\nnot json\n\n{\"outcome\":\"rejected\",\"reason\":\"expired\"}\r\n{\"outcome\":\"accepted\"";
        let r = run(|i| i.ndjson(body));
        assert_eq!((r.accepted, r.invalid), (2, 2));
        assert_eq!(r.errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 5]);
        assert!(r.errors[0].error.starts_with("json:"), "{:?}", r.errors);
    }

    #[test]
    fn arrays_are_split_per_element() {
        let r =
            run(|i| i.json(br#" [{"outcome":"accepted"}, {"outcome":5}, {"outcome":"accepted"}]"#));
        assert_eq!((r.accepted, r.invalid), (2, 1));
        assert_eq!(r.errors[0].line, 2);
        let r = run(|i| i.json(br#"[{"outcome":"accepted"}, "#));
        assert_eq!((r.accepted, r.invalid), (0, 1));
        let r = run(|i| i.json(br#"{"outcome":"accepted"}"#));
        assert_eq!((r.accepted, r.invalid), (1, 0));
    }

    #[test]
    fn oversized_events_are_too_large() {
        let big = format!(
            "{{\"outcome\":\"accepted\",\"pad\":\"{}\"}}",
            "x".repeat(2000)
        );
        let r = run(|i| i.ndjson(big.as_bytes()));
        assert_eq!(r.invalid, 1);
        assert!(r.errors[0].error.starts_with("too_large:"));
    }

    #[test]
    fn reports_at_most_ten_errors_but_counts_all() {
        let body = "x\n".repeat(25);
        let r = run(|i| i.ndjson(body.as_bytes()));
        assert_eq!((r.invalid, r.errors.len()), (25, MAX_REPORTED_ERRORS));
    }
}
