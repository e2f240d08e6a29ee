"""Fixtures of the SDK-model contract suite: the SDK, genesys-sim on loopback, a Contract per test,
and the table of every check printed at the end of the run."""

import contextlib
import json
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from . import harness, sdk_models


@pytest.fixture(scope="session", autouse=True)
def the_pinned_sdk():
    """The suite holds Genesys to the SDK version the Makefile pins, and nothing else."""
    installed = sdk_models.sdk_version()
    if installed != sdk_models.SDK_VERSION:
        pytest.fail(f"purecloudplatformclientv2 {installed or 'is not'} installed in this venv; the "
                    f"suite pins {sdk_models.SDK_VERSION}: `rm .venv/ready && make .venv/ready`")
    sdk_models.sdk()


@pytest.fixture(scope="session")
def sim():
    """genesys-sim with the sample seed (events/sim/interactions.json), shared by the response checks."""
    with harness.running_simulator() as simulator:
        yield simulator


@pytest.fixture
def fresh_sim():
    """A genesys-sim of the test's own, with the sample seed: the requests it receives are one tool's."""
    with harness.running_simulator() as simulator:
        yield simulator


@pytest.fixture
def contract():
    return harness.Contract()


def pytest_terminal_summary(terminalreporter):
    if harness.LEDGER.fields:
        terminalreporter.section(
            f"Genesys SDK contract ({sdk_models.SDK_PACKAGE} {sdk_models.SDK_VERSION})")
        terminalreporter.write_line(harness.LEDGER.table())


# --- the project's tools, run once each against a simulator of their own ----------------------------

@pytest.fixture(scope="session")
def consumer_run():
    """The consumer on every sample event (`invoke`, files in name order): what the simulator received."""
    with harness.running_simulator() as sim:
        events = sorted(str(path) for path in (harness.ROOT / "events").glob("*.json"))
        args = ["invoke", "--timeout-seconds", "10"]
        for event in events:
            args += ["--events", event]
        harness.run_tool(args, sim.tool_env(), check_codes=(0, 1))
        yield sim.received_requests()


@pytest.fixture(scope="session")
def configure_run(tmp_path_factory):
    """configure plan, apply (creates and enables), then apply of a change (fewer topics, disabled)
    and status, with the desired state of examples/integration.json: what the simulator received."""
    workdir = tmp_path_factory.mktemp("configure")
    desired = json.loads((harness.ROOT / "examples" / "integration.json").read_text())
    first, second = workdir / "integration.json", workdir / "changed.json"
    first.write_text(json.dumps(desired))
    second.write_text(json.dumps(dict(desired, enabled=False, notes="changed",
                                      topics=desired["topics"][:1])))
    audit = ["--audit-log", str(workdir / "audit.jsonl")]
    with harness.running_simulator() as sim:
        env = sim.tool_env()
        harness.run_tool(["configure", "plan", "--file", str(first)], env)
        harness.run_tool(["configure", "apply", "--file", str(first), "--yes",
                          "--wait-seconds", "10", *audit], env)
        harness.run_tool(["configure", "apply", "--file", str(second), "--yes",
                          "--wait-seconds", "10", *audit], env)
        no_aws = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        harness.run_tool(["configure", "status", "--file", str(second)], no_aws, check_codes=None)
        yield sim.received_requests()


@pytest.fixture(scope="session")
def stream_run(tmp_path_factory):
    """stream on one conversation's user.end topic until the notification the simulator generates
    for it arrives: (what the simulator received, the notifications stream wrote)."""
    workdir = tmp_path_factory.mktemp("stream")
    conversation = json.loads(harness.SAMPLE_SEED.read_text())["conversations"][0]["id"]
    topic = f"v2.detail.events.conversation.{conversation}.user.end"
    with harness.running_simulator() as sim:
        with running_tool(sim, workdir, "stream", ["stream", "--topic", topic,
                                                   "--stop-after-events", "1",
                                                   "--stop-after-seconds", "5"]) as stream:
            sim.admin("POST", "/sim/notifications/generate", {"topicName": topic, "count": 1})
            stream.wait(timeout=15)
        lines = (workdir / "stream.out").read_text().splitlines()
        notifications = [json.loads(line) for line in lines if line.strip()]
        yield sim.received_requests(), [n for n in notifications if n.get("topicName") == topic]


@pytest.fixture(scope="session")
def bridge_run(tmp_path_factory):
    """bridge --follow-queue all --backfill --checkpoint, twice: the second run finds the checkpoint
    an hour old, so it backfills that gap from the details query; the simulator holds the sample
    seed plus a copy of its first call that ended half an hour ago. Yields (what the simulator
    received, the events the bridge put on the simulator's EventBridge stand-in)."""
    workdir = tmp_path_factory.mktemp("bridge")
    seed, checkpoint = workdir / "seed.json", workdir / "checkpoint.json"
    seed.write_text(json.dumps(seed_with_a_recent_call()))
    args = ["bridge", "--bus", "contract", "--follow-queue", "all", "--backfill",
            "--checkpoint", str(checkpoint), "--spool", str(workdir / "spool"),
            "--heartbeat-seconds", "5"]
    with harness.running_simulator(seed) as sim:
        with running_tool(sim, workdir, "bridge-1", args):
            pass
        assert checkpoint.exists(), "the first bridge run left no checkpoint"
        an_hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
        state = json.loads(checkpoint.read_text())
        for shard in state["shards"].values():
            shard.update(listeningUntil=an_hour_ago, openGapFrom=None)
        checkpoint.write_text(json.dumps(state))
        with running_tool(sim, workdir, "bridge-2", args):
            harness.wait_until("the backfilled event on the bus",
                               lambda: sim.admin("GET", "/sim/eventbridge/events"))
        yield sim.received_requests(), sim.admin("GET", "/sim/eventbridge/events")


@contextlib.contextmanager
def running_tool(sim, workdir, name, args):
    """`genesys-eventbridge ARGS` (stream or bridge) in the background, output in workdir/NAME.out
    and .err, yielded once a socket of it listens on a subscribed channel; stopped on exit."""
    with open(workdir / f"{name}.out", "w") as out, open(workdir / f"{name}.err", "w") as err:
        process = subprocess.Popen([str(harness.binary("genesys-eventbridge")), *args],
                                   env=sim.tool_env(), stdout=out, stderr=err)
        try:
            def listening():
                if process.poll() is not None:
                    raise AssertionError(f"{name} exited {process.returncode}: "
                                         + (workdir / f"{name}.err").read_text()[-2000:])
                channels = sim.admin("GET", "/sim/notifications/channels")["entities"]
                return any(c["connected"] and c["topics"] for c in channels)
            harness.wait_until(f"{name} to listen", listening)
            yield process
        finally:
            harness.stop(process)


def seed_with_a_recent_call():
    """The sample seed plus its first conversation again, under a new id, ended 30 minutes ago."""
    seed = json.loads(harness.SAMPLE_SEED.read_text())
    recent = json.loads(json.dumps(seed["conversations"][0]))
    recent["id"] = recent["id"][:-4] + "b0f1"
    starts = [p["startTime"] for p in recent["participants"] if p.get("startTime")]
    first = datetime.fromisoformat(min(starts).replace("Z", "+00:00"))
    shift = datetime.now(timezone.utc) - timedelta(minutes=30) - first

    def shifted(value):
        if isinstance(value, dict):
            return {k: shifted(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shifted(v) for v in value]
        if isinstance(value, str) and sdk_models.GENESYS_DATETIME.fullmatch(value):
            moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + shift
            return moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}Z"
        return value

    seed["conversations"].append(shifted(recent))
    return seed
