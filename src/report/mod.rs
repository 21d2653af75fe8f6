//! Pictures of the verdict: `analyze --format html` (an incident report in one file,
//! [`html`]) and the live diagnosis page `/` ([`live`]). Both say the same sentences as the
//! text report: [`verdicts`] runs `analyze::judge` over the same [`Summary`] the text format
//! prints, and sorts the sentences worst first; [`host_clock`] adds this host's own clock from
//! the NTP gauges. The charts are hand-written SVG ([`svg`]); the report's time axis is
//! [`timeline`], the one thing the metrics cannot give (they hold totals, not times).
//!
//! Everything here is pure: families and summaries in, strings out. Every value that came from
//! input (issuer, source, server names) goes through [`escape`] before it reaches the page.

pub mod html;
pub mod live;
pub mod svg;
pub mod timeline;

use std::collections::BTreeMap;

use prometheus::proto::MetricFamily;

use crate::analyze::{judge, Level, Summary};

/// One verdict sentence about a subject (an issuer, an issuer at one source, this host).
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    pub level: Level,
    pub subject: String,
    pub text: String,
    /// Rejections behind it: among sentences of one level, more comes first.
    pub weight: u64,
}

/// The verdict per issuer, and per issuer and source when an issuer has more than one source,
/// worst first (level, then rejections, then name).
pub fn verdicts(summary: &Summary) -> Vec<Sentence> {
    let mut out = Vec::new();
    for i in &summary.issuers {
        let (level, text) = judge(&i.totals);
        out.push(Sentence {
            level,
            subject: format!("issuer {}", i.issuer),
            text,
            weight: i.totals.rejected,
        });
        if i.sources.len() > 1 {
            for (source, stats) in &i.sources {
                let (level, text) = judge(stats);
                out.push(Sentence {
                    level,
                    subject: format!("issuer {} at source {source}", i.issuer),
                    text,
                    weight: stats.rejected,
                });
            }
        }
    }
    sort_worst_first(&mut out);
    out
}

/// Level, then more rejections first, then subject.
pub fn sort_worst_first(s: &mut [Sentence]) {
    s.sort_by(|a, b| {
        a.level
            .cmp(&b.level)
            .then(b.weight.cmp(&a.weight))
            .then(a.subject.cmp(&b.subject))
    });
}

/// Offsets beyond these are a warning and a problem (the drift alerts' 50 ms and 100 ms).
const HOST_WARNING: f64 = 0.05;
const HOST_PROBLEM: f64 = 0.1;

/// A duration in words: `0.4 ms`, `3.20 s`.
pub fn duration(seconds: f64) -> String {
    let a = seconds.abs();
    if a < 1.0 {
        format!("{:.1} ms", a * 1e3)
    } else {
        format!("{a:.2} s")
    }
}

/// The value of the first series of a family, when there is one.
fn first_value(families: &[MetricFamily], name: &str) -> Option<f64> {
    let f = families.iter().find(|f| f.name() == name)?;
    let m = f.get_metric().first()?;
    Some(m.get_gauge().value())
}

/// This host's clock against its NTP servers: `this host is 0.4 ms behind its NTP servers
/// (bound 1.1 ms)`. `None` when no NTP server is configured.
pub fn host_clock(families: &[MetricFamily]) -> Option<Sentence> {
    let servers = families
        .iter()
        .find(|f| f.name() == "skew_ntp_queries_total")
        .is_some_and(|f| !f.get_metric().is_empty());
    let subject = "this host".to_owned();
    match first_value(families, "skew_ntp_system_offset_seconds") {
        // Offset = server − local: positive means the local clock is behind.
        Some(offset) => {
            let side = if offset >= 0.0 { "behind" } else { "ahead of" };
            let bound = first_value(families, "skew_ntp_system_offset_bound_seconds")
                .map(|b| format!(" (bound {})", duration(b)))
                .unwrap_or_default();
            let level = if offset.abs() >= HOST_PROBLEM {
                Level::Problem
            } else if offset.abs() >= HOST_WARNING {
                Level::Warning
            } else {
                Level::Fine
            };
            Some(Sentence {
                level,
                subject,
                text: format!(
                    "this host is {} {side} its NTP servers{bound}",
                    duration(offset)
                ),
                weight: 0,
            })
        }
        None if servers => Some(Sentence {
            level: Level::Warning,
            subject,
            text: "this host's offset is unknown: no majority of its NTP servers agrees yet"
                .to_owned(),
            weight: 0,
        }),
        None => None,
    }
}

