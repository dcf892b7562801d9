"""One roster through Clever and through OneRoster, three ways, in one night (issue 24, "Done when").

A generated Clever district, and the same roster served by the OneRoster sandbox
(`sandbox/oneroster_from_clever.py`: the same ids, people, schools and classes) as three tenants: 1.1
signed with OAuth 1.0a, 1.1 over OAuth 2.0, and 1.2 over OAuth 2.0 (whose tokens die in the middle
of the fetch). One night through the state machine; then, district by district, the roster items
the application reads and the findings the district is shown must be those of the Clever district,
gaps included. What no provider's roster can make equal is listed here, with the reason.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.config import Gaps
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from rostersync_cli.sandbox.oneroster_from_clever import as_oneroster, ceds_grade
from tests.integration.conftest import connect_pipeline
from tests.integration.invariants import snapshot

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ROSTER = DistrictSpec(
    "Clearfield Area SD",
    seed=2404,
    schools=3,
    students=48,
    teachers=6,
    counselors=1,
    admins=1,
    other_staff=1,
    sections=6,
    courses=4,
    gaps=Gaps(
        missing_student_state_id=2,
        short_student_state_id=1,
        padded_student_state_id=1,
        duplicate_student_state_id=1,
        student_without_birth_date=1,
        student_without_zip=1,
        missing_school_nces_id=1,
        teacher_without_email=1,
        section_without_teacher=1,
        counselor_shared_as_teacher=1,
    ),
)
SIGNED = TenantSpec("4240401", "Clearfield Area SD", roster=ROSTER)
BEARER = TenantSpec("4240402", "Clearfield Area SD", roster=ROSTER, auth="oauth2")
V1P2 = TenantSpec("4240403", "Clearfield Area SD", roster=ROSTER, auth="oauth2", version="1.2")
TENANTS = (SIGNED, BEARER, V1P2)

# Attributes that differ by provider and why; everything else of every item must be equal.
NOT_COMPARED = {
    # bookkeeping: the moment, the run, the hash (which covers the district id), and the PA Secure
    # ID's trust, which goes to whichever district imported the shared ids first
    "content_hash",
    "updated_at",
    "last_changed_run",
    "state_id_trusted",
    # Clever has fields OneRoster 1.1 and 1.2 do not: school number and state school id, grade
    # range, staff title and department; and it numbers people and sections apart from their SIS id
    "school_number",
    "school_state_id",
    "low_grade",
    "high_grade",
    "title",
    "department",
    "local_number",
    "section_number",
}
# Clever shares staff without an SIS id (a `staff_id` only, kept as local_number); OneRoster's
# administrators carry their `identifier`.
NOT_COMPARED_FOR = {"STAFF": {"sis_id"}}


@pytest.fixture
def world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[OneRosterSandbox]:
    with (
        CleverSandbox(SandboxConfig(districts=(ROSTER,))) as clever,
        OneRosterSandbox(list(TENANTS)) as oneroster,
    ):
        connect_pipeline(monkeypatch, clever, ONEROSTER_BACKOFF_FACTOR="0.01")
        boto3.client("secretsmanager").put_secret_value(
            SecretId=get_settings().oneroster_secret_id, SecretString=json.dumps(oneroster.secret_value())
        )
        parameters.clear_caches()
        yield oneroster


def _product_view(district_id: str) -> dict[str, dict[str, Any]]:
    """The district's roster items as the application reads them, keyed by sort key, the district's
    id replaced, grades compared as numbers, term dates as dates."""
    out: dict[str, dict[str, Any]] = {}
    for sk, item in snapshot(get_settings().roster_table, district_id).items.items():
        skipped = NOT_COMPARED | NOT_COMPARED_FOR.get(sk.split("#", 1)[0], set())
        view = {k: v for k, v in item.items() if k not in skipped}
        if "grade" in view:
            view["grade"] = ceds_grade(view["grade"])
        for date in ("start_date", "end_date"):
            if date in view:
                view[date] = str(view[date])[:10]
        text = json.dumps(view, sort_keys=True, default=str).replace(district_id, "D")
        out[sk.replace(district_id, "D")] = json.loads(text)
    return out


def _findings(key: str, district_id: str) -> list[tuple[str, ...]]:
    """What each finding is about (rule, severity, record, field): the message and its advice are
    worded per provider, and must be."""
    body = boto3.client("s3").get_object(Bucket=get_settings().raw_bucket, Key=key)["Body"].read()
    rows = csv.DictReader(io.StringIO(body.decode("utf-8")))
    found = [
        (
            r["rule"],
            r["severity"],
            r["record_type"],
            r["source_id"].replace(district_id, "D"),
            r["field"],
            r["name"],
        )
        for r in rows
    ]
    return sorted(found)


def test_the_same_roster_through_clever_and_three_oneroster_tenants_gives_the_same_records_and_findings(
    world: OneRosterSandbox,
) -> None:
    world.faults.max_page = 20  # several pages a collection, in an order that drifts unless sorted
    world.faults.revoke_tokens_after = 9  # OAuth 2.0 tokens die in the middle of the fetch
    night = LocalNight(LocalFunctions()).run()

    assert not [d for d, outcome in night.districts.items() if outcome.failed]
    assert [e.status for e in world.log if e.tenant == V1P2.district_id].count(401) >= 1  # renewed

    clever = night.districts[ROSTER.id]
    expected = _product_view(ROSTER.id)
    expected_findings = _findings(clever.stages["validate"]["findings_key"], ROSTER.id)
    kinds = {sk.split("#", 1)[0] for sk in expected}
    assert kinds >= {"DISTRICT", "SCHOOL", "STUDENT", "TEACHER", "STAFF", "SECTION", "TERM", "COURSE"}
    rules = {f[0] for f in expected_findings}
    assert {
        "student.state_id.missing",
        "student.state_id.format",
        "student.state_id.duplicate",
        "student.birth_date.missing",
        "school.nces_id.missing",
        "teacher.no_sections",
    } <= rules, rules
    for tenant in TENANTS:
        outcome = night.districts[tenant.district_id]
        assert outcome.stages["import"]["status"] == "succeeded", tenant
        got = _product_view(tenant.district_id)
        assert sorted(got) == sorted(expected), f"{tenant.district_id}: other items"
        differ = {sk: (expected[sk], got[sk]) for sk in expected if expected[sk] != got[sk]}
        assert not differ, f"{tenant.district_id} ({tenant.version}, {tenant.auth}): {differ}"
        findings = _findings(outcome.stages["validate"]["findings_key"], tenant.district_id)
        assert findings == expected_findings, tenant.district_id


def test_a_clever_district_with_a_gap_oneroster_cannot_share_is_not_rendered() -> None:
    with pytest.raises(ValueError, match="section_without_school"):
        as_oneroster(DistrictSpec("X", seed=1, gaps=Gaps(section_without_school=1)), "4200000")
