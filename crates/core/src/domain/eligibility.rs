//! The business rules that decide whether a disposition may be applied (a pure function).

use super::interaction::InteractionSnapshot;

/// The default minimum duration of an eligible call.
pub const DEFAULT_DURATION_THRESHOLD_MS: i64 = 30_000;

/// Why an interaction is not eligible. The strings are a contract: dashboards and tests use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IneligibleReason {
    /// The interaction is not a voice call.
    NonVoiceInteraction,
    /// The call has not ended.
    InteractionNotCompleted,
    /// A disposition is set already.
    DispositionAlreadySet,
    /// A wrap-up code is set already.
    WrapUpAlreadySet,
    /// The call was shorter than the threshold.
    DurationBelowThreshold,
    /// Native dialect: the conversation has no agent (`agent` or `user`) participant to wrap up.
    NoAgentParticipant,
    /// Native dialect: the agent is still in after-call work, choosing a code; the `acw` event
    /// that ends it decides.
    AgentInAfterCallWork,
    /// The wrap-up policy skips the call's queue (a `skip` rule, or no rule and no default).
    PolicySkip,
    /// Native dialect: a `customer.end` leaves the wrap-up to the agent's own events
    /// (`user.end`, `acw`), which come for every agent leg (`WRAPUP_ON_CUSTOMER_END`).
    AgentEventsDecide,
}

impl IneligibleReason {
    /// The reason's name in outcomes, e.g. `wrap-up-already-set`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IneligibleReason::NonVoiceInteraction => "non-voice-interaction",
            IneligibleReason::InteractionNotCompleted => "interaction-not-completed",
            IneligibleReason::DispositionAlreadySet => "disposition-already-set",
            IneligibleReason::WrapUpAlreadySet => "wrap-up-already-set",
            IneligibleReason::DurationBelowThreshold => "duration-below-threshold",
            IneligibleReason::NoAgentParticipant => "no-agent-participant",
            IneligibleReason::AgentInAfterCallWork => "agent-in-after-call-work",
            IneligibleReason::PolicySkip => "policy-skip",
            IneligibleReason::AgentEventsDecide => "agent-events-decide",
        }
    }
}

/// The verdict of the business rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Apply the disposition.
    Eligible,
    /// Leave it: the first rule that failed.
    Ineligible(IneligibleReason),
}

impl Eligibility {
    /// The reason string: `eligible` or the first rule that failed.
    pub fn reason(self) -> &'static str {
        match self {
            Eligibility::Eligible => "eligible",
            Eligibility::Ineligible(reason) => reason.as_str(),
        }
    }
}

/// True when `media_type` names a voice interaction (`voice`, or `VOICE` as Genesys Cloud spells it).
pub(crate) fn is_voice(media_type: &str) -> bool {
    media_type.eq_ignore_ascii_case("voice")
}

