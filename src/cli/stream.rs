//! `genesys-eventbridge stream`: its arguments, topics from flags and a file, output to stdout or a file (appended), the stream until a signal or a `--stop-after-*` limit, its lines printed, and its exit code (decided in `exit_code`).

use super::{HEARTBEAT, Printer, SettingsError, bounded_seconds, say, say_error};
use crate::stream::records::Gap;
use crate::stream::session::SessionSettings;
use crate::stream::{
    CHECKPOINT_INTERVAL, StreamApi, StreamError, StreamOptions, StreamProgress, StreamReport,
    StreamStatus,
};
use gev_consumer::{app, config::GenesysAccess};
use gev_genesys::HttpGenesysClient;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The command's name in the lines it says.
const COMMAND: &str = "stream";

/// Stream Genesys notifications of concrete topics over the Notifications API's WebSocket,
/// one JSON line per notification, a gap record for every interval not listening; runs
/// until SIGINT/SIGTERM (exit 0). Exit 2 for invalid topics or settings.
// The flags' docs are their `--help` text, where `<id>` is meant as written.
#[allow(rustdoc::invalid_html_tags)]
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A concrete topic, e.g. v2.detail.events.conversation.<id>.user.end; repeat for several.
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// A file of topics, one per line (`#` comments).
    #[arg(long, value_name = "PATH")]
    pub topics_file: Option<PathBuf>,
    /// Where notifications go: `-` (stdout) or a file, appended to.
    #[arg(long, default_value = "-", value_name = "PATH")]
    pub output: String,
    /// Keep per-shard listening times here, so a restart reports the time it was down.
    #[arg(long, value_name = "PATH")]
    pub checkpoint: Option<PathBuf>,
    /// A status line on stderr (and a checkpoint write) this often.
    #[arg(long, value_name = "SECONDS")]
    pub status_interval: Option<f64>,
    /// Stop after this many notifications.
    #[arg(long, value_name = "N")]
    pub stop_after_events: Option<u64>,
    /// Stop after this long.
    #[arg(long, value_name = "SECONDS")]
    pub stop_after_seconds: Option<f64>,
    /// The server's heartbeat interval: two silent intervals bring a ping, one more a reconnect.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub heartbeat_seconds: f64,
}

/// The range of `--status-interval`.
const STATUS_INTERVAL: (f64, f64) = (0.1, 86_400.0);
/// The range of `--stop-after-seconds` (a year).
const STOP_AFTER: (f64, f64) = (0.001, 31_536_000.0);

/// Why the command did not finish (or stopped early).
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Before the stream: a flag, a file, a Genesys setting.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The stream's own.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

/// The exit code of a run: 0 stopped by a signal or a limit; 1 the output could not be written;
/// 2 bad settings or topics (every topic rejected included), an unreadable checkpoint, or the
/// available topics unreadable for good.
fn exit_code(result: &Result<StreamReport, Failure>) -> i32 {
    use super::exit::{BAD_INPUT, REMOTE_FAILURE, SUCCESS};
    let stream_error = |error: &StreamError| match error {
        StreamError::OutputUnwritable => REMOTE_FAILURE,
        StreamError::Topics(_)
        | StreamError::TooManyTopics(_)
        | StreamError::AvailableTopics(_)
        | StreamError::Checkpoint(_)
        | StreamError::EveryTopicRejected => BAD_INPUT,
    };
    match result {
        Ok(report) => report.stopped_by.as_ref().map_or(SUCCESS, stream_error),
        Err(Failure::Settings(_)) => BAD_INPUT,
        Err(Failure::Stream(error)) => stream_error(error),
    }
}

/// Runs `stream` as `args` say, with the Genesys settings of the environment, until SIGINT or
/// SIGTERM; returns the exit code.
pub async fn run(args: Args) -> i32 {
    let mut err = std::io::stderr();
    let (options, mut out, client) = match wire(args).await {
        Ok(wired) => wired,
        Err(error) => return finish(&Err(error.into()), &mut err),
    };
    let client = Arc::new(client);
    run_with(client, options, &mut out, &mut err, super::termination()).await
}

/// The options of `args`, the output it names, the Genesys client.
async fn wire(
    args: Args,
) -> Result<(StreamOptions, Box<dyn Write + Send>, HttpGenesysClient), SettingsError> {
    let options = StreamOptions {
        topics: read_topics(&args.topics, args.topics_file.as_deref())?,
        checkpoint: args.checkpoint,
        checkpoint_interval: CHECKPOINT_INTERVAL,
        status_interval: args
            .status_interval
            .map(|value| bounded_seconds(value, "--status-interval", STATUS_INTERVAL))
            .transpose()?,
        stop_after_events: args.stop_after_events,
        stop_after: args
            .stop_after_seconds
            .map(|value| bounded_seconds(value, "--stop-after-seconds", STOP_AFTER))
            .transpose()?,
        settings: SessionSettings {
            heartbeat: bounded_seconds(args.heartbeat_seconds, "--heartbeat-seconds", HEARTBEAT)?,
            ..SessionSettings::default()
        },
    };
    let out = open_output(&args.output)?;
    let access = GenesysAccess::from_env()?;
    let client = app::genesys_client(&access).await?;
    Ok((options, out, client))
}

