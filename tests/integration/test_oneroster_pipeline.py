"""A ClassLink (OneRoster 1.1) district through the real nightly state machine, beside a Clever one.

statemachine/nightly.asl.json in moto's engine, the handlers in process, the Clever sandbox and the
OneRoster sandbox over HTTP on loopback, the tenants in the ONEROSTER_SECRET_ID secret as support
would enter them (issue 12, "Done when"): the ClassLink district lands in the roster table like
the Clever district (same kinds, same attributes, rule ids from the one catalogue, the same
alerts), and an unchanged night writes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from rostersync.operations import district_overview
from rostersync.settings import get_settings
from rostersync.sources.oneroster.normalize import record_id
from rostersync.validate.rules import RULES
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from tests.integration.alert_inbox import AlertInbox
from tests.integration.invariants import snapshot

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CLEVER = DistrictSpec("Elk Clever SD", seed=9301, schools=2, students=20, teachers=4, sections=4)
CLASSLINK = TenantSpec(
    "4288801", "Forest ClassLink SD", seed=31, schools=2, students_per_school=10, gaps=False
)
GAPS = TenantSpec("4288802", "Greene ClassLink SD", seed=32)
REFUSED = TenantSpec(
    "4288803", "Huntingdon ClassLink SD", seed=33, schools=1, students_per_school=4, gaps=False
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(CLEVER,))) as server:
        yield server


@pytest.fixture(scope="module")
def classlink() -> Iterator[OneRosterSandbox]:
    with OneRosterSandbox([CLASSLINK, GAPS, REFUSED]) as server:
        yield server


def tenants(box: OneRosterSandbox, *ids: str, wrong_secret: str | None = None) -> dict[str, Any]:
    entries = [t for t in box.secret_value()["tenants"] if t["district_id"] in ids]
    for entry in entries:
        if entry["district_id"] == wrong_secret:
            entry["client_secret"] = "not-the-provider's-secret"
    return {"tenants": entries}


def set_tenants(value: dict[str, Any]) -> None:
    """What support does: put the secret's new value (the functions' cache is cleared, as a
    rotated secret is picked up within the cache's 5 minutes in Lambda)."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId=get_settings().oneroster_secret_id, SecretString=json.dumps(value)
    )
    parameters.clear_caches()


