//! Hand-written SVG charts for the HTML report and the live page: bars (stacked, with a shaded
//! region and vertical markers) and lines over time. Pure string building, no layout engine:
//! every chart is a fixed-size `<svg>` whose element count depends on its categories and
//! series, never on how many events fed them, so the report's size stays bounded.
//!
//! Why not `plotters`: its SVG backend alone pulls `plotters-backend`, `plotters-svg` and, for
//! text, font handling, to draw the two chart kinds below; these ~250 lines cost no dependency
//! and no build time, and the output (class names, ids) stays ours to test against.

use std::fmt::Write;

/// One stacked series of a bar chart, or one line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    /// One value per category (bars) or per x (lines); `None` draws nothing there.
    pub values: Vec<Option<f64>>,
}

/// Bars over categories, stacked when there are several series.
#[derive(Debug, Clone, Default)]
pub struct Bars {
    pub title: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    /// Categories `a..b` drawn on a shaded background, with a caption (the negative ages).
    pub shade: Option<(usize, usize, String)>,
    /// Vertical markers at a category boundary (`i` = left edge of category `i`), with a label.
    pub markers: Vec<(usize, String)>,
    pub width: u32,
    pub height: u32,
}

/// Lines over time (Unix seconds).
#[derive(Debug, Clone, Default)]
pub struct Lines {
    pub title: String,
    pub x: Vec<f64>,
    pub series: Vec<Series>,
    /// Unit of the y axis, after the numbers (`s`).
    pub unit: &'static str,
    pub width: u32,
    pub height: u32,
}

const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 34.0;
const AXIS: &str = "#888";
const SHADE: &str = "#fde2e1";
const MARKER: &str = "#c0392b";

fn open(out: &mut String, w: u32, h: u32, title: &str) {
    let t = crate::report::escape(title);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" font-family=\"sans-serif\" font-size=\"11\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\
         <text x=\"{LEFT}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{t}</text>"
    );
}

/// A short number: 1234 → `1.2k`, 0.0042 → `0.0042`.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 || (v.fract() == 0.0) {
        format!("{v:.0}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Draws the bars.
pub fn bars(c: &Bars) -> String {
    let (w, h) = (f64::from(c.width), f64::from(c.height));
    let mut out = String::with_capacity(4096);
    open(&mut out, c.width, c.height, &c.title);
    let n = c.categories.len().max(1);
    let plot_w = w - LEFT - RIGHT;
    let plot_h = h - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            c.series
                .iter()
                .filter_map(|s| s.values.get(i).copied().flatten())
                .sum()
        })
        .collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    let scale = if max > 0.0 { plot_h / max } else { 0.0 };
    let base = TOP + plot_h;
    if let Some((a, b, label)) = &c.shade {
        let x = LEFT + slot * *a as f64;
        let sw = slot * (b.saturating_sub(*a)) as f64;
        let _ = write!(
            out,
            "<rect class=\"shade\" x=\"{x:.1}\" y=\"{TOP}\" width=\"{sw:.1}\" height=\"{plot_h:.1}\" fill=\"{SHADE}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{MARKER}\">{}</text>",
            x + 3.0,
            TOP + 12.0,
            crate::report::escape(label)
        );
    }
    // y axis: 0, half, max.
    for f in [0.0, 0.5, 1.0] {
        let y = base - plot_h * f;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            w - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            short(max * f)
        );
    }
    for i in 0..n {
        stack(&mut out, c, i, slot, base, scale);
    }
    x_labels(&mut out, &c.categories, slot, base);
    markers(&mut out, &c.markers, slot, base);
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"{AXIS}\"/></svg>",
        w - RIGHT
    );
    out
}

/// The stacked bars of category `i`, from `base` up.
fn stack(out: &mut String, c: &Bars, i: usize, slot: f64, base: f64, scale: f64) {
    let x = LEFT + slot * i as f64 + slot * 0.1;
    let bw = (slot * 0.8).max(1.0);
    let mut y = base;
    for s in &c.series {
        let v = s.values.get(i).copied().flatten().unwrap_or(0.0);
        if v <= 0.0 {
            continue;
        }
        let bh = (v * scale).max(1.0);
        y -= bh;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{}: {}</title></rect>",
            s.color,
            crate::report::escape(&s.name),
            short(v)
        );
    }
}

