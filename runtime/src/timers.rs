//! Timer ports: a phase-locked scheduler for the timers of one component thread.
//!
//! RIAPS runs one thread per timer port and re-arms a periodic timer with a relative timeout
//! after each tick, so jitter accumulates into drift. Cohort keeps all of a component's timers in
//! one [`TimerSet`] owned by the component thread, which polls its ports with a timeout that ends
//! at [`TimerSet::next_deadline`] and then calls [`TimerSet::fire_due`]:
//!
//! ```
//! use cohort_runtime::timers::TimerSet;
//! use std::time::{Duration, Instant};
//!
//! let mut timers = TimerSet::new();
//! let clock = timers.add_periodic("clock", Duration::from_millis(10))?;
//! let start = Instant::now();
//! timers.launch(clock, start)?;
//! assert_eq!(timers.next_deadline(), Some(start + Duration::from_millis(10)));
//!
//! // The thread wakes up 3 ms late: one tick, scheduled at the ideal time.
//! let ticks = timers.fire_due(start + Duration::from_millis(13));
//! assert_eq!(ticks.len(), 1);
//! assert_eq!(ticks[0].scheduled, start + Duration::from_millis(10));
//! // The next tick is due one period after the scheduled one, not after the late wake-up.
//! assert_eq!(timers.next_deadline(), Some(start + Duration::from_millis(20)));
//! # Ok::<(), cohort_runtime::timers::TimerError>(())
//! ```
//!
//! The scheduler is pure: every operation takes the current time as an argument, reads no clock
//! and starts no thread, so it is tested with simulated instants.
//!
//! * A **periodic** timer (`timer t 1000`) is phase-locked to the instant it was launched: its
//!   ticks are due at `launch + n × period`. A tick fired late does not move the later ones.
//!   When the thread was late by more than a period, the ticks it slept through are skipped, not
//!   delivered in a burst: the tick delivered is the latest one due, and [`Tick::missed`] counts
//!   the ones skipped before it.
//! * A **sporadic** timer (`timer t`) fires once, its delay after it was launched, and is then
//!   idle until launched again.
//! * A new period or delay counts from the timer's *anchor*: the last scheduled tick of a
//!   periodic timer (its launch instant before the first tick), the launch instant of a sporadic
//!   one. It applies to the pending firing already, so a running timer stays phase-locked.
//! * When several timers are due, their ticks come in order of scheduled time, then of
//!   [`TimerId`] (the order the timers were added).

use cohort_model::ast::PortKind;
use cohort_model::PortDescriptor;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Identifies one timer of a [`TimerSet`]: timers are numbered in the order they were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(usize);

impl TimerId {
    /// The id of the timer at position `index` of its set (a replay fires timers by position).
    pub(crate) fn at(index: usize) -> TimerId {
        TimerId(index)
    }

    /// The timer's position in its set, from 0 in the order the timers were added.
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a timer is and its current setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// Fires every `period`, phase-locked to the instant it was launched.
    Periodic {
        /// Time between ticks, never zero.
        period: Duration,
    },
    /// Fires once, `delay` after it was launched.
    Sporadic {
        /// Time from launch to the tick; zero fires at the next [`TimerSet::fire_due`].
        delay: Duration,
    },
}

/// One firing of a timer, returned by [`TimerSet::fire_due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The timer that fired.
    pub timer: TimerId,
    /// The timer's name: the name of its port in the model.
    pub name: Arc<str>,
    /// When the tick was due. For a periodic timer this is always `launch + n × period`.
    pub scheduled: Instant,
    /// When it was fired: the `now` given to [`TimerSet::fire_due`], never before `scheduled`.
    pub fired: Instant,
    /// Ticks of this periodic timer that were due before `scheduled` and skipped because the
    /// thread was late by more than a period; always 0 for a sporadic timer. Saturates at
    /// `u32::MAX`.
    pub missed: u32,
}

/// Why a timer operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// The id does not belong to a timer of this set.
    #[error("no timer {0} in this component")]
    UnknownTimer(TimerId),
    /// A timer of that name is in the set already.
    #[error("timer `{0}` is defined twice")]
    DuplicateName(String),
    /// A periodic timer was given a zero period (the named timer).
    #[error("periodic timer `{0}` cannot have a zero period")]
    ZeroPeriod(String),
    /// A period was set on a sporadic timer (the named timer).
    #[error("timer `{0}` is sporadic: it has a delay, not a period")]
    NotPeriodic(String),
    /// A delay was set on a periodic timer (the named timer).
    #[error("timer `{0}` is periodic: it has a period, not a delay")]
    NotSporadic(String),
    /// [`TimerSet::add_port`] was given a port that is not a timer (the named port).
    #[error("port `{0}` is not a timer")]
    NotATimer(String),
    /// [`TimerSet::add_port`] was given a negative period (the named port).
    #[error("timer `{0}` has a negative period")]
    NegativePeriod(String),
}

