//! A group's timing and size.

use std::time::Duration;

/// How far apart the rates of two members' clocks may be, as a fraction (0.05: one clock may
/// run up to 5 % faster than true time while another runs 5 % slower). A leader's lease is cut
/// short by this much (see [`GroupConfig::lease`]); real quartz clocks differ by about 0.01 %.
/// Clock *offsets* do not matter: each member only measures durations on its own clock.
pub const MAX_CLOCK_DRIFT: f64 = 0.05;

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
    /// Cohort's LAN-tuned defaults: heartbeat 100 ms, election timeout 300–500 ms, peer timeout
    /// 1 s, votes 1 s. A leader killed outright is replaced in about 0.3–0.5 s. (RIAPS uses
    /// 1 s, 1.5–2 s, 3 s and 1.5 s; see [`GroupConfig::riaps`].)
    fn default() -> Self {
        GroupConfig {
            heartbeat: Duration::from_millis(100),
            election_min: Duration::from_millis(300),
            election_max: Duration::from_millis(500),
            peer_timeout: Duration::from_millis(1000),
            consensus_timeout: Duration::from_millis(1000),
            expected_size: None,
        }
    }
}

/// A group timing parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Not one of the model's group parameters.
    UnknownParameter(String),
    /// Zero or negative.
    NotPositive(String),
    /// The parameters contradict each other.
    Inconsistent(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::UnknownParameter(name) => write!(
                f,
                "unknown group parameter {name:?} (expected heartbeat, electionMin, electionMax, peerTimeout, \
                 consensusTimeout or expectedSize)"
            ),
            ConfigError::NotPositive(name) => write!(f, "group parameter {name} must be positive"),
            ConfigError::Inconsistent(why) => write!(f, "group parameters are inconsistent: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

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

    /// RIAPS's defaults: heartbeat 1 s, election timeout 1.5–2 s, peer timeout 3 s, votes 1.5 s.
    pub fn riaps() -> GroupConfig {
        GroupConfig {
            heartbeat: Duration::from_millis(1000),
            election_min: Duration::from_millis(1500),
            election_max: Duration::from_millis(2000),
            peer_timeout: Duration::from_millis(3000),
            consensus_timeout: Duration::from_millis(1500),
            expected_size: None,
        }
    }

    /// Sets one of the model's group parameters (`heartbeat`, `electionMin`, `electionMax`,
    /// `peerTimeout`, `consensusTimeout`, in milliseconds) or `expectedSize` (members).
    pub fn set(&mut self, name: &str, value: i64) -> Result<(), ConfigError> {
        let Ok(value) = u64::try_from(value) else {
            return Err(ConfigError::NotPositive(name.to_owned()));
        };
        if value == 0 {
            return Err(ConfigError::NotPositive(name.to_owned()));
        }
        let ms = Duration::from_millis(value);
        match name {
            "heartbeat" => self.heartbeat = ms,
            "electionMin" => self.election_min = ms,
            "electionMax" => self.election_max = ms,
            "peerTimeout" => self.peer_timeout = ms,
            "consensusTimeout" => self.consensus_timeout = ms,
            "expectedSize" => self.expected_size = usize::try_from(value).ok(),
            other => return Err(ConfigError::UnknownParameter(other.to_owned())),
        }
        Ok(())
    }

    /// Checks that heartbeat < electionMin ≤ electionMax < peerTimeout, which elections need:
    /// a follower must hear several heartbeats before it gives up on a leader, and must not
    /// forget a peer before it could have stood for election.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ms = |d: Duration| d.as_millis();
        if self.heartbeat >= self.election_min {
            return Err(ConfigError::Inconsistent(format!(
                "heartbeat ({} ms) must be shorter than electionMin ({} ms)",
                ms(self.heartbeat),
                ms(self.election_min)
            )));
        }
        if self.election_min > self.election_max {
            return Err(ConfigError::Inconsistent(format!(
                "electionMin ({} ms) must not exceed electionMax ({} ms)",
                ms(self.election_min),
                ms(self.election_max)
            )));
        }
        if self.election_max >= self.peer_timeout {
            return Err(ConfigError::Inconsistent(format!(
                "electionMax ({} ms) must be shorter than peerTimeout ({} ms)",
                ms(self.election_max),
                ms(self.peer_timeout)
            )));
        }
        Ok(())
    }

    /// How long a leader's lease lasts from the latest heartbeat a quorum acknowledged: the
    /// shortest election timeout, shortened by the clock drift bound so that it ends before
    /// any follower that acknowledged the heartbeat could vote for another member, however
    /// their clocks' rates differ within [`MAX_CLOCK_DRIFT`]: `electionMin × (1 − ρ) / (1 + ρ)`,
    /// 271 ms with the defaults.
    pub fn lease(&self) -> Duration {
        self.election_min.mul_f64((1.0 - MAX_CLOCK_DRIFT) / (1.0 + MAX_CLOCK_DRIFT))
    }

    /// How often a member without a leader tells every other member it is alive: a third of
    /// the peer timeout, at least a heartbeat (333 ms with the defaults).
    pub fn alive_period(&self) -> Duration {
        self.heartbeat.max(self.peer_timeout / 3)
    }

    /// Votes needed to win an election when `known` members (self included) are known.
    pub fn quorum(&self, known: usize) -> usize {
        self.expected_size.unwrap_or(known).max(1) / 2 + 1
    }
}
