"""Concurrent first imports against one simulated DynamoDB table, in virtual time: what the unit
test (tests/unit/test_first_imports_at_dynamodb_limits.py, scaled down) and the benchmark
(benchmarks/first_imports_at_limits.py, DynamoDB's real limits) share.

Every roster write goes through the real DynamoDB adapter (its write rate, its retries), one per
import, into one `SharedThrottledDynamo` (throttling errors and UnprocessedItems past a key's or
the table's rate); the rest of the table is the in-memory fake, which the writes are mirrored into
once DynamoDB took them. `import_until_done` is what the state machine does for one district:
Import, again while it answers paused, at most `max_invocations` times.

Virtual time with threads (each import on its own thread, its writer's senders on theirs): a
thread's sleep moves the shared clock to where that thread would wake, never by the sum of all
threads' sleeps, so concurrent waits overlap as they do in real time; a thread never acts before
the shared clock, so no bucket refills for time that did not pass (the simulation can only be
slower than DynamoDB, never faster).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.contracts.importer import ImportResult, RunStatus
from rostersync.importer import service
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.service import Accepted, import_district
from rostersync.importer.writer import SENDERS
from rostersync.roster_items import Item, Key
from tests.factories import Clock
from tests.fakes.page_store import MemoryPageStore
from tests.fakes.roster_table import MemoryRosterTable
from tests.fakes.throttled_dynamodb import ThrottledDynamo


@dataclass
class ImportCounts:
    """What one import's requests met at the simulated table."""

    calls: int = 0
    throttled: int = 0  # calls refused whole (ProvisionedThroughputExceededException)
    partial: int = 0  # calls answered with UnprocessedItems
    units: int = 0  # write units taken, indexes included
    accepted: int = 0  # put requests taken (a key written twice counts twice)
    # units per partition key (("table", pk)) and per index key ((index, key))
    by_key: Counter[tuple[str, str]] = field(default_factory=Counter)


class SharedThrottledDynamo(ThrottledDynamo):
    """One simulated table for every thread: its calls one at a time, and each thread's sleep
    moves the shared clock to that thread's wake time (waits of concurrent threads overlap).
    Counts per import (`by_import`) when a call names its import."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()
        self._seen: dict[int, float] = {}
        self.accepted = 0  # put requests DynamoDB took (a key written twice counts twice)
        self.by_import: dict[str, ImportCounts] = {}
        self._counts = ImportCounts()

    def clock(self) -> float:
        with self._lock:
            self._seen[threading.get_ident()] = self.now
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            me = threading.get_ident()
            self.now = max(self.now, self._seen.get(me, self.now) + max(0.0, seconds))
            self._seen[me] = self.now

    def batch_write_item(
        self, RequestItems: dict[str, list[dict[str, Any]]], import_name: str = "", **kw: Any
    ) -> dict[str, Any]:
        with self._lock:
            self._seen[threading.get_ident()] = self.now
            self._counts = counts = self.by_import.setdefault(import_name, ImportCounts())
            counts.calls += 1
            try:
                answer = super().batch_write_item(RequestItems, **kw)  # raises when it took nothing
            except ClientError:
                counts.throttled += 1
                raise
            counts.partial += bool(answer["UnprocessedItems"])
            return answer

    def _took(
        self, key: tuple[str, str], item: dict[str, Any], costs: list[tuple[tuple[str, str], int]]
    ) -> None:
        """Stored: the key and the import that wrote it, not the item (a 190k district's items
        would take gigabytes twice: the in-memory table mirrors them)."""
        counts = self._counts
        self.stored[key] = counts
        counts.accepted += 1
        self.accepted += 1
        for space, units in costs:
            counts.units += units
            counts.by_key[space] += units

    def distinct_keys(self, import_name: str) -> int:
        """How many distinct keys the import's writes left in the table."""
        counts = self.by_import.get(import_name)
        return sum(1 for owner in self.stored.values() if owner is counts)


class _ImportClient:
    """The low-level client one import's adapter holds: the shared table, told whose call it is."""

    def __init__(self, dynamo: SharedThrottledDynamo, name: str) -> None:
        self.dynamo, self.name = dynamo, name

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        return self.dynamo.batch_write_item(import_name=self.name, **kwargs)


