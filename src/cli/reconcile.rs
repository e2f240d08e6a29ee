//! `genesys-eventbridge reconcile`: its arguments, the run wired from the environment, one JSON line per agent leg examined, a summary line, and its exit code (decided in `exit_code`).

use super::parse_time;
use crate::publish::{DEFAULT_SOURCE, SendPolicy, check_source};
use crate::reconcile::wiring::{self, Ports};
use crate::reconcile::{
    CallRecords, DEFAULT_MAX_PAGES, DEFAULT_MAX_PUBLISHED, DEFAULT_WINDOW, LegOutcome,
    ReconcileError, ReconcileReport, ReconcileSettings, parse_duration, reconcile,
};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use gev_consumer::dedup::DedupError;
use serde_json::json;
use std::io::Write;
use std::time::Duration;

/// Find the ended calls with no wrap-up whose events never reached the consumer, and publish a
/// backfilled `user.end` for each onto the bus.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Calls that ended within this long before now (e.g. `2h`, `90m`, `1d`), less `--settle`.
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["from", "to"])]
    pub since: Option<TimeDelta>,
    /// The window's start (RFC 3339), with `--to`.
    #[arg(long, value_parser = parse_time, requires = "to")]
    pub from: Option<DateTime<Utc>>,
    /// The window's end (RFC 3339), with `--from`.
    #[arg(long, value_parser = parse_time, requires = "from")]
    pub to: Option<DateTime<Utc>>,
    /// With `--since`: calls that ended this recently are left to the next run.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub settle: TimeDelta,
    /// A queue to look at (repeat); default: the queues the consumer's policy writes on.
    #[arg(long = "queue")]
    pub queues: Vec<String>,
    /// The bus the consumer's rule listens to.
    #[arg(long, env = "EVENT_BUS_NAME", default_value = "default")]
    pub bus: String,
    /// The events' `Source`: one the consumer's rule accepts (template.yaml `BridgeEventSource`).
    #[arg(long, default_value = DEFAULT_SOURCE)]
    pub source: String,
    /// Events published at most in this run; the rest wait for the next.
    #[arg(long, default_value_t = DEFAULT_MAX_PUBLISHED)]
    pub max_publish: usize,
    /// Pages (100 conversations each) of the details query read at most.
    #[arg(long, default_value_t = DEFAULT_MAX_PAGES)]
    pub max_pages: u32,
    /// How long before the window a call may have started.
    #[arg(long, value_parser = parse_duration, default_value = "4h")]
    pub longest_call: TimeDelta,
    /// Report what would be published; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Why the command did not finish; printed once, as a chain.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("--source {0}")]
    Source(crate::publish::SourceError),
    #[error("--max-pages and --max-publish must be at least 1")]
    NoCap,
    #[error(transparent)]
    Wiring(#[from] wiring::WiringError),
    #[error(transparent)]
    Run(#[from] ReconcileError),
}

/// The exit code of a run: 0 done (whatever it published), 1 a remote failure outlived its
/// retries (the query, the dedup store, entries the bus throttled), 2 bad arguments or settings
/// (including a Genesys permission or a dedup table that a settings fix heals), 3 entries the
/// bus refused for good (access, source).
fn exit_code(result: &Result<ReconcileReport, Failure>) -> i32 {
    use super::exit::{BAD_INPUT, REJECTED, REMOTE_FAILURE, SUCCESS};
    match result {
        Ok(report) if report.refused_for_good() > 0 => REJECTED,
        Ok(report) if report.refused() > 0 => REMOTE_FAILURE,
        Ok(_) => SUCCESS,
        Err(Failure::Source(_) | Failure::NoCap | Failure::Wiring(_)) => BAD_INPUT,
        Err(Failure::Run(error)) => match error {
            ReconcileError::EmptyWindow { .. } | ReconcileError::BeyondRetention { .. } => {
                BAD_INPUT
            }
            ReconcileError::Analytics { source, .. } if source.needs_configuration_fix() => {
                BAD_INPUT
            }
            ReconcileError::Records(DedupError::Misconfigured { .. }) => BAD_INPUT,
            ReconcileError::Analytics { .. } | ReconcileError::Records(_) => REMOTE_FAILURE,
        },
    }
}

/// Runs `reconcile` as `args` say: one JSON line per agent leg on stdout, the summary (or the
/// error) on stderr; returns the exit code.
pub async fn run(args: Args) -> i32 {
    let result = reconcile_as_asked(&args, Utc::now()).await;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    match &result {
        Ok(report) => {
            for line in leg_lines(report) {
                // Ignored: a closed stdout (`| head`) must not stop the summary; what was
                // published is on the bus either way.
                let _ = writeln!(out, "{line}");
            }
            super::say(
                &mut err,
                format_args!(
                    "genesys-eventbridge reconcile: {}",
                    summary(report, args.dry_run)
                ),
            );
        }
        Err(failure) => super::say_error(&mut err, "reconcile", failure),
    }
    exit_code(&result)
}

async fn reconcile_as_asked(args: &Args, now: DateTime<Utc>) -> Result<ReconcileReport, Failure> {
    check_source(&args.source).map_err(Failure::Source)?;
    if args.max_pages == 0 || args.max_publish == 0 {
        return Err(Failure::NoCap);
    }
    let (from, to) = match (args.from, args.to) {
        (Some(from), Some(to)) => (from, to),
        _ => ReconcileSettings::window(args.since.unwrap_or(DEFAULT_WINDOW), args.settle, now),
    };
    let settings = ReconcileSettings {
        from,
        to,
        queues: wiring::queues(&args.queues)?,
        longest_call: args.longest_call,
        max_pages: args.max_pages,
        max_published: args.max_publish,
        source: args.source.clone(),
        dry_run: args.dry_run,
        request_timeout: Duration::from_secs(20),
        send_policy: SendPolicy::default(),
    };
    let ports = Ports::from_env(&args.bus).await?;
    let records = ports.records.as_ref().map(|r| r as &dyn CallRecords);
    Ok(reconcile(&ports.analytics, records, &ports.sink, &settings, now).await?)
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One JSON line per agent leg examined.
pub fn leg_lines(report: &ReconcileReport) -> Vec<String> {
    report
        .legs
        .iter()
        .map(|leg| {
            let mut line = json!({
                "conversationId": leg.conversation_id,
                "participantId": leg.participant_id,
                "queueId": leg.queue_id,
                "ended": rfc3339(leg.ended),
                "outcome": leg.outcome.name(),
            });
            match &leg.outcome {
                LegOutcome::Published { event_id, .. } => line["eventId"] = json!(event_id),
                LegOutcome::Refused { reason, .. } => line["reason"] = json!(reason),
                _ => {}
            }
            line.to_string()
        })
        .collect()
}

/// The run's counts in one line.
pub fn summary(report: &ReconcileReport, dry_run: bool) -> String {
    let acted = if dry_run {
        format!("would publish {}", report.would_publish())
    } else {
        format!(
            "published {}, rechecked {}",
            report.published(),
            report.rechecked()
        )
    };
    let mut line = format!(
        "examined {}, already done {}, {acted}, over the cap {}, refused {} ({} conversations in {} pages)",
        report.examined(),
        report.already_done(),
        report.over_cap(),
        report.refused(),
        report.conversations,
        report.pages,
    );
    if report.truncated {
        line.push_str("; stopped at --max-pages: later calls were not looked at");
    }
    line
}
