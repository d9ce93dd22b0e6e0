//! Cohort runtime: the component API, actors, timers and the launcher.
//!
//! An app's `build.rs` generates, with `cohort-build`, a typed layer from its model: for each
//! component type a trait with one handler per input port, typed port handles and parameters
//! ([`typed`]), and a registry of all the app's [`Components`]. Each component instance runs on
//! its own thread, which owns its ports and its timers and calls its handlers; one more thread
//! per actor holds the members of the groups its components joined, so slow handlers do not
//! disturb heartbeats and elections. The string-keyed
//! [`Component`] API below the typed layer stays for tools and tests. The `cohort`
//! command-line tool is the `cohort-cli` crate.

pub mod actor;
mod actor_ctl;
mod component;
mod context;
mod control;
mod coordinator;
pub mod ctl;
mod events;
mod executor;
mod group;
mod handoff;
pub mod host;
mod hosted;
pub mod launcher;
mod limits;
pub mod logging;
mod message;
pub mod metrics;
mod named;
mod nic;
pub mod params;
mod peer_watch;
mod portset;
pub mod replay;
pub mod timers;
pub mod typed;
mod watches;

pub use actor::{run_actor, ActorError, ActorSettings, Part};
pub use cohort_budgets::{Bytes, Limit};
pub use cohort_groups::MemberId;
/// Port types that handlers see, re-exported so an app needs no direct dependency on `cohort-ports`.
pub use cohort_ports::{
    CallError, FromPeer, Interface, PeerId, PortError, Received, ReplyToken, Request, RequestId, Response,
};
pub use component::{Component, HandlerError, HandlerResult, Handlers};
pub use context::{uuid_text, Context, ContextError, Identity};
pub use events::{NicState, Peer, PeerState};
pub use group::{
    DecodeError, Group, GroupEvent, GroupName, GroupOpError, JoinOptions, Outcome, Payload, VoteId, VoteKind,
    VoteSubject,
};
pub use hosted::Components;
pub use launcher::{launch, AppModel};
pub use message::Message;
pub use named::NamedPorts;
pub use params::ComponentArgs;
pub use timers::Tick;
