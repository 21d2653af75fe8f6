//! `skew-exporter analyze FILE...`: offline forensics. Reads JSON-lines events (or, with an
//! `[[events.follow]]` table, a log as a service wrote it: `follow_table`), records them
//! through the same [`Recorder`] as the daemon, and reports what the metrics say: per issuer and
//! source, accepted and rejected with reasons, age quantiles from the histogram, issuer lead,
//! expired rejections within 5 s of `exp`, and a one-line verdict per issuer. `--format html`
//! (`report::html`) reads through [`read`] and says the same verdicts ([`judge`]) with charts.
//!
//! The report is computed from the gathered metric families, not from a second set of
//! counters, so it shows exactly what `/metrics` would.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use prometheus::proto::{Metric, MetricFamily};
use serde::Serialize;

use crate::config::{AnalyzeArgs, AnalyzeFormat, Settings};
use crate::ingest::follow::LineFormat;
use crate::ingest::tail::FollowTable;
use crate::ingest::Ingest;
use crate::metrics::{Metrics, Transport};
use crate::record::Recorder;

/// Lead above which a verdict calls an issuer ahead.
const LEAD_VERDICT: f64 = 1.0;

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot write the report: {0}")]
    Write(#[from] io::Error),
    #[error("{0}")]
    Format(String),
    #[error("--format html is written by report::html::run")]
    Html,
}