/// HTML-escapes text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn label<'a>(m: &'a prometheus::proto::Metric, name: &str) -> &'a str {
    m.get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value())
        .unwrap_or("")
}

/// A histogram family summed per issuer over sources (and outcomes): cumulative
/// `(upper bound, count)` buckets, +Inf last.
pub fn histograms(families: &[MetricFamily], name: &str) -> BTreeMap<String, Vec<(f64, u64)>> {
    histograms_by(families, name, "issuer")
}

/// As [`histograms`], summed per value of `by`.
pub fn histograms_by(
    families: &[MetricFamily],
    name: &str,
    by: &str,
) -> BTreeMap<String, Vec<(f64, u64)>> {
    let mut out: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
    let Some(f) = families.iter().find(|f| f.name() == name) else {
        return out;
    };
    for m in f.get_metric() {
        let h = m.get_histogram();
        let buckets: Vec<(f64, u64)> = h
            .get_bucket()
            .iter()
            .map(|b| (b.upper_bound(), b.cumulative_count()))
            .filter(|b| b.0.is_finite())
            .chain(std::iter::once((f64::INFINITY, h.get_sample_count())))
            .collect();
        let e = out.entry(label(m, by).to_owned()).or_default();
        if e.is_empty() {
            *e = buckets;
        } else {
            for (a, b) in e.iter_mut().zip(buckets) {
                a.1 += b.1;
            }
        }
    }
    out
}

/// Cumulative buckets summed over every key (issuer or source), +Inf last; empty without any.
pub fn sum_buckets(per_key: &BTreeMap<String, Vec<(f64, u64)>>) -> Vec<(f64, u64)> {
    let mut all: Vec<(f64, u64)> = Vec::new();
    for b in per_key.values() {
        if all.is_empty() {
            all = b.clone();
        } else {
            for (a, x) in all.iter_mut().zip(b) {
                a.1 += x.1;
            }
        }
    }
    all
}

/// Counts per bucket from cumulative ones.
pub fn per_bucket(cumulative: &[(f64, u64)]) -> Vec<u64> {
    let mut prev = 0;
    cumulative
        .iter()
        .map(|&(_, c)| {
            let n = c.saturating_sub(prev);
            prev = c;
            n
        })
        .collect()
}

/// Bucket labels: `≤ 5`, the last `> 86400`.
pub fn bucket_labels(cumulative: &[(f64, u64)]) -> Vec<String> {
    let mut prev = None;
    cumulative
        .iter()
        .map(|&(b, _)| {
            let l = if b.is_infinite() {
                format!(">{}", prev.map(svg::short).unwrap_or_default())
            } else {
                svg::short(b)
            };
            prev = Some(b);
            l
        })
        .collect()
}

/// One colour per rejection reason, indexed like `Reason::ALL`; none is used by another chart.
pub const REASON_COLORS: [&str; 13] = [
    "#d62728", "#ff9896", "#e377c2", "#8c564b", "#c49c94", "#7f7f7f", "#bcbd22", "#dbdb8d",
    "#17becf", "#9edae5", "#393b79", "#637939", "#843c39",
];

/// Lines of issuers, cycling.
pub const ISSUER_COLORS: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#9467bd", "#e6550d", "#3182bd", "#31a354", "#756bb1", "#636363",
];

