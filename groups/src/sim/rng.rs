//! The simulator's random numbers and member ids.

use std::time::Duration;

use crate::wire::MemberId;

/// A small, fast, seedable random number generator (SplitMix64), so runs replay anywhere.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        // 53 random bits; the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next_u64() >> 11) as f64;
        x / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A duration uniformly in `[min, max]` (microsecond resolution).
    pub fn between(&mut self, min: Duration, max: Duration) -> Duration {
        let span = u64::try_from(max.saturating_sub(min).as_micros()).unwrap_or(u64::MAX);
        min + Duration::from_micros(self.below(span.saturating_add(1)))
    }
}

/// The id of simulated member `index` (0-based): 8 zero bytes then `index + 1`, big-endian.
pub fn member_id(index: usize) -> MemberId {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&(index as u64 + 1).to_be_bytes());
    id
}
