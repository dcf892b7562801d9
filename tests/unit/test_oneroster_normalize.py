"""The OneRoster mapping (issue 12, Build 3): REST objects -> minimized pages -> records -> validation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from rostersync.records import DistrictRecord, Kind, PersonRecord, SchoolRecord, SectionRecord, SourceRole
from rostersync.sources import normalize_district, source_rules
from rostersync.sources.oneroster.normalize import derived_graduation_year, minimize, record_id
from rostersync.sources.oneroster.resources import SOURCE_NAME, Resource
from rostersync.validate.engine import CollectingSink, validate_district

DISTRICT = "4218990"


def ref(sid: str, kind: str = "org") -> dict[str, str]:
    return {
        "href": f"https://x.oneroster.com/ims/oneroster/v1p1/{kind}s/{sid}",
        "sourcedId": sid,
        "type": kind,
    }


def org(sid: str, type_: str = "school", **extra: Any) -> dict[str, Any]:
    return {"sourcedId": sid, "status": "active", "name": f"Org {sid}", "type": type_, **extra}


def user(sid: str, role: str, *, orgs: tuple[str, ...] = ("sch-1",), **extra: Any) -> dict[str, Any]:
    return {
        "sourcedId": sid,
        "status": "active",
        "role": role,
        "username": f"u{sid}",
        "givenName": "Given",
        "familyName": f"Family{sid}",
        "email": f"{sid}@district.example",
        "identifier": f"id-{sid}",
        "orgs": [ref(o) for o in orgs],
        "password": "Password1-",
        "phone": "6031234567",
        **extra,
    }


def student(sid: str, pasecureid: str | None = "1234567890", **extra: Any) -> dict[str, Any]:
    metadata = extra.pop("metadata", {})
    if pasecureid is not None:
        metadata = {"PASECUREID": pasecureid, **metadata}
    extra.setdefault("grades", ["09"])
    return user(sid, "student", metadata=metadata, **extra)


def klass(sid: str, school: str = "sch-1", **extra: Any) -> dict[str, Any]:
    return {
        "sourcedId": sid,
        "status": "active",
        "title": f"Class {sid}",
        "classCode": f"C{sid}",
        "school": ref(school),
        "course": ref("crs-1", "course"),
        "terms": [ref("term-1", "academicSession")],
        "periods": ["3"],
        "subjects": ["Science"],
        **extra,
    }


def enrol(sid: str, cls: str, usr: str, role: str, primary: bool = False) -> dict[str, Any]:
    return {
        "sourcedId": sid,
        "status": "active",
        "class": ref(cls, "class"),
        "user": ref(usr, "user"),
        "school": ref("sch-1"),
        "role": role,
        "primary": primary,
    }


def tenant(**collections: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A small well-formed district; keyword arguments replace whole collections."""
    base: dict[str, list[dict[str, Any]]] = {
        "orgs": [
            org("dist-1", "district"),
            org("sch-1", metadata={"ncesId": "421899000001", "zip": "17101"}),
        ],
        "academicSessions": [
            {
                "sourcedId": "sy-1",
                "status": "active",
                "title": "2026-27",
                "type": "schoolYear",
                "schoolYear": "2027",
            },
            {
                "sourcedId": "term-1",
                "status": "active",
                "title": "Fall",
                "type": "semester",
                "schoolYear": "2027",
            },
        ],
        "courses": [{"sourcedId": "crs-1", "status": "active", "title": "Biology", "courseCode": "BIO"}],
        "users": [student("s1"), user("t1", "teacher"), user("c1", "administrator")],
        "demographics": [{"sourcedId": "s1", "status": "active", "birthDate": "2011-04-17", "sex": "female"}],
        "enrollments": [enrol("e1", "c1", "s1", "student"), enrol("e2", "c1", "t1", "teacher", True)],
        "classes": [klass("c1")],
    }
    base.update(collections)
    return base


