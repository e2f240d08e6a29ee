//! `genesys-eventbridge redrive`: its arguments, the SQS queue and the bus wired to the redrive use case, one tab-separated line per message on stdout (message id, what it was recognised as, outcome), a summary on stderr, and the exit code, decided in one place ([`exit_code`]).

use super::say;
use crate::publish::{DEFAULT_MAX_BYTES, DEFAULT_SOURCE, EventSink, SendPolicy};
use crate::redrive::{
    self, DeadLetterQueue, MessageReport, Progress, RedriveOptions, RedriveReport,
    SqsDeadLetterQueue,
};
use std::io::Write;
use std::time::Duration;

/// `redrive`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The dead-letter queue's URL (the template's output DeadLetterQueueUrl).
    #[arg(long, value_name = "URL")]
    pub queue_url: String,
    /// Handle at most this many messages.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max: Option<u64>,
    /// Recognise and print each message; send nothing, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The bus the consumer's rule listens to (template parameter EventBusName), by name or
    /// ARN (an ARN's region is used).
    #[arg(long, default_value = "default", value_name = "NAME_OR_ARN")]
    pub bus: String,
    /// The `Source` given to events whose own starts with `aws.` (PutEvents refuses those, e.g.
    /// the Genesys partner source); the template's rule accepts it as BridgeEventSource.
    #[arg(long, default_value = DEFAULT_SOURCE)]
    pub source: String,
    /// The largest entry (and request) sent, as AWS counts bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BYTES, value_name = "N")]
    pub max_entry_bytes: usize,
}

/// Exit status: every message redriven (or, dry, would be), or the queue was empty.
pub const EXIT_OK: i32 = super::exit::SUCCESS;
/// Exit status: some messages kept for a failure a later run may get past (the bus still
/// failing after retries, a delete that failed), or a receive failed mid-run.
pub const EXIT_RETRY: i32 = super::exit::REMOTE_FAILURE;
/// Exit status: bad arguments, or a queue that cannot be read at all (no such queue, no
/// permission).
pub const EXIT_SETTINGS: i32 = super::exit::BAD_INPUT;
/// Exit status: some messages kept for a person to look at (not understood, or refused by the
/// bus for good), none kept for a failure a later run may get past.
pub const EXIT_REVIEW: i32 = super::exit::REJECTED;

/// An argument redrive cannot run with: one line naming the flag, exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum ArgumentError {
    /// Not an SQS queue URL.
    #[error(
        "--queue-url: {0:?} is not a queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/dead-letters"
    )]
    QueueUrl(String),
    /// A `--source` EventBridge would refuse.
    #[error("--source")]
    Source(#[source] crate::publish::SourceError),
    /// `--max-entry-bytes` outside 1 to the ceiling AWS allows anywhere.
    #[error(
        "--max-entry-bytes: {0} is not within 1 to {ceiling}",
        ceiling = crate::publish::MAX_ENTRY_BYTES_CEILING
    )]
    MaxEntryBytes(usize),
    /// An empty `--bus`.
    #[error("--bus: empty")]
    EmptyBus,
}

/// Runs `redrive` against AWS (the standard settings; `AWS_ENDPOINT_URL_SQS` and
/// `AWS_ENDPOINT_URL_EVENTBRIDGE` for local servers): a line per message on stdout, the
/// summary (or why it could not start) on stderr; returns the exit code.
pub async fn run(args: Args) -> i32 {
    let mut err = std::io::stderr().lock();
    let result = match check(&args) {
        Ok(()) => {
            let queue = SqsDeadLetterQueue::new(&args.queue_url).await;
            let sink = super::bus_sink(&args.bus, args.dry_run).await;
            let mut out = std::io::stdout().lock();
            Ok(redrive(&args, &queue, sink.as_ref(), &mut out, &mut err).await)
        }
        Err(error) => Err(error),
    };
    if let Err(error) = &result {
        super::say_error(&mut err, "redrive", error);
    }
    exit_code(&result)
}

/// The arguments redrive cannot run without.
pub fn check(args: &Args) -> Result<(), ArgumentError> {
    let url = &args.queue_url;
    let has_path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .is_some_and(|(host, path)| !host.is_empty() && !path.trim_matches('/').is_empty());
    if !(url.starts_with("https://") || url.starts_with("http://")) || !has_path {
        return Err(ArgumentError::QueueUrl(url.clone()));
    }
    crate::publish::check_source(&args.source).map_err(ArgumentError::Source)?;
    if args.max_entry_bytes == 0 || args.max_entry_bytes > crate::publish::MAX_ENTRY_BYTES_CEILING {
        return Err(ArgumentError::MaxEntryBytes(args.max_entry_bytes));
    }
    if args.bus.trim().is_empty() {
        return Err(ArgumentError::EmptyBus);
    }
    Ok(())
}

