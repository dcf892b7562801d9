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
slower than DynamoDB, never faster). The simulation is tests/fakes/first_imports.py, shared with
benchmarks/first_imports_at_limits.py (the same at DynamoDB's real limits and a 190k district).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.write_rate import WriteRate
from rostersync.contracts.importer import RunStatus
from rostersync.importer import service
from rostersync.layout import district_pk, run_pk
from rostersync.records import Kind
from rostersync_cli.capacity import indexes_of
from rostersync_cli.template import load_template
from tests.factories import Clock, Roster, course, district, school, section, student, teacher, term
from tests.fakes import MemoryPageStore
from tests.fakes.first_imports import (
    Invocation,
    SharedThrottledDynamo,
    ThrottledRoster,
    import_until_done,
    senders_named_after_their_import,
)

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


def _adapter(client: Any, dynamo: SharedThrottledDynamo) -> DynamoRosterTable:
    rate = WriteRate(
        start=KEY_RATE, floor=0.5, ceiling=KEY_RATE, increase=0.5, clock=dynamo.clock, sleep=dynamo.sleep
    )
    return DynamoRosterTable(
        TABLE,
        client,
        sleep=dynamo.sleep,
        clock=dynamo.clock,
        write_rate=rate,
        workers=1,
        max_delay=5.0,
        write_stall_seconds=600.0,
    )


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
) -> list[Invocation]:
    return import_until_done(
        f"import-{n}",
        _district_id(n),
        _roster(n).accepted(),
        table,
        store,
        run_id,
        clock,
        invocation_s=INVOCATION,
        margin_s=MARGIN,
        write_chunk=CHUNK,
        max_invocations=MAX_INVOCATIONS,
    )


def test_ten_first_imports_at_a_shared_table_s_limits_complete_through_continuations(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(service, "ARRIVAL_CHUNK", 40)  # students decided in a few chunks
    dynamo = SharedThrottledDynamo(TABLE, INDEXES, key_rate=KEY_RATE, table_rate=TABLE_RATE)
    table, store, clock = ThrottledRoster(dynamo, _adapter), MemoryPageStore(), Clock()
    run_id = clock.next_run()

    with (
        senders_named_after_their_import(monkeypatch.setattr),
        ThreadPoolExecutor(max_workers=DISTRICTS) as pool,
    ):
        runs = list(pool.map(lambda n: _import_until_done(n, table, store, run_id, clock), range(DISTRICTS)))

    for n, invocations in enumerate(runs):
        results = [i.result for i in invocations]
        # Lambda would have ended an invocation that outlived its timeout: none may.
        assert all(i.virtual_s <= INVOCATION for i in invocations), (
            n,
            [(i.virtual_s, i.pause_decided_s) for i in invocations],
            [(a.write_rate.rate) for a in table.adapters.values()],
        )
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
        # This import's writes, DynamoDB took exactly once.
        counts = dynamo.by_import[f"import-{n}"]
        assert counts.accepted == dynamo.distinct_keys(f"import-{n}") == last.roster_writes
    # Everything the imports wrote, DynamoDB took exactly once, under its limits.
    roster_writes = sum(r[-1].result.roster_writes for r in runs)
    assert dynamo.accepted == len(dynamo.stored) == roster_writes
    assert dynamo.throttled_calls + dynamo.partial_answers > 0  # the limits were met
    assert dynamo.units <= TABLE_RATE * (dynamo.now + 1)  # never faster than the table allows
    per_district = [len(r) for r in runs]
    print(f"invocations per district {per_district}; {dynamo.now:.0f} s virtual; {dynamo.units} units")
