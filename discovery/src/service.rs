//! What a provider offers and a consumer looks for: the key that decides who matches whom.

use cohort_ports::{PortKind, Scope};
use serde::{Deserialize, Serialize};

/// Where a service is visible, resolved by the daemon from the port's [`Scope`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reach {
    /// Every host of the app.
    Global,
    /// Actors on the host with this id.
    Host(String),
    /// The actor with this name on the host with this id.
    Actor(String, String),
}

impl Reach {
    /// The reach of a port of `scope` in `actor` on `host`.
    pub fn of(scope: Scope, host: &str, actor: &str) -> Reach {
        match scope {
            Scope::Global => Reach::Global,
            Scope::Local => Reach::Host(host.to_owned()),
            Scope::Internal => Reach::Actor(host.to_owned(), actor.to_owned()),
        }
    }
}

/// A service: the app, the provider kind, the message type(s) and the reach. A provider and a
/// consumer match when the consumer's service (with its kind mapped to the provider kind) is
/// equal to the provider's, so different apps and different hosts' local services never meet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Service {
    /// The app's name.
    pub app: String,
    /// The provider kind's name (`pub`, `rep`, `srv`, `ans`, `gpub`).
    pub kind: String,
    /// The message type, `Request#Reply` for duplex ports, `Message@Group.instance` for groups.
    pub messages: String,
    /// Where it is visible.
    pub reach: Reach,
}

/// The message key of a model port's service: `M` for one-way ports, `Request#Reply` for duplex
/// ports (the text [`Service::messages`] holds on the wire).
pub fn port_messages(messages: &cohort_model::MessageTypes) -> String {
    match messages {
        cohort_model::MessageTypes::None => String::new(),
        cohort_model::MessageTypes::One(m) => m.clone(),
        cohort_model::MessageTypes::Pair { request, reply } => format!("{request}#{reply}"),
    }
}

/// Why a port cannot be registered or looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The kind name is unknown.
    #[error("unknown port kind {0:?}")]
    UnknownKind(String),
    /// The kind does not provide (on a register) or does not consume (on a lookup).
    #[error("a {kind} port cannot {what}")]
    WrongRole {
        /// The kind.
        kind: String,
        /// `provide` or `look up providers`.
        what: &'static str,
    },
    /// The app or message name is empty.
    #[error("the {0} is empty")]
    Empty(&'static str),
}

/// The service a providing port of `kind` offers.
pub fn provided(app: &str, kind: &str, messages: &str, reach: Reach) -> Result<Service, ServiceError> {
    let k = PortKind::from_name(kind).ok_or_else(|| ServiceError::UnknownKind(kind.to_owned()))?;
    if !PortKind::ALL.iter().any(|c| c.provider() == Some(k)) {
        return Err(ServiceError::WrongRole { kind: kind.to_owned(), what: "provide" });
    }
    service(app, k, messages, reach)
}

/// The service a consuming port of `kind` looks for (`sub` looks for `pub`, …).
pub fn wanted(app: &str, kind: &str, messages: &str, reach: Reach) -> Result<Service, ServiceError> {
    let k = PortKind::from_name(kind).ok_or_else(|| ServiceError::UnknownKind(kind.to_owned()))?;
    let provider =
        k.provider().ok_or_else(|| ServiceError::WrongRole { kind: kind.to_owned(), what: "look up providers" })?;
    service(app, provider, messages, reach)
}

fn service(app: &str, kind: PortKind, messages: &str, reach: Reach) -> Result<Service, ServiceError> {
    if app.is_empty() {
        return Err(ServiceError::Empty("app name"));
    }
    if messages.is_empty() {
        return Err(ServiceError::Empty("message type"));
    }
    Ok(Service { app: app.to_owned(), kind: kind.name().to_owned(), messages: messages.to_owned(), reach })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumers_match_their_providers_only() {
        let g = || Reach::Global;
        assert_eq!(wanted("A", "sub", "M", g()), provided("A", "pub", "M", g()));
        assert_eq!(wanted("A", "req", "Q#R", g()), provided("A", "rep", "Q#R", g()));
        assert_ne!(wanted("A", "clt", "Q#R", g()), provided("A", "rep", "Q#R", g()));
        assert_ne!(wanted("B", "sub", "M", g()), provided("A", "pub", "M", g()));
        let here = Reach::of(Scope::Local, "h1", "a");
        assert_ne!(wanted("A", "sub", "M", here), provided("A", "pub", "M", Reach::of(Scope::Local, "h2", "a")));
        assert!(matches!(provided("A", "sub", "M", g()), Err(ServiceError::WrongRole { .. })));
        assert!(matches!(wanted("A", "pub", "M", g()), Err(ServiceError::WrongRole { .. })));
        assert!(matches!(wanted("A", "bogus", "M", g()), Err(ServiceError::UnknownKind(_))));
        assert!(matches!(wanted("", "sub", "M", g()), Err(ServiceError::Empty(_))));
    }
}
