//! The publish use case (being built): Genesys notifications or EventBridge events onto a bus — the transform, size accounting, batching and sending with per-entry retries through an `EventSink`; the AWS adapter (`sdk.rs`); the CLI comes next.

pub mod batch;
pub mod sdk;
pub mod send;
pub mod transform;

pub use batch::{DEFAULT_MAX_BYTES, MAX_ENTRIES_PER_REQUEST, batches, check_entry, entry_size};
pub use sdk::BusSink;
pub use send::{EntryAnswer, EventSink, Published, SendPolicy, SinkError, send_all};
pub use transform::{DEFAULT_SOURCE, Entry, TransformError, check_source, transform};
