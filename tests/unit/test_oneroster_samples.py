"""The vendored OneRoster CSV sample sets (real data we did not write) through the OneRoster mapping.

Each set is turned into the REST objects a provider serves (tests/oneroster_csv.py), minimized as
the fetch stage stores them, normalized and validated with the OneRoster source's rules. None of
these sets shares a district org or an NCES id or a PASECUREID (they were written for other
products), so they are also real examples of what a ClassLink district gets told to fix.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import pytest

from rostersync.records import Kind, PersonRecord, SchoolRecord, SectionRecord, SourceRole, TermRecord
from rostersync.sources import normalize_district, source_rules
from rostersync.sources.oneroster.normalize import minimize
from rostersync.sources.oneroster.resources import SOURCE_NAME, Resource
from rostersync.validate.engine import CollectingSink, validate_district
from tests.oneroster_csv import load_set
from tests.paths import ONEROSTER_SAMPLES

MOODLE = ONEROSTER_SAMPLES / "moodle-enrol_oneroster"
OAT = ONEROSTER_SAMPLES / "oat-sa-oneroster-import" / "OneRosterv1p1BaseCSV"
DISTRICT = "4218990"


def stored(data: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        r.value: [m for m in (minimize(r, o) for o in data.get(r.value, [])) if m is not None]
        for r in Resource
    }


def normalized(data: dict[str, list[dict[str, Any]]]) -> list[Any]:
    pages = stored(data)
    return list(normalize_district(SOURCE_NAME, list(pages), lambda r: iter(pages[r]), DISTRICT))


def validated(recs: list[Any]) -> tuple[CollectingSink, Any]:
    sink = CollectingSink()

    def again() -> Iterator[Any]:
        return iter(recs)

    return sink, validate_district(DISTRICT, again, sink, source_rules=source_rules(SOURCE_NAME))


@pytest.mark.parametrize("name", ["Test_full_data_set", "Test_minimal_data_set"])
def test_moodle_sets_map_people_classes_and_sessions(name: str) -> None:
    data = load_set(MOODLE / name)
    assert len(data["users"]) == 6
    recs = normalized(data)
    people = {r.id: r for r in recs if isinstance(r, PersonRecord)}
    # The parent (usr-222-1234561) is dropped at the edge; teachers and students are kept.
    assert "usr-222-1234561" not in people
    assert {i: p.role for i, p in people.items()} == {
        "usr-222-123456": SourceRole.TEACHER,
        "usr-222-66778899": SourceRole.STUDENT,
        "usr-222-987654": SourceRole.TEACHER,
        "usr-222-1234561232": SourceRole.STUDENT,
        "usr-222-567891": SourceRole.STUDENT,
    }
    assert all(p.state_id is None for p in people.values())
    # The only org is a department: no district, no school.
    assert not [r for r in recs if isinstance(r, SchoolRecord)]
    sections = {r.id: r for r in recs if isinstance(r, SectionRecord)}
    if name == "Test_full_data_set":
        # cls-222-123478 is `tobedeleted`: not shared. as-grp-222-23456 likewise.
        assert set(sections) == {"cls-222-123456"}
        assert "as-grp-222-23456" not in {r.id for r in recs if isinstance(r, TermRecord)}
        assert people["usr-222-567891"].grade == "11"
        assert people["usr-222-567891"].graduation_year == "2024"  # grade 11 in the year ending 2023
    c = sections["cls-222-123456"]
    assert c.teachers == ("usr-222-123456",)
    # jim.smith is a teacher enrolled as a student in this class (the data says so).
    assert c.students == ("usr-222-987654", "usr-222-1234561232")
    assert (c.school, c.course, c.term) == ("org-sch-222-456", "crs-222-2023-456-12345", "as-trm-222-1234")

    sink, summary = validated(recs)
    assert summary.empty and summary.rejected_by == "district.primary_org.missing"
    assert [f.rule for f in sink.findings] == ["district.primary_org.missing"]
    assert not sink.records


def test_oat_set_schools_without_nces_and_students_without_pasecureid() -> None:
    data = load_set(OAT)
    assert data["academicSessions"] == [] and data["courses"] == [] and data["demographics"] == []
    recs = normalized(data)
    schools = {r.id: r for r in recs if isinstance(r, SchoolRecord)}
    assert set(schools) == {"12345", "54321"} and all(s.nces_id is None for s in schools.values())
    # Give the tenant the district org it lacks, to see what else support would report.
    data["orgs"].append({"sourcedId": "dist", "status": "active", "name": "District", "type": "district"})
    sink, summary = validated(normalized(data))
    assert not summary.empty
    rules = {f.rule for f in sink.findings}
    assert {"school.nces_id.missing", "student.state_id.not_shared", "student.state_id.missing"} <= rules
    assert [f.record_type for f in sink.findings if f.rule == "student.state_id.not_shared"] == ["district"]
    assert {kind for kind, _ in sink.records} == {Kind.DISTRICT}


def test_oneroster_test_data_birth_date_reaches_the_student() -> None:
    folder = MOODLE / "oneroster_test_data"
    data = load_set(folder)
    # A OneRoster 1.2 set: roles moved out of users.csv into roles.csv. Put the primary role back
    # as 1.1's `role` (what a 1.1 provider serves), and the school org as the user's org.
    with (folder / "roles.csv").open(encoding="utf-8", newline="") as f:
        roles = {row["userSourcedId"]: row for row in csv.DictReader(f) if row["roleType"] == "primary"}
    for user in data["users"]:
        role = roles.get(user["sourcedId"])
        if role:
            user["role"] = role["role"]
            user["orgs"] = [{"href": "", "sourcedId": role["orgSourcedId"], "type": "org"}]
    recs = normalized(data)
    [student] = [r for r in recs if isinstance(r, PersonRecord)]
    assert (student.id, student.role, student.birth_date) == ("USER_0", SourceRole.STUDENT, "2010-04-17")
    assert student.schools == ("ORG_1",)
    [section] = [r for r in recs if isinstance(r, SectionRecord)]
    assert section.students == ("USER_0",) and section.teachers == ()
