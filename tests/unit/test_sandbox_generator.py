"""Clever sandbox data generator: determinism, id formats, counts and every seeded gap."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from rostersync_cli.sandbox import DistrictData, DistrictSpec, Gaps, default_config
from rostersync_cli.sandbox.generator import GRADES_ALL, dumps, page_items

HEX24 = re.compile(r"^[0-9a-f]{24}$")
SUBJECTS = {
    "english/language arts",
    "math",
    "science",
    "social studies",
    "language",
    "homeroom/advisory",
    "interventions/online learning",
    "technology and engineering",
    "PE and health",
    "arts and music",
    "other",
    "",
}

BASE = DistrictSpec(
    "Gap Test Area School District",
    seed=777,
    schools=8,
    students=400,
    teachers=24,
    counselors=2,
    admins=1,
    other_staff=3,
    sections=40,
    terms=2,
    courses=8,
)


def records(data: DistrictData, key: str) -> list[dict[str, Any]]:
    return data.listings[key].all_records()


def full_dump(data: DistrictData) -> bytes:
    return b"".join(
        key.encode() + dumps(page_items(listing, 0, len(listing)))
        for key, listing in sorted(data.listings.items())
    )


# --- determinism ---------------------------------------------------------------------------------


def test_same_config_gives_identical_bytes() -> None:
    a = [full_dump(DistrictData(d)) for d in default_config().districts]
    b = [full_dump(DistrictData(d)) for d in default_config().districts]
    assert a == b
    assert len(set(a)) == len(default_config().districts) == 5


def test_output_is_pinned_across_runs_and_machines() -> None:
    # No hash(), no clock, no unseeded randomness: the default districts are byte-stable.
    tiny = next(d for d in default_config().districts if d.name == "Austin Area School District")
    digest = hashlib.sha256(full_dump(DistrictData(tiny))).hexdigest()
    assert digest == PINNED_TINY_DIGEST


PINNED_TINY_DIGEST = "f3f06e5baa020976d015b7f61e4dd1cdf9969cca4313c9a4aaecf49b4dbcc081"


def test_different_seed_gives_different_ids() -> None:
    other = DistrictData(dataclasses.replace(BASE, seed=778, id=""))
    base = DistrictData(BASE)
    assert other.id != base.id
    assert not set(other.student_ids) & set(base.student_ids)


# --- formats and counts -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", default_config().districts, ids=lambda d: d.name)
def test_counts_match_spec(spec: DistrictSpec) -> None:
    data = DistrictData(spec)
    lst = data.listings
    assert len(lst["schools"]) == spec.schools
    assert len(lst["users?role=student"]) == spec.students
    assert len(lst["users?role=teacher"]) == spec.teachers
    assert (
        len(lst["users?role=staff"])
        == spec.counselors
        + spec.other_staff
        + spec.gaps.teacher_and_staff_dual_role
        + spec.gaps.student_and_adult
    )
    assert len(lst["users?role=district_admin"]) == spec.admins
    assert len(lst["users?role=contact"]) == spec.contacts
    assert len(lst["sections"]) == spec.sections
    assert len(lst["terms"]) == spec.terms
    assert len(lst["courses"]) == spec.courses
    assert len(lst["districts"]) == 1
    assert len(
        lst["users"]
    ) == spec.students + spec.teachers + spec.counselors + spec.other_staff + spec.admins + (spec.contacts)


@pytest.mark.parametrize("spec", default_config().districts, ids=lambda d: d.name)
def test_ids_are_24_hex_sorted_and_unique(spec: DistrictSpec) -> None:
    data = DistrictData(spec)
    assert HEX24.match(data.id)
    seen: set[str] = set()
    for key, listing in data.listings.items():
        ids = [rid for rid, _ in listing.items(0, len(listing))]
        assert ids == sorted(ids), key
        assert len(set(ids)) == len(ids)
        assert all(HEX24.match(i) for i in ids)
        if key.startswith("users?") and key != "users?role=staff":
            assert not seen & set(ids)
            seen |= set(ids)


def test_clean_district_formats() -> None:
    spec = default_config().districts[0]
    assert spec.gaps.total() == 0
    data = DistrictData(spec)
    assert re.fullmatch(r"42\d{5}", data.district_nces)
    schools = records(data, "schools")
    nces = [s["nces_id"] for s in schools]
    assert all(re.fullmatch(r"42\d{10}", n) for n in nces)
    assert len(set(nces)) == len(nces)
    students = records(data, "users?role=student")
    state_ids = [s["roles"]["student"]["state_id"] for s in students]
    assert all(re.fullmatch(r"\d{10}", s) for s in state_ids)
    assert len(set(state_ids)) == len(state_ids)
    school_ids = {s["id"] for s in schools}
    for s in students:
        role = s["roles"]["student"]
        assert role["school"] in school_ids and role["schools"] == [role["school"]]
        assert role["grade"] in GRADES_ALL
        for field in ("dob", "gender", "race", "location", "sis_id", "student_number"):
            assert field in role
        assert s["email"] and s["name"]["first"] and s["district"] == data.id
    names = {s["name"]["first"] + s["name"]["last"] for s in students}
    assert any(not n.isascii() for n in names), "expect some Unicode/accented names"


def test_sections_shape() -> None:
    data = DistrictData(default_config().districts[0])
    students = {s["id"]: s["roles"]["student"]["school"] for s in records(data, "users?role=student")}
    teachers = {t["id"]: t["roles"]["teacher"] for t in records(data, "users?role=teacher")}
    terms = {t["id"] for t in records(data, "terms")}
    courses = {c["id"] for c in records(data, "courses")}
    for sec in records(data, "sections"):
        assert 25 <= len(sec["students"]) <= 35
        assert {students[s] for s in sec["students"]} == {sec["school"]}
        assert 1 <= len(sec["teachers"]) <= 2 and sec["teacher"] == sec["teachers"][0]
        assert all(teachers[t]["school"] == sec["school"] for t in sec["teachers"])
        assert sec["term_id"] in terms and sec["course"] in courses
        assert sec["subject"] in SUBJECTS and sec["grade"] in GRADES_ALL


def test_staff_and_admin_roles() -> None:
    data = DistrictData(default_config().districts[0])
    staff = records(data, "users?role=staff")
    titles = [s["roles"]["staff"]["title"] for s in staff]
    assert titles.count("School Counselor") == 2
    assert all("department" in s["roles"]["staff"] and s["roles"]["staff"]["staff_id"] for s in staff)
    admins = records(data, "users?role=district_admin")
    assert all(a["roles"]["district_admin"]["title"] for a in admins)


def test_empty_districts() -> None:
    nothing = DistrictData(DistrictSpec.empty("Empty SD", seed=5))
    assert len(nothing.listings["schools"]) == 0 and len(nothing.listings["users?role=student"]) == 0
    assert len(nothing.listings["users?role=district_admin"]) == 1
    no_students = DistrictData(DistrictSpec.empty("Schools Only SD", seed=6, with_schools=2))
    assert len(no_students.listings["schools"]) == 2 and len(no_students.listings["users"]) == 1
    with pytest.raises(ValueError, match="without schools"):
        DistrictSpec("Bad", seed=1, schools=0, students=5)


def test_too_many_gaps_rejected() -> None:
    with pytest.raises(ValueError, match="gaps requested"):
        DistrictData(dataclasses.replace(BASE, gaps=Gaps(missing_school_nces_id=9)))


def test_default_config_seeds_every_gap_knob() -> None:
    cfg = default_config()
    assert len(cfg.districts) == 5
    seeded: set[str] = set()
    for d in cfg.districts:
        seeded |= set(d.gaps.nonzero())
    assert seeded == {f.name for f in dataclasses.fields(Gaps)}
    assert sum(1 for d in cfg.districts if d.schools and not d.students) == 1  # district.empty
    sizes = sorted(d.students for d in cfg.districts if d.students)
    assert sizes[0] < 100 and 300 <= sizes[1] <= 1500 and sizes[-1] <= 1500


# --- gaps ---------------------------------------------------------------------------------------


def _students(d: DistrictData) -> list[dict[str, Any]]:
    return records(d, "users?role=student")


def _state_ids(d: DistrictData) -> list[Any]:
    return [s["roles"]["student"].get("state_id") for s in _students(d)]


def _nces(d: DistrictData) -> list[Any]:
    return [s["nces_id"] for s in records(d, "schools")]


def _schools_with(d: DistrictData, what: str) -> set[str]:
    if what == "students":
        return {s["roles"]["student"]["school"] for s in _students(d)}
    if what == "teachers":  # every school a teacher lists, not only the primary one
        return {s for t in records(d, "users?role=teacher") for s in t["roles"]["teacher"]["schools"]}
    return {s["school"] for s in records(d, "sections") if "school" in s}


def _teacher_ids_in_sections(d: DistrictData) -> set[str]:
    return {t for s in records(d, "sections") for t in s["teachers"]}


def _dup_count(values: list[Any]) -> int:
    counts = Counter(v.strip() for v in values if v)
    assert max(counts.values(), default=0) <= 2
    return sum(1 for c in counts.values() if c == 2)


CHECKS: dict[str, Callable[[DistrictData], int]] = {
    "missing_student_state_id": lambda d: sum(1 for s in _state_ids(d) if s is None),
    "short_student_state_id": lambda d: sum(1 for s in _state_ids(d) if s and re.fullmatch(r"\d{9}", s)),
    "padded_student_state_id": lambda d: sum(
        1 for s in _state_ids(d) if s and s != s.strip() and re.fullmatch(r"\d{10}", s.strip())
    ),
    "duplicate_student_state_id": lambda d: _dup_count(_state_ids(d)),
    "user_without_name": lambda d: sum(1 for u in records(d, "users") if "name" not in u),
    "student_and_adult": lambda d: sum(
        1 for u in records(d, "users?role=staff") if {"student", "staff"} <= set(u["roles"])
    ),
    "missing_school_nces_id": lambda d: sum(1 for n in _nces(d) if n is None),
    "district_nces_as_school_nces": lambda d: sum(1 for n in _nces(d) if n == d.district_nces),
    "non_pa_school_nces_id": lambda d: sum(
        1 for n in _nces(d) if n and re.fullmatch(r"\d{12}", n) and n[:2] != "42"
    ),
    "duplicate_school_nces_id": lambda d: _dup_count([n for n in _nces(d) if n and len(n) == 12]),
    "school_without_students": lambda d: len(set(d.school_ids) - _schools_with(d, "students")),
    "school_without_teachers": lambda d: len(set(d.school_ids) - _schools_with(d, "teachers")),
    "school_without_sections": lambda d: len(_schools_with(d, "students") - _schools_with(d, "sections")),
    "teacher_and_staff_dual_role": lambda d: sum(
        1
        for u in records(d, "users?role=staff")
        if u["id"] in set(d.teacher_ids) and {"teacher", "staff"} <= set(u["roles"])
    ),
    "counselor_shared_as_teacher": lambda d: sum(
        1
        for t in records(d, "users?role=teacher")
        if t["roles"]["teacher"]["title"] == "School Counselor" and t["id"] not in _teacher_ids_in_sections(d)
    ),
    "teacher_without_email": lambda d: sum(1 for t in records(d, "users?role=teacher") if not t["email"]),
    "staff_without_email": lambda d: sum(
        1 for s in records(d, "users?role=staff") if "teacher" not in s["roles"] and not s["email"]
    ),
    "section_without_teacher": lambda d: sum(
        1 for s in records(d, "sections") if s["teacher"] is None and s["teachers"] == []
    ),
    "section_with_unknown_student": lambda d: sum(
        1 for s in records(d, "sections") if set(s["students"]) - set(d.student_ids)
    ),
    "section_without_school": lambda d: sum(1 for s in records(d, "sections") if "school" not in s),
    "oversized_student_name": lambda d: sum(
        1 for u in records(d, "users") if len((u.get("name") or {}).get("middle") or "") > 200
    ),
    "student_without_birth_date": lambda d: sum(
        1 for s in _students(d) if "dob" not in s["roles"]["student"]
    ),
    "student_without_graduation_year": lambda d: sum(
        1 for s in _students(d) if s["roles"]["student"]["graduation_year"] is None
    ),
    "student_without_zip": lambda d: sum(
        1 for s in _students(d) if "zip" not in s["roles"]["student"]["location"]
    ),
    "section_with_invalid_term_id": lambda d: sum(
        1
        for s in records(d, "sections")
        if s.get("term_id") and not re.fullmatch(r"[0-9a-f]{24}", s["term_id"])
    ),
    "term_with_unreadable_start": lambda d: sum(
        1 for t in records(d, "terms") if t["start_date"].startswith("9999-")
    ),
}


def test_every_gap_knob_has_a_check() -> None:
    assert set(CHECKS) == {f.name for f in dataclasses.fields(Gaps)}


def test_clean_district_trips_no_check() -> None:
    data = DistrictData(BASE)
    assert {name: check(data) for name, check in CHECKS.items()} == dict.fromkeys(CHECKS, 0)


@pytest.mark.parametrize("knob", sorted(CHECKS))
def test_gap_knob_produces_exactly_what_it_says(knob: str) -> None:
    data = DistrictData(dataclasses.replace(BASE, gaps=Gaps(**{knob: 2})))
    found = {name: check(data) for name, check in CHECKS.items()}
    expected = dict.fromkeys(CHECKS, 0)
    expected[knob] = 2
    assert found == expected


def test_missing_state_id_uses_both_absent_and_null() -> None:
    data = DistrictData(dataclasses.replace(BASE, gaps=Gaps(missing_student_state_id=2)))
    roles = [s["roles"]["student"] for s in _students(data)]
    assert sum(1 for r in roles if "state_id" not in r) == 1
    assert sum(1 for r in roles if "state_id" in r and r["state_id"] is None) == 1


def test_default_gap_districts_trip_their_checks() -> None:
    for spec in default_config().districts:
        data = DistrictData(spec)
        for knob, count in spec.gaps.nonzero().items():
            assert CHECKS[knob](data) == count, (spec.name, knob)


# --- scale --------------------------------------------------------------------------------------


def test_big_district_renders_a_10000_page_fast() -> None:
    spec = DistrictSpec(
        "Big City School District",
        seed=9001,
        schools=200,
        students=120_000,
        teachers=10_000,
        counselors=400,
        admins=10,
        other_staff=1600,
        sections=60_000,
        terms=4,
        courses=120,
    )
    # How fast this builds and renders is the benchmarks' business (benchmarks/, BENCHMARKS.md).
    data = DistrictData(spec)
    for key, start in (("users?role=student", 110_000), ("sections", 50_000)):
        listing = data.listings[key]
        body = dumps({"data": page_items(listing, start, 10_000), "links": []})
        assert body.count(b'"uri":"/v3.0/') == 10_000
    assert len(data.listings["users?role=student"]) == 120_000


def test_a_revision_changes_about_the_requested_share_of_records_and_keeps_ids() -> None:
    spec = DistrictSpec("Revision SD", seed=9901, schools=4, students=4000, teachers=200, sections=400)
    before, after = (
        DistrictData(spec),
        DistrictData(dataclasses.replace(spec, revision=1, changed_percent=5.0)),
    )

    students = [(before.student(i), after.student(i)) for i in range(spec.students)]
    changed = [a for a, b in students if a != b]

    assert all(a["id"] == b["id"] for a, b in students)
    assert 120 <= len(changed) <= 280  # about 5 % of 4000
    assert all(a["roles"] == b["roles"] for a, b in students)  # state ids, schools unchanged
    assert DistrictData(dataclasses.replace(spec, revision=1, changed_percent=5.0)).student(
        7
    ) == after.student(7)


def test_a_moved_student_carries_the_pa_secure_id_they_had_in_the_district_they_left() -> None:
    left = DistrictData(DistrictSpec("Left SD", seed=11, students=5))
    joined = DistrictData(DistrictSpec("Joined SD", seed=12, students=4, moved_from=11, moved_in=2))
    state = lambda data, i: data.student(i)["roles"]["student"]["state_id"]  # noqa: E731
    assert [state(joined, i) for i in (2, 3)] == [state(left, 0), state(left, 1)]
    assert {state(joined, i) for i in (0, 1)}.isdisjoint({state(left, i) for i in range(5)})
    with pytest.raises(ValueError, match="moved_in"):
        DistrictSpec("Nowhere SD", seed=13, students=2, moved_in=1)


def test_a_small_district_is_the_fault_suites_shape_and_takes_overrides() -> None:
    small = DistrictSpec.small("Small SD", seed=21)
    assert (small.schools, small.students, small.teachers, small.counselors, small.admins) == (2, 24, 2, 0, 1)
    assert (small.other_staff, small.sections, small.terms, small.courses) == (1, 2, 1, 1)
    assert (
        DistrictSpec.small("Smaller SD", seed=22, schools=1, students=8).record_count()
        == 1 + 8 + 2 + 1 + 1 + 2 + 1 + 1
    )
