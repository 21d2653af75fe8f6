//! Live reload, end to end with the real binary: SIGHUP (sent with `kill`) and
//! `POST /-/reload` re-read the TOML file; what changed is applied, counters survive, an invalid
//! file keeps the old configuration and is visible in `skew_config_last_reload_successful`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Exporter, Scrape};

const WAIT: Duration = Duration::from_secs(20);

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

fn hangup(exporter: &Exporter) {
    let ok = Command::new("kill")
        .args(["-HUP", &exporter.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success());
}

/// Waits until a scrape satisfies `done`, returning it.
fn wait_scrape(exporter: &Exporter, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = exporter.scrape();
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {WAIT:?}:\n{}\nlog:\n{}",
            s.dump("skew_"),
            exporter.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn reload_stamp(s: &Scrape) -> f64 {
    s.value("skew_config_last_reload_success_timestamp_seconds", &[])
}

fn event(i: usize) -> String {
    format!(
        "{{\"ts\":1790000000.5,\"iss\":\"https://idp.example\",\"iat\":1790000000,\"exp\":1790000600,\"outcome\":\"accepted\",\"source\":\"api-{}\"}}\n",
        i % 2
    )
}

fn post_events(exporter: &Exporter, n: usize) {
    let body: String = (0..n).map(event).collect();
    let status = reqwest::blocking::Client::new()
        .post(exporter.url("/v1/events"))
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()
        .expect("POST /v1/events")
        .status();
    assert_eq!(status.as_u16(), 202);
}

fn accepted(s: &Scrape) -> f64 {
    s.series("skew_jwt_verifications_total")
        .filter(|x| x.labels.get("outcome").map(String::as_str) == Some("accepted"))
        .map(|x| x.value)
        .sum()
}

/// SIGHUP: the NTP server list changes (the removed server's series disappear, the new one's
/// appear), counters recorded before survive, a broken file keeps everything running and sets
/// `skew_config_last_reload_successful` to 0 until a good file is loaded.
#[test]
fn sighup_applies_a_new_config_and_survives_a_broken_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("skew.toml");
    write(&config, "[ntp]\nservers = [\"127.0.0.1:9\"]\n");
    let exporter = Exporter::start(&["--config.file", config.to_str().expect("utf-8")]);
    post_events(&exporter, 10);
    let first = wait_scrape(&exporter, "10 events", |s| accepted(s) == 10.0);
    assert_eq!(first.value("skew_config_last_reload_successful", &[]), 1.0);
    let started = reload_stamp(&first);
    assert!(first.has("skew_ntp_falseticker", &[("server", "127.0.0.1:9")]));

    write(
        &config,
        "[ntp]\nservers = [\"127.0.0.1:7\", \"127.0.0.2:9\"]\n",
    );
    hangup(&exporter);
    // The stamp is set last, after every part of the new configuration is in force.
    let after = wait_scrape(&exporter, "the reload", |s| reload_stamp(s) > started);
    // Seen to fail once in a CI simulation (2026-12-01, fourth session) and not reproduced in
    // 40 runs since: say what the scrape and the log held if it happens again.
    for server in ["127.0.0.2:9", "127.0.0.1:7"] {
        assert!(
            after.has("skew_ntp_falseticker", &[("server", server)]),
            "no falseticker series of {server} after the reload (stamp {} > {started}):\n{}\nlog:\n{}",
            reload_stamp(&after),
            after.dump("skew_ntp_"),
            exporter.log_text()
        );
    }
    assert!(
        after
            .series("skew_ntp_queries_total")
            .all(|x| x.labels.get("server").map(String::as_str) != Some("127.0.0.1:9")),
        "the removed server's series stayed:\n{}",
        after.dump("skew_ntp_queries_total")
    );
    assert!(after.series("skew_ntp_falseticker").all(|x| x
        .labels
        .get("server")
        .map(String::as_str)
        != Some("127.0.0.1:9")));
    assert_eq!(
        accepted(&after),
        10.0,
        "counters did not survive the reload"
    );
    assert_eq!(after.value("skew_config_last_reload_successful", &[]), 1.0);
    let reloaded = reload_stamp(&after);
    assert!(reloaded >= started);

    // A broken file: nothing changes, the failure is visible, the daemon keeps serving.
    write(&config, "[ntp]\nservers = [\"127.0.0.1:7\"]\nbogus = 1\n");
    hangup(&exporter);
    let broken = wait_scrape(&exporter, "the failed reload", |s| {
        s.value("skew_config_last_reload_successful", &[]) == 0.0
    });
    assert_eq!(reload_stamp(&broken), reloaded);
    assert!(broken.has("skew_ntp_falseticker", &[("server", "127.0.0.2:9")]));
    exporter.wait_for_log("the reload error", WAIT, |l| l.contains("reload failed"));
    assert!(
        exporter.log_text().contains("bogus"),
        "{}",
        exporter.log_text()
    );
    post_events(&exporter, 5);
    wait_scrape(&exporter, "15 events", |s| accepted(s) == 15.0);

    // Fixed: successful again.
    write(&config, "[ntp]\nservers = [\"127.0.0.1:7\"]\n");
    hangup(&exporter);
    let fixed = wait_scrape(&exporter, "the fixed reload", |s| {
        s.value("skew_config_last_reload_successful", &[]) == 1.0
            && !s.has("skew_ntp_falseticker", &[("server", "127.0.0.2:9")])
    });
    assert!(reload_stamp(&fixed) >= reloaded);
    assert_eq!(accepted(&fixed), 15.0);
}

/// `POST /-/reload`: 403 without `--web.enable-lifecycle`; with it, 200 for a good file and
/// 500 with the reason for a bad one. A reload can add basic auth (web config) to the listener.
#[test]
fn post_reload_answers_and_can_turn_on_basic_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("skew.toml");
    write(&config, "[ntp]\nservers = [\"127.0.0.1:9\"]\n");
    let cfg = config.to_str().expect("utf-8");
    let http = reqwest::blocking::Client::new();

    let without = Exporter::start(&["--config.file", cfg]);
    let r = http.post(without.url("/-/reload")).send().expect("POST");
    assert_eq!(r.status().as_u16(), 403);
    drop(without);

    let exporter = Exporter::start(&["--config.file", cfg, "--web.enable-lifecycle"]);
    let r = http.post(exporter.url("/-/reload")).send().expect("POST");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text());
    assert_eq!(
        http.get(exporter.url("/-/reload"))
            .send()
            .expect("GET")
            .status()
            .as_u16(),
        405
    );

    write(&config, "[ntp]\nservers = []\n");
    let r = http.post(exporter.url("/-/reload")).send().expect("POST");
    assert_eq!(r.status().as_u16(), 500);
    let text = r.text().expect("body");
    assert!(text.contains("ntp.servers"), "{text}");
    assert_eq!(
        exporter
            .scrape()
            .value("skew_config_last_reload_successful", &[]),
        0.0
    );

    let hash = bcrypt::hash("pw", 4).expect("bcrypt");
    let web = dir.path().join("web.yml");
    write(
        &web,
        &format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
    );
    write(
        &config,
        &format!("[web]\nconfig-file = {web:?}\n[ntp]\nservers = [\"127.0.0.1:9\"]\n"),
    );
    let r = http.post(exporter.url("/-/reload")).send().expect("POST");
    // The reload itself was sent without credentials before auth was on; now everything needs
    // them, the reload endpoint included.
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text());
    assert_eq!(
        http.get(exporter.url("/metrics"))
            .send()
            .expect("GET")
            .status()
            .as_u16(),
        401
    );
    let ok = http
        .get(exporter.url("/metrics"))
        .basic_auth("prometheus", Some("pw"))
        .send()
        .expect("GET");
    assert_eq!(ok.status().as_u16(), 200);
    assert!(ok
        .text()
        .expect("body")
        .contains("skew_config_last_reload_successful 1"));
}

