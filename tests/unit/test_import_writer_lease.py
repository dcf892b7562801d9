"""The import writer at more than one chunk: lease renewal on a test clock, losing the lease, and
a write that fails part way (fail fast, then the next run repairs). Over the in-memory fakes.

RosterWriter takes its chunk size and its monotonic clock as parameters; the service builds it
with the defaults (2,000 items, time.monotonic), so these tests hand the service a writer
factory with a small chunk and a clock that advances on every reading.
"""

from __future__ import annotations

from typing import Any

import pytest

from rostersync.contracts.importer import RunStatus
from rostersync.ids import run_id_time
from rostersync.importer import service
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.service import import_district
from rostersync.importer.writer import LEASE_RENEW_SECONDS, LEASE_TTL_SECONDS, RosterWriter, epoch
from rostersync.layout import LEASE_SK, district_pk, lease_pk, run_pk
from rostersync.ports import Lease, LeaseLost
from rostersync.records import Kind
from tests.factories import Clock, D, Roster, small_roster, student
from tests.fakes import MemoryPageStore, MemoryRosterTable

CHUNK = 6
# Roster items whose content is the run's, not the record's: two clean imports differ here.
VOLATILE = frozenset({"last_changed_run", "updated_at", "created_at", "archived_at", "archived_run"})


class SteppingMonotonic:
    """A monotonic clock that moves `step` seconds on every reading."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        self.now += self.step
        return self.now


class LeaseTakenAfter(MemoryRosterTable):
    """Another holder takes the district's lease after `keep` successful renewals."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep
        self.renewals: list[int] = []  # lease_expires each successful renewal set
        self.writes_at_loss: int | None = None

    def renew_lease(self, lease: Lease, *, now: int, ttl: int) -> None:
        super().renew_lease(lease, now=now, ttl=ttl)
        self.renewals.append(now + ttl)
        if len(self.renewals) == self.keep:
            self.items[(lease_pk(lease.district_id), LEASE_SK)]["lease_token"] = "someone-else"
            self.writes_at_loss = self.calls.get("write", 0)


def _small_writer(monkeypatch: pytest.MonkeyPatch, monotonic: Any) -> None:
    def small(*args: Any, chunk: int = CHUNK, **kwargs: Any) -> RosterWriter:
        return RosterWriter(*args, **kwargs, monotonic=monotonic, chunk=CHUNK)  # whatever the run's

    monkeypatch.setattr(service, "RosterWriter", small)


def _import(table: MemoryRosterTable, store: MemoryPageStore, roster: Roster, run_id: str, clock: Clock):
    return import_district(
        D, run_id, roster.accepted(), set(), table, holds=PageStoreHoldStore(store), clock=clock
    )


def _roster_content(table: MemoryRosterTable) -> dict[tuple[str, str], dict[str, Any]]:
    """Every roster and membership item but the lease, run records and volatile fields."""
    skip = ("LEASE#", "RUN#", "RUNLOG", "HOLD#", "CONFIG#")
    return {
        key: _registry_decision(item) or {k: v for k, v in item.items() if k not in VOLATILE}
        for key, item in table.items.items()
        if not key[0].startswith(skip)
    }


def _registry_decision(item: dict[str, Any]) -> dict[str, Any] | None:
    """A PA Secure ID registry entry as a decision (whom it trusts, who claims), not when it was made:
    a failed run's entries stand, and the repair only confirms them."""
    if item.get("item_type") != "state_id":
        return None
    claims = {d: c["student"] for d, c in item.get("claims", {}).items()}
    return {"trusted": (item.get("trusted_district"), item.get("trusted_student")), "claims": claims}


