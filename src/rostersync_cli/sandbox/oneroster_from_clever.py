"""A generated Clever district served as OneRoster: one roster, two providers.

`as_oneroster(DistrictSpec, tenant)` renders the same people, schools and classes the Clever
sandbox serves for that spec as OneRoster 1.1 collections, the way a district whose SIS feeds both
would share them: sourcedIds are Clever's ids (an SIS keeps one id per record, whichever
integration reads it), the school's NCES id is the explicit metadata `ncesId`, the PA Secure ID is
user metadata, graduation year and ZIP are metadata, the date of birth is in `/demographics`,
counselors and other staff are administrators of their school, district administrators hold only
the district org, and grades are CEDS codes (`09`, `KG`). The providers' habits stay on where they
change nothing the product keeps: the PA Secure ID key is spelled three ways (one with spaces)
and every fifth student carries it only in `userIds`, and the sandbox's order drifts.

Only what both providers can say is rendered: a Clever gap with no OneRoster counterpart (a
student who is also staff, a section without a school, a term id in the SIS's form) is refused, so
a comparison never tests a roster the OneRoster side could not have sent.
"""

from __future__ import annotations

from typing import Any

from .config import DistrictSpec
from .generator import DistrictData

# Clever gaps a OneRoster district has no way to share the same way (see the module docstring).
_NOT_RENDERED = (
    "user_without_name",
    "student_and_adult",
    "oversized_student_name",
    "student_without_graduation_year",  # OneRoster derives it from the grade instead
    "section_without_school",
    "section_with_invalid_term_id",
    "section_with_unknown_student",
    "term_with_unreadable_start",
    "teacher_and_staff_dual_role",
)
_STATE_ID_KEYS = ("PASECUREID", " PASecureID ", "pasecureid")


def ceds_grade(grade: str | None) -> str | None:
    """Clever's grade (`9`, `Kindergarten`) as OneRoster's CEDS code (`09`, `KG`)."""
    if grade is None:
        return None
    if grade.isdigit():
        return f"{int(grade):02d}"
    return {"Kindergarten": "KG", "PreKindergarten": "PK", "TransitionalKindergarten": "TK"}.get(grade, grade)


def _iso_birth(dob: str | None) -> str | None:
    """Clever's `M/D/YYYY` as `YYYY-MM-DD`."""
    if not dob:
        return None
    month, day, year = (int(p) for p in dob.split("/"))
    return f"{year:04d}-{month:02d}-{day:02d}"


def _ref(sid: str, kind: str, tenant: str) -> dict[str, str]:
    return {"href": f"/{tenant}/ims/oneroster/v1p1/{kind}s/{sid}", "sourcedId": sid, "type": kind}


def _user(
    record: dict[str, Any], role: str, orgs: list[str], tenant: str, data: dict[str, Any]
) -> dict[str, Any]:
    name = record.get("name") or {}
    user: dict[str, Any] = {
        "sourcedId": record["id"],
        "status": "active",
        "dateLastModified": "2026-11-01T00:00:00.000Z",
        "enabledUser": "true",
        "role": role,
        "username": str((data.get("credentials") or {}).get("district_username") or record["id"]),
        "givenName": name.get("first"),
        "middleName": name.get("middle"),
        "familyName": name.get("last"),
        "identifier": data.get("sis_id") or data.get("staff_id") or "",
        "orgs": [_ref(o, "org", tenant) for o in orgs],
        "grades": [],
        "metadata": {},
    }
    if record.get("email"):
        user["email"] = record["email"]
    return user


def _schools(data: dict[str, Any]) -> list[str]:
    schools = [s for s in data.get("schools") or [] if s]
    primary = data.get("school")
    return [primary, *schools] if primary and primary not in schools else schools


