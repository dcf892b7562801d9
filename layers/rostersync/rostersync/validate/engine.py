"""validate_district: two streaming passes over a district's normalized records.

Pass 1 reads every record once and keeps only compact indexes: school facts (few), for each
student id one int (state id + an index into the distinct school sets), state-id counts, for
each adult id its roles and schools, per-school counts, and per school the ids of the teachers
of its well-formed sections. Between the passes every decision that depends on other records
(accepted schools, unique state ids, accepted students, each adult's account kind) is settled.
Pass 2 re-reads the records and decides them one at a time, streaming accepted records and
findings to the sink. Records are never held in memory.

Decisions (documented in docs, tested in tests/unit/test_validation_rules.py):

* district.empty: a district that shared no school or no student gets ONE finding (record type
  `district`) and every record of it is rejected (counted, no per-record finding), so import
  never runs on it.
* Every input record ends exactly once as accepted or rejected, so per record type
  fetched == accepted + rejected. A person shared under several adult roles is several input
  records (counted under each role's type) but ONE accepted record: the record of the chosen
  role is handed to the sink; the others count as accepted and `merged`. Exact duplicates (same
  id and type twice) follow the first copy's outcome and count as `merged` if accepted.
* A person who is a student and also holds an adult role keeps only the student account: the
  adult records are rejected with `user.student_and_adult` (an account with staff access for a
  student would expose other students' data). The student record is judged on its own.
* Students, like teachers and staff, keep only their accepted schools.
* A district_admin is district-wide: never rejected for dependent.school_rejected.
* Licensed schools (`licensed`, the district's settings; None: every shared school is licensed):
  a shared school whose NCES id is not licensed gets `school.not_licensed` (info) and is not
  imported, and neither is any record only it holds: a section of it, a person whose every
  school is unlicensed (no finding each: the school's finding says why). A person with some
  licensed schools keeps those. Such records count as `excluded`, not rejected, so the import
  archives them (under the safeguard) like records no longer shared. A licensed NCES id no
  shared school has is one `school.licensed_not_shared` error on the district.
* Nothing here depends on another district's students: which district's student a PA Secure
  ID trusts is the import's (rostersync.state_id_registry) and support's, never a finding.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Protocol

import rostersync.validate.rules as R
from rostersync.records import (
    DATE_FIELDS,
    CourseRecord,
    DistrictRecord,
    Kind,
    Normalized,
    PersonRecord,
    Record,
    SchoolRecord,
    SectionRecord,
    SourceNote,
    SourceRole,
    TermRecord,
    parse_time,
    time_problem,
)
from rostersync.sources import SourceRules, Wording
from rostersync.validate.rules import ID_MAX, LIST_LIMITS, RULES, SAFE_ID, TEXT_LIMITS, Severity
from rostersync.validate.summary import (
    Example,
    Finding,
    RecordType,
    RuleSummary,
    SchoolCounts,
    SchoolSummary,
    Summary,
)

MAX_EXAMPLES = 5
# A finding names its record by id, SIS id and name, clipped: a hostile value never fills a report.
_LABEL_MAX = 200

IdCheck = Callable[[str], bool]
# Which of these PA Secure IDs another district holds for an active student, and which district.
_SHIFT = 32  # student index value: ((state id + 1) << _SHIFT) | school-set index; 0 state = none
_MASK = (1 << _SHIFT) - 1

_ADULT_BITS = {SourceRole.TEACHER: 1, SourceRole.STAFF: 2, SourceRole.DISTRICT_ADMIN: 4}
_ROLE_ORDER = (SourceRole.TEACHER, SourceRole.STAFF, SourceRole.DISTRICT_ADMIN)


class ValidationSink(Protocol):
    """Where validation streams its output. Called in input order; never buffered by the engine."""

    def accepted(self, kind: Kind, record: Record) -> None: ...

    def finding(self, finding: Finding) -> None: ...


@dataclass
class CollectingSink:
    """A sink that keeps everything in lists: for tests and small tools, not for Lambda."""

    records: list[tuple[Kind, Record]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def accepted(self, kind: Kind, record: Record) -> None:
        self.records.append((kind, record))

    def finding(self, finding: Finding) -> None:
        self.findings.append(finding)


def record_type(rec: Record) -> RecordType:
    if isinstance(rec, PersonRecord):
        return rec.role.value
    return rec.record_type


def display_name(rec: Record) -> str | None:
    if isinstance(rec, PersonRecord):
        return rec.name.display() if rec.name else None
    return getattr(rec, "name", None)


def _blank(v: str | None) -> bool:
    return v is None or not v.strip()


def malformed_fields(rec: Record) -> list[str]:
    """Fields the Clever spec guarantees that this record lacks."""
    missing = ["id"] if _blank(rec.id) else []
    if isinstance(rec, PersonRecord):
        if rec.name is None or _blank(rec.name.first):
            missing.append("name.first")
        if rec.name is None or _blank(rec.name.last):
            missing.append("name.last")
        if rec.role in (SourceRole.STUDENT, SourceRole.TEACHER) and not rec.schools:
            missing.append("school")
    elif isinstance(rec, SchoolRecord | DistrictRecord):
        if _blank(rec.name):
            missing.append("name")
    elif isinstance(rec, SectionRecord):
        if _blank(rec.name):
            missing.append("name")
        if _blank(rec.school):
            missing.append("school")
    return missing


def _clip(value: str | None, limit: int) -> str | None:
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "\u2026"


_REFS: dict[type, tuple[str, ...]] = {SectionRecord: ("school", "course", "term")}
_TEXT: dict[type, tuple[str, ...]] = {
    DistrictRecord: ("name", "nces_id"),
    SchoolRecord: ("name", "nces_id", "sis_id", "school_number", "state_id", "low_grade", "high_grade"),
    PersonRecord: (
        "email",
        "sis_id",
        "state_id",
        "local_number",
        "grade",
        "graduation_year",
        "birth_date",
        "zip",
        "title",
        "department",
    ),
    SectionRecord: (
        "name",
        "school",
        "sis_id",
        "section_number",
        "period",
        "subject",
        "grade",
        "course",
        "term",
    ),
    TermRecord: ("name", "start_date", "end_date"),
    CourseRecord: ("name", "number"),
}
_LISTS: dict[type, tuple[str, ...]] = {PersonRecord: ("schools",), SectionRecord: ("teachers", "students")}


def bound_problems(rec: Record, id_ok: IdCheck) -> list[tuple[str, str, str]]:
    """(rule, field, message) for every id that is not an id and every value beyond its bound.

    Checked before anything else, in both passes: such a record is rejected and takes part in
    no other decision (its id indexes nothing, its lists name nobody). Messages give lengths and
    positions, never the values.
    """
    out: list[tuple[str, str, str]] = []
    if not _blank(rec.id) and not id_ok(rec.id):
        out.append((R.RECORD_ID_INVALID, "id", f"The record's id {_id_shape(rec.id)}."))
    texts: list[tuple[str, str | None]] = [(f, getattr(rec, f)) for f in _TEXT.get(type(rec), ())]
    if isinstance(rec, PersonRecord) and rec.name is not None:
        texts += [(f"name.{p}", getattr(rec.name, p)) for p in ("first", "middle", "last")]
    for fld, value in texts:
        if value is not None and len(value) > TEXT_LIMITS[fld]:
            out.append(R.too_long(fld, value, TEXT_LIMITS[fld]))
    for fld in _REFS.get(type(rec), ()):
        value = getattr(rec, fld)
        if value and len(value) <= TEXT_LIMITS[fld] and not id_ok(value):
            out.append((R.RECORD_ID_INVALID, fld, f"The {fld} id this record refers to {_id_shape(value)}."))
    for fld in _LISTS.get(type(rec), ()):
        values: tuple[str, ...] = getattr(rec, fld)
        if len(values) > LIST_LIMITS[fld]:
            out.append(
                (
                    R.RECORD_FIELD_TOO_LONG,
                    fld,
                    f"The field {fld} lists {len(values):,} ids; at most {LIST_LIMITS[fld]:,} can be stored.",
                )
            )
        long_at = next((i for i, v in enumerate(values) if len(v) > ID_MAX), None)
        if long_at is not None:
            out.append(R.too_long(f"{fld}[{long_at}]", values[long_at], ID_MAX))
    return out


def _id_shape(value: str) -> str:
    return f"has {len(value):,} characters and is not an id of this source (expected its id form)"


@dataclass(slots=True)
class _School:
    name: str | None
    nces: str | None
    wellformed: bool
    accepted: bool = False
    licensed: bool = True


@dataclass(slots=True)
class _Adult:
    roles: int = 0  # valid (well-formed) adult roles
    records: int = 0  # input records, valid or not
    schools: dict[str, None] = field(default_factory=dict)  # ordered union over valid records
    email: str | None = None
    # settled between the passes
    kind: Kind | None = None
    primary: SourceRole | None = None
    accepted: bool = False
    kept: tuple[str, ...] = ()
    excluded: bool = False  # every school of theirs is outside the licence


@dataclass(slots=True)
class _Outcome:
    accepted: bool
    warned: bool
    excluded: bool = False


class _Emitter:
    """Emits findings about one record and remembers whether an error or a warning was reported."""

    def __init__(self, v: _Validator, rtype: RecordType, rec: Record) -> None:
        self.v, self.rtype, self.rec = v, rtype, rec
        self.name = display_name(rec)
        self.sis: str | None = getattr(rec, "sis_id", None)
        self.errors = 0
        self.warned = False

    def __call__(self, rule_id: str, fld: str | None, message: str) -> None:
        error = RULES[rule_id].severity is Severity.ERROR
        reported = self.v._emit(
            rtype=self.rtype,
            source_id=self.rec.id,
            sis_id=self.sis,
            name=self.name,
            rule_id=rule_id,
            fld=fld,
            message=message,
        )
        if error:
            self.errors += 1
        elif reported and RULES[rule_id].severity is Severity.WARNING:
            self.warned = True


@dataclass(frozen=True, slots=True)
class _Words:
    """How findings name the records' source (its profile's wording; the defaults name none)."""

    source: str = "the source"
    record_id: str = "source id"
    state_id_field: str = "state_id"
    sync_stale: tuple[str, str] = (
        "The source's sync of this district is in error.",
        "The source last synced this district {days} days before tonight's fetch{paused}; ",
    )
    paused: str = " (the source's sync is paused)"

    @classmethod
    def of(cls, wording: Wording) -> _Words:
        return cls(
            wording.display_name,
            wording.record_id_label,
            wording.state_id_field,
            wording.sync_stale,
            wording.paused,
        )


class _Validator:
    def __init__(
        self,
        district_id: str,
        sink: ValidationSink,
        suppress: Collection[str],
        id_ok: IdCheck,
        now: datetime | None = None,
        stale_days: int = R.DEFAULT_SYNC_STALE_DAYS,
        licensed: Collection[str] | None = None,
        district_required: bool = False,
        state_id_field: str | None = None,
        words: _Words | None = None,
        rule_ids: Collection[str] | None = None,
    ) -> None:
        self.district_id = district_id
        self.words = words or _Words()
        self.licensed = frozenset(licensed) if licensed is not None else None
        self.unlicensed_schools: set[str] = set()
        self.district_required, self.state_id_field = district_required, state_id_field
        self.district_seen = False
        self.state_field_carriers = 0
        # What the source's normalizer said about the district (records.SourceNote), by rule.
        self.notes: dict[str, list[SourceNote]] = defaultdict(list)
        self.birth_dates_not_shared = False
        self.id_ok = id_ok
        self.sink = sink
        self.suppress = tuple(suppress)
        self.now, self.stale_days = now, stale_days
        self.summary = Summary(
            district_id=district_id,
            licensed_schools=sorted(self.licensed) if self.licensed is not None else None,
            rules={
                r.id: RuleSummary(rule=r.id, severity=r.severity, title=r.title)
                for r in RULES.values()
                if rule_ids is None or r.id in rule_ids
            },
        )
        # pass-1 indexes
        self.schools: dict[str, _School] = {}
        self.nces_counts: Counter[str] = Counter()
        self.schoolsets: dict[tuple[str, ...], int] = {}
        self.schoolset_list: list[tuple[str, ...]] = []
        self.students: dict[str, int] = {}
        self.state_counts: Counter[int] = Counter()
        self.adults: dict[str, _Adult] = {}
        self.seen: dict[RecordType, set[str]] = defaultdict(set)  # non-person record ids
        self.dups: set[tuple[RecordType, str]] = set()
        self.unfit_ids: set[tuple[RecordType, str]] = set()  # records with bound problems
        self.n_students = 0
        self.school_students: Counter[str] = Counter()
        self.school_teachers: Counter[str] = Counter()
        self.school_sections: Counter[str] = Counter()
        self.teaching_by_school: dict[str, set[str]] = defaultdict(set)
        # settled between passes
        self.empty = False
        self.accepted_schools: set[str] = set()
        self.teaching: set[str] = set()
        self.accepted_students: set[str] = set()
        self.accepted_teachers: set[str] = set()
        # pass-2 state
        self.first_outcome: dict[tuple[RecordType, str], _Outcome] = {}
        self.emitted_people: set[str] = set()
        self.per_school: dict[str, SchoolSummary] = {}
        self.imported: Counter[Kind] = Counter()

    # ------------------------------------------------------------------ pass 1

    def unfit(self, rec: Record) -> bool:
        return bool(bound_problems(rec, self.id_ok))

    def index(self, rec: Normalized) -> None:
        if isinstance(rec, SourceNote):
            self.notes[rec.rule].append(rec)
            return
        if self.unfit(rec):
            self.unfit_ids.add((record_type(rec), rec.id))
            if isinstance(rec, PersonRecord) and rec.role is not SourceRole.STUDENT:
                a = self.adults.setdefault(rec.id, _Adult())
                a.records += 1
            return
        if isinstance(rec, PersonRecord):
            if rec.role is SourceRole.STUDENT:
                self._index_student(rec)
            else:
                self._index_adult(rec)
            return
        rtype = record_type(rec)
        if rec.id in self.seen[rtype]:
            self.dups.add((rtype, rec.id))
            return
        self.seen[rtype].add(rec.id)
        if isinstance(rec, DistrictRecord):
            self.district_seen = True
            if self.summary.district_name is None:
                self.summary.district_name = rec.name
                self.summary.district_status = rec.status()
        elif isinstance(rec, SchoolRecord):
            self.schools[rec.id] = _School(rec.name, rec.nces_id, not malformed_fields(rec))
            nces = R.trimmed_nces_id(rec.nces_id)
            if nces:
                self.nces_counts[nces] += 1
        elif isinstance(rec, SectionRecord) and rec.school:
            self.school_sections[rec.school] += 1
            if not malformed_fields(rec):
                self.teaching_by_school[rec.school].update(rec.teachers)

    def _schoolset(self, schools: tuple[str, ...]) -> int:
        idx = self.schoolsets.get(schools)
        if idx is None:
            idx = self.schoolsets[schools] = len(self.schoolset_list)
            self.schoolset_list.append(schools)
        return idx

    def _index_student(self, rec: PersonRecord) -> None:
        if rec.id in self.students:
            self.dups.add(("student", rec.id))
            return
        self.n_students += 1
        if rec.state_id is not None:
            self.state_field_carriers += 1
        state = None if malformed_fields(rec) else R.trimmed_state_id(rec.state_id)
        value = 0 if state is None else int(state) + 1
        self.students[rec.id] = (value << _SHIFT) | self._schoolset(rec.schools)
        if state is not None:
            self.state_counts[int(state)] += 1
        for s in rec.schools:
            self.school_students[s] += 1

    def _index_adult(self, rec: PersonRecord) -> None:
        a = self.adults.get(rec.id)
        if a is None:
            a = self.adults[rec.id] = _Adult()
        a.records += 1
        if rec.role is SourceRole.TEACHER:
            for s in rec.schools:
                self.school_teachers[s] += 1
        if malformed_fields(rec):
            return
        a.roles |= _ADULT_BITS[rec.role]
        for s in rec.schools:
            a.schools[s] = None
        if a.email is None and not _blank(rec.email):
            a.email = rec.email

    # ------------------------------------------------------------ between passes

    def settle(self) -> None:
        # Shared records count, whatever their ids or lengths: those get their own findings.
        unfit_types = Counter(t for t, _ in self.unfit_ids)
        self.empty = (not self.schools and not unfit_types["school"]) or (
            self.n_students + unfit_types["student"] == 0
        )
        # A source whose districts must share their district record (OneRoster's primary org):
        # without it, that is what the district is told first (it is also what shares the schools).
        if self.district_required and not self.district_seen and not unfit_types["district"]:
            self.empty = True
            self.summary.rejected_by = R.DISTRICT_PRIMARY_ORG_MISSING
        elif self.empty:
            self.summary.rejected_by = R.DISTRICT_EMPTY
        for sid, s in self.schools.items():
            nces = R.trimmed_nces_id(s.nces)
            s.accepted = s.wellformed and nces is not None
            if s.accepted and self.licensed is not None and nces not in self.licensed:
                s.accepted, s.licensed = False, False
                self.unlicensed_schools.add(sid)
            if s.accepted:
                self.accepted_schools.add(sid)
            self.per_school[sid] = SchoolSummary(
                school_id=sid,
                name=s.name,
                nces_id=s.nces,
                accepted=s.accepted and not self.empty,
                licensed=s.licensed,
            )
        for sid in self.accepted_schools:
            self.teaching |= self.teaching_by_school.get(sid, set())
        self.teaching_by_school.clear()
        for pid, v in self.students.items():
            state = (v >> _SHIFT) - 1
            schools = self.schoolset_list[v & _MASK]
            if (
                state >= 0
                and self.state_counts[state] == 1
                and any(s in self.accepted_schools for s in schools)
            ):
                self.accepted_students.add(pid)
        for pid, a in self.adults.items():
            self._settle_adult(pid, a)
        if self.empty:
            self._empty_finding()
            return
        if self.licensed is not None:
            self._licensed_not_shared()
        if self.state_id_field and self.n_students and not self.state_field_carriers:
            detail = " ".join(n.message for n in self.notes.get(R.STUDENT_STATE_ID_NOT_SHARED, []))
            self._emit(
                rtype="district",
                source_id=self.district_id,
                sis_id=None,
                name=self.summary.district_name,
                rule_id=R.STUDENT_STATE_ID_NOT_SHARED,
                fld=self.state_id_field,
                message=f"None of the district's {self.n_students:,} students carries the field "
                f"{self.state_id_field}: it is not shared with Smart Futures."
                + (f" {detail}" if detail else ""),
            )
        self._source_notes()

    def _source_notes(self) -> None:
        """The source's notes as findings (the state-id note is a detail of that finding, above);
        birth dates not shared at all is one district warning instead of one per student."""
        self.birth_dates_not_shared = bool(
            self.n_students and self.notes.get(R.DISTRICT_BIRTH_DATES_NOT_SHARED)
        )
        for rule_id, notes in self.notes.items():
            if rule_id == R.STUDENT_STATE_ID_NOT_SHARED:
                continue
            if rule_id == R.DISTRICT_BIRTH_DATES_NOT_SHARED and not self.birth_dates_not_shared:
                continue
            for note in notes:
                self._emit(
                    rtype=note.subject,
                    source_id=note.id,
                    sis_id=None,
                    name=note.name if note.subject != "district" else self.summary.district_name,
                    rule_id=rule_id,
                    fld=note.about,
                    message=note.message,
                )

    def _unlicensed_only(self, schools: Iterable[str]) -> bool:
        """Every one of these schools is shared but outside the licence (and there is one)."""
        listed = list(schools)
        return bool(listed) and all(s in self.unlicensed_schools for s in listed)

    def _licensed_not_shared(self) -> None:
        shared = {R.trimmed_nces_id(s.nces) for s in self.schools.values()}
        for nces in sorted((self.licensed or frozenset()) - shared):
            self._emit(
                rtype="district",
                source_id=self.district_id,
                sis_id=None,
                name=self.summary.district_name,
                rule_id=R.SCHOOL_LICENSED_NOT_SHARED,
                fld="schools",
                message=f"The school with NCES id {nces} is licensed with Smart Futures but no shared "
                "school has that NCES id: add it to the Smart Futures sharing rules.",
            )

    def _settle_adult(self, pid: str, a: _Adult) -> None:
        if a.roles == 0 or pid in self.students:
            return
        roles = [r for r in _ROLE_ORDER if a.roles & _ADULT_BITS[r]]
        teaches = SourceRole.TEACHER in roles and (len(roles) == 1 or pid in self.teaching)
        a.kind = Kind.TEACHER if teaches else Kind.STAFF
        if a.kind is Kind.TEACHER:
            a.primary = SourceRole.TEACHER
        else:
            a.primary = next(r for r in (SourceRole.STAFF, SourceRole.DISTRICT_ADMIN) if r in roles)
        a.kept = tuple(s for s in a.schools if s in self.accepted_schools)
        a.accepted = bool(a.kept) or SourceRole.DISTRICT_ADMIN in roles
        a.excluded = not a.accepted and self._unlicensed_only(a.schools)
        if a.accepted and a.kind is Kind.TEACHER:
            self.accepted_teachers.add(pid)

    def _empty_finding(self) -> None:
        n_schools, n_students = len(self.schools), self.n_students
        if self.summary.rejected_by == R.DISTRICT_PRIMARY_ORG_MISSING:
            self._emit(
                rtype="district",
                source_id=self.district_id,
                sis_id=None,
                name=self.summary.district_name,
                rule_id=R.DISTRICT_PRIMARY_ORG_MISSING,
                fld="orgs",
                message=f"The district shared {n_schools} school(s) and {n_students} student(s) but no "
                "org of type district; nothing from this district was imported.",
            )
            return
        self._emit(
            rtype="district",
            source_id=self.district_id,
            sis_id=None,
            name=self.summary.district_name,
            rule_id=R.DISTRICT_EMPTY,
            fld="schools" if n_schools == 0 else "students",
            message=f"{self.words.source} shared {n_schools} school(s) and {n_students} student(s) with Smart Futures; "
            "nothing from this district was imported.",
        )

    # ------------------------------------------------------------------ pass 2

    def _emit(
        self,
        *,
        rtype: RecordType,
        source_id: str,
        sis_id: str | None,
        name: str | None,
        rule_id: str,
        fld: str | None,
        message: str,
    ) -> bool:
        rule = RULES[rule_id]
        if rule.severity is Severity.WARNING and any(fnmatchcase(rule_id, p) for p in self.suppress):
            return False
        source_id = _clip(source_id, ID_MAX) or ""
        sis_id, name = _clip(sis_id, ID_MAX), _clip(name, _LABEL_MAX)
        f = Finding(
            district_id=self.district_id,
            record_type=rtype,
            source_id=source_id,
            sis_id=sis_id,
            name=name,
            rule=rule_id,
            severity=rule.severity,
            field=fld,
            message=message,
        )
        self.sink.finding(f)
        rs = self.summary.rules[rule_id]
        rs.count += 1
        if len(rs.examples) < MAX_EXAMPLES:
            rs.examples.append(
                Example(record_type=rtype, source_id=source_id, sis_id=sis_id, name=name, message=message)
            )
        return True

    def decide(self, rec: Normalized) -> None:
        if isinstance(rec, SourceNote):
            return
        rtype = record_type(rec)
        counts = self.summary.records[rtype]
        counts.fetched += 1
        problems = bound_problems(rec, self.id_ok) if (rtype, rec.id) in self.unfit_ids else []
        if self.empty:
            outcome = _Outcome(False, False)
        elif problems:
            outcome = self._unfit(rec, rtype, problems)
        elif isinstance(rec, PersonRecord) and rec.role is not SourceRole.STUDENT:
            outcome = self._adult(rec, rtype)
        else:
            key = (rtype, rec.id)
            if key in self.dups and key in self.first_outcome:
                first = self.first_outcome[key]
                outcome = _Outcome(first.accepted, False, first.excluded)
                if outcome.accepted:
                    counts.merged += 1
                self._tally_dup(rec, outcome.accepted)
            else:
                outcome = self._single(rec, rtype)
                if key in self.dups:
                    self.first_outcome[key] = outcome
        if outcome.accepted:
            counts.accepted += 1
        elif outcome.excluded:
            counts.excluded += 1
            return
        else:
            counts.rejected += 1
        if outcome.warned or not outcome.accepted:
            self.summary.needs_attention += 1

    def _unfit(self, rec: Record, rtype: RecordType, problems: list[tuple[str, str, str]]) -> _Outcome:
        """A record with an invalid id or an over-long value: rejected, and nothing else judged."""
        emit = _Emitter(self, rtype, rec)
        for rule_id, fld, message in problems:
            emit(rule_id, fld, message)
        if isinstance(rec, PersonRecord) and rec.role in (SourceRole.STUDENT, SourceRole.TEACHER):
            self._tally("students" if rec.role is SourceRole.STUDENT else "teachers", rec.schools, False)
        elif isinstance(rec, SectionRecord) and rec.school:
            self._tally("sections", (rec.school,), False)
        return _Outcome(False, emit.warned)

    def _tally_dup(self, rec: Record, accepted: bool) -> None:
        if isinstance(rec, PersonRecord):
            self._tally("students", rec.schools, accepted)
        elif isinstance(rec, SectionRecord) and rec.school:
            self._tally("sections", (rec.school,), accepted)

    def _tally(self, what: str, schools: Iterable[str], accepted: bool) -> None:
        for s in schools:
            summ = self.per_school.get(s)
            if summ is None:
                continue
            c: SchoolCounts = getattr(summ, what)
            c.shared += 1
            if s in self.unlicensed_schools:
                continue  # outside the licence: shared, neither imported nor rejected
            if accepted and s in self.accepted_schools:
                c.accepted += 1
            else:
                c.rejected += 1

    def _single(self, rec: Record, rtype: RecordType) -> _Outcome:
        """Students, schools, sections, district, terms, courses: first copy of each id."""
        emit = _Emitter(self, rtype, rec)

        missing = malformed_fields(rec)
        if missing:
            emit(
                R.RECORD_MALFORMED,
                ",".join(missing),
                f"This {rtype.replace('_', ' ')} record has no {', '.join(missing)}, which {self.words.source} requires.",
            )
        if isinstance(rec, PersonRecord):
            return self._student(rec, missing, emit)
        if isinstance(rec, SchoolRecord):
            if rec.id in self.unlicensed_schools:
                emit(
                    R.SCHOOL_NOT_LICENSED,
                    "nces_id",
                    f"NCES id {R.trimmed_nces_id(rec.nces_id)} is not one of the district's licensed "
                    "schools: the school and the records only it holds are not imported.",
                )
                return _Outcome(False, False, excluded=True)
            self._school_checks(rec, emit)
            if emit.errors:
                return _Outcome(False, emit.warned)
            self._accept(Kind.SCHOOL, rec.model_copy(update={"nces_id": R.trimmed_nces_id(rec.nces_id)}))
            return _Outcome(True, emit.warned)
        if isinstance(rec, SectionRecord):
            return self._section(rec, missing, emit)
        if isinstance(rec, DistrictRecord | TermRecord):
            self._date_checks(rec, rtype, emit)
        if isinstance(rec, DistrictRecord):
            self._district_checks(rec, emit)
        if emit.errors:
            return _Outcome(False, emit.warned)
        kind = {"district": Kind.DISTRICT, "term": Kind.TERM, "course": Kind.COURSE}[rtype]
        self._accept(kind, rec)
        return _Outcome(True, emit.warned)

    def _date_checks(self, rec: DistrictRecord | TermRecord, rtype: RecordType, emit: _Emitter) -> None:
        """record.date.invalid: a date the district sent that parse_time cannot read (out of range,
        no such day, not a date). A warning: the date is ignored, the record imported."""
        for name in DATE_FIELDS[type(rec)]:
            problem = time_problem(getattr(rec, name))
            if problem:
                emit(R.RECORD_DATE_INVALID, name, f"This {rtype}'s {name} {problem}.")

    def _district_checks(self, rec: DistrictRecord, emit: _Emitter) -> None:
        """district.sync_stale: the source's own sync is in error, or older than `stale_days` at the
        time of the fetch (`now`). A district that never synced (no last sync) is not judged."""
        if rec.sync_state == "error":
            emit(R.DISTRICT_SYNC_STALE, "state", self.words.sync_stale[0])
            return
        last = parse_time(rec.last_sync)
        if self.now is None or last is None:
            return
        age = self.now - last
        if age > timedelta(days=self.stale_days):
            paused = self.words.paused if rec.sync_state == "paused" else ""
            emit(
                R.DISTRICT_SYNC_STALE,
                "last_sync",
                self.words.sync_stale[1].format(days=age.days, paused=paused)
                + f"the limit is {self.stale_days} days.",
            )

    def _school_checks(self, rec: SchoolRecord, emit: _Emitter) -> None:
        problem = R.nces_id_problem(rec.nces_id)
        if problem:
            emit(problem[0], "nces_id", problem[1])
        nces = R.trimmed_nces_id(rec.nces_id)
        if nces and self.nces_counts[nces] > 1:
            others = self.nces_counts[nces] - 1
            emit(
                R.SCHOOL_NCES_DUPLICATE,
                "nces_id",
                f"NCES id {nces} is also used by {others} other shared school(s).",
            )
        for rule_id, counter, what in (
            (R.SCHOOL_NO_STUDENTS, self.school_students, "students"),
            (R.SCHOOL_NO_TEACHERS, self.school_teachers, "teachers"),
            (R.SCHOOL_NO_SECTIONS, self.school_sections, "sections"),
        ):
            if counter[rec.id] == 0:
                emit(rule_id, None, f"School '{rec.name or rec.id}' was shared with no {what}.")

    def _school_label(self, sid: str) -> str:
        s = self.schools.get(sid)
        return f"'{s.name or sid}'" if s else f"with {self.words.record_id} {sid}"

    def _school_reason(self, schools: Iterable[str]) -> str:
        parts = []
        for sid in schools:
            s = self.schools.get(sid)
            if s is None:
                parts.append(f"school {sid} was not shared with Smart Futures")
            elif not s.licensed:
                parts.append(f"school {self._school_label(sid)} is not licensed (see its own finding)")
            else:
                parts.append(f"school {self._school_label(sid)} was rejected (see its own finding)")
        return "; ".join(parts) if parts else "it is not linked to any school"

    def _student(self, rec: PersonRecord, missing: list[str], emit: _Emitter) -> _Outcome:
        if not missing and self._unlicensed_only(rec.schools):
            self._tally("students", rec.schools, False)
            return _Outcome(False, False, excluded=True)
        state_id = R.trimmed_state_id(rec.state_id)
        if not missing:
            problem = R.state_id_problem(rec.state_id, self.words.state_id_field)
            if problem:
                emit(problem[0], "state_id", problem[1])
            else:
                n = self.state_counts[int(state_id or 0)]
                if n > 1:
                    emit(
                        R.STUDENT_STATE_ID_DUPLICATE,
                        "state_id",
                        f"{n} students of this district share this student's PA Secure ID; all of them "
                        "were held back.",
                    )
            kept = tuple(s for s in rec.schools if s in self.accepted_schools)
            if not kept:
                emit(
                    R.DEPENDENT_SCHOOL_REJECTED,
                    "school",
                    f"Student not imported: {self._school_reason(rec.schools)}.",
                )
            # Warnings (the student is imported); only for a student that is imported.
            if emit.errors == 0:
                for rule_id, fld, message in R.student_field_problems(
                    rec.birth_date, rec.graduation_year, rec.zip
                ):
                    if not (self.birth_dates_not_shared and rule_id == R.STUDENT_BIRTH_DATE_MISSING):
                        emit(rule_id, fld, message)
        accepted = emit.errors == 0
        self._tally("students", rec.schools, accepted)
        if accepted:
            update = {"state_id": state_id, "schools": kept}
            self._accept(Kind.STUDENT, rec.model_copy(update=update))
        return _Outcome(accepted, emit.warned)

    def _section(self, rec: SectionRecord, missing: list[str], emit: _Emitter) -> _Outcome:
        school = rec.school or ""
        if not missing and school in self.unlicensed_schools:
            self._tally("sections", (school,), False)
            return _Outcome(False, False, excluded=True)
        if not missing and school not in self.accepted_schools:
            emit(
                R.DEPENDENT_SCHOOL_REJECTED,
                "school",
                f"Section not imported: {self._school_reason((school,))}.",
            )
        if emit.errors:
            self._tally("sections", (school,), False)
            return _Outcome(False, emit.warned)
        students = tuple(s for s in rec.students if s in self.accepted_students)
        teachers = tuple(t for t in rec.teachers if t in self.accepted_teachers)
        for fld, listed, kept, shared in (
            ("students", rec.students, students, self.students),
            ("teachers", rec.teachers, teachers, self.adults),
        ):
            keep = set(kept)
            dropped = [u for u in listed if u not in keep]
            if dropped:
                unshared = sum(1 for u in dropped if u not in shared)
                ids = ", ".join(dropped[:5]) + (", ..." if len(dropped) > 5 else "")
                emit(
                    R.SECTION_UNKNOWN_USER,
                    fld,
                    f"{len(dropped)} {fld} listed in this section were left out: {unshared} not shared "
                    f"with Smart Futures, {len(dropped) - unshared} rejected or not shared as "
                    f"{fld[:-1]} ({self.words.record_id}s: {ids}).",
                )
        if not teachers:
            why = "lists no teacher" if not rec.teachers else "has no teacher left after dropping those above"
            emit(R.SECTION_NO_TEACHER, "teachers", f"Section {why}; nobody will see its students.")
        self._tally("sections", (school,), True)
        self._accept(Kind.SECTION, rec.model_copy(update={"students": students, "teachers": teachers}))
        return _Outcome(True, emit.warned)

    def _adult(self, rec: PersonRecord, rtype: RecordType) -> _Outcome:
        a = self.adults[rec.id]
        emit = _Emitter(self, rtype, rec)

        missing = malformed_fields(rec)
        tally = rec.role is SourceRole.TEACHER
        if missing:
            emit(
                R.RECORD_MALFORMED,
                ",".join(missing),
                f"This {rtype.replace('_', ' ')} record has no {', '.join(missing)}, which {self.words.source} requires.",
            )
            if tally:
                self._tally("teachers", rec.schools, False)
            return _Outcome(False, emit.warned)
        if rec.id in self.students:
            emit(
                R.USER_STUDENT_AND_ADULT,
                "role",
                f"This person is also shared as a student; only the student account is kept, the "
                f"{rtype.replace('_', ' ')} role was not imported.",
            )
            if tally:
                self._tally("teachers", rec.schools, False)
            return _Outcome(False, emit.warned)
        first = rec.role is a.primary and rec.id not in self.emitted_people
        if a.records > 1 and first:
            self.emitted_people.add(rec.id)
        if tally:
            self._tally("teachers", rec.schools, a.accepted)
        if not first:
            if a.accepted:
                self.summary.records[rtype].merged += 1
            return _Outcome(a.accepted, False, a.excluded)
        if not a.accepted and a.excluded:
            return _Outcome(False, False, excluded=True)
        if not a.accepted:
            emit(
                R.DEPENDENT_SCHOOL_REJECTED,
                "schools",
                f"Not imported: {self._school_reason(a.schools)}.",
            )
            return _Outcome(False, emit.warned)
        roles = [r for r in _ROLE_ORDER if a.roles & _ADULT_BITS[r]]
        if len(roles) > 1:
            because = "teaches a shared section" if a.kind is Kind.TEACHER else "teaches no shared section"
            emit(
                R.USER_MULTIPLE_ACCOUNT_TYPES,
                "role",
                f"Shared as {' and '.join(r.value.replace('_', ' ') for r in roles)}; imported once, as "
                f"{a.kind.value.lower() if a.kind else ''} (this person {because}).",
            )
        if a.kind is Kind.TEACHER and rec.id not in self.teaching:
            emit(
                R.TEACHER_NO_SECTIONS,
                "sections",
                "Teacher is not the teacher of any shared section. If this is a counselor, share them as "
                "staff.",
            )
        if a.email is None:
            emit(R.USER_EMAIL_MISSING, "email", "No email address.")
        update: dict[str, object] = {"schools": a.kept}
        if _blank(rec.email) and a.email is not None:
            update["email"] = a.email
        if a.kind is None:
            raise RuntimeError(f"record {rec.id}: account kind left undecided between the passes")
        self._accept(a.kind, rec.model_copy(update=update))
        return _Outcome(True, emit.warned)

    def _accept(self, kind: Kind, rec: Record) -> None:
        self.imported[kind] += 1
        self.sink.accepted(kind, rec)

    def finish(self) -> Summary:
        s = self.summary
        s.imported = {k: self.imported[k] for k in Kind if self.imported[k]}
        s.empty = self.empty
        s.schools = list(self.per_school.values())
        return s


def validate_district(
    district_id: str,
    records: Callable[[], Iterable[Normalized]],
    sink: ValidationSink,
    *,
    suppress: Collection[str] = (),
    id_ok: IdCheck | None = None,
    now: datetime | None = None,
    stale_days: int = R.DEFAULT_SYNC_STALE_DAYS,
    licensed: Collection[str] | None = None,
    source_rules: SourceRules | None = None,
    wording: Wording | None = None,
    rule_ids: Collection[str] | None = None,
) -> Summary:
    """Validate one district's records, streaming accepted records and findings to `sink`.

    `records` is called twice (two passes) and must yield the same records in the same order
    each time; a source's notes about the district among them (records.SourceNote) become
    findings of their rules, between the passes, and are never imported. `suppress` holds rule-id patterns (`school.no_*`) of WARNINGS not to report; errors
    cannot be suppressed because they decide what is imported. `id_ok` says whether a string is an
    id of the records' source (default: the system-wide id form, `rules.SAFE_ID`).
    `licensed` holds the 12-digit NCES ids of the district's licensed schools (None: all of them).
    `now` is when the records were fetched (the manifest's start; None: no staleness check), and
    `stale_days` the age of the source's last sync past which the district is `district.sync_stale`.
    `source_rules` says what the records' source must share beyond the common rules
    (`district.primary_org.missing`, `student.state_id.not_shared`; default: nothing more).
    `wording` is the source's (`sources.profile(name).wording`): how findings name the source,
    its record ids and its state id field (None: they name no source). `rule_ids`: the rules that
    apply to the records' source (`rules.rules_for`: the common ones and its own), the rules the
    summary counts (None: the whole catalogue).
    """
    extra = source_rules or SourceRules()
    v = _Validator(
        district_id,
        sink,
        suppress,
        id_ok or (lambda i: SAFE_ID.fullmatch(i) is not None),
        now,
        stale_days,
        licensed,
        district_required=extra.district_required,
        state_id_field=extra.state_id_field,
        words=_Words.of(wording) if wording is not None else None,
        rule_ids=rule_ids,
    )
    for rec in records():
        v.index(rec)
    v.settle()
    for rec in records():
        v.decide(rec)
    return v.finish()
