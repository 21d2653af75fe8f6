//! What the log says about the NTP servers: a pure state machine per server
//! ([`ServerHealth`]) and one for all of them together ([`Outage`]). The sampler feeds them one
//! [`Outcome`] per round and logs what they return; nothing here touches a socket or a clock
//! (the time is a parameter), so the table tests below pin every line the log can show.
//!
//! The rules (issue 21): one line when a server's state changes, never one per failed query.
//! The first answer and a recovery are `info` (with offset and delay), a server that starts
//! failing is `warn` (with the result class and the error). A flapping server gets at most one
//! line per [`RATE_LIMIT`]: changes inside it are folded into the next line as a count, and
//! that line describes the state the server is in by then. When no server at all has answered
//! for [`SILENT_INTERVALS`] intervals, one `warn` says the offset is unknown and what to check;
//! it is said again only after a server answered and a new outage began.

use std::time::Duration;

use tokio::time::Instant;

use super::sample::{KissAction, QueryResult};

/// At most one line per server within this.
pub const RATE_LIMIT: Duration = Duration::from_secs(60);

/// Intervals without any answer before the offset is reported unknown.
pub const SILENT_INTERVALS: u32 = 5;

/// What one round of a server's burst came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// At least one exchange gave a valid sample: the best one's offset and delay (seconds).
    Answered { offset: f64, delay: f64 },
    /// No valid sample: the class of the (last) failure and what went wrong, in words.
    Failed { result: QueryResult, error: String },
}

impl Outcome {
    /// The state this outcome puts the server in.
    fn state(&self) -> State {
        match self {
            Outcome::Answered { .. } => State::Answering,
            Outcome::Failed { result, .. } => State::Failing(*result),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Answering,
    Failing(QueryResult),
}

/// One line for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub kind: Kind,
    /// State changes since the previous line, this one included: 1 unless changes were folded
    /// by the rate limit.
    pub changes: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// The server answered for the first time since the sampler started (`info`).
    FirstAnswer { offset: f64, delay: f64 },
    /// The server answers again after failing (`info`).
    Recovered { offset: f64, delay: f64 },
    /// The server stopped answering, or fails in another way than before (`warn`).
    Failing { result: QueryResult, error: String },
}

impl LogEvent {
    /// Writes the line, `server` being the configured `host:port`.
    pub fn log(&self, server: &str) {
        let folded = (self.changes > 1).then_some(self.changes);
        match &self.kind {
            Kind::FirstAnswer { offset, delay } => {
                tracing::info!(
                    server,
                    offset,
                    delay,
                    changes = folded,
                    "NTP server answers"
                )
            }
            Kind::Recovered { offset, delay } => {
                tracing::info!(
                    server,
                    offset,
                    delay,
                    changes = folded,
                    "NTP server answers again"
                )
            }
            Kind::Failing { result, error } => tracing::warn!(
                server,
                result = result.as_str(),
                error = %error,
                changes = folded,
                "NTP server fails"
            ),
        }
    }
}

/// One server's state as the log last described it, and what happened since.
#[derive(Debug, Default)]
pub struct ServerHealth {
    current: Option<State>,
    answered_before: bool,
    last_line: Option<Instant>,
    /// State changes not yet described by a line.
    unlogged: u32,
}

impl ServerHealth {
    /// Takes one round's outcome at `now`; returns the line to log, if any.
    pub fn observe(&mut self, outcome: &Outcome, now: Instant) -> Option<LogEvent> {
        let state = outcome.state();
        if self.current != Some(state) {
            self.current = Some(state);
            self.unlogged += 1;
        }
        if self.unlogged == 0 {
            return None;
        }
        if self
            .last_line
            .is_some_and(|t| now.saturating_duration_since(t) < RATE_LIMIT)
        {
            return None;
        }
        let kind = match outcome {
            Outcome::Answered { offset, delay } if self.answered_before => Kind::Recovered {
                offset: *offset,
                delay: *delay,
            },
            Outcome::Answered { offset, delay } => Kind::FirstAnswer {
                offset: *offset,
                delay: *delay,
            },
            Outcome::Failed { result, error } => Kind::Failing {
                result: *result,
                error: error.clone(),
            },
        };
        if matches!(outcome, Outcome::Answered { .. }) {
            self.answered_before = true;
        }
        let changes = std::mem::take(&mut self.unlogged);
        self.last_line = Some(now);
        Some(LogEvent { kind, changes })
    }
}

/// The failure of a round in words, for the `error` field. `host` is the configured name,
/// `detail` the resolver's or socket's own message when there is one, `timeout` the exchange
/// timeout, `next` the wait until the next round (after any Kiss-o'-Death back-off).
pub fn describe(
    result: QueryResult,
    kiss: Option<KissAction>,
    host: &str,
    detail: Option<&str>,
    timeout: Duration,
    next: Duration,
) -> String {
    let with = |s: String| match detail {
        Some(d) => format!("{s}: {d}"),
        None => s,
    };
    match result {
        QueryResult::DnsError => with(format!("cannot resolve {host}")),
        QueryResult::Timeout => format!("no answer within {}", humantime::format_duration(timeout)),
        QueryResult::KissOfDeath => match kiss {
            Some(KissAction::BackOff) => format!(
                "kiss-o'-death RATE: backing off to {}",
                humantime::format_duration(next)
            ),
            Some(KissAction::Stop) => format!(
                "kiss-o'-death DENY/RSTR: the server refuses us; polling at the slowest rate ({})",
                humantime::format_duration(next)
            ),
            _ => "kiss-o'-death with a code that asks nothing of a client; reply discarded"
                .to_owned(),
        },
        QueryResult::Unsynchronized => {
            "the server says its own clock is unsynchronised (leap indicator 3 or stratum 16)"
                .to_owned()
        }
        QueryResult::InvalidResponse => "the reply is not a valid answer to our request".to_owned(),
        QueryResult::NetworkError => match detail {
            Some(addr) => format!("network error with {addr} (refused, unreachable or no route)"),
            None => "network error (refused, unreachable or no route)".to_owned(),
        },
        QueryResult::Ok => "no valid sample".to_owned(),
    }
}

/// All servers together: has any answered within [`SILENT_INTERVALS`] intervals?
#[derive(Debug)]
pub struct Outage {
    limit: Duration,
    /// The last answer from any server, or the start.
    since: Instant,
    warned: bool,
}

/// What [`Outage::observe`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageEvent {
    /// No server has answered for this long (`warn`, once per outage).
    Began { silent_for: Duration },
    /// A server answered after an outage was reported (`info`).
    Ended,
}

