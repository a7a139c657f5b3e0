//! veerctl's match expressions (`veer_ctl::config::match_expr`): any text either parses, and then what
//! `render` writes of the matcher parses back to the same matcher, or is refused with a position
//! inside the text.

use veer_ctl::config::match_expr::{parse, render};

/// Checks `data` as an expression (text only: it comes from a command line).
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(m) => {
            let rendered = render(&m);
            assert_eq!(
                parse(&rendered),
                Ok(m),
                "{text:?} rendered as {rendered:?} reads back differently"
            );
        }
        Err(e) => {
            assert!(e.at <= text.len(), "error past the end of {text:?}: {e:?}");
            assert!(!e.to_string().is_empty());
        }
    }
}
