"""District settings on the provisioned table, and contacts' SNS subscriptions on moto.

A contact's subscription is an e-mail subscription with a filter policy on the district; moto
cannot receive e-mail, so the filter policy itself is checked with an SQS-subscribed inbox: it
receives only its district's `validation_findings` and `deletions_held`.
"""

from __future__ import annotations

import json

import boto3
import pytest

from rostersync.adapters.sns_alert_publisher import SnsAlertPublisher
from rostersync.adapters.sns_contact_subscriptions import filter_policy
from rostersync.alert_model import Alert, EventType
from rostersync.operations import show_district
from rostersync.settings import Settings, get_settings
from rostersync_cli.main import main
from rostersync_cli.provision import provision
from tests.integration.alert_inbox import AlertInbox

pytestmark = pytest.mark.integration


@pytest.fixture
def provisioned(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    resources = provision()
    for name, value in resources.environment().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()


def _alert(event_type: EventType, district_id: str) -> Alert:
    return Alert(event_type, district_id, f"RosterSync: {district_id} - {event_type.value}", "body\n")


def test_a_contact_inbox_receives_only_its_districts_findings_and_held_deletions(
    provisioned: Settings,
) -> None:
    topic = provisioned.alert_topic_arn
    contact = AlertInbox(topic, filter_policy("district-a"))
    support = AlertInbox(topic)
    publisher = SnsAlertPublisher(topic)
    for district_id in ("district-a", "district-b"):
        for event_type in EventType:
            assert publisher.publish(_alert(event_type, district_id))

    got = {(a.district_id, a.event_type) for a in contact.receive()}
    assert got == {("district-a", "validation_findings"), ("district-a", "deletions_held")}
    assert len(support.receive()) == 2 * len(EventType)  # support's subscription has no filter


def test_district_set_subscribes_contacts_with_the_filter_and_records_the_change(
    provisioned: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    sns = boto3.client("sns")
    code = main(
        [
            "district", "set", "--district", "district-a",
            "--licensed-schools", "421234567890",
            "--contacts", "dm@district-a.org", "second@district-a.org",
            "--safeguard-percent", "15",
            "--by", "support@smartfutures.test",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr()
    current, changes = show_district("district-a")
    assert current.licensed_schools == ("421234567890",) and current.safeguard_percent == 15
    assert set(current.subscriptions) == {"dm@district-a.org", "second@district-a.org"}
    for arn in current.subscriptions.values():
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert json.loads(attributes["FilterPolicy"]) == filter_policy("district-a")
        assert attributes["Protocol"] == "email" and attributes["TopicArn"] == provisioned.alert_topic_arn
    assert {c.setting for c in changes} == {"licensed_schools", "contacts", "safeguard_percent"}
    assert {c.by for c in changes} == {"support@smartfutures.test"}

    # One contact leaves: their subscription is removed, the other's stays.
    kept = current.subscriptions["dm@district-a.org"]
    gone = current.subscriptions["second@district-a.org"]
    assert main(["district", "set", "--district", "district-a", "--contacts", "dm@district-a.org"]) == 0
    arns = {
        s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=provisioned.alert_topic_arn)["Subscriptions"]
    }
    assert kept in arns and gone not in arns
    # An empty list clears the licence; `show` prints the change history.
    assert main(["district", "set", "--district", "district-a", "--licensed-schools"]) == 0
    capsys.readouterr()
    assert main(["district", "show", "--district", "district-a"]) == 0
    out = capsys.readouterr().out
    assert "every shared school" in out and "licensed_schools: ['421234567890'] -> None" in out


def test_district_set_refuses_bad_input(provisioned: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["district", "set", "--district", "district-a", "--licensed-schools", "1234"]) == 2
    assert "12-digit NCES" in capsys.readouterr().err
    current, changes = show_district("district-a")
    assert current.version == 0 and changes == []


def test_an_sns_unsubscribe_that_fails_once_converges_on_the_next_run(
    provisioned: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 25, defect 2: the settings were written before the unsubscribe and the change recorded
    last, so one failed unsubscribe left the removed contact receiving the district's alerts, no
    change record, and the same command again said "no change"."""
    from botocore.exceptions import ClientError

    from rostersync import wiring

    set_both = [
        "district",
        "set",
        "--district",
        "district-a",
        "--contacts",
        "dm@district-a.org",
        "old@district-a.org",
    ]
    assert main(set_both) == 0
    sns = wiring.contact_subscriptions()._client()
    failures = [1]

    def fail_once(**_kwargs: object) -> None:
        if failures:
            failures.pop()
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Unsubscribe")

    sns.meta.events.register("before-call.sns.Unsubscribe", fail_once)
    remove_old = ["district", "set", "--district", "district-a", "--contacts", "dm@district-a.org"]
    capsys.readouterr()

    assert main(remove_old) == 2
    assert "run the same command again" in capsys.readouterr().err
    _, changes = show_district("district-a")
    assert [c.setting for c in changes][:1] == ["contacts"]  # the change is recorded already
    assert main(["district", "show", "--district", "district-a"]) == 0
    out = capsys.readouterr().out
    assert "DISAGREE" in out and "old@district-a.org was removed as a contact but is still subscribed" in out

    assert main(remove_old) == 0
    out = capsys.readouterr().out
    assert "unsubscribed old@district-a.org" in out and "no change\n" not in out
    assert main(["district", "show", "--district", "district-a"]) == 0
    assert "DISAGREE" not in capsys.readouterr().out
    endpoints = {
        s["Endpoint"]
        for s in boto3.client("sns").list_subscriptions_by_topic(TopicArn=provisioned.alert_topic_arn)[
            "Subscriptions"
        ]
    }
    assert "old@district-a.org" not in endpoints and "dm@district-a.org" in endpoints
    assert [c.setting for c in show_district("district-a")[1]].count("contacts") == 2
