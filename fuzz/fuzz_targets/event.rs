//! `cargo fuzz run event`: see `skew_exporter_fuzz::event` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| skew_exporter_fuzz::event(data));
