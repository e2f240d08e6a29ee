//! The native Genesys Cloud dialect: conversation events, the fetched conversation, and the wrap-up rules.

use super::eligibility::IneligibleReason;
#[cfg(test)]
use super::eligibility::is_voice;
use super::ids::{CommunicationId, ConversationId, DivisionId, ParticipantId, QueueId};
use super::interaction::EpochMillis;
use super::keys::{DedupKey, EventKey, TargetKey};
use std::fmt;

/// The conversation topics this consumer handles (`v2.detail.events.conversation.{id}.<topic>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConversationTopic {
    /// An agent (user) left the conversation.
    UserEnd,
    /// The customer left the conversation.
    CustomerEnd,
    /// An agent finished after-call work (a wrap-up was applied).
    AfterCallWork,
}

impl ConversationTopic {
    /// The topic from a detail-type or topic name's suffix.
    pub(crate) fn from_suffix(name: &str) -> Option<Self> {
        if name.ends_with(".user.end") {
            Some(ConversationTopic::UserEnd)
        } else if name.ends_with(".customer.end") {
            Some(ConversationTopic::CustomerEnd)
        } else if name.ends_with(".acw") {
            Some(ConversationTopic::AfterCallWork)
        } else {
            None
        }
    }

    /// The topic's suffix, e.g. `user.end`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConversationTopic::UserEnd => "user.end",
            ConversationTopic::CustomerEnd => "customer.end",
            ConversationTopic::AfterCallWork => "acw",
        }
    }
}

/// A conversation's media type as Genesys Cloud spells it (`VOICE`, `CHAT`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaType(String);

impl MediaType {
    /// The media type named `name` (any case).
    pub fn new(name: &str) -> Self {
        MediaType(name.trim().to_ascii_uppercase())
    }

    /// `VOICE`.
    pub fn voice() -> Self {
        MediaType("VOICE".into())
    }

    /// True for voice calls.
    #[cfg(test)]
    pub(crate) fn is_voice(&self) -> bool {
        is_voice(&self.0)
    }

