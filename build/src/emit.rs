//! The generated code as tokens, from an [`AppPlan`]. The shape is the contract of
//! `typed-api-spec.md` (issue 12): every runtime item is named by its full path from
//! `::cohort_runtime::`, every std item from `::std::`/`::core::`, so the file compiles in any
//! module it is included in.

use cohort_model::ast::PortKind;
use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::decl::code_span;
use crate::error::Error;
use crate::names::RustName;
use crate::params::ParamType;
use crate::plan::{AppPlan, ComponentPlan, GroupPlan, MessagePlan, ParamPlan, PortPlan};

/// Where the user's types are, as paths checked by [`crate::Config`].
pub(crate) struct Paths<'a> {
    /// The module holding a type per model message (`crate::messages`).
    pub(crate) messages: &'a syn::Path,
    /// The module holding a type per component type (`crate::components`).
    pub(crate) components: &'a syn::Path,
}

/// `#[doc = " line"]` for each line (an empty line stays empty, as `///` alone).
fn doc(lines: &[String]) -> TokenStream {
    let attrs = lines.iter().map(|line| {
        let text = if line.is_empty() { String::new() } else { format!(" {line}") };
        quote!(#[doc = #text])
    });
    quote!(#(#attrs)*)
}

fn ident(name: &RustName) -> Result<syn::Ident, Error> {
    name.ident()
}

/// The whole file, as tokens (the header comment is added when it is printed).
pub(crate) fn app(
    plan: &AppPlan,
    paths: &Paths<'_>,
    file_name: &str,
    include_path: &str,
) -> Result<TokenStream, Error> {
    let app_doc = plan.quote.doc();
    let model_doc = doc(&[
        format!("The app model `{}` this code was generated from, embedded in the program.", plan.name),
        String::new(),
        app_doc.clone(),
    ]);
    let file_name = Literal::string(file_name);
    let include_path = Literal::string(include_path);
    let components_doc = doc(&[
        "Every component and device type of the app, each with your implementation of it (the type of".to_owned(),
        format!("the same name in `{}`), in model order.", path_text(paths.components)),
        String::new(),
        app_doc,
    ]);
    let components_path = paths.components;
    let registrations = plan
        .components
        .iter()
        .map(|c| {
            let module = ident(&c.module)?;
            let ty = ident(&c.type_name)?;
            Ok(quote!(.with_generated::<#module::Adapter<#components_path::#ty>>()))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let messages = messages(plan, paths)?;
    let groups = if plan.groups.is_empty() { TokenStream::new() } else { groups(&plan.groups)? };
    let components = plan.components.iter().map(|c| component(c, paths)).collect::<Result<Vec<_>, Error>>()?;
    Ok(quote! {
        #model_doc
        pub fn app_model() -> ::cohort_runtime::AppModel {
            ::cohort_runtime::AppModel::embedded(#file_name, ::core::include_str!(#include_path))
        }

        #components_doc
        pub fn components() -> ::cohort_runtime::Components {
            ::cohort_runtime::Components::new()
                #(#registrations)*
        }

        #messages
        #groups
        #(#components)*
    })
}

/// A path as prettyplease prints it: `crate::messages`, `::shared::messages`.
pub(crate) fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let lead = if path.leading_colon.is_some() { "::" } else { "" };
    format!("{lead}{}", segments.join("::"))
}

fn messages(plan: &AppPlan, paths: &Paths<'_>) -> Result<TokenStream, Error> {
    let module_doc = doc(&[
        "The model's message types: each is your type of the same name in".to_owned(),
        format!("`{}`, which must implement `serde::Serialize` and `serde::Deserialize`;", path_text(paths.messages)),
        "its `::cohort_runtime::Message` implementation is generated here.".to_owned(),
    ]);
    let path = paths.messages;
    let items = plan
        .messages
        .iter()
        .map(|m: &MessagePlan| {
            let ty = ident(&m.rust)?;
            let item_doc = doc(&[m.quote.doc()]);
            let name = Literal::string(&m.model_name);
            Ok(quote! {
                #item_doc
                pub use #path::#ty;
                impl ::cohort_runtime::Message for #path::#ty {
                    const NAME: &'static str = #name;
                }
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(quote! {
        #module_doc
        pub mod messages {
            #(#items)*
        }
    })
}

fn groups(groups: &[GroupPlan]) -> Result<TokenStream, Error> {
    let module_doc = doc(&["The model's group types, to join with `ctx.join(groups::G, \"instance\")`.".to_owned()]);
    let items = groups
        .iter()
        .map(|g| {
            let ty = ident(&g.rust)?;
            let message = ident(&g.message)?;
            let item_doc = doc(&[g.quote.doc()]);
            let name = Literal::string(&g.model_name);
            Ok(quote! {
                #item_doc
                #[allow(non_camel_case_types)]
                #[derive(Debug, Clone, Copy)]
                pub struct #ty;
                impl ::cohort_runtime::typed::ModelGroup for #ty {
                    const NAME: &'static str = #name;
                    type Message = super::messages::#message;
                }
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(quote! {
        #module_doc
        pub mod groups {
            #(#items)*
        }
    })
}

/// The handle type of a port's field; none for timers.
fn handle_type(port: &PortPlan) -> Result<Option<TokenStream>, Error> {
    let types = port.message_types.iter().map(ident).collect::<Result<Vec<_>, Error>>()?;
    let one = |handle: TokenStream| -> Result<TokenStream, Error> {
        match types.as_slice() {
            [m] => Ok(quote!(::cohort_runtime::typed::#handle<super::messages::#m>)),
            _ => Err(Error::Internal(format!("port `{}` has {} message types, not 1", port.model_name, types.len()))),
        }
    };
    let pair = |handle: TokenStream| -> Result<TokenStream, Error> {
        match types.as_slice() {
            [q, a] => Ok(quote!(::cohort_runtime::typed::#handle<super::messages::#q, super::messages::#a>)),
            _ => Err(Error::Internal(format!("port `{}` has {} message types, not 2", port.model_name, types.len()))),
        }
    };
    Ok(Some(match port.kind {
        PortKind::Timer => return Ok(None),
        PortKind::Pub => one(quote!(Publisher))?,
        PortKind::Sub => one(quote!(Subscriber))?,
        PortKind::Req => pair(quote!(Requester))?,
        PortKind::Qry => pair(quote!(Querier))?,
        PortKind::Clt => pair(quote!(Client))?,
        PortKind::Rep | PortKind::Srv => pair(quote!(Replier))?,
        PortKind::Ans => pair(quote!(Answerer))?,
        PortKind::Inside => quote!(::cohort_runtime::typed::Inside),
    }))
}

/// A message type's model name in code span, for docs.
fn msg(port: &PortPlan, i: usize) -> String {
    code_span(port.message_names.get(i).map_or("?", String::as_str))
}

/// What a handler method looks like, beyond `&mut self, ctx`.
struct HandlerShape {
    /// Its third parameter (`tick: ::cohort_runtime::Tick`).
    param: TokenStream,
    /// Its return type.
    ret: TokenStream,
    /// The first line of its doc.
    doc: String,
}

/// The handler of an input port; none for ports that only send.
fn handler_signature(port: &PortPlan) -> Result<Option<HandlerShape>, Error> {
    let types = port.message_types.iter().map(ident).collect::<Result<Vec<_>, Error>>()?;
    let field = port.field.as_ref().map_or_else(|| port.model_name.clone(), RustName::text);
    let name = code_span(&port.model_name);
    let result = quote!(::cohort_runtime::HandlerResult);
    let (q, a) = match types.as_slice() {
        [q, a] => (Some(q), Some(a)),
        [m] => (Some(m), None),
        _ => (None, None),
    };
    let missing = || Error::Internal(format!("port `{}` lacks a message type", port.model_name));
    let ((param, ret), doc) = match port.kind {
        PortKind::Pub | PortKind::Clt => return Ok(None),
        PortKind::Timer => {
            ((quote!(tick: ::cohort_runtime::Tick), result.clone()), format!("Called on each tick of timer {name}."))
        }
        PortKind::Sub => {
            let m = q.ok_or_else(missing)?;
            (
                (quote!(message: ::cohort_runtime::Received<super::messages::#m>), result.clone()),
                format!("Called for each {} message that port {name} receives.", msg(port, 0)),
            )
        }
        PortKind::Rep | PortKind::Srv => {
            let (q, a) = q.zip(a).ok_or_else(missing)?;
            (
                (
                    quote!(request: ::cohort_runtime::Received<super::messages::#q>),
                    quote!(::core::result::Result<super::messages::#a, ::cohort_runtime::HandlerError>),
                ),
                format!("Called for each {} request on port {name}; returns the {} reply.", msg(port, 0), msg(port, 1)),
            )
        }
        PortKind::Ans => {
            let q = q.ok_or_else(missing)?;
            (
                (quote!(request: ::cohort_runtime::Request<super::messages::#q>), result.clone()),
                format!(
                    "Called for each {} query on port {name}; answer it (now or later) with `ctx.ports.{field}.answer(&request.token, &answer)`.",
                    msg(port, 0)
                ),
            )
        }
        PortKind::Req | PortKind::Qry => {
            let a = a.ok_or_else(missing)?;
            let what = if port.kind == PortKind::Req { "reply to a request" } else { "answer to a query" };
            (
                (quote!(response: ::cohort_runtime::Response<super::messages::#a>), result.clone()),
                format!("Called for each {} {what} sent on port {name}.", msg(port, 1)),
            )
        }
        PortKind::Inside => (
            (quote!(message: ::cohort_runtime::FromPeer<::cohort_runtime::typed::InsideMessage>), result.clone()),
            format!("Called for each message that the component's own threads send on inside port {name}."),
        ),
    };
    Ok(Some(HandlerShape { param, ret, doc }))
}

fn component(c: &ComponentPlan, paths: &Paths<'_>) -> Result<TokenStream, Error> {
    let module = ident(&c.module)?;
    let kind = if c.is_device { "device" } else { "component" };
    let user_type = format!("{}::{}", path_text(paths.components), c.type_name.text());
    let quote_line = c.quote.doc();
    let module_doc = doc(&[
        quote_line.clone(),
        String::new(),
        format!("Implement `Component` for your type `{user_type}`; `Adapter` plugs it into the runtime."),
    ]);
    let ports = ports(c)?;
    let params = params(c)?;
    let component_trait = component_trait(c, &user_type, kind)?;
    let adapter = adapter(c)?;
    Ok(quote! {
        #module_doc
        pub mod #module {
            #ports
            #params
            #component_trait
            #adapter
        }
    })
}

fn ports(c: &ComponentPlan) -> Result<TokenStream, Error> {
    let struct_doc = doc(&[
        format!(
            "The ports of {}: a handle per port that has a socket (timers have none), in `ctx.ports`.",
            code_span(&c.model_name)
        ),
        String::new(),
        c.quote.doc(),
    ]);
    let mut fields = Vec::new();
    let mut takes = Vec::new();
    let mut ports = Vec::new();
    let mut port_muts = Vec::new();
    for port in &c.ports {
        let (Some(field), Some(ty)) = (&port.field, handle_type(port)?) else { continue };
        let field = ident(field)?;
        let field_doc = doc(&[port.quote.doc()]);
        let index = Literal::usize_unsuffixed(port.index);
        fields.push(quote!(#field_doc pub #field: #ty,));
        let handle = match port.kind {
            PortKind::Pub => quote!(Publisher),
            PortKind::Sub => quote!(Subscriber),
            PortKind::Req => quote!(Requester),
            PortKind::Qry => quote!(Querier),
            PortKind::Clt => quote!(Client),
            PortKind::Rep | PortKind::Srv => quote!(Replier),
            PortKind::Ans => quote!(Answerer),
            PortKind::Inside => quote!(Inside),
            PortKind::Timer => continue,
        };
        takes.push(quote!(#field: ::cohort_runtime::typed::#handle::take(opened, #index)?,));
        ports.push(quote!(#index => ::core::option::Option::Some(self.#field.port()),));
        port_muts.push(quote!(#index => ::core::option::Option::Some(self.#field.port_mut()),));
    }
    let port_body = if ports.is_empty() {
        quote!(let _ = index; ::core::option::Option::None)
    } else {
        quote!(match index { #(#ports)* _ => ::core::option::Option::None, })
    };
    let port_mut_body = if port_muts.is_empty() {
        quote!(let _ = index; ::core::option::Option::None)
    } else {
        quote!(match index { #(#port_muts)* _ => ::core::option::Option::None, })
    };
    let from_opened_body = if takes.is_empty() {
        quote!(let _ = opened; ::core::result::Result::Ok(Ports {}))
    } else {
        quote!(::core::result::Result::Ok(Ports { #(#takes)* }))
    };
    Ok(quote! {
        #struct_doc
        pub struct Ports {
            #(#fields)*
        }

        impl ::cohort_runtime::typed::PortSet for Ports {
            fn from_opened(
                opened: &mut ::cohort_runtime::typed::OpenedPorts,
            ) -> ::core::result::Result<Self, ::cohort_runtime::typed::BindError> {
                #from_opened_body
            }

            fn port(&self, index: usize) -> ::core::option::Option<&::cohort_runtime::typed::Port> {
                #port_body
            }

            fn port_mut(&mut self, index: usize) -> ::core::option::Option<&mut ::cohort_runtime::typed::Port> {
                #port_mut_body
            }
        }
    })
}

fn param_type_tokens(ty: ParamType) -> TokenStream {
    match ty {
        ParamType::Int => quote!(i64),
        ParamType::Float => quote!(f64),
        ParamType::Bool => quote!(bool),
        ParamType::Str => quote!(::std::string::String),
        ParamType::Value => quote!(::cohort_runtime::params::Value),
    }
}

fn param_doc(p: &ParamPlan) -> TokenStream {
    let mut lines = vec![p.quote.doc()];
    if !p.has_default {
        lines.push(String::new());
        lines.push(match p.ty {
            ParamType::Value => {
                "No default, and the model's literal arguments for it do not agree on one type (or there are none): any value.".to_owned()
            }
            _ => "No default: the type every literal argument for it in the model agrees on.".to_owned(),
        });
    }
    doc(&lines)
}

fn params(c: &ComponentPlan) -> Result<TokenStream, Error> {
    let struct_doc = doc(&[
        format!("The parameters of {}, read from each instance's arguments.", code_span(&c.model_name)),
        String::new(),
        c.quote.doc(),
    ]);
    let mut fields = Vec::new();
    let mut reads = Vec::new();
    for p in &c.params {
        let field = ident(&p.field)?;
        let field_doc = param_doc(p);
        let ty = param_type_tokens(p.ty);
        let name = Literal::string(&p.model_name);
        fields.push(quote!(#field_doc pub #field: #ty,));
        reads.push(match p.ty {
            ParamType::Int => quote!(#field: args.int(#name)?,),
            ParamType::Float => quote!(#field: args.float(#name)?,),
            ParamType::Bool => quote!(#field: args.bool(#name)?,),
            ParamType::Str => quote!(#field: args.string(#name)?.to_owned(),),
            ParamType::Value => quote!(#field: args.value(#name)?.clone(),),
        });
    }
    let unused = if reads.is_empty() { quote!(let _ = args;) } else { TokenStream::new() };
    Ok(quote! {
        #struct_doc
        #[derive(Debug, Clone, PartialEq)]
        pub struct Params {
            #(#fields)*
        }

        impl Params {
            /// Reads the parameters from an instance's arguments; fails when one is missing or of
            /// another type.
            pub fn from_args(
                args: &::cohort_runtime::ComponentArgs,
            ) -> ::core::result::Result<Params, ::cohort_runtime::params::ArgError> {
                #unused
                ::core::result::Result::Ok(Params { #(#reads)* })
            }
        }
    })
}

fn component_trait(c: &ComponentPlan, user_type: &str, kind: &str) -> Result<TokenStream, Error> {
    let trait_doc = doc(&[
        format!("The {} {kind}: implement this for your type `{user_type}`.", code_span(&c.model_name)),
        String::new(),
        c.quote.doc(),
    ]);
    let ctx = quote!(ctx: &mut ::cohort_runtime::typed::Context<Ports>);
    let mut handlers = Vec::new();
    for port in &c.ports {
        let (Some(handler), Some(HandlerShape { param, ret, doc: first_line })) =
            (&port.handler, handler_signature(port)?)
        else {
            continue;
        };
        let method = ident(handler)?;
        let method_doc = doc(&[first_line, String::new(), port.quote.doc()]);
        handlers.push(quote! {
            #method_doc
            fn #method(&mut self, #ctx, #param) -> #ret;
        });
    }
    Ok(quote! {
        #trait_doc
        pub trait Component: Sized + Send + 'static {
            /// Makes the component of one instance from its parameters.
            fn new(params: Params, #ctx) -> ::core::result::Result<Self, ::cohort_runtime::HandlerError>;

            #(#handlers)*

            /// Called when the component is activated. Does nothing unless implemented.
            fn on_activate(&mut self, #ctx) -> ::cohort_runtime::HandlerResult {
                let _ = ctx;
                ::core::result::Result::Ok(())
            }

            /// Called when the component is deactivated. Does nothing unless implemented.
            fn on_deactivate(&mut self, #ctx) -> ::cohort_runtime::HandlerResult {
                let _ = ctx;
                ::core::result::Result::Ok(())
            }

            /// Called when the component is passivated. Does nothing unless implemented.
            fn on_passivate(&mut self, #ctx) -> ::cohort_runtime::HandlerResult {
                let _ = ctx;
                ::core::result::Result::Ok(())
            }

            /// Called when the handler of `port` took `took`, longer than its deadline `deadline`
            /// (`within` in the model). Does nothing unless implemented.
            fn on_deadline_missed(
                &mut self,
                #ctx,
                port: &str,
                took: ::std::time::Duration,
                deadline: ::std::time::Duration,
            ) {
                let _ = (ctx, port, took, deadline);
            }

            /// Called for each event of a group the component has joined. Does nothing unless
            /// implemented.
            fn on_group(
                &mut self,
                #ctx,
                group: &::cohort_runtime::GroupName,
                event: ::cohort_runtime::GroupEvent,
            ) -> ::cohort_runtime::HandlerResult {
                let _ = (ctx, group, event);
                ::core::result::Result::Ok(())
            }

            /// Called when the network interface the actor's global ports bind to goes up or
            /// down. Does nothing unless implemented.
            fn on_nic_state(&mut self, #ctx, state: ::cohort_runtime::NicState) -> ::cohort_runtime::HandlerResult {
                let _ = (ctx, state);
                ::core::result::Result::Ok(())
            }

            /// Called when another actor of the app, on any host, appears or disappears (at
            /// start-up, once for each one already there). Does nothing unless implemented.
            fn on_peer_state(
                &mut self,
                #ctx,
                peer: &::cohort_runtime::Peer,
                state: ::cohort_runtime::PeerState,
            ) -> ::cohort_runtime::HandlerResult {
                let _ = (ctx, peer, state);
                ::core::result::Result::Ok(())
            }

            /// Called when the actor goes over a part of its budget (the model's `uses`), each
            /// kind at most once a second. Does nothing unless implemented.
            fn on_limit(&mut self, #ctx, limit: ::cohort_runtime::Limit) -> ::cohort_runtime::HandlerResult {
                let _ = (ctx, limit);
                ::core::result::Result::Ok(())
            }
        }
    })
}

/// The `serve` helper and the handler of an input port; none for timers and ports that only send.
fn serve_arm(port: &PortPlan) -> Result<Option<TokenStream>, Error> {
    let helper = match port.kind {
        PortKind::Sub => quote!(sub),
        PortKind::Rep | PortKind::Srv => quote!(reply),
        PortKind::Ans => quote!(answer),
        PortKind::Req => quote!(requested),
        PortKind::Qry => quote!(queried),
        PortKind::Inside => quote!(inside),
        PortKind::Pub | PortKind::Clt | PortKind::Timer => return Ok(None),
    };
    let (Some(field), Some(handler)) = (&port.field, &port.handler) else { return Ok(None) };
    let field = ident(field)?;
    let handler = ident(handler)?;
    let index = Literal::usize_unsuffixed(port.index);
    Ok(Some(quote! {
        #index => ::cohort_runtime::typed::serve::#helper(
            &mut self.0,
            ctx,
            |p| &mut p.#field,
            <T as Component>::#handler,
        ),
    }))
}

fn adapter(c: &ComponentPlan) -> Result<TokenStream, Error> {
    let adapter_doc = doc(&[
        "Plugs your `Component` into the runtime: `components()` registers".to_owned(),
        format!("`Adapter<YourType>` for {}.", code_span(&c.model_name)),
        String::new(),
        c.quote.doc(),
    ]);
    let type_name = Literal::string(&c.model_name);
    let shapes = c.ports.iter().map(|port| {
        let name = Literal::string(&port.model_name);
        let kind = match port.kind {
            PortKind::Pub => quote!(Pub),
            PortKind::Sub => quote!(Sub),
            PortKind::Clt => quote!(Clt),
            PortKind::Srv => quote!(Srv),
            PortKind::Req => quote!(Req),
            PortKind::Rep => quote!(Rep),
            PortKind::Qry => quote!(Qry),
            PortKind::Ans => quote!(Ans),
            PortKind::Timer => quote!(Timer),
            PortKind::Inside => quote!(Inside),
        };
        let messages = port.message_names.iter().map(|m| Literal::string(m));
        quote! {
            ::cohort_runtime::typed::PortShape {
                name: #name,
                kind: ::cohort_runtime::typed::ModelPortKind::#kind,
                messages: &[#(#messages),*],
            },
        }
    });
    let serve_arms =
        c.ports.iter().map(serve_arm).collect::<Result<Vec<_>, Error>>()?.into_iter().flatten().collect::<Vec<_>>();
    let serve_body = if serve_arms.is_empty() {
        quote!(let _ = (ctx, index); ::core::result::Result::Ok(()))
    } else {
        quote!(match index { #(#serve_arms)* _ => ::core::result::Result::Ok(()), })
    };
    let mut tick_arms = Vec::new();
    for port in c.ports.iter().filter(|p| p.kind == PortKind::Timer) {
        let Some(handler) = &port.handler else { continue };
        let handler = ident(handler)?;
        let index = Literal::usize_unsuffixed(port.index);
        tick_arms.push(quote!(#index => <T as Component>::#handler(&mut self.0, ctx, tick),));
    }
    let tick_body = if tick_arms.is_empty() {
        quote!(let _ = (ctx, index, tick); ::core::result::Result::Ok(()))
    } else {
        quote!(match index { #(#tick_arms)* _ => ::core::result::Result::Ok(()), })
    };
    let ctx = quote!(ctx: &mut ::cohort_runtime::typed::Context<Ports>);
    Ok(quote! {
        #adapter_doc
        pub struct Adapter<T>(T);

        impl<T: Component> ::cohort_runtime::typed::Generated for Adapter<T> {
            type Ports = Ports;
            const TYPE: &'static str = #type_name;
            const PORTS: &'static [::cohort_runtime::typed::PortShape] = &[#(#shapes)*];

            fn check_args(
                args: &::cohort_runtime::ComponentArgs,
            ) -> ::core::result::Result<(), ::cohort_runtime::params::ArgError> {
                Params::from_args(args).map(|_| ())
            }

            fn make(
                args: &::cohort_runtime::ComponentArgs,
                #ctx,
            ) -> ::core::result::Result<Self, ::cohort_runtime::HandlerError> {
                let params = Params::from_args(args)?;
                <T as Component>::new(params, ctx).map(Adapter)
            }

            fn serve(&mut self, #ctx, index: usize) -> ::cohort_runtime::HandlerResult {
                #serve_body
            }

            fn tick(&mut self, #ctx, index: usize, tick: ::cohort_runtime::Tick) -> ::cohort_runtime::HandlerResult {
                #tick_body
            }

            fn activate(&mut self, #ctx) -> ::cohort_runtime::HandlerResult {
                <T as Component>::on_activate(&mut self.0, ctx)
            }

            fn deactivate(&mut self, #ctx) -> ::cohort_runtime::HandlerResult {
                <T as Component>::on_deactivate(&mut self.0, ctx)
            }

            fn passivate(&mut self, #ctx) -> ::cohort_runtime::HandlerResult {
                <T as Component>::on_passivate(&mut self.0, ctx)
            }

            fn deadline_missed(
                &mut self,
                #ctx,
                port: &str,
                took: ::std::time::Duration,
                deadline: ::std::time::Duration,
            ) {
                <T as Component>::on_deadline_missed(&mut self.0, ctx, port, took, deadline)
            }

            fn group(
                &mut self,
                #ctx,
                group: &::cohort_runtime::GroupName,
                event: ::cohort_runtime::GroupEvent,
            ) -> ::cohort_runtime::HandlerResult {
                <T as Component>::on_group(&mut self.0, ctx, group, event)
            }

            fn nic_state(&mut self, #ctx, state: ::cohort_runtime::NicState) -> ::cohort_runtime::HandlerResult {
                <T as Component>::on_nic_state(&mut self.0, ctx, state)
            }

            fn peer_state(
                &mut self,
                #ctx,
                peer: &::cohort_runtime::Peer,
                state: ::cohort_runtime::PeerState,
            ) -> ::cohort_runtime::HandlerResult {
                <T as Component>::on_peer_state(&mut self.0, ctx, peer, state)
            }

            fn limit(&mut self, #ctx, limit: ::cohort_runtime::Limit) -> ::cohort_runtime::HandlerResult {
                <T as Component>::on_limit(&mut self.0, ctx, limit)
            }
        }
    })
}
