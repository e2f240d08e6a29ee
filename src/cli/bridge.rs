//! `genesys-eventbridge bridge`: its arguments, the bridge wired from the environment (the Genesys settings and AWS's standard ones), its lines printed, and its exit code (decided in `exit_code`).

use super::{HEARTBEAT, Printer, SettingsError, bounded_seconds, say, say_error};
use crate::bridge::{BridgeApi, BridgeError, BridgeOptions, BridgeProgress, Unpublishable};
use crate::publish::{BusSink, DEFAULT_MAX_BYTES, DEFAULT_SOURCE, EventSink, SendPolicy};
use crate::stream::records::Gap;
use crate::stream::session::SessionSettings;
use gev_consumer::{app, config::GenesysAccess};
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The command's name in the lines it says.
const COMMAND: &str = "bridge";

/// Stream → publish in one process: notifications of the given topics and of the calls on
/// followed queues onto a bus, with a spool while the bus refuses; runs until SIGINT/SIGTERM
/// (exit 0), publishing or spooling what is queued first.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The event bus, by name or ARN (an ARN's region is used).
    #[arg(long, value_name = "NAME_OR_ARN")]
    pub bus: String,
    /// A concrete topic published as it comes; repeat for several.
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// A queue id (or `all`: every queue listed at start): each call on it gets its user.end,
    /// customer.end and acw topics subscribed until its after-call work is over; repeat for
    /// several (or a comma-separated list in BRIDGE_FOLLOW_QUEUES).
    #[arg(
        long = "follow-queue",
        value_name = "QUEUE_ID",
        env = "BRIDGE_FOLLOW_QUEUES",
        value_delimiter = ','
    )]
    pub follow_queues: Vec<String>,
    /// Also publish the followed queues' conversation snapshots.
    #[arg(long)]
    pub publish_queue_events: bool,
    /// Fill every gap: the followed queues' calls that ended inside it (analytics details
    /// query) are published as `…user.end` events marked `"backfilled": true` (in `metadata`).
    #[arg(long)]
    pub backfill: bool,
    /// Keep the time the bridge was listening until here, so that a restart reports (and with
    /// --backfill fills) the time it was down.
    #[arg(long, value_name = "PATH")]
    pub checkpoint: Option<PathBuf>,
    /// Where entries the bus will not take wait (append-only files, replayed in order).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// The `Source` of every entry (not `aws.`…).
    #[arg(long, default_value = DEFAULT_SOURCE)]
    pub source: String,
    /// The largest entry sent, as AWS counts bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BYTES, value_name = "N")]
    pub max_entry_bytes: usize,
    /// The server's heartbeat interval.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub heartbeat_seconds: f64,
}

/// Why the command did not start.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// A flag or a Genesys setting.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The bridge's own.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
}

/// The exit code of a run: 0 once stopped (what was queued published, spooled or reported
/// `failed`); 2 when it could not start (bad flags, settings or topics, an unusable spool or
/// checkpoint, the organization's topics or queues unreadable for good).
fn exit_code(result: &Result<(), Failure>) -> i32 {
    use super::exit::{BAD_INPUT, SUCCESS};
    match result {
        Ok(()) => SUCCESS,
        Err(Failure::Settings(_)) => BAD_INPUT,
        Err(Failure::Bridge(
            BridgeError::NoTopics
            | BridgeError::AllQueues(_)
            | BridgeError::NoQueues
            | BridgeError::AvailableTopics(_)
            | BridgeError::Topics(_)
            | BridgeError::Spool { .. }
            | BridgeError::Checkpoint(_),
        )) => BAD_INPUT,
    }
}

/// Runs `bridge` as `args` say, with the Genesys settings of the environment and AWS's standard
/// ones, until SIGINT or SIGTERM; returns the exit code.
pub async fn run(args: Args) -> i32 {
    let mut err = std::io::stderr();
    let (options, client) = match wire(&args).await {
        Ok(wired) => wired,
        Err(error) => return finish(&Err(error.into()), &mut err),
    };
    let sink = Arc::new(BusSink::new(
        crate::eventbridge::sdk::client_for_bus(&args.bus).await,
        &args.bus,
    ));
    let mut out = std::io::BufWriter::new(std::io::stdout());
    run_with(
        Arc::new(client),
        sink,
        options,
        &mut out,
        &mut err,
        super::termination(),
    )
    .await
}

