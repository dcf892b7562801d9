"""Deterministic, Pennsylvania-like Clever v3.0 roster data.

A `DistrictData` keeps only compact per-district arrays (ids, school assignment of students and
teachers, gap positions); each record's JSON object is computed on demand from (seed, index), so a
190,000-record district can be paged through without ever holding all the objects in memory.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import unicodedata
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .config import (
    KIND_ADMIN,
    KIND_CONTACT,
    KIND_COURSE,
    KIND_SCHOOL,
    KIND_SECTION,
    KIND_STAFF,
    KIND_STUDENT,
    KIND_TEACHER,
    KIND_TERM,
    DistrictSpec,
    clever_id,
)

Record = dict[str, Any]

_M64 = 0xFFFF_FFFF_FFFF_FFFF


def _mix(x: int) -> int:
    """splitmix64 finalizer: a fast, well-distributed 64-bit hash of an int."""
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _base(seed: int, kind: int) -> int:
    return int.from_bytes(hashlib.sha256(f"base:{seed}:{kind}".encode()).digest()[:8], "big")


def _state_id(i: int, offset: int) -> str:
    """A district's i-th PA Secure ID: a bijection of the index onto 10-digit numbers."""
    return f"{1_000_000_000 + (i * 2_654_435_761 + offset) % 9_000_000_000}"


def _ascii(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in norm.lower() if ch.isalnum())


FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Mason", "Sophia", "Logan", "Isabella", "Lucas",
    "Mia", "Ethan", "Harper", "Aiden", "Evelyn", "Jacob", "Abigail", "Jackson", "Ella", "Carter",
    "Madison", "Owen", "Chloé", "Wyatt", "Zoë", "Caleb", "Aaliyah", "Hunter", "Grace", "Elijah",
    "José", "Renée", "Siobhán", "François", "Łukasz", "Björn", "Ana María", "Nguyễn Minh", "Jürgen",
    "Dmitri", "Priya", "Mohammed", "Fatima", "Wei", "Yuki", "Kwame", "Amara", "Santiago", "Valentina",
    "Mateo", "Camila", "Ezekiel", "Hannah", "Levi", "Rebecca", "Samuel", "Katelyn", "Tyler", "Brianna",
    "D'Andre", "Mary-Kate", "Jesús", "Inés", "Søren",
)  # fmt: skip

LAST_NAMES = (
    "Smith", "Miller", "Stoltzfus", "Yoder", "Zimmerman", "Kowalski", "Nowak", "Hershberger",
    "Fisher", "Esh", "King", "Lapp", "Beiler", "Martin", "Brubaker", "Hoover", "Weaver", "Snyder",
    "Johnson", "Williams", "Brown", "Jones", "Davis", "Wilson", "Anderson", "Taylor", "Thomas",
    "Moore", "Jackson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young",
    "García", "Hernández", "Pérez", "Núñez", "Müller", "Schönberg", "Dvořák", "O'Brien", "McAllister",
    "Nguyễn", "Kim", "Patel", "Singh", "Wang", "Chen", "Okafor", "Mensah", "Ramírez", "Rodríguez",
    "Kaczmarek", "Wiśniewski", "DiMaggio", "Russo", "Santangelo", "Van Horn", "St. Clair", "Łopez-Ortiz",
)  # fmt: skip

PLACES = (
    "Allegheny", "Oakmont", "Verona", "Springdale", "Cheswick", "Harmar", "Lebanon", "Hershey",
    "Cornwall", "Palmyra", "Ephrata", "Lititz", "Manheim", "Strasburg", "Paradise", "Intercourse",
    "Leola", "Brownstown", "Schaefferstown", "Tunkhannock", "Wellsboro", "Coudersport", "Emporium",
    "Lock Haven", "Bellefonte", "Lewisburg", "Selinsgrove", "Mifflinburg", "Sunbury", "Milton",
    "Bloomsburg", "Berwick", "Danville", "Shamokin", "Pottsville", "Tamaqua", "Jim Thorpe", "Lehighton",
    "Nazareth", "Bangor", "Pen Argyl", "Stroudsburg", "Honesdale", "Hawley", "Montrose", "Towanda",
    "Sayre", "Athens", "Mansfield", "Blossburg", "Kane", "Ridgway", "Punxsutawney", "Brookville",
    "Clarion", "Oil City", "Titusville", "Meadville", "Corry", "Waterford", "Hanover", "Gettysburg",
)  # fmt: skip

STREETS = ("Main St", "Market St", "Church St", "Ridge Ave", "Maple Ave", "Penn St", "Locust St",
           "Walnut St", "Chestnut St", "Orchard Rd", "Mill Rd", "Valley View Dr", "Susquehanna Trl")  # fmt: skip

