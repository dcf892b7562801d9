"""The roster index: the next diff reads it instead of the table only when it is the table's state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rostersync.contracts.importer import RunStatus
from rostersync.importer.release import release_hold
from rostersync.importer.runs import latest_runs
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.layout import roster_index_key
from rostersync.records import Kind
from rostersync.roster_index import MAX_GENERATIONS, RosterIndex
from rostersync.roster_items import ExistingItem
from rostersync.settings import Settings
from rostersync_cli.provision import provision
from tests.factories import D, small_roster, student
from tests.integration.test_import_roster import Env, FailingTable

pytestmark = pytest.mark.integration


@pytest.fixture
def env(settings: Settings, raw_bucket: str) -> Iterator[Env]:
    provision(settings)
    yield Env(settings)


def _lease(env: Env) -> dict[str, Any]:
    return env.table.get_item(f"LEASE#{D}", "LEASE") or {}


def assert_index_is_the_table(env: Env) -> RosterIndex:
    named = _lease(env).get("roster_index")
    index = env.holds.read_index(D)
    assert named and index is not None and index.run_id == named
    assert sorted(index.items) == sorted(env.table.existing(D))
    return index


def _queries_of_the_partition(env: Env) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        values = params.get("ExpressionAttributeValues", {})
        if values.get(":pk", {}).get("S") == f"DISTRICT#{D}":
            seen.append(params)

    env.client.meta.events.register("provide-client-params.dynamodb.Query", hook)
    return seen


def test_first_run_reads_the_table_and_leaves_an_index_of_it(env: Env) -> None:
    first = env.run(small_roster())
    assert first.status is RunStatus.SUCCEEDED and first.diff_source == "table"
    index = assert_index_is_the_table(env)
    assert index.generation == 0 and index.run_id == first.run_id
    assert set(first.phase_seconds) == {"diff", "write", "finish"}


def test_unchanged_night_diffs_against_the_index_without_reading_the_partition(env: Env) -> None:
    roster = small_roster()
    env.run(roster)
    queries = _queries_of_the_partition(env)
    second = env.run(roster)
    assert second.diff_source == "index" and second.roster_writes == 0 and env.writes.total == 0
    assert queries == []
    assert second.counts["STUDENT"].unchanged == 30
    assert assert_index_is_the_table(env).generation == 1


def test_index_follows_creates_updates_archives_and_restores(env: Env) -> None:
    roster = small_roster(students=30, schools=2)
    env.run(roster)
    roster.add(Kind.STUDENT, student("st0001", ("sch1", "sch2"), grade="12"))  # updated
    roster.add(Kind.STUDENT, student("st9999", ("sch1",)))  # created
    removed = roster.records[(Kind.STUDENT, "st0002")]
    roster.remove(Kind.STUDENT, "st0002")  # archived
    night2 = env.run(roster)
    assert night2.diff_source == "index"
    assert night2.total("created") == night2.total("updated") == night2.total("archived") == 1
    assert assert_index_is_the_table(env).generation == 1
    roster.add(Kind.STUDENT, removed)  # back: restored
    night3 = env.run(roster)
    assert night3.diff_source == "index" and night3.total("restored") == 1
    assert assert_index_is_the_table(env).generation == 2


def test_rejected_records_keep_their_last_good_version_in_the_index(env: Env) -> None:
    roster = small_roster()
    env.run(roster)
    roster.remove(Kind.STUDENT, "st0003")
    result = env.run(roster, rejected={"st0003"})
    assert result.diff_source == "index" and result.total("rejected_kept") == 1
    index = assert_index_is_the_table(env)
    kept = {i.sk: i for i in index.items}["STUDENT#st0003"]
    assert kept.status == "active"


def test_held_archive_set_and_its_release_send_the_next_diff_to_the_table(env: Env) -> None:
    roster = small_roster(students=30)
    env.run(roster)
    for n in range(10):
        roster.remove(Kind.STUDENT, f"st{n:04d}")
    held = env.run(roster, thresholds=SafeguardThresholds(archive_percent=10, floor=1))
    assert held.status is RunStatus.HELD
    assert_index_is_the_table(env)  # the held items are still active in both

    released = release_hold(
        D, held.run_id, table=env.table, holds=env.holds, store=env.store, clock=env.clock
    )
    assert released.archived == 10
    assert "roster_index" not in _lease(env)  # the release wrote the roster: no index survives it
    after = env.run(roster, thresholds=SafeguardThresholds(archive_percent=10, floor=1))
    assert after.diff_source == "table" and after.roster_writes == 0
    assert assert_index_is_the_table(env).generation == 0


@pytest.mark.parametrize("fail_at", [1, 2], ids=["before-memberships", "before-items"])
def test_after_a_failed_run_the_diff_reads_the_table(env: Env, settings: Settings, fail_at: int) -> None:
    roster = small_roster(students=30, schools=2)
    env.run(roster)
    roster.add(Kind.STUDENT, student("st0001", ("sch1", "sch2"), grade="12"))
    roster.remove(Kind.STUDENT, "st0002")
    with pytest.raises(RuntimeError, match="simulated crash"):
        env.run(roster, table=FailingTable(settings.roster_table, env.client, fail_at=fail_at))
    assert "roster_index" not in _lease(env)
    resumed = env.run(roster)
    assert resumed.status is RunStatus.SUCCEEDED and resumed.diff_source == "table"
    assert_index_is_the_table(env)
    assert env.run(roster).diff_source == "index"


def test_a_run_that_died_without_releasing_is_repaired_from_the_table(env: Env, settings: Settings) -> None:
    """A killed invocation never releases: taking the lease already removed the index's name."""
    roster = small_roster(students=30, schools=2)
    env.run(roster)
    roster.add(Kind.STUDENT, student("st0001", ("sch1", "sch2"), grade="12"))
    roster.remove(Kind.STUDENT, "st0002")
    dead_run = env.clock.next_run()

    class Killed(BaseException):  # not an Exception: no cleanup runs, as when Lambda times out
        pass

    class DyingTable(FailingTable):
        def write(self, puts: Any, deletes: Any) -> int:
            self.calls += 1
            if self.calls == self.fail_at:
                raise Killed
            return super(FailingTable, self).write(puts, deletes)

    with pytest.raises(Killed):
        env.run(roster, run_id=dead_run, table=DyingTable(settings.roster_table, env.client, fail_at=2))
    lease = _lease(env)
    # Taking the lease removed the index's name: only a clean commit names one again.
    assert "roster_index" not in lease and dead_run in lease["repair_runs"]
    assert latest_runs(env.table, D, limit=1)[0].status is RunStatus.RUNNING  # as it died
    resumed = env.run(roster)
    assert resumed.status is RunStatus.SUCCEEDED and resumed.diff_source == "table"
    assert_index_is_the_table(env)
    # The dead run's record (and its RUNLOG copy) no longer claims to be running.
    dead = {r.run_id: r for r in latest_runs(env.table, D, limit=5)}[dead_run]
    assert dead.status is RunStatus.FAILED and dead.error and resumed.run_id in dead.error
    overall = {r.run_id: r for r in latest_runs(env.table, None, limit=5)}[dead_run]
    assert overall.status is RunStatus.FAILED


