//! The use case: one event, through parse → claim (its target's lease) → fetch → decide → apply → complete, to one outcome.

use crate::deadline::{Deadline, now_epoch_ms};
use crate::dedup::{ClaimOutcome, ClaimRequest, DedupError, DedupStore, Lease, OwnerToken};
use crate::domain::{
    ConversationEvent, DedupKey, DispositionCodeId, EffectKey, Eligibility, IneligibleReason,
    InteractionUpdate, MediaType, Outcome, ParsedEvent, WrapupTrigger, WrapupVerdict, decide,
    decide_wrapup,
};
use crate::genesys::{ApplyResult, GenesysApi, GenesysError, WrapupRequest, WrapupStyle};
use crate::parse::{event_id, parse_event, payload_fingerprint};
use crate::telemetry;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{Instrument, Span, field, info_span};

/// The business settings of the consumer.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// The disposition code applied to eligible interactions.
    pub disposition_code: DispositionCodeId,
    /// The minimum duration of an eligible call.
    pub duration_threshold_ms: i64,
    /// How long a dedup record is remembered.
    pub dedup_ttl: Duration,
    /// The claim's lease runs to the invocation deadline plus this margin...
    pub lease_margin: Duration,
    /// ...but never longer than this from now.
    pub max_lease: Duration,
    /// How long an event waits at most for another event's lease on its target to end.
    pub lease_wait: Duration,
    /// How many interactions of one batch (SQS) are processed at the same time.
    pub batch_concurrency: usize,
    /// Native dialect: the media types acted on (`VOICE` unless configured otherwise).
    pub native_media_types: Vec<MediaType>,
    /// Native dialect: when the default wrap-up is applied (after the agent's after-call work,
    /// or as soon as the call ends).
    pub wrapup_trigger: WrapupTrigger,
    /// Native dialect: how the wrap-up is applied, and its optional notes.
    pub wrapup_style: WrapupStyle,
    pub wrapup_notes: Option<String>,
}

impl PipelineSettings {
    /// Default dedup TTL: 25 hours, longer than EventBridge's 24 hours of delivery retries.
    pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(25 * 3600);
    pub const DEFAULT_LEASE_MARGIN: Duration = Duration::from_secs(10);
    pub const DEFAULT_BATCH_CONCURRENCY: usize = 8;
    pub const DEFAULT_MAX_LEASE: Duration = Duration::from_secs(15 * 60 + 60);
    pub const DEFAULT_LEASE_WAIT: Duration = Duration::from_secs(2);

    pub fn new(disposition_code: DispositionCodeId) -> Self {
        PipelineSettings {
            disposition_code,
            duration_threshold_ms: crate::domain::eligibility::DEFAULT_DURATION_THRESHOLD_MS,
            dedup_ttl: Self::DEFAULT_DEDUP_TTL,
            lease_margin: Self::DEFAULT_LEASE_MARGIN,
            max_lease: Self::DEFAULT_MAX_LEASE,
            lease_wait: Self::DEFAULT_LEASE_WAIT,
            batch_concurrency: Self::DEFAULT_BATCH_CONCURRENCY,
            native_media_types: vec![MediaType::voice()],
            wrapup_trigger: WrapupTrigger::default(),
            wrapup_style: WrapupStyle::default(),
            wrapup_notes: None,
        }
    }
}

/// The invocation an event is processed in.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Owns the dedup claims made for this invocation (the Lambda request id).
    pub owner: OwnerToken,
    pub deadline: Deadline,
}

/// How long each step of one event took; `None` when the step did not run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTimings {
    pub claim: Option<Duration>,
    pub fetch: Option<Duration>,
    pub decide: Option<Duration>,
    pub apply: Option<Duration>,
    /// Completing or releasing the dedup claim.
    pub complete: Option<Duration>,
}

impl StepTimings {
    /// The timings under their metric names.
    pub fn named(&self) -> [(&'static str, Option<Duration>); 5] {
        [
            ("ClaimMs", self.claim),
            ("FetchMs", self.fetch),
            ("DecideMs", self.decide),
            ("ApplyMs", self.apply),
            ("CompleteMs", self.complete),
        ]
    }
}

/// What happened to one event: the `invoke` output line and the Lambda's response.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub event_id: Option<String>,
    pub outcome: Outcome,
    pub interaction_id: Option<String>,
    pub sequence_id: Option<String>,
    pub latency: Duration,
    pub steps: StepTimings,
    /// The OpenTelemetry trace id of the event's span, when tracing is on.
    pub trace_id: Option<String>,
}

