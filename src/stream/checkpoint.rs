//! The stream's checkpoint file: per shard of topics, until when it was listening, its last event and any open gap; written atomically (temp file, then rename) so a restart can report the time it was down.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// What is known of one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardState {
    /// The last time it was known to be listening.
    pub listening_until: Option<DateTime<Utc>>,
    /// The time of its last notification.
    pub last_event_at: Option<DateTime<Utc>>,
    /// Since when it has not been listening, if it was not when the checkpoint was written.
    pub open_gap_from: Option<DateTime<Utc>>,
}

impl ShardState {
    /// Since when the shard has not been listening, as of this checkpoint.
    pub fn down_since(&self) -> Option<DateTime<Utc>> {
        self.open_gap_from.or(self.listening_until)
    }
}

/// Every shard's state, by the key of its topics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// By `shard_key`.
    pub shards: BTreeMap<String, ShardState>,
}

/// A checkpoint that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("checkpoint {path}: cannot {action}")]
    Io {
        /// The file.
        path: String,
        /// `read` or `write`.
        action: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a checkpoint.
    #[error("checkpoint {path}: not a checkpoint this tool wrote")]
    Format {
        /// The file.
        path: String,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
}

/// The key of a shard: a hash of its topics, so that the same topics find their state again.
pub fn shard_key(topics: &[String]) -> String {
    let mut hash = Sha256::new();
    for topic in topics {
        hash.update(topic.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl Checkpoint {
    /// The checkpoint at `path`; empty when there is no file yet.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| CheckpointError::Format { path: name, source }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(source) => Err(CheckpointError::Io {
                path: name,
                action: "read",
                source,
            }),
        }
    }

    /// The checkpoint at `path` when one is given; empty otherwise.
    pub fn load_optional(path: Option<&Path>) -> Result<Self, CheckpointError> {
        path.map_or_else(|| Ok(Checkpoint::default()), Self::load)
    }

    /// Writes the checkpoint to `path` atomically: a temporary file beside it, then a rename.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.display().to_string(),
            action: "write",
            source,
        };
        let temporary = path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(self).expect("a checkpoint serialises");
        // Synced before the rename: after a crash the file holds the old or the new state.
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&temporary)?;
            std::io::Write::write_all(&mut file, &text)?;
            file.sync_all()
        };
        write().map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_checkpoint_is_loaded_as_it_was_and_a_missing_one_is_empty() {
        let path = std::env::temp_dir().join(format!("checkpoint-{:x}.json", fastrand::u64(..)));
        let mut checkpoint = Checkpoint::default();
        let state = ShardState {
            listening_until: DateTime::from_timestamp_millis(5_000),
            ..ShardState::default()
        };
        checkpoint.shards.insert(shard_key(&["t".into()]), state);

        assert_eq!(Checkpoint::load(&path).unwrap(), Checkpoint::default());
        checkpoint.save(&path).unwrap();

        assert_eq!(Checkpoint::load(&path).unwrap(), checkpoint);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn an_open_gap_counts_from_its_start_rather_than_the_last_listening_time() {
        let state = ShardState {
            listening_until: DateTime::from_timestamp_millis(9_000),
            last_event_at: None,
            open_gap_from: DateTime::from_timestamp_millis(4_000),
        };

        assert_eq!(state.down_since().unwrap().timestamp_millis(), 4_000);
    }
}
