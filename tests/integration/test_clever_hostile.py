"""Issue 14: how Clever (and what a district types into it) really behaves, over HTTP and through the
pipeline. Every byte a district can send is survivable: the district is either stored and
validated, or failed cleanly with a manifest, a reason and one alert, and every other district
of the invocation completes.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from rostersync.contracts.fetch import Manifest
from rostersync_cli.sandbox import DistrictSpec, SandboxConfig
from tests.integration.fault_world import FaultWorld, fault_world

HOSTILE = DistrictSpec.small("Hostile Data SD", 9401, schools=1, students=12)
NEXT = DistrictSpec.small(
    "Next In Line SD", 9402, schools=1, students=8, teachers=1, other_staff=0, sections=1
)


@pytest.fixture
def world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultWorld]:
    monkeypatch.setenv("CLEVER_PAGE_LIMIT", "5")  # several student pages
    monkeypatch.setenv("CLEVER_MAX_RETRIES", "2")
    with fault_world(SandboxConfig(districts=(HOSTILE, NEXT)), monkeypatch) as w:
        yield w


def _students(world: FaultWorld, district_id: str) -> list[dict[str, object]]:
    table = boto3.resource("dynamodb").Table(world.table_name)
    items = table.query(
        KeyConditionExpression=Key("pk").eq(f"DISTRICT#{district_id}") & Key("sk").begins_with("STUDENT#")
    )["Items"]
    return items


def _hostile(world: FaultWorld, mode: str, depth: int = 100_000) -> None:
    faults = world.sandbox.faults
    faults.match_district = HOSTILE.id
    faults.match_path = "role=student"
    faults.hostile_json = 1
    faults.hostile_mode = mode
    faults.hostile_depth = depth


def _assert_next_district_completed(night: object, world: FaultWorld) -> None:
    outcome = world.nights[-1].outcome(NEXT.id)
    assert outcome.fetch["status"] == "complete", outcome.fetch
    assert outcome.stages["import"]["status"] == "succeeded"


# --- 4. hostile JSON ---------------------------------------------------------------------------


def test_a_lone_surrogate_in_a_last_name_is_stored_validated_and_imported(world: FaultWorld) -> None:
    _hostile(world, "surrogate")

    night = world.night([HOSTILE.id, NEXT.id])

    assert not night.errors, night.errors
    outcome = night.outcome(HOSTILE.id)
    assert outcome.fetch["status"] == "complete", outcome.fetch
    assert outcome.stages["import"]["status"] == "succeeded"
    last_names = [str(s.get("last_name", "")) for s in _students(world, HOSTILE.id)]
    assert len(last_names) == HOSTILE.students
    assert sum("\ufffd" in name for name in last_names) == 1  # replaced, not dropped
    assert not any(0xD800 <= ord(c) <= 0xDFFF for name in last_names for c in name)
    _assert_next_district_completed(night, world)


def test_an_array_nested_100000_deep_fails_that_district_cleanly_and_the_next_is_fetched(
    world: FaultWorld,
) -> None:
    _hostile(world, "deep_array")

    night = world.night([HOSTILE.id, NEXT.id])

    assert not night.errors, night.errors
    outcome = night.outcome(HOSTILE.id)
    assert outcome.fetch["status"] == "failed"
    manifest = Manifest.model_validate(world.store.get_json(outcome.fetch["manifest_key"]))
    assert manifest.failure is not None
    assert manifest.failure.kind == "protocol_error"
    assert manifest.failure.resource == "students"
    assert "nested" in manifest.failure.reason
    assert [a.event_type for a in night.alerts_for(HOSTILE.id)] == ["sync_failed"]
    _assert_next_district_completed(night, world)


def test_a_field_nested_deep_inside_a_record_is_stored_and_that_record_rejected(world: FaultWorld) -> None:
    _hostile(world, "deep_field", depth=900)

    night = world.night([HOSTILE.id, NEXT.id])

    assert not night.errors, night.errors
    outcome = night.outcome(HOSTILE.id)
    assert outcome.fetch["status"] == "complete", outcome.fetch
    validated = outcome.stages["validate"]
    assert validated["rule_counts"]["record.malformed"] == 1  # the student without a usable last name
    assert outcome.stages["import"]["status"] == "succeeded"
    _assert_next_district_completed(night, world)


# --- 13. every page of a role's listing holds that role -----------------------------------------


def test_a_next_link_that_drops_the_role_fails_the_district_naming_resource_and_page(
    world: FaultWorld,
) -> None:
    world.sandbox.faults.match_district = HOSTILE.id
    world.sandbox.faults.next_drops_role = True

    night = world.night([HOSTILE.id, NEXT.id])

    assert not night.errors, night.errors
    outcome = night.outcome(HOSTILE.id)
    assert outcome.fetch["status"] == "failed"
    failure = outcome.fetch["failure"]
    assert failure["kind"] == "protocol_error"
    assert failure["resource"] == "students"
    assert "page 2" in failure["reason"] and "role student" in failure["reason"], failure
    assert [a.event_type for a in night.alerts_for(HOSTILE.id)] == ["sync_failed"]
    # Nothing of the drifted page was stored: only the two good student pages.
    keys = list(world.store.keys(f"raw/{HOSTILE.id}/{outcome.run_id}/students/"))
    assert len(keys) == 2
    _assert_next_district_completed(night, world)