/// Applies the rules in their fixed order; the first that fails names the reason.
///
/// Eligible iff: voice, state `completed`, no disposition code, no wrap-up code, and a duration
/// of at least `duration_threshold_ms`.
pub fn decide(interaction: &InteractionSnapshot, duration_threshold_ms: i64) -> Eligibility {
    use IneligibleReason::*;
    let is_set = |code: &Option<String>| code.as_deref().is_some_and(|id| !id.is_empty());
    let verdict = if !is_voice(&interaction.media_type) {
        Some(NonVoiceInteraction)
    } else if !interaction.state.eq_ignore_ascii_case("completed") {
        Some(InteractionNotCompleted)
    } else if is_set(&interaction.disposition_code) {
        Some(DispositionAlreadySet)
    } else if is_set(&interaction.wrap_up_code) {
        Some(WrapUpAlreadySet)
    } else if interaction.duration_ms() < duration_threshold_ms {
        Some(DurationBelowThreshold)
    } else {
        None
    };
    verdict.map_or(Eligibility::Eligible, Eligibility::Ineligible)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::interaction::TimelineEntry;

    fn completed_voice_call(duration_ms: i64) -> InteractionSnapshot {
        InteractionSnapshot {
            media_type: "voice".into(),
            state: "completed".into(),
            started: Some(1_700_000_000_000),
            ended: Some(1_700_000_000_000 + duration_ms),
            ..Default::default()
        }
    }

    #[test]
    fn a_long_completed_voice_call_without_codes_is_eligible() {
        let verdict = decide(&completed_voice_call(45_000), DEFAULT_DURATION_THRESHOLD_MS);
        assert_eq!(verdict, Eligibility::Eligible);
        assert_eq!(verdict.reason(), "eligible");
    }

    #[test]
    fn a_chat_is_a_non_voice_interaction() {
        let chat = InteractionSnapshot {
            media_type: "chat".into(),
            ..completed_voice_call(45_000)
        };
        assert_eq!(decide(&chat, 30_000).reason(), "non-voice-interaction");
    }

    #[test]
    fn a_call_still_connected_is_not_completed() {
        let call = InteractionSnapshot {
            state: "connected".into(),
            ..completed_voice_call(45_000)
        };
        assert_eq!(decide(&call, 30_000).reason(), "interaction-not-completed");
    }

    #[test]
    fn a_call_with_a_disposition_code_is_left_alone() {
        let call = InteractionSnapshot {
            disposition_code: Some("code-1".into()),
            ..completed_voice_call(45_000)
        };
        assert_eq!(decide(&call, 30_000).reason(), "disposition-already-set");
    }

    #[test]
    fn a_call_with_a_wrap_up_code_is_left_alone() {
        let call = InteractionSnapshot {
            wrap_up_code: Some("wrap-1".into()),
            ..completed_voice_call(45_000)
        };
        assert_eq!(decide(&call, 30_000).reason(), "wrap-up-already-set");
    }

    #[test]
    fn an_empty_code_id_counts_as_no_code() {
        let call = InteractionSnapshot {
            disposition_code: Some(String::new()),
            wrap_up_code: Some(String::new()),
            ..completed_voice_call(45_000)
        };
        assert_eq!(decide(&call, 30_000), Eligibility::Eligible);
    }

    #[test]
    fn a_short_call_is_below_the_threshold() {
        assert_eq!(
            decide(&completed_voice_call(29_999), 30_000).reason(),
            "duration-below-threshold"
        );
    }

    #[test]
    fn a_call_exactly_at_the_threshold_is_eligible() {
        assert_eq!(
            decide(&completed_voice_call(30_000), 30_000),
            Eligibility::Eligible
        );
    }

    #[test]
    fn a_call_of_unknown_length_is_below_the_threshold() {
        let call = InteractionSnapshot {
            started: None,
            ended: None,
            ..completed_voice_call(0)
        };
        assert_eq!(decide(&call, 30_000).reason(), "duration-below-threshold");
    }

    #[test]
    fn the_timeline_gives_the_duration_when_metadata_has_none() {
        let call = InteractionSnapshot {
            started: None,
            ended: None,
            timeline: vec![
                TimelineEntry {
                    start: Some(0),
                    end: Some(10_000),
                },
                TimelineEntry {
                    start: Some(10_000),
                    end: Some(31_000),
                },
            ],
            ..completed_voice_call(0)
        };
        assert_eq!(decide(&call, 30_000), Eligibility::Eligible);
    }

    #[test]
    fn the_threshold_is_configurable() {
        assert_eq!(
            decide(&completed_voice_call(5_000), 5_000),
            Eligibility::Eligible
        );
        assert_eq!(
            decide(&completed_voice_call(5_000), 60_000).reason(),
            "duration-below-threshold"
        );
    }

    #[test]
    fn the_first_failing_rule_names_the_reason() {
        let everything_wrong = InteractionSnapshot {
            media_type: "email".into(),
            state: "connected".into(),
            disposition_code: Some("d".into()),
            wrap_up_code: Some("w".into()),
            ..Default::default()
        };
        assert_eq!(
            decide(&everything_wrong, 30_000).reason(),
            "non-voice-interaction"
        );
        let voice_but_rest_wrong = InteractionSnapshot {
            media_type: "voice".into(),
            ..everything_wrong.clone()
        };
        assert_eq!(
            decide(&voice_but_rest_wrong, 30_000).reason(),
            "interaction-not-completed"
        );
        let completed_with_both_codes = InteractionSnapshot {
            state: "completed".into(),
            ..voice_but_rest_wrong
        };
        assert_eq!(
            decide(&completed_with_both_codes, 30_000).reason(),
            "disposition-already-set"
        );
    }

    #[test]
    fn voice_is_recognised_in_either_case() {
        assert!(is_voice("voice"));
        assert!(is_voice("VOICE"));
        assert!(!is_voice("callback"));
    }
}
