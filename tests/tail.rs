//! File tailing with the real binary in temp dirs: bursts, split lines, rename rotation,
//! copytruncate, delete and re-create, globs picking up new files and directories, over-long
//! lines, and SIGTERM + restart with a checkpoint while a writer keeps appending.

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Exporter, Scrape};
use skew_exporter::synth::{Generator, Spec};

const NO_NTP: [&str; 2] = ["--ntp.server", "127.0.0.1:9"];
const WAIT: Duration = Duration::from_secs(20);

/// Valid, distinct event lines.
fn events(n: usize) -> Vec<String> {
    let spec = Spec::default();
    Generator::new(spec.clone())
        .take(n)
        .map(|g| g.to_json(&spec) + "\n")
        .collect()
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

fn file_events(s: &Scrape) -> f64 {
    s.get("skew_events_received_total", &[("transport", "file")])
        .unwrap_or(0.0)
}

fn tail_value(s: &Scrape, name: &str, pattern: &str) -> f64 {
    s.get(name, &[("pattern", pattern)]).unwrap_or(0.0)
}

/// Starts an exporter following `pattern` with extra flags.
fn start(pattern: &str, extra: &[&str]) -> Exporter {
    let mut args = vec![NO_NTP[0], NO_NTP[1], "--events.file", pattern];
    args.extend_from_slice(extra);
    Exporter::start(&args)
}

/// Starts an exporter following `pattern` (see [`start`]) and waits until it follows one file.
fn start_following(pattern: &str, extra: &[&str]) -> Exporter {
    let ex = start(pattern, extra);
    ex.wait_for("one followed file", WAIT, |s| {
        tail_value(s, "skew_tail_files", pattern) == 1.0
    });
    ex
}

/// Waits until the exporter has recorded `n` events from files and the lag is 0, then scrapes
/// once more. A scrape is not a snapshot: the registry reads its families one after another
/// while the tailer works, so `skew_tail_lines_total` read before a pass can show fewer lines
/// than `skew_events_received_total` read after it (seen: 1001 lines beside 1200 events). The
/// pass that made the lag 0 has finished before the condition was seen, so the next scrape
/// holds all of it.
fn wait_recorded(ex: &Exporter, pattern: &str, n: f64) -> Scrape {
    ex.wait_for(&format!("{n} file events, lag 0"), WAIT, |s| {
        file_events(s) >= n && tail_value(s, "skew_tail_lag_bytes", pattern) == 0.0
    });
    ex.scrape()
}

/// The total a stopped exporter logged at shutdown (`file tailing stopped events_recorded=N`).
fn logged_total(ex: &Exporter) -> u64 {
    ex.log_text()
        .lines()
        .filter(|l| l.contains("file tailing stopped"))
        .find_map(|l| {
            l.split("events_recorded=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no shutdown total in the log:\n{}", ex.log_text()))
}

#[test]
fn bursts_and_split_lines_without_replaying_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let lines = events(1203);
    // History present before start-up is not replayed by default.
    append(&path, &lines[..3].concat());
    let pattern = path.to_str().expect("utf-8").to_owned();
    let ex = start_following(&pattern, &[]);
    for burst in lines[3..1003].chunks(100) {
        append(&path, &burst.concat());
    }
    // One line split across writes, with a pause in the middle: held, never parsed half.
    let split = &lines[1003];
    append(&path, &split[..40]);
    thread::sleep(Duration::from_millis(300));
    let s = ex.scrape();
    assert_eq!(
        s.value(
            "skew_events_invalid_total",
            &[("transport", "file"), ("error", "json")]
        ),
        0.0
    );
    append(&path, &split[40..]);
    append(&path, &lines[1004..].concat());
    let s = wait_recorded(&ex, &pattern, 1200.0);
    assert_eq!(file_events(&s), 1200.0, "exactly the appended events");
    assert_eq!(tail_value(&s, "skew_tail_lines_total", &pattern), 1200.0);
    let bytes: usize = lines[3..].iter().map(String::len).sum();
    assert_eq!(
        tail_value(&s, "skew_tail_bytes_total", &pattern),
        bytes as f64
    );
    for e in ["json", "bad_value", "missing_field", "too_large"] {
        assert_eq!(
            s.value(
                "skew_events_invalid_total",
                &[("transport", "file"), ("error", e)]
            ),
            0.0,
            "{e}"
        );
    }
}

#[test]
fn beginning_start_reads_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    append(&path, &events(50).concat());
    let pattern = path.to_str().expect("utf-8").to_owned();
    let ex = start(&pattern, &["--events.file-start", "beginning"]);
    let s = wait_recorded(&ex, &pattern, 50.0);
    assert_eq!(file_events(&s), 50.0);
}

