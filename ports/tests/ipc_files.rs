#![allow(clippy::unwrap_used, clippy::expect_used)]
//! ipc endpoints leave no files behind: a dropped port removes its file, and files of dead
//! processes are swept.

mod common;

use cohort_ports::*;
use common::*;

fn socks(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&env.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sock"))
        .collect();
    names.sort();
    names
}

#[test]
fn dropped_ports_remove_their_ipc_files_and_stale_files_are_swept() {
    let env = Env::new("ipc-files");
    let publisher = env.factory.publisher(&PortSpec::new("s", "out", PortKind::Pub, Scope::Local, "M")).unwrap();
    let replier =
        env.factory.replier(&PortSpec::new("s", "rep", PortKind::Rep, Scope::Local, "Q").with_reply("A")).unwrap();
    assert_eq!(socks(&env).len(), 2);
    let own = format!("{}-", std::process::id());
    assert!(socks(&env).iter().all(|n| n.starts_with(&own)), "{:?}", socks(&env));
    drop(publisher);
    drop(replier);
    assert_eq!(socks(&env), Vec::<String>::new());

    // A file of a process that no longer exists is swept; one of a live process is kept.
    let dead = env.dir.join("2147483646-deadbeefdead.sock");
    let live = env.dir.join(format!("{}-0123456789ab.sock", std::process::id()));
    std::fs::write(&dead, b"").unwrap();
    std::fs::write(&live, b"").unwrap();
    assert_eq!(env.factory.addressing().remove_stale_ipc(), 1);
    assert!(!dead.exists() && live.exists());
}
