"""Alerts through SNS in moto, received by an SQS subscription: attributes, subject, link, no PII."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
import requests

from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.adapters.s3_report_links import S3ReportLinks
from rostersync.adapters.sns_alert_publisher import SnsAlertPublisher
from rostersync.alert_model import SUBJECT_MAX
from rostersync.alerts.notify import notify_fetch, notify_validation
from rostersync.contracts.validate import ValidateResult
from rostersync.fetch.stage import fetch_districts
from rostersync.settings import Settings, get_settings
from rostersync.sources.clever.client import CleverClient, CleverCredentials
from rostersync.sources.clever.source import CleverSource
from rostersync.validate.stage import validate_run
from rostersync.wiring import report_links_for
from rostersync_cli.lambda_context import LocalLambdaContext
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, Gaps, SandboxConfig
from rostersync_cli.template import functions, load_handler, load_template
from tests.integration.alert_inbox import AlertInbox

GAPPY = DistrictSpec(
    "Schuylkill Haven Test Area School District",
    seed=9301,
    schools=3,
    students=80,
    teachers=8,
    sections=9,
    gaps=Gaps(
        missing_student_state_id=2,
        short_student_state_id=1,
        duplicate_student_state_id=1,
        missing_school_nces_id=1,
        teacher_without_email=1,
    ),
)


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(GAPPY,))) as server:
        yield server


@pytest.fixture
def topic_arn(settings: Settings) -> str:
    name = settings.alert_topic_arn.rsplit(":", 1)[-1]
    return str(boto3.client("sns").create_topic(Name=name)["TopicArn"])


def _pii(sandbox: CleverSandbox) -> set[str]:
    """Every student name, e-mail and state id the sandbox serves, and every adult's e-mail."""
    data = sandbox.district(GAPPY.id)
    out: set[str] = set()
    for i in range(GAPPY.students):
        record = data.student(i)
        name = record.get("name") or {}
        if name:
            out |= {f"{name['first']} {name['last']}", f"{name['last']}, {name['first']}"}
        out.add(record["email"])
        state_id = (record["roles"]["student"].get("state_id") or "").strip()
        if state_id:
            out.add(state_id)
    for j in range(GAPPY.teachers):
        if email := data.teacher(j).get("email"):
            out.add(email)
    return out


def _fetch_and_validate(settings: Settings, sandbox: CleverSandbox, store: S3PageStore) -> ValidateResult:
    """The gappy district fetched over HTTP into `store`, then validated: what validate hands alerts."""
    client = CleverClient(
        settings.model_copy(
            update={"clever_api_base": sandbox.api_base, "clever_oauth_base": sandbox.oauth_base}
        ),
        CleverCredentials(sandbox.client_id, sandbox.client_secret),
    )
    try:
        [fetched] = fetch_districts(CleverSource(client), store, "20261128T070000Z-0a1b2c")
    finally:
        client.close()
    return validate_run(store, GAPPY.id, fetched.run_id)


def test_findings_reach_the_subscription_with_attributes_a_working_link_and_no_pii(
    settings: Settings, raw_bucket: str, topic_arn: str, sandbox: CleverSandbox
) -> None:
    inbox = AlertInbox(topic_arn)
    store = S3PageStore(raw_bucket)
    result = _fetch_and_validate(settings, sandbox, store)
    publisher = SnsAlertPublisher(topic_arn)
    links = S3ReportLinks(raw_bucket)

    outcome = notify_validation(result, store, publisher, links)
    again = notify_validation(result, store, publisher, links)

    assert outcome.published == [f"validation_findings:{GAPPY.id}"]
    assert again.suppressed == [f"validation_findings:{GAPPY.id}"]
    [alert] = inbox.receive()
    assert alert.attributes == {"event_type": "validation_findings", "district_id": GAPPY.id}
    assert alert.attribute_types == {"event_type": "String", "district_id": "String"}
    assert len(alert.subject) <= SUBJECT_MAX
    assert alert.subject.startswith("RosterSync: Schuylkill Haven")
    for rule_id, count in result.rule_counts.items():
        if count:
            assert rule_id in alert.body
    assert "New since last night" in alert.body

    [link] = alert.links()
    assert "X-Amz-Expires=604800" in link and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in link
    response = requests.get(link, timeout=10)
    assert response.status_code == 200
    assert response.text.lstrip().lower().startswith("<!doctype html")
    assert GAPPY.name in response.text

    leaked = {value for value in _pii(sandbox) if value in alert.body or value in alert.subject}
    assert not leaked


def test_in_aws_the_link_goes_through_the_report_link_function_and_lasts_seven_days(
    settings: Settings,
    raw_bucket: str,
    topic_arn: str,
    sandbox: CleverSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With REPORT_LINK_BASE_URL set (as the template sets it), alerts carry a signed link, not a
    presign; the report-link function turns it into a 302 to a short presign that serves the report."""
    key_secret = f"{settings.clever_secret_id}/report-link-key"
    boto3.client("secretsmanager").create_secret(Name=key_secret, SecretString="k" * 64)
    for name, value in {
        "REPORT_LINK_BASE_URL": "https://reports.lambda-url.us-east-1.on.aws/",
        "REPORT_LINK_SECRET_ID": key_secret,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    linked = get_settings()
    inbox = AlertInbox(topic_arn)
    store = S3PageStore(raw_bucket)
    result = _fetch_and_validate(linked, sandbox, store)

    notify_validation(result, store, SnsAlertPublisher(topic_arn), report_links_for(linked))

    [alert] = inbox.receive()
    [link] = alert.links()
    assert link.startswith("https://reports.lambda-url.us-east-1.on.aws/?t=")
    assert "X-Amz" not in link
    token = link.partition("?t=")[2]
    handler = load_handler(functions(load_template())["ReportLinkFunction"])
    event = {"queryStringParameters": {"t": token}, "requestContext": {"http": {"method": "GET"}}}
    response = handler(event, LocalLambdaContext("ReportLinkFunction"))
    assert response["statusCode"] == 302
    page = requests.get(response["headers"]["Location"], timeout=10)
    assert page.status_code == 200
    assert GAPPY.name in page.text


def test_a_revoked_district_is_announced_once(
    settings: Settings, raw_bucket: str, topic_arn: str, sandbox: CleverSandbox
) -> None:
    inbox = AlertInbox(topic_arn)
    store = S3PageStore(raw_bucket)
    client = CleverClient(
        settings.model_copy(
            update={"clever_api_base": sandbox.api_base, "clever_oauth_base": sandbox.oauth_base}
        ),
        CleverCredentials(sandbox.client_id, sandbox.client_secret),
    )
    sandbox.revoke(GAPPY.id)
    try:
        for run_id in ("20261128T070000Z-0a1b2c", "20261129T070000Z-0a1b2c"):
            notify_fetch(
                fetch_districts(CleverSource(client), store, run_id, [GAPPY.id]),
                store,
                SnsAlertPublisher(topic_arn),
            )
    finally:
        client.close()

    [alert] = inbox.receive()
    assert alert.attributes == {"event_type": "district_disconnected", "district_id": GAPPY.id}


def test_a_missing_topic_does_not_raise(settings: Settings, raw_bucket: str) -> None:
    from rostersync.alerts.messages import sync_failed

    publisher = SnsAlertPublisher(settings.alert_topic_arn)  # never created
    assert publisher.publish(sync_failed("d1", "r1", None, source="clever")) is False
