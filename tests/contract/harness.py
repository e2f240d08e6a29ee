"""The contract suite's machinery: genesys-sim and the project's tools as processes on loopback,
an HTTP client for the simulator, and `Contract`, which checks JSON against the SDK and keeps the
table printed at the end of the run."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import pathlib
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass

import pytest

from . import sdk_models as sdk

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The binaries under test (`cargo build --bins`); CONTRACT_BIN_DIR overrides.
BIN = pathlib.Path(os.environ.get("CONTRACT_BIN_DIR", ROOT / "target" / "debug"))
SAMPLE_SEED = ROOT / "events" / "sim" / "interactions.json"
LOCAL_ENV = ROOT / "local.env"
SIM_ROUTER = ROOT / "crates" / "sim" / "src" / "genesys" / "mod.rs"
START_TIMEOUT = 10  # seconds for a process to be up
HTTP_TIMEOUT = 5
TOOL_TIMEOUT = 30


def binary(name):
    path = BIN / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `cargo build --bins` first (make test does)")
    return path


def wait_until(what, condition, timeout=START_TIMEOUT, interval=0.05):
    """Polls `condition` until it returns something truthy (returned); fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- the simulator --------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: object  # parsed JSON, or None when the answer had no body
    text: str


class Simulator:
    """A running genesys-sim: its URL, an authorized client for its API, and its admin endpoints."""

    def __init__(self, url, seed):
        self.url = url
        self.seed = seed
        self._token = None

    def http(self, method, path, body=None, query="", headers=None, form=None):
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        data, all_headers = None, dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, method=method, data=data, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        text = raw.decode()
        return Answer(status, json.loads(text) if text.strip() else None, text)

    def token(self):
        if self._token is None:
            basic = base64.b64encode(b"demo-client:demo-secret").decode()
            answer = self.http("POST", "/oauth/token", form={"grant_type": "client_credentials"},
                               headers={"Authorization": f"Basic {basic}"})
            assert answer.status == 200, f"the simulator refused a token: {answer.text}"
            self._token = answer.body["access_token"]
        return self._token

    def api(self, method, path, body=None, query=""):
        """A call to the simulated Genesys API, with a bearer token."""
        return self.http(method, path, body, query,
                         headers={"Authorization": f"Bearer {self.token()}"})

    def admin(self, method, path, body=None):
        """A call to a simulator-only endpoint (`/sim/...`); its JSON answer."""
        answer = self.http(method, path, body)
        assert answer.status < 300, f"{method} {path}: {answer.status} {answer.text}"
        return answer.body

    def received_requests(self):
        """What the simulated API received, in order (`GET /sim/requests`)."""
        answer = self.http("GET", "/sim/requests")
        if answer.status == 404:
            raise AssertionError("this genesys-sim does not serve GET /sim/requests yet: rebuild it")
        return answer.body

    def forget_requests(self):
        self.http("DELETE", "/sim/requests")

    def seed_data(self):
        return json.loads(pathlib.Path(self.seed).read_text())

    def tool_env(self, **extra):
        """The settings of local.env, pointed at this simulator (and at its EventBridge stand-in)."""
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
        for line in LOCAL_ENV.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
        env.update({
            "GENESYS_CLOUD_BASE_URL": self.url,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.url,
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "contract",
            "AWS_SECRET_ACCESS_KEY": "contract",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        env.update(extra)
        return env


@contextlib.contextmanager
def running_simulator(seed=SAMPLE_SEED, *args):
    """genesys-sim on 127.0.0.1 (a free port) with `seed`; stopped on exit."""
    with tempfile.TemporaryDirectory() as workdir:
        url_file = pathlib.Path(workdir) / "url"
        log = open(pathlib.Path(workdir) / "sim.log", "wb")
        process = subprocess.Popen(
            [str(binary("genesys-sim")), "--listen", "127.0.0.1:0", "--url-file", str(url_file),
             "--data", str(seed), *args],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            def started():
                if process.poll() is not None:
                    raise RuntimeError("genesys-sim exited: "
                                       + (pathlib.Path(workdir) / "sim.log").read_text())
                return url_file.exists() and url_file.read_text().strip()
            url = wait_until("genesys-sim to listen", started)
            yield Simulator(url, seed)
        finally:
            stop(process)
            log.close()


def stop(process, timeout=10):
    """Stops a process this suite started: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def run_tool(args, env, timeout=TOOL_TIMEOUT, check_codes=(0,)):
    """Runs `genesys-eventbridge ARGS` to completion (exit code in `check_codes`, unless None)."""
    completed = subprocess.run([str(binary("genesys-eventbridge")), *args], env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=timeout)
    if check_codes is not None and completed.returncode not in check_codes:
        raise AssertionError(f"genesys-eventbridge {' '.join(args)} exited {completed.returncode}:\n"
                             f"{completed.stderr[-3000:]}")
    return completed


# --- what is not held to the SDK ------------------------------------------------------------------

TUTORIAL = "the tutorial dialect's Interactions API, which the Genesys Cloud SDK does not have"
NO_CHATS = "the SDK has no /api/v2/conversations/chats/ endpoints (only callbacks, calls, emails, messages, ...)"

# Endpoints genesys-sim serves (by router path, or concrete media path) that the SDK does not know.
NOT_IN_SDK = {
    ("POST", "/oauth/token"): "the login service: the SDK's ApiClient posts grant_type=client_credentials "
                              "there itself (no apis method, no model)",
    ("GET", "/api/v2/interactions/{id}"): TUTORIAL,
    ("PATCH", "/api/v2/interactions/{id}"): TUTORIAL,
    ("GET", "/channels/{id}"): "the notification WebSocket (a channel's connectUri), not a REST endpoint",
    ("GET", "/api/v2/conversations/chats/{id}"): NO_CHATS,
    ("PATCH", "/api/v2/conversations/chats/{id}/participants/{participant}"): NO_CHATS,
    ("POST", "/api/v2/conversations/chats/{id}/participants/{participant}/communications/{communication}/wrapup"): NO_CHATS,
}


def not_in_sdk(method, path):
    """The reason `method path` is not held to the SDK, or None when it is."""
    for (m, template), reason in NOT_IN_SDK.items():
        if m == method and sdk.template_matches(template, path):
            return reason
    return None


def simulator_routes(source=None):
    """`(METHOD, path)` of every route in genesys-sim's Genesys router (crates/sim/src/genesys/mod.rs)."""
    source = SIM_ROUTER.read_text() if source is None else source
    routes = []
    for match in re.finditer(r'\.route\(\s*"([^"]+)"\s*,', source):
        depth, end = 1, match.end()
        while depth and end < len(source):
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            end += 1
        handler = source[match.end():end - 1]
        for method in re.findall(r"\b(get|post|put|patch|delete|head)\(", handler):
            routes.append((method.upper(), match.group(1)))
    return routes


# --- the contract ---------------------------------------------------------------------------------


class Ledger:
    """Every check of the run, per (what was checked, SDK model): fields looked at, mismatches."""

    def __init__(self):
        self.fields = defaultdict(int)
        self.mismatches = defaultdict(dict)  # row -> {message: None}, in order

    def record(self, row, fields, mismatches):
        self.fields[row] += fields
        for message in mismatches:
            self.mismatches[row].setdefault(message, None)

    def table(self):
        rows = sorted(self.fields)
        headers = ("checked", "SDK model", "fields", "mismatches")
        cells = [(what, model, str(self.fields[(what, model)]),
                  str(len(self.mismatches[(what, model)]))) for what, model in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
                  for i, h in enumerate(headers)]
        line = "  ".join("{:<%d}" % w for w in widths)
        out = [line.format(*headers), line.format(*("-" * w for w in widths))]
        out += [line.format(*cell) for cell in cells]
        details = [f"{what} -> {model}: {message}"
                   for (what, model) in rows for message in self.mismatches[(what, model)]]
        if details:
            out += ["", f"{len(details)} mismatches:"] + [f"  {d}" for d in details]
        return "\n".join(out)


LEDGER = Ledger()


class Contract:
    """The checks of one test: each compares JSON with the SDK model it should be, and remembers
    every mismatch as `WHAT -> MODEL: JSON.PATH: PROBLEM` (plus where it was seen)."""

    def __init__(self, ledger=LEDGER):
        self.ledger = ledger
        self.mismatches = {}  # message -> [instances]
        self.checked = 0

    def _record(self, what, model, found, instance, extra=()):
        problems = list(found.mismatches) + list(extra)
        self.ledger.record((what, model), found.fields, problems)
        for problem in problems:
            instances = self.mismatches.setdefault(f"{what} -> {model}: {problem}", [])
            if instance and instance not in instances:
                instances.append(instance)
        self.checked += 1

    def problem(self, what, model, problem, instance=None):
        """A mismatch found without walking JSON (a missing endpoint, an unexpected status)."""
        self._record(what, model, sdk.Check(), instance, [problem])

    def json(self, what, value, sdk_type, instance=None):
        """Checks `value` against the SDK type `sdk_type`."""
        self._record(what, sdk_type, sdk.check(value, sdk_type), instance)

    def response(self, sim, method, path, body=None, query="", instance=None):
        """Calls the simulator and checks its answer against the response model the SDK gives
        the endpoint; returns the answer."""
        answer = sim.api(method, path, body, query)
        endpoint = sdk.endpoint(method, path)
        if endpoint is None:
            self.problem(f"{method} {path}", "?", "the SDK has no such endpoint", instance)
            return answer
        what, model = str(endpoint), endpoint.response or "(no body)"
        if not 200 <= answer.status < 300:
            self.problem(what, model, f"answered {answer.status}: {answer.text[:200]}", instance)
        elif endpoint.response is None:
            extra = [] if answer.body is None else [
                f"the SDK expects no body, the simulator sent {answer.text[:80]}"]
            self._record(what, model, sdk.Check(), instance, extra)
        else:
            self._record(what, model, sdk.check(answer.body, endpoint.response), instance)
        return answer

    def request(self, received, instance=None):
        """Checks one request our client sent (as `GET /sim/requests` lists it) against the SDK:
        an SDK endpoint for its method and path, its query parameters, its body model. A request
        to an endpoint in NOT_IN_SDK is let through; returns the SDK endpoint."""
        method, path = received["method"], received["path"]
        endpoint = sdk.endpoint(method, path)
        if endpoint is None:
            if not not_in_sdk(method, path):
                self.problem(f"{method} {path}", "?", "the SDK has no such endpoint", instance)
            return None
        what, model = f"{endpoint} (request)", endpoint.body or "(no body)"
        extra = []
        for name, value in urllib.parse.parse_qsl(received.get("query") or "", keep_blank_values=True):
            if name not in endpoint.query:
                extra.append(f"?{name}: not a query parameter of {endpoint.operation} "
                             f"{list(endpoint.query)}")
            elif problem := sdk.query_value_problem(value, endpoint.query[name]):
                extra.append(f"?{name}: {problem}")
        body, found = received.get("body"), sdk.Check()
        if body is not None and endpoint.body is None:
            extra.append(f"a body ({json.dumps(body)[:80]}), where the SDK sends none")
        elif body is not None:
            found = sdk.check(body, endpoint.body)
        self._record(what, model, found, instance, extra)
        return endpoint

    def assert_all_match(self):
        assert self.checked, "nothing was checked"
        if self.mismatches:
            lines = []
            for message, instances in self.mismatches.items():
                seen = f"   [in {', '.join(instances)}]" if instances else ""
                lines.append(message + seen)
            pytest.fail(f"{len(lines)} mismatches with the Genesys SDK "
                        f"({sdk.SDK_PACKAGE} {sdk.SDK_VERSION}):\n" + "\n".join(lines), pytrace=False)


# --- which endpoints the tests cover ---------------------------------------------------------------

COVERED: set[tuple[str, str]] = set()


def covers(*routes):
    """Marks a test as the check of the simulator's routes `"METHOD /path"` (spelt as in the
    router, e.g. `"GET /api/v2/conversations/{id}"`), so test_coverage can tell a route nobody checks."""
    for route in routes:
        method, path = route.split(" ", 1)
        COVERED.add((method, path))

    def mark(test):
        return test

    return mark
