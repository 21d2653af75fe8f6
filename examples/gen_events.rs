//! Writes a synthetic JSON-lines event stream with a known truth (see `skew_exporter::synth`):
//! `cargo run --release --example gen_events -- 1000000 > events.jsonl`.
//! The default world has an issuer 3.2 s ahead, one in sync and one 1.5 s behind; every line
//! carries `received`, and most `leeway` and `kid` (`Spec::verdict_fields`).

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let n: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1_000_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: gen_events [COUNT]: {e}");
            std::process::exit(2);
        }
    };
    // With issue 13's fields (received, leeway, kid), as verifiers that report them write them.
    let spec = skew_exporter::synth::Spec {
        verdict_fields: true,
        ..skew_exporter::synth::Spec::default()
    };
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    for g in skew_exporter::synth::Generator::new(spec.clone()).take(n) {
        out.write_all(g.to_json(&spec).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
