//! JSON output, identical in structure to what RIAPS's compiler writes (`riaps_lang` for apps,
//! `riaps_depll` for deployments), so RIAPS tools and Cohort read the same files.
//!
//! Units are converted as RIAPS does: times to milliseconds, memory and disk to kilobytes,
//! network rates to bytes per second (×1024, truncated), burst sizes to bytes. One deliberate
//! difference: `mem` and `space` without a unit are megabytes (RIAPS writes `null`).

use crate::ast::{
    Actor, ActorScheduler, ActualValue, App, Component, ComponentScheduler, Formal, GroupKind, Language, Port,
    PortKind, PortMessages, RateUnit, SizeUnit, TimeUnit, Usage,
};
use crate::deployment::{Deployment, DeploymentValue, HostTarget, Location, Network, NetworkAccess};
use serde_json::{json, Map, Value};

/// The app model as RIAPS's `<App>.json`.
pub fn app_json(app: &App) -> Value {
    let mut components = Map::new();
    let mut devices = Map::new();
    for component in &app.components {
        let target = if component.is_device { &mut devices } else { &mut components };
        target.insert(component.name.name.clone(), component_json(component));
    }
    let actors: Map<String, Value> = app.actors.iter().map(|a| (a.name.name.clone(), actor_json(a))).collect();
    json!({
        "name": app.name.name,
        "messages": app.messages.iter().map(|m| json!({"name": m.name})).collect::<Vec<_>>(),
        "groups": app.groups.iter().map(|g| {
            let params: Map<String, Value> = g.params.iter().map(|p| (p.name.name.clone(), json!(p.value))).collect();
            json!({
                "name": g.name.name,
                "kind": match g.kind { GroupKind::Default => "default", GroupKind::Leader => "leader", GroupKind::Consensus => "consensus" },
                "message": g.message.name,
                "timed": g.timed,
                "params": params,
            })
        }).collect::<Vec<_>>(),
        "libraries": app.libraries.iter().map(|l| json!({"name": l.name})).collect::<Vec<_>>(),
        "components": components,
        "devices": devices,
        "actors": actors,
    })
}

fn formals_json(formals: &[Formal]) -> Value {
    Value::Array(
        formals
            .iter()
            .map(|f| match &f.default {
                Some(default) => json!({"name": f.name.name, "default": default.value.to_json()}),
                None => json!({"name": f.name.name}),
            })
            .collect(),
    )
}

fn component_json(component: &Component) -> Value {
    let mut ports: Map<String, Value> =
        ["pubs", "subs", "clts", "srvs", "reqs", "reps", "qrys", "anss", "tims", "inss"]
            .iter()
            .map(|k| (k.to_string(), json!({})))
            .collect();
    // `index` numbers the input-side ports (all but pub and clt) in source order, from 1.
    let mut index = 0;
    for port in &component.ports {
        let (group, spec) = port_json(port, &mut index);
        if let Some(Value::Object(map)) = ports.get_mut(group) {
            map.insert(port.name.name.clone(), spec);
        }
    }
    let mut object = json!({
        "name": component.name.name,
        "formals": formals_json(&component.formals),
        "language": match component.language { Language::Default => "default", Language::Cpp => "cpp", Language::Python => "py" },
        "ports": ports,
    });
    if !component.is_device {
        object["scheduler"] = json!(match component.scheduler {
            ComponentScheduler::Default => "default",
            ComponentScheduler::Priority => "priority",
            ComponentScheduler::RoundRobin => "rr",
        });
    }
    object
}

fn port_json(port: &Port, index: &mut i64) -> (&'static str, Value) {
    let deadline = port.deadline.map_or(0, |d| d.millis(TimeUnit::Msec));
    let mut next_index = || {
        *index += 1;
        *index
    };
    let name_of = |m: &Option<crate::ast::Ident>| m.as_ref().map_or(Value::Null, |m| json!(m.name));
    let (req_type, rep_type) = match &port.messages {
        PortMessages::Pair { request, reply, .. } => (name_of(request), name_of(reply)),
        _ => (Value::Null, Value::Null),
    };
    let single = match &port.messages {
        PortMessages::One(m) => json!(m.name),
        _ => Value::Null,
    };
    match port.kind {
        PortKind::Pub => ("pubs", json!({"type": single, "timed": port.timed})),
        PortKind::Sub => {
            ("subs", json!({"type": single, "timed": port.timed, "deadline": deadline, "index": next_index()}))
        }
        PortKind::Clt => ("clts", json!({"req_type": req_type, "rep_type": rep_type, "timed": port.timed})),
        PortKind::Timer => (
            "tims",
            json!({"period": port.period.map_or(0, |p| p.millis(TimeUnit::Msec)), "deadline": deadline, "index": next_index()}),
        ),
        PortKind::Inside => ("inss", json!({"spec": port.inside_default, "index": next_index()})),
        kind => {
            let group = match kind {
                PortKind::Srv => "srvs",
                PortKind::Req => "reqs",
                PortKind::Rep => "reps",
                PortKind::Qry => "qrys",
                _ => "anss",
            };
            (
                group,
                json!({"req_type": req_type, "rep_type": rep_type, "timed": port.timed, "deadline": deadline, "index": next_index()}),
            )
        }
    }
}

