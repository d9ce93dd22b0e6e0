//! `component Controller (id, low = 0.0, high = 10.0, size = 5) { timer tick 500; }`
//!
//! One generating unit's controller. On activation it joins the group instance `feeder` of type
//! `Feeders` with the declared size `size`. On every `tick` it measures its unit's output and
//! sends it to the leader. The controller that leads also:
//!
//! - averages the outputs reported to it and sends every unit a correction towards the mean
//!   ([`Correction`], with `send_to_member`), so the units share the load evenly;
//! - every [`PROPOSE_EVERY`] ticks proposes the next setpoint of its schedule by a majority
//!   value vote; each unit votes yes when the setpoint is within its limits (`low`..=`high`);
//! - when that vote passes, proposes an action vote (consensus): every unit switches to the
//!   setpoint [`SWITCH_AFTER`] from now. Each unit carries it out when it is due.
//!
//! Each controller logs its view of the group whenever it changes (`group view`: the leader,
//! how many members it knows), how votes end and the actions it carries out.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cohort_runtime::typed::{GroupHandle, ModelGroup};
use cohort_runtime::{
    uuid_text, GroupEvent, GroupName, HandlerError, HandlerResult, JoinOptions, MemberId, Outcome, Tick, VoteId,
    VoteKind, VoteSubject,
};
use slog::{debug, info, warn};

use super::messages::{Correction, Measurement, Setpoint, Switch};
use super::model::controller::{self, Params, Ports};
use super::model::groups::Feeders;
use super::round3;

/// The handlers' context of a controller.
type Context = cohort_runtime::typed::Context<Ports>;

/// The group type of the model the controllers join.
pub const GROUP_TYPE: &str = Feeders::NAME;
/// The group instance they join.
pub const GROUP_INSTANCE: &str = "feeder";
/// The leader proposes a setpoint every this many of its ticks.
pub const PROPOSE_EVERY: u64 = 4;
/// How far ahead of the action vote the agreed switch is.
pub const SWITCH_AFTER: Duration = Duration::from_secs(1);
/// The setpoints the leader proposes in turn (kW). Unit5 refuses 9 kW (its `high` is 8), which
/// passes the majority vote but fails the consensus action vote.
pub const SCHEDULE: [f64; 4] = [6.0, 7.5, 9.0, 5.5];
/// The setpoint every unit starts with (kW).
pub const INITIAL_SETPOINT: f64 = 5.0;
/// How much of the leader's correction a unit applies.
const GAIN: f64 = 0.5;
/// Reports older than this many of the leader's ticks are not averaged.
const FRESH_TICKS: u64 = 2;
/// A vote of the leader's with no result after this many ticks is given up.
const GIVE_UP_TICKS: u64 = 8;

/// One unit's controller.
pub struct Controller {
    id: i64,
    low: f64,
    high: f64,
    size: usize,
    /// The group instance, once joined.
    feeder: Option<GroupHandle<Feeders>>,
    unit: Unit,
    /// Ticks so far.
    seq: u64,
    /// The view last logged.
    shown: Option<View>,
    /// What the controller keeps while it leads.
    leading: Option<Leading>,
}

/// What `group view` records show; logged when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct View {
    leader: Option<MemberId>,
    members: usize,
}

/// The leader's state.
#[derive(Debug, Default)]
struct Leading {
    /// Ticks since it became leader.
    ticks: u64,
    /// The latest report of each member, with the leader's tick when it arrived.
    reports: BTreeMap<MemberId, (f64, u64)>,
    /// The next entry of [`SCHEDULE`].
    round: usize,
    /// The vote in progress.
    pending: Option<Pending>,
}

/// A vote the leader asked for and has no result of yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    vote: VoteId,
    kw: f64,
    action: bool,
    /// The tick it was asked at.
    since: u64,
}

impl controller::Component for Controller {
    fn new(params: Params, _ctx: &mut Context) -> Result<Self, HandlerError> {
        let size = usize::try_from(params.size).map_err(|_| "size must not be negative")?;
        Ok(Controller {
            id: params.id,
            low: params.low,
            high: params.high,
            size,
            feeder: None,
            unit: Unit::new(params.id),
            seq: 0,
            shown: None,
            leading: None,
        })
    }