impl Report {
    /// The report of an event that was not processed (undecodable, or deferred to keep order).
    pub fn unprocessed(event: &Value, outcome: Outcome) -> Self {
        let (interaction_id, sequence_id) = raw_ids(event);
        Report {
            event_id: event_id(event).map(str::to_owned),
            outcome,
            interaction_id,
            sequence_id,
            latency: Duration::ZERO,
            steps: StepTimings::default(),
            trace_id: None,
        }
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("eventId", &self.event_id)?;
        map.serialize_entry("outcome", self.outcome.name())?;
        map.serialize_entry("reason", &self.outcome.reason())?;
        map.serialize_entry("interactionId", &self.interaction_id)?;
        map.serialize_entry("sequenceId", &self.sequence_id)?;
        let latency_ms = (self.latency.as_secs_f64() * 1_000_000.0).round() / 1_000.0;
        map.serialize_entry("latencyMs", &latency_ms)?;
        map.end()
    }
}

/// The consumer: its adapters and settings. Cheap to clone.
#[derive(Clone)]
pub struct Consumer {
    store: Arc<dyn DedupStore>,
    genesys: Arc<dyn GenesysApi>,
    settings: Arc<PipelineSettings>,
}

/// Runs `future` inside `span`, writing its duration into `slot`.
async fn timed<T>(slot: &mut Option<Duration>, span: Span, future: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let output = future.instrument(span).await;
    *slot = Some(started.elapsed());
    output
}

impl Consumer {
    pub fn new(
        store: Arc<dyn DedupStore>,
        genesys: Arc<dyn GenesysApi>,
        settings: PipelineSettings,
    ) -> Self {
        Consumer {
            store,
            genesys,
            settings: Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    /// Processes one EventBridge event. Never fails: a failure is the outcome `failed`, after
    /// which the caller must make the platform deliver the event again.
    pub async fn process(&self, event: &Value, invocation: &Invocation) -> Report {
        self.process_linked(event, invocation, None).await
    }

    /// [`Consumer::process`], with the event's span linked to the trace context that came with
    /// it (an SQS message's `traceparent`).
    pub async fn process_linked(
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
            telemetry::propagation::connect(&span, link, false);
        }
        let event_id = event_id(event).map(str::to_owned);
        if let Some(id) = &event_id {
            span.record("event.id", id.as_str());
        }
        let mut steps = StepTimings::default();
        let (outcome, work) = self
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
        };
        span.in_scope(|| log_report(&report));
        report
    }

