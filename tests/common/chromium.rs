//! Headless Chromium (Debian's `chromium`) for the page tests: a screenshot, the page's
//! console, and the DOM after parsing. As root it needs `--no-sandbox`; nothing here reaches
//! beyond loopback and `file://`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one Chromium run may take (it shares the machine with compilers).
const TIMEOUT: Duration = Duration::from_secs(120);

fn chromium(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("profile dir");
    let profile = format!("--user-data-dir={}", home.path().display());
    let mut full = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--disable-extensions",
        profile.as_str(),
    ];
    full.extend_from_slice(args);
    let mut child = Command::new(CHROMIUM)
        .args(&full)
        .env("HOME", home.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn chromium");
    // Read both pipes on threads so a full pipe never stalls Chromium.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).map(|_| v)
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).map(|_| v)
    });
    let status = match super::wait_timeout(&mut child, TIMEOUT) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish within {TIMEOUT:?}");
        }
    };
    std::process::Output {
        status,
        stdout: o.join().expect("stdout thread").expect("read stdout"),
        stderr: e.join().expect("stderr thread").expect("read stderr"),
    }
}

/// What a page showed.
pub struct Shot {
    /// RGBA, `width × height`.
    pub pixels: Vec<u8>,
    pub width: usize,
    pub height: usize,
    /// The page's console messages (Chromium logs each as `CONSOLE`).
    pub console: Vec<String>,
    /// The DOM after parsing, serialised.
    pub dom: String,
}

impl Shot {
    /// Pixels within `tolerance` of `rgb` on every channel.
    pub fn count(&self, rgb: [u8; 3], tolerance: u8) -> usize {
        self.pixels
            .chunks_exact(4)
            .filter(|p| (0..3).all(|i| p[i].abs_diff(rgb[i]) <= tolerance))
            .count()
    }
}

/// `#rrggbb` → RGB.
pub fn rgb(hex: &str) -> [u8; 3] {
    let h = hex.trim_start_matches('#');
    let c = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).expect("hex colour");
    [c(0), c(2), c(4)]
}

/// Opens `url` at `width × height`: screenshot into `png`, console, DOM.
pub fn shoot(url: &str, png: &Path, width: u32, height: u32) -> Shot {
    let size = format!("--window-size={width},{height}");
    let screenshot = format!("--screenshot={}", png.display());
    let run = chromium(&["--enable-logging=stderr", "--v=0", &size, &screenshot, url]);
    let log = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(
        run.status.success() && png.exists(),
        "chromium screenshot of {url} failed ({}):\n{log}",
        run.status
    );
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("open screenshot"),
    ));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    buf.truncate(info.buffer_size());
    let pixels = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let dom_run = chromium(&["--dump-dom", url]);
    assert!(dom_run.status.success(), "chromium --dump-dom {url} failed");
    Shot {
        pixels,
        width: info.width as usize,
        height: info.height as usize,
        console,
        dom: String::from_utf8_lossy(&dom_run.stdout).into_owned(),
    }
}
