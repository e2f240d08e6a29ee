//! Seed data: the interactions and conversations the simulator starts with.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path as FsPath;

/// Seed data: `{"interactions": [...], "conversations": [...], "queues": [...], "wrapupCodes": [...]}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SeedData {
    #[serde(default)]
    /// Interactions as `GET /api/v2/interactions/{id}` returns them (plus `"x-sim"`).
    pub interactions: Vec<Map<String, Value>>,
    /// Conversations as `GET /api/v2/conversations/calls/{id}` returns them; `mediaType`
    /// (default `VOICE`) picks the API path (`calls`, `callbacks`, `chats`, `emails`, `messages`).
    #[serde(default)]
    pub conversations: Vec<Map<String, Value>>,
    /// Queues as `GET /api/v2/routing/queues/{id}` returns them (`Queue`, with `acwSettings`),
    /// plus `"x-sim": {"wrapupCodes": [ids]}`: the codes assigned to the queue.
    #[serde(default)]
    pub queues: Vec<Map<String, Value>>,
    /// The org's wrap-up codes as `GET /api/v2/routing/wrapupcodes/{id}` returns them.
    #[serde(default, rename = "wrapupCodes")]
    pub wrapup_codes: Vec<Map<String, Value>>,
}

/// A seed file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read {path}")]
    /// The file could not be read.
    Read {
        /// The file.
        path: String,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    #[error("{path} is not valid seed data")]
    /// The file is not seed data.
    Parse {
        /// The file.
        path: String,
        #[source]
        /// What the JSON parser said.
        source: serde_json::Error,
    },
    #[error("interactions[{index}]: {problem}")]
    /// One entry cannot be used.
    Entry {
        /// Its position in its list.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
}

/// A seed entry or `PUT /sim/...` body that cannot be stored; the message names the field.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// No `"id"`, or not a non-empty string.
    #[error("\"id\" must be a non-empty string")]
    NoId,
    /// A conversation whose `mediaType` has no API path segment.
    #[error("mediaType {media} of {id} has no API path")]
    NoApiPath {
        /// The `mediaType`.
        media: gev_core::domain::MediaType,
        /// The conversation's id.
        id: String,
    },
    /// An interaction's or conversation's `"x-sim"` that is not a `Behaviour`.
    #[error("\"{key}\" of {id}: {source}", key = super::BEHAVIOUR_KEY)]
    Behaviour {
        /// The interaction's or conversation's id.
        id: String,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A queue's `"x-sim"` that is not `{"wrapupCodes": [ids]}`.
    #[error("queue {id}: \"{key}\": {source}", key = super::BEHAVIOUR_KEY)]
    QueueBehaviour {
        /// The queue's id.
        id: String,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
}

impl SeedData {
    /// Reads seed data from `path`.
    pub fn from_file(path: &FsPath) -> Result<Self, SeedError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: name.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SeedError::Parse { path: name, source })
    }
}