fn bytes_per_second((amount, unit): (f64, RateUnit)) -> i64 {
    unit.bytes_per_second(amount) as i64
}

fn actor_json(actor: &Actor) -> Value {
    let mut usage = json!({"cpu": {}, "mem": {}, "spc": {}, "net": {}});
    for clause in &actor.usage {
        match clause {
            Usage::Cpu { max, percent, interval, .. } => {
                // `over N` without a unit is seconds, as in RIAPS.
                let interval = interval.map_or(0, |i| i.millis(TimeUnit::Sec));
                usage["cpu"] = json!({"use": percent, "max": max, "interval": interval});
            }
            Usage::Mem { amount, unit, .. } => usage["mem"] = json!({"use": SizeUnit::kilobytes(*amount, *unit)}),
            Usage::Space { amount, unit, .. } => usage["spc"] = json!({"use": SizeUnit::kilobytes(*amount, *unit)}),
            Usage::Net { rate, ceil, burst, .. } => {
                usage["net"] = json!({
                    "rate": bytes_per_second(*rate),
                    "ceil": ceil.map_or(0, bytes_per_second),
                    "burst": burst.map_or(0, |b| (b * 1024.0) as i64),
                });
            }
        }
    }
    let scheduler = match actor.scheduler {
        None => json!({}),
        Some(ActorScheduler::RoundRobin) => json!({"policy": "rr", "priority": 0}),
        Some(ActorScheduler::Priority(p)) => json!({"policy": "pri", "priority": p}),
    };
    let instances: Map<String, Value> = actor
        .instances
        .iter()
        .map(|i| {
            let actuals: Vec<Value> = i
                .actuals
                .iter()
                .map(|a| match &a.value {
                    ActualValue::Literal(lit) => json!({"name": a.name.name, "value": lit.value.to_json()}),
                    ActualValue::Param(p) => json!({"name": a.name.name, "param": p.name}),
                })
                .collect();
            (i.name.name.clone(), json!({"type": i.component.name, "actuals": actuals}))
        })
        .collect();
    json!({
        "real-time": actor.real_time,
        "formals": formals_json(&actor.formals),
        "locals": actor.locals.iter().map(|m| json!({"type": m.name})).collect::<Vec<_>>(),
        "internals": actor.internals.iter().map(|m| json!({"type": m.name})).collect::<Vec<_>>(),
        "usage": usage,
        "scheduler": scheduler,
        "instances": instances,
    })
}

/// The deployment as RIAPS's `<App>-deplo.json`: `{App: {deployment: [...], network: {...}}}`.
pub fn deployment_json(deployment: &Deployment) -> Value {
    let placements: Vec<Value> = deployment
        .placements
        .iter()
        .map(|p| {
            let target: Vec<&str> = match &p.location {
                Location::All => Vec::new(),
                Location::Hosts(hosts) => hosts.iter().map(|h| h.name.as_str()).collect(),
            };
            let actors: Vec<Value> = p
                .actors
                .iter()
                .map(|a| {
                    let actuals: Vec<Value> = a
                        .actuals
                        .iter()
                        .map(|x| {
                            let value = match &x.value {
                                DeploymentValue::Literal(lit) => lit.value.to_json(),
                                DeploymentValue::Name(n) => json!(n.name),
                            };
                            json!({"name": x.name.name, "value": value})
                        })
                        .collect();
                    json!({"name": a.name.name, "actuals": actuals})
                })
                .collect();
            json!({"target": target, "actors": actors})
        })
        .collect();
    let mut network = Map::new();
    for block in &deployment.hosts {
        let key = match &block.target {
            HostTarget::All => "[]".to_string(),
            HostTarget::Host(h) => h.name.clone(),
        };
        let access: Vec<Value> = match &block.network {
            Network::Any => Vec::new(),
            Network::Access(entries) => entries
                .iter()
                .map(|e| match e {
                    NetworkAccess::Dns => json!("dns"),
                    NetworkAccess::Host(h) => json!(h.name),
                })
                .collect(),
        };
        network.insert(key, Value::Array(access));
    }
    let mut root = Map::new();
    root.insert(deployment.app.name.clone(), json!({"deployment": placements, "network": network}));
    Value::Object(root)
}
