"""findings.csv, summary.json and report.html."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from html import escape as html_escape

from rostersync.validate.reports.findings_csv import FindingsCsvWriter, write_findings_csv
from rostersync.validate.reports.report_html import render_html
from rostersync.validate.reports.summary_json import write_summary_json
from rostersync.validate.rules import RULES
from rostersync.validate.summary import Finding, Summary
from tests.factories import base, district, run, school, staff, student, teacher

RUN = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
HEADER = "district_id,record_type,source_id,sis_id,name,rule,severity,field,message"


def _finding(**kw) -> Finding:
    data = {
        "district_id": "d",
        "record_type": "student",
        "source_id": "s1",
        "sis_id": "42",
        "name": "Lee, Ann",
        "rule": "student.state_id.missing",
        "severity": "error",
        "field": "state_id",
        "message": "No PA Secure ID.",
    }
    return Finding.model_validate(data | kw)


def test_csv_starts_with_bom_and_header_and_has_one_row_per_finding():
    out = io.StringIO()
    n = write_findings_csv([_finding(), _finding(source_id="s2")], out)
    text = out.getvalue()
    assert n == 2
    assert text.startswith("\ufeff" + HEADER + "\r\n")
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 3
    assert rows[1][2] == "s1"


def test_csv_writer_is_incremental():
    out = io.StringIO()
    writer = FindingsCsvWriter(out)
    assert out.getvalue().count("\n") == 1
    writer.finding(_finding())
    assert out.getvalue().count("\n") == 2


def test_csv_guards_against_formula_injection():
    out = io.StringIO()
    write_findings_csv(
        [_finding(name='=HYPERLINK("http://evil")', sis_id="+1", message="@SUM(A1)", field="-2")], out
    )
    row = list(csv.reader(io.StringIO(out.getvalue().removeprefix("\ufeff"))))[1]
    assert row[4] == '\'=HYPERLINK("http://evil")'
    assert row[3] == "'+1"
    assert row[7] == "'-2"
    assert row[8] == "'@SUM(A1)"


def test_csv_keeps_unicode_names():
    out = io.StringIO()
    write_findings_csv([_finding(name="مريم, 🎓 Zoë")], out)
    assert "مريم, 🎓 Zoë" in out.getvalue()


def _district_with_problems() -> Summary:
    records = [
        district("<b>Evil</b> SD"),
        *base()[1:],
        school("sch2", "Annex", "4200001"),
        student("s2", ["sch2"]),
        student("x", first="<script>alert(1)</script>", last="O'Brien & Sons", state_id="123"),
        teacher("t9"),
        staff("st1", email=None),
    ]
    summary, _ = run(records)
    return summary


def test_summary_json_has_types_rules_and_schools():
    out = io.StringIO()
    write_summary_json(_district_with_problems(), out)
    data = json.loads(out.getvalue())
    assert (
        data["records"]["student"]["fetched"]
        == data["records"]["student"]["accepted"] + data["records"]["student"]["rejected"]
    )
    assert set(data["rules"]) == set(RULES)
    assert data["rules"]["school.nces_id.format"]["count"] == 1
    (annex,) = [s for s in data["schools"] if s["school_id"] == "sch2"]
    assert annex["name"] == "Annex"
    assert annex["nces_id"] == "4200001"
    assert annex["students"] == {"shared": 1, "accepted": 0, "rejected": 1}


def test_html_escapes_names_and_has_no_scripts():
    html = render_html(_district_with_problems(), run_time=RUN)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Evil&lt;/b&gt; SD" in html
    assert "<link" not in html and "src=" not in html


def test_html_has_title_headline_per_school_table_and_fix_advice():
    summary = _district_with_problems()
    html = render_html(summary, run_time=RUN)
    assert (
        "<title>Smart Futures roster sync: &lt;b&gt;Evil&lt;/b&gt; SD (2026-11-28 02:00 UTC)</title>" in html
    )
    assert f"<strong>{summary.imported_total}</strong> records imported" in html
    assert f"<strong>{summary.needs_attention}</strong> need attention" in html
    assert '<table id="per-school">' in html
    assert html.count('class="fix"') == sum(1 for r in summary.rules.values() if r.count)
    assert "How to fix in Clever" in html
    assert "10 digits" in html  # the state id rule's advice


def test_html_lists_errors_before_warnings():
    html = render_html(_district_with_problems(), run_time=RUN)
    first_warning = html.index('class="rule warning"')
    last_error = html.rindex('class="rule error"')
    assert last_error < first_warning


def test_html_never_shows_state_id_values():
    records = [
        *base(),
        student("s2", state_id="987654321"),
        student("s3", state_id="5555555555"),
        student("s4", state_id="5555555555"),
    ]
    summary, _ = run(records)
    html = render_html(summary, run_time=RUN)
    assert "987654321" not in html and "5555555555" not in html


def test_html_for_clean_district_says_nothing_needs_attention():
    summary, _ = run(base())
    html = render_html(summary, run_time=RUN)
    assert "<strong>0</strong> need attention" in html
    assert 'class="fix"' not in html


def test_summary_json_holds_counts_and_no_people() -> None:
    # Issue 14: SECURITY.md says summary.json holds counts only; the rule examples (names, SIS
    # ids of people) stay in report.html, which is built from the in-memory summary.
    summary = _district_with_problems()
    people = {
        (ex.name, ex.sis_id)
        for r in summary.rules.values()
        for ex in r.examples
        if ex.record_type in ("student", "teacher", "staff", "district_admin")
    }
    assert any(name for name, _ in people)
    out = io.StringIO()
    write_summary_json(summary, out)
    text = out.getvalue()
    for name, sis_id in people:
        for value in (name, sis_id):
            if value:
                assert json.dumps(value)[1:-1] not in text, value
    assert all("examples" not in r for r in json.loads(text)["rules"].values())
    html = render_html(summary, run_time=RUN)
    assert any(name and html_escape(name) in html for name, _ in people)  # the report still shows them


def test_the_report_names_the_districts_own_source():
    clever = render_html(_district_with_problems(), run_time=RUN)
    assert "How to fix in Clever" in clever and "Clever district id" in clever
    classlink = render_html(
        _district_with_problems().model_copy(update={"source": "oneroster"}), run_time=RUN
    )
    assert "How to fix in ClassLink" in classlink and "ClassLink district id" in classlink
    assert "How to fix in Clever" not in classlink and "in Clever are picked up" not in classlink
