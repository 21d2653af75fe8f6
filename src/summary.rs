//! The start-up summary: what a configuration makes the exporter do, in a few plain lines.
//! `app::run` logs them at `info` once the listeners are bound, `--check-config` prints them
//! (`cli`): one function for both, so the two never disagree.
//!
//! No secrets and no key material: the events token and HMAC keys are only said to exist, key
//! files are counted, and a JWKS URL is shown without credentials or query string.

use crate::config::{Settings, WebConfigSource};
use crate::ingest::tail::StartAt;

/// One line of the summary: the area it is about (`web`, `ntp`, `events`, `verify`) and what it
/// says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub area: &'static str,
    pub text: String,
}

/// The summary of `settings`, in order: listeners, NTP, events, verification, probes (these
/// only when configured).
pub fn summary(settings: &Settings) -> Vec<Line> {
    let mut lines = Vec::new();
    for area in [
        web_lines,
        ntp_lines,
        events_lines,
        verify_lines,
        probe_lines,
    ] {
        area(settings, &mut lines);
    }
    lines
}

/// The listeners and the paths each serves.
fn web_lines(settings: &Settings, lines: &mut Vec<Line>) {
    let mut push = |area, text: String| lines.push(Line { area, text });
    let web = &settings.web;
    let verify_on = settings.verify.enabled();

    let mut main_paths = vec![web.telemetry_path.clone(), "/healthz".into(), "/".into()];
    if web.enable_lifecycle {
        main_paths.push("/-/reload".into());
    }
    if settings.events.listen_address.is_none() {
        main_paths.push("/v1/events".into());
    }
    if verify_on && settings.verify.listen_address.is_none() {
        main_paths.push("/v1/verify".into());
    }
    let jwt_probe_on = settings.jwt_probe.enabled();
    if jwt_probe_on && settings.jwt_probe.listen_address.is_none() {
        main_paths.push("/probe".into());
    }
    push(
        "web",
        format!(
            "main listener {} over {}: {}",
            web.listen_address,
            transport(web.config.as_ref()),
            main_paths.join(", ")
        ),
    );
    if let Some(a) = &settings.events.listen_address {
        push(
            "web",
            format!(
                "events listener {a} over {}: /v1/events",
                transport(web.events_config.as_ref())
            ),
        );
    }
    if let (Some(a), true) = (&settings.verify.listen_address, verify_on) {
        push(
            "web",
            format!(
                "verify listener {a} over {}: /v1/verify",
                transport(web.verify_config.as_ref())
            ),
        );
    }

    if let (Some(a), true) = (&settings.jwt_probe.listen_address, jwt_probe_on) {
        push(
            "web",
            format!(
                "probe listener {a} over {}: /probe",
                transport(web.probe_config.as_ref())
            ),
        );
    }
}

/// The NTP servers and how they are asked.
fn ntp_lines(settings: &Settings, lines: &mut Vec<Line>) {
    let mut push = |area, text: String| lines.push(Line { area, text });
    let ntp = &settings.ntp;
    let servers: Vec<&str> = ntp.servers.iter().map(|s| s.label.as_str()).collect();
    push(
        "ntp",
        format!(
            "{} NTP server(s) every {}: {}; a burst of {} queries {} apart, each answered within {}",
            servers.len(),
            humantime::format_duration(ntp.interval),
            servers.join(", "),
            ntp.burst,
            humantime::format_duration(ntp.burst_spacing),
            humantime::format_duration(ntp.timeout),
        ),
    );
}

/// How events arrive: the push endpoint's token, the followed files.
fn events_lines(settings: &Settings, lines: &mut Vec<Line>) {
    let mut push = |area, text: String| lines.push(Line { area, text });
    let events = &settings.events;
    push(
        "events",
        if events.auth_token.is_some() {
            "POST /v1/events needs the bearer token from events.auth-token-file".into()
        } else {
            "POST /v1/events needs no token".into()
        },
    );
    let tail = &events.tail;
    if tail.patterns.is_empty() {
        push("events", "no followed files".into());
    } else {
        let start = match tail.start {
            StartAt::End => "at their end (only new lines)",
            StartAt::Beginning => "at their beginning",
        };
        let resume = match &tail.checkpoint {
            Some(p) => format!(
                "; files in the checkpoint {} resume where reading stopped",
                p.display()
            ),
            None => String::new(),
        };
        push(
            "events",
            format!(
                "following {}: files seen for the first time are read {start}{resume}",
                tail.patterns.join(", ")
            ),
        );
    }
}

/// Whether /v1/verify is on, with what keys, issuers and leeway.
fn verify_lines(settings: &Settings, lines: &mut Vec<Line>) {
    let mut push = |area, text: String| lines.push(Line { area, text });
    let v = &settings.verify;
    if !v.enabled() {
        push(
            "verify",
            "/v1/verify is off (no verification keys configured)".into(),
        );
    } else {
        let keys: usize = v.files.iter().map(|f| f.keys.len()).sum();
        let url = match &v.jwks_url {
            Some(u) => format!(" and the JWKS at {}", redact_url(&u.url)),
            None => String::new(),
        };
        let issuers = match &v.policy.issuers {
            Some(list) => list.join(", "),
            None => "any".into(),
        };
        push(
            "verify",
            format!(
                "/v1/verify is on: {keys} key(s) from {} file(s){url}; issuers: {issuers}; leeway {} s",
                v.files.len(),
                v.policy.leeway
            ),
        );
    }
}

