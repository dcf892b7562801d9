"""Clever v3.0 objects: reduced to what the product uses, then normalized.

`minimize` runs in the fetch stage before a page is stored, so fields the product
never uses (gender, race, ethnicity, the home address but its ZIP code, ELL status,
credentials, contacts' relationships) are never written anywhere. Students' date of birth
(`dob`) and ZIP (`location.zip`) are kept: Smart Futures' student record needs them.
`normalize` turns a stored Clever object into the source-independent records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

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
from rostersync.sources.clever.resources import Resource

# Clever ids are MongoDB ObjectIds: 24 lowercase hex digits. Validation rejects any record whose
# id, or an id it refers to, is not one (record.id.invalid), so no other string reaches a key.
CLEVER_ID = re.compile(r"[0-9a-f]{24}")


def is_clever_id(value: str) -> bool:
    return CLEVER_ID.fullmatch(value) is not None


# Fields kept per resource. Nested dicts list the fields kept inside them.
_NAME = {"first": None, "middle": None, "last": None}
_KEEP: dict[Resource, dict[str, Any]] = {
    # The sync status (Clever's `state`, `last_sync`, pause window, launch date) is kept: support
    # needs to know when a district's data is frozen upstream. Not `error`: free text from the SIS.
    Resource.DISTRICTS: {
        "id": None,
        "name": None,
        "nces_id": None,
        "state": None,
        "last_sync": None,
        "pause_start": None,
        "pause_end": None,
        "launch_date": None,
    },
    Resource.SCHOOLS: {
        "id": None,
        "district": None,
        "name": None,
        "nces_id": None,
        "sis_id": None,
        "school_number": None,
        "state_id": None,
        "low_grade": None,
        "high_grade": None,
    },
    Resource.SECTIONS: {
        "id": None,
        "district": None,
        "name": None,
        "school": None,
        "sis_id": None,
        "section_number": None,
        "period": None,
        "subject": None,
        "grade": None,
        "course": None,
        "term_id": None,
        "teacher": None,
        "teachers": None,
        "students": None,
    },
    Resource.TERMS: {"id": None, "district": None, "name": None, "start_date": None, "end_date": None},
    Resource.COURSES: {"id": None, "district": None, "name": None, "number": None},
}
_USER_BASE = {"id": None, "district": None, "email": None, "name": _NAME}
_ROLE_FIELDS: dict[SourceRole, dict[str, Any]] = {
    SourceRole.STUDENT: {
        "school": None,
        "schools": None,
        "sis_id": None,
        "state_id": None,
        "student_number": None,
        "grade": None,
        "graduation_year": None,
        # Smart Futures' student record needs the date of birth (protected: SECURITY.md) and a
        # ZIP code; nothing else of the address is kept.
        "dob": None,
        "location": {"zip": None},
    },
    SourceRole.TEACHER: {
        "school": None,
        "schools": None,
        "sis_id": None,
        "teacher_number": None,
        "title": None,
    },
    SourceRole.STAFF: {"schools": None, "staff_id": None, "title": None, "department": None},
    SourceRole.DISTRICT_ADMIN: {"title": None},
}
USER_RESOURCES: dict[Resource, SourceRole] = {
    Resource.STUDENTS: SourceRole.STUDENT,
    Resource.TEACHERS: SourceRole.TEACHER,
    Resource.STAFF: SourceRole.STAFF,
    Resource.DISTRICT_ADMINS: SourceRole.DISTRICT_ADMIN,
}


def clean_text(value: str) -> str:
    """`value` with every lone surrogate (JSON allows `\\ud800`, UTF-8 cannot hold it) replaced by
    U+FFFD, so the string can be stored, logged, written to CSV and DynamoDB and e-mailed."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _scalar(value: Any) -> Any:
    """A JSON scalar as stored: strings cleaned; containers are not scalars (None)."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return None


def _value(value: Any) -> Any:
    """A kept field's value, bounded in shape: the product uses strings and lists of ids, so a
    list keeps its scalar items only and any other container becomes None. Nothing a district
    types can nest deeper than this, so storing a page never recurses over district data."""
    if isinstance(value, list):
        return [_scalar(item) for item in value if not isinstance(item, list | dict)]
    return _scalar(value)


def _project(obj: Mapping[str, Any], keep: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, nested in keep.items():
        if field not in obj:
            continue
        value = obj[field]
        if nested:
            out[field] = _project(value, nested) if isinstance(value, Mapping) else _value(value)
        else:
            out[field] = _value(value)
    return out


def minimize(resource: Resource | str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the fields the product uses. Users keep the roles we fetch, nothing of `contact`."""
    resource = Resource(resource)
    if resource in USER_RESOURCES:
        out = _project(record, _USER_BASE)
        roles = record.get("roles")
        if isinstance(roles, Mapping):
            out["roles"] = {
                role.value: _project(roles[role.value], fields)
                for role, fields in _ROLE_FIELDS.items()
                if isinstance(roles.get(role.value), Mapping)
            }
        return out
    return _project(record, _KEEP[resource])