    fn on_activate(&mut self, ctx: &mut Context) -> HandlerResult {
        let options = JoinOptions { expected_size: Some(self.size) };
        let feeder = ctx.join_with(Feeders, GROUP_INSTANCE, options)?;
        let me = uuid_text(&ctx.group_of(&feeder)?.id());
        info!(ctx.log(), "controller active";
            "unit" => self.id, "low_kw" => self.low, "high_kw" => self.high, "setpoint_kw" => self.unit.setpoint,
            "size" => self.size, "me" => me);
        let name = feeder.name().clone();
        self.feeder = Some(feeder);
        self.show_view(ctx, &name)
    }

    fn on_tick(&mut self, ctx: &mut Context, tick: Tick) -> HandlerResult {
        let log = ctx.log().clone();
        if tick.missed > 0 {
            warn!(log, "controller was late"; "missed_ticks" => tick.missed);
        }
        self.seq += 1;
        let Some(feeder) = &self.feeder else {
            return Ok(());
        };
        let name = feeder.name().clone();
        let power_kw = self.unit.step();
        let group = ctx.group(&name)?;
        if group.leader().is_some() {
            let report = Measurement { unit: self.id, seq: self.seq, power_kw };
            if let Err(e) = group.send_to_leader(&report) {
                warn!(log, "cannot report to the leader"; "error" => %e);
            }
        }
        debug!(log, "measured"; "power_kw" => power_kw, "setpoint_kw" => self.unit.setpoint);
        self.show_view(ctx, &name)?;
        self.lead(ctx, &name, &log)
    }

    fn on_group(&mut self, ctx: &mut Context, group: &GroupName, event: GroupEvent) -> HandlerResult {
        let log = ctx.log().clone();
        match event {
            GroupEvent::MessageToLeader { from, payload } => {
                let report: Measurement = payload.decode()?;
                if let Some(leading) = &mut self.leading {
                    leading.reports.insert(from, (report.power_kw, self.seq));
                }
            }
            GroupEvent::MessageFromLeader { payload, .. } => {
                let correction: Correction = payload.decode()?;
                self.unit.correct(correction.error_kw);
                debug!(log, "correction applied";
                    "mean_kw" => round3(correction.mean_kw), "error_kw" => round3(correction.error_kw),
                    "units" => correction.units);
            }
            GroupEvent::VoteRequested { vote, subject, kind } => {
                let (kw, action) = setpoint_of(&subject)?;
                let yes = self.accepts(kw);
                let id = vote_text(&vote);
                match ctx.group(group)?.vote(vote, yes) {
                    // A refusal is worth seeing; a yes is routine.
                    Ok(()) if !yes => info!(log, "voted no: the setpoint is outside this unit's limits";
                        "vote" => id, "stage" => stage(action), "setpoint_kw" => kw, "low_kw" => self.low,
                        "high_kw" => self.high),
                    Ok(()) => debug!(log, "voted";
                        "vote" => id, "stage" => stage(action), "kind" => ?kind, "setpoint_kw" => kw, "yes" => yes),
                    // A ballot in a vote the others already decided is accepted and does nothing;
                    // an error means the unit can no longer vote (it left the group, say).
                    Err(e) => warn!(log, "cannot vote"; "vote" => id, "error" => %e),
                }
            }
            GroupEvent::VoteResult { vote, subject, outcome } => {
                let (kw, action) = setpoint_of(&subject)?;
                info!(log, "vote result";
                    "vote" => vote_text(&vote), "stage" => stage(action), "setpoint_kw" => kw,
                    "outcome" => ?outcome);
                self.vote_ended(ctx, group, vote, outcome)?;
            }
            GroupEvent::VoteLost { vote } => {
                warn!(log, "vote lost"; "vote" => vote_text(&vote));
                if let Some(leading) = &mut self.leading {
                    if leading.pending.is_some_and(|p| p.vote == vote) {
                        leading.pending = None;
                    }
                }
            }
            GroupEvent::ActionDue { vote, action, late } => {
                let switch: Switch = action.decode()?;
                let from = self.unit.setpoint;
                self.unit.setpoint = switch.kw;
                info!(log, "action carried out";
                    "vote" => vote_text(&vote), "setpoint_kw" => switch.kw, "previous_kw" => from,
                    "late_us" => micros(late), "now_us" => micros(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()));
            }
            GroupEvent::Message { .. }
            | GroupEvent::MemberJoined(_)
            | GroupEvent::MemberLeft(_)
            | GroupEvent::LeaderElected(_)
            | GroupEvent::LeaderExited(_) => {}
        }
        self.show_view(ctx, group)
    }
}

