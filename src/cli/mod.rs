//! The operator CLI's commands, as library code the `genesys-eventbridge` binary wires up.

pub mod invoke;
