//! The integration test binary: real sockets (wiremock, the simulator) behind every adapter.

mod batches;
mod bridge;
mod bridge_faults;
mod chaos;
mod configure;
mod configure_audit;
mod dedup_contract;
mod dynamodb_dedup;
mod genesys_client;
mod handler;
mod helpers;
mod invoke_cli;
mod lambda_binary;
mod native;
mod parsing_props;
mod pipeline;
mod publish;
mod publish_e2e;
mod publish_faults;
mod queue_policy;
mod secrets;
mod sim_faults;
mod stream;
mod stream_faults;
mod telemetry;
mod time_reserve;
