//! Parameter resolution: the estimator example with and without its deployment, small models for
//! each rule and each error (with the place it names), the accessors components use, models that
//! were never checked, and every model and deployment of the RIAPS corpus.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cohort_model::ast::App;
use cohort_model::deployment::Deployment;
use cohort_model::{
    compile_app_model, compile_deployment, parse_app_model, parse_deployment, FileKind, SourceFile, Value,
};
use cohort_runtime::params::{ArgError, ComponentArgs, Origin, Owner, ParamError, ParamErrorKind, Params, Resolver};
use std::path::{Path, PathBuf};

/// A model and, optionally, a deployment, read into memory and parsed.
struct Files {
    model: SourceFile,
    app: App,
    deployment: Option<(SourceFile, Deployment)>,
}

impl Files {
    /// Files that pass every model check (so any error comes from resolution).
    fn checked(model: &str, deployment: Option<&str>) -> Self {
        let compiled = compile_app_model(model);
        assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        let deployment = deployment.map(|text| {
            let compiled = compile_deployment(text);
            assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
            (SourceFile::new("d.depl", text), compiled.value.unwrap())
        });
        Self::new(SourceFile::new("m.riaps", model), compiled.value.unwrap().apps.remove(0), deployment)
    }

    /// Files that were only parsed, never checked.
    fn unchecked(model: &str, deployment: Option<&str>) -> Self {
        let (mut parsed, _) = parse_app_model(model);
        let deployment = deployment.map(|text| (SourceFile::new("d.depl", text), parse_deployment(text).0.unwrap()));
        Self::new(SourceFile::new("m.riaps", model), parsed.apps.remove(0), deployment)
    }

    /// The estimator example of `apps/estimator`.
    fn estimator(with_deployment: bool) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/estimator");
        let read = |name: &str| SourceFile::new(name, std::fs::read_to_string(dir.join(name)).unwrap());
        let model = read("estimator.riaps");
        let app = compile_app_model(&model.text).value.unwrap().apps.remove(0);
        let deployment = with_deployment.then(|| {
            let source = read("estimator.depl");
            let deployment = compile_deployment(&source.text).value.unwrap();
            (source, deployment)
        });
        Self::new(model, app, deployment)
    }

    fn new(model: SourceFile, app: App, deployment: Option<(SourceFile, Deployment)>) -> Self {
        Self { model, app, deployment }
    }

    fn resolver(&self) -> Resolver<'_> {
        let resolver = Resolver::new(&self.app, &self.model);
        match &self.deployment {
            Some((source, deployment)) => resolver.with_deployment(deployment, source),
            None => resolver,
        }
    }

    /// The arguments of every instance of `actor` on `host`, by instance.
    fn instances(&self, actor: &str, host: &str) -> Result<Vec<ComponentArgs>, ParamError> {
        let resolver = self.resolver();
        resolver.all_component_args(&resolver.actor_args(actor, host)?)
    }
}

/// `(name, value)` of every parameter, in order.
fn values(params: &Params) -> Vec<(String, Value)> {
    params.iter().map(|p| (p.name.clone(), p.value.clone())).collect()
}

fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

// ---------------------------------------------------------------------------------------------
// The estimator example
// ---------------------------------------------------------------------------------------------

#[test]
fn estimator_without_deployment_uses_instance_literals_and_requires_actor_arguments() {
    let files = Files::estimator(false);
    let resolver = files.resolver();
    let estimator = resolver.actor_args("Estimator", "any-host").unwrap();
    assert!(estimator.is_empty());
    let instances = resolver.all_component_args(&estimator).unwrap();
    assert_eq!(instances.iter().map(|c| c.instance()).collect::<Vec<_>>(), ["sensor", "filter"]);
    assert!(instances[0].is_empty());
    let filter = &instances[1];
    assert_eq!(filter.component(), "LocalEstimator");
    assert_eq!(
        values(filter),
        [
            ("iArg".into(), Value::Int(789)),
            ("fArg".into(), Value::Float(0.12)),
            ("sArg".into(), s("text")),
            ("bArg".into(), Value::Bool(false)),
        ]
    );
    assert!(filter.iter().all(|p| p.origin == Origin::Instance));
    assert!(!filter.bool("bArg").unwrap());

    // `posArg` has no default, and there is no deployment to give it one.
    let error = resolver.actor_args("Aggregator", "any-host").unwrap_err();
    assert_eq!(
        error.to_string(),
        "estimator.riaps:39:23: actor `Aggregator` needs a value for `posArg`, which has no default"
    );
    assert_eq!(error.location().kind, FileKind::AppModel);
}

