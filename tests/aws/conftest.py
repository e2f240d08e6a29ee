"""Fixtures for the AWS checks: the project's binaries, genesys-sim on loopback, the handler as a Lambda."""

import json
import os
import pathlib
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "debug"
DISPOSITION = "3c2f9a7e-5d1b-4e8f-9a6c-2b7d4e1f0a99"
CHAT = "6f1c2a9e-0b1d-4c55-9e2a-3a1f5c7d8e02"
DOWN = "5a5a5a5a-0000-4000-8000-00000000d0d0"


def sample_event(name):
    return json.loads((ROOT / "events" / name).read_text())


def seed_event(interaction, sequence, event_id):
    event = sample_event("01-eligible-voice-call.json")
    event["id"] = event_id
    event["detail"]["interactionId"] = interaction
    event["detail"]["sequenceId"] = sequence
    return event


@pytest.fixture(scope="session")
def genesys_sim():
    """genesys-sim with the demo data plus an interaction whose GET always answers 503."""
    for binary in ("genesys-sim", "genesys-eventbridge"):
        if not (BIN / binary).exists():
            pytest.fail(f"{BIN / binary} is missing: run `cargo build --bins` first (make test does)")
    with tempfile.TemporaryDirectory() as workdir:
        url_file = pathlib.Path(workdir) / "url"
        process = subprocess.Popen(
            [str(BIN / "genesys-sim"), "--listen", "127.0.0.1:0", "--url-file", str(url_file),
             "--data", str(ROOT / "events" / "sim" / "interactions.json")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not (url_file.exists() and url_file.read_text()):
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("genesys-sim did not start")
                time.sleep(0.05)
            url = url_file.read_text()
            put_interaction(url, DOWN, **{"x-sim": {"getStatus": 503}})
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def put_interaction(url, interaction_id, **changes):
    """Seeds (or replaces) an interaction: by default a completed 45 s voice call without codes."""
    body = {"type": "voice", "state": "completed",
            "metadata": {"startTime": "2026-11-23T10:00:00Z", "endTime": "2026-11-23T10:00:45Z"}}
    body.update(changes)
    request = urllib.request.Request(f"{url}/sim/interactions/{interaction_id}", method="PUT",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).read()


def fresh_eligible(url, name):
    """A new eligible call, so that tests sharing one simulator do not see each other's PATCHes."""
    interaction_id = f"{name}-{uuid.uuid4()}"
    put_interaction(url, interaction_id)
    return interaction_id


def patch_counts(url):
    with urllib.request.urlopen(f"{url}/sim/patches", timeout=5) as response:
        return json.load(response)["interactions"]


def run_handler(genesys_url, payload, timeout_seconds=10):
    """Runs the Lambda's handler (genesys-eventbridge invoke --lambda-response) on one payload.

    Returns (response, failed): the Lambda response, and whether the invocation was an error.
    """
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GENESYS_CLOUD_BASE_URL": genesys_url,
        "GENESYS_CLOUD_CLIENT_ID": "demo-client",
        "GENESYS_CLOUD_CLIENT_SECRET": "demo-secret",
        "DISPOSITION_CODE_ID": DISPOSITION,
        "GENESYS_CLOUD_REQUEST_TIMEOUT_MS": "1000",
    }
    completed = subprocess.run(
        [str(BIN / "genesys-eventbridge"), "invoke", "--lambda-response",
         "--timeout-seconds", str(timeout_seconds), "--events", "-"],
        input=json.dumps(payload), capture_output=True, text=True, env=env, timeout=60)
    if completed.returncode not in (0, 1):
        raise AssertionError(f"invoke failed ({completed.returncode}): {completed.stderr}")
    response = json.loads(completed.stdout.strip().splitlines()[-1])
    return response, completed.returncode == 1
