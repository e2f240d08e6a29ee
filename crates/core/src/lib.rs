//! gev-core: what every part of genesys-eventbridge shares: the pure domain, the parser of
//! EventBridge events, deadlines, telemetry and small helpers. No Genesys or AWS client here.
//!
//! - [`domain`]: pure types and rules (ids, events, dedup keys, snapshots, eligibility, policy,
//!   outcomes); no I/O.
//! - [`parse`]: EventBridge JSON into domain events; every input gets a verdict.
//! - [`telemetry`]: logs, OpenTelemetry spans and their flush, EMF metrics, span trees.
//! - [`deadline`]: an operation's deadline and the reserve kept for finishing it.
//! - [`error_chain()`], [`locks`], [`secret`]: small shared helpers.

pub mod deadline;
pub mod domain;
mod error_chain;
pub mod locks;
pub mod parse;
pub mod secret;
pub mod telemetry;

pub use error_chain::error_chain;
