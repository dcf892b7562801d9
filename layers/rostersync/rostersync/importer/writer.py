"""The roster writer: buffered, overlapped batch writes under the district's lease.

Shared by the import service and the hold release. Times are the lease's: a run renews its
lease every LEASE_RENEW_SECONDS while it writes (on the writer's clock), and an expired lease's
holder is dead, not slow (LEASE_TTL_SECONDS outlasts Lambda's 15-minute maximum).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from rostersync.ports import Lease, RosterTable
from rostersync.roster_items import Item, Key

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]

LEASE_TTL_SECONDS = 20 * 60
LEASE_RENEW_SECONDS = 60
WRITE_CHUNK = 2000  # items per write() call: 80 BatchWriteItem requests, run in parallel
SENDERS = 4  # chunks in flight at once (their requests share the table's pool of 8)


def utcnow() -> datetime:
    return datetime.now(UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class RosterWriter:
    """Buffers membership and roster writes and sends them while the caller builds the next chunk.

    A chunk ends at a record boundary (a record's membership and roster items travel together)
    and goes out on a background sender as membership items first, then roster items (their
    content hash last), so every record's membership is written before its roster item, as the
    import's order of work requires. Up to SENDERS chunks are in flight (their batches share the
    table's request pool, so the table never waits on the gap between two chunks) while the
    import's own CPU work (reading, hashing, building items) goes on. A failed chunk raises from
    the next `flush` or `drain` (chunks already in flight finish; the change set written before
    the first chunk names all of them for the repair). Renews the lease (`tick`), timed by
    `monotonic` (injectable, so tests need not sleep).
    """

    def __init__(
        self,
        table: RosterTable,
        lease: Lease | None,
        clock: Clock,
        *,
        monotonic: Monotonic = time.monotonic,
        chunk: int = WRITE_CHUNK,
    ) -> None:
        self.table = table
        self.lease = lease
        self.clock = clock
        self.monotonic = monotonic
        self.chunk = chunk
        self.edge_puts: list[Item] = []
        self.edge_deletes: list[Key] = []
        self.items: list[Item] = []
        self.written = 0
        self.chunks = 0  # chunks handed to the senders: a pause may come between two
        self._renewed = monotonic()
        self._sender: ThreadPoolExecutor | None = None
        self._inflight: deque[Future[int]] = deque()

    def add_edges(self, puts: Iterable[Item], deletes: Iterable[Key]) -> None:
        """A record's membership changes. Never sent alone: its roster item (if any) follows
        through `add_item`, and membership-only work calls `maybe_flush` between records."""
        self.edge_puts.extend(puts)
        self.edge_deletes.extend(deletes)

    def add_item(self, item: Item) -> None:
        """A record's roster item, after its membership changes: the record is whole."""
        self.items.append(item)
        self.maybe_flush()

    def maybe_flush(self) -> None:
        """At a record boundary: send the buffer if it is a chunk's worth."""
        if len(self.items) + len(self.edge_puts) + len(self.edge_deletes) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered writes to a sender (waiting while SENDERS chunks are in flight)."""
        self.tick()
        for inflight in self._inflight:  # a failure anywhere stops the handing over at once
            if inflight.done() and inflight.exception() is not None:
                inflight.result()
        while self._inflight and (self._inflight[0].done() or len(self._inflight) >= SENDERS):
            self._collect_oldest()
        if not (self.edge_puts or self.edge_deletes or self.items):
            return
        chunk = (self.edge_puts, self.edge_deletes, self.items)
        self.edge_puts, self.edge_deletes, self.items = [], [], []
        if self._sender is None:
            self._sender = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="roster-writer")
        self._inflight.append(self._sender.submit(self._send, *chunk))
        self.chunks += 1

    def drain(self) -> None:
        """Everything buffered is written (or its failure raised) when this returns."""
        self.flush()
        while self._inflight:
            self._collect_oldest()

    def close(self) -> None:
        """Stop the senders; waits for chunks in flight (their outcome is the caller's to raise)."""
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None

    def _collect_oldest(self) -> None:
        self.written += self._inflight.popleft().result()

    def _send(self, edge_puts: list[Item], edge_deletes: list[Key], items: list[Item]) -> int:
        written = 0
        if edge_puts or edge_deletes:
            written += self.table.write(edge_puts, edge_deletes)
        if items:
            written += self.table.write(items, [])
        return written

    def tick(self) -> None:
        """Renew the lease when LEASE_RENEW_SECONDS have passed since the last renewal (LeaseLost
        propagates: the run must stop writing)."""
        if self.lease and self.monotonic() - self._renewed >= LEASE_RENEW_SECONDS:
            self.table.renew_lease(self.lease, now=epoch(self.clock()), ttl=LEASE_TTL_SECONDS)
            self._renewed = self.monotonic()
