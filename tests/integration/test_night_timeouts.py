"""A district whose step never answers ends in a timeout, caught and alerted like any other failure.

statemachine/nightly.asl.json gives every task a TimeoutSeconds (tests/unit/test_night_operations.py
checks the values). Here the definition runs in moto's engine, which enforces a task's
TimeoutSeconds, with the Fetch task's timeout cut to one second (the only change to the
definition) and one district's fetch handler blocked until the night has moved past it: its
Fetch fails with States.Timeout, the Catch (States.ALL) sends it to NotifyDistrictFailed, the
other district is synced, and the night ends.

The blocked handler keeps the local runner's one-handler-at-a-time lock, so the stuck district
is named last at MaxConcurrency 1: the clean district has finished by then, and the next handler
(the index, with its own timeout of 960 s) waits for the release the test makes when it sees the
stuck district alerted. No step waits on the clock but the engine's one-second timeout.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rostersync.settings import get_settings
from rostersync_cli.local_functions import Handler, LocalFunctions
from rostersync_cli.nightly import LocalNight, Night
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.template import REPO_ROOT, load_template, resource
from tests.integration.alert_inbox import AlertInbox

CLEAN = DistrictSpec("Greene Clean SD", seed=9301, schools=1, students=6, teachers=2, sections=2)
STUCK = DistrictSpec("Huntingdon Stuck SD", seed=9302, schools=1, students=6, teachers=2, sections=2)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(CLEAN, STUCK))) as server:
        yield server


def _template_with_fetch_timeout(tmp_path: Path, seconds: int) -> dict[str, Any]:
    """template.yaml whose state machine is the repository's definition with the Fetch task's
    TimeoutSeconds set to `seconds` (nothing else changed)."""
    template = copy.deepcopy(load_template())
    properties = resource(template, "NightlyStateMachine")["Properties"]
    definition = json.loads((REPO_ROOT / properties["DefinitionUri"]).read_text(encoding="utf-8"))
    fetch = definition["States"]["Districts"]["ItemProcessor"]["States"]["Fetch"]
    assert fetch["TimeoutSeconds"] > seconds
    fetch["TimeoutSeconds"] = seconds
    path = tmp_path / "nightly.asl.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    properties["DefinitionUri"] = str(path)  # absolute: nightly_definition reads it as it is
    return template


def test_a_district_whose_fetch_never_answers_times_out_is_alerted_and_the_other_syncs(
    functions: LocalFunctions, tmp_path: Path
) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    released = threading.Event()
    blocked: list[str] = []

    def stuck_for(district_id: str) -> Callable[[Handler], Handler]:
        def wrapper(handler: Handler) -> Handler:
            def call(event: dict[str, Any], context: Any) -> Any:
                if event.get("district_ids") == [district_id]:
                    blocked.append(district_id)
                    released.wait()  # a hung invocation: answers only once the test lets it
                    return {"districts": []}
                return handler(event, context)

            return call

        return wrapper

    def release_when_alerted(night: Night) -> None:
        outcome = night.districts.get(STUCK.id)
        if outcome is not None and outcome.state in ("NotifyDistrictFailed", "DistrictFailed"):
            released.set()

    functions.wrap("FetchFunction", stuck_for(STUCK.id))
    local = LocalNight(
        functions,
        template=_template_with_fetch_timeout(tmp_path, 1),
        overrides={"MaxConcurrency": "1"},
    )
    try:
        night = local.run([CLEAN.id, STUCK.id], on_change=release_when_alerted)
    finally:
        released.set()

    assert blocked == [STUCK.id]
    assert night.status == "FAILED" and night.error == "DistrictsFailed"
    stuck = night.districts[STUCK.id]
    assert stuck.finished and stuck.alerted_failure and stuck.state == "DistrictFailed"
    assert "validate" not in stuck.stages
    clean = night.districts[CLEAN.id]
    assert not clean.failed and clean.stages["import"]["status"] == "succeeded", clean
    failed = [a for a in inbox.receive() if a.event_type == "sync_failed"]
    assert [a.district_id for a in failed] == [STUCK.id]
    assert "Error: States.Timeout." in failed[0].body
