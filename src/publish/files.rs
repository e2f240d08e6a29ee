//! A publish run over files, directories or stdin: every file counted (parsed as the read parses it) before anything is sent, then read in chunks, each chunk published and its reports handed to a [`PublishProgress`] as they come, rejected events written to the rejects file (never one of the inputs), the audit after each chunk; a file that changes while it is read stops the run with the events before it reported.

use super::run::{EventReport, Outcome, PublishSettings, Publisher};
use super::send::{EventSink, SendPolicy};
use super::transform::{Entry, SourceError, check_source};
use crate::input::{EventReader, InputError, count_events, expand_paths};
use crate::notify::ChangeNotifier;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Events handled per round: read, sent, reported, then the next.
const CHUNK: usize = 500;
/// The largest entry AWS accepts anywhere (a raised quota); the default is 256 KiB.
pub const MAX_ENTRY_BYTES_CEILING: usize = 1_048_576;

/// What to publish, and how.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The bus, by name or ARN.
    pub bus: String,
    /// Files, directories or `-` (stdin); none: stdin.
    pub events: Vec<String>,
    /// `Source` of every entry.
    pub source: String,
    /// Where rejected events go, with their reasons (JSON lines).
    pub rejects: Option<PathBuf>,
    /// The entry byte limit.
    pub max_entry_bytes: usize,
    /// Validate and report; send nothing.
    pub dry_run: bool,
    /// Retries and concurrency.
    pub policy: SendPolicy,
}

/// Where a run's results go as they come.
pub trait PublishProgress {
    /// The inputs are counted (`total` events in files; stdin is not counted) and sending
    /// starts.
    fn sending(&mut self, total: usize);

    /// One event handled, in input order: its report and, for a valid event of a dry run, the
    /// entry it would be. An error stops the run ([`PublishError::Output`]).
    fn event(&mut self, report: &EventReport, entry: Option<&Entry>) -> std::io::Result<()>;

    /// Every event of a chunk reported (before its audit): the counts so far. An error stops
    /// the run ([`PublishError::Output`]).
    fn chunk_done(&mut self, tally: &Tally) -> std::io::Result<()>;
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

    /// Events handled.
    pub fn done(&self) -> usize {
        self.published + self.duplicate + self.rejected + self.failed
    }
}

/// How a run went, to its end or to an input that stopped it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Counts per outcome.
    pub tally: Tally,
    /// Audit messages that were due and not published.
    pub audit_missing: usize,
    /// Why audit messages could not be published, one per message.
    pub audit_failures: Vec<String>,
    /// Audit messages not tried, the topic having failed
    /// [`AUDIT_FAILURES_BEFORE_GIVING_UP`](super::run::AUDIT_FAILURES_BEFORE_GIVING_UP) times
    /// in a row.
    pub audit_skipped: usize,
}

/// Why publish stopped: before anything was read (its settings, its inputs), or part-way.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A `--source` EventBridge would refuse.
    #[error("--source")]
    Source(#[source] SourceError),
    /// `--max-entry-bytes` outside 1 to [`MAX_ENTRY_BYTES_CEILING`].
    #[error("--max-entry-bytes: {0} is not within 1 to {MAX_ENTRY_BYTES_CEILING}")]
    MaxEntryBytes(usize),
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
        gev_core::error_chain(.error.as_ref())
    )]
    Unfinished {
        /// Why the input stopped.
        #[source]
        error: Box<PublishError>,
        /// What became of the events before it.
        published: Box<PublishReport>,
    },
}

/// Checks the settings publish cannot run without.
fn check_request(request: &PublishRequest) -> Result<(), PublishError> {
    check_source(&request.source).map_err(PublishError::Source)?;
    if request.bus.is_empty() {
        return Err(PublishError::NoBus);
    }
    if request.max_entry_bytes == 0 || request.max_entry_bytes > MAX_ENTRY_BYTES_CEILING {
        return Err(PublishError::MaxEntryBytes(request.max_entry_bytes));
    }
    Ok(())
}