/// The HTTP Date targets and the JWT tolerance probe's modules.
fn probe_lines(settings: &Settings, lines: &mut Vec<Line>) {
    let mut push = |area, text: String| lines.push(Line { area, text });
    let targets: Vec<String> = settings
        .probe
        .http_date
        .iter()
        .map(|t| {
            format!(
                "{} ({} every {})",
                t.name,
                redact_url(t.url.as_str()),
                humantime::format_duration(t.interval)
            )
        })
        .collect();
    if !targets.is_empty() {
        push("probe", format!("HTTP Date probes: {}", targets.join(", ")));
    }
    if settings.jwt_probe.enabled() {
        let modules: Vec<&str> = settings
            .jwt_probe
            .modules
            .keys()
            .map(String::as_str)
            .collect();
        push(
            "probe",
            format!("JWT tolerance probe modules: {}", modules.join(", ")),
        );
    }
}

/// How a listener with this web config is reached.
pub fn transport(config: Option<&WebConfigSource>) -> String {
    let Some(w) = config else {
        return "plain HTTP".into();
    };
    format!(
        "{}{} (web config {})",
        if w.config.tls.is_some() {
            "TLS"
        } else {
            "plain HTTP"
        },
        if w.config.has_users() {
            " + basic auth"
        } else {
            ""
        },
        w.path.display()
    )
}

/// A URL without user name, password, query or fragment (any of which may hold a secret).
fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

/// Logs the summary at `info`, one line each.
pub fn log(settings: &Settings) {
    for line in summary(settings) {
        tracing::info!(area = line.area, "{}", line.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::{Flags, RawConfig};

    const TOKEN: &str = "events-token-0123456789";
    const HMAC: &str = "hmac-secret-abcdefghijklmnopqrstuvwxyz";

    fn settings(toml: &str) -> Settings {
        Settings::from_sources(
            &Flags::default(),
            RawConfig::parse(toml).expect("toml parses"),
        )
        .expect("valid settings")
    }

    fn text(s: &Settings) -> String {
        summary(s)
            .iter()
            .map(|l| format!("{}: {}\n", l.area, l.text))
            .collect()
    }

    #[test]
    fn the_defaults_say_what_runs_where() {
        let t = text(&settings(""));
        for want in [
            "web: main listener :9797 over plain HTTP: /metrics, /healthz, /, /v1/events\n",
            "ntp: 4 NTP server(s) every 32s: 0.pool.ntp.org, 1.pool.ntp.org, 2.pool.ntp.org, 3.pool.ntp.org;",
            "events: POST /v1/events needs no token\n",
            "events: no followed files\n",
            "verify: /v1/verify is off (no verification keys configured)\n",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
    }

    #[test]
    fn everything_configured_is_listed_and_no_secret_is() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, TOKEN).unwrap();
        let key = dir.path().join("hmac.key");
        std::fs::write(&key, HMAC).unwrap();
        let checkpoint = dir.path().join("checkpoint.json");
        let s = settings(&format!(
            "[web]\nlisten-address = \"127.0.0.1:0\"\nenable-lifecycle = true\n\
             [ntp]\nservers = [\"127.0.0.1:1123\", \"ntp.example\"]\ninterval = \"30s\"\n\
             [events]\nlisten-address = \"127.0.0.1:0\"\nauth-token-file = {token:?}\n\
             files = [\"/var/log/app/*.jsonl\"]\nfile-start = \"beginning\"\ncheckpoint = {checkpoint:?}\n\
             [verify]\nissuers = [\"https://auth.example\"]\nleeway = \"3s\"\n\
             [[verify.keys]]\nfile = {key:?}\ntype = \"hmac\"\nkid = \"k1\"\n"
        ));
        let t = text(&s);
        for want in [
            "web: main listener 127.0.0.1:0 over plain HTTP: /metrics, /healthz, /, /-/reload, /v1/verify\n".to_owned(),
            "web: events listener 127.0.0.1:0 over plain HTTP: /v1/events\n".to_owned(),
            "ntp: 2 NTP server(s) every 30s: 127.0.0.1:1123, ntp.example;".to_owned(),
            "events: POST /v1/events needs the bearer token from events.auth-token-file\n".to_owned(),
            format!("events: following /var/log/app/*.jsonl: files seen for the first time are read at their beginning; files in the checkpoint {} resume", checkpoint.display()),
            "verify: /v1/verify is on: 1 key(s) from 1 file(s); issuers: https://auth.example; leeway 3 s\n".to_owned(),
        ] {
            assert!(t.contains(&want), "missing {want:?} in\n{t}");
        }
        assert!(!t.contains(TOKEN) && !t.contains(HMAC), "{t}");
    }

    #[test]
    fn http_date_probes_are_listed_without_their_query() {
        let t = text(&settings(
            "[[probe.http-date]]\nurl = \"https://auth.example/?k=s3cret\"\nname = \"auth\"\n",
        ));
        assert!(
            t.contains("probe: HTTP Date probes: auth (https://auth.example/ every "),
            "{t}"
        );
        assert!(!t.contains("s3cret"), "{t}");
    }

    #[test]
    fn urls_lose_credentials_and_queries() {
        assert_eq!(
            redact_url("https://user:pw@auth.example/.well-known/jwks.json?key=s3cret#x"),
            "https://auth.example/.well-known/jwks.json"
        );
        assert_eq!(
            redact_url("https://auth.example:8443/jwks"),
            "https://auth.example:8443/jwks"
        );
    }
}
