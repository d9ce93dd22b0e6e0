//! The syntax tree of a `.depl` deployment: which actors run on which hosts, with which
//! arguments, and what each host may reach on the network.

use crate::ast::Ident;
use crate::literal::Literal;
use crate::source::Span;

/// `app Name { host blocks; on ... lines }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The application deployed; must match the `app` of the model.
    pub app: Ident,
    /// `host ... { network ...; }` blocks.
    pub hosts: Vec<HostBlock>,
    /// `on ... A, B(x = 1);` lines, at least one.
    pub placements: Vec<Placement>,
}

/// Which host a `host` block is about.
#[derive(Debug, Clone, PartialEq)]
pub enum HostTarget {
    /// `host all`.
    All,
    /// `host NAME` (an address or host name).
    Host(Ident),
}

/// `host TARGET { network ...; }`: the outbound network a host's actors may use.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBlock {
    /// The host, or all hosts.
    pub target: HostTarget,
    /// The `network` clause.
    pub network: Network,
    /// Where the block starts.
    pub span: Span,
}

/// A host's outbound network allow-list.
#[derive(Debug, Clone, PartialEq)]
pub enum Network {
    /// `network any;`: unrestricted.
    Any,
    /// `network dns, host, ...;`
    Access(Vec<NetworkAccess>),
}

/// One entry of a network allow-list.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkAccess {
    /// `dns`: the host's name servers.
    Dns,
    /// A host name or address.
    Host(Ident),
}

/// Where a placement line puts its actors.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// `on all`: every host of the app.
    All,
    /// `on (h1, h2)`.
    Hosts(Vec<Ident>),
}

/// `on LOCATION A, B(x = 1);`
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Where.
    pub location: Location,
    /// Which actors, with arguments.
    pub actors: Vec<ActorPlacement>,
}

/// One actor of a placement line with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorPlacement {
    /// The actor's name in the app model.
    pub name: Ident,
    /// `name = value` arguments for the actor's formals.
    pub actuals: Vec<DeploymentActual>,
}

/// An actor argument in a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentActual {
    /// The actor formal it sets.
    pub name: Ident,
    /// The value; a bare name is a string, as in RIAPS.
    pub value: DeploymentValue,
}

/// The value of a deployment argument.
#[derive(Debug, Clone, PartialEq)]
pub enum DeploymentValue {
    /// A string, number or boolean literal.
    Literal(Literal),
    /// A bare name, which stands for the string of that name.
    Name(Ident),
}
