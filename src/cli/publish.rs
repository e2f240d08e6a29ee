//! `genesys-eventbridge publish`: events from files, directories or stdin onto a bus, one JSON line per event, a summary on stderr, rejects to a file (never one of the inputs), exit codes 0/1/3/2 (1 also for an incomplete audit).

use super::input::{EventReader, count_events, expand_paths};
use crate::notify::ChangeNotifier;
use crate::publish::{
    EventReport, EventSink, Outcome, PublishSettings, Publisher, SendPolicy, check_source,
};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
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
        self.exit_code_with_audit(0)
    }

    /// As [`Tally::exit_code`], and 1 also when `audit_missing` audit messages could not be
    /// published: a script must be able to tell that the audit trail is incomplete.
    pub fn exit_code_with_audit(&self, audit_missing: usize) -> i32 {
        if self.failed > 0 || audit_missing > 0 {
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
    let files = expand_paths(&paths).map_err(|error| gev_core::error_chain(&error))?;
    if let Some(rejects) = &request.rejects {
        refuse_an_input_as_rejects(rejects, &files)?;
    }
    // Files are read through once before anything is sent, parsed as the real read parses
    // them: a broken line at the end must not leave half a file published. Stdin can only be
    // read once, and is sent as it comes.
    let mut counted: Vec<Option<usize>> = Vec::with_capacity(files.len());
    for file in &files {
        counted.push(if file == "-" {
            None
        } else {
            Some(count_events(file).map_err(|error| gev_core::error_chain(&error))?)
        });
    }
    let total: usize = counted.iter().flatten().sum();
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
    let mut input_error: Option<String> = None;
    'files: for (file, &expected) in files.iter().zip(&counted) {
        let mut read = 0;
        for event in EventReader::open(file).map_err(|e| gev_core::error_chain(&e))? {
            match event {
                Ok(_) if expected.is_some_and(|expected| read == expected) => {
                    input_error = Some(changed(file, expected, "more"));
                    break 'files;
                }
                Ok(event) => chunk.push(event),
                Err(error) => {
                    input_error = Some(gev_core::error_chain(&error));
                    break 'files;
                }
            }
            read += 1;
            if chunk.len() == CHUNK {
                run.send(&mut chunk, console).await?;
            }
        }
        if expected.is_some_and(|expected| read < expected) {
            input_error = Some(changed(file, expected, &read.to_string()));
            break;
        }
    }
    run.send(&mut chunk, console).await?;
    if run.progress_of.is_some() {
        let _ = writeln!(console.err);
    }
    for failure in &run.publisher.audit_failures {
        let _ = writeln!(console.err, "genesys-eventbridge publish: audit: {failure}");
    }
    if run.publisher.audit_skipped > 0 {
        let _ = writeln!(
            console.err,
            "genesys-eventbridge publish: audit: {} messages not tried, the topic having failed {} times in a row",
            run.publisher.audit_skipped,
            crate::publish::run::AUDIT_FAILURES_BEFORE_GIVING_UP
        );
    }
    let audit_missing = run.publisher.audit_missing();
    summary(console, &run.tally, started, request.dry_run, audit_missing);
    if let Some(error) = input_error {
        return Err(format!(
            "{error} (the events before it were handled as reported)"
        ));
    }
    Ok(run.tally.exit_code_with_audit(audit_missing))
}

/// The error of a file that held `expected` events when checked and `read` when read.
fn changed(file: &str, expected: Option<usize>, read: &str) -> String {
    format!(
        "{file}: held {} events when checked and {read} when read: it changed while publishing, and the rest of it and of the inputs is not read",
        expected.unwrap_or_default()
    )
}

/// Refuses a `--rejects` path that is one of the inputs (the same file by its canonical path or,
/// on Unix, its device and inode, which also catches a hard link): creating it would truncate
/// the events before they are read.
fn refuse_an_input_as_rejects(rejects: &Path, files: &[String]) -> Result<(), String> {
    // A path that does not exist yet cannot be an input.
    let Ok(metadata) = std::fs::metadata(rejects) else {
        return Ok(());
    };
    let canonical = std::fs::canonicalize(rejects).ok();
    for file in files.iter().filter(|file| *file != "-") {
        let same_path = canonical.is_some() && std::fs::canonicalize(file).ok() == canonical;
        let same_inode = std::fs::metadata(file).is_ok_and(|input| same_file(&metadata, &input));
        if same_path || same_inode {
            return Err(format!(
                "--rejects {} is also an input ({file}): writing the rejects there would destroy its events; give another path",
                rejects.display()
            ));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
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
        // Audited only now: a hanging or failing topic never holds back the outcome lines of
        // events already on the bus.
        self.publisher.audit(&handled.requests).await;
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
        format!("; {audit} audit messages not published (exit 1)")
    } else {
        String::new()
    };
    let _ = writeln!(
        console.err,
        "{} {verb}, {} duplicate, {} rejected, {} failed, in {seconds:.2} s ({rate:.0} events/s){audit}",
        tally.published, tally.duplicate, tally.rejected, tally.failed
    );
}