#[test]
fn rename_rotation_finishes_the_old_file_then_follows_the_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.jsonl");
    File::create(&path).expect("create");
    let pattern = dir
        .path()
        .join("*.jsonl")
        .to_str()
        .expect("utf-8")
        .to_owned();
    let ex = start_following(&pattern, &[]);
    let lines = events(900);
    // A writer that keeps its handle across the rename, as a logger does until it reopens.
    let mut old = OpenOptions::new().append(true).open(&path).expect("open");
    old.write_all(lines[..300].concat().as_bytes())
        .expect("write");
    fs::rename(&path, dir.path().join("api.jsonl.1")).expect("rename");
    old.write_all(lines[300..400].concat().as_bytes())
        .expect("write to the renamed file");
    append(&path, &lines[400..900].concat());
    let s = wait_recorded(&ex, &pattern, 900.0);
    assert_eq!(file_events(&s), 900.0);
    assert_eq!(tail_value(&s, "skew_tail_rotations_total", &pattern), 1.0);
}

#[test]
fn copytruncate_restarts_at_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.jsonl");
    File::create(&path).expect("create");
    let pattern = path.to_str().expect("utf-8").to_owned();
    let ex = start_following(&pattern, &[]);
    let lines = events(700);
    append(&path, &lines[..500].concat());
    wait_recorded(&ex, &pattern, 500.0);
    // copytruncate: copy aside, truncate in place; the writer goes on appending.
    fs::copy(&path, dir.path().join("api.jsonl.1")).expect("copy");
    OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    append(&path, &lines[500..].concat());
    let s = wait_recorded(&ex, &pattern, 700.0);
    assert_eq!(file_events(&s), 700.0);
    assert_eq!(tail_value(&s, "skew_tail_truncations_total", &pattern), 1.0);
}

#[test]
fn deleted_and_recreated_file_is_followed_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.jsonl");
    File::create(&path).expect("create");
    let pattern = path.to_str().expect("utf-8").to_owned();
    let ex = start_following(&pattern, &[]);
    let lines = events(400);
    append(&path, &lines[..200].concat());
    wait_recorded(&ex, &pattern, 200.0);
    fs::remove_file(&path).expect("delete");
    thread::sleep(Duration::from_millis(200));
    append(&path, &lines[200..].concat());
    let s = wait_recorded(&ex, &pattern, 400.0);
    assert_eq!(file_events(&s), 400.0);
}

#[test]
fn glob_picks_up_new_files_and_a_directory_created_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("not-yet").join("api");
    let pattern = logs.join("*.jsonl").to_str().expect("utf-8").to_owned();
    let ex = start(&pattern, &[]);
    thread::sleep(Duration::from_millis(300));
    fs::create_dir_all(&logs).expect("mkdir");
    let lines = events(300);
    append(&logs.join("a.jsonl"), &lines[..100].concat());
    append(&logs.join("b.jsonl"), &lines[100..200].concat());
    append(&logs.join("ignored.txt"), &lines[200..].concat());
    let s = wait_recorded(&ex, &pattern, 200.0);
    assert_eq!(tail_value(&s, "skew_tail_files", &pattern), 2.0);
    append(&logs.join("c.jsonl"), &lines[200..].concat());
    let s = wait_recorded(&ex, &pattern, 300.0);
    assert_eq!(file_events(&s), 300.0, "the .txt file is not followed");
}