    async fn run(
        &self,
        event: &Value,
        invocation: &Invocation,
        steps: &mut StepTimings,
    ) -> (Outcome, Option<Work>) {
        let parsed = info_span!("parse").in_scope(|| parse_event(event));
        let work = match parsed {
            ParsedEvent::Update(update) => Work::Seed(update),
            ParsedEvent::Conversation(conversation) => Work::Native(conversation),
            ParsedEvent::Ignored { reason } => return (Outcome::Ignored { reason }, None),
            ParsedEvent::Rejected { reason, .. } => return (Outcome::Rejected { reason }, None),
        };
        let span = Span::current();
        work.record_ids(&span);

        let request = self.claim_request(work.dedup_key(), payload_fingerprint(event), invocation);
        let key = &request.key;
        // The work ends the reserve before the invocation's deadline, and a lease margin before
        // the lease (shorter than the invocation when DEDUP_LEASE_MAX_SECONDS caps it).
        let margin_ms = self.settings.lease_margin.as_millis() as i64;
        let work_deadline = invocation
            .deadline
            .for_work()
            .no_later_than_epoch_ms(request.lease_until_ms.saturating_sub(margin_ms));
        let claim_span = info_span!("claim", dedup.key = %key, dedup.result = field::Empty);
        let claimed = timed(
            &mut steps.claim,
            claim_span.clone(),
            within(work_deadline, self.claim_in_turn(&request, work_deadline)),
        )
        .await;
        let dedup_result = match &claimed {
            Ok(ClaimOutcome::Claimed(lease)) if lease.took_over => "took-over",
            Ok(ClaimOutcome::Claimed(_)) => "claimed",
            Ok(ClaimOutcome::Completed { .. }) => "duplicate",
            Ok(ClaimOutcome::Leased { .. }) => "leased",
            Err(_) => "error",
        };
        claim_span.record("dedup.result", dedup_result);
        span.record("dedup.result", dedup_result);
        let lease = match claimed {
            Ok(ClaimOutcome::Claimed(lease)) => lease,
            Ok(ClaimOutcome::Completed {
                outcome,
                same_payload,
            }) => {
                if !same_payload {
                    tracing::warn!(
                        dedup.key = %key,
                        dedup.payload_mismatch = true,
                        "a different payload arrived under an already completed dedup key; \
                         not acted on, reported as a duplicate with a payload mismatch"
                    );
                }
                let outcome = Outcome::Duplicate {
                    previous: Some(outcome),
                    same_payload,
                };
                return (outcome, Some(work));
            }
            Ok(ClaimOutcome::Leased { lease_until_ms }) => {
                let wait_ms = lease_until_ms.saturating_sub(now_epoch_ms()).max(0);
                let reason = format!(
                    "another delivery for this {} holds its lease (ends in {wait_ms} ms); \
                     deliver again later",
                    work.target_name()
                );
                return (Outcome::Failed { reason }, Some(work));
            }
            Err(error) => {
                telemetry::record_exception(&claim_span, error.kind(), &error);
                let reason = format!("dedup claim failed: {error}");
                if error.is_retryable() {
                    return (Outcome::Failed { reason }, Some(work));
                }
                tracing::error!(%error, "the dedup store is misconfigured");
                return (Outcome::Misconfigured { reason }, Some(work));
            }
        };

        let acted = match &work {
            Work::Seed(update) => self.act_seed(update, &lease, work_deadline, steps).await,
            Work::Native(conversation) => {
                self.act_native(conversation, &lease, work_deadline, steps)
                    .await
            }
        };
        let finish_deadline = invocation.deadline.earlier_by(ANSWER_TIME);
        self.finish(&request, &lease, &acted, finish_deadline, steps)
            .await;
        (acted.outcome, Some(work))
    }

    /// Claims the event's target, waiting while another event holds its lease: briefly (at most
    /// `lease_wait`, and half the work's time left), polling with cheap reads; then gives up `Leased`.
    async fn claim_in_turn(
        &self,
        request: &ClaimRequest,
        deadline: Deadline,
    ) -> Result<ClaimOutcome, DedupError> {
        let patience = self.settings.lease_wait.min(deadline.remaining() / 2);
        let give_up_at = Instant::now() + patience;
        let mut pause = LEASE_POLL_FIRST;
        loop {
            let claimed = self.store.claim(request).await?;
            let ClaimOutcome::Leased { .. } = claimed else {
                return Ok(claimed);
            };
            loop {
                if Instant::now() + pause > give_up_at {
                    return Ok(claimed);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LEASE_POLL_MAX);
                if self.store.lease_end(&request.key.target).await?.is_none() {
                    break;
                }
            }
        }
    }

    /// Ends the lease: completes the event with a terminal outcome (recording the write it made),
    /// releases the lease after a retryable failure, or, when a write may have been applied,
    /// holds it for `lease_margin` more (never longer than it was), so that no other event acts
    /// before that write has landed and shows in Genesys' answers.
    async fn finish(
        &self,
        request: &ClaimRequest,
        lease: &Lease,
        acted: &Acted,
        deadline: Deadline,
        steps: &mut StepTimings,
    ) {
        let key = &request.key;
        let finish = if acted.outcome.is_terminal() {
            Finish::Complete
        } else if acted.write_may_have_applied {
            let settle_until = now_epoch_ms()
                .saturating_add(self.settings.lease_margin.as_millis() as i64)
                .min(request.lease_until_ms);
            tracing::warn!(
                dedup.key = %key,
                lease_until_ms = settle_until,
                "the write may have been applied: the lease is held until it can show"
            );
            if settle_until >= request.lease_until_ms {
                return; // the lease ends by then anyway
            }
            Finish::Hold(settle_until)
        } else {
            Finish::Release
        };
        let finish_span = info_span!("finish", otel.name = finish.name(), dedup.key = %key);
        let result = timed(
            &mut steps.complete,
            finish_span.clone(),
            within(deadline, async {
                match finish {
                    Finish::Complete => {
                        let applied = acted.applied.as_ref();
                        self.store
                            .complete(request, lease, acted.outcome.name(), applied)
                            .await
                    }
                    Finish::Hold(until_ms) => self.store.hold_until(request, until_ms).await,
                    Finish::Release => self.store.release(request).await,
                }
            }),
        )
        .await;
        if let Err(error) = result {
            telemetry::record_exception(&finish_span, error.kind(), &error);
            // After a complete fails, the write (if any) happened; a redelivery after the lease
            // re-reads Genesys, which then shows it, so nothing is applied twice. After a
            // release or hold fails, a redelivery waits for the lease to end.
            tracing::warn!(%error, dedup.key = %key, "could not finish the dedup claim");
        }
    }

