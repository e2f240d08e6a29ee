//! gev-consumer: the `disposition-consumer` Lambda's use case and what it is wired from: one
//! event from parse to outcome under its target's lease, the dedup port with its in-memory and
//! DynamoDB adapters, the Lambda runtime loop, settings from the environment, and `doctor`,
//! which checks those settings against the org.
//!
//! - [`consumer`]: the use case, one event from parse to outcome, under its target's lease.
//! - [`dedup`]: the dedup port, with the in-memory and DynamoDB adapters.
//! - [`lambda`]: payload decoding, the Lambda response and the runtime loop.
//! - [`config`], [`app`]: settings from the environment, and the wiring of the adapters.
//! - [`doctor`]: the consumer's settings checked against the org (queues, codes, permissions).

pub mod app;
pub mod config;
pub mod consumer;
pub mod dedup;
pub mod doctor;
pub mod lambda;
