//! Weighted splits in basis points, laid out as contiguous bucket ranges.
//!
//! Entries take ranges in declaration order: with `stable 8000, canary 2000`, stable owns buckets
//! `0..8000` and canary `8000..10000`. When one entry's weight rises and the others only fall, its
//! new range contains its old one (its start cannot move right, its end cannot move left), so
//! **raising a weight moves nobody out of that entry**. Lowering a weight moves exactly the users
//! in the part of its range it gives up; with three or more entries, an entry between the one
//! lowered and the one raised keeps its width but slides, so some of its users change too.

use std::fmt;

use crate::hash::{Bucket, BUCKETS};

/// A weight in basis points (1 bp = 0.01 %), `0..=10000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BasisPoints(u16);

impl BasisPoints {
    /// All traffic.
    pub const ALL: BasisPoints = BasisPoints(BUCKETS);

    /// A weight, if `bp` is within `0..=10000`.
    pub fn new(bp: i64) -> Option<BasisPoints> {
        u16::try_from(bp)
            .ok()
            .filter(|v| *v <= BUCKETS)
            .map(BasisPoints)
    }

    /// The weight in basis points.
    pub fn get(self) -> u16 {
        self.0
    }

    /// True when `bucket` falls below this weight (used for allocations).
    pub fn covers(self, bucket: Bucket) -> bool {
        bucket.get() < self.0
    }
}

impl fmt::Display for BasisPoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            write!(f, "{whole}.{frac:02}%")
        }
    }
}

/// A validated split: weights summing to exactly 10000 over entries identified by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// (entry index, weight) in layout order, zero weights included.
    weights: Vec<(usize, BasisPoints)>,
    /// (exclusive end bucket, entry index) for non-zero weights, ascending.
    ranges: Vec<(u16, usize)>,
}

impl Split {
    /// Builds a split; the caller has checked that the weights sum to 10000.
    pub(crate) fn new(weights: Vec<(usize, BasisPoints)>) -> Split {
        let mut end = 0u16;
        let mut ranges = Vec::with_capacity(weights.len());
        for &(index, w) in &weights {
            if w.get() > 0 {
                end = end.saturating_add(w.get());
                ranges.push((end, index));
            }
        }
        Split { weights, ranges }
    }

    /// The entry that owns `bucket`.
    pub fn pick(&self, bucket: Bucket) -> usize {
        let b = bucket.get();
        self.ranges
            .iter()
            .find(|(end, _)| b < *end)
            .or(self.ranges.last())
            .map_or(0, |(_, index)| *index)
    }

    /// Entries and weights in layout order.
    pub fn weights(&self) -> &[(usize, BasisPoints)] {
        &self.weights
    }

    /// The weight of entry `index` (0 when absent).
    pub fn weight_of(&self, index: usize) -> BasisPoints {
        self.weights
            .iter()
            .find(|(i, _)| *i == index)
            .map_or(BasisPoints::default(), |(_, w)| *w)
    }
}
