//! `[[events.follow]]`: logs to follow as they are, each with how to read its lines (our event
//! schema, JSON fields found by pointer, or a regex's named groups). Pure: [`validate`] checks
//! every table and builds its [`Mapping`]; reading the files is the tailer's job. Every error
//! names the table (its number and path) and the key.

use std::sync::Arc;

use serde::Deserialize;

use super::base::{invalid, ConfigError};
use crate::event::Outcome;
use crate::ingest::follow::{Field, LineFormat, Mapping, MappingSpec, SpecError};
use crate::ingest::tail::FollowTable;

/// What the lines of a followed file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawFormat {
    /// Our event schema, one JSON object per line (what `events.files` reads).
    #[default]
    Events,
    Json,
    Regex,
}

/// One `[[events.follow]]` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawFollow {
    /// Names the table: the `pattern` label of its `skew_tail_*` series (default: `path`), and
    /// what `analyze --format-from` picks.
    pub name: Option<String>,
    pub path: Option<String>,
    pub format: Option<RawFormat>,
    pub regex: Option<String>,
    pub ts: Option<String>,
    pub ts_format: Option<String>,
    pub source: Option<String>,
    pub source_value: Option<String>,
    pub iss: Option<String>,
    pub iat: Option<String>,
    pub nbf: Option<String>,
    pub exp: Option<String>,
    pub kid: Option<String>,
    pub token: Option<String>,
    pub reason: Option<String>,
    pub outcome: Option<String>,
    pub outcome_value: Option<String>,
    pub rejected_when: Option<String>,
    pub event_when: Option<String>,
    pub event_when_equals: Option<String>,
}

impl RawFollow {
    /// The pointer keys that are set, with their field.
    fn pointers(&self) -> Vec<(Field, String)> {
        [
            (Field::Ts, &self.ts),
            (Field::Source, &self.source),
            (Field::Iss, &self.iss),
            (Field::Iat, &self.iat),
            (Field::Nbf, &self.nbf),
            (Field::Exp, &self.exp),
            (Field::Kid, &self.kid),
            (Field::Token, &self.token),
            (Field::Reason, &self.reason),
            (Field::Outcome, &self.outcome),
            (Field::RejectedWhen, &self.rejected_when),
            (Field::EventWhen, &self.event_when),
        ]
        .into_iter()
        .filter_map(|(f, p)| p.clone().map(|p| (f, p)))
        .collect()
    }

    /// The keys a table of `format = "events"` cannot have, and those a regex table cannot.
    fn mapping_keys(&self) -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = self.pointers().iter().map(|(f, _)| f.key()).collect();
        for (set, key) in [
            (self.regex.is_some(), "regex"),
            (self.ts_format.is_some(), "ts-format"),
            (self.source_value.is_some(), "source-value"),
            (self.outcome_value.is_some(), "outcome-value"),
            (self.event_when_equals.is_some(), "event-when-equals"),
        ] {
            if set {
                keys.push(key);
            }
        }
        keys
    }
}

/// At most this many tables.
const MAX_TABLES: usize = 64;

/// Checks every table; `patterns` is how many `events.files` patterns there are already (they
/// share the limit of 64).
pub fn validate(raw: &[RawFollow], patterns: usize) -> Result<Vec<FollowTable>, ConfigError> {
    if raw.len() + patterns > MAX_TABLES {
        return Err(invalid(
            "events.follow",
            "at most 64 tables and events.files patterns together",
        ));
    }
    let mut tables: Vec<FollowTable> = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let table = table(t).map_err(|(key, message)| {
            let path = t.path.as_deref().unwrap_or("");
            invalid(
                "events.follow",
                format!(
                    "[[events.follow]] #{} (path `{path}`), key `{key}`: {message}",
                    i + 1
                ),
            )
        })?;
        if let Some(name) = &table.name {
            if tables.iter().any(|o| o.name.as_ref() == Some(name)) {
                return Err(invalid(
                    "events.follow",
                    format!("[[events.follow]] #{}: the name `{name}` is taken", i + 1),
                ));
            }
        }
        tables.push(table);
    }
    Ok(tables)
}

