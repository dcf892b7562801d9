"""The rule catalogue: stable ids, severities, titles and fix advice, plus the value checkers.

Rule ids are a stable interface (reports, dashboards and filters use them): never rename one,
add a new id instead. An `error` rejects the record it is about; a `warning` imports it and
reports it; an `info` reports a decision that is not a data problem (a school outside the
district's licence: its records are not imported, nothing needs fixing). `school.licensed_not_shared`
is an error about the district's sharing, not about a record: it rejects nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from rostersync.sources import PROFILES, SourceProfile, Wording


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    title: str
    fix: str | None = None
    """What exactly the district data manager must change, in their SIS; None when that depends
    on the district's source (its profile words it: `fix_advice`)."""


DISTRICT_EMPTY = "district.empty"
RECORD_MALFORMED = "record.malformed"
SCHOOL_NCES_MISSING = "school.nces_id.missing"
SCHOOL_NCES_FORMAT = "school.nces_id.format"
SCHOOL_NCES_NOT_PA = "school.nces_id.not_pa"
SCHOOL_NCES_DUPLICATE = "school.nces_id.duplicate"
SCHOOL_NO_STUDENTS = "school.no_students"
SCHOOL_NO_TEACHERS = "school.no_teachers"
SCHOOL_NO_SECTIONS = "school.no_sections"
STUDENT_STATE_ID_MISSING = "student.state_id.missing"
STUDENT_STATE_ID_FORMAT = "student.state_id.format"
STUDENT_STATE_ID_DUPLICATE = "student.state_id.duplicate"
DEPENDENT_SCHOOL_REJECTED = "dependent.school_rejected"
USER_MULTIPLE_ACCOUNT_TYPES = "user.multiple_account_types"
USER_STUDENT_AND_ADULT = "user.student_and_adult"
TEACHER_NO_SECTIONS = "teacher.no_sections"
SECTION_NO_TEACHER = "section.no_teacher"
SECTION_UNKNOWN_USER = "section.unknown_user"
USER_EMAIL_MISSING = "user.email.missing"
RECORD_ID_INVALID = "record.id.invalid"
RECORD_FIELD_TOO_LONG = "record.field_too_long"

# Rejections that must NOT keep the record's last good version active in the roster (import):
# the rejection is about the account itself, not a gap the district will fix in the record.
# * user.student_and_adult: a student keeps no teacher or staff account (one account per person).
# * record.id.invalid: an id we refuse can name no item of ours.
DROPS_LAST_GOOD = frozenset({"user.student_and_adult", "record.id.invalid"})
DISTRICT_SYNC_STALE = "district.sync_stale"
# What a source may ask its districts to share (`sources.SourceRules`); the rules themselves
# are the source's own (`SourceProfile.own_rules`: OneRoster's primary org and PASECUREID).
DISTRICT_PRIMARY_ORG_MISSING = "district.primary_org.missing"
STUDENT_STATE_ID_NOT_SHARED = "student.state_id.not_shared"
# A source's note (records.SourceNote) that its district shares no birth date at all (OneRoster's
# demographics refused or empty): one district warning replaces student.birth_date.missing per student.
DISTRICT_BIRTH_DATES_NOT_SHARED = "district.birth_dates.not_shared"
# Smart Futures' student record also needs these three (warnings: the student is imported).
STUDENT_BIRTH_DATE_MISSING = "student.birth_date.missing"
STUDENT_GRADUATION_YEAR_MISSING = "student.graduation_year.missing"
STUDENT_ZIP_MISSING = "student.zip.missing"
DEFAULT_SYNC_STALE_DAYS = 7
SCHOOL_NOT_LICENSED = "school.not_licensed"
RECORD_DATE_INVALID = "record.date.invalid"
SCHOOL_LICENSED_NOT_SHARED = "school.licensed_not_shared"

_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

