//! `genesys-eventbridge invoke`: the Lambda's own handler over events read from files, one JSON line per event.

use gev_consumer::consumer::{Consumer, Invocation};
use gev_consumer::dedup::OwnerToken;
use gev_consumer::lambda::{self, InvocationMeta};
use gev_core::deadline::Deadline;
use gev_core::telemetry::{Telemetry, tree};
use serde_json::Value;
use std::io::Write;
use std::time::Duration;

/// How a run of `invoke` went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events processed.
    pub events: usize,
    /// Events whose outcome is `failed` (with `lambda_response`: invocations that returned an
    /// error); the platform would deliver them again.
    pub failed: usize,
}

impl Summary {
    /// Exit status: 0 when every event reached a terminal outcome, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.failed == 0 { 0 } else { 1 }
    }
}

/// How `invoke` runs.
#[derive(Debug, Clone, Copy)]
pub struct InvokeOptions {
    /// The time each event gets, like a Lambda function timeout.
    pub timeout: Duration,
    /// Draw each invocation's span tree (needs telemetry that collects spans).
    pub trace_tree: bool,
    /// Print each payload's Lambda response (e.g. an SQS batch's `batchItemFailures`) instead of
    /// one line per event.
    pub lambda_response: bool,
}

/// Handles `payloads` one at a time, like successive invocations of one warm Lambda instance,
/// writing one JSON object per event and line to `out` (or, with `lambda_response`, one Lambda
/// response per payload), and with `trace_tree` each invocation's span tree to `trees`.
pub async fn run(
    consumer: &Consumer,
    payloads: Vec<Value>,
    options: InvokeOptions,
    telemetry: &Telemetry,
    out: &mut impl Write,
    trees: &mut impl Write,
) -> std::io::Result<Summary> {
    let mut summary = Summary::default();
    let run_id = format!("{:08x}", fastrand::u32(..));
    for (index, payload) in payloads.into_iter().enumerate() {
        let request_id = format!("invoke-{run_id}-{index}");
        let invocation = Invocation {
            owner: OwnerToken::new(request_id.clone()),
            deadline: Deadline::after(options.timeout),
        };
        let meta = InvocationMeta {
            request_id,
            function_name: "disposition-consumer".into(),
            xray_trace_header: None,
        };
        let handled = lambda::invoke(consumer, payload, &invocation, &meta, telemetry).await;
        summary.events += handled.reports.len();
        if options.lambda_response {
            // The invocation's result counts: an SQS batch with failed items still succeeds.
            let response = match handled.into_response() {
                Ok(response) => response,
                Err(error) => {
                    summary.failed += 1;
                    serde_json::json!({
                        "errorType": "EventFailed",
                        "errorMessage": error.to_string(),
                    })
                }
            };
            serde_json::to_writer(&mut *out, &response)?;
            out.write_all(b"\n")?;
        } else {
            for report in &handled.reports {
                if !report.outcome.is_terminal() {
                    summary.failed += 1;
                }
                serde_json::to_writer(&mut *out, report)?;
                out.write_all(b"\n")?;
            }
        }
        out.flush()?;
        if options.trace_tree {
            for (_, root) in tree::build_trees(&telemetry.take_spans()) {
                trees.write_all(tree::render(&root).as_bytes())?;
            }
            trees.flush()?;
        }
    }
    Ok(summary)
}
