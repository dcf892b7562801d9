"""Import paths no other test executes, against DynamoDB on the moto server: archives of every
kind with their membership items, an archive DynamoDB's condition refuses, an unreadable roster
index, releases that find no hold or a busy lease. Each result is checked against values written
out here or against a clean import into a fresh table (the independent reference)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.contracts.importer import ImportResult, RunStatus
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.release import release_hold
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.layout import LEASE_SK, district_pk, hold_pk, lease_pk, roster_index_key
from rostersync.records import Kind
from rostersync.settings import Settings
from rostersync_cli.provision import provision
from tests.factories import Clock, D, Roster, small_roster

EVERYTHING = SafeguardThresholds(archive_percent=100.0)  # these tests archive on purpose
VOLATILE = frozenset({"last_changed_run", "updated_at", "archived_at", "archived_run"})


class World:
    """One provisioned table and bucket, and a way to import into them (or into a fresh table)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = boto3.client("dynamodb")
        self.table = DynamoRosterTable(settings.roster_table, self.client, sleep=lambda _s: None)
        self.store = S3PageStore(settings.raw_bucket)
        self.holds = PageStoreHoldStore(self.store)
        self.clock = Clock()

    def run(self, roster: Roster, *, table: Any = None, **kw: Any) -> ImportResult:
        return import_district(
            D,
            kw.pop("run_id", None) or self.clock.next_run(),
            roster.accepted(),
            set(),
            table or self.table,
            holds=self.holds,
            clock=self.clock,
            thresholds=kw.pop("thresholds", EVERYTHING),
            **kw,
        )

    def partition(self, pk: str, table_name: str | None = None) -> dict[str, dict[str, Any]]:
        ddb = boto3.resource("dynamodb").Table(table_name or self.settings.roster_table)
        items: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk), "ConsistentRead": True}
        while True:
            page = ddb.query(**kwargs)
            items.update({item["sk"]: item for item in page["Items"]})
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def status(self, kind: Kind, clever_id: str) -> str:
        return str(self.partition(district_pk(D))[f"{kind.value}#{clever_id}"]["status"])

    def lease_item(self) -> dict[str, Any]:
        return self.table.get_item(lease_pk(D), LEASE_SK) or {}

    def fresh_reference(self, roster: Roster) -> str:
        """A clean import of `roster` into a new table provisioned from template.yaml; its name."""
        fresh = self.settings.model_copy(update={"roster_table": f"{self.settings.roster_table}-ref"})
        provision(fresh)
        table = DynamoRosterTable(fresh.roster_table, sleep=lambda _s: None)
        holds = PageStoreHoldStore(S3PageStore(self.settings.raw_bucket))
        clock = Clock()
        result = import_district(
            D, clock.next_run(), roster.accepted(), set(), table, holds=holds, clock=clock
        )
        assert result.status is RunStatus.SUCCEEDED
        table.close()
        return fresh.roster_table


@pytest.fixture
def world(settings: Settings, raw_bucket: str) -> Iterator[World]:
    provision(settings)
    world = World(settings)
    yield world
    world.table.close()


def _roster() -> Roster:
    """Two schools; st0000..st0007 alternate sch1/sch2; te000 (sch1) teaches se000 (sch1's
    students), te001 (sch2) teaches se001 (sch2's students)."""
    return small_roster(students=8, schools=2, teachers=2)


