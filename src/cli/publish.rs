//! `genesys-eventbridge publish`: its arguments, events from files, directories or stdin onto a bus, one JSON line per event, a summary on stderr, rejects to a file (never one of the inputs), and its exit code (decided in `exit_code`: 0/1/3/2, 1 also for an incomplete audit).

use crate::notify::ChangeNotifier;
pub use crate::publish::PublishRequest;
use crate::publish::{
    DEFAULT_MAX_BYTES, DEFAULT_SOURCE, Entry, EventReport, EventSink, PublishError,
    PublishProgress, PublishReport, SendPolicy, Tally, publish_files,
};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;
/// Inputs of more events than this get a progress bar on a terminal.
const PROGRESS_FROM: usize = 300;

/// Publish Genesys notifications or EventBridge events (files, directories of *.json, or
/// `-` for stdin) onto a bus, one JSON outcome line per event.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The event bus, by name or ARN (an ARN's region is used).
    #[arg(long, value_name = "NAME_OR_ARN")]
    pub bus: String,
    /// An events file or directory; repeat for several, read in the order given. Default: stdin.
    #[arg(long = "events", value_name = "PATH")]
    pub events: Vec<String>,
    /// The `Source` of every entry (not `aws.`…).
    #[arg(long, default_value = DEFAULT_SOURCE)]
    pub source: String,
    /// Publish one audit message per PutEvents request to this SNS topic (one not published
    /// makes the exit code 1).
    #[arg(long, value_name = "ARN")]
    pub audit_topic_arn: Option<String>,
    /// Write each rejected event, with its reason, to this file (JSON lines; not one of the
    /// inputs, and itself valid input for a later run).
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,
    /// The largest entry (and request) sent, as AWS counts bytes; up to 1048576 where raised.
    #[arg(long, default_value_t = DEFAULT_MAX_BYTES, value_name = "N")]
    pub max_entry_bytes: usize,
    /// Validate and print the entries; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// PutEvents calls per request, the first included.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_attempts: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
}

/// Runs `publish` as `args` say, with AWS's standard settings (none for a dry run): one line per
/// event on stdout, the summary and problems on stderr; returns the exit code.
pub async fn run(args: Args) -> i32 {
    let request = PublishRequest {
        bus: args.bus,
        events: args.events,
        source: args.source,
        rejects: args.rejects,
        max_entry_bytes: args.max_entry_bytes,
        dry_run: args.dry_run,
        policy: SendPolicy {
            max_attempts: args.max_attempts.max(1),
            concurrency: args.concurrency.max(1),
            ..SendPolicy::default()
        },
    };
    let sink = super::bus_sink(&request.bus, request.dry_run).await;
    let notifier = match &args.audit_topic_arn {
        Some(arn) => Some(
            crate::notify::SnsNotifier::new(arn)
                .await
                .with_subject("genesys-eventbridge publish: one PutEvents request"),
        ),
        None => None,
    };
    let audit = notifier
        .as_ref()
        .map(|notifier| notifier as &dyn ChangeNotifier);
    // Buffered: publish flushes after each chunk of events, not after each line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut err = std::io::stderr().lock();
    let mut console = Console {
        out: &mut out,
        err: &mut err,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    run_with(&request, sink.as_ref(), audit, &mut console).await
}

/// Where publish writes.
pub struct Console<'a> {
    /// One JSON line per event.
    pub out: &'a mut dyn Write,
    /// Errors, the summary and the progress bar.
    pub err: &'a mut dyn Write,
    /// Whether `err` is a terminal (then large inputs get a progress bar).
    pub progress: bool,
}

/// The exit code of a run: 0 all published (or duplicate, or valid in a dry run), 1 some failed
/// after retries or audit messages not published, 3 some rejected (none failed), 2 bad settings
/// or input (an input that stopped part-way included) or outcomes that could not be written.
fn exit_code(result: &Result<PublishReport, PublishError>) -> i32 {
    use super::exit::{BAD_INPUT, REJECTED, REMOTE_FAILURE, SUCCESS};
    match result {
        Ok(run) if run.tally.failed > 0 || run.audit_missing > 0 => REMOTE_FAILURE,
        Ok(run) if run.tally.rejected > 0 => REJECTED,
        Ok(_) => SUCCESS,
        Err(_) => BAD_INPUT,
    }
}

