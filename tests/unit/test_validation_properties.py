"""Properties: the id checkers against reference regexes, and the engine's accounting over random districts."""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rostersync.records import PersonName, PersonRecord, Record, SchoolRecord, SectionRecord, SourceRole
from rostersync.validate.engine import CollectingSink, record_type, validate_district
from rostersync.validate.rules import nces_id_problem, state_id_problem, trimmed_nces_id, trimmed_state_id

STATE_REF = re.compile(r"[0-9]{10}")
NCES_REF = re.compile(r"[0-9]{12}")

id_text = st.one_of(
    st.text(),
    st.text(alphabet="0123456789", min_size=8, max_size=13),
    st.text(alphabet="0123456789١٢٣٤٥٦٧٨٩٠０１ \t-", max_size=14),
    st.from_regex(r"\s*[0-9]{10}\s*", fullmatch=True),
)


@given(id_text)
def test_state_id_checker_matches_reference_regex(value):
    ok = STATE_REF.fullmatch(value.strip()) is not None
    assert (state_id_problem(value) is None) == ok
    assert trimmed_state_id(value) == (value.strip() if ok else None)
    problem = state_id_problem(value)
    if problem and value.strip():
        assert value.strip() not in problem[1] or len(value.strip()) < 3


@given(id_text)
def test_nces_checker_matches_reference_regex(value):
    v = value.strip()
    problem = nces_id_problem(value)
    valid = NCES_REF.fullmatch(v) is not None
    assert (trimmed_nces_id(value) is not None) == valid
    if valid:
        assert problem is None if v.startswith("42") else problem[0] == "school.nces_id.not_pa"  # type: ignore[index]
    else:
        assert problem is not None
        assert problem[0] in {"school.nces_id.missing", "school.nces_id.format"}


D = "d"
SCHOOL_IDS = ["a", "b", "c", "zz"]  # "zz" is never shared
PERSON_IDS = [f"p{i}" for i in range(12)]


@st.composite
def districts(draw: st.DrawFn) -> list[Record]:
    records: list[Record] = []
    for sid in draw(st.lists(st.sampled_from(SCHOOL_IDS[:3]), max_size=4)):
        nces = draw(st.sampled_from([None, "4200001", "420000100001", "420000100002", "360000100001"]))
        records.append(
            SchoolRecord(id=sid, district_id=D, name=draw(st.sampled_from([None, "S"])), nces_id=nces)
        )
    for pid in draw(st.lists(st.sampled_from(PERSON_IDS), max_size=16)):
        role = draw(st.sampled_from(list(SourceRole)))
        schools = tuple(draw(st.lists(st.sampled_from(SCHOOL_IDS), max_size=2, unique=True)))
        records.append(
            PersonRecord(
                id=pid,
                district_id=D,
                role=role,
                name=draw(st.sampled_from([None, PersonName(first="A", last="B"), PersonName(first="A")])),
                email=draw(st.sampled_from([None, "e@x.org"])),
                state_id=draw(st.sampled_from([None, "1234567890", "0000000001", " 1234567890", "123"]))
                if role is SourceRole.STUDENT
                else None,
                schools=() if role is SourceRole.DISTRICT_ADMIN else schools,
            )
        )
    for i in range(draw(st.integers(0, 4))):
        records.append(
            SectionRecord(
                id=f"sec{i % 3}",
                district_id=D,
                name=draw(st.sampled_from([None, "Sec"])),
                school=draw(st.sampled_from([None, *SCHOOL_IDS])),
                teachers=tuple(draw(st.lists(st.sampled_from(PERSON_IDS), max_size=3, unique=True))),
                students=tuple(draw(st.lists(st.sampled_from(PERSON_IDS), max_size=4, unique=True))),
            )
        )
    return draw(st.permutations(records))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(districts())
def test_every_record_ends_once_as_accepted_or_rejected(records):
    sink = CollectingSink()
    calls = 0

    def factory():
        nonlocal calls
        calls += 1
        return iter(records)

    summary = validate_district(D, factory, sink)
    assert calls == 2
    fetched = Counter(record_type(r) for r in records)
    for rtype, c in summary.records.items():
        assert c.fetched == fetched[rtype]
        assert c.fetched == c.accepted + c.rejected
        assert 0 <= c.merged <= c.accepted
    # every emitted record is unique per id (people: one account per person)
    emitted = Counter((k if k.value not in {"TEACHER", "STAFF"} else "ADULT", r.id) for k, r in sink.records)
    assert all(n == 1 for n in emitted.values())
    # emitted records = accepted input records minus merged ones
    assert len(sink.records) == sum(c.accepted - c.merged for c in summary.records.values())
    # each input (type, id) is either emitted, merged into an emitted one, or rejected with an error or empty
    emitted_ids = {r.id for _, r in sink.records}
    errors = {(f.record_type, f.source_id) for f in sink.findings if f.severity == "error"}
    for r in records:
        rt = record_type(r)
        if summary.empty:
            assert not sink.records
        elif r.id not in emitted_ids:
            assert (rt, r.id) in errors or any(e[1] == r.id for e in errors), (rt, r.id)
    # accepted references stay inside the accepted set
    kept_students = {r.id for k, r in sink.records if k.value == "STUDENT"}
    kept_teachers = {r.id for k, r in sink.records if k.value == "TEACHER"}
    kept_schools = {r.id for k, r in sink.records if k.value == "SCHOOL"}
    for k, r in sink.records:
        if isinstance(r, SectionRecord):
            assert set(r.students) <= kept_students
            assert set(r.teachers) <= kept_teachers
            assert r.school in kept_schools
        if isinstance(r, PersonRecord):
            assert set(r.schools) <= kept_schools
            assert k.value != "STUDENT" or trimmed_state_id(r.state_id) == r.state_id