def _content(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {sk: {k: v for k, v in item.items() if k not in VOLATILE} for sk, item in items.items()}


# ----------------------------------------------------------------------- archives of every kind


def test_teachers_sections_and_schools_are_archived_with_their_membership_items(world: World) -> None:
    roster = _roster()
    world.run(roster)
    assert set(world.partition(f"SECTION#{D}#se001")) == {"TEACHER#te001"}  # a section's teachers
    # School sch2 closes: its teacher, its section and its students leave with it.
    for kind, clever_id in [
        (Kind.SCHOOL, "sch2"),
        (Kind.TEACHER, "te001"),
        (Kind.SECTION, "se001"),
        *[(Kind.STUDENT, f"st000{n}") for n in (1, 3, 5, 7)],
    ]:
        roster.remove(kind, clever_id)

    result = world.run(roster)

    assert result.status is RunStatus.SUCCEEDED
    archived = {kind: counts.archived for kind, counts in result.counts.items() if counts.archived}
    assert archived == {"SCHOOL": 1, "TEACHER": 1, "SECTION": 1, "STUDENT": 4}
    assert world.status(Kind.SCHOOL, "sch2") == "archived"
    assert world.status(Kind.TEACHER, "te001") == "archived"
    assert world.status(Kind.SECTION, "se001") == "archived"
    assert world.status(Kind.SCHOOL, "sch1") == "active"
    # Their membership items are gone; sch1's are untouched.
    assert world.partition(f"SECTION#{D}#se001") == {}
    assert world.partition(f"SCHOOL#{D}#sch2") == {}
    assert set(world.partition(f"SCHOOL#{D}#sch1")) == {
        "TEACHER#te000",
        *(f"STUDENT#st000{n}" for n in (0, 2, 4, 6)),
    }
    # The active roster and every membership item are exactly a clean import of tonight's roster.
    fresh = world.fresh_reference(roster)
    active = {sk: i for sk, i in world.partition(district_pk(D)).items() if i["status"] == "active"}
    assert _content(active) == _content(world.partition(district_pk(D), fresh))
    for group in (f"SCHOOL#{D}#sch1", f"SCHOOL#{D}#sch2", f"SECTION#{D}#se000", f"SECTION#{D}#se001"):
        assert _content(world.partition(group)) == _content(world.partition(group, fresh)), group


# --------------------------------------------------------------- an archive the condition refuses


def test_the_archive_condition_refuses_an_item_a_newer_run_changed(world: World) -> None:
    roster = _roster()
    first = world.run(roster)
    sk = "TEACHER#te001"
    newer = "29991231T000000Z-999999"
    world.client.update_item(
        TableName=world.settings.roster_table,
        Key={"pk": {"S": district_pk(D)}, "sk": {"S": sk}},
        UpdateExpression="SET last_changed_run = :r",
        ExpressionAttributeValues={":r": {"S": newer}},
    )
    older = "20261201T000000Z-000002"  # tonight's run, older than the one that changed the item
    refused = world.table.archive(D, sk, run_id=older, now="2026-12-01T00:00:00+00:00", fence_run=older)
    assert refused is False
    assert world.partition(district_pk(D))[sk]["status"] == "active"
    assert world.partition(district_pk(D))[sk]["last_changed_run"] == newer
    # Allowed when the fence is not older than the item's last change; refused once archived.
    assert world.table.archive(D, sk, run_id=newer, now="2026-12-01T00:00:00+00:00", fence_run=newer)
    assert not world.table.archive(D, sk, run_id=newer, now="2026-12-01T00:00:00+00:00", fence_run=newer)
    assert not world.table.archive(D, "TEACHER#nobody", run_id=newer, now="x", fence_run=newer)
    assert first.status is RunStatus.SUCCEEDED


class ChangedUnderUs(DynamoRosterTable):
    """Between the plan and the archive, another writer changes the item (a newer run's id)."""

    def archive(self, district_id: str, sk: str, *, run_id: str, now: str, fence_run: str) -> bool:
        self._ddb.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": district_pk(district_id)}, "sk": {"S": sk}},
            UpdateExpression="SET last_changed_run = :r",
            ExpressionAttributeValues={":r": {"S": "29991231T000000Z-999999"}},
        )
        return super().archive(district_id, sk, run_id=run_id, now=now, fence_run=fence_run)


