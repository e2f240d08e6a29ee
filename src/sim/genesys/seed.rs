//! Seed data: the interactions and conversations the simulator starts with.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path as FsPath;

/// Seed data: `{"interactions": [ {"id": ..., "type": ..., ...}, ... ]}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SeedData {
    #[serde(default)]
    pub interactions: Vec<Map<String, Value>>,
    /// Conversations as `GET /api/v2/conversations/calls/{id}` returns them; `mediaType`
    /// (default `VOICE`) picks the API path (`calls`, `callbacks`, `chats`, `emails`, `messages`).
    #[serde(default)]
    pub conversations: Vec<Map<String, Value>>,
}

/// A seed file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid seed data")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("interactions[{index}]: {problem}")]
    Entry { index: usize, problem: String },
}

impl SeedData {
    pub fn from_file(path: &FsPath) -> Result<Self, SeedError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: name.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SeedError::Parse { path: name, source })
    }
}
