"""An import larger than its invocation pauses between two write chunks and continues in the next
invocation with the same run id (over the in-memory fakes; through the state machine in
tests/integration/test_import_continuation_night.py).

`should_pause` stands for the invocation's remaining time: `Countdown(n)` lets an invocation hand
over `n` chunks before its deadline comes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

import pytest

from rostersync.alerts.notify import notify_import
from rostersync.contracts.importer import ImportResult, RunStatus
from rostersync.ids import run_id_time
from rostersync.importer import service
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.layout import LEASE_SK, district_pk, lease_pk, run_pk
from rostersync.overview.status import Health, SyncStatus
from rostersync.ports import LeaseBusy
from rostersync.records import Kind
from rostersync.roster_items import Item, Key
from tests.factories import Clock, D, Roster, section, small_roster, student
from tests.fakes import MemoryPageStore, MemoryRosterTable, RecordingPublisher

CHUNK = 25
ARRIVALS = 10  # students decided by the registry at once (5,000 in a Lambda): several chunks


@pytest.fixture(autouse=True)
def _small_arrival_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "ARRIVAL_CHUNK", ARRIVALS)


# Per-item fields whose value is the invocation's moment, not the record's.
VOLATILE = frozenset({"last_changed_run", "updated_at", "created_at", "archived_at", "archived_run", "since"})
BOOKKEEPING = ("LEASE#", "RUN#", "RUNLOG", "HOLD#", "CONFIG#")


class Countdown:
    """`should_pause` for one invocation: no for the first `checks` deadline checks, then yes."""

    def __init__(self, checks: int) -> None:
        self.left = checks
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        self.left -= 1
        return self.left < 0


class CountingTable(MemoryRosterTable):
    """Counts every put and delete of a batched write, per key."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: Counter[tuple[str, str]] = Counter()

    def write(self, puts: Sequence[Item], deletes: Sequence[Key]) -> int:
        self.puts.update((str(item["pk"]), str(item["sk"])) for item in puts)
        return super().write(puts, deletes)


def _import(
    table: MemoryRosterTable,
    store: MemoryPageStore,
    roster: Roster,
    run_id: str,
    clock: Clock,
    *,
    pause: Countdown | None = None,
    rejected: Collection[str] = (),
    **kw: Any,
) -> ImportResult:
    return import_district(
        D,
        run_id,
        roster.accepted(),
        set(rejected),
        table,
        holds=PageStoreHoldStore(store),
        clock=clock,
        should_pause=pause,
        write_chunk=CHUNK,
        **kw,
    )


def _content(table: MemoryRosterTable) -> dict[tuple[str, str], Any]:
    """Every roster, membership and registry item (its content hash where it has one), without the
    run's bookkeeping and the moments it was written."""
    return {
        key: item.get("content_hash") or {k: v for k, v in item.items() if k not in VOLATILE}
        for key, item in table.items.items()
        if not key[0].startswith(BOOKKEEPING)
    }


def _one_invocation(roster: Roster, run_id: str) -> tuple[ImportResult, CountingTable]:
    table = CountingTable()
    result = _import(table, MemoryPageStore(), roster, run_id, Clock(run_id_time(run_id)))
    assert result.status is RunStatus.SUCCEEDED
    return result, table


def _comparable(result: ImportResult) -> dict[str, Any]:
    return result.model_dump(
        mode="json",
        include={"status", "counts", "roster_writes", "rejected", "trips", "diff_source", "rollover"},
    )


def test_an_import_paused_twice_ends_as_one_invocation_s_import_with_no_write_twice() -> None:
    roster = small_roster(students=60, teachers=4)
    table, store, clock = CountingTable(), MemoryPageStore(), Clock()
    run_id = clock.next_run()
    reference, reference_table = _one_invocation(roster, run_id)

    first = _import(table, store, roster, run_id, clock, pause=Countdown(1))
    second = _import(table, store, roster, run_id, clock, pause=Countdown(1))
    third = _import(table, store, roster, run_id, clock, pause=Countdown(10**6))

    assert [first.status, second.status, third.status] == [
        RunStatus.PAUSED,
        RunStatus.PAUSED,
        RunStatus.SUCCEEDED,
    ]
    assert third.invocations == 3
    # Each paused invocation wrote something, and not everything.
    students = [first.counts["STUDENT"].created, second.counts["STUDENT"].created]
    assert students == [60, 60]  # the whole run's counts, from the first plan
    assert 0 < first.roster_writes < second.roster_writes < third.roster_writes
    # The end is the one-invocation import's: the roster, the counts, the writes.
    assert _content(table) == _content(reference_table)
    assert _comparable(third) == _comparable(reference)
    district_puts = {key: n for key, n in table.puts.items() if key[0] == district_pk(D)}
    assert max(district_puts.values()) == 1, "an item was written twice"
    assert sum(table.puts.values()) == sum(reference_table.puts.values())
    # One run record, succeeded; the lease is free and the run's repairs are done.
    assert table.items[(run_pk(D), run_id)]["status"] == "succeeded"
    lease = table.items[(lease_pk(D), LEASE_SK)]
    assert "lease_token" not in lease and "paused_run" not in lease
    assert not lease.get("repair_runs") and lease["committed_run"] == run_id


