//! genesys-eventbridge: Genesys Cloud CX interaction events from Amazon EventBridge, turned into
//! idempotent, traced actions on Genesys Cloud.
//!
//! # Layout
//!
//! - [`domain`]: pure types and rules (ids, events, dedup keys, snapshots, eligibility,
//!   outcomes); no I/O.
//! - [`parse`]: EventBridge JSON into domain events; every input gets a verdict.
//! - [`consumer`]: the use case, one event from parse to outcome, under its target's lease.
//! - [`configure`]: the Genesys EventBridge integration as code (plan, apply, audit).
//! - [`publish`]: events onto an EventBridge bus (transform, sizes, batches, per-entry retries).
//! - [`stream`]: the Notifications API over WebSocket, with gaps recorded and checkpoints.
//! - [`bridge`]: stream → publish in one process, following queues, with a spool.
//! - [`dedup`]: the dedup port, with the in-memory and DynamoDB adapters.
//! - [`genesys`]: the Genesys Cloud port, with the HTTP adapter (tokens, retries, rate limit).
//! - [`eventbridge`]: the EventBridge port (partner event sources and buses), over the AWS SDK.
//! - [`lambda`]: payload decoding, the Lambda response and the runtime loop.
//! - [`config`], [`app`]: settings from the environment, and the wiring of the adapters.
//! - [`telemetry`]: logs, OpenTelemetry spans and their flush, EMF metrics, span trees.
//! - [`deadline`]: the invocation's deadline and the reserve kept for finishing it.
//! - [`notify`]: announcing applied changes (SNS).
//! - [`mod@error_chain`], [`locks`], [`secret`], [`backoff`]: small shared helpers.
//! - [`cli`]: one module per `genesys-eventbridge` command.
//! - `sim` (feature `sim`): the Genesys simulator, a Lambda Runtime API, workloads and a
//!   delivering-platform stand-in, for tests, demos and benchmarks.

pub mod app;
pub mod backoff;
pub mod bridge;
pub mod cli;
pub mod config;
pub mod configure;
pub mod consumer;
pub mod deadline;
pub mod dedup;
pub mod doctor;
pub mod domain;
pub mod error_chain;
pub mod eventbridge;
pub mod genesys;
pub mod lambda;
pub mod locks;
pub mod notify;
pub mod parse;
pub mod publish;
pub mod secret;
#[cfg(feature = "sim")]
pub mod sim;
pub mod stream;
pub mod telemetry;

pub use error_chain::error_chain;
