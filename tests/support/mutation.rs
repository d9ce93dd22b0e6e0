//! Byte-level mutations of valid inputs for the in-suite versions of the fuzz targets
//! (`model/tests/mutated_inputs.rs`, `ports/tests/mutated_frames.rs`,
//! `discovery/tests/mutated_frames.rs`, `groups/tests/mutated_wire.rs`), which include this file
//! with `#[path]`: bit flips, truncation, inserted and deleted bytes, splices of two valid inputs
//! and overwritten bytes.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::RngSeed;

/// A fixed seed (`seed`) unless `PROPTEST_RNG_SEED` is set; `cases` unless `PROPTEST_CASES` is
/// set; no failure files.
pub(crate) fn config(cases: u32, seed: u64) -> ProptestConfig {
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() { defaults.cases } else { cases },
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(seed),
            fixed => fixed,
        },
        failure_persistence: None,
        ..defaults
    }
}

/// One byte-level edit. Positions are fractions of the current length.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    /// Flips one bit of one byte.
    FlipBit { at: Index, bit: u8 },
    /// Cuts the input at `at`.
    Truncate { at: Index },
    /// Inserts bytes at `at`.
    Insert { at: Index, bytes: Vec<u8> },
    /// Removes up to `len` bytes at `at`.
    Delete { at: Index, len: usize },
    /// Replaces everything from `at` on with another valid input (`other`) from `from` on.
    Splice { at: Index, other: Index, from: Index },
    /// Replaces one byte.
    Overwrite { at: Index, byte: u8 },
}

impl Mutation {
    /// Applies the edit to `bytes`; a splice takes its other input from `pick`.
    pub(crate) fn apply(&self, mut bytes: Vec<u8>, pick: &impl Fn(&Index) -> &'static [u8]) -> Vec<u8> {
        let len = bytes.len();
        match self {
            Self::FlipBit { at, bit } if len > 0 => bytes[at.index(len)] ^= 1 << bit,
            Self::Truncate { at } => bytes.truncate(at.index(len + 1)),
            Self::Insert { at, bytes: new } => {
                let at = at.index(len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Self::Delete { at, len: n } => {
                let at = at.index(len + 1);
                bytes.drain(at..(at + n).min(len));
            }
            Self::Splice { at, other, from } => {
                let other = pick(other);
                bytes.truncate(at.index(len + 1));
                bytes.extend_from_slice(&other[from.index(other.len() + 1)..]);
            }
            Self::Overwrite { at, byte } if len > 0 => bytes[at.index(len)] = *byte,
            Self::FlipBit { .. } | Self::Overwrite { .. } => {}
        }
        bytes
    }
}

/// One mutation; inserted and overwritten bytes are random or one of `interesting` (bytes that
/// mean something in the format), runs inserted or deleted up to `max_run` bytes long.
pub(crate) fn mutation(interesting: &'static [u8], max_run: usize) -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![any::<u8>(), prop::sample::select(interesting)];
    prop_oneof![
        3 => (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        2 => (any::<Index>(), prop::collection::vec(byte.clone(), 1..max_run)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        2 => (any::<Index>(), 1..max_run).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(at, other, from)| Mutation::Splice { at, other, from }),
        3 => (any::<Index>(), byte).prop_map(|(at, byte)| Mutation::Overwrite { at, byte }),
    ]
}

/// One to four mutations.
pub(crate) fn mutations(interesting: &'static [u8], max_run: usize) -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(interesting, max_run), 1..5)
}

/// `bytes` after every mutation of `mutations`, in order.
pub(crate) fn apply_all(bytes: Vec<u8>, mutations: &[Mutation], pick: &impl Fn(&Index) -> &'static [u8]) -> Vec<u8> {
    mutations.iter().fold(bytes, |b, m| m.apply(b, pick))
}
