//! The port factory: the one place that maps (port spec, scope, security) to a configured
//! socket, bound or connected on the right transport.

use std::collections::BTreeSet;
use std::sync::Arc;

use slog::{info, o};

use crate::endpoint::{Endpoint, Transport};
use crate::error::PortError;
use crate::frames::{Inbox, Outbox};
use crate::hub::{new_spoke, Hub, PeerId, Spoke};
use crate::kind::{PortKind, Side};
use crate::options::SocketOptions;
use crate::publish::{PubPort, SubPort};
use crate::request::{CltPort, QryPort, ReqPort, Requester};
use crate::respond::ReplyPort;
use crate::scope::{last_endpoint, Addressing, IpcFile, Scope};
use crate::security::Security;
use crate::socket::make_socket;
use crate::spec::PortSpec;
use crate::stats::PortStats;

/// Makes an actor's ports. One factory (and so one ZeroMQ context) per actor process.
pub struct PortFactory {
    ctx: zmq::Context,
    addressing: Addressing,
    options: SocketOptions,
    security: Security,
    log: slog::Logger,
}

/// A port of any kind, as [`PortFactory::open`] makes it.
pub enum Port {
    /// `pub` or `gpub`.
    Pub(PubPort),
    /// `sub` or `gsub`.
    Sub(SubPort),
    /// `req`.
    Req(ReqPort),
    /// `clt`.
    Clt(CltPort),
    /// `qry`.
    Qry(QryPort),
    /// `rep`, `srv` or `ans`.
    Reply(ReplyPort),
    /// `ins` or `gleader`.
    Hub(Hub),
    /// `gmember`.
    Spoke(Spoke),
}

impl Port {
    /// The port's kind.
    pub fn kind(&self) -> PortKind {
        match self {
            Port::Pub(p) => p.kind(),
            Port::Sub(p) => p.kind(),
            Port::Req(p) => p.kind(),
            Port::Clt(p) => p.kind(),
            Port::Qry(p) => p.kind(),
            Port::Reply(p) => p.kind(),
            Port::Hub(p) => p.kind(),
            Port::Spoke(p) => p.kind(),
        }
    }

    /// The port's counters, shared so that a monitor can read them while the port works.
    pub fn stats(&self) -> &Arc<PortStats> {
        match self {
            Port::Pub(p) => p.stats(),
            Port::Sub(p) => p.stats(),
            Port::Req(p) => p.stats(),
            Port::Clt(p) => p.stats(),
            Port::Qry(p) => p.stats(),
            Port::Reply(p) => p.stats(),
            Port::Hub(p) => p.stats(),
            Port::Spoke(p) => p.stats(),
        }
    }

    /// The bound endpoint of a providing port, to register with discovery.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Port::Pub(p) => Some(p.endpoint()),
            Port::Reply(p) => Some(p.endpoint()),
            Port::Hub(p) => Some(p.endpoint()),
            _ => None,
        }
    }

    /// Connects a consuming port to a provider discovery reported.
    pub fn add_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
        match self {
            Port::Sub(p) => p.add_endpoint(endpoint),
            Port::Req(p) => p.add_endpoint(endpoint),
            Port::Clt(p) => p.add_endpoint(endpoint),
            Port::Qry(p) => p.add_endpoint(endpoint),
            other => Err(PortError::WrongKind { op: "add endpoint", kind: other.kind().name() }),
        }
    }

    /// Disconnects a consuming port from a provider discovery removed.
    pub fn remove_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
        match self {
            Port::Sub(p) => p.remove_endpoint(endpoint),
            Port::Req(p) => p.remove_endpoint(endpoint),
            Port::Clt(p) => p.remove_endpoint(endpoint),
            Port::Qry(p) => p.remove_endpoint(endpoint),
            other => Err(PortError::WrongKind { op: "remove endpoint", kind: other.kind().name() }),
        }
    }
}

impl PortFactory {
    /// A factory with a new ZeroMQ context. Fails if `security` cannot work with the linked
    /// libzmq (CURVE asked for, none compiled in).
    pub fn new(
        addressing: Addressing,
        options: SocketOptions,
        security: Security,
        log: slog::Logger,
    ) -> Result<PortFactory, PortError> {
        PortFactory::with_context(zmq::Context::new(), addressing, options, security, log)
    }

