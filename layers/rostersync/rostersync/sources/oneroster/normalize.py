"""OneRoster 1.1 objects: reduced to what the product uses, then normalized (pure functions).

`minimize` runs in the fetch stage before a page is stored: references become their
`sourcedId`, `metadata` keeps only the fields the mapping reads (PASECUREID, NCES ids,
graduation year, ZIP), people of roles we do not serve (parents, guardians, aides, ...) are
dropped, and demographics keep `birthDate` only (no sex, race, ethnicity, birthplace).
Passwords, phone numbers, `userIds`, `agents` are never written anywhere.

`normalize_district` reads a district's stored pages back (it needs several collections at once:
a class's people come from enrollments, a student's date of birth from demographics, a missing
ZIP from the school) and yields the source-independent records. Mapping (issue 12):

* District: the org of type `district` (the primary org), under the district id (not the org's
  sourcedId, so the district item has the same key as a Clever district's), its NCES LEA id the first 7-digit
  value among `identifier`, `sourcedId` and metadata `*nces*` fields. None shared: validation
  rejects the district (`district.primary_org.missing`).
* Schools: orgs of type `school`. NCES id: the first 12-digit value among `sourcedId`,
  `identifier` and the metadata fields whose key contains `nces` (any case); if none has 12
  digits, the first metadata `nces` value (so the NCES format rule can say what is wrong).
* People: `role` student -> student; teacher -> teacher; administrator -> staff, or district
  admin when linked to no school, only to the district org. PA Secure ID from the metadata field
  `PASECUREID` (key in any case); date of birth from demographics; graduation year from metadata
  (`Graduation_Year`, `graduationYear`, `yearOfGraduation`, any case), else from the grade and
  the school year; ZIP from user metadata, else the first school's.
* One person, several accounts: users sharing an e-mail (case-insensitive) or a username are one
  person: their records carry one id (a student's account first, then a teacher's, then the
  smallest sourcedId), so validation sees one person shared under several roles and resolves it
  as for Clever (`user.multiple_account_types`, `user.student_and_adult`).
* Sections from classes; their teachers (primary first) and students from enrollments; terms from
  academicSessions; courses.
* `status: tobedeleted`: not shared (left out; the import archives it, under the safeguard).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

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
from rostersync.sources.clever.normalize import clean_text
from rostersync.sources.oneroster.resources import Resource

# The user metadata field that carries the PA Secure ID (Smart Futures' ClassLink instructions).
STATE_ID_FIELD = "PASECUREID"
_STATE_ID_KEY = STATE_ID_FIELD.lower()
_GRADUATION_KEYS = frozenset({"graduation_year", "graduationyear", "yearofgraduation"})
_ZIP_KEYS = frozenset({"zip", "zipcode", "zip_code", "postalcode", "postal_code"})
SERVED_ROLES = {
    "student": SourceRole.STUDENT,
    "teacher": SourceRole.TEACHER,
    "administrator": SourceRole.STAFF,
}
_NCES = re.compile(r"[0-9]{12}")
_LEA = re.compile(r"[0-9]{7}")
_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_YEAR = re.compile(r"[0-9]{4}")
_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")
DELETED = "tobedeleted"

# ------------------------------------------------------------------------------- minimize


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return None


def source_id(value: Any) -> str | None:
    """A sourcedId as text: a non-empty string as it is, a JSON number as its decimal string
    (some providers send SIS row ids as numbers); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def _ref(value: Any) -> str | None:
    """A OneRoster reference `{"href", "sourcedId", "type"}` as its sourcedId."""
    if isinstance(value, Mapping):
        value = value.get("sourcedId")
    sid = source_id(value)
    return clean_text(sid) if sid else None


