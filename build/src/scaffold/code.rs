//! The Rust sources of a new app crate: `main.rs`, `messages.rs` with a type per message, and a
//! file per component type with every handler stubbed. Every name comes from the generator's
//! [`plan`](crate::plan), so the stubs implement exactly the traits the build generates.

use std::fmt::Write as _;

use cohort_model::ast::PortKind;

use super::imports::Imports;
use crate::names::Names;
use crate::plan::{AppPlan, ComponentPlan, PortPlan};

/// rustfmt's line width, which the written code keeps to.
const MAX_WIDTH: usize = 100;

/// Where the app's modules are: `crate` in an app crate, or a module of a larger crate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Root<'a>(pub(super) &'a str);

impl Root<'_> {
    fn messages(self) -> String {
        format!("{}::messages", self.0)
    }

    fn model(self) -> String {
        format!("{}::model", self.0)
    }
}

/// Whether rustc's `non_camel_case_types` lint accepts `name` as a type name (its own rule).
fn is_camel_case(name: &str) -> bool {
    fn has_case(c: char) -> bool {
        c.to_lowercase().ne(c.to_uppercase())
    }
    let name = name.trim_matches('_');
    let chars: Vec<char> = name.chars().collect();
    chars.first().is_none_or(|c| !c.is_lowercase())
        && !name.contains("__")
        && !chars.windows(2).any(|w| (has_case(w[0]) && w[1] == '_') || (w[0] == '_' && has_case(w[1])))
}

/// `#[allow(non_camel_case_types)]` before a type the model names in another case.
fn camel_case_allow(name: &str) -> &'static str {
    if is_camel_case(name) {
        ""
    } else {
        "#[allow(non_camel_case_types)]\n"
    }
}

/// A Rust string literal of `text`.
fn string(text: &str) -> String {
    format!("{text:?}")
}

/// `src/main.rs`.
pub(super) fn main_rs(crate_name: &str, app: &str, model_file: &str, generated_file: &str, depl: &str) -> String {
    format!(
        "//! `{crate_name}`: the Cohort app `{app}` of `{model_file}`.\n\
         //!\n\
         //! `build.rs` generates the app's typed layer from the model (the `model` module below);\n\
         //! `messages.rs` holds the message types and `components/` the component types, which\n\
         //! implement it. `cargo run -- run --deployment {depl}` runs every actor on this host.\n\
         \n\
         mod components;\n\
         mod messages;\n\
         \n\
         /// The code generated from `{model_file}` by `build.rs`: ports, parameters, a handler trait\n\
         /// per component type, and the registry of all of them.\n\
         #[allow(dead_code, unreachable_pub)]\n\
         mod model {{\n    \
             include!(concat!(env!(\"OUT_DIR\"), \"/{generated_file}\"));\n\
         }}\n\
         \n\
         fn main() -> std::process::ExitCode {{\n    \
             cohort_runtime::launch(model::app_model(), model::components())\n\
         }}\n"
    )
}

/// `messages.rs`: a serde struct per message of the model, with no fields yet.
pub(super) fn messages_rs(plan: &AppPlan, model_file: &str) -> String {
    let own: Vec<String> = plan.messages.iter().map(|m| m.rust.text()).collect();
    let own: Vec<&str> = own.iter().map(String::as_str).collect();
    let mut imports = Imports::new(&own);
    let mut out = format!(
        "//! The app's messages: a type per `message` of `{model_file}`, under the model's name.\n\
         //!\n\
         //! Add the fields each message carries. The build binds each type to its model message, so a\n\
         //! port takes only its own types; messages travel serialized with serde.\n"
    );
    if plan.messages.is_empty() {
        return out;
    }
    let serialize = imports.item("serde", "Serialize");
    let deserialize = imports.item("serde", "Deserialize");
    out.push('\n');
    out.push_str(imports.render().trim_end_matches('\n'));
    out.push('\n');
    for m in &plan.messages {
        let _ = write!(
            out,
            "\n/// {}\n{}#[derive(Debug, Clone, Default, PartialEq, {serialize}, {deserialize})]\npub struct {} {{}}\n",
            m.quote.doc(),
            camel_case_allow(&m.rust.bare),
            m.rust.text()
        );
    }
    out
}

