//! The outcome vocabulary: what happened to one event, as operators and tools see it.

use super::eligibility::IneligibleReason;
use std::fmt;

/// What happened to one event. `name()` is the contract string of the `invoke` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The disposition was applied.
    Patched,
    /// The business rules said no.
    Ineligible(IneligibleReason),
    /// This delivery was processed before; `previous` is the outcome stored then, when known.
    /// `same_payload` is false when the earlier event under this key had a different payload.
    Duplicate {
        /// The outcome stored for the earlier delivery, when known.
        previous: Option<String>,
        /// False when the earlier event under this key had another payload.
        same_payload: bool,
    },
    /// Not an event this product acts on.
    Ignored {
        /// Why it is not acted on.
        reason: String,
    },
    /// Malformed input, or a request Genesys refused for good; the reason says what to fix.
    Rejected {
        /// What is wrong, and what to fix.
        reason: String,
    },
    /// Genesys answered 409 to the PATCH: someone else changed the interaction; acknowledged.
    Conflict,
    /// The interaction does not exist (any more).
    NotFound,
    /// A retryable failure outlived its retries: the platform must deliver the event again.
    Failed {
        /// What failed.
        reason: String,
    },
    /// The policy decided the code, and wrote nothing (a `shadow` rule).
    WouldPatch {
        /// The code that would have been applied.
        code: String,
        /// Why a write of it would have failed (`code-not-on-queue`), when it would have.
        not_on_queue: Option<String>,
    },
    /// The code the policy chose is not assigned to the call's queue (or Genesys refused the
    /// wrap-up with 400): reported as `failed` and delivered again, then dead-lettered, until
    /// the policy or the queue is fixed. Counted apart (`CodeNotOnQueue`).
    CodeNotOnQueue {
        /// What was refused, naming queue and code.
        reason: String,
    },
    /// A failure that a configuration fix heals (credentials, secret, permissions): reported as
    /// `failed` and delivered again (then dead-lettered), never completed; the reason says what
    /// to fix. Counted apart (`ConfigurationFailures`) so that an alarm fires at once.
    Misconfigured {
        /// What failed, with what to fix.
        reason: String,
    },
}

impl Outcome {
    /// The outcome's name in reports, e.g. `patched`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Patched => "patched",
            Outcome::Ineligible(_) => "ineligible",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Ignored { .. } => "ignored",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Conflict => "conflict",
            Outcome::NotFound => "not-found",
            Outcome::WouldPatch { .. } => "would-patch",
            Outcome::Failed { .. }
            | Outcome::Misconfigured { .. }
            | Outcome::CodeNotOnQueue { .. } => "failed",
        }
    }

    /// The reason string reported beside the outcome.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Patched => Some("eligible".into()),
            Outcome::Ineligible(reason) => Some(reason.as_str().into()),
            Outcome::Duplicate {
                previous,
                same_payload,
            } => {
                let mut reason = String::from("already processed");
                if let Some(previous) = previous {
                    reason.push_str(": ");
                    reason.push_str(previous);
                }
                if !same_payload {
                    reason.push_str(" (a different payload arrived under the same key)");
                }
                Some(reason)
            }
            Outcome::Ignored { reason }
            | Outcome::Rejected { reason }
            | Outcome::Failed { reason } => Some(reason.clone()),
            Outcome::Misconfigured { reason } => Some(format!("configuration: {reason}")),
            Outcome::CodeNotOnQueue { reason } => Some(format!("code-not-on-queue: {reason}")),
            Outcome::WouldPatch {
                code,
                not_on_queue: None,
            } => Some(format!("shadow: would apply {code}")),
            Outcome::WouldPatch {
                code,
                not_on_queue: Some(reason),
            } => Some(format!(
                "shadow: would apply {code}, and fail code-not-on-queue: {reason}"
            )),
            Outcome::Conflict => Some("interaction changed concurrently (409)".into()),
            Outcome::NotFound => Some("interaction not found (404)".into()),
        }
    }

    /// False only for `failed`: the event has not reached a final state and must be delivered again.
    pub fn is_terminal(&self) -> bool {
        !matches!(
            self,
            Outcome::Failed { .. } | Outcome::Misconfigured { .. } | Outcome::CodeNotOnQueue { .. }
        )
    }

    /// True when fixing the configuration (not waiting) is what lets the event succeed.
    pub fn needs_configuration_fix(&self) -> bool {
        matches!(
            self,
            Outcome::Misconfigured { .. } | Outcome::CodeNotOnQueue { .. }
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "{} ({reason})", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_follow_the_contract() {
        let names: Vec<_> = [
            Outcome::Patched,
            Outcome::Ineligible(IneligibleReason::WrapUpAlreadySet),
            Outcome::Duplicate {
                previous: None,
                same_payload: true,
            },
            Outcome::Ignored {
                reason: String::new(),
            },
            Outcome::Rejected {
                reason: String::new(),
            },
            Outcome::Conflict,
            Outcome::NotFound,
            Outcome::Failed {
                reason: String::new(),
            },
        ]
        .iter()
        .map(Outcome::name)
        .collect();
        assert_eq!(
            names,
            [
                "patched",
                "ineligible",
                "duplicate",
                "ignored",
                "rejected",
                "conflict",
                "not-found",
                "failed"
            ]
        );
    }

    #[test]
    fn an_ineligible_outcome_reports_the_rule_reason() {
        let outcome = Outcome::Ineligible(IneligibleReason::DurationBelowThreshold);
        assert_eq!(
            outcome.reason().as_deref(),
            Some("duration-below-threshold")
        );
    }

    #[test]
    fn a_configuration_failure_is_reported_failed_and_delivered_again() {
        let outcome = Outcome::Misconfigured {
            reason: "the token request was refused".into(),
        };
        assert_eq!(outcome.name(), "failed");
        assert!(!outcome.is_terminal());
        assert_eq!(
            outcome.reason().as_deref(),
            Some("configuration: the token request was refused")
        );
    }

    #[test]
    fn only_failed_is_not_terminal() {
        assert!(!Outcome::Failed { reason: "x".into() }.is_terminal());
        assert!(Outcome::Conflict.is_terminal());
        assert!(
            Outcome::Duplicate {
                previous: Some("patched".into()),
                same_payload: true,
            }
            .is_terminal()
        );
    }

    #[test]
    fn a_duplicate_with_a_different_payload_says_so() {
        let outcome = Outcome::Duplicate {
            previous: Some("patched".into()),
            same_payload: false,
        };
        assert_eq!(
            outcome.reason().as_deref(),
            Some("already processed: patched (a different payload arrived under the same key)")
        );
    }
}