/// How `analyze` reads its files: the `[[events.follow]]` table `--format-from` names (by
/// `name`, or else by `path`), the only table there is, or `None` (our event schema) when there
/// is none.
fn follow_table<'s>(
    args: &AnalyzeArgs,
    settings: &'s Settings,
) -> Result<Option<&'s FollowTable>, AnalyzeError> {
    let tables = &settings.events.tail.follow;
    let table = match &args.format_from {
        Some(name) => tables
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
            .or_else(|| tables.iter().find(|t| t.name.is_none() && &t.path == name))
            .ok_or_else(|| {
                let known: Vec<&str> = tables.iter().map(|t| t.label()).collect();
                AnalyzeError::Format(format!(
                    "--format-from {name}: no [[events.follow]] table of that name in the \
                     configuration (tables: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })?,
        None => match tables.as_slice() {
            [] => return Ok(None),
            [one] => one,
            _ => {
                return Err(AnalyzeError::Format(format!(
                    "the configuration has {} [[events.follow]] tables: name one with \
                     --format-from",
                    tables.len()
                )))
            }
        },
    };
    Ok(Some(table))
}

/// Per (source, issuer) or per issuer: what the metrics say.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub accepted: u64,
    pub rejected: u64,
    pub reasons: BTreeMap<String, u64>,
    pub age_count: u64,
    pub age_p1: Option<f64>,
    pub age_p50: Option<f64>,
    pub age_p99: Option<f64>,
    pub issuer_lead_seconds: Option<f64>,
    pub expired: u64,
    pub expired_within_5s: u64,
    pub premature: u64,
    /// `skew_jwt_time_rejections_total`: reason → cause → count.
    pub time_rejections: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(skip)]
    pub(crate) age_buckets: Vec<(f64, u64)>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IssuerSummary {
    pub issuer: String,
    pub verdict: String,
    /// Whose clock, in words (`verdict::clock_words`; `analyze` has no NTP offset, so it says
    /// what the lead says), when a lead is known.
    pub clock: Option<String>,
    /// The cause breakdown of each time reason, in words (`verdict::cause_words`).
    pub causes: Vec<String>,
    #[serde(flatten)]
    pub totals: Stats,
    pub sources: BTreeMap<String, Stats>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub events_recorded: u64,
    pub events_invalid: BTreeMap<String, u64>,
    /// Lines of an `[[events.follow]]` log that are not verifications (the regex did not
    /// match, `event-when` was absent, blank lines): 0 for our event schema.
    pub lines_skipped: u64,
    pub label_overflow: BTreeMap<String, u64>,
    pub issuers: Vec<IssuerSummary>,
}

/// Runs the subcommand for the text, JSON and Prometheus formats, writing to `out`.
/// Unreadable files are reported at the end and make the result an error, after every
/// readable file was recorded. `--format html` is `report::html::run`, which reads through
/// [`read`] too (the report module builds on this one, not the other way round).
pub fn run(
    args: &AnalyzeArgs,
    settings: &Settings,
    out: &mut dyn Write,
) -> Result<(), AnalyzeError> {
    if args.format == AnalyzeFormat::Html {
        return Err(AnalyzeError::Html);
    }
    let (metrics, read_error) = read(args, settings, None)?;
    match args.format {
        AnalyzeFormat::Prometheus => out.write_all(metrics.render()?.as_bytes())?,
        AnalyzeFormat::Json => {
            let s = summarize(&metrics.gather());
            serde_json::to_writer_pretty(&mut *out, &s).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        AnalyzeFormat::Text | AnalyzeFormat::Html => {
            write_text(&summarize(&metrics.gather()), out)?
        }
    }
    read_error.map_or(Ok(()), Err)
}

/// Records every file of `args` (with a progress bar when standard error is a terminal),
/// handing each recorded event to `observe` too. Returns the metrics and the first read error:
/// an unreadable file is reported on standard error at once and returned after the others
/// were read, so the report still covers them.
pub fn read(
    args: &AnalyzeArgs,
    settings: &Settings,
    observe: Option<&mut dyn FnMut(&crate::event::Event<'_>)>,
) -> Result<(Arc<Metrics>, Option<AnalyzeError>), AnalyzeError> {
    let metrics = Arc::new(Metrics::with_age_buckets(
        settings.events.age_buckets.clone(),
    )?);
    let table = follow_table(args, settings)?;
    let format = table.map_or(LineFormat::Events, |t| t.format.clone());
    let recorder = Recorder::new(metrics.clone(), &settings.events.recorder);
    let mut first_error = None;
    let progress = Progress::new(args);
    // Lines the table does not select, counted as the tailer counts them (its `pattern`
    // label), so the report says how much of a log was not verifications.
    let mut skipped = 0;
    {
        let mut batch = recorder.batch(Transport::File);
        let mut ingest = Ingest::new(&mut batch, settings.events.max_line, crate::unix_now());
        if let Some(o) = observe {
            ingest = ingest.observed_by(o);
        }
        for path in &args.files {
            let read = feed(path, &format, &mut ingest, progress.as_ref(), &mut skipped);
            if let Err(source) = read {
                let path = path.display().to_string();
                let say = || eprintln!("skew-exporter analyze: cannot read {path}: {source}");
                match &progress {
                    Some(p) => p.bar.suspend(say),
                    None => say(),
                }
                first_error.get_or_insert(AnalyzeError::Read { path, source });
            }
        }
        // Its counts in the metrics (the report is the metrics themselves here).
        let _ = ingest.finish();
    }
    if let Some(t) = table {
        metrics
            .tail
            .skipped
            .with_label_values(&[t.label()])
            .inc_by(skipped);
    }
    if let Some(p) = progress {
        p.bar.finish_and_clear();
    }
    Ok((metrics, first_error))
}

/// The progress bar on standard error: bytes read of the total, events per second, ETA. Only
/// when standard error is a terminal and `--quiet` is not given; otherwise nothing is drawn.
struct Progress {
    bar: indicatif::ProgressBar,
    start: std::time::Instant,
    lines: std::cell::Cell<u64>,
}

/// Lines between two updates of the events/s figure.
const PROGRESS_EVERY: u64 = 1 << 16;

impl Progress {
    fn new(args: &AnalyzeArgs) -> Option<Progress> {
        use std::io::IsTerminal;
        if args.quiet || !io::stderr().is_terminal() {
            return None;
        }
        // Standard input has no size: then a spinner with the bytes read.
        let total: Option<u64> = args
            .files
            .iter()
            .map(|f| {
                (f.as_os_str() != "-")
                    .then(|| std::fs::metadata(f).ok().map(|m| m.len()))
                    .flatten()
            })
            .sum();
        let (bar, template) = match total {
            Some(t) => (
                indicatif::ProgressBar::new(t),
                "{bar:40} {bytes}/{total_bytes} {msg} ETA {eta}",
            ),
            None => (
                indicatif::ProgressBar::new_spinner(),
                "{spinner} {bytes} {msg} {elapsed}",
            ),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Some(Progress {
            bar,
            start: std::time::Instant::now(),
            lines: std::cell::Cell::new(0),
        })
    }

    fn line(&self) {
        let n = self.lines.get() + 1;
        self.lines.set(n);
        if n % PROGRESS_EVERY == 0 {
            let secs = self.start.elapsed().as_secs_f64().max(1e-3);
            self.bar
                .set_message(format!("{:.0} events/s", n as f64 / secs));
        }
    }
}

/// A reader that moves the progress bar by what it reads.
struct Counted<'p, R> {
    inner: R,
    progress: Option<&'p Progress>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = self.progress {
            p.bar.inc(n as u64);
        }
        Ok(n)
    }
}

/// How much of a file is read at once.
const BLOCK: usize = 1 << 20;

/// Streams one file (or stdin for `-`) line by line into `ingest`.
fn feed(
    path: &Path,
    format: &LineFormat,
    ingest: &mut Ingest<'_, '_>,
    progress: Option<&Progress>,
    skipped: &mut u64,
) -> io::Result<()> {
    let inner: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path)?)
    };
    let reader = Counted { inner, progress };
    let counted = |number| {
        if let Some(p) = progress {
            p.line();
        }
        number
    };
    match format {
        LineFormat::Events => feed_from(reader, BLOCK, |line, number| {
            ingest.line(line, counted(number))
        }),
        LineFormat::Mapped(mapping) => feed_from(reader, BLOCK, |line, number| {
            if ingest.mapped_line(mapping, line, counted(number)) {
                *skipped += 1;
            }
        }),
    }
}