/// Whether a timer is waiting to fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Halted, cancelled, never launched, or a sporadic timer that has fired.
    Idle,
    /// Launched. `due` is `anchor` plus the period or delay; none when that lies beyond what an
    /// `Instant` can represent, so the timer never fires.
    Running { anchor: Instant, due: Option<Instant> },
}

#[derive(Debug, Clone)]
struct Timer {
    name: Arc<str>,
    kind: TimerKind,
    state: State,
}

impl Timer {
    /// The period or delay counted from the anchor.
    fn interval(&self) -> Duration {
        match self.kind {
            TimerKind::Periodic { period } => period,
            TimerKind::Sporadic { delay } => delay,
        }
    }

    /// Running from `anchor`, due one interval later.
    fn run_from(&mut self, anchor: Instant) {
        self.state = State::Running { anchor, due: anchor.checked_add(self.interval()) };
    }
}

/// The timers of one component: periodic and sporadic timers by name, driven by the component
/// thread through [`next_deadline`](Self::next_deadline) and [`fire_due`](Self::fire_due).
///
/// Timers are added idle; the component runtime launches the periodic ones when the component
/// is activated ([`launch_all_periodic`](Self::launch_all_periodic)), as RIAPS does.
#[derive(Debug, Clone, Default)]
pub struct TimerSet {
    timers: Vec<Timer>,
}

