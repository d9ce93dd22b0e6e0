//! `cohort bag`: what a recording holds ([`Bag::info`]) and its messages ([`Bag::messages`]),
//! whose CBOR payloads [`to_json`] turns into JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cohort_ports::Scope;

use crate::layout::{ChannelKey, Losses, DROPS_METADATA, GROUP_ENCODING, MODEL_ATTACHMENT, RECORDING_METADATA};

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BagError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a readable MCAP file.
    #[error("{path}: {source}")]
    Mcap {
        /// The file.
        path: PathBuf,
        /// Why.
        source: mcap::McapError,
    },
}

/// One metadata record's keys and values.
type Metadata = BTreeMap<String, String>;

/// The app named by the recording's metadata records (taken out of them).
fn recorded_app(metadata: &mut BTreeMap<String, Metadata>) -> Option<String> {
    metadata.remove(RECORDING_METADATA).and_then(|mut m| m.remove("app"))
}

/// A recording, read whole into memory.
#[derive(Debug)]
pub struct Bag {
    path: PathBuf,
    bytes: Vec<u8>,
}

/// One channel of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Its message type and provider (`None` for a channel of another kind of recording).
    pub key: Option<ChannelKey>,
    /// Its topic.
    pub topic: String,
    /// Its message encoding.
    pub encoding: String,
    /// How many messages it has.
    pub count: u64,
    /// What was lost of it.
    pub losses: Losses,
}

/// What a recording holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BagInfo {
    /// The app recorded.
    pub app: Option<String>,
    /// The channels, in the order of their ids.
    pub channels: Vec<ChannelInfo>,
    /// Messages in all.
    pub messages: u64,
    /// The first and the last message's receive time, in nanoseconds since the Unix epoch.
    pub span: Option<(u64, u64)>,
    /// The model's text, if the recording carries it.
    pub model: Option<String>,
}

/// One recorded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagMessage {
    /// The message type.
    pub message: String,
    /// Its provider's endpoint, if known.
    pub endpoint: Option<String>,
    /// Its scope where it was provided, if known.
    pub scope: Option<Scope>,
    /// Its channel's message encoding: `cbor` for a message type's, `cohort-group` for a group
    /// member's frames.
    pub encoding: String,
    /// The provider's sequence number (its low 32 bits).
    pub seq: u32,
    /// When it was received, in nanoseconds since the Unix epoch.
    pub log_time: u64,
    /// When it was sent, in nanoseconds since the Unix epoch.
    pub publish_time: u64,
    /// Its payload, as sent.
    pub data: Vec<u8>,
}

impl Bag {
    /// Reads the recording at `path`.
    pub fn open(path: &Path) -> Result<Bag, BagError> {
        let bytes = std::fs::read(path).map_err(|source| BagError::Read { path: path.to_owned(), source })?;
        Ok(Bag { path: path.to_owned(), bytes })
    }

    fn failed(&self, source: mcap::McapError) -> BagError {
        BagError::Mcap { path: self.path.clone(), source }
    }

    /// Its metadata records, by name, and the model's text if it carries it: one pass over the
    /// file's top-level records (chunks are skipped, not read).
    fn extras(&self) -> Result<(BTreeMap<String, Metadata>, Option<String>), BagError> {
        let (mut metadata, mut model) = (BTreeMap::new(), None);
        for record in mcap::read::LinearReader::new(&self.bytes).map_err(|e| self.failed(e))? {
            match record.map_err(|e| self.failed(e))? {
                mcap::records::Record::Metadata(m) => {
                    metadata.insert(m.name, m.metadata);
                }
                mcap::records::Record::Attachment { header, data, .. } if header.name == MODEL_ATTACHMENT => {
                    model = Some(String::from_utf8_lossy(&data).into_owned());
                }
                _ => {}
            }
        }
        Ok((metadata, model))
    }

    /// The app it recorded, if it names it.
    pub fn app(&self) -> Result<Option<String>, BagError> {
        let (mut metadata, _) = self.extras()?;
        Ok(recorded_app(&mut metadata))
    }

