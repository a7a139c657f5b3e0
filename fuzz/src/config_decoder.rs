//! The filter's own JSON decoder (`config::json::decode`, what the .wasm runs) against serde
//! (`config::wire_from_json` with the default `field-paths` feature, what veerctl runs): on any
//! text, both accept with equal values, or both refuse with one problem at the same path and
//! position, worded alike. `filter/tests/json_decoder.rs` holds the decoder to the same contract
//! on generated documents; this target explores beyond what its generators write.

use veer_filter::config::json::decode;
use veer_filter::config::{wire_from_json, Problems};

/// Checks both decoders on `data` (text only: Envoy hands the filter a string).
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match (wire_from_json(text), decode(text)) {
        (Ok(serde), Ok(ours)) => assert_eq!(serde, ours, "values differ for {text:?}"),
        (Err(serde), Err(ours)) => {
            let (serde, ours) = (only(&serde, text), only(&ours, text));
            assert_eq!(
                serde.0, ours.0,
                "paths differ for {text:?}: {serde:?} / {ours:?}"
            );
            assert_eq!(
                position(&serde.1),
                position(&ours.1),
                "positions differ for {text:?}: {serde:?} / {ours:?}"
            );
            assert!(
                same_message(&serde.1, &ours.1),
                "messages differ for {text:?}: {serde:?} / {ours:?}"
            );
        }
        (Ok(_), Err(e)) => panic!("only serde accepts {text:?}; the decoder says {e}"),
        (Err(e), Ok(_)) => panic!("only the decoder accepts {text:?}; serde says {e}"),
    }
}

/// The one problem a decoder reports (both stop at the first).
fn only(problems: &Problems, text: &str) -> (String, String) {
    let mut all = problems.iter();
    match (all.next(), all.next()) {
        (Some(p), None) => (p.path.clone(), p.message.clone()),
        _ => panic!("expected exactly one problem for {text:?}, got: {problems}"),
    }
}

/// `at line L column C`, where the message has it.
fn position(message: &str) -> Option<&str> {
    message.rfind(" at line ").and_then(|i| message.get(i..))
}

/// Where the wording may differ by design: serde_json prints a float through f64 (`5000.0` for
/// `5e3`) and calls an infinite one `number out of range`; the decoder quotes the number as
/// written (`filter/tests/json_decoder.rs` allows the same).
fn same_message(serde: &str, ours: &str) -> bool {
    serde == ours || serde.contains("floating point `") || serde.starts_with("number out of range")
}
