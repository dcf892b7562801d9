"""One behaviour per test: given a small district, when validated, then the findings and decisions."""

from __future__ import annotations

import re

import pytest

from rostersync.records import Kind, SourceRole
from rostersync.sources import PROFILES, profile
from rostersync.validate.rules import RULES, Severity, fix_advice, matching
from tests.factories import (
    D,
    accepted,
    accepted_ids,
    admin,
    assert_balanced,
    base,
    course,
    district,
    rules_of,
    run,
    school,
    section,
    staff,
    student,
    teacher,
    term,
)

STABLE_IDS = {
    "district.empty",
    "record.malformed",
    "school.nces_id.missing",
    "school.nces_id.format",
    "school.nces_id.not_pa",
    "school.nces_id.duplicate",
    "school.no_students",
    "school.no_teachers",
    "school.no_sections",
    "student.state_id.missing",
    "student.state_id.format",
    "student.state_id.duplicate",
    "dependent.school_rejected",
    "user.multiple_account_types",
    "user.student_and_adult",
    "teacher.no_sections",
    "section.no_teacher",
    "section.unknown_user",
    "user.email.missing",
    "record.id.invalid",
    "record.field_too_long",
    "record.date.invalid",
    "district.sync_stale",
    "school.not_licensed",
    "school.licensed_not_shared",
    "district.primary_org.missing",
    "student.state_id.not_shared",
    "student.birth_date.missing",
    "student.graduation_year.missing",
    "student.zip.missing",
    "user.accounts_joined",
    "user.shares_address_with_student",
    "user.not_active",
    "district.birth_dates.not_shared",
    "district.staff.not_shared",
}


def test_catalogue_has_the_stable_ids_each_with_title_and_fix_advice():
    assert set(RULES) == STABLE_IDS
    for r in RULES.values():
        for source in PROFILES.values():
            assert r.title and len(fix_advice(r.id, source.wording)) > 60, (r.id, source.name)
    assert RULES["student.state_id.duplicate"].severity is Severity.ERROR
    assert RULES["school.nces_id.not_pa"].severity is Severity.WARNING


def test_rule_patterns_select_by_id():
    assert {r.id for r in matching(["school.nces_id.*"])} == {
        "school.nces_id.missing",
        "school.nces_id.format",
        "school.nces_id.not_pa",
        "school.nces_id.duplicate",
    }


def test_clean_district_imports_everything_without_findings():
    summary, sink = run(base())
    assert sink.findings == []
    assert accepted_ids(sink) == {
        D: Kind.DISTRICT,
        "sch1": Kind.SCHOOL,
        "t1": Kind.TEACHER,
        "s1": Kind.STUDENT,
        "sec1": Kind.SECTION,
        "term1": Kind.TERM,
        "course1": Kind.COURSE,
    }
    assert summary.needs_attention == 0
    assert summary.imported_total == 7
    assert_balanced(summary)


# ------------------------------------------------------------------ district.empty


def test_district_without_schools_is_one_finding_and_every_record_rejected():
    summary, sink = run([district(), teacher("t1"), student("s1"), section("sec1")])
    assert [(f.rule, f.record_type, f.source_id) for f in sink.findings] == [
        ("district.empty", "district", D)
    ]
    assert sink.records == []
    assert summary.empty
    assert summary.records["student"].rejected == 1
    assert summary.records["district"].rejected == 1
    assert_balanced(summary)


def test_district_with_schools_but_no_students_is_empty():
    summary, sink = run([district(), school(), teacher("t1"), section("sec1", students=())])
    assert rules_of(sink) == ["district.empty"]
    assert sink.records == []
    assert summary.records["school"].rejected == 1


# ------------------------------------------------------------------ record.malformed


def test_section_without_school_is_malformed_and_rejected():
    _, sink = run([*base(), section("sec2", school=None)])
    (f,) = [f for f in sink.findings if f.source_id == "sec2"]
    assert (f.rule, f.field) == ("record.malformed", "school")
    assert "sec2" not in accepted_ids(sink)


def test_student_without_last_name_is_malformed_and_rejected():
    _, sink = run([*base(), student("s2", last="")])
    assert rules_of(sink, "s2") == ["record.malformed"]
    assert "s2" not in accepted_ids(sink)


# ------------------------------------------------------------------ schools


def test_school_without_nces_id_is_rejected_and_so_are_its_people():
    records = [district(), school(nces=None), teacher("t1"), student("s1"), section("sec1")]
    summary, sink = run(records)
    assert rules_of(sink, "sch1") == ["school.nces_id.missing"]
    assert rules_of(sink, "s1") == ["dependent.school_rejected"]
    assert rules_of(sink, "t1") == ["dependent.school_rejected"]
    assert rules_of(sink, "sec1") == ["dependent.school_rejected"]
    assert set(accepted_ids(sink)) == {D}
    assert_balanced(summary)


