"""template.yaml: its rule pattern against the events Genesys sends (moto's EventBridge delivering to
SQS), its dedup table, and the settings the function gets."""

import json
import pathlib
import sys

import boto3
import pytest
import yaml
from moto import mock_aws

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from create_dedup_table import TemplateLoader  # noqa: E402

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def template():
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=TemplateLoader)


def native_event(topic_suffix, source="aws.partner/genesys.com/cloud/0ab1c2d3-org/genesys-events"):
    return {
        "Source": source,
        "DetailType": f"v2.detail.events.conversation.{{id}}.{topic_suffix}",
        "Detail": json.dumps({"topicName": f"v2.detail.events.conversation.c-1.{topic_suffix}",
                              "eventBody": {"conversationId": "c-1"}}),
    }


def test_the_rule_matches_the_genesys_events_we_handle_and_nothing_else(template, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    pattern = template["Resources"]["GenesysEventsRule"]["Properties"]["EventPattern"]
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="matched")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = boto3.client("events", region_name=REGION)
        events.put_rule(Name="genesys", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="genesys", Targets=[{"Id": "q", "Arn": queue_arn}])
        candidates = {
            "tutorial": {"Source": "com.genesys.interaction", "DetailType": "purecloud:v2:interaction:update",
                         "Detail": json.dumps({"interactionId": "i", "sequenceId": "1"})},
            "user.end": native_event("user.end"),
            "customer.end": native_event("customer.end"),
            "acw": native_event("acw"),
            "user.start": native_event("user.start"),
            "not from genesys": native_event("user.end", source="com.example.forged"),
            "unrelated": {"Source": "aws.s3", "DetailType": "Object Created", "Detail": "{}"},
        }
        for name, entry in candidates.items():
            result = events.put_events(Entries=[entry])
            assert result["FailedEntryCount"] == 0, name
        delivered = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            delivered += [json.loads(m["Body"])["detail-type"] for m in batch]

    assert sorted(delivered) == sorted([
        "purecloud:v2:interaction:update",
        "v2.detail.events.conversation.{id}.user.end",
        "v2.detail.events.conversation.{id}.customer.end",
        "v2.detail.events.conversation.{id}.acw",
    ])


def test_the_queue_visibility_timeout_is_six_times_every_allowed_function_timeout(template):
    allowed = template["Parameters"]["FunctionTimeoutSeconds"]["AllowedValues"]
    mapping = template["Mappings"]["QueueVisibility"]
    for timeout in allowed:
        assert mapping[str(timeout)]["Seconds"] == 6 * timeout


def test_the_function_gets_every_setting_it_needs_and_no_plain_secret(template):
    variables = template["Resources"]["DispositionConsumerFunction"]["Properties"]["Environment"]["Variables"]
    for name in ["GENESYS_CLOUD_CREDENTIALS_SECRET_ARN", "DISPOSITION_CODE_ID", "DEDUP_TABLE_NAME",
                 "DURATION_THRESHOLD_MS", "DEDUP_TTL_SECONDS", "GENESYS_CLOUD_MAX_RPS", "BATCH_CONCURRENCY"]:
        assert name in variables, name
    assert "GENESYS_CLOUD_CLIENT_SECRET" not in variables
    assert "GenesysClientSecret" not in template["Parameters"]


def test_the_function_may_only_touch_items_of_its_own_table(template):
    statements = template["Resources"]["DispositionConsumerFunction"]["Properties"]["Policies"][0]["Statement"]
    dedup = next(s for s in statements if s["Sid"] == "DedupItemsOnly")
    assert sorted(dedup["Action"]) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert dedup["Resource"] == {"GetAtt": "DedupTable.Arn"}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(action.endswith("*") for action in actions), statement