/// Redrives `queue` onto `sink` as `args` say, writing one line per message to `out` and the
/// summary (and a failed receive) to `err`; the report.
pub async fn redrive(
    args: &Args,
    queue: &dyn DeadLetterQueue,
    sink: &dyn EventSink,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> RedriveReport {
    let options = RedriveOptions {
        max_messages: args
            .max
            .map(|max| usize::try_from(max).unwrap_or(usize::MAX)),
        dry_run: args.dry_run,
        aws_source_as: args.source.clone(),
        max_entry_bytes: args.max_entry_bytes,
        // A few quick attempts: a batch's messages stay hidden while it is sent (5 minutes).
        policy: SendPolicy {
            max_attempts: 5,
            backoff_max: Duration::from_secs(5),
            max_request_bytes: args.max_entry_bytes,
            ..SendPolicy::default()
        },
    };
    let started = std::time::Instant::now();
    let report = {
        let mut lines = Lines { out };
        redrive::run(queue, sink, &options, &mut lines).await
    };
    if let Some(error) = &report.receive_failed {
        say(
            err,
            format_args!(
                "genesys-eventbridge redrive: the queue could not be read: {}",
                gev_core::error_chain(error)
            ),
        );
    }
    say(
        err,
        format_args!("{}", summary(&report, args.dry_run, started.elapsed())),
    );
    report
}

/// The exit code of a run: [`EXIT_SETTINGS`] for bad arguments or a queue that could not be
/// read at all, [`EXIT_RETRY`] before [`EXIT_REVIEW`] (a later run is worth trying first).
pub fn exit_code(result: &Result<RedriveReport, ArgumentError>) -> i32 {
    let Ok(report) = result else {
        return EXIT_SETTINGS;
    };
    match &report.receive_failed {
        Some(error) if !error.is_retryable() && report.messages == 0 => EXIT_SETTINGS,
        Some(_) => EXIT_RETRY,
        None if report.kept_retryable > 0 => EXIT_RETRY,
        None if report.kept_for_review > 0 => EXIT_REVIEW,
        None => EXIT_OK,
    }
}

/// One line per message, written (and flushed) as each is done.
struct Lines<'a> {
    out: &'a mut dyn Write,
}

impl Progress for Lines<'_> {
    // Ignored if stdout is closed (`| head`): the message was handled either way, and the
    // summary on stderr still counts it.
    fn message(&mut self, report: &MessageReport) {
        say(self.out, format_args!("{}", line(report)));
    }
}

/// `message id <TAB> recognised as <TAB> outcome`.
pub fn line(report: &MessageReport) -> String {
    format!(
        "{}\t{}\t{}",
        report.message_id,
        report.recognised_as(),
        report.outcome
    )
}

/// The summary line.
fn summary(report: &RedriveReport, dry_run: bool, took: Duration) -> String {
    let mut text = format!(
        "redrive: {} message{}",
        report.messages,
        if report.messages == 1 { "" } else { "s" }
    );
    if dry_run {
        text.push_str(&format!(", {} would be redriven", report.would_redrive));
    } else {
        text.push_str(&format!(
            ", {} redriven ({} events on the bus)",
            report.redriven, report.events_sent
        ));
    }
    text.push_str(&format!(
        ", {} kept ({} to look at, {} for a later run) in {:.1} s",
        report.kept(),
        report.kept_for_review,
        report.kept_retryable,
        took.as_secs_f64()
    ));
    if report.release_failures > 0 {
        text.push_str(&format!(
            "; {} kept messages stay hidden until their visibility timeout ends",
            report.release_failures
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redrive::{Kept, QueueError};

    fn args(url: &str) -> Args {
        Args {
            queue_url: url.to_owned(),
            max: None,
            dry_run: false,
            bus: "default".to_owned(),
            source: DEFAULT_SOURCE.to_owned(),
            max_entry_bytes: DEFAULT_MAX_BYTES,
        }
    }

    #[test]
    fn a_queue_url_must_be_a_url_with_the_queue_s_path() {
        assert!(
            check(&args(
                "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"
            ))
            .is_ok()
        );
        assert!(check(&args("http://127.0.0.1:5000/123456789012/dlq")).is_ok());
        for bad in [
            "dlq",
            "https://sqs.eu-west-1.amazonaws.com/",
            "ftp://x/y",
            "https:///q",
        ] {
            assert!(check(&args(bad)).is_err(), "{bad}");
        }
        let aws_source = Args {
            source: "aws.partner/x".to_owned(),
            ..args("http://127.0.0.1:1/1/q")
        };
        assert!(
            check(&aws_source)
                .unwrap_err()
                .to_string()
                .starts_with("--source")
        );
    }

    #[test]
    fn the_exit_code_prefers_a_later_run_then_a_person_then_success() {
        let kept_both = RedriveReport {
            messages: 3,
            kept_retryable: 1,
            kept_for_review: 1,
            ..RedriveReport::default()
        };
        let kept_for_review = RedriveReport {
            messages: 3,
            kept_for_review: 1,
            ..RedriveReport::default()
        };
        let no_queue = RedriveReport {
            receive_failed: Some(QueueError {
                operation: "ReceiveMessage",
                retryable: false,
                source: "AWS.SimpleQueueService.NonExistentQueue".into(),
            }),
            ..RedriveReport::default()
        };

        assert_eq!(exit_code(&Ok(kept_both)), EXIT_RETRY);
        assert_eq!(exit_code(&Ok(kept_for_review)), EXIT_REVIEW);
        assert_eq!(exit_code(&Ok(no_queue)), EXIT_SETTINGS);
        assert_eq!(exit_code(&Ok(RedriveReport::default())), EXIT_OK);
        assert_eq!(exit_code(&Err(ArgumentError::EmptyBus)), EXIT_SETTINGS);
    }

    #[test]
    fn a_line_is_the_message_id_what_it_is_and_its_outcome_tab_separated() {
        let report = MessageReport {
            message_id: "m-1".to_owned(),
            recognised: None,
            outcome: crate::redrive::MessageOutcome::Kept(Kept::NotDeleted("timeout".into())),
        };

        assert!(
            line(&report).starts_with("m-1\tunrecognised\tkept: on the bus, but the delete failed")
        );
    }
}