def test_seven_digit_nces_id_is_called_the_district_id():
    _, sink = run([district(), school(nces="4200001"), teacher("t1"), student("s1"), section("sec1")])
    (f,) = [f for f in sink.findings if f.source_id == "sch1"]
    assert f.rule == "school.nces_id.format"
    assert "district's NCES id" in f.message
    assert "sch1" not in accepted_ids(sink)


def test_non_pa_nces_id_is_a_warning_and_the_school_is_imported():
    _, sink = run([district(), school(nces="360000100001"), teacher("t1"), student("s1"), section("sec1")])
    assert rules_of(sink, "sch1") == ["school.nces_id.not_pa"]
    assert accepted_ids(sink)["sch1"] is Kind.SCHOOL


def test_two_schools_sharing_an_nces_id_are_both_warned_and_imported():
    records = [
        *base(),
        school("sch2", "Lincoln Annex"),
        teacher("t2", ["sch2"]),
        student("s2", ["sch2"]),
        section("sec2", "sch2", ["t2"], ["s2"]),
    ]
    _, sink = run(records)
    dup = [f.source_id for f in sink.findings if f.rule == "school.nces_id.duplicate"]
    assert sorted(dup) == ["sch1", "sch2"]
    assert {"sch1", "sch2"} <= set(accepted_ids(sink))


@pytest.mark.parametrize(
    ("rule", "extra"),
    [
        ("school.no_students", [teacher("t2", ["sch2"]), section("sec2", "sch2", ["t2"], [])]),
        ("school.no_teachers", [student("s2", ["sch2"]), section("sec2", "sch2", [], ["s2"])]),
        ("school.no_sections", [student("s2", ["sch2"]), teacher("t2", ["sch2"])]),
    ],
)
def test_school_shared_without_people_or_sections_is_warned_and_imported(rule, extra):
    _, sink = run([*base(), school("sch2", "Washington Elementary", "420000100002"), *extra])
    assert rules_of(sink, "sch2") == [rule]
    assert "sch2" in accepted_ids(sink)


# ------------------------------------------------------------------ students


def test_student_without_state_id_is_rejected():
    _, sink = run([*base(), student("s2", state_id=None)])
    assert rules_of(sink, "s2") == ["student.state_id.missing"]
    assert "s2" not in accepted_ids(sink)


def test_nine_digit_state_id_is_rejected_and_the_value_is_not_in_the_message():
    _, sink = run([*base(), student("s2", state_id="231786324")])
    (f,) = [f for f in sink.findings if f.source_id == "s2"]
    assert f.rule == "student.state_id.format"
    assert "9 digits" in f.message
    assert "231786324" not in f.model_dump_json()
    assert "s2" not in accepted_ids(sink)


def test_arabic_indic_digits_are_not_a_pa_secure_id():
    _, sink = run([*base(), student("s2", state_id="١٢٣٤٥٦٧٨٩٠")])
    assert rules_of(sink, "s2") == ["student.state_id.format"]


def test_state_id_with_surrounding_whitespace_is_accepted_and_stored_trimmed():
    _, sink = run([*base(), student("s2", state_id="  0123456789\t")])
    assert rules_of(sink, "s2") == []
    assert accepted(sink, "s2").state_id == "0123456789"  # type: ignore[union-attr]


def test_students_sharing_a_state_id_are_all_rejected():
    dup = "1111111111"
    records = [*base(), *(student(f"s{i}", state_id=dup) for i in (2, 3, 4))]
    _, sink = run(records)
    for sid in ("s2", "s3", "s4"):
        assert rules_of(sink, sid) == ["student.state_id.duplicate"]
        assert sid not in accepted_ids(sink)
    assert all(dup not in f.message for f in sink.findings)


def test_the_same_student_record_twice_is_not_a_state_id_duplicate():
    s2 = student("s2")
    summary, sink = run([*base(), s2, s2])
    assert rules_of(sink, "s2") == []
    assert [r.id for _, r in sink.records].count("s2") == 1
    assert summary.records["student"].fetched == 3
    assert summary.records["student"].merged == 1
    assert_balanced(summary)


# ------------------------------------------------------------------ dependent.school_rejected


def test_teacher_keeps_only_accepted_schools():
    records = [*base(), school("sch2", "Bad NCES", "123"), teacher("t2", ["sch2", "sch1"])]
    records.append(section("sec2", "sch1", ["t2"], ["s1"]))
    _, sink = run(records)
    assert "dependent.school_rejected" not in rules_of(sink, "t2")
    assert accepted(sink, "t2").schools == ("sch1",)  # type: ignore[union-attr]