def _corrupt(env: Env, body: Any) -> None:
    env.store.put_json(roster_index_key(D), body, compress=True)


@pytest.mark.parametrize(
    "body",
    [
        {"schema_version": 999},
        {"schema_version": 1, "district_id": D, "run_id": "someone-else", "generation": 0, "rows": []},
        {"schema_version": 1, "rows": "not rows"},
        ["not", "an", "index"],
    ],
    ids=["other-schema", "other-run", "malformed", "not-an-object"],
)
def test_an_index_that_is_not_the_committed_runs_is_ignored(env: Env, body: Any) -> None:
    roster = small_roster()
    env.run(roster)
    _corrupt(env, body)
    roster.add(Kind.STUDENT, student("st0001", ("sch1", "sch2"), grade="12"))
    result = env.run(roster)
    assert result.diff_source == "table"
    # Diffed against the table, not the empty/foreign index: one update, nothing created twice.
    assert result.total("updated") == 1 and result.total("created") == 0 and result.roster_writes == 2
    assert_index_is_the_table(env)


def test_a_missing_index_object_is_not_fatal(env: Env) -> None:
    roster = small_roster()
    env.run(roster)
    env.store._s3.delete_object(Bucket=env.settings.raw_bucket, Key=roster_index_key(D))
    result = env.run(roster)
    assert (
        result.status is RunStatus.SUCCEEDED and result.diff_source == "table" and result.roster_writes == 0
    )


def test_the_table_is_read_again_after_max_generations(env: Env) -> None:
    roster = small_roster(students=5)
    sources = [env.run(roster).diff_source for _ in range(MAX_GENERATIONS + 3)]
    assert sources == ["table"] + ["index"] * MAX_GENERATIONS + ["table", "index"]


def test_dry_run_reads_the_table_and_leaves_the_index_alone(env: Env) -> None:
    roster = small_roster()
    committed = env.run(roster)
    roster.remove(Kind.STUDENT, "st0004")
    dry = env.run(roster, dry_run=True)
    assert dry.diff_source == "table" and dry.total("archived") == 1
    assert _lease(env).get("roster_index") == committed.run_id
    assert assert_index_is_the_table(env).run_id == committed.run_id


def test_an_index_that_cannot_be_written_is_not_named_valid(env: Env) -> None:
    roster = small_roster()
    env.run(roster)

    class NoIndexStore(type(env.holds)):  # type: ignore[misc]
        def write_index(self, index: RosterIndex) -> str:
            raise OSError("disk full")

    roster.add(Kind.STUDENT, student("st0001", ("sch1", "sch2"), grade="12"))
    result = env.run(roster, holds=NoIndexStore(env.store))
    assert result.status is RunStatus.SUCCEEDED
    assert "roster_index" not in _lease(env)
    assert env.run(roster).diff_source == "table"


def test_index_round_trips_through_json() -> None:
    items = (
        ExistingItem("STUDENT#a", "active", "ab" * 16, ("s1", "s2"), "sis-a"),
        ExistingItem("TERM#t", "archived", None, (), None),
    )
    index = RosterIndex(D, "run-1", 3, items)
    assert RosterIndex.from_json(index.to_json()) == index


def test_a_dry_run_of_a_dead_runs_id_cannot_erase_its_repair_plan(env: Env, settings: Settings) -> None:
    """The dry run's change set sits beside the real run's (`<run_id>~dry`), never over it."""
    roster = small_roster(students=30, schools=2)
    env.run(roster)
    roster.remove(Kind.STUDENT, "st0002")
    dead_run = env.clock.next_run()
    with pytest.raises(RuntimeError, match="simulated crash"):
        env.run(roster, run_id=dead_run, table=FailingTable(settings.roster_table, env.client, fail_at=1))
    plan = env.holds.read_changeset(D, dead_run)
    assert plan is not None and plan["dry_run"] is False  # the plan the next run repairs from
    dry = env.run(roster, run_id=dead_run, dry_run=True)
    assert dry.changeset_key and dry.changeset_key.endswith(f"{dead_run}~dry.json.gz")
    assert env.holds.read_changeset(D, dead_run) == plan
    assert env.run(roster).status is RunStatus.SUCCEEDED
    assert_index_is_the_table(env)
