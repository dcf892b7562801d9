"""statemachine/nightly.asl.json itself, in moto's engine, its Lambda tasks calling the handlers.

One bad district never stops the night: whatever step fails for a district (its fetch, validate
or import raises, or its fetch never finishes), every other district completes, and each failed
district is alerted exactly once (sync_failed). At MaxConcurrency 1 and 10, with batches of two
districts so the failures fall in different batch executions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rostersync.settings import get_settings
from rostersync_cli.local_functions import Handler, LocalFunctions
from rostersync_cli.nightly import LocalNight, Night
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from tests.integration.alert_inbox import AlertInbox, ReceivedAlert

FETCH_RAISES = DistrictSpec("Adams Fetch SD", seed=9101, schools=1, students=8, teachers=2, sections=2)
VALIDATE_RAISES = DistrictSpec("Berks Validate SD", seed=9102, schools=1, students=8, teachers=2, sections=2)
IMPORT_RAISES = DistrictSpec("Centre Import SD", seed=9103, schools=1, students=8, teachers=2, sections=2)
NEVER_FINISHES = DistrictSpec("Dauphin Endless SD", seed=9104, schools=1, students=8, teachers=2, sections=2)
CLEAN = (
    DistrictSpec("Elk Clean SD", seed=9105, schools=1, students=8, teachers=2, sections=2),
    DistrictSpec("Fayette Clean SD", seed=9106, schools=1, students=8, teachers=2, sections=2),
)
FAULTY = (FETCH_RAISES, VALIDATE_RAISES, IMPORT_RAISES, NEVER_FINISHES)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(*FAULTY, *CLEAN))) as server:
        yield server


def _district(event: dict[str, Any]) -> str | None:
    ids = event.get("district_ids") or [event.get("district_id")]
    return ids[0] if len(ids) == 1 else None


def raising_for(district_id: str, error: type[Exception]) -> Callable[[Handler], Handler]:
    def wrapper(handler: Handler) -> Handler:
        def call(event: dict[str, Any], context: Any) -> Any:
            if _district(event) == district_id:
                raise error(f"injected for {district_id}")
            return handler(event, context)

        return call

    return wrapper


def never_finishing(district_id: str) -> Callable[[Handler], Handler]:
    """The district's fetch answers in_progress every time (it paused at its deadline, again)."""

    def wrapper(handler: Handler) -> Handler:
        def call(event: dict[str, Any], context: Any) -> Any:
            result = handler(event, context)
            if _district(event) == district_id:
                result["districts"][0]["status"] = "in_progress"
            return result

        return call

    return wrapper


def _sync_failed(alerts: list[ReceivedAlert]) -> list[str]:
    return sorted(a.district_id for a in alerts if a.event_type == "sync_failed")


@pytest.mark.parametrize("max_concurrency", [1, 10])
def test_one_bad_district_never_stops_the_night(functions: LocalFunctions, max_concurrency: int) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    functions.wrap("FetchFunction", raising_for(FETCH_RAISES.id, ConnectionError))
    functions.wrap("ValidateFunction", raising_for(VALIDATE_RAISES.id, ValueError))
    functions.wrap("ImportFunction", raising_for(IMPORT_RAISES.id, RuntimeError))
    functions.wrap("FetchFunction", never_finishing(NEVER_FINISHES.id))
    overrides = {"MaxConcurrency": str(max_concurrency), "DistrictsPerBatch": "2"}

    night = LocalNight(functions, overrides=overrides).run()

    assert night.status == "FAILED" and night.error == "DistrictsFailed"
    assert len(night.batch_executions) == 3
    every = {spec.id for spec in (*FAULTY, *CLEAN)}
    assert set(night.districts) == every and all(o.finished for o in night.outcomes)
    for spec in CLEAN:
        outcome = night.districts[spec.id]
        assert not outcome.failed and outcome.stages["import"]["status"] == "succeeded", outcome
    for spec in FAULTY:
        assert night.districts[spec.id].alerted_failure, spec.name
    assert _sync_failed(inbox.receive()) == sorted(spec.id for spec in FAULTY)
    assert night.districts[FETCH_RAISES.id].error["error"] == "ConnectionError"  # type: ignore[index]
    assert night.districts[VALIDATE_RAISES.id].error["error"] == "ValueError"  # type: ignore[index]
    assert "import" not in night.districts[VALIDATE_RAISES.id].stages
    assert night.districts[IMPORT_RAISES.id].error["error"] == "RuntimeError"  # type: ignore[index]
    endless = night.districts[NEVER_FINISHES.id]
    assert endless.fetch_invocations == 21  # the first, then 20 continuations
    assert endless.error["error"] == "FetchDidNotFinish"  # type: ignore[index]
    assert "validate" not in endless.stages


@pytest.mark.parametrize("max_concurrency", [1, 10])
def test_discovery_failing_alerts_once_and_syncs_nothing(
    functions: LocalFunctions, max_concurrency: int
) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    calls: list[dict[str, Any]] = []

    def failing_discovery(handler: Handler) -> Handler:
        def call(event: dict[str, Any], context: Any) -> Any:
            calls.append(event)
            if event.get("discover"):
                raise ConnectionError("Clever /oauth/tokens unreachable")
            return handler(event, context)

        return call

    functions.wrap("FetchFunction", failing_discovery)

    night: Night = LocalNight(functions, overrides={"MaxConcurrency": str(max_concurrency)}).run()

    assert night.status == "FAILED" and night.error == "DiscoverFailed"
    # Discover's retrier: two more attempts (discovery is given the night's input)
    assert calls == [{"discover": True, "named": {"dry_run": False}}] * 3
    assert not night.districts and not night.batch_executions
    alerts = inbox.receive()
    assert [(a.event_type, a.district_id) for a in alerts] == [("sync_failed", "all")]


def test_a_run_started_by_hand_syncs_the_named_districts_only(functions: LocalFunctions) -> None:
    [clean, other] = CLEAN

    night = LocalNight(functions).run([clean.id], dry_run=True)

    assert night.status == "SUCCEEDED"
    assert list(night.districts) == [clean.id] and other.id not in night.districts
    assert night.districts[clean.id].stages["import"]["status"] == "dry_run"
