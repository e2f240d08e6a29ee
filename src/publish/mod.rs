//! The publish use case: Genesys notifications or EventBridge events onto a bus — the run over files (`files.rs`), the transform, size accounting, batching, sending with per-entry retries through an `EventSink`, the run's dedup window and audit; the AWS adapter (`sdk.rs`).

mod batch;
mod files;
pub mod run;
mod sdk;
mod send;
pub mod transform;
mod window;

pub use batch::{
    DEFAULT_MAX_BYTES, EntryError, MAX_ENTRIES_PER_REQUEST, batches, check_entry, entry_size,
};
pub use files::{
    MAX_ENTRY_BYTES_CEILING, PublishError, PublishProgress, PublishReport, PublishRequest, Tally,
    publish_files,
};
pub use run::{Chunk, EventReport, Outcome, PublishSettings, Publisher};
pub use sdk::BusSink;
pub use send::{
    EntryAnswer, EventSink, NothingSent, Published, RequestReport, SendOutcome, SendPolicy,
    SinkError, send_all,
};
pub use transform::{DEFAULT_SOURCE, Entry, SourceError, TransformError, check_source, transform};
pub use window::DedupWindow;
