//! A fast path for the common shape of a verification event: one flat JSON object whose values
//! are strings without escapes, numbers, `null`, or (for `aud`) an array of such strings.
//!
//! It never decides anything on its own: [`scan`] either returns every member of such an
//! object, borrowed from the input, or `None` for anything else (escapes, nesting,
//! `true`/`false`, syntax it does not accept, more members than it holds), and the caller then
//! parses the same bytes with serde_json. Duplicate keys are returned as they are: the caller
//! decides (a duplicate known field is serde's error, so the caller defers it). Whatever both accept, they read the same way:
//! numbers follow the JSON grammar and are converted with a correctly rounded parser, strings
//! are checked to be UTF-8 and free of control characters, as serde_json checks them.

/// One member value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Str(&'a str),
    Num(f64),
    Null,
    /// An array holding only escape-free strings (the contents are not kept).
    StrArray,
}

/// At most this many members; larger objects take the slow path.
pub const MAX_MEMBERS: usize = 24;

/// The members of a flat object, in order.
pub struct Members<'a> {
    items: [(&'a str, Value<'a>); MAX_MEMBERS],
    len: usize,
}

impl<'a> Members<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &(&'a str, Value<'a>)> {
        self.items[..self.len].iter()
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string without escapes or control characters; the opening quote is next. One pass:
    /// event strings are short, where a plain loop beats a vectorised search's set-up.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let mut ascii = true;
        loop {
            match *self.b.get(self.i)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                c => ascii &= c < 0x80,
            }
            self.i += 1;
        }
        let raw = &self.b[start..self.i];
        self.i += 1;
        if ascii {
            // SAFETY: every byte of `raw` was checked to be below 0x80 above, and a sequence
            // of ASCII bytes is valid UTF-8.
            Some(unsafe { std::str::from_utf8_unchecked(raw) })
        } else {
            simdutf8::basic::from_utf8(raw).ok()
        }
    }

    /// A number, following the JSON grammar exactly; anything else is `None`.
    fn number(&mut self) -> Option<f64> {
        let start = self.i;
        let digits = |c: &mut Cursor<'_>| {
            let s = c.i;
            while c.peek().is_some_and(|d| d.is_ascii_digit()) {
                c.i += 1;
            }
            c.i - s
        };
        let _ = self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.eat(b'.').is_some() && digits(self) == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        let text = &self.b[start..self.i];
        let v: f64 = fast_float2::parse(text).ok()?;
        // serde_json refuses numbers beyond the f64 range; leave that error to it. `+ 0.0`
        // turns -0 into 0 (serde_json keeps -0.0; no metric can tell them apart).
        v.is_finite().then_some(v + 0.0)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    fn value(&mut self) -> Option<Value<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Value::Str),
            b'n' => self.literal(b"null").map(|_| Value::Null),
            b'[' => {
                self.i += 1;
                self.ws();
                if self.eat(b']').is_some() {
                    return Some(Value::StrArray);
                }
                loop {
                    self.ws();
                    self.string()?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(Value::StrArray);
                        }
                        _ => return None,
                    }
                }
            }
            b'-' | b'0'..=b'9' => self.number().map(Value::Num),
            _ => None,
        }
    }
}

/// Scans a flat object. `None`: not of the simple shape; use the full parser.
pub fn scan(bytes: &[u8]) -> Option<Members<'_>> {
    let mut c = Cursor { b: bytes, i: 0 };
    let mut m = Members {
        items: [("", Value::Null); MAX_MEMBERS],
        len: 0,
    };
    c.ws();
    c.eat(b'{')?;
    c.ws();
    if c.eat(b'}').is_none() {
        loop {
            c.ws();
            let key = c.string()?;
            c.ws();
            c.eat(b':')?;
            c.ws();
            let value = c.value()?;
            if m.len == MAX_MEMBERS {
                return None;
            }
            m.items[m.len] = (key, value);
            m.len += 1;
            c.ws();
            match c.peek()? {
                b',' => c.i += 1,
                b'}' => {
                    c.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    c.ws();
    (c.i == bytes.len()).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &str) -> Option<Vec<(String, Value<'_>)>> {
        scan(s.as_bytes()).map(|m| m.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn scans_the_common_shape() {
        let m = members(
            r#" {"ts": 1790000000.25, "iss":"https://a", "aud":["x","y"], "n":null, "e":-1.5e3}"#,
        )
        .unwrap();
        assert_eq!(m[0], ("ts".into(), Value::Num(1_790_000_000.25)));
        assert_eq!(m[1], ("iss".into(), Value::Str("https://a")));
        assert_eq!(m[2], ("aud".into(), Value::StrArray));
        assert_eq!(m[3], ("n".into(), Value::Null));
        assert_eq!(m[4], ("e".into(), Value::Num(-1500.0)));
        assert_eq!(members("{}").unwrap().len(), 0);
    }

    #[test]
    fn leaves_everything_else_to_the_full_parser() {
        for s in [
            r#"{"a":"esc\"aped"}"#,
            r#"{"a":{"nested":1}}"#,
            r#"{"a":true}"#,
            r#"{"a":[1]}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":+1}"#,
            r#"{"a":1e999}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            "{\"a\":\"\u{1}\"}",
            "[1]",
            "",
        ] {
            assert!(scan(s.as_bytes()).is_none(), "{s}");
        }
        assert!(scan(b"{\"a\":\"\xff\"}").is_none());
    }

    #[test]
    fn numbers_round_like_serde_json() {
        for s in [
            "1790000000.0009766",
            "0.1",
            "1e-7",
            "123456789012345678901234567890",
            "5e-324",
        ] {
            let fast = match scan(format!("{{\"a\":{s}}}").as_bytes())
                .unwrap()
                .iter()
                .next()
                .unwrap()
                .1
            {
                Value::Num(v) => v,
                other => panic!("{other:?}"),
            };
            let slow: f64 = serde_json::from_str(s).unwrap();
            assert_eq!(fast.to_bits(), slow.to_bits(), "{s}");
        }
    }
}
