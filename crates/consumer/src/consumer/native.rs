//! The native dialect: settle what the event and its queue's facts decide alone, then, under the conversation's lease, decide on the agent (from facts an earlier event noted, or one read of the conversation) and apply the policy's code.

use super::acting::{
    Acted, Decided, again_after_conflict, outcome_of_error, patched_by_another_event,
};
use super::report::StepTimings;
use super::{Consumer, timed};
use crate::dedup::{AgentFacts, Lease};
use gev_core::deadline::Deadline;
use gev_core::domain::{
    CallFacts, ConversationEvent, ConversationTopic, EffectKey, IneligibleReason, Outcome,
    PolicyAction, QueueId, WrapupTarget, WrapupTrigger, WrapupVerdict, decide_wrapup,
};
use gev_genesys::routing::{QueueFacts, WrapupPrompt};
use gev_genesys::{GenesysError, Operation, WrapupRequest, WrapupStyle};
use std::sync::Arc;
use tracing::{Instrument, Span, info_span};

/// What an event's own body and its queue's facts settled before any claim.
pub(super) enum Triage {
    /// Nothing to do or to guard: the outcome, with no dedup claim.
    Settled(Acted),
    /// Acting may write: claim the conversation, knowing this much.
    Act(Known),
}

/// What is known before the lease: the queue the event names and the policy's decision for it.
#[derive(Debug, Default)]
pub(super) struct Known {
    queue: Option<Arc<QueueFacts>>,
    decided: Option<Decided>,
}

impl Consumer {
    /// Settles, without a dedup write or a Genesys request (queue facts aside, cached per
    /// instance), every event that cannot lead to a write: other media, an `acw` with the
    /// agent's own code, a `customer.end` (the agent's events decide), a queue the policy
    /// skips, and a `user.end` on a queue whose agents always go through after-call work (its
    /// `acw` decides; the agent's interacting duration is noted for it).
    pub(super) async fn triage_native(
        &self,
        event: &ConversationEvent,
        deadline: Deadline,
        expires_at_s: i64,
    ) -> Triage {
        let settled = |reason| Triage::Settled(Acted::answer(Outcome::Ineligible(reason)));
        if event.media_type.api_segment().is_none()
            || !self.settings.native_media_types.contains(&event.media_type)
        {
            return settled(IneligibleReason::NonVoiceInteraction);
        }
        // An `acw` event that carries a code: the agent chose one.
        if event.wrapup_code.is_some() {
            return settled(IneligibleReason::WrapUpAlreadySet);
        }
        if event.topic == ConversationTopic::CustomerEnd && !self.settings.wrapup_on_customer_end {
            return settled(IneligibleReason::AgentEventsDecide);
        }
        let Some(queue_id) = &event.queue_id else {
            return Triage::Act(Known::default());
        };
        let queue = match self.queue_facts(queue_id, deadline).await {
            Ok(queue) => queue,
            Err(acted) => return Triage::Settled(acted),
        };
        let decided = self.decide_policy(event, queue.as_deref(), Some(queue_id));
        if decided.action == PolicyAction::Skip {
            return Triage::Settled(Acted::decided(
                Outcome::Ineligible(IneligibleReason::PolicySkip),
                decided,
            ));
        }
        let acw_follows = queue
            .as_ref()
            .and_then(|queue| queue.wrapup_prompt.as_ref())
            .is_some_and(WrapupPrompt::after_call_work_follows);
        // A backfilled `user.end` stands for a call whose events were lost, its `acw` too:
        // it must decide itself, from the conversation.
        if event.topic == ConversationTopic::UserEnd
            && self.settings.wrapup_trigger == WrapupTrigger::AfterAfterCallWork
            && acw_follows
            && !event.backfilled
        {
            return Triage::Settled(self.note_for_acw(event, expires_at_s).await);
        }
        Triage::Act(Known {
            queue,
            decided: Some(decided),
        })
    }

    /// A `user.end` whose `acw` will decide: notes the agent's interacting duration for it.
    async fn note_for_acw(&self, event: &ConversationEvent, expires_at_s: i64) -> Acted {
        if let (Some(participant), Some(interacting_ms)) =
            (&event.participant_id, event.interacting_ms)
        {
            let target = event.dedup_key().target;
            let noted = self
                .store
                .note_facts(
                    &target,
                    participant,
                    AgentFacts { interacting_ms },
                    expires_at_s,
                )
                .instrument(info_span!("note", participant.id = %participant))
                .await;
            if let Err(error) = noted {
                // Without the note the `acw` reads the conversation instead: nothing is lost.
                let error = gev_core::error_chain(&error);
                tracing::warn!(%error, "could not note the agent's duration for its acw event");
            }
        }
        Acted::answer(Outcome::Ineligible(IneligibleReason::AgentInAfterCallWork))
    }

