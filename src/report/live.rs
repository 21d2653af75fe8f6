//! `/`: the live diagnosis page. The same sentences as `analyze` ([`super::verdicts`] over
//! `analyze::summarize` of the live families) plus this host's clock ([`super::host_clock`]),
//! a table of NTP servers (offset ± bound, the last round's result, falseticker), a table of
//! issuers (lead, rejections by reason over the last five minutes from
//! [`crate::metrics::recent`]), and small inline SVG charts. No script: it reads the same in a
//! text browser. It shows label values (escaped) and numbers, never a token or a secret: no
//! token or secret is in the metrics it is drawn from.

use std::collections::BTreeMap;
use std::fmt::Write;

use prometheus::proto::MetricFamily;

use super::html::{age_chart, legend, verdict_list, STYLE};
use super::svg::{self, Bars, Intervals, Series};
use super::{escape, host_clock, sort_worst_first, verdicts};
use crate::analyze::{summarize, Level, Summary};
use crate::event::Reason;
use crate::metrics::recent::RecentView;

/// What the page is drawn from.
pub struct Input<'a> {
    pub families: &'a [MetricFamily],
    pub recent: &'a RecentView,
    pub telemetry_path: &'a str,
}

#[derive(Debug, Default)]
struct Server {
    offset: Option<f64>,
    bound: Option<f64>,
    delay: Option<f64>,
    stratum: Option<f64>,
    falseticker: bool,
    last_success: Option<f64>,
}

fn label<'a>(m: &'a prometheus::proto::Metric, name: &str) -> &'a str {
    m.get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value())
        .unwrap_or("")
}

fn servers(families: &[MetricFamily]) -> BTreeMap<String, Server> {
    let mut out: BTreeMap<String, Server> = BTreeMap::new();
    for f in families {
        if !f.name().starts_with("skew_ntp_") {
            continue;
        }
        for m in f.get_metric() {
            let server = label(m, "server");
            if server.is_empty() {
                continue;
            }
            let s = out.entry(server.to_owned()).or_default();
            let g = m.get_gauge().value();
            match f.name() {
                "skew_ntp_offset_seconds" => s.offset = Some(g),
                "skew_ntp_offset_bound_seconds" => s.bound = Some(g),
                "skew_ntp_delay_seconds" => s.delay = Some(g),
                "skew_ntp_stratum" => s.stratum = Some(g),
                "skew_ntp_falseticker" => s.falseticker = g == 1.0,
                "skew_ntp_last_success_timestamp_seconds" => s.last_success = Some(g),
                _ => {}
            }
        }
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{:.3} ms", v * 1e3))
}

/// The page at `now` (Unix seconds): this host's and the issuers' verdicts, the NTP servers,
/// the issuers, and the recent rejections and token ages.
pub fn render(input: &Input<'_>, now: f64) -> String {
    let summary = summarize(input.families);
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>skew-exporter</title><style>{STYLE}</style></head><body>\n\
         <h1>skew-exporter</h1>\n\
         <p>Clock skew between JWT issuers and verifiers: NTP offsets and token-age metrics.</p>\n\
         <p><a href=\"{path}\">Metrics</a> · <a href=\"/healthz\">Health</a></p>\n",
        path = escape(input.telemetry_path)
    );

    verdict_section(&mut out, input.families, &summary);
    ntp_section(&mut out, input, now);
    // "the last 5.0 min", or what there is shortly after start.
    let span = input.recent.span;
    let window = if span < 120.0 {
        format!("{span:.0} s")
    } else {
        format!("{:.1} min", span / 60.0)
    };
    issuers_section(&mut out, input, &summary, &window);
    charts_section(&mut out, input, &window);
    let _ = writeln!(
        out,
        "<p class=\"meta\">Version {}, revision {}. Drawn at {} UTC.</p>\n</body></html>",
        env!("CARGO_PKG_VERSION"),
        crate::REVISION,
        svg::clock(now, true)
    );
    out
}

