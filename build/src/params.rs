//! The Rust type of each component parameter.
//!
//! A formal with a default has the default's type. A formal without one has the one literal
//! type that every literal argument given for it in the model agrees on (the instances of the
//! component in every actor; arguments that name an actor parameter do not count), where an
//! integer and a float together make a float. When there is no literal argument, or they
//! disagree, the parameter is a `::cohort_runtime::params::Value`, which takes any value.

use cohort_model::ast::{ActualValue, App, Component, Formal};
use cohort_model::Value;

/// The Rust type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamType {
    /// `i64`, read with `args.int(..)`.
    Int,
    /// `f64`, read with `args.float(..)` (which also takes an integer).
    Float,
    /// `bool`, read with `args.bool(..)`.
    Bool,
    /// `String`, read with `args.string(..)`.
    Str,
    /// `::cohort_runtime::params::Value`, read with `args.value(..)`.
    Value,
}

impl ParamType {
    /// The type of a literal.
    fn of(value: &Value) -> Self {
        match value {
            Value::Int(_) => Self::Int,
            Value::Float(_) => Self::Float,
            Value::Bool(_) => Self::Bool,
            Value::Str(_) => Self::Str,
        }
    }

    /// The one type that values of types `self` and `other` both fit, if any.
    fn unify(self, other: Self) -> Option<Self> {
        match (self, other) {
            (a, b) if a == b => Some(a),
            (Self::Int, Self::Float) | (Self::Float, Self::Int) => Some(Self::Float),
            _ => None,
        }
    }
}

/// The type of `formal` of `component` in `app`, by the rule above.
pub(crate) fn param_type(app: &App, component: &Component, formal: &Formal) -> ParamType {
    if let Some(default) = &formal.default {
        return ParamType::of(&default.value);
    }
    let literals = app
        .actors
        .iter()
        .flat_map(|actor| &actor.instances)
        .filter(|instance| instance.component.name == component.name.name)
        .flat_map(|instance| &instance.actuals)
        .filter(|actual| actual.name.name == formal.name.name)
        .filter_map(|actual| match &actual.value {
            ActualValue::Literal(literal) => Some(ParamType::of(&literal.value)),
            ActualValue::Param(_) => None,
        });
    let mut agreed: Option<ParamType> = None;
    for ty in literals {
        agreed = match agreed {
            None => Some(ty),
            Some(so_far) => match so_far.unify(ty) {
                Some(both) => Some(both),
                None => return ParamType::Value,
            },
        };
    }
    agreed.unwrap_or(ParamType::Value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_model::compile_app_model;

    /// The types of component `C`'s formals in a model with the given formals and instances.
    fn types(formals: &str, instances: &str) -> Vec<ParamType> {
        let text = format!(
            "app A {{ message M; component C ({formals}) {{ pub p : M; }} \
             actor X (ap = 1) {{ {{ {instances} }} }} }}"
        );
        let compiled = compile_app_model(&text);
        let model = match compiled.value {
            Some(model) => model,
            None => panic!("bad test model {text}: {:?}", compiled.diagnostics),
        };
        let app = &model.apps[0];
        let c = &app.components[0];
        c.formals.iter().map(|f| param_type(app, c, f)).collect()
    }

    #[test]
    fn a_default_gives_the_type() {
        use ParamType::*;
        assert_eq!(types("a = 1, b = 1.5, c = \"s\", d = true", "c : C;"), [Int, Float, Str, Bool]);
        // Even where an instance gives an integer for a float.
        assert_eq!(types("b = 1.5", "c : C(b = 2);"), [Float]);
    }

    #[test]
    fn without_a_default_the_literal_arguments_agree_on_the_type() {
        use ParamType::*;
        assert_eq!(types("a", "c1 : C(a = 1); c2 : C(a = 2);"), [Int]);
        assert_eq!(types("a", "c1 : C(a = \"x\");"), [Str]);
        assert_eq!(types("a", "c1 : C(a = false); c2 : C(a = True);"), [Bool]);
    }

    #[test]
    fn integers_and_floats_together_are_floats() {
        assert_eq!(types("a", "c1 : C(a = 1); c2 : C(a = 2.5);"), [ParamType::Float]);
        assert_eq!(types("a", "c1 : C(a = 2.5); c2 : C(a = 1);"), [ParamType::Float]);
    }

    #[test]
    fn disagreeing_or_missing_literals_give_a_value() {
        assert_eq!(types("a", "c1 : C(a = 1); c2 : C(a = \"x\");"), [ParamType::Value]);
        assert_eq!(types("a", "c1 : C(a = 1.5); c2 : C(a = true);"), [ParamType::Value]);
        // An actor parameter does not count, so there is no literal at all.
        assert_eq!(types("a", "c1 : C(a = ap);"), [ParamType::Value]);
        // Only literals count: the actor parameter next to a literal is ignored.
        assert_eq!(types("a", "c1 : C(a = ap); c2 : C(a = 3);"), [ParamType::Int]);
    }
}
