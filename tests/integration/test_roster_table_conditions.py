"""The roster table adapter's conditional writes on the embedded AWS (moto on loopback): a failed
condition is an answer (False, or LeaseLost), any other error of DynamoDB is raised as it came
(never read as "the condition failed"), and throttling that does not end is a RosterWriteError
naming the table and the operation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.layout import district_pk, roster_sk, state_id_pk, state_id_sk
from rostersync.ports import Lease, RosterWriteError
from rostersync.records import Kind
from rostersync.settings import Settings
from rostersync_cli.embedded import EmbeddedAws
from rostersync_cli.provision import provision

D = "dcond000000000000000001"
REAL = "1000000001"


@pytest.fixture(scope="module")
def table_name(embedded_aws: EmbeddedAws) -> Iterator[str]:
    """One provisioned table for the module (each test uses its own keys)."""
    suffix = uuid.uuid4().hex[:8]
    mp = pytest.MonkeyPatch()
    env = {**embedded_aws.environment(), "ROSTER_TABLE": f"roster-{suffix}", "RAW_BUCKET": f"raw-{suffix}"}
    for name, value in env.items():
        mp.setenv(name, value)
    settings = Settings()
    provision(settings)
    try:
        yield settings.roster_table
    finally:
        mp.undo()


@pytest.fixture
def table(table_name: str, embedded_aws: EmbeddedAws) -> DynamoRosterTable:
    return DynamoRosterTable(table_name, _client(embedded_aws), sleep=lambda _s: None)


def _client(aws: EmbeddedAws) -> Any:
    env = aws.environment()
    return boto3.client(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _entry(version: int, state_id: str) -> dict[str, Any]:
    return {
        "pk": state_id_pk(state_id),
        "sk": state_id_sk(state_id),
        "item_type": "state_id",
        "version": version,
        "claims": {D: {"student": "s"}},
    }


def test_a_versioned_put_succeeds_only_on_the_version_it_read(table: DynamoRosterTable) -> None:
    state_id = "1000000101"
    assert table.put_versioned(_entry(1, state_id), 0) is True
    assert table.put_versioned(_entry(1, state_id), 0) is False  # created meanwhile by another run
    assert table.put_versioned(_entry(2, state_id), 1) is True
    assert table.put_versioned(_entry(3, state_id), 1) is False  # changed meanwhile
    stored = table.get_item(state_id_pk(state_id), state_id_sk(state_id))
    assert stored is not None and stored["version"] == 2


def test_the_trusted_flag_is_set_only_on_an_active_student_with_the_id(table: DynamoRosterTable) -> None:
    key = (district_pk(D), roster_sk(Kind.STUDENT, "flagged"))
    table.put_item({"pk": key[0], "sk": key[1], "status": "active", "state_id": REAL})
    assert table.set_trusted(D, "flagged", "1000000999", True) is False  # another id
    assert table.set_trusted(D, "nobody", REAL, True) is False  # no such student
    assert table.set_trusted(D, "flagged", REAL, True) is True
    stored = table.get_item(*key)
    assert stored is not None and stored["state_id_trusted"] is True
    assert table.set_trusted(D, "flagged", REAL, False) is True
    stored = table.get_item(*key)
    assert stored is not None and "state_id_trusted" not in stored


def test_a_school_has_no_membership_edges_and_is_not_queried(table: DynamoRosterTable) -> None:
    calls: list[str] = []
    table._ddb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    assert table.member_edges(D, roster_sk(Kind.SCHOOL, "sch1")) == set()
    assert calls == []


_LEASE = Lease(D, "holder", "token", "run-1")
_OPERATIONS = {
    "put_versioned": lambda t: t.put_versioned(_entry(1, "1000000102"), 0),
    "set_status": lambda t: t.set_status(district_pk(D), "STUDENT#s", "active", "archived"),
    "set_trusted": lambda t: t.set_trusted(D, "s", REAL, True),
    "archive": lambda t: t.archive(D, "STUDENT#s", run_id="run-2", now="t", fence_run="run-2"),
    "acquire_lease": lambda t: t.acquire_lease(D, "holder", now=1, ttl=60, fence_run="run-1"),
    "renew_lease": lambda t: t.renew_lease(_LEASE, now=1, ttl=60),
    "release_lease": lambda t: t.release_lease(_LEASE, completed=["run-1"]),
}


@pytest.mark.parametrize("operation", sorted(_OPERATIONS))
def test_errors_other_than_a_failed_condition_are_raised_not_read_as_an_answer(
    table_name: str, embedded_aws: EmbeddedAws, operation: str
) -> None:
    missing = DynamoRosterTable(f"{table_name}-missing", _client(embedded_aws), sleep=lambda _s: None)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        _OPERATIONS[operation](missing)


class _Throttled:
    """The moto client, with every `put_item` throttled as DynamoDB does under a hot key."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.puts = 0

    def put_item(self, **_: Any) -> dict[str, Any]:
        self.puts += 1
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_throttling_that_does_not_end_is_a_write_error_naming_the_table(
    table_name: str, embedded_aws: EmbeddedAws
) -> None:
    throttled = _Throttled(_client(embedded_aws))
    sleeps: list[float] = []
    table = DynamoRosterTable(table_name, throttled, max_attempts=3, sleep=sleeps.append)
    with pytest.raises(RosterWriteError, match=f"put_item on {table_name} still throttled after 3 attempts"):
        table.put_item({"pk": district_pk(D), "sk": "STUDENT#throttled", "status": "active"})
    assert throttled.puts == 3 and len(sleeps) == 2
    assert table.get_item(district_pk(D), "STUDENT#throttled") is None
