//! The reconcile use case: the agent legs of ended calls that have no wrap-up, found with the analytics details query (paged, capped), each published onto the bus as a backfilled `user.end` unless the dedup store shows it wrapped up or already reconciled; a report of what was examined, found done, published (missing upstream) and rechecked.
//!
//! The published event is the one `bridge --backfill` makes: its dedup key (topic, participant,
//! the call's end) is the same on every run, so a second run, or the call's original events
//! arriving late, change nothing the consumer did (docs/reconcile.md).

mod metrics;
mod records;
pub mod wiring;

pub use metrics::emf_line;
pub use records::{CallRecords, DedupRecords, Seen};

use crate::bridge::backfill::{RETENTION, recovered_user_end};
use crate::publish::{Entry, EventSink, Published, SendPolicy, send_all, transform};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use gev_core::deadline::Deadline;
use gev_genesys::GenesysError;
use gev_genesys::analytics::{AgentLeg, AnalyticsApi};
use std::time::Duration;

/// The window a run looks at by default: calls that ended in the last two hours.
pub const DEFAULT_WINDOW: TimeDelta = TimeDelta::hours(2);
/// Calls that ended this recently are left to the next run: their events may still be on their
/// way (EventBridge retries), their agent still in after-call work.
pub const DEFAULT_SETTLE: TimeDelta = TimeDelta::minutes(10);
/// How long before the window a call may have started and still end inside it (the details
/// query selects conversations by their start).
pub const DEFAULT_LONGEST_CALL: TimeDelta = TimeDelta::hours(4);
/// Pages of the details query one run reads at most (100 conversations each), newest-started
/// first: what a cap leaves out are the calls that started longest before the window.
pub const DEFAULT_MAX_PAGES: u32 = 50;
/// Events one run publishes at most; the rest wait for the next run.
pub const DEFAULT_MAX_PUBLISHED: usize = 500;
/// Conversations per page (the most the details query gives).
const PAGE_SIZE: u32 = 100;

/// What one run looks at and may do.
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// Calls that ended at or after this instant…
    pub from: DateTime<Utc>,
    /// …and at or before this one.
    pub to: DateTime<Utc>,
    /// The queues whose calls the policy wraps up; empty: every queue.
    pub queues: Vec<String>,
    /// How long before `from` a call may have started.
    pub longest_call: TimeDelta,
    /// Pages of the details query read at most.
    pub max_pages: u32,
    /// Events published at most.
    pub max_published: usize,
    /// The `Source` of the published events (the rule must accept it).
    pub source: String,
    /// Report what would be published; publish nothing.
    pub dry_run: bool,
    /// Each Genesys request's time budget.
    pub request_timeout: Duration,
    /// How the events are sent (retries of throttled entries).
    pub send_policy: SendPolicy,
}

impl ReconcileSettings {
    /// The window of the calls that ended within `since` before `now`, less the last `settle`.
    pub fn window(
        since: TimeDelta,
        settle: TimeDelta,
        now: DateTime<Utc>,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        (now - since, now - settle)
    }
}

/// Why a leg is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Nothing of its call reached the consumer: its events went missing upstream.
    Missing,
    /// Other events of its call reached the consumer, and the leg still has no wrap-up (its
    /// `acw` lost, a transfer's second agent): the consumer decides it again from the
    /// conversation.
    Recheck,
}

/// What became of one agent leg without a wrap-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegOutcome {
    /// The consumer wrapped this participant up; analytics has not caught up yet.
    WrappedUp,
    /// An earlier run published this leg and the consumer decided it (maybe to leave it).
    AlreadyReconciled,
    /// Published onto the bus under this EventBridge id.
    Published {
        /// The id EventBridge gave it.
        event_id: String,
        /// Why.
        why: Why,
    },
    /// A dry run: it would be published.
    WouldPublish {
        /// Why.
        why: Why,
    },
    /// Beyond the run's cap: the next run publishes it.
    OverCap,
    /// The bus did not take it; the next run tries again.
    Refused {
        /// EventBridge's code and message.
        reason: String,
        /// Refused for good (access denied, a source the bus does not allow), not throttled.
        for_good: bool,
    },
}

impl LegOutcome {
    /// Its name in the CLI's lines and the docs.
    pub fn name(&self) -> &'static str {
        match self {
            LegOutcome::WrappedUp => "already-wrapped-up",
            LegOutcome::AlreadyReconciled => "already-reconciled",
            LegOutcome::Published {
                why: Why::Missing, ..
            } => "published",
            LegOutcome::Published {
                why: Why::Recheck, ..
            } => "rechecked",
            LegOutcome::WouldPublish { why: Why::Missing } => "would-publish",
            LegOutcome::WouldPublish { why: Why::Recheck } => "would-recheck",
            LegOutcome::OverCap => "over-cap",
            LegOutcome::Refused { .. } => "refused",
        }
    }
}