    fn claim_request(
        &self,
        key: DedupKey,
        payload_hash: String,
        invocation: &Invocation,
    ) -> ClaimRequest {
        let now_ms = now_epoch_ms();
        let lease_end = invocation
            .deadline
            .epoch_ms()
            .saturating_add(self.settings.lease_margin.as_millis() as i64);
        let lease_cap = now_ms.saturating_add(self.settings.max_lease.as_millis() as i64);
        ClaimRequest {
            owner: invocation.owner.for_event(&key.event),
            key,
            lease_until_ms: lease_end.min(lease_cap),
            expires_at_s: (now_ms / 1_000).saturating_add(self.settings.dedup_ttl.as_secs() as i64),
            payload_hash,
        }
    }

    /// Tutorial dialect, under the interaction's lease: fetch it, decide, apply the disposition.
    async fn act_seed(
        &self,
        update: &InteractionUpdate,
        lease: &Lease,
        deadline: Deadline,
        steps: &mut StepTimings,
    ) -> Acted {
        let effect = EffectKey::interaction();
        if lease.has_applied(&effect) {
            return Acted::answer(Outcome::Duplicate {
                previous: Some("patched by another event for this interaction".into()),
                same_payload: true,
            });
        }
        let id = &update.interaction_id;
        let mut conflicted = false;
        loop {
            let fetch_span = info_span!("fetch", interaction.id = %id);
            let fetched = timed(
                &mut steps.fetch,
                fetch_span.clone(),
                self.genesys.fetch_interaction(id, deadline),
            )
            .await;
            let interaction = match fetched {
                Ok(interaction) => interaction,
                Err(error) => return Acted::answer(outcome_of_error(&fetch_span, &error)),
            };
            let verdict = self.decided(steps, || {
                let verdict = decide(&interaction, self.settings.duration_threshold_ms);
                (verdict.reason(), verdict)
            });
            if let Eligibility::Ineligible(reason) = verdict {
                return Acted::answer(Outcome::Ineligible(reason));
            }
            let code = &self.settings.disposition_code;
            let apply_span = info_span!("apply", interaction.id = %id, disposition.code = %code);
            let applied = timed(
                &mut steps.apply,
                apply_span.clone(),
                self.genesys.apply_disposition(id, code, deadline),
            )
            .await;
            if again_after_conflict(&applied, &mut conflicted) {
                continue;
            }
            return Acted::of_write(applied, effect, &apply_span);
        }
    }