/// A reload that changes the followed files stops the tailer (which writes its checkpoint) and
/// restarts it from there: lines appended before, during and after the reload are all recorded
/// exactly once, and a newly added file is followed.
#[test]
fn reloading_the_followed_files_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    write(&a, "");
    write(&b, "");
    let checkpoint = dir.path().join("checkpoint.json");
    let config = dir.path().join("skew.toml");
    let toml = |files: &[&Path]| {
        let list: Vec<String> = files
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect();
        format!(
            "[ntp]\nservers = [\"127.0.0.1:9\"]\n[events]\nfiles = [{}]\ncheckpoint = {:?}\n",
            list.join(", "),
            checkpoint.display().to_string()
        )
    };
    write(&config, &toml(&[&a]));
    let exporter = Exporter::start(&["--config.file", config.to_str().expect("utf-8")]);
    // The tailer starts at the end of existing files; wait until it follows `a`.
    wait_scrape(&exporter, "a followed", |s| {
        s.series("skew_tail_files").map(|x| x.value).sum::<f64>() >= 1.0
    });
    let append = |path: &Path, from: usize, n: usize| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open");
        for i in from..from + n {
            f.write_all(event(i).as_bytes()).expect("append");
        }
    };
    append(&a, 0, 100);
    wait_scrape(&exporter, "100 lines", |s| accepted(s) == 100.0);

    write(&config, &toml(&[&a, &b]));
    hangup(&exporter);
    // Lines written while the reload happens.
    append(&a, 100, 100);
    exporter.wait_for_log("the tailer restart", WAIT, |l| {
        l.contains("file tailing restarted")
    });
    append(&a, 200, 50);
    append(&b, 0, 30);
    wait_scrape(&exporter, "280 lines", |s| accepted(s) >= 280.0);
    // Give a duplicate the time to show up, then check none did.
    std::thread::sleep(Duration::from_millis(1500));
    let done = exporter.scrape();
    assert_eq!(accepted(&done), 280.0, "{}", done.dump("skew_tail"));
    let b_pattern = b.display().to_string();
    assert!(done.has("skew_tail_lines_total", &[("pattern", &b_pattern)]));
}