/// Runs publish on `sink` (and `audit`), writing on `console`; returns the exit code.
pub async fn run_with(
    request: &PublishRequest,
    sink: &dyn EventSink,
    audit: Option<&dyn ChangeNotifier>,
    console: &mut Console<'_>,
) -> i32 {
    let mut printer = Printer {
        console,
        bar_of: None,
        started: Instant::now(),
    };
    let result = publish_files(request, sink, audit, &mut printer).await;
    let ended = match &result {
        Ok(report) => Some(report),
        Err(PublishError::Unfinished { published, .. }) => Some(published.as_ref()),
        Err(_) => None,
    };
    if let Some(report) = ended {
        printer.end(report, request.dry_run);
    }
    if let Err(error) = &result {
        super::say_error(printer.console.err, "publish", error);
    }
    exit_code(&result)
}

/// Prints a run as it goes: a JSON line per event, a progress bar for large inputs on a
/// terminal, the audit's failures and the summary at the end.
struct Printer<'c, 'a> {
    console: &'c mut Console<'a>,
    /// The progress bar's total, when one is shown.
    bar_of: Option<usize>,
    /// When sending started.
    started: Instant,
}

impl PublishProgress for Printer<'_, '_> {
    fn sending(&mut self, total: usize) {
        self.bar_of = (self.console.progress && total > PROGRESS_FROM).then_some(total);
        self.started = Instant::now();
    }

    fn event(&mut self, report: &EventReport, entry: Option<&Entry>) -> std::io::Result<()> {
        let out = &mut *self.console.out;
        if let Some(entry) = entry {
            let mut line = serde_json::to_value(report).unwrap_or_default();
            line["entry"] = json!({"Source": entry.source, "DetailType": entry.detail_type,
                                   "Detail": entry.detail, "Time": entry.time});
            serde_json::to_writer(&mut *out, &line)?;
        } else {
            serde_json::to_writer(&mut *out, report)?;
        }
        out.write_all(b"\n")
    }

    fn chunk_done(&mut self, tally: &Tally) -> std::io::Result<()> {
        self.console.out.flush()?;
        if let Some(total) = self.bar_of {
            let done = tally.done();
            let filled = (done * 30).checked_div(total).unwrap_or(30).min(30);
            super::show(
                self.console.err,
                format_args!(
                    "\r[{}{}] {done}/{total} events",
                    "#".repeat(filled),
                    " ".repeat(30 - filled)
                ),
            );
        }
        Ok(())
    }
}

impl Printer<'_, '_> {
    /// Ends the bar's line, says each audit failure and the summary.
    fn end(&mut self, report: &PublishReport, dry_run: bool) {
        let err = &mut *self.console.err;
        if self.bar_of.is_some() {
            super::say(err, format_args!(""));
        }
        for failure in &report.audit_failures {
            super::say(
                err,
                format_args!("genesys-eventbridge publish: audit: {failure}"),
            );
        }
        if report.audit_skipped > 0 {
            super::say(
                err,
                format_args!(
                    "genesys-eventbridge publish: audit: {} messages not tried, the topic having failed {} times in a row",
                    report.audit_skipped,
                    crate::publish::run::AUDIT_FAILURES_BEFORE_GIVING_UP
                ),
            );
        }
        super::say(
            err,
            format_args!("{}", summary(report, self.started, dry_run)),
        );
    }
}

/// `N published, N duplicate, N rejected, N failed, in S s (R events/s)[; N audit messages not
/// published (exit 1)]`.
fn summary(report: &PublishReport, started: Instant, dry_run: bool) -> String {
    let tally = &report.tally;
    let seconds = started.elapsed().as_secs_f64();
    let done = tally.done();
    #[allow(clippy::cast_precision_loss)]
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    let verb = if dry_run {
        "valid (dry run, nothing sent)"
    } else {
        "published"
    };
    let audit = if report.audit_missing > 0 {
        format!(
            "; {} audit messages not published (exit 1)",
            report.audit_missing
        )
    } else {
        String::new()
    };
    format!(
        "{} {verb}, {} duplicate, {} rejected, {} failed, in {seconds:.2} s ({rate:.0} events/s){audit}",
        tally.published, tally.duplicate, tally.rejected, tally.failed
    )
}
