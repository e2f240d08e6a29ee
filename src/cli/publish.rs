//! `genesys-eventbridge publish`: its arguments, events from files, directories or stdin onto a bus, one JSON line per event, a summary on stderr, rejects to a file (never one of the inputs), and its exit code (decided in `exit_code`: 0/1/3/2, 1 also for an incomplete audit).

use super::SettingsError;
use super::input::{EventReader, InputError, count_events, expand_paths};
use crate::notify::ChangeNotifier;
use crate::publish::{
    BusSink, DEFAULT_MAX_BYTES, DEFAULT_SOURCE, EventReport, EventSink, NothingSent, Outcome,
    PublishSettings, Publisher, SendPolicy, check_source,
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
    // A dry run sends nothing, so it needs no AWS settings (nor a region lookup).
    let sink: Box<dyn EventSink> = if request.dry_run {
        Box::new(NothingSent)
    } else {
        Box::new(BusSink::new(
            crate::eventbridge::sdk::client_for_bus(&request.bus).await,
            &request.bus,
        ))
    };
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

    fn done(&self) -> usize {
        self.published + self.duplicate + self.rejected + self.failed
    }
}

/// How a run that read its inputs to the end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Counts per outcome.
    pub tally: Tally,
    /// Audit messages that were due and not published.
    pub audit_missing: usize,
}

/// Why publish stopped: before anything was read (its settings, its inputs), or part-way.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A flag's value.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// No bus named.
    #[error("--bus: must name a bus or give its ARN")]
    NoBus,
    /// An input cannot be read or parsed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The rejects file would be one of the inputs.
    #[error(
        "--rejects {} is also an input ({input}): writing the rejects there would destroy its events; give another path",
        rejects.display()
    )]
    RejectsIsAnInput {
        /// The rejects file.
        rejects: PathBuf,
        /// The input it is.
        input: String,
    },
    /// The rejects file cannot be created.
    #[error("--rejects: cannot create {}", path.display())]
    Rejects {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file held another number of events when read than when checked.
    #[error(
        "{file}: held {expected} events when checked and {read} when read: it changed while publishing, and the rest of it and of the inputs is not read"
    )]
    Changed {
        /// The file.
        file: String,
        /// Events when checked.
        expected: usize,
        /// Events when read (`more` when it grew).
        read: String,
    },
    /// The outcomes (or the rejects) could not be written.
    #[error("cannot write the outcomes")]
    Output(#[source] std::io::Error),
    /// An input stopped part-way; the events before it were handled and reported.
    #[error(
        "{} (the events before it were handled as reported)",
        gev_core::error_chain(.0.as_ref())
    )]
    Unfinished(#[source] Box<PublishError>),
}

/// The exit code of a run: 0 all published (or duplicate, or valid in a dry run), 1 some failed
/// after retries or audit messages not published, 3 some rejected (none failed), 2 bad settings
/// or input (an input that stopped part-way included) or outcomes that could not be written.
fn exit_code(result: &Result<Published, PublishError>) -> i32 {
    use super::exit::{BAD_INPUT, REJECTED, REMOTE_FAILURE, SUCCESS};
    match result {
        Ok(run) if run.tally.failed > 0 || run.audit_missing > 0 => REMOTE_FAILURE,
        Ok(run) if run.tally.rejected > 0 => REJECTED,
        Ok(_) => SUCCESS,
        Err(_) => BAD_INPUT,
    }
}

/// Checks the settings publish cannot run without (exit 2 when they fail).
pub fn check_request(request: &PublishRequest) -> Result<(), PublishError> {
    check_source(&request.source).map_err(SettingsError::Source)?;
    if request.bus.is_empty() {
        return Err(PublishError::NoBus);
    }
    if request.max_entry_bytes == 0 || request.max_entry_bytes > MAX_ENTRY_BYTES_CEILING {
        return Err(SettingsError::MaxEntryBytes(request.max_entry_bytes).into());
    }
    Ok(())
}

/// Runs publish on `sink` (and `audit`), writing on `console`; returns the exit code.
pub async fn run_with(
    request: &PublishRequest,
    sink: &dyn EventSink,
    audit: Option<&dyn ChangeNotifier>,
    console: &mut Console<'_>,
) -> i32 {
    let result = publish(request, sink, audit, console).await;
    if let Err(error) = &result {
        super::say_error(console.err, "publish", error);
    }
    exit_code(&result)
}