#[test]
fn overlong_and_invalid_lines_are_counted_and_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.jsonl");
    File::create(&path).expect("create");
    let pattern = path.to_str().expect("utf-8").to_owned();
    let ex = start_following(&pattern, &["--events.max-line", "1KiB"]);
    let lines = events(3);
    let long = format!(
        "{{\"outcome\":\"accepted\",\"pad\":\"{}\"}}\n",
        "x".repeat(5000)
    );
    append(
        &path,
        &format!("{}{long}{}not json\n{}", lines[0], lines[1], lines[2]),
    );
    ex.wait_for("3 good and 2 refused", WAIT, |s| {
        file_events(s) == 3.0 && tail_value(s, "skew_tail_lines_refused_total", &pattern) == 2.0
    });
    // A fresh scrape, for the reason given at `wait_recorded`.
    let s = ex.scrape();
    assert_eq!(
        s.value(
            "skew_events_invalid_total",
            &[("transport", "file"), ("error", "too_large")]
        ),
        1.0
    );
    assert_eq!(
        s.value(
            "skew_events_invalid_total",
            &[("transport", "file"), ("error", "json")]
        ),
        1.0
    );
    assert_eq!(tail_value(&s, "skew_tail_lines_total", &pattern), 5.0);
}

#[test]
fn an_unreadable_file_does_not_stop_the_others() {
    // Root reads everything regardless of mode bits; a directory where a file is expected is
    // unreadable as a file for everyone.
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir(dir.path().join("bad.jsonl")).expect("mkdir");
    let good = dir.path().join("good.jsonl");
    File::create(&good).expect("create");
    let pattern = dir
        .path()
        .join("*.jsonl")
        .to_str()
        .expect("utf-8")
        .to_owned();
    let ex = start_following(&pattern, &[]);
    append(&good, &events(10).concat());
    let s = wait_recorded(&ex, &pattern, 10.0);
    assert_eq!(file_events(&s), 10.0);
}

/// A matching path that cannot be opened (a symlink to nothing: unreadable even for root) is
/// counted in `skew_tail_read_errors_total` and retried; once its target exists it is followed.
#[test]
fn an_unopenable_file_is_counted_and_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("later").join("real.jsonl");
    std::os::unix::fs::symlink(&target, dir.path().join("link.jsonl")).expect("symlink");
    let good = dir.path().join("good.jsonl");
    File::create(&good).expect("create");
    let pattern = dir
        .path()
        .join("*.jsonl")
        .to_str()
        .expect("utf-8")
        .to_owned();
    let ex = start(&pattern, &[]);
    ex.wait_for("a read error for the dangling link", WAIT, |s| {
        tail_value(s, "skew_tail_read_errors_total", &pattern) >= 1.0
    });
    append(&good, &events(5).concat());
    wait_recorded(&ex, &pattern, 5.0);
    // The link resolves now: a file seen after start is read from its beginning.
    fs::create_dir(target.parent().expect("parent")).expect("mkdir");
    append(&target, &events(7).concat());
    let s = wait_recorded(&ex, &pattern, 12.0);
    assert_eq!(file_events(&s), 12.0);
    assert_eq!(tail_value(&s, "skew_tail_files", &pattern), 2.0);
}

/// What the writer thread tells the test, and waits for.
enum Step {
    /// Stop the exporter now; the writer waits for the go, then appends and rotates while the
    /// exporter is down.
    StopForRotation,
    /// About to copytruncate: the exporter must have caught up first.
    Truncate,
    /// Appending on (more slowly): stop and restart the exporter now.
    Restart,
    Done,
}