impl Controller {
    /// (Leader.) Balances the units and proposes setpoints.
    fn lead(&mut self, ctx: &mut Context, name: &GroupName, log: &slog::Logger) -> HandlerResult {
        let Some(leading) = &mut self.leading else {
            return Ok(());
        };
        let group = ctx.group(name)?;
        leading.ticks += 1;
        let now = self.seq;
        let members = group.members();
        leading.reports.retain(|m, (_, at)| *at + FRESH_TICKS >= now && members.contains(m));
        if let Some(balance) = Balance::of(leading.reports.values().map(|(kw, _)| *kw)) {
            for (member, (kw, _)) in &leading.reports {
                let correction =
                    Correction { mean_kw: balance.mean, error_kw: balance.mean - kw, units: balance.units };
                if let Err(e) = group.send_to_member(*member, &correction) {
                    warn!(log, "cannot send a correction"; "member" => uuid_text(member), "error" => %e);
                }
            }
            if leading.ticks % PROPOSE_EVERY == 0 {
                info!(log, "feeder balanced";
                    "units" => balance.units, "mean_kw" => round3(balance.mean), "min_kw" => round3(balance.min),
                    "max_kw" => round3(balance.max), "setpoint_kw" => self.unit.setpoint);
            }
        }
        if leading.pending.is_some_and(|p| p.since + GIVE_UP_TICKS < now) {
            warn!(log, "a vote got no result; proposing anew");
            leading.pending = None;
        }
        if leading.pending.is_none() && leading.ticks % PROPOSE_EVERY == 0 {
            let kw = SCHEDULE[leading.round % SCHEDULE.len()];
            leading.round += 1;
            match group.request_vote(&Setpoint { kw }, VoteKind::Majority, None) {
                Ok(vote) => {
                    info!(log, "setpoint proposed"; "vote" => vote_text(&vote), "setpoint_kw" => kw);
                    leading.pending = Some(Pending { vote, kw, action: false, since: now });
                }
                Err(e) => warn!(log, "cannot propose a setpoint"; "error" => %e),
            }
        }
        Ok(())
    }

    /// (Leader.) A vote ended: after a passed setpoint vote, propose switching to it.
    fn vote_ended(&mut self, ctx: &mut Context, name: &GroupName, vote: VoteId, outcome: Outcome) -> HandlerResult {
        let Some(leading) = &mut self.leading else {
            return Ok(());
        };
        let Some(pending) = leading.pending.filter(|p| p.vote == vote) else {
            return Ok(());
        };
        leading.pending = None;
        if pending.action || outcome != Outcome::Yes {
            return Ok(());
        }
        let at = SystemTime::now() + SWITCH_AFTER;
        let switch = Switch { kw: pending.kw };
        let log = ctx.log().clone();
        match ctx.group(name)?.request_action_vote(&switch, at, VoteKind::Consensus, None) {
            Ok(vote) => {
                info!(log, "switch proposed";
                    "vote" => vote_text(&vote), "setpoint_kw" => pending.kw,
                    "at_us" => micros(at.duration_since(UNIX_EPOCH).unwrap_or_default()));
                leading.pending = Some(Pending { vote, kw: pending.kw, action: true, since: self.seq });
            }
            Err(e) => warn!(log, "cannot propose the switch"; "error" => %e),
        }
        Ok(())
    }

    /// Logs the group view if it changed; starts or stops leading with the group's leader.
    fn show_view(&mut self, ctx: &mut Context, name: &GroupName) -> HandlerResult {
        let log = ctx.log().clone();
        let group = ctx.group(name)?;
        let leads = group.is_leader();
        if leads != self.leading.is_some() {
            self.leading = leads.then(Leading::default);
        }
        let view = View { leader: group.leader(), members: group.members().len() };
        if self.shown != Some(view) {
            self.shown = Some(view);
            info!(log, "group view";
                "leader" => view.leader.as_ref().map_or_else(|| "none".to_owned(), uuid_text), "leading" => leads,
                "members" => view.members, "term" => group.term(), "me" => uuid_text(&group.id()));
        }
        Ok(())
    }