/// Reads big blocks and hands every line, numbered from 1 and without its newline, to `line`
/// straight from the block: no copy per line (only an unfinished line at the end of a block
/// moves to the front). The block doubles while one line does not fit in it, so a line is
/// never split; lines are exactly those `BufRead::read_until(b'\n')` gives.
fn feed_from(
    mut reader: impl Read,
    block: usize,
    mut line: impl FnMut(&[u8], u64),
) -> io::Result<()> {
    let mut buf = vec![0u8; block.max(1)];
    // `buf[..filled]` is the start of a line whose newline has not been read yet.
    let mut filled = 0;
    let mut number = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match reader.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            // The last line may lack its newline.
            if filled > 0 {
                line(&buf[..filled], number + 1);
            }
            return Ok(());
        }
        let end = filled + n;
        let mut start = 0;
        // Only the new bytes can hold a newline.
        for nl in memchr::memchr_iter(b'\n', &buf[filled..end]) {
            let nl = filled + nl;
            number += 1;
            line(&buf[start..nl], number);
            start = nl + 1;
        }
        buf.copy_within(start..end, 0);
        filled = end - start;
    }
}

fn label<'a>(m: &'a prometheus::proto::Metric, name: &str) -> &'a str {
    m.get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value())
        .unwrap_or("")
}

/// Builds the summary from gathered metric families: the ingestion counts, then the per-pair
/// statistics, summed per issuer.
pub fn summarize(families: &[MetricFamily]) -> Summary {
    let mut pairs: BTreeMap<(String, String), Stats> = BTreeMap::new();
    let mut summary = Summary {
        events_recorded: 0,
        events_invalid: BTreeMap::new(),
        lines_skipped: 0,
        label_overflow: BTreeMap::new(),
        issuers: Vec::new(),
    };
    for f in families {
        for m in f.get_metric() {
            let count = m.get_counter().value() as u64;
            if add_ingest(&mut summary, f.name(), m, count) || !counts_for_a_pair(f.name(), count) {
                continue;
            }
            let key = (label(m, "issuer").to_owned(), label(m, "source").to_owned());
            add_pair(pairs.entry(key).or_default(), f.name(), m, count);
        }
    }
    summary.issuers = issuer_summaries(pairs);
    summary
}

/// Adds one series of the ingestion families; false for any other family.
fn add_ingest(summary: &mut Summary, name: &str, m: &Metric, count: u64) -> bool {
    match name {
        "skew_events_received_total" => summary.events_recorded += count,
        "skew_tail_lines_skipped_total" => summary.lines_skipped += count,
        "skew_events_invalid_total" => {
            if count > 0 {
                *summary
                    .events_invalid
                    .entry(label(m, "error").to_owned())
                    .or_default() += count;
            }
        }
        "skew_label_overflow_total" => {
            if count > 0 {
                summary
                    .label_overflow
                    .insert(label(m, "label").to_owned(), count);
            }
        }
        _ => return false,
    }
    true
}

