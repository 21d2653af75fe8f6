//! A fast path for the common shape of a verification event: one flat JSON object whose values
//! are strings without escapes, numbers, `null`, or (for `aud`) an array of such strings.
//!
//! It never decides anything on its own: [`scan`] (or [`scan_with`], which hands the members
//! over one by one instead of collecting them) either returns every member of such an
//! object, borrowed from the input, or `None` for anything else (escapes, nesting,
//! `true`/`false`, syntax it does not accept, more members than it holds), and the caller then
//! parses the same bytes with serde_json. Duplicate keys are returned as they are: the caller
//! decides (a duplicate known field is serde's error, so the caller defers it). Whatever both
//! accept, they read the same way, to the last bit (serde_json is built with `float_roundtrip`):
//! numbers follow the JSON grammar and are correctly rounded, plain decimals such as event
//! times exactly with integer arithmetic (`decimal`), anything else through fast-float2;
//! `-0` is `-0.0`, as serde_json reads it. Strings are checked to be UTF-8 and free of
//! control characters, as serde_json checks them.
//!
//! The scan is written for speed (it is most of the cost of `analyze`): strings and digits
//! are read eight bytes at a time, and everything on the common path is inlined into one
//! loop so that the position stays in a register.

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
    /// The members, in the order of the object.
    pub fn iter(&self) -> impl Iterator<Item = &(&'a str, Value<'a>)> {
        self.items[..self.len].iter()
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The next byte after any whitespace, not consumed. One comparison when there is no
    /// whitespace, as in the compact JSON that verifiers write.
    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        if c > b' ' {
            return Some(c);
        }
        self.ws();
        self.peek()
    }

    /// A string without escapes or control characters; the opening quote is next.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        self.string_body()
    }

    /// The rest of a string whose opening quote was consumed. Eight bytes at a time while
    /// eight remain (most event strings end within the first word or two), then byte by byte.
    #[inline(always)]
    fn string_body(&mut self) -> Option<&'a str> {
        let start = self.i;
        // Every byte looked at, ORed: without a high bit anywhere the string is ASCII. Bytes
        // past the closing quote may be included; that only costs a needless UTF-8 check.
        let mut seen = 0u64;
        loop {
            if let Some(word) = self.b.get(self.i..self.i + 8) {
                let w = word_at(word);
                seen |= w;
                let (stop, quotes) = stops(w);
                if stop == 0 {
                    self.i += 8;
                    continue;
                }
                self.i += (stop.trailing_zeros() / 8) as usize;
                // The first stop byte is the closing quote, or an escape or a control
                // character, which the full parser handles.
                if quotes & stop & stop.wrapping_neg() == 0 {
                    return None;
                }
                break;
            }
            let c = *self.b.get(self.i)?;
            if c == b'"' {
                break;
            }
            if c == b'\\' || c < 0x20 {
                return None;
            }
            seen |= u64::from(c);
            self.i += 1;
        }
        let raw = self.b.get(start..self.i)?;
        self.i += 1;
        if seen & HIGH_BITS == 0 {
            // SAFETY: no byte of `raw` has its high bit set (each was ORed into `seen`), and
            // a sequence of ASCII bytes is valid UTF-8.
            Some(unsafe { std::str::from_utf8_unchecked(raw) })
        } else {
            utf8(raw)
        }
    }

    /// Digits from here on: their count, and their value while it fits (more than 19 digits
    /// wrap, and the count then sends the number to the general parser). Up to eight digits
    /// at a time while eight bytes remain, then byte by byte.
    #[inline(always)]
    fn digits(&mut self) -> (u64, usize) {
        let start = self.i;
        let mut v = 0u64;
        while let Some(word) = self.b.get(self.i..self.i + 8) {
            let w = word_at(word);
            let n = digit_run(w);
            if n > 0 {
                v = v.wrapping_mul(POW10[n]).wrapping_add(leading_digits(w, n));
                self.i += n;
            }
            if n < 8 {
                return (v, self.i - start);
            }
        }
        while let Some(&c) = self.b.get(self.i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
            self.i += 1;
        }
        (v, self.i - start)
    }

    /// A number, following the JSON grammar exactly; anything else is `None`.
    #[inline(always)]
    fn number(&mut self) -> Option<f64> {
        let start = self.i;
        let negative = self.eat(b'-').is_some();
        let int = match self.peek()? {
            b'0' => {
                self.i += 1;
                (0, 1)
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        };
        let mut frac = (0, 0);
        if self.eat(b'.').is_some() {
            frac = self.digits();
            if frac.1 == 0 {
                return None;
            }
        }
        let mut exponent = false;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            exponent = true;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits().1 == 0 {
                return None;
            }
        }
        let v = match decimal(int, frac) {
            Some(v) if !exponent => {
                if negative {
                    -v
                } else {
                    v
                }
            }
            // Everything else (exponents, more digits, values below 1 or from 2^52 on) goes
            // to a general correctly rounded parser.
            _ => general_number(&self.b[start..self.i])?,
        };
        // serde_json refuses numbers beyond the f64 range; leave that error to it. `-0` stays
        // `-0.0`, as serde_json reads it.
        v.is_finite().then_some(v)
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    /// A value; whitespace before it is skipped.
    #[inline(always)]
    fn value(&mut self) -> Option<Value<'a>> {
        match self.next()? {
            b'"' => {
                self.i += 1;
                self.string_body().map(Value::Str)
            }
            b'n' => self.literal(b"null").map(|_| Value::Null),
            b'[' => {
                self.i += 1;
                if self.next()? == b']' {
                    self.i += 1;
                    return Some(Value::StrArray);
                }
                loop {
                    self.ws();
                    self.string()?;
                    match self.next()? {
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

/// A string with a byte above 0x7f, checked to be UTF-8. Out of line: events are nearly
/// always ASCII.
#[cold]
#[inline(never)]
fn utf8(raw: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(raw).ok()
}

/// Any JSON number, correctly rounded. Out of line: event times take [`decimal`].
#[cold]
#[inline(never)]
fn general_number(text: &[u8]) -> Option<f64> {
    fast_float2::parse(text).ok()
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` (little-endian) that end a simple string (a quote, a backslash or a
/// control character), and the quotes alone, as high bits. Only the lowest flag of each is
/// certain (a borrow can flag bytes above it), and only that one is used: below the first
/// such byte no subtraction borrows, so nothing below it is flagged. The lowest stop is a
/// quote exactly when the quotes have the same flag.
#[inline(always)]
fn stops(w: u64) -> (u64, u64) {
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH_BITS;
    let quotes = zero_byte(w ^ (ONES * u64::from(b'"')));
    let backslashes = zero_byte(w ^ (ONES * u64::from(b'\\')));
    let controls = w.wrapping_sub(ONES * 0x20) & !w & HIGH_BITS;
    (quotes | backslashes | controls, quotes)
}

/// The first eight bytes of `b` as a little-endian word: the byte read first is the lowest.
#[inline(always)]
fn word_at(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// How many of the bytes of `w` (little-endian), from the first, are ASCII digits (0..=8).
/// Per byte, `b + 0x46` sets the high bit for b > '9' and `b - 0x30` for b < '0'; a carry or
/// borrow only leaves a byte that is itself flagged, so the lowest flag is the first
/// non-digit.
#[inline(always)]
fn digit_run(w: u64) -> usize {
    let flags = (w.wrapping_add(ONES * 0x46) | w.wrapping_sub(ONES * 0x30)) & HIGH_BITS;
    (flags.trailing_zeros() / 8) as usize
}

/// The value of the first `n` (1..=8) bytes of `w`, all ASCII digits, the first byte being
/// the most significant digit. The digits are moved up and `0`s put in front of them, then
/// all eight are combined in three multiplications (pairs, then quads, then the whole).
#[inline(always)]
fn leading_digits(w: u64, n: usize) -> u64 {
    let pad = 64 - 8 * n as u32;
    let w = if n == 8 {
        w
    } else {
        (w << pad) | (ONES * u64::from(b'0')) >> (8 * n as u32)
    };
    let d = w - ONES * u64::from(b'0');
    // Each byte holds one digit, the most significant lowest. Pairs: 10·first + second in
    // every other byte.
    let pairs = (d * 10 + (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    // Quads: 100·pair + next pair in every other 16-bit lane.
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    // The whole: 10^4·quad + next quad.
    (quads * 10_000 + (quads >> 32)) & 0xffff_ffff
}

/// `10^k` for the fraction digits [`decimal`] handles.
const POW10: [u64; 20] = {
    let mut p = [1u64; 20];
    let mut k = 1;
    while k < 20 {
        p[k] = p[k - 1] * 10;
        k += 1;
    }
    p
};

/// `(n / 10^k, n % 10^k)` for `k` in 1..=19. One arm per `k`, so that each division is by a
/// constant, which the compiler turns into a multiplication.
#[inline(always)]
fn div_pow10(n: u64, k: usize) -> Option<(u64, u64)> {
    macro_rules! arms {
        ($($k:literal)*) => {
            match k {
                $($k => Some((n / POW10[$k], n % POW10[$k])),)*
                _ => None,
            }
        };
    }
    arms!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19)
}

/// The value of the decimal `int.frac` (no sign, no exponent), correctly rounded to the nearest
/// f64 (ties to even) with integer arithmetic only, or `None` when this shortcut does not
/// apply. `int` and `frac` are (value, digit count) as [`Cursor::digits`] returns them; a
/// count of 0 for `frac` means no fraction.
///
/// Why it is exact: an integer up to 2^53 is an f64 as it is. With a fraction, let
/// 2^e <= int < 2^(e+1), e <= 51. The result lies in the same binade (int + frac < int + 1 <=
/// 2^(e+1)), where the f64 values are the multiples of 2^-s, s = 52 - e >= 1, so the correctly
/// rounded result is int + q·2^-s with q = frac·2^s / 10^k rounded to the nearest integer. A
/// tie goes to the even significand; the significand is int·2^s + q and int·2^s is even, so
/// that is the even q. The significand is at most 2^53 and the scaling by 2^-s is exact.
#[inline(always)]
fn decimal((int, int_len): (u64, usize), (frac, k): (u64, usize)) -> Option<f64> {
    if int_len > 19 || k > 19 {
        return None;
    }
    if k == 0 {
        return (int <= 1 << 53).then_some(int as f64);
    }
    if int == 0 || int >= 1 << 52 {
        return None;
    }
    let s = int.leading_zeros() - 11;
    if frac.leading_zeros() < s {
        return None;
    }
    let (q, r) = div_pow10(frac << s, k)?;
    let p = POW10[k];
    // Round half to even: above half, or exactly half and q odd (`r > p - r` is 2r > p without
    // overflowing).
    let up = r > p - r || (r == p - r && q & 1 == 1);
    let m = (int << s) + q + u64::from(up);
    // Through i64, whose conversion is one instruction (u64's is several); m <= 2^53.
    Some(m as i64 as f64 * f64::from_bits(u64::from(1023 - s) << 52))
}

/// Scans a flat object. `None`: not of the simple shape; use the full parser.
pub fn scan(bytes: &[u8]) -> Option<Members<'_>> {
    let mut m = Members {
        items: [("", Value::Null); MAX_MEMBERS],
        len: 0,
    };
    scan_with(bytes, |key, value| {
        m.items[m.len] = (key, value);
        m.len += 1;
        Some(())
    })?;
    Some(m)
}

/// Scans a flat object, handing each member to `member` in order, as it is read. `None`: not
/// of the simple shape (or `member` returned `None`), and what `member` saw is to be
/// discarded. Accepts exactly what [`scan`] accepts (at most [`MAX_MEMBERS`] members too), so
/// that a check built on [`scan`] covers every object this reads; it only spares the copy of
/// the members.
#[inline]
pub fn scan_with<'a>(
    bytes: &'a [u8],
    mut member: impl FnMut(&'a str, Value<'a>) -> Option<()>,
) -> Option<()> {
    let mut c = Cursor { b: bytes, i: 0 };
    if c.next()? != b'{' {
        return None;
    }
    c.i += 1;
    if c.next()? == b'}' {
        c.i += 1;
    } else {
        let mut count = 0;
        loop {
            if c.next()? != b'"' {
                return None;
            }
            c.i += 1;
            let key = c.string_body()?;
            if c.next()? != b':' {
                return None;
            }
            c.i += 1;
            let value = c.value()?;
            if count == MAX_MEMBERS {
                return None;
            }
            count += 1;
            member(key, value)?;
            match c.next()? {
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
    (c.i == bytes.len()).then_some(())
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

    /// The fast path's reading of one number: `Some(bits)`, or `None` when it defers.
    pub(super) fn fast_number(text: &str) -> Option<u64> {
        match scan(format!("{{\"a\":{text}}}").as_bytes())?
            .iter()
            .next()?
            .1
        {
            Value::Num(v) => Some(v.to_bits()),
            other => panic!("{text}: {other:?}"),
        }
    }

    /// serde_json's reading (with `float_roundtrip`, as the crate builds it): `None` where it
    /// refuses the number (out of the f64 range).
    pub(super) fn serde_number(text: &str) -> Option<u64> {
        serde_json::from_str::<f64>(text).ok().map(f64::to_bits)
    }

    #[test]
    fn numbers_read_bit_for_bit_like_serde_json() {
        for s in [
            "1790000000.0009766",
            "1790000000",
            "1789999999.3115234",
            "0",
            "-0",
            "0.0",
            "-0.0",
            "-0e3",
            "0.1",
            "1e-7",
            "-1790000000.25",
            "123456789012345678901234567890",
            "5e-324",
            "1.7976931348623157e308",
            "1e400",
            "-1e400",
            // Around 2^52 and 2^53, where the integer shortcut stops.
            "4503599627370495.5",
            "4503599627370495.25",
            "4503599627370495.75",
            "4503599627370496.5",
            "4503599627370497.5",
            "9007199254740991",
            "9007199254740992",
            "9007199254740993",
            "9007199254740993.0",
            "9999999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            // Exact ties and their neighbours (1 + 2^-53 is the tie between 1 and 1 + 2^-52).
            "1.00000000000000011102230246251565404236316680908203125",
            "1.00000000000000011102230246251565404236316680908203124",
            "1.0000000000000001110",
            "1.0000000000000001111",
            "2251799813685247.25",
            "2251799813685247.75",
            "2251799813685247.125",
            "1.5",
            "3.5",
            // 17 significant digits, and more fraction digits than the shortcut takes.
            "1790000299.3115234",
            "253402300799.99999",
            "253402300799.9999999999999999999",
            "253402300799.99999999999999999999",
            "1790000000.00000000000000000001",
            "17900000000000000.5",
        ] {
            assert_eq!(fast_number(s), serde_number(s), "{s}");
        }
        assert_eq!(fast_number("-0"), Some((-0.0f64).to_bits()));
    }

    #[test]
    fn digit_run_stops_at_the_first_non_digit_byte() {
        for pos in 0..8 {
            for b in 0..=255u8 {
                for above in [b'0', b'9', 0x00, 0x2f, 0x3a, 0xff] {
                    let mut w = *b"12345678";
                    w[pos] = b;
                    w[pos + 1..].fill(above);
                    let first_non_digit = w.iter().position(|c| !c.is_ascii_digit()).unwrap_or(8);
                    assert_eq!(digit_run(u64::from_le_bytes(w)), first_non_digit, "{w:?}");
                }
            }
        }
        for n in 1..=8 {
            for digits in ["00000000", "99999999", "12345678", "90817263"] {
                let mut w = [b'x'; 8];
                w[..n].copy_from_slice(&digits.as_bytes()[..n]);
                let want: u64 = digits[..n].parse().unwrap();
                assert_eq!(
                    leading_digits(u64::from_le_bytes(w), n),
                    want,
                    "{digits} {n}"
                );
            }
        }
    }

    #[test]
    fn the_shortcut_covers_event_times() {
        // Event times must not fall back to the general parser: that is the point of it.
        for (int, frac) in [
            ((1_790_000_000, 10), (9766, 7)),
            ((253_402_300_799, 12), (99999, 5)),
            ((1, 1), (5, 1)),
        ] {
            assert!(decimal(int, frac).is_some(), "{int:?}.{frac:?}");
        }
        assert_eq!(decimal((1 << 52, 16), (5, 1)), None);
        assert_eq!(decimal((0, 1), (5, 1)), None);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::tests::{fast_number, serde_number};
    use super::Cursor;

    /// A JSON number from its parts: sign, integer digits, fraction digits, exponent.
    fn json_number() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop_oneof![Just("0".to_string()), "[1-9][0-9]{0,21}"],
            prop::option::of("[0-9]{1,24}"),
            prop::option::of((prop::sample::select(vec!["e", "E", "e+", "e-"]), 0u32..400)),
        )
            .prop_map(|(neg, int, frac, exp)| {
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                s.push_str(&int);
                if let Some(f) = frac {
                    s.push('.');
                    s.push_str(&f);
                }
                if let Some((e, x)) = exp {
                    s.push_str(&format!("{e}{x}"));
                }
                s
            })
    }

    /// An exact tie between two neighbouring f64 in the binade of 2^(52 - s) (a fraction with
    /// s + 1 digits), or that tie moved by one unit of one more digit either way.
    fn near_tie() -> impl Strategy<Value = String> {
        (1u32..=17, any::<u64>(), any::<u64>(), 0u8..3).prop_map(|(s, a, b, nudge)| {
            let int = (1u64 << (52 - s)) + a % (1u64 << (52 - s));
            let odd = 2 * (b % (1u64 << s)) + 1;
            let digits = (s + 1) as usize;
            let frac = odd as u128 * 5u128.pow(s + 1);
            match nudge {
                0 => format!("{int}.{frac:0digits$}"),
                1 => format!("{int}.{:0w$}", frac * 10 + 1, w = digits + 1),
                _ => format!("{int}.{:0w$}", frac * 10 - 1, w = digits + 1),
            }
        })
    }

    /// Times as events carry them: multiples of 2^-10 printed shortest (17 significant digits),
    /// and random decimals around 2^52 and 2^53.
    fn time_like() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u64..300_000_000_000, 0u32..1024)
                .prop_map(|(s, f)| format!("{}", s as f64 + f64::from(f) / 1024.0)),
            (0u64..2000, "[0-9]{1,19}", any::<bool>()).prop_map(|(d, f, hi)| {
                let base = if hi { 1u64 << 53 } else { 1u64 << 52 };
                format!("{}.{f}", base - 1000 + d)
            }),
            any::<f64>().prop_map(|v| format!("{v}")),
            any::<f64>().prop_map(|v| format!("{v:e}")),
        ]
    }

    /// The string scan, byte by byte, as it was before the word-at-a-time loop: the simple
    /// string after the opening quote, and the position after its closing quote.
    fn string_model(b: &[u8]) -> Option<(&str, usize)> {
        let end = b
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if b[end] != b'"' {
            return None;
        }
        std::str::from_utf8(&b[..end]).ok().map(|s| (s, end + 2))
    }

    /// Digit runs as the byte-by-byte loop reads them: count, and value (wrapping).
    fn digits_model(b: &[u8]) -> (u64, usize) {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let v = b[..n].iter().fold(0u64, |v, &c| {
            v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
        });
        (v, n)
    }

    /// Bytes that make string scanning interesting: plain ASCII, the three stop bytes, and
    /// UTF-8 (valid sequences and stray bytes).
    fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            8 => prop::sample::select(b"abcxyz019 :/._-".to_vec()).prop_map(|c| vec![c]),
            1 => Just(b"\"".to_vec()),
            1 => Just(b"\\".to_vec()),
            1 => (0u8..0x20).prop_map(|c| vec![c]),
            1 => Just("é".as_bytes().to_vec()),
            1 => Just("€".as_bytes().to_vec()),
            1 => (0x80u8..=0xff).prop_map(|c| vec![c]),
            1 => Just(vec![0x7f]),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn numbers_read_like_serde_json(s in json_number()) {
            prop_assert_eq!(fast_number(&s), serde_number(&s), "{}", s);
        }

        #[test]
        fn ties_round_to_even_like_serde_json(s in near_tie()) {
            prop_assert_eq!(fast_number(&s), serde_number(&s), "{}", s);
        }

        #[test]
        fn times_read_like_serde_json(s in time_like()) {
            prop_assert_eq!(fast_number(&s), serde_number(&s), "{}", s);
        }

        #[test]
        fn strings_scan_like_the_byte_loop_and_serde_json(body in string_bytes()) {
            let mut input = vec![b'"'];
            input.extend_from_slice(&body);
            let mut c = Cursor { b: &input, i: 0 };
            let fast = c.string().map(|s| (s, c.i));
            prop_assert_eq!(fast, string_model(&input[1..]));
            if let Some((s, end)) = fast {
                let serde: String = serde_json::from_slice(&input[..end]).unwrap();
                prop_assert_eq!(s, serde);
            }
        }

        #[test]
        fn digit_runs_read_like_the_byte_loop(
            body in prop::collection::vec(
                prop_oneof![
                    6 => prop::sample::select(b"0123456789".to_vec()),
                    1 => any::<u8>(),
                ],
                0..48,
            ),
            from in 0usize..8,
        ) {
            let from = from.min(body.len());
            let mut c = Cursor { b: &body, i: from };
            let got = c.digits();
            prop_assert_eq!(got, digits_model(&body[from..]));
            prop_assert_eq!(c.i, from + got.1);
        }
    }
}
