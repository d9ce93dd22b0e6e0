//! Parser for the `.riaps` application-model language (the RIAPS v2 grammar).
//!
//! It accepts what RIAPS's textX grammar accepts, with the same element order, and keeps going
//! after a syntax error: the broken statement or block is skipped and parsing resumes, so one run
//! reports every independent error.

use crate::ast::{
    Actor, ActorScheduler, Actual, ActualValue, App, Component, ComponentScheduler, Formal, Group, GroupKind,
    GroupParam, Ident, Instance, Language, Model, Port, PortKind, PortMessages, RateUnit, SizeUnit, TimeUnit,
    TimeValue, Usage, GROUP_PARAMS,
};
use crate::cursor::{Comments, Cursor, Fail, Parse};
use crate::diagnostic::Diagnostic;
use crate::literal::Literal;
use crate::source::Span;

/// Parses a `.riaps` file. The model holds everything that parsed; the diagnostics hold every
/// syntax error (and warning) found.
pub fn parse_app_model(text: &str) -> (Model, Vec<Diagnostic>) {
    let mut c = Cursor::new(text, Comments::LineAndBlock);
    let mut model = Model::default();
    loop {
        if c.at_end() {
            break;
        }
        let start = c.pos();
        if c.peek("app") {
            match app(&mut c) {
                Ok(Some(app)) => model.apps.push(app),
                Ok(None) => break,
                Err(Fail) => {
                    if !c.report_syntax_error() {
                        break;
                    }
                    c.recover_item(start, &["app"]);
                }
            }
        } else {
            c.expect("end of file");
            if !c.report_syntax_error() {
                break;
            }
            c.recover_item(start, &["app"]);
            if c.pos() == start {
                c.bump();
            }
        }
    }
    (model, c.diagnostics)
}

/// Where a member may appear in an app body: messages, groups, libraries, components, actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Messages,
    Groups,
    Libraries,
    Components,
    Actors,
}

const MEMBER_KEYWORDS: [(&str, Phase); 7] = [
    ("message", Phase::Messages),
    ("group", Phase::Groups),
    ("library", Phase::Libraries),
    ("component", Phase::Components),
    ("device", Phase::Components),
    ("real-time", Phase::Actors),
    ("actor", Phase::Actors),
];

/// Keywords that begin an app member, where recovery from a broken member stops.
const MEMBER_SYNC: [&str; 7] = ["message", "group", "library", "component", "device", "real-time", "actor"];

const MEMBER_ORDER_HELP: &str =
    "an app declares its messages first, then groups, libraries, components and devices, and actors last";

/// `app Name { ... }`. Returns None when parsing must stop (too many errors).
fn app(c: &mut Cursor<'_>) -> Parse<Option<App>> {
    c.must("app")?;
    let name = c.ident("an app name")?;
    c.must("{")?;
    let mut app = App {
        name,
        messages: Vec::new(),
        groups: Vec::new(),
        libraries: Vec::new(),
        components: Vec::new(),
        actors: Vec::new(),
    };
    let mut phase = Phase::Messages;
    loop {
        c.skip_trivia();
        let start = c.pos();
        let complete = !app.components.is_empty() && !app.actors.is_empty();
        for (kw, kw_phase) in MEMBER_KEYWORDS {
            if kw_phase >= phase {
                c.expect(kw);
            }
        }
        if complete && c.eat("}").is_some() {
            return Ok(Some(app));
        }
        let found = MEMBER_KEYWORDS.iter().find(|(kw, _)| c.looking_at(kw)).map(|(_, p)| *p);
        let result = match found {
            Some(member_phase) => {
                if member_phase < phase {
                    let diagnostic = c.take_syntax_error().with_help(MEMBER_ORDER_HELP);
                    if !c.push_syntax_error(diagnostic) {
                        return Ok(None);
                    }
                }
                phase = phase.max(member_phase);
                member(c, &mut app, member_phase)
            }
            None => Err(Fail),
        };
        if result.is_err() {
            if !c.report_syntax_error() {
                return Ok(None);
            }
            if c.at_end() {
                return Ok(Some(app));
            }
            c.recover_item(start, &MEMBER_SYNC);
            if c.pos() == start && !c.peek("}") {
                c.bump();
            } else if c.pos() == start {
                // The app is closed before it has a component or an actor: the error is
                // reported, so accept the `}` and move on.
                c.bump();
                return Ok(Some(app));
            }
        }
    }
}

