"""What genesys-sim answers is what the SDK says Genesys answers: each endpoint it serves that the
SDK knows, called on the sample seed, and its answer checked against the endpoint's response model.

"""

import json

import pytest

from . import harness
from .harness import covers

DETAILS_QUERY = "/api/v2/analytics/conversations/details/query"
INTEGRATION_TYPE = "amazon-eventbridge-source"
OTHER_MEDIA = {"CALLBACK": "callbacks", "CHAT": "chats", "EMAIL": "emails", "MESSAGE": "messages"}


def seeded_conversations(sim):
    return sim.seed_data()["conversations"]


def media_segment(conversation):
    media = conversation.get("mediaType", "VOICE")
    return "calls" if media in ("VOICE", "CALL") else OTHER_MEDIA[media]


def an_agent_leg(conversation):
    """(participant id, communication id) of the conversation's first agent with a call."""
    for participant in conversation["participants"]:
        if participant.get("purpose") == "agent" and participant.get("calls"):
            return participant["id"], participant["calls"][0]["id"]
    raise AssertionError(f"conversation {conversation['id']} has no agent with a call")


# --- conversations ---------------------------------------------------------------------------------


@covers("GET /api/v2/conversations/{id}")
def test_every_seeded_conversation_is_an_sdk_conversation(sim, contract):
    """(Failed at 6407c2b: participants[].user, .queue and .state are not in Participant.)"""
    for conversation in seeded_conversations(sim):
        contract.response(sim, "GET", f"/api/v2/conversations/{conversation['id']}",
                          instance=conversation["id"][-4:])
    contract.assert_all_match()


@covers("GET /api/v2/conversations/{segment}/{id}")
def test_every_seeded_conversation_seen_by_its_media_is_that_medias_sdk_conversation(sim, contract):
    """The media view lists `CallMediaParticipant`s: `user` and `queue` as {id} references (not the
    generic view's `userId` / `queueId`) and the participant's own `state`."""
    for conversation in seeded_conversations(sim):
        path = f"/api/v2/conversations/{media_segment(conversation)}/{conversation['id']}"
        if not harness.not_in_sdk("GET", path):
            contract.response(sim, "GET", path, instance=conversation["id"][-4:])
    contract.assert_all_match()


@pytest.fixture(scope="module")
def other_media_sim(tmp_path_factory):
    """genesys-sim seeded with the sample's first conversation once per other media type."""
    first = json.loads(harness.SAMPLE_SEED.read_text())["conversations"][0]
    copies = [dict(first, id=f"{first['id'][:-4]}{media[:4].lower()}", mediaType=media)
              for media in OTHER_MEDIA]
    seed = tmp_path_factory.mktemp("media") / "seed.json"
    seed.write_text(json.dumps({"interactions": [], "conversations": copies}))
    with harness.running_simulator(seed) as simulator:
        yield simulator


@covers("GET /api/v2/conversations/{segment}/{id}",
        "PATCH /api/v2/conversations/{segment}/{id}/participants/{participant}")
def test_a_conversation_of_each_other_media_is_that_medias_sdk_conversation(other_media_sim, contract):
    """The sample seed has voice calls only: its first call, seeded as a callback, email and
    message (chats: see harness.NOT_IN_SDK), read, wrapped up, and read again.
    Each lists its media's `*MediaParticipant`s, with `user` and `queue` as references."""
    for conversation in other_media_sim.seed_data()["conversations"]:
        path = f"/api/v2/conversations/{media_segment(conversation)}/{conversation['id']}"
        if harness.not_in_sdk("GET", path):
            continue
        participant, _ = an_agent_leg(conversation)
        contract.response(other_media_sim, "GET", path, instance=conversation["mediaType"])
        contract.response(other_media_sim, "PATCH", f"{path}/participants/{participant}",
                          body={"wrapup": {"code": "f00dcafe-0000-4000-8000-000000000001"}},
                          instance=conversation["mediaType"])
        contract.response(other_media_sim, "GET", path,
                          instance=f"{conversation['mediaType']} after a wrap-up")
    contract.assert_all_match()