# The common rules. `fix` None: the advice depends on the source, and every source words it
# (`Wording.fixes` in `sources/<name>/wording.py`; SOURCE_WORDED lists them). A source's own
# rules (`SourceProfile.own_rules`) are added after these.
_COMMON: tuple[Rule, ...] = (
    Rule(DISTRICT_EMPTY, _E, "The district shared no schools or no students"),
    Rule(RECORD_MALFORMED, _E, "A record lacks fields its source always provides"),
    Rule(SCHOOL_NCES_MISSING, _E, "School has no NCES id"),
    Rule(SCHOOL_NCES_FORMAT, _E, "School NCES id is not 12 digits"),
    Rule(SCHOOL_NCES_NOT_PA, _W, "School NCES id is not a Pennsylvania id"),
    Rule(SCHOOL_NCES_DUPLICATE, _W, "Two schools share one NCES id"),
    Rule(SCHOOL_NO_STUDENTS, _W, "School shared without students"),
    Rule(SCHOOL_NO_TEACHERS, _W, "School shared without teachers"),
    Rule(SCHOOL_NO_SECTIONS, _W, "School shared without sections"),
    Rule(STUDENT_STATE_ID_MISSING, _E, "Student has no PA Secure ID"),
    Rule(STUDENT_STATE_ID_FORMAT, _E, "Student state id is not a 10-digit PA Secure ID"),
    Rule(
        STUDENT_STATE_ID_DUPLICATE,
        _E,
        "Several students share one PA Secure ID",
        (
            "Each student has their own PA Secure ID. Find these students in your SIS (the finding names "
            "them) and correct the PA Secure ID of the wrong ones; if they are one student entered twice, "
            "merge the records in your SIS. All of them are held back until the ids are unique."
        ),
    ),
    Rule(DEPENDENT_SCHOOL_REJECTED, _E, "Every school of this record was rejected or not shared"),
    Rule(USER_MULTIPLE_ACCOUNT_TYPES, _W, "Person shared under several staff roles"),
    Rule(
        USER_STUDENT_AND_ADULT,
        _E,
        "Person is both a student and a teacher or staff member",
        (
            "A student cannot also hold a teacher or staff account, because that would let them see other "
            "students' data; only the student account was kept. If this adult is not really a student, "
            "remove the student record in your SIS; if they need a staff account, create it as a separate "
            "person with its own login."
        ),
    ),
    Rule(TEACHER_NO_SECTIONS, _W, "Teacher without sections"),
    Rule(SECTION_NO_TEACHER, _W, "Section without a teacher"),
    Rule(SECTION_UNKNOWN_USER, _W, "Section lists people who were not shared or were rejected"),
    Rule(USER_EMAIL_MISSING, _W, "Teacher or staff member without an email"),
    Rule(RECORD_ID_INVALID, _E, "A record's id (or an id it refers to) is not a valid id"),
    Rule(
        RECORD_FIELD_TOO_LONG,
        _E,
        "A field of a record is longer than Smart Futures can store",
        (
            "The finding names the field and its length. Correct the value in your SIS (usually text "
            "pasted into the wrong field, or a list that grew by mistake), then sync. The record is held "
            "back until then; the rest of your district is imported as usual."
        ),
    ),
    Rule(DISTRICT_SYNC_STALE, _W, "The source has not synced the district's data recently"),
    Rule(SCHOOL_NOT_LICENSED, _I, "School shared but not licensed with Smart Futures"),
    Rule(SCHOOL_LICENSED_NOT_SHARED, _E, "A licensed school is not shared with Smart Futures"),
    Rule(STUDENT_BIRTH_DATE_MISSING, _W, "Student has no date of birth"),
    Rule(STUDENT_GRADUATION_YEAR_MISSING, _W, "Student has no four-digit graduation year"),
    Rule(STUDENT_ZIP_MISSING, _W, "Student has no 5-digit ZIP code"),
    Rule(
        RECORD_DATE_INVALID,
        _W,
        "A date of the district or of a term cannot be read",
        (
            "The finding names the record and the field (a term's start or end date, or the district's "
            "sync, pause or launch date). Correct the date in your SIS (a real calendar date, year 1 to "
            "9999); until then Smart Futures ignores that date and imports the rest as usual."
        ),
    ),
)


# Every rule a report can show: the common ones, then each registered source's own.
RULES: dict[str, Rule] = {r.id: r for r in _COMMON}
for _profile in PROFILES.values():
    for _own in _profile.own_rules:
        RULES.setdefault(_own.id, Rule(_own.id, Severity(_own.severity), _own.title, _own.fix))
