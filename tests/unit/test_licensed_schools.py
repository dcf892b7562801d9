"""Licensed schools in validation (issue 15): only licensed schools are imported, the two findings."""

from __future__ import annotations

from rostersync.records import Kind
from rostersync.sources import profile
from rostersync.validate.rules import Severity, fix_advice
from rostersync.validate.stage import RejectedRecords
from tests.factories import (
    accepted,
    accepted_ids,
    admin,
    assert_balanced,
    district,
    rules_of,
    run,
    school,
    section,
    staff,
    student,
    teacher,
)

HIGH, ELEM = "420000100001", "420000100002"


def _district() -> list:
    return [
        district(),
        school("high", "Lincoln High", HIGH),
        school("elem", "Oak Elementary", ELEM),
        teacher("t_high", ("high",)),
        teacher("t_elem", ("elem",)),
        teacher("t_both", ("elem", "high")),
        staff("st_elem", ("elem",)),
        admin("adm"),
        student("s_high", ("high",)),
        student("s_elem", ("elem",)),
        student("s_both", ("elem", "high")),
        section("sec_high", "high", ("t_high",), ("s_high",)),
        section("sec_elem", "elem", ("t_elem",), ("s_elem",)),
    ]


def test_without_a_licence_every_shared_school_is_imported() -> None:
    summary, sink = run(_district())
    assert {"high", "elem"} <= set(accepted_ids(sink))
    assert "school.not_licensed" not in rules_of(sink)
    assert summary.licensed_schools is None


def test_only_licensed_schools_and_their_records_are_imported() -> None:
    summary, sink = run(_district(), licensed={HIGH})
    ids = accepted_ids(sink)
    assert {"high", "t_high", "t_both", "s_high", "s_both", "sec_high", "adm"} <= set(ids)
    assert not {"elem", "t_elem", "st_elem", "s_elem", "sec_elem"} & set(ids)
    # a person with some licensed schools keeps only those
    assert accepted(sink, "t_both").schools == ("high",)
    assert accepted(sink, "s_both").schools == ("high",)
    # one info finding, on the school; none per record it held
    assert rules_of(sink).count("school.not_licensed") == 1
    (finding,) = [f for f in sink.findings if f.rule == "school.not_licensed"]
    assert finding.source_id == "elem" and finding.severity is Severity.INFO
    assert not [f for f in sink.findings if f.source_id in {"t_elem", "st_elem", "s_elem", "sec_elem"}]
    assert summary.records["student"].excluded == 1 and summary.records["school"].excluded == 1
    assert summary.records["teacher"].excluded == 1 and summary.records["staff"].excluded == 1
    assert summary.records["section"].excluded == 1
    assert_balanced(summary)
    elem = next(s for s in summary.schools if s.school_id == "elem")
    assert not elem.licensed and not elem.accepted
    assert summary.licensed_schools == [HIGH]


def test_excluded_records_are_not_rejected_so_the_import_archives_them() -> None:
    """A school leaving the licence: its records are neither accepted nor kept by a rejection, so
    the import archives them like records no longer shared (under the safeguard)."""
    _, sink = run(_district(), licensed={HIGH})
    rejected = RejectedRecords()
    for f in sink.findings:
        if f.severity is Severity.ERROR and f.record_type != "district":
            rejected.add(f)
    assert not {"elem", "s_elem", "t_elem", "sec_elem"} & set(rejected.as_json()["ids"])


def test_a_licensed_school_that_is_not_shared_is_an_error_on_the_district() -> None:
    missing = "420000199999"
    _, sink = run(_district(), licensed={HIGH, ELEM, missing})
    (finding,) = [f for f in sink.findings if f.rule == "school.licensed_not_shared"]
    assert finding.record_type == "district" and finding.severity is Severity.ERROR
    assert missing in finding.message
    # it rejects nothing: everything shared is imported
    assert {"high", "elem", "s_elem"} <= set(accepted_ids(sink))
    for source, name in (("clever", "Clever"), ("oneroster", "ClassLink")):
        fix = fix_advice("school.licensed_not_shared", profile(source).wording)
        assert name in fix and "sharing rules" in fix


def test_a_student_of_an_unlicensed_school_is_not_judged_for_its_data() -> None:
    records = [*_district(), student("s_bad", ("elem",), state_id="12")]
    summary, sink = run(records, licensed={HIGH})
    assert rules_of(sink, "s_bad") == []
    assert summary.records["student"].excluded == 2
    assert Kind.STUDENT in {k for k, _ in sink.records}
