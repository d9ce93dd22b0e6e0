//! A stand-in for `cohort_runtime`: exactly the items `typed-api-spec.md` (issue 12) promises the
//! generated code, with the promised paths and signatures and no behaviour. `tests/contract.rs`
//! type-checks generated code against it, so the generator's output is known to fit the contract
//! before `cohort_runtime::typed` exists; once it does, that test should compile against the real
//! crate instead.

#![allow(dead_code, unused_variables, clippy::all)]

use std::marker::PhantomData;

pub trait Message: Send + 'static {
    const NAME: &'static str;
}

#[derive(Debug)]
pub struct HandlerError;

impl From<params::ArgError> for HandlerError {
    fn from(_: params::ArgError) -> Self {
        HandlerError
    }
}

pub type HandlerResult = Result<(), HandlerError>;

pub struct Tick;
pub struct Received<M>(pub M);
pub struct ReplyToken;
pub struct Request<Q> {
    pub message: Q,
    pub token: ReplyToken,
}
pub struct RequestId;
pub struct Response<A>(pub A);
pub struct PeerId;
pub struct FromPeer<T>(pub T);
pub struct PortError;
pub struct GroupName;
pub struct GroupEvent;

pub struct ComponentArgs;

impl ComponentArgs {
    pub fn int(&self, name: &str) -> Result<i64, params::ArgError> {
        Err(params::ArgError)
    }
    pub fn float(&self, name: &str) -> Result<f64, params::ArgError> {
        Err(params::ArgError)
    }
    pub fn bool(&self, name: &str) -> Result<bool, params::ArgError> {
        Err(params::ArgError)
    }
    pub fn string(&self, name: &str) -> Result<&str, params::ArgError> {
        Err(params::ArgError)
    }
    pub fn value(&self, name: &str) -> Result<&params::Value, params::ArgError> {
        Err(params::ArgError)
    }
}

pub mod params {
    #[derive(Debug)]
    pub struct ArgError;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Str(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
}

pub struct AppModel;

impl AppModel {
    pub fn embedded(file_name: &str, text: &str) -> AppModel {
        AppModel
    }
}

pub struct Components;

impl Components {
    pub fn new() -> Self {
        Components
    }
    pub fn with_generated<G: typed::Generated>(self) -> Self {
        self
    }
}

pub use typed::Context;

pub mod typed {
    use super::*;

    pub struct NamedPorts;

    pub struct Context<P = NamedPorts> {
        pub ports: P,
    }

    pub struct Port;
    pub struct OpenedPorts;
    pub struct BindError;
    pub struct InsideMessage;

    macro_rules! handle {
        ($name:ident < $($m:ident),* >) => {
            pub struct $name<$($m),*>(PhantomData<fn() -> ($($m,)*)>, Port);
            impl<$($m),*> $name<$($m),*> {
                pub fn take(opened: &mut OpenedPorts, index: usize) -> Result<Self, BindError> {
                    Err(BindError)
                }
                #[doc(hidden)]
                pub fn port(&self) -> &Port {
                    &self.1
                }
                #[doc(hidden)]
                pub fn port_mut(&mut self) -> &mut Port {
                    &mut self.1
                }
            }
        };
    }
    handle!(Publisher<M>);
    handle!(Subscriber<M>);
    handle!(Requester<Q, A>);
    handle!(Querier<Q, A>);
    handle!(Client<Q, A>);
    handle!(Replier<Q, A>);
    handle!(Answerer<Q, A>);

    pub struct Inside(Port);
    impl Inside {
        pub fn take(opened: &mut OpenedPorts, index: usize) -> Result<Self, BindError> {
            Err(BindError)
        }
        #[doc(hidden)]
        pub fn port(&self) -> &Port {
            &self.0
        }
        #[doc(hidden)]
        pub fn port_mut(&mut self) -> &mut Port {
            &mut self.0
        }
    }