    /// Under the conversation's lease: decide on the agent, from the noted facts when an `acw`
    /// without a code carries enough, else from one read of the conversation; then apply the
    /// policy's code, checked against the queue's codes.
    pub(super) async fn act_native(
        &self,
        event: &ConversationEvent,
        known: Known,
        lease: &Lease,
        deadline: Deadline,
        steps: &mut StepTimings,
    ) -> Acted {
        let Some(segment) = event.media_type.api_segment() else {
            return Acted::answer(Outcome::Ineligible(IneligibleReason::NonVoiceInteraction));
        };
        // Only agents are ever wrapped up: an event about one already done needs no fetch.
        if let Some(participant) = &event.participant_id
            && lease.has_applied(&EffectKey::participant(participant))
        {
            return Acted::answer(patched_by_another_event("participant"));
        }
        let mut from_events = self.decides_from_events(event, &known, lease);
        let mut conflicted = false;
        loop {
            let (target, queue, decided) = match from_events.take() {
                Some(verdict) => {
                    let verdict = self.decided(steps, || (verdict.reason(), verdict));
                    match verdict {
                        WrapupVerdict::Eligible(target) => {
                            (target, known.queue.clone(), known.decided.clone())
                        }
                        WrapupVerdict::Ineligible(reason) => {
                            return Acted::answer(Outcome::Ineligible(reason));
                        }
                    }
                }
                None => match self.fetch_and_decide(event, &known, deadline, steps).await {
                    Ok(decided) => decided,
                    Err(acted) => return acted,
                },
            };
            Span::current().record("participant.id", target.participant_id.as_str());
            let effect = EffectKey::participant(&target.participant_id);
            if lease.has_applied(&effect) {
                return Acted::answer(patched_by_another_event("participant"));
            }
            let decided = match decided {
                Some(decided) => decided,
                None => self.decide_policy(event, queue.as_deref(), None),
            };
            let (code, notes, shadow) = match &decided.action {
                PolicyAction::Skip => {
                    return Acted::decided(
                        Outcome::Ineligible(IneligibleReason::PolicySkip),
                        decided,
                    );
                }
                PolicyAction::Write { code, notes } => (code, notes, false),
                PolicyAction::Shadow { code, notes } => (code, notes, true),
            };
            let not_on_queue = queue
                .as_ref()
                .filter(|queue| !queue.has_code(code.as_str()))
                .map(|queue| {
                    format!(
                        "wrap-up code {code} ({}) is not assigned to queue {} ({}): assign it to \
                         the queue, or change the policy",
                        decided.rule, queue.id, queue.name
                    )
                });
            // A shadow rule writes nothing, so it fails nothing: what a write would meet is
            // said in its outcome.
            if shadow {
                let outcome = Outcome::WouldPatch {
                    code: code.to_string(),
                    not_on_queue,
                };
                return Acted::decided(outcome, decided);
            }
            if let Some(reason) = not_on_queue {
                tracing::error!(%reason, "the policy's code is not on the call's queue");
                if let Some(queue) = &queue {
                    // Read the queue again next time: the fix may be the queue's codes.
                    self.queues.forget(&queue.id);
                }
                return Acted::decided(Outcome::CodeNotOnQueue { reason }, decided);
            }
            let request = WrapupRequest {
                code: code.clone(),
                notes: notes.clone(),
                style: self.settings.wrapup_style,
            };
            let apply_span = info_span!(
                "apply",
                conversation.id = %event.conversation_id,
                participant.id = %target.participant_id,
                wrapup.code = %request.code,
                policy.rule = %decided.rule,
            );
            let applied = timed(
                &mut steps.apply,
                apply_span.clone(),
                self.genesys.apply_wrapup(
                    segment,
                    &event.conversation_id,
                    &target,
                    &request,
                    deadline,
                ),
            )
            .await;
            if again_after_conflict(&applied, &mut conflicted) {
                continue;
            }
            if let Err(error) = &applied
                && let Some(reason) = refused_wrapup(error, queue.as_deref(), &request)
            {
                gev_core::telemetry::record_exception(&apply_span, error.kind(), error);
                tracing::error!(%reason, "Genesys refused the wrap-up");
                return Acted::decided(Outcome::CodeNotOnQueue { reason }, decided);
            }
            return Acted::of_write(applied, effect, &apply_span).with_decision(decided);
        }
    }

    /// The verdict an `acw` without a code gives from the facts its agent's `user.end` noted,
    /// when they and the queue's decision are at hand (default trigger, participant-level
    /// write); `None` when the conversation must be read.
    fn decides_from_events(
        &self,
        event: &ConversationEvent,
        known: &Known,
        lease: &Lease,
    ) -> Option<WrapupVerdict> {
        if event.topic != ConversationTopic::AfterCallWork
            || self.settings.wrapup_trigger != WrapupTrigger::AfterAfterCallWork
            || self.settings.wrapup_style != WrapupStyle::Participant
            || known.decided.is_none()
        {
            return None;
        }
        let participant = event.participant_id.as_ref()?;
        let facts = lease.facts.get(participant.as_str())?;
        if facts.interacting_ms < self.settings.duration_threshold_ms {
            return Some(WrapupVerdict::Ineligible(
                IneligibleReason::DurationBelowThreshold,
            ));
        }
        Some(WrapupVerdict::Eligible(WrapupTarget {
            participant_id: participant.clone(),
            communication_id: None,
        }))
    }

