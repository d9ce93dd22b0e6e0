//! The monitor's unit tests: records fed in by hand, with their own stamps.

use super::faults::Outcome;
use super::recovery::HEAR_EXTRA_US;
use super::{App, FaultKind, Monitor, Record};

/// 2001-09-09T01:46:40Z; the tests stay within that day.
const T0: u64 = 1_000_000_000_000_000;

fn ts(us: u64) -> String {
    let secs = us / 1_000_000;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    assert_eq!(secs / 86_400, T0 / 1_000_000 / 86_400, "tests stay on T0's day");
    format!("2001-09-09T{h:02}:{m:02}:{s:02}.{:06}Z", us % 1_000_000)
}

fn feed(m: &mut Monitor, app: App, at: u64, fields: &str) {
    let line = format!(r#"{{"level":"INFO","ts":"{}",{fields}}}"#, ts(at));
    let r = Record::parse(&line).unwrap();
    m.record(app, at, &r, &line);
}

fn view(m: &mut Monitor, at: u64, unit: u32, me: &str, leader: &str, term: u64) {
    feed(
        m,
        App::Microgrid,
        at,
        &format!(r#""msg":"group view","actor":"Unit{unit}","me":"{me}","leader":"{leader}","term":{term}"#),
    );
}

fn started(m: &mut Monitor, app: App, at: u64, actor: &str, pid: u32, again: bool) {
    let msg = if again { "actor restarted" } else { "actor started" };
    feed(m, app, at, &format!(r#""msg":"{msg}","actor":"{actor}","pid":{pid}"#));
}

fn balance(m: &mut Monitor, at: u64, unit: u32, units: u32) {
    feed(m, App::Microgrid, at, &format!(r#""msg":"feeder balanced","actor":"Unit{unit}","units":{units}"#));
}

/// Five units that agree on m1 in term 1, at T0 + 1 s; m1 hears all five at T0 + 1.5 s.
fn agreed() -> Monitor {
    let mut m = Monitor::new(T0, 3_000_000, 5_000_000);
    for u in 1..=5 {
        started(&mut m, App::Microgrid, T0, &format!("Unit{u}"), 100 + u, false);
        view(&mut m, T0 + 1_000_000, u, &format!("m{u}"), "m1", 1);
    }
    balance(&mut m, T0 + 1_500_000, 1, 5);
    m
}

#[test]
fn the_stamps_of_the_tests_are_right() {
    assert_eq!(crate::cli::parse_ts(&ts(T0 + 1_500)), Some(T0 + 1_500));
}

#[test]
fn the_start_and_a_killed_leader_recover_with_their_times() {
    let mut m = agreed();
    assert!(m.started.contains_key(&App::Microgrid));
    let f = m.fault_injected(T0 + 5_000_000, App::Microgrid, "Unit1", 101, FaultKind::Kill);
    assert!(m.faults[f].was_leader);
    // A late record of the killed process does not count.
    view(&mut m, T0 + 4_900_000, 1, "m1", "m1", 1);
    assert!(!m.views.contains_key("Unit1"));
    feed(&mut m, App::Microgrid, T0 + 5_050_000, r#""msg":"actor exited; restarting it","actor":"Unit1""#);
    for u in 2..=5 {
        view(&mut m, T0 + 5_400_000, u, &format!("m{u}"), "m3", 2);
    }
    assert_eq!(m.faults[f].failover_us, Some(T0 + 5_400_000));
    started(&mut m, App::Microgrid, T0 + 5_150_000, "Unit1", 201, true);
    assert_eq!(m.faults[f].outcome, Outcome::Pending);
    view(&mut m, T0 + 5_600_000, 1, "n1", "m3", 2);
    assert_eq!(m.faults[f].agreed_us, Some(T0 + 5_600_000));
    // The new leader must also hear from all five: a balance of four, or one from another
    // unit, does not do.
    balance(&mut m, T0 + 6_000_000, 3, 4);
    balance(&mut m, T0 + 6_100_000, 2, 5);
    assert_eq!(m.faults[f].outcome, Outcome::Pending);
    balance(&mut m, T0 + 7_000_000, 3, 5);
    assert_eq!(m.faults[f].outcome, Outcome::Recovered);
    assert_eq!(m.faults[f].recovered_us, Some(T0 + 7_000_000));
    m.tick(T0 + 60_000_000);
    // The estimator never started: that is the only violation.
    let v: Vec<&str> = m.violations.iter().map(|v| v.invariant).collect();
    assert_eq!(v, ["the apps start"], "{:?}", m.violations);
    assert_eq!(m.elections.len(), 2);
    assert_eq!(m.restarts_total(), 1);
}

#[test]
fn a_leader_that_stops_hearing_a_unit_after_a_fault_is_a_violation() {
    let mut m = agreed();
    let f = m.fault_injected(T0 + 5_000_000, App::Microgrid, "Unit3", 103, FaultKind::Stop(700));
    m.continued(f, T0 + 5_700_000);
    // Unit3 loses and finds the same leader again; its view is fine, but the leader hears four.
    view(&mut m, T0 + 5_701_000, 3, "m3", "none", 1);
    view(&mut m, T0 + 5_702_000, 3, "m3", "m1", 1);
    m.tick(T0 + 6_100_000);
    assert_eq!(m.faults[f].agreed_us, Some(T0 + 5_702_000));
    for k in 0..4 {
        balance(&mut m, T0 + 7_500_000 + k * 2_000_000, 1, 4);
    }
    assert_eq!(m.faults[f].outcome, Outcome::Pending);
    m.tick(T0 + 5_700_000 + 3_000_000 + HEAR_EXTRA_US + 400_000);
    assert_eq!(m.faults[f].outcome, Outcome::Missed);
    let v: Vec<&str> = m.violations.iter().map(|v| v.invariant).collect();
    assert_eq!(v, ["the leader hears from every unit soon after a fault"]);
    assert!(m.violations[0].records.last().is_some_and(|r| r.contains(r#""units":4"#)));
}

#[test]
fn two_leaders_in_a_term_and_a_self_exit_are_violations() {
    let mut m = agreed();
    view(&mut m, T0 + 2_000_000, 2, "m2", "m2", 1);
    feed(&mut m, App::Microgrid, T0 + 2_100_000, r#""msg":"actor exited; restarting it","actor":"Unit3""#);
    let v: Vec<&str> = m.violations.iter().map(|v| v.invariant).collect();
    assert_eq!(v, ["one leader per term", "actors exit only when killed"]);
    assert!(m.violations[0].detail.contains("same time"), "{}", m.violations[0].detail);
    assert_eq!(m.violations[0].records.len(), 2);
}

#[test]
fn votes_and_actions_must_agree() {
    let mut m = agreed();
    let result = |m: &mut Monitor, unit: u32, outcome: &str| {
        let f = format!(
            r#""msg":"vote result","actor":"Unit{unit}","vote":"m1#7","stage":"value","setpoint_kw":6.0,"outcome":"{outcome}""#
        );
        feed(m, App::Microgrid, T0 + 2_000_000, &f);
    };
    result(&mut m, 1, "Yes");
    result(&mut m, 2, "Yes");
    assert!(m.violations.is_empty());
    result(&mut m, 3, "Timeout");
    assert_eq!(m.violations.len(), 1);
    let action = |m: &mut Monitor, unit: u32, now: u64| {
        let f = format!(
            r#""msg":"action carried out","actor":"Unit{unit}","vote":"m1#8","setpoint_kw":6.0,"now_us":{now}"#
        );
        feed(m, App::Microgrid, now, &f);
    };
    action(&mut m, 1, T0 + 3_000_000);
    action(&mut m, 2, T0 + 3_040_000);
    assert_eq!(m.violations.len(), 1);
    action(&mut m, 3, T0 + 3_060_000);
    assert_eq!(m.violations.len(), 2);
    assert_eq!(m.violations[1].invariant, "units carry out an action within 50 ms of each other");
    action(&mut m, 3, T0 + 3_060_100);
    assert_eq!(m.violations[2].invariant, "an action is carried out once per unit");
    assert_eq!(m.actions_done, 1);
}

#[test]
fn a_unit_late_because_it_was_stopped_is_excused() {
    let mut m = agreed();
    let action = |m: &mut Monitor, vote: u32, unit: u32, now: u64| {
        let f = format!(
            r#""msg":"action carried out","actor":"Unit{unit}","vote":"m1#{vote}","setpoint_kw":7.5,"now_us":{now}"#
        );
        feed(m, App::Microgrid, now, &f);
    };
    // Unit4 was stopped from 2.9 s to 3.4 s over the agreed time (3 s): it switches on SIGCONT.
    let f = m.fault_injected(T0 + 2_900_000, App::Microgrid, "Unit4", 104, FaultKind::Stop(500));
    m.continued(f, T0 + 3_400_000);
    for unit in [1, 2, 3, 5] {
        action(&mut m, 9, unit, T0 + 3_000_000 + u64::from(unit));
    }
    action(&mut m, 9, 4, T0 + 3_401_000);
    assert!(m.violations.is_empty(), "{:?}", m.violations);
    assert_eq!(m.excused_actions, 1);
    // Unit5 late without having been stopped is not excused.
    for unit in [1, 2, 3, 4] {
        action(&mut m, 10, unit, T0 + 5_000_000 + u64::from(unit));
    }
    let f = format!(
        r#""msg":"action carried out","actor":"Unit5","vote":"m1#10","setpoint_kw":7.5,"now_us":{}"#,
        T0 + 5_300_000
    );
    feed(&mut m, App::Microgrid, T0 + 5_300_000, &f);
    assert_eq!(m.violations.len(), 1, "{:?}", m.violations);
    assert!(m.violations[0].detail.contains("Unit5 carried it out 300.0 ms after"), "{}", m.violations[0].detail);
}

#[test]
fn a_stopped_estimator_must_send_new_estimates_in_time() {
    let mut m = Monitor::new(T0, 3_000_000, 5_000_000);
    started(&mut m, App::Estimator, T0, "Estimator", 11, false);
    let est = |m: &mut Monitor, at: u64, source: &str, seq: u64| {
        let f = format!(r#""msg":"estimate received","actor":"Aggregator","source":"{source}","seq":{seq}"#);
        feed(m, App::Estimator, at, &f);
    };
    est(&mut m, T0 + 1_000_000, "Estimator.filter@h:11", 1);
    assert!(m.started.contains_key(&App::Estimator));
    let f = m.fault_injected(T0 + 2_000_000, App::Estimator, "Estimator", 11, FaultKind::Stop(500));
    m.continued(f, T0 + 2_500_000);
    // The same reading again is not the flow resuming; a newer one is.
    est(&mut m, T0 + 2_600_000, "Estimator.filter@h:11", 1);
    assert_eq!(m.faults[f].outcome, Outcome::Pending);
    est(&mut m, T0 + 3_000_000, "Estimator.filter@h:11", 2);
    assert_eq!(m.faults[f].outcome, Outcome::Recovered);
    // A kill: only the new process's estimates count; none come, so the check is missed.
    let k = m.fault_injected(T0 + 10_000_000, App::Estimator, "Estimator", 11, FaultKind::Kill);
    started(&mut m, App::Estimator, T0 + 10_100_000, "Estimator", 12, true);
    est(&mut m, T0 + 10_200_000, "Estimator.filter@h:11", 3);
    assert_eq!(m.faults[k].outcome, Outcome::Pending);
    m.tick(T0 + 16_000_000);
    assert_eq!(m.faults[k].outcome, Outcome::Missed);
    let v: Vec<&str> = m.violations.iter().map(|v| v.invariant).collect();
    assert!(v.contains(&"the estimates flow again soon after a fault"), "{v:?}");
}

#[test]
fn failures_are_excused_only_right_after_a_kill() {
    let mut m = agreed();
    let panicked = r#""msg":"handler panicked; the component goes on","level":"ERRO","actor":"Unit2""#;
    let line = format!(r#"{{"ts":"{}",{panicked}}}"#, ts(T0 + 2_000_000));
    m.record(App::Microgrid, T0, &Record::parse(&line).unwrap(), &line);
    assert_eq!(m.violations.len(), 1);
    m.fault_injected(T0 + 3_000_000, App::Microgrid, "Unit2", 102, FaultKind::Kill);
    let line = format!(r#"{{"ts":"{}",{panicked}}}"#, ts(T0 + 3_500_000));
    m.record(App::Microgrid, T0, &Record::parse(&line).unwrap(), &line);
    assert_eq!(m.violations.len(), 1);
    m.text_line(App::Microgrid, T0, "thread 'x' panicked at src/lib.rs:1:1");
    assert_eq!(m.violations.len(), 2);
}

#[test]
fn log_records_parse_and_other_lines_do_not() {
    let line = r#"{"msg":"group view","level":"INFO","ts":"2026-11-22T06:05:11.064482396Z","me":"c387","term":0,"members":1,"leading":false,"leader":"none","now_us":1795327514069274,"setpoint_kw":6.0}"#;
    let r = Record::parse(line).unwrap();
    assert_eq!(r.str("msg"), Some("group view"));
    assert_eq!(r.u64("term"), Some(0));
    assert_eq!(r.u64("now_us"), Some(1_795_327_514_069_274));
    assert_eq!(r.f64("setpoint_kw"), Some(6.0));
    assert_eq!(r.str("missing"), None);
    assert_eq!(r.u64("msg"), None);
    for not_a_record in ["", "[1, 2]", "\"text\"", "{\"a\":}", "thread 'x' panicked", &"[".repeat(1000)] {
        assert_eq!(Record::parse(not_a_record), None, "{not_a_record:?}");
    }
}