    /// The Conversations API path segment of this media (`calls` for voice), if it has one.
    pub fn api_segment(&self) -> Option<&'static str> {
        match self.0.as_str() {
            "VOICE" | "CALL" => Some("calls"),
            "CALLBACK" => Some("callbacks"),
            "CHAT" => Some("chats"),
            "EMAIL" => Some("emails"),
            "MESSAGE" => Some("messages"),
            _ => None,
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One `v2.detail.events.conversation.{id}.<topic>` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationEvent {
    /// Which topic the event is.
    pub topic: ConversationTopic,
    /// `detail.topicName`, with the conversation id in it.
    pub(crate) topic_name: String,
    /// `eventBody.conversationId`.
    pub conversation_id: ConversationId,
    /// The participant the event is about (an agent for `user.end` and `acw`).
    pub participant_id: Option<ParticipantId>,
    /// `eventBody.mediaType`.
    pub media_type: MediaType,
    /// `eventBody.eventTime`, epoch milliseconds.
    pub(crate) event_time_ms: Option<EpochMillis>,
    /// `metadata.CorrelationId`.
    pub(crate) correlation_id: Option<String>,
    /// `eventBody.wrapupCode` of an `acw` event: the code the agent chose, if any.
    pub wrapup_code: Option<String>,
    /// `eventBody.queueId` (`user.end`, `acw`; `customer.end` has none).
    pub queue_id: Option<QueueId>,
    /// `eventBody.divisionId` (`user.end`, `customer.end`).
    pub division_id: Option<DivisionId>,
    /// `eventBody.direction`, upper case (`INBOUND`, `OUTBOUND`).
    pub direction: Option<String>,
    /// `eventBody.interactingDurationMs` (`user.end`, `customer.end`).
    pub interacting_ms: Option<i64>,
    /// `metadata.backfilled`: the bridge made it from the analytics API for a call whose
    /// events were lost (its `acw` too).
    pub backfilled: bool,
}

impl ConversationEvent {
    /// The dedup key: every redelivery of one Genesys event has the same topic, participant and
    /// event time (or, without an event time, the same correlation id).
    pub fn dedup_key(&self) -> DedupKey {
        let participant = self.participant_id.as_ref().map_or("-", |p| p.as_str());
        let instant = match (self.event_time_ms, &self.correlation_id) {
            (Some(ms), _) => ms.to_string(),
            (None, Some(correlation)) => format!("c:{correlation}"),
            (None, None) => "-".into(),
        };
        native_dedup_key(
            self.conversation_id.as_str(),
            self.topic,
            participant,
            &instant,
        )
    }

    /// The text reported as the event's `sequenceId`: its event time.
    pub fn sequence_label(&self) -> Option<String> {
        self.event_time_ms.map(|ms| ms.to_string())
    }
}

/// The dedup key of a native event of `topic` about `participant` (`-` for none) in
/// `conversation` at `instant` (its event time in epoch ms, or `c:` and its correlation id).
pub fn native_dedup_key(
    conversation: &str,
    topic: ConversationTopic,
    participant: &str,
    instant: &str,
) -> DedupKey {
    DedupKey {
        target: TargetKey::native_conversation(conversation),
        event: EventKey::new(format!("{}#{participant}#{instant}", topic.as_str())),
    }
}

/// One participant of a fetched conversation, as far as the wrap-up rules need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParticipantSnapshot {
    /// `id`, when it is path-safe.
    pub id: Option<ParticipantId>,
    /// `purpose`: `agent`, `user`, `customer`, `acd`, `ivr`, ...
    pub purpose: String,
    /// `queueId`: the queue the participant was routed from, when it was.
    pub queue_id: Option<QueueId>,
    /// Its last communication's `state` (`connected`, `disconnected`, `terminated`, ...): the
    /// `Participant` model has no state of its own.
    pub state: String,
    /// `connectedTime` (epoch ms).
    pub connected: Option<EpochMillis>,
    /// `endTime` (epoch ms).
    pub ended: Option<EpochMillis>,
    /// Where the participant's after-call work stands.
    pub after_call_work: AfterCallWork,
    /// `wrapupRequired`, when the API said.
    pub wrapup_required: Option<bool>,
    /// `wrapup.code`, when a wrap-up was applied.
    pub wrapup_code: Option<String>,
    /// The last communication (`calls[]`) of the participant.
    pub communication_id: Option<CommunicationId>,
}

impl ParticipantSnapshot {
    /// True for `agent` and `user` participants (who may be wrapped up).
    pub fn is_agent(&self) -> bool {
        self.purpose.eq_ignore_ascii_case("agent") || self.purpose.eq_ignore_ascii_case("user")
    }

    fn has_ended(&self) -> bool {
        self.ended.is_some()
            || self.state.eq_ignore_ascii_case("disconnected")
            || self.state.eq_ignore_ascii_case("terminated")
    }

    /// Connected-to-end duration; 0 when either end is unknown.
    pub fn duration_ms(&self) -> i64 {
        match (self.connected, self.ended) {
            (Some(start), Some(end)) => end.saturating_sub(start),
            _ => 0,
        }
    }
}

/// Where a participant's after-call work (ACW) stands, from its communication's
/// `afterCallWork.state` or, failing that, the participant's `startAcwTime` / `endAcwTime`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AfterCallWork {
    /// Nothing said.
    #[default]
    Unknown,
    /// `notApplicable`: no after-call work for this communication.
    NotRequired,
    /// `pending`, or started and not ended: the agent is choosing a code.
    Pending,
    /// `complete` or `skipped`, or ended (by the agent or its timeout).
    Ended,
}

/// When the native dialect applies the default wrap-up (`WRAPUP_TRIGGER`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WrapupTrigger {
    /// `after-acw` (default): once the agent's after-call work ended without a code, or at the
    /// end of a call that needs no wrap-up; while it is pending, the agent's own choice wins.
    #[default]
    AfterAfterCallWork,
    /// `call-end`: as soon as the agent's call ended, even during after-call work (pre-empting
    /// the agent's choice).
    CallEnd,
}

