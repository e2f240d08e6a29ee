//! The operator CLI's commands, as library code the `genesys-eventbridge` binary wires up.

pub mod configure;
pub mod input;
pub mod invoke;
pub mod publish;
pub mod reconcile;
pub mod redrive;
pub mod replay;
pub mod stream;
