//! The syntax tree of a `.riaps` application model, as written, with the position of every name.
//!
//! Values are kept in the units the model wrote them in; [`crate::json`] converts them the way
//! RIAPS's compiler does.

use crate::literal::Literal;
use crate::source::Span;

/// A name in the model together with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it stands in the file.
    pub span: Span,
}

/// A whole `.riaps` file: zero or more applications.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    /// The applications, in file order.
    pub apps: Vec<App>,
}

/// `app Name { messages groups libraries components actors }`.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The application's name.
    pub name: Ident,
    /// `message M;` declarations.
    pub messages: Vec<Ident>,
    /// `group G ...;` declarations.
    pub groups: Vec<Group>,
    /// `library L;` declarations.
    pub libraries: Vec<Ident>,
    /// Components and devices, in file order.
    pub components: Vec<Component>,
    /// Actors, in file order.
    pub actors: Vec<Actor>,
}

impl App {
    /// The component or device type with this name.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name.name == name)
    }

    /// The actor with this name.
    pub fn actor(&self, name: &str) -> Option<&Actor> {
        self.actors.iter().find(|a| a.name.name == name)
    }
}

/// How a group coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// No `with` clause: a leaderless group.
    Default,
    /// `with leader`.
    Leader,
    /// `with consensus`.
    Consensus,
}

/// `group G [with leader|with consensus] using M [timed] [param = N, ...];`
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group type's name.
    pub name: Ident,
    /// Leaderless, leader or consensus.
    pub kind: GroupKind,
    /// The message type members exchange.
    pub message: Ident,
    /// Whether group messages carry send timestamps.
    pub timed: bool,
    /// Timing parameters, as written, in milliseconds.
    pub params: Vec<GroupParam>,
}

/// The timing parameters a group may set, in milliseconds.
pub const GROUP_PARAMS: [&str; 5] = ["heartbeat", "electionMin", "electionMax", "peerTimeout", "consensusTimeout"];

/// Defaults of [`GROUP_PARAMS`] (milliseconds), the values RIAPS uses when a model omits one.
pub const GROUP_PARAM_DEFAULTS: [(&str, i64); 5] = [
    ("heartbeat", 1000),
    ("electionMin", 1500),
    ("electionMax", 2000),
    ("peerTimeout", 3000),
    ("consensusTimeout", 1500),
];

/// One `name = value` timing parameter of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupParam {
    /// One of [`GROUP_PARAMS`].
    pub name: Ident,
    /// Milliseconds.
    pub value: i64,
    /// Where the value stands.
    pub value_span: Span,
}

/// The implementation language named by `in ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// No `in` clause.
    Default,
    /// `in c++`, `in cpp` or `in C++`.
    Cpp,
    /// `in Python`, `in python` or `in py`.
    Python,
}

/// A component's message scheduler (`scheduler priority;` / `scheduler rr;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentScheduler {
    /// No clause: every ready port of one poll is handled.
    Default,
    /// Ports are handled by index, lowest first.
    Priority,
    /// Ports are handled round-robin.
    RoundRobin,
}

/// `component Name (formals) in Lang scheduler S; { ports }`, or the same with `device`.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// The type name.
    pub name: Ident,
    /// Declared with `device` rather than `component`.
    pub is_device: bool,
    /// Parameters with optional defaults.
    pub formals: Vec<Formal>,
    /// Implementation language.
    pub language: Language,
    /// Message scheduler.
    pub scheduler: ComponentScheduler,
    /// Ports in file order.
    pub ports: Vec<Port>,
}

/// A parameter `name [= default]` of a component or an actor.
#[derive(Debug, Clone, PartialEq)]
pub struct Formal {
    /// Parameter name.
    pub name: Ident,
    /// Default value; a formal without one must be given a value.
    pub default: Option<Literal>,
}

/// The kinds of port a component can declare. Serialized as its keyword (`"pub"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortKind {
    /// `pub`: publishes one message type.
    Pub,
    /// `sub`: subscribes to one message type.
    Sub,
    /// `clt`: synchronous client of a `srv`.
    Clt,
    /// `srv`: synchronous server.
    Srv,
    /// `req`: asynchronous request to a `rep`.
    Req,
    /// `rep`: answers `req` ports.
    Rep,
    /// `qry`: asynchronous query to an `ans`, any number outstanding.
    Qry,
    /// `ans`: answers `qry` ports.
    Ans,
    /// `timer`: periodic or sporadic timer.
    Timer,
    /// `inside`: channel between a component and its own threads.
    Inside,
}