/// Whether a series of `name` adds to its pair's statistics (a zero time-rejection counter
/// does not).
fn counts_for_a_pair(name: &str, count: u64) -> bool {
    match name {
        "skew_jwt_time_rejections_total" => count > 0,
        _ => PAIR_FAMILIES.contains(&name),
    }
}

/// The per-pair families [`add_pair`] reads.
const PAIR_FAMILIES: [&str; 7] = [
    "skew_jwt_verifications_total",
    "skew_jwt_rejections_total",
    "skew_jwt_age_seconds",
    "skew_jwt_expired_by_seconds",
    "skew_jwt_premature_by_seconds",
    "skew_jwt_time_rejections_total",
    "skew_jwt_issuer_lead_seconds",
];

/// Adds one series of a per-pair family to the pair's statistics.
fn add_pair(s: &mut Stats, name: &str, m: &Metric, count: u64) {
    match name {
        "skew_jwt_verifications_total" => match label(m, "outcome") {
            "accepted" => s.accepted += count,
            _ => s.rejected += count,
        },
        "skew_jwt_rejections_total" => {
            *s.reasons.entry(label(m, "reason").to_owned()).or_default() += count;
        }
        "skew_jwt_age_seconds" => {
            let h = m.get_histogram();
            let inf = std::iter::once((f64::INFINITY, h.get_sample_count()));
            merge_buckets(
                &mut s.age_buckets,
                h.get_bucket().iter().map(bucket).chain(inf),
            );
        }
        "skew_jwt_expired_by_seconds" => {
            let h = m.get_histogram();
            s.expired += h.get_sample_count();
            s.expired_within_5s += count_le(h.get_bucket(), 5.0);
        }
        "skew_jwt_premature_by_seconds" => s.premature += m.get_histogram().get_sample_count(),
        "skew_jwt_time_rejections_total" => {
            *s.time_rejections
                .entry(label(m, "reason").to_owned())
                .or_default()
                .entry(label(m, "cause").to_owned())
                .or_default() += count;
        }
        "skew_jwt_issuer_lead_seconds" => s.issuer_lead_seconds = Some(m.get_gauge().value()),
        _ => {}
    }
}

/// The pairs' statistics summed per issuer, with each issuer's verdict, clock words and
/// causes, sorted by issuer.
fn issuer_summaries(pairs: BTreeMap<(String, String), Stats>) -> Vec<IssuerSummary> {
    let mut issuers: BTreeMap<String, IssuerSummary> = BTreeMap::new();
    for ((issuer, source), mut stats) in pairs {
        stats.finish_quantiles();
        let entry = issuers
            .entry(issuer.clone())
            .or_insert_with(|| IssuerSummary {
                issuer,
                verdict: String::new(),
                clock: None,
                causes: Vec::new(),
                totals: Stats::default(),
                sources: BTreeMap::new(),
            });
        entry.totals.absorb(&stats);
        entry.sources.insert(source, stats);
    }
    issuers
        .into_values()
        .map(|mut i| {
            i.totals.finish_quantiles();
            i.verdict = verdict(&i.totals);
            i.clock = i
                .totals
                .issuer_lead_seconds
                .map(|lead| crate::verdict::clock_words(&i.issuer, lead, None));
            i.causes = i
                .totals
                .time_rejections
                .iter()
                .filter_map(|(reason, causes)| {
                    let causes: Vec<(&str, u64)> =
                        causes.iter().map(|(c, n)| (c.as_str(), *n)).collect();
                    crate::verdict::cause_words(reason, &causes)
                })
                .collect();
            i
        })
        .collect()
}

fn bucket(b: &prometheus::proto::Bucket) -> (f64, u64) {
    (b.upper_bound(), b.cumulative_count())
}

fn count_le(buckets: &[prometheus::proto::Bucket], bound: f64) -> u64 {
    buckets
        .iter()
        .find(|b| b.upper_bound() == bound)
        .map(|b| b.cumulative_count())
        .unwrap_or(0)
}

/// Adds cumulative buckets with the same bounds (the age histogram's children all share them).
fn merge_buckets(into: &mut Vec<(f64, u64)>, from: impl Iterator<Item = (f64, u64)>) {
    let from: Vec<_> = from.collect();
    if into.is_empty() {
        *into = from;
    } else {
        for (a, b) in into.iter_mut().zip(from) {
            a.1 += b.1;
        }
    }
}