fn member(c: &mut Cursor<'_>, app: &mut App, phase: Phase) -> Parse<()> {
    match phase {
        Phase::Messages => {
            c.must("message")?;
            let name = c.ident("a message name")?;
            app.messages.push(name);
            c.end_statement(&MEMBER_SYNC)?;
        }
        Phase::Groups => app.groups.push(group(c)?),
        Phase::Libraries => {
            c.must("library")?;
            let name = match c.string() {
                Ok(Literal { value: crate::literal::Value::Str(s), span }) => Ident { name: s, span },
                _ => c.ident("a library name")?,
            };
            app.libraries.push(name);
            c.end_statement(&MEMBER_SYNC)?;
        }
        Phase::Components => app.components.push(component(c)?),
        Phase::Actors => app.actors.push(actor(c)?),
    }
    Ok(())
}

/// `group G [with leader|with consensus] using M [timed] [p = N, ...];`
fn group(c: &mut Cursor<'_>) -> Parse<Group> {
    c.must("group")?;
    let name = c.ident("a group name")?;
    let mut kind = GroupKind::Default;
    if c.eat("with").is_some() {
        kind = c.eat_choice(&[("leader", GroupKind::Leader), ("consensus", GroupKind::Consensus)]).ok_or(Fail)?.0;
    }
    c.must("using")?;
    let message = c.ident("a message name")?;
    let timed = c.eat("timed").is_some();
    let mut params = Vec::new();
    let param_names: Vec<(&'static str, &'static str)> = GROUP_PARAMS.iter().map(|p| (*p, *p)).collect();
    if let Some((first, span)) = c.eat_choice(&param_names) {
        params.push(group_param(c, first, span)?);
        while c.eat(",").is_some() {
            let (next, span) = c.eat_choice(&param_names).ok_or(Fail)?;
            params.push(group_param(c, next, span)?);
        }
    }
    c.end_statement(&MEMBER_SYNC)?;
    Ok(Group { name, kind, message, timed, params })
}

fn group_param(c: &mut Cursor<'_>, name: &str, span: Span) -> Parse<GroupParam> {
    c.must("=")?;
    let (value, value_span) = c.int("an integer (milliseconds)")?;
    Ok(GroupParam { name: Ident { name: name.to_string(), span }, value, value_span })
}

const LANGUAGES: [(&str, Language); 6] = [
    ("c++", Language::Cpp),
    ("cpp", Language::Cpp),
    ("C++", Language::Cpp),
    ("Python", Language::Python),
    ("python", Language::Python),
    ("py", Language::Python),
];

/// `component|device Name [(formals)] [in Lang] [scheduler priority|rr ;] { ports }`
fn component(c: &mut Cursor<'_>) -> Parse<Component> {
    let (is_device, _) = c.eat_choice(&[("component", false), ("device", true)]).ok_or(Fail)?;
    let name = c.ident(if is_device { "a device name" } else { "a component name" })?;
    let formals = if c.eat("(").is_some() { formals(c)? } else { Vec::new() };
    let language = if c.eat("in").is_some() { c.eat_choice(&LANGUAGES).ok_or(Fail)?.0 } else { Language::Default };
    let mut scheduler = ComponentScheduler::Default;
    if c.eat("scheduler").is_some() {
        scheduler = c
            .eat_choice(&[("priority", ComponentScheduler::Priority), ("rr", ComponentScheduler::RoundRobin)])
            .ok_or(Fail)?
            .0;
        c.must(";")?;
    }
    c.must("{")?;
    let mut ports = Vec::new();
    block_items(c, &PORT_SYNC, |c| {
        ports.push(port(c)?);
        Ok(())
    })?;
    Ok(Component { name, is_device, formals, language, scheduler, ports })
}

/// Parses items until the closing `}` (consumed), recovering from errors in single items.
/// `sync` lists the keywords that begin an item.
fn block_items(c: &mut Cursor<'_>, sync: &[&str], mut item: impl FnMut(&mut Cursor<'_>) -> Parse<()>) -> Parse<()> {
    loop {
        if c.looking_at("}") {
            c.bump();
            return Ok(());
        }
        if c.at_end() {
            c.expect("}");
            return Err(Fail);
        }
        let start = c.pos();
        if item(c).is_err() {
            c.expect_at(start, "}");
            if !c.report_syntax_error() {
                return Err(Fail);
            }
            c.recover_item(start, sync);
            if c.pos() == start && !c.peek("}") {
                c.bump();
            }
        }
    }
}

/// `(formal, ...)` after the opening parenthesis.
fn formals(c: &mut Cursor<'_>) -> Parse<Vec<Formal>> {
    let mut formals = Vec::new();
    if c.eat(")").is_some() {
        return Ok(formals);
    }
    loop {
        let name = c.ident("a parameter name")?;
        let default = if c.eat("=").is_some() { Some(c.literal()?) } else { None };
        formals.push(Formal { name, default });
        if c.eat(",").is_none() {
            c.must(")")?;
            return Ok(formals);
        }
    }
}

