"""OneRoster 1.1 objects: reduced to what the product uses, then normalized (pure functions).

`minimize` runs in the fetch stage before a page is stored: references become their
`sourcedId` (a JSON number as its decimal string), `metadata` keeps only the fields the mapping
reads (PASECUREID, NCES ids, graduation year, ZIP) plus, for students, the names (never the
values) of the other metadata keys, people of roles we do not serve (parents, guardians, aides,
...) are dropped, `userIds` keep only the identifiers of type StateID or PASecureID, and
demographics keep `birthDate` only (no sex, race, ethnicity, birthplace). Passwords, phone
numbers and `agents` are never written anywhere.

`normalize_district` reads a district's stored pages back (it needs several collections at once:
a class's people come from enrollments, a student's date of birth from demographics, a missing
ZIP from the school) and yields the source-independent records. Mapping (issue 12):

* District: the org of type `district` (the primary org), under the district id (not the org's
  sourcedId, so the district item has the same key as a Clever district's), its NCES LEA id the first 7-digit
  value among `identifier`, `sourcedId` and metadata `*nces*` fields. None shared: validation
  rejects the district (`district.primary_org.missing`).
* Schools: orgs of type `school`. NCES id: an explicit metadata `ncesId` (key in any case,
  surrounding spaces ignored) wins, as the district typed it (the format rule judges it); else
  the first 12-digit value among `identifier`, `sourcedId` and the other metadata fields whose
  key contains `nces`; else the first metadata `nces` value. A 12-digit SIS id never beats
  the district's explicit NCES id.
* People: `role` student -> student; teacher -> teacher; administrator -> staff, or district
  admin when linked to no school, only to the district org. PA Secure ID from the metadata field
  `PASECUREID` (key in any case, surrounding spaces ignored), else from `userIds` of type
  `StateID` or `PASecureID`; date of birth from demographics; graduation year from metadata
  (`Graduation_Year`, `graduationYear`, `yearOfGraduation`, any case), else from the grade and
  the school year in progress (the schoolYear session whose dates hold the night); ZIP from user
  metadata, else the first school's.
* One person, several accounts: adult accounts (teacher, administrator) sharing an e-mail
  (case-insensitive) or a username are one person: their records carry one id (a teacher's
  account first, then the smallest sourcedId), and every join is a `user.accounts_joined` note.
  Students are never joined: SIS exports give students without an address one placeholder, and
  siblings share a family address. An adult sharing an address with a student stays a separate
  person, with a `user.shares_address_with_student` note.
* Ids: any non-empty sourcedId up to 255 characters. One of the system-wide id form
  (`[A-Za-z0-9_-]{1,64}`) is kept as it is; any other is encoded (`or-` and 40 hex digits of its
  SHA-256), so every id that reaches a storage key is safe whatever the provider chose.
* Sections from classes; their teachers (primary first) and students from enrollments; terms from
  academicSessions; courses.
* Not shared (left out; the import archives them, under the safeguard): `status` other than
  `active` (1.1's `tobedeleted`, or `inactive`), and users with `enabledUser` false (counted in one
  `user.not_active` note).
* Notes about the district (records.SourceNote): demographics not shared at all
  (`district.birth_dates.not_shared`, instead of one warning per student), no administrator or
  counselor (`district.staff.not_shared`), and, when no student carries a PA Secure ID, the
  metadata key names students do carry (a detail of `student.state_id.not_shared`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from rostersync.records import (
    CourseRecord,
    DistrictRecord,
    Normalized,
    PersonName,
    PersonRecord,
    SchoolRecord,
    SectionRecord,
    SourceNote,
    SourceRole,
    TermRecord,
)
from rostersync.sources.clever.normalize import clean_text
from rostersync.sources.oneroster.resources import Resource

# The user metadata field that carries the PA Secure ID (Smart Futures' ClassLink instructions).
STATE_ID_FIELD = "PASECUREID"
_STATE_ID_KEY = STATE_ID_FIELD.lower()
_STATE_ID_TYPES = frozenset({"stateid", "pasecureid"})  # userIds types that carry it
_NCES_KEY = "ncesid"
_GRADUATION_KEYS = frozenset({"graduation_year", "graduationyear", "yearofgraduation"})
_ZIP_KEYS = frozenset({"zip", "zipcode", "zip_code", "postalcode", "postal_code"})
SERVED_ROLES = {
    "student": SourceRole.STUDENT,
    "teacher": SourceRole.TEACHER,
    "administrator": SourceRole.STAFF,
}
# The roles a user is served as (1.1's `role`; 1.2's `roles[].role`, case-insensitive): 1.2 splits
# 1.1's administrator into counselor, principal, site and district administrators; a system
# administrator (IT), aides, proctors, parents, guardians and relatives are not served.
ROLES_SERVED_AS = {
    "student": "student",
    "teacher": "teacher",
    "administrator": "administrator",
    "counselor": "administrator",
    "principal": "administrator",
    "siteadministrator": "administrator",
    "districtadministrator": "administrator",
}
_ROLES_LIMIT = 20  # roles read per 1.2 user (a district controls the array's length)
_NCES = re.compile(r"[0-9]{12}")
_LEA = re.compile(r"[0-9]{7}")
_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_YEAR = re.compile(r"[0-9]{4}")
_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")
DELETED = "tobedeleted"
ACTIVE = "active"
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENCODED = re.compile(r"or-[0-9a-f]{40}")
ID_LIMIT = 255
_KEY_NAMES = 20  # metadata key names kept per student (names only), each clipped
_KEY_NAME_LIMIT = 64
# Rule ids of the notes: OneRoster's own rules (profile.py), their advice in wording.py.
ACCOUNTS_JOINED = "user.accounts_joined"
SHARES_ADDRESS_WITH_STUDENT = "user.shares_address_with_student"
NOT_ACTIVE = "user.not_active"
BIRTH_DATES_NOT_SHARED = "district.birth_dates.not_shared"
STAFF_NOT_SHARED = "district.staff.not_shared"
STATE_ID_NOT_SHARED = "student.state_id.not_shared"

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


def _key(key: str) -> str:
    """A metadata key as compared: without case or surrounding spaces."""
    return key.strip().lower()


def _wanted_metadata(key: str) -> bool:
    k = _key(key)
    return k == _STATE_ID_KEY or "nces" in k or k in _GRADUATION_KEYS or k in _ZIP_KEYS


def _key_names(value: Any) -> list[str]:
    """The names (never the values) of a student's metadata keys, bounded: what the state-id
    finding names when no student carries the PA Secure ID."""
    if not isinstance(value, Mapping):
        return []
    names = sorted(
        {clean_text(k.strip())[:_KEY_NAME_LIMIT] for k in value if isinstance(k, str) and k.strip()}
    )
    return names[:_KEY_NAMES]


def _state_ids(value: Any) -> list[str]:
    """The identifiers of `userIds` entries of type StateID or PASecureID (any case)."""
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return []
    found = []
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        kind, identifier = entry.get("type"), entry.get("identifier")
        if (
            isinstance(kind, str)
            and _key(kind) in _STATE_ID_TYPES
            and isinstance(identifier, str | int)
            and not isinstance(identifier, bool)
            and str(identifier).strip()
        ):
            found.append(clean_text(str(identifier).strip()))
    return found[:2]


def _served(role: Any) -> str | None:
    """A OneRoster role (1.1's or 1.2's) as the 1.1 role it is served as, or None."""
    return ROLES_SERVED_AS.get(role.strip().lower()) if isinstance(role, str) else None


def _user_roles(record: Mapping[str, Any]) -> tuple[str | None, list[str], list[str]]:
    """(the role the user is served as, its orgs, its other served roles).

    OneRoster 1.1: `role` and `orgs`. OneRoster 1.2: a `roles` array of `{roleType, role, org}`:
    the primary role decides (the first served role when the primary is not served: a parent
    who also teaches is a teacher here), its orgs are `primaryOrg` and the orgs of the roles served
    as the same, and the other served roles are kept to be reported, as 1.1's second account of
    one person is."""
    roles = record.get("roles")
    if record.get("role") is not None or not isinstance(roles, list):
        return _served(record.get("role")), _refs(record.get("orgs")), []
    entries = [r for r in roles if isinstance(r, Mapping)][:_ROLES_LIMIT]
    ranked = sorted(
        entries, key=lambda r: str(r.get("roleType") or "").strip().lower() != "primary"
    )  # primary first, otherwise in the provider's order
    served = [(entry, _served(entry.get("role"))) for entry in ranked]
    chosen = next((name for _, name in served if name is not None), None)
    if chosen is None:
        return None, [], []
    orgs = [_ref(record.get("primaryOrg")), *(_ref(e.get("org")) for e, name in served if name == chosen)]
    others = sorted({name for _, name in served if name is not None and name != chosen})
    return chosen, [o for o in dict.fromkeys(orgs) if o], others


def _enabled(value: Any) -> bool | None:
    """`enabledUser` (a boolean, or the strings "true"/"false" of OneRoster 1.1's CSV heritage)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


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
        role, orgs, other_roles = _user_roles(record)
        if role is None:
            return None
        out.update(
            role=role,
            username=_scalar(get("username")),
            givenName=_scalar(get("givenName")),
            middleName=_scalar(get("middleName")),
            familyName=_scalar(get("familyName")),
            identifier=_scalar(get("identifier")),
            email=_scalar(get("email")),
            orgs=orgs,
            grades=_strings(get("grades")),
            metadata=_metadata(get("metadata")),
            enabledUser=_enabled(get("enabledUser")),
        )
        master = _scalar(get("userMasterIdentifier"))
        if isinstance(master, str) and master.strip():
            out["masterId"] = master.strip()[:ID_LIMIT]
        if other_roles:
            out["otherRoles"] = other_roles
        if out["role"] == "student":
            out.update(stateIds=_state_ids(get("userIds")), metadataKeys=_key_names(get("metadata")))
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
    """Shared with us: status `active` (a record without one too; 1.1 requires it, and refusing
    it would lose people), and for users `enabledUser` not false."""
    status = str(record.get("status") or ACTIVE).strip().lower()
    return status == ACTIVE and record.get("enabledUser") is not False


def record_id(sid: Any) -> str:
    """The id a sourcedId reaches storage as: itself when of the system-wide id form, else
    encoded (`or-` and 40 hex digits of its SHA-256: stable, and never another id's). Longer
    than 255 characters or empty: itself, which validation refuses (`record.id.invalid`)."""
    text = "" if sid is None else str(sid)
    if (_SAFE_ID.fullmatch(text) and not _ENCODED.fullmatch(text)) or not text or len(text) > ID_LIMIT:
        return text
    return "or-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _ids(values: Any) -> list[str]:
    return [record_id(v) for v in values or [] if isinstance(v, str)]


def _field(metadata: Any, keys: Iterable[str] | str) -> Any:
    """The first metadata value whose key, without case or surrounding spaces, is one of `keys`
    (None: none)."""
    wanted = {keys} if isinstance(keys, str) else set(keys)
    if not isinstance(metadata, Mapping):
        return None
    for key, value in metadata.items():
        if isinstance(key, str) and _key(key) in wanted:
            return value
    return None


def school_nces(org: Mapping[str, Any]) -> str | None:
    """The explicit metadata `ncesId` (any case) as the district typed it; else the first 12-digit
    value among identifier, sourcedId and the other metadata `*nces*` fields; else the first
    metadata `nces` value as it is (for the format rule); else None."""
    raw_metadata = org.get("metadata")
    metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
    explicit = _str(_field(metadata, _NCES_KEY))
    if explicit and explicit.strip():
        return explicit.strip()
    nces_values = [_str(v) for k, v in metadata.items() if isinstance(k, str) and "nces" in k.lower()]
    candidates = [_str(org.get("identifier")), _str(org.get("sourcedId")), *nces_values]
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


def _iso_date(value: Any) -> date | None:
    text = _str(value)
    match = _DATE.match(text.strip()) if text else None
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def _school_year(sessions: Iterable[Mapping[str, Any]], today: date) -> int | None:
    """The school year in progress (OneRoster `schoolYear`: the year it ends): the schoolYear
    session whose dates hold `today` (else any session's that does); between two school years,
    the latest that has begun; without dates, the latest schoolYear shared (as before dates were
    read). Next year's calendar, published early, never moves this year's grade 12."""
    holding: dict[bool, list[int]] = defaultdict(list)
    begun: dict[bool, list[tuple[date, int]]] = defaultdict(list)
    years: dict[bool, list[int]] = defaultdict(list)
    for session in sessions:
        year = _str(session.get("schoolYear"))
        if not (year and _YEAR.fullmatch(year.strip())):
            continue
        kind = session.get("type") == "schoolYear"
        years[kind].append(int(year))
        start, end = _iso_date(session.get("startDate")), _iso_date(session.get("endDate"))
        if start is not None and end is not None and start <= today <= end:
            holding[kind].append(int(year))
        elif start is not None and start <= today:
            begun[kind].append((start, int(year)))
    for chosen in (holding[True], holding[False]):
        if chosen:
            return min(chosen)
    for started in (begun[True], begun[False]):
        if started:
            return max(started)[1]
    chosen = years[True] or years[False]
    if not chosen:
        return None
    dated = any(_iso_date(s.get("startDate")) for s in sessions)
    return min(chosen) if dated else max(chosen)  # every dated session is still to come: the first


_KEY_KINDS = {"email": "e-mail address", "username": "username", "masterId": "userMasterIdentifier"}


class _People:
    """Identity: adult accounts (teacher, administrator) sharing an e-mail (case-insensitive) or a
    username are one person. Students are never joined; a student's address is remembered so an
    adult sharing it is noted."""

    _RANK: ClassVar[dict[str, int]] = {"teacher": 0, "administrator": 1}

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.role: dict[str, str] = {}
        self.by_key: dict[str, str] = {}
        self.student_keys: Counter[str] = Counter()
        self.kinds: dict[str, set[str]] = defaultdict(set)  # root -> how its accounts were joined

    def _find(self, sid: str) -> str:
        root = sid
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[sid] != root:
            self.parent[sid], sid = root, self.parent[sid]
        return root

    def _better(self, a: str, b: str) -> bool:
        return (self._RANK.get(self.role[a], 9), a) < (self._RANK.get(self.role[b], 9), b)

    @staticmethod
    def _keys(user: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        for kind in ("email", "username", "masterId"):
            value = _str(user.get(kind))
            if value and value.strip():
                yield kind, f"{kind}:{value.strip().lower()}"

    def add(self, user: Mapping[str, Any], sid: str) -> None:
        role = str(user.get("role"))
        if role == "student":
            for _, key in self._keys(user):
                self.student_keys[key] += 1
            return
        if sid in self.parent:
            return
        self.parent[sid] = sid
        self.role[sid] = role
        for kind, key in self._keys(user):
            other = self.by_key.setdefault(key, sid)
            if other != sid:
                a, b = self._find(other), self._find(sid)
                if a != b:
                    winner, loser = (a, b) if self._better(a, b) else (b, a)
                    self.parent[loser] = winner
                    self.kinds[winner] |= self.kinds.pop(loser, set())
                self.kinds[self._find(sid)].add(_KEY_KINDS[kind])

    def canonical(self, sid: str) -> str:
        return self._find(sid) if sid in self.parent else sid

    def joined(self) -> dict[str, list[str]]:
        """Each person several adult accounts were joined into -> those accounts (sorted)."""
        groups: dict[str, list[str]] = defaultdict(list)
        for sid in self.parent:
            groups[self._find(sid)].append(sid)
        return {root: sorted(members) for root, members in groups.items() if len(members) > 1}

    def shares_with_students(self, user: Mapping[str, Any]) -> list[str]:
        """How an adult's address is also a student's ("e-mail address", "username")."""
        return [_KEY_KINDS[kind] for kind, key in self._keys(user) if self.student_keys[key]]


def _first(record: Mapping[str, Any], key: str) -> str | None:
    values = record.get(key)
    return _str(values[0]) if isinstance(values, list) and values else None


def normalize_district(read: Read, district_id: str, today: date | None = None) -> Iterator[Normalized]:
    """A district's stored OneRoster records (`read(resource)` yields a collection's records in
    stored order, and may be called again) as normalized records, each exactly once, followed by
    the notes about the district (records.SourceNote). `today`: the night's date (default: now)."""
    today = today or datetime.now(UTC).date()
    orgs = [o for o in read(Resource.ORGS) if _shared(o)]
    sessions = [s for s in read(Resource.ACADEMIC_SESSIONS) if _shared(s)]
    school_year = _school_year(sessions, today)
    org_types = {record_id(o["sourcedId"]): o.get("type") for o in orgs}
    school_zip = {
        record_id(o["sourcedId"]): five_digit_zip(_field(o.get("metadata"), _ZIP_KEYS))
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
            id=record_id(org["sourcedId"]),
            district_id=district_id,
            name=_str(org.get("name")),
            nces_id=school_nces(org),
            sis_id=_str(org.get("identifier")),
        )
    for session in sessions:
        yield TermRecord(
            id=record_id(session["sourcedId"]),
            district_id=district_id,
            name=_str(session.get("title")),
            start_date=_str(session.get("startDate")),
            end_date=_str(session.get("endDate")),
        )
    for course in read(Resource.COURSES):
        if _shared(course):
            yield CourseRecord(
                id=record_id(course["sourcedId"]),
                district_id=district_id,
                name=_str(course.get("title")),
                number=_str(course.get("courseCode")),
            )

    people = _People()
    switched_off: Counter[str] = Counter()
    staff = 0
    for user in read(Resource.USERS):
        if user.get("role") not in SERVED_ROLES:
            continue
        if not _shared(user):
            if str(user.get("status") or "").strip().lower() != DELETED:
                switched_off[str(user["role"])] += 1
            continue
        people.add(user, record_id(user["sourcedId"]))
        staff += user.get("role") == "administrator"
    births = {
        record_id(d["sourcedId"]): birth_date(d.get("birthDate"))
        for d in read(Resource.DEMOGRAPHICS)
        if _shared(d)
    }
    students = 0
    key_names: set[str] = set()
    carriers = 0
    for user in read(Resource.USERS):
        if not (_shared(user) and user.get("role") in SERVED_ROLES):
            continue
        sid = record_id(user["sourcedId"])
        role = SERVED_ROLES[str(user["role"])]
        user_orgs = _ids(user.get("orgs"))
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
        state_id = None
        zip_code = None
        if student:
            students += 1
            # The metadata field when present (even empty: the district shares the field), else
            # the first userIds entry of type StateID or PASecureID.
            in_metadata = _field(metadata, _STATE_ID_KEY)
            state_id = (
                _str(in_metadata)
                if in_metadata is not None
                else next((i for i in user.get("stateIds") or [] if isinstance(i, str)), None)
            )
            carriers += state_id is not None
            if len(key_names) < _KEY_NAMES:
                key_names.update(k for k in user.get("metadataKeys") or [] if isinstance(k, str))
            zip_code = five_digit_zip(_field(metadata, _ZIP_KEYS)) or next(
                (z for z in (school_zip.get(s) for s in schools) if z), None
            )
        else:
            shared_with = people.shares_with_students(user)
            if shared_with:
                yield SourceNote(
                    id=sid,
                    district_id=district_id,
                    subject="teacher" if role is SourceRole.TEACHER else "staff",
                    rule=SHARES_ADDRESS_WITH_STUDENT,
                    about="email" if "e-mail address" in shared_with else "username",
                    message=f"This {user['role']!s} account's {' and '.join(shared_with)} is also a "
                    "student's; the two were imported as separate people.",
                    name=_display(user),
                )
        other_roles = [r for r in user.get("otherRoles") or () if isinstance(r, str)]
        if other_roles:  # OneRoster 1.2: one account holding several roles, as 1.1's joined accounts
            yield SourceNote(
                id=people.canonical(sid),
                district_id=district_id,
                subject="student" if student else "teacher" if role is SourceRole.TEACHER else "staff",
                rule=ACCOUNTS_JOINED,
                about="roles",
                message=f"This {user['role']!s} account also holds the role(s) {', '.join(other_roles)}; "
                f"imported as one person, a {user['role']!s}.",
                name=_display(user),
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
    enrolled: dict[str, dict[str, None]] = defaultdict(dict)
    for enrollment in read(Resource.ENROLLMENTS):
        class_id, user_id = enrollment.get("class"), enrollment.get("user")
        if not (_shared(enrollment) and isinstance(class_id, str) and isinstance(user_id, str)):
            continue
        class_id, person = record_id(class_id), people.canonical(record_id(user_id))
        if enrollment.get("role") == "teacher":
            teachers[class_id].append((not enrollment.get("primary"), person))
        elif enrollment.get("role") == "student":
            enrolled[class_id][person] = None
    for cls in read(Resource.CLASSES):
        if not _shared(cls):
            continue
        cid = record_id(cls["sourcedId"])
        listed = sorted(teachers.get(cid, []), key=lambda t: t[0])  # primary first, stable
        terms = _ids(cls.get("terms"))
        class_school, class_course = _str(cls.get("school")), _str(cls.get("course"))
        yield SectionRecord(
            id=cid,
            district_id=district_id,
            name=_str(cls.get("title")),
            school=record_id(class_school) if class_school else None,
            sis_id=_str(cls.get("classCode")),
            section_number=_str(cls.get("classCode")),
            period=_first(cls, "periods"),
            subject=_first(cls, "subjects"),
            grade=_first(cls, "grades"),
            course=record_id(class_course) if class_course else None,
            term=terms[0] if terms else None,
            teachers=tuple(dict.fromkeys(t for _, t in listed)),
            students=tuple(enrolled.get(cid, {})),
        )
    yield from _notes(district_id, people, switched_off, students, staff, births, carriers, key_names)


def _display(user: Mapping[str, Any]) -> str | None:
    parts = [p for p in (_str(user.get("givenName")), _str(user.get("familyName"))) if p]
    return " ".join(parts) or None


def _notes(
    district_id: str,
    people: _People,
    switched_off: Counter[str],
    students: int,
    staff: int,
    births: Mapping[str, str | None],
    carriers: int,
    key_names: set[str],
) -> Iterator[SourceNote]:
    """What the district's records say about its sharing, for validation to report."""
    for person, accounts in people.joined().items():
        how = " or ".join(sorted(people.kinds.get(person, set()))) or "e-mail address or username"
        yield SourceNote(
            id=person,
            district_id=district_id,
            subject="teacher" if people.role.get(person) == "teacher" else "staff",
            rule=ACCOUNTS_JOINED,
            about="email",
            message=f"{len(accounts)} accounts ({', '.join(accounts)}) share an {how}; imported as one "
            f"person under {person}.",
        )
    if switched_off:
        counts = ", ".join(f"{n:,} {role}(s)" for role, n in sorted(switched_off.items()))
        yield SourceNote(
            id=district_id,
            district_id=district_id,
            rule=NOT_ACTIVE,
            about="enabledUser",
            message=f"{counts} shared with enabledUser false or a status other than active: not "
            "imported (archived if they were active before).",
        )
    if students and not any(births.values()):
        yield SourceNote(
            id=district_id,
            district_id=district_id,
            rule=BIRTH_DATES_NOT_SHARED,
            about="demographics",
            message=f"None of the district's {students:,} students has a birth date: demographics "
            "are not shared with Smart Futures.",
        )
    if not staff:
        yield SourceNote(
            id=district_id,
            district_id=district_id,
            rule=STAFF_NOT_SHARED,
            about="role",
            message="The district shares no user of role administrator: no counselor or "
            "administrator can use Smart Futures.",
        )
    if students and not carriers:
        names = ", ".join(sorted(key_names)[:_KEY_NAMES]) if key_names else "none"
        yield SourceNote(
            id=district_id,
            district_id=district_id,
            rule=STATE_ID_NOT_SHARED,
            about="metadata",
            message=f"Metadata fields the students carry: {names}.",
        )