def test_a_paused_import_alerts_nothing_and_its_end_alerts_as_one_invocation_would() -> None:
    roster = small_roster(students=60, teachers=4)
    store, clock = MemoryPageStore(), Clock()
    roster_table = MemoryRosterTable()
    _import(roster_table, store, roster, clock.next_run(), clock)
    for student_id in roster.ids(Kind.STUDENT)[:3]:  # 5% leave: archived, not held
        roster.remove(Kind.STUDENT, student_id)
    for n in range(100, 160):
        roster.add(Kind.STUDENT, student(f"st{n:04d}", ("sch1",)))
    run_id = clock.next_run()

    paused = _import(roster_table, store, roster, run_id, clock, pause=Countdown(1))
    done = _import(roster_table, store, roster, run_id, clock, pause=Countdown(10**6))

    assert (paused.status, done.status) == (RunStatus.PAUSED, RunStatus.SUCCEEDED)
    assert done.counts["STUDENT"].archived == 3 and done.counts["STUDENT"].created == 60
    publisher = RecordingPublisher()
    assert not notify_import(paused, publisher, source="clever").published
    assert publisher.sent == []
    notify_import(done, publisher, source="clever")
    assert [a.event_type.value for a in publisher.sent] == ["records_archived"]


def test_a_paused_district_is_taken_over_only_by_its_own_next_invocation() -> None:
    roster = small_roster(students=60, teachers=4)
    table, store, clock = MemoryRosterTable(), MemoryPageStore(), Clock()
    run_id = clock.next_run()
    assert _import(table, store, roster, run_id, clock, pause=Countdown(1)).status is RunStatus.PAUSED
    before = dict(table.items)

    # Another run of the district (a hand-started night) finds the lease held: nothing interleaves.
    other = _import(table, store, roster, clock.next_run(days=0), clock)  # minutes later
    assert other.status is RunStatus.SKIPPED_LOCKED
    assert {k: v for k, v in table.items.items() if not k[0].startswith("RUN")} == {
        k: v for k, v in before.items() if not k[0].startswith("RUN")
    }
    # The run's next invocation takes it over, once: a duplicate of it is refused meanwhile.
    now = int(clock().timestamp())
    lease = table.acquire_lease(D, run_id, now=now, ttl=60, fence_run=run_id)
    with pytest.raises(LeaseBusy, match=f"district {D}: held by {run_id}"):
        table.acquire_lease(D, run_id, now=now, ttl=60, fence_run=run_id)
    assert run_id in lease.repair_runs  # still unfinished: a death from here on is repaired


def test_a_held_night_that_pauses_holds_what_one_invocation_holds() -> None:
    """The hold names the sections that keep held people listed, those written by the paused
    invocation included."""
    roster = small_roster(students=100, teachers=4)
    clock = Clock()
    table, store = MemoryRosterTable(), MemoryPageStore()
    ref_table, ref_store = MemoryRosterTable(), MemoryPageStore()
    night_one = clock.next_run()
    _import(table, store, roster, night_one, clock)
    _import(ref_table, ref_store, roster, night_one, Clock(run_id_time(night_one)))
    for student_id in roster.ids(Kind.STUDENT)[:40]:  # 40% gone: held
        roster.remove(Kind.STUDENT, student_id)
    for n in range(200, 260):
        roster.add(Kind.STUDENT, student(f"st{n:04d}", ("sch1",)))
    listed = roster.ids(Kind.STUDENT)
    for n in range(4):  # the sections no longer list the students gone (they keep them, held)
        section_id, teacher_id = f"se{n:03d}", f"te{n:03d}"
        roster.add(
            Kind.SECTION,
            section(
                section_id,
                "sch1",
                (teacher_id,),
                listed[n::4],
                name=f"Section {section_id}",
                term="term1",
                course="course1",
            ),
        )
    run_id = clock.next_run()
    thresholds = SafeguardThresholds(10.0)

    reference = _import(ref_table, ref_store, roster, run_id, clock, thresholds=thresholds)
    paused = _import(table, store, roster, run_id, clock, pause=Countdown(1), thresholds=thresholds)
    done = _import(table, store, roster, run_id, clock, thresholds=thresholds)

    assert reference.status is RunStatus.HELD
    assert (paused.status, done.status) == (RunStatus.PAUSED, RunStatus.HELD)
    assert _comparable(done) == _comparable(reference)
    holds, ref_holds = PageStoreHoldStore(store), PageStoreHoldStore(ref_store)
    assert holds.read_hold(D, run_id) == ref_holds.read_hold(D, run_id)
    sections = holds.read_hold_sections(D, run_id)
    assert sections and sections == ref_holds.read_hold_sections(D, run_id)
    assert _content(table) == _content(ref_table)


def test_support_s_view_shows_a_paused_import_as_running() -> None:
    clock = Clock()
    run_id = clock.next_run()
    status = SyncStatus(
        district_id=D, run_id=run_id, fetch="complete", validation="validated", import_status="paused"
    )
    assert status.health(clock()) is Health.RUNNING
    assert status.model_copy(update={"import_status": "failed"}).health(clock()) is Health.FAILED