/// The file module of each component type in `components/`: the generated module's name, unless
/// a component type (re-exported beside it) or `mod` (`mod.rs`) has it.
pub(super) fn file_modules(plan: &AppPlan) -> Vec<String> {
    let mut reserved: Vec<&str> = plan.components.iter().map(|c| c.type_name.bare.as_str()).collect();
    reserved.push("mod");
    let mut names = Names::with_reserved(&reserved);
    plan.components.iter().map(|c| names.claim(&c.module.bare).text()).collect()
}

/// `components/mod.rs`: a module per component type, each type re-exported.
pub(super) fn components_mod_rs(plan: &AppPlan, modules: &[String]) -> String {
    let mut out = "//! The app's component types, a file each. The code generated from the model expects each type\n\
                   //! here under its model name, and calls its handlers.\n"
        .to_owned();
    let mut mods: Vec<String> = modules.iter().map(|m| format!("mod {m};\n")).collect();
    let mut uses: Vec<String> =
        plan.components.iter().zip(modules).map(|(c, m)| format!("pub use {m}::{};\n", c.type_name.text())).collect();
    mods.sort();
    uses.sort();
    for block in [mods, uses] {
        if !block.is_empty() {
            out.push('\n');
            out.push_str(&block.concat());
        }
    }
    out
}

/// The parts of a handler: its parameter (after `&mut self` and `ctx`), return type and body.
struct Handler {
    param: String,
    ret: String,
    body: String,
}

/// A component's file: its type and the implementation of the generated trait, every handler a
/// stub that logs.
pub(super) fn component_rs(c: &ComponentPlan, root: Root<'_>) -> String {
    let ty = c.type_name.text();
    let mut im = Imports::new(&[&ty]);
    let module = im.item(&root.model(), &c.module.text());
    let context = format!("{}<{module}::Ports>", im.item("cohort_runtime::typed", "Context"));
    let slog = im.prelude("slog", "::slog");
    let ok = im.prelude("Ok", "::core::result::Result::Ok");
    let result = im.prelude("Result", "::core::result::Result");
    let handler_result = im.item("cohort_runtime", "HandlerResult");
    let handler_error = im.item("cohort_runtime", "HandlerError");

    // The first periodic timer sends a default message on each sending port at its first tick.
    // Publications first: a request that fails (no provider yet) ends the handler.
    let sends: Vec<&PortPlan> = c
        .ports
        .iter()
        .filter(|p| p.kind == PortKind::Pub)
        .chain(c.ports.iter().filter(|p| matches!(p.kind, PortKind::Req | PortKind::Qry)))
        .collect();
    let sender = if sends.is_empty() { None } else { c.ports.iter().find(|p| p.periodic) };

    let kind = if c.is_device { "device" } else { "component" };
    let mut items = String::new();
    let _ = write!(
        items,
        "/// The {kind} `{model_name}`: one per instance in the model's actors.\n\
         {allow}pub struct {ty} {{\n    \
             /// The instance's parameters, from the model and the deployment.\n    \
             params: {module}::Params,\n",
        model_name = c.model_name,
        allow = camel_case_allow(&c.type_name.bare),
    );
    if let Some(timer) = sender {
        let _ = writeln!(
            items,
            "    /// Whether the first tick of `{}` has sent the stub's default messages.\n    first_tick_done: bool,",
            timer.model_name
        );
    }
    items.push_str("}\n\n");
    let _ = writeln!(items, "impl {module}::Component for {ty} {{");

    // As rustfmt writes them: one short field on the line, else a field a line.
    let fields = if sender.is_some() {
        "{\n            params,\n            first_tick_done: false,\n        }"
    } else {
        "{ params }"
    };
    items.push_str(&signature(
        "new",
        &[format!("params: {module}::Params"), format!("_ctx: &mut {context}")],
        &format!("{result}<Self, {handler_error}>"),
    ));
    let _ = write!(items, "        {ok}(Self {fields})\n    }}\n\n");

    items.push_str(&signature(
        "on_activate",
        &["&mut self".to_owned(), format!("ctx: &mut {context}")],
        &handler_result,
    ));
    let _ = write!(
        items,
        "        {slog}::info!(ctx.log(), \"active\"; \"type\" => {}, \"params\" => ?self.params);\n        {ok}(())\n    }}\n",
        string(&c.model_name)
    );

    for port in &c.ports {
        let Some(handler) = &port.handler else { continue };
        let Some(h) = handler_stub(port, &mut im, &slog, &ok, &handler_result, &handler_error, root) else { continue };
        let mut body = h.body;
        if sender.is_some_and(|s| s.index == port.index) {
            body.push_str(&first_tick(&sends, &mut im, &slog, root));
        }
        let _ = write!(items, "\n    /// {}\n", port.quote.doc());
        items.push_str(&signature(
            &handler.text(),
            &["&mut self".to_owned(), format!("ctx: &mut {context}"), h.param],
            &h.ret,
        ));
        items.push_str(&body);
        if h.ret == handler_result {
            let _ = writeln!(items, "        {ok}(())");
        }
        items.push_str("    }\n");
    }
    items.push_str("}\n");

    let header = format!(
        "//! The {kind} `{model_name}`.\n\
         //!\n\
         //! {quote}\n\
         //!\n\
         //! `cohort new` wrote every handler as a stub that logs what happened: replace them with your\n\
         //! code. The trait is generated from the model when the crate builds, so a port added to the\n\
         //! model is a handler the compiler asks for here: `{module_path}::Component`.\n\n",
        model_name = c.model_name,
        quote = c.quote.doc(),
        module_path = format!("{}::{}", root.model(), c.module.text()).trim_start_matches("crate::"),
    );
    format!("{header}{}{items}", im.render())
}

