//! `cargo fuzz run ingest`: see `skew_exporter_fuzz::ingest` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skew_exporter_fuzz::ingest(data));
