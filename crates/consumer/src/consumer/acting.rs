//! What acting under a lease came to: the outcome, the write made, and how Genesys errors map to outcomes.

use gev_core::domain::{EffectKey, Outcome, PolicyAction, RuleName};
use gev_core::telemetry;
use gev_genesys::{ApplyResult, GenesysError};
use tracing::Span;

/// What acting on an event under its lease came to.
#[derive(Debug)]
pub(super) struct Acted {
    pub(super) outcome: Outcome,
    /// The write made, recorded with the completion so that no other event makes it again.
    pub(super) applied: Option<EffectKey>,
    /// A write failed in a way that may still have applied it.
    pub(super) write_may_have_applied: bool,
    /// The policy's rule that decided, when one did.
    pub(super) decided: Option<Decided>,
}

/// The policy rule that decided a call, and its action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decided {
    pub(super) rule: RuleName,
    pub(super) action: PolicyAction,
}

impl Acted {
    /// An outcome reached without a write.
    pub(super) fn answer(outcome: Outcome) -> Self {
        Acted {
            outcome,
            applied: None,
            write_may_have_applied: false,
            decided: None,
        }
    }

    /// An outcome reached without a write, by a policy rule.
    pub(super) fn decided(outcome: Outcome, decided: Decided) -> Self {
        Acted::answer(outcome).with_decision(decided)
    }

    /// The same, naming the rule that decided.
    pub(super) fn with_decision(self, decided: Decided) -> Self {
        Acted {
            decided: Some(decided),
            ..self
        }
    }

    /// The outcome of writing `effect`.
    pub(super) fn of_write(
        result: Result<ApplyResult, GenesysError>,
        effect: EffectKey,
        apply_span: &Span,
    ) -> Self {
        match result {
            Ok(ApplyResult::Applied) => Acted {
                outcome: Outcome::Patched,
                applied: Some(effect),
                write_may_have_applied: false,
                decided: None,
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
pub(super) fn again_after_conflict(
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

pub(super) fn patched_by_another_event(target: &str) -> Outcome {
    Outcome::Duplicate {
        previous: Some(format!("patched by another event for this {target}")),
        same_payload: true,
    }
}

/// The outcome a Genesys error stands for: `failed` when a retry or a configuration fix can
/// help (the latter logged at error level with what to fix), else terminal. The step's span
/// records the exception (once) and turns ERROR; a 404 is an answer, not an error.
pub(super) fn outcome_of_error(step_span: &Span, error: &GenesysError) -> Outcome {
    if let GenesysError::NotFound { .. } = error {
        return Outcome::NotFound;
    }
    telemetry::record_exception(step_span, error.kind(), error);
    let reason = gev_core::error_chain(error);
    if error.needs_configuration_fix() {
        tracing::error!(error = %reason, "Genesys Cloud access needs a configuration fix; the event will be delivered again");
        Outcome::Misconfigured { reason }
    } else if error.is_retryable() {
        tracing::warn!(error = %reason, "retryable Genesys Cloud failure");
        Outcome::Failed { reason }
    } else {
        tracing::warn!(error = %reason, "Genesys Cloud refused the request; not retrying");
        Outcome::Rejected { reason }
    }
}