/// Bars of the age chart.
pub const AGE_COLOR: &str = "#4c78a8";
/// Bars of the expired-by chart.
pub const EXPIRED_COLOR: &str = "#f58518";
/// Intervals of the NTP offset chart.
pub const NTP_COLOR: &str = "#2a9d8f";
/// Bars of the verification delay chart.
pub const DELAY_COLOR: &str = "#e45756";
/// Bars of the premature-by chart.
pub const PREMATURE_COLOR: &str = "#b279a2";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{IssuerSummary, Stats};

    fn issuer(name: &str, sources: &[(&str, Stats)]) -> IssuerSummary {
        let mut totals = Stats::default();
        for (_, s) in sources {
            totals.rejected += s.rejected;
            totals.premature += s.premature;
            totals.expired += s.expired;
            totals.expired_within_5s += s.expired_within_5s;
            if s.issuer_lead_seconds > totals.issuer_lead_seconds {
                totals.issuer_lead_seconds = s.issuer_lead_seconds;
            }
        }
        IssuerSummary {
            issuer: name.to_owned(),
            verdict: String::new(),
            clock: None,
            causes: Vec::new(),
            totals,
            sources: sources
                .iter()
                .map(|(n, s)| ((*n).to_owned(), s.clone()))
                .collect(),
        }
    }

    #[test]
    fn verdicts_are_the_text_verdicts_worst_first() {
        let ahead = Stats {
            issuer_lead_seconds: Some(3.2),
            premature: 7,
            rejected: 7,
            ..Stats::default()
        };
        let quiet = Stats::default();
        let stale = Stats {
            expired: 10,
            expired_within_5s: 1,
            rejected: 10,
            ..Stats::default()
        };
        let summary = Summary {
            events_recorded: 0,
            events_invalid: BTreeMap::new(),
            lines_skipped: 0,
            label_overflow: BTreeMap::new(),
            issuers: vec![
                issuer("a-quiet", &[("api", quiet.clone())]),
                issuer("b-stale", &[("api", stale.clone())]),
                issuer("c-ahead", &[("api", ahead.clone()), ("web", quiet.clone())]),
            ],
        };
        let v = verdicts(&summary);
        let got: Vec<(Level, &str)> = v.iter().map(|s| (s.level, s.subject.as_str())).collect();
        assert_eq!(
            got,
            [
                (Level::Problem, "issuer c-ahead"),
                (Level::Problem, "issuer c-ahead at source api"),
                (Level::Warning, "issuer b-stale"),
                (Level::Fine, "issuer a-quiet"),
                (Level::Fine, "issuer c-ahead at source web"),
            ]
        );
        // The same words as the text format.
        assert_eq!(v[1].text, crate::analyze::verdict(&ahead));
        assert_eq!(v[2].text, crate::analyze::verdict(&stale));
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn per_bucket_counts_and_labels() {
        let c = [(-1.0, 2), (0.0, 2), (5.0, 7), (f64::INFINITY, 9)];
        assert_eq!(per_bucket(&c), [2, 0, 5, 2]);
        assert_eq!(bucket_labels(&c), ["-1", "0", "5", ">5"]);
    }

    #[test]
    fn host_sentence_says_behind_or_ahead_with_the_bound() {
        let m = crate::metrics::Metrics::new().unwrap();
        assert_eq!(host_clock(&m.gather()), None);
        m.ntp
            .system_offset
            .with_label_values::<&str>(&[])
            .set(0.0004);
        let s = host_clock(&m.gather()).unwrap();
        assert!(
            s.text
                .starts_with("this host is 0.4 ms behind its NTP servers"),
            "{}",
            s.text
        );
        assert_eq!(s.level, Level::Fine);
        m.ntp
            .system_offset
            .with_label_values::<&str>(&[])
            .set(-0.25);
        let s = host_clock(&m.gather()).unwrap();
        assert!(s
            .text
            .starts_with("this host is 250.0 ms ahead of its NTP servers"));
        assert_eq!(s.level, Level::Problem);
    }
}
