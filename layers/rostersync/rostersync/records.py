"""Normalized roster records: what every source adapter yields.

Validation and import work only on these. A Clever adapter (today), a ClassLink
OneRoster adapter or a Clever Events delta adapter (later) all produce the same
records, so nothing downstream knows where a record came from.

Fields a source guarantees may still be missing in practice; they are optional
here so that validation, not parsing, reports them (`record.malformed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# A district id in every request and event (and so in every storage key): letters, digits, '-'
# and '_', at most 64. Clever's are 24 hex digits; a later OneRoster source uses support-chosen ids.
DISTRICT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DistrictId = Annotated[str, Field(pattern=DISTRICT_ID_PATTERN)]


class Kind(StrEnum):
    """Roster item kinds, as in the table's sort key `<KIND>#<id>`."""

    DISTRICT = "DISTRICT"
    SCHOOL = "SCHOOL"
    STUDENT = "STUDENT"
    TEACHER = "TEACHER"
    STAFF = "STAFF"
    SECTION = "SECTION"
    TERM = "TERM"
    COURSE = "COURSE"


class SourceRole(StrEnum):
    """The role a person was shared with by the source (Clever's `role=` values we fetch)."""

    STUDENT = "student"
    TEACHER = "teacher"
    STAFF = "staff"
    DISTRICT_ADMIN = "district_admin"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    district_id: str


class DistrictRecord(_Record):
    record_type: Literal["district"] = "district"
    name: str | None = None
    nces_id: str | None = None


class SchoolRecord(_Record):
    record_type: Literal["school"] = "school"
    name: str | None = None
    nces_id: str | None = None
    sis_id: str | None = None
    school_number: str | None = None
    state_id: str | None = None
    low_grade: str | None = None
    high_grade: str | None = None


class PersonName(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    first: str | None = None
    middle: str | None = None
    last: str | None = None

    def display(self) -> str:
        """ "Last, First" as district staff read it in their SIS."""
        parts = [p for p in (self.last, self.first) if p]
        return ", ".join(parts)


class PersonRecord(_Record):
    """One person as shared under one role. A person shared under two roles yields two records."""

    record_type: Literal["person"] = "person"
    role: SourceRole
    name: PersonName | None = None
    email: str | None = None
    sis_id: str | None = None
    # PA Secure ID for students (Clever `roles.student.state_id`); never set for adults.
    state_id: str | None = None
    # Local number: student_number, teacher_number or staff_id.
    local_number: str | None = None
    grade: str | None = None
    graduation_year: str | None = None
    title: str | None = None
    department: str | None = None
    schools: tuple[str, ...] = ()


class SectionRecord(_Record):
    record_type: Literal["section"] = "section"
    name: str | None = None
    school: str | None = None
    sis_id: str | None = None
    section_number: str | None = None
    period: str | None = None
    subject: str | None = None
    grade: str | None = None
    course: str | None = None
    term: str | None = None
    teachers: tuple[str, ...] = ()
    students: tuple[str, ...] = ()


class TermRecord(_Record):
    record_type: Literal["term"] = "term"
    name: str | None = None
    start_date: str | None = None
    end_date: str | None = None


class CourseRecord(_Record):
    record_type: Literal["course"] = "course"
    name: str | None = None
    number: str | None = None


# The one union of normalized records, and the same union as a pydantic discriminated type.
Record = DistrictRecord | SchoolRecord | PersonRecord | SectionRecord | TermRecord | CourseRecord
RosterRecord = Annotated[Record, Field(discriminator="record_type")]
# A re-iterable stream of a district's records: each call reads them again from the start.
RecordFactory = Callable[[], Iterator[Record]]
