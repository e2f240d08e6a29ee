//! The native dialect under its conversation's lease: fetch the conversation, decide on the agent, apply the wrap-up.

use super::acting::{Acted, again_after_conflict, outcome_of_error, patched_by_another_event};
use super::report::StepTimings;
use super::{Consumer, timed};
use crate::deadline::Deadline;
use crate::dedup::Lease;
use crate::domain::{
    ConversationEvent, EffectKey, IneligibleReason, Outcome, WrapupVerdict, decide_wrapup,
};
use crate::genesys::WrapupRequest;
use tracing::{Span, info_span};

impl Consumer {
    /// Native dialect, under the conversation's lease: fetch it, decide on the agent's
    /// participant, apply the wrap-up.
    pub(super) async fn act_native(
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
}