const PORT_KINDS: [(&str, PortKind); 10] = [
    ("pub", PortKind::Pub),
    ("sub", PortKind::Sub),
    ("clt", PortKind::Clt),
    ("srv", PortKind::Srv),
    ("req", PortKind::Req),
    ("rep", PortKind::Rep),
    ("timer", PortKind::Timer),
    ("inside", PortKind::Inside),
    ("qry", PortKind::Qry),
    ("ans", PortKind::Ans),
];

/// Keywords that begin a port, where recovery from a broken port stops.
const PORT_SYNC: [&str; 10] = ["pub", "sub", "clt", "srv", "req", "rep", "timer", "inside", "qry", "ans"];

const TIME_UNITS: [(&str, TimeUnit); 3] = [("msec", TimeUnit::Msec), ("sec", TimeUnit::Sec), ("min", TimeUnit::Min)];

fn port(c: &mut Cursor<'_>) -> Parse<Port> {
    let (kind, _) = c.eat_choice(&PORT_KINDS).ok_or(Fail)?;
    let name = c.ident("a port name")?;
    let mut port = Port {
        name,
        kind,
        messages: PortMessages::None,
        timed: false,
        deadline: None,
        period: None,
        inside_default: false,
    };
    match kind {
        PortKind::Timer => {
            if let Ok((amount, span)) = c.int("a period") {
                let unit = c.eat_choice(&TIME_UNITS).map(|(u, _)| u);
                port.period = Some(TimeValue { amount, unit, span });
            }
            port.deadline = within(c)?;
        }
        PortKind::Inside => port.inside_default = c.eat("default").is_some(),
        PortKind::Pub | PortKind::Sub => {
            c.must(":")?;
            port.messages = PortMessages::One(c.ident("a message name")?);
            port.timed = c.eat("timed").is_some();
            if kind == PortKind::Sub {
                port.deadline = within(c)?;
            }
        }
        _ => {
            c.must(":")?;
            let open = c.must("(")?;
            let request = c.ident("a message name").ok();
            c.must(",")?;
            let reply = c.ident("a message name").ok();
            let close = c.must(")")?;
            port.messages = PortMessages::Pair { request, reply, span: Span::new(open.start, close.end) };
            port.timed = c.eat("timed").is_some();
            if kind != PortKind::Clt {
                port.deadline = within(c)?;
            }
        }
    }
    c.end_statement(&PORT_SYNC)?;
    Ok(port)
}

/// `[within N [unit]]`
fn within(c: &mut Cursor<'_>) -> Parse<Option<TimeValue>> {
    if c.eat("within").is_none() {
        return Ok(None);
    }
    let (amount, span) = c.int("a deadline")?;
    let unit = c.eat_choice(&TIME_UNITS).map(|(u, _)| u);
    Ok(Some(TimeValue { amount, unit, span }))
}

const ACTOR_CLAUSE_HELP: &str =
    "actor clauses come in this order: local, internal, uses, scheduler, then the instances";

/// `[real-time] actor Name [(formals)] { [local ..;] [internal ..;] [uses {..}] [scheduler ..;] { instances } }`
fn actor(c: &mut Cursor<'_>) -> Parse<Actor> {
    let real_time = c.eat("real-time").is_some();
    c.must("actor")?;
    let name = c.ident("an actor name")?;
    let formals = if c.eat("(").is_some() { formals(c)? } else { Vec::new() };
    c.must("{")?;
    let mut actor = Actor {
        name,
        real_time,
        formals,
        locals: Vec::new(),
        internals: Vec::new(),
        usage: Vec::new(),
        scheduler: None,
        instances: Vec::new(),
    };
    const CLAUSES: [&str; 4] = ["local", "internal", "uses", "scheduler"];
    let mut next_clause = 0;
    loop {
        for kw in &CLAUSES[next_clause..] {
            c.expect(kw);
        }
        if c.peek("{") {
            break;
        }
        let Some(index) = CLAUSES.iter().position(|kw| c.looking_at(kw)) else {
            return Err(Fail);
        };
        if index < next_clause {
            let diagnostic = c.take_syntax_error().with_help(ACTOR_CLAUSE_HELP);
            c.push_syntax_error(diagnostic);
        }
        next_clause = next_clause.max(index + 1);
        let start = c.pos();
        let result = actor_clause(c, &mut actor, CLAUSES[index]);
        if result.is_err() {
            if !c.report_syntax_error() {
                return Err(Fail);
            }
            c.recover_item(start, &CLAUSES);
            if c.pos() == start {
                c.bump();
            }
        }
    }
    c.must("{")?;
    block_items(c, &[], |c| {
        actor.instances.push(instance(c)?);
        Ok(())
    })?;
    c.must("}")?;
    Ok(actor)
}

