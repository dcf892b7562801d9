"""The fault suite's harness can fail: its nights run the definition itself (the state machine
runner), so the sync_failed alert of a district whose step fails comes from the definition's Catch
path, and the number of attempts from its Retry; a definition without that Catch, or whose Catch
leads to no publish, leaves the district unalerted and invariant 4 fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rostersync_cli.sandbox import DistrictSpec, SandboxConfig
from tests.integration.fault_world import FaultWorld, definition, district_states, fault_world, retries
from tests.integration.invariants import assert_failed_districts_alerted

DISTRICT = DistrictSpec("Wayne Harness SD", seed=9505, schools=1, students=6, teachers=2, sections=2)
FUNCTION_OF = {"Fetch": "FetchFunction", "Validate": "ValidateFunction", "Import": "ImportFunction"}


@pytest.fixture
def world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultWorld]:
    with fault_world(SandboxConfig(districts=(DISTRICT,)), monkeypatch) as w:
        w.clean_night(DISTRICT.id)  # connected and imported: later alerts are the scenario's
        yield w


@pytest.mark.parametrize("state", ["Fetch", "Validate", "Import"])
def test_a_step_failing_past_its_retries_is_alerted_once_by_the_definition_s_catch(
    world: FaultWorld, state: str
) -> None:
    attempts = retries(state) + 1
    world.fault(FUNCTION_OF[state], RuntimeError("boom"), times=attempts, district_id=DISTRICT.id)

    night = world.night([DISTRICT.id])

    assert night.attempts[(FUNCTION_OF[state], DISTRICT.id)] == attempts
    outcome = night.outcome(DISTRICT.id)
    assert outcome.alerted_failure and outcome.state == "DistrictFailed"
    assert night.execution is not None
    run_id = night.execution.run_id
    [alert] = night.alerts_for(DISTRICT.id)
    assert (alert.event_type, alert.district_id) == ("sync_failed", DISTRICT.id)
    assert alert.subject == "RosterSync: a district's nightly sync step failed"
    assert alert.body.startswith(
        f"The nightly RosterSync step failed for district {DISTRICT.id} "
        f"(source clever, run {run_id}) after its retries. Error: RuntimeError."
    )
    assert "{}" not in alert.body
    assert_failed_districts_alerted(night)  # type: ignore[arg-type]


def test_retry_waits_are_the_definition_s_heard_and_not_slept(world: FaultWorld) -> None:
    [retrier] = [
        r for r in district_states(definition())["Validate"]["Retry"] if "States.ALL" in r["ErrorEquals"]
    ]
    world.fault("ValidateFunction", RuntimeError("boom"), times=2, district_id=DISTRICT.id)

    night = world.night([DISTRICT.id])

    assert not night.outcome(DISTRICT.id).failed
    first = retrier["IntervalSeconds"]
    assert world.waits == [first, first * retrier["BackoffRate"]]


def test_without_the_catch_the_district_is_not_alerted_and_invariant_4_fails(world: FaultWorld) -> None:
    broken = definition()
    for state in broken["States"].values():
        if "Fetch" in (state.get("ItemProcessor") or {}).get("States", {}):
            del state["ItemProcessor"]["States"]["Import"]["Catch"]
    world.fault("ImportFunction", RuntimeError("boom"), times=retries("Import") + 1, district_id=DISTRICT.id)

    night = world.night([DISTRICT.id], definition=broken)

    assert night.sync_failed(DISTRICT.id) == []
    assert night.execution is not None and night.execution.status == "FAILED"
    with pytest.raises(AssertionError, match=f"district {DISTRICT.id} failed without an alert"):
        assert_failed_districts_alerted(night)  # type: ignore[arg-type]


def test_a_catch_that_leads_to_no_publish_leaves_the_district_unalerted(world: FaultWorld) -> None:
    broken = definition()
    for state in broken["States"].values():
        if "Fetch" in (state.get("ItemProcessor") or {}).get("States", {}):
            state["ItemProcessor"]["States"]["Validate"]["Catch"][0]["Next"] = "DistrictFailed"
    world.fault(
        "ValidateFunction", RuntimeError("boom"), times=retries("Validate") + 1, district_id=DISTRICT.id
    )

    night = world.night([DISTRICT.id], definition=broken)

    assert night.outcome(DISTRICT.id).failed
    assert night.alerts_for(DISTRICT.id) == []
    with pytest.raises(AssertionError, match=f"district {DISTRICT.id} failed without an alert"):
        assert_failed_districts_alerted(night)  # type: ignore[arg-type]
