"""deploy/bridge.yaml: the task gets only the settings the binary reads and only the permissions
the bridge needs."""

import sys

import pytest
import yaml

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from create_dedup_table import TemplateLoader  # noqa: E402


@pytest.fixture(scope="module")
def service():
    return yaml.load((ROOT / "deploy" / "bridge.yaml").read_text(), Loader=TemplateLoader)


def rust_sources():
    """Every crate of the workspace the bridge binary is built from (its settings are read in
    gev-consumer's config)."""
    roots = [ROOT / "src", *(ROOT / "crates").glob("*/src")]
    return "\n".join(path.read_text() for root in roots for path in root.rglob("*.rs"))


def test_every_setting_the_task_gets_is_one_the_binary_reads(service):
    container = service["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    sources = rust_sources()
    names = [variable["Name"] for variable in container["Environment"]]

    unknown = [name for name in names
               if name not in sources and name not in ("AWS_REGION",)]

    assert not unknown, f"the binary reads none of {unknown}"
    assert "GENESYS_CLOUD_CREDENTIALS_SECRET_ARN" in names


def test_the_task_may_only_put_events_read_its_secret_and_publish_its_audit(service):
    statements = service["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = set()
    for statement in statements:
        if "If" in statement:  # !If [HasAuditTopic, the statement, AWS::NoValue]
            statement = statement["If"][1]
        actions.add(statement["Action"])

    assert actions == {"events:PutEvents", "secretsmanager:GetSecretValue", "sns:Publish"}


def test_one_task_runs_so_that_nothing_is_published_twice(service):
    properties = service["Resources"]["Service"]["Properties"]

    assert properties["DesiredCount"] == 1
    assert properties["DeploymentConfiguration"]["MaximumPercent"] == 100