def test_teacher_whose_every_school_was_rejected_is_rejected():
    records = [*base(), school("sch2", "Bad NCES", "123"), teacher("t2", ["sch2"])]
    _, sink = run(records)
    (f,) = [f for f in sink.findings if f.source_id == "t2"]
    assert f.rule == "dependent.school_rejected"
    assert "Bad NCES" in f.message
    assert "t2" not in accepted_ids(sink)


def test_student_of_an_unshared_school_is_rejected():
    _, sink = run([*base(), student("s2", ["nowhere"])])
    (f,) = [f for f in sink.findings if f.source_id == "s2"]
    assert f.rule == "dependent.school_rejected"
    assert "not shared" in f.message


def test_district_admin_without_schools_is_imported_as_staff():
    _, sink = run([*base(), admin("a1")])
    assert rules_of(sink, "a1") == []
    assert accepted_ids(sink)["a1"] is Kind.STAFF


# ------------------------------------------------------------------ multiple account types


def test_teacher_and_staff_who_teaches_is_one_teacher_record():
    summary, sink = run([*base(), staff("t1")])
    assert rules_of(sink, "t1") == ["user.multiple_account_types"]
    assert [(k, r.id) for k, r in sink.records if r.id == "t1"] == [(Kind.TEACHER, "t1")]
    assert accepted(sink, "t1").role is SourceRole.TEACHER  # type: ignore[union-attr]
    assert summary.records["staff"].accepted == 1
    assert summary.records["staff"].merged == 1
    assert summary.imported[Kind.TEACHER] == 1
    assert Kind.STAFF not in summary.imported
    assert_balanced(summary)


def test_teacher_and_staff_who_teaches_nothing_is_one_staff_record():
    summary, sink = run([*base(), teacher("c1", email=None), staff("c1", email="c1@example.org")])
    assert rules_of(sink, "c1") == ["user.multiple_account_types"]
    kinds = [(k, r) for k, r in sink.records if r.id == "c1"]
    assert len(kinds) == 1
    kind, rec = kinds[0]
    assert kind is Kind.STAFF
    assert rec.role is SourceRole.STAFF  # type: ignore[union-attr]
    assert summary.records["teacher"].merged == 1
    assert_balanced(summary)


def test_student_who_is_also_staff_keeps_only_the_student_account():
    summary, sink = run([*base(), student("p1"), staff("p1")])
    assert rules_of(sink, "p1") == ["user.student_and_adult"]
    assert [(k, r.id) for k, r in sink.records if r.id == "p1"] == [(Kind.STUDENT, "p1")]
    assert summary.records["staff"].rejected == 1
    assert_balanced(summary)


# ------------------------------------------------------------------ teachers and sections


def test_teacher_without_sections_is_warned_and_imported():
    _, sink = run([*base(), teacher("t2")])
    (f,) = [f for f in sink.findings if f.source_id == "t2"]
    assert f.rule == "teacher.no_sections"
    assert "counselor" in f.message
    assert accepted_ids(sink)["t2"] is Kind.TEACHER


def test_section_without_teacher_is_warned_and_imported():
    _, sink = run([*base(), section("sec2", teachers=())])
    assert rules_of(sink, "sec2") == ["section.no_teacher"]
    assert "sec2" in accepted_ids(sink)


def test_section_drops_unknown_and_rejected_people():
    records = [
        *base(),
        student("s2", state_id=None),
        section("sec2", teachers=["t1", "ghost"], students=["s1", "s2", "nobody"]),
    ]
    _, sink = run(records)
    found = {(f.rule, f.field) for f in sink.findings if f.source_id == "sec2"}
    assert found == {("section.unknown_user", "students"), ("section.unknown_user", "teachers")}
    sec = accepted(sink, "sec2")
    assert sec.students == ("s1",)  # type: ignore[union-attr]
    assert sec.teachers == ("t1",)  # type: ignore[union-attr]
    msg = next(f.message for f in sink.findings if f.source_id == "sec2" and f.field == "students")
    assert msg.startswith("2 students") and "1 not shared" in msg


def test_section_whose_only_teacher_was_dropped_has_no_teacher():
    _, sink = run([*base(), section("sec2", teachers=["ghost"])])
    assert sorted(rules_of(sink, "sec2")) == ["section.no_teacher", "section.unknown_user"]


def test_staff_without_email_is_warned_and_imported():
    _, sink = run([*base(), staff("st1", email=None)])
    assert rules_of(sink, "st1") == ["user.email.missing"]
    assert accepted_ids(sink)["st1"] is Kind.STAFF