#[test]
fn estimator_with_its_deployment_passes_deployment_values_through_actor_formals() {
    let files = Files::estimator(true);
    let resolver = files.resolver();
    assert_eq!(resolver.check(), Vec::<ParamError>::new());

    let aggregator = resolver.actor_args("Aggregator", "10.0.0.7").unwrap();
    assert_eq!(aggregator.actor(), "Aggregator");
    assert_eq!(values(&aggregator), [("posArg".into(), Value::Int(12)), ("optArg".into(), s("fromDeployment"))]);
    let pos = aggregator.param("posArg").unwrap();
    assert_eq!(pos.origin, Origin::Deployment);
    assert_eq!(pos.at.as_ref().unwrap().to_string(), "estimator.depl:4:27");

    let aggr = resolver.component_args(&aggregator, "aggr").unwrap();
    assert_eq!(
        values(&aggr),
        [
            ("iArg".into(), Value::Int(12)),
            ("fArg".into(), Value::Float(4.56)),
            ("sArg".into(), s("fromDeployment")),
            ("bArg".into(), Value::Bool(true)),
        ]
    );
    let origins: Vec<Origin> = aggr.iter().map(|p| p.origin).collect();
    assert_eq!(origins, [Origin::Deployment, Origin::ComponentDefault, Origin::Deployment, Origin::Instance]);
    assert_eq!(aggr.int("iArg").unwrap(), 12);
    assert_eq!(aggr.float("fArg").unwrap(), 4.56);
    assert_eq!(aggr.string("sArg").unwrap(), "fromDeployment");
    assert!(aggr.bool("bArg").unwrap());

    // `on all`: the same on every host; the estimator has no formals, so nothing changes there.
    assert_eq!(files.instances("Aggregator", "other-host").unwrap()[0], aggr);
    assert_eq!(
        files.instances("Estimator", "10.0.0.7").unwrap(),
        Files::estimator(false).instances("Estimator", "h").unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Precedence
// ---------------------------------------------------------------------------------------------

const RELAY: &str = r#"app Relay {
    message M;
    component Worker (rate = 1.5, label = "w", on = true, count = 0, id) { timer t 1000; pub p : M; }
    actor Station (speed = 2.5, name = "station", verbose = false) {
        { fast : Worker(rate = speed, label = name, count = 3, id = 1);
          slow : Worker(id = 2, on = verbose); }
    }
}
"#;

#[test]
fn defaults_apply_where_nothing_is_given() {
    let files = Files::checked(RELAY, None);
    let resolver = files.resolver();
    let station = resolver.actor_defaults("Station").unwrap();
    assert_eq!(station.param("speed").unwrap().origin, Origin::ActorDefault);
    let slow = resolver.component_args(&station, "slow").unwrap();
    assert_eq!(
        values(&slow),
        [
            ("rate".into(), Value::Float(1.5)),
            ("label".into(), s("w")),
            ("on".into(), Value::Bool(false)),
            ("count".into(), Value::Int(0)),
            ("id".into(), Value::Int(2)),
        ]
    );
    let origins: Vec<Origin> = slow.iter().map(|p| p.origin).collect();
    let expected = [Origin::ComponentDefault, Origin::ComponentDefault, Origin::ActorDefault, Origin::ComponentDefault];
    assert_eq!(origins, [&expected[..], &[Origin::Instance]].concat());
    // The default of `rate` is written at line 3.
    assert_eq!(slow.param("rate").unwrap().at.as_ref().unwrap().to_string(), "m.riaps:3:30");
}

#[test]
fn deployment_overrides_actor_defaults_and_references_follow() {
    let files = Files::checked(RELAY, Some("app Relay { on (a, b) Station(name = \"north\", verbose = True); }"));
    let fast = files.resolver().component_args(&files.resolver().actor_args("Station", "b").unwrap(), "fast").unwrap();
    // `speed` is not in the deployment: the actor default passes on; `name` is.
    assert_eq!(
        values(&fast),
        [
            ("rate".into(), Value::Float(2.5)),
            ("label".into(), s("north")),
            ("on".into(), Value::Bool(true)),
            ("count".into(), Value::Int(3)),
            ("id".into(), Value::Int(1)),
        ]
    );
    assert_eq!(fast.param("rate").unwrap().origin, Origin::ActorDefault);
    assert_eq!(fast.param("label").unwrap().origin, Origin::Deployment);
    assert_eq!(fast.param("label").unwrap().at.as_ref().unwrap().to_string(), "d.depl:1:38");
    let slow = files.instances("Station", "a").unwrap().remove(1);
    assert_eq!(slow.param("on").unwrap().value, Value::Bool(true));
}

#[test]
fn the_caller_picks_among_placements_on_different_hosts() {
    let depl = "app Relay {\n  on (h1) Station(speed = 1.0);\n  on (h2, h3) Station(speed = 3.0);\n}\n";
    let files = Files::checked(RELAY, Some(depl));
    let resolver = files.resolver();
    let speeds: Vec<Value> = ["h1", "h2", "h3"]
        .iter()
        .map(|host| resolver.actor_args("Station", host).unwrap().param("speed").unwrap().value.clone())
        .collect();
    assert_eq!(speeds, [Value::Float(1.0), Value::Float(3.0), Value::Float(3.0)]);
    assert_eq!(resolver.placements("Station").len(), 2);
    let second = resolver.placements_on("Station", "h3")[0];
    assert_eq!(second.at().to_string(), "d.depl:3:15");
    assert_eq!(resolver.actor_args_for(second).unwrap(), resolver.actor_args("Station", "h2").unwrap());
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

#[test]
fn booleans_are_literals_and_a_string_false_is_not_true() {
    let files =
        Files::checked(RELAY, Some("app Relay { on (a) Station(verbose = False); on (b) Station(verbose = true); }"));
    let on = |host: &str| files.instances("Station", host).unwrap()[1].bool("on").unwrap();
    assert!(!on("a"));
    assert!(on("b"));

    // RIAPS reads `"False"` as true; here it is a string, which a boolean formal refuses.
    let quoted = Files::unchecked(RELAY, Some("app Relay { on all Station(verbose = \"False\"); }"));
    let error = quoted.resolver().actor_args("Station", "a").unwrap_err();
    assert_eq!(
        error.to_string(),
        "d.depl:1:38: `verbose` of actor `Station` expects a boolean, found a string (\"False\")"
    );
    // A bare name is a string too.
    let bare = Files::unchecked(RELAY, Some("app Relay { on all Station(verbose = no); }"));
    assert!(matches!(
        bare.resolver().actor_args("Station", "a").unwrap_err().kind(),
        ParamErrorKind::TypeMismatch { found: Value::Str(word), expected: "boolean", .. } if word == "no"
    ));
    // `0` and `1` are integers, not booleans.
    let one = Files::unchecked(RELAY, Some("app Relay { on all Station(verbose = 1); }"));
    assert!(one.resolver().actor_args("Station", "a").is_err());
}

#[test]
fn an_integer_widens_to_a_float_and_nothing_else_converts() {
    let files = Files::checked(RELAY, Some("app Relay { on all Station(speed = 4); }"));
    let station = files.resolver().actor_args("Station", "a").unwrap();
    assert_eq!(station.param("speed").unwrap().value, Value::Float(4.0));
    let fast = files.resolver().component_args(&station, "fast").unwrap();
    assert_eq!(fast.param("rate").unwrap().value, Value::Float(4.0));

    // An instance literal widens as well.
    let model = RELAY.replace("id = 2, on", "id = 2, rate = 7, on");
    let slow = Files::checked(&model, None).instances("Station", "a").unwrap().remove(1);
    assert_eq!(slow.param("rate").unwrap().value, Value::Float(7.0));

    // A float for an integer formal is refused, at the instance literal.
    let model = RELAY.replace("count = 3", "count = 3.0");
    let error = Files::unchecked(&model, None).instances("Station", "a").unwrap_err();
    assert_eq!(
        error.to_string(),
        "m.riaps:5:61: `count` of component `Worker` (instance `fast`) expects an integer, found a float (3.0)"
    );
    assert_eq!(error.location().kind, FileKind::AppModel);
}

#[test]
fn a_deployment_value_of_the_wrong_type_names_its_place_and_the_default() {
    let files = Files::unchecked(RELAY, Some("app Relay {\n  on all Station(speed = \"fast\");\n}\n"));
    let resolver = files.resolver();
    let error = resolver.actor_args("Station", "a").unwrap_err();
    assert_eq!(error.to_string(), "d.depl:2:26: `speed` of actor `Station` expects a float, found a string (\"fast\")");
    assert_eq!(
        resolver.render(&error),
        "d.depl:2:26: error: `speed` of actor `Station` expects a float, found a string (\"fast\")\n  \
         |\n2 |   on all Station(speed = \"fast\");\n  |                          ^^^^^^\n\
         m.riaps:4:28: note: the default, 2.5, makes `speed` a float\n  |\n\
         4 |     actor Station (speed = 2.5, name = \"station\", verbose = false) {\n  \
         |                            ^^^\n"
    );
    // The model's own deployment checks find it too, at the same place.
    let checked = resolver.check();
    assert_eq!(checked.len(), 1);
    assert!(matches!(checked[0].kind(), ParamErrorKind::Checked(_)));
    assert_eq!(checked[0].location(), error.location());
}

#[test]
fn an_actor_argument_passed_to_a_component_formal_of_another_type_is_found_before_start() {
    // `size` has no default, so only the deployment's value says it is a string; the model
    // alone cannot see that `Worker.count` gets a string.
    let model = RELAY.replace("verbose = false)", "verbose = false, size)").replace("count = 3", "count = size");
    let files = Files::checked(&model, Some("app Relay {\n  on all Station(size = \"big\");\n}\n"));
    let resolver = files.resolver();
    let station = resolver.actor_args("Station", "a").unwrap();
    let error = resolver.component_args(&station, "fast").unwrap_err();
    assert_eq!(
        error.to_string(),
        "d.depl:2:25: `count` of component `Worker` (instance `fast`) expects an integer, found a string (\"big\"), \
         the value of actor parameter `size`"
    );
    let rendered = resolver.render(&error);
    assert!(rendered.contains("m.riaps:5:61: note: `size` is passed to `count` here\n"), "{rendered}");
    // The model's checks of the deployment against the app find it for every placement, at
    // the same place, so `check` reports it before anything starts, as `cohort check` does.
    let checked = resolver.check();
    assert_eq!(checked.len(), 1);
    assert!(matches!(checked[0].kind(), ParamErrorKind::Checked(_)));
    assert_eq!(checked[0].location(), error.location());
    assert_eq!(checked[0].to_string(), error.to_string());
}

// ---------------------------------------------------------------------------------------------
// Missing values, unknown names
// ---------------------------------------------------------------------------------------------

#[test]
fn a_formal_without_default_and_without_value_is_an_error_at_the_placement() {
    let model = RELAY.replace("verbose = false)", "verbose = false, size)");
    let files = Files::unchecked(&model, Some("app Relay {\n  on (a) Station(speed = 1.0);\n}\n"));
    let resolver = files.resolver();
    let error = resolver.actor_args("Station", "a").unwrap_err();
    assert_eq!(error.to_string(), "d.depl:2:10: actor `Station` needs a value for `size`, which has no default");
    assert_eq!(error.notes()[0].0.to_string(), "m.riaps:4:68");
    assert!(resolver.render(&error).contains("m.riaps:4:68: note: `size` is declared here\n"));

    // A component formal without a default that its instance does not set.
    let model = RELAY.replace("id = 2, ", "");
    let error = Files::unchecked(&model, None).instances("Station", "a").unwrap_err();
    assert_eq!(
        error.to_string(),
        "m.riaps:6:11: component `Worker` (instance `slow`) needs a value for `id`, which has no default"
    );
}

#[test]
fn unknown_actors_hosts_and_placements_are_errors() {
    let files = Files::checked(RELAY, Some("app Relay {\n  on (a, b) Station;\n  on (c) Station(speed = 1.0);\n}\n"));
    let resolver = files.resolver();
    assert_eq!(
        resolver.actor_args("Statoin", "a").unwrap_err().to_string(),
        "m.riaps:1:5: app `Relay` has no actor `Statoin`; its actors are `Station`"
    );
    assert_eq!(
        resolver.actor_args("Station", "z").unwrap_err().to_string(),
        "d.depl:1:5: the deployment does not place actor `Station` on host `z`; it places it on `a`, `b`, `c`"
    );
    let station = resolver.actor_args("Station", "a").unwrap();
    assert_eq!(
        resolver.component_args(&station, "medium").unwrap_err().to_string(),
        "m.riaps:4:11: actor `Station` has no instance `medium`; its instances are `fast`, `slow`"
    );

    let other = Files::checked(RELAY, Some("app Other { on all Station; }"));
    assert!(matches!(other.resolver().actor_args("Station", "a").unwrap_err().kind(), ParamErrorKind::WrongApp { .. }));
    // Without a deployment, the host does not matter.
    assert!(Files::checked(RELAY, None).resolver().actor_args("Station", "anywhere").is_ok());
}

#[test]
fn an_actor_placed_twice_on_one_host_is_ambiguous_until_the_caller_picks() {
    // As in RIAPS's `dlse.depl`, which places `groupActor(gr_num = 2)` and `(gr_num = 3)` on one host.
    let depl = "app Relay {\n  on (h) Station(speed = 2.0);\n  on all Station(speed = 3.0);\n}\n";
    let files = Files::checked(RELAY, Some(depl));
    let resolver = files.resolver();
    let error = resolver.actor_args("Station", "h").unwrap_err();
    assert_eq!(error.to_string(), "d.depl:3:10: the deployment places actor `Station` on host `h` 2 times");
    assert_eq!(error.notes()[0].0.to_string(), "d.depl:2:10");
    let speeds: Vec<Value> = resolver
        .placements_on("Station", "h")
        .into_iter()
        .map(|p| resolver.actor_args_for(p).unwrap().param("speed").unwrap().value.clone())
        .collect();
    assert_eq!(speeds, [Value::Float(2.0), Value::Float(3.0)]);
    // Elsewhere only `on all` applies.
    assert_eq!(resolver.actor_args("Station", "g").unwrap().float("speed").unwrap(), 3.0);
    // An actor runs at most once on a host: `check`, which `run` makes before it starts
    // anything, rejects the deployment, at the second placement with a note at the first.
    let checked = resolver.check();
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0].to_string(), "d.depl:3:10: actor `Station` is placed on host `h` more than once");
    assert!(
        resolver.render(&checked[0]).contains("d.depl:2:10: note: first placed on host `h` here\n"),
        "{}",
        resolver.render(&checked[0])
    );
}

