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


def with_parameter_defaults(template, node):
    """`node` with every {"Ref": parameter} replaced by the parameter's default (lists split)."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in template["Parameters"]:
            parameter = template["Parameters"][node["Ref"]]
            default = parameter["Default"]
            return default.split(",") if parameter["Type"] == "CommaDelimitedList" else default
        return {key: with_parameter_defaults(template, value) for key, value in node.items()}
    if isinstance(node, list):
        return [with_parameter_defaults(template, value) for value in node]
    return node


def test_the_rule_matches_the_genesys_events_we_handle_from_genesys_or_the_bridge_and_nothing_else(template, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    pattern = with_parameter_defaults(template, template["Resources"]["GenesysEventsRule"]["Properties"]["EventPattern"])
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
            "tutorial from an unconfigured source": {
                "Source": "com.example.forged", "DetailType": "purecloud:v2:interaction:update",
                "Detail": json.dumps({"interactionId": "i", "sequenceId": "1"})},
            "user.end": native_event("user.end"),
            "customer.end": native_event("customer.end"),
            "acw": native_event("acw"),
            "user.start": native_event("user.start"),
            "not from genesys": native_event("user.end", source="com.example.forged"),
            "bridged user.end": native_event("user.end", source="genesys-eventbridge.bridge"),
            "bridged user.start": native_event("user.start", source="genesys-eventbridge.bridge"),
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


def test_express_state_machines_are_refused_with_timeouts_beyond_their_five_minutes(template):
    rule = template["Rules"]["ExpressExecutionsFitInFiveMinutes"]
    allowed = rule["Assertions"][0]["Assert"]["Contains"][0]
    substitutions = template["Resources"]["DispositionStateMachine"]["Properties"]["DefinitionSubstitutions"]
    express_retries = substitutions["RetryMaxAttempts"]["If"][1]
    express_timeout_retries = substitutions["TimeoutRetryMaxAttempts"]["If"][1]
    first_interval = substitutions["RetryIntervalSeconds"]
    timeout_interval = substitutions["TimeoutRetryIntervalSeconds"]
    for timeout in template["Parameters"]["FunctionTimeoutSeconds"]["AllowedValues"]:
        attempts = 1 + express_retries + express_timeout_retries
        intervals = sum(first_interval * 2 ** n for n in range(express_retries)) \
            + sum(timeout_interval * 2 ** n for n in range(express_timeout_retries))
        worst_case = attempts * timeout + intervals
        assert (str(timeout) in allowed) == (worst_case < 300), (timeout, worst_case)


def test_a_timed_out_invocation_is_retried_after_its_lease_has_ended(template):
    definition = (ROOT / "statemachine" / "disposition.asl.json").read_text()
    substitutions = template["Resources"]["DispositionStateMachine"]["Properties"]["DefinitionSubstitutions"]
    lease_margin_seconds = 10
    assert '"ErrorEquals": ["Sandbox.Timedout", "Lambda.Unknown", "States.Timeout"]' in definition
    assert substitutions["TimeoutRetryIntervalSeconds"] > lease_margin_seconds


def test_the_state_machine_logs_its_errors(template):
    logging = template["Resources"]["DispositionStateMachine"]["Properties"]["Logging"]
    assert logging["Level"] in ("ERROR", "ALL")
    assert logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "GetAtt": "StateMachineLogGroup.Arn"}


def test_the_function_may_read_the_secret_by_a_partial_arn_and_decrypt_it_with_its_key(template):
    policies = template["Resources"]["DispositionConsumerFunction"]["Properties"]["Policies"]
    read = next(s for s in policies[0]["Statement"] if s["Sid"] == "ReadGenesysCredentials")
    assert {"Sub": "${GenesysCredentialsSecretArn}-??????"} in read["Resource"]
    decrypt = next(p for p in policies[1:] if p["If"][0] == "HasCredentialsKmsKey")["If"][1]
    statement = decrypt["Statement"][0]
    assert statement["Action"] == "kms:Decrypt"
    assert "kms:ViaService" in statement["Condition"]["StringEquals"]


def test_the_default_genesys_rate_fits_one_default_oauth_client(template):
    per_instance = template["Parameters"]["GenesysMaxRequestsPerSecond"]["Default"]
    instances = template["Parameters"]["QueueMaximumConcurrency"]["Default"]
    default_client_per_second = 300 / 60
    assert per_instance * instances <= default_client_per_second


def test_configuration_failures_raise_an_alarm_at_once(template):
    alarm = template["Resources"]["ConfigurationFailuresAlarm"]["Properties"]
    assert alarm["MetricName"] == "ConfigurationFailures"
    assert alarm["Threshold"] == 1


def test_reconcile_runs_every_15_minutes_one_run_at_a_time_and_only_reads_the_dedup_table(template):
    function = template["Resources"]["ReconcileFunction"]
    properties = function["Properties"]
    schedule = properties["Events"]["Every"]
    assert function["Metadata"]["BuildProperties"]["Binary"] == "reconcile-lambda"
    assert schedule["Type"] == "ScheduleV2"
    assert template["Parameters"]["ReconcileSchedule"]["Default"] == "rate(15 minutes)"
    assert properties["ReservedConcurrentExecutions"] == 1
    assert properties["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    statements = properties["Policies"][0]["Statement"]
    dedup = next(s for s in statements if s["Sid"] == "ReadDedupItems")
    assert dedup["Action"] == "dynamodb:GetItem"
    variables = properties["Environment"]["Variables"]
    assert variables["RECONCILE_SOURCE"] == {"Ref": "BridgeEventSource"}
    assert variables["EVENT_BUS_NAME"] == {"Ref": "EventBusName"}


def test_reconcile_is_off_without_a_schedule_or_a_source_the_rule_accepts(template):
    condition = template["Conditions"]["HasReconcile"]["And"]
    assert {"Not": [{"Equals": [{"Ref": "ReconcileSchedule"}, ""]}]} in condition
    assert {"Not": [{"Equals": [{"Ref": "BridgeEventSource"}, ""]}]} in condition
    for name in ["ReconcileFunction", "ReconcileLogGroup", "ReconciledAlarm", "ReconcileErrorsAlarm",
                 "ReconcileTruncatedAlarm"]:
        assert template["Resources"][name]["Condition"] == "HasReconcile", name


def test_a_reconciled_call_raises_the_alarm_that_events_go_missing_upstream(template):
    alarm = template["Resources"]["ReconciledAlarm"]["Properties"]
    assert alarm["MetricName"] == "Reconciled"
    assert alarm["Dimensions"] == [{"Name": "Tool", "Value": "reconcile"}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_archive_keeps_what_the_rule_matches_on_the_rule_s_bus_for_the_retention_parameter(template):
    resources = template["Resources"]
    archive = resources["GenesysEventsArchive"]
    assert archive["Type"] == "AWS::Events::Archive"
    properties = archive["Properties"]
    assert properties["EventPattern"] == resources["GenesysEventsRule"]["Properties"]["EventPattern"]
    assert properties["SourceArn"]["Sub"].endswith(":event-bus/${EventBusName}")
    assert properties["RetentionDays"] == {"Ref": "ArchiveRetentionDays"}
    retention = template["Parameters"]["ArchiveRetentionDays"]
    assert (retention["Type"], retention["Default"], retention["MinValue"]) == ("Number", 7, 0)
    outputs = template["Outputs"]
    assert outputs["ArchiveName"]["Value"] == {"Ref": "GenesysEventsArchive"}
    assert outputs["ArchiveArn"]["Value"] == {"GetAtt": "GenesysEventsArchive.Arn"}
    assert outputs["RuleArn"]["Value"] == {"GetAtt": "GenesysEventsRule.Arn"}


def test_the_archive_pattern_archives_the_events_the_rule_delivers_in_moto(template, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    pattern = with_parameter_defaults(template, template["Resources"]["GenesysEventsArchive"]["Properties"]["EventPattern"])
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        bus_arn = events.describe_event_bus()["Arn"]
        events.create_archive(ArchiveName="genesys", EventSourceArn=bus_arn, EventPattern=json.dumps(pattern),
                              RetentionDays=7)
        for entry in [native_event("user.end"), native_event("user.start"),
                      native_event("acw", source="genesys-eventbridge.bridge")]:
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        assert events.describe_archive(ArchiveName="genesys")["EventCount"] == 2
