"""import_district against the moto server, on a table provisioned from template.yaml."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.contracts.importer import ImportResult, RunStatus
from rostersync.ids import new_run_id
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.release import release_hold
from rostersync.importer.runs import latest_runs, set_thresholds
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.ports import LeaseLost
from rostersync.records import Kind, PersonName, SectionRecord
from rostersync.settings import Settings
from rostersync_cli.provision import provision
from tests.factories import Clock, D, Roster, small_roster, student

pytestmark = pytest.mark.integration

ROSTER_PREFIXES = ("DISTRICT#", "SCHOOL#", "SECTION#", "STATEID#")  # STATEID#: PA Secure ID registry


class WriteCounter:
    """Counts roster and membership items written through a client (botocore event hook)."""

    def __init__(self) -> None:
        self.items: Counter[str] = Counter()
        self.keys: list[tuple[str, str]] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        op = model.name
        if op == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                for request in requests:
                    body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
                    self._count(op, body)
        elif op == "PutItem":
            self._count(op, params["Item"])
        elif op in ("UpdateItem", "DeleteItem"):
            self._count(op, params["Key"])

    def _count(self, op: str, key: dict[str, Any]) -> None:
        pk, sk = key["pk"]["S"], key["sk"]["S"]
        if pk.startswith(ROSTER_PREFIXES):
            self.items[op] += 1
            self.keys.append((pk, sk))

    @property
    def total(self) -> int:
        return sum(self.items.values())

    def reset(self) -> None:
        self.items.clear()
        self.keys.clear()


class Env:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = boto3.client("dynamodb")
        self.writes = WriteCounter()
        self.client.meta.events.register("before-parameter-build.dynamodb.*", self.writes)
        self.table = DynamoRosterTable(settings.roster_table, self.client, sleep=lambda _s: None)
        self.store = S3PageStore(settings.raw_bucket)
        self.holds = PageStoreHoldStore(self.store)
        self.clock = Clock()
        self.ddb = boto3.resource("dynamodb").Table(settings.roster_table)

    def run(
        self,
        roster: Roster,
        run_id: str | None = None,
        rejected: set[str] | None = None,
        **kw: Any,
    ) -> ImportResult:
        self.writes.reset()
        return import_district(
            D,
            run_id or self.clock.next_run(),
            roster.accepted(),
            rejected or set(),
            kw.pop("table", self.table),
            holds=kw.pop("holds", self.holds),
            clock=self.clock,
            thresholds=kw.pop("thresholds", SafeguardThresholds()),
            **kw,
        )

    def item(self, kind: Kind, clever_id: str) -> dict[str, Any] | None:
        return self.ddb.get_item(Key={"pk": f"DISTRICT#{D}", "sk": f"{kind.value}#{clever_id}"}).get("Item")

    def query(self, **kw: Any) -> list[dict[str, Any]]:
        return list(self.ddb.query(**kw)["Items"])


@pytest.fixture
def env(settings: Settings, raw_bucket: str) -> Iterator[Env]:
    provision(settings)
    yield Env(settings)


def _statuses(env: Env, kind: Kind) -> dict[str, str]:
    from boto3.dynamodb.conditions import Key

    items = env.query(
        KeyConditionExpression=Key("pk").eq(f"DISTRICT#{D}") & Key("sk").begins_with(f"{kind.value}#")
    )
    return {i["clever_id"]: i["status"] for i in items}


# ------------------------------------------------------------------------- first import


def test_first_import_writes_the_table_contract(env: Env) -> None:
    from boto3.dynamodb.conditions import Key

    roster = small_roster(students=30, teachers=3)
    result = env.run(roster, fetched={"student": 31, "unknown": 1})
    assert result.status is RunStatus.SUCCEEDED
    assert result.counts["STUDENT"].created == 30 and result.counts["STUDENT"].fetched == 31
    assert result.counts["SCHOOL"].created == 1
    assert result.total("created") == 1 + 1 + 30 + 3 + 3 + 1 + 1
    # 40 roster items + 30+3 school memberships + 3 section-teacher memberships (students are lists)
    # + 30 PA Secure ID registry entries (conditional puts of their own: not in roster_writes)
    assert env.writes.total - 30 == 40 + 33 + 3 == result.roster_writes
    assert result.state_ids is not None and result.state_ids["taken"] == 30

    stud = env.item(Kind.STUDENT, "st0001")
    assert stud is not None
    assert stud["pk"] == f"DISTRICT#{D}" and stud["sk"] == "STUDENT#st0001"
    assert stud["status"] == "active" and stud["state_id"] and len(stud["content_hash"]) == 32
    assert stud["schools"] == ["sch1"]
    sch = env.item(Kind.SCHOOL, "sch1")
    assert sch is not None and sch["nces_id"] == "420000100001" and "state_id" not in sch
    assert sch["school_state_id"] == "PA-SCH-1"
    teacher = env.item(Kind.TEACHER, "te000")
    assert teacher is not None and "state_id" not in teacher

    # A student by PA Secure ID (sparse GSI: students only).
    by_state = env.query(IndexName="by_state_id", KeyConditionExpression=Key("state_id").eq(stud["state_id"]))
    assert [i["sk"] for i in by_state] == ["STUDENT#st0001"]
    assert by_state[0]["state_id_trusted"] is True  # the one the application trusts
    # A school's students.
    members = env.query(
        KeyConditionExpression=Key("pk").eq(f"SCHOOL#{D}#sch1") & Key("sk").begins_with("STUDENT#")
    )
    assert len(members) == 30
    # A section's roster: its item's lists, by key.
    section_item = env.item(Kind.SECTION, "se000")
    assert section_item is not None
    assert section_item["students"] == [f"st{n:04d}" for n in range(0, 30, 3)]
    assert section_item["teachers"] == ["te000"]
    # A teacher's sections (inverted GSI).
    sections = env.query(
        IndexName="inverted",
        KeyConditionExpression=Key("sk").eq("TEACHER#te001") & Key("pk").begins_with("SECTION#"),
    )
    assert [i["pk"] for i in sections] == [f"SECTION#{D}#se001"]
    # Everything of one district by its partition; kinds by sk prefix.
    assert set(_statuses(env, Kind.STUDENT).values()) == {"active"}


def test_unchanged_rerun_writes_nothing_and_one_change_writes_one_item(env: Env) -> None:
    roster = small_roster()
    env.run(roster)
    again = env.run(roster)
    assert again.status is RunStatus.SUCCEEDED
    assert env.writes.total == 0 and again.roster_writes == 0
    assert again.total("unchanged") == again.total("accepted")

    old = roster.records[(Kind.STUDENT, "st0005")]
    assert isinstance(old, type(student("x")))
    roster.add(Kind.STUDENT, old.model_copy(update={"name": PersonName(first="Anne", last="Changed")}))
    changed = env.run(roster)
    assert changed.counts["STUDENT"].updated == 1
    # the student item only: an update that keeps the PA Secure ID writes no holder item
    assert env.writes.total == 1 and env.writes.keys == [(f"DISTRICT#{D}", "STUDENT#st0005")]
    item = env.item(Kind.STUDENT, "st0005")
    assert item is not None and item["last_name"] == "Changed" and item["last_changed_run"] == changed.run_id


def test_moving_school_moves_membership(env: Env) -> None:
    from boto3.dynamodb.conditions import Key

    roster = small_roster(students=30, schools=2)
    env.run(roster)
    roster.add(Kind.STUDENT, student("st0000", ("sch2",)))
    env.run(roster)
    # the student item and its two memberships (one deleted, one put): no holder item (same id)
    assert env.writes.total == 3
    old = env.query(KeyConditionExpression=Key("pk").eq(f"SCHOOL#{D}#sch1") & Key("sk").eq("STUDENT#st0000"))
    new = env.query(KeyConditionExpression=Key("pk").eq(f"SCHOOL#{D}#sch2") & Key("sk").eq("STUDENT#st0000"))
    assert old == [] and len(new) == 1


# ------------------------------------------------------------------- archive / restore


def test_disappearance_archives_and_reappearance_restores(env: Env) -> None:
    from boto3.dynamodb.conditions import Key

    roster = small_roster(students=30, teachers=3)
    env.run(roster)
    gone = roster.remove(Kind.STUDENT, "st0007")
    # sections only reference accepted users
    for (kind, _sid), rec in list(roster.records.items()):
        if isinstance(rec, SectionRecord) and "st0007" in rec.students:
            roster.add(
                kind, rec.model_copy(update={"students": tuple(s for s in rec.students if s != "st0007")})
            )
    result = env.run(roster)
    assert result.counts["STUDENT"].archived == 1 and result.status is RunStatus.SUCCEEDED
    item = env.item(Kind.STUDENT, "st0007")
    assert item is not None and item["status"] == "archived" and item["archived_run"] == result.run_id
    assert "state_id" not in item and item["archived_state_id"] and item["first_name"] == "Ann"
    # off the PA Secure ID index, no memberships left
    assert (
        env.query(
            IndexName="by_state_id", KeyConditionExpression=Key("state_id").eq(item["archived_state_id"])
        )
        == []
    )
    # `inverted` projects keys only: the archived student's own item, no membership item
    assert env.query(IndexName="inverted", KeyConditionExpression=Key("sk").eq("STUDENT#st0007")) == [
        {"pk": item["pk"], "sk": item["sk"]}
    ]

    roster.add(Kind.STUDENT, gone)
    back = env.run(roster)
    assert back.counts["STUDENT"].restored == 1
    item = env.item(Kind.STUDENT, "st0007")
    assert item is not None and item["status"] == "active" and item["state_id"] == gone.state_id  # type: ignore[union-attr]
    assert "archived_at" not in item
    members = env.query(
        KeyConditionExpression=Key("pk").eq(f"SCHOOL#{D}#sch1") & Key("sk").eq("STUDENT#st0007")
    )
    assert len(members) == 1


def test_rejected_tonight_keeps_last_good_version(env: Env) -> None:
    roster = small_roster()
    env.run(roster)
    before = env.item(Kind.STUDENT, "st0003")
    roster.remove(Kind.STUDENT, "st0003")
    result = env.run(roster, rejected={"st0003"})
    assert result.counts["STUDENT"].rejected_kept == 1 and result.counts["STUDENT"].archived == 0
    assert env.item(Kind.STUDENT, "st0003") == before
    assert result.rejected == 1


# --------------------------------------------------------------------------- safeguard


def test_safeguard_holds_then_release_applies_once(env: Env) -> None:
    roster = small_roster(students=30, teachers=3)
    env.run(roster)
    for n in range(4):  # 4 of 30 students: 13% > 10%
        roster.remove(Kind.STUDENT, f"st{n:04d}")
    roster.add(Kind.TERM, roster.records[(Kind.TERM, "term1")].model_copy(update={"name": "renamed"}))
    held = env.run(roster)
    assert held.status is RunStatus.HELD and held.held
    assert held.counts["STUDENT"].held == 4 and held.total("archived") == 0
    assert held.counts["TERM"].updated == 1  # creates/updates still apply
    assert {(t.scope, t.key) for t in held.trips} == {("kind", "STUDENT"), ("school", "sch1")}
    assert held.hold_key == f"holds/{D}/{held.run_id}/archive.csv"
    body = (
        boto3.client("s3")
        .get_object(Bucket=env.settings.raw_bucket, Key=held.hold_key)["Body"]
        .read()
        .decode()
    )
    lines = body.splitlines()
    assert lines[0] == "kind,clever_id,sis_id"
    assert lines[1:] == [f"STUDENT,st{n:04d},sis-st{n:04d}" for n in range(4)]
    assert set(_statuses(env, Kind.STUDENT).values()) == {"active"}

    env.writes.reset()
    released = release_hold(
        D, held.run_id, table=env.table, holds=env.holds, store=env.store, clock=env.clock
    )
    assert released.status == "released" and released.archived == 4
    assert [s for i, s in _statuses(env, Kind.STUDENT).items() if s == "archived"] == ["archived"] * 4
    writes = env.writes.total
    assert writes > 0

    env.writes.reset()
    again = release_hold(D, held.run_id, table=env.table, holds=env.holds, store=env.store, clock=env.clock)
    assert again.status == "already_released" and again.archived == 0 and env.writes.total == 0


def test_release_skips_records_that_came_back(env: Env) -> None:
    roster = small_roster(students=30)
    env.run(roster)
    removed = [roster.remove(Kind.STUDENT, f"st{n:04d}") for n in range(4)]
    held = env.run(roster)
    assert held.status is RunStatus.HELD
    # st0000 comes back changed through another path before the release (e.g. a later run's
    # update that a test simulates directly): it must stay active.
    env.ddb.update_item(
        Key={"pk": f"DISTRICT#{D}", "sk": "STUDENT#st0000"},
        UpdateExpression="SET last_changed_run = :r",
        ExpressionAttributeValues={":r": "29990101T000000Z-zzzzzz"},
    )
    released = release_hold(D, None, table=env.table, holds=env.holds, store=env.store, clock=env.clock)
    assert released.archived == 3 and released.skipped == 1
    statuses = _statuses(env, Kind.STUDENT)
    assert statuses["st0000"] == "active"
    assert {statuses[record.id] for record in removed[1:]} == {"archived"}  # the other three


def test_later_run_supersedes_a_hold(env: Env) -> None:
    roster = small_roster(students=30)
    env.run(roster)
    gone = [roster.remove(Kind.STUDENT, f"st{n:04d}") for n in range(4)]
    held = env.run(roster)
    for record in gone:
        roster.add(Kind.STUDENT, record)
    back = env.run(roster)
    assert back.status is RunStatus.SUCCEEDED and back.total("archived") == 0
    assert (
        release_hold(
            D, held.run_id, table=env.table, holds=env.holds, store=env.store, clock=env.clock
        ).status
        == "superseded"
    )


def test_district_thresholds_override_the_default(env: Env) -> None:
    roster = small_roster(students=30)
    env.run(roster)
    set_thresholds(env.table, D, SafeguardThresholds(archive_percent=50))
    for n in range(4):
        roster.remove(Kind.STUDENT, f"st{n:04d}")
    result = env.run(roster)
    assert result.status is RunStatus.SUCCEEDED and result.counts["STUDENT"].archived == 4


# ----------------------------------------------------------------------------- dry run


def test_dry_run_writes_the_change_set_and_no_roster_item(env: Env) -> None:
    roster = small_roster()
    result = env.run(roster, dry_run=True)
    assert result.status is RunStatus.DRY_RUN and env.writes.total == 0
    assert _statuses(env, Kind.STUDENT) == {}
    body = env.store.get_json(result.changeset_key or "")
    assert body["dry_run"] is True and body["counts"]["STUDENT"]["created"] == 30
    assert ["created", "STUDENT", "st0000"] in body["changes"]
    assert latest_runs(env.table, D)[0].status is RunStatus.DRY_RUN


# ---------------------------------------------------------------- leases and fencing


def test_second_concurrent_run_is_skipped(env: Env) -> None:
    roster = small_roster()
    lease = env.table.acquire_lease(
        D, "someone", now=int(env.clock().timestamp()), ttl=7 * 86400, fence_run="0"
    )
    result = env.run(roster)
    assert result.status is RunStatus.SKIPPED_LOCKED and env.writes.total == 0
    env.table.release_lease(lease, completed=None)
    assert env.run(roster).status is RunStatus.SUCCEEDED


def test_concurrent_runs_in_threads_one_wins(env: Env) -> None:
    roster = small_roster()
    results: list[ImportResult] = []
    lost: list[LeaseLost] = []
    barrier = threading.Barrier(2)

    def go(run_id: str) -> None:
        table = DynamoRosterTable(env.settings.roster_table, boto3.client("dynamodb"))
        barrier.wait()
        try:
            results.append(
                import_district(D, run_id, roster.accepted(), set(), table, holds=env.holds, clock=env.clock)
            )
        except LeaseLost as exc:
            # moto's conditional updates are not atomic across concurrent requests, so both runs
            # may take the lease there; the loser then finds its lease gone and refuses to commit.
            lost.append(exc)

    day = f"{env.clock():%Y%m%dT%H%M%S}"
    threads = [threading.Thread(target=go, args=(f"{day}Z-00000{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status.value for r in results)
    # Either one ran and the other found the lease, or they ran one after the other (the older
    # then refused as stale, or the newer found nothing to change).
    assert RunStatus.SUCCEEDED.value in statuses
    assert all(s in {"succeeded", "skipped_locked", "skipped_stale"} for s in statuses)
    assert len(results) + len(lost) == 2
    # Whatever the interleaving: exactly one run wrote the roster, a second success wrote nothing,
    # the lease is free, and the table is exactly a clean import of the roster.
    writers = [r for r in results if r.status is RunStatus.SUCCEEDED and r.roster_writes > 0]
    assert len(writers) == 1, [(r.run_id, r.status.value, r.roster_writes) for r in results]
    lease = env.table.get_item(f"LEASE#{D}", "LEASE") or {}
    assert "lease_token" not in lease and lease.get("committed_run") == max(
        r.run_id for r in results if r.status is RunStatus.SUCCEEDED
    )
    assert _snapshot(env) == _clean_reference(env, env.settings, [roster])


def test_expired_lease_is_taken_over(env: Env) -> None:
    roster = small_roster()
    env.table.acquire_lease(D, "dead", now=int(env.clock().timestamp()) - 3600, ttl=600, fence_run="0")
    assert env.run(roster).status is RunStatus.SUCCEEDED


def test_stale_run_cannot_overwrite_a_newer_one(env: Env) -> None:
    roster = small_roster()
    old_run = env.clock.next_run()
    new_run = env.clock.next_run()
    env.run(roster, run_id=new_run)
    roster.add(Kind.TERM, roster.records[(Kind.TERM, "term1")].model_copy(update={"name": "older data"}))
    stale = env.run(roster, run_id=old_run)
    assert stale.status is RunStatus.SKIPPED_STALE and env.writes.total == 0
    item = env.item(Kind.TERM, "term1")
    assert item is not None and item["name"] == "2026-27"


def test_replayed_run_returns_the_recorded_result(env: Env) -> None:
    roster = small_roster()
    run_id = env.clock.next_run()
    first = env.run(roster, run_id=run_id)
    second = env.run(roster, run_id=run_id)
    assert second.replayed and env.writes.total == 0
    assert second.counts == first.counts and second.status is first.status


def test_latest_runs_per_district_and_overall(env: Env) -> None:
    roster = small_roster()
    a = env.run(roster)
    b = env.run(roster)
    runs = latest_runs(env.table, D, limit=5)
    assert [r.run_id for r in runs] == [b.run_id, a.run_id]
    assert runs[0].counts["STUDENT"].unchanged == 30
    overall = latest_runs(env.table, None, limit=1)
    assert [r.run_id for r in overall] == [b.run_id]


# ------------------------------------------------------------------ failure and resume


class FailingTable(DynamoRosterTable):
    """Fails the n-th batch of roster writes, like a Lambda dying mid-run."""

    def __init__(self, *args: Any, fail_at: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fail_at = fail_at
        self.calls = 0

    def write(self, puts: Any, deletes: Any) -> int:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("simulated crash")
        return super().write(puts, deletes)


def _snapshot(env: Env, table_name: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    from boto3.dynamodb.conditions import Key

    ddb = boto3.resource("dynamodb").Table(table_name) if table_name else env.ddb
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for pk in [f"DISTRICT#{D}", f"SCHOOL#{D}#sch1", f"SCHOOL#{D}#sch2"] + [
        f"SECTION#{D}#se{n:03d}" for n in range(3)
    ]:
        for item in ddb.query(KeyConditionExpression=Key("pk").eq(pk))["Items"]:
            out[(item["pk"], item["sk"])] = {
                k: v
                for k, v in item.items()
                if k not in {"last_changed_run", "updated_at", "archived_at", "archived_run"}
            }
    return out


def _clean_reference(
    env: Env, settings: Settings, nights: list[Roster]
) -> dict[tuple[str, str], dict[str, Any]]:
    """`nights` imported without faults into a new table provisioned from template.yaml."""
    fresh = settings.model_copy(update={"roster_table": f"{settings.roster_table}-ref"})
    provision(fresh)
    table = DynamoRosterTable(fresh.roster_table, sleep=lambda _s: None)
    clock = Clock()
    try:
        for roster in nights:
            result = import_district(
                D, clock.next_run(), roster.accepted(), set(), table, holds=env.holds, clock=clock
            )
            assert result.status is RunStatus.SUCCEEDED
    finally:
        table.close()
    return _snapshot(env, fresh.roster_table)


@pytest.mark.parametrize(
    "fail_at", [1, 2, 3], ids=["before-memberships", "before-items", "before-archive-cleanup"]
)
def test_a_failed_run_is_completed_by_the_next(env: Env, settings: Settings, fail_at: int) -> None:
    roster = small_roster(students=30, schools=2)
    env.run(roster)
    # tonight: moves, a removal and an addition
    roster.add(Kind.STUDENT, student("st0001", ("sch2",)))
    roster.add(Kind.STUDENT, student("st9999", ("sch1",)))
    roster.remove(Kind.STUDENT, "st0002")
    failing = FailingTable(settings.roster_table, env.client, fail_at=fail_at)
    with pytest.raises(RuntimeError, match="simulated crash"):
        import_district(
            D, env.clock.next_run(), roster.accepted(), set(), failing, holds=env.holds, clock=env.clock
        )
    failed = latest_runs(env.table, D, limit=1)[0]
    assert failed.status is RunStatus.FAILED and failed.error

    resumed = env.run(roster)
    assert resumed.status is RunStatus.SUCCEEDED
    assert failing.calls == fail_at
    assert env.run(roster).roster_writes == 0  # complete now

    # The same end state as clean imports of both nights into a fresh table (the reference).
    after = _snapshot(env)
    assert after == _clean_reference(env, settings, [small_roster(students=30, schools=2), roster])
    assert after[(f"DISTRICT#{D}", "STUDENT#st0002")]["status"] == "archived"
    assert (f"SCHOOL#{D}#sch1", "STUDENT#st0002") not in after
    assert (f"SCHOOL#{D}#sch2", "STUDENT#st0001") in after
    assert (f"SCHOOL#{D}#sch1", "STUDENT#st0001") not in after
    assert (f"SCHOOL#{D}#sch1", "STUDENT#st9999") in after
    lease = env.table.get_item(f"LEASE#{D}", "LEASE")
    assert lease is not None and not lease.get("repair_runs") and "lease_token" not in lease


class FailingCommit(DynamoRosterTable):
    """Every roster write lands; the commit's lease renewal fails once (a DynamoDB error after
    the last write and before the run is recorded committed)."""

    failures = 1

    def renew_lease(self, *args: Any, **kw: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("simulated failure at commit")
        return super().renew_lease(*args, **kw)


@pytest.mark.parametrize("death", [False, True], ids=["failed", "died"])
def test_a_retried_run_still_counts_and_announces_what_its_failed_invocation_archived(
    env: Env, settings: Settings, death: bool
) -> None:
    """The Import retrier runs the same run again after a failure (or a death) that came after its
    writes: the archive the first invocation wrote is still the run's, so the run's counts (which
    its records_archived alert is made from) name it, and the run's plan (held or not) stands."""
    roster = small_roster(students=30, schools=2)
    env.run(roster)
    roster.remove(Kind.STUDENT, "st0002")
    run_id = env.clock.next_run()
    failing = FailingCommit(settings.roster_table, env.client, sleep=lambda _s: None)
    if death:  # killed: nothing after the failure runs (no failed record, no lease released)
        failing.release_lease = lambda *a, **k: None  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="simulated failure at commit"):
        env.run(roster, run_id, table=failing)
    assert env.item(Kind.STUDENT, "st0002")["status"] == "archived"  # written before the failure
    if death:
        env.ddb.update_item(  # the dead invocation's lease expires before the retry
            Key={"pk": f"LEASE#{D}", "sk": "LEASE"},
            UpdateExpression="SET lease_expires = :past",
            ExpressionAttributeValues={":past": 1},
        )

    retried = env.run(roster, run_id)
    assert retried.status is RunStatus.SUCCEEDED
    assert retried.total("archived") == 1  # the first invocation's archive, still announced
    assert not retried.trips
    assert env.run(roster).roster_writes == 0  # and the roster is whole