impl Outage {
    pub fn new(interval: Duration, start: Instant) -> Self {
        Outage {
            limit: interval.saturating_mul(SILENT_INTERVALS),
            since: start,
            warned: false,
        }
    }

    /// Takes one server's round at `now`: `answered` when it produced a sample.
    pub fn observe(&mut self, answered: bool, now: Instant) -> Option<OutageEvent> {
        if answered {
            self.since = now;
            return std::mem::take(&mut self.warned).then_some(OutageEvent::Ended);
        }
        let silent_for = now.saturating_duration_since(self.since);
        if self.warned || silent_for < self.limit {
            return None;
        }
        self.warned = true;
        Some(OutageEvent::Began { silent_for })
    }
}

impl OutageEvent {
    /// Writes the line; `servers` are the configured `host:port`s.
    pub fn log(&self, servers: &[String]) {
        match self {
            OutageEvent::Began { silent_for } => tracing::warn!(
                servers = %servers.join(", "),
                silent_for = %humantime::format_duration(Duration::from_secs(silent_for.as_secs())),
                "no NTP server has answered for {SILENT_INTERVALS} intervals: the clock offset is unknown; \
                 check that the servers are right (--ntp.server), resolve, and that UDP port 123 outbound is open"
            ),
            OutageEvent::Ended => {
                tracing::info!("an NTP server answers again: the clock offset is known")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(offset: f64) -> Outcome {
        Outcome::Answered {
            offset,
            delay: 0.01,
        }
    }

    fn fail(result: QueryResult) -> Outcome {
        Outcome::Failed {
            result,
            error: format!("{} error", result.as_str()),
        }
    }

    /// What a line says, in short: `first`, `again`, or the failing class; and the fold count.
    fn short(e: &LogEvent) -> (&'static str, u32) {
        let what = match &e.kind {
            Kind::FirstAnswer { .. } => "first",
            Kind::Recovered { .. } => "again",
            Kind::Failing { result, .. } => result.as_str(),
        };
        (what, e.changes)
    }

    #[test]
    fn one_line_per_state_change_rate_limited_with_the_changes_folded() {
        use QueryResult::*;
        /// Seconds since start, the round's outcome, the line expected then.
        type Row = (u64, Outcome, Option<(&'static str, u32)>);
        #[rustfmt::skip]
        let table: &[Row] = &[
            (0, fail(DnsError), Some(("dns_error", 1))),
            (64, fail(DnsError), None),                 // same state: nothing
            (128, fail(DnsError), None),
            (192, ok(0.5), Some(("first", 1))),         // first answer ever
            (256, ok(0.4), None),
            (320, fail(Timeout), Some(("timeout", 1))),
            (384, fail(KissOfDeath), Some(("kiss_of_death", 1))), // another failure class
            (448, ok(0.3), Some(("again", 1))),         // recovery
            // Flapping every 10 s: the first change is logged once the minute since the last
            // line is over; the rest wait and are folded into one line.
            (460, fail(Timeout), None),                 // 12 s after the last line
            (470, ok(0.3), None),
            (480, fail(Timeout), None),
            (490, ok(0.3), None),
            (508, ok(0.3), Some(("again", 4))),         // 60 s later: 4 changes, answering now
            (518, fail(Timeout), None),
            (528, ok(0.3), None),
            (568, ok(0.3), Some(("again", 2))),         // back where it was, still said
            (700, ok(0.3), None),                       // and then quiet
            (800, fail(NetworkError), Some(("network_error", 1))),
        ];
        let start = Instant::now();
        let mut h = ServerHealth::default();
        for (secs, outcome, want) in table {
            let got = h.observe(outcome, start + Duration::from_secs(*secs));
            assert_eq!(got.as_ref().map(short), *want, "at {secs} s: {got:?}");
        }
    }

    #[test]
    fn a_line_carries_the_round_that_triggered_it() {
        let start = Instant::now();
        let mut h = ServerHealth::default();
        let e = h.observe(&ok(0.25), start).expect("first answer");
        assert_eq!(
            e.kind,
            Kind::FirstAnswer {
                offset: 0.25,
                delay: 0.01
            }
        );
        let e = h
            .observe(&fail(QueryResult::Timeout), start + RATE_LIMIT)
            .expect("failing");
        assert_eq!(
            e.kind,
            Kind::Failing {
                result: QueryResult::Timeout,
                error: "timeout error".into()
            }
        );
    }

    #[test]
    fn the_outage_is_reported_once_until_a_server_answers() {
        let start = Instant::now();
        let interval = Duration::from_secs(64);
        let mut o = Outage::new(interval, start);
        let at = |i: u32| start + interval * i;
        for i in 0..5 {
            assert_eq!(o.observe(false, at(i)), None, "round {i}");
        }
        assert_eq!(
            o.observe(false, at(5)),
            Some(OutageEvent::Began {
                silent_for: interval * 5
            })
        );
        for i in 6..20 {
            assert_eq!(o.observe(false, at(i)), None, "round {i}: said once");
        }
        assert_eq!(o.observe(true, at(20)), Some(OutageEvent::Ended));
        assert_eq!(o.observe(true, at(21)), None);
        for i in 22..26 {
            assert_eq!(o.observe(false, at(i)), None, "round {i}");
        }
        assert_eq!(
            o.observe(false, at(26)),
            Some(OutageEvent::Began {
                silent_for: interval * 5
            }),
            "a new outage is said again"
        );
    }

    #[test]
    fn an_answer_before_the_limit_means_no_outage() {
        let start = Instant::now();
        let interval = Duration::from_secs(1);
        let mut o = Outage::new(interval, start);
        assert_eq!(o.observe(false, start + interval * 4), None);
        assert_eq!(
            o.observe(true, start + interval * 4),
            None,
            "no outage to end"
        );
        assert_eq!(o.observe(false, start + interval * 8), None);
        assert!(o.observe(false, start + interval * 9).is_some());
    }

    #[test]
    fn failures_are_described_in_words() {
        let t = Duration::from_secs(2);
        let next = Duration::from_secs(128);
        let d = |r, k, detail| describe(r, k, "0.pool.ntp.org", detail, t, next);
        assert_eq!(
            d(QueryResult::DnsError, None, None),
            "cannot resolve 0.pool.ntp.org"
        );
        assert_eq!(
            d(
                QueryResult::DnsError,
                None,
                Some("Name or service not known")
            ),
            "cannot resolve 0.pool.ntp.org: Name or service not known"
        );
        assert_eq!(d(QueryResult::Timeout, None, None), "no answer within 2s");
        assert_eq!(
            d(QueryResult::KissOfDeath, Some(KissAction::BackOff), None),
            "kiss-o'-death RATE: backing off to 2m 8s"
        );
        assert!(d(QueryResult::KissOfDeath, Some(KissAction::Stop), None).contains("DENY/RSTR"));
        assert!(d(QueryResult::Unsynchronized, None, None).contains("unsynchronised"));
        assert_eq!(
            d(QueryResult::NetworkError, None, Some("127.0.0.1:123")),
            "network error with 127.0.0.1:123 (refused, unreachable or no route)"
        );
    }
}
