//! What a Cohort recording holds, as an MCAP file:
//!
//! - profile `cohort`;
//! - a schema per message type, named as the model names it, with no schema data (encoding
//!   `""`: the payloads describe themselves);
//! - a channel per (message type, provider): topic the message type, message encoding `cbor`,
//!   metadata `endpoint` (the provider's) and `scope` (`global` or `local`);
//! - with `--groups`, a channel per (group instance, member): topic `<GroupType>.<instance>`,
//!   schema `cohort.group`, message encoding `cohort-group` (see [`GROUP_ENCODING`]), metadata
//!   `endpoint`, `scope` `global` and `group` (the group's discovery key, `M@Type.instance`);
//! - a message per message received: `log_time` when the recorder received it, `publish_time`
//!   when the provider sent it (the header's send time, where its port is `timed`; else the
//!   receive time), `sequence` the provider's sequence number (its low 32 bits), data the CBOR
//!   payload as the provider sent it;
//! - metadata `cohort.recording`: `app`, `recorder` (this crate's version) and `started`
//!   (nanoseconds since the Unix epoch);
//! - metadata `cohort.drops`: for each channel, `<message>@<endpoint>` → `lost=N refused=M`: the
//!   messages the provider's sequence numbers show missing (dropped at a high-water mark, on
//!   either side), and the frames refused as malformed or of another type;
//! - the model (`.riaps` text) as the attachment `model.riaps`, when the recorder had it.

use std::collections::BTreeMap;

use cohort_ports::{Endpoint, Scope};

/// The MCAP profile of a Cohort recording.
pub const PROFILE: &str = "cohort";
/// The message encoding of a message type's channels.
pub const MESSAGE_ENCODING: &str = "cbor";
/// The message encoding of a group instance's channels: the payloads of the group's frames
/// (`cohort_groups::envelope`: a CBOR envelope, or a data frame, tag `0x01`, the sender's id in
/// 16 bytes, then the application's bytes).
pub const GROUP_ENCODING: &str = "cohort-group";
/// The schema name of a group instance's channels: the group frames' message type.
pub const GROUP_SCHEMA: &str = cohort_groups::envelope::FRAME_TYPE;
/// The name of the model's attachment.
pub const MODEL_ATTACHMENT: &str = "model.riaps";
/// The name of the metadata record about the recording.
pub const RECORDING_METADATA: &str = "cohort.recording";
/// The name of the metadata record of the losses.
pub const DROPS_METADATA: &str = "cohort.drops";

/// One channel of a recording: one provider of one message type, or one member of one group
/// instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelKey {
    /// The message type, as the model names it; for a group, `<GroupType>.<instance>`.
    pub message: String,
    /// The provider's endpoint.
    pub endpoint: String,
    /// Whether the message type is global or local where it was provided.
    pub scope: Scope,
    /// For a group member's channel, the group's discovery key (`M@Type.instance`).
    pub group: Option<String>,
}

impl ChannelKey {
    /// The key of provider `endpoint` of `message` in `scope`.
    pub fn new(message: &str, endpoint: &Endpoint, scope: Scope) -> ChannelKey {
        ChannelKey { message: message.to_owned(), endpoint: endpoint.as_str().to_owned(), scope, group: None }
    }

    /// The key of member `endpoint` of the group whose discovery key is `group`
    /// (`M@Type.instance`).
    pub fn of_group(group: &str, endpoint: &Endpoint) -> ChannelKey {
        let label = group.split_once('@').map_or(group, |(_, label)| label);
        ChannelKey {
            message: label.to_owned(),
            endpoint: endpoint.as_str().to_owned(),
            scope: Scope::Global,
            group: Some(group.to_owned()),
        }
    }

    /// The channel's message encoding.
    pub fn encoding(&self) -> &'static str {
        if self.group.is_some() {
            GROUP_ENCODING
        } else {
            MESSAGE_ENCODING
        }
    }

    /// The channel's schema name.
    pub fn schema(&self) -> &str {
        if self.group.is_some() {
            GROUP_SCHEMA
        } else {
            &self.message
        }
    }

    /// The channel's metadata.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        let scope = match self.scope {
            Scope::Global => "global",
            Scope::Local => "local",
            Scope::Internal => "internal",
        };
        let mut metadata =
            BTreeMap::from([("endpoint".to_owned(), self.endpoint.clone()), ("scope".to_owned(), scope.to_owned())]);
        if let Some(group) = &self.group {
            metadata.insert("group".to_owned(), group.clone());
        }
        metadata
    }

    /// The key of an MCAP channel of a Cohort recording: its topic and metadata; `None` for a
    /// channel of another kind of recording.
    pub fn of_channel(channel: &mcap::Channel<'_>) -> Option<ChannelKey> {
        let scope = match channel.metadata.get("scope").map(String::as_str) {
            Some("global") => Scope::Global,
            Some("local") => Scope::Local,
            Some("internal") => Scope::Internal,
            _ => return None,
        };
        let endpoint = channel.metadata.get("endpoint")?.clone();
        let group = channel.metadata.get("group").cloned();
        Some(ChannelKey { message: channel.topic.clone(), endpoint, scope, group })
    }

    /// How the losses metadata names the channel: `<message>@<endpoint>`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.message, self.endpoint)
    }
}

/// What was lost of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Losses {
    /// Messages the provider's sequence numbers show missing.
    pub lost: u64,
    /// Frames refused as malformed or of another type.
    pub refused: u64,
}

impl Losses {
    /// The value of the losses metadata: `lost=N refused=M`.
    pub fn text(&self) -> String {
        format!("lost={} refused={}", self.lost, self.refused)
    }

    /// The losses a metadata value tells; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Losses> {
        let mut losses = Losses::default();
        for part in text.split_whitespace() {
            match part.split_once('=')? {
                ("lost", n) => losses.lost = n.parse().ok()?,
                ("refused", n) => losses.refused = n.parse().ok()?,
                _ => return None,
            }
        }
        Some(losses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_read_back_as_written() {
        let losses = Losses { lost: 3, refused: 1 };
        assert_eq!(Losses::parse(&losses.text()), Some(losses));
        assert_eq!(Losses::parse("lost=x"), None);
    }
}
