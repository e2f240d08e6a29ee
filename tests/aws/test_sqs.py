"""The Queue ingest mode end to end against moto's SQS: the handler runs on a received batch, reports
exactly the failed message ids, and only those stay on the queue."""

import json
import time

import boto3
import pytest
from moto import mock_aws

from conftest import CHAT, DOWN, fresh_eligible, patch_counts, run_handler, seed_event

REGION = "eu-west-1"


@pytest.fixture
def queues(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        ingest = sqs.create_queue(QueueName="ingest", Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        })["QueueUrl"]
        yield sqs, ingest


def lambda_sqs_event(messages, queue_arn):
    """The payload the SQS event source mapping hands to the function."""
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": {
            name: {"stringValue": value.get("StringValue"), "dataType": value["DataType"]}
            for name, value in m.get("MessageAttributes", {}).items()
        },
        "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    } for m in messages]}


def test_exactly_the_failed_messages_are_reported_and_the_rest_deleted(queues, genesys_sim):
    sqs, ingest = queues
    eligible = fresh_eligible(genesys_sim, "sqs")
    bodies = {
        "eligible": json.dumps(seed_event(eligible, "sqs-1", "sqs-e1")),
        "chat": json.dumps(seed_event(CHAT, "sqs-2", "sqs-e2")),
        "down": json.dumps(seed_event(DOWN, "sqs-3", "sqs-e3")),
        "garbled": "{this is not json",
    }
    sent = {}
    for name, body in bodies.items():
        attributes = {}
        if name == "eligible":
            attributes = {"traceparent": {"DataType": "String",
                          "StringValue": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
        sent[name] = sqs.send_message(QueueUrl=ingest, MessageBody=body,
                                      MessageAttributes=attributes)["MessageId"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=ingest, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    received = sqs.receive_message(QueueUrl=ingest, MaxNumberOfMessages=10,
                                   MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
    assert len(received) == 4

    response, invocation_failed = run_handler(genesys_sim, lambda_sqs_event(received, queue_arn))
    # What the event source mapping does with a partial batch response: delete the rest.
    failed_ids = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(received) if m["MessageId"] not in failed_ids]
    sqs.delete_message_batch(QueueUrl=ingest, Entries=done)

    assert not invocation_failed, "a partial batch response is a successful invocation"
    assert failed_ids == {sent["down"]}
    assert patch_counts(genesys_sim)[eligible]["applied"] == 1
    time.sleep(1.5)
    left = sqs.receive_message(QueueUrl=ingest, MaxNumberOfMessages=10)["Messages"]
    assert [m["MessageId"] for m in left] == [sent["down"]]


def test_a_batch_without_failures_reports_none(queues, genesys_sim):
    sqs, ingest = queues
    sqs.send_message(QueueUrl=ingest, MessageBody=json.dumps(seed_event(CHAT, "sqs-9", "sqs-e9")))
    received = sqs.receive_message(QueueUrl=ingest, MaxNumberOfMessages=10)["Messages"]

    response, invocation_failed = run_handler(genesys_sim, lambda_sqs_event(received, "arn:aws:sqs:x"))

    assert response == {"batchItemFailures": []}
    assert not invocation_failed