impl TimerSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an idle periodic timer named `name` (its port's name) firing every `period`.
    ///
    /// Fails when the name is taken or the period is zero.
    pub fn add_periodic(&mut self, name: &str, period: Duration) -> Result<TimerId, TimerError> {
        if period.is_zero() {
            return Err(TimerError::ZeroPeriod(name.to_owned()));
        }
        self.add(name, TimerKind::Periodic { period })
    }

    /// Adds an idle sporadic timer named `name` (its port's name), with a zero delay until
    /// [`set_delay`](Self::set_delay) gives it one.
    ///
    /// Fails when the name is taken.
    pub fn add_sporadic(&mut self, name: &str) -> Result<TimerId, TimerError> {
        self.add(name, TimerKind::Sporadic { delay: Duration::ZERO })
    }

    /// Adds the timer of a model's timer port: periodic when the port has a nonzero period,
    /// sporadic when it has none or, as in RIAPS, a zero period.
    ///
    /// Fails when the port is not a timer or the name is taken.
    pub fn add_port(&mut self, port: &PortDescriptor) -> Result<TimerId, TimerError> {
        if port.kind != PortKind::Timer {
            return Err(TimerError::NotATimer(port.name.clone()));
        }
        match port.period {
            None => self.add_sporadic(&port.name),
            Some(period) if period.is_zero() => self.add_sporadic(&port.name),
            Some(period) => self.add_periodic(&port.name, period),
        }
    }

    fn add(&mut self, name: &str, kind: TimerKind) -> Result<TimerId, TimerError> {
        if self.id(name).is_some() {
            return Err(TimerError::DuplicateName(name.to_owned()));
        }
        self.timers.push(Timer { name: name.into(), kind, state: State::Idle });
        Ok(TimerId(self.timers.len() - 1))
    }

    /// The number of timers.
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    /// Whether the set has no timers.
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    /// The timer named `name`, if any.
    pub fn id(&self, name: &str) -> Option<TimerId> {
        self.timers.iter().position(|t| &*t.name == name).map(TimerId)
    }

    /// The ids of all timers, in the order they were added.
    pub fn ids(&self) -> impl Iterator<Item = TimerId> + '_ {
        (0..self.timers.len()).map(TimerId)
    }

    fn get(&self, id: TimerId) -> Result<&Timer, TimerError> {
        self.timers.get(id.0).ok_or(TimerError::UnknownTimer(id))
    }

    fn get_mut(&mut self, id: TimerId) -> Result<&mut Timer, TimerError> {
        self.timers.get_mut(id.0).ok_or(TimerError::UnknownTimer(id))
    }

    /// The timer's name.
    pub fn name(&self, id: TimerId) -> Result<&str, TimerError> {
        Ok(&self.get(id)?.name)
    }

    /// Whether the timer is periodic or sporadic, and its period or delay.
    pub fn kind(&self, id: TimerId) -> Result<TimerKind, TimerError> {
        Ok(self.get(id)?.kind)
    }

    /// A periodic timer's period (RIAPS `getPeriod`).
    pub fn period(&self, id: TimerId) -> Result<Duration, TimerError> {
        let timer = self.get(id)?;
        match timer.kind {
            TimerKind::Periodic { period } => Ok(period),
            TimerKind::Sporadic { .. } => Err(TimerError::NotPeriodic(timer.name.to_string())),
        }
    }

    /// A sporadic timer's delay (RIAPS `getDelay`).
    pub fn delay(&self, id: TimerId) -> Result<Duration, TimerError> {
        let timer = self.get(id)?;
        match timer.kind {
            TimerKind::Sporadic { delay } => Ok(delay),
            TimerKind::Periodic { .. } => Err(TimerError::NotSporadic(timer.name.to_string())),
        }
    }

    /// Whether the timer is waiting to fire: a periodic timer launched and not halted, a
    /// sporadic timer launched and neither fired nor cancelled since.
    pub fn is_running(&self, id: TimerId) -> Result<bool, TimerError> {
        Ok(matches!(self.get(id)?.state, State::Running { .. }))
    }

    /// When the timer fires next, if it is running.
    pub fn deadline(&self, id: TimerId) -> Result<Option<Instant>, TimerError> {
        Ok(match self.get(id)?.state {
            State::Running { due, .. } => due,
            State::Idle => None,
        })
    }

    /// Starts the timer at `now`. A periodic timer is phase-locked to `now`: its ticks are due
    /// at `now + n × period`, n ≥ 1. A sporadic timer is armed to fire once at `now + delay`.
    /// A running timer is restarted from `now`.
    pub fn launch(&mut self, id: TimerId, now: Instant) -> Result<(), TimerError> {
        self.get_mut(id)?.run_from(now);
        Ok(())
    }

    /// Launches every periodic timer that is not running, all phase-locked to the same `now`:
    /// what activating a component does.
    pub fn launch_all_periodic(&mut self, now: Instant) {
        for timer in &mut self.timers {
            if matches!(timer.kind, TimerKind::Periodic { .. }) && timer.state == State::Idle {
                timer.run_from(now);
            }
        }
    }

    /// Sets a periodic timer's period. On a running timer it takes effect from the next tick,
    /// which becomes due one new period after the last scheduled tick (or after the launch, if
    /// it has not ticked yet); when that is past already, the next [`fire_due`](Self::fire_due)
    /// fires it. A halted timer keeps the period for its next launch.
    ///
    /// Fails on a sporadic timer or a zero period.
    pub fn set_period(&mut self, id: TimerId, period: Duration) -> Result<(), TimerError> {
        let timer = self.get_mut(id)?;
        if !matches!(timer.kind, TimerKind::Periodic { .. }) {
            return Err(TimerError::NotPeriodic(timer.name.to_string()));
        }
        if period.is_zero() {
            return Err(TimerError::ZeroPeriod(timer.name.to_string()));
        }
        timer.kind = TimerKind::Periodic { period };
        if let State::Running { anchor, .. } = timer.state {
            timer.run_from(anchor);
        }
        Ok(())
    }

    /// Sets a sporadic timer's delay. On an armed timer it moves the pending firing to the new
    /// delay after the launch; otherwise it applies from the next launch.
    ///
    /// Fails on a periodic timer.
    pub fn set_delay(&mut self, id: TimerId, delay: Duration) -> Result<(), TimerError> {
        let timer = self.get_mut(id)?;
        if !matches!(timer.kind, TimerKind::Sporadic { .. }) {
            return Err(TimerError::NotSporadic(timer.name.to_string()));
        }
        timer.kind = TimerKind::Sporadic { delay };
        if let State::Running { anchor, .. } = timer.state {
            timer.run_from(anchor);
        }
        Ok(())
    }

    /// Stops the timer; it keeps its period or delay and starts again when launched. Halting an
    /// idle timer does nothing.
    pub fn halt(&mut self, id: TimerId) -> Result<(), TimerError> {
        self.get_mut(id)?.state = State::Idle;
        Ok(())
    }

    /// Cancels the timer's next firing, as RIAPS `cancel()` does: a pending sporadic timer is
    /// disarmed (idle until launched again); a running periodic timer skips its next tick and
    /// stays phase-locked (the skipped tick is not counted in [`Tick::missed`]). Cancelling an
    /// idle timer does nothing.
    pub fn cancel(&mut self, id: TimerId) -> Result<(), TimerError> {
        let timer = self.get_mut(id)?;
        match (timer.kind, timer.state) {
            (_, State::Idle) => {}
            (TimerKind::Sporadic { .. }, State::Running { .. }) => timer.state = State::Idle,
            (TimerKind::Periodic { .. }, State::Running { due, .. }) => {
                if let Some(skipped) = due {
                    timer.run_from(skipped);
                }
            }
        }
        Ok(())
    }

    /// The earliest deadline of all running timers: how long the component thread may wait for
    /// its ports before calling [`fire_due`](Self::fire_due). None when no timer is running.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers
            .iter()
            .filter_map(|t| match t.state {
                State::Running { due, .. } => due,
                State::Idle => None,
            })
            .min()
    }

    /// How long from `now` until [`next_deadline`](Self::next_deadline): zero when a timer is
    /// due already, none when no timer is running. A poll with a millisecond timeout should
    /// round this up, or it wakes up just before the deadline with nothing to fire.
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.next_deadline().map(|due| due.saturating_duration_since(now))
    }

    /// Fires every timer due at `now` (deadline ≤ `now`) and returns one tick per timer, in
    /// order of scheduled time, then of id.
    ///
    /// A periodic timer's next deadline becomes its tick's scheduled time plus the period, so
    /// lateness never accumulates. When `now` is a period or more past its deadline, the tick
    /// delivered is the latest one due and the earlier ones are counted in [`Tick::missed`]. A
    /// sporadic timer becomes idle.
    pub fn fire_due(&mut self, now: Instant) -> Vec<Tick> {
        let mut ticks = Vec::new();
        for (index, timer) in self.timers.iter_mut().enumerate() {
            let State::Running { due: Some(due), .. } = timer.state else { continue };
            if due > now {
                continue;
            }
            let (scheduled, missed) = match timer.kind {
                TimerKind::Periodic { period } => {
                    let (scheduled, missed) = latest_due(due, period, now);
                    timer.run_from(scheduled);
                    (scheduled, missed)
                }
                TimerKind::Sporadic { .. } => {
                    timer.state = State::Idle;
                    (due, 0)
                }
            };
            ticks.push(Tick { timer: TimerId(index), name: Arc::clone(&timer.name), scheduled, fired: now, missed });
        }
        ticks.sort_by_key(|t| (t.scheduled, t.timer));
        ticks
    }
}

