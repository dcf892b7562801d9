"""Issue 25, defect 1: every date a district can send (a term's start and end, Clever's
`last_sync`, `pause_start`, `pause_end`, `launch_date`) is read in one place, `records.parse_time`,
which says "unreadable" (None) for anything out of range and never raises. A year-9999 date with a
negative offset lies past `datetime.max` in UTC: it used to raise OverflowError and fail the
district's validation or import every night. Now the district gets `record.date.invalid` (a
warning naming the record and the field) and the rest of its night goes on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rostersync.records import DATE_FIELDS, DistrictRecord, TermRecord, parse_time, time_problem
from rostersync.validate.rules import RULES, Severity
from tests.factories import D, base, district, rules_of, run, term

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
OUT_OF_RANGE = [
    "9999-12-31T23:59:59-01:00",  # past datetime.max once in UTC (OverflowError)
    "0001-01-01T00:00:00+01:00",  # before datetime.min once in UTC
    "99999-01-01",  # five-digit year (ValueError)
    "2026-02-30",  # no such day
    "not a date",
    "2026-11-28T25:00:00Z",
]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_an_out_of_range_or_unreadable_date_is_none_never_an_exception(value: str) -> None:
    assert parse_time(value) is None
    assert time_problem(value) is not None


def test_readable_dates_are_aware_utc_and_have_no_problem() -> None:
    assert parse_time("2026-11-28T05:12:45.123Z") == datetime(2026, 11, 28, 5, 12, 45, 123000, tzinfo=UTC)
    assert parse_time("2026-08-25") == datetime(2026, 8, 25, tzinfo=UTC)
    assert parse_time("9999-12-31T23:59:59+01:00") is not None  # in range in UTC
    for value in (None, "", "2026-08-25"):
        assert time_problem(value) is None


def test_every_date_field_a_district_can_send_is_listed() -> None:
    assert DATE_FIELDS[DistrictRecord] == ("last_sync", "pause_start", "pause_end", "launch_date")
    assert DATE_FIELDS[TermRecord] == ("start_date", "end_date")


def test_the_rule_is_a_warning() -> None:
    assert RULES["record.date.invalid"].severity is Severity.WARNING
    assert RULES["record.date.invalid"].fix


@pytest.mark.parametrize("field", ["last_sync", "pause_start", "pause_end", "launch_date"])
def test_a_clever_district_date_out_of_range_validates_with_a_finding(field: str) -> None:
    records = [district(**{field: "9999-12-31T23:59:59-01:00"}), *base()[1:]]

    summary, sink = run(records, now=NOW, stale_days=7)

    [finding] = [f for f in sink.findings if f.rule == "record.date.invalid"]
    assert finding.source_id == D and finding.field == field
    assert field in finding.message
    assert D in {rec.id for _, rec in sink.records}  # a warning: the district is imported
    assert "district.sync_stale" not in rules_of(sink, D)
    assert summary.rules["record.date.invalid"].count == 1


@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_a_term_date_out_of_range_is_a_finding_and_the_term_is_imported(field: str) -> None:
    records = [
        *[r for r in base() if not isinstance(r, TermRecord)],
        term(**{field: "9999-12-31T23:59:59-01:00"}),
    ]

    _, sink = run(records, now=NOW)

    [finding] = [f for f in sink.findings if f.rule == "record.date.invalid"]
    assert finding.source_id == "term1" and finding.field == field
    assert "term1" in {rec.id for _, rec in sink.records}
    assert "sec1" in {rec.id for _, rec in sink.records}  # its section too
