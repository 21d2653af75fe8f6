//! `analyze --format html`: the incident report, one self-contained file (inline CSS and SVG,
//! no script, nothing fetched), readable from disk, as a mail attachment, or in a text browser
//! (every chart has its numbers in words or a table next to it).
//!
//! Size: every chart is drawn from aggregates (histogram buckets, at most
//! [`super::timeline::MAX_BINS`] time bins, issuers bounded like the metrics' label), so the file's
//! size depends on the number of issuers and sources, never on the number of events. Worst
//! case, 33 issuers × 33 sources: ~1.1k verdict sentences and table rows (~250 KB), 33 age
//! charts (~100 KB), 240 bins × 13 reasons of stacked bars (~450 KB), 33 lead lines × 240
//! points (~200 KB): about 1 MB, whether the input held a thousand events or ten million.

use std::fmt::Write;

use prometheus::proto::MetricFamily;

use super::svg::{self, Bars, Lines, Series};
use super::timeline::{Bin, Timeline};
use super::{escape, verdicts, Sentence};
use crate::analyze::{read, summarize, AnalyzeError, Stats, Summary};
use crate::config::{AnalyzeArgs, Settings};
use crate::event::Reason;

/// `analyze --format html`: reads the files through `analyze::read` with a [`Timeline`]
/// watching, then writes the report. Unreadable files are reported as the text format does.
pub fn run(
    args: &AnalyzeArgs,
    settings: &Settings,
    out: &mut dyn std::io::Write,
) -> Result<(), AnalyzeError> {
    let r = &settings.events.recorder;
    let mut timeline = Timeline::new(r.issuer_allow.clone(), r.max_issuers);
    let mut observe = |e: &crate::event::Event<'_>| timeline.observe(e);
    let (metrics, read_error) = read(args, settings, Some(&mut observe))?;
    let families = metrics.gather();
    let files: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    let html = render(&Input {
        files: &files,
        summary: &summarize(&families),
        families: &families,
        timeline: &timeline,
    });
    out.write_all(html.as_bytes())?;
    read_error.map_or(Ok(()), Err)
}

/// What the report is made of.
pub struct Input<'a> {
    /// The files read, as named on the command line.
    pub files: &'a [String],
    pub summary: &'a Summary,
    pub families: &'a [MetricFamily],
    pub timeline: &'a Timeline,
}

pub(crate) const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
ol.verdicts{padding-left:1.4em}ol.verdicts li{margin:.3em 0}\
.problem{color:#b00020}.warning{color:#8a5a00}.info{color:#333}.fine{color:#1b7a33}\
.lvl{display:inline-block;min-width:5.5em;font-weight:bold}\
figure{margin:.8em 0}figcaption{font-size:.9em;color:#444}\
.legend span{display:inline-block;margin-right:1em;font-size:.9em}\
.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}\
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}\
td:first-child,th:first-child{text-align:left}.meta{color:#555}.charts{display:flex;flex-wrap:wrap;gap:1em}";

/// The verdict list: one `<li>` per sentence, worst first.
pub(crate) fn verdict_list(out: &mut String, sentences: &[Sentence]) {
    out.push_str("<ol class=\"verdicts\">\n");
    for s in sentences {
        let l = s.level.as_str();
        let _ = writeln!(
            out,
            "<li class=\"{l}\"><span class=\"lvl\">[{l}]</span> <b>{}</b>: {}</li>",
            escape(&s.subject),
            escape(&s.text)
        );
    }
    out.push_str("</ol>\n");
}

/// A legend in HTML (readable without the picture).
pub(crate) fn legend(out: &mut String, items: &[(&str, String)]) {
    out.push_str("<p class=\"legend\">");
    for (color, name) in items {
        let _ = write!(
            out,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            escape(name)
        );
    }
    out.push_str("</p>\n");
}

/// The age chart of one issuer's buckets: negative ages on a shaded background.
pub(crate) fn age_chart(title: &str, buckets: &[(f64, u64)], width: u32, height: u32) -> String {
    let counts = super::per_bucket(buckets);
    // Buckets whose upper bound is ≤ 0 hold ages at or below zero: the negative region ends
    // with the first bucket above 0.
    let negative = buckets.iter().take_while(|b| b.0 < 0.0).count();
    svg::bars(&Bars {
        title: title.to_owned(),
        categories: super::bucket_labels(buckets),
        series: vec![Series {
            name: "tokens".into(),
            color: super::AGE_COLOR,
            values: counts.iter().map(|&c| Some(c as f64)).collect(),
        }],
        shade: (negative > 0).then(|| (0, negative, "negative age: issued in the future".into())),
        markers: Vec::new(),
        width,
        height,
    })
}

/// The leeway markers of an expired-by or premature-by histogram: at 1, 5, 10 and 30 s, how
/// many of these rejections that much more leeway would have let through.
fn leeway_chart(title: &str, buckets: &[(f64, u64)], color: &'static str) -> (String, String) {
    let counts = super::per_bucket(buckets);
    let total = buckets.last().map_or(0, |b| b.1);
    let mut markers = Vec::new();
    let mut words = Vec::new();
    for s in [1.0, 5.0, 10.0, 30.0] {
        if let Some(i) = buckets.iter().position(|b| b.0 == s) {
            let n = buckets[i].1;
            markers.push((i + 1, format!("+{s} s: {n}")));
            words.push(format!(
                "{s} s more leeway would have let {n} of {total} through"
            ));
        }
    }
    let chart = svg::bars(&Bars {
        title: title.to_owned(),
        categories: super::bucket_labels(buckets),
        series: vec![Series {
            name: "rejections".into(),
            color,
            values: counts.iter().map(|&c| Some(c as f64)).collect(),
        }],
        shade: None,
        markers,
        width: 1000,
        height: 240,
    });
    (chart, words.join("; "))
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.3}"))
}

