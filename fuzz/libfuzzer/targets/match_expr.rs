#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| veer_fuzz::match_expr::check(data));
