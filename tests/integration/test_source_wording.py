"""A district's reports and alerts speak of its own source only (issue 20, "Done when").

Nights of a Clever district and of ClassLink (OneRoster) districts through the real state
machine (LocalNight: moto's engine, the handlers in process, both sandboxes over HTTP), with the
import unable to read `raw/`, as its IAM role is in AWS (moto does not enforce IAM, so the
import's S3 client here refuses every `raw/` read with AccessDenied, as S3 would). Every report
(report.html, findings.csv, summary.json) and every alert the nights cause is scanned: a ClassLink
district's never say Clever, a Clever district's never say ClassLink or OneRoster. The alerts the
nights cause: district_connected, validation_findings, records_archived or deletions_held,
district_disconnected (both sources) and sync_failed (a refused key); the unit test
tests/unit/test_source_profiles.py renders every other alert for every registered source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from rostersync import wiring
from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.errors import StorageError
from rostersync.settings import Settings, get_settings
from rostersync_cli.local_functions import Handler, LocalFunctions
from rostersync_cli.nightly import LocalNight, Night
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, Gaps, SandboxConfig
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from tests.integration.alert_inbox import AlertInbox, ReceivedAlert

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CLEVER = DistrictSpec(
    "Tioga Clever SD",
    seed=9411,
    schools=2,
    students=16,
    teachers=3,
    sections=3,
    gaps=Gaps(
        missing_student_state_id=1,
        short_student_state_id=1,
        missing_school_nces_id=1,
        teacher_without_email=1,
        student_without_birth_date=1,
    ),
)
FOREST = TenantSpec("4289101", "Forest ClassLink SD", seed=41, schools=1, students_per_school=10, gaps=False)
GREENE = TenantSpec("4289102", "Greene ClassLink SD", seed=42, schools=1, students_per_school=8)
HUNTINGDON = TenantSpec(
    "4289103", "Huntingdon ClassLink SD", seed=43, schools=1, students_per_school=4, gaps=False
)
CLASSLINK_IDS = {FOREST.district_id, GREENE.district_id, HUNTINGDON.district_id}

# What a district's reports and alerts must never say: another source's names (case-insensitive).
NOT_CLEVER = re.compile(r"clever", re.IGNORECASE)
NOT_CLASSLINK = re.compile(r"classlink|oneroster|roster server|sourcedid|pasecureid", re.IGNORECASE)


def forbidden(district_id: str) -> re.Pattern[str]:
    return NOT_CLEVER if district_id in CLASSLINK_IDS else NOT_CLASSLINK


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(CLEVER,))) as server:
        yield server


@pytest.fixture(scope="module")
def classlink() -> Iterator[OneRosterSandbox]:
    with OneRosterSandbox([FOREST, GREENE, HUNTINGDON]) as server:
        yield server


def set_tenants(box: OneRosterSandbox, *ids: str, wrong_secret: str | None = None) -> None:
    entries = [t for t in box.secret_value()["tenants"] if t["district_id"] in ids]
    for entry in entries:
        if entry["district_id"] == wrong_secret:
            entry["client_secret"] = "not-the-provider's-secret"
    boto3.client("secretsmanager").put_secret_value(
        SecretId=get_settings().oneroster_secret_id, SecretString=json.dumps({"tenants": entries})
    )
    parameters.clear_caches()


class RawDenied:
    """The import's S3 client as its IAM role makes it in AWS: any read under `raw/` is refused.
    Counts the refusals (the import must need none)."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def client(self) -> Any:
        s3 = boto3.client("s3")
        s3.meta.events.register("before-parameter-build.s3", self._deny)
        return s3

    def _deny(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        target = str(params.get("Key") or params.get("Prefix") or "")
        if model.name in ("GetObject", "HeadObject", "ListObjectsV2") and target.startswith("raw/"):
            self.refused.append(f"{model.name} {target}")
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, model.name)

    def around_import(self, handler: Handler) -> Handler:
        def call(event: dict[str, Any], context: Any) -> Any:
            original = wiring.page_store

            def denied_store(settings: Settings | None = None, client: Any | None = None) -> S3PageStore:
                return S3PageStore((settings or get_settings()).raw_bucket, self.client())

            wiring.page_store = denied_store  # type: ignore[assignment]
            try:
                return handler(event, context)
            finally:
                wiring.page_store = original  # type: ignore[assignment]

        return call


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
    return LocalFunctions()


def _object(key: str) -> str:
    body = boto3.client("s3").get_object(Bucket=get_settings().raw_bucket, Key=key)["Body"].read()
    return body.decode("utf-8")


def scan_reports(night: Night) -> set[str]:
    """Every validated district's report.html, findings.csv and summary.json: none names another
    source. Returns the districts scanned."""
    scanned = set()
    for outcome in night.outcomes:
        validated = outcome.stages.get("validate") or {}
        keys = [validated.get(k) for k in ("report_key", "findings_key", "summary_key")]
        if not all(keys):
            continue
        for key in keys:
            text = _object(str(key))
            found = forbidden(outcome.district_id).findall(text)
            assert not found, f"{key} of {outcome.district_id} says {sorted(set(found))}"
        scanned.add(outcome.district_id)
    return scanned


