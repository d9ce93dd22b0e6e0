//! Literal values of formal defaults and arguments: strings, integers, floats and booleans.

use crate::source::Span;

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A quoted string, with `\"` and `\'` unescaped (other backslashes are kept, as in RIAPS).
    Str(String),
    /// A whole number.
    Int(i64),
    /// A number with a fraction or an exponent.
    Float(f64),
    /// `true`, `True`, `false` or `False`.
    Bool(bool),
}

impl Value {
    /// The type name used in messages: `string`, `integer`, `float` or `boolean`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Str(_) => "string",
            Self::Int(_) => "integer",
            Self::Float(_) => "float",
            Self::Bool(_) => "boolean",
        }
    }

    /// Whether a value of this type may be given for a formal whose default is `default`.
    /// An integer is accepted where a float is expected; nothing else converts.
    pub fn fits(&self, default: &Value) -> bool {
        matches!(
            (self, default),
            (Self::Str(_), Self::Str(_))
                | (Self::Int(_), Self::Int(_))
                | (Self::Int(_) | Self::Float(_), Self::Float(_))
                | (Self::Bool(_), Self::Bool(_))
        )
    }

    /// The value as JSON, as RIAPS's compiler writes it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Str(s) => serde_json::Value::from(s.as_str()),
            Self::Int(i) => serde_json::Value::from(*i),
            Self::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Self::Bool(b) => serde_json::Value::from(*b),
        }
    }
}

/// A literal together with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    /// The value.
    pub value: Value,
    /// Where it stands in the file.
    pub span: Span,
}