GRADES_ALL: tuple[str, ...] = ("Kindergarten", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
SPAN_ELEM = GRADES_ALL[0:6]
SPAN_MID = GRADES_ALL[6:9]
SPAN_HIGH = GRADES_ALL[9:13]
_SPANS: tuple[tuple[tuple[str, ...], str], ...] = (
    (SPAN_ELEM, "Elementary School"),
    (SPAN_ELEM, "Elementary School"),
    (SPAN_ELEM, "Elementary School"),
    (SPAN_MID, "Middle School"),
    (SPAN_HIGH, "High School"),
)

RACES = ("Caucasian", "Black or African American", "Asian", "Two or More Races", "Unknown",
         "American Indian", "Hawaiian or Other Pacific Islander", "Caucasian", "Caucasian", "")  # fmt: skip

COURSE_CATALOG = (
    ("English Language Arts", "english/language arts"),
    ("Mathematics", "math"),
    ("Algebra I", "math"),
    ("Geometry", "math"),
    ("Biology", "science"),
    ("Chemistry", "science"),
    ("Earth and Space Science", "science"),
    ("US History", "social studies"),
    ("Civics and Government", "social studies"),
    ("Spanish I", "language"),
    ("German I", "language"),
    ("Homeroom", "homeroom/advisory"),
    ("Reading Intervention", "interventions/online learning"),
    ("Computer Science Principles", "technology and engineering"),
    ("Health and Physical Education", "PE and health"),
    ("Band", "arts and music"),
    ("Art", "arts and music"),
    ("Career Exploration", "other"),
)

TEACHER_TITLES = ("Teacher", "Teacher", "Teacher", "Lead Teacher", "Learning Support Teacher", "")
STAFF_ROLES = (
    ("Principal", "Administration"),
    ("Assistant Principal", "Administration"),
    ("School Nurse", "Health Services"),
    ("Librarian", "Library"),
    ("Instructional Coach", "Curriculum and Instruction"),
    ("Secretary", "Main Office"),
    ("School Psychologist", "Student Services"),
)
ADMIN_TITLES = ("Superintendent", "Director of Technology", "Assistant Superintendent", "Data Coordinator")
TERM_NAMES = ("2025-26 Full Year", "2025-26 Semester 1", "2025-26 Semester 2", "2025-26 Quarter 1",
              "2025-26 Quarter 2", "2025-26 Quarter 3", "2025-26 Quarter 4")  # fmt: skip
TERM_DATES = (
    ("2025-08-25", "2026-06-05"),
    ("2025-08-25", "2026-01-16"),
    ("2026-01-20", "2026-06-05"),
    ("2025-08-25", "2025-10-31"),
    ("2025-11-03", "2026-01-16"),
    ("2026-01-20", "2026-03-27"),
    ("2026-03-30", "2026-06-05"),
)

_FIRST_ASCII = tuple(_ascii(n) for n in FIRST_NAMES)

# DistrictSpec.exotic_names: (first, last) pairs real rosters contain and naive code breaks on.
EXOTIC_NAMES: tuple[tuple[str, str], ...] = (
    ("مريم", "الحسيني"),  # Arabic, right to left
    ("נועה", "כהן-לוי"),  # Hebrew, right to left
    ("Zoë 🦄", "Nguyễn 👩🏽\u200d💻"),  # emoji, a skin tone and a zero-width joiner sequence
    ("Jose\u0301", "Ame\u0301lie\u0308"),  # combining marks (NFD: must not be normalized)
    ("Ali\u202eevil\u202c", "\u200fMansour"),  # bidi override and a right-to-left mark
    ("<script>alert(1)</script>", "O'Brien & <b>Sons</b>"),  # markup
    ('=HYPERLINK("http://x")', "@SUM(1)"),  # spreadsheet formulas
    ("Ŵ" * 2048, "Long" + "ñ" * 4000),  # very long strings (multi-byte)
    ("名前", "山田 太郎"),  # CJK
    ("\U0001d4d0\U0001d4f5\U0001d4f2", "Ō\u0332"),  # astral-plane letters, combining underline
)
_LAST_ASCII = tuple(_ascii(n) for n in LAST_NAMES)

SCOPES = (
    "read:district_admins",
    "read:school_admins",
    "read:sections",
    "read:students",
    "read:teachers",
    "read:user_id",
)


def _timestamp(h: int, year: int = 2025, month: int = 7) -> str:
    return (
        f"{year}-{month:02d}-{1 + h % 28:02d}T{(h >> 5) % 24:02d}:{(h >> 10) % 60:02d}:"
        f"{(h >> 16) % 60:02d}.{(h >> 22) % 1000:03d}Z"
    )


class _IdSpace:
    """Ids of one record kind: clever_id(seed, kind, i) without recomputing the hash each time."""

    def __init__(self, seed: int, kind: int) -> None:
        first = clever_id(seed, kind, 0)
        self.prefix = first[:12]
        self.offset = int(first[12:], 16)

    def __call__(self, i: int) -> str:
        return f"{self.prefix}{self.offset + i:012x}"

    def all(self, n: int) -> list[str]:
        p, o = self.prefix, self.offset
        return [f"{p}{o + i:012x}" for i in range(n)]


@dataclass
class Segment:
    ids: list[str]  # sorted
    render: Callable[[int], Record]  # index into `ids`


class Listing:
    """An id-sorted, paginable collection made of consecutive sorted segments."""

    def __init__(self, uri_type: str, segments: list[Segment]) -> None:
        self.uri_type = uri_type
        self.segments = [s for s in segments if s.ids]
        self._starts: list[int] = []
        total = 0
        for s in self.segments:
            self._starts.append(total)
            total += len(s.ids)
        self.total = total

    def __len__(self) -> int:
        return self.total

    def position_after(self, starting_after: str | None) -> int:
        if not starting_after:
            return 0
        for start, seg in zip(self._starts, self.segments, strict=True):
            if starting_after < seg.ids[-1]:
                return start + bisect.bisect_right(seg.ids, starting_after)
        return self.total

    def items(self, start: int, limit: int) -> Iterator[tuple[str, Record]]:
        if start >= self.total or limit <= 0:
            return
        k = bisect.bisect_right(self._starts, start) - 1
        pos = start - self._starts[k]
        left = limit
        while left > 0 and k < len(self.segments):
            seg = self.segments[k]
            end = min(len(seg.ids), pos + left)
            ids, render = seg.ids, seg.render
            for j in range(pos, end):
                yield ids[j], render(j)
            left -= end - pos
            k += 1
            pos = 0

    def find(self, record_id: str) -> Record | None:
        for seg in self.segments:
            j = bisect.bisect_left(seg.ids, record_id)
            if j < len(seg.ids) and seg.ids[j] == record_id:
                return seg.render(j)
        return None

    def all_records(self) -> list[Record]:
        return [r for _, r in self.items(0, self.total)]


class DistrictData:
    """Compact state of one generated district; renders records on demand."""

    def __init__(self, spec: DistrictSpec) -> None:
        self.spec = spec
        self.id = spec.id
        seed = spec.seed
        self.seed = seed
        g = spec.gaps
        h = _mix(_base(seed, 0))
        self.slug = "".join(w[0] for w in spec.name.split() if w[0].isalpha()).lower() or "sd"
        self.domain = f"{self.slug}.example.org"
        self.lea = 10000 + h % 90000  # 5-digit LEA part of the NCES ids
        self.district_nces = f"42{self.lea:05d}"
        self.city = PLACES[(h >> 20) % len(PLACES)]
        self.zip = f"{15000 + (h >> 30) % 4000:05d}"
        self.created = _timestamp(h >> 3, 2024, 6)

        self.school_ids = _IdSpace(seed, KIND_SCHOOL).all(spec.schools)
        self._student_id = _IdSpace(seed, KIND_STUDENT)
        self.student_ids = self._student_id.all(spec.students)
        self.teacher_ids = _IdSpace(seed, KIND_TEACHER).all(spec.teachers)
        self.staff_ids = _IdSpace(seed, KIND_STAFF).all(spec.counselors + spec.other_staff)
        self.admin_ids = _IdSpace(seed, KIND_ADMIN).all(spec.admins)
        self.contact_ids = _IdSpace(seed, KIND_CONTACT).all(spec.contacts)
        self.section_ids = _IdSpace(seed, KIND_SECTION).all(spec.sections)
        self.term_ids = _IdSpace(seed, KIND_TERM).all(spec.terms)
        self.course_ids = _IdSpace(seed, KIND_COURSE).all(spec.courses)
        self._b = {k: _base(seed, k) for k in range(1, 12)}

        # --- gap positions ------------------------------------------------------------------
        self.gap_students = self._pick(
            KIND_STUDENT,
            spec.students,
            {
                "missing_student_state_id": g.missing_student_state_id,
                "short_student_state_id": g.short_student_state_id,
                "padded_student_state_id": g.padded_student_state_id,
                "duplicate_student_state_id": 2 * g.duplicate_student_state_id,
                "user_without_name": g.user_without_name,
                "student_and_adult": g.student_and_adult,
                "oversized_student_name": g.oversized_student_name,
                # Appended last: the positions of the gaps above stay where they were.
                "student_without_birth_date": g.student_without_birth_date,
                "student_without_graduation_year": g.student_without_graduation_year,
                "student_without_zip": g.student_without_zip,
            },
        )
        self.gap_schools = self._pick(
            KIND_SCHOOL,
            spec.schools,
            {
                "missing_school_nces_id": g.missing_school_nces_id,
                "district_nces_as_school_nces": g.district_nces_as_school_nces,
                "non_pa_school_nces_id": g.non_pa_school_nces_id,
                "duplicate_school_nces_id": 2 * g.duplicate_school_nces_id,
                "school_without_students": g.school_without_students,
                "school_without_teachers": g.school_without_teachers,
                "school_without_sections": g.school_without_sections,
            },
        )
        self.gap_teachers = self._pick(
            KIND_TEACHER,
            spec.teachers,
            {
                "teacher_and_staff_dual_role": g.teacher_and_staff_dual_role,
                "counselor_shared_as_teacher": g.counselor_shared_as_teacher,
                "teacher_without_email": g.teacher_without_email,
            },
        )
        self.gap_staff = self._pick(
            KIND_STAFF, spec.counselors + spec.other_staff, {"staff_without_email": g.staff_without_email}
        )
        self.gap_sections = self._pick(
            KIND_SECTION,
            spec.sections,
            {
                "section_without_teacher": g.section_without_teacher,
                "section_with_unknown_student": g.section_with_unknown_student,
                "section_without_school": g.section_without_school,
                "section_with_invalid_term_id": g.section_with_invalid_term_id,
            },
        )
        self._student_gap = {i: k for k, v in self.gap_students.items() for i in v}
        self._school_gap = {i: k for k, v in self.gap_schools.items() for i in v}
        self._teacher_gap = {i: k for k, v in self.gap_teachers.items() for i in v}
        self._staff_gap = {i: k for k, v in self.gap_staff.items() for i in v}
        self._section_gap = {i: k for k, v in self.gap_sections.items() for i in v}
        dups = self.gap_students["duplicate_student_state_id"]
        self._dup_state_source = {dups[2 * p + 1]: dups[2 * p] for p in range(len(dups) // 2)}
        dups = self.gap_schools["duplicate_school_nces_id"]
        self._dup_nces_source = {dups[2 * p + 1]: dups[2 * p] for p in range(len(dups) // 2)}
        self.dual_role_teachers = sorted(self.gap_teachers["teacher_and_staff_dual_role"])
        self.student_adults = sorted(self.gap_students["student_and_adult"])
        self._dual = set(self.dual_role_teachers)
        counselors_as_teachers = set(self.gap_teachers["counselor_shared_as_teacher"])

        # --- schools ------------------------------------------------------------------------
        n_schools = spec.schools
        self.school_span: list[tuple[str, ...]] = []
        self.school_name: list[str] = []
        for k in range(n_schools):
            span: tuple[str, ...]
            if n_schools == 1:
                span, kind_name = GRADES_ALL, "Area Junior/Senior High School"
            else:
                span, kind_name = _SPANS[k % len(_SPANS)]
            place = PLACES[(_mix(self._b[KIND_SCHOOL] ^ k) + k) % len(PLACES)]
            self.school_span.append(span)
            self.school_name.append(f"{place} {kind_name}")
        no_students = set(self.gap_schools["school_without_students"])
        no_teachers = set(self.gap_schools["school_without_teachers"])
        no_sections = set(self.gap_schools["school_without_sections"])
        student_schools = [k for k in range(n_schools) if k not in no_students]
        teacher_schools = [k for k in range(n_schools) if k not in no_teachers]
        self._teacher_schools = teacher_schools
        if spec.students and not student_schools:
            raise ValueError(f"{spec.name}: every school is flagged school_without_students")
        if spec.teachers and not teacher_schools:
            raise ValueError(f"{spec.name}: every school is flagged school_without_teachers")

        # --- students -----------------------------------------------------------------------
        bs = self._b[KIND_STUDENT]
        self.student_school = array("I", bytes(4 * spec.students))
        self.school_students: list[array[int]] = [array("I") for _ in range(n_schools)]
        if student_schools:
            n_eligible = len(student_schools)
            for i in range(spec.students):
                k = student_schools[_mix(bs ^ i) % n_eligible]
                self.student_school[i] = k
                self.school_students[k].append(i)
        # state ids: a bijection of the index onto 10-digit numbers (unique within the district)
        self._state_off = bs % 9_000_000_000

        # --- teachers -----------------------------------------------------------------------
        self.teacher_school = array("I", bytes(4 * spec.teachers))
        self.school_teachers: list[list[int]] = [[] for _ in range(n_schools)]
        for j in range(spec.teachers):
            k = teacher_schools[j % len(teacher_schools)]
            self.teacher_school[j] = k
            if j not in counselors_as_teachers:
                self.school_teachers[k].append(j)
        self._teaching_pool = [j for j in range(spec.teachers) if j not in counselors_as_teachers]

        # --- sections -----------------------------------------------------------------------
        section_schools = [k for k in student_schools if k not in no_sections and self.school_students[k]]
        if spec.sections and not section_schools:
            raise ValueError(f"{spec.name}: no school can hold sections")
        self._section_schools = section_schools

        self.listings: dict[str, Listing] = self._build_listings()

    # ------------------------------------------------------------------------------------------
    def _pick(self, kind: int, n: int, wanted: dict[str, int]) -> dict[str, list[int]]:
        total = sum(wanted.values())
        if total > n:
            raise ValueError(f"{self.spec.name}: {total} gaps requested among {n} records of kind {kind}")
        chosen = random.Random(self.seed * 1009 + kind).sample(range(n), total)  # noqa: S311
        out: dict[str, list[int]] = {}
        pos = 0
        for name, count in wanted.items():
            out[name] = chosen[pos : pos + count]
            pos += count
        return out

    def _build_listings(self) -> dict[str, Listing]:
        dual_ids = [self.teacher_ids[j] for j in self.dual_role_teachers]
        dual_js = self.dual_role_teachers
        adult_ids = [self.student_ids[i] for i in self.student_adults]
        adult_is = self.student_adults
        users_by_role = {
            "student": [Segment(self.student_ids, self.student)],
            "teacher": [Segment(self.teacher_ids, self.teacher)],
            "staff": [
                Segment(adult_ids, lambda p: self.student(adult_is[p])),
                Segment(dual_ids, lambda p: self.teacher(dual_js[p])),
                Segment(self.staff_ids, self.staff),
            ],
            "district_admin": [Segment(self.admin_ids, self.admin)],
            "contact": [Segment(self.contact_ids, self.contact)],
        }
        listings = {f"users?role={role}": Listing("users", segs) for role, segs in users_by_role.items()}
        listings["users"] = Listing(
            "users",
            [
                users_by_role["student"][0],
                users_by_role["teacher"][0],
                users_by_role["staff"][-1],
                users_by_role["district_admin"][0],
                users_by_role["contact"][0],
            ],
        )
        listings["districts"] = Listing("districts", [Segment([self.id], lambda _p: self.district())])
        listings["schools"] = Listing("schools", [Segment(self.school_ids, self.school)])
        listings["sections"] = Listing("sections", [Segment(self.section_ids, self.section)])
        listings["terms"] = Listing("terms", [Segment(self.term_ids, self.term)])
        listings["courses"] = Listing("courses", [Segment(self.course_ids, self.course)])
        return listings

    def listing(self, resource: str, role: str | None = None) -> Listing | None:
        if resource == "users" and role:
            return self.listings.get(f"users?role={role}")
        return self.listings.get(resource)

    # --- records ---------------------------------------------------------------------------
    def district(self) -> Record:
        h = _mix(self._b[1])
        return {
            "id": self.id,
            "name": self.spec.name,
            "nces_id": self.district_nces,
            "mdr_number": f"{h % 10_000_000:07d}",
            "state": self.spec.sync_state,
            "last_sync": _timestamp(h, 2025, 8),  # the server serves it relative to now
            "launch_date": "2024-08-01",
            "login_methods": ["Clever Badges", "Google"],
            "portal_url": f"https://clever.com/in/{self.slug}",
            "sis_type": "sftp",
            "error": "",
            "district_contact": {
                "id": clever_id(self.seed, KIND_ADMIN, 1_000_000),
                "district": self.id,
                "email": f"sis.coordinator@{self.domain}",
                "name": {"first": "Pat", "last": LAST_NAMES[h % len(LAST_NAMES)]},
                "title": "SIS Coordinator",
            },
        }

    def school_nces(self, k: int) -> str | None:
        gap = self._school_gap.get(k)
        if gap == "missing_school_nces_id":
            return None
        if gap == "district_nces_as_school_nces":
            return self.district_nces
        if gap == "non_pa_school_nces_id":
            return f"36{self.lea:05d}{(k * 37 + 11) % 100000:05d}"
        src = self._dup_nces_source.get(k, k)
        return f"42{self.lea:05d}{(src * 37 + 11) % 100000:05d}"

    def school(self, k: int) -> Record:
        h = _mix(self._b[KIND_SCHOOL] ^ k)
        span = self.school_span[k]
        first = FIRST_NAMES[h % len(FIRST_NAMES)]
        last = LAST_NAMES[(h >> 8) % len(LAST_NAMES)]
        return {
            "id": self.school_ids[k],
            "district": self.id,
            "name": self.school_name[k],
            "nces_id": self.school_nces(k),
            "sis_id": f"{100 + k}",
            "school_number": f"{100 + k}",
            "state_id": f"{(h >> 16) % 9000 + 1000}",
            "mdr_number": f"{(h >> 20) % 10_000_000:07d}",
            "low_grade": span[0],
            "high_grade": span[-1],
            "phone": f"(717) 555-{(h >> 28) % 10000:04d}",
            "principal": {
                "name": f"{first} {last}",
                "email": f"{_FIRST_ASCII[h % len(FIRST_NAMES)]}.{_LAST_ASCII[(h >> 8) % len(LAST_NAMES)]}"
                f"@{self.domain}",
            },
            "location": {
                "address": f"{(h >> 34) % 900 + 100} {STREETS[(h >> 44) % len(STREETS)]}",
                "city": self.city,
                "state": "PA",
                "zip": self.zip,
            },
            "created": self.created,
            "last_modified": _timestamp(h >> 7),
        }

    def changed(self, kind: int, i: int) -> bool:
        """Whether record i of `kind` differs in this revision (never in revision 0)."""
        if not self.spec.revision:
            return False
        return _mix(self._b[kind] ^ (self.spec.revision << 40) ^ i) % 10_000 < self.spec.changed_percent * 100

    def state_id(self, i: int) -> str:
        moved = i - (self.spec.students - self.spec.moved_in)
        if moved >= 0 and self.spec.moved_from is not None:  # the id they had in the other district
            return _state_id(moved, _base(self.spec.moved_from, KIND_STUDENT) % 9_000_000_000)
        return _state_id(i, self._state_off)

    def student(self, i: int) -> Record:
        h = _mix(self._b[KIND_STUDENT] ^ i)
        h2 = _mix(h)
        fi = h % len(FIRST_NAMES)
        li = (h >> 8) % len(LAST_NAMES)
        k = self.student_school[i]
        span = self.school_span[k]
        grade = span[(h >> 16) % len(span)]
        gnum = 0 if grade == "Kindergarten" else int(grade)
        school_id = self.school_ids[k]
        sis = f"{200000 + i}"
        email = f"{_FIRST_ASCII[fi][:1]}{_LAST_ASCII[li]}{sis}@students.{self.domain}"
        gender_roll = (h >> 24) % 100
        role: Record = {
            "school": school_id,
            "schools": [school_id],
            "sis_id": sis,
            "student_number": sis,
            "state_id": self.state_id(i),
            "grade": grade,
            "graduation_year": f"{2026 + 12 - gnum}",
            "dob": f"{1 + h2 % 12}/{1 + (h2 >> 4) % 28}/{2025 - 6 - gnum + (h2 >> 9) % 2}",
            "gender": "M" if gender_roll < 49 else ("F" if gender_roll < 98 else "X"),
            "race": RACES[(h >> 32) % len(RACES)],
            "hispanic_ethnicity": "Y" if (h >> 40) % 10 == 0 else "N",
            "ell_status": "Y" if (h >> 44) % 20 == 0 else "N",
            "enrollments": [{"school": school_id, "start_date": "2025-08-25T00:00:00.000Z"}],
            "location": {
                "address": f"{(h2 >> 12) % 9000 + 10} {STREETS[(h2 >> 28) % len(STREETS)]}",
                "city": self.city,
                "state": "PA",
                "zip": self.zip,
                "lat": None,
                "lon": None,
            },
            "credentials": {"district_username": f"{_FIRST_ASCII[fi][:1]}{_LAST_ASCII[li]}{sis}"},
        }
        rec: Record = {
            "id": self.student_ids[i],
            "district": self.id,
            "name": {
                "first": FIRST_NAMES[fi],
                "middle": chr(65 + (h >> 48) % 26),
                "last": LAST_NAMES[li],
            },
            "email": email,
            "created": self.created,
            "last_modified": _timestamp(h2 >> 30),
            "roles": {"student": role},
        }
        if i < self.spec.exotic_names:
            first, last = EXOTIC_NAMES[i % len(EXOTIC_NAMES)]
            rec["name"] = {"first": first, "middle": rec["name"]["middle"], "last": last}
        if self.changed(KIND_STUDENT, i):
            rec["email"] = (
                f"{_FIRST_ASCII[fi][:1]}{_LAST_ASCII[li]}{sis}.r{self.spec.revision}@students.{self.domain}"
            )
        gap = self._student_gap.get(i)
        if gap is not None:
            if gap == "missing_student_state_id":
                if self.gap_students[gap].index(i) % 2:
                    role["state_id"] = None
                else:
                    del role["state_id"]
            elif gap == "short_student_state_id":
                role["state_id"] = role["state_id"][:9]
            elif gap == "padded_student_state_id":
                role["state_id"] = f" {role['state_id']} "
            elif gap == "duplicate_student_state_id" and i in self._dup_state_source:
                role["state_id"] = self.state_id(self._dup_state_source[i])
            elif gap == "user_without_name":
                del rec["name"]
            elif gap == "oversized_student_name":
                # A paragraph pasted into the middle-name field of the SIS.
                rec["name"]["middle"] = ("Lorem ipsum dolor sit amet " * 38)[:1000]
            elif gap == "student_without_birth_date":
                del role["dob"]
            elif gap == "student_without_graduation_year":
                role["graduation_year"] = None
            elif gap == "student_without_zip":
                del role["location"]["zip"]
            elif gap == "student_and_adult":
                # A high-school student employed as an aide: one Clever user with two roles,
                # also served under role=staff.
                rec["roles"]["staff"] = {
                    "schools": [school_id],
                    "staff_id": f"S{200000 + i}",
                    "title": "Student Aide",
                    "department": "Main Office",
                    "credentials": role["credentials"],
                }
        return rec

    def _person(self, kind: int, j: int) -> tuple[int, Record, str]:
        h = _mix(self._b[kind] ^ j)
        fi = h % len(FIRST_NAMES)
        li = (h >> 8) % len(LAST_NAMES)
        name = {"first": FIRST_NAMES[fi], "middle": chr(65 + (h >> 16) % 26), "last": LAST_NAMES[li]}
        username = f"{_FIRST_ASCII[fi]}.{_LAST_ASCII[li]}{kind}{j}"
        return h, name, username

    def teacher(self, j: int) -> Record:
        h, name, username = self._person(KIND_TEACHER, j)
        k = self.teacher_school[j]
        schools = [self.school_ids[k]]
        ts = self._teacher_schools
        if j % 10 == 9 and len(ts) > 1:
            # The next school that has teachers: a school seeded school_without_teachers must
            # not get one back as some teacher's second school.
            other = self.school_ids[ts[(ts.index(k) + 1) % len(ts)]]
            schools = sorted([self.school_ids[k], other])
        gap = self._teacher_gap.get(j)
        title = "School Counselor" if gap == "counselor_shared_as_teacher" else TEACHER_TITLES[(h >> 24) % 6]
        if self.changed(KIND_TEACHER, j):
            title = f"{title} (rev {self.spec.revision})"
        roles: Record = {
            "teacher": {
                "school": self.school_ids[k],
                "schools": schools,
                "sis_id": f"T{50000 + j}",
                "teacher_number": f"{50000 + j}",
                "state_id": f"{(h >> 28) % 9_000_000 + 1_000_000}",
                "title": title,
                "credentials": {"district_username": username},
            }
        }
        if j in self._dual:
            roles["staff"] = {
                "schools": schools,
                "staff_id": f"S{50000 + j}",
                "title": "Instructional Coach",
                "department": "Curriculum and Instruction",
                "credentials": {"district_username": username},
            }
        return {
            "id": self.teacher_ids[j],
            "district": self.id,
            "name": name,
            "email": None if gap == "teacher_without_email" else f"{username}@{self.domain}",
            "created": self.created,
            "last_modified": _timestamp(h >> 36),
            "roles": roles,
        }

    def staff(self, j: int) -> Record:
        h, name, username = self._person(KIND_STAFF, j)
        if j < self.spec.counselors:
            title, department = "School Counselor", "Student Services"
        else:
            title, department = STAFF_ROLES[(j - self.spec.counselors) % len(STAFF_ROLES)]
        schools = [self.school_ids[j % len(self.school_ids)]] if self.school_ids else []
        return {
            "id": self.staff_ids[j],
            "district": self.id,
            "name": name,
            "email": None if j in self._staff_gap else f"{username}@{self.domain}",
            "created": self.created,
            "last_modified": _timestamp(h >> 36),
            "roles": {
                "staff": {
                    "schools": schools,
                    "staff_id": f"S{70000 + j}",
                    "title": title,
                    "department": department,
                    "credentials": {"district_username": username},
                }
            },
        }

    def admin(self, j: int) -> Record:
        h, name, username = self._person(KIND_ADMIN, j)
        return {
            "id": self.admin_ids[j],
            "district": self.id,
            "name": name,
            "email": f"{username}@{self.domain}",
            "created": self.created,
            "last_modified": _timestamp(h >> 36),
            "roles": {"district_admin": {"title": ADMIN_TITLES[j % len(ADMIN_TITLES)]}},
        }

    def contact(self, j: int) -> Record:
        h, name, username = self._person(KIND_CONTACT, j)
        rels = []
        if self.student_ids:
            rels.append(
                {
                    "student": self.student_ids[(j * 7919) % len(self.student_ids)],
                    "relationship": "Parent",
                    "type": "Parent/Guardian",
                }
            )
        return {
            "id": self.contact_ids[j],
            "district": self.id,
            "name": name,
            "email": f"{username}@family.example.org",
            "created": self.created,
            "last_modified": _timestamp(h >> 36),
            "roles": {
                "contact": {
                    "sis_id": f"C{90000 + j}",
                    "phone": f"(610) 555-{(h >> 20) % 10000:04d}",
                    "phone_type": "Cell",
                    "student_relationships": rels,
                }
            },
        }

    def section_layout(self, s: int) -> tuple[int, list[int], list[int]]:
        """(school index, teacher indices, student indices) of section s."""
        schools = self._section_schools
        k = schools[s % len(schools)]
        local = s // len(schools)
        h = _mix(self._b[KIND_SECTION] ^ s)
        pool = self.school_teachers[k] or self._teaching_pool
        teachers: list[int] = []
        if pool:
            teachers.append(pool[local % len(pool)])
            if (h >> 8) % 4 == 0 and len(pool) > 1:
                teachers.append(pool[(local + 1) % len(pool)])
        members = self.school_students[k]
        n = len(members)
        size = min(n, 25 + h % 11)
        start = (local * 29) % n if n else 0
        students = [members[(start + x) % n] for x in range(size)]
        students.sort()
        return k, teachers, students

    def section(self, s: int) -> Record:
        k, teachers, students = self.section_layout(s)
        h = _mix(self._b[KIND_SECTION] ^ s)
        span = self.school_span[k]
        course_name, subject = COURSE_CATALOG[0][0], "other"
        course = None
        if self.course_ids:
            c = (h >> 12) % len(self.course_ids)
            course = self.course_ids[c]
            course_name, subject = COURSE_CATALOG[c % len(COURSE_CATALOG)]
        period = f"{1 + (h >> 20) % 8}"
        teacher_ids = [self.teacher_ids[t] for t in teachers]
        student_ids = [self.student_ids[i] for i in students]
        rec: Record = {
            "id": self.section_ids[s],
            "district": self.id,
            "school": self.school_ids[k],
            "name": f"{course_name} - Period {period} - {s + 1}",
            "sis_id": f"SEC{10000 + s}",
            "section_number": f"{s + 1}",
            "period": period,
            "course": course,
            "term_id": self.term_ids[s % len(self.term_ids)] if self.term_ids else None,
            "subject": subject,
            "grade": span[(h >> 24) % len(span)],
            "teacher": teacher_ids[0] if teacher_ids else None,
            "teachers": teacher_ids,
            "students": student_ids,
            "created": self.created,
            "last_modified": _timestamp(h >> 30),
        }
        if self.changed(KIND_SECTION, s):
            rec["name"] = f"{rec['name']} (rev {self.spec.revision})"
        gap = self._section_gap.get(s)
        if gap == "section_without_teacher":
            rec["teacher"] = None
            rec["teachers"] = []
        elif gap == "section_with_unknown_student":
            ghost = self._student_id(self.spec.students + 1000 + s)
            rec["students"] = sorted([*student_ids[1:], ghost])
        elif gap == "section_without_school":
            del rec["school"]
        elif gap == "section_with_invalid_term_id":
            rec["term_id"] = f"S1 2025/26 #{s}"  # the SIS's term code, not a Clever id
        return rec

    def term(self, t: int) -> Record:
        start, end = TERM_DATES[t % len(TERM_DATES)]
        # The last terms carry the gap: a date past datetime.max once in UTC (a mistyped year).
        unreadable = t >= self.spec.terms - self.spec.gaps.term_with_unreadable_start
        return {
            "id": self.term_ids[t],
            "district": self.id,
            "name": TERM_NAMES[t % len(TERM_NAMES)] if t < len(TERM_NAMES) else f"Term {t + 1}",
            "start_date": "9999-12-31T23:59:59-01:00" if unreadable else f"{start}T00:00:00.000Z",
            "end_date": f"{end}T00:00:00.000Z",
        }

    def course(self, c: int) -> Record:
        name, _subject = COURSE_CATALOG[c % len(COURSE_CATALOG)]
        if c >= len(COURSE_CATALOG):
            name = f"{name} {c // len(COURSE_CATALOG) + 1}"
        return {"id": self.course_ids[c], "district": self.id, "name": name, "number": f"C{1000 + c}"}


def page_items(listing: Listing, start: int, limit: int) -> list[Record]:
    """Clever-shaped items (`{"data": record, "uri": "/v3.0/<type>/<id>"}`) of one page."""
    uri_prefix = f"/v3.0/{listing.uri_type}/"
    return [{"data": rec, "uri": uri_prefix + rid} for rid, rec in listing.items(start, limit)]


def dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
