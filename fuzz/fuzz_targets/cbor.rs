//! Fuzz target: see sluice::fuzzing::cbor_body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::cbor_body(data));
