//! How the text-based targets read their bytes: a config, then a request.
//!
//! `decide` takes `<config JSON> NUL <request>`: JSON cannot hold a raw NUL, so the first one
//! splits the two unambiguously, and both halves stay text a person can read and edit in the
//! corpus. The request is one header per line, `name: value` (pseudo-headers too:
//! `:path: /shop?x=1`), with names lowercased as Envoy hands them over; values are raw bytes.

/// A header as the tests own it.
pub type OwnedHeader = (Vec<u8>, Vec<u8>);

/// The config text and the request lines of `data`; `None` when the config is not UTF-8 (Envoy
/// hands the filter a string) or there is no NUL.
pub fn config_and_request(data: &[u8]) -> Option<(&str, &[u8])> {
    let nul = data.iter().position(|&b| b == 0)?;
    let config = std::str::from_utf8(data.get(..nul)?).ok()?;
    Some((config, data.get(nul + 1..)?))
}

/// `name: value` lines into headers (a line without `": "` is a header with an empty value).
pub fn headers(lines: &[u8]) -> Vec<OwnedHeader> {
    lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            // Skip the first byte so that a pseudo-header's own colon is not the separator.
            let sep = line
                .windows(2)
                .skip(1)
                .position(|w| w == b": ")
                .map(|i| i + 1);
            let (name, value) = match sep {
                Some(i) => (line.get(..i), line.get(i + 2..)),
                None => (Some(line), Some(&b""[..])),
            };
            (
                name.unwrap_or_default().to_ascii_lowercase(),
                value.unwrap_or_default().to_vec(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_config_and_request_lines() {
        let data = b"{\"services\": []}\0:path: /a?b=c\ncookie: uid=1; x=y\nX-Flag\n";
        let (config, request) = config_and_request(data).expect("has a NUL");
        assert_eq!(config, "{\"services\": []}");
        let want: Vec<OwnedHeader> = vec![
            (b":path".to_vec(), b"/a?b=c".to_vec()),
            (b"cookie".to_vec(), b"uid=1; x=y".to_vec()),
            (b"x-flag".to_vec(), Vec::new()),
        ];
        assert_eq!(headers(request), want);
        assert!(config_and_request(b"{}").is_none());
    }
}
