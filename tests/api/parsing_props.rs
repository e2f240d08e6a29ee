//! Property tests of event parsing and payload decoding: arbitrary input never panics and always
//! gets a verdict (update, ignored or rejected).

use gev_consumer::lambda::decode;
use gev_core::domain::{MAX_ID_LEN, ParsedEvent};
use gev_core::parse::parse_event;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Keys the parser looks for, so that random objects reach deep into its paths.
const KEYS: &[&str] = &[
    "detail",
    "detail-type",
    "detailType",
    "interactionId",
    "sequenceId",
    "interactionType",
    "state",
    "eventBody",
    "conversationId",
    "participantId",
    "mediaType",
    "eventTime",
    "metadata",
    "CorrelationId",
    "topicName",
    "Records",
    "body",
    "eventSource",
    "messageId",
    "details",
    "id",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("purecloud:v2:interaction:update"),
            Just("v2.detail.events.conversation.{id}.user.end"),
            Just("v2.detail.events.conversation.{id}.acw"),
            Just("VOICE"),
            Just("aws:sqs"),
            Just("../../admin"),
            Just(""),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_owned),
                        "\\PC{0,12}"
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn is_path_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_never_panics_and_gets_a_verdict(value in arb_json()) {
        let verdict = parse_event(&value);
        let is_verdict = matches!(
            verdict,
            ParsedEvent::Update(_) | ParsedEvent::Conversation(_) | ParsedEvent::Ignored { .. } | ParsedEvent::Rejected { .. }
        );
        prop_assert!(is_verdict);
        let (_, items) = decode(value);
        for item in items {
            if let Ok(event) = item.event {
                let _ = parse_event(&event);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            let _ = parse_event(&value);
            let _ = decode(value);
        }
        let record = json!({"Records": [{"messageId": "m", "eventSource": "aws:sqs",
                                          "body": String::from_utf8_lossy(&bytes)}]});
        let (_, items) = decode(record);
        prop_assert_eq!(items.len(), 1);
    }

    #[test]
    fn any_detail_under_the_tutorial_detail_type_is_an_update_or_a_rejection(detail in arb_json()) {
        let event = json!({"detail-type": "purecloud:v2:interaction:update", "detail": detail});
        match parse_event(&event) {
            ParsedEvent::Update(update) => {
                prop_assert!(is_path_safe(update.interaction_id.as_str()));
                prop_assert!(is_path_safe(update.sequence_id.as_str()));
            }
            ParsedEvent::Rejected { field, reason } => prop_assert!(reason.starts_with(&field)),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn any_body_under_a_native_topic_is_a_conversation_event_or_a_rejection(
        body in arb_json(),
        topic in prop::sample::select(vec!["user.end", "customer.end", "acw"]),
    ) {
        let event = json!({
            "detail-type": format!("v2.detail.events.conversation.{{id}}.{topic}"),
            "detail": {"eventBody": body, "metadata": {"CorrelationId": "c"}}
        });
        match parse_event(&event) {
            ParsedEvent::Conversation(conversation) => {
                prop_assert!(is_path_safe(conversation.conversation_id.as_str()));
                if let Some(participant) = &conversation.participant_id {
                    prop_assert!(is_path_safe(participant.as_str()));
                }
            }
            ParsedEvent::Rejected { field, reason } => prop_assert!(reason.starts_with(&field)),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn any_text_as_an_interaction_id_is_path_safe_or_rejected(id in "\\PC{0,200}", sequence in any::<u64>()) {
        let event = json!({
            "detail-type": "purecloud:v2:interaction:update",
            "detail": {"interactionId": id, "sequenceId": sequence}
        });
        match parse_event(&event) {
            ParsedEvent::Update(update) => prop_assert!(is_path_safe(update.interaction_id.as_str())),
            ParsedEvent::Rejected { field, .. } => prop_assert_eq!(field, "detail.interactionId"),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