/// One agent leg of an ended call that analytics shows without a wrap-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegReport {
    /// The conversation.
    pub conversation_id: String,
    /// The agent's participant.
    pub participant_id: String,
    /// The queue the agent took the call from, when analytics names one.
    pub queue_id: Option<String>,
    /// When the call ended.
    pub ended: DateTime<Utc>,
    /// What the run did with it.
    pub outcome: LegOutcome,
}

/// What one run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Pages of the details query read (one Genesys request each, retries aside).
    pub pages: u32,
    /// Conversations the pages held.
    pub conversations: u64,
    /// The calls that ended in the window and their agent legs without a wrap-up, oldest first.
    pub legs: Vec<LegReport>,
    /// The run stopped at its page cap: calls beyond it were not looked at.
    pub truncated: bool,
}

impl ReconcileReport {
    fn count(&self, name: &str) -> usize {
        self.legs
            .iter()
            .filter(|leg| leg.outcome.name() == name)
            .count()
    }

    /// Agent legs of calls that ended in the window without a wrap-up.
    pub fn examined(&self) -> usize {
        self.legs.len()
    }

    /// Legs the consumer wrapped up, or decided from an earlier run's event.
    pub fn already_done(&self) -> usize {
        self.count("already-wrapped-up") + self.count("already-reconciled")
    }

    /// Legs published onto the bus because nothing of their call reached the consumer: events
    /// going missing upstream (the metric `Reconciled`).
    pub fn published(&self) -> usize {
        self.count("published")
    }

    /// Legs published for the consumer to decide again: other events of their call arrived.
    pub fn rechecked(&self) -> usize {
        self.count("rechecked")
    }

    /// Legs a dry run would publish (missing, or to recheck).
    pub fn would_publish(&self) -> usize {
        self.count("would-publish") + self.count("would-recheck")
    }

    /// Legs the bus refused for good (access, source): a person must look.
    pub fn refused_for_good(&self) -> usize {
        (self.legs.iter())
            .filter(|leg| matches!(leg.outcome, LegOutcome::Refused { for_good: true, .. }))
            .count()
    }

    /// Legs left to the next run by the cap.
    pub fn over_cap(&self) -> usize {
        self.count("over-cap")
    }

    /// Legs the bus refused.
    pub fn refused(&self) -> usize {
        self.count("refused")
    }
}

/// Why a run could not finish; nothing was published when it fails.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The window is empty or reversed.
    #[error("the window from {from} to {to} is empty")]
    EmptyWindow {
        /// Its start.
        from: String,
        /// Its end.
        to: String,
    },
    /// The window starts beyond what the details query keeps.
    #[error("the window starts {from}, beyond the analytics retention ({days} days)")]
    BeyondRetention {
        /// Its start.
        from: String,
        /// The retention.
        days: i64,
    },
    /// A page of the details query failed.
    #[error("the conversation details query failed on page {page}")]
    Analytics {
        /// Which page.
        page: u32,
        /// Genesys's error.
        #[source]
        source: GenesysError,
    },
    /// The dedup store could not be read.
    #[error("the dedup store could not be read")]
    Records(#[source] gev_consumer::dedup::DedupError),
}

impl ReconcileError {
    /// True when the same run may succeed later (throttling, outages, a configuration fix).
    pub fn is_retryable(&self) -> bool {
        match self {
            ReconcileError::Analytics { source, .. } => source.is_retryable(),
            ReconcileError::Records(source) => {
                source.is_retryable()
                    || matches!(
                        source,
                        gev_consumer::dedup::DedupError::Misconfigured { .. }
                    )
            }
            ReconcileError::EmptyWindow { .. } | ReconcileError::BeyondRetention { .. } => false,
        }
    }
}

/// Why a text is not a duration [`parse_duration`] takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// No whole number before the unit.
    #[error("{0:?} is not a duration such as 90s, 15m, 2h or 1d")]
    NotADuration(String),
    /// A unit other than s, m, h or d.
    #[error("{0:?}: the unit must be s, m, h or d")]
    Unit(String),
    /// More than a year.
    #[error("{0:?} is longer than a year")]
    TooLong(String),
}