#[test]
fn a_model_that_was_never_checked_gives_errors_not_panics() {
    let cases = [
        ("fast : Worker(", "fast : Wroker(", "m.riaps:5:18: instance `fast` is of component `Wroker`, which the app does not declare"),
        ("count = 3", "count = 3, count = 4", "m.riaps:5:64: `count` appears twice among the arguments of component `Worker` (instance `fast`)"),
        ("rate = speed", "rate = sped", "m.riaps:5:32: `sped` is not a parameter of actor `Station`; its parameters are `speed`, `name`, `verbose`"),
        ("id = 2", "idd = 2", "m.riaps:6:25: component `Worker` (instance `slow`) has no parameter `idd`; its parameters are `rate`, `label`, `on`, `count`, `id`"),
        ("label = \"w\"", "rate = 2.0", "m.riaps:3:35: `rate` appears twice among the parameters of component `Worker` (instance `fast`)"),
    ];
    for (from, to, expected) in cases {
        let model = RELAY.replacen(from, to, 1);
        assert!(compile_app_model(&model).has_errors(), "{to}");
        let error = Files::unchecked(&model, None).instances("Station", "a").unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    let depl = "app Relay { on all Station(sped = 1.0, speed = 2.0, speed = 3.0); }";
    let files = Files::unchecked(RELAY, Some(depl));
    assert_eq!(
        files.resolver().actor_args("Station", "a").unwrap_err().to_string(),
        "d.depl:1:53: `speed` appears twice among the arguments of actor `Station`"
    );
    let depl = "app Relay { on all Station(sped = 1.0); }";
    assert_eq!(
        Files::unchecked(RELAY, Some(depl)).resolver().actor_args("Station", "a").unwrap_err().to_string(),
        "d.depl:1:28: actor `Station` has no parameter `sped`; its parameters are `speed`, `name`, `verbose`"
    );
}

// ---------------------------------------------------------------------------------------------
// What components see
// ---------------------------------------------------------------------------------------------

#[test]
fn accessors_name_the_parameter_its_type_and_the_parameters_there_are() {
    let files = Files::estimator(true);
    let aggr = files.instances("Aggregator", "h").unwrap().remove(0);
    assert_eq!(
        aggr.int("x").unwrap_err().to_string(),
        "component `GlobalEstimator` (instance `aggr`) has no parameter `x`; its parameters are `iArg`, `fArg`, `sArg`, `bArg`"
    );
    assert_eq!(
        aggr.string("iArg").unwrap_err().to_string(),
        "parameter `iArg` of component `GlobalEstimator` (instance `aggr`) is an integer, not a string"
    );
    assert_eq!(
        aggr.int("fArg").unwrap_err(),
        ArgError::WrongType {
            owner: Owner::Instance { instance: "aggr".into(), component: "GlobalEstimator".into() },
            name: "fArg".into(),
            found: "float",
            wanted: "integer",
        }
    );
    assert_eq!(aggr.get::<u8>("iArg").unwrap(), 12);
    assert_eq!(aggr.get::<String>("sArg").unwrap(), "fromDeployment");
    assert_eq!(aggr.get::<Value>("bArg").unwrap(), Value::Bool(true));
    assert_eq!(aggr.names().collect::<Vec<_>>(), ["iArg", "fArg", "sArg", "bArg"]);
    assert_eq!((&aggr).into_iter().count(), 4);

    let sensor = files.instances("Estimator", "h").unwrap().remove(0);
    assert_eq!(
        sensor.float("value").unwrap_err().to_string(),
        "component `Sensor` (instance `sensor`) has no parameter `value`; it has no parameters"
    );
}

#[test]
fn integers_are_range_checked_and_floats_take_integers() {
    let args = ComponentArgs::new("s", "Sensor", [("port", Value::Int(70_000)), ("gain", Value::Int(3))]);
    assert_eq!(args.get::<u32>("port").unwrap(), 70_000);
    assert_eq!(
        args.get::<u16>("port").unwrap_err().to_string(),
        "parameter `port` of component `Sensor` (instance `s`) is 70000, out of range for u16"
    );
    assert_eq!(args.float("gain").unwrap(), 3.0);
    assert!(args.iter().all(|p| p.origin == Origin::Code && p.at.is_none()));
    // A handler error is what components return, so `?` works in `Component::new`.
    let boxed: cohort_runtime::HandlerError = args.bool("gain").unwrap_err().into();
    assert_eq!(boxed.to_string(), "parameter `gain` of component `Sensor` (instance `s`) is an integer, not a boolean");
}

// ---------------------------------------------------------------------------------------------
// The RIAPS corpus
// ---------------------------------------------------------------------------------------------

/// Every file of the RIAPS corpus with the given extension, with its text.
fn corpus(extension: &str) -> Vec<SourceFile> {
    let root = std::env::var_os("COHORT_RIAPS_CORPUS")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat/riaps"), PathBuf::from);
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                found.push(SourceFile::new(name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

#[test]
fn every_corpus_model_and_deployment_resolves_without_panicking() {
    let models = corpus("riaps");
    let deployments = corpus("depl");
    assert!(models.len() > 100 && deployments.len() > 50, "{} models, {} deployments", models.len(), deployments.len());
    let (mut resolved, mut valid_pairs, mut rejected_by_checks) = (0, 0, Vec::new());
    for model in &models {
        // Parsed only: resolution must cope with whatever a model holds.
        let (parsed, _) = parse_app_model(&model.text);
        let valid = !compile_app_model(&model.text).has_errors();
        for app in &parsed.apps {
            let resolver = Resolver::new(app, model);
            for actor in &app.actors {
                if let Ok(args) = resolver.actor_defaults(&actor.name.name) {
                    resolved += usize::from(resolver.all_component_args(&args).is_ok());
                }
            }
            for deployment in &deployments {
                let Some(parsed) = parse_deployment(&deployment.text).0.filter(|d| d.app.name == app.name.name) else {
                    continue;
                };
                let resolver = resolver.with_deployment(&parsed, deployment);
                for placement in parsed.placements.iter().flat_map(|line| &line.actors) {
                    for host in ["all", "127.0.0.1", "HOST"] {
                        let _ = resolver.actor_args(&placement.name.name, host);
                    }
                }
                let errors = resolver.check();
                if !valid {
                    continue;
                }
                if errors.iter().any(|e| matches!(e.kind(), ParamErrorKind::Checked(_))) {
                    rejected_by_checks.push((deployment.name.clone(), errors.iter().map(|e| e.to_string()).collect()));
                    continue;
                }
                valid_pairs += 1;
                // Resolution finds nothing that the model's checks pass: they make every check
                // `run` makes, so `cohort check` reports everything `run` would.
                assert_eq!(errors, vec![], "{}", deployment.name);
                for placement in parsed.placements.iter().flat_map(|line| &line.actors) {
                    for choice in resolver.placements(&placement.name.name) {
                        let args = resolver.actor_args_for(choice).unwrap();
                        resolver.all_component_args(&args).unwrap();
                    }
                }
            }
        }
    }
    assert!(resolved > 200, "only {resolved} actors resolved from their defaults");
    assert!(valid_pairs > 100, "only {valid_pairs} valid model and deployment pairs");
    // What resolution alone used to find: RIAPS's DistributedEstimatorGpio passes the float
    // actor argument `freqArg` to `frqArg = 2`, an integer formal.
    for name in [
        "riaps-apps-apps-vu-distributedestimatorgpio-python-distributedestimatorgpio-depl/DistributedEstimatorGpio.depl",
        "riaps-github-io-models-block25-depl/models-block25.depl",
        "riaps-pycom-tests-destgpio-distributedestimatorgpio-depl/DistributedEstimatorGpio.depl",
    ] {
        let (_, errors): &(String, Vec<String>) = rejected_by_checks.iter().find(|(n, _)| n == name).unwrap();
        assert!(
            errors.iter().all(|e| e.contains("`frqArg` of component `LocalEstimator` (instance `filter`) expects an integer, found a float")),
            "{errors:?}"
        );
    }
    // RIAPS's `dlse.depl` places `groupActor(gr_num = 2)` and `(gr_num = 3)` on one host.
    let (_, errors) =
        rejected_by_checks.iter().find(|(n, _)| n.ends_with("wind-curtail-dlse-dlse-depl/dlse.depl")).unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with("/dlse.depl:5:24: actor `groupActor` is placed on host `192.168.3.225` more than once"),
        "{errors:?}"
    );
}