impl PortKind {
    /// The keyword that declares this kind of port.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Pub => "pub",
            Self::Sub => "sub",
            Self::Clt => "clt",
            Self::Srv => "srv",
            Self::Req => "req",
            Self::Rep => "rep",
            Self::Qry => "qry",
            Self::Ans => "ans",
            Self::Timer => "timer",
            Self::Inside => "inside",
        }
    }

    /// Whether the port carries a (request, reply) pair of message types.
    pub fn is_duplex(self) -> bool {
        matches!(self, Self::Clt | Self::Srv | Self::Req | Self::Rep | Self::Qry | Self::Ans)
    }

    /// The kind at the other end of a connection (`pub`↔`sub`, `clt`↔`srv`, `req`↔`rep`,
    /// `qry`↔`ans`); none for timers and inside ports.
    pub fn peer(self) -> Option<Self> {
        Some(match self {
            Self::Pub => Self::Sub,
            Self::Sub => Self::Pub,
            Self::Clt => Self::Srv,
            Self::Srv => Self::Clt,
            Self::Req => Self::Rep,
            Self::Rep => Self::Req,
            Self::Qry => Self::Ans,
            Self::Ans => Self::Qry,
            Self::Timer | Self::Inside => return None,
        })
    }

    /// Whether the port provides a service that consumers connect to (it binds).
    pub fn is_provider(self) -> bool {
        matches!(self, Self::Pub | Self::Srv | Self::Rep | Self::Ans)
    }
}

/// A time unit of periods and deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// `msec`, the default.
    Msec,
    /// `sec`.
    Sec,
    /// `min`.
    Min,
}

/// An amount of time as written: a number and an optional unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeValue {
    /// The number written.
    pub amount: i64,
    /// The unit written, if any.
    pub unit: Option<TimeUnit>,
    /// Where the number stands.
    pub span: Span,
}

impl TimeValue {
    /// The value in milliseconds when the unit is omitted means `default`.
    pub fn millis(&self, default: TimeUnit) -> i64 {
        let factor = match self.unit.unwrap_or(default) {
            TimeUnit::Msec => 1,
            TimeUnit::Sec => 1000,
            TimeUnit::Min => 60_000,
        };
        self.amount.saturating_mul(factor)
    }
}

/// What a port sends and receives.
#[derive(Debug, Clone, PartialEq)]
pub enum PortMessages {
    /// Timers and inside ports carry no model message.
    None,
    /// `pub` and `sub` carry one message type.
    One(Ident),
    /// Duplex ports carry `(request, reply)`; a slot may be left empty in the source, which the
    /// checks reject.
    Pair {
        /// The request (or query) type.
        request: Option<Ident>,
        /// The reply (or answer) type.
        reply: Option<Ident>,
        /// Where the `( , )` stands.
        span: Span,
    },
}

/// One port of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    /// Port name, unique within the component.
    pub name: Ident,
    /// What kind of port.
    pub kind: PortKind,
    /// Message types.
    pub messages: PortMessages,
    /// `timed`: sends carry a timestamp, receives record one.
    pub timed: bool,
    /// `within N [unit]`: the handler's deadline.
    pub deadline: Option<TimeValue>,
    /// Timer period (`timer t 1000`); none for a sporadic timer.
    pub period: Option<TimeValue>,
    /// `inside x default`.
    pub inside_default: bool,
}

impl Port {
    /// The message types the port names, request first.
    pub fn message_names(&self) -> Vec<&Ident> {
        match &self.messages {
            PortMessages::None => Vec::new(),
            PortMessages::One(m) => vec![m],
            PortMessages::Pair { request, reply, .. } => request.iter().chain(reply.iter()).collect(),
        }
    }
}

