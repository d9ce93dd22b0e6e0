//! Typed port handles: each owns one port of a component and accepts only the model's message
//! types for it. Generated `Ports` structs hold them; handlers use them as `ctx.ports.<name>`.

use std::marker::PhantomData;

use cohort_model::ast::PortKind as ModelPortKind;
use cohort_model::PortDescriptor;
use cohort_ports::{FromPeer, InsPlug, PeerId, Port, PortError, Received, ReplyToken, Request, RequestId, Response};
use serde::Serialize;

use crate::group::DecodeError;
use crate::message::Message;
use crate::portset::{BindError, OpenedPorts};

/// Takes port `index` and checks that the model declares it as `kind` with `messages`.
fn take(
    opened: &mut OpenedPorts,
    index: usize,
    kinds: &[ModelPortKind],
    messages: &[&str],
) -> Result<(PortDescriptor, Port), BindError> {
    let component = opened.component().to_owned();
    let (descriptor, port) = opened.take(index)?;
    if !kinds.contains(&descriptor.kind) || descriptor.messages.names() != messages {
        let wanted: Vec<&str> = kinds.iter().map(|k| k.keyword()).collect();
        let carrying = if messages.is_empty() { String::new() } else { format!(" carrying {}", messages.join(", ")) };
        return Err(BindError::new(
            &component,
            format!(
                "port {} is `{}` in the model, but the code expects a {} port{carrying}",
                index + 1,
                crate::portset::render(descriptor.kind, &descriptor.name, &descriptor.messages.names()),
                wanted.join(" or "),
            ),
        ));
    }
    Ok((descriptor, port))
}

/// The error of an operation on a handle whose port is not of the kind it needs; never happens
/// for a handle made by `take`, which checks the kind.
fn wrong(op: &'static str, port: &Port) -> PortError {
    PortError::WrongKind { op, kind: port.kind().name() }
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident <$($t:ident),*>, $kinds:expr, $variant:ident) => {
        $(#[$doc])*
        pub struct $name<$($t),*> {
            port: Port,
            _types: PhantomData<fn() -> ($($t,)*)>,
        }

        impl<$($t: Message),*> $name<$($t),*> {
            /// Takes port `index` (its position in the component's port list) from the ports the
            /// runtime opened, checking that the model declares it as this handle expects.
            pub fn take(opened: &mut OpenedPorts, index: usize) -> Result<Self, BindError> {
                let (_, port) = take(opened, index, $kinds, &[$($t::NAME),*])?;
                match port {
                    Port::$variant(_) => Ok($name { port, _types: PhantomData }),
                    other => Err(BindError::new(opened.component(), format!(
                        "port {} is a {} port", index + 1, other.kind()))),
                }
            }
        }

        impl<$($t),*> $name<$($t),*> {
            /// The port, for the runtime.
            #[doc(hidden)]
            pub fn port(&self) -> &Port {
                &self.port
            }

            /// The port, for the runtime.
            #[doc(hidden)]
            pub fn port_mut(&mut self) -> &mut Port {
                &mut self.port
            }
        }
    };
}

handle!(
    /// A `pub` port: publishes messages of type `M`.
    Publisher<M>, &[ModelPortKind::Pub], Pub
);
handle!(
    /// A `sub` port: its handler gets every message of type `M`.
    Subscriber<M>, &[ModelPortKind::Sub], Sub
);
handle!(
    /// A `req` port: sends requests of type `Q`; its handler gets each reply of type `A` (or the
    /// request's failure).
    Requester<Q, A>, &[ModelPortKind::Req], Req
);
handle!(
    /// A `qry` port: sends queries of type `Q`; its handler gets each answer of type `A` (or the
    /// query's end).
    Querier<Q, A>, &[ModelPortKind::Qry], Qry
);
handle!(
    /// A `clt` port: calls a server with a `Q` and waits for its `A`.
    Client<Q, A>, &[ModelPortKind::Clt], Clt
);
handle!(
    /// A `rep` or `srv` port: its handler gets each request of type `Q` and returns the reply of
    /// type `A`.
    Replier<Q, A>, &[ModelPortKind::Rep, ModelPortKind::Srv], Reply
);
handle!(
    /// An `ans` port: its handler gets each query of type `Q`, with a token to answer it with
    /// any number of `A`s, now or later.
    Answerer<Q, A>, &[ModelPortKind::Ans], Reply
);

impl<M: Message> Publisher<M> {
    /// Publishes `message` to every subscriber.
    pub fn publish(&mut self, message: &M) -> Result<(), PortError> {
        match &mut self.port {
            Port::Pub(p) => p.send(message),
            other => Err(wrong("publish", other)),
        }
    }
}

impl<M: Message> Subscriber<M> {
    /// The next message, if one is waiting.
    pub(crate) fn recv(&mut self) -> Result<Option<Received<M>>, PortError> {
        match &mut self.port {
            Port::Sub(p) => p.recv::<M>(),
            other => Err(wrong("receive", other)),
        }
    }
}

impl<Q: Message, A: Message> Requester<Q, A> {
    /// Sends `request` to one provider; its reply (or its failure) comes to the port's handler.
    pub fn request(&mut self, request: &Q) -> Result<RequestId, PortError> {
        match &mut self.port {
            Port::Req(p) => p.request(request),
            other => Err(wrong("request", other)),
        }
    }

