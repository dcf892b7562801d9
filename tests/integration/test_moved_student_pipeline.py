"""Issue 22 through the whole night: the Clever sandbox over HTTP, statemachine/nightly.asl.json in
moto's engine (LocalNight), the handlers in process, the roster, topic and queues on the moto server.

Two districts share two students under the same PA Secure IDs (the sandbox's `moved_from`), with
records that do not agree (other names, other birth dates): a conflict. Exactly one student per id
is trusted from the first night; support is told once, with both districts; neither district's
contacts, findings or report learn anything of the other district.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from rostersync.adapters.sns_contact_subscriptions import filter_policy
from rostersync.layout import INDEX_KEY
from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.main import main
from rostersync_cli.sandbox import CleverSandbox, DistrictData, DistrictSpec, SandboxConfig
from tests.integration.alert_inbox import AlertInbox
from tests.integration.conftest import run_night

pytestmark = pytest.mark.integration

LEFT = DistrictSpec("Juniata Test SD", seed=8301, schools=1, students=20, teachers=2, sections=2)
JOINED = DistrictSpec(
    "Mifflin Test SD", seed=8302, schools=1, students=20, teachers=2, sections=2, moved_from=8301, moved_in=2
)


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(LEFT, JOINED))) as server:
        yield server


def _trusted(state_id: str) -> list[str]:
    """The application's answer: `by_state_id` (keys and `state_id_trusted`), then the trusted
    student's item by its key (districts of the students)."""
    table = boto3.resource("dynamodb").Table(get_settings().roster_table)
    items = table.query(IndexName="by_state_id", KeyConditionExpression=Key("state_id").eq(state_id))["Items"]
    assert len(items) == 2  # both districts share an active student with the id
    trusted = [i for i in items if i.get("state_id_trusted") is True]
    return [str(table.get_item(Key={"pk": i["pk"], "sk": i["sk"]})["Item"]["district_id"]) for i in trusted]


def test_a_conflict_is_supports_alone_and_exactly_one_student_is_trusted(
    functions: LocalFunctions, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = get_settings().alert_topic_arn
    support = AlertInbox(topic)
    contacts = {d.id: AlertInbox(topic, filter_policy(d.id)) for d in (LEFT, JOINED)}
    moved = [DistrictData(JOINED).student(i)["roles"]["student"]["state_id"] for i in (18, 19)]

    first = {o.district_id: o for o in run_night(functions, [LEFT.id, JOINED.id])}
    assert all(o.stages["import"]["status"] == "succeeded" for o in first.values())
    [trusted] = {d for state_id in moved for d in _trusted(state_id)}  # one district, both ids
    [other] = {LEFT.id, JOINED.id} - {trusted}
    assert first[other].stages["import"]["state_ids"]["new_conflicts"] == 2
    assert first[trusted].stages["import"]["state_ids"]["new_conflicts"] == 0

    for _night in range(2):  # later nights change nothing and tell nobody again
        later = {o.district_id: o for o in run_night(functions, [LEFT.id, JOINED.id])}
        assert [d for state_id in moved for d in _trusted(state_id)] == [trusted, trusted]
        assert all(o.stages["import"]["state_ids"]["new_conflicts"] == 0 for o in later.values())
        assert all(o.stages["import"]["state_ids"]["reads"] == 0 for o in later.values())  # quiet nights

    # Support: one alert, with both districts and both students' ids, never a PA Secure ID.
    conflicts = [a for a in support.receive() if a.event_type == "state_id_conflicts"]
    assert [a.district_id for a in conflicts] == [other]
    assert trusted in conflicts[0].body and other in conflicts[0].body
    assert not any(state_id in conflicts[0].body for state_id in moved)

    # The districts' contacts: their own findings only, nothing of the other district.
    names = {LEFT.id: LEFT.name, JOINED.id: JOINED.name}
    for district_id, inbox in contacts.items():
        received = inbox.receive()
        assert {a.event_type for a in received} <= {"validation_findings", "deletions_held"}
        [elsewhere] = set(names) - {district_id}
        for alert in received:
            assert elsewhere not in alert.body and names[elsewhere] not in alert.body
    for outcome in first.values():  # and their findings name no rule about other districts
        assert not any("other_district" in rule for rule in outcome.stages["validate"]["rule_counts"])

    # Support's views list the conflict with both districts.
    capsys.readouterr()
    assert main(["districts"]) == 0
    printed = capsys.readouterr().out
    assert "PA Secure ID conflicts (2)" in printed and trusted in printed and other in printed
    assert not any(state_id in printed for state_id in moved)
    s3 = boto3.client("s3")
    index = s3.get_object(Bucket=get_settings().raw_bucket, Key=INDEX_KEY)["Body"].read().decode()
    assert "PA Secure ID conflicts (2)" in index and not any(state_id in index for state_id in moved)

    # Support gives the trust to the other district: recorded, honoured the next night.
    assert (
        main(["state-id", "assign", "--state-id", moved[0], "--district", other, "--by", "support@sf.test"])
        == 0
    )
    assert "recorded: by support@sf.test" in capsys.readouterr().out
    run_night(functions, [LEFT.id, JOINED.id])
    assert _trusted(moved[0]) == [other] and _trusted(moved[1]) == [trusted]
