"""The checker itself: it reads the SDK as Genesys publishes it, and names each mismatch by its JSON path."""

from . import sdk_models as sdk


def test_a_model_is_read_from_the_sdk_by_its_json_names_with_its_enum_values():
    participant = sdk.model("Participant")

    assert participant.types["userId"] == "str"
    assert participant.types["calls"] == "list[Call]"
    assert "user" not in participant.types
    assert "agentRequested" in participant.enums["wrapupPrompt"]


def test_an_endpoint_is_found_by_method_and_concrete_path_with_its_body_and_response_models():
    get = sdk.endpoint("GET", "/api/v2/conversations/c-1")
    patch = sdk.endpoint("PATCH", "/api/v2/conversations/calls/c-1/participants/p-1")
    subscribe = sdk.endpoint("PUT", "/api/v2/notifications/channels/ch-1/subscriptions")

    assert (get.path, get.response) == ("/api/v2/conversations/{conversationId}", "Conversation")
    assert patch.path == "/api/v2/conversations/calls/{conversationId}/participants/{participantId}"
    assert (patch.body, patch.response) == ("MediaParticipantRequest", None)
    assert (subscribe.body, subscribe.query) == ("list[ChannelTopic]", {"ignoreErrors": "bool"})
    assert sdk.endpoint("GET", "/api/v2/interactions/i-1") is None


def test_a_literal_segment_wins_over_a_template_segment():
    media = sdk.endpoint("GET", "/api/v2/conversations/calls/c-1")

    assert (media.path, media.response) == ("/api/v2/conversations/calls/{conversationId}",
                                            "CallConversation")


def test_a_conforming_conversation_has_no_mismatch_and_counts_its_fields():
    conversation = {"id": "c-1", "startTime": "2026-11-23T10:00:05.000Z", "x-sim": {"any": 1},
                    "participants": [{"id": "p-1", "purpose": "agent", "userId": "u-1",
                                      "wrapupRequired": True, "attributes": {"k": "v"},
                                      "calls": [{"id": "k-1", "state": "disconnected"}]}]}

    found = sdk.check(conversation, "Conversation")

    assert found.mismatches == []
    assert found.fields == 11


def test_each_kind_of_mismatch_is_named_by_its_json_path():
    conversation = {"participants": [{"id": "p-0"}, {
        "user": {"id": "u-1"},
        "startTime": "2026-11-23T10:00:05Z",
        "wrapupRequired": "yes",
        "wrapupPrompt": "AGENTREQUESTED",
        "calls": [{"state": "hung-up"}],
        "attributes": {"k": 1},
    }]}

    found = sdk.check(conversation, "Conversation")

    assert found.mismatches == [
        "participants[1].user: not in Participant",
        'participants[1].startTime: "2026-11-23T10:00:05Z" is not a Genesys datetime (yyyy-mm-ddThh:mm:ss.sssZ)',
        'participants[1].wrapupRequired: "yes" is not a bool',
        'participants[1].wrapupPrompt: "AGENTREQUESTED" is not one of Participant.wrapupPrompt\'s '
        "['mandatory', 'optional', 'agentRequested', 'timeout', 'forcedTimeout'] (differs only in case)",
        'participants[1].calls[0].state: "hung-up" is not one of Call.state\'s '
        "['alerting', 'dialing', 'contacting', 'offering', 'connected', 'disconnected', "
        "'terminated', 'converting', 'uploading', 'transmitting', 'none']",
        "participants[1].attributes.k: 1 is not a str",
    ]


def test_a_top_level_list_body_is_checked_item_by_item():
    found = sdk.check([{"id": "t"}, {"id": "u", "topic": "x"}], "list[ChannelTopic]")

    assert found.mismatches == ["[1].topic: not in ChannelTopic"]


def test_a_query_parameter_is_read_with_its_type_and_its_text_checked_against_it():
    queues = sdk.endpoint("GET", "/api/v2/routing/queues")

    assert queues.query["pageSize"] == "int"
    assert sdk.query_value_problem("100", "int") is None
    assert sdk.query_value_problem("all", "int") == '"all" is not an int'
    assert sdk.query_value_problem("true", "bool") is None