    /// Native dialect, under the conversation's lease: fetch it, decide on the agent's
    /// participant, apply the wrap-up.
    async fn act_native(
        &self,
        event: &ConversationEvent,
        lease: &Lease,
        deadline: Deadline,
        steps: &mut StepTimings,
    ) -> Acted {
        let segment = match event.media_type.api_segment() {
            Some(segment) if self.settings.native_media_types.contains(&event.media_type) => {
                segment
            }
            _ => return Acted::answer(Outcome::Ineligible(IneligibleReason::NonVoiceInteraction)),
        };
        // An `acw` event that carries a code: the agent chose one, nothing to fetch or do.
        if event.wrapup_code.is_some() {
            return Acted::answer(Outcome::Ineligible(IneligibleReason::WrapUpAlreadySet));
        }
        // Only agents are ever wrapped up: an event about one already done needs no fetch.
        if let Some(participant) = &event.participant_id
            && lease.has_applied(&EffectKey::participant(participant))
        {
            return Acted::answer(patched_by_another_event("participant"));
        }
        let id = &event.conversation_id;
        let mut conflicted = false;
        loop {
            let fetch_span = info_span!("fetch", conversation.id = %id);
            let fetched = timed(
                &mut steps.fetch,
                fetch_span.clone(),
                self.genesys.fetch_conversation(id, deadline),
            )
            .await;
            let conversation = match fetched {
                Ok(conversation) => conversation,
                Err(error) => return Acted::answer(outcome_of_error(&fetch_span, &error)),
            };
            let verdict = self.decided(steps, || {
                let verdict = decide_wrapup(
                    &conversation,
                    event.participant_id.as_ref(),
                    self.settings.duration_threshold_ms,
                    self.settings.wrapup_trigger,
                );
                (verdict.reason(), verdict)
            });
            let target = match verdict {
                WrapupVerdict::Eligible(target) => target,
                WrapupVerdict::Ineligible(reason) => {
                    return Acted::answer(Outcome::Ineligible(reason));
                }
            };
            Span::current().record("participant.id", target.participant_id.as_str());
            let effect = EffectKey::participant(&target.participant_id);
            if lease.has_applied(&effect) {
                return Acted::answer(patched_by_another_event("participant"));
            }
            let request = WrapupRequest {
                code: self.settings.disposition_code.clone(),
                notes: self.settings.wrapup_notes.clone(),
                style: self.settings.wrapup_style,
            };
            let apply_span = info_span!(
                "apply",
                conversation.id = %id,
                participant.id = %target.participant_id,
                wrapup.code = %request.code
            );
            let applied = timed(
                &mut steps.apply,
                apply_span.clone(),
                self.genesys
                    .apply_wrapup(segment, id, &target, &request, deadline),
            )
            .await;
            if again_after_conflict(&applied, &mut conflicted) {
                continue;
            }
            return Acted::of_write(applied, effect, &apply_span);
        }
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

/// Time kept after the dedup store's last call for the span flush and the answer to Lambda.
const ANSWER_TIME: Duration = Duration::from_millis(500);

/// Runs a dedup store call, giving up when `deadline` comes first (the SDK's own timeouts and
/// retries know nothing of the invocation's deadline).
async fn within<T>(
    deadline: Deadline,
    call: impl Future<Output = Result<T, DedupError>>,
) -> Result<T, DedupError> {
    match tokio::time::timeout_at(deadline.instant(), call).await {
        Ok(result) => result,
        Err(_) => Err(DedupError::Unavailable {
            message: "no answer before the invocation's deadline".into(),
            source: None,
        }),
    }
}

/// The first pause of an event waiting for another one's lease on its target; it doubles up to
/// [`LEASE_POLL_MAX`].
const LEASE_POLL_FIRST: Duration = Duration::from_millis(20);
const LEASE_POLL_MAX: Duration = Duration::from_millis(200);

/// How an event's lease ends.
#[derive(Debug, Clone, Copy)]
enum Finish {
    /// A terminal outcome: the event is recorded and the lease freed.
    Complete,
    /// A write may have been applied: the lease is kept until then (epoch ms).
    Hold(i64),
    /// A retryable failure before any write could land: the lease is freed.
    Release,
}

impl Finish {
    /// The name of the step's span.
    fn name(self) -> &'static str {
        match self {
            Finish::Complete => "complete",
            Finish::Hold(_) => "hold",
            Finish::Release => "release",
        }
    }
}

/// What acting on an event under its lease came to.
#[derive(Debug)]
struct Acted {
    outcome: Outcome,
    /// The write made, recorded with the completion so that no other event makes it again.
    applied: Option<EffectKey>,
    /// A write failed in a way that may still have applied it.
    write_may_have_applied: bool,
}

impl Acted {
    /// An outcome reached without a write.
    fn answer(outcome: Outcome) -> Self {
        Acted {
            outcome,
            applied: None,
            write_may_have_applied: false,
        }
    }

