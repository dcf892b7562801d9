"""Issue 14, item 11: Clever's district status (sync state, last sync, pause, launch) is kept through
minimize and normalize, and a district whose Clever sync is in error or older than
DISTRICT_SYNC_STALE_DAYS gets `district.sync_stale` (a warning: its data is frozen upstream)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rostersync.records import DistrictRecord
from rostersync.settings import Settings
from rostersync.sources import profile
from rostersync.sources.clever.normalize import minimize, normalize
from rostersync.validate.rules import RULES, Severity, fix_advice
from tests.factories import D, base, rules_of, run

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
CLEVER_DISTRICT = {
    "id": D,
    "name": "Test Area SD",
    "nces_id": "4200001",
    "state": "success",
    "last_sync": "2026-11-28T05:12:45.123Z",
    "pause_start": "2026-06-10T00:00:00.000Z",
    "pause_end": "2026-08-20T00:00:00.000Z",
    "launch_date": "2024-08-01",
    "error": "SIS export failed for student Jane Doe",  # free text: never kept
    "mdr_number": "1234567",
}


def test_the_district_status_survives_minimize_and_normalize() -> None:
    kept = minimize("districts", CLEVER_DISTRICT)
    assert "error" not in kept and "mdr_number" not in kept
    [record] = normalize("districts", kept, D)
    assert isinstance(record, DistrictRecord)
    assert record.sync_state == "success"
    assert record.last_sync == "2026-11-28T05:12:45.123Z"
    assert (record.pause_start, record.pause_end) == ("2026-06-10T00:00:00.000Z", "2026-08-20T00:00:00.000Z")
    assert record.launch_date == "2024-08-01"
    assert record.status().state == "success"


def _district(**fields: object) -> DistrictRecord:
    [record] = normalize("districts", minimize("districts", {**CLEVER_DISTRICT, **fields}), D)
    assert isinstance(record, DistrictRecord)
    return record


@pytest.mark.parametrize(
    ("fields", "stale"),
    [
        ({}, False),
        ({"state": "error"}, True),
        ({"last_sync": "2026-11-20T07:00:00.000Z"}, True),  # 8 days before the fetch
        ({"last_sync": "2026-11-22T07:00:00.000Z"}, False),  # 6 days
        ({"last_sync": None}, False),  # never synced: nothing to compare
        ({"last_sync": "not a date"}, False),
    ],
)
def test_a_sync_in_error_or_older_than_the_limit_is_stale(fields: dict[str, object], stale: bool) -> None:
    records = [_district(**fields), *base()[1:]]
    _, sink = run(records, now=NOW, stale_days=7)
    assert ("district.sync_stale" in rules_of(sink, D)) is stale
    assert D in {rec.id for _, rec in sink.records}  # a warning: the district is imported


def test_the_stale_rule_is_a_warning_that_says_the_data_is_frozen_upstream() -> None:
    rule = RULES["district.sync_stale"]
    assert rule.severity is Severity.WARNING
    fix = fix_advice(rule.id, profile("clever").wording)
    assert "Clever" in fix and "sync" in fix.lower()
    _, sink = run([_district(state="error"), *base()[1:]], now=NOW, stale_days=7)
    [finding] = [f for f in sink.findings if f.rule == "district.sync_stale"]
    assert "error" in finding.message


def test_the_stale_limit_is_a_setting_defaulting_to_7_days(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().district_sync_stale_days == 7  # type: ignore[call-arg]
    monkeypatch.setenv("DISTRICT_SYNC_STALE_DAYS", "3")
    assert Settings().district_sync_stale_days == 3  # type: ignore[call-arg]
