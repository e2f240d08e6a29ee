//! `genesys-eventbridge publish`: events from files, directories or stdin onto a bus, one JSON line per event, a summary on stderr, rejects to a file, exit codes 0/1/3/2.

use super::input::{EventReader, InputError, count_events, expand_paths};
use crate::notify::ChangeNotifier;
use crate::publish::{
    EventReport, EventSink, Outcome, PublishSettings, Publisher, SendPolicy, check_source,
};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Events handled per round: read, sent, reported, then the next.
pub const CHUNK: usize = 500;
/// The largest entry AWS accepts anywhere (a raised quota); the default is 256 KiB.
pub const MAX_ENTRY_BYTES_CEILING: usize = 1_048_576;
/// Inputs of more events than this get a progress bar on a terminal.
const PROGRESS_FROM: usize = 300;

/// What to publish, and how.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The bus, by name or ARN.
    pub bus: String,
    /// Files, directories or `-`.
    pub events: Vec<String>,
    /// `Source` of every entry.
    pub source: String,
    /// Where rejected events go, with their reasons (JSON lines).
    pub rejects: Option<PathBuf>,
    /// The entry byte limit.
    pub max_entry_bytes: usize,
    /// Validate and print; send nothing.
    pub dry_run: bool,
    /// Retries and concurrency.
    pub policy: SendPolicy,
}

/// Where publish writes, and what it sends to.
pub struct Console<'a> {
    /// One JSON line per event.
    pub out: &'a mut dyn Write,
    /// Errors, the summary and the progress bar.
    pub err: &'a mut dyn Write,
    /// Whether `err` is a terminal (then large inputs get a progress bar).
    pub progress: bool,
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Published (or valid, in a dry run).
    pub published: usize,
    /// Duplicates within the run.
    pub duplicate: usize,
    /// Rejected.
    pub rejected: usize,
    /// Failed after retries.
    pub failed: usize,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Published | Outcome::Valid => self.published += 1,
            Outcome::Duplicate => self.duplicate += 1,
            Outcome::Rejected => self.rejected += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    /// 1 when some failed, 3 when some were rejected (none failed), else 0.
    pub fn exit_code(&self) -> i32 {
        if self.failed > 0 {
            1
        } else if self.rejected > 0 {
            3
        } else {
            0
        }
    }
}

/// Checks the settings publish cannot run without (exit 2 when they fail).
pub fn check_request(request: &PublishRequest) -> Result<(), String> {
    check_source(&request.source).map_err(|problem| format!("--source: {problem}"))?;
    if request.bus.is_empty() {
        return Err("--bus: must name a bus or give its ARN".into());
    }
    if request.max_entry_bytes == 0 || request.max_entry_bytes > MAX_ENTRY_BYTES_CEILING {
        return Err(format!(
            "--max-entry-bytes: {} is not within 1 to {MAX_ENTRY_BYTES_CEILING}",
            request.max_entry_bytes
        ));
    }
    Ok(())
}

/// Runs publish; returns the exit code.
pub async fn run(
    request: &PublishRequest,
    sink: &dyn EventSink,
    audit: Option<&dyn ChangeNotifier>,
    console: &mut Console<'_>,
) -> i32 {
    match publish(request, sink, audit, console).await {
        Ok(code) => code,
        Err(problem) => {
            let _ = writeln!(console.err, "genesys-eventbridge publish: {problem}");
            2
        }
    }
}