# The common rules whose fix advice every source words (`Wording.fixes`).
SOURCE_WORDED = frozenset(r.id for r in _COMMON if r.fix is None)


def rules_for(source: SourceProfile) -> list[str]:
    """The ids of the rules a source's districts can break: the common rules and its own (a
    district's summary counts only these, so its reports never show another source's rules)."""
    return [r.id for r in _COMMON] + [r.id for r in source.own_rules]


def fix_advice(rule_id: str, wording: Wording) -> str:
    """What the district must change for `rule_id`, in the words of its source."""
    advice = wording.fixes.get(rule_id) or RULES[rule_id].fix
    if advice is None:
        raise LookupError(f"the source {wording.display_name} has no fix advice for {rule_id}")
    return advice


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]


def matching(patterns: Iterable[str]) -> list[Rule]:
    """Rules whose id matches any of the shell-style patterns (`school.*`, `student.state_id.format`)."""
    pats = list(patterns)
    return [r for r in RULES.values() if any(fnmatchcase(r.id, p) for p in pats)]


# ---------------------------------------------------------------- value checkers

# Every stored field is bounded, so that no value a district can type breaks a night (a
# 420,000-character middle name made DynamoDB refuse the item: 400 KB per item). Bounds are in
# characters (UTF-8 needs at most 4 bytes each) and far above any real value:
# * people's names, titles, departments, school/section/course/term names, subjects: 200 (the
#   longest real names are well under 100; Smart Futures shows them on one line);
# * e-mail: 320 (RFC 5321: 64 local part + "@" + 255 domain);
# * ids and codes (SIS ids, local numbers, school and section numbers, periods, referenced
#   Clever ids, dates): 64 (a Clever id has 24; SIS ids are short codes);
# * NCES ids and grades: 32 (an NCES id has 12 digits; grades are "Kindergarten" or numbers).
# Lists are bounded by count, each element an id of at most 64 characters:
# * a person's schools: 100 (each one is also a membership item);
# * a section's teachers: 100; a section's students: 5,000 (sections are classes; the list is
#   stored on the section's item).
# Worst case, every bound reached with 4-byte characters: a section item is about 336 KB
# (5,000 x 65 + 100 x 65 bytes of lists, ~3.6 KB of text, ~0.5 KB of bookkeeping) and a person
# item about 12 KB, under DynamoDB's 400 KB (409,600 bytes); tests/unit/test_field_bounds.py
# measures it.
ID_MAX = 64
TEXT_LIMITS: dict[str, int] = {
    **dict.fromkeys(
        ("name", "name.first", "name.middle", "name.last", "title", "department", "subject"), 200
    ),
    "email": 320,
    **dict.fromkeys(
        (
            "sis_id",
            "state_id",
            "local_number",
            "school_number",
            "section_number",
            "period",
            "number",
            "school",
            "course",
            "term",
            "start_date",
            "end_date",
            "birth_date",
            "zip",
        ),
        ID_MAX,
    ),
    **dict.fromkeys(("nces_id", "grade", "graduation_year", "low_grade", "high_grade"), 32),
}
LIST_LIMITS: dict[str, int] = {"schools": 100, "teachers": 100, "students": 5_000}
# Record ids, and ids a record refers to, when the source does not say what its ids look like:
# the system-wide id form (also the district id form in every request: OneRoster sources will
# use support-chosen ids). A source that knows its ids declares a stricter pattern
# (Clever: 24 lowercase hex digits, `sources.clever.normalize.CLEVER_ID`).
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def too_long(field: str, value: str, limit: int) -> tuple[str, str, str]:
    """(rule, field, message) for an over-long value: its length, never the value."""
    return (
        RECORD_FIELD_TOO_LONG,
        field,
        f"The field {field} has {len(value):,} characters; at most {limit:,} can be stored.",
    )


_STATE_ID = re.compile(r"[0-9]{10}")
_NCES = re.compile(r"[0-9]{12}")
_ASCII_DIGITS = frozenset("0123456789")


def trimmed_state_id(value: str | None) -> str | None:
    """The PA Secure ID as stored (surrounding whitespace trimmed), or None if not 10 ASCII digits."""
    if value is None:
        return None
    v = value.strip()
    return v if _STATE_ID.fullmatch(v) else None