# --------------------------------------------------------------------------- wiring


def test_run_import_from_settings(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from rostersync.operations import run_release, run_status
    from rostersync.settings import get_settings
    from rostersync.wiring import default_thresholds, run_import

    monkeypatch.setenv("SAFEGUARD_ARCHIVE_PERCENT", "5")
    get_settings.cache_clear()
    assert default_thresholds(get_settings()).archive_percent == 5.0
    roster = small_roster(students=30)
    # run_import runs on the system clock: its run ids must come from it too.
    first = run_import(D, new_run_id(), roster.accepted(), set())
    assert first.status is RunStatus.SUCCEEDED
    roster.remove(Kind.STUDENT, "st0000")
    roster.remove(Kind.STUDENT, "st0001")  # 2 of 30 = 6.7% > 5%
    held = run_import(D, new_run_id(), roster.accepted(), set())
    assert held.status is RunStatus.HELD
    assert run_status(D, 1)[0].run_id == held.run_id
    assert run_release(D).archived == 2


class StolenLeaseTable(DynamoRosterTable):
    """Someone takes the lease (after expiry) while this run writes its first batch."""

    def write(self, puts: Any, deletes: Any) -> int:
        self._ddb.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"LEASE#{D}"}, "sk": {"S": "LEASE"}},
            UpdateExpression="SET lease_token = :t",
            ExpressionAttributeValues={":t": {"S": "someone-else"}},
        )
        return super().write(puts, deletes)


