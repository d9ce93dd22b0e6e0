//! When to restart a crashed actor: exponential backoff, and a restart-intensity limit as
//! Erlang/OTP supervisors have. Pure: it takes the time of each crash and decides.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The restart policy of every actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Delay before the first restart.
    pub initial_backoff: Duration,
    /// The delay doubles after each crash up to this.
    pub max_backoff: Duration,
    /// More than this many crashes within `window` and the supervisor gives up.
    pub max_restarts: usize,
    /// The window of the intensity limit.
    pub window: Duration,
    /// An actor that ran this long since its last start is healthy again: backoff resets.
    pub healthy_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_restarts: 5,
            window: Duration::from_secs(30),
            healthy_after: Duration::from_secs(10),
        }
    }
}

/// What to do after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start the actor again at this time.
    RestartAt(Instant),
    /// Too many crashes: stop the app.
    GiveUp {
        /// Crashes within the window.
        crashes: usize,
    },
}

/// The crash history of one actor.
#[derive(Debug, Clone)]
pub struct RestartState {
    policy: RestartPolicy,
    crashes: VecDeque<Instant>,
    backoff: Duration,
}

impl RestartState {
    /// A fresh history.
    pub fn new(policy: RestartPolicy) -> RestartState {
        RestartState { policy, crashes: VecDeque::new(), backoff: policy.initial_backoff }
    }

    /// The actor, started at `started`, crashed at `now`.
    pub fn crashed(&mut self, started: Instant, now: Instant) -> Decision {
        if now.saturating_duration_since(started) >= self.policy.healthy_after {
            self.backoff = self.policy.initial_backoff;
        }
        self.crashes.push_back(now);
        while self.crashes.front().is_some_and(|&t| now.saturating_duration_since(t) > self.policy.window) {
            self.crashes.pop_front();
        }
        if self.crashes.len() > self.policy.max_restarts {
            return Decision::GiveUp { crashes: self.crashes.len() };
        }
        let at = now + self.backoff;
        self.backoff = (self.backoff * 2).min(self.policy.max_backoff);
        Decision::RestartAt(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_resets_when_healthy_and_intensity_gives_up() {
        let policy = RestartPolicy::default();
        let mut s = RestartState::new(policy);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(s.crashed(t0, t0 + ms(10)), Decision::RestartAt(t0 + ms(110)));
        assert_eq!(s.crashed(t0 + ms(110), t0 + ms(120)), Decision::RestartAt(t0 + ms(320)));
        // Healthy for 10 s: back to the first delay.
        let later = t0 + Duration::from_secs(20);
        assert_eq!(s.crashed(t0 + ms(320), later), Decision::RestartAt(later + ms(100)));
        // Six crashes within 30 s: give up.
        let mut s = RestartState::new(policy);
        let mut last = None;
        for i in 0..6 {
            last = Some(s.crashed(t0, t0 + ms(i * 10)));
        }
        assert_eq!(last, Some(Decision::GiveUp { crashes: 6 }));
        // Crashes spread beyond the window never give up.
        let mut s = RestartState::new(policy);
        for i in 0..20 {
            let now = t0 + Duration::from_secs(i * 31);
            assert!(matches!(s.crashed(now, now), Decision::RestartAt(_)));
        }
        // The backoff stops growing at its maximum.
        let mut s = RestartState::new(RestartPolicy { max_restarts: 100, ..policy });
        let mut d = Duration::ZERO;
        for i in 0..10 {
            let now = t0 + ms(i);
            if let Decision::RestartAt(at) = s.crashed(now, now) {
                d = at - now;
            }
        }
        assert_eq!(d, policy.max_backoff);
    }
}