    /// The outcome of writing `effect`.
    fn of_write(
        result: Result<ApplyResult, GenesysError>,
        effect: EffectKey,
        apply_span: &Span,
    ) -> Self {
        match result {
            Ok(ApplyResult::Applied) => Acted {
                outcome: Outcome::Patched,
                applied: Some(effect),
                write_may_have_applied: false,
            },
            Ok(ApplyResult::Conflict) => Acted::answer(Outcome::Conflict),
            Err(error) => Acted {
                write_may_have_applied: error.write_may_have_applied(),
                ..Acted::answer(outcome_of_error(apply_span, &error))
            },
        }
    }
}

/// True, once, after a 409: someone changed the target while we decided, so it is fetched and
/// decided again (a second 409 is the outcome `conflict`).
fn again_after_conflict(
    applied: &Result<ApplyResult, GenesysError>,
    conflicted: &mut bool,
) -> bool {
    if !matches!(applied, Ok(ApplyResult::Conflict)) || *conflicted {
        return false;
    }
    *conflicted = true;
    tracing::info!("409 on the write: fetching and deciding again, once");
    true
}

fn patched_by_another_event(target: &str) -> Outcome {
    Outcome::Duplicate {
        previous: Some(format!("patched by another event for this {target}")),
        same_payload: true,
    }
}

/// An event the consumer acts on, of either dialect.
#[derive(Debug, Clone)]
enum Work {
    Seed(InteractionUpdate),
    Native(ConversationEvent),
}

impl Work {
    fn dedup_key(&self) -> DedupKey {
        match self {
            Work::Seed(update) => update.dedup_key(),
            Work::Native(event) => event.dedup_key(),
        }
    }

    /// What the event's target is called in reasons.
    fn target_name(&self) -> &'static str {
        match self {
            Work::Seed(_) => "interaction",
            Work::Native(_) => "conversation",
        }
    }

    /// Reported as `interactionId`: the interaction, or the conversation.
    fn subject_id(&self) -> &str {
        match self {
            Work::Seed(update) => update.interaction_id.as_str(),
            Work::Native(event) => event.conversation_id.as_str(),
        }
    }

    /// Reported as `sequenceId`: the sequence id, or the native event's time.
    fn sequence_label(&self) -> Option<String> {
        match self {
            Work::Seed(update) => Some(update.sequence_id.to_string()),
            Work::Native(event) => event.sequence_label(),
        }
    }

    fn record_ids(&self, span: &Span) {
        span.record("interaction.id", self.subject_id());
        if let Some(sequence) = self.sequence_label() {
            span.record("sequence.id", sequence.as_str());
        }
        if let Work::Native(event) = self {
            span.record("conversation.id", event.conversation_id.as_str());
            if let Some(participant) = &event.participant_id {
                span.record("participant.id", participant.as_str());
            }
        }
    }
}

/// The outcome a Genesys error stands for: `failed` when a retry or a configuration fix can
/// help (the latter logged at error level with what to fix), else terminal. The step's span
/// records the exception (once) and turns ERROR; a 404 is an answer, not an error.
fn outcome_of_error(step_span: &Span, error: &GenesysError) -> Outcome {
    if let GenesysError::NotFound { .. } = error {
        return Outcome::NotFound;
    }
    telemetry::record_exception(step_span, error.kind(), error);
    let reason = error.to_string();
    if error.needs_configuration_fix() {
        tracing::error!(%error, "Genesys Cloud access needs a configuration fix; the event will be delivered again");
        Outcome::Misconfigured { reason }
    } else if error.is_retryable() {
        tracing::warn!(%error, "retryable Genesys Cloud failure");
        Outcome::Failed { reason }
    } else {
        tracing::warn!(%error, "Genesys Cloud refused the request; not retrying");
        Outcome::Rejected { reason }
    }
}

/// The ids a rejected or ignored event carries, as text, for the report only.
fn raw_ids(event: &Value) -> (Option<String>, Option<String>) {
    let text = |pointer: &str| {
        event.pointer(pointer).and_then(|value| match value {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
    };
    (
        text("/detail/interactionId").or_else(|| text("/detail/eventBody/conversationId")),
        text("/detail/sequenceId").or_else(|| text("/detail/eventBody/eventTime")),
    )
}

fn log_report(report: &Report) {
    let reason = report.outcome.reason();
    let latency_ms = report.latency.as_secs_f64() * 1_000.0;
    if report.outcome.is_terminal() {
        tracing::info!(
            outcome = report.outcome.name(),
            reason,
            latency_ms,
            "event processed"
        );
    } else {
        tracing::warn!(
            outcome = report.outcome.name(),
            reason,
            latency_ms,
            "event failed; it must be delivered again"
        );
    }
}