def test_a_run_whose_lease_was_taken_does_not_commit(env: Env, settings: Settings) -> None:
    roster = small_roster()
    table = StolenLeaseTable(settings.roster_table, env.client)
    with pytest.raises(LeaseLost, match=f"district {D}: lease of .* was taken"):
        import_district(
            D, env.clock.next_run(), roster.accepted(), set(), table, holds=env.holds, clock=env.clock
        )
    assert latest_runs(env.table, D, limit=1)[0].status is RunStatus.FAILED


# ------------------------------------------------------------------ run ids from the future


def test_a_run_id_from_the_future_is_refused_and_cannot_fence_out_later_nights(env: Env) -> None:
    """Issue 14 item 6: a mistyped hand-started run (2062 for 2026) must not move latest_run."""
    from rostersync.ids import FutureRunId

    roster = small_roster()
    env.run(roster)
    with pytest.raises(FutureRunId):
        env.run(roster, run_id="20621129T070000Z-0a1b2c")
    lease = env.table.get_item(f"LEASE#{D}", "LEASE") or {}
    assert str(lease.get("latest_run", "")) < "2062"
    assert env.run(roster).status is RunStatus.SUCCEEDED  # the next night is not skipped_stale


def test_a_lease_poisoned_by_a_future_run_id_heals(env: Env) -> None:
    """A latest_run far ahead of the clock (written before run ids were checked) fences nobody."""
    roster = small_roster()
    env.run(roster)
    env.ddb.update_item(
        Key={"pk": f"LEASE#{D}", "sk": "LEASE"},
        UpdateExpression="SET latest_run = :r",
        ExpressionAttributeValues={":r": "20621129T070000Z-0a1b2c"},
    )
    assert env.run(roster).status is RunStatus.SUCCEEDED


def test_a_small_loss_below_the_safeguard_is_recorded_and_alerted(env: Env) -> None:
    """Issue 14 item 10: an empty last page archives 20 of 400 students (5%, under the safeguard):
    the run record counts them per kind and support gets `records_archived` (counts, no names)."""
    from rostersync.alerts.notify import notify_import
    from tests.fakes import RecordingPublisher

    roster = small_roster(students=400, teachers=3)
    env.run(roster)
    for n in range(380, 400):
        roster.remove(Kind.STUDENT, f"st{n:04d}")
    result = env.run(roster)
    assert result.status is RunStatus.SUCCEEDED and result.counts["STUDENT"].archived == 20
    assert latest_runs(env.table, D, limit=1)[0].counts["STUDENT"].archived == 20
    publisher = RecordingPublisher()
    assert notify_import(result, publisher, source="clever").published == [f"records_archived:{D}"]
    [alert] = publisher.sent
    assert "20 of 400" in alert.body and "Ann" not in alert.body and "Last" not in alert.body
