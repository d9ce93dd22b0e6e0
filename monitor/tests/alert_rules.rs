//! The scrape config and the alert rules of docs/operations.md, as promtool reads them: the
//! rules check, the config (with the rules) checks, and each rule fires when it should and only
//! then (`promtool test rules`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use support::{assert_promtool_ok, promtool};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md");

/// The ```yaml block of docs/operations.md whose first line starts with `first`.
fn yaml_block(first: &str) -> String {
    let doc = std::fs::read_to_string(DOC).unwrap();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() == "```yaml" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim_end() != "```").collect();
            if block.first().is_some_and(|l| l.starts_with(first)) {
                return block.join("\n") + "\n";
            }
        }
    }
    panic!("docs/operations.md has no ```yaml block starting with {first:?}");
}

/// A fresh folder for one test's files.
fn folder(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("alert_rules-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the rules block as `cohort-alerts.yml` (the name the scrape config gives) into a
/// fresh folder, and returns the folder.
fn rules_in_folder(test: &str) -> PathBuf {
    let dir = folder(test);
    std::fs::write(dir.join("cohort-alerts.yml"), yaml_block("groups:")).unwrap();
    dir
}

fn run(test: &str, args: &[&str]) {
    if let Some(output) = promtool(test, args, "") {
        assert_promtool_ok(&output, &args.join(" "));
    }
}

#[test]
fn promtool_checks_the_alert_rules() {
    let dir = rules_in_folder("check");
    run("promtool_checks_the_alert_rules", &["check", "rules", dir.join("cohort-alerts.yml").to_str().unwrap()]);
}

#[test]
fn promtool_checks_the_scrape_config_with_its_rules() {
    let dir = rules_in_folder("config");
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, yaml_block("scrape_configs:")).unwrap();
    run("promtool_checks_the_scrape_config_with_its_rules", &["check", "config", config.to_str().unwrap()]);
}

/// `promtool test rules` input: series and the alerts expected of them.
const RULE_TESTS: &str = r#"
rule_files:
  - cohort-alerts.yml
evaluation_interval: 1s
tests:
  # feeder1 loses its leader at 6 s and elects none; feeder2 fails over within 1 s.
  - interval: 1s
    input_series:
      - series: 'cohort_group_leader{app="Microgrid",host="node-1",actor="Unit1",instance="unit",group_type="Feeder",group="feeder1"}'
        values: '1x5 0x40'
      - series: 'cohort_group_leader{app="Microgrid",host="node-2",actor="Unit2",instance="unit",group_type="Feeder",group="feeder1"}'
        values: '0x45'
      - series: 'cohort_group_leader{app="Microgrid",host="node-1",actor="Unit3",instance="unit",group_type="Feeder",group="feeder2"}'
        values: '1x5 0x40'
      - series: 'cohort_group_leader{app="Microgrid",host="node-2",actor="Unit4",instance="unit",group_type="Feeder",group="feeder2"}'
        values: '0x6 1x39'
    alert_rule_test:
      - eval_time: 3s
        alertname: CohortGroupWithoutLeader
        exp_alerts: []
      - eval_time: 12s
        alertname: CohortGroupWithoutLeader
        exp_alerts: []
      - eval_time: 20s
        alertname: CohortGroupWithoutLeader
        exp_alerts:
          - exp_labels:
              severity: critical
              app: Microgrid
              group_type: Feeder
              group: feeder1
            exp_annotations:
              summary: "Group Feeder/feeder1 of Microgrid has had no leader for 10 s"
  # Unit1 restarts every minute; Unit2 once.
  - interval: 1m
    input_series:
      - series: 'cohort_actor_restarts_total{app="Microgrid",host="node-1",actor="Unit1"}'
        values: '0+1x10'
      - series: 'cohort_actor_restarts_total{app="Microgrid",host="node-1",actor="Unit2"}'
        values: '0 1x10'
    alert_rule_test:
      - eval_time: 2m
        alertname: CohortActorRestartLoop
        exp_alerts: []
      - eval_time: 6m
        alertname: CohortActorRestartLoop
        exp_alerts:
          - exp_labels:
              severity: warning
              app: Microgrid
              host: node-1
              actor: Unit1
            exp_annotations:
              summary: "Actor Unit1 of Microgrid on node-1 restarted more than 3 times in 5 minutes"
  # A handler misses its deadline three times between 70 s and 90 s, then no more.
  - interval: 10s
    input_series:
      - series: 'cohort_handler_deadline_misses_total{app="Microgrid",host="node-1",actor="Unit1",instance="unit",port="tick"}'
        values: '0x6 1 2 3x12'
    alert_rule_test:
      - eval_time: 60s
        alertname: CohortHandlerDeadlineMisses
        exp_alerts: []
      - eval_time: 100s
        alertname: CohortHandlerDeadlineMisses
        exp_alerts:
          - exp_labels:
              severity: warning
              app: Microgrid
              host: node-1
              actor: Unit1
              instance: unit
              port: tick
            exp_annotations:
              summary: "Handler of Unit1.unit.tick (Microgrid) misses its deadline"
      - eval_time: 190s
        alertname: CohortHandlerDeadlineMisses
        exp_alerts: []
"#;

#[test]
fn each_alert_rule_fires_when_it_should_and_only_then() {
    let dir = rules_in_folder("test");
    let tests = dir.join("cohort-alerts.test.yml");
    std::fs::write(&tests, RULE_TESTS).unwrap();
    run("each_alert_rule_fires_when_it_should_and_only_then", &["test", "rules", tests.to_str().unwrap()]);
}
