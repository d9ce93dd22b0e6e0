//! The C allocator, tuned for ZeroMQ's messages.
//!
//! libzmq keeps a message of up to 33 bytes inside its `zmq_msg_t`; every longer one gets its
//! content from `malloc` (the bytes and about 40 bytes of bookkeeping), in the thread that
//! sends it, and the context's I/O thread frees it once it is written to the connection. glibc
//! hands such a pair of calls across threads cheaply from its fast bins, but only for chunks up
//! to its `M_MXFAST` limit, 128 bytes by default: a message of up to 80 bytes. A longer one goes
//! through the arena's locked bins, with both threads taking the arena's lock.
//!
//! Measured (`cargo bench -p cohort-tests --bench groups -- messages`, 2026-12-04, on 2 cores):
//! group messages with a 64-byte payload travelled in 95-byte frames; with `M_MXFAST` at glibc's
//! largest value, 160 bytes (messages of up to 112 bytes), they ran 7–18 % faster (1 → 2 members:
//! 1.58–1.60 M msg/s before, 1.70–1.87 M after; 1 → 4: 0.89–0.96 M before, 1.00–1.05 M after).
//! So [`tune_for_messages`] raises it, at the start of a process that sends messages (an actor).
//! Fast-bin chunks are not merged with their neighbours when freed, so a process that frees
//! many allocations of 129–160 bytes and does not allocate that size again may keep a little more
//! memory; nothing else changes.

/// glibc's largest `M_MXFAST`: chunks of up to 160 bytes, ZeroMQ messages of up to 112 bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LARGEST_FAST_CHUNK: libc::c_int = 160;

/// What [`tune_for_messages`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorTuning {
    /// glibc's fast bins now take ZeroMQ messages of up to 112 bytes.
    Raised,
    /// The operator set `glibc.malloc.mxfast` in `GLIBC_TUNABLES`: their value stands.
    LeftToOperator,
    /// Not glibc (or glibc refused): nothing changed.
    Unsupported,
}

/// Raises glibc's fast-bin limit (`M_MXFAST`) to its largest value, so that sending a ZeroMQ
/// message of up to 112 bytes allocates and frees its content through the fast bins (see the
/// module documentation), unless the operator chose a value in `GLIBC_TUNABLES`. Process-wide;
/// calling it again does nothing more.
pub fn tune_for_messages() -> AllocatorTuning {
    let operator_set = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.mxfast"));
    if operator_set {
        return AllocatorTuning::LeftToOperator;
    }
    raise_fast_bin_limit()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn raise_fast_bin_limit() -> AllocatorTuning {
    // SAFETY: mallopt takes two ints and changes only the allocator's parameters; glibc's
    // mallopt is thread-safe (it takes the main arena's lock).
    if unsafe { libc::mallopt(libc::M_MXFAST, LARGEST_FAST_CHUNK) } == 1 {
        AllocatorTuning::Raised
    } else {
        AllocatorTuning::Unsupported
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn raise_fast_bin_limit() -> AllocatorTuning {
    AllocatorTuning::Unsupported
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_takes_the_raised_limit() {
        let tuning = tune_for_messages();
        if cfg!(all(target_os = "linux", target_env = "gnu")) && std::env::var_os("GLIBC_TUNABLES").is_none() {
            assert_eq!(tuning, AllocatorTuning::Raised);
        }
        // Again: the same answer.
        assert_eq!(tune_for_messages(), tuning);
    }
}
