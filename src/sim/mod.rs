//! Local stand-ins for the services the consumer talks to (Genesys Cloud, the Lambda Runtime API)
//! and generated workloads to drive them.

mod genesys;
pub mod lambda_api;
pub mod platform;
pub mod workload;

pub use genesys::*;