impl Stats {
    fn absorb(&mut self, o: &Stats) {
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        for (r, n) in &o.reasons {
            *self.reasons.entry(r.clone()).or_default() += n;
        }
        merge_buckets(&mut self.age_buckets, o.age_buckets.iter().copied());
        self.issuer_lead_seconds = match (self.issuer_lead_seconds, o.issuer_lead_seconds) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.expired += o.expired;
        self.expired_within_5s += o.expired_within_5s;
        self.premature += o.premature;
        for (reason, causes) in &o.time_rejections {
            let into = self.time_rejections.entry(reason.clone()).or_default();
            for (c, n) in causes {
                *into.entry(c.clone()).or_default() += n;
            }
        }
    }

    fn finish_quantiles(&mut self) {
        let b = &self.age_buckets;
        self.age_count = b.iter().map(|x| x.1).max().unwrap_or(0);
        self.age_p1 = histogram_quantile(0.01, b);
        self.age_p50 = histogram_quantile(0.5, b);
        self.age_p99 = histogram_quantile(0.99, b);
    }
}

/// Prometheus' `histogram_quantile` over cumulative `(upper bound, count)` buckets, +Inf last
/// (the text exposition omits it; the total is the last count). Linear interpolation inside a
/// bucket; the lowest bucket interpolates from 0 only when its bound is positive, otherwise it
/// returns the bound, as Prometheus does.
pub fn histogram_quantile(q: f64, buckets: &[(f64, u64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let i = buckets.iter().position(|b| b.1 as f64 >= rank)?;
    let (upper, count) = buckets[i];
    if upper.is_infinite() {
        return i.checked_sub(1).map(|p| buckets[p].0);
    }
    let (lower, below) = match i {
        0 if upper <= 0.0 => return Some(upper),
        0 => (0.0, 0),
        _ => buckets[i - 1],
    };
    let in_bucket = (count - below) as f64;
    if in_bucket == 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below as f64) / in_bucket)
}

/// How bad a verdict is; verdicts are listed worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Clock skew is rejecting tokens now.
    Problem,
    /// Skew seen but absorbed, or rejections that are not about time.
    Warning,
    /// Rejections with no time explanation, or nothing to say.
    Info,
    /// No rejections and no skew.
    Fine,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Problem => "problem",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Fine => "fine",
        }
    }
}

/// One line that tells an on-call engineer what the numbers mean.
pub fn verdict(s: &Stats) -> String {
    judge(s).1
}

