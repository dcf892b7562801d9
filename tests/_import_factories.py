"""Small roster builders for the import tests (not a test module)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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

D = "d0000000000000000000001"


def district(name: str = "Test Area SD", d: str = D) -> DistrictRecord:
    return DistrictRecord(id=d, district_id=d, name=name, nces_id="4200001")


def school(id: str, d: str = D, **kw: str) -> SchoolRecord:
    values = {
        "name": f"School {id}",
        "nces_id": "420000100001",
        "sis_id": f"sis-{id}",
        "state_id": "PA-SCH-1",
        **kw,
    }
    return SchoolRecord.model_validate({"id": id, "district_id": d, **values})


def student(id: str, schools: Iterable[str] = ("sch1",), d: str = D, **kw: object) -> PersonRecord:
    values: dict[str, object] = {
        "name": PersonName(first="Ann", last=f"Last{id}"),
        "sis_id": f"sis-{id}",
        "state_id": f"9{zlib.crc32(id.encode()) % 10**9:09d}",
        "grade": "9",
        **kw,
    }
    return PersonRecord(id=id, district_id=d, role=SourceRole.STUDENT, schools=tuple(schools), **values)  # type: ignore[arg-type]


def teacher(id: str, schools: Iterable[str] = ("sch1",), d: str = D, **kw: object) -> PersonRecord:
    values: dict[str, object] = {
        "name": PersonName(first="Tom", last=f"Teach{id}"),
        "sis_id": f"sis-{id}",
        "email": f"{id}@example.org",
        **kw,
    }
    return PersonRecord(id=id, district_id=d, role=SourceRole.TEACHER, schools=tuple(schools), **values)  # type: ignore[arg-type]


def section(
    id: str, school: str = "sch1", teachers: Iterable[str] = (), students: Iterable[str] = (), d: str = D
) -> SectionRecord:
    return SectionRecord(
        id=id,
        district_id=d,
        name=f"Section {id}",
        school=school,
        teachers=tuple(teachers),
        students=tuple(students),
        term="term1",
        course="course1",
    )


def term(id: str = "term1", d: str = D) -> TermRecord:
    return TermRecord(id=id, district_id=d, name="2026-27", start_date="2026-08-25", end_date="2027-06-10")


def course(id: str = "course1", d: str = D) -> CourseRecord:
    return CourseRecord(id=id, district_id=d, name="Algebra I", number="MA101")


@dataclass
class Roster:
    """A mutable district roster; `accepted` is the re-iterable factory import_district wants."""

    records: dict[tuple[Kind, str], Record] = field(default_factory=dict)

    def add(self, kind: Kind, record: Record) -> Roster:
        self.records[(kind, record.id)] = record
        return self

    def remove(self, kind: Kind, clever_id: str) -> Record:
        return self.records.pop((kind, clever_id))

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
        roster.add(Kind.SCHOOL, school(sid, d=d))
    for n in range(students):
        roster.add(Kind.STUDENT, student(f"st{n:04d}", (school_ids[n % schools],), d=d))
    for n in range(teachers):
        roster.add(Kind.TEACHER, teacher(f"te{n:03d}", (school_ids[n % schools],), d=d))
    student_ids = roster.ids(Kind.STUDENT)
    for n in range(teachers):
        roster.add(
            Kind.SECTION,
            section(f"se{n:03d}", school_ids[n % schools], (f"te{n:03d}",), student_ids[n::teachers], d=d),
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
