"""Genesys's notifications are what the SDK says they are: each sample event in events/ with a
native topic, the notifications the simulator generates, and the user.end events the bridge
backfills, checked against the SDK model of their topic (the `eventBody`).

The SDK names no topic: the model of each topic is taken by name (see TOPIC_MODELS).
"""

import json
import re

import pytest

from . import harness

TOPIC_MODELS = {
    "user.end": "UserEndDetailEventTopicUserEndEvent",
    "customer.end": "CustomerEndDetailEventTopicCustomerEndEvent",
    "acw": "AcwDetailEventTopicAfterCallWorkEvent",
}
NATIVE_TOPIC = re.compile(r"v2\.detail\.events\.conversation\.[^.]+\.(.+)")


def native_sample_events():
    """(file name, topic suffix, detail) of every sample event with a native detail topic."""
    found = []
    for path in sorted((harness.ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        topic = (event.get("detail") or {}).get("topicName", "")
        match = NATIVE_TOPIC.fullmatch(topic)
        if match:
            found.append((path.name, match.group(1), event["detail"]))
    return found


def check_notification(contract, what, notification, instance):
    match = NATIVE_TOPIC.fullmatch(notification.get("topicName", ""))
    suffix = match.group(1) if match else notification.get("topicName")
    if suffix not in TOPIC_MODELS:
        contract.problem(what, "?", f"no SDK model for the topic {notification.get('topicName')}", instance)
    else:
        contract.json(f"{what} {suffix}", notification.get("eventBody"), TOPIC_MODELS[suffix], instance)


def test_the_sample_events_are_native_events_of_every_mapped_topic():
    assert {suffix for _, suffix, _ in native_sample_events()} == set(TOPIC_MODELS)


@pytest.mark.parametrize("suffix", sorted(TOPIC_MODELS))
def test_every_sample_event_of_a_topic_is_that_topics_sdk_event(suffix, contract):
    """(Failed at 6407c2b: the acw samples carried divisionId and disconnectType, which
    AcwDetailEventTopicAfterCallWorkEvent lacks, and the customer.end samples queueId.)"""
    for name, topic, detail in native_sample_events():
        if topic == suffix:
            check_notification(contract, "sample event", detail, name[:2])
    contract.assert_all_match()


def test_the_notifications_the_simulator_generates_are_sdk_events(stream_run, contract):
    """POST /sim/notifications/generate keeps its counter under `x-sim`, outside the model's fields."""
    _, notifications = stream_run
    assert notifications, "stream wrote no notification of its topic"
    for notification in notifications:
        check_notification(contract, "genesys-sim notification", notification, "generate")
    contract.assert_all_match()


def test_the_user_end_events_the_bridge_backfills_are_sdk_events(bridge_run, contract):
    """A backfilled event is marked in its metadata; its eventBody is a plain `user.end`."""
    _, bus_events = bridge_run
    backfilled = [event for event in bus_events if is_backfilled(event.get("detail") or {})]
    assert backfilled, f"the bridge backfilled nothing; the bus got {len(bus_events)} events"
    for event in backfilled:
        check_notification(contract, "bridge backfill", event["detail"], "bridge")
    contract.assert_all_match()


def is_backfilled(detail):
    """A backfilled notification: marked so, or with the bridge's `backfill-…` correlation id."""
    correlation = str((detail.get("metadata") or {}).get("CorrelationId", ""))
    return bool((detail.get("eventBody") or {}).get("backfilled")) or correlation.startswith("backfill-")
