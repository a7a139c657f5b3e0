//! Stable bucketing: the same (salt, key) gives the same bucket on every host.
//!
//! The data plane (wasm32) and veerctl (x86_64 or arm64) must agree bit for bit, so nothing here
//! depends on the platform: no `usize` arithmetic, no std `Hasher` (randomly keyed and free to
//! change between Rust releases). XXH3-64 is a fixed, documented algorithm; the salt is hashed
//! once when the config is loaded and used as the seed for the key's hash, so a request pays for
//! one hash of its key and nothing else.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Number of buckets: one per basis point, so a weight of N bp owns exactly N buckets.
pub const BUCKETS: u16 = 10_000;

/// A bucket in `0..10000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket(u16);

impl Bucket {
    /// The bucket for a raw 64-bit value (`value mod 10000`).
    pub fn from_u64(value: u64) -> Bucket {
        // The remainder is < 10000, so it fits in u16.
        Bucket((value % u64::from(BUCKETS)) as u16)
    }

    /// The bucket number, `0..10000`.
    pub fn get(self) -> u16 {
        self.0
    }
}

/// A salt, hashed once at config load into the seed for every key hashed under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Salt(u64);

impl Salt {
    /// Derives the seed for `salt`.
    pub fn new(salt: &str) -> Salt {
        Salt(xxh3_64(salt.as_bytes()))
    }

    /// The 64-bit hash of `key` under this salt.
    pub fn hash(self, key: &[u8]) -> u64 {
        xxh3_64_with_seed(key, self.0)
    }

    /// Both buckets of `key`.
    pub fn buckets(self, key: &[u8]) -> Buckets {
        Buckets::from_hash(self.hash(key))
    }
}

/// Two independent buckets drawn from one 64-bit hash.
///
/// `primary` (`hash mod 10000`) picks the variant or arm. `secondary` (`hash / 10000 mod 10000`)
/// decides experiment enrollment, so that who is enrolled and which arm they get are not
/// correlated (with one bucket, a 10 % allocation would only ever enroll users from the first
/// arm's range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// Picks the variant or arm.
    pub primary: Bucket,
    /// Decides experiment enrollment.
    pub secondary: Bucket,
}

impl Buckets {
    /// Splits a 64-bit hash into its two buckets.
    pub fn from_hash(hash: u64) -> Buckets {
        Buckets {
            primary: Bucket::from_u64(hash),
            secondary: Bucket::from_u64(hash / u64::from(BUCKETS)),
        }
    }
}

/// The primary bucket of `key` under `salt`: `xxh3_64_with_seed(key, xxh3_64(salt)) mod 10000`.
pub fn bucket(salt: &str, key: &[u8]) -> Bucket {
    Salt::new(salt).buckets(key).primary
}