/// A conversation as `GET /api/v2/conversations/{id}` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationSnapshot {
    /// Everyone who took part.
    pub participants: Vec<ParticipantSnapshot>,
}

/// The participant to wrap up, once the rules said yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapupTarget {
    /// The agent's participant.
    pub participant_id: ParticipantId,
    /// Its last communication, for the communication-level wrap-up.
    pub communication_id: Option<CommunicationId>,
}

/// The verdict of the wrap-up rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrapupVerdict {
    /// Wrap this agent up.
    Eligible(WrapupTarget),
    /// Leave it: the first rule that failed.
    Ineligible(IneligibleReason),
}

impl WrapupVerdict {
    /// `eligible`, or the failed rule's name.
    pub fn reason(&self) -> &'static str {
        match self {
            WrapupVerdict::Eligible(_) => "eligible",
            WrapupVerdict::Ineligible(reason) => reason.as_str(),
        }
    }
}

/// Which agent participant an event is about: the event's own participant when it is an agent,
/// else (e.g. `customer.end`) the agent who connected last.
pub(crate) fn agent_participant<'a>(
    conversation: &'a ConversationSnapshot,
    event_participant: Option<&ParticipantId>,
) -> Option<&'a ParticipantSnapshot> {
    let agents = conversation
        .participants
        .iter()
        .filter(|p| p.is_agent() && p.id.is_some());
    if let Some(wanted) = event_participant
        && let Some(own) = agents.clone().find(|p| p.id.as_ref() == Some(wanted))
    {
        return Some(own);
    }
    agents.max_by_key(|p| p.connected.unwrap_or(i64::MIN))
}

