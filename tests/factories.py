"""Record builders and small rosters for every test (not a test module).

One district by default (`D`). Builders take `d=` for another district and pass any other
keyword on to the record, so a test says only what matters to it. State ids are derived from
the record id, so building the same roster twice gives identical records (an unchanged night).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rostersync.records import (
    CourseRecord,
    DistrictRecord,
    Kind,
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

D = "d0000000000000000000001"

# ------------------------------------------------------------------------------ records


def district(name: str | None = "Test Area SD", d: str = D, **kw: Any) -> DistrictRecord:
    return DistrictRecord(id=d, district_id=d, name=name, nces_id="4200001", **kw)


def school(
    id: str = "sch1",
    name: str | None = "Lincoln High",
    nces: str | None = "420000100001",
    d: str = D,
    **kw: Any,
) -> SchoolRecord:
    values = {"name": name, "nces_id": nces, "sis_id": f"sis-{id}", **kw}
    return SchoolRecord.model_validate({"id": id, "district_id": d, **values})


def state_id_for(record_id: str) -> str:
    """A 10-digit PA Secure ID derived from the record id (the same id, the same state id)."""
    return f"9{zlib.crc32(record_id.encode()) % 10**9:09d}"


def person(
    id: str,
    role: SourceRole,
    schools: Iterable[str] = ("sch1",),
    *,
    first: str | None = "Ann",
    last: str | None = None,
    email: str | None = "x@example.org",
    state_id: str | None = None,
    d: str = D,
    **kw: Any,
) -> PersonRecord:
    kw.setdefault("name", PersonName(first=first, last=last if last is not None else f"Last{id}"))
    return PersonRecord(
        id=id,
        district_id=d,
        role=role,
        email=email,
        sis_id=f"sis-{id}",
        state_id=state_id,
        schools=tuple(schools),
        **kw,
    )


def student(
    id: str, schools: Iterable[str] = ("sch1",), *, state_id: str | None = "auto", **kw: Any
) -> PersonRecord:
    kw.setdefault("email", None)
    kw.setdefault("grade", "9")
    # Smart Futures' student fields (a gap is a warning: pass None to test one).
    kw.setdefault("birth_date", "2011-04-02")
    kw.setdefault("graduation_year", "2029")
    kw.setdefault("zip", "15001")
    sid = state_id_for(id) if state_id == "auto" else state_id
    return person(id, SourceRole.STUDENT, schools, state_id=sid, **kw)


def teacher(id: str, schools: Iterable[str] = ("sch1",), **kw: Any) -> PersonRecord:
    return person(id, SourceRole.TEACHER, schools, **kw)


def staff(id: str, schools: Iterable[str] = ("sch1",), **kw: Any) -> PersonRecord:
    return person(id, SourceRole.STAFF, schools, **kw)


def admin(id: str, **kw: Any) -> PersonRecord:
    return person(id, SourceRole.DISTRICT_ADMIN, (), **kw)


def section(
    id: str,
    school: str | None = "sch1",
    teachers: Iterable[str] = ("t1",),
    students: Iterable[str] = ("s1",),
    name: str | None = "Algebra I",
    d: str = D,
    **kw: Any,
) -> SectionRecord:
    return SectionRecord(
        id=id,
        district_id=d,
        name=name,
        school=school,
        sis_id=f"sis-{id}",
        teachers=tuple(teachers),
        students=tuple(students),
        **kw,
    )


def term(id: str = "term1", d: str = D, **kw: Any) -> TermRecord:
    values = {"name": "2026-27", "start_date": "2026-08-25", "end_date": "2027-06-10", **kw}
    return TermRecord(id=id, district_id=d, **values)


def course(id: str = "course1", d: str = D, **kw: Any) -> CourseRecord:
    values = {"name": "Algebra I", "number": "MA101", **kw}
    return CourseRecord(id=id, district_id=d, **values)


# --------------------------------------------------------------------------- validation


def base() -> list[Record]:
    """A clean district: one school, one teacher, one student, one section, a term and a course."""
    return [district(), school(), teacher("t1"), student("s1"), section("sec1"), term(), course()]


def run(records: list[Record], **kw: object) -> tuple[Summary, CollectingSink]:
    sink = CollectingSink()
    summary = validate_district(D, lambda: iter(records), sink, **kw)  # type: ignore[arg-type]
    return summary, sink


def rules_of(sink: CollectingSink, source_id: str | None = None) -> list[str]:
    return [f.rule for f in sink.findings if source_id is None or f.source_id == source_id]


def accepted_ids(sink: CollectingSink) -> dict[str, object]:
    return {rec.id: kind for kind, rec in sink.records}


def accepted(sink: CollectingSink, id: str) -> Record:
    (rec,) = [r for _, r in sink.records if r.id == id]
    return rec


def assert_balanced(summary: Summary) -> None:
    for rtype, c in summary.records.items():
        assert c.fetched == c.accepted + c.rejected + c.excluded, rtype


# ------------------------------------------------------------------------------- import


@dataclass
class Roster:
    """A mutable district roster; `accepted` is the re-iterable factory import_district wants."""

    records: dict[tuple[Kind, str], Record] = field(default_factory=dict)

    def add(self, kind: Kind, record: Record) -> Roster:
        self.records[(kind, record.id)] = record
        return self

    def remove(self, kind: Kind, record_id: str) -> Record:
        return self.records.pop((kind, record_id))

    def accepted(self) -> Callable[[], list[tuple[Kind, Record]]]:
        snapshot = [(kind, record) for (kind, _), record in self.records.items()]
        return lambda: list(snapshot)

    def ids(self, kind: Kind) -> list[str]:
        return [i for (k, i) in self.records if k is kind]


def small_roster(students: int = 30, schools: int = 1, teachers: int = 3, d: str = D) -> Roster:
    """A district, `schools` schools, students spread over them, teachers, one section each."""
    roster = Roster()
    roster.add(Kind.DISTRICT, district(d=d))
    school_ids = [f"sch{n + 1}" for n in range(schools)]
    for sid in school_ids:
        roster.add(Kind.SCHOOL, school(sid, name=f"School {sid}", state_id="PA-SCH-1", d=d))
    for n in range(students):
        roster.add(Kind.STUDENT, student(f"st{n:04d}", (school_ids[n % schools],), d=d))
    for n in range(teachers):
        tid = f"te{n:03d}"
        roster.add(
            Kind.TEACHER,
            teacher(
                tid,
                (school_ids[n % schools],),
                first="Tom",
                last=f"Teach{tid}",
                email=f"{tid}@example.org",
                d=d,
            ),
        )
    student_ids = roster.ids(Kind.STUDENT)
    for n in range(teachers):
        roster.add(
            Kind.SECTION,
            section(
                f"se{n:03d}",
                school_ids[n % schools],
                (f"te{n:03d}",),
                student_ids[n::teachers],
                name=f"Section se{n:03d}",
                term="term1",
                course="course1",
                d=d,
            ),
        )
    roster.add(Kind.TERM, term(d=d))
    roster.add(Kind.COURSE, course(d=d))
    return roster


class Clock:
    """A settable clock; run ids follow it (`20261128T020000Z-000001`)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
        self.n = 0

    def __call__(self) -> datetime:
        return self.now

    def next_run(self, days: int = 1) -> str:
        self.now += timedelta(days=days)
        self.n += 1
        return f"{self.now:%Y%m%dT%H%M%SZ}-{self.n:06d}"
