//! The live page against the running microgrid (issue 16), in a real browser:
//! `cohort-microgrid run --metrics 127.0.0.1:0` serves it, and headless Chromium, driven over
//! the DevTools pipe (`monitor/tests/support/chromium.rs`), loads it. The page must show the
//! five units running, exactly one leader of the group, and non-zero rates; after a kill -9 of
//! the leader's process it must show, within 2 s each, the unit's restart and a new leader.
//!
//! The microgrid's model declares timers only (its units talk through their group), so its
//! graph has no port flows: the rates checked are the group's traffic and the units' timer
//! handler calls, and every flow's rate if a model has flows.
//!
//! It saves a screenshot to `<target>/test-artifacts/microgrid-page.png`, and with
//! `COHORT_UPDATE_SCREENSHOT=1` copies it to `docs/operations/microgrid.png`. Without Chromium
//! it prints `skipped: chromium not found (apt-get install chromium)` and passes, unless
//! `COHORT_REQUIRE_CHROMIUM=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../monitor/tests/support/chromium.rs"]
mod chromium;
#[path = "../../monitor/tests/support/hooks.rs"]
mod hooks;

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use chromium::Browser;
use cohort_tests::{free_port, signal, AppRun, TempDir};
use serde_json::Value;

const MICROGRID: &str = env!("CARGO_BIN_EXE_cohort-microgrid");
const DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/microgrid/microgrid.depl");
const UNITS: [&str; 5] = ["Unit1", "Unit2", "Unit3", "Unit4", "Unit5"];
/// How long the app may take to start, its units to agree on a leader and report twice.
const START: Duration = Duration::from_secs(20);
/// How soon the page must show a kill -9's restart and the new leader (the bound).
const BOUND: Duration = Duration::from_secs(2);
const WIDTH: u32 = 1440;

/// All five running, one group whose one leader is a unit, traffic in the group, every unit's
/// handlers called, and every flow (if any) carrying messages.
const SETTLED: &str = "Object.keys(s.actors).length === 5
  && Object.values(s.actors).every((a) => a.state === 'running')
  && s.groups.length === 1 && s.groups[0].leaders === '1' && s.groups[0].leader !== ''
  && s.groups[0].members === '5' && Number(s.groups[0].rate) > 0
  && Object.keys(s.actors).every((u) => Object.entries(s.ports).some(([k, p]) => k.startsWith(u + '.') && Number(p.callsRate) > 0))
  && Object.values(s.flows).every((r) => Number(r) > 0)";

fn note(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[test]
fn the_page_shows_the_microgrid_and_a_killed_leaders_restart_and_successor() {
    let test = "the_page_shows_the_microgrid_and_a_killed_leaders_restart_and_successor";
    let Some(program) = chromium::find_or_skip(test) else {
        return;
    };
    let dir = TempDir::new("web-view").unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let run = run.display().to_string();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let args = ["run", "--deployment", DEPLOYMENT, "--daemon", &daemon, "--interface", "lo", "--log-format", "json"];
    let args: Vec<&str> = args.into_iter().chain(["--insecure", "--metrics", "127.0.0.1:0"]).collect();
    let mut app = AppRun::start("microgrid", MICROGRID, &args, &[("XDG_RUNTIME_DIR", &run)]).unwrap();
    let (_, url) = app
        .wait("serving the live page", START, |r| {
            (r.msg() == "serving metrics and the live page").then(|| r.text("url").to_owned())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    note(&format!("microgrid: the live page is at {url}"));

    let mut browser = Browser::launch(&program, WIDTH, 900).unwrap();
    let started = Instant::now();
    browser.navigate(&url).unwrap();
    let page =
        browser.wait_for("the five units settled", &hooks::when(SETTLED), START).unwrap_or_else(|e| panic!("{e}"));
    note(&format!("page: five units running under one leader after {} ms", ms(started.elapsed())));
    assert_eq!(page["problem"], "", "{page:#}");
    assert_eq!(page["connection"], "live");
    assert_eq!(page["app"], "Microgrid");
    let units: Vec<&str> = page["actors"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(units, UNITS);

    // The leader: its unit, and that unit's process as the page and the launcher's log say.
    let group = &page["groups"][0];
    let old_leader = group["leader"].as_str().unwrap().to_owned();
    let victim = group["leaderActor"].as_str().unwrap().to_owned();
    assert!(UNITS.contains(&victim.as_str()), "the leader runs on {victim:?}: {page:#}");
    let pid: i32 = page["actors"][&victim]["pid"].as_str().unwrap().parse().unwrap();
    app.drain();
    assert_eq!(app.actor_pids().get(&victim), Some(&pid), "{victim}'s process");

    signal(pid, libc::SIGKILL).unwrap();
    let killed = Instant::now();
    let (mut restart, mut successor) = (None, None);
    let mut last = Value::Null;
    while (restart.is_none() || successor.is_none()) && killed.elapsed() <= BOUND + BOUND {
        if let Ok(now) = browser.eval(hooks::SNAPSHOT) {
            let unit = &now["actors"][&victim];
            if restart.is_none() && unit["restarts"].as_u64() >= Some(1) {
                restart = Some(killed.elapsed());
            }
            let group = &now["groups"][0];
            let leader = group["leader"].as_str().unwrap_or_default();
            if successor.is_none() && !leader.is_empty() && leader != old_leader && group["leaders"] == "1" {
                successor = Some((killed.elapsed(), group["leaderActor"].as_str().unwrap_or_default().to_owned()));
            }
            last = now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let restart = restart.unwrap_or_else(|| panic!("no restart of {victim} on the page: {last:#}"));
    let (successor, new_unit) = successor.unwrap_or_else(|| panic!("no new leader on the page: {last:#}"));
    note(&format!(
        "WEB kill -9 leader {victim}: the page shows its restart after {} ms, the new leader ({new_unit}) after {} ms (bound {} ms)",
        ms(restart),
        ms(successor),
        ms(BOUND)
    ));
    assert!(restart <= BOUND, "the restart of {victim} showed after {restart:?}, more than {BOUND:?}");
    assert!(successor <= BOUND, "the new leader showed after {successor:?}, more than {BOUND:?}");

    // The restarted unit comes back under a leader; then the picture is taken.
    let back = format!("{SETTLED} && s.actors['{victim}'].restarts === 1 && s.actors['{victim}'].pid !== '{pid}'");
    browser.wait_for("all five back", &hooks::when(&back), START).unwrap_or_else(|e| panic!("{e}"));
    // Each unit's 500 ms timer shows at 2 calls/s once the page has a few reports of it.
    let ticking =
        format!("{back} && {UNITS:?}.every((u) => Math.abs(Number(s.ports[u + '.ctl.tick'].callsRate) - 2) <= 0.4)");
    browser.wait_for("every unit's timer at 2/s", &hooks::when(&ticking), START).unwrap_or_else(|e| panic!("{e}"));
    let shot = chromium::artifacts_dir().join("microgrid-page.png");
    browser.screenshot(&shot, WIDTH).unwrap();
    note(&format!("page: screenshot at {}", shot.display()));
    if std::env::var("COHORT_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&shot, docs.join("microgrid.png")).unwrap();
        note(&format!("page: copied to {}", docs.join("microgrid.png").display()));
    }
    drop(browser);
    app.stop();
}
