//! genesys-eventbridge: Genesys Cloud CX interaction events from Amazon EventBridge, turned into
//! idempotent, traced actions on Genesys Cloud.

pub mod app;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod deadline;
pub mod dedup;
pub mod domain;
pub mod error_chain;
pub mod genesys;
pub mod lambda;
pub mod locks;
pub mod parse;
pub mod secret;
#[cfg(feature = "sim")]
pub mod sim;
pub mod telemetry;

pub use error_chain::error_chain;
