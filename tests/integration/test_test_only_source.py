"""A source added by its own package and one registration runs through the whole night (issue 20).

Abacus (tests/fakes/abacus: in-memory records, its profile and its wording) is registered for
this test only, beside Clever, and two nights run through the real state machine (LocalNight:
moto's engine, the handlers in process, SNS): its district is discovered, fetched, validated
(its report in Abacus's words) and imported into the roster table like any other, and its
alerts speak of Abacus. Nothing outside its package and the `register` call knows it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rostersync.settings import get_settings
from rostersync.sources import register, unregister
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from tests.fakes.abacus.profile import make_profile
from tests.integration.alert_inbox import AlertInbox
from tests.integration.invariants import snapshot

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CLEVER = DistrictSpec("Potter Clever SD", seed=9511, schools=1, students=6, teachers=2, sections=2)
DISTRICT = "abacus-4299901"
STUDENTS = [
    {
        "id": f"st-{n}",
        "role": "student",
        "name": {"first": f"Pat{n}", "last": "Abacus"},
        "state_id": f"{9100000000 + n}",
        "grade": "10",
        "graduation_year": "2029",
        "birth_date": "2011-04-02",
        "zip": "16901",
        "schools": ["sch-1"],
    }
    for n in range(1, 11)
]
RECORDS: dict[str, list[dict[str, Any]]] = {
    "districts": [{"id": DISTRICT, "name": "Abacus Valley SD", "nces_id": "4299901"}],
    "schools": [{"id": "sch-1", "name": "Abacus High", "nces_id": "429990100001"}],
    "people": [
        *STUDENTS,
        # No PA Secure ID: student.state_id.missing, worded by Abacus.
        {"id": "st-11", "role": "student", "name": {"first": "Lee", "last": "Abacus"}, "schools": ["sch-1"]},
        {
            "id": "t-1",
            "role": "teacher",
            "name": {"first": "Ada", "last": "Count"},
            "email": "ada@abacus.example.org",
            "schools": ["sch-1"],
        },
    ],
    "terms": [{"id": "term-1", "name": "2026-27", "start_date": "2026-08-24", "end_date": "2027-06-10"}],
    "courses": [{"id": "course-1", "name": "Algebra I"}],
    "sections": [
        {
            "id": "sec-1",
            "name": "Algebra I - 1",
            "school": "sch-1",
            "course": "course-1",
            "term": "term-1",
            "teachers": ["t-1"],
            "students": [s["id"] for s in STUDENTS],
        }
    ],
}
OTHER_SOURCES = re.compile(r"clever|classlink|oneroster", re.IGNORECASE)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(CLEVER,))) as server:
        yield server


@pytest.fixture
def abacus() -> Iterator[dict[str, dict[str, list[dict[str, Any]]]]]:
    """The whole registration of a new source: its profile, for as long as the test runs."""
    districts = {DISTRICT: copy.deepcopy(RECORDS)}
    register(make_profile(districts))
    try:
        yield districts
    finally:
        unregister("abacus")


def test_a_test_only_source_runs_through_the_whole_night(
    functions: LocalFunctions, abacus: dict[str, dict[str, list[dict[str, Any]]]]
) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    night = LocalNight(functions).run()
    assert night.status == "SUCCEEDED", night.error
    assert sorted(night.districts) == sorted([CLEVER.id, DISTRICT])
    ours = night.districts[DISTRICT]
    assert ours.fetch["source"] == "abacus" and ours.fetch["status"] == "complete"
    assert ours.stages["validate"]["status"] == "validated"
    assert ours.stages["validate"]["rule_counts"]["student.state_id.missing"] == 1
    assert ours.stages["import"]["status"] == "succeeded"
    kinds = {sk.split("#", 1)[0] for sk in snapshot(get_settings().roster_table, DISTRICT).items}
    assert {"DISTRICT", "SCHOOL", "STUDENT", "TEACHER", "SECTION", "TERM", "COURSE"} <= kinds

    s3 = boto3.client("s3")
    report = s3.get_object(Bucket=get_settings().raw_bucket, Key=ours.stages["validate"]["report_key"])
    html = report["Body"].read().decode("utf-8")
    assert "How to fix in Abacus" in html and "Abacus district id" in html
    assert not OTHER_SOURCES.findall(html)
    [findings] = [a for a in inbox.receive() if a.district_id == DISTRICT]
    assert findings.event_type == "validation_findings" and "What to change in Abacus" in findings.body
    assert not OTHER_SOURCES.findall(findings.body)

    # The next night three students are no longer shared: the import's alert (an archive, or a
    # hold of it) names the district and speaks of Abacus.
    abacus[DISTRICT]["people"] = [
        p for p in abacus[DISTRICT]["people"] if p["id"] not in {"st-1", "st-2", "st-3"}
    ]
    again = LocalNight(functions).run()
    assert again.districts[DISTRICT].stages["import"]["status"] in ("succeeded", "held")
    [archive] = [
        a
        for a in inbox.receive()
        if a.district_id == DISTRICT and a.event_type in ("records_archived", "deletions_held")
    ]
    assert "Abacus Valley SD" in archive.subject and "Abacus" in archive.body
    assert not OTHER_SOURCES.findall(archive.body)