    pub trait PortSet: Sized + Send + 'static {
        fn from_opened(opened: &mut OpenedPorts) -> Result<Self, BindError>;
        // Not in the spec; the runtime's `PortSet` has it.
        fn port(&self, index: usize) -> Option<&Port>;
        fn port_mut(&mut self, index: usize) -> Option<&mut Port>;
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ModelPortKind {
        Pub,
        Sub,
        Clt,
        Srv,
        Req,
        Rep,
        Qry,
        Ans,
        Timer,
        Inside,
    }

    pub struct PortShape {
        pub name: &'static str,
        pub kind: ModelPortKind,
        pub messages: &'static [&'static str],
    }

    pub trait Generated: Sized + Send + 'static {
        type Ports: PortSet;
        const TYPE: &'static str;
        const PORTS: &'static [PortShape];
        fn check_args(args: &ComponentArgs) -> Result<(), params::ArgError>;
        fn make(args: &ComponentArgs, ctx: &mut Context<Self::Ports>) -> Result<Self, HandlerError>;
        fn serve(&mut self, ctx: &mut Context<Self::Ports>, index: usize) -> HandlerResult;
        fn tick(&mut self, ctx: &mut Context<Self::Ports>, index: usize, tick: Tick) -> HandlerResult;
        fn activate(&mut self, ctx: &mut Context<Self::Ports>) -> HandlerResult;
        fn deactivate(&mut self, ctx: &mut Context<Self::Ports>) -> HandlerResult;
        fn passivate(&mut self, ctx: &mut Context<Self::Ports>) -> HandlerResult;
        fn deadline_missed(
            &mut self,
            ctx: &mut Context<Self::Ports>,
            port: &str,
            took: std::time::Duration,
            deadline: std::time::Duration,
        );
        fn group(&mut self, ctx: &mut Context<Self::Ports>, group: &GroupName, event: GroupEvent) -> HandlerResult;
    }

    pub trait ModelGroup: Copy + Send + 'static {
        const NAME: &'static str;
        type Message: Message;
    }

    pub mod serve {
        use super::*;

        pub fn sub<C, P, M: Message>(
            c: &mut C,
            ctx: &mut Context<P>,
            port: fn(&mut P) -> &mut Subscriber<M>,
            handler: fn(&mut C, &mut Context<P>, Received<M>) -> HandlerResult,
        ) -> HandlerResult {
            Ok(())
        }

        pub fn reply<C, P, Q: Message, A: Message>(
            c: &mut C,
            ctx: &mut Context<P>,
            port: fn(&mut P) -> &mut Replier<Q, A>,
            handler: fn(&mut C, &mut Context<P>, Received<Q>) -> Result<A, HandlerError>,
        ) -> HandlerResult {
            Ok(())
        }

        pub fn answer<C, P, Q: Message, A: Message>(
            c: &mut C,
            ctx: &mut Context<P>,
            port: fn(&mut P) -> &mut Answerer<Q, A>,
            handler: fn(&mut C, &mut Context<P>, Request<Q>) -> HandlerResult,
        ) -> HandlerResult {
            Ok(())
        }

        pub fn requested<C, P, Q: Message, A: Message>(
            c: &mut C,
            ctx: &mut Context<P>,
            port: fn(&mut P) -> &mut Requester<Q, A>,
            handler: fn(&mut C, &mut Context<P>, Response<A>) -> HandlerResult,
        ) -> HandlerResult {
            Ok(())
        }

        pub fn queried<C, P, Q: Message, A: Message>(
            c: &mut C,
            ctx: &mut Context<P>,
            port: fn(&mut P) -> &mut Querier<Q, A>,
            handler: fn(&mut C, &mut Context<P>, Response<A>) -> HandlerResult,
        ) -> HandlerResult {
            Ok(())
        }

        pub fn inside<C, P>(
            c: &mut C,
            ctx: &mut Context<P>,
            port: fn(&mut P) -> &mut Inside,
            handler: fn(&mut C, &mut Context<P>, FromPeer<InsideMessage>) -> HandlerResult,
        ) -> HandlerResult {
            Ok(())
        }
    }
}