def test_student_without_birth_date_graduation_year_or_zip_is_warned_and_imported():
    records = [
        *base(),
        student("s2", birth_date=None),
        student("s3", graduation_year=None),
        student("s4", zip=None),
        student("s5", birth_date="  ", graduation_year="31", zip="1710"),
    ]
    summary, sink = run(records)
    assert rules_of(sink, "s2") == ["student.birth_date.missing"]
    assert rules_of(sink, "s3") == ["student.graduation_year.missing"]
    assert rules_of(sink, "s4") == ["student.zip.missing"]
    assert rules_of(sink, "s5") == [
        "student.birth_date.missing",
        "student.graduation_year.missing",
        "student.zip.missing",
    ]
    for sid in ("s2", "s3", "s4", "s5"):
        assert accepted_ids(sink)[sid] is Kind.STUDENT
    for rid in ("student.birth_date.missing", "student.graduation_year.missing", "student.zip.missing"):
        assert RULES[rid].severity is Severity.WARNING
        assert "Clever" in fix_advice(rid, profile("clever").wording)
        assert "ClassLink" in fix_advice(rid, profile("oneroster").wording)
    messages = {f.field: f.message for f in sink.findings if f.source_id == "s5"}
    assert messages["graduation_year"] == "The graduation year has 2 digits, expected 4."
    assert messages["zip"] == "The ZIP code has 4 digits, expected 5."
    assert_balanced(summary)


def test_a_malformed_birth_date_is_reported_without_its_value():
    _, sink = run([*base(), student("s2", birth_date="17/04/2011")])
    (finding,) = [f for f in sink.findings if f.source_id == "s2"]
    assert finding.rule == "student.birth_date.missing" and finding.field == "birth_date"
    assert "2011" not in finding.message and "17" not in finding.message


def test_a_rejected_student_gets_no_student_field_warnings():
    _, sink = run([*base(), student("s2", state_id=None, birth_date=None, zip=None)])
    assert rules_of(sink, "s2") == ["student.state_id.missing"]


# ------------------------------------------------------------ nothing about other districts


def test_validation_says_nothing_that_depends_on_another_districts_students():
    """Issue 22: the cross-district warning is gone; a district's findings are about its own records."""
    assert "student.state_id.other_district" not in RULES
    records = [*base(), student("s2"), student("s3", state_id="1000000999")]
    _, sink = run(records)
    assert [
        f.rule for f in sink.findings if "district" in f.message.lower() and f.source_id in ("s2", "s3")
    ] == []
    assert accepted_ids(sink)["s2"] is Kind.STUDENT and accepted_ids(sink)["s3"] is Kind.STUDENT


# ------------------------------------------------------------------ counting and options


def test_every_input_record_is_accepted_or_rejected_exactly_once():
    records = [
        *base(),
        school("sch2", "Bad", None),
        student("s2", ["sch2"]),
        teacher("t1"),  # exact duplicate of base teacher
        staff("t1"),
        admin("t1"),
        term(),
        course("course2"),
        student("s3", state_id="12"),
    ]
    summary, _ = run(records)
    assert_balanced(summary)
    assert sum(c.fetched for c in summary.records.values()) == len(records)
    assert summary.records["teacher"].fetched == 2
    assert summary.records["term"].merged == 1


def test_per_school_counts_shared_accepted_rejected():
    summary, _ = run([*base(), student("s2", state_id=None), section("sec2", teachers=())])
    (s,) = summary.schools
    assert (s.name, s.nces_id, s.accepted) == ("Lincoln High", "420000100001", True)
    assert (s.students.shared, s.students.accepted, s.students.rejected) == (2, 1, 1)
    assert (s.teachers.shared, s.teachers.accepted) == (1, 1)
    assert (s.sections.shared, s.sections.accepted) == (2, 2)


def test_warnings_can_be_suppressed_by_pattern_but_errors_cannot():
    records = [*base(), teacher("t2"), student("s2", state_id=None)]
    summary, sink = run(records, suppress=["teacher.*", "student.*"])
    assert rules_of(sink, "t2") == []
    assert rules_of(sink, "s2") == ["student.state_id.missing"]
    assert summary.rules["teacher.no_sections"].count == 0


def test_no_message_contains_a_ten_digit_number():
    records = [
        *base(),
        *(student(f"s{i}", state_id="2222222222") for i in (2, 3)),
        student("s4", state_id=" 12-345 "),
    ]
    _, sink = run(records)
    assert sink.findings
    for f in sink.findings:
        assert not re.search(r"\d{9,}", f.message), f.message


def test_finding_names_people_last_comma_first():
    _, sink = run([*base(), student("s2", state_id=None, first="Zoë", last="Ortiz")])
    (f,) = [f for f in sink.findings if f.source_id == "s2"]
    assert (f.name, f.sis_id, f.record_type, f.district_id) == ("Ortiz, Zoë", "sis-s2", "student", D)
