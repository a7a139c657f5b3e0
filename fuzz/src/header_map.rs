//! The proxy-wasm header map parser (`veer_filter::header_map`), on buffers the host could never
//! send as well as on the ones it does: it never panics, what it reads serialises back to a
//! buffer it reads the same, a buffer it reads whole is what `serialise` writes (up to the
//! separator bytes, which it does not check), and any pairs survive serialise-then-parse, also
//! cut short anywhere (a truncated buffer yields a prefix of the pairs).

use arbitrary::Unstructured;
use veer_filter::header_map::{parse, serialise};

/// Checks `data` as a raw buffer, then as a source of pairs.
pub fn check(data: &[u8]) {
    raw(data);
    pairs(data);
}

fn raw(data: &[u8]) {
    let pairs = parse(data);
    let again = serialise(&pairs);
    assert_eq!(parse(&again), pairs, "re-serialised pairs read differently");
    let count = data
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    let whole = count.and_then(|c| usize::try_from(c).ok()) == Some(pairs.len())
        && again.len() == data.len();
    if whole {
        // Byte for byte, except where `serialise` writes a separator and the input had another
        // byte there.
        for (i, (&ours, &theirs)) in again.iter().zip(data).enumerate() {
            assert!(
                ours == theirs || ours == 0,
                "byte {i} of a buffer read whole: {theirs:#04x}, serialised {ours:#04x}"
            );
        }
    }
}

fn pairs(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(pairs) = u.arbitrary::<Vec<(Vec<u8>, Vec<u8>)>>() else {
        return;
    };
    let buf = serialise(&pairs);
    let read: Vec<(Vec<u8>, Vec<u8>)> = parse(&buf)
        .into_iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(read, pairs, "serialise then parse");
    let cut = u.int_in_range(0..=buf.len()).unwrap_or(buf.len());
    let short = parse(buf.get(..cut).unwrap_or_default());
    assert!(short.len() <= pairs.len(), "a cut buffer grew pairs");
    for ((n, v), (want_n, want_v)) in short.iter().zip(&pairs) {
        assert!(
            n == want_n && v == want_v,
            "cut at {cut}: not a prefix of the pairs"
        );
    }
}
