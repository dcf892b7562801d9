"""An import larger than its invocation, through the state machine (`LocalNight`, the definition's
own Imported? loop, the handlers in process, the Clever sandbox over HTTP, moto).

The import function's context says time is short after its first deadline check: each invocation
hands the writer one chunk (IMPORT_WRITE_CHUNK 25 items here), pauses, and the state machine
invokes it again with the same run id. One district needs three invocations; its twin, in the same
night, needs one: both get the same alerts, and the continued district's roster is exactly what a
clean import of its validated run gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rostersync.importer import service
from rostersync_cli.lambda_context import LocalLambdaContext
from rostersync_cli.sandbox import DistrictSpec, SandboxConfig
from tests.integration.fault_world import FaultWorld, fault_world
from tests.integration.invariants import assert_same_roster, snapshot

CONTINUED = DistrictSpec.small("Continued Import SD", 9411, students=40)
TWIN = DistrictSpec.small("One Invocation SD", 9412, students=40)


class ShortOnTime(LocalLambdaContext):
    """5 s left at every deadline check: the import pauses at its first chance (after handing
    the writer one chunk, so every invocation advances)."""

    def get_remaining_time_in_millis(self) -> int:
        return 5_000


@pytest.fixture
def world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultWorld]:
    with fault_world(SandboxConfig(districts=(CONTINUED, TWIN)), monkeypatch) as w:
        w.setenv("IMPORT_WRITE_CHUNK", "30")  # 10 arrivals (3 items each) per chunk, as ARRIVAL_CHUNK
        monkeypatch.setattr(service, "ARRIVAL_CHUNK", 10)  # students decided in several chunks
        yield w


def _short_on_time_for(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch, district_id: str
) -> Callable[[], None]:
    """The district's import invocations run short on time (until the returned `stop()`); every
    other invocation has plenty."""
    invoke = world.functions.invoke
    short = [True]

    def with_context(logical_id: str, event: dict[str, Any], context: Any | None = None) -> Any:
        if short[0] and logical_id == "ImportFunction" and event.get("district_id") == district_id:
            context = ShortOnTime(function_name=f"rostersync-{logical_id}")
        return invoke(logical_id, event, context)

    monkeypatch.setattr(world.functions, "invoke", with_context)
    return lambda: short.clear() or short.append(False)


def _alerts(night: Any, district_id: str) -> list[str]:
    return sorted(alert.event_type for alert in night.alerts_for(district_id))


def test_an_import_that_needs_three_invocations_succeeds_with_the_alerts_of_one(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = _short_on_time_for(world, monkeypatch, CONTINUED.id)

    night = world.night([CONTINUED.id, TWIN.id])

    continued, twin = night.outcome(CONTINUED.id), night.outcome(TWIN.id)
    assert not continued.failed and not twin.failed, (continued, twin)
    assert continued.stages["import"]["status"] == "succeeded"
    assert continued.import_invocations == 3 and continued.stages["import"]["invocations"] == 3
    assert twin.import_invocations == 1 and twin.stages["import"]["invocations"] == 1
    assert night.attempts[("ImportFunction", CONTINUED.id)] == 3
    # The whole run's counts in the end, as one invocation reports them.
    imported = continued.stages["import"]
    assert imported["counts"]["STUDENT"]["created"] == CONTINUED.students
    assert _alerts(night, CONTINUED.id) == _alerts(night, TWIN.id)
    assert not night.sync_failed(CONTINUED.id)
    roster = snapshot(world.table_name, CONTINUED.id)
    stop()  # the reference is one invocation's import of the same validated run
    assert_same_roster(roster, world.reference_roster(CONTINUED.id, [continued.run_id]))


def test_an_import_that_never_finishes_is_stopped_at_its_bound_with_one_alert(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every invocation pauses (the answer is rewritten): after the bound's continuations the
    district fails with one sync_failed, and its twin is synced."""
    invoke = world.functions.invoke

    def always_paused(logical_id: str, event: dict[str, Any], context: Any | None = None) -> Any:
        result = invoke(logical_id, event, context)
        if logical_id == "ImportFunction" and event.get("district_id") == CONTINUED.id:
            result = {**result, "status": "paused"}
        return result

    monkeypatch.setattr(world.functions, "invoke", always_paused)

    night = world.night([CONTINUED.id, TWIN.id])

    endless, twin = night.outcome(CONTINUED.id), night.outcome(TWIN.id)
    assert endless.failed and endless.import_invocations == 11  # the first, then 10 continuations
    assert endless.error is not None and endless.error["error"] == "ImportDidNotFinish"
    assert len(night.sync_failed(CONTINUED.id)) == 1
    assert not twin.failed and twin.stages["import"]["status"] == "succeeded"
