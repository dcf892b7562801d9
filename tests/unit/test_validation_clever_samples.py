"""Clever's own demo district (clever-go samples) through normalize and validation."""

from __future__ import annotations

import json

import pytest

from rostersync.records import Kind, Record, SchoolRecord
from rostersync.sources.clever.normalize import normalize
from rostersync.sources.clever.resources import Resource
from rostersync.validate.engine import CollectingSink, validate_district
from tests.paths import CLEVER_SAMPLES

ROLE_RESOURCES = {
    "student": Resource.STUDENTS,
    "teacher": Resource.TEACHERS,
    "staff": Resource.STAFF,
    "district_admin": Resource.DISTRICT_ADMINS,
}


def _objects(name: str) -> list[dict]:
    return [item["data"] for item in json.loads((CLEVER_SAMPLES / name).read_text())["data"]]


@pytest.fixture(scope="module")
def demo() -> tuple[str, list[Record], list[dict]]:
    users, sections = _objects("users.json"), _objects("sections.json")
    district_id = users[0]["district"]
    records: list[Record] = []
    school_ids: dict[str, None] = {}
    for user in users:
        for role, resource in ROLE_RESOURCES.items():  # skips `contact`
            if role in user["roles"]:
                for rec in normalize(resource, user, district_id):
                    records.append(rec)
                    for s in getattr(rec, "schools", ()):
                        school_ids[s] = None
    for section in sections:
        records.extend(normalize(Resource.SECTIONS, section, district_id))
        school_ids[section["school"]] = None
    schools = [
        SchoolRecord(id=sid, district_id=district_id, name=f"Demo School {i}", nces_id=f"4200001{i:05d}")
        for i, sid in enumerate(school_ids, start=1)
    ]
    return district_id, [*schools, *records], users


def test_every_demo_student_is_rejected_for_a_nine_digit_state_id(demo):
    district_id, records, users = demo
    sink = CollectingSink()
    summary = validate_district(district_id, lambda: iter(records), sink)

    students = {u["id"] for u in users if "student" in u["roles"]}
    format_findings = [f for f in sink.findings if f.rule == "student.state_id.format"]
    assert {f.source_id for f in format_findings} == students
    assert all("9 digits" in f.message for f in format_findings)
    state_ids = {u["roles"]["student"]["state_id"] for u in users if "student" in u["roles"]}
    assert not any(sid in f.message for f in sink.findings for sid in state_ids)

    assert summary.records["student"].fetched == len(students)
    assert summary.records["student"].rejected == len(students)
    assert Kind.STUDENT not in summary.imported
    for c in summary.records.values():
        assert c.fetched == c.accepted + c.rejected
    # nobody is left in any section: every student was rejected
    assert all(not r.students for k, r in sink.records if k is Kind.SECTION)  # type: ignore[union-attr]
    assert summary.rules["section.unknown_user"].count > 0
    assert summary.imported[Kind.SCHOOL] == len([r for r in records if isinstance(r, SchoolRecord)])
