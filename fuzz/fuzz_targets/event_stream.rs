//! Fuzz target: see sluice::fuzzing::event_stream.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice::fuzzing::event_stream(data));