/// The categories under the bars, thinned to what fits (about 7 px per character).
fn x_labels(out: &mut String, categories: &[String], slot: f64, base: f64) {
    let widest = categories.iter().map(|l| l.len()).max().unwrap_or(1) as f64;
    let every = ((widest * 7.0 + 6.0) / slot).ceil().max(1.0) as usize;
    for (i, l) in categories.iter().enumerate().step_by(every) {
        let x = LEFT + slot * (i as f64 + 0.5);
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            base + 14.0,
            crate::report::escape(l)
        );
    }
}

/// Dashed vertical markers at category boundaries, their labels staggered.
fn markers(out: &mut String, markers: &[(usize, String)], slot: f64, base: f64) {
    for (k, (i, label)) in markers.iter().enumerate() {
        let x = LEFT + slot * *i as f64;
        let ly = TOP + 12.0 + 12.0 * (k % 4) as f64;
        let _ = write!(
            out,
            "<line class=\"marker\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{base:.1}\" stroke=\"{MARKER}\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\" fill=\"{MARKER}\">{}</text>",
            x + 3.0,
            crate::report::escape(label)
        );
    }
}

/// `HH:MM:SS` (UTC) of a Unix time, with the date when `date`.
pub fn clock(t: f64, date: bool) -> String {
    let secs = t.floor() as i64;
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(d) if date => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(d) => d.format("%H:%M:%S").to_string(),
        None => format!("{t:.0}"),
    }
}

/// Draws the lines, with a zero line when the range crosses 0.
pub fn lines(c: &Lines) -> String {
    let (w, h) = (f64::from(c.width), f64::from(c.height));
    let mut out = String::with_capacity(4096);
    open(&mut out, c.width, c.height, &c.title);
    let plot_w = w - LEFT - RIGHT;
    let plot_h = h - TOP - BOTTOM;
    let values = c.series.iter().flat_map(|s| s.values.iter().flatten());
    let (mut lo, mut hi) = values.fold((0.0f64, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
    if hi - lo <= f64::EPSILON {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.05;
    lo -= if lo < 0.0 { pad } else { 0.0 };
    hi += pad;
    let (x0, x1) = match (c.x.first(), c.x.last()) {
        (Some(&a), Some(&b)) if b > a => (a, b),
        (Some(&a), _) => (a, a + 1.0),
        _ => (0.0, 1.0),
    };
    let px = |x: f64| LEFT + plot_w * (x - x0) / (x1 - x0);
    let py = |y: f64| TOP + plot_h * (hi - y) / (hi - lo);
    for v in [lo, (lo + hi) / 2.0, hi] {
        let y = py(v);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{} {}</text>",
            w - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            short(v),
            c.unit
        );
    }
    if lo < 0.0 {
        let y = py(0.0);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{AXIS}\"/>",
            w - RIGHT
        );
    }
    for s in &c.series {
        let d = path(&c.x, &s.values, px, py);
        if !d.is_empty() {
            let _ = write!(
                out,
                "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"3\" stroke-linejoin=\"round\"><title>{}</title></path>",
                d.trim_start(),
                s.color,
                crate::report::escape(&s.name)
            );
        }
    }
    let base = TOP + plot_h;
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"{AXIS}\"/>\
         <text x=\"{LEFT}\" y=\"{:.1}\" fill=\"#555\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{} UTC</text></svg>",
        w - RIGHT,
        base + 14.0,
        clock(x0, true),
        w - RIGHT,
        base + 14.0,
        clock(x1, false)
    );
    out
}

