//! The kinds of port and the ZeroMQ socket each one becomes.

use cohort_model::ast;

/// Every kind of port the factory makes: the model's message ports plus the group ports.
///
/// Timer ports are not here: a timer carries no messages between components, the runtime
/// implements it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// Publisher: PUB, binds.
    Pub,
    /// Subscriber: SUB, connects to every publisher discovery reports.
    Sub,
    /// Asynchronous requester: a DEALER per provider, any number of requests outstanding.
    Req,
    /// Replier to `req`: ROUTER, binds, each reply routed back to its sender.
    Rep,
    /// Synchronous client: a DEALER per provider, one call at a time with a timeout.
    Clt,
    /// Server for `clt`: ROUTER, binds.
    Srv,
    /// Query: a DEALER per provider, any number of queries, several answers each.
    Qry,
    /// Answer: ROUTER, binds, answers routed by identity, in any order.
    Ans,
    /// Inside port: ROUTER bound on inproc; the component's worker threads plug DEALERs into it.
    Ins,
    /// Group publisher: PUB, binds on the global interface.
    GroupPub,
    /// Group subscriber: SUB, connects to the group's publishers.
    GroupSub,
    /// Group member's channel to its leader: one DEALER, connected to the current leader.
    GroupMember,
    /// Group leader's channel to its members: ROUTER, binds.
    GroupLeader,
}

/// Whether a port binds (and is registered with discovery) or connects to endpoints it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Binds an endpoint that others connect to.
    Bind,
    /// Connects to endpoints it is given.
    Connect,
}

impl PortKind {
    /// Every kind, in declaration order.
    pub const ALL: [PortKind; 13] = [
        PortKind::Pub,
        PortKind::Sub,
        PortKind::Req,
        PortKind::Rep,
        PortKind::Clt,
        PortKind::Srv,
        PortKind::Qry,
        PortKind::Ans,
        PortKind::Ins,
        PortKind::GroupPub,
        PortKind::GroupSub,
        PortKind::GroupMember,
        PortKind::GroupLeader,
    ];

    /// The kind named `name` (as [`PortKind::name`] writes it).
    pub fn from_name(name: &str) -> Option<PortKind> {
        PortKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The name used in the model, logs and discovery (`pub`, `gmember`, …).
    pub fn name(self) -> &'static str {
        match self {
            PortKind::Pub => "pub",
            PortKind::Sub => "sub",
            PortKind::Req => "req",
            PortKind::Rep => "rep",
            PortKind::Clt => "clt",
            PortKind::Srv => "srv",
            PortKind::Qry => "qry",
            PortKind::Ans => "ans",
            PortKind::Ins => "ins",
            PortKind::GroupPub => "gpub",
            PortKind::GroupSub => "gsub",
            PortKind::GroupMember => "gmember",
            PortKind::GroupLeader => "gleader",
        }
    }

    /// The ZeroMQ socket type of the port (for connect-side request ports, of each per-provider socket).
    pub fn socket_type(self) -> zmq::SocketType {
        match self {
            PortKind::Pub | PortKind::GroupPub => zmq::PUB,
            PortKind::Sub | PortKind::GroupSub => zmq::SUB,
            PortKind::Req | PortKind::Clt | PortKind::Qry | PortKind::GroupMember => zmq::DEALER,
            PortKind::Rep | PortKind::Srv | PortKind::Ans | PortKind::Ins | PortKind::GroupLeader => zmq::ROUTER,
        }
    }

    /// Whether the port binds or connects.
    pub fn side(self) -> Side {
        match self {
            PortKind::Pub | PortKind::Rep | PortKind::Srv | PortKind::Ans | PortKind::Ins => Side::Bind,
            PortKind::GroupPub | PortKind::GroupLeader => Side::Bind,
            PortKind::Sub | PortKind::Req | PortKind::Clt | PortKind::Qry => Side::Connect,
            PortKind::GroupSub | PortKind::GroupMember => Side::Connect,
        }
    }

    /// The provider kind a connect-side port is matched with by discovery (`sub` → `pub`, …).
    pub fn provider(self) -> Option<PortKind> {
        match self {
            PortKind::Sub => Some(PortKind::Pub),
            PortKind::Req => Some(PortKind::Rep),
            PortKind::Clt => Some(PortKind::Srv),
            PortKind::Qry => Some(PortKind::Ans),
            PortKind::GroupSub => Some(PortKind::GroupPub),
            _ => None,
        }
    }

    /// The port kind of a model port, or `None` for timers (which have no socket).
    pub fn of_model(kind: ast::PortKind) -> Option<PortKind> {
        Some(match kind {
            ast::PortKind::Pub => PortKind::Pub,
            ast::PortKind::Sub => PortKind::Sub,
            ast::PortKind::Req => PortKind::Req,
            ast::PortKind::Rep => PortKind::Rep,
            ast::PortKind::Clt => PortKind::Clt,
            ast::PortKind::Srv => PortKind::Srv,
            ast::PortKind::Qry => PortKind::Qry,
            ast::PortKind::Ans => PortKind::Ans,
            ast::PortKind::Inside => PortKind::Ins,
            ast::PortKind::Timer => return None,
        })
    }
}

impl std::fmt::Display for PortKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_bind_and_consumers_connect() {
        for consumer in [PortKind::Sub, PortKind::Req, PortKind::Clt, PortKind::Qry, PortKind::GroupSub] {
            let provider = consumer.provider().unwrap();
            assert_eq!((consumer.side(), provider.side()), (Side::Connect, Side::Bind), "{consumer}");
        }
        assert_eq!(PortKind::of_model(ast::PortKind::Timer), None);
        assert_eq!(PortKind::of_model(ast::PortKind::Inside), Some(PortKind::Ins));
        assert_eq!(PortKind::Req.socket_type(), zmq::DEALER);
        for kind in PortKind::ALL {
            assert_eq!(PortKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(PortKind::from_name("tim"), None);
    }
}