/// A reload swaps the `/v1/verify` keys: a token signed with a secret the exporter does not
/// have is refused (`invalid_signature`) until the configuration names that secret's file.
#[test]
fn a_reload_swaps_the_verification_keys() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("old.secret");
    let new = dir.path().join("new.secret");
    write(&old, "an-old-shared-secret-of-32-bytes!!");
    write(&new, "the-new-shared-secret-of-32-bytes!");
    let config = dir.path().join("skew.toml");
    let toml = |secret: &Path| {
        format!(
            "[ntp]\nservers = [\"127.0.0.1:9\"]\n[[verify.keys]]\nfile = {:?}\ntype = \"hmac\"\n",
            secret.display().to_string()
        )
    };
    write(&config, &toml(&old));
    let exporter = Exporter::start(&["--config.file", config.to_str().expect("utf-8")]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = serde_json::json!({"iss": "https://idp.example", "iat": now, "exp": now + 600});
    let secret = std::fs::read(&new).expect("read");
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(&secret),
    )
    .expect("sign");
    let verify = |exporter: &Exporter| {
        reqwest::blocking::Client::new()
            .get(exporter.url("/v1/verify"))
            .bearer_auth(&token)
            .send()
            .expect("GET /v1/verify")
            .status()
            .as_u16()
    };
    assert_eq!(verify(&exporter), 401);
    write(&config, &toml(&new));
    hangup(&exporter);
    exporter.wait_for_log("the reload", WAIT, |l| l.contains("configuration reloaded"));
    assert_eq!(verify(&exporter), 200);
    let s = exporter.scrape();
    assert_eq!(
        s.value(
            "skew_jwt_rejections_total",
            &[
                ("source", "gateway"),
                ("issuer", "https://idp.example"),
                ("reason", "invalid_signature")
            ]
        ),
        1.0,
        "{}",
        s.dump("skew_jwt_rejections")
    );
}
