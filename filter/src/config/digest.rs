//! A digest of the routing config's text, which the filter reports (gauge `veer.config.digest`)
//! and veerctl computes from what it wrote: a proxy's version number alone cannot prove which
//! config it runs (two copies of a directory can both hold a "version 10"), its digest can.
//!
//! XXH3-64 of the exact bytes Envoy hands the filter, cut to 48 bits: Envoy gauges are integers
//! that JSON stats and Prometheus carry as doubles, exact only up to 2^53.

use xxhash_rust::xxh3::xxh3_64;

/// The digest of a routing config's JSON text, as the filter reports it.
pub fn of(config_json: &[u8]) -> u64 {
    xxh3_64(config_json) >> 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_fits_a_double_and_tells_configs_apart() {
        let a = of(br#"{"version":1,"services":[]}"#);
        let b = of(br#"{"version":1,"services": []}"#);
        assert!(a < 1 << 48 && b < 1 << 48);
        assert_ne!(a, b, "a different text is a different config to the proxy");
        assert_eq!(a, of(br#"{"version":1,"services":[]}"#));
    }
}