# (the import's low-level client, the shared table) -> that import's adapter
AdapterFactory = Callable[[Any, SharedThrottledDynamo], DynamoRosterTable]


class ThrottledRoster(MemoryRosterTable):
    """The in-memory table, whose batched writes are DynamoDB's: through the import's adapter into
    the simulated table first, mirrored here once taken. `make_adapter` builds an import's
    adapter (and its write rate) the first time one of its threads writes."""

    def __init__(self, dynamo: SharedThrottledDynamo, make_adapter: AdapterFactory) -> None:
        super().__init__()
        self.dynamo = dynamo
        self._make_adapter = make_adapter
        self.adapters: dict[str, DynamoRosterTable] = {}
        self._adapters_lock = threading.Lock()

    def adapter(self) -> DynamoRosterTable:
        """One adapter (and write rate) per import: the import's thread names it."""
        name = import_name()
        with self._adapters_lock:
            if name not in self.adapters:
                self.adapters[name] = self._make_adapter(_ImportClient(self.dynamo, name), self.dynamo)
            return self.adapters[name]

    def write(self, puts: Sequence[Item], deletes: Sequence[Key]) -> int:
        assert not deletes, "a first import deletes nothing"
        written = self.adapter().write(list(puts), [])
        assert written == len(puts)
        return int(super().write(puts, deletes))

    def close(self) -> None:
        for adapter in self.adapters.values():
            adapter.close()


def import_name() -> str:
    """The import a thread works for: its own name, or its import's (`import-3/sender_0`)."""
    return threading.current_thread().name.split("/")[0]


@dataclass
class Invocation:
    result: ImportResult
    virtual_s: float  # the invocation's time on the shared clock
    wall_s: float  # the process's real time for it (reading, diffing, serializing: not simulated)
    pause_decided_s: float | None  # when it first answered that the import should pause (virtual)


def import_until_done(
    name: str,
    district_id: str,
    accepted: Accepted,
    table: ThrottledRoster,
    store: MemoryPageStore,
    run_id: str,
    clock: Clock,
    *,
    invocation_s: float,
    margin_s: float,
    write_chunk: int,
    max_invocations: int,
) -> list[Invocation]:
    """What the state machine does for one district: Import, again while it answers paused (at
    most `max_invocations`), each invocation pausing when less than `margin_s` of its
    `invocation_s` remains (virtual time). Runs on a thread named `name`."""
    threading.current_thread().name = name
    dynamo = table.dynamo
    invocations: list[Invocation] = []
    while len(invocations) < max_invocations:
        started, wall = dynamo.clock(), time.perf_counter()
        deadline = started + invocation_s

        decided: list[float] = []

        def should_pause(
            deadline: float = deadline, started: float = started, decided: list[float] = decided
        ) -> bool:
            now = dynamo.clock()
            if deadline - now < margin_s:
                decided[:1] = decided[:1] or [now - started]
                return True
            return False

        result = import_district(
            district_id,
            run_id,
            accepted,
            set(),
            table,
            holds=PageStoreHoldStore(store),
            clock=clock,
            should_pause=should_pause,
            write_chunk=write_chunk,
        )
        invocations.append(
            Invocation(
                result, dynamo.clock() - started, time.perf_counter() - wall, decided[0] if decided else None
            )
        )
        if result.status is not RunStatus.PAUSED:
            break
    return invocations


@contextmanager
def senders_named_after_their_import(
    setattr_: Callable[[Any, str, Any], None] | None = None,
) -> Iterator[None]:
    """The writer's sender threads carry their import's thread name (`import-3/sender`), so the
    table finds the import's adapter and write rate from any of them. `setattr_` patches
    (pytest's monkeypatch.setattr); without it the patch is undone on exit."""
    original = service.RosterWriter

    class NamedSenders(original):  # type: ignore[misc, valid-type]
        def flush(self) -> None:
            if self._sender is None:
                self._sender = ThreadPoolExecutor(
                    max_workers=SENDERS, thread_name_prefix=f"{threading.current_thread().name}/sender"
                )
            super().flush()

    if setattr_ is not None:
        setattr_(service, "RosterWriter", NamedSenders)
        yield
        return
    service.RosterWriter = NamedSenders  # type: ignore[misc]
    try:
        yield
    finally:
        service.RosterWriter = original  # type: ignore[misc]
