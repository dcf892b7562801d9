"""Issue 14 item 2 through the whole night: the Clever sandbox over HTTP, statemachine/nightly.asl.json
in moto's engine, the handlers in process, the roster on the moto server.

A student moved from one district to another, and both share them. Night 1 both districts are
new to RosterSync and validate before either imports, so nobody holds the PA Secure ID yet; from
night 2 the district whose record the application does not trust (the one that did not write
the student last) is told, with the other district named, in its report and its alert.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from rostersync.layout import STATE_ID_HOLDER_SK, state_id_pk
from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.sandbox import CleverSandbox, DistrictData, DistrictSpec, SandboxConfig
from tests.integration.alert_inbox import AlertInbox
from tests.integration.conftest import run_night

pytestmark = pytest.mark.integration

RULE = "student.state_id.other_district"
LEFT = DistrictSpec("Juniata Test SD", seed=8301, schools=1, students=20, teachers=2, sections=2)
JOINED = DistrictSpec(
    "Mifflin Test SD", seed=8302, schools=1, students=20, teachers=2, sections=2, moved_from=8301, moved_in=2
)


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(LEFT, JOINED))) as server:
        yield server


def _holder_of(state_id: str) -> str:
    table = boto3.resource("dynamodb").Table(get_settings().roster_table)
    item = table.get_item(Key={"pk": state_id_pk(state_id), "sk": STATE_ID_HOLDER_SK})["Item"]
    return str(item["district_id"])


def test_the_district_not_trusted_is_told_every_night_naming_the_other(functions: LocalFunctions) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    first = {o.district_id: o for o in run_night(functions, [LEFT.id, JOINED.id])}
    assert all(o.stages["validate"]["rule_counts"].get(RULE, 0) == 0 for o in first.values())
    assert all(o.stages["import"]["status"] == "succeeded" for o in first.values())
    moved = [DistrictData(JOINED).student(i)["roles"]["student"]["state_id"] for i in (18, 19)]
    [trusted] = {_holder_of(state_id) for state_id in moved}  # the district whose import wrote last
    [warned] = {LEFT.id, JOINED.id} - {trusted}
    inbox.receive()

    for _night in range(2):
        outcomes = {o.district_id: o for o in run_night(functions, [LEFT.id, JOINED.id])}
        assert outcomes[warned].stages["validate"]["rule_counts"][RULE] == 2
        assert outcomes[trusted].stages["validate"]["rule_counts"].get(RULE, 0) == 0
        assert outcomes[warned].stages["import"]["status"] == "succeeded"  # a warning imports
    alerts = [a for a in inbox.receive() if a.attributes.get("district_id") == warned]
    assert [a.event_type for a in alerts] == ["validation_findings"]  # once: the findings changed
    assert RULE in alerts[0].body
    assert not any(state_id in alerts[0].body for state_id in moved)