/// The done-means scenario: a writer appends 50 000 events while the file is rotated twice,
/// truncated once, and the exporter is stopped and restarted twice. The events recorded by the
/// three runs add up to exactly 50 000.
#[test]
fn fifty_thousand_events_across_rotations_truncation_and_restarts() {
    const TOTAL: usize = 50_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.jsonl");
    let checkpoint = dir.path().join("checkpoint.json");
    let pattern = path.to_str().expect("utf-8").to_owned();
    let cp = checkpoint.to_str().expect("utf-8").to_owned();
    let extra = ["--events.checkpoint", cp.as_str()];
    File::create(&path).expect("create");

    let mut ex = start_following(&pattern, &extra);

    let (to_test, from_writer) = mpsc::channel::<(Step, usize)>();
    let (to_writer, go) = mpsc::channel::<()>();
    let writer = {
        let path = path.clone();
        let dir: PathBuf = dir.path().to_owned();
        thread::spawn(move || {
            let lines = events(TOTAL);
            let open = |p: &Path| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .expect("open")
            };
            let mut out = open(&path);
            for (i, line) in lines.iter().enumerate() {
                match i {
                    // Rotation 1, with the exporter running; the writer reopens at once.
                    10_000 => {
                        fs::rename(&path, dir.join("events.jsonl.1")).expect("rotate 1");
                        out = open(&path);
                    }
                    21_000 => {
                        to_test.send((Step::StopForRotation, i)).expect("send");
                        go.recv().expect("go");
                    }
                    // Rotation 2, while the exporter is stopped, after 1 000 lines it has not
                    // read: it must read them from the rotated file when it comes back.
                    22_000 => {
                        fs::rename(&path, dir.join("events.jsonl.2")).expect("rotate 2");
                        out = open(&path);
                    }
                    // copytruncate, once everything written so far is recorded (lines
                    // written between the copy and the truncate are lost by design).
                    35_000 => {
                        to_test.send((Step::Truncate, i)).expect("send");
                        go.recv().expect("go");
                        fs::copy(&path, dir.join("events.jsonl.3")).expect("copy");
                        OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .expect("open")
                            .set_len(0)
                            .expect("truncate");
                    }
                    // No waiting here: the exporter is stopped and started while this
                    // writer goes on, more slowly so the restart falls inside the writing.
                    40_000 => to_test.send((Step::Restart, i)).expect("send"),
                    _ => {}
                }
                out.write_all(line.as_bytes()).expect("write");
                let (every, pause) = if i < 40_000 { (200, 2) } else { (50, 5) };
                if i % every == every - 1 {
                    thread::sleep(Duration::from_millis(pause));
                }
            }
            to_test.send((Step::Done, TOTAL)).expect("send");
        })
    };

    let mut totals = Vec::new();
    let started = Instant::now();
    // Stop 1; the writer goes on, and rotates, while the exporter is down.
    let (step, at) = from_writer.recv().expect("writer");
    assert!(matches!(step, Step::StopForRotation), "{at}");
    assert!(ex.terminate().success());
    totals.push(logged_total(&ex));
    to_writer.send(()).expect("go");
    thread::sleep(Duration::from_millis(200));
    ex = start(&pattern, &extra);

    let (step, _) = from_writer.recv().expect("writer");
    assert!(matches!(step, Step::Truncate));
    let before_truncate = totals.iter().sum::<u64>() as f64;
    wait_recorded(&ex, &pattern, 35_000.0 - before_truncate);
    to_writer.send(()).expect("go");

    // Stop 2 while the writer keeps appending, and start again at once.
    let (step, _) = from_writer.recv().expect("writer");
    assert!(matches!(step, Step::Restart));
    assert!(
        ex.log_text()
            .contains("reading the rest of a file rotated while stopped"),
        "{}",
        ex.log_text()
    );
    assert!(ex.terminate().success());
    totals.push(logged_total(&ex));
    ex = start(&pattern, &extra);

    let (step, _) = from_writer.recv().expect("writer");
    assert!(matches!(step, Step::Done));
    writer.join().expect("writer thread");
    let so_far = totals.iter().sum::<u64>() as f64;
    let s = wait_recorded(&ex, &pattern, TOTAL as f64 - so_far);
    assert!(ex.terminate().success());
    totals.push(logged_total(&ex));
    let sum: u64 = totals.iter().sum();
    println!("events recorded per run: {totals:?}, sum {sum}");
    assert_eq!(sum, TOTAL as u64, "runs recorded {totals:?}");
    assert!(
        totals.iter().all(|&t| t > 0),
        "every run recorded part of the stream: {totals:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_eq!(
        file_events(&s) as u64,
        totals[2],
        "the last run's counter equals its logged total"
    );
    let invalid: f64 = s.series("skew_events_invalid_total").map(|x| x.value).sum();
    assert_eq!(invalid, 0.0, "no half lines parsed");
}

/// Append-to-visible latency: how long after an append the event shows in `/metrics`.
/// Reports median and p99; asserts only that every append became visible.
#[test]
fn append_to_visible_latency_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.jsonl");
    File::create(&path).expect("create");
    let pattern = path.to_str().expect("utf-8").to_owned();
    let ex = start_following(&pattern, &[]);
    let lines = events(100);
    let mut latencies = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t0 = Instant::now();
        append(&path, line);
        loop {
            if file_events(&ex.scrape()) >= (i + 1) as f64 {
                break;
            }
            assert!(t0.elapsed() < WAIT, "append {i} never became visible");
            thread::sleep(Duration::from_millis(2));
        }
        latencies.push(t0.elapsed());
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "append-to-visible latency over {} appends: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3
    );
}
