"""Ten first imports at once against DynamoDB's write limits, scaled down, in virtual time: each
runs out of its (scaled-down) invocation, pauses, and continues until it is done (issue 23's
Done-when, at a smaller scale).

DynamoDB's published limits divided by SCALE: 1,000 write units a second per partition key and per
index key -> 10; a new on-demand table's 4,000 a second, shared by the ten imports -> 40 for all
of them (one `ThrottledDynamo`: throttling errors and UnprocessedItems when exceeded). Lambda's
900 s invocation and the import's 180 s pause margin are divided by 10, so each import needs
several invocations. Every roster write goes through the real DynamoDB adapter (its write rate,
its retries) into the simulated table; the rest of the table is the in-memory fake, which the
writes are mirrored into once DynamoDB took them.

Virtual time with threads (each import on its own thread, its writer's senders on theirs): a
thread's sleep moves the shared clock to where that thread would wake, never by the sum of all
threads' sleeps, so concurrent waits overlap as they do in real time; a thread never acts before
the shared clock, so no bucket refills for time that did not pass (the simulation can only be
slower than DynamoDB, never faster).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.write_rate import WriteRate
from rostersync.importer import service
from rostersync.importer.contract import ImportResult, RunStatus
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.service import import_district
from rostersync.layout import district_pk, run_pk
from rostersync.records import Kind
from rostersync.roster_items import Item, Key
from rostersync_cli.capacity import indexes_of
from rostersync_cli.template import load_template
from tests.factories import Clock, Roster, course, district, school, section, student, teacher, term
from tests.fakes import MemoryPageStore, MemoryRosterTable
from tests.fakes.throttled_dynamodb import ThrottledDynamo

TABLE = "roster"
INDEXES = indexes_of(load_template()["Resources"]["RosterTable"]["Properties"])
SCALE = 100
KEY_RATE = 1000 / SCALE
TABLE_RATE = 4000 / SCALE  # the whole table, shared by the ten imports
DISTRICTS = 10
STUDENTS = 300  # per district
# Sizes and rates are divided by SCALE, so a write chunk of 2,000 items becomes 20 and the time
# the chunks in flight take to land at a pause stays what it is in AWS (about 50 s at a share):
# the pause margin stays 180 s. The invocation is cut to 360 s so that these small districts
# need several.
CHUNK = 2000 // SCALE
INVOCATION = 360.0
MARGIN = 180.0
MAX_INVOCATIONS = 11  # the state machine's bound: the first and 10 continuations


class SharedThrottledDynamo(ThrottledDynamo):
    """One simulated table for every thread: its calls one at a time, and each thread's sleep
    moves the shared clock to that thread's wake time (waits of concurrent threads overlap)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()
        self._seen: dict[int, float] = {}
        self.accepted = 0  # put requests DynamoDB took (a key written twice counts twice)

    def clock(self) -> float:
        with self._lock:
            self._seen[threading.get_ident()] = self.now
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            me = threading.get_ident()
            self.now = max(self.now, self._seen.get(me, self.now) + max(0.0, seconds))
            self._seen[me] = self.now

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]], **kw: Any) -> dict[str, Any]:
        with self._lock:
            self._seen[threading.get_ident()] = self.now
            asked = len(RequestItems[self.table])
            answer = super().batch_write_item(RequestItems, **kw)  # raises when it took nothing
            self.accepted += asked - len(answer["UnprocessedItems"].get(self.table, []))
            return answer


class ThrottledRoster(MemoryRosterTable):
    """The in-memory table, whose batched writes are DynamoDB's: through the adapter into the
    simulated table first, mirrored here once taken."""

    def __init__(self, dynamo: SharedThrottledDynamo) -> None:
        super().__init__()
        self.dynamo = dynamo
        self._adapters: dict[str, DynamoRosterTable] = {}
        self._adapters_lock = threading.Lock()

    def adapter(self) -> DynamoRosterTable:
        """One adapter (and write rate) per import: the import's thread names it."""
        name = threading.current_thread().name.split("/")[0]
        with self._adapters_lock:
            if name not in self._adapters:
                rate = WriteRate(
                    start=KEY_RATE,
                    floor=0.5,
                    ceiling=KEY_RATE,
                    increase=0.5,
                    clock=self.dynamo.clock,
                    sleep=self.dynamo.sleep,
                )
                self._adapters[name] = DynamoRosterTable(
                    TABLE,
                    self.dynamo,
                    sleep=self.dynamo.sleep,
                    clock=self.dynamo.clock,
                    write_rate=rate,
                    workers=1,
                    max_delay=5.0,
                    write_stall_seconds=600.0,
                )
            return self._adapters[name]

    def write(self, puts: Sequence[Item], deletes: Sequence[Key]) -> int:
        assert not deletes, "a first import deletes nothing"
        written = self.adapter().write(list(puts), [])
        assert written == len(puts)
        return int(super().write(puts, deletes))