fn stats_row(out: &mut String, name: &str, s: &Stats) {
    let reasons: Vec<String> = s.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
    let _ = writeln!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(name),
        s.accepted,
        s.rejected,
        escape(&reasons.join(", ")),
        opt(s.age_p1),
        opt(s.age_p50),
        opt(s.age_p99),
        opt(s.issuer_lead_seconds)
    );
}

/// The whole report: the header, then one section after another.
pub fn render(input: &Input<'_>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let dense = input.timeline.dense();
    header(&mut out, input, &dense);
    verdict_section(&mut out, input.summary);
    age_section(&mut out, input);
    rejections_section(&mut out, input, &dense);
    lead_section(&mut out, input, &dense);
    edge_sections(&mut out, input);
    delay_section(&mut out, input);
    numbers_section(&mut out, input.summary);
    out.push_str("</body></html>\n");
    out
}

/// The page's head, title, and what was read.
fn header(out: &mut String, input: &Input<'_>, dense: &[(f64, Bin)]) {
    let s = input.summary;
    let _ = write!(
        *out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Clock skew incident report</title><style>{STYLE}</style></head><body>\n\
         <h1>Clock skew incident report</h1>\n"
    );
    let invalid: u64 = s.events_invalid.values().sum();
    let files: Vec<String> = input.files.iter().map(|f| escape(f)).collect();
    let span = match (dense.first(), dense.last()) {
        (Some(a), Some(b)) => format!(
            ", event time {} to {} UTC",
            svg::clock(a.0, true),
            svg::clock(b.0 + input.timeline.width, true)
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        *out,
        "<p class=\"meta\">From {}: {} events recorded, {invalid} refused{span}. \
         skew-exporter {} ({}).</p>",
        files.join(", "),
        s.events_recorded,
        env!("CARGO_PKG_VERSION"),
        crate::REVISION
    );
    for (label, n) in &s.label_overflow {
        let _ = writeln!(
            *out,
            "<p class=\"meta\">{n} events had a {} beyond the label limit: counted as <code>other</code>.</p>",
            escape(label)
        );
    }
}

/// The verdict sentences, worst first, and the per-issuer words.
fn verdict_section(out: &mut String, s: &Summary) {
    out.push_str("<h2 id=\"verdict\">Verdict</h2>\n");
    let sentences = verdicts(s);
    if sentences.is_empty() {
        out.push_str("<p>No verification events in the input.</p>\n");
    }
    verdict_list(out, &sentences);
    // The text format's other sentences per issuer: whose clock, and the causes of its time
    // rejections (`verdict::clock_words`, `verdict::cause_words`).
    let words: Vec<String> = s
        .issuers
        .iter()
        .flat_map(|i| i.clock.iter().chain(&i.causes).cloned())
        .collect();
    if !words.is_empty() {
        out.push_str("<ul class=\"words\">\n");
        for w in &words {
            let _ = writeln!(out, "<li>{}</li>", escape(w));
        }
        out.push_str("</ul>\n");
    }
}

/// Token age per issuer.
fn age_section(out: &mut String, input: &Input<'_>) {
    let s = input.summary;
    // Token age per issuer.
    out.push_str(
        "<h2>Token age per issuer</h2>\n<p>Age = verifier clock − <code>iat</code>. \
        A token with a negative age was seen before it was issued: its verifier is behind its \
        issuer (shaded).</p>\n<div class=\"charts\">\n",
    );
    let ages = super::histograms(input.families, "skew_jwt_age_seconds");
    for (k, i) in s.issuers.iter().enumerate() {
        let Some(b) = ages.get(&i.issuer) else {
            continue;
        };
        let _ = writeln!(
            out,
            "<figure id=\"chart-age-{k}\">{}<figcaption>{} tokens; age p1 {} s, p50 {} s, p99 {} s.</figcaption></figure>",
            age_chart(&format!("issuer {}", i.issuer), b, 520, 200),
            i.totals.age_count,
            opt(i.totals.age_p1),
            opt(i.totals.age_p50),
            opt(i.totals.age_p99)
        );
    }
    out.push_str("</div>\n");
}

/// Rejections by reason over event time.
fn rejections_section(out: &mut String, input: &Input<'_>, dense: &[(f64, Bin)]) {
    // Rejections by reason over event time.
    out.push_str("<h2>Rejections by reason over event time</h2>\n");
    let mut totals = [0u64; Reason::ALL.len()];
    for (_, b) in dense {
        for (t, n) in totals.iter_mut().zip(b.rejections) {
            *t += n;
        }
    }
    if totals.iter().all(|&n| n == 0) {
        out.push_str("<p>No rejections.</p>\n");
    } else {
        let series: Vec<Series> = Reason::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| totals[*i] > 0)
            .map(|(i, r)| Series {
                name: r.as_str().to_owned(),
                color: super::REASON_COLORS[i],
                values: dense
                    .iter()
                    .map(|(_, b)| Some(b.rejections[i] as f64))
                    .collect(),
            })
            .collect();
        let chart = svg::bars(&Bars {
            title: format!("rejections per {} s", svg::short(input.timeline.width)),
            categories: dense.iter().map(|(t, _)| svg::clock(*t, false)).collect(),
            series: series.clone(),
            shade: None,
            markers: Vec::new(),
            width: 1000,
            height: 260,
        });
        let _ = writeln!(out, "<figure id=\"chart-rejections\">{chart}</figure>");
        let items: Vec<(&str, String)> = series
            .iter()
            .map(|x| {
                let i = Reason::ALL
                    .iter()
                    .position(|r| r.as_str() == x.name)
                    .unwrap_or(0);
                (x.color, format!("{} {}", x.name, totals[i]))
            })
            .collect();
        legend(out, &items);
    }
}