    /// One read of the conversation: the rules on the agent, then its queue's facts and the
    /// policy's decision when the event did not name the queue.
    async fn fetch_and_decide(
        &self,
        event: &ConversationEvent,
        known: &Known,
        deadline: Deadline,
        steps: &mut StepTimings,
    ) -> Result<(WrapupTarget, Option<Arc<QueueFacts>>, Option<Decided>), Acted> {
        let id = &event.conversation_id;
        let fetch_span = info_span!("fetch", conversation.id = %id);
        let fetched = timed(
            &mut steps.fetch,
            fetch_span.clone(),
            self.genesys.fetch_conversation(id, deadline),
        )
        .await;
        let conversation =
            fetched.map_err(|error| Acted::answer(outcome_of_error(&fetch_span, &error)))?;
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
                return Err(Acted::answer(Outcome::Ineligible(reason)));
            }
        };
        if known.decided.is_some() {
            return Ok((target, known.queue.clone(), known.decided.clone()));
        }
        let queue_id = conversation
            .participants
            .iter()
            .find(|p| p.id.as_ref() == Some(&target.participant_id))
            .and_then(|p| p.queue_id.clone());
        let Some(queue_id) = queue_id else {
            // Not routed through a queue: no queue's codes to respect.
            return Ok((target, None, None));
        };
        let queue = self.queue_facts(&queue_id, deadline).await?;
        let decided = self.decide_policy(event, queue.as_deref(), Some(&queue_id));
        Ok((target, queue, Some(decided)))
    }

    /// The queue's facts from the instance's cache (read from Genesys when missing or old).
    /// A queue that cannot be read for a reason no retry changes now (gone, hidden by its
    /// division, or a role without `routing:queue:view`) is worked without its facts — as
    /// before queue facts existed: the conversation is read, and Genesys itself refuses a code
    /// not on the queue — and logged for the fix (`doctor` names it). A retryable failure is
    /// the event's outcome.
    async fn queue_facts(
        &self,
        queue: &QueueId,
        deadline: Deadline,
    ) -> Result<Option<Arc<QueueFacts>>, Acted> {
        let span = info_span!("queue", queue.id = %queue);
        let read = self
            .queues
            .facts(self.genesys.as_ref(), queue, deadline)
            .instrument(span.clone())
            .await;
        match read {
            Ok(facts) => Ok(Some(facts)),
            Err(error)
                if matches!(error, GenesysError::NotFound { .. })
                    || error.needs_configuration_fix() =>
            {
                let error = gev_core::error_chain(&error);
                tracing::warn!(%error, queue.id = %queue, "the queue's facts cannot be read: the event goes on without them");
                Ok(None)
            }
            Err(error) => Err(Acted::answer(outcome_of_error(&span, &error))),
        }
    }

    /// The policy's rule for the call: its queue, media and direction from the event, its
    /// division from the event or else the queue.
    fn decide_policy(
        &self,
        event: &ConversationEvent,
        queue: Option<&QueueFacts>,
        queue_id: Option<&QueueId>,
    ) -> Decided {
        let queue_id = queue.map(|q| &q.id).or(queue_id);
        let division = event
            .division_id
            .as_ref()
            .or_else(|| queue.and_then(|q| q.division_id.as_ref()));
        let decision = self.policy.decide(CallFacts {
            queue_id,
            media_type: &event.media_type,
            direction: event.direction.as_deref(),
            division_id: division,
        });
        Decided {
            rule: decision.rule,
            action: decision.action.clone(),
        }
    }
}

/// The reason a refused wrap-up is reported with, when Genesys answered 400 to it: the code is
/// not one the participant's queue accepts (or the write is otherwise malformed).
fn refused_wrapup(
    error: &GenesysError,
    queue: Option<&QueueFacts>,
    request: &WrapupRequest,
) -> Option<String> {
    let GenesysError::Refused {
        operation: Operation::ApplyWrapup { .. },
        status: 400,
        ..
    } = error
    else {
        return None;
    };
    let queue = queue.map_or("the participant's queue".to_owned(), |q| {
        format!("queue {} ({})", q.id, q.name)
    });
    Some(format!(
        "Genesys refused wrap-up code {} for {queue} with 400 ({}); check that the code is \
         assigned to the queue",
        request.code,
        gev_core::error_chain(error)
    ))
}
