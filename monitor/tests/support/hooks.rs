//! The live page's test hooks (documented at the top of `monitor/web/index.html`), read in one
//! JavaScript expression, for `monitor/tests/page.rs` and `tests/tests/web_view.rs`.
#![allow(dead_code)] // Each test uses part of it.

/// A JavaScript expression whose value is what the page shows now:
///
/// ```text
/// { updates, connection, app, host, problem,
///   actors: { NAME: { state, restarts, pid } },
///   groups: [ { group, leader, leaderActor, term, leaders, members, rate } ],
///   flows: { "A.I.P->A.I.P": "12.5" },             // "" when no end has reported
///   ports: { "A.I.P": { kind, in, out, callsRate } },
///   warnings: [ text, ... ],                       // newest first
///   columns: [ actor, ... ],                       // the graph's columns, left to right
///   buses: { "TYPE.INSTANCE": "30" } }             // the graph's group bars and their msg/s
/// ```
pub(crate) const SNAPSHOT: &str = r#"(() => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const text = (id) => document.getElementById(id).textContent;
  return {
    updates: Number(document.body.dataset.updates || 0),
    connection: document.getElementById('conn').dataset.connection,
    app: text('app'),
    host: text('host'),
    problem: text('problem'),
    actors: Object.fromEntries(all('tr[data-actor]').map((r) => [r.dataset.actor,
      { state: r.dataset.state, restarts: Number(r.dataset.restarts), pid: r.dataset.pid }])),
    groups: all('tr[data-group]').map((r) => ({ ...r.dataset })),
    flows: Object.fromEntries(all('[data-flow]').map((e) => [e.dataset.flow, e.dataset.rate])),
    ports: Object.fromEntries(all('tr[data-port]').map((r) => [r.dataset.port,
      { kind: r.dataset.kind, in: r.dataset.in, out: r.dataset.out, callsRate: r.dataset.callsRate }])),
    warnings: all('#warnings li[data-at] .text').map((e) => e.textContent),
    columns: all('g[data-column]').map((g) => g.dataset.column),
    buses: Object.fromEntries(all('[data-group-bus]').map((e) => [e.dataset.groupBus, e.dataset.rate])),
  };
})()"#;

/// An expression whose value is the [`SNAPSHOT`] when `condition` (JavaScript over the snapshot
/// `s`) holds, else `null`: for `Browser::wait_for`.
pub(crate) fn when(condition: &str) -> String {
    format!("(() => {{ const s = {SNAPSHOT}; return ({condition}) ? s : null; }})()")
}