def _refs(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return []
    return [r for r in (_ref(v) for v in value) if r]


def _strings(value: Any) -> list[str]:
    """A OneRoster string list (JSON array, or a comma list as some providers send)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [clean_text(v).strip() for v in value if isinstance(v, str) and v.strip()]


def _wanted_metadata(key: str) -> bool:
    k = key.lower()
    return k == _STATE_ID_KEY or "nces" in k or k in _GRADUATION_KEYS or k in _ZIP_KEYS


def _metadata(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    return {
        clean_text(k): _scalar(v)
        for k, v in value.items()
        if isinstance(k, str) and _wanted_metadata(k) and not isinstance(v, list | dict)
    }


def _base(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sourcedId": clean_text(source_id(record["sourcedId"]) or ""),
        "status": _scalar(record.get("status")),
    }


def minimize(resource: Resource | str, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The fields the product uses, as flat scalars and id lists; None drops the record (a person
    of a role we do not serve). Nothing kept nests, so nothing stored recurses over district data."""
    resource = Resource(resource)
    out = _base(record)
    get = record.get
    if resource is Resource.ORGS:
        out.update(
            name=_scalar(get("name")),
            type=_scalar(get("type")),
            identifier=_scalar(get("identifier")),
            parent=_ref(get("parent")),
            metadata=_metadata(get("metadata")),
        )
    elif resource is Resource.ACADEMIC_SESSIONS:
        out.update(
            title=_scalar(get("title")),
            type=_scalar(get("type")),
            startDate=_scalar(get("startDate")),
            endDate=_scalar(get("endDate")),
            schoolYear=_scalar(get("schoolYear")),
        )
    elif resource is Resource.COURSES:
        out.update(title=_scalar(get("title")), courseCode=_scalar(get("courseCode")))
    elif resource is Resource.USERS:
        role = get("role")
        if not isinstance(role, str) or role.strip().lower() not in SERVED_ROLES:
            return None
        out.update(
            role=role.strip().lower(),
            username=_scalar(get("username")),
            givenName=_scalar(get("givenName")),
            middleName=_scalar(get("middleName")),
            familyName=_scalar(get("familyName")),
            identifier=_scalar(get("identifier")),
            email=_scalar(get("email")),
            orgs=_refs(get("orgs")),
            grades=_strings(get("grades")),
            metadata=_metadata(get("metadata")),
        )
    elif resource is Resource.DEMOGRAPHICS:
        out["birthDate"] = _scalar(get("birthDate"))
    elif resource is Resource.ENROLLMENTS:
        primary = get("primary")
        out.update(
            role=_scalar(get("role")),
            user=_ref(get("user")),
            **{"class": _ref(get("class"))},
            primary=primary is True or (isinstance(primary, str) and primary.strip().lower() == "true"),
        )
    elif resource is Resource.CLASSES:
        out.update(
            title=_scalar(get("title")),
            classCode=_scalar(get("classCode")),
            school=_ref(get("school")),
            course=_ref(get("course")),
            terms=_refs(get("terms")),
            grades=_strings(get("grades")),
            subjects=_strings(get("subjects")),
            periods=_strings(get("periods")),
        )
    return out


# ------------------------------------------------------------------------------ normalize

Read = Callable[[str], Iterable[Mapping[str, Any]]]


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def _shared(record: Mapping[str, Any]) -> bool:
    return str(record.get("status") or "").strip().lower() != DELETED


def _field(metadata: Any, keys: Iterable[str] | str) -> Any:
    """The first metadata value whose key, lowercased, is one of `keys` (None: none)."""
    wanted = {keys} if isinstance(keys, str) else set(keys)
    if not isinstance(metadata, Mapping):
        return None
    for key, value in metadata.items():
        if isinstance(key, str) and key.lower() in wanted:
            return value
    return None


def school_nces(org: Mapping[str, Any]) -> str | None:
    """The first 12-digit value among sourcedId, identifier and metadata `*nces*` fields; else the
    first metadata `nces` value as it is (for the format rule); else None."""
    raw_metadata = org.get("metadata")
    metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
    nces_values = [_str(v) for k, v in metadata.items() if isinstance(k, str) and "nces" in k.lower()]
    candidates = [_str(org.get("sourcedId")), _str(org.get("identifier")), *nces_values]
    for value in candidates:
        if value and _NCES.fullmatch(value.strip()):
            return value.strip()
    return next((v for v in nces_values if v and v.strip()), None)


def district_nces(org: Mapping[str, Any]) -> str | None:
    """The district's 7-digit NCES LEA id: the first 7-digit value among `identifier`, `sourcedId`
    and metadata `*nces*` fields (None: none; the district's id is informational)."""
    raw_metadata = org.get("metadata")
    metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
    nces_values = [_str(v) for k, v in metadata.items() if isinstance(k, str) and "nces" in k.lower()]
    for value in (_str(org.get("identifier")), _str(org.get("sourcedId")), *nces_values):
        if value and _LEA.fullmatch(value.strip()):
            return value.strip()
    return None


def five_digit_zip(value: Any) -> str | None:
    text = _str(value)
    match = _ZIP.fullmatch(text.strip()) if text else None
    return match.group(1) if match else None


def birth_date(value: Any) -> str | None:
    """`YYYY-MM-DD` from a OneRoster birthDate (a date, or a datetime whose date part is taken)."""
    text = _str(value)
    match = _DATE.match(text.strip()) if text else None
    return match.group(1) if match else None


_GRADE_OFFSETS = {"kg": 0, "k": 0, "pk": -1, "tk": -1}


def derived_graduation_year(grade: str | None, school_year: int | None) -> str | None:
    """The year a student in `grade` during the school year ending in `school_year` graduates
    (grade 12 graduates that year); None when the grade is not K-12 or the year is unknown."""
    if grade is None or school_year is None:
        return None
    g = grade.strip().lower()
    number = _GRADE_OFFSETS.get(g)
    if number is None:
        if not g.isdigit() or not 1 <= int(g) <= 12:
            return None
        number = int(g)
    return str(school_year + 12 - number)


def _graduation_year(metadata: Any, grade: str | None, school_year: int | None) -> str | None:
    value = _str(_field(metadata, _GRADUATION_KEYS))
    if value and value.strip():
        return value.strip()
    return derived_graduation_year(grade, school_year)


def _school_year(sessions: Iterable[Mapping[str, Any]]) -> int | None:
    """The school year (OneRoster `schoolYear`: the year it ends) of the shared schoolYear sessions,
    else of any shared session; the latest when several."""
    years: dict[bool, list[int]] = defaultdict(list)
    for session in sessions:
        year = _str(session.get("schoolYear"))
        if year and _YEAR.fullmatch(year.strip()):
            years[session.get("type") == "schoolYear"].append(int(year))
    chosen = years[True] or years[False]
    return max(chosen) if chosen else None


class _People:
    """Identity: accounts sharing an e-mail (case-insensitive) or a username are one person."""

    _RANK: ClassVar[dict[str, int]] = {"student": 0, "teacher": 1, "administrator": 2}

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.role: dict[str, str] = {}
        self.by_key: dict[str, str] = {}

    def _find(self, sid: str) -> str:
        root = sid
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[sid] != root:
            self.parent[sid], sid = root, self.parent[sid]
        return root

    def _better(self, a: str, b: str) -> bool:
        return (self._RANK.get(self.role[a], 9), a) < (self._RANK.get(self.role[b], 9), b)

    def add(self, user: Mapping[str, Any]) -> None:
        sid = str(user["sourcedId"])
        if sid in self.parent:
            return
        self.parent[sid] = sid
        self.role[sid] = str(user.get("role"))
        for kind in ("email", "username"):
            value = _str(user.get(kind))
            if not value or not value.strip():
                continue
            key = f"{kind}:{value.strip().lower()}"
            other = self.by_key.setdefault(key, sid)
            if other != sid:
                a, b = self._find(other), self._find(sid)
                if a != b:
                    winner, loser = (a, b) if self._better(a, b) else (b, a)
                    self.parent[loser] = winner

    def canonical(self, sid: str) -> str:
        return self._find(sid) if sid in self.parent else sid


def _first(record: Mapping[str, Any], key: str) -> str | None:
    values = record.get(key)
    return _str(values[0]) if isinstance(values, list) and values else None


def normalize_district(read: Read, district_id: str) -> Iterator[Record]:
    """A district's stored OneRoster records (`read(resource)` yields a collection's records in
    stored order, and may be called again) as normalized records, each exactly once."""
    orgs = [o for o in read(Resource.ORGS) if _shared(o)]
    sessions = [s for s in read(Resource.ACADEMIC_SESSIONS) if _shared(s)]
    school_year = _school_year(sessions)
    org_types = {str(o["sourcedId"]): o.get("type") for o in orgs}
    school_zip = {
        str(o["sourcedId"]): five_digit_zip(_field(o.get("metadata"), _ZIP_KEYS))
        for o in orgs
        if o.get("type") == "school"
    }

    district = next((o for o in orgs if o.get("type") == "district"), None)
    if district is not None:
        # The district item is keyed by the district id, as a Clever district's is
        # (DISTRICT#<d> / DISTRICT#<d>): the org's sourcedId is the tenant's business only.
        yield DistrictRecord(
            id=district_id,
            district_id=district_id,
            name=_str(district.get("name")),
            nces_id=district_nces(district),
        )
    for org in orgs:
        if org.get("type") != "school":
            continue
        yield SchoolRecord(
            id=str(org["sourcedId"]),
            district_id=district_id,
            name=_str(org.get("name")),
            nces_id=school_nces(org),
            sis_id=_str(org.get("identifier")),
        )
    for session in sessions:
        yield TermRecord(
            id=str(session["sourcedId"]),
            district_id=district_id,
            name=_str(session.get("title")),
            start_date=_str(session.get("startDate")),
            end_date=_str(session.get("endDate")),
        )
    for course in read(Resource.COURSES):
        if _shared(course):
            yield CourseRecord(
                id=str(course["sourcedId"]),
                district_id=district_id,
                name=_str(course.get("title")),
                number=_str(course.get("courseCode")),
            )

    people = _People()
    for user in read(Resource.USERS):
        if _shared(user) and user.get("role") in SERVED_ROLES:
            people.add(user)
    births = {
        str(d["sourcedId"]): birth_date(d.get("birthDate")) for d in read(Resource.DEMOGRAPHICS) if _shared(d)
    }
    for user in read(Resource.USERS):
        if not (_shared(user) and user.get("role") in SERVED_ROLES):
            continue
        sid = str(user["sourcedId"])
        role = SERVED_ROLES[str(user["role"])]
        user_orgs = [o for o in user.get("orgs") or [] if isinstance(o, str)]
        schools = tuple(dict.fromkeys(o for o in user_orgs if org_types.get(o) != "district"))
        if (
            role is SourceRole.STAFF
            and not schools
            and any(org_types.get(o) == "district" for o in user_orgs)
        ):
            role = SourceRole.DISTRICT_ADMIN
        metadata = user.get("metadata")
        grades = [g for g in user.get("grades") or [] if isinstance(g, str)]
        grade = grades[0] if grades else None
        student = role is SourceRole.STUDENT
        state_id = _str(_field(metadata, _STATE_ID_KEY)) if student else None
        zip_code = None
        if student:
            zip_code = five_digit_zip(_field(metadata, _ZIP_KEYS)) or next(
                (z for z in (school_zip.get(s) for s in schools) if z), None
            )
        yield PersonRecord(
            id=people.canonical(sid),
            district_id=district_id,
            role=role,
            name=PersonName(
                first=_str(user.get("givenName")),
                middle=_str(user.get("middleName")),
                last=_str(user.get("familyName")),
            ),
            email=_str(user.get("email")),
            sis_id=_str(user.get("identifier")),
            state_id=state_id,
            local_number=_str(user.get("identifier")),
            grade=grade if student else None,
            graduation_year=_graduation_year(metadata, grade, school_year) if student else None,
            birth_date=births.get(sid) if student else None,
            zip=zip_code,
            schools=schools,
        )

    teachers: dict[str, list[tuple[bool, str]]] = defaultdict(list)
    students: dict[str, dict[str, None]] = defaultdict(dict)
    for enrollment in read(Resource.ENROLLMENTS):
        class_id, user_id = enrollment.get("class"), enrollment.get("user")
        if not (_shared(enrollment) and isinstance(class_id, str) and isinstance(user_id, str)):
            continue
        person = people.canonical(user_id)
        if enrollment.get("role") == "teacher":
            teachers[class_id].append((not enrollment.get("primary"), person))
        elif enrollment.get("role") == "student":
            students[class_id][person] = None
    for cls in read(Resource.CLASSES):
        if not _shared(cls):
            continue
        cid = str(cls["sourcedId"])
        listed = sorted(teachers.get(cid, []), key=lambda t: t[0])  # primary first, stable
        terms = [t for t in cls.get("terms") or [] if isinstance(t, str)]
        yield SectionRecord(
            id=cid,
            district_id=district_id,
            name=_str(cls.get("title")),
            school=_str(cls.get("school")),
            sis_id=_str(cls.get("classCode")),
            section_number=_str(cls.get("classCode")),
            period=_first(cls, "periods"),
            subject=_first(cls, "subjects"),
            grade=_first(cls, "grades"),
            course=_str(cls.get("course")),
            term=terms[0] if terms else None,
            teachers=tuple(dict.fromkeys(t for _, t in listed)),
            students=tuple(students.get(cid, {})),
        )
