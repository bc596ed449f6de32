//! Deterministic seeding and a small random number generator.
//!
//! Generated data must be byte-identical across platforms and releases, so the
//! generator is written out here instead of taken from a crate whose stream may
//! change between versions.

/// Derives the seed of item `index` of dataset `seed` of task `task`.
///
/// The three parts are hashed together, so dataset `s + 1` is not dataset `s`
/// shifted by one item, as it would be with `seed + index`.
pub fn item_seed(task: &str, seed: u64, index: u64) -> u64 {
    // FNV-1a over the task name, then two rounds of the SplitMix64 finaliser.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in task.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let hash = mix64(hash ^ mix64(seed.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    mix64(hash ^ mix64(index.wrapping_add(0xd1b5_4a32_d192_ed03)))
}

/// SplitMix64 finaliser: a bijection on u64 with good avalanche.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64 generator (Steele, Lea and Flood, 2014). Its output stream is fixed
/// by the algorithm, so a seed names the same data everywhere.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    /// Returns a uniform integer in `0..n`; `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below needs a positive bound");
        // Lemire's multiply-shift with rejection, so every value is equally likely.
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Returns a uniform integer in `low..=high`.
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// Returns a uniform float in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// Picks one element, or `None` from an empty slice.
    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { Some(&items[self.below(items.len() as u64) as usize]) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_stream() {
        // Reference values: the SplitMix64 C code by Sebastiano Vigna
        // (prng.di.unimi.it/splitmix64.c) seeded with 1234567.
        let mut rng = Rng::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(7);
        let mut seen = [0u32; 6];
        for _ in 0..6000 {
            seen[rng.below(6) as usize] += 1;
        }
        for count in seen {
            assert!((800..1200).contains(&count), "counts {seen:?}");
        }
    }

    #[test]
    fn item_seeds_differ_between_neighbouring_datasets() {
        let a: Vec<u64> = (0..1000).map(|i| item_seed("mult-4x4", 5, i)).collect();
        let b: Vec<u64> = (0..1000).map(|i| item_seed("mult-4x4", 6, i)).collect();
        for x in &a {
            assert!(!b.contains(x));
        }
        assert_ne!(item_seed("mult-4x4", 5, 0), item_seed("mult-3x3", 5, 0));
    }
}
