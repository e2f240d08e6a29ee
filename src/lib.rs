//! genesys-eventbridge: the operator tools around the disposition consumer: the Genesys
//! EventBridge integration as code, events onto a bus, the Notifications API stream and the
//! bridge, each a use case that returns its result and reports progress through a trait; the
//! [`cli`] modules print them and choose the exit codes, the `genesys-eventbridge` binary calls
//! those.
//!
//! The workspace (docs/architecture.md): `gev-core` (domain, parse, telemetry), `gev-genesys`
//! (the Genesys Cloud client), `gev-consumer` (the Lambda), `gev-sim` (the simulator), and this
//! crate, the tools:
//!
//! - [`configure`]: the Genesys EventBridge integration as code (plan, apply, audit).
//! - [`publish`]: events onto an EventBridge bus (transform, sizes, batches, per-entry retries).
//! - [`stream`]: the Notifications API over WebSocket, with gaps recorded and checkpoints.
//! - [`bridge`]: stream → publish in one process, following queues, with a spool.
//! - [`reconcile`]: calls whose events never came, found with the analytics API and published.
//! - [`eventbridge`]: the EventBridge port (partner event sources and buses), over the AWS SDK.
//! - [`notify`]: announcing applied changes (SNS).
//! - [`input`]: events read from files, directories and stdin (publish, invoke).
//! - [`redrive`]: a dead-letter queue's events back onto the bus, each message deleted once they are on it.
//! - [`replay`]: an EventBridge archive's events replayed to the consumer's rule.
//! - [`backoff`]: the jittered backoff the tools retry with.
//! - [`cli`]: one module per `genesys-eventbridge` command: arguments, wiring, printing, exit
//!   codes (one `exit_code` each).

pub mod backoff;
pub mod bridge;
pub mod cli;
pub mod configure;
pub mod eventbridge;
pub mod input;
pub mod notify;
pub mod publish;
pub mod reconcile;
pub mod redrive;
pub mod replay;
pub mod stream;