    /// A factory on an existing context (inproc endpoints are shared only within one context).
    /// With CURVE, the context also gets a ZAP handler that admits only the app's own clients
    /// (see [`crate::security`]).
    pub fn with_context(
        ctx: zmq::Context,
        addressing: Addressing,
        options: SocketOptions,
        security: Security,
        log: slog::Logger,
    ) -> Result<PortFactory, PortError> {
        security.prepare(&ctx)?;
        Ok(PortFactory { ctx, addressing, options, security, log })
    }

    /// The same factory (context, addressing, security, log) making sockets with `options`
    /// instead: for sockets that need other settings than the actor's ports, such as group
    /// members, which run their own liveness and turn ZMTP heartbeats off.
    pub fn with_options(&self, options: SocketOptions) -> PortFactory {
        PortFactory {
            ctx: self.ctx.clone(),
            addressing: self.addressing.clone(),
            options,
            security: self.security.clone(),
            log: self.log.clone(),
        }
    }

    /// The ZeroMQ context of the actor.
    pub fn context(&self) -> &zmq::Context {
        &self.ctx
    }

    /// The options every socket gets.
    pub fn options(&self) -> &SocketOptions {
        &self.options
    }

    /// Where ports bind.
    pub fn addressing(&self) -> &Addressing {
        &self.addressing
    }

    /// Makes the port `spec` describes.
    pub fn open(&self, spec: &PortSpec) -> Result<Port, PortError> {
        Ok(match spec.kind {
            PortKind::Pub | PortKind::GroupPub => Port::Pub(self.publisher(spec)?),
            PortKind::Sub | PortKind::GroupSub => Port::Sub(self.subscriber(spec)?),
            PortKind::Req => Port::Req(self.requester(spec)?),
            PortKind::Clt => Port::Clt(self.client(spec)?),
            PortKind::Qry => Port::Qry(self.query(spec)?),
            PortKind::Rep | PortKind::Srv | PortKind::Ans => Port::Reply(self.replier(spec)?),
            PortKind::Ins | PortKind::GroupLeader => Port::Hub(self.hub(spec)?),
            PortKind::GroupMember => Port::Spoke(self.member(spec, PeerId::random())?),
        })
    }

    fn transport(spec: &PortSpec) -> Transport {
        if spec.kind == PortKind::Ins {
            return Transport::Inproc;
        }
        match spec.scope {
            Scope::Global => Transport::Tcp,
            Scope::Local => Transport::Ipc,
            Scope::Internal => Transport::Inproc,
        }
    }

    fn port_log(&self, spec: &PortSpec) -> slog::Logger {
        self.log.new(o!("port" => spec.label(), "kind" => spec.kind.name()))
    }

    fn expect(spec: &PortSpec, kinds: &[PortKind], op: &'static str) -> Result<(), PortError> {
        if kinds.contains(&spec.kind) {
            Ok(())
        } else {
            Err(PortError::WrongKind { op, kind: spec.kind.name() })
        }
    }

    /// Creates and binds the socket of a providing port.
    fn bound(&self, spec: &PortSpec, log: &slog::Logger) -> Result<(zmq::Socket, Endpoint, IpcFile), PortError> {
        debug_assert_eq!(spec.kind.side(), Side::Bind);
        let transport = Self::transport(spec);
        let socket = make_socket(&self.ctx, spec.kind, transport, &self.options, &self.security)?;
        let scope = if spec.kind == PortKind::Ins { Scope::Internal } else { spec.scope };
        let address = self.addressing.bind_endpoint(scope, &spec.owner, &spec.name);
        socket.bind(&address).map_err(|e| PortError::zmq(format!("binding {address}"), e))?;
        let endpoint = last_endpoint(&socket)?;
        info!(log, "port bound"; "endpoint" => %endpoint);
        let file = IpcFile::of(&endpoint);
        Ok((socket, endpoint, file))
    }

    /// A `pub` or `gpub` port, bound.
    pub fn publisher(&self, spec: &PortSpec) -> Result<PubPort, PortError> {
        Self::expect(spec, &[PortKind::Pub, PortKind::GroupPub], "publisher")?;
        let log = self.port_log(spec);
        let (socket, endpoint, ipc) = self.bound(spec, &log)?;
        Ok(PubPort {
            kind: spec.kind,
            socket,
            endpoint,
            message: spec.message.clone(),
            outbox: Outbox::new(spec.timed),
            seq: 0,
            stats: Arc::new(PortStats::default()),
            options: self.options.clone(),
            _ipc: ipc,
        })
    }