def _describe(v: str, expected: int) -> str:
    """Describe a wrong id without revealing it: how many characters, and what kind."""
    if v and all(c in _ASCII_DIGITS for c in v):
        return f"has {len(v)} digits, expected {expected}"
    if v and all(c.isdigit() for c in v):
        return f"has {len(v)} digits that are not the plain digits 0-9 (another script), expected {expected}"
    kinds = []
    if any(c.isspace() for c in v):
        kinds.append("spaces")
    if any(c.isalpha() for c in v):
        kinds.append("letters")
    if any(not (c.isspace() or c.isalnum()) for c in v):
        kinds.append("punctuation such as dashes")
    if any(c.isdigit() and c not in _ASCII_DIGITS for c in v):
        kinds.append("digits of another script")
    what = " and ".join(kinds) or "characters other than 0-9"
    return f"has {len(v)} characters including {what}, expected {expected} digits (0-9)"


def state_id_problem(value: str | None, field: str = "state_id") -> tuple[str, str] | None:
    """(rule id, message) for a student's state id, or None if it is a valid PA Secure ID.
    `field`: where the source carries it, as the message names it (`Wording.state_id_field`).

    The message never contains the value itself.
    """
    if value is None or not value.strip():
        return STUDENT_STATE_ID_MISSING, f"No PA Secure ID ({field} is empty)."
    v = value.strip()
    if _STATE_ID.fullmatch(v):
        return None
    return STUDENT_STATE_ID_FORMAT, f"The PA Secure ID ({field}) {_describe(v, 10)}."


_BIRTH_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR = re.compile(r"[0-9]{4}")
_ZIP5 = re.compile(r"[0-9]{5}")


def student_field_problems(
    birth_date: str | None, graduation_year: str | None, zip_code: str | None
) -> list[tuple[str, str, str]]:
    """(rule id, field, message) for each of a student's date of birth, graduation year and ZIP
    that is missing or not in its stored form (`YYYY-MM-DD`, 4 digits, 5 digits).

    The date of birth is protected data: its message never contains the value.
    """
    out: list[tuple[str, str, str]] = []
    if birth_date is None or not birth_date.strip():
        out.append((STUDENT_BIRTH_DATE_MISSING, "birth_date", "No date of birth."))
    elif not _BIRTH_DATE.fullmatch(birth_date.strip()):
        out.append(
            (STUDENT_BIRTH_DATE_MISSING, "birth_date", "The date of birth is not a date (YYYY-MM-DD).")
        )
    if graduation_year is None or not graduation_year.strip():
        out.append((STUDENT_GRADUATION_YEAR_MISSING, "graduation_year", "No graduation year."))
    elif not _YEAR.fullmatch(graduation_year.strip()):
        out.append(
            (
                STUDENT_GRADUATION_YEAR_MISSING,
                "graduation_year",
                f"The graduation year {_describe(graduation_year.strip(), 4)}.",
            )
        )
    if zip_code is None or not zip_code.strip():
        out.append((STUDENT_ZIP_MISSING, "zip", "No ZIP code."))
    elif not _ZIP5.fullmatch(zip_code.strip()):
        out.append((STUDENT_ZIP_MISSING, "zip", f"The ZIP code {_describe(zip_code.strip(), 5)}."))
    return out


def trimmed_nces_id(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return v if _NCES.fullmatch(v) else None


def nces_id_problem(value: str | None) -> tuple[str, str] | None:
    """(rule id, message) for a school's NCES id, or None if it is a valid Pennsylvania school id."""
    if value is None or not value.strip():
        return SCHOOL_NCES_MISSING, "No NCES school id."
    v = value.strip()
    if _NCES.fullmatch(v):
        if not v.startswith("42"):
            return (
                SCHOOL_NCES_NOT_PA,
                f"NCES id {v} does not start with 42, the code of Pennsylvania.",
            )
        return None
    if len(v) == 7 and all(c in _ASCII_DIGITS for c in v):
        return (
            SCHOOL_NCES_FORMAT,
            f"NCES id {v} has 7 digits: this looks like the district's NCES id, not the building's "
            "(a school's NCES id has 12 digits).",
        )
    return SCHOOL_NCES_FORMAT, f"NCES id '{v}' {_describe(v, 12)}."