/// The latest of the ticks `due + k × period` (k ≥ 0) that are not after `now`, given
/// `due ≤ now`, and k: how many earlier ticks it skips.
fn latest_due(due: Instant, period: Duration, now: Instant) -> (Instant, u32) {
    let late = now.duration_since(due).as_nanos();
    let period_nanos = period.as_nanos().max(1);
    let skipped = late / period_nanos;
    // skipped × period ≤ late, which is a Duration already, so neither step overflows.
    let offset = skipped * period_nanos;
    let offset = Duration::new(
        u64::try_from(offset / 1_000_000_000).unwrap_or(u64::MAX),
        u32::try_from(offset % 1_000_000_000).unwrap_or(0),
    );
    (due.checked_add(offset).unwrap_or(due), u32::try_from(skipped).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A base instant and a way to name instants relative to it in milliseconds.
    struct Clock(Instant);

    impl Clock {
        fn new() -> Self {
            Self(Instant::now())
        }
        fn at(&self, millis: u64) -> Instant {
            self.0 + ms(millis)
        }
        fn at_us(&self, micros: u64) -> Instant {
            self.0 + Duration::from_micros(micros)
        }
    }

    fn names(ticks: &[Tick]) -> Vec<&str> {
        ticks.iter().map(|t| &*t.name).collect()
    }

    #[test]
    fn timers_are_added_idle_and_found_by_name() {
        let mut set = TimerSet::new();
        assert!(set.is_empty());
        let a = set.add_periodic("clock", ms(10)).unwrap();
        let b = set.add_sporadic("wakeup").unwrap();
        assert_eq!((a.index(), b.index()), (0, 1));
        assert_eq!(set.len(), 2);
        assert_eq!(set.id("clock"), Some(a));
        assert_eq!(set.id("wakeup"), Some(b));
        assert_eq!(set.id("nope"), None);
        assert_eq!(set.ids().collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(set.name(b).unwrap(), "wakeup");
        assert_eq!(set.kind(a).unwrap(), TimerKind::Periodic { period: ms(10) });
        assert_eq!(set.kind(b).unwrap(), TimerKind::Sporadic { delay: Duration::ZERO });
        assert_eq!(set.period(a).unwrap(), ms(10));
        assert_eq!(set.delay(b).unwrap(), Duration::ZERO);
        assert!(!set.is_running(a).unwrap());
        assert!(!set.is_running(b).unwrap());
        assert_eq!(set.next_deadline(), None);
        assert_eq!(set.timeout(Instant::now()), None);
        assert!(set.fire_due(Instant::now() + ms(1000)).is_empty());
    }

    #[test]
    fn bad_adds_and_ids_are_errors() {
        let mut set = TimerSet::new();
        let a = set.add_periodic("clock", ms(10)).unwrap();
        assert_eq!(set.add_sporadic("clock"), Err(TimerError::DuplicateName("clock".into())));
        assert_eq!(set.add_periodic("zero", Duration::ZERO), Err(TimerError::ZeroPeriod("zero".into())));
        assert_eq!(set.len(), 1);

        let unknown = TimerId(7);
        let now = Instant::now();
        let err = Err(TimerError::UnknownTimer(unknown));
        assert_eq!(set.launch(unknown, now), err);
        assert_eq!(set.halt(unknown), err);
        assert_eq!(set.cancel(unknown), err);
        assert_eq!(set.set_period(unknown, ms(1)), err);
        assert_eq!(set.set_delay(unknown, ms(1)), err);
        assert_eq!(set.is_running(unknown), Err(TimerError::UnknownTimer(unknown)));
        assert_eq!(set.name(unknown), Err(TimerError::UnknownTimer(unknown)));
        assert_eq!(TimerError::UnknownTimer(unknown).to_string(), "no timer #7 in this component");

        let b = set.add_sporadic("once").unwrap();
        assert_eq!(set.set_period(b, ms(5)), Err(TimerError::NotPeriodic("once".into())));
        assert_eq!(set.period(b), Err(TimerError::NotPeriodic("once".into())));
        assert_eq!(set.set_delay(a, ms(5)), Err(TimerError::NotSporadic("clock".into())));
        assert_eq!(set.delay(a), Err(TimerError::NotSporadic("clock".into())));
        assert_eq!(set.set_period(a, Duration::ZERO), Err(TimerError::ZeroPeriod("clock".into())));
        assert_eq!(set.period(a).unwrap(), ms(10));
    }

    #[test]
    fn periodic_ticks_are_phase_locked_to_the_launch() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_periodic("clock", ms(10)).unwrap();
        set.launch(t, c.at(0)).unwrap();
        assert!(set.is_running(t).unwrap());
        assert_eq!(set.next_deadline(), Some(c.at(10)));
        assert_eq!(set.deadline(t).unwrap(), Some(c.at(10)));
        assert_eq!(set.timeout(c.at(4)), Some(ms(6)));
        assert_eq!(set.timeout(c.at(12)), Some(Duration::ZERO));

        // Early: nothing fires and nothing changes.
        assert!(set.fire_due(c.at_us(9_999)).is_empty());
        assert_eq!(set.next_deadline(), Some(c.at(10)));

        // Exactly on time.
        let ticks = set.fire_due(c.at(10));
        assert_eq!(
            ticks,
            vec![Tick { timer: t, name: "clock".into(), scheduled: c.at(10), fired: c.at(10), missed: 0 }]
        );
        assert_eq!(set.next_deadline(), Some(c.at(20)));

        // Late by 9.9 ms, under a period: the next deadline is still phase-locked.
        let ticks = set.fire_due(c.at_us(29_900));
        assert_eq!((ticks[0].scheduled, ticks[0].fired, ticks[0].missed), (c.at(20), c.at_us(29_900), 0));
        assert_eq!(set.next_deadline(), Some(c.at(30)));

        // Jitter on every tick never accumulates.
        for n in 3..=100u64 {
            let ticks = set.fire_due(c.at(n * 10) + Duration::from_micros(n * 37 % 5000));
            assert_eq!(ticks.len(), 1);
            assert_eq!(ticks[0].scheduled, c.at(n * 10));
            assert_eq!(ticks[0].missed, 0);
        }
        assert_eq!(set.next_deadline(), Some(c.at(1010)));
        assert!(set.is_running(t).unwrap());
    }

    #[test]
    fn late_by_more_than_a_period_skips_and_counts_missed_ticks() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_periodic("clock", ms(10)).unwrap();
        set.launch(t, c.at(0)).unwrap();

        // Due at 10; woken at 45: ticks 10, 20, 30, 40 are due. One tick (40), three missed.
        let ticks = set.fire_due(c.at(45));
        assert_eq!(ticks.len(), 1);
        assert_eq!((ticks[0].scheduled, ticks[0].fired, ticks[0].missed), (c.at(40), c.at(45), 3));
        assert_eq!(set.next_deadline(), Some(c.at(50)));

        // Woken exactly on a later tick: that tick is delivered, the ones between missed.
        let ticks = set.fire_due(c.at(80));
        assert_eq!((ticks[0].scheduled, ticks[0].missed), (c.at(80), 3));
        assert_eq!(set.next_deadline(), Some(c.at(90)));

        // Late by exactly one period less a microsecond: nothing missed.
        let ticks = set.fire_due(c.at_us(99_999));
        assert_eq!((ticks[0].scheduled, ticks[0].missed), (c.at(90), 0));

        // A very long stall.
        let ticks = set.fire_due(c.at(100 + 3_600_000));
        assert_eq!((ticks[0].scheduled, ticks[0].missed), (c.at(100 + 3_600_000), 360_000));
        assert_eq!(set.next_deadline(), Some(c.at(100 + 3_600_000 + 10)));
    }

    #[test]
    fn missed_count_saturates() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_periodic("fast", Duration::from_nanos(1)).unwrap();
        set.launch(t, c.at(0)).unwrap();
        let ticks = set.fire_due(c.at(10_000)); // 10^10 ns
        assert_eq!((ticks[0].scheduled, ticks[0].missed), (c.at(10_000), u32::MAX));
    }

    #[test]
    fn sporadic_fires_once_after_its_delay() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_sporadic("once").unwrap();
        set.set_delay(t, ms(25)).unwrap();
        assert_eq!(set.delay(t).unwrap(), ms(25));
        assert!(!set.is_running(t).unwrap());
        set.launch(t, c.at(100)).unwrap();
        assert!(set.is_running(t).unwrap());
        assert_eq!(set.next_deadline(), Some(c.at(125)));
        assert!(set.fire_due(c.at(124)).is_empty());

        // Fired late: delivered once, at its scheduled time, no missed count.
        let ticks = set.fire_due(c.at(300));
        assert_eq!(
            ticks,
            vec![Tick { timer: t, name: "once".into(), scheduled: c.at(125), fired: c.at(300), missed: 0 }]
        );
        assert!(!set.is_running(t).unwrap());
        assert_eq!(set.next_deadline(), None);
        assert!(set.fire_due(c.at(10_000)).is_empty());

        // Launched again: fires once more, from the new launch.
        set.launch(t, c.at(400)).unwrap();
        let ticks = set.fire_due(c.at(425));
        assert_eq!(ticks.len(), 1);
        assert_eq!(ticks[0].scheduled, c.at(425));
        assert!(set.fire_due(c.at(450)).is_empty());
    }

    #[test]
    fn sporadic_with_no_delay_fires_at_the_next_fire_due() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_sporadic("now").unwrap();
        set.launch(t, c.at(5)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(5)));
        assert_eq!(set.timeout(c.at(5)), Some(Duration::ZERO));
        let ticks = set.fire_due(c.at(5));
        assert_eq!((ticks[0].scheduled, ticks[0].fired), (c.at(5), c.at(5)));
        assert!(!set.is_running(t).unwrap());
    }

    #[test]
    fn sporadic_cancel_disarms_and_relaunch_rearms() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_sporadic("once").unwrap();
        set.set_delay(t, ms(50)).unwrap();

        // Cancelling an idle timer does nothing.
        set.cancel(t).unwrap();
        assert!(!set.is_running(t).unwrap());

        set.launch(t, c.at(0)).unwrap();
        set.cancel(t).unwrap();
        assert!(!set.is_running(t).unwrap());
        assert_eq!(set.next_deadline(), None);
        assert!(set.fire_due(c.at(1000)).is_empty());
        assert_eq!(set.delay(t).unwrap(), ms(50), "cancel keeps the delay");

        set.launch(t, c.at(1000)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(1050)));
        // Launching an armed timer restarts it from the new launch.
        set.launch(t, c.at(1040)).unwrap();
        assert!(set.fire_due(c.at(1050)).is_empty());
        assert_eq!(set.fire_due(c.at(1090))[0].scheduled, c.at(1090));
    }

    #[test]
    fn set_delay_counts_from_the_launch() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_sporadic("once").unwrap();
        set.set_delay(t, ms(100)).unwrap();
        set.launch(t, c.at(0)).unwrap();
        // Shortened while armed: due 30 ms after the launch, not after the change.
        set.set_delay(t, ms(30)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(30)));
        // Lengthened while armed.
        set.set_delay(t, ms(200)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(200)));
        // Shortened into the past: fires at the next fire_due, scheduled when it was due.
        set.set_delay(t, ms(10)).unwrap();
        let ticks = set.fire_due(c.at(50));
        assert_eq!((ticks[0].scheduled, ticks[0].fired), (c.at(10), c.at(50)));
        // Idle: the delay is kept for the next launch.
        set.set_delay(t, ms(7)).unwrap();
        assert_eq!(set.next_deadline(), None);
        set.launch(t, c.at(60)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(67)));
    }

    #[test]
    fn halt_stops_a_periodic_and_launch_rephases_it() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_periodic("clock", ms(10)).unwrap();
        set.launch(t, c.at(0)).unwrap();
        assert_eq!(set.fire_due(c.at(10)).len(), 1);
        set.halt(t).unwrap();
        assert!(!set.is_running(t).unwrap());
        assert_eq!(set.next_deadline(), None);
        assert!(set.fire_due(c.at(100)).is_empty());
        assert_eq!(set.period(t).unwrap(), ms(10), "halt keeps the period");
        // Halting again does nothing.
        set.halt(t).unwrap();

        // Relaunched at 103: phase-locked to 103, not to the first launch.
        set.launch(t, c.at(103)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(113)));
        assert_eq!(set.fire_due(c.at(125))[0].scheduled, c.at(123));
        // Launching a running timer re-phases it too.
        set.launch(t, c.at(127)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(137)));
    }

    #[test]
    fn set_period_takes_effect_from_the_next_tick_phase_locked_to_the_last() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_periodic("clock", ms(10)).unwrap();
        set.launch(t, c.at(0)).unwrap();

        // Before the first tick: counted from the launch.
        set.set_period(t, ms(4)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(4)));
        assert_eq!(set.fire_due(c.at(5))[0].scheduled, c.at(4));

        // After a tick scheduled at 4, changed at 6: the next is due at 4 + 20, not 6 + 20.
        set.set_period(t, ms(20)).unwrap();
        assert_eq!(set.period(t).unwrap(), ms(20));
        assert_eq!(set.next_deadline(), Some(c.at(24)));
        for n in 1..=5u64 {
            let ticks = set.fire_due(c.at(4 + n * 20) + ms(3));
            assert_eq!((ticks[0].scheduled, ticks[0].missed), (c.at(4 + n * 20), 0));
        }
        assert_eq!(set.next_deadline(), Some(c.at(124)));

        // Shortened when the thread comes back late: last tick 104, new period 5, now 117.
        // Ticks 109 and 114 are due: 114 is delivered, 109 missed.
        set.set_period(t, ms(5)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(109)));
        let ticks = set.fire_due(c.at(117));
        assert_eq!((ticks[0].scheduled, ticks[0].missed), (c.at(114), 1));
        assert_eq!(set.next_deadline(), Some(c.at(119)));

        // Halted: the period is kept for the next launch.
        set.halt(t).unwrap();
        set.set_period(t, ms(50)).unwrap();
        assert_eq!(set.next_deadline(), None);
        set.launch(t, c.at(200)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(250)));
    }

    #[test]
    fn periodic_cancel_skips_one_tick_and_stays_phase_locked() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_periodic("clock", ms(10)).unwrap();
        // Idle: nothing to cancel.
        set.cancel(t).unwrap();
        assert!(!set.is_running(t).unwrap());

        set.launch(t, c.at(0)).unwrap();
        assert_eq!(set.fire_due(c.at(10)).len(), 1);
        set.cancel(t).unwrap();
        assert!(set.is_running(t).unwrap());
        assert_eq!(set.next_deadline(), Some(c.at(30)));
        assert!(set.fire_due(c.at(25)).is_empty());
        let ticks = set.fire_due(c.at(31));
        assert_eq!((ticks[0].scheduled, ticks[0].missed), (c.at(30), 0));
    }

    #[test]
    fn due_timers_fire_in_order_of_scheduled_time_then_id() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let slow = set.add_periodic("slow", ms(30)).unwrap();
        let fast = set.add_periodic("fast", ms(10)).unwrap();
        let once = set.add_sporadic("once").unwrap();
        let same = set.add_periodic("same", ms(10)).unwrap();
        set.set_delay(once, ms(15)).unwrap();
        set.launch(slow, c.at(0)).unwrap();
        set.launch(fast, c.at(0)).unwrap();
        set.launch(once, c.at(0)).unwrap();
        set.launch(same, c.at(0)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(10)));

        // At 35: fast and same (ids 1, 3) are due at 30 having missed 10 and 20; slow (id 0) at
        // 30; once at 15. Order: once (15), then the three due at 30 by id.
        let ticks = set.fire_due(c.at(35));
        assert_eq!(names(&ticks), ["once", "slow", "fast", "same"]);
        assert_eq!(ticks.iter().map(|t| t.timer).collect::<Vec<_>>(), vec![once, slow, fast, same]);
        assert_eq!(ticks.iter().map(|t| t.scheduled).collect::<Vec<_>>(), [15, 30, 30, 30].map(|n| c.at(n)));
        assert_eq!(ticks.iter().map(|t| t.missed).collect::<Vec<_>>(), [0, 0, 2, 2]);
        assert!(ticks.iter().all(|t| t.fired == c.at(35)));
        assert_eq!(set.next_deadline(), Some(c.at(40)));

        // At 40 only the 10 ms timers, by id; at 60 all three periodic ones, by id.
        assert_eq!(names(&set.fire_due(c.at(40))), ["fast", "same"]);
        assert_eq!(names(&set.fire_due(c.at(50))), ["fast", "same"]);
        assert_eq!(names(&set.fire_due(c.at(60))), ["slow", "fast", "same"]);

        // Different phases: a timer launched later is ordered by its scheduled time, not its id.
        set.launch(slow, c.at(61)).unwrap(); // due 91
        set.launch(fast, c.at(65)).unwrap(); // due 75, 85, 95
        set.halt(same).unwrap();
        assert_eq!(names(&set.fire_due(c.at(92))), ["fast", "slow"]);
    }

    #[test]
    fn launch_all_periodic_starts_idle_periodic_timers_in_phase() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let a = set.add_periodic("a", ms(10)).unwrap();
        let b = set.add_periodic("b", ms(15)).unwrap();
        let s = set.add_sporadic("s").unwrap();
        set.launch(b, c.at(3)).unwrap();
        set.launch_all_periodic(c.at(5));
        assert_eq!(set.deadline(a).unwrap(), Some(c.at(15)));
        assert_eq!(set.deadline(b).unwrap(), Some(c.at(18)), "a running timer is left alone");
        assert!(!set.is_running(s).unwrap(), "sporadic timers are launched by the component");
    }

    #[test]
    fn a_deadline_beyond_any_instant_never_fires() {
        let c = Clock::new();
        let mut set = TimerSet::new();
        let t = set.add_periodic("forever", Duration::MAX).unwrap();
        set.launch(t, c.at(0)).unwrap();
        assert!(set.is_running(t).unwrap());
        assert_eq!(set.next_deadline(), None);
        assert!(set.fire_due(c.at(1_000_000)).is_empty());
        set.set_period(t, ms(10)).unwrap();
        assert_eq!(set.next_deadline(), Some(c.at(10)));
    }

    fn port(source: &str) -> PortDescriptor {
        let (model, diagnostics) = cohort_model::parse_app_model(source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        cohort_model::describe_ports(&model.apps[0].components[0], None).remove(0)
    }

    #[test]
    fn timers_from_model_ports() {
        let mut set = TimerSet::new();
        let periodic =
            set.add_port(&port("app A { component C { timer clock 1000; } actor X { { c : C; } } }")).unwrap();
        assert_eq!(set.name(periodic).unwrap(), "clock");
        assert_eq!(set.kind(periodic).unwrap(), TimerKind::Periodic { period: ms(1000) });
        let sec = set.add_port(&port("app A { component C { timer slow 2 sec; } actor X { { c : C; } } }")).unwrap();
        assert_eq!(set.period(sec).unwrap(), ms(2000));
        let sporadic = set.add_port(&port("app A { component C { timer once; } actor X { { c : C; } } }")).unwrap();
        assert_eq!(set.kind(sporadic).unwrap(), TimerKind::Sporadic { delay: Duration::ZERO });
        let zero = set.add_port(&port("app A { component C { timer zero 0; } actor X { { c : C; } } }")).unwrap();
        assert_eq!(set.kind(zero).unwrap(), TimerKind::Sporadic { delay: Duration::ZERO });

        assert_eq!(
            set.add_port(&port("app A { message M; component C { pub out : M; } actor X { { c : C; } } }")),
            Err(TimerError::NotATimer("out".into()))
        );
        assert_eq!(
            set.add_port(&port("app A { component C { timer clock 5; } actor X { { c : C; } } }")),
            Err(TimerError::DuplicateName("clock".into()))
        );
    }
}
