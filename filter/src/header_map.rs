//! The proxy-wasm serialised header map, read in place.
//!
//! Envoy hands all request headers over in one buffer: the number of pairs (u32, little
//! endian), then each pair's name and value lengths (u32 each), then every name and value, each
//! followed by a NUL. Parsing borrows from that buffer, so a request costs one allocation for
//! the buffer and one for the list of pairs, not two per header (the SDK's `Vec<(String, _)>`).
//! The buffer comes from the host, so nothing here trusts it: a malformed map yields the pairs
//! before the first inconsistency, never a panic.

use crate::request::Header;

/// The pairs of serialised map `buf`, borrowing from it.
pub fn parse(buf: &[u8]) -> Vec<Header<'_>> {
    let Some(count) = read_u32(buf, 0) else {
        return Vec::new();
    };
    // The lengths come first: a count whose lengths do not fit is a lie, and nothing after it
    // can be located.
    let Some(mut data) = count.checked_mul(8).and_then(|l| l.checked_add(4)) else {
        return Vec::new();
    };
    if data > buf.len() {
        return Vec::new();
    }
    let mut pairs = Vec::with_capacity(count);
    for i in 0..count {
        let lengths = 4 + i * 8;
        let (Some(name_len), Some(value_len)) =
            (read_u32(buf, lengths), read_u32(buf, lengths + 4))
        else {
            break;
        };
        let Some((name, after_name)) = field(buf, data, name_len) else {
            break;
        };
        let Some((value, after_value)) = field(buf, after_name, value_len) else {
            break;
        };
        pairs.push((name, value));
        data = after_value;
    }
    pairs
}

/// `len` bytes at `at`, and where the next field starts (after the NUL).
fn field(buf: &[u8], at: usize, len: usize) -> Option<(&[u8], usize)> {
    let end = at.checked_add(len)?;
    let bytes = buf.get(at..end)?;
    Some((bytes, end.checked_add(1)?))
}

fn read_u32(buf: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(bytes)).ok()
}

/// Serialises pairs the way the host does (for tests and benchmarks).
pub fn serialise<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> Vec<u8> {
    let mut buf = Vec::new();
    buf.extend_from_slice(&u32_le(pairs.len()));
    for (n, v) in pairs {
        buf.extend_from_slice(&u32_le(n.as_ref().len()));
        buf.extend_from_slice(&u32_le(v.as_ref().len()));
    }
    for (n, v) in pairs {
        buf.extend_from_slice(n.as_ref());
        buf.push(0);
        buf.extend_from_slice(v.as_ref());
        buf.push(0);
    }
    buf
}

fn u32_le(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_names_and_raw_values() {
        let pairs: Vec<(&[u8], &[u8])> = vec![
            (b":authority", b"web.example.com"),
            (b"cookie", b"uid=u-1; a=\xff"),
            (b"x-empty", b""),
        ];
        assert_eq!(parse(&serialise(&pairs)), pairs);
    }

    #[test]
    fn empty_and_truncated_buffers_give_what_is_whole() {
        assert!(parse(b"").is_empty());
        assert!(parse(b"\x01\x00").is_empty());
        let whole: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (b"b", b"2")];
        let buf = serialise(&whole);
        for cut in 0..buf.len() {
            let got = parse(&buf[..cut]);
            assert_eq!(got, whole[..got.len()], "cut {cut}");
            assert!(got.len() < 2 || cut == buf.len() - 1, "cut {cut}: {got:?}");
        }
    }

    #[test]
    fn a_count_larger_than_the_buffer_is_not_trusted() {
        let mut buf = serialise(&[("a", "1")]);
        buf[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&buf).len() <= 1);
        let mut huge_len = serialise(&[("a", "1")]);
        huge_len[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&huge_len).is_empty());
    }
}
