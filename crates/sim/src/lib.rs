//! Local stand-ins for the services the tools talk to (Genesys Cloud, EventBridge's PutEvents, the Lambda Runtime API)
//! and generated workloads to drive them.

pub mod eventbridge;
mod genesys;
pub mod lambda_api;
pub mod platform;
pub mod workload;

pub use genesys::*;
