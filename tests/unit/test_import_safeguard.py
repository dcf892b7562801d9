"""The mass-archive safeguard: per kind, per school, the 20-record floor, district overrides."""

from __future__ import annotations

import pytest

from rostersync.importer.safeguard import SafeguardThresholds, check
from rostersync.records import Kind
from rostersync.roster_items import Candidate

DEFAULT = SafeguardThresholds()


def _students(n: int, school: str = "sch1") -> list[Candidate]:
    return [Candidate(Kind.STUDENT, f"{school}-{i}", None, (school,)) for i in range(n)]


@pytest.mark.parametrize(
    ("active", "archiving", "trips"),
    [
        (20, 20, False),  # the floor: 20 or fewer active never trips
        (21, 3, True),  # 14% of 21
        (21, 2, False),  # 9.5%
        (100, 10, False),  # exactly 10% is allowed
        (100, 11, True),
        (190_000, 19_000, False),
        (190_000, 19_001, True),
    ],
)
def test_threshold_and_floor(active: int, archiving: int, trips: bool) -> None:
    assert DEFAULT.trips(active, archiving) is trips


def test_per_kind() -> None:
    candidates = [Candidate(Kind.TEACHER, f"t{i}", None, ()) for i in range(5)]
    trips = check(candidates, {Kind.TEACHER: 40, Kind.STUDENT: 1000}, {}, DEFAULT)
    assert [(t.scope, t.key, t.active, t.archiving) for t in trips] == [("kind", "TEACHER", 40, 5)]
    assert check(candidates, {Kind.TEACHER: 50}, {}, DEFAULT) == []


def test_per_school_even_when_the_district_total_is_small() -> None:
    # 30 of 1,000 students (3%) but 30 of school B's 100 (30%)
    candidates = _students(30, "B")
    trips = check(candidates, {Kind.STUDENT: 1000}, {"A": 900, "B": 100}, DEFAULT)
    assert [(t.scope, t.key) for t in trips] == [("school", "B")]


def test_small_school_never_trips() -> None:
    trips = check(_students(15, "tiny"), {Kind.STUDENT: 1000}, {"tiny": 20, "big": 980}, DEFAULT)
    assert trips == []


def test_a_student_in_two_schools_counts_in_each() -> None:
    candidates = [Candidate(Kind.STUDENT, f"s{i}", None, ("A", "B", "A")) for i in range(3)]
    trips = check(candidates, {Kind.STUDENT: 1000}, {"A": 25, "B": 500}, DEFAULT)
    assert [(t.key, t.archiving) for t in trips] == [("A", 3)]


def test_empty_archive_set_never_trips() -> None:
    assert check([], {Kind.STUDENT: 10}, {"A": 10}, DEFAULT) == []


def test_district_settings_item_overrides_the_default() -> None:
    assert SafeguardThresholds.from_item(None, DEFAULT) is DEFAULT
    custom = SafeguardThresholds.from_item({"archive_percent": 25, "floor": 50}, DEFAULT)
    assert custom == SafeguardThresholds(archive_percent=25.0, floor=50)
    assert not custom.trips(50, 50) and custom.trips(100, 26)
    assert (
        SafeguardThresholds.from_item({"floor": 5}, SafeguardThresholds(archive_percent=5)).archive_percent
        == 5
    )
