//! How generated code drains an input port: one function per kind of input, each calling the
//! component's handler once per message until the port has none waiting.
//!
//! A handler's error stops the draining of that port for this turn (the executor logs it); the
//! messages left are served at the next turn.

use cohort_ports::{FromPeer, Received, Request, Response};

use crate::component::{HandlerError, HandlerResult};
use crate::context::Context;
use crate::message::Message;
use crate::typed::handles::{Answerer, Inside, InsideMessage, Querier, Replier, Requester, Subscriber};

/// Serves a `sub` port: `handler` for each message.
pub fn sub<C, P, M: Message>(
    component: &mut C,
    ctx: &mut Context<P>,
    port: fn(&mut P) -> &mut Subscriber<M>,
    handler: fn(&mut C, &mut Context<P>, Received<M>) -> HandlerResult,
) -> HandlerResult {
    while let Some(message) = port(&mut ctx.ports).recv()? {
        handler(component, ctx, message)?;
    }
    Ok(())
}

/// A handler that answers a request with a reply.
pub type ReplyHandler<C, P, Q, A> = fn(&mut C, &mut Context<P>, Received<Q>) -> Result<A, HandlerError>;

/// Serves a `rep` or `srv` port: `handler` for each request; the reply it returns is sent back
/// at once (an error sends nothing, and the requester's deadline ends the request).
pub fn reply<C, P, Q: Message, A: Message>(
    component: &mut C,
    ctx: &mut Context<P>,
    port: fn(&mut P) -> &mut Replier<Q, A>,
    handler: ReplyHandler<C, P, Q, A>,
) -> HandlerResult {
    while let Some(request) = port(&mut ctx.ports).recv()? {
        let reply = handler(component, ctx, request.message)?;
        port(&mut ctx.ports).reply(&request.token, &reply)?;
    }
    Ok(())
}

/// Serves an `ans` port: `handler` for each query, which answers through the port's handle with
/// the query's token, now or later.
pub fn answer<C, P, Q: Message, A: Message>(
    component: &mut C,
    ctx: &mut Context<P>,
    port: fn(&mut P) -> &mut Answerer<Q, A>,
    handler: fn(&mut C, &mut Context<P>, Request<Q>) -> HandlerResult,
) -> HandlerResult {
    while let Some(query) = port(&mut ctx.ports).recv()? {
        handler(component, ctx, query)?;
    }
    Ok(())
}

/// Serves a `req` port: `handler` for each reply and each request that ended without one.
pub fn requested<C, P, Q: Message, A: Message>(
    component: &mut C,
    ctx: &mut Context<P>,
    port: fn(&mut P) -> &mut Requester<Q, A>,
    handler: fn(&mut C, &mut Context<P>, Response<A>) -> HandlerResult,
) -> HandlerResult {
    while let Some(response) = port(&mut ctx.ports).recv()? {
        handler(component, ctx, response)?;
    }
    Ok(())
}

/// Serves a `qry` port: `handler` for each answer and each query that ended.
pub fn queried<C, P, Q: Message, A: Message>(
    component: &mut C,
    ctx: &mut Context<P>,
    port: fn(&mut P) -> &mut Querier<Q, A>,
    handler: fn(&mut C, &mut Context<P>, Response<A>) -> HandlerResult,
) -> HandlerResult {
    while let Some(response) = port(&mut ctx.ports).recv()? {
        handler(component, ctx, response)?;
    }
    Ok(())
}

/// Serves an `inside` port: `handler` for each message from the component's worker threads.
pub fn inside<C, P>(
    component: &mut C,
    ctx: &mut Context<P>,
    port: fn(&mut P) -> &mut Inside,
    handler: fn(&mut C, &mut Context<P>, FromPeer<InsideMessage>) -> HandlerResult,
) -> HandlerResult {
    while let Some(message) = port(&mut ctx.ports).recv()? {
        handler(component, ctx, message)?;
    }
    Ok(())
}