async fn publish(
    request: &PublishRequest,
    sink: &dyn EventSink,
    audit: Option<&dyn ChangeNotifier>,
    console: &mut Console<'_>,
) -> Result<i32, String> {
    check_request(request)?;
    let paths = if request.events.is_empty() {
        vec!["-".to_owned()]
    } else {
        request.events.clone()
    };
    let files = expand_paths(&paths).map_err(|error| crate::error_chain(&error))?;
    // Files are read through once before anything is sent: a broken line at the end must not
    // leave half a file published. Stdin can only be read once, and is sent as it comes.
    let mut total = 0;
    for file in files.iter().filter(|file| *file != "-") {
        total += count_events(file).map_err(|error| crate::error_chain(&error))?;
    }
    let rejects = match &request.rejects {
        Some(path) => Some(
            std::fs::File::create(path)
                .map_err(|error| format!("--rejects: cannot create {}: {error}", path.display()))?,
        ),
        None => None,
    };
    let settings = PublishSettings {
        source: request.source.clone(),
        max_entry_bytes: request.max_entry_bytes,
        policy: SendPolicy {
            max_request_bytes: request.max_entry_bytes,
            ..request.policy
        },
        bus: request.bus.clone(),
        dry_run: request.dry_run,
    };
    let mut run = Run {
        publisher: Publisher::new(sink, audit, settings),
        tally: Tally::default(),
        rejects,
        progress_of: (console.progress && total > PROGRESS_FROM).then_some(total),
    };
    let started = Instant::now();
    let mut chunk: Vec<(String, Value)> = Vec::with_capacity(CHUNK);
    let mut input_error: Option<InputError> = None;
    'files: for file in &files {
        for event in EventReader::open(file).map_err(|e| crate::error_chain(&e))? {
            match event {
                Ok(event) => chunk.push(event),
                Err(error) => {
                    input_error = Some(error);
                    break 'files;
                }
            }
            if chunk.len() == CHUNK {
                run.send(&mut chunk, console).await?;
            }
        }
    }
    run.send(&mut chunk, console).await?;
    if run.progress_of.is_some() {
        let _ = writeln!(console.err);
    }
    let audit_failures = &run.publisher.audit_failures;
    for failure in audit_failures {
        let _ = writeln!(console.err, "genesys-eventbridge publish: audit: {failure}");
    }
    summary(
        console,
        &run.tally,
        started,
        request.dry_run,
        audit_failures.len(),
    );
    if let Some(error) = input_error {
        return Err(format!(
            "{} (the events before it were handled as reported)",
            crate::error_chain(&error)
        ));
    }
    Ok(run.tally.exit_code())
}

/// A run under way: the publisher, the counts so far, the rejects file and the progress bar's
/// total (when it is shown).
struct Run<'a> {
    publisher: Publisher<'a>,
    tally: Tally,
    rejects: Option<std::fs::File>,
    progress_of: Option<usize>,
}

impl Run<'_> {
    /// Publishes `chunk` (then empties it), writing its lines, rejects and progress.
    async fn send(
        &mut self,
        chunk: &mut Vec<(String, Value)>,
        console: &mut Console<'_>,
    ) -> Result<(), String> {
        if chunk.is_empty() {
            return Ok(());
        }
        let received_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let handled = self.publisher.publish(chunk, &received_at).await;
        let write_error = |error: std::io::Error| format!("cannot write the outcomes: {error}");
        let mut entries = handled.entries.iter();
        for ((origin, event), report) in chunk.iter().zip(&handled.reports) {
            self.tally.add(report.outcome);
            if report.outcome == Outcome::Valid
                && let Some(entry) = entries.next()
            {
                let mut line = serde_json::to_value(report).unwrap_or_default();
                line["entry"] = json!({"Source": entry.source, "DetailType": entry.detail_type,
                                       "Detail": entry.detail, "Time": entry.time});
                serde_json::to_writer(&mut *console.out, &line).map_err(std::io::Error::from)
            } else {
                serde_json::to_writer(&mut *console.out, report).map_err(std::io::Error::from)
            }
            .map_err(write_error)?;
            console.out.write_all(b"\n").map_err(write_error)?;
            if report.outcome == Outcome::Rejected
                && let Some(file) = self.rejects.as_mut()
            {
                writeln!(file, "{}", reject_line(origin, event, report)).map_err(write_error)?;
            }
        }
        console.out.flush().map_err(write_error)?;
        chunk.clear();
        if let Some(total) = self.progress_of {
            progress(console, &self.tally, total);
        }
        Ok(())
    }
}

/// A `--rejects` line: the event as read, where it came from, and why it was not published.
fn reject_line(origin: &str, event: &Value, report: &EventReport) -> Value {
    json!({"origin": origin, "reason": report.reason, "bridgeEventId": report.bridge_event_id,
           "event": event})
}

fn progress(console: &mut Console<'_>, tally: &Tally, total: usize) {
    let done = tally.published + tally.duplicate + tally.rejected + tally.failed;
    let filled = (done * 30).checked_div(total).unwrap_or(30).min(30);
    let _ = write!(
        console.err,
        "\r[{}{}] {done}/{total} events",
        "#".repeat(filled),
        " ".repeat(30 - filled)
    );
    let _ = console.err.flush();
}

fn summary(
    console: &mut Console<'_>,
    tally: &Tally,
    started: Instant,
    dry_run: bool,
    audit: usize,
) {
    let seconds = started.elapsed().as_secs_f64();
    let done = tally.published + tally.duplicate + tally.rejected + tally.failed;
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
    let audit = if audit > 0 {
        format!("; {audit} audit messages not published")
    } else {
        String::new()
    };
    let _ = writeln!(
        console.err,
        "{} {verb}, {} duplicate, {} rejected, {} failed, in {seconds:.2} s ({rate:.0} events/s){audit}",
        tally.published, tally.duplicate, tally.rejected, tally.failed
    );
}