/// A duration such as `90s`, `15m`, `2h` or `1d`.
pub fn parse_duration(text: &str) -> Result<TimeDelta, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| DurationError::NotADuration(text.to_owned()))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(DurationError::Unit(text.to_owned())),
    };
    if number > 365 * 86_400 / seconds {
        return Err(DurationError::TooLong(text.to_owned()));
    }
    Ok(TimeDelta::seconds(number * seconds))
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One run: reads the calls that ended in the window (pages, up to the cap), keeps the agent
/// legs without a wrap-up, asks `records` (when given) whether the call's events reached the
/// consumer, and publishes the others through `sink` (none in a dry run), oldest first, up to
/// the cap.
pub async fn reconcile(
    analytics: &dyn AnalyticsApi,
    records: Option<&dyn CallRecords>,
    sink: &dyn EventSink,
    settings: &ReconcileSettings,
    now: DateTime<Utc>,
) -> Result<ReconcileReport, ReconcileError> {
    if settings.from >= settings.to {
        return Err(ReconcileError::EmptyWindow {
            from: rfc3339(settings.from),
            to: rfc3339(settings.to),
        });
    }
    if settings.from - settings.longest_call < now - RETENTION {
        return Err(ReconcileError::BeyondRetention {
            from: rfc3339(settings.from),
            days: RETENTION.num_days(),
        });
    }
    let mut report = ReconcileReport::default();
    let mut unwrapped = legs_without_wrapup(analytics, settings, &mut report).await?;
    unwrapped.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));

    // The legs to publish (their index in the report, and why) and their entries, in step.
    let mut to_publish: Vec<(usize, Why)> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let received_at = rfc3339(now);
    for (conversation, agent, ended) in unwrapped {
        let seen = match records {
            Some(records) => records
                .seen(&conversation, &agent.participant_id, ended)
                .await
                .map_err(ReconcileError::Records)?,
            None => Seen::Unknown,
        };
        let why = match seen {
            Seen::WrappedUp | Seen::AlreadyReconciled => None,
            Seen::EventsArrived => Some(Why::Recheck),
            Seen::Unknown => Some(Why::Missing),
        };
        let outcome = match why {
            None if seen == Seen::WrappedUp => LegOutcome::WrappedUp,
            None => LegOutcome::AlreadyReconciled,
            Some(_) if to_publish.len() >= settings.max_published => LegOutcome::OverCap,
            Some(why) => {
                let notification = recovered_user_end("reconcile", &conversation, &agent, ended);
                match transform(&notification, &settings.source, &received_at) {
                    Ok(entry) => {
                        to_publish.push((report.legs.len(), why));
                        entries.push(entry);
                        LegOutcome::WouldPublish { why }
                    }
                    // Not expected (the notification is made here), but never a silent drop.
                    Err(error) => LegOutcome::Refused {
                        reason: error.to_string(),
                        for_good: true,
                    },
                }
            }
        };
        report.legs.push(LegReport {
            conversation_id: conversation,
            participant_id: agent.participant_id,
            queue_id: agent.queue_id,
            ended,
            outcome,
        });
    }
    if settings.dry_run || entries.is_empty() {
        return Ok(report);
    }
    let sent = send_all(sink, &entries, settings.send_policy).await;
    for ((leg, why), result) in to_publish.into_iter().zip(sent.results) {
        report.legs[leg].outcome = match result {
            Published::Published { event_id } => LegOutcome::Published { event_id, why },
            Published::Rejected { reason } => LegOutcome::Refused {
                reason,
                for_good: true,
            },
            Published::Failed { reason } => LegOutcome::Refused {
                reason,
                for_good: false,
            },
        };
    }
    Ok(report)
}

/// The agent legs without a wrap-up of the voice calls on the settings' queues that ended in
/// the window, with their call's end; pages counted in `report`.
async fn legs_without_wrapup(
    analytics: &dyn AnalyticsApi,
    settings: &ReconcileSettings,
    report: &mut ReconcileReport,
) -> Result<Vec<(String, AgentLeg, DateTime<Utc>)>, ReconcileError> {
    let mut legs = Vec::new();
    for page in 1..=settings.max_pages {
        let answer = analytics
            .conversation_details(
                &settings.queues,
                settings.from - settings.longest_call,
                settings.to,
                page,
                PAGE_SIZE,
                Deadline::after(settings.request_timeout),
            )
            .await
            .map_err(|source| ReconcileError::Analytics { page, source })?;
        report.pages = page;
        if answer.conversations.is_empty() {
            return Ok(legs);
        }
        report.conversations += answer.conversations.len() as u64;
        for conversation in answer.conversations {
            let in_window = |end: &DateTime<Utc>| *end >= settings.from && *end <= settings.to;
            let Some(ended) = conversation.end.filter(in_window) else {
                continue;
            };
            for agent in conversation.agents {
                let on_queues = agent.queue_id.as_ref().is_none_or(|queue| {
                    settings.queues.is_empty() || settings.queues.contains(queue)
                });
                if agent.wrapup_code.is_none() && on_queues {
                    legs.push((conversation.id.clone(), agent, ended));
                }
            }
        }
        if report.conversations >= answer.total_hits {
            return Ok(legs);
        }
    }
    report.truncated = true;
    Ok(legs)
}

#[cfg(test)]
mod tests;