def test_an_archive_refused_by_the_condition_is_left_counted_out_and_names_no_index(world: World) -> None:
    roster = _roster()
    world.run(roster)
    assert world.lease_item().get("roster_index")  # a clean commit names its index
    roster.remove(Kind.TEACHER, "te001")

    result = world.run(roster, table=ChangedUnderUs(world.settings.roster_table, world.client))

    assert result.status is RunStatus.SUCCEEDED
    assert result.counts["TEACHER"].archived == 0
    assert world.status(Kind.TEACHER, "te001") == "active"
    assert "TEACHER#te001" in world.partition(f"SCHOOL#{D}#sch2")  # its membership stays with the item
    # What the table holds for the item is not what the run planned: no index is named valid.
    assert "roster_index" not in world.lease_item()
    assert world.lease_item()["committed_run"] == result.run_id


# ------------------------------------------------------------------------ an unreadable index


@pytest.mark.parametrize("fault", ["corrupt-gzip", "access-denied"])
def test_an_unreadable_roster_index_sends_the_diff_to_the_table(world: World, fault: str) -> None:
    roster = _roster()
    world.run(roster)
    key = roster_index_key(D)
    if fault == "corrupt-gzip":
        world.store._s3.put_object(Bucket=world.settings.raw_bucket, Key=key, Body=b"\x1f\x8b\x08garbage")
    else:
        s3 = boto3.client("s3")

        def deny(params: dict[str, Any], **_: Any) -> None:
            if params.get("Key") == key:
                raise s3.exceptions.ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "injected"}}, "GetObject"
                )

        s3.meta.events.register("before-parameter-build.s3.GetObject", deny)
        world.holds = PageStoreHoldStore(S3PageStore(world.settings.raw_bucket, s3))
    roster.remove(Kind.STUDENT, "st0007")

    result = world.run(roster)

    assert result.status is RunStatus.SUCCEEDED
    assert result.diff_source == "table"
    assert result.counts["STUDENT"].unchanged == 7 and result.counts["STUDENT"].archived == 1
    assert result.total("created") == 0 and result.total("updated") == 0
    assert world.status(Kind.STUDENT, "st0007") == "archived"


# ---------------------------------------------------------------------------------- releases


def test_releasing_a_hold_that_does_not_exist_changes_nothing(world: World) -> None:
    world.run(_roster())
    before = world.partition(district_pk(D))

    by_id = release_hold(
        D, "20000101T000000Z-000000", table=world.table, holds=world.holds, store=world.store
    )
    newest = release_hold(D, None, table=world.table, holds=world.holds, store=world.store)

    assert (by_id.status, by_id.run_id, by_id.archived) == ("not_found", "20000101T000000Z-000000", 0)
    assert (newest.status, newest.run_id, newest.archived) == ("not_found", None, 0)
    assert world.partition(district_pk(D)) == before
    assert "lease_token" not in world.lease_item()  # no lease was taken


def test_a_release_while_another_run_holds_the_lease_is_skipped(world: World) -> None:
    roster = small_roster(students=30)  # over the safeguard's floor of 20
    world.run(roster)
    for n in range(5):
        roster.remove(Kind.STUDENT, f"st{n:04d}")
    held = world.run(roster, thresholds=SafeguardThresholds(archive_percent=10.0))
    assert held.status is RunStatus.HELD
    lease = world.table.acquire_lease(D, "another-run", now=2_000_000_000, ttl=1200, fence_run=None)

    busy = release_hold(D, held.run_id, table=world.table, holds=world.holds, store=world.store)

    assert (busy.status, busy.archived) == ("skipped_locked", 0)
    assert {world.status(Kind.STUDENT, f"st{n:04d}") for n in range(5)} == {"active"}
    assert world.partition(hold_pk(D))[held.run_id]["status"] == "held"
    assert world.lease_item()["holder"] == "another-run"  # the other run's lease is untouched
    world.table.release_lease(lease, completed=None)
    released = release_hold(D, held.run_id, table=world.table, holds=world.holds, store=world.store)
    assert (released.status, released.archived) == ("released", 5)