/// Issuer lead over event time.
fn lead_section(out: &mut String, input: &Input<'_>, dense: &[(f64, Bin)]) {
    // Issuer lead over event time.
    out.push_str(
        "<h2>Issuer lead over event time</h2>\n<p>Per time bin, −(lowest age of an \
        accepted or time-rejected token): how far the issuer's clock runs ahead of its \
        verifiers at least. Above 0, tokens arrive before they were issued.</p>\n",
    );
    let issuers = &input.timeline.issuers;
    let lines: Vec<Series> = issuers
        .iter()
        .enumerate()
        .map(|(k, name)| Series {
            name: name.to_string(),
            color: super::ISSUER_COLORS[k % super::ISSUER_COLORS.len()],
            values: dense
                .iter()
                .map(|(_, b)| b.min_age.get(k).copied().flatten().map(|a| -a))
                .collect(),
        })
        .filter(|x| x.values.iter().any(Option::is_some))
        .collect();
    // A negative lead only says "no token arrived early"; an issuer seen only through stale
    // tokens would sit hundreds of seconds down and squash the others into one line. Leads
    // below −(the highest lead, at least 1 s) are drawn at that floor.
    let top = lines
        .iter()
        .flat_map(|x| x.values.iter().flatten())
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let floor = -top.max(1.0);
    let clipped: Vec<Series> = lines
        .iter()
        .map(|x| Series {
            values: x.values.iter().map(|v| v.map(|v| v.max(floor))).collect(),
            ..x.clone()
        })
        .collect();
    if lines.is_empty() {
        out.push_str("<p>No token carried <code>iat</code>.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p>Leads below {} s are drawn at {} s.</p>",
            svg::short(floor),
            svg::short(floor)
        );
        let chart = svg::lines(&Lines {
            title: "issuer lead".into(),
            x: dense.iter().map(|(t, _)| *t).collect(),
            series: clipped,
            unit: "s",
            width: 1000,
            height: 260,
        });
        let _ = writeln!(out, "<figure id=\"chart-lead\">{chart}</figure>");
        let items: Vec<(&str, String)> = lines
            .iter()
            .map(|x| {
                let max = x
                    .values
                    .iter()
                    .flatten()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                (x.color, format!("{} (max {:.3} s)", x.name, max))
            })
            .collect();
        legend(out, &items);
    }
}