@covers("PATCH /api/v2/conversations/{segment}/{id}/participants/{participant}")
def test_a_participant_wrap_up_is_answered_as_the_sdk_expects_and_leaves_an_sdk_conversation(
        fresh_sim, contract):
    """After a wrap-up, both views of the call still match their models."""
    conversation = seeded_conversations(fresh_sim)[0]
    participant, _ = an_agent_leg(conversation)
    base = f"/api/v2/conversations/calls/{conversation['id']}"

    contract.response(fresh_sim, "PATCH", f"{base}/participants/{participant}",
                      body={"wrapup": {"code": "f00dcafe-0000-4000-8000-000000000001",
                                       "notes": "contract"}})
    contract.response(fresh_sim, "GET", f"/api/v2/conversations/{conversation['id']}",
                      instance="after a wrap-up")
    contract.response(fresh_sim, "GET", base, instance="after a wrap-up")
    contract.assert_all_match()


@covers("POST /api/v2/conversations/{segment}/{id}/participants/{participant}/communications/{communication}/wrapup")
def test_a_communication_wrap_up_is_answered_as_the_sdk_expects(fresh_sim, contract):
    conversation = seeded_conversations(fresh_sim)[0]
    participant, communication = an_agent_leg(conversation)
    path = (f"/api/v2/conversations/calls/{conversation['id']}/participants/{participant}"
            f"/communications/{communication}/wrapup")

    contract.response(fresh_sim, "POST", path, body={"code": "f00dcafe-0000-4000-8000-000000000001"})
    contract.response(fresh_sim, "GET", f"/api/v2/conversations/{conversation['id']}",
                      instance="after a wrap-up")
    contract.assert_all_match()


# --- the EventBridge integration (configure) -------------------------------------------------------


@covers("GET /api/v2/integrations", "POST /api/v2/integrations", "GET /api/v2/integrations/{id}",
        "PATCH /api/v2/integrations/{id}", "GET /api/v2/integrations/{id}/config/current",
        "PUT /api/v2/integrations/{id}/config/current")
def test_an_integration_created_enabled_and_configured_is_answered_in_sdk_models(fresh_sim, contract):
    created = contract.response(fresh_sim, "POST", "/api/v2/integrations",
                                body={"name": "contract", "integrationType": {"id": INTEGRATION_TYPE}})
    integration = created.body["id"]
    base = f"/api/v2/integrations/{integration}"

    contract.response(fresh_sim, "GET", "/api/v2/integrations",
                      query=f"integrationType={INTEGRATION_TYPE}&pageSize=100")
    contract.response(fresh_sim, "PATCH", base, body={"intendedState": "ENABLED"})
    contract.response(fresh_sim, "GET", base, instance="activating")
    contract.response(fresh_sim, "GET", base, instance="active")
    config = contract.response(fresh_sim, "GET", f"{base}/config/current").body
    contract.response(fresh_sim, "PUT", f"{base}/config/current", body={
        "name": "contract", "version": config["version"], "notes": "",
        "properties": {"awsAccountId": "123456789012", "awsAccountRegion": "eu-west-1",
                       "eventSourceSuffix": "contract",
                       "eventFilter": ["v2.detail.events.conversation.{id}.user.end"]},
        "advanced": {}, "credentials": {}})
    contract.response(fresh_sim, "GET", "/api/v2/integrations", instance="after a change")
    contract.assert_all_match()


@covers("GET /api/v2/integrations/types/amazon-eventbridge-source/configschemas/properties")
def test_the_integration_types_properties_schema_is_an_sdk_json_schema_document(sim, contract):
    contract.response(sim, "GET",
                      f"/api/v2/integrations/types/{INTEGRATION_TYPE}/configschemas/properties")
    contract.assert_all_match()


@covers("GET /api/v2/notifications/availabletopics")
def test_the_available_topics_are_an_sdk_available_topic_listing(sim, contract):
    contract.response(sim, "GET", "/api/v2/notifications/availabletopics", query="expand=transports")
    contract.assert_all_match()


@covers("GET /api/v2/organizations/me")
def test_the_organization_is_an_sdk_organization(sim, contract):
    contract.response(sim, "GET", "/api/v2/organizations/me")
    contract.assert_all_match()


# --- notifications (stream, bridge) ----------------------------------------------------------------


@covers("POST /api/v2/notifications/channels", "HEAD /api/v2/notifications/channels/{id}",
        "GET /api/v2/notifications/channels/{id}/subscriptions",
        "PUT /api/v2/notifications/channels/{id}/subscriptions",
        "POST /api/v2/notifications/channels/{id}/subscriptions",
        "DELETE /api/v2/notifications/channels/{id}/subscriptions")
