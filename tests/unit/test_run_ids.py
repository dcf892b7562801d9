"""Run ids come from the system clock: one from the future is refused everywhere it enters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from rostersync.contracts.fetch import FetchRequest
from rostersync.contracts.importer import ImportRequest, ImportResult, RunStatus
from rostersync.contracts.validate import ValidateRequest
from rostersync.ids import FutureRunId, new_run_id, refuse_future_run_id, run_id_time

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
MISTYPED = "20621129T070000Z-0a1b2c"  # 2062 for 2026: a hand-started run's typo


def test_run_id_time_reads_both_forms() -> None:
    assert run_id_time("20261128T070000Z-3f9a1c") == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert run_id_time("20261128T070000123456Z-3f9a1c") == datetime(2026, 11, 28, 7, 0, 0, 123456, tzinfo=UTC)
    assert run_id_time("not-a-run") is None
    assert run_id_time(new_run_id(NOW)) == NOW


def test_a_run_id_a_few_minutes_ahead_is_tolerated_and_more_is_refused() -> None:
    refuse_future_run_id(new_run_id(NOW + timedelta(minutes=4)), NOW)  # clock skew between hosts
    with pytest.raises(FutureRunId, match="ahead of the clock"):
        refuse_future_run_id(new_run_id(NOW + timedelta(minutes=6)), NOW)
    with pytest.raises(FutureRunId):
        refuse_future_run_id(MISTYPED, NOW)


@pytest.mark.parametrize(
    "make",
    [
        lambda run_id: FetchRequest(district_ids=["d1"], run_id=run_id),
        lambda run_id: ValidateRequest(district_id="d1", run_id=run_id),
        lambda run_id: ImportRequest(district_id="d1", run_id=run_id, source="clever"),
    ],
    ids=["fetch", "validate", "import"],
)
def test_every_stage_refuses_a_run_id_from_the_future_at_its_boundary(make: object) -> None:
    with pytest.raises(ValidationError, match="ahead of the clock"):
        make(MISTYPED)  # type: ignore[operator]
    make(new_run_id())  # type: ignore[operator]  # now is fine


def test_a_stale_import_alerts_what_happened_and_what_to_do() -> None:
    from rostersync.alerts.notify import notify_import
    from tests.fakes import RecordingPublisher

    publisher = RecordingPublisher()
    result = ImportResult(
        district_id="d1",
        run_id="20261128T070000Z-aaaaaa",
        status=RunStatus.SKIPPED_STALE,
        error="a newer run 20261129T070000Z-bbbbbb already started for the district",
    )
    outcome = notify_import(result, publisher, source="clever")
    assert outcome.published == ["sync_failed:d1"]
    [alert] = publisher.sent
    assert "skipped" in alert.subject and "newer run" in alert.body
    assert "20261129T070000Z-bbbbbb" in alert.body and "What to do" in alert.body
