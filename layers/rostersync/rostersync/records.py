"""Normalized roster records: what every source adapter yields.

Validation and import work only on these. A Clever adapter (today), a ClassLink
OneRoster adapter or a Clever Events delta adapter (later) all produce the same
records, so nothing downstream knows where a record came from.

Fields a source guarantees may still be missing in practice; they are optional
here so that validation, not parsing, reports them (`record.malformed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# A district id in every request and event (and so in every storage key): letters, digits, '-'
# and '_', at most 64. Clever's are 24 hex digits; a later OneRoster source uses support-chosen ids.
DISTRICT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# A source's name (a registered profile's, `rostersync.sources`) as stored in pages, manifests
# and checkpoints and carried in the state machine's payload: "clever", "oneroster". A source
# whose districts reach us through several providers may name the district's provider after a
# colon ("oneroster:Infinite Campus"): the same profile, worded with the provider's name
# (`sources.profile`), so the provider travels wherever the source does.
PROVIDER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9 .&'()-]{0,47}"
SOURCE_NAME = rf"^[a-z][a-z0-9_]{{0,31}}(:{PROVIDER_PATTERN})?$"
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


class DistrictStatus(BaseModel):
    """The source's own sync status of a district (Clever's district object), as the source gives it.

    `state` is the source's sync state (Clever: running, pending, error, paused, success or empty);
    times are ISO 8601 as received (Clever: `last_sync`, `pause_start`, `pause_end` datetimes,
    `launch_date` a date). Nothing here is about a person.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: str | None = None
    last_sync: str | None = None
    pause_start: str | None = None
    pause_end: str | None = None
    launch_date: str | None = None

    def line(self) -> str:
        """One short line for people: "sync success, last 2026-11-28 05:12 UTC; paused ... to ..."."""
        parts = [f"sync {self.state or 'state unknown'}"]
        parts.append(f"last {_short_time(self.last_sync)}" if self.last_sync else "never synced")
        if self.pause_start or self.pause_end:
            parts.append(f"pause {_short_time(self.pause_start)} to {_short_time(self.pause_end)}")
        if self.launch_date:
            parts.append(f"launched {_short_time(self.launch_date)}")
        return ", ".join(parts)


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime from a source as an aware UTC datetime; None if absent or
    unreadable. The one reader of every date a district sends (DATE_FIELDS): it never raises, so
    no value a district can type fails its night (`9999-12-31T23:59:59-01:00` is past
    datetime.max once in UTC: OverflowError; a five-digit year or 30 February: ValueError)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, TypeError):
        return None


def time_problem(value: str | None) -> str | None:
    """Why a date a district sent cannot be read, or None (absent values are not a problem)."""
    if value is None or not value.strip() or parse_time(value) is not None:
        return None
    return "is not an ISO 8601 date or date and time between the years 1 and 9999 (in UTC)"


def _short_time(value: str | None) -> str:
    parsed = parse_time(value)
    if parsed is None:
        return "?" if not value else value[:32]
    if len((value or "").strip()) <= 10:
        return f"{parsed:%Y-%m-%d}"
    return f"{parsed:%Y-%m-%d %H:%M} UTC"


class DistrictRecord(_Record):
    record_type: Literal["district"] = "district"
    name: str | None = None
    nces_id: str | None = None
    # The source's sync status of the district (see DistrictStatus); not roster content.
    sync_state: str | None = None
    last_sync: str | None = None
    pause_start: str | None = None
    pause_end: str | None = None
    launch_date: str | None = None

    def status(self) -> DistrictStatus:
        return DistrictStatus(
            state=self.sync_state,
            last_sync=self.last_sync,
            pause_start=self.pause_start,
            pause_end=self.pause_end,
            launch_date=self.launch_date,
        )


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
    # Students only: date of birth (YYYY-MM-DD; protected data, never logged) and 5-digit ZIP.
    birth_date: str | None = None
    zip: str | None = None
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


class SourceNote(_Record):
    """A fact about the district that a source's normalizer saw and no roster record carries
    (OneRoster: accounts joined as one person, users disabled, demographics not shared): validation
    reports it as a finding of `rule` about the record `id` (a `subject`), never imports it.
    Rule ids only: the message names counts, roles and field names, never a person's values."""

    record_type: Literal["note"] = "note"
    subject: Literal["district", "student", "teacher", "staff", "district_admin"] = "district"
    rule: str
    about: str | None = None  # the field the finding is about
    message: str
    name: str | None = None


# The one union of normalized records, and the same union as a pydantic discriminated type.
Record = DistrictRecord | SchoolRecord | PersonRecord | SectionRecord | TermRecord | CourseRecord
RosterRecord = Annotated[Record, Field(discriminator="record_type")]
# What a source's normalizer yields: the records, and any notes about the district for validation.
Normalized = Record | SourceNote
# A re-iterable stream of a district's records: each call reads them again from the start.
RecordFactory = Callable[[], Iterator[Record]]


# Every date a district can send, per record type: read only through parse_time; validation
# reports an unreadable one (`record.date.invalid`, a warning naming the record and the field).
DATE_FIELDS: dict[type[_Record], tuple[str, ...]] = {
    DistrictRecord: ("last_sync", "pause_start", "pause_end", "launch_date"),
    TermRecord: ("start_date", "end_date"),
}
