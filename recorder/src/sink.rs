//! Writes a Cohort recording ([`crate::layout`]) into an MCAP file: schemas and channels as their
//! first message needs them, the model, and at the end the metadata and losses.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use mcap::records::MessageHeader;

use crate::layout::{ChannelKey, Losses, DROPS_METADATA, MODEL_ATTACHMENT, PROFILE, RECORDING_METADATA};

/// One message to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The provider's sequence number.
    pub(crate) seq: u64,
    /// When the recorder received it, in nanoseconds since the Unix epoch.
    pub(crate) log_time: u64,
    /// When the provider sent it (the receive time when its port is not timed).
    pub(crate) publish_time: u64,
    /// The payload, as sent.
    pub(crate) data: Vec<u8>,
}

/// What the file says about itself.
#[derive(Debug, Clone)]
pub(crate) struct Heading<'a> {
    /// The app recorded.
    pub(crate) app: &'a str,
    /// When the recording started, in nanoseconds since the Unix epoch.
    pub(crate) started: u64,
    /// The model's text, if known.
    pub(crate) model: Option<&'a str>,
}

/// An MCAP file being written.
pub(crate) struct Sink {
    writer: mcap::Writer<BufWriter<File>>,
    channels: BTreeMap<ChannelKey, u16>,
    written: u64,
}

impl Sink {
    /// Creates `path` and writes the heading's model into it.
    pub(crate) fn create(path: &Path, heading: &Heading<'_>) -> Result<Sink, mcap::McapError> {
        let file = File::create(path)?;
        let mut writer = mcap::WriteOptions::new().profile(PROFILE).compression(None).create(BufWriter::new(file))?;
        if let Some(model) = heading.model {
            writer.attach(&mcap::Attachment {
                log_time: heading.started,
                create_time: heading.started,
                name: MODEL_ATTACHMENT.to_owned(),
                media_type: "text/plain".to_owned(),
                data: Cow::Borrowed(model.as_bytes()),
            })?;
        }
        let metadata = BTreeMap::from([
            ("app".to_owned(), heading.app.to_owned()),
            ("recorder".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
            ("started".to_owned(), heading.started.to_string()),
        ]);
        writer.write_metadata(&mcap::records::Metadata { name: RECORDING_METADATA.to_owned(), metadata })?;
        Ok(Sink { writer, channels: BTreeMap::new(), written: 0 })
    }

    /// Writes `message` of channel `channel`.
    pub(crate) fn write(&mut self, channel: &ChannelKey, message: &Recorded) -> Result<(), mcap::McapError> {
        let id = match self.channels.get(channel) {
            Some(id) => *id,
            None => {
                let schema = self.writer.add_schema(channel.schema(), "", &[])?;
                let id = self.writer.add_channel(schema, &channel.message, channel.encoding(), &channel.metadata())?;
                self.channels.insert(channel.clone(), id);
                id
            }
        };
        let header = MessageHeader {
            channel_id: id,
            sequence: message.seq as u32,
            log_time: message.log_time,
            publish_time: message.publish_time,
        };
        self.writer.write_to_known_channel(&header, &message.data)?;
        self.written += 1;
        Ok(())
    }

    /// How many messages were written.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Writes the losses of each channel and ends the file.
    pub(crate) fn finish<'a>(
        mut self,
        losses: impl Iterator<Item = (&'a ChannelKey, Losses)>,
    ) -> Result<(), mcap::McapError> {
        let metadata = losses.map(|(key, l)| (key.label(), l.text())).collect();
        self.writer.write_metadata(&mcap::records::Metadata { name: DROPS_METADATA.to_owned(), metadata })?;
        self.writer.finish()?;
        Ok(())
    }
}
