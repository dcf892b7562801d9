"""The fault suite's harness can fail: when a stage raises, the sync_failed alert comes from the
definition's Catch path (statemachine/nightly.asl.json), not from the harness; without that path
invariant 4 finds no alert."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from rostersync.settings import Settings
from rostersync_cli.nightly import DistrictOutcome, nightly_definition
from rostersync_cli.provision import provision
from tests.integration.alert_inbox import AlertInbox
from tests.integration.fault_world import Night, _template, catch_path
from tests.integration.invariants import assert_failed_districts_alerted


@pytest.fixture
def inbox(settings: Settings, raw_bucket: str) -> Iterator[AlertInbox]:
    provision(settings)
    yield AlertInbox(settings.alert_topic_arn)


def _definition() -> dict[str, Any]:
    return json.loads(nightly_definition(_template()))


def _district_states(definition: dict[str, Any]) -> dict[str, Any]:
    return definition["States"]["Districts"]["ItemProcessor"]["States"]


def _failed_night(district_id: str, alerts: list[Any]) -> Night:
    outcome = DistrictOutcome(district_id, "r1", fetch={"status": "complete"})
    outcome.stages["error"] = {"status": "failed", "error": "StorageError"}
    return Night(outcomes=[outcome], alerts=alerts)


@pytest.mark.parametrize("stage", ["Fetch", "Validate", "Import"])
def test_a_stage_that_raises_is_alerted_by_the_definition_s_catch(inbox: AlertInbox, stage: str) -> None:
    published = catch_path(
        stage, "d-harness", "20261201T020000Z-000001", RuntimeError("boom"), source="clever"
    )

    assert published == "NotifyDistrictFailed"
    [alert] = inbox.receive()
    assert (alert.event_type, alert.district_id) == ("sync_failed", "d-harness")
    assert alert.subject == "RosterSync: a district's nightly sync step failed"
    assert alert.body.startswith(
        "The nightly RosterSync step failed for district d-harness "
        "(source clever, run 20261201T020000Z-000001) after its retries. Error: RuntimeError."
    )
    assert "{}" not in alert.body
    assert_failed_districts_alerted(_failed_night("d-harness", [alert]))


def test_without_the_catch_no_alert_is_published_and_invariant_4_fails(inbox: AlertInbox) -> None:
    definition = _definition()
    broken = copy.deepcopy(definition)
    del _district_states(broken)["Import"]["Catch"]

    assert catch_path("Import", "d-harness", "r1", RuntimeError("boom"), broken) is None
    assert inbox.receive() == []
    with pytest.raises(AssertionError, match="district d-harness failed without an alert"):
        assert_failed_districts_alerted(_failed_night("d-harness", []))


def test_a_catch_that_leads_to_no_publish_publishes_nothing(inbox: AlertInbox) -> None:
    broken = _definition()
    _district_states(broken)["Validate"]["Catch"][0]["Next"] = "DistrictFailed"  # skips the notify

    assert catch_path("Validate", "d-harness", "r1", RuntimeError("boom"), broken) is None
    assert inbox.receive() == []