/// The options of `args` (checked) and the Genesys client.
async fn wire(
    args: &Args,
) -> Result<(BridgeOptions, gev_genesys::HttpGenesysClient), SettingsError> {
    crate::publish::check_source(&args.source).map_err(SettingsError::Source)?;
    if args.max_entry_bytes == 0 || args.max_entry_bytes > crate::publish::MAX_ENTRY_BYTES_CEILING {
        return Err(SettingsError::MaxEntryBytes(args.max_entry_bytes));
    }
    let heartbeat = bounded_seconds(args.heartbeat_seconds, "--heartbeat-seconds", HEARTBEAT)?;
    let options = BridgeOptions {
        topics: args.topics.clone(),
        follow_queues: args.follow_queues.clone(),
        publish_queue_events: args.publish_queue_events,
        spool: args.spool.clone(),
        source: args.source.clone(),
        max_entry_bytes: args.max_entry_bytes,
        // A few quick attempts, then the spool: the socket side must keep moving.
        policy: SendPolicy {
            max_attempts: 3,
            backoff_max: Duration::from_secs(1),
            max_request_bytes: args.max_entry_bytes,
            ..SendPolicy::default()
        },
        settings: SessionSettings {
            heartbeat,
            ..SessionSettings::default()
        },
        stop_after: None,
        backfill: args.backfill,
        checkpoint: args.checkpoint.clone(),
        checkpoint_interval: crate::stream::CHECKPOINT_INTERVAL,
    };
    let access = GenesysAccess::from_env()?;
    let client = app::genesys_client(&access).await?;
    Ok((options, client))
}

/// Runs the bridge on `api` and `sink` until `stop`: outcome lines and gap records on `out`,
/// the rest on `err`; returns the exit code.
pub async fn run_with<A: BridgeApi + 'static>(
    api: Arc<A>,
    sink: Arc<dyn EventSink>,
    options: BridgeOptions,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
    stop: impl Future<Output = ()>,
) -> i32 {
    let mut printer = Printer {
        command: COMMAND,
        out,
        err: &mut *err,
    };
    let result = crate::bridge::run(api, sink, options, &mut printer, stop).await;
    finish(&result.map_err(Failure::from), err)
}

/// Prints the error the run ended with, if any; its exit code.
fn finish(result: &Result<(), Failure>, err: &mut dyn Write) -> i32 {
    match result {
        Ok(()) => {}
        Err(Failure::Settings(error)) => error.print(err),
        Err(Failure::Bridge(error)) => say_error(err, COMMAND, error),
    }
    exit_code(result)
}

/// Writes `line` on `out` and flushes it, so a pipe sees it at once. Ignored when it fails: the
/// bridge's product is on the bus (or in the spool), and a reader that went away must not stop
/// it.
fn report(out: &mut dyn Write, line: &dyn std::fmt::Display) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The bridge's progress, printed: outcome lines and gap records on `out`, the rest on `err`.
impl BridgeProgress for Printer<'_> {
    fn outcome(&mut self, line: &str) {
        report(self.out, &line);
    }

    fn gap(&mut self, gap: &Gap) {
        report(self.out, &gap.to_record());
    }

    fn topic_rejected(&mut self, shard: usize, topic: &str, reason: &str) {
        say(
            self.err,
            format_args!("genesys-eventbridge bridge: shard {shard}: {topic}: rejected: {reason}"),
        );
    }

    fn following_all(&mut self, queues: usize) {
        say(
            self.err,
            format_args!("genesys-eventbridge bridge: following all {queues} queues"),
        );
    }

    fn not_published(&mut self, topic: &str, why: &Unpublishable) {
        say(
            self.err,
            format_args!("genesys-eventbridge bridge: {topic}: rejected: {why}"),
        );
    }

    fn not_covered(&mut self, conversation: &str) {
        say(
            self.err,
            format_args!(
                "genesys-eventbridge bridge: conversation {conversation} not covered: every channel holds 1,000 topics"
            ),
        );
    }
}
