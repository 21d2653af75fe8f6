//! The fuzz targets' checks on stable, in every `cargo test` run: each file of
//! `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` (crash inputs the fuzzer found, kept
//! after the fix), plus a few thousand deterministic mutations of the seeds, go through the same
//! functions the libFuzzer targets call (`fuzz/src/lib.rs`, included below). A failure names the
//! input and prints its bytes, ready to be saved under `fuzz/regressions/<target>/`.
//!
//! Real fuzzing (coverage-guided, minutes to hours) is `cargo fuzz run <target>`: fuzz/README.md.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("event", checks::event),
    ("token", checks::token),
    ("ingest", checks::ingest),
    ("config", checks::config),
];

/// Mutations per seed file.
const MUTATIONS: usize = 2000;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file of `fuzz/<kind>/<target>/`, sorted (an absent directory is empty).
fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// Runs `f` on `input`; a panic becomes a description with the input's bytes.
fn run(f: Target, what: &str, input: &[u8]) -> Option<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| f(input)));
    outcome.err().map(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{what}: {msg}\n  input: b\"{}\"", input.escape_ascii())
    })
}

/// A small deterministic mutator (xorshift): flips, inserts, deletes, duplicates and splices
/// bytes, and inserts JSON-ish tokens, the moves that find parser bugs fastest.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn mutate(&mut self, seed: &[u8], other: &[u8]) -> Vec<u8> {
        const TOKENS: &[&[u8]] = &[
            b"\"",
            b"\\",
            b"\\u0000",
            b"\\ud800",
            b"{",
            b"}",
            b"[",
            b"]",
            b",",
            b":",
            b"null",
            b"true",
            b"-",
            b"0",
            b"1e308",
            b"1e-400",
            b".5",
            b"\n",
            b"\r\n",
            b"\xff",
            b"\xc3",
            b"\"outcome\"",
            b"\"rejected\"",
            b"\"ts\"",
            b"\"iat\"",
            b"\"token\"",
            b"NaN",
        ];
        let mut out = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(6) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] ^= 1 << self.below(8);
                }
                1 if !out.is_empty() => {
                    let end = (at + 1 + self.below(8)).min(out.len());
                    out.drain(at.min(end)..end);
                }
                2 => {
                    let t = TOKENS[self.below(TOKENS.len())];
                    out.splice(at..at, t.iter().copied());
                }
                3 if !out.is_empty() => {
                    let i = self.below(out.len());
                    let end = (i + 1 + self.below(16)).min(out.len());
                    let piece = out[i..end].to_vec();
                    out.splice(at..at, piece);
                }
                4 if !other.is_empty() => {
                    let i = self.below(other.len());
                    let end = (i + 1 + self.below(32)).min(other.len());
                    out.splice(at..at, other[i..end].iter().copied());
                }
                _ => out.truncate(at),
            }
        }
        out
    }
}

/// Every seed and every kept crash input passes its target's checks.
#[test]
fn seeds_and_regressions_pass_the_fuzz_checks() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (target, f) in TARGETS {
        let files: Vec<_> = inputs("seeds", target)
            .into_iter()
            .chain(inputs("regressions", target))
            .collect();
        assert!(
            !inputs("seeds", target).is_empty(),
            "fuzz/seeds/{target}/ has no seeds"
        );
        for (path, bytes) in &files {
            count += 1;
            failures.extend(run(f, &path.display().to_string(), bytes));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 4, "only {count} inputs");
}

/// Deterministic mutations of the seeds (a stable, seconds-long stand-in for the fuzzer, so CI
/// exercises the checks on inputs no one wrote by hand).
#[test]
fn mutated_seeds_pass_the_fuzz_checks() {
    let mut failures = Vec::new();
    for (t, (target, f)) in TARGETS.into_iter().enumerate() {
        let seeds = inputs("seeds", target);
        let mut m = Mutator(0x9e37_79b9_7f4a_7c15 ^ t as u64);
        for (i, (path, bytes)) in seeds.iter().enumerate() {
            let other = &seeds[(i + 1) % seeds.len()].1;
            for n in 0..MUTATIONS {
                let input = m.mutate(bytes, other);
                let what = format!("{target}: mutation {n} of {}", path.display());
                failures.extend(run(f, &what, &input));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The mutator really mutates (else the test above would check the seeds only).
#[test]
fn the_mutator_changes_its_input() {
    let mut m = Mutator(1);
    let seed = br#"{"outcome":"accepted"}"#;
    let changed = (0..100).filter(|_| m.mutate(seed, b"xyz") != seed).count();
    assert!(changed >= 90, "{changed} of 100 mutations changed the seed");
}

/// The token claim reader must refuse claims that are not a JSON object. Found by the `token`
/// fuzz target (`fuzz/regressions/token/array-payload-read-positionally`, payload `[]`): serde
/// reads the claims struct from an array positionally, so a payload
/// `["https://positional.example", null, 1790000000]` is read as `iss` and `iat`. The fix
/// is in `read_token` in src/event.rs, which now checks that the decoded payload is an object.
#[test]
fn a_token_whose_claims_are_an_array_is_refused() {
    use skew_exporter::event::{parse_event, InvalidKind};
    let b64 = |s: &str| {
        // base64url of ASCII, no padding, without a dependency.
        const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for c in s.as_bytes().chunks(3) {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=c.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out
    };
    for payload in ["[]", r#"["https://positional.example",null,1790000000]"#] {
        let event = format!(
            r#"{{"token":"{}.{}.c2ln","outcome":"accepted"}}"#,
            b64(r#"{"alg":"HS256"}"#),
            b64(payload)
        );
        match parse_event(event.as_bytes(), checks::NOW) {
            Err(e) => assert_eq!(e.kind, InvalidKind::BadToken, "{payload}: {e}"),
            Ok(e) => panic!("claims {payload} were read: {e:?}"),
        }
    }
}