/// `    fn name(params) -> ret {`, one parameter a line when that is too wide, as rustfmt does.
fn signature(name: &str, params: &[String], ret: &str) -> String {
    let one = format!("    fn {name}({}) -> {ret} {{\n", params.join(", "));
    if one.trim_end().chars().count() <= MAX_WIDTH {
        return one;
    }
    let mut out = format!("    fn {name}(\n");
    for p in params {
        let _ = writeln!(out, "        {p},");
    }
    let _ = writeln!(out, "    ) -> {ret} {{");
    out
}

/// The message type `i` of a port (0: the request or the only one, 1: the reply), as the file
/// names it.
fn message(port: &PortPlan, i: usize, im: &mut Imports, root: Root<'_>) -> String {
    match port.message_types.get(i) {
        Some(m) => im.item(&root.messages(), &m.text()),
        // The checks guarantee the types; a port without one would not compile anyway.
        None => "()".to_owned(),
    }
}

/// The stub of an input port's handler; none for ports that only send.
fn handler_stub(
    port: &PortPlan,
    im: &mut Imports,
    slog: &str,
    ok: &str,
    handler_result: &str,
    handler_error: &str,
    root: Root<'_>,
) -> Option<Handler> {
    let name = string(&port.model_name);
    let field = port.field.as_ref().map(|f| f.text()).unwrap_or_default();
    let done = |param: String, body: String| Some(Handler { param, ret: handler_result.to_owned(), body });
    match port.kind {
        PortKind::Pub | PortKind::Clt => None,
        PortKind::Timer => done(
            format!("tick: {}", im.item("cohort_runtime", "Tick")),
            format!("        {slog}::info!(ctx.log(), \"tick\"; \"timer\" => {name}, \"missed\" => tick.missed);\n"),
        ),
        PortKind::Sub => {
            let m = message(port, 0, im, root);
            done(
                format!("message: {}<{m}>", im.item("cohort_runtime", "Received")),
                format!(
                    "        {slog}::info!(ctx.log(), \"message received\"; \"port\" => {name}, \"message\" => ?message.value);\n"
                ),
            )
        }
        PortKind::Rep | PortKind::Srv => {
            let (q, a) = (message(port, 0, im, root), message(port, 1, im, root));
            let result = im.prelude("Result", "::core::result::Result");
            Some(Handler {
                param: format!("request: {}<{q}>", im.item("cohort_runtime", "Received")),
                ret: format!("{result}<{a}, {handler_error}>"),
                body: format!(
                    "        {slog}::info!(ctx.log(), \"request answered\"; \"port\" => {name}, \"request\" => ?request.value);\n        \
                     {ok}({a}::default())\n"
                ),
            })
        }
        PortKind::Ans => {
            let (q, a) = (message(port, 0, im, root), message(port, 1, im, root));
            done(
                format!("request: {}<{q}>", im.item("cohort_runtime", "Request")),
                format!(
                    "        {slog}::info!(ctx.log(), \"query answered\"; \"port\" => {name}, \"query\" => ?request.message.value);\n        \
                     ctx.ports.{field}.reply(&request.token, &{a}::default())?;\n"
                ),
            )
        }
        PortKind::Req | PortKind::Qry => {
            let a = message(port, 1, im, root);
            let response = im.item("cohort_runtime", "Response");
            let (reply, failed) = if port.kind == PortKind::Req {
                ("reply received", "request failed")
            } else {
                ("answer received", "query failed")
            };
            done(
                format!("response: {response}<{a}>"),
                format!(
                    "        match response {{\n            \
                     {response}::Reply {{ message, .. }} => {{\n                \
                     {slog}::info!(ctx.log(), \"{reply}\"; \"port\" => {name}, \"message\" => ?message.value);\n            \
                     }}\n            \
                     {response}::Failed {{ error, .. }} => {{\n                \
                     {slog}::warn!(ctx.log(), \"{failed}\"; \"port\" => {name}, \"error\" => %error);\n            \
                     }}\n        \
                     }}\n"
                ),
            )
        }
        PortKind::Inside => done(
            format!(
                "message: {}<{}>",
                im.item("cohort_runtime", "FromPeer"),
                im.item("cohort_runtime::typed", "InsideMessage")
            ),
            format!(
                "        {slog}::info!(ctx.log(), \"inside message received\"; \"port\" => {name}, \"bytes\" => message.message.value.as_bytes().len());\n"
            ),
        ),
    }
}

