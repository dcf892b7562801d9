"""Configuration of the Clever sandbox: districts to generate, seeded data gaps and runtime faults.

Everything here is plain data.  `default_config()` is the fixed demo/test configuration: its seeds
never change, so the generated districts are byte-identical across runs and machines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields

MAX_SLOW_SECONDS = 5.0
"""Upper bound applied to `Faults.slow_seconds` (a fault must never hang a test)."""


def clever_id(seed: int, kind: int, index: int) -> str:
    """Deterministic 24-hex-char Clever-style id.

    Layout: 8 hex chars derived from the seed, 4 hex chars of record kind, 12 hex chars of
    (kind-specific offset + index).  Ids of one kind sort in index order, and kinds sort in
    kind order (students < teachers < staff < district admins < contacts).
    """
    prefix = int.from_bytes(hashlib.sha256(f"{seed}".encode()).digest()[:4], "big")
    offset = int.from_bytes(hashlib.sha256(f"{seed}:{kind}".encode()).digest()[:6], "big") & 0x7FFF_FF00_0000
    return f"{prefix:08x}{kind:04x}{offset + index:012x}"


KIND_DISTRICT = 1
KIND_SCHOOL = 2
KIND_STUDENT = 3
KIND_TEACHER = 4
KIND_STAFF = 5
KIND_ADMIN = 6
KIND_CONTACT = 7
KIND_SECTION = 8
KIND_TERM = 9
KIND_COURSE = 10
KIND_TOKEN = 11


@dataclass(frozen=True)
class Gaps:
    """Seeded data-quality gaps; each count produces records that trip one downstream rule.

    All gaps stay valid against Clever's v3.0 response schemas (no invalid enum values).
    The affected records are chosen deterministically from the district seed; records of one
    kind never carry two gaps of the same group (students, schools, teachers/staff, sections).
    """

    # students
    missing_student_state_id: int = 0  # state_id omitted (even occurrences) or null (odd ones)
    short_student_state_id: int = 0  # 9-digit state_id
    padded_student_state_id: int = 0  # " 1234567890 " (valid after trim)
    duplicate_student_state_id: int = 0  # number of PAIRS of students sharing one state_id
    user_without_name: int = 0  # malformed: a student without `name`
    student_and_adult: int = 0  # student also holding a staff role (served under role=staff too)
    oversized_student_name: int = 0  # a 1,000-character middle name (record.field_too_long)
    student_without_birth_date: int = 0  # dob omitted (student.birth_date.missing, a warning)
    student_without_graduation_year: int = 0  # graduation_year null
    student_without_zip: int = 0  # location.zip omitted (rest of the address kept)
    # schools
    missing_school_nces_id: int = 0  # nces_id null
    district_nces_as_school_nces: int = 0  # 7-digit district NCES id used as school nces_id
    non_pa_school_nces_id: int = 0  # 12 digits not starting with "42"
    duplicate_school_nces_id: int = 0  # number of PAIRS of schools sharing one nces_id
    school_without_students: int = 0  # no student enrolled (hence also no section there)
    school_without_teachers: int = 0  # no teacher assigned (its sections borrow other teachers)
    school_without_sections: int = 0  # students and teachers, but no section
    # teachers / staff
    teacher_and_staff_dual_role: int = 0  # teacher also listed under role=staff, both roles present
    counselor_shared_as_teacher: int = 0  # role teacher, title "School Counselor", in no section
    teacher_without_email: int = 0  # email null
    staff_without_email: int = 0  # email null
    # sections
    section_without_teacher: int = 0  # teacher null, teachers []
    section_with_unknown_student: int = 0  # one student id that /users never returns
    section_without_school: int = 0  # malformed: `school` omitted
    section_with_invalid_term_id: int = 0  # term_id is a SIS code, not a Clever id (record.id.invalid)
    # terms
    term_with_unreadable_start: int = 0  # start_date 9999-12-31T23:59:59-01:00 (record.date.invalid)

    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def nonzero(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass(frozen=True)
class DistrictSpec:
    """One generated district.  `id` defaults to a deterministic id derived from `seed`.

    `staff` served under role=staff = counselors + other_staff (+ dual-role teachers, + students
    seeded `student_and_adult`).
    """

    name: str
    seed: int
    schools: int = 3
    students: int = 300
    teachers: int = 20
    counselors: int = 2
    admins: int = 1
    other_staff: int = 3
    sections: int = 30
    terms: int = 2
    courses: int = 10
    contacts: int = 0
    gaps: Gaps = field(default_factory=Gaps)
    id: str = ""
    state: str = "PA"
    # Tomorrow's data: with revision N > 0, about `changed_percent` % of students, teachers and
    # sections (a deterministic choice per N) change one field the product uses; ids stay.
    revision: int = 0
    changed_percent: float = 1.0
    # The first N students get names from generator.EXOTIC_NAMES (cycled): right-to-left scripts,
    # emoji, combining marks, markup, formula-looking and very long strings.
    exotic_names: int = 0
    # Clever's sync status of the district, as /v3.0/districts serves it. `sync_state` is Clever's
    # `state`. `last_sync_hours_ago` and `pause_days` ((start, end) in days, negative = past) are
    # relative to the request's time: the server sets them when it answers (the generator's output
    # stays byte-stable), so no district is stale by the calendar alone. None: `last_sync` null,
    # no pause.
    sync_state: str = "success"
    last_sync_hours_ago: float | None = 6.0
    pause_days: tuple[float, float] | None = None
    # Students who moved here while the district they left (the spec seeded `moved_from`) still
    # shares them: this district's last `moved_in` students carry the PA Secure IDs of that
    # district's first `moved_in` students, under other names and birth dates (records that do not
    # agree: a PA Secure ID conflict for support, rostersync/state_id_registry.py).
    moved_from: int | None = None
    moved_in: int = 0

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", clever_id(self.seed, KIND_DISTRICT, 0))
        counts = (
            self.schools,
            self.students,
            self.teachers,
            self.counselors,
            self.admins,
            self.other_staff,
            self.sections,
            self.terms,
            self.courses,
            self.contacts,
        )
        if min(counts) < 0:
            raise ValueError("counts must be >= 0")
        if self.schools == 0 and (self.students or self.teachers or self.sections):
            raise ValueError("a district without schools cannot have students, teachers or sections")
        if self.moved_in and (self.moved_from is None or self.moved_in > self.students):
            raise ValueError("moved_in needs moved_from and at most `students` students")

    @classmethod
    def empty(cls, name: str, seed: int, *, with_schools: int = 0, **kwargs: object) -> DistrictSpec:
        """A district with no students, teachers or sections (and `with_schools` schools)."""
        base: dict[str, object] = {
            "schools": with_schools,
            "students": 0,
            "teachers": 0,
            "counselors": 0,
            "admins": 1,
            "other_staff": 0,
            "sections": 0,
            "terms": 0,
            "courses": 0,
        }
        base.update(kwargs)
        return cls(name, seed, **base)  # type: ignore[arg-type]

    @classmethod
    def small(cls, name: str, seed: int, **kwargs: object) -> DistrictSpec:
        """A district small enough for a test that runs it night after night: 2 schools, 24
        students, 2 teachers, no counselor, an admin and another staff member, 2 sections, a term
        and a course (each overridable)."""
        base: dict[str, object] = {
            "schools": 2,
            "students": 24,
            "teachers": 2,
            "counselors": 0,
            "admins": 1,
            "other_staff": 1,
            "sections": 2,
            "terms": 1,
            "courses": 1,
        }
        base.update(kwargs)
        return cls(name, seed, **base)  # type: ignore[arg-type]

    def record_count(self) -> int:
        return (
            self.schools
            + self.students
            + self.teachers
            + self.counselors
            + self.admins
            + self.other_staff
            + self.sections
            + self.terms
            + self.courses
            + self.contacts
        )


@dataclass(frozen=True)
class SandboxConfig:
    districts: tuple[DistrictSpec, ...]
    client_id: str = "rostersync-sandbox-client"
    client_secret: str = "rostersync-sandbox-secret-not-a-real-secret"  # noqa: S105
    host: str = "127.0.0.1"
    trap_host: str = "127.0.0.2"  # falls back to `host` (other port) if it cannot be bound
    created: str = "2025-07-01T12:00:00.000Z"
    # District tokens per `/oauth/tokens` answer, the rest behind a relative `next` link
    # (`starting_after=<district id>`); 0 answers every token at once, as Clever does today.
    tokens_page_size: int = 0

    def __post_init__(self) -> None:
        if self.tokens_page_size < 0:
            raise ValueError("tokens_page_size must be 0 (one answer) or positive")
        ids = [d.id for d in self.districts]
        if len(ids) != len(set(ids)):
            raise ValueError("district ids must be unique")


@dataclass
class Faults:
    """Runtime faults, mutable by tests while the server runs (`sandbox.faults.x = ...`).

    Scope: global, narrowed by `match_district` (a district id) and `match_path` (a substring of
    the request target, e.g. "/v3.0/sections" or "role=student").  They apply to bearer-authenticated
    `/v3.0/...` requests only; set `include_oauth=True` to also apply them to `/oauth/tokens`.
    Counters named "next K" are decremented by the server as they fire (read them to see
    consumption).  `unauthorized_once` is per district and ignores the match filters.
    """

    match_district: str | None = None
    match_path: str | None = None
    include_oauth: bool = False

    rate_limit_every: int = 0  # every Nth matching request answers 429 (0 = off)
    rate_limit_buckets: tuple[tuple[int, int], ...] = ((1200, 1), (600, 1), (100, 1))  # (limit, reset+s)

    server_errors: int = 0  # next K matching requests answer an error status
    server_error_statuses: tuple[int, ...] = (500, 502, 503)  # cycled through
    html_errors: bool = False  # server_errors and 429 bodies are HTML (text/html) instead of JSON

    empty_trailing_page: bool = False  # last page links `next` to an empty page
    off_host_next: bool = False  # `next` links are absolute URLs on trap_base
    repeat_cursor: bool = False  # `next` repeats the cursor of the request (from the 2nd page on)
    duplicate_across_pages: bool = False  # every page after the first repeats the previous page's last record

    garbage_200: int = 0  # next K matching requests: 200 with a body violating the contract
    garbage_mode: str = "no_data"  # "no_data" -> {"links": []}; "no_id" -> records without "id"

    truncated_json: int = 0  # next K matching requests: 200 with the JSON body cut in half

    # Hostile but well-formed (or nearly) JSON a district's own data can produce, next K matching 200s:
    # "surrogate" puts a lone surrogate escape (\\ud800) into the first `last` name of the page;
    # "deep_array" wraps the whole body's `data` beside an array nested `hostile_depth` deep;
    # "deep_field" makes the first `last` name an array nested `hostile_depth` deep.
    hostile_json: int = 0
    hostile_mode: str = "surrogate"
    hostile_depth: int = 100_000

    # Pages larger than this (`limit` above it; 0 = off) are too slow for Clever's gateway: a matching
    # request answers `big_page_status` (502 or 504), or with 0 sleeps `big_page_sleep` seconds
    # (capped at 5) before answering (a read timeout for a client with a shorter read timeout).
    big_page_limit: int = 0
    big_page_status: int = 504
    big_page_sleep: float = 0.0

    # `next` links drop their `role=` parameter (a users listing drifts into every role); narrowed
    # by `match_district` only.
    next_drops_role: bool = False

    slow_seconds: float = 0.0  # sleep before answering matching requests (capped at 5 s)

    connection_reset: int = 0  # next K matching requests: socket closed without a response

    unauthorized_once: set[str] = field(default_factory=set)  # district ids: next bearer request 401s

    def reset(self) -> None:
        """Turn every fault off."""
        fresh = Faults()
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    query: dict[str, str]
    district_id: str | None
    status: int  # 0 when the connection was reset without a response


def default_config() -> SandboxConfig:
    """Five fixed districts: one clean, two with complementary gaps (every knob at least once), one
    tiny, and (appended last, so the others keep their positions) one that shares schools but no
    students yet (district.empty).

    Together they make the validation engine fire every rule in `rostersync.validate.rules.RULES`
    at least once (tests/integration/test_sandbox_seeds_every_rule.py).
    """
    clean = DistrictSpec(
        "Allegheny Valley School District",
        seed=1031,
        schools=3,
        students=400,
        teachers=30,
        counselors=2,
        admins=2,
        other_staff=4,
        sections=45,
        terms=2,
        courses=12,
        contacts=20,
    )
    gaps_students = DistrictSpec(
        "Susquehanna Township School District",
        seed=2207,
        schools=6,
        students=1200,
        teachers=70,
        counselors=4,
        admins=2,
        other_staff=6,
        sections=120,
        terms=3,
        courses=20,
        contacts=10,
        gaps=Gaps(
            missing_student_state_id=3,
            short_student_state_id=2,
            padded_student_state_id=2,
            duplicate_student_state_id=2,
            user_without_name=1,
            student_and_adult=1,
            teacher_without_email=2,
            section_without_teacher=2,
            section_with_unknown_student=2,
            missing_school_nces_id=1,
            school_without_sections=1,
            oversized_student_name=1,
            section_with_invalid_term_id=1,
            term_with_unreadable_start=1,
        ),
    )
    gaps_schools = DistrictSpec(
        "Conestoga Valley School District",
        seed=3319,
        schools=8,
        students=800,
        teachers=50,
        counselors=3,
        admins=1,
        other_staff=5,
        sections=80,
        terms=2,
        courses=15,
        gaps=Gaps(
            missing_school_nces_id=1,
            district_nces_as_school_nces=1,
            non_pa_school_nces_id=1,
            duplicate_school_nces_id=1,
            school_without_students=1,
            school_without_teachers=1,
            school_without_sections=1,
            teacher_and_staff_dual_role=2,
            counselor_shared_as_teacher=1,
            staff_without_email=2,
            section_without_school=1,
            missing_student_state_id=1,
            student_without_birth_date=1,
            student_without_graduation_year=1,
            student_without_zip=1,
        ),
        sync_state="error",  # Clever's own sync from the SIS failed: district.sync_stale
    )
    # A district that connected Smart Futures in Clever but has not finished its sharing rules:
    # its schools are shared, none of its students (nor teachers or sections) yet.
    not_shared_yet = DistrictSpec.empty("Penns Valley Area School District", seed=5503, with_schools=2)
    tiny = DistrictSpec(
        "Austin Area School District",
        seed=4421,
        schools=1,
        students=30,
        teachers=3,
        counselors=1,
        admins=1,
        other_staff=1,
        sections=2,
        terms=1,
        courses=2,
        moved_from=clean.seed,  # one student came from Allegheny Valley, which still shares them
        moved_in=1,
    )
    return SandboxConfig(districts=(clean, gaps_students, gaps_schools, tiny, not_shared_yet))