/// The wrap-up rules on the agent's participant, in order; the first that fails names the reason:
/// an agent participant exists (`no-agent-participant`); its call ended, or it is in after-call
/// work (`interaction-not-completed`); with the default trigger, its after-call work is not
/// pending, nor unknown while a wrap-up is required (`agent-in-after-call-work`); it has no
/// wrap-up (`wrap-up-already-set`); and it was connected for at least the threshold
/// (`duration-below-threshold`).
pub fn decide_wrapup(
    conversation: &ConversationSnapshot,
    event_participant: Option<&ParticipantId>,
    duration_threshold_ms: i64,
    trigger: WrapupTrigger,
) -> WrapupVerdict {
    use IneligibleReason::*;
    let Some(agent) = agent_participant(conversation, event_participant) else {
        return WrapupVerdict::Ineligible(NoAgentParticipant);
    };
    let acw = agent.after_call_work;
    let acw_pending = acw == AfterCallWork::Pending
        || (acw == AfterCallWork::Unknown && agent.wrapup_required == Some(true));
    let failed = if !(agent.has_ended() || acw == AfterCallWork::Pending) {
        Some(InteractionNotCompleted)
    } else if trigger == WrapupTrigger::AfterAfterCallWork && acw_pending {
        Some(AgentInAfterCallWork)
    } else if agent
        .wrapup_code
        .as_deref()
        .is_some_and(|code| !code.is_empty())
    {
        Some(WrapUpAlreadySet)
    } else if agent.duration_ms() < duration_threshold_ms {
        Some(DurationBelowThreshold)
    } else {
        None
    };
    match (failed, &agent.id) {
        (Some(reason), _) => WrapupVerdict::Ineligible(reason),
        (None, Some(id)) => WrapupVerdict::Eligible(WrapupTarget {
            participant_id: id.clone(),
            communication_id: agent.communication_id.clone(),
        }),
        (None, None) => WrapupVerdict::Ineligible(NoAgentParticipant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL_END: WrapupTrigger = WrapupTrigger::CallEnd;
    const AFTER_ACW: WrapupTrigger = WrapupTrigger::AfterAfterCallWork;

    fn pid(id: &str) -> ParticipantId {
        ParticipantId::parse(id).unwrap()
    }

    fn agent(id: &str, connected: i64, ended: Option<i64>) -> ParticipantSnapshot {
        ParticipantSnapshot {
            id: Some(pid(id)),
            purpose: "agent".into(),
            state: if ended.is_some() {
                "disconnected"
            } else {
                "connected"
            }
            .into(),
            connected: Some(connected),
            ended,
            communication_id: Some(CommunicationId::parse(&format!("{id}-call")).unwrap()),
            ..Default::default()
        }
    }

    fn customer() -> ParticipantSnapshot {
        ParticipantSnapshot {
            id: Some(pid("customer-1")),
            purpose: "customer".into(),
            state: "disconnected".into(),
            connected: Some(0),
            ended: Some(100_000),
            ..Default::default()
        }
    }

    fn conversation(participants: Vec<ParticipantSnapshot>) -> ConversationSnapshot {
        ConversationSnapshot { participants }
    }

    #[test]
    fn an_ended_long_call_without_wrapup_is_eligible_for_the_agent() {
        let call = conversation(vec![customer(), agent("a-1", 1_000, Some(61_000))]);
        assert_eq!(
            decide_wrapup(&call, Some(&pid("a-1")), 30_000, CALL_END),
            WrapupVerdict::Eligible(WrapupTarget {
                participant_id: pid("a-1"),
                communication_id: Some(CommunicationId::parse("a-1-call").unwrap()),
            })
        );
    }

    #[test]
    fn a_customer_end_event_targets_the_agent_who_connected_last() {
        let call = conversation(vec![
            customer(),
            agent("first", 1_000, Some(20_000)),
            agent("second", 20_000, Some(90_000)),
        ]);
        let verdict = decide_wrapup(&call, Some(&pid("customer-1")), 30_000, CALL_END);
        let WrapupVerdict::Eligible(target) = verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!(target.participant_id, pid("second"));
    }

    #[test]
    fn a_user_participant_counts_as_an_agent() {
        let mut user = agent("u-1", 0, Some(40_000));
        user.purpose = "user".into();
        assert_eq!(
            decide_wrapup(&conversation(vec![user]), None, 30_000, CALL_END).reason(),
            "eligible"
        );
    }

    #[test]
    fn a_call_without_an_agent_is_refused_with_its_own_reason() {
        let ivr = ParticipantSnapshot {
            purpose: "ivr".into(),
            ..customer()
        };
        assert_eq!(
            decide_wrapup(&conversation(vec![customer(), ivr]), None, 30_000, CALL_END).reason(),
            "no-agent-participant"
        );
    }

    #[test]
    fn an_agent_still_connected_is_not_completed() {
        let call = conversation(vec![agent("a-1", 0, None)]);
        assert_eq!(
            decide_wrapup(&call, None, 30_000, CALL_END).reason(),
            "interaction-not-completed"
        );
    }

    #[test]
    fn with_the_call_end_trigger_an_agent_in_after_call_work_is_eligible() {
        let mut in_acw = agent("a-1", 0, None);
        in_acw.after_call_work = AfterCallWork::Pending;
        in_acw.ended = Some(45_000);
        assert_eq!(
            decide_wrapup(&conversation(vec![in_acw]), None, 30_000, CALL_END).reason(),
            "eligible"
        );
    }

    #[test]
    fn by_default_an_agent_in_after_call_work_keeps_its_own_choice() {
        let mut in_acw = agent("a-1", 0, Some(45_000));
        in_acw.after_call_work = AfterCallWork::Pending;
        assert_eq!(
            decide_wrapup(&conversation(vec![in_acw]), None, 30_000, AFTER_ACW).reason(),
            "agent-in-after-call-work"
        );
    }

    #[test]
    fn by_default_a_required_wrapup_with_unknown_after_call_work_waits_for_the_acw_event() {
        let mut ended = agent("a-1", 0, Some(45_000));
        ended.wrapup_required = Some(true);
        assert_eq!(
            decide_wrapup(&conversation(vec![ended]), None, 30_000, AFTER_ACW).reason(),
            "agent-in-after-call-work"
        );
    }

    #[test]
    fn by_default_after_call_work_ended_without_a_code_is_eligible() {
        let mut done = agent("a-1", 0, Some(45_000));
        done.wrapup_required = Some(true);
        done.after_call_work = AfterCallWork::Ended;
        assert_eq!(
            decide_wrapup(&conversation(vec![done]), None, 30_000, AFTER_ACW).reason(),
            "eligible"
        );
    }

    #[test]
    fn by_default_a_call_that_needs_no_wrapup_is_eligible_at_its_end() {
        let mut no_acw = agent("a-1", 0, Some(45_000));
        no_acw.wrapup_required = Some(false);
        no_acw.after_call_work = AfterCallWork::NotRequired;
        assert_eq!(
            decide_wrapup(&conversation(vec![no_acw]), None, 30_000, AFTER_ACW).reason(),
            "eligible"
        );
    }

    #[test]
    fn a_terminated_state_counts_as_ended() {
        let mut gone = agent("a-1", 0, None);
        gone.state = "terminated".into();
        assert_eq!(
            decide_wrapup(&conversation(vec![gone]), None, 30_000, CALL_END).reason(),
            "duration-below-threshold"
        );
    }

    #[test]
    fn an_applied_wrapup_is_left_alone() {
        let mut wrapped = agent("a-1", 0, Some(60_000));
        wrapped.wrapup_code = Some("w-1".into());
        assert_eq!(
            decide_wrapup(&conversation(vec![wrapped]), None, 30_000, CALL_END).reason(),
            "wrap-up-already-set"
        );
    }

    #[test]
    fn a_short_connection_is_below_the_threshold() {
        let call = conversation(vec![agent("a-1", 0, Some(29_999))]);
        assert_eq!(
            decide_wrapup(&call, None, 30_000, CALL_END).reason(),
            "duration-below-threshold"
        );
        assert_eq!(
            decide_wrapup(&call, None, 29_999, CALL_END).reason(),
            "eligible"
        );
    }

    #[test]
    fn unknown_connection_times_count_as_zero() {
        let mut agent = agent("a-1", 0, Some(60_000));
        agent.connected = None;
        assert_eq!(agent.duration_ms(), 0);
    }

    #[test]
    fn the_topic_is_read_from_the_detail_type_suffix() {
        let prefix = "v2.detail.events.conversation.{id}";
        assert_eq!(
            ConversationTopic::from_suffix(&format!("{prefix}.user.end")),
            Some(ConversationTopic::UserEnd)
        );
        assert_eq!(
            ConversationTopic::from_suffix(&format!("{prefix}.customer.end")),
            Some(ConversationTopic::CustomerEnd)
        );
        assert_eq!(
            ConversationTopic::from_suffix(&format!("{prefix}.acw")),
            Some(ConversationTopic::AfterCallWork)
        );
        assert_eq!(
            ConversationTopic::from_suffix(&format!("{prefix}.user.start")),
            None
        );
    }

    #[test]
    fn redeliveries_share_a_dedup_key_and_other_events_do_not() {
        let event = ConversationEvent {
            topic: ConversationTopic::UserEnd,
            topic_name: "v2.detail.events.conversation.c-1.user.end".into(),
            conversation_id: ConversationId::parse("c-1").unwrap(),
            participant_id: Some(pid("a-1")),
            media_type: MediaType::voice(),
            event_time_ms: Some(1_700_000_000_000),
            correlation_id: Some("x".into()),
            wrapup_code: None,
            queue_id: None,
            division_id: None,
            direction: None,
            interacting_ms: None,
            backfilled: false,
        };
        let later = ConversationEvent {
            event_time_ms: Some(1_700_000_000_001),
            ..event.clone()
        };
        let other_agent = ConversationEvent {
            participant_id: Some(pid("a-2")),
            ..event.clone()
        };
        assert_eq!(event.dedup_key(), event.clone().dedup_key());
        assert_ne!(event.dedup_key(), later.dedup_key());
        assert_ne!(event.dedup_key(), other_agent.dedup_key());
    }

    #[test]
    fn media_types_map_to_their_api_paths() {
        assert_eq!(MediaType::new("voice").api_segment(), Some("calls"));
        assert_eq!(MediaType::new("CALLBACK").api_segment(), Some("callbacks"));
        assert_eq!(MediaType::new("SCREENSHARE").api_segment(), None);
        assert!(MediaType::new("VOICE").is_voice());
    }
}