    /// Whether the unit can run at `kw`.
    fn accepts(&self, kw: f64) -> bool {
        (self.low..=self.high).contains(&kw)
    }
}

/// The setpoint a vote is about, and whether it is the action (switch) vote.
fn setpoint_of(subject: &VoteSubject) -> Result<(f64, bool), HandlerError> {
    Ok(match subject {
        VoteSubject::Value(payload) => (payload.decode::<Setpoint>()?.kw, false),
        VoteSubject::Action { action, .. } => (action.decode::<Switch>()?.kw, true),
    })
}

fn stage(action: bool) -> &'static str {
    if action {
        "action"
    } else {
        "value"
    }
}

/// A vote id for logs: `<requester uuid>#<number>`.
fn vote_text(vote: &VoteId) -> String {
    format!("{}#{}", uuid_text(&vote.requester), vote.number)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The mean, minimum and maximum of the units' outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Balance {
    units: usize,
    mean: f64,
    min: f64,
    max: f64,
}

impl Balance {
    /// None without outputs.
    fn of(outputs: impl Iterator<Item = f64>) -> Option<Balance> {
        let mut b: Option<Balance> = None;
        for kw in outputs {
            b = Some(match b {
                None => Balance { units: 1, mean: kw, min: kw, max: kw },
                Some(b) => Balance {
                    units: b.units + 1,
                    mean: b.mean + (kw - b.mean) / (b.units + 1) as f64,
                    min: b.min.min(kw),
                    max: b.max.max(kw),
                },
            });
        }
        b
    }
}

/// A simulated generating unit: its output is the setpoint plus a bias of its own (local
/// conditions, larger for higher ids), the corrections it applied, and a little noise.
#[derive(Debug, Clone)]
struct Unit {
    setpoint: f64,
    bias: f64,
    offset: f64,
    /// A 64-bit linear congruential generator's state (Knuth's MMIX constants).
    rng: u64,
}

impl Unit {
    fn new(id: i64) -> Unit {
        let seed = format!("unit{id}")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Unit { setpoint: INITIAL_SETPOINT, bias: (id as f64 - 3.0) * 0.5, offset: 0.0, rng: seed }
    }

    /// The output now (kW, three decimals).
    fn step(&mut self) -> f64 {
        self.rng = self.rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let noise = ((self.rng >> 11) as f64 / (1_u64 << 53) as f64 - 0.5) * 0.2;
        round3(self.setpoint + self.bias + self.offset + noise)
    }

    /// Applies part of the leader's correction.
    fn correct(&mut self, error_kw: f64) {
        self.offset += GAIN * error_kw;
    }
}

#[cfg(test)]
mod tests {
    use super::{Balance, Unit, INITIAL_SETPOINT};

    #[test]
    fn the_balance_averages() {
        assert_eq!(Balance::of([].into_iter()), None);
        let b = Balance::of([4.0, 6.0, 8.0].into_iter());
        assert_eq!(b, Some(Balance { units: 3, mean: 6.0, min: 4.0, max: 8.0 }));
    }

    #[test]
    fn corrections_bring_units_to_the_mean() {
        let mut units: Vec<Unit> = (1..=5).map(Unit::new).collect();
        let spread = |units: &mut Vec<Unit>| {
            let out: Vec<f64> = units.iter_mut().map(Unit::step).collect();
            let b = Balance::of(out.iter().copied()).unwrap();
            (b, out)
        };
        let (first, _) = spread(&mut units);
        assert!(first.max - first.min > 1.5, "{first:?}");
        for _ in 0..20 {
            let (b, out) = spread(&mut units);
            for (u, kw) in units.iter_mut().zip(out) {
                u.correct(b.mean - kw);
            }
        }
        let (last, _) = spread(&mut units);
        assert!(last.max - last.min < 0.5, "{last:?}");
        assert!((last.mean - INITIAL_SETPOINT).abs() < 0.2, "{last:?}");
    }
}