def _district_id(n: int) -> str:
    return f"d{n:023d}"


def _roster(n: int) -> Roster:
    d = _district_id(n)
    roster = Roster()
    roster.add(Kind.DISTRICT, district(d=d))
    roster.add(Kind.SCHOOL, school("sch1", name="School 1", state_id="PA-SCH-1", d=d))
    students = [f"s{n:02d}{i:04d}" for i in range(STUDENTS)]
    for student_id in students:
        roster.add(Kind.STUDENT, student(student_id, ("sch1",), d=d))
    for t in range(4):
        teacher_id = f"t{n:02d}{t:02d}"
        roster.add(Kind.TEACHER, teacher(teacher_id, ("sch1",), email=f"{teacher_id}@example.org", d=d))
        roster.add(
            Kind.SECTION,
            section(f"se{t}", "sch1", (teacher_id,), students[t::4], term="term1", course="course1", d=d),
        )
    roster.add(Kind.TERM, term(d=d))
    roster.add(Kind.COURSE, course(d=d))
    return roster


def _import_until_done(
    n: int, table: ThrottledRoster, store: MemoryPageStore, run_id: str, clock: Clock
) -> list[ImportResult]:
    """What the state machine does for one district: Import, again while it answers paused."""
    threading.current_thread().name = f"import-{n}"
    roster, dynamo = _roster(n), table.dynamo
    results: list[ImportResult] = []
    while len(results) < MAX_INVOCATIONS:
        started = dynamo.clock()
        deadline = started + INVOCATION
        result = import_district(
            _district_id(n),
            run_id,
            roster.accepted(),
            set(),
            table,
            holds=PageStoreHoldStore(store),
            clock=clock,
            should_pause=lambda deadline=deadline: deadline - dynamo.clock() < MARGIN,
            write_chunk=CHUNK,
        )
        results.append(result)
        # Lambda would have ended an invocation that outlived its timeout: none may.
        assert dynamo.clock() - started <= INVOCATION, (n, len(results), dynamo.clock() - started)
        if result.status is not RunStatus.PAUSED:
            break
    return results


def test_ten_first_imports_at_a_shared_table_s_limits_complete_through_continuations(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(service, "ARRIVAL_CHUNK", 40)  # students decided in a few chunks
    _senders_named_after_their_import(monkeypatch)
    dynamo = SharedThrottledDynamo(TABLE, INDEXES, key_rate=KEY_RATE, table_rate=TABLE_RATE)
    table, store, clock = ThrottledRoster(dynamo), MemoryPageStore(), Clock()
    run_id = clock.next_run()

    with ThreadPoolExecutor(max_workers=DISTRICTS) as pool:
        runs = list(pool.map(lambda n: _import_until_done(n, table, store, run_id, clock), range(DISTRICTS)))

    for n, results in enumerate(runs):
        last = results[-1]
        assert last.status is RunStatus.SUCCEEDED, (n, [r.status for r in results])
        assert len(results) > 1, "the scaled-down invocation should not hold a whole import"
        assert [r.status for r in results[:-1]] == [RunStatus.PAUSED] * (len(results) - 1)
        assert last.invocations == len(results)
        assert last.counts["STUDENT"].created == STUDENTS
        d = _district_id(n)
        students = {sk for (pk, sk) in table.items if pk == district_pk(d) and sk.startswith("STUDENT#")}
        assert len(students) == STUDENTS
        assert table.items[(run_pk(d), run_id)]["status"] == "succeeded"
    # Everything the imports wrote, DynamoDB took exactly once, under its limits.
    roster_writes = sum(r[-1].roster_writes for r in runs)
    assert dynamo.accepted == len(dynamo.stored) == roster_writes
    assert dynamo.throttled_calls + dynamo.partial_answers > 0  # the limits were met
    assert dynamo.units <= TABLE_RATE * (dynamo.now + 1)  # never faster than the table allows
    invocations = [len(r) for r in runs]
    print(f"invocations per district {invocations}; {dynamo.now:.0f} s virtual; {dynamo.units} units")


def _senders_named_after_their_import(monkeypatch: Any) -> None:
    """The writer's sender threads carry their import's thread name (`import-3/sender`), so the
    table finds the import's adapter and write rate from any of them."""
    original = service.RosterWriter

    class NamedSenders(original):  # type: ignore[misc, valid-type]
        def flush(self) -> None:
            if self._sender is None:
                self._sender = ThreadPoolExecutor(
                    max_workers=4, thread_name_prefix=f"{threading.current_thread().name}/sender"
                )
            super().flush()

    monkeypatch.setattr(service, "RosterWriter", NamedSenders)