async fn publish(
    request: &PublishRequest,
    sink: &dyn EventSink,
    audit: Option<&dyn ChangeNotifier>,
    console: &mut Console<'_>,
) -> Result<Published, PublishError> {
    check_request(request)?;
    let paths = if request.events.is_empty() {
        vec!["-".to_owned()]
    } else {
        request.events.clone()
    };
    let files = expand_paths(&paths)?;
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
            Some(count_events(file)?)
        });
    }
    let total: usize = counted.iter().flatten().sum();
    let rejects = match &request.rejects {
        Some(path) => {
            Some(
                std::fs::File::create(path).map_err(|source| PublishError::Rejects {
                    path: path.clone(),
                    source,
                })?,
            )
        }
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
    let mut input_error: Option<PublishError> = None;
    'files: for (file, &expected) in files.iter().zip(&counted) {
        let mut read = 0;
        for event in EventReader::open(file)? {
            match event {
                Ok(_) if expected.is_some_and(|expected| read == expected) => {
                    input_error = Some(changed(file, expected, "more"));
                    break 'files;
                }
                Ok(event) => chunk.push(event),
                Err(error) => {
                    input_error = Some(error.into());
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
        // Ends the progress bar's line.
        super::say(console.err, format_args!(""));
    }
    for failure in &run.publisher.audit_failures {
        super::say(
            console.err,
            format_args!("genesys-eventbridge publish: audit: {failure}"),
        );
    }
    if run.publisher.audit_skipped > 0 {
        super::say(
            console.err,
            format_args!(
                "genesys-eventbridge publish: audit: {} messages not tried, the topic having failed {} times in a row",
                run.publisher.audit_skipped,
                crate::publish::run::AUDIT_FAILURES_BEFORE_GIVING_UP
            ),
        );
    }
    let audit_missing = run.publisher.audit_missing();
    summary(console, &run.tally, started, request.dry_run, audit_missing);
    if let Some(error) = input_error {
        return Err(PublishError::Unfinished(Box::new(error)));
    }
    Ok(Published {
        tally: run.tally,
        audit_missing,
    })
}

/// The error of a file that held `expected` events when checked and `read` when read.
fn changed(file: &str, expected: Option<usize>, read: &str) -> PublishError {
    PublishError::Changed {
        file: file.to_owned(),
        expected: expected.unwrap_or_default(),
        read: read.to_owned(),
    }
}

/// Refuses a `--rejects` path that is one of the inputs (the same file by its canonical path or,
/// on Unix, its device and inode, which also catches a hard link): creating it would truncate
/// the events before they are read.
fn refuse_an_input_as_rejects(rejects: &Path, files: &[String]) -> Result<(), PublishError> {
    // A path that does not exist yet cannot be an input.
    let Ok(metadata) = std::fs::metadata(rejects) else {
        return Ok(());
    };
    let canonical = std::fs::canonicalize(rejects).ok();
    for file in files.iter().filter(|file| *file != "-") {
        let same_path = canonical.is_some() && std::fs::canonicalize(file).ok() == canonical;
        let same_inode = std::fs::metadata(file).is_ok_and(|input| same_file(&metadata, &input));
        if same_path || same_inode {
            return Err(PublishError::RejectsIsAnInput {
                rejects: rejects.to_owned(),
                input: file.clone(),
            });
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
    ) -> Result<(), PublishError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let received_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let handled = self.publisher.publish(chunk, &received_at).await;
        let write_error = PublishError::Output;
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
    let done = tally.done();
    let filled = (done * 30).checked_div(total).unwrap_or(30).min(30);
    super::show(
        console.err,
        format_args!(
            "\r[{}{}] {done}/{total} events",
            "#".repeat(filled),
            " ".repeat(30 - filled)
        ),
    );
}

fn summary(
    console: &mut Console<'_>,
    tally: &Tally,
    started: Instant,
    dry_run: bool,
    audit: usize,
) {
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
    let audit = if audit > 0 {
        format!("; {audit} audit messages not published (exit 1)")
    } else {
        String::new()
    };
    super::say(
        console.err,
        format_args!(
            "{} {verb}, {} duplicate, {} rejected, {} failed, in {seconds:.2} s ({rate:.0} events/s){audit}",
            tally.published, tally.duplicate, tally.rejected, tally.failed
        ),
    );
}