    /// A `sub` or `gsub` port, connected to nothing yet.
    pub fn subscriber(&self, spec: &PortSpec) -> Result<SubPort, PortError> {
        Self::expect(spec, &[PortKind::Sub, PortKind::GroupSub], "subscriber")?;
        let socket = make_socket(&self.ctx, spec.kind, Self::transport(spec), &self.options, &self.security)?;
        Ok(SubPort {
            kind: spec.kind,
            socket,
            endpoints: BTreeSet::new(),
            message: spec.message.clone(),
            inbox: Inbox::new(Arc::new(PortStats::default()), self.port_log(spec), spec.timed),
        })
    }

    fn requester_core(&self, spec: &PortSpec) -> Requester {
        Requester::new(
            spec.kind,
            self.ctx.clone(),
            Self::transport(spec),
            self.options.clone(),
            self.security.clone(),
            spec.message.clone(),
            spec.reply_type().clone(),
            spec.timed,
            Arc::new(PortStats::default()),
            self.port_log(spec),
        )
    }

    /// A `req` port, connected to no provider yet.
    pub fn requester(&self, spec: &PortSpec) -> Result<ReqPort, PortError> {
        Self::expect(spec, &[PortKind::Req], "requester")?;
        Ok(ReqPort { core: self.requester_core(spec) })
    }

    /// A `clt` port, connected to no provider yet.
    pub fn client(&self, spec: &PortSpec) -> Result<CltPort, PortError> {
        Self::expect(spec, &[PortKind::Clt], "client")?;
        Ok(CltPort { core: self.requester_core(spec) })
    }

    /// A `qry` port, connected to no provider yet.
    pub fn query(&self, spec: &PortSpec) -> Result<QryPort, PortError> {
        Self::expect(spec, &[PortKind::Qry], "query")?;
        Ok(QryPort { core: self.requester_core(spec) })
    }

    /// A `rep`, `srv` or `ans` port, bound.
    pub fn replier(&self, spec: &PortSpec) -> Result<ReplyPort, PortError> {
        Self::expect(spec, &[PortKind::Rep, PortKind::Srv, PortKind::Ans], "replier")?;
        let log = self.port_log(spec);
        let (socket, endpoint, ipc) = self.bound(spec, &log)?;
        Ok(ReplyPort {
            kind: spec.kind,
            socket,
            endpoint,
            request_type: spec.message.clone(),
            reply_type: spec.reply_type().clone(),
            inbox: Inbox::new(Arc::new(PortStats::default()), log, spec.timed),
            outbox: Outbox::new(spec.timed),
            options: self.options.clone(),
            _ipc: ipc,
        })
    }

    /// An `ins` port (always inproc) or a group leader's channel, bound.
    pub fn hub(&self, spec: &PortSpec) -> Result<Hub, PortError> {
        Self::expect(spec, &[PortKind::Ins, PortKind::GroupLeader], "hub")?;
        let log = self.port_log(spec);
        let (socket, endpoint, ipc) = self.bound(spec, &log)?;
        Ok(Hub {
            kind: spec.kind,
            socket,
            endpoint,
            message: spec.message.clone(),
            inbox: Inbox::new(Arc::new(PortStats::default()), log.clone(), spec.timed),
            outbox: Outbox::new(spec.timed),
            seq: 0,
            options: self.options.clone(),
            ctx: self.ctx.clone(),
            timed: spec.timed,
            log,
            _ipc: ipc,
        })
    }

    /// A group member's channel to its leader, with identity `id`, connected to no leader yet.
    pub fn member(&self, spec: &PortSpec, id: PeerId) -> Result<Spoke, PortError> {
        Self::expect(spec, &[PortKind::GroupMember], "member")?;
        new_spoke(
            spec.kind,
            &self.ctx,
            Self::transport(spec),
            &self.options,
            &self.security,
            spec.message.clone(),
            spec.timed,
            id,
            Arc::new(PortStats::default()),
            self.port_log(spec),
        )
    }
}
