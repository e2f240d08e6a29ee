//! The tutorial dialect under its interaction's lease: fetch, decide, apply the disposition.

use super::acting::{Acted, again_after_conflict, outcome_of_error};
use super::report::StepTimings;
use super::{Consumer, timed};
use crate::dedup::Lease;
use gev_core::deadline::Deadline;
use gev_core::domain::{EffectKey, Eligibility, InteractionUpdate, Outcome, decide};
use tracing::info_span;

impl Consumer {
    /// Tutorial dialect, under the interaction's lease: fetch it, decide, apply the disposition.
    pub(super) async fn act_seed(
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
}
