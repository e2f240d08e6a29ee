//! The publish use case (being built): Genesys notifications or EventBridge events onto a bus — the pure transform, size accounting and batching so far; sending, retries per entry and the CLI come next.

pub mod batch;
pub mod transform;

pub use batch::{DEFAULT_MAX_BYTES, MAX_ENTRIES_PER_REQUEST, batches, check_entry, entry_size};
pub use transform::{DEFAULT_SOURCE, Entry, TransformError, check_source, transform};