/// The verdict with its level: the one decision behind the text report, the HTML report and
/// the live page (`crate::report`).
pub fn judge(s: &Stats) -> (Level, String) {
    let lead = s.issuer_lead_seconds.unwrap_or(f64::NEG_INFINITY);
    if lead >= LEAD_VERDICT {
        return if s.premature > 0 {
            (Level::Problem, format!(
                "issuer clock ~{lead:.1} s ahead of verifiers: {} nbf/iat rejections (not_yet_valid, issued_in_future)",
                s.premature
            ))
        } else {
            (
                Level::Warning,
                format!(
                    "issuer clock ~{lead:.1} s ahead of verifiers; their leeway still absorbs it"
                ),
            )
        };
    }
    if let Some(p1) = s.age_p1.filter(|&p| p <= -LEAD_VERDICT) {
        return (
            Level::Problem,
            format!(
                "tokens seen {:.1} s before they were issued (p1 age): a verifier clock is behind",
                -p1
            ),
        );
    }
    if s.expired > 0 && 2 * s.expired_within_5s >= s.expired {
        return (
            Level::Problem,
            format!(
            "{} of {} expired rejections within 5 s of exp: zero leeway or a verifier clock ahead",
            s.expired_within_5s, s.expired
        ),
        );
    }
    if s.expired > 0 {
        return (Level::Warning, format!(
            "expired rejections are mostly long past exp ({} of {}): clients not refreshing, not skew",
            s.expired - s.expired_within_5s,
            s.expired
        ));
    }
    if s.rejected == 0 {
        (
            Level::Fine,
            "no rejections and no clock skew visible".to_owned(),
        )
    } else {
        (
            Level::Info,
            "no clock skew visible; rejections are not time-related".to_owned(),
        )
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

fn write_stats(out: &mut dyn Write, indent: &str, s: &Stats) -> io::Result<()> {
    writeln!(
        out,
        "{indent}accepted {}  rejected {}",
        s.accepted, s.rejected
    )?;
    if !s.reasons.is_empty() {
        let reasons: Vec<String> = s.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        writeln!(out, "{indent}reasons: {}", reasons.join(", "))?;
    }
    writeln!(
        out,
        "{indent}age (s, {} tokens): p1 {}  p50 {}  p99 {}",
        s.age_count,
        fmt_opt(s.age_p1),
        fmt_opt(s.age_p50),
        fmt_opt(s.age_p99)
    )?;
    writeln!(
        out,
        "{indent}issuer lead (s): {}",
        fmt_opt(s.issuer_lead_seconds)
    )?;
    if s.expired > 0 {
        writeln!(
            out,
            "{indent}expired within 5 s of exp: {} of {}",
            s.expired_within_5s, s.expired
        )?;
    }
    Ok(())
}

fn write_text(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let invalid: u64 = s.events_invalid.values().sum();
    writeln!(
        out,
        "events recorded: {}  refused: {}",
        s.events_recorded, invalid
    )?;
    for (kind, n) in &s.events_invalid {
        writeln!(out, "  refused as {kind}: {n}")?;
    }
    if s.lines_skipped > 0 {
        writeln!(
            out,
            "  lines that are not verifications (skipped by the table): {}",
            s.lines_skipped
        )?;
    }
    for (label, n) in &s.label_overflow {
        writeln!(out, "  {label} values folded into `other`: {n}")?;
    }
    for i in &s.issuers {
        writeln!(out, "\nissuer {}", i.issuer)?;
        writeln!(out, "  verdict: {}", i.verdict)?;
        if let Some(clock) = &i.clock {
            writeln!(out, "  clock: {clock}")?;
        }
        for c in &i.causes {
            writeln!(out, "  time rejections: {c}")?;
        }
        write_stats(out, "  ", &i.totals)?;
        for (source, stats) in &i.sources {
            writeln!(out, "  source {source}")?;
            write_stats(out, "    ", stats)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_prometheus() {
        let b = [(-1.0, 0), (0.0, 10), (1.0, 20), (f64::INFINITY, 20)];
        assert_eq!(histogram_quantile(0.5, &b), Some(0.0));
        assert_eq!(histogram_quantile(0.75, &b), Some(0.5));
        assert_eq!(histogram_quantile(0.25, &b), Some(-0.5));
        assert_eq!(
            histogram_quantile(0.5, &[(0.0, 0), (f64::INFINITY, 0)]),
            None
        );
    }

    #[test]
    fn quantile_in_the_lowest_negative_bucket_is_its_bound() {
        let b = [(-300.0, 5), (0.0, 10), (f64::INFINITY, 10)];
        assert_eq!(histogram_quantile(0.01, &b), Some(-300.0));
    }

    #[test]
    fn quantile_in_inf_bucket_is_the_highest_finite_bound() {
        let b = [(1.0, 1), (2.0, 1), (f64::INFINITY, 10)];
        assert_eq!(histogram_quantile(0.99, &b), Some(2.0));
    }

    #[test]
    fn quantile_in_a_positive_first_bucket_starts_at_zero() {
        assert_eq!(
            histogram_quantile(0.5, &[(2.0, 10), (f64::INFINITY, 10)]),
            Some(1.0)
        );
    }

    /// Issue 13: the report says whose clock is off and why time rejections happened, in words,
    /// from the same families `/metrics` shows.
    #[test]
    fn summary_says_the_lead_and_the_causes_in_words() {
        let metrics = Arc::new(Metrics::new().unwrap());
        let recorder = Recorder::new(metrics.clone(), &Default::default());
        let mut b = recorder.batch(Transport::File);
        let t = 1_790_000_000.0;
        let mut lines = Vec::new();
        for i in 0..3 {
            let ts = t + f64::from(i);
            lines.push(format!(
                r#"{{"ts":{ts},"iss":"X","iat":{},"outcome":"accepted"}}"#,
                ts + 3.2
            ));
        }
        // Within the lead (clock_skew) twice; long past exp once (stale_token).
        for i in 0..2 {
            let ts = t + 5.0 + f64::from(i);
            lines.push(format!(
                r#"{{"ts":{ts},"iss":"X","iat":{},"nbf":{},"outcome":"rejected","reason":"not_yet_valid"}}"#,
                ts + 3.0,
                ts + 3.0
            ));
        }
        lines.push(format!(
            r#"{{"ts":{},"iss":"X","iat":{},"exp":{},"outcome":"rejected","reason":"expired"}}"#,
            t + 10.0,
            t - 3600.0,
            t - 600.0
        ));
        for l in &lines {
            b.record(&crate::event::parse_event(l.as_bytes(), 0.0).unwrap());
        }
        let s = summarize(&metrics.gather());
        let x = &s.issuers[0];
        assert_eq!(
            x.clock.as_deref(),
            Some("issuer X runs 3.2 s ahead of its verifiers (at least)")
        );
        assert_eq!(
            x.causes,
            [
                "1 expired rejection: 1 stale_token",
                "2 not_yet_valid rejections: 2 clock_skew"
            ]
        );
        let mut text = Vec::new();
        write_text(&s, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("  clock: issuer X runs 3.2 s ahead of its verifiers (at least)\n"),
            "{text}"
        );
        assert!(
            text.contains("  time rejections: 2 not_yet_valid rejections: 2 clock_skew\n"),
            "{text}"
        );
    }

    #[test]
    fn verdicts() {
        let lead = Stats {
            issuer_lead_seconds: Some(3.2),
            premature: 7,
            rejected: 7,
            ..Stats::default()
        };
        assert!(
            verdict(&lead).starts_with("issuer clock ~3.2 s ahead"),
            "{}",
            verdict(&lead)
        );
        let edge = Stats {
            expired: 10,
            expired_within_5s: 8,
            rejected: 10,
            ..Stats::default()
        };
        assert!(verdict(&edge).contains("within 5 s"), "{}", verdict(&edge));
        let stale = Stats {
            expired: 10,
            expired_within_5s: 1,
            rejected: 10,
            ..Stats::default()
        };
        assert!(
            verdict(&stale).contains("not refreshing"),
            "{}",
            verdict(&stale)
        );
        assert_eq!(
            verdict(&Stats::default()),
            "no rejections and no clock skew visible"
        );
    }

    /// A reader that hands out `data` in the given chunk sizes (cycling), with an
    /// `Interrupted` error before every third chunk.
    struct Chunked<'a> {
        data: &'a [u8],
        sizes: Vec<usize>,
        calls: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 3 == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let want = self.sizes[self.calls % self.sizes.len()].max(1);
            let n = want.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// The lines the reader before this one gave (`BufRead::read_until(b'\n')`, newline
    /// stripped), numbered from 1.
    fn model_lines(data: &[u8]) -> Vec<(Vec<u8>, u64)> {
        use std::io::BufRead;
        let mut reader = io::BufReader::new(data);
        let mut lines = Vec::new();
        for n in 1.. {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).unwrap() == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            lines.push((line, n));
        }
        lines
    }

    fn fed_lines(data: &[u8], block: usize, sizes: Vec<usize>) -> Vec<(Vec<u8>, u64)> {
        let mut got = Vec::new();
        let reader = Chunked {
            data,
            sizes,
            calls: 0,
        };
        feed_from(reader, block, |l, n| got.push((l.to_vec(), n))).unwrap();
        got
    }

    #[test]
    fn lines_are_split_like_read_until() {
        for data in [
            &b""[..],
            b"\n",
            b"\n\n",
            b"a",
            b"a\n",
            b"a\r\nbb\n\nccc",
            b"{\"outcome\":\"accepted\"}\n{\"outcome\":\"accepted\"}",
        ] {
            for block in [1, 2, 3, 5, 64, BLOCK] {
                for sizes in [vec![1], vec![2, 7], vec![1000]] {
                    assert_eq!(
                        fed_lines(data, block, sizes.clone()),
                        model_lines(data),
                        "{:?} block {block} chunks {sizes:?}",
                        data.escape_ascii().to_string()
                    );
                }
            }
        }
    }

    #[test]
    fn a_read_error_is_returned() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::PermissionDenied.into())
            }
        }
        let e = feed_from(Broken, 16, |_, _| panic!("no line")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    }

    proptest::proptest! {
        #[test]
        fn lines_are_split_like_read_until_whatever_the_chunks(
            data in proptest::collection::vec(
                proptest::sample::select(b"ab{}\r\n".to_vec()),
                0..300,
            ),
            block in 1usize..40,
            sizes in proptest::collection::vec(1usize..50, 1..5),
        ) {
            proptest::prop_assert_eq!(fed_lines(&data, block, sizes), model_lines(&data));
        }
    }
}
