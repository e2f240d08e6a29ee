"""The suite keeps up with the simulator: every route genesys-sim's Genesys router serves is either
checked against the SDK by a test (`@covers`) or listed in harness.NOT_IN_SDK with the reason.
The `/sim/...` admin endpoints (simulator-only) and the EventBridge stand-in (AWS, in
crates/sim/src/eventbridge.rs) are not Genesys's and not checked."""

from . import harness
from . import sdk_models as sdk
from . import test_responses  # noqa: F401  (its @covers marks)


def genesys_routes():
    return [(method, path) for method, path in harness.simulator_routes()
            if not path.startswith("/sim/")]


def test_every_genesys_route_the_simulator_serves_is_checked_or_known_to_be_outside_the_sdk():
    unchecked = [f"{method} {path}" for method, path in genesys_routes()
                 if (method, path) not in harness.COVERED and (method, path) not in harness.NOT_IN_SDK]

    assert unchecked == [], ("routes no contract test checks (add a @covers test, or list them in "
                             f"harness.NOT_IN_SDK with the reason): {unchecked}")


def test_every_route_the_tests_claim_to_check_is_still_served():
    served = set(genesys_routes())

    assert sorted(harness.COVERED - served) == []


def test_what_is_listed_as_outside_the_sdk_really_is():
    known = [f"{method} {path} -> {sdk.endpoint(method, path)}"
             for method, path in harness.NOT_IN_SDK if sdk.endpoint(method, path)]

    assert known == [], "the SDK knows these now: check them instead"
