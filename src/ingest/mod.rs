//! Ingestion: turning bytes from a transport into recorded events.
//!
//! [`Ingest`] is the shared splitter and error accounting: NDJSON lines, a JSON array, or a
//! single object go through [`crate::event::parse_event`] one event at a time, so one bad line
//! never drops the good ones around it. Every refused event, whoever finds it (the parser, the
//! size check here, the tailer's line limit, `POST /v1/events`'s body limit), is counted by
//! [`Ingest::refuse`] and nowhere else. The transports are [`http`] (push, its refusals in
//! [`refusal`]) and [`tail`] (followed files, with [`checkpoint`]); `analyze` feeds files
//! through the same type. Lines of the logs services already write (`[[events.follow]]`) go
//! through a [`follow::Mapping`] instead of the event parser, into the same [`Batch`].

pub mod checkpoint;
pub mod follow;
pub mod http;
pub mod refusal;
pub mod tail;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::event::{parse_event, Event, InvalidEvent, InvalidKind};
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

/// Feeds events into a batch, counting what was refused.
pub struct Ingest<'b, 'r> {
    batch: &'b mut Batch<'r>,
    report: Report,
    /// Events longer than this are refused as `too_large` without being parsed.
    max_event: usize,
    /// The time used for events without `ts` (Unix seconds).
    now: f64,
    /// Sees every recorded event after the batch (`analyze --format html`'s time axis).
    observer: Option<&'b mut dyn FnMut(&Event<'_>)>,
}

impl<'b, 'r> Ingest<'b, 'r> {
    pub fn new(batch: &'b mut Batch<'r>, max_event: usize, now: f64) -> Self {
        Ingest {
            batch,
            report: Report::default(),
            max_event,
            now,
            observer: None,
        }
    }

    /// Hands every recorded event to `observer` too.
    pub fn observed_by(mut self, observer: &'b mut dyn FnMut(&Event<'_>)) -> Self {
        self.observer = Some(observer);
        self
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
            return self.refuse(line, e);
        }
        // `ref`: the event is read where it was parsed, not moved out of the `Result` (a
        // ~200-byte copy per event).
        match parse_event(bytes, self.now) {
            Ok(ref ev) => {
                self.batch.record(ev);
                if let Some(o) = self.observer.as_mut() {
                    o(ev);
                }
                self.report.accepted += 1;
            }
            Err(e) => {
                tracing::debug!(line, error = %e, "event refused");
                self.refuse(line, e);
            }
        }
    }

    /// Counts a refused event, numbered `line` (0 when the transport has no line numbers): in
    /// `skew_events_invalid_total` through the batch, and in the report. The one place an
    /// invalid event is counted.
    pub fn refuse(&mut self, line: u64, e: InvalidEvent) {
        self.batch.invalid(&e);
        self.report.invalid += 1;
        if self.report.errors.len() < MAX_REPORTED_ERRORS {
            self.report.errors.push(LineError {
                line,
                error: e.to_string(),
            });
        }
    }

    /// Events refused so far.
    pub fn invalid(&self) -> u64 {
        self.report.invalid
    }

    /// One NDJSON line, numbered `line`. Blank lines are skipped; a trailing `\r` is dropped.
    pub fn line(&mut self, bytes: &[u8], line: u64) {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.event(bytes, line);
    }

    /// One line of a followed log, read by `mapping` (a blank line is skipped like any other
    /// line the mapping does not select). True when the line was skipped: not an event.
    pub fn mapped_line(&mut self, mapping: &follow::Mapping, bytes: &[u8], line: u64) -> bool {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.len() > self.max_event {
            let e = InvalidEvent::new(
                InvalidKind::TooLarge,
                format!(
                    "line of {} bytes is over the {}-byte limit",
                    bytes.len(),
                    self.max_event
                ),
            );
            self.refuse(line, e);
            return false;
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return true;
        }
        match mapping.map(bytes, self.now) {
            follow::Mapped::Event(ev) => {
                self.batch.record(&ev);
                self.report.accepted += 1;
                false
            }
            follow::Mapped::Skipped => true,
            follow::Mapped::Invalid(e) => {
                tracing::debug!(line, error = %e, "line refused");
                self.refuse(line, e);
                false
            }
        }
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
                self.refuse(1, e);
            }
        }
    }

    /// The report; what the batch counted is in the shared metrics from now on.
    pub fn finish(self) -> Report {
        self.batch.flush();
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

    /// Refused by the parser, by the size check, and by a transport (the tailer's line limit):
    /// each once in the report and once in `skew_events_invalid_total`, and the accepted one
    /// once in `skew_events_received_total`.
    #[test]
    fn every_refusal_is_counted_once_in_the_report_and_the_metric() {
        let r = Recorder::new(
            Arc::new(Metrics::new().unwrap()),
            &RecorderSettings::default(),
        );
        let report = {
            let mut batch = r.batch(Transport::File);
            let mut ingest = Ingest::new(&mut batch, 64, 1000.0);
            let big = format!(
                "{{\"outcome\":\"accepted\",\"pad\":\"{}\"}}",
                "x".repeat(64)
            );
            ingest.ndjson(format!("x\n{{\"outcome\":\"accepted\"}}\n{big}\n").as_bytes());
            ingest.refuse(
                0,
                InvalidEvent::new(InvalidKind::TooLarge, "line over --events.max-line"),
            );
            assert_eq!(ingest.invalid(), 3);
            ingest.finish()
        };
        assert_eq!((report.accepted, report.invalid), (1, 3));
        let text = r.metrics().render().unwrap();
        let value = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("{series} not in\n{text}"))
        };
        let invalid = |error: &str| {
            value(&format!(
                "skew_events_invalid_total{{error=\"{error}\",transport=\"file\"}}"
            ))
        };
        assert_eq!((invalid("json"), invalid("too_large")), (1.0, 2.0));
        assert_eq!(invalid("missing_field") + invalid("bad_value"), 0.0);
        assert_eq!(value("skew_events_received_total{transport=\"file\"}"), 1.0);
    }

    #[test]
    fn reports_at_most_ten_errors_but_counts_all() {
        let body = "x\n".repeat(25);
        let r = run(|i| i.ndjson(body.as_bytes()));
        assert_eq!((r.invalid, r.errors.len()), (25, MAX_REPORTED_ERRORS));
    }
}