/// What the first tick of the sending timer adds: a default message on each `pub` port, a
/// default request on each `req` and `qry` port.
fn first_tick(sends: &[&PortPlan], im: &mut Imports, slog: &str, root: Root<'_>) -> String {
    let mut out = "        if !self.first_tick_done {\n            \
                   self.first_tick_done = true;\n            \
                   // The stub sends a default message on each sending port at the first tick, so\n            \
                   // that `run` shows messages flowing. Replace it with your code.\n"
        .to_owned();
    for port in sends {
        let Some(field) = &port.field else { continue };
        let field = field.text();
        let name = string(&port.model_name);
        let m = message(port, 0, im, root);
        let (call, what) = match port.kind {
            PortKind::Pub => ("publish", "published"),
            PortKind::Req => ("request", "request sent"),
            _ => ("query", "query sent"),
        };
        let _ = write!(
            out,
            "            ctx.ports.{field}.{call}(&{m}::default())?;\n            \
             {slog}::info!(ctx.log(), \"{what}\"; \"port\" => {name});\n"
        );
    }
    out.push_str("        }\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_is_rustcs_rule() {
        for name in ["Sensor", "SensorReady", "HTTP", "X", "Sensor2", "_Private", "Self_", "État"] {
            assert!(is_camel_case(name), "{name}");
        }
        for name in ["sensor", "Sensor_ready", "a_B", "type", "Two__Under"] {
            assert!(!is_camel_case(name), "{name}");
        }
    }

    #[test]
    fn long_signatures_take_a_line_per_parameter() {
        assert_eq!(signature("f", &["&mut self".into()], "R"), "    fn f(&mut self) -> R {\n");
        let long = signature("on_request", &["&mut self".into(), "x".repeat(60), "y".repeat(30)], "Result<A, B>");
        assert_eq!(
            long,
            format!(
                "    fn on_request(\n        &mut self,\n        {},\n        {},\n    ) -> Result<A, B> {{\n",
                "x".repeat(60),
                "y".repeat(30)
            )
        );
    }
}