fn actor_clause(c: &mut Cursor<'_>, actor: &mut Actor, clause: &'static str) -> Parse<()> {
    c.must(clause)?;
    match clause {
        "local" | "internal" => {
            let mut names = Vec::new();
            if !c.peek(";") {
                names.push(c.ident("a message name")?);
                while c.eat(",").is_some() {
                    names.push(c.ident("a message name")?);
                }
            }
            c.must(";")?;
            if clause == "local" {
                actor.locals = names;
            } else {
                actor.internals = names;
            }
        }
        "uses" => {
            c.must("{")?;
            let mut usage = Vec::new();
            block_items(c, &USAGE_SYNC, |c| {
                usage.push(usage_clause(c)?);
                Ok(())
            })?;
            actor.usage = usage;
        }
        _ => {
            let (policy, _) = c.eat_choice(&[("rr", false), ("priority", true)]).ok_or(Fail)?;
            actor.scheduler = Some(if policy {
                ActorScheduler::Priority(c.int("a priority")?.0)
            } else {
                ActorScheduler::RoundRobin
            });
            c.must(";")?;
        }
    }
    Ok(())
}

const USAGE_SYNC: [&str; 4] = ["cpu", "mem", "space", "net"];

const SIZE_UNITS: [(&str, SizeUnit); 3] = [("kb", SizeUnit::Kb), ("mb", SizeUnit::Mb), ("gb", SizeUnit::Gb)];
const RATE_UNITS: [(&str, RateUnit); 2] = [("kbps", RateUnit::Kbps), ("mbps", RateUnit::Mbps)];

fn usage_clause(c: &mut Cursor<'_>) -> Parse<Usage> {
    let (kw, kw_span) = c.eat_choice(&[("cpu", 0), ("mem", 1), ("space", 2), ("net", 3)]).ok_or(Fail)?;
    let span = kw_span;
    let usage = match kw {
        0 => {
            let max = c.eat("max").is_some();
            let (percent, _) = c.int("a percentage")?;
            c.must("%")?;
            let interval = if c.eat("over").is_some() {
                let (amount, span) = c.int("an interval")?;
                let unit = c.eat_choice(&TIME_UNITS).map(|(u, _)| u);
                Some(TimeValue { amount, unit, span })
            } else {
                None
            };
            Usage::Cpu { max, percent, interval, span }
        }
        1 | 2 => {
            let (amount, _) = c.int("a size")?;
            let units: &[(&str, SizeUnit)] = if kw == 1 { &SIZE_UNITS } else { &SIZE_UNITS[1..] };
            let unit = c.eat_choice(units).map(|(u, _)| u);
            if kw == 1 {
                Usage::Mem { amount, unit, span }
            } else {
                Usage::Space { amount, unit, span }
            }
        }
        _ => {
            c.must("rate")?;
            let rate = rate_value(c)?;
            let ceil = if c.eat("ceil").is_some() { Some(rate_value(c)?) } else { None };
            let burst = if c.eat("burst").is_some() {
                let amount = float(c)?;
                c.eat_choice(&[("k", ()), ("kb", ())]).ok_or(Fail)?;
                Some(amount)
            } else {
                None
            };
            Usage::Net { rate, ceil, burst, span }
        }
    };
    c.end_statement(&USAGE_SYNC)?;
    Ok(usage)
}

fn rate_value(c: &mut Cursor<'_>) -> Parse<(f64, RateUnit)> {
    let amount = float(c)?;
    let (unit, _) = c.eat_choice(&RATE_UNITS).ok_or(Fail)?;
    Ok((amount, unit))
}

fn float(c: &mut Cursor<'_>) -> Parse<f64> {
    let lit = c.number()?;
    Ok(match lit.value {
        crate::literal::Value::Int(i) => i as f64,
        crate::literal::Value::Float(f) => f,
        _ => 0.0,
    })
}

/// `name : Component [(actuals)] ;`
fn instance(c: &mut Cursor<'_>) -> Parse<Instance> {
    let name = c.ident("an instance name")?;
    c.must(":")?;
    let component = c.ident("a component name")?;
    let actuals = c.arguments(|c| match c.literal() {
        Ok(lit) => Ok(ActualValue::Literal(lit)),
        Err(Fail) => Ok(ActualValue::Param(c.ident("a value or an actor parameter")?)),
    })?;
    let actuals = actuals.into_iter().map(|(name, value)| Actual { name, value }).collect();
    c.end_statement(&[])?;
    Ok(Instance { name, component, actuals })
}