    /// Its channels, counts, time span, losses, app and model.
    pub fn info(&self) -> Result<BagInfo, BagError> {
        let (mut metadata, model) = self.extras()?;
        let drops = metadata.remove(DROPS_METADATA).unwrap_or_default();
        let mut channels: BTreeMap<u16, ChannelInfo> = BTreeMap::new();
        let mut info = BagInfo::default();
        for message in mcap::MessageStream::new(&self.bytes).map_err(|e| self.failed(e))? {
            let message = message.map_err(|e| self.failed(e))?;
            let channel = channels.entry(message.channel.id).or_insert_with(|| {
                let key = ChannelKey::of_channel(&message.channel);
                let losses = key.as_ref().and_then(|k| drops.get(&k.label())).and_then(|t| Losses::parse(t));
                ChannelInfo {
                    key,
                    topic: message.channel.topic.clone(),
                    encoding: message.channel.message_encoding.clone(),
                    count: 0,
                    losses: losses.unwrap_or_default(),
                }
            });
            channel.count += 1;
            info.messages += 1;
            info.span = Some(match info.span {
                None => (message.log_time, message.log_time),
                Some((a, b)) => (a.min(message.log_time), b.max(message.log_time)),
            });
        }
        info.channels = channels.into_values().collect();
        info.app = recorded_app(&mut metadata);
        info.model = model;
        Ok(info)
    }

    /// Its messages, in the order they were received.
    pub fn messages(&self) -> Result<Vec<BagMessage>, BagError> {
        let mut all = Vec::new();
        for message in mcap::MessageStream::new(&self.bytes).map_err(|e| self.failed(e))? {
            let message = message.map_err(|e| self.failed(e))?;
            let key = ChannelKey::of_channel(&message.channel);
            all.push(BagMessage {
                message: message.channel.topic.clone(),
                endpoint: key.as_ref().map(|k| k.endpoint.clone()),
                scope: key.map(|k| k.scope),
                encoding: message.channel.message_encoding.clone(),
                seq: message.sequence,
                log_time: message.log_time,
                publish_time: message.publish_time,
                data: message.data.into_owned(),
            });
        }
        all.sort_by_key(|m| m.log_time);
        Ok(all)
    }
}

impl BagMessage {
    /// Its payload as JSON ([`to_json`]); a group member's data frame as `{"from": hex, "data":
    /// its application bytes as JSON, or hex}`.
    pub fn payload_json(&self) -> Option<serde_json::Value> {
        if self.encoding != GROUP_ENCODING {
            return to_json(&self.data);
        }
        match self.data.split_first() {
            Some((&cohort_groups::envelope::DATA_TAG, rest)) if rest.len() >= 16 => {
                let (from, data) = rest.split_at(16);
                let data = to_json(data).unwrap_or_else(|| serde_json::Value::String(hex(data)));
                Some(serde_json::json!({ "from": hex(from), "data": data }))
            }
            _ => to_json(&self.data),
        }
    }
}

/// A CBOR payload as JSON: maps, arrays, text, numbers, booleans and null as themselves, byte
/// strings as hex text, map keys that are not text as their JSON text; `None` if it does not
/// decode.
pub fn to_json(data: &[u8]) -> Option<serde_json::Value> {
    minicbor_serde::from_slice::<Json>(data).ok().map(|j| j.0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Any CBOR value, as JSON.
struct Json(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor).map(Json)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any CBOR value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(hex(v).into())
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(JsonVisitor)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut all = Vec::new();
        while let Some(Json(v)) = seq.next_element()? {
            all.push(v);
        }
        Ok(all.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut all = serde_json::Map::new();
        while let Some((Json(k), Json(v))) = map.next_entry()? {
            let key = match k {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            all.insert(key, v);
        }
        Ok(all.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Sample {
        name: String,
        bytes: serde_bytes_like::Bytes,
        n: u64,
        x: f64,
        list: Vec<i32>,
    }

    mod serde_bytes_like {
        /// Serialized as a CBOR byte string.
        pub(super) struct Bytes(pub(super) Vec<u8>);

        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn any_cbor_becomes_json_with_bytes_as_hex() {
        let sample = Sample {
            name: "a".into(),
            bytes: serde_bytes_like::Bytes(vec![0xab, 0x01]),
            n: 7,
            x: 0.5,
            list: vec![-1, 2],
        };
        let cbor = minicbor_serde::to_vec(&sample).expect("encodes");
        assert_eq!(
            to_json(&cbor),
            Some(serde_json::json!({"name": "a", "bytes": "ab01", "n": 7, "x": 0.5, "list": [-1, 2]}))
        );
        assert_eq!(to_json(&[0xff, 0x00]), None);
    }
}