/// The verdict: this host first, then issuers; per-source sentences only when they say more
/// than "fine".
fn verdict_section(out: &mut String, families: &[MetricFamily], summary: &Summary) {
    let mut sentences: Vec<_> = verdicts(summary)
        .into_iter()
        .filter(|s| s.level != Level::Fine || !s.subject.contains(" at source "))
        .collect();
    sentences.extend(host_clock(families));
    sort_worst_first(&mut sentences);
    out.push_str("<h2 id=\"verdict\">Verdict</h2>\n");
    if sentences
        .iter()
        .all(|s| matches!(s.level, Level::Fine | Level::Info))
    {
        out.push_str("<p class=\"fine\" id=\"headline\"><b>No problems seen.</b></p>\n");
    }
    if sentences.is_empty() {
        out.push_str("<p>No NTP server configured and no verification event yet.</p>\n");
    }
    verdict_list(out, &sentences);
}

/// The NTP servers' table and their offsets ± bounds.
fn ntp_section(out: &mut String, input: &Input<'_>, now: f64) {
    let families = input.families;
    let servers = servers(families);
    out.push_str("<h2>NTP servers</h2>\n");
    if servers.is_empty() {
        out.push_str("<p>No NTP server configured.</p>\n");
    } else {
        out.push_str(
            "<table><tr><th>server</th><th>offset</th><th>± bound</th><th>delay</th>\
            <th>stratum</th><th>last round</th><th>falseticker</th><th>last answer</th></tr>\n",
        );
        for (name, s) in &servers {
            let round = input
                .recent
                .last_round
                .get(name)
                .map(|r| {
                    r.iter()
                        .map(|(res, n)| format!("{res} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|| "–".to_owned());
            let last = s.last_success.filter(|&t| t > 0.0).map_or_else(
                || "never".to_owned(),
                |t| format!("{:.0} s ago", (now - t).max(0.0)),
            );
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                ms(s.offset),
                ms(s.bound),
                ms(s.delay),
                s.stratum.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}")),
                escape(&round),
                if s.falseticker { "<b class=\"problem\">yes</b>" } else { "no" },
                last
            );
        }
        out.push_str("</table>\n");
        let rows: Vec<(String, f64, f64)> = servers
            .iter()
            .filter_map(|(n, s)| Some((n.clone(), s.offset?, s.bound.unwrap_or(0.0))))
            .collect();
        if !rows.is_empty() {
            let chart = svg::intervals(&Intervals {
                title: "offset ± bound per server".into(),
                rows,
                color: super::NTP_COLOR,
                unit_scale: 1e3,
                unit: "ms",
                width: 700,
            });
            let _ = writeln!(out, "<figure id=\"chart-ntp\">{chart}</figure>");
        }
    }
}

/// The issuers' table, with their rejections in the recent `window`.
fn issuers_section(out: &mut String, input: &Input<'_>, summary: &Summary, window: &str) {
    let _ = writeln!(
        out,
        "<h2>Issuers</h2>\n<table><tr><th>issuer</th><th>lead (s)</th><th>accepted</th>\
         <th>rejected</th><th>rejections in the last {window}</th></tr>"
    );
    for i in &summary.issuers {
        let recent = input
            .recent
            .rejections
            .get(&i.issuer)
            .map(|r| {
                r.iter()
                    .map(|(reason, n)| format!("{reason} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| "none".to_owned());
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&i.issuer),
            i.totals
                .issuer_lead_seconds
                .map_or_else(|| "–".to_owned(), |v| format!("{v:.3}")),
            i.totals.accepted,
            i.totals.rejected,
            escape(&recent)
        );
    }
    out.push_str("</table>\n");
    if summary.issuers.is_empty() {
        out.push_str("<p>No verification event yet.</p>\n");
    }
}

/// Charts: recent rejections by reason, token age over all issuers.
fn charts_section(out: &mut String, input: &Input<'_>, window: &str) {
    let mut by_reason = [0u64; Reason::ALL.len()];
    for r in input.recent.rejections.values() {
        for (reason, n) in r {
            if let Some(k) = Reason::ALL.iter().position(|x| x.as_str() == reason) {
                by_reason[k] += n;
            }
        }
    }
    out.push_str("<div class=\"charts\">\n");
    if by_reason.iter().any(|&n| n > 0) {
        let used: Vec<usize> = (0..by_reason.len()).filter(|&k| by_reason[k] > 0).collect();
        let series = used
            .iter()
            .enumerate()
            .map(|(pos, &k)| Series {
                name: Reason::ALL[k].as_str().to_owned(),
                color: super::REASON_COLORS[k],
                values: (0..used.len())
                    .map(|p| (p == pos).then_some(by_reason[k] as f64))
                    .collect(),
            })
            .collect();
        let chart = svg::bars(&Bars {
            title: format!("rejections, last {window}"),
            categories: used
                .iter()
                .map(|&k| Reason::ALL[k].as_str().to_owned())
                .collect(),
            series,
            width: 520,
            height: 200,
            ..Bars::default()
        });
        let _ = writeln!(out, "<figure id=\"chart-recent\">{chart}</figure>");
    }
    let all = super::sum_buckets(&super::histograms(input.families, "skew_jwt_age_seconds"));
    if all.last().is_some_and(|b| b.1 > 0) {
        let _ = writeln!(
            out,
            "<figure id=\"chart-age\">{}</figure>",
            age_chart("token age, all issuers (s)", &all, 520, 200)
        );
    }
    out.push_str("</div>\n");
    let items: Vec<(&str, String)> = (0..by_reason.len())
        .filter(|&k| by_reason[k] > 0)
        .map(|k| {
            (
                super::REASON_COLORS[k],
                format!("{} {}", Reason::ALL[k].as_str(), by_reason[k]),
            )
        })
        .collect();
    if !items.is_empty() {
        legend(out, &items);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ingest::Ingest;
    use crate::metrics::{Metrics, Transport};
    use crate::record::{Recorder, RecorderSettings};

    fn page(lines: &[String]) -> String {
        let metrics = Arc::new(Metrics::new().unwrap());
        let recorder = Recorder::new(metrics.clone(), &RecorderSettings::default());
        {
            let mut batch = recorder.batch(Transport::Http);
            let mut ingest = Ingest::new(&mut batch, 1 << 20, 1_790_000_000.0);
            for (k, l) in lines.iter().enumerate() {
                ingest.line(l.as_bytes(), k as u64 + 1);
            }
            assert_eq!(ingest.invalid(), 0);
        }
        let families = metrics.gather();
        let recent = metrics.recent.view(crate::unix_now(), &families);
        render(
            &Input {
                families: &families,
                recent: &recent,
                telemetry_path: "/metrics",
            },
            crate::unix_now(),
        )
    }

    /// A compact JWT (unsigned; the recorder reads its claims and never keeps it).
    fn token(claims: &serde_json::Value) -> String {
        use base64::Engine;
        let b = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.c2lnbmF0dXJlLXNlY3JldA",
            b(&serde_json::json!({"alg": "HS256", "typ": "JWT"})),
            b(claims)
        )
    }

    #[test]
    fn no_problem_a_hostile_issuer_and_a_token_stay_out_of_the_markup() {
        let jwt = token(&serde_json::json!({"iss": "<script>alert(1)</script>",
            "iat": 1_789_999_999, "exp": 1_790_000_600}));
        let lines = [
            serde_json::json!({"ts": 1_790_000_000, "source": "<b>web</b>", "token": jwt,
                "outcome": "accepted"})
            .to_string(),
        ];
        let html = page(&lines);
        assert!(html.contains("No problems seen."), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>web"), "{html}");
        assert!(
            html.contains("issuer &lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        for part in jwt.split('.') {
            assert!(!html.contains(part), "a token part reached the page");
        }
    }

    #[test]
    fn an_issuer_ahead_is_the_verdict_and_its_recent_rejections_are_listed() {
        let lines: Vec<String> = (0..5)
            .map(|k| {
                let ts = 1_790_000_000.0 + f64::from(k);
                serde_json::json!({"ts": ts, "source": "api", "iss": "idp", "iat": ts + 3.2,
                    "nbf": ts + 3.2, "outcome": "rejected", "reason": "not_yet_valid"})
                .to_string()
            })
            .collect();
        let html = page(&lines);
        assert!(!html.contains("No problems seen."), "{html}");
        let first = html.split("<li class=\"").nth(1).unwrap();
        assert!(
            first.starts_with("problem\"")
                && first.contains("issuer clock ~3.2 s ahead of verifiers: 5 nbf/iat"),
            "{first}"
        );
        assert!(html.contains("<td>not_yet_valid 5</td>"), "{html}");
        assert!(html.contains("id=\"chart-recent\"") && html.contains("id=\"chart-age\""));
        assert!(html.contains("<p>No NTP server configured.</p>"));
    }
}