/// Expired-by and premature-by, with the leeway markers.
fn edge_sections(out: &mut String, input: &Input<'_>) {
    // Expired-by and premature-by.
    for (id, name, title, color, what) in [
        (
            "chart-expired",
            "skew_jwt_expired_by_seconds",
            "Expired by (verifier clock − exp)",
            super::EXPIRED_COLOR,
            "expired",
        ),
        (
            "chart-premature",
            "skew_jwt_premature_by_seconds",
            "Premature by (nbf or iat − verifier clock)",
            super::PREMATURE_COLOR,
            "not_yet_valid or issued_in_future",
        ),
    ] {
        let _ = writeln!(out, "<h2>{title}</h2>");
        let all = super::sum_buckets(&super::histograms(input.families, name));
        if all.last().is_none_or(|b| b.1 == 0) {
            let _ = writeln!(out, "<p>No {what} rejections.</p>");
            continue;
        }
        let (chart, words) = leeway_chart("seconds", &all, color);
        let _ = writeln!(
            out,
            "<figure id=\"{id}\">{chart}<figcaption>{}.</figcaption></figure>",
            escape(&words)
        );
    }
}

/// Verification delay, when events carried `received`.
fn delay_section(out: &mut String, input: &Input<'_>) {
    // Verification delay (`ts − received`), when events carried `received`.
    out.push_str("<h2>Verification delay (verifier clock − received)</h2>\n");
    let delay = super::sum_buckets(&super::histograms_by(
        input.families,
        "skew_jwt_verification_delay_seconds",
        "source",
    ));
    match delay.last() {
        Some(&(_, total)) if total > 0 => {
            let counts = super::per_bucket(&delay);
            let chart = svg::bars(&Bars {
                title: "seconds".into(),
                categories: super::bucket_labels(&delay),
                series: vec![Series {
                    name: "events".into(),
                    color: super::DELAY_COLOR,
                    values: counts.iter().map(|&c| Some(c as f64)).collect(),
                }],
                width: 1000,
                height: 220,
                ..Bars::default()
            });
            let words = match crate::analyze::histogram_quantile(0.99, &delay) {
                Some(p99) => format!("{total} events carried received; p99 delay {p99:.3} s"),
                None => format!("{total} events carried received"),
            };
            let _ = writeln!(
                out,
                "<figure id=\"chart-delay\">{chart}<figcaption>{words}.</figcaption></figure>"
            );
        }
        _ => out.push_str("<p>No event carried <code>received</code>.</p>\n"),
    }
}

/// The numbers per issuer and source.
fn numbers_section(out: &mut String, s: &Summary) {
    // The numbers.
    out.push_str(
        "<h2>Numbers</h2>\n<table><tr><th>issuer / source</th><th>accepted</th>\
        <th>rejected</th><th>reasons</th><th>age p1 (s)</th><th>p50</th><th>p99</th>\
        <th>lead (s)</th></tr>\n",
    );
    for i in &s.issuers {
        stats_row(out, &i.issuer, &i.totals);
        for (source, st) in &i.sources {
            stats_row(out, &format!("  source {source}"), st);
        }
    }
    out.push_str("</table>\n");
}
