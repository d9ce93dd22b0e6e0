//! A group's timing and size.

use std::time::Duration;

/// Timing parameters of a group (the model's group parameters), and its expected size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfig {
    /// How often every member says it is alive, and a leader asserts its authority.
    pub heartbeat: Duration,
    /// Shortest randomized election timeout.
    pub election_min: Duration,
    /// Longest randomized election timeout.
    pub election_max: Duration,
    /// A member not heard from for this long has left.
    pub peer_timeout: Duration,
    /// How long a vote may take.
    pub consensus_timeout: Duration,
    /// The group's declared size. When set, electing needs a majority of it, so the minority
    /// side of a partition never has a leader. When unset, a majority of the members currently
    /// known is enough, which lets both sides of a partition elect.
    pub expected_size: Option<usize>,
}

impl Default for GroupConfig {
    /// RIAPS's defaults: heartbeat 1 s, election timeout 1.5–2 s, peer timeout 3 s, votes 1.5 s.
    fn default() -> Self {
        GroupConfig {
            heartbeat: Duration::from_millis(1000),
            election_min: Duration::from_millis(1500),
            election_max: Duration::from_millis(2000),
            peer_timeout: Duration::from_millis(3000),
            consensus_timeout: Duration::from_millis(1500),
            expected_size: None,
        }
    }
}

impl GroupConfig {
    /// The same timing scaled so the heartbeat is `heartbeat` (for LAN-tuned or test groups).
    #[must_use]
    pub fn with_heartbeat(self, heartbeat: Duration) -> GroupConfig {
        let scale = |d: Duration| d.mul_f64(heartbeat.as_secs_f64() / self.heartbeat.as_secs_f64());
        GroupConfig {
            heartbeat,
            election_min: scale(self.election_min),
            election_max: scale(self.election_max),
            peer_timeout: scale(self.peer_timeout),
            consensus_timeout: scale(self.consensus_timeout),
            expected_size: self.expected_size,
        }
    }

    /// Votes needed to win an election when `known` members (self included) are known.
    pub fn quorum(&self, known: usize) -> usize {
        self.expected_size.unwrap_or(known).max(1) / 2 + 1
    }
}
