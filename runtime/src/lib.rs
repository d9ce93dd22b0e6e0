//! Cohort runtime: the component API, actors, timers and the launcher.
//!
//! Users implement [`Component`] for each component type of their model and register the types
//! in [`Components`]. Each component instance runs on its own thread, which owns its ports and
//! its timers and calls its handlers. The `cohort` command-line tool is this crate's binary.

pub mod actor;
mod component;
mod context;
mod control;
mod executor;
mod group;
pub mod host;
mod hosted;
pub mod launcher;
pub mod logging;
mod message;
pub mod params;
pub mod timers;

pub use actor::{run_actor, ActorError, ActorSettings};
pub use cohort_groups::MemberId;
/// Port types that handlers see, re-exported so an app needs no direct dependency on `cohort-ports`.
pub use cohort_ports::{
    CallError, FromPeer, Interface, PeerId, PortError, Received, ReplyToken, Request, RequestId, Response,
};
pub use component::{Component, HandlerError, HandlerResult, Handlers};
pub use context::{uuid_text, Context, ContextError, Identity};
pub use group::{
    DecodeError, Group, GroupEvent, GroupName, GroupOpError, JoinOptions, Outcome, Payload, VoteId, VoteKind,
    VoteSubject,
};
pub use hosted::Components;
pub use launcher::{launch, AppModel};
pub use message::Message;
pub use params::ComponentArgs;
pub use timers::Tick;