/// Publishes the events `request` names onto `sink` (audited on `audit`), telling `progress`
/// of each; what became of them, or why the run stopped.
pub async fn publish_files(
    request: &PublishRequest,
    sink: &dyn EventSink,
    audit: Option<&dyn ChangeNotifier>,
    progress: &mut dyn PublishProgress,
) -> Result<PublishReport, PublishError> {
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
    };
    progress.sending(counted.iter().flatten().sum());
    let mut chunk: Vec<(String, Value)> = Vec::with_capacity(CHUNK);
    let mut input_error: Option<PublishError> = None;
    'files: for (file, &expected) in files.iter().zip(&counted) {
        let mut read = 0;
        // Counted, but gone (or unreadable) by now: the events already read are still sent and
        // reported before the run stops, like a file that changed.
        let events = match EventReader::open(file) {
            Ok(events) => events,
            Err(error) => {
                input_error = Some(error.into());
                break 'files;
            }
        };
        for event in events {
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
                run.send(&mut chunk, progress).await?;
            }
        }
        if expected.is_some_and(|expected| read < expected) {
            input_error = Some(changed(file, expected, &read.to_string()));
            break;
        }
    }
    run.send(&mut chunk, progress).await?;
    let published = PublishReport {
        tally: run.tally,
        audit_missing: run.publisher.audit_missing(),
        audit_failures: std::mem::take(&mut run.publisher.audit_failures),
        audit_skipped: run.publisher.audit_skipped,
    };
    match input_error {
        Some(error) => Err(PublishError::Unfinished {
            error: Box::new(error),
            published: Box::new(published),
        }),
        None => Ok(published),
    }
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

/// A run under way: the publisher, the counts so far and the rejects file.
struct Run<'a> {
    publisher: Publisher<'a>,
    tally: Tally,
    rejects: Option<std::fs::File>,
}

impl Run<'_> {
    /// Publishes `chunk` (then empties it), reporting each event and writing its rejects, then
    /// audits it.
    async fn send(
        &mut self,
        chunk: &mut Vec<(String, Value)>,
        progress: &mut dyn PublishProgress,
    ) -> Result<(), PublishError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let received_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let handled = self.publisher.publish(chunk, &received_at).await;
        let mut entries = handled.entries.iter();
        for ((origin, event), report) in chunk.iter().zip(&handled.reports) {
            self.tally.add(report.outcome);
            let entry = if report.outcome == Outcome::Valid {
                entries.next()
            } else {
                None
            };
            progress
                .event(report, entry)
                .map_err(PublishError::Output)?;
            if report.outcome == Outcome::Rejected
                && let Some(file) = self.rejects.as_mut()
            {
                writeln!(file, "{}", reject_line(origin, event, report))
                    .map_err(PublishError::Output)?;
            }
        }
        progress
            .chunk_done(&self.tally)
            .map_err(PublishError::Output)?;
        // Audited only now: a hanging or failing topic never holds back the outcome lines of
        // events already on the bus.
        self.publisher.audit(&handled.requests).await;
        chunk.clear();
        Ok(())
    }
}

/// A rejects line: the event as read, where it came from, and why it was not published.
fn reject_line(origin: &str, event: &Value, report: &EventReport) -> Value {
    json!({"origin": origin, "reason": report.reason, "bridgeEventId": report.bridge_event_id,
           "event": event})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{DEFAULT_MAX_BYTES, DEFAULT_SOURCE, NothingSent};

    /// Records the reports and, when sending starts, removes `gone` (a file counted, then lost).
    struct LosesAFile {
        gone: PathBuf,
        reported: usize,
    }

    impl PublishProgress for LosesAFile {
        fn sending(&mut self, _: usize) {
            std::fs::remove_file(&self.gone).unwrap();
        }

        fn event(&mut self, _: &EventReport, _: Option<&Entry>) -> std::io::Result<()> {
            self.reported += 1;
            Ok(())
        }

        fn chunk_done(&mut self, _: &Tally) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn events_file(name: &str, events: usize) -> PathBuf {
        let sample = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/events/01-eligible-voice-call.json"
        ))
        .unwrap();
        let line = serde_json::to_string(&serde_json::from_str::<Value>(&sample).unwrap()).unwrap();
        let path = std::env::temp_dir().join(format!("{name}-{:016x}.jsonl", fastrand::u64(..)));
        std::fs::write(&path, format!("{line}\n").repeat(events)).unwrap();
        path
    }

    #[tokio::test]
    async fn a_file_lost_after_counting_stops_the_run_with_the_events_read_before_it_reported() {
        let first = events_file("first", 3);
        let second = events_file("second", 2);
        let request = PublishRequest {
            bus: "default".into(),
            events: vec![first.display().to_string(), second.display().to_string()],
            source: DEFAULT_SOURCE.into(),
            rejects: None,
            max_entry_bytes: DEFAULT_MAX_BYTES,
            dry_run: true,
            policy: SendPolicy::default(),
        };
        let mut progress = LosesAFile {
            gone: second,
            reported: 0,
        };

        let result = publish_files(&request, &NothingSent, None, &mut progress).await;

        let _ = std::fs::remove_file(&first);
        let Err(PublishError::Unfinished { error, published }) = result else {
            panic!("{result:?}");
        };
        assert!(matches!(*error, PublishError::Input(_)), "{error}");
        assert_eq!(published.tally.done(), 3);
        assert_eq!(progress.reported, 3);
    }
}
