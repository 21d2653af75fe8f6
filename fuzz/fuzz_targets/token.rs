//! `cargo fuzz run token`: see `skew_exporter_fuzz::token` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skew_exporter_fuzz::token(data));