/// One table; the error is the key at fault and the message.
fn table(t: &RawFollow) -> Result<FollowTable, (&'static str, String)> {
    let path = t.path.clone().ok_or(("path", "is required".to_owned()))?;
    glob::Pattern::new(&path).map_err(|e| ("path", format!("`{path}`: {e}")))?;
    if path.ends_with('/') || path.is_empty() {
        return Err(("path", format!("`{path}` must name files, not a directory")));
    }
    if let Some(name) = &t.name {
        if name.is_empty() || name.len() > crate::labels::MAX_LABEL_LEN {
            return Err(("name", "must be 1 to 256 bytes long".to_owned()));
        }
    }
    let format = t.format.unwrap_or_default();
    let mapping_keys = t.mapping_keys();
    let line_format = match format {
        RawFormat::Events => {
            if let Some(key) = mapping_keys.first() {
                return Err((
                    key,
                    "only for format = \"json\" or \"regex\" (format = \"events\" reads our \
                     event schema)"
                        .to_owned(),
                ));
            }
            LineFormat::Events
        }
        RawFormat::Json | RawFormat::Regex => {
            LineFormat::Mapped(Arc::new(mapping(t, format == RawFormat::Regex)?))
        }
    };
    Ok(FollowTable {
        name: t.name.clone(),
        path,
        format: line_format,
    })
}