def scan_alerts(alerts: list[ReceivedAlert]) -> list[tuple[str, str]]:
    """Every district's alert (subject and body): none names another source."""
    seen = []
    for alert in alerts:
        if alert.district_id in ("all", "batch"):
            continue
        found = forbidden(alert.district_id).findall(f"{alert.subject}\n{alert.body}")
        assert not found, (
            f"{alert.event_type} of {alert.district_id} says {sorted(set(found))}:\n{alert.body}"
        )
        seen.append((alert.event_type, alert.district_id))
    return seen


def test_every_report_and_alert_of_a_district_names_its_own_source_only(
    functions: LocalFunctions, sandbox: CleverSandbox, classlink: OneRosterSandbox
) -> None:
    denied = RawDenied()
    functions.wrap("ImportFunction", denied.around_import)
    inbox = AlertInbox(get_settings().alert_topic_arn)
    clever_id = CLEVER.id

    # Night 1: the Clever district alone (the discovery baseline).
    first = LocalNight(functions).run()
    assert first.status == "SUCCEEDED", first.error
    assert first.districts[clever_id].stages["import"]["status"] == "succeeded"
    assert scan_reports(first) == {clever_id}
    assert ("validation_findings", clever_id) in scan_alerts(inbox.receive())

    # Night 2: two ClassLink tenants join: connected, validated (with findings), imported.
    set_tenants(classlink, FOREST.district_id, GREENE.district_id)
    second = LocalNight(functions).run()
    assert second.status == "SUCCEEDED", second.error
    assert scan_reports(second) == {clever_id, FOREST.district_id, GREENE.district_id}
    events = set(scan_alerts(inbox.receive()))
    assert {
        ("district_connected", FOREST.district_id),
        ("district_connected", GREENE.district_id),
        ("validation_findings", GREENE.district_id),
    } <= events
    report = _object(second.districts[GREENE.district_id].stages["validate"]["report_key"])
    assert "How to fix in ClassLink" in report and "Roster Server" in report
    clever_report = _object(second.districts[clever_id].stages["validate"]["report_key"])
    assert "How to fix in Clever" in clever_report

    # Night 3: Forest stops sharing some students (an archive, or a hold), Greene leaves the
    # tenants secret, Huntingdon joins with a wrong key, and the Clever district disconnects.
    users = classlink.data[FOREST.district_id]["users"]
    students = [u for u in users if u.get("role") == "student"]
    classlink.data[FOREST.district_id]["users"] = [u for u in users if u not in students[:3]]
    set_tenants(classlink, FOREST.district_id, HUNTINGDON.district_id, wrong_secret=HUNTINGDON.district_id)
    sandbox.revoke(clever_id)
    try:
        third = LocalNight(functions).run()
    finally:
        sandbox.restore(clever_id)
    scan_reports(third)
    alerts = inbox.receive()
    events = set(scan_alerts(alerts))
    assert ("district_disconnected", clever_id) in events
    assert ("district_disconnected", GREENE.district_id) in events
    assert ("sync_failed", HUNTINGDON.district_id) in events
    [archive] = [
        a
        for a in alerts
        if a.district_id == FOREST.district_id and a.event_type in ("records_archived", "deletions_held")
    ]
    # The import names the district (its name travels in the payload), and ClassLink's sharing.
    assert "Forest ClassLink SD" in archive.subject and "Forest ClassLink SD" in archive.body
    assert "ClassLink" in archive.body

    # The import never needed raw/: nothing was refused, and the refusal is real.
    assert denied.refused == []
    with pytest.raises(StorageError, match="AccessDenied"):
        S3PageStore(get_settings().raw_bucket, denied.client()).get_json(
            f"raw/{FOREST.district_id}/any/manifest.json"
        )


def test_a_failed_step_s_alert_names_the_district_s_source(
    functions: LocalFunctions, classlink: OneRosterSandbox
) -> None:
    """The Catch path (NotifyDistrictFailed, published by the state machine itself) names the
    district's source from the payload: discovery gave it to the district's iteration."""

    def failing_import(handler: Handler) -> Handler:
        def call(event: dict[str, Any], context: Any) -> Any:
            if event["district_id"] == FOREST.district_id:
                raise RuntimeError("the import failed")
            return handler(event, context)

        return call

    functions.wrap("ImportFunction", failing_import)
    set_tenants(classlink, FOREST.district_id)
    inbox = AlertInbox(get_settings().alert_topic_arn)
    night = LocalNight(functions).run([FOREST.district_id, CLEVER.id])
    assert night.districts[FOREST.district_id].failed and not night.districts[CLEVER.id].failed
    [failed] = [a for a in inbox.receive() if a.event_type == "sync_failed"]
    assert failed.district_id == FOREST.district_id
    assert f"district {FOREST.district_id} (source oneroster, run " in failed.body
    assert not NOT_CLEVER.findall(failed.body)
