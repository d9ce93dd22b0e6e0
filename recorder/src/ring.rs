//! The black box: the last seconds of a recording, kept in memory until asked for
//! (`cohort record --ring SECONDS`, written on SIGUSR1 and on exit).

use std::collections::VecDeque;
use std::time::Duration;

use crate::layout::ChannelKey;
use crate::sink::Recorded;

/// The messages received in the last `span`, oldest first.
#[derive(Debug)]
pub struct Ring {
    span: Duration,
    kept: VecDeque<(usize, Recorded)>,
    /// Messages dropped for age.
    aged: u64,
}

impl Ring {
    /// A ring of the last `span`.
    pub fn new(span: Duration) -> Ring {
        Ring { span, kept: VecDeque::new(), aged: 0 }
    }

    /// Keeps `message` of channel number `channel`, and lets go of those older than the span
    /// before it.
    pub(crate) fn push(&mut self, channel: usize, message: Recorded) {
        let oldest = message.log_time.saturating_sub(u64::try_from(self.span.as_nanos()).unwrap_or(u64::MAX));
        while self.kept.front().is_some_and(|(_, m)| m.log_time < oldest) {
            self.kept.pop_front();
            self.aged += 1;
        }
        self.kept.push_back((channel, message));
    }

    /// The messages kept, oldest first, with their channels out of `channels`.
    pub(crate) fn messages<'a>(
        &'a self,
        channels: &'a [ChannelKey],
    ) -> impl Iterator<Item = (&'a ChannelKey, &'a Recorded)> + 'a {
        self.kept.iter().filter_map(|(c, m)| Some((channels.get(*c)?, m)))
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Recorded {
        Recorded { seq: ms, log_time: ms * 1_000_000, publish_time: ms * 1_000_000, data: Vec::new() }
    }

    #[test]
    fn only_the_last_span_is_kept() {
        let mut ring = Ring::new(Duration::from_millis(100));
        for ms in [0, 50, 100, 120, 250] {
            ring.push(0, at(ms));
        }
        let key = ChannelKey {
            message: "M".into(),
            endpoint: "tcp://x:1".into(),
            scope: cohort_ports::Scope::Global,
            group: None,
        };
        let channels = [key];
        let kept: Vec<u64> = ring.messages(&channels).map(|(_, m)| m.seq).collect();
        assert_eq!(kept, [250], "150 ms and more before the newest are gone");
        assert_eq!(ring.aged, 4);
    }
}
