//! `genesys-eventbridge invoke`: the Lambda's own handler over events read from files, one JSON line per event.

use crate::consumer::{Consumer, Invocation};
use crate::deadline::Deadline;
use crate::dedup::OwnerToken;
use crate::lambda::{self, InvocationMeta};
use crate::telemetry::{Telemetry, tree};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;

/// An events file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{source_name}: cannot read")]
    /// An input could not be read.
    Read {
        /// The file name, or `-` for stdin.
        source_name: String,
        #[source]
        /// Why it could not be read.
        source: std::io::Error,
    },
    #[error("{source_name}: line {line}, column {column}: not valid JSON")]
    /// An input is not JSON.
    Json {
        /// The file name, or `-` for stdin.
        source_name: String,
        /// Where the JSON stops making sense (1-based).
        line: usize,
        /// The column of that line (1-based).
        column: usize,
        #[source]
        /// What the JSON parser said.
        source: serde_json::Error,
    },
}

/// Reads the events of one source: `-` is stdin, anything else a file path.
pub fn read_events(path: &str) -> Result<Vec<Value>, InputError> {
    let source_name = if path == "-" {
        "stdin".to_owned()
    } else {
        path.to_owned()
    };
    let read_error = |source| InputError::Read {
        source_name: source_name.clone(),
        source,
    };
    let text = if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(read_error)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(read_error)?
    };
    parse_events(&text, &source_name)
}

/// Parses one event, a JSON array of events, or JSON lines (one event per line).
pub fn parse_events(text: &str, source_name: &str) -> Result<Vec<Value>, InputError> {
    let mut events = Vec::new();
    for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match value {
            Ok(Value::Array(items)) => events.extend(items),
            Ok(event) => events.push(event),
            Err(source) => {
                return Err(InputError::Json {
                    source_name: source_name.to_owned(),
                    line: source.line(),
                    column: source.column(),
                    source,
                });
            }
        }
    }
    Ok(events)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_is_read() {
        let events = parse_events(r#"{"id": "a"}"#, "x").unwrap();
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn an_array_of_events_is_read_in_order() {
        let events = parse_events(r#"[{"id": "a"}, {"id": "b"}]"#, "x").unwrap();
        assert_eq!(events[0]["id"], "a");
        assert_eq!(events[1]["id"], "b");
    }

    #[test]
    fn json_lines_are_read_in_order() {
        let events = parse_events("{\"id\": \"a\"}\n\n{\"id\": \"b\"}\n", "x").unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1]["id"], "b");
    }

    #[test]
    fn a_syntax_error_names_the_source_and_position() {
        let err = parse_events("{\"id\": \"a\"}\n{\"id\": }", "events.jsonl").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("events.jsonl: line 2, column 8: not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_has_no_events() {
        assert!(parse_events("  \n", "x").unwrap().is_empty());
    }
}
