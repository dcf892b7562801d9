"""AWS faults moto cannot produce on its own, injected into botocore calls or the roster adapter,
through the state machine runner: each night meets the definition's Retry and Catch.

Each test imports a clean night first. Import-side faults need a night that writes, so the
faulty night serves the district's revision 1 (about half its students, teachers and sections
changed); "the clean roster" is then what importing the same validated runs into a fresh table
without faults gives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import boto3
import pytest

from rostersync import wiring
from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.importer.holds import PageStoreHoldStore
from rostersync_cli.local_functions import Handler
from rostersync_cli.sandbox import DistrictSpec, Gaps, SandboxConfig
from tests.integration.fault_world import FaultWorld, LambdaTimeout, client_error, fault_world, retries
from tests.integration.invariants import (
    Roster,
    assert_completed_identically,
    assert_failed_cleanly,
    assert_same_roster,
    check_invariants,
    snapshot,
)

DISTRICT = DistrictSpec.small("Tioga Faults SD", 9303, gaps=Gaps(missing_student_state_id=1))
REVISED = dataclasses.replace(DISTRICT, revision=1, changed_percent=50.0)


@pytest.fixture
def world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultWorld]:
    monkeypatch.setenv("CLEVER_PAGE_LIMIT", "12")
    with fault_world(SandboxConfig(districts=(DISTRICT,)), monkeypatch) as w:
        yield w


def _tomorrow_changes(world: FaultWorld) -> None:
    world.serve(REVISED)


# --- S3 ----------------------------------------------------------------------------------------


def test_an_s3_put_failure_during_fetch_fails_the_district_cleanly_and_the_next_night_completes(
    world: FaultWorld,
) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.aws.fail(
        "s3", "PutObject", client_error("InternalError", "PutObject"), when=lambda p: "/students/" in p["Key"]
    )

    night = world.night([DISTRICT.id])

    assert_failed_cleanly(world, night, baseline)
    assert night.outcome(DISTRICT.id).fetch["failure"]["kind"] == "storage_error"
    assert_completed_identically(world, world.night([DISTRICT.id]), baseline)


def test_when_s3_fails_for_the_manifest_too_the_invocation_fails_and_alerts(world: FaultWorld) -> None:
    _, baseline = world.clean_night(DISTRICT.id)

    rule = world.aws.fail("s3", "PutObject", client_error("ServiceUnavailable", "PutObject"), times=1000)

    night = world.night([DISTRICT.id])

    assert_failed_cleanly(world, night, baseline)
    assert type(night.errors[DISTRICT.id]).__name__ == "StorageError"
    # Fetch retries only Lambda's own service errors: a function error is caught at once.
    assert retries("Fetch", "StorageError") == 0
    assert night.attempts[("FetchFunction", DISTRICT.id)] == 1
    assert len(night.sync_failed(DISTRICT.id)) == 1
    assert night.outcome(DISTRICT.id).error == {
        "state": "Fetch",
        "error": "StorageError",
        "cause": night.outcome(DISTRICT.id).error["cause"],  # type: ignore[index]
    }
    rule.times = 0  # S3 is back
    assert_completed_identically(world, world.night([DISTRICT.id]), baseline)


# --- DynamoDB ----------------------------------------------------------------------------------


class _Unprocessed:
    """A DynamoDB client that leaves the second half of each of the first `times` batches unprocessed
    (writes and reads alike: moto never does, DynamoDB may)."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.left = times
        self.unprocessed = 0
        self.reads_left = times
        self.unprocessed_reads = 0

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        if self.reads_left <= 0:
            return dict(self._client.batch_get_item(RequestItems=RequestItems))
        self.reads_left -= 1
        [(table, request)] = RequestItems.items()
        keys = request["Keys"]
        keep, leave = keys[: len(keys) // 2], keys[len(keys) // 2 :]
        response = (
            {"Responses": {table: []}}
            if not keep
            else self._client.batch_get_item(RequestItems={table: {**request, "Keys": keep}})
        )
        self.unprocessed_reads += len(leave)
        return {**response, "UnprocessedKeys": {table: {**request, "Keys": leave}} if leave else {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        if self.left <= 0:
            return dict(self._client.batch_write_item(RequestItems=RequestItems))
        self.left -= 1
        [(table, requests)] = RequestItems.items()
        keep, leave = requests[: len(requests) // 2], requests[len(requests) // 2 :]
        if keep:
            self._client.batch_write_item(RequestItems={table: keep})
        self.unprocessed += len(leave)
        return {"UnprocessedItems": {table: leave} if leave else {}}


def test_dynamodb_throttling_and_unprocessed_items_during_import_complete_with_the_clean_roster(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline_night, baseline = world.clean_night(DISTRICT.id)
    _tomorrow_changes(world)
    throttled = client_error("ProvisionedThroughputExceededException", "BatchWriteItem")
    rules = [
        world.aws.fail("dynamodb", "BatchWriteItem", throttled, times=3),
        world.aws.fail("dynamodb", "Query", client_error("ThrottlingException", "Query"), times=2),
        world.aws.fail("dynamodb", "UpdateItem", client_error("RequestLimitExceeded", "UpdateItem"), times=1),
        # the import confirms its updated students against the PA Secure ID registry
        world.aws.fail(
            "dynamodb", "BatchGetItem", client_error("ThrottlingException", "BatchGetItem"), times=2
        ),
    ]
    flaky = _Unprocessed(boto3.client("dynamodb"), times=4)
    with monkeypatch.context() as patch:
        patch.setattr(
            wiring,
            "roster_table",
            lambda settings=None, client=None: DynamoRosterTable(world.table_name, flaky),
        )
        night = world.night([DISTRICT.id])

    assert all(rule.fired == rule.times for rule in rules)
    assert flaky.unprocessed > 0 and flaky.unprocessed_reads > 0
    state_ids = night.outcome(DISTRICT.id).stages["import"]["state_ids"]
    assert state_ids["confirmed"] > 0 and state_ids["corrected"] == 0  # every registry read after the retries
    after = check_invariants(world, night, baseline, same_content=False)
    assert night.outcome(DISTRICT.id).stages["import"]["status"] == "succeeded"
    _assert_clean_import_of(
        world, after, baseline_night.outcome(DISTRICT.id).run_id, night.outcome(DISTRICT.id).run_id
    )


def _assert_clean_import_of(world: FaultWorld, after: Roster, *run_ids: str) -> None:
    """`after` is exactly what clean imports of these runs' validated data give a fresh table."""
    assert_same_roster(after, world.reference_roster(DISTRICT.id, list(run_ids)))


def test_a_concurrent_run_is_refused_by_the_lease_and_does_no_damage(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    # Three runs the state machine fetched and validated (dry-run nights: nothing imported).
    older, first, second = (world.validated_run(DISTRICT.id)["run_id"] for _ in range(3))
    concurrent: dict[str, Any] = {}
    plan = PageStoreHoldStore.write_changeset

    def plan_while_another_run_starts(self: PageStoreHoldStore, *args: Any) -> str:
        if not concurrent:  # the first run holds the lease now: the second one starts meanwhile
            concurrent["second"] = world.functions.invoke(
                "ImportFunction", world.import_event(DISTRICT.id, second)
            )
        return plan(self, *args)

    def run(run_id: str) -> dict[str, Any]:
        return dict(world.functions.invoke("ImportFunction", world.import_event(DISTRICT.id, run_id)))

    monkeypatch.setattr(PageStoreHoldStore, "write_changeset", plan_while_another_run_starts)
    result = run(first)
    monkeypatch.setattr(PageStoreHoldStore, "write_changeset", plan)

    assert result["status"] == "succeeded"
    assert concurrent["second"]["status"] == "skipped_locked"
    assert snapshot(world.table_name, DISTRICT.id).content() == baseline.content()
    # The refused run can run once the first is done; an older run never can (it is stale).
    assert run(second)["status"] == "succeeded"
    assert run(older)["status"] == "skipped_stale"
    assert_same_roster(snapshot(world.table_name, DISTRICT.id), baseline)
    alerts = {(a.event_type, a.district_id) for a in world.inbox.receive()}
    assert ("sync_failed", DISTRICT.id) in alerts, "a run the lease refused is announced"


def _die_after(world: FaultWorld, monkeypatch: pytest.MonkeyPatch, items: int, times: int) -> dict[str, int]:
    """Each of the district's next `times` import invocations dies (a Lambda timeout) after writing
    `items` roster items; later invocations write normally."""
    state = {"written": 0, "died": 0, "attempt": -1, "in_attempt": 0}
    write = DynamoRosterTable.write

    def write_then_die(
        self: DynamoRosterTable, puts: Sequence[dict[str, Any]], deletes: Sequence[Any]
    ) -> int:
        roster = [p for p in puts if str(p["pk"]).startswith("DISTRICT#")]
        attempt = world.functions.attempts[("ImportFunction", DISTRICT.id)]
        if attempt != state["attempt"]:
            state["attempt"], state["in_attempt"] = attempt, 0
        if not roster or state["died"] >= times:
            return write(self, puts, deletes)
        room = items - state["in_attempt"]
        if room >= len(roster):
            state["in_attempt"] += len(roster)
            state["written"] += len(roster)
            return write(self, puts, deletes)
        write(self, roster[:room], [])
        state["in_attempt"] += room
        state["written"] += room
        state["died"] += 1
        raise LambdaTimeout("Task timed out after 900.00 seconds")

    monkeypatch.setattr(DynamoRosterTable, "write", write_then_die)
    return state


# The Import task's retrier for a killed invocation (Sandbox.Timedout): one retry, 1,260 s later.
TIMEOUT_RETRIES = retries("Import", "Sandbox.Timedout")


def test_an_import_killed_at_its_timeout_is_finished_by_the_state_machine_s_retry_after_the_lease(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timeout lasting one attempt: the Import retrier for Sandbox.Timedout absorbs it. Its wait
    (21 minutes) outlasts the dead invocation's lease (20), so the retry, the same run, takes the
    lease, repairs what the dead one wrote and finishes: no alert."""
    assert TIMEOUT_RETRIES == 1
    baseline_night, baseline = world.clean_night(DISTRICT.id)
    _tomorrow_changes(world)
    with monkeypatch.context() as patch:
        died = _die_after(world, patch, items=7, times=TIMEOUT_RETRIES)
        night = world.night([DISTRICT.id])

    assert died["died"] == 1 and died["written"] >= 7
    assert night.attempts[("ImportFunction", DISTRICT.id)] == 2
    assert isinstance(night.errors[DISTRICT.id], LambdaTimeout)
    assert 1260 in world.waits  # the retrier's wait, heard (not slept)
    imported = night.outcome(DISTRICT.id).stages["import"]
    assert imported["status"] == "succeeded"
    assert sum(c["repaired"] for c in imported["counts"].values()) >= 7
    assert night.sync_failed(DISTRICT.id) == []
    after = check_invariants(world, night, baseline, same_content=False)
    _assert_clean_import_of(
        world, after, baseline_night.outcome(DISTRICT.id).run_id, night.outcome(DISTRICT.id).run_id
    )


def test_an_import_killed_at_every_attempt_alerts_once_and_the_next_night_gives_the_clean_roster(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timeout lasting one attempt more than the retrier allows: the Catch alerts sync_failed
    once, the roster keeps what the dead runs wrote, and the next night repairs it."""
    baseline_night, baseline = world.clean_night(DISTRICT.id)
    _tomorrow_changes(world)
    with monkeypatch.context() as patch:
        died = _die_after(world, patch, items=7, times=TIMEOUT_RETRIES + 1)
        night = world.night([DISTRICT.id])
    assert died["died"] == TIMEOUT_RETRIES + 1 and died["written"] >= 7
    assert night.attempts[("ImportFunction", DISTRICT.id)] == TIMEOUT_RETRIES + 1
    assert night.outcome(DISTRICT.id).error["error"] == "Sandbox.Timedout"  # type: ignore[index]
    assert len(night.sync_failed(DISTRICT.id)) == 1
    partial = check_invariants(world, night, baseline, same_content=False)
    assert partial.content() != baseline.content(), "the dead runs wrote part of their changes"

    world.expire_lease(DISTRICT.id)  # the next night: the 20-minute lease is long gone
    resumed = world.night([DISTRICT.id])
    after = check_invariants(world, resumed, baseline, same_content=False)
    counts = resumed.outcome(DISTRICT.id).stages["import"]["counts"]
    assert sum(c["repaired"] for c in counts.values()) >= 7
    _assert_clean_import_of(
        world, after, baseline_night.outcome(DISTRICT.id).run_id, resumed.outcome(DISTRICT.id).run_id
    )


@pytest.mark.parametrize(
    ("state", "function"), [("Validate", "ValidateFunction"), ("Import", "ImportFunction")]
)
def test_a_stage_error_the_retries_absorb_leaves_no_trace_and_one_more_fails_the_district_once(
    world: FaultWorld, state: str, function: str
) -> None:
    """Validate and Import retry any error (States.ALL) `retries(state)` times: a fault lasting that
    many attempts is absorbed (the night completes with the clean roster, no alert); one lasting
    one more is caught into exactly one sync_failed, and the roster stays as it was."""
    _, baseline = world.clean_night(DISTRICT.id)
    absorbed = retries(state)
    assert absorbed == 2

    world.fault(function, RuntimeError("injected"), times=absorbed, district_id=DISTRICT.id)
    night = world.night([DISTRICT.id])
    assert night.attempts[(function, DISTRICT.id)] == absorbed + 1
    assert_completed_identically(world, night, baseline)
    assert night.sync_failed(DISTRICT.id) == []

    world.fault(function, RuntimeError("injected"), times=absorbed + 1, district_id=DISTRICT.id)
    night = world.night([DISTRICT.id])
    assert night.attempts[(function, DISTRICT.id)] == absorbed + 1
    assert_failed_cleanly(world, night, baseline)
    [alert] = night.sync_failed(DISTRICT.id)
    assert f"district {DISTRICT.id}" in alert.body and "Error: RuntimeError" in alert.body


def test_each_stage_event_delivered_twice_gives_the_same_result_and_no_double_writes(
    world: FaultWorld,
) -> None:
    """Every task of the district's night delivered twice (at-least-once delivery), back to back."""
    baseline_night, baseline = world.clean_night(DISTRICT.id)
    _tomorrow_changes(world)
    deliveries: dict[str, list[Any]] = {}

    def twice(logical_id: str) -> Callable[[Handler], Handler]:
        def wrapper(handler: Handler) -> Handler:
            def call(event: dict[str, Any], context: Any) -> Any:
                if event.get("discover") or event.get("index"):
                    return handler(event, context)
                first = handler(event, context)
                between = snapshot(world.table_name, DISTRICT.id)
                second = handler(event, context)
                deliveries[logical_id] = [first, second, between]
                return second

            return call

        return wrapper

    for logical_id in ("FetchFunction", "ValidateFunction", "ImportFunction"):
        world.functions.wrap(logical_id, twice(logical_id))
    night = world.night([DISTRICT.id])

    assert deliveries["FetchFunction"][0] == deliveries["FetchFunction"][1]
    assert deliveries["ValidateFunction"][0] == deliveries["ValidateFunction"][1]
    first, second, after_first = deliveries["ImportFunction"]
    after_second = snapshot(world.table_name, DISTRICT.id)
    assert first["status"] == "succeeded" and first["roster_writes"] > 0
    assert second["replayed"] is True and second["counts"] == first["counts"]
    assert after_second.items == after_first.items, "the second delivery wrote nothing"
    kinds = [a.event_type for a in night.alerts]
    assert len(kinds) == len(set(kinds)), f"an alert was sent twice: {kinds}"
    check_invariants(world, night, baseline, same_content=False)
    run_id = night.outcome(DISTRICT.id).run_id
    _assert_clean_import_of(world, after_second, baseline_night.outcome(DISTRICT.id).run_id, run_id)


# --- SNS ---------------------------------------------------------------------------------------

SHRUNK = dataclasses.replace(DISTRICT, students=12)  # half the students gone: the safeguard holds


def test_an_sns_publish_failure_fails_neither_validate_nor_import_and_the_alert_comes_next_night(
    world: FaultWorld,
) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.serve(SHRUNK)
    rule = world.aws.fail("sns", "Publish", client_error("InternalError", "Publish"), times=1000)

    night = world.night([DISTRICT.id])

    stages = night.outcome(DISTRICT.id).stages
    assert stages["validate"]["status"] == "validated"
    assert stages["import"]["status"] == "held"  # deletions_held could not be published
    assert rule.fired >= 1 and night.alerts == []
    check_invariants(world, night, baseline, same_content=False)
    assert snapshot(world.table_name, DISTRICT.id).active >= baseline.active

    rule.times = 0  # SNS is back
    again = world.night([DISTRICT.id])
    kinds = {a.event_type for a in again.alerts}
    assert "deletions_held" in kinds