def test_a_channel_and_its_subscriptions_are_answered_in_sdk_models(sim, contract):
    conversation = seeded_conversations(sim)[0]["id"]
    topic = f"v2.detail.events.conversation.{conversation}.user.end"
    channel = contract.response(sim, "POST", "/api/v2/notifications/channels").body["id"]
    base = f"/api/v2/notifications/channels/{channel}"

    contract.response(sim, "HEAD", base)
    contract.response(sim, "PUT", f"{base}/subscriptions", body=[{"id": topic}],
                      query="ignoreErrors=true")
    contract.response(sim, "POST", f"{base}/subscriptions",
                      body=[{"id": topic.replace(".user.end", ".acw")},
                            {"id": "v2.detail.events.conversation.{id}.acw"}],
                      query="ignoreErrors=true", instance="with a rejected topic")
    contract.response(sim, "GET", f"{base}/subscriptions")
    contract.response(sim, "DELETE", f"{base}/subscriptions")
    contract.assert_all_match()


# --- analytics (bridge --backfill) and routing (bridge --follow-queue all) --------------------------


@covers(f"POST {DETAILS_QUERY}")
def test_the_conversation_details_query_answers_sdk_analytics_conversations(sim, contract):
    queue = "c0ffee00-1111-4222-8333-444455556666"
    query = {"interval": "2026-11-23T00:00:00.000Z/2026-11-24T00:00:00.000Z",
             "order": "asc", "orderBy": "conversationStart",
             "paging": {"pageSize": 100, "pageNumber": 1},
             "segmentFilters": [{"type": "and", "predicates": [
                 {"type": "dimension", "dimension": "mediaType", "value": "voice"},
                 {"type": "dimension", "dimension": "queueId", "value": queue}]}]}

    answer = contract.response(sim, "POST", DETAILS_QUERY, body=query)
    contract.response(sim, "POST", DETAILS_QUERY, instance="a page past the end",
                      body=dict(query, paging={"pageSize": 100, "pageNumber": 9}))
    contract.assert_all_match()
    assert answer.body.get("conversations"), "the query found none of the seeded conversations"


@covers("GET /api/v2/routing/queues", "GET /api/v2/routing/queues/{id}",
        "GET /api/v2/routing/queues/{id}/wrapupcodes")
def test_the_queues_are_sdk_queues_with_sdk_wrap_up_codes(sim, contract):
    listing = contract.response(sim, "GET", "/api/v2/routing/queues",
                                query="pageSize=100&pageNumber=1").body
    for queue in (listing or {}).get("entities", []):
        contract.response(sim, "GET", f"/api/v2/routing/queues/{queue['id']}", instance=queue["id"][:8])
        contract.response(sim, "GET", f"/api/v2/routing/queues/{queue['id']}/wrapupcodes",
                          query="pageSize=100&pageNumber=1", instance=queue["id"][:8])
    contract.assert_all_match()


@covers("GET /api/v2/routing/wrapupcodes", "GET /api/v2/routing/wrapupcodes/{id}")
def test_the_wrap_up_codes_are_sdk_wrap_up_codes(sim, contract):
    listing = contract.response(sim, "GET", "/api/v2/routing/wrapupcodes",
                                query="pageSize=100&pageNumber=1").body
    for code in (listing or {}).get("entities", []):
        contract.response(sim, "GET", f"/api/v2/routing/wrapupcodes/{code['id']}",
                          instance=code["id"][:8])
    contract.assert_all_match()


# --- errors ----------------------------------------------------------------------------------------


def test_every_kind_of_error_the_simulator_answers_is_an_sdk_error_body(sim, contract):
    """Genesys answers every error with an `ErrorBody` (the SDK's ApiException carries it; the
    apis modules do not name it per endpoint)."""
    errors = {
        "404 conversation": ("GET", "/api/v2/conversations/no-such-conversation", None),
        "404 integration": ("GET", "/api/v2/integrations/no-such-integration", None),
        "404 channel": ("PUT", "/api/v2/notifications/channels/no-such-channel/subscriptions",
                        [{"id": "v2.users.{id}.presence"}]),
        "400 details query": ("POST", DETAILS_QUERY, {"interval": "yesterday"}),
    }
    for name, (method, path, body) in errors.items():
        answer = sim.api(method, path, body)
        if answer.status < 400:
            contract.problem(f"{method} {path}", "ErrorBody", f"expected an error, got {answer.status}")
        else:
            contract.json("an error answer", answer.body, "ErrorBody", instance=name)
    contract.assert_all_match()
