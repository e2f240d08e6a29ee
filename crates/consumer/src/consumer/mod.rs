//! The consumer use case: one event, through parse → claim (its target's lease) → fetch → decide → apply → complete, to one outcome.

mod acting;
mod lease;
mod native;
mod queues;
mod report;
mod seed;
mod settings;
mod work;

pub use report::Report;
pub(crate) use report::StepTimings;
pub use settings::{Invocation, PipelineSettings};

use crate::dedup::DedupStore;
use gev_core::domain::{Outcome, ParsedEvent, WrapupPolicy};
use gev_core::parse::{event_id, parse_event, payload_fingerprint};
use gev_core::telemetry;
use gev_genesys::GenesysApi;
use lease::ANSWER_TIME;
use report::{log_report, raw_ids};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{Instrument, Span, field, info_span};
use work::Work;

/// The consumer: its adapters and settings. Cheap to clone.
#[derive(Clone)]
pub struct Consumer {
    store: Arc<dyn DedupStore>,
    genesys: Arc<dyn GenesysApi>,
    settings: Arc<PipelineSettings>,
    /// The wrap-up policy in force (the configured one, or the disposition code everywhere).
    policy: Arc<WrapupPolicy>,
    queues: Arc<queues::QueueCache>,
}

/// Runs `future` inside `span`, writing its duration into `slot`.
pub(super) async fn timed<T>(
    slot: &mut Option<Duration>,
    span: Span,
    future: impl Future<Output = T>,
) -> T {
    let started = Instant::now();
    let output = future.instrument(span).await;
    *slot = Some(started.elapsed());
    output
}

impl Consumer {
    /// A consumer over its two adapters.
    pub fn new(
        store: Arc<dyn DedupStore>,
        genesys: Arc<dyn GenesysApi>,
        settings: PipelineSettings,
    ) -> Self {
        Consumer {
            store,
            genesys,
            policy: Arc::new(settings.effective_policy()),
            queues: Arc::new(queues::QueueCache::new(
                settings.queue_cache_ttl,
                settings.queue_cache_capacity,
            )),
            settings: Arc::new(settings),
        }
    }

    /// Its settings.
    pub(crate) fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    /// Processes one EventBridge event. Never fails: a failure is the outcome `failed`, after
    /// which the caller must make the platform deliver the event again.
    pub async fn process(&self, event: &Value, invocation: &Invocation) -> Report {
        self.process_linked(event, invocation, None).await
    }

    /// [`Consumer::process`], with the event's span linked to the trace context that came with
    /// it (an SQS message's `traceparent`).
    pub(crate) async fn process_linked(
        &self,
        event: &Value,
        invocation: &Invocation,
        link: Option<opentelemetry::trace::SpanContext>,
    ) -> Report {
        let started = Instant::now();
        let span = info_span!(
            "event",
            event.id = field::Empty,
            interaction.id = field::Empty,
            sequence.id = field::Empty,
            conversation.id = field::Empty,
            participant.id = field::Empty,
            dedup.result = field::Empty,
            eligibility.reason = field::Empty,
            outcome = field::Empty,
            reason = field::Empty,
        );
        if let Some(link) = link {
            telemetry::propagation::connect(&span, link, telemetry::propagation::Incoming::Link);
        }
        let event_id = event_id(event).map(str::to_owned);
        if let Some(id) = &event_id {
            span.record("event.id", id.as_str());
        }
        let mut steps = StepTimings::default();
        let (outcome, work, decided) = self
            .run(event, invocation, &mut steps)
            .instrument(span.clone())
            .await;
        span.record("outcome", outcome.name());
        if let Some(reason) = outcome.reason() {
            span.record("reason", reason.as_str());
        }
        if !outcome.is_terminal() {
            telemetry::mark_error(&span, outcome.reason().unwrap_or_default());
        }
        let (interaction_id, sequence_id) = match &work {
            Some(work) => (Some(work.subject_id().to_owned()), work.sequence_label()),
            // Rejected events still show what they carried, to help find them.
            None => raw_ids(event),
        };
        let report = Report {
            event_id,
            interaction_id,
            sequence_id,
            outcome,
            latency: started.elapsed(),
            steps,
            trace_id: telemetry::trace_id(&span),
            rule: decided.as_ref().map(|d| d.rule.to_string()),
            code: decided
                .as_ref()
                .and_then(|d| d.action.code())
                .map(ToString::to_string),
        };
        span.in_scope(|| log_report(&report));
        report
    }

    async fn run(
        &self,
        event: &Value,
        invocation: &Invocation,
        steps: &mut StepTimings,
    ) -> (Outcome, Option<Work>, Option<acting::Decided>) {
        let parsed = info_span!("parse").in_scope(|| parse_event(event));
        let work = match parsed {
            ParsedEvent::Update(update) => Work::Seed(update),
            ParsedEvent::Conversation(conversation) => Work::Native(conversation),
            ParsedEvent::Ignored { reason } => return (Outcome::Ignored { reason }, None, None),
            ParsedEvent::Rejected { reason, .. } => {
                return (Outcome::Rejected { reason }, None, None);
            }
        };
        let span = Span::current();
        work.record_ids(&span);

        let request = self.claim_request(work.dedup_key(), payload_fingerprint(event), invocation);
        let known = match &work {
            Work::Seed(_) => None,
            Work::Native(conversation) => {
                let triage = self
                    .triage_native(
                        conversation,
                        invocation.deadline.for_work(),
                        request.expires_at_s,
                    )
                    .await;
                match triage {
                    native::Triage::Settled(acted) => {
                        return (acted.outcome, Some(work), acted.decided);
                    }
                    native::Triage::Act(known) => Some(known),
                }
            }
        };
        // The work ends the reserve before the invocation's deadline, and a lease margin before
        // the lease (shorter than the invocation when DEDUP_LEASE_MAX_SECONDS caps it).
        let margin_ms = self.settings.lease_margin.as_millis() as i64;
        let work_deadline = invocation
            .deadline
            .for_work()
            .no_later_than_epoch_ms(request.lease_until_ms.saturating_sub(margin_ms));
        let lease = match self
            .claim_target(&request, &work, work_deadline, steps)
            .await
        {
            Ok(lease) => lease,
            Err(outcome) => return (outcome, Some(work), None),
        };

        let acted = match &work {
            Work::Seed(update) => self.act_seed(update, &lease, work_deadline, steps).await,
            Work::Native(conversation) => {
                let known = known.unwrap_or_default();
                self.act_native(conversation, known, &lease, work_deadline, steps)
                    .await
            }
        };
        let finish_deadline = invocation.deadline.earlier_by(ANSWER_TIME);
        self.finish(&request, &lease, &acted, finish_deadline, steps)
            .await;
        (acted.outcome, Some(work), acted.decided)
    }

    /// Runs the business rules in a `decide` span, timing them.
    fn decided<V>(&self, steps: &mut StepTimings, rules: impl FnOnce() -> (&'static str, V)) -> V {
        let started = Instant::now();
        let (reason, verdict) =
            info_span!("decide", eligibility.reason = field::Empty).in_scope(|| {
                let (reason, verdict) = rules();
                Span::current().record("eligibility.reason", reason);
                (reason, verdict)
            });
        steps.decide = Some(started.elapsed());
        Span::current().record("eligibility.reason", reason);
        verdict
    }
}
