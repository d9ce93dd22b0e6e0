//! A queue from one or more threads to one, that allocates nothing per value once its buffers
//! have grown: senders append to a shared buffer under a lock, and the receiver takes the whole
//! buffer at once, swapping in its own empty one. Both buffers keep their
//! capacity (up to [`KEEP`] values).
//!
//! It carries the group coordination thread's commands and events (`crate::coordinator`), where
//! a std channel cost more than the values it carried: an unbounded `mpsc` channel allocates a
//! block every 31 values, which its receiver frees, and on glibc each such allocation also
//! consolidates the arena's fast bins (`docs/groups.md`). Like a std channel, it tells a sender
//! that the receiver is gone, and the receiver that no sender is left.
//!
//! Waking the receiver is the caller's business (here an inproc PAIR per sender). An empty
//! buffer keeps room for [`KEEP`] values; the memory of a larger burst is given back once taken.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The capacity, in values, that an empty buffer keeps for the next round. A burst may grow a
/// buffer beyond it; the receiver gives the memory back once it has taken the burst.
const KEEP: usize = 1024;

/// What the threads share.
struct Shared<T> {
    /// Sent and not yet taken; `None` once the receiver is gone.
    queue: Mutex<Option<VecDeque<T>>>,
    /// Live senders.
    senders: AtomicUsize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Option<VecDeque<T>>> {
        // A push or a swap cannot leave the buffer half-changed: a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A new queue: its first sender and its receiver.
pub(crate) fn handoff<T>() -> (HandoffSender<T>, HandoffReceiver<T>) {
    let shared = Arc::new(Shared { queue: Mutex::new(Some(VecDeque::new())), senders: AtomicUsize::new(1) });
    (HandoffSender { shared: Arc::clone(&shared) }, HandoffReceiver { shared, taken: VecDeque::new() })
}

/// The sending side; clones send into the same queue.
pub(crate) struct HandoffSender<T> {
    shared: Arc<Shared<T>>,
}

/// The value was not sent: the receiver is gone.
#[derive(Debug)]
pub(crate) struct ReceiverGone<T>(pub(crate) T);

impl<T> HandoffSender<T> {
    /// Appends `value` to the queue, or gives it back if the receiver is gone.
    pub(crate) fn send(&self, value: T) -> Result<(), ReceiverGone<T>> {
        match self.shared.lock().as_mut() {
            Some(queue) => {
                queue.push_back(value);
                Ok(())
            }
            None => Err(ReceiverGone(value)),
        }
    }
}

impl<T> Clone for HandoffSender<T> {
    fn clone(&self) -> HandoffSender<T> {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        HandoffSender { shared: Arc::clone(&self.shared) }
    }
}

impl<T> Drop for HandoffSender<T> {
    fn drop(&mut self) {
        // Release: what this sender sent is in the queue before the receiver can see it gone.
        self.shared.senders.fetch_sub(1, Ordering::Release);
    }
}

/// Why [`HandoffReceiver::try_recv`] has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Empty {
    /// Nothing waits now.
    Now,
    /// Nothing waits, and no sender is left to send more.
    ForGood,
}

/// The receiving side.
pub(crate) struct HandoffReceiver<T> {
    shared: Arc<Shared<T>>,
    /// Values taken from the queue in one swap, oldest first, not yet handed out.
    taken: VecDeque<T>,
}

impl<T> HandoffReceiver<T> {
    /// The oldest value not yet received, without waiting.
    pub(crate) fn try_recv(&mut self) -> Result<T, Empty> {
        if let Some(value) = self.taken.pop_front() {
            return Ok(value);
        }
        // Acquire, before looking: a sender that is gone sent everything it sent before this.
        let no_senders = self.shared.senders.load(Ordering::Acquire) == 0;
        // Empty here: what the senders get next is no larger than a normal round needs.
        if self.taken.capacity() > KEEP {
            self.taken.shrink_to(KEEP);
        }
        if let Some(queue) = self.shared.lock().as_mut() {
            std::mem::swap(queue, &mut self.taken);
        }
        match self.taken.pop_front() {
            Some(value) => Ok(value),
            None if no_senders => Err(Empty::ForGood),
            None => Err(Empty::Now),
        }
    }
}

impl<T> Drop for HandoffReceiver<T> {
    fn drop(&mut self) {
        // Senders learn it at their next send; what waits is dropped now, not with the last one.
        let waiting = self.shared.lock().take();
        drop(waiting);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values come out in the order they went in, across swaps, from every clone.
    #[test]
    fn keeps_order() {
        let (tx, mut rx) = handoff();
        let other = tx.clone();
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.try_recv().unwrap(), 0);
        for i in 10..20 {
            other.send(i).unwrap();
        }
        let rest: Vec<i32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(rest, (1..20).collect::<Vec<_>>());
        assert_eq!(rx.try_recv().unwrap_err(), Empty::Now);
    }

    /// The receiver learns that no sender is left only after taking what they sent.
    #[test]
    fn ends_after_the_last_sender() {
        let (tx, mut rx) = handoff();
        let other = tx.clone();
        tx.send("a").unwrap();
        drop(tx);
        assert_eq!(rx.try_recv().unwrap(), "a");
        assert_eq!(rx.try_recv().unwrap_err(), Empty::Now);
        other.send("b").unwrap();
        drop(other);
        assert_eq!(rx.try_recv().unwrap(), "b");
        assert_eq!(rx.try_recv().unwrap_err(), Empty::ForGood);
    }

    /// A burst's memory is given back once it has been taken.
    #[test]
    fn gives_back_a_burst() {
        let (tx, mut rx) = handoff();
        for i in 0..10 * KEEP {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.try_recv().unwrap(), 0);
        for i in 1..10 * KEEP {
            assert_eq!(rx.try_recv().unwrap(), i);
        }
        assert_eq!(rx.try_recv().unwrap_err(), Empty::Now);
        tx.send(0).unwrap();
        assert_eq!(rx.try_recv().unwrap(), 0);
        assert!(rx.taken.capacity() <= KEEP && rx.shared.lock().as_ref().unwrap().capacity() <= KEEP);
    }

    /// A sender gets its value back once the receiver is gone; what waited is dropped.
    #[test]
    fn refuses_after_the_receiver() {
        let (tx, rx) = handoff();
        let waiting = Arc::new(());
        tx.send(Arc::clone(&waiting)).unwrap();
        drop(rx);
        assert_eq!(Arc::strong_count(&waiting), 1);
        let ReceiverGone(back) = tx.send(Arc::clone(&waiting)).unwrap_err();
        assert!(Arc::ptr_eq(&back, &waiting));
    }

    /// Many threads sending at once: everything arrives, each sender's values in order.
    #[test]
    fn many_senders() {
        let (tx, mut rx) = handoff();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || (0..10_000).for_each(|i| tx.send((t, i)).unwrap()))
            })
            .collect();
        drop(tx);
        let mut next = [0; 4];
        loop {
            match rx.try_recv() {
                Ok((t, i)) => {
                    assert_eq!(next[t], i, "sender {t}");
                    next[t] += 1;
                }
                Err(Empty::Now) => std::thread::yield_now(),
                Err(Empty::ForGood) => break,
            }
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(next, [10_000; 4]);
    }
}