@pytest.fixture
def functions(
    aws_env: dict[str, str],
    sandbox: CleverSandbox,
    classlink: OneRosterSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> LocalFunctions:
    monkeypatch.setenv("CLEVER_API_BASE", sandbox.api_base)
    monkeypatch.setenv("CLEVER_OAUTH_BASE", sandbox.oauth_base)
    monkeypatch.setenv("ONEROSTER_BACKOFF_FACTOR", "0.01")
    get_settings.cache_clear()
    resources = provision(
        clever_credentials={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    )
    for name, value in resources.environment().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    parameters.clear_caches()
    classlink.faults.reset()
    classlink.log.clear()
    return LocalFunctions()


# (Clever-only attributes, OneRoster-only attributes) per kind: what one source has a field for and
# the other has not. Everything else, every kind, is the same.
EXPECTED_DIFFERENCES: dict[str, tuple[list[str], list[str]]] = {
    # OneRoster 1.1 orgs carry no grade range, school number or state school id.
    "SCHOOL": (["high_grade", "low_grade", "school_number", "school_state_id"], []),
    # OneRoster users carry no title or department; Clever's staff have no SIS id, OneRoster's do.
    "STAFF": (["department", "title"], ["sis_id"]),
    "TEACHER": (["title"], []),
}


def findings(key: str) -> tuple[list[str], list[dict[str, str]]]:
    """findings.csv's header and rows."""
    body = boto3.client("s3").get_object(Bucket=get_settings().raw_bucket, Key=key)["Body"].read()
    reader = csv.DictReader(io.StringIO(body.decode("utf-8")))
    return list(reader.fieldnames or []), list(reader)


def kinds_and_attributes(district_id: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for sk, item in snapshot(get_settings().roster_table, district_id).items.items():
        kind = sk.split("#", 1)[0]
        if kind in ("LEASE", "RUN", "CONFIG"):
            continue
        out.setdefault(kind, set()).update(item)
    return out


def test_the_template_secret_means_no_oneroster_districts(functions: LocalFunctions) -> None:
    night = LocalNight(functions).run()
    assert [o.district_id for o in night.outcomes] == [CLEVER.id]
    assert json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=get_settings().oneroster_secret_id)[
            "SecretString"
        ]
    ) == {"tenants": []}
    # No secret at all (deleted, or never made): no OneRoster districts either, not an error.
    boto3.client("secretsmanager").delete_secret(
        SecretId=get_settings().oneroster_secret_id, ForceDeleteWithoutRecovery=True
    )
    parameters.clear_caches()
    night = LocalNight(functions).run()
    assert night.status == "SUCCEEDED" and [o.district_id for o in night.outcomes] == [CLEVER.id]


def test_a_classlink_district_lands_like_a_clever_district(
    functions: LocalFunctions, classlink: OneRosterSandbox
) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    LocalNight(functions).run()  # the baseline: Clever's district, no tenants yet
    assert inbox.receive() == []

    set_tenants(tenants(classlink, CLASSLINK.district_id))
    night = LocalNight(functions).run()
    assert night.status == "SUCCEEDED", night.error
    assert sorted(night.districts) == sorted([CLEVER.id, CLASSLINK.district_id])
    alerts = inbox.receive()
    assert [(a.event_type, a.district_id) for a in alerts if a.event_type == "district_connected"] == [
        ("district_connected", CLASSLINK.district_id)
    ]
    ours = night.districts[CLASSLINK.district_id]
    assert ours.stages["import"]["status"] == "succeeded"
    # Support's view names each district's own source (it said "sources", the combined one's name).
    sources = {row.status.district_id: row.status.source for row in district_overview()}
    assert sources == {CLEVER.id: "clever", CLASSLINK.district_id: "oneroster"}
    assert {o.stages["validate"]["status"] for o in night.outcomes} == {"validated"}

    clever, classlink_items = kinds_and_attributes(CLEVER.id), kinds_and_attributes(CLASSLINK.district_id)
    assert (
        set(classlink_items)
        == set(clever)
        == {"DISTRICT", "SCHOOL", "STUDENT", "TEACHER", "STAFF", "SECTION", "TERM", "COURSE"}
    )
    differences = {
        kind: (sorted(attributes - classlink_items[kind]), sorted(classlink_items[kind] - attributes))
        for kind, attributes in clever.items()
    }
    assert {k: d for k, d in differences.items() if d != ([], [])} == EXPECTED_DIFFERENCES
    items = snapshot(get_settings().roster_table, CLASSLINK.district_id).items
    assert items[f"DISTRICT#{CLASSLINK.district_id}"]["nces_id"] == CLASSLINK.district_id
    students = [
        i
        for sk, i in snapshot(get_settings().roster_table, CLASSLINK.district_id).items.items()
        if sk.startswith("STUDENT#")
    ]
    assert students and all(
        len(s["state_id"]) == 10 and len(s["birth_date"]) == 10 and len(s["zip"]) == 5 for s in students
    )
    assert all(len(s["graduation_year"]) == 4 for s in students)

    # An unchanged night writes nothing.
    quiet = LocalNight(functions).run()
    result = quiet.districts[CLASSLINK.district_id].stages["import"]
    assert result["status"] == "succeeded" and result["roster_writes"] == 0, result
    counts = result["counts"]
    assert all(c["created"] == c["updated"] == c["archived"] == 0 for c in counts.values()), counts

    # The tenant removed from the secret: disconnected, as a Clever district would be.
    set_tenants(tenants(classlink))
    LocalNight(functions).run()
    gone = [(a.event_type, a.district_id) for a in inbox.receive() if a.event_type == "district_disconnected"]
    assert gone == [("district_disconnected", CLASSLINK.district_id)]


def test_classlink_findings_use_the_one_catalogue_and_the_one_csv(
    functions: LocalFunctions, classlink: OneRosterSandbox
) -> None:
    set_tenants(tenants(classlink, GAPS.district_id))
    inbox = AlertInbox(get_settings().alert_topic_arn)
    night = LocalNight(functions).run()
    ours, theirs = night.districts[GAPS.district_id], night.districts[CLEVER.id]
    header, rows = findings(ours.stages["validate"]["findings_key"])
    assert rows and header == findings(theirs.stages["validate"]["findings_key"])[0]
    fired = {r["rule"] for r in rows}
    assert fired <= set(RULES)
    assert {
        "school.nces_id.missing",
        "student.state_id.missing",
        "student.state_id.format",
        "student.state_id.duplicate",
        "user.multiple_account_types",
        "teacher.no_sections",
        "dependent.school_rejected",
    } <= fired
    # Findings name records by id, never by a PA Secure ID or a date of birth.
    data = classlink.data[GAPS.district_id]
    births = {d["birthDate"] for d in data["demographics"]}
    body = json.dumps(rows)
    assert not any(b in body for b in births)
    events = {(a.event_type, a.district_id) for a in inbox.receive()}
    assert ("validation_findings", GAPS.district_id) in events


def test_a_refused_key_fails_the_district_once_with_sync_failed(
    functions: LocalFunctions, classlink: OneRosterSandbox
) -> None:
    set_tenants(
        tenants(classlink, CLASSLINK.district_id, REFUSED.district_id, wrong_secret=REFUSED.district_id)
    )
    inbox = AlertInbox(get_settings().alert_topic_arn)
    night = LocalNight(functions).run()
    refused = night.districts[REFUSED.district_id]
    assert refused.failed
    assert refused.fetch["failure"]["kind"] == "key_refused"
    assert "the provider refused the key" in refused.fetch["failure"]["reason"]
    assert not night.districts[CLASSLINK.district_id].failed
    failed = [a for a in inbox.receive() if a.event_type == "sync_failed"]
    assert [a.district_id for a in failed] == [REFUSED.district_id]
    assert "refused the key" in failed[0].body and "ONEROSTER_SECRET_ID" in failed[0].body
    assert "not-the-provider" not in failed[0].body
    assert sum(1 for e in classlink.log if e.tenant == REFUSED.district_id) == 1  # no retry storm


def test_the_district_option_takes_a_tenant(functions: LocalFunctions, classlink: OneRosterSandbox) -> None:
    set_tenants(tenants(classlink, CLASSLINK.district_id))
    night = LocalNight(functions).run([CLASSLINK.district_id])
    assert list(night.districts) == [CLASSLINK.district_id]
    assert night.districts[CLASSLINK.district_id].stages["import"]["status"] == "succeeded"
    assert {e.tenant for e in classlink.log} == {CLASSLINK.district_id}


# ---------------------------------------------------------------- providers' habits (issue 21)


def shared_students(box: OneRosterSandbox, district_id: str) -> set[str]:
    """The ids the district shares as active students (disabled and inactive ones are not shared)."""
    return {
        record_id(u["sourcedId"])
        for u in box.data[district_id]["users"]
        if u["role"] == "student" and u["status"] == "active" and u.get("enabledUser") != "false"
    }


def active_students(district_id: str) -> set[str]:
    items = snapshot(get_settings().roster_table, district_id).items
    return {
        sk.split("#", 1)[1]
        for sk, i in items.items()
        if sk.startswith("STUDENT#") and i["status"] == "active"
    }


def test_a_district_sharing_everything_loses_nobody_night_after_night_while_the_order_drifts(
    functions: LocalFunctions, classlink: OneRosterSandbox
) -> None:
    # Pages of 7 over an order that drifts between unsorted requests: before issue 21 (limit and
    # offset only) every night skipped some students and archived them under the safeguard.
    classlink.faults.max_page = 7
    set_tenants(tenants(classlink, CLASSLINK.district_id))
    expected = shared_students(classlink, CLASSLINK.district_id)
    assert len(expected) >= 15
    for night_number in range(3):
        night = LocalNight(functions).run()
        ours = night.districts[CLASSLINK.district_id]
        assert not ours.failed and ours.fetch["status"] == "complete", ours.fetch
        assert active_students(CLASSLINK.district_id) == expected, night_number
        if night_number:
            counts = ours.stages["import"]["counts"]
            assert all(c["archived"] == 0 for c in counts.values()), counts
    served = [e for e in classlink.log if e.tenant == CLASSLINK.district_id]
    assert served and all(e.query.get("sort") == "sourcedId" for e in served)


@pytest.mark.parametrize(
    ("fault", "value", "why"),
    [
        ("ignore_sort", True, r"listing\.incomplete: (users|enrollments) ended with \d+ distinct"),
        ("stop_after", 14, r"listing\.incomplete: (users|enrollments) ended with 14 distinct"),
    ],
)
def test_a_provider_that_drops_or_repeats_records_fails_the_fetch_and_archives_nothing(
    functions: LocalFunctions, classlink: OneRosterSandbox, fault: str, value: object, why: str
) -> None:
    classlink.faults.max_page = 7
    set_tenants(tenants(classlink, CLASSLINK.district_id))
    assert not LocalNight(functions).run().districts[CLASSLINK.district_id].failed
    before = active_students(CLASSLINK.district_id)
    inbox = AlertInbox(get_settings().alert_topic_arn)
    inbox.receive()
    setattr(classlink.faults, fault, value)
    classlink.faults.drift_swaps = 20
    night = LocalNight(functions).run()
    ours = night.districts[CLASSLINK.district_id]
    assert ours.failed and ours.fetch["status"] == "failed"
    assert re.search(why, ours.fetch["failure"]["reason"]), ours.fetch["failure"]
    assert active_students(CLASSLINK.district_id) == before  # nothing archived
    failed = [a for a in inbox.receive() if a.event_type == "sync_failed"]
    assert [a.district_id for a in failed] == [CLASSLINK.district_id]
    assert not night.districts[CLEVER.id].failed