/// Runs the stream on `api` until `stop`: notifications and gap records on `out`, the rest on
/// `err`; returns the exit code.
pub async fn run_with<A: StreamApi + 'static>(
    api: Arc<A>,
    options: StreamOptions,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
    stop: impl Future<Output = ()>,
) -> i32 {
    let mut printer = Printer {
        command: COMMAND,
        out,
        err: &mut *err,
    };
    let result = crate::stream::run(api, options, &mut printer, stop).await;
    finish(&result.map_err(Failure::from), err)
}

/// Prints how the run ended (its error, the last checkpoint's, the summary); its exit code.
fn finish(result: &Result<StreamReport, Failure>, err: &mut dyn Write) -> i32 {
    match result {
        Err(Failure::Settings(error)) => error.print(err),
        Err(Failure::Stream(error)) => say_error(err, COMMAND, error),
        Ok(report) => {
            if let Some(error) = &report.stopped_by {
                say_error(err, COMMAND, error);
            }
            if let Some(error) = &report.checkpoint_not_saved {
                say_error(err, COMMAND, error);
            }
            say(
                err,
                format_args!(
                    "genesys-eventbridge stream: {} notifications in {:.1} s, {} reconnects, {} gaps ({} ms)",
                    report.events,
                    report.elapsed.as_secs_f64(),
                    report.reconnects,
                    report.gaps,
                    report.gap_ms
                ),
            );
        }
    }
    exit_code(result)
}

/// The stream's progress, printed: notifications and gap records on `out`, the rest on `err`.
impl StreamProgress for Printer<'_> {
    fn notification(&mut self, line: &str) -> std::io::Result<()> {
        writeln!(self.out, "{line}")
    }

    fn gap(&mut self, gap: &Gap) {
        // Ignored: an output that cannot take a gap record cannot take the next notification
        // either, and that write stops the stream (exit 1).
        let _ = writeln!(self.out, "{}", gap.to_record());
    }

    fn caught_up(&mut self) {
        // Ignored, as for a gap record: the next notification's write reports a broken output.
        let _ = self.out.flush();
    }

    fn topic_rejected(&mut self, topic: &str, reason: &str) {
        say(
            self.err,
            format_args!("genesys-eventbridge stream: {topic}: rejected: {reason}"),
        );
    }

    fn status(&mut self, status: &StreamStatus) {
        say(self.err, format_args!("{}", status_line(status)));
    }
}

/// `stream status: …`: channels, rate, counts per topic template, reconnects, failures, gaps,
/// the interval's lag.
pub fn status_line(status: &StreamStatus) -> String {
    let lag = match status.lag_ms {
        None => "unknown".to_owned(),
        Some((p50, max)) => format!("p50 {p50} ms, max {max} ms"),
    };
    let topics: Vec<String> = status
        .per_topic
        .iter()
        .map(|(topic, n)| format!("{topic} {n}"))
        .collect();
    format!(
        "stream status: {}/{} channels connected, {:.1} events/s, {} events ({}), {} reconnects, {} failed attempts, {} gaps ({} ms), lag {lag}{}",
        status.connected,
        status.channels,
        status.events_per_second,
        status.events,
        topics.join(", "),
        status.reconnects,
        status.failures,
        status.gaps,
        status.gap_ms,
        if status.unknown_lag > 0 {
            format!(" ({} without an event time)", status.unknown_lag)
        } else {
            String::new()
        },
    )
}

/// The topics of `--topic` flags and of a `--topics-file` (one per line; blank lines and `#`
/// comments skipped).
pub fn read_topics(flags: &[String], file: Option<&Path>) -> Result<Vec<String>, SettingsError> {
    let mut topics = flags.to_vec();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::File {
            flag: "--topics-file",
            path: path.to_owned(),
            source,
        })?;
        topics.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(topics)
}

/// Where notifications go: `-` is stdout, anything else a file appended to (a restart adds to it).
pub fn open_output(path: &str) -> Result<Box<dyn Write + Send>, SettingsError> {
    if path == "-" {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout())));
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| SettingsError::File {
            flag: "--output",
            path: path.into(),
            source,
        })?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_come_from_flags_then_the_file_without_blanks_or_comments() {
        let path = std::env::temp_dir().join(format!("topics-{:x}.txt", fastrand::u64(..)));
        std::fs::write(&path, "# queues\nv2.a.1\n\n  v2.b.2  \n").unwrap();

        let topics = read_topics(&["v2.flag".into()], Some(&path)).unwrap();

        assert_eq!(topics, ["v2.flag", "v2.a.1", "v2.b.2"]);
        std::fs::remove_file(path).unwrap();
    }
}
