//! Local stand-ins for the services the consumer talks to: Genesys Cloud and the Lambda Runtime API.

mod genesys;
pub mod lambda_api;

pub use genesys::*;