/// An SVG path through the points that have a value, lifting the pen over the gaps.
fn path(
    xs: &[f64],
    values: &[Option<f64>],
    px: impl Fn(f64) -> f64,
    py: impl Fn(f64) -> f64,
) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for (x, v) in xs.iter().zip(values) {
        match v {
            Some(v) => {
                let _ = write!(
                    d,
                    "{}{:.1} {:.1}",
                    if pen_down { " L" } else { " M" },
                    px(*x),
                    py(*v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d
}

/// Intervals on one axis: per row, a value and a half-width (an NTP server's offset ± bound).
#[derive(Debug, Clone, Default)]
pub struct Intervals {
    pub title: String,
    /// (name, value, half-width)
    pub rows: Vec<(String, f64, f64)>,
    pub color: &'static str,
    pub unit_scale: f64,
    pub unit: &'static str,
    pub width: u32,
}

/// Draws the intervals, one row each, around a zero line.
pub fn intervals(c: &Intervals) -> String {
    let row = 22.0;
    let h = TOP + BOTTOM + row * c.rows.len().max(1) as f64;
    let w = f64::from(c.width);
    let mut out = String::with_capacity(2048);
    open(&mut out, c.width, h as u32, &c.title);
    let left = 160.0;
    let plot_w = w - left - RIGHT;
    let reach = c
        .rows
        .iter()
        .map(|r| r.1.abs() + r.2.abs())
        .fold(0.0, f64::max)
        .max(1e-6)
        * 1.1;
    let px = |v: f64| left + plot_w * (v + reach) / (2.0 * reach);
    let zero = px(0.0);
    let base = h - BOTTOM;
    let _ = write!(
        out,
        "<line x1=\"{zero:.1}\" x2=\"{zero:.1}\" y1=\"{TOP}\" y2=\"{base:.1}\" stroke=\"{AXIS}\"/>"
    );
    for (k, (name, v, b)) in c.rows.iter().enumerate() {
        let y = TOP + row * (k as f64 + 0.5);
        let (x0, x1, xv) = (px(v - b.abs()), px(v + b.abs()), px(*v));
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>\
             <rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"8\" fill=\"{}\"/>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"4\" height=\"14\" fill=\"#222\"/>",
            left - 6.0,
            y + 4.0,
            crate::report::escape(name),
            y - 4.0,
            (x1 - x0).max(1.0),
            c.color,
            xv - 2.0,
            y - 7.0
        );
    }
    for (v, anchor) in [(-reach, "start"), (0.0, "middle"), (reach, "end")] {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#555\">{} {}</text>",
            px(v),
            base + 14.0,
            short(v * c.unit_scale),
            c.unit
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Series {
        Series {
            name: "<s>".into(),
            color: "#123456",
            values: values.iter().map(|&v| Some(v)).collect(),
        }
    }

    #[test]
    fn bars_draw_one_rect_per_nonzero_value_and_escape_names() {
        let svg = bars(&Bars {
            title: "a<b".into(),
            categories: vec!["x".into(), "y".into(), "z".into()],
            series: vec![series(&[1.0, 0.0, 3.0])],
            shade: Some((0, 1, "neg".into())),
            markers: vec![(2, "m".into())],
            width: 300,
            height: 150,
        });
        assert_eq!(svg.matches("fill=\"#123456\"").count(), 2, "{svg}");
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
        assert!(svg.contains("&lt;s&gt;: 3"));
        assert_eq!(svg.matches("class=\"shade\"").count(), 1);
        assert_eq!(svg.matches("class=\"marker\"").count(), 1);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn the_tallest_bar_fills_the_plot() {
        let svg = bars(&Bars {
            categories: vec!["a".into(), "b".into()],
            series: vec![series(&[2.0, 4.0])],
            width: 200,
            height: 160,
            ..Bars::default()
        });
        let plot_h = 160.0 - TOP - BOTTOM;
        assert!(svg.contains(&format!("height=\"{plot_h:.1}\"")), "{svg}");
        assert!(
            svg.contains(&format!("height=\"{:.1}\"", plot_h / 2.0)),
            "{svg}"
        );
    }

    #[test]
    fn lines_break_at_gaps() {
        let svg = lines(&Lines {
            title: "t".into(),
            x: vec![0.0, 10.0, 20.0, 30.0],
            series: vec![Series {
                name: "i".into(),
                color: "#abcdef",
                values: vec![Some(1.0), None, Some(-1.0), Some(2.0)],
            }],
            unit: "s",
            width: 300,
            height: 150,
        });
        let d = svg.split("<path d=\"").nth(1).unwrap();
        let d = &d[..d.find('"').unwrap()];
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert!(svg.contains("1970-01-01 00:00:00"));
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(0.0), "0");
        assert_eq!(short(1234.0), "1.2k");
        assert_eq!(short(2_500_000.0), "2.5M");
        assert_eq!(short(3.0), "3");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(-12.0), "-12");
    }
}