def stored(data: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """What the fetch stage stores: every record minimized, people of other roles dropped."""
    out: dict[str, list[dict[str, Any]]] = {}
    for resource in Resource:
        kept = (minimize(resource, r) for r in data.get(resource.value, []))
        out[resource.value] = [r for r in kept if r is not None]
    return out


def records(data: Mapping[str, list[dict[str, Any]]]) -> list[Any]:
    pages = stored(data)
    return list(normalize_district(SOURCE_NAME, list(pages), lambda r: iter(pages[r]), DISTRICT))


def validate(data: Mapping[str, list[dict[str, Any]]]) -> tuple[CollectingSink, Any]:
    recs = records(data)
    sink = CollectingSink()

    def again() -> Iterator[Any]:
        return iter(recs)

    summary = validate_district(DISTRICT, again, sink, source_rules=source_rules(SOURCE_NAME))
    return sink, summary


def rules_of(sink: CollectingSink) -> set[str]:
    return {f.rule for f in sink.findings}


def by_id(sink: CollectingSink) -> dict[tuple[Kind, str], Any]:
    return {(kind, rec.id): rec for kind, rec in sink.records}


# --------------------------------------------------------------------------------- minimize


def test_minimize_keeps_only_what_the_product_uses() -> None:
    kept = minimize(Resource.USERS, student("s1", metadata={"favouriteColour": "blue", "zip": "17101"}))
    assert kept is not None
    assert "password" not in kept and "phone" not in kept
    assert kept["orgs"] == ["sch-1"]
    assert kept["metadata"] == {"PASECUREID": "1234567890", "zip": "17101"}
    demographics = minimize(Resource.DEMOGRAPHICS, {"sourcedId": "s1", "birthDate": "2011-04-17", "sex": "f"})
    assert demographics == {"sourcedId": "s1", "status": None, "birthDate": "2011-04-17"}


def test_people_of_roles_we_do_not_serve_are_never_stored() -> None:
    for role in ("parent", "guardian", "aide", "relative", "proctor", None):
        assert minimize(Resource.USERS, user("p1", role)) is None  # type: ignore[arg-type]
    assert minimize(Resource.USERS, user("a1", "Administrator")) is not None


# ------------------------------------------------------------------------------ the mapping


def test_a_well_formed_tenant_is_accepted_whole() -> None:
    sink, summary = validate(tenant())
    assert not summary.empty
    got = by_id(sink)
    district = got[(Kind.DISTRICT, DISTRICT)]  # keyed by the district id, like a Clever district
    assert isinstance(district, DistrictRecord) and district.name == "Org dist-1"
    assert got[(Kind.SCHOOL, "sch-1")].nces_id == "421899000001"
    s1 = got[(Kind.STUDENT, "s1")]
    assert (s1.state_id, s1.birth_date, s1.graduation_year, s1.schools) == (
        "1234567890",
        "2011-04-17",
        "2030",
        ("sch-1",),
    )
    section = got[(Kind.SECTION, "c1")]
    assert (section.students, section.teachers, section.term, section.course) == (
        ("s1",),
        ("t1",),
        "term-1",
        "crs-1",
    )
    assert {(Kind.TEACHER, "t1"), (Kind.TERM, "term-1"), (Kind.TERM, "sy-1"), (Kind.COURSE, "crs-1")} <= set(
        got
    )
    assert rules_of(sink) == set()


def test_no_district_org_rejects_the_district_with_primary_org_missing() -> None:
    sink, summary = validate(tenant(orgs=[org("sch-1", metadata={"ncesId": "421899000001", "zip": "17101"})]))
    assert summary.empty and summary.rejected_by == "district.primary_org.missing"
    assert not sink.records
    [finding] = sink.findings
    assert finding.rule == "district.primary_org.missing" and finding.record_type == "district"
    assert "primary org" in summary.nothing_imported_because()


def test_nces_id_from_sourced_id_identifier_or_metadata_in_that_order() -> None:
    orgs = [
        org("dist-1", "district"),
        org("421899000011", metadata={"nces": "421899000099"}),  # the sourcedId itself
        org("sch-b", identifier="421899000012"),
        org("sch-c", identifier="BLDG-3", metadata={"NCES_School_ID": "421899000013"}),
        org("sch-d", identifier="BLDG-4"),  # absent
        org("sch-e", metadata={"nces": "4218990"}),  # the district's id, 7 digits
    ]
    people = [student(f"s{i}", f"12345678{i:02d}", orgs=(o["sourcedId"],)) for i, o in enumerate(orgs[1:])]
    sink, _ = validate(tenant(orgs=orgs, users=[*people, user("t1", "teacher")]))
    recs = {r.id: r for r in records(tenant(orgs=orgs))}
    assert [recs[i].nces_id for i in ("421899000011", "sch-b", "sch-c", "sch-d", "sch-e")] == [
        "421899000011",
        "421899000012",
        "421899000013",
        None,
        "4218990",
    ]
    school_rules = {(f.source_id, f.rule) for f in sink.findings if f.record_type == "school"}
    assert ("sch-d", "school.nces_id.missing") in school_rules
    assert ("sch-e", "school.nces_id.format") in school_rules


def test_pasecureid_is_read_in_any_key_case() -> None:
    users = [
        student("s1", None, metadata={"pasecureid": "1000000001"}),
        student("s2", None, metadata={"PaSecureId": "1000000002"}),
        student("s3", None, metadata={"PASECUREID": 1000000003}),
        user("t1", "teacher"),
    ]
    recs = {r.id: r for r in records(tenant(users=users)) if isinstance(r, PersonRecord)}
    assert [recs[s].state_id for s in ("s1", "s2", "s3")] == ["1000000001", "1000000002", "1000000003"]


def test_pasecureid_not_shared_at_all_is_one_district_error_besides_each_student() -> None:
    users = [student("s1", None), student("s2", None), user("t1", "teacher")]
    sink, _ = validate(tenant(users=users))
    district_level = [f for f in sink.findings if f.rule == "student.state_id.not_shared"]
    assert len(district_level) == 1 and district_level[0].record_type == "district"
    assert "PASECUREID" in district_level[0].message
    assert sum(f.rule == "student.state_id.missing" for f in sink.findings) == 2
    # One student carrying the field (even empty) means the field is shared: no district error.
    sink, _ = validate(tenant(users=[student("s1", ""), student("s2", None), user("t1", "teacher")]))
    assert "student.state_id.not_shared" not in rules_of(sink)


def test_short_and_duplicated_pasecureids_get_the_existing_rules() -> None:
    users = [
        student("s1", "12345"),
        student("s2", "1111111111"),
        student("s3", "1111111111"),
        user("t1", "teacher"),
    ]
    sink, _ = validate(tenant(users=users))
    assert {"student.state_id.format", "student.state_id.duplicate"} <= rules_of(sink)


def test_birth_date_from_demographics_and_graduation_year_from_metadata_or_grade() -> None:
    users = [
        student("s1", "1000000001", metadata={"Graduation_Year": "2031"}),
        student("s2", "1000000002", metadata={"graduationYear": "2029"}),
        student("s3", "1000000003", metadata={"YEAROFGRADUATION": "2028"}),
        student("s4", "1000000004", grades=["KG"]),
        student("s5", "1000000005", grades=["12"]),
        user("t1", "teacher"),
    ]
    demographics = [
        {"sourcedId": "s1", "status": "active", "birthDate": "2010-01-02"},
        {"sourcedId": "s2", "status": "active", "birthDate": "2010-01-03T00:00:00.000Z"},
        {"sourcedId": "t1", "status": "active", "birthDate": "1980-05-05"},
    ]
    recs = {
        r.id: r
        for r in records(tenant(users=users, demographics=demographics))
        if isinstance(r, PersonRecord)
    }
    assert [recs[s].graduation_year for s in ("s1", "s2", "s3", "s4", "s5")] == [
        "2031",
        "2029",
        "2028",
        "2039",
        "2027",
    ]
    assert [recs[s].birth_date for s in ("s1", "s2", "s3")] == ["2010-01-02", "2010-01-03", None]
    assert recs["t1"].birth_date is None  # an adult's date of birth is never kept on a record
    assert derived_graduation_year("PK", 2027) == "2040"
    assert derived_graduation_year("13", 2027) is None and derived_graduation_year("09", None) is None


def test_zip_from_user_metadata_else_the_school() -> None:
    orgs = [
        org("dist-1", "district"),
        org("sch-1", metadata={"ncesId": "421899000001", "postalCode": "17101-1234"}),
    ]
    users = [
        student("s1", "1000000001", metadata={"ZIP": "19103"}),
        student("s2", "1000000002"),
        student("s3", "1000000003", metadata={"zip": "1910"}),
        user("t1", "teacher"),
    ]
    recs = {r.id: r for r in records(tenant(orgs=orgs, users=users)) if isinstance(r, PersonRecord)}
    assert [recs[s].zip for s in ("s1", "s2", "s3")] == ["19103", "17101", "17101"]
    assert recs["t1"].zip is None


def test_teachers_staff_and_district_admins() -> None:
    users = [
        student("s1"),
        user("t1", "teacher"),
        user("t2", "teacher"),  # teaches nothing
        user("c1", "administrator"),  # a counselor of the school
        user("a1", "administrator", orgs=("dist-1",)),  # district office only
    ]
    recs = {r.id: r for r in records(tenant(users=users)) if isinstance(r, PersonRecord)}
    assert [recs[i].role for i in ("t1", "c1", "a1")] == [
        SourceRole.TEACHER,
        SourceRole.STAFF,
        SourceRole.DISTRICT_ADMIN,
    ]
    sink, _ = validate(tenant(users=users))
    got = by_id(sink)
    assert {(Kind.STAFF, "c1"), (Kind.STAFF, "a1"), (Kind.TEACHER, "t2")} <= set(got)
    assert [f.source_id for f in sink.findings if f.rule == "teacher.no_sections"] == ["t2"]


def test_a_teacher_and_an_administrator_account_of_one_person_are_one_account() -> None:
    users = [
        student("s1"),
        user("t1", "teacher", email="Pat.Lee@district.example"),
        user("z9", "administrator", email="pat.lee@DISTRICT.example"),
        user("t2", "teacher", username="sam"),
        user("a2", "administrator", username="SAM"),
    ]
    enrollments = [
        enrol("e1", "c1", "s1", "student"),
        enrol("e2", "c1", "z9", "teacher", True),  # taught under the administrator account
    ]
    sink, summary = validate(tenant(users=users, enrollments=enrollments))
    adults = [(k, r.id) for k, r in sink.records if k in (Kind.TEACHER, Kind.STAFF)]
    assert sorted(adults) == [(Kind.STAFF, "t2"), (Kind.TEACHER, "t1")]
    assert by_id(sink)[(Kind.SECTION, "c1")].teachers == ("t1",)
    assert sorted(f.source_id for f in sink.findings if f.rule == "user.multiple_account_types") == [
        "t1",
        "t2",
    ]
    assert summary.records["staff"].merged == 1 and summary.records["teacher"].merged == 1


def test_a_student_sharing_an_email_with_an_adult_stays_a_separate_person_with_a_finding() -> None:
    # Before issue 21 the two were joined whatever their roles: the student's account absorbed the
    # teacher's, and the teacher disappeared (user.student_and_adult).
    users = [
        student("s1", email="kid@district.example"),
        user("t1", "teacher"),
        user("t9", "teacher", email="KID@district.example"),
    ]
    sink, _ = validate(tenant(users=users))
    assert {(Kind.STUDENT, "s1"), (Kind.TEACHER, "t9")} <= set(by_id(sink))
    assert "user.student_and_adult" not in rules_of(sink)
    [finding] = [f for f in sink.findings if f.rule == "user.shares_address_with_student"]
    assert (finding.source_id, finding.record_type, finding.field) == ("t9", "teacher", "email")
    assert "kid@" not in finding.message.lower()  # the finding never quotes the address


def test_students_sharing_a_placeholder_or_family_address_are_never_joined() -> None:
    # 10 students with one SIS placeholder, two siblings with the family's: each stays a student.
    users = [student(f"s{i}", f"10000000{i:02d}", email="noemail@district.example") for i in range(10)]
    users += [
        student("sib1", "2000000001", email="family@home.example", username="fam"),
        student("sib2", "2000000002", email="Family@Home.example", username="FAM"),
        user("t1", "teacher"),
        user("c1", "administrator"),
    ]
    enrollments = [enrol(f"e{u['sourcedId']}", "c1", u["sourcedId"], "student") for u in users[:12]]
    sink, summary = validate(
        tenant(users=users, enrollments=[*enrollments, enrol("et", "c1", "t1", "teacher")])
    )
    assert summary.imported[Kind.STUDENT] == 12
    assert len(by_id(sink)[(Kind.SECTION, "c1")].students) == 12
    assert not {"user.accounts_joined", "user.student_and_adult"} & rules_of(sink)


def test_every_join_of_adult_accounts_is_a_finding() -> None:
    users = [
        student("s1"),
        user("t1", "teacher", email="pat@district.example"),
        user("t2", "teacher", email="PAT@district.example"),  # the same role twice
        user("c1", "administrator"),
    ]
    sink, summary = validate(tenant(users=users))
    [joined] = [f for f in sink.findings if f.rule == "user.accounts_joined"]
    assert joined.source_id == "t1" and "t1, t2" in joined.message and "e-mail address" in joined.message
    assert summary.records["teacher"].merged == 1


def test_sections_list_the_primary_teacher_first_and_their_students() -> None:
    users = [student("s1"), student("s2", "1000000002"), user("t1", "teacher"), user("t2", "teacher")]
    enrollments = [
        enrol("e1", "c1", "t2", "teacher"),
        enrol("e2", "c1", "s2", "student"),
        enrol("e3", "c1", "t1", "teacher", True),
        enrol("e4", "c1", "s1", "student"),
        enrol("e5", "c1", "s1", "student"),  # listed twice
        {**enrol("e6", "c1", "x1", "student"), "status": "tobedeleted"},
    ]
    [section] = [
        r for r in records(tenant(users=users, enrollments=enrollments)) if isinstance(r, SectionRecord)
    ]
    assert section.teachers == ("t1", "t2") and section.students == ("s2", "s1")
    assert (section.period, section.subject, section.section_number) == ("3", "Science", "Cc1")


def test_tobedeleted_is_not_shared() -> None:
    deleted = {"status": "tobedeleted"}
    data = tenant(
        orgs=[
            org("dist-1", "district"),
            org("sch-1", metadata={"ncesId": "421899000001"}),
            {**org("sch-2"), **deleted},
        ],
        users=[student("s1"), {**student("s2", "1000000002"), **deleted}, user("t1", "teacher")],
        classes=[klass("c1"), {**klass("c2"), **deleted}],
        courses=[{"sourcedId": "crs-1", "status": "tobedeleted", "title": "Old"}],
    )
    ids = {r.id for r in records(data)}
    assert {"sch-1", "s1", "c1"} <= ids and not ids & {"sch-2", "s2", "c2", "crs-1"}


def test_any_sourced_id_up_to_255_characters_works_encoded_when_not_key_safe() -> None:
    # Before issue 21 a `.` or `:` in a sourcedId, or one longer than 64, rejected the record, and
    # a rejected school took every student with it.
    school = "urn:district:school.0001"
    teacher = "t 1/x"
    orgs = [org("dist-1", "district"), org(school, metadata={"ncesId": "421899000001"})]
    users = [
        student("s" * 200, orgs=(school,), identifier="S1", familyName="Long"),
        user(teacher, "teacher", orgs=(school,)),
        user("c1", "administrator", orgs=(school,)),
    ]
    enrollments = [enrol("e1", "c.1", "s" * 200, "student"), enrol("e2", "c.1", teacher, "teacher", True)]
    sink, summary = validate(
        tenant(orgs=orgs, users=users, enrollments=enrollments, classes=[klass("c.1", school=school)])
    )
    assert not summary.empty and "record.id.invalid" not in rules_of(sink)
    got = by_id(sink)
    school_id = record_id(school)
    assert school_id.startswith("or-") and len(school_id) == 43 and (Kind.SCHOOL, school_id) in got
    [section] = [r for k, r in sink.records if k is Kind.SECTION]
    assert section.school == school_id and section.teachers == (record_id(teacher),)
    assert section.students == (record_id("s" * 200),)
    assert record_id("plain-id_1") == "plain-id_1"  # ids of the key-safe form are kept as they are
    assert record_id(record_id(school)) != record_id(school)  # never another id's encoding
    too_long = validate(
        tenant(users=[student("s1"), user("t" * 256, "teacher"), user("c1", "administrator")])
    )[0]
    assert [f.field for f in too_long.findings if f.rule == "record.id.invalid"] == ["id"]


def test_schools_records_and_sections_are_the_common_types() -> None:
    recs = records(tenant())
    assert {type(r) for r in recs} >= {DistrictRecord, SchoolRecord, PersonRecord, SectionRecord}


# --------------------------------------------------------------------- providers' habits (issue 21)


def test_disabled_and_inactive_users_are_not_shared_and_counted_once() -> None:
    users = [
        student("s1"),
        {**student("s2", "1000000002"), "enabledUser": "false"},
        {**student("s3", "1000000003"), "enabledUser": False},
        {**student("s4", "1000000004"), "status": "inactive"},
        {**user("t2", "teacher"), "enabledUser": "FALSE"},
        {**student("s5", "1000000005"), "enabledUser": "true"},
        user("t1", "teacher"),
        user("c1", "administrator"),
    ]
    sink, _ = validate(tenant(users=users))
    people = {r.id for k, r in sink.records if k in (Kind.STUDENT, Kind.TEACHER)}
    assert {"s1", "s5", "t1"} <= people and not people & {"s2", "s3", "s4", "t2"}
    [note] = [f for f in sink.findings if f.rule == "user.not_active"]
    assert (
        note.record_type == "district" and "3 student(s)" in note.message and "1 teacher(s)" in note.message
    )


def test_the_pa_secure_id_from_any_key_spelling_then_from_user_ids() -> None:
    users = [
        student("s1", None, metadata={" PASecureID ": "1000000001"}),
        student("s2", None, userIds=[{"type": "StateID", "identifier": "1000000002"}]),
        student("s3", None, userIds=[{"type": "pasecureid", "identifier": 1000000003}]),
        student("s4", None, userIds=[{"type": "LDAP", "identifier": "x"}]),
        user("t1", "teacher"),
    ]
    recs = {r.id: r for r in records(tenant(users=users)) if isinstance(r, PersonRecord)}
    assert [recs[s].state_id for s in ("s1", "s2", "s3", "s4")] == [
        "1000000001",
        "1000000002",
        "1000000003",
        None,
    ]
    stored_user = stored(tenant(users=users))["users"][1]
    assert "userIds" not in stored_user and stored_user["stateIds"] == ["1000000002"]


def test_not_shared_names_the_metadata_keys_students_carry_never_their_values() -> None:
    users = [
        student("s1", None, metadata={"PA_State_ID": "1000000001", "zip": "19103"}),
        student("s2", None, metadata={"studentNumber": "77"}),
        user("t1", "teacher"),
    ]
    sink, _ = validate(tenant(users=users))
    [finding] = [f for f in sink.findings if f.rule == "student.state_id.not_shared"]
    assert "PA_State_ID, studentNumber, zip" in finding.message
    assert "1000000001" not in finding.message and "77" not in finding.message


def test_an_explicit_nces_id_beats_a_12_digit_sis_id() -> None:
    # Before issue 21 the 12-digit sourcedId won: with a licence list the school was "not licensed".
    orgs = [org("dist-1", "district"), org("800000000003", metadata={" NCESID ": "421899000003"})]
    recs = {r.id: r for r in records(tenant(orgs=orgs))}
    assert recs["800000000003"].nces_id == "421899000003"


def test_the_graduation_year_comes_from_the_school_year_in_progress() -> None:
    sessions = [
        {
            "sourcedId": "sy-27",
            "status": "active",
            "type": "schoolYear",
            "schoolYear": "2027",
            "startDate": "2026-08-24",
            "endDate": "2027-06-11",
        },
        {
            "sourcedId": "sy-28",
            "status": "active",
            "type": "schoolYear",
            "schoolYear": "2028",
            "startDate": "2027-08-23",
            "endDate": "2028-06-09",
        },  # next year's calendar, published early
    ]
    users = [student("s1", grades=["12"]), user("t1", "teacher")]
    data = stored(tenant(users=users, academicSessions=sessions))

    def grad(today: date) -> str | None:
        recs = normalize_district(SOURCE_NAME, list(data), lambda r: iter(data[r]), DISTRICT, today)
        return next(r.graduation_year for r in recs if isinstance(r, PersonRecord) and r.id == "s1")

    assert grad(date(2026, 12, 5)) == "2027"
    assert grad(date(2027, 7, 15)) == "2027"  # summer: the year that began last
    assert grad(date(2027, 9, 1)) == "2028"


def test_demographics_not_shared_is_one_district_warning_not_one_per_student() -> None:
    users = [student("s1"), student("s2", "1000000002"), user("t1", "teacher"), user("c1", "administrator")]
    sink, summary = validate(tenant(users=users, demographics=[]))
    assert summary.imported[Kind.STUDENT] == 2
    assert [f.record_type for f in sink.findings if f.rule == "district.birth_dates.not_shared"] == [
        "district"
    ]
    assert "student.birth_date.missing" not in rules_of(sink)


def test_a_district_sharing_no_administrator_or_counselor_is_warned() -> None:
    sink, _ = validate(tenant(users=[student("s1"), user("t1", "teacher")]))
    [finding] = [f for f in sink.findings if f.rule == "district.staff.not_shared"]
    assert finding.record_type == "district"
    assert "district.staff.not_shared" not in rules_of(validate(tenant())[0])