def as_oneroster(spec: DistrictSpec, tenant: str) -> dict[str, list[dict[str, Any]]]:
    """The OneRoster 1.1 collections of the Clever district `spec` generates, for tenant `tenant`."""
    seeded = [g for g in _NOT_RENDERED if getattr(spec.gaps, g)]
    if seeded:
        raise ValueError(
            f"a OneRoster rendering of a Clever district cannot carry the gaps {', '.join(seeded)}"
        )
    d = DistrictData(spec)
    district = d.district()
    district_sid = f"dist-{tenant}"
    orgs: list[dict[str, Any]] = [
        {
            "sourcedId": district_sid,
            "status": "active",
            "name": district["name"],
            "type": "district",
            "identifier": district["nces_id"],
        }
    ]
    for k in range(len(d.school_ids)):
        school = d.school(k)
        org: dict[str, Any] = {
            "sourcedId": school["id"],
            "status": "active",
            "name": school["name"],
            "type": "school",
            "identifier": school["sis_id"],
            "parent": _ref(district_sid, "org", tenant),
            "metadata": {},
        }
        if school["nces_id"] is not None:
            org["metadata"]["ncesId"] = school["nces_id"]
        orgs.append(org)
    sessions = []
    for t in range(len(d.term_ids)):
        term = d.term(t)
        sessions.append(
            {
                "sourcedId": term["id"],
                "status": "active",
                "title": term["name"],
                "type": "term",
                "startDate": term["start_date"][:10],
                "endDate": term["end_date"][:10],
                "schoolYear": "2026",
            }
        )
    courses = []
    for c in range(len(d.course_ids)):
        course = d.course(c)
        courses.append(
            {
                "sourcedId": course["id"],
                "status": "active",
                "title": course["name"],
                "courseCode": course["number"],
            }
        )
    users: list[dict[str, Any]] = []
    demographics: list[dict[str, Any]] = []
    for i in range(len(d.student_ids)):
        record = d.student(i)
        data = record["roles"]["student"]
        user = _user(record, "student", _schools(data), tenant, data)
        user["grades"] = [ceds_grade(data["grade"])]
        state_id = data.get("state_id")
        if state_id is not None:
            if i % 5 == 4:
                user["userIds"] = [{"type": "StateID", "identifier": state_id}]
            else:
                user["metadata"][_STATE_ID_KEYS[i % 3]] = state_id
        if data.get("graduation_year"):
            user["metadata"]["graduationYear"] = data["graduation_year"]
        zip_code = (data.get("location") or {}).get("zip")
        if zip_code:
            user["metadata"]["zip"] = zip_code
        users.append(user)
        demographic: dict[str, Any] = {"sourcedId": record["id"], "status": "active"}
        birth = _iso_birth(data.get("dob"))
        if birth:
            demographic["birthDate"] = birth
        demographics.append(demographic)
    for j in range(len(d.teacher_ids)):
        record = d.teacher(j)
        data = record["roles"]["teacher"]
        users.append(_user(record, "teacher", _schools(data), tenant, data))
    for j in range(len(d.staff_ids)):
        record = d.staff(j)
        data = record["roles"]["staff"]
        users.append(_user(record, "administrator", _schools(data), tenant, data))
    for j in range(len(d.admin_ids)):
        record = d.admin(j)
        users.append(_user(record, "administrator", [district_sid], tenant, {}))
    classes: list[dict[str, Any]] = []
    enrollments: list[dict[str, Any]] = []
    for s in range(len(d.section_ids)):
        section = d.section(s)
        cls: dict[str, Any] = {
            "sourcedId": section["id"],
            "status": "active",
            "title": section["name"],
            "classCode": section["sis_id"],
            "classType": "scheduled",
            "school": _ref(section["school"], "org", tenant),
            "terms": [_ref(section["term_id"], "academicSession", tenant)] if section["term_id"] else [],
            "grades": [ceds_grade(section["grade"])],
            "subjects": [section["subject"]],
            "periods": [section["period"]],
        }
        if section["course"]:
            cls["course"] = _ref(section["course"], "course", tenant)
        classes.append(cls)
        members = [(t, "teacher") for t in section["teachers"]] + [
            (u, "student") for u in section["students"]
        ]
        for n, (user_id, role) in enumerate(members):
            enrollments.append(
                {
                    "sourcedId": f"enr-{section['id']}-{user_id}",
                    "status": "active",
                    "class": _ref(section["id"], "class", tenant),
                    "user": _ref(user_id, "user", tenant),
                    "school": _ref(section["school"], "org", tenant),
                    "role": role,
                    "primary": n == 0 and role == "teacher",
                }
            )
    return {
        "orgs": orgs,
        "academicSessions": sessions,
        "courses": courses,
        "users": users,
        "demographics": demographics,
        "enrollments": enrollments,
        "classes": classes,
    }