def _str(value: Any) -> str | None:
    """Clever strings; other JSON types are coerced so validation, not parsing, judges them."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return None


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(v for v in value if isinstance(v, str) and v))


_DOB = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")


def clever_birth_date(value: Any) -> str | None:
    """Clever's `dob` (`M/D/YYYY`, or already ISO) as `YYYY-MM-DD`; None when unreadable."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _DOB.fullmatch(text)
    if match:
        month, day, year = (int(g) for g in match.groups())
        return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else None
    return text[:10] if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text[:10]) else None


def _zip(location: Any) -> str | None:
    value = location.get("zip") if isinstance(location, Mapping) else None
    match = _ZIP.fullmatch(value.strip()) if isinstance(value, str) else None
    return match.group(1) if match else None


def _name(value: Any) -> PersonName | None:
    if not isinstance(value, Mapping):
        return None
    return PersonName(
        first=_str(value.get("first")), middle=_str(value.get("middle")), last=_str(value.get("last"))
    )


def _person(role: SourceRole, record: Mapping[str, Any], district_id: str) -> PersonRecord:
    roles = record.get("roles")
    data: Mapping[str, Any] = {}
    if isinstance(roles, Mapping) and isinstance(roles.get(role.value), Mapping):
        data = roles[role.value]
    schools = _ids(data.get("schools"))
    primary = _str(data.get("school"))
    if primary and primary not in schools:
        schools = (primary, *schools)
    local = data.get("student_number") or data.get("teacher_number") or data.get("staff_id")
    return PersonRecord(
        id=str(record["id"]),
        district_id=district_id,
        role=role,
        name=_name(record.get("name")),
        email=_str(record.get("email")),
        sis_id=_str(data.get("sis_id")),
        state_id=_str(data.get("state_id")) if role is SourceRole.STUDENT else None,
        local_number=_str(local),
        grade=_str(data.get("grade")),
        graduation_year=_str(data.get("graduation_year")),
        birth_date=clever_birth_date(data.get("dob")) if role is SourceRole.STUDENT else None,
        zip=_zip(data.get("location")) if role is SourceRole.STUDENT else None,
        title=_str(data.get("title")),
        department=_str(data.get("department")),
        schools=schools,
    )


def normalize(resource: Resource | str, record: Mapping[str, Any], district_id: str) -> Iterator[Record]:
    """One Clever object as normalized records (exactly one; users are fetched one role at a time)."""
    resource = Resource(resource)
    rid = str(record["id"])
    if resource is Resource.DISTRICTS:
        yield DistrictRecord(
            id=rid,
            district_id=district_id,
            name=_str(record.get("name")),
            nces_id=_str(record.get("nces_id")),
            sync_state=_str(record.get("state")),
            last_sync=_str(record.get("last_sync")),
            pause_start=_str(record.get("pause_start")),
            pause_end=_str(record.get("pause_end")),
            launch_date=_str(record.get("launch_date")),
        )
    elif resource is Resource.SCHOOLS:
        yield SchoolRecord(
            id=rid,
            district_id=district_id,
            name=_str(record.get("name")),
            nces_id=_str(record.get("nces_id")),
            sis_id=_str(record.get("sis_id")),
            school_number=_str(record.get("school_number")),
            state_id=_str(record.get("state_id")),
            low_grade=_str(record.get("low_grade")),
            high_grade=_str(record.get("high_grade")),
        )
    elif resource in USER_RESOURCES:
        yield _person(USER_RESOURCES[resource], record, district_id)
    elif resource is Resource.SECTIONS:
        teachers = _ids(record.get("teachers"))
        primary = _str(record.get("teacher"))
        if primary and primary not in teachers:
            teachers = (primary, *teachers)
        yield SectionRecord(
            id=rid,
            district_id=district_id,
            name=_str(record.get("name")),
            school=_str(record.get("school")),
            sis_id=_str(record.get("sis_id")),
            section_number=_str(record.get("section_number")),
            period=_str(record.get("period")),
            subject=_str(record.get("subject")),
            grade=_str(record.get("grade")),
            course=_str(record.get("course")),
            term=_str(record.get("term_id")),
            teachers=teachers,
            students=_ids(record.get("students")),
        )
    elif resource is Resource.TERMS:
        yield TermRecord(
            id=rid,
            district_id=district_id,
            name=_str(record.get("name")),
            start_date=_str(record.get("start_date")),
            end_date=_str(record.get("end_date")),
        )
    elif resource is Resource.COURSES:
        yield CourseRecord(
            id=rid, district_id=district_id, name=_str(record.get("name")), number=_str(record.get("number"))
        )
