#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| veer_fuzz::config_decoder::check(data));
