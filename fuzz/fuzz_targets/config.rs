//! `cargo fuzz run config`: see `skew_exporter_fuzz::config` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skew_exporter_fuzz::config(data));
