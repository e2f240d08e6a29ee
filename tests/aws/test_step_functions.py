"""The Step Functions ingest mode: statemachine/disposition.asl.json executed in moto, each Lambda
task running the real handler against genesys-sim."""

import json
import time

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from conftest import CHAT, DOWN, fresh_eligible, ROOT, patch_counts, run_handler, sample_event, seed_event

REGION = "eu-west-1"


@pytest.fixture
def aws(genesys_sim, monkeypatch):
    calls = []

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        payload = json.loads(body)
        calls.append(payload)
        response, failed = run_handler(genesys_sim, payload)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(response).encode()

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config = {"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}
    with mock_aws(config=config):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="consumer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        function = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="disposition-consumer", Runtime="provided.al2023", Role=role,
            Handler="bootstrap", Code={"ZipFile": b"not run: the handler is patched in"})
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        definition = (ROOT / "statemachine" / "disposition.asl.json").read_text()
        for name, value in {
            "MapMaxConcurrency": "2",
            "RetryIntervalSeconds": "1",
            "RetryMaxAttempts": "2",
            "TimeoutRetryIntervalSeconds": "1",
            "TimeoutRetryMaxAttempts": "1",
            "DispositionFunctionArn": function["FunctionArn"],
            "DeadLetterQueueUrl": dlq,
        }.items():
            definition = definition.replace("${" + name + "}", value)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(name="disposition", definition=definition,
                                           roleArn=role)["stateMachineArn"]
        yield {"sfn": sfn, "machine": machine, "sqs": sqs, "dlq": dlq, "calls": calls}


def execute(aws, payload, name):
    sfn = aws["sfn"]
    arn = sfn.start_execution(stateMachineArn=aws["machine"], name=name,
                              input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 60
    while True:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.1)


def test_a_batch_is_processed_through_the_map_and_a_failing_event_lands_in_the_dlq(aws, genesys_sim):
    eligible = fresh_eligible(genesys_sim, "sfn")
    events = [seed_event(eligible, "sfn-1", "sfn-e1"), seed_event(CHAT, "sfn-2", "sfn-e2"),
              seed_event(DOWN, "sfn-3", "sfn-e3")]

    execution = execute(aws, {"events": events}, "batch")

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert [item.get("outcome") for item in output] == ["patched", "ineligible", "dead-lettered"]
    down_calls = [c for c in aws["calls"] if c.get("detail", {}).get("interactionId") == DOWN]
    assert len(down_calls) == 3, "one attempt and two bounded retries, then the DLQ"
    messages = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    dead = json.loads(messages[0]["Body"])
    assert dead["detail"]["interactionId"] == DOWN
    assert dead["failure"]["Error"] == "EventFailed"
    assert patch_counts(genesys_sim)[eligible]["applied"] == 1


def test_one_eventbridge_event_is_wrapped_and_processed(aws):
    execution = execute(aws, sample_event("03-call-in-progress.json"), "single")

    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"])[0]["reason"] == "interaction-not-completed"


def test_the_tutorial_input_transformer_shape_is_processed(aws):
    item = {"interactionId": CHAT, "details": {"sequenceId": "77", "interactionType": "chat"}}

    execution = execute(aws, item, "tutorial")

    assert execution["status"] == "SUCCEEDED", execution
    report = json.loads(execution["output"])[0]
    assert (report["outcome"], report["reason"], report["sequenceId"]) == \
        ("ineligible", "non-voice-interaction", "77")


def test_an_input_that_is_no_event_fails_the_execution(aws):
    execution = execute(aws, {"hello": "world"}, "garbage")

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "NotAnEvent"
    assert aws["calls"] == []
