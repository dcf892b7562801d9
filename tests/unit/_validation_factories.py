"""Small-district builders for the validation tests (not a test module)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from rostersync.records import (
    CourseRecord,
    DistrictRecord,
    PersonName,
    PersonRecord,
    Record,
    SchoolRecord,
    SectionRecord,
    SourceRole,
    TermRecord,
)
from rostersync.validate.engine import CollectingSink, validate_district
from rostersync.validate.summary import Summary

D = "dist1"
_state = itertools.count(1000000000)


def district(name: str = "Test Area SD") -> DistrictRecord:
    return DistrictRecord(id=D, district_id=D, name=name, nces_id="4200001")


def school(
    id: str = "sch1", name: str | None = "Lincoln High", nces: str | None = "420000100001"
) -> SchoolRecord:
    return SchoolRecord(id=id, district_id=D, name=name, nces_id=nces, sis_id=f"sis-{id}")


def person(
    id: str,
    role: SourceRole,
    schools: Iterable[str] = ("sch1",),
    *,
    first: str | None = "Ann",
    last: str | None = None,
    email: str | None = "x@example.org",
    state_id: str | None = None,
) -> PersonRecord:
    return PersonRecord(
        id=id,
        district_id=D,
        role=role,
        name=PersonName(first=first, last=last if last is not None else f"Last{id}"),
        email=email,
        sis_id=f"sis-{id}",
        state_id=state_id,
        schools=tuple(schools),
    )


def student(
    id: str, schools: Iterable[str] = ("sch1",), *, state_id: str | None = "auto", **kw
) -> PersonRecord:
    sid = str(next(_state)) if state_id == "auto" else state_id
    return person(id, SourceRole.STUDENT, schools, state_id=sid, email=None, **kw)


def teacher(id: str, schools: Iterable[str] = ("sch1",), **kw) -> PersonRecord:
    return person(id, SourceRole.TEACHER, schools, **kw)


def staff(id: str, schools: Iterable[str] = ("sch1",), **kw) -> PersonRecord:
    return person(id, SourceRole.STAFF, schools, **kw)


def admin(id: str, **kw) -> PersonRecord:
    return person(id, SourceRole.DISTRICT_ADMIN, (), **kw)


def section(
    id: str,
    school: str | None = "sch1",
    teachers: Iterable[str] = ("t1",),
    students: Iterable[str] = ("s1",),
    name: str | None = "Algebra I",
) -> SectionRecord:
    return SectionRecord(
        id=id,
        district_id=D,
        name=name,
        school=school,
        sis_id=f"sis-{id}",
        teachers=tuple(teachers),
        students=tuple(students),
    )


def term(id: str = "term1") -> TermRecord:
    return TermRecord(id=id, district_id=D, name="2025-26")


def course(id: str = "course1") -> CourseRecord:
    return CourseRecord(id=id, district_id=D, name="Algebra")


def base() -> list[Record]:
    """A clean district: one school, one teacher, one student, one section, a term and a course."""
    return [district(), school(), teacher("t1"), student("s1"), section("sec1"), term(), course()]


def run(records: list[Record], **kw: object) -> tuple[Summary, CollectingSink]:
    sink = CollectingSink()
    summary = validate_district(D, lambda: iter(records), sink, **kw)  # type: ignore[arg-type]
    return summary, sink


def rules_of(sink: CollectingSink, clever_id: str | None = None) -> list[str]:
    return [f.rule for f in sink.findings if clever_id is None or f.clever_id == clever_id]


def accepted_ids(sink: CollectingSink) -> dict[str, object]:
    return {rec.id: kind for kind, rec in sink.records}


def accepted(sink: CollectingSink, id: str) -> Record:
    (rec,) = [r for _, r in sink.records if r.id == id]
    return rec


def assert_balanced(summary: Summary) -> None:
    for rtype, c in summary.records.items():
        assert c.fetched == c.accepted + c.rejected + c.excluded, rtype
