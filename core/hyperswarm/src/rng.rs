//! The caller-seeded random source standing in for JS's `Math.random()`.

/// A small deterministic generator (SplitMix64) seeded by the caller: the swarm draws its
/// jitter and queue shuffles from it, so a run is reproducible from its seed.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..=max`, JS's `Math.round(max * Math.random())` up to rounding at the ends.
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        self.next_u64() % (max + 1)
    }

    /// An index in `0..len` (`len > 0`), JS's `Math.floor(Math.random() * len)`.
    pub(crate) fn below(&mut self, len: usize) -> usize {
        (self.next_u64() % len as u64) as usize
    }

    /// Mixes caller-supplied entropy into the state.
    pub(crate) fn reseed(&mut self, entropy: u64) {
        self.0 ^= entropy;
        self.next_u64();
    }
}