fn mapping(t: &RawFollow, regex: bool) -> Result<Mapping, (&'static str, String)> {
    let pointers = t.pointers();
    if regex {
        if t.regex.is_none() {
            return Err(("regex", "is required with format = \"regex\"".to_owned()));
        }
        if let Some((f, _)) = pointers.first() {
            return Err((
                f.key(),
                "a JSON pointer, only for format = \"json\" (a regex fills fields by its named \
                 groups)"
                    .to_owned(),
            ));
        }
        if t.event_when_equals.is_some() {
            return Err((
                "event-when-equals",
                "only for format = \"json\" (a regex selects by matching)".to_owned(),
            ));
        }
    } else {
        if t.regex.is_some() {
            return Err(("regex", "only for format = \"regex\"".to_owned()));
        }
        if pointers.is_empty() {
            return Err((
                "format",
                "format = \"json\" needs at least one JSON pointer (ts, source, iss, iat, nbf, \
                 exp, kid, token, reason, outcome, rejected-when, event-when)"
                    .to_owned(),
            ));
        }
    }
    let outcome_value = match &t.outcome_value {
        None => None,
        Some(v) => Some(Outcome::parse(v).ok_or((
            "outcome-value",
            format!("`{v}` is neither \"accepted\" nor \"rejected\""),
        ))?),
    };
    if let Some(s) = &t.source_value {
        if s.is_empty() || s.len() > crate::labels::MAX_LABEL_LEN {
            return Err(("source-value", "must be 1 to 256 bytes long".to_owned()));
        }
    }
    Mapping::new(MappingSpec {
        pointers,
        regex: t.regex.clone(),
        ts_format: t.ts_format.clone(),
        source_value: t.source_value.clone(),
        outcome_value,
        event_when_equals: t.event_when_equals.clone(),
    })
    .map_err(|SpecError { key, message }| (key, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::assert_unknown_key_refused;

    fn json(path: &str) -> RawFollow {
        RawFollow {
            path: Some(path.into()),
            format: Some(RawFormat::Json),
            ..RawFollow::default()
        }
    }

    fn regex(re: &str) -> RawFollow {
        RawFollow {
            path: Some("/var/log/api/app.log".into()),
            format: Some(RawFormat::Regex),
            regex: Some(re.into()),
            ..RawFollow::default()
        }
    }

    /// The error of the second table (the first is valid), which must name the table by its
    /// number and path, and the key.
    fn err(bad: RawFollow, key: &str, why: &str) {
        let mut good = json("/var/log/orders/*.jsonl");
        good.reason = Some("/err/type".into());
        let path = bad.path.clone().unwrap_or_default();
        let e = validate(&[good, bad], 0).unwrap_err().to_string();
        assert!(e.contains("events.follow"), "{e}");
        assert!(e.contains("#2"), "table number: {e}");
        assert!(e.contains(&format!("path `{path}`")), "table path: {e}");
        assert!(e.contains(&format!("key `{key}`")), "key {key}: {e}");
        assert!(e.contains(why), "{why}: {e}");
    }

    #[test]
    fn unknown_keys_are_refused_naming_key_and_file() {
        assert_unknown_key_refused(
            "[[events.follow]]\npath = \"/a.log\"\nregexp = \"x\"\n",
            "regexp",
        );
    }

    #[test]
    fn the_issue_examples_are_valid() {
        let toml = r#"
            [[events.follow]]
            path = "/var/log/orders/*.jsonl"
            format = "json"
            ts = "/time"
            ts-format = "unix_ms"
            source = "/service"
            iss = "/jwt/iss"
            iat = "/jwt/iat"
            nbf = "/jwt/nbf"
            exp = "/jwt/exp"
            kid = "/jwt/kid"
            token = "/auth/token"
            reason = "/err/type"
            rejected-when = "/err"

            [[events.follow]]
            path = "/var/log/api/app.log"
            format = "regex"
            regex = '^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*jwt\.exceptions\.(?P<reason>\w+)'
            ts-format = "%Y-%m-%d %H:%M:%S,%3f"
            source-value = "api"
            outcome-value = "rejected"

            [[events.follow]]
            path = "/var/log/events/*.jsonl"
        "#;
        let raw = crate::config::RawConfig::parse(toml).expect("parses");
        let tables = validate(raw.events.follow.as_deref().unwrap(), 0).unwrap();
        assert_eq!(tables.len(), 3);
        assert!(matches!(tables[0].format, LineFormat::Mapped(_)));
        assert!(matches!(tables[1].format, LineFormat::Mapped(_)));
        assert_eq!(tables[2].format, LineFormat::Events);
        assert_eq!(tables[1].label(), "/var/log/api/app.log");
    }

    #[test]
    fn a_bad_pointer_names_its_key() {
        let mut t = json("/var/log/a.jsonl");
        t.iat = Some("jwt/iat".into());
        err(t, "iat", "not a JSON pointer");
        let mut t = json("/var/log/a.jsonl");
        t.token = Some("/auth/~2token".into());
        err(t, "token", "`~` must be followed by 0 or 1");
    }

    #[test]
    fn an_unknown_group_name_is_refused() {
        err(
            regex(r"(?P<ts>\S+) (?P<reasn>\w+)"),
            "regex",
            "unknown group name `reasn`",
        );
    }

    #[test]
    fn a_regex_without_a_usable_group_is_refused() {
        err(regex(r"jwt\.exceptions\.(\w+)"), "regex", "no named group");
        err(regex(r"(unclosed"), "regex", "regex parse error");
    }

    #[test]
    fn a_strftime_pattern_must_parse_its_own_example() {
        let mut t = regex(r"(?P<ts>\S+) (?P<reason>\w+)");
        t.ts_format = Some("%H:%M:%S".into());
        err(t, "ts-format", "cannot parse its own example");
        let mut t = regex(r"(?P<ts>\S+) (?P<reason>\w+)");
        t.ts_format = Some("%Y-%m-%d %Q".into());
        err(t, "ts-format", "not a valid strftime pattern");
        let mut t = regex(r"(?P<ts>\S+) (?P<reason>\w+)");
        t.ts_format = Some("seconds".into());
        err(t, "ts-format", "none of unix");
    }

    #[test]
    fn keys_of_the_wrong_format_are_refused() {
        let mut t = json("/var/log/a.jsonl");
        t.format = None;
        t.reason = Some("/err".into());
        err(t, "reason", "only for format = \"json\" or \"regex\"");
        let mut t = regex(r"(?P<reason>\w+)");
        t.iss = Some("/iss".into());
        err(t, "iss", "only for format = \"json\"");
        let mut t = json("/var/log/a.jsonl");
        t.regex = Some("(?P<reason>x)".into());
        t.reason = Some("/err".into());
        err(t, "regex", "only for format = \"regex\"");
        err(
            json("/var/log/a.jsonl"),
            "format",
            "at least one JSON pointer",
        );
        let mut t = regex(r"(?P<reason>\w+)");
        t.regex = None;
        err(t, "regex", "is required");
        let mut t = json("/var/log/a.jsonl");
        t.path = None;
        err(t, "path", "is required");
    }

    #[test]
    fn conflicting_keys_are_refused() {
        let mut t = json("/var/log/a.jsonl");
        t.source = Some("/svc".into());
        t.source_value = Some("api".into());
        err(t, "source-value", "not both");
        let mut t = json("/var/log/a.jsonl");
        t.outcome = Some("/outcome".into());
        t.rejected_when = Some("/err".into());
        err(t, "outcome-value", "at most one");
        let mut t = regex(r"(?P<outcome>\w+)");
        t.outcome_value = Some("rejected".into());
        err(t, "outcome-value", "at most one");
        let mut t = regex(r"(?P<reason>\w+)");
        t.outcome_value = Some("denied".into());
        err(t, "outcome-value", "neither");
        let mut t = json("/var/log/a.jsonl");
        t.event_when_equals = Some("jwt".into());
        t.reason = Some("/err".into());
        err(t, "event-when-equals", "needs `event-when`");
    }

    #[test]
    fn names_are_unique_and_tables_are_bounded() {
        let mut a = json("/a.jsonl");
        a.reason = Some("/r".into());
        a.name = Some("api".into());
        let e = validate(&[a.clone(), a.clone()], 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("#2") && e.contains("`api` is taken"), "{e}");
        let e = validate(&[a], 64).unwrap_err().to_string();
        assert!(e.contains("at most 64"), "{e}");
    }
}
