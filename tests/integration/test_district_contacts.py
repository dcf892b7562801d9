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
