//! Parser for the `.depl` deployment language: `host` blocks, then `on` lines.

use crate::cursor::{Comments, Cursor, Fail, Parse};
use crate::deployment::{
    ActorPlacement, Deployment, DeploymentActual, DeploymentValue, HostBlock, HostTarget, Location, Network,
    NetworkAccess, Placement,
};
use crate::diagnostic::Diagnostic;

/// Parses a `.depl` file. Returns the deployment when its header parsed (even if some lines
/// had errors), and every syntax error and warning found.
pub fn parse_deployment(text: &str) -> (Option<Deployment>, Vec<Diagnostic>) {
    let mut c = Cursor::new(text, Comments::LineOnly);
    let deployment = match deployment(&mut c) {
        Ok(d) => d,
        Err(Fail) => {
            report(&mut c, text);
            None
        }
    };
    if deployment.is_some() && !c.at_end() {
        c.expect("end of file");
        report(&mut c, text);
    }
    (deployment, c.diagnostics)
}

/// Reports the current syntax error, explaining `/* */` comments, which `.depl` does not allow.
fn report(c: &mut Cursor<'_>, text: &str) -> bool {
    let mut diagnostic = c.take_syntax_error();
    if text[diagnostic.span.start..].starts_with("/*") {
        diagnostic = diagnostic.with_help("deployment files only allow `//` comments");
    }
    c.push_syntax_error(diagnostic)
}

const ORDER_HELP: &str = "a deployment lists its `host` blocks first, then its `on` lines";

fn deployment(c: &mut Cursor<'_>) -> Parse<Option<Deployment>> {
    c.must("app")?;
    let app = c.ident("an app name")?;
    c.must("{")?;
    let text = c.text();
    let mut d = Deployment { app, hosts: Vec::new(), placements: Vec::new() };
    loop {
        if d.placements.is_empty() {
            c.expect("host");
        } else if c.eat("}").is_some() {
            return Ok(Some(d));
        }
        c.expect("on");
        c.skip_trivia();
        let start = c.pos();
        let result = if c.looking_at("host") {
            if !d.placements.is_empty() {
                let diagnostic = c.take_syntax_error().with_help(ORDER_HELP);
                c.push_syntax_error(diagnostic);
            }
            host_block(c).map(|h| d.hosts.push(h))
        } else if c.looking_at("on") {
            placement(c).map(|p| d.placements.push(p))
        } else {
            Err(Fail)
        };
        if result.is_err() {
            if !report(c, text) || c.at_end() {
                return Ok(Some(d));
            }
            c.recover_item(start, &["host", "on"]);
            if c.pos() == start {
                c.bump();
                if text[start..].starts_with('}') {
                    return Ok(Some(d));
                }
            }
        }
    }
}

/// `host all|NAME { network any|dns|NAME, ... ; }`
fn host_block(c: &mut Cursor<'_>) -> Parse<HostBlock> {
    let start = c.must("host")?;
    let name = c.host()?;
    let target = if name.name == "all" { HostTarget::All } else { HostTarget::Host(name) };
    c.must("{")?;
    c.must("network")?;
    let mut entries = Vec::new();
    loop {
        entries.push(c.host()?);
        if c.eat(",").is_none() {
            break;
        }
    }
    c.must(";")?;
    let end = c.must("}")?;
    let network = if entries.len() == 1 && entries[0].name == "any" {
        Network::Any
    } else {
        if let Some(any) = entries.iter().find(|e| e.name == "any") {
            c.diagnostics.push(
                Diagnostic::error(any.span, "`any` cannot be combined with other network entries")
                    .with_help("write `network any;` alone, or list the hosts the actors may reach"),
            );
        }
        Network::Access(
            entries
                .into_iter()
                .map(|e| if e.name == "dns" { NetworkAccess::Dns } else { NetworkAccess::Host(e) })
                .collect(),
        )
    };
    Ok(HostBlock { target, network, span: crate::source::Span::new(start.start, end.end) })
}

/// `on all|(h1, h2) A, B(x = 1);`
fn placement(c: &mut Cursor<'_>) -> Parse<Placement> {
    c.must("on")?;
    let location = if c.eat("all").is_some() {
        Location::All
    } else {
        c.must("(")?;
        let mut hosts = vec![c.host()?];
        while c.eat(",").is_some() {
            hosts.push(c.host()?);
        }
        c.must(")")?;
        Location::Hosts(hosts)
    };
    let mut actors = vec![actor(c)?];
    while c.eat(",").is_some() {
        actors.push(actor(c)?);
    }
    c.end_statement(&["host", "on"])?;
    Ok(Placement { location, actors })
}

fn actor(c: &mut Cursor<'_>) -> Parse<ActorPlacement> {
    let name = c.ident("an actor name")?;
    let actuals = c.arguments(|c| match c.literal() {
        Ok(lit) => Ok(DeploymentValue::Literal(lit)),
        Err(Fail) => Ok(DeploymentValue::Name(c.ident("a value")?)),
    })?;
    let actuals = actuals.into_iter().map(|(name, value)| DeploymentActual { name, value }).collect();
    Ok(ActorPlacement { name, actuals })
}