    /// The next reply or ended request, if any.
    pub(crate) fn recv(&mut self) -> Result<Option<Response<A>>, PortError> {
        match &mut self.port {
            Port::Req(p) => p.recv::<A>(),
            other => Err(wrong("receive replies", other)),
        }
    }
}

impl<Q: Message, A: Message> Querier<Q, A> {
    /// Sends `query` to one provider; its answers (and its end) come to the port's handler.
    pub fn query(&mut self, query: &Q) -> Result<RequestId, PortError> {
        match &mut self.port {
            Port::Qry(p) => p.query(query),
            other => Err(wrong("query", other)),
        }
    }

    /// The next answer or ended query, if any.
    pub(crate) fn recv(&mut self) -> Result<Option<Response<A>>, PortError> {
        match &mut self.port {
            Port::Qry(p) => p.recv::<A>(),
            other => Err(wrong("receive answers", other)),
        }
    }
}

impl<Q: Message, A: Message> Client<Q, A> {
    /// Sends `request` and waits for the reply, up to the request timeout.
    pub fn call(&mut self, request: &Q) -> Result<Received<A>, PortError> {
        match &mut self.port {
            Port::Clt(p) => p.call(request),
            other => Err(wrong("call", other)),
        }
    }
}

impl<Q: Message, A: Message> Replier<Q, A> {
    /// The next request, if one is waiting.
    pub(crate) fn recv(&mut self) -> Result<Option<Request<Q>>, PortError> {
        match &mut self.port {
            Port::Reply(p) => p.recv::<Q>(),
            other => Err(wrong("receive requests", other)),
        }
    }

    /// Sends `reply` to the requester of `token`.
    pub(crate) fn reply(&mut self, token: &ReplyToken, reply: &A) -> Result<(), PortError> {
        match &mut self.port {
            Port::Reply(p) => p.reply(token, reply),
            other => Err(wrong("reply", other)),
        }
    }
}

impl<Q: Message, A: Message> Answerer<Q, A> {
    /// The next query, if one is waiting.
    pub(crate) fn recv(&mut self) -> Result<Option<Request<Q>>, PortError> {
        match &mut self.port {
            Port::Reply(p) => p.recv::<Q>(),
            other => Err(wrong("receive queries", other)),
        }
    }

    /// Sends one answer of several to the query of `token`.
    pub fn answer(&mut self, token: &ReplyToken, answer: &A) -> Result<(), PortError> {
        match &mut self.port {
            Port::Reply(p) => p.answer(token, answer),
            other => Err(wrong("answer", other)),
        }
    }

    /// Sends the last answer to the query of `token`.
    pub fn reply(&mut self, token: &ReplyToken, answer: &A) -> Result<(), PortError> {
        match &mut self.port {
            Port::Reply(p) => p.reply(token, answer),
            other => Err(wrong("reply", other)),
        }
    }
}

/// What a worker thread sent through an inside port: bytes the component decodes as it agreed
/// with its threads (the model gives inside ports no message type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsideMessage(Vec<u8>);

impl InsideMessage {
    /// Decodes the message (CBOR, as [`InsPlug::send`] encodes it) as `T`; the error names the
    /// type asked for.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, DecodeError> {
        cohort_ports::cbor::from_slice(&self.0)
            .map_err(|e| DecodeError { wanted: std::any::type_name::<T>(), why: e.to_string() })
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An `inside` port: the component's channel to its own worker threads.
pub struct Inside {
    port: Port,
}

impl Inside {
    /// Takes port `index` from the ports the runtime opened, checking that it is an inside port.
    pub fn take(opened: &mut OpenedPorts, index: usize) -> Result<Self, BindError> {
        let (_, port) = take(opened, index, &[ModelPortKind::Inside], &[])?;
        match port {
            Port::Hub(_) => Ok(Inside { port }),
            other => Err(BindError::new(opened.component(), format!("port {} is a {} port", index + 1, other.kind()))),
        }
    }

    /// The port, for the runtime.
    #[doc(hidden)]
    pub fn port(&self) -> &Port {
        &self.port
    }

    /// The port, for the runtime.
    #[doc(hidden)]
    pub fn port_mut(&mut self) -> &mut Port {
        &mut self.port
    }

    /// Sends `message` to the worker thread `to`.
    pub fn send_to<T: Serialize + ?Sized>(&mut self, to: &PeerId, message: &T) -> Result<(), PortError> {
        match &mut self.port {
            Port::Hub(p) => p.send_to(to, message),
            other => Err(wrong("send inside", other)),
        }
    }

    /// A plug for a worker thread into this port.
    pub fn plug(&mut self) -> Result<InsPlug, PortError> {
        match &mut self.port {
            Port::Hub(p) => p.plug(),
            other => Err(wrong("plug", other)),
        }
    }

    /// The next message from a worker thread, if any.
    pub(crate) fn recv(&mut self) -> Result<Option<FromPeer<InsideMessage>>, PortError> {
        match &mut self.port {
            Port::Hub(p) => Ok(p.recv_bytes()?.map(|m| FromPeer {
                from: m.from,
                message: Received {
                    value: InsideMessage(m.message.value.to_vec()),
                    seq: m.message.seq,
                    send_time: m.message.send_time,
                    recv_time: m.message.recv_time,
                },
            })),
            other => Err(wrong("receive inside", other)),
        }
    }
}