def _reference(roster: Roster, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The independent reference: the same roster imported cleanly (default writer) into a fresh table."""
    table = MemoryRosterTable()
    result = _import(table, MemoryPageStore(), roster, run_id, Clock(run_id_time(run_id)))
    assert result.status is RunStatus.SUCCEEDED
    return _roster_content(table)


def test_a_long_import_renews_its_lease_while_it_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    roster = small_roster(students=60, teachers=4)
    monotonic = SteppingMonotonic(step=LEASE_RENEW_SECONDS / 2)  # a renewal every other flush
    _small_writer(monkeypatch, monotonic)
    table, store, clock = LeaseTakenAfter(keep=10**6), MemoryPageStore(), Clock()
    run_id = clock.next_run()

    result = _import(table, store, roster, run_id, clock)

    assert result.status is RunStatus.SUCCEEDED
    # 60 students, 4 teachers and their membership items in chunks of 6: dozens of flushes, so
    # the writer renewed many times while writing, each to the run clock's now + the lease TTL.
    writes = table.calls["write"]
    assert writes > 20
    assert len(table.renewals) > 10
    assert set(table.renewals) == {epoch(clock()) + LEASE_TTL_SECONDS}
    lease_item = table.items[(lease_pk(D), LEASE_SK)]
    assert lease_item["committed_run"] == run_id and "lease_token" not in lease_item
    assert _roster_content(table) == _reference(roster, run_id)


def test_an_import_that_loses_its_lease_while_writing_stops_and_commits_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    roster = small_roster(students=60, teachers=4)
    _small_writer(monkeypatch, SteppingMonotonic(step=LEASE_RENEW_SECONDS / 2))
    table, store, clock = LeaseTakenAfter(keep=1), MemoryPageStore(), Clock()
    run_id = clock.next_run()

    with pytest.raises(LeaseLost, match=f"district {D}: lease of {run_id} was taken"):
        _import(table, store, roster, run_id, clock)

    # The first renewal (mid-write) succeeded, the second found the lease taken: the writer
    # stopped there, long before the run's writes were done.
    assert len(table.renewals) == 1
    assert table.writes_at_loss is not None
    students = {sk for (pk, sk) in table.items if pk == district_pk(D) and sk.startswith("STUDENT#")}
    assert len(students) < 60, "the run kept writing after it lost the lease"
    # Nothing committed: the run is recorded failed, the lease names no commit and no index.
    run = table.items[(run_pk(D), run_id)]
    assert run["status"] == RunStatus.FAILED.value
    assert run["error"].startswith("LeaseLost: ")
    lease_item = table.items[(lease_pk(D), LEASE_SK)]
    assert "committed_run" not in lease_item and "roster_index" not in lease_item
    assert lease_item["lease_token"] == "someone-else"  # the failed run did not release another's lease


def test_a_write_that_fails_part_way_stops_the_run_and_the_next_run_repairs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    roster = small_roster(students=60, teachers=4)
    _small_writer(monkeypatch, SteppingMonotonic(step=1.0))
    table, store, clock = MemoryRosterTable(), MemoryPageStore(), Clock()
    table.fail_writes_after = 3
    failed_run = clock.next_run()

    with pytest.raises(RuntimeError, match="injected: write failed"):
        _import(table, store, roster, failed_run, clock)

    # Fail fast: the writer handed over no more than the chunks already in flight (4 senders,
    # two write() calls a chunk) after the failure, not the rest of the run's ~40 chunks.
    assert table.calls["write"] <= 3 + 1 + 2 * 4 + 2
    assert table.items[(run_pk(D), failed_run)]["status"] == RunStatus.FAILED.value
    lease_item = table.items[(lease_pk(D), LEASE_SK)]
    assert "lease_token" not in lease_item  # released at once, for the next run
    assert failed_run in lease_item["repair_runs"]

    table.fail_writes_after = None
    repair_run = clock.next_run()
    repaired = _import(table, store, roster, repair_run, clock)

    assert repaired.status is RunStatus.SUCCEEDED
    assert repaired.diff_source == "table"  # an unfinished run's writes are not in any index
    assert table.items[(lease_pk(D), LEASE_SK)]["repair_runs"] == set()
    assert table.active(D) >= {f"STUDENT#{i}" for i in roster.ids(Kind.STUDENT)}
    assert _roster_content(table) == _reference(roster, repair_run)


def test_a_repair_reads_the_membership_a_failed_run_left_half_written() -> None:
    """The failed run moved st0001 to sch3 (membership written, roster item not); tonight it
    moves to sch1. The repair must find the sch3 membership in the table, not in the old item."""
    first = small_roster(students=30, schools=3)  # st0001 is at sch2
    table, store, clock = MemoryRosterTable(), MemoryPageStore(), Clock()
    assert _import(table, store, first, clock.next_run(), clock).status is RunStatus.SUCCEEDED

    moved = small_roster(students=30, schools=3).add(Kind.STUDENT, student("st0001", ("sch3",)))
    table.fail_writes_after = table.calls["write"] + 1  # membership chunk lands, roster items fail
    with pytest.raises(RuntimeError, match="injected: write failed"):
        _import(table, store, moved, clock.next_run(), clock)
    assert (f"SCHOOL#{D}#sch3", "STUDENT#st0001") in table.items  # the half-written move

    table.fail_writes_after = None
    tonight = small_roster(students=30, schools=3).add(Kind.STUDENT, student("st0001", ("sch1",)))
    assert _import(table, store, tonight, clock.next_run(), clock).status is RunStatus.SUCCEEDED

    assert (f"SCHOOL#{D}#sch3", "STUDENT#st0001") not in table.items
    reference = MemoryRosterTable()
    ref_clock = Clock()
    for roster in (first, tonight):
        _import(reference, MemoryPageStore(), roster, ref_clock.next_run(), ref_clock)
    assert _roster_content(table) == _roster_content(reference)
