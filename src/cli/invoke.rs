//! `genesys-eventbridge invoke`: its arguments, the Lambda's own handler (built from the environment) over events read from files, one JSON line per event, and its exit code (decided in `exit_code`).

use super::SettingsError;
use gev_consumer::app;
use gev_consumer::config::Config;
use gev_consumer::consumer::{Consumer, Invocation};
use gev_consumer::dedup::OwnerToken;
use gev_consumer::lambda::{self, InvocationMeta};
use gev_core::deadline::Deadline;
use gev_core::telemetry::{Telemetry, tree};
use serde_json::Value;
use std::io::Write;
use std::time::Duration;

/// Run the Lambda's handler on EventBridge events read from files (one event, a JSON array,
/// or JSON lines; `-` is stdin), printing one JSON outcome per event and line.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// An events file; repeat for several, handled in the order given. Default: stdin.
    #[arg(long = "events", value_name = "PATH")]
    pub events: Vec<String>,
    /// The time each event gets, like a Lambda function timeout.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout_seconds: u64,
    /// Also draw each invocation's span tree, with durations, on stderr.
    #[arg(long)]
    pub trace_tree: bool,
    /// Print each payload's Lambda response instead of one line per event (e.g. an SQS
    /// batch's `batchItemFailures`); a payload may then be an SQS batch or a Step Functions item.
    #[arg(long)]
    pub lambda_response: bool,
}

/// Why the command did not finish.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The consumer's settings, the events files.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The outcomes could not be written.
    #[error("cannot write the outcomes")]
    Output(#[source] std::io::Error),
}

/// The exit code of a run: 0 every event reached a terminal outcome, 1 some `failed` (the
/// platform would deliver them again), 2 bad settings or events files, or outcomes that could not
/// be written.
fn exit_code(result: &Result<Summary, Failure>) -> i32 {
    use super::exit::{BAD_INPUT, REMOTE_FAILURE, SUCCESS};
    match result {
        Ok(summary) if summary.failed == 0 => SUCCESS,
        Ok(_) => REMOTE_FAILURE,
        Err(Failure::Settings(_) | Failure::Output(_)) => BAD_INPUT,
    }
}

/// Runs `invoke` as `args` say, with the consumer's settings from the environment: outcomes on
/// stdout, span trees and the error on stderr; returns the exit code.
pub async fn run(args: Args, telemetry: &Telemetry) -> i32 {
    let result = invoke_as_asked(args, telemetry).await;
    if let Err(failure) = &result {
        super::say_unstarted(&mut std::io::stderr(), failure);
    }
    exit_code(&result)
}

async fn invoke_as_asked(args: Args, telemetry: &Telemetry) -> Result<Summary, Failure> {
    let timeout = Duration::from_secs(args.timeout_seconds);
    let config = Config::from_env().map_err(SettingsError::from)?;
    config
        .check_invocation_timeout(timeout, "the invocation timeout --timeout-seconds")
        .map_err(SettingsError::from)?;
    let sources = if args.events.is_empty() {
        vec!["-".to_owned()]
    } else {
        args.events
    };
    let mut all = Vec::new();
    for source in &sources {
        all.extend(crate::input::read_events(source).map_err(SettingsError::from)?);
    }
    let consumer = app::build_consumer(&config)
        .await
        .map_err(SettingsError::from)?;
    let options = InvokeOptions {
        timeout,
        trace_tree: args.trace_tree,
        lambda_response: args.lambda_response,
    };
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let summary = handle_all(&consumer, all, options, telemetry, &mut stdout, &mut stderr)
        .await
        .map_err(Failure::Output);
    // The process exits next: tearing down every dedup record and pooled connection one by
    // one would only cost time.
    std::mem::forget(consumer);
    summary
}

/// How a run of `invoke` went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events processed.
    pub events: usize,
    /// Events whose outcome is `failed` (with `lambda_response`: invocations that returned an
    /// error); the platform would deliver them again.
    pub failed: usize,
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
pub async fn handle_all(
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
