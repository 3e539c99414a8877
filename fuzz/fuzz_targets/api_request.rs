//! Fuzz target: see sluice::fuzzing::api_request.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::api_request(data));
