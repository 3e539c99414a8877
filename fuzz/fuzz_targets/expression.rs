//! Fuzz target: see sluice::fuzzing::expression.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::expression(data));