/// `[real-time] actor Name (formals) { local ...; internal ...; uses {...} scheduler ...; { instances } }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// Actor name.
    pub name: Ident,
    /// Declared `real-time`.
    pub real_time: bool,
    /// Parameters with optional defaults, set from the deployment.
    pub formals: Vec<Formal>,
    /// Message types that stay on the host.
    pub locals: Vec<Ident>,
    /// Message types that stay inside the actor.
    pub internals: Vec<Ident>,
    /// Resource budgets.
    pub usage: Vec<Usage>,
    /// OS scheduling policy.
    pub scheduler: Option<ActorScheduler>,
    /// Component instances.
    pub instances: Vec<Instance>,
}

/// An actor's OS scheduling policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActorScheduler {
    /// `scheduler rr;`
    RoundRobin,
    /// `scheduler priority N;`
    Priority(i64),
}

/// A memory or disk size unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeUnit {
    /// `kb`.
    Kb,
    /// `mb`, the default.
    Mb,
    /// `gb`.
    Gb,
}

impl SizeUnit {
    /// Kilobytes in `amount` of the unit `unit` (megabytes when none is written), as RIAPS
    /// counts them (a kilobyte is 1024 bytes).
    pub fn kilobytes(amount: i64, unit: Option<SizeUnit>) -> i64 {
        match unit.unwrap_or(SizeUnit::Mb) {
            SizeUnit::Kb => amount,
            SizeUnit::Mb => amount.saturating_mul(1024),
            SizeUnit::Gb => amount.saturating_mul(1024 * 1024),
        }
    }
}

/// A network rate unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// `kbps`.
    Kbps,
    /// `mbps`.
    Mbps,
}

impl RateUnit {
    /// Bytes per second in `amount` of this unit, as RIAPS counts them (1024 bytes a kilo).
    pub fn bytes_per_second(self, amount: f64) -> f64 {
        match self {
            RateUnit::Kbps => amount * 1024.0,
            RateUnit::Mbps => amount * 1024.0 * 1024.0,
        }
    }
}

/// One clause of a `uses { ... }` resource budget.
#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    /// `cpu [max] N % [over T [unit]];`
    Cpu {
        /// `max`: a hard limit.
        max: bool,
        /// Percent of one core.
        percent: i64,
        /// Measurement interval (seconds when no unit is written, as in RIAPS).
        interval: Option<TimeValue>,
        /// Where the clause starts.
        span: Span,
    },
    /// `mem N [kb|mb|gb];`
    Mem {
        /// Amount.
        amount: i64,
        /// Unit, megabytes when omitted.
        unit: Option<SizeUnit>,
        /// Where the clause starts.
        span: Span,
    },
    /// `space N [mb|gb];`
    Space {
        /// Amount.
        amount: i64,
        /// Unit, megabytes when omitted.
        unit: Option<SizeUnit>,
        /// Where the clause starts.
        span: Span,
    },
    /// `net rate R unit [ceil C unit] [burst B k|kb];`
    Net {
        /// Guaranteed rate and its unit.
        rate: (f64, RateUnit),
        /// Maximum rate and its unit.
        ceil: Option<(f64, RateUnit)>,
        /// Burst size in kilobytes.
        burst: Option<f64>,
        /// Where the clause starts.
        span: Span,
    },
}

impl Usage {
    /// The clause keyword: `cpu`, `mem`, `space` or `net`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::Cpu { .. } => "cpu",
            Self::Mem { .. } => "mem",
            Self::Space { .. } => "space",
            Self::Net { .. } => "net",
        }
    }

    /// Where the clause starts.
    pub fn span(&self) -> Span {
        match self {
            Self::Cpu { span, .. } | Self::Mem { span, .. } | Self::Space { span, .. } | Self::Net { span, .. } => {
                *span
            }
        }
    }
}

/// `name : Component(actuals);` inside an actor.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Instance name, unique within the actor.
    pub name: Ident,
    /// The component or device type.
    pub component: Ident,
    /// Arguments.
    pub actuals: Vec<Actual>,
}

/// `name = value` argument of an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Actual {
    /// The component formal it sets.
    pub name: Ident,
    /// A literal, or a reference to a formal of the enclosing actor.
    pub value: ActualValue,
}

/// The value of an instance argument.
#[derive(Debug, Clone, PartialEq)]
pub enum ActualValue {
    /// A string, number or boolean.
    Literal(Literal),
    /// A bare name: the actor formal of that name.
    Param(Ident),
}
