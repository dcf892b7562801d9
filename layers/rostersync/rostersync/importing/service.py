"""import_district: one district's accepted records into the roster table.

Order of work (each step safe to repeat; see docs/DATA_MODEL.md):

1. A replayed run (same run id, already committed) returns its recorded result.
2. The district's lease (pk LEASE#<district>): one run at a time, and a run older than the
   newest run that started for the district is refused (fencing). A dry run takes no lease.
3. Pass 1 over `accepted`: sk -> content hash, diffed against what the table holds: the roster
   index of the last committed run when it provably is the table's state (roster_index.py),
   else one Query of the district's partition.
4. Safeguard: too large an archive set is held (written to S3), not applied.
5. The change set is written to S3 before any roster write: the dry run's output, and the plan
   the next run repairs from if this one stops part way.
6. Pass 2 over `accepted`: changed records only. Membership items first, then the roster item
   (its content hash last), so a failure leaves the old hash and the next diff redoes it.
7. Archives (conditional updates), then their membership items removed.
8. The roster index of what the run left, then the run item, then the lease released (which
   marks the run's repairs done and names the index valid, in one conditional update).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from rostersync.importing.diff import Action, Candidate, Diff, compute_diff
from rostersync.importing.holds import HoldStore
from rostersync.importing.items import (
    Item,
    Key,
    Record,
    desired_edges,
    district_pk,
    edge_item,
    owns_edges,
    record_hash,
    roster_item,
    roster_sk,
    split_sk,
    stored_edges,
)
from rostersync.importing.ports import Lease, LeaseBusy, RosterTable, StaleRun
from rostersync.importing.roster_index import MAX_GENERATIONS, IndexTracker, RosterIndex
from rostersync.importing.runs import (
    FINAL,
    RUNLOG_PK,
    RUNLOG_TTL_DAYS,
    ImportResult,
    KindCounts,
    RunStatus,
    result_from_item,
    run_item,
    run_pk,
    runlog_item,
)
from rostersync.importing.safeguard import SafeguardThresholds, check
from rostersync.observability import logger
from rostersync.records import Kind

Clock = Callable[[], datetime]
Accepted = Callable[[], Iterable[tuple[Kind, Record]]]

# Longer than Lambda's 15-minute maximum: an expired lease's holder is dead, not slow. A live
# run renews it every LEASE_RENEW_SECONDS while it writes, and fails if it was taken meanwhile.
LEASE_TTL_SECONDS = 20 * 60
LEASE_RENEW_SECONDS = 60
WRITE_CHUNK = 2000  # items per write() call: 80 BatchWriteItem requests, run in parallel
SENDERS = 4  # chunks in flight at once (their requests share the table's pool of 8)
SAFEGUARD_SK = "SAFEGUARD"
HOLD_HELD = "held"
HOLD_RELEASED = "released"
HOLD_SUPERSEDED = "superseded"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def config_pk(district_id: str) -> str:
    return f"CONFIG#{district_id}"


def hold_pk(district_id: str) -> str:
    return f"HOLD#{district_id}"


def dry_run_sk(run_id: str) -> str:
    """Dry runs are recorded beside real ones (sorting just after) without replacing them."""
    return f"{run_id}~dry"


class _Writer:
    """Buffers membership and roster writes and sends them while the caller builds the next chunk.

    A chunk ends at a record boundary (a record's membership and roster items travel together)
    and goes out on a background sender as membership items first, then roster items (their
    content hash last), so every record's membership is written before its roster item, as the
    order of work requires. Up to SENDERS chunks are in flight (their batches share the table's
    request pool, so the table never waits on the gap between two chunks) while the import's
    own CPU work (reading, hashing, building items) goes on. A failed chunk raises from the next
    `flush` or `drain` (chunks already in flight finish; the change set written before the first
    chunk names all of them for the repair). Renews the lease.
    """

    def __init__(self, table: RosterTable, lease: Lease | None, clock: Clock) -> None:
        self.table = table
        self.lease = lease
        self.clock = clock
        self.edge_puts: list[Item] = []
        self.edge_deletes: list[Key] = []
        self.items: list[Item] = []
        self.written = 0
        self._renewed = time.monotonic()
        self._sender: ThreadPoolExecutor | None = None
        self._inflight: deque[Future[int]] = deque()

    def edges(self, puts: Iterable[Item], deletes: Iterable[Key]) -> None:
        """A record's membership changes. Never sent alone: its roster item (if any) follows
        through `item`, and membership-only work calls `maybe_flush` between records."""
        self.edge_puts.extend(puts)
        self.edge_deletes.extend(deletes)

    def item(self, item: Item) -> None:
        """A record's roster item, after its membership changes: the record is whole."""
        self.items.append(item)
        self.maybe_flush()

    def maybe_flush(self) -> None:
        """At a record boundary: send the buffer if it is a chunk's worth."""
        if len(self.items) + len(self.edge_puts) + len(self.edge_deletes) >= WRITE_CHUNK:
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
        if self.lease and time.monotonic() - self._renewed >= LEASE_RENEW_SECONDS:
            self.table.renew_lease(self.lease, now=_epoch(self.clock()), ttl=LEASE_TTL_SECONDS)
            self._renewed = time.monotonic()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def import_district(
    district_id: str,
    run_id: str,
    accepted: Accepted,
    rejected_ids: Collection[str],
    table: RosterTable,
    *,
    holds: HoldStore,
    dry_run: bool = False,
    thresholds: SafeguardThresholds | None = None,
    fetched: Mapping[str, int] | None = None,
    clock: Clock = _utcnow,
) -> ImportResult:
    """Import one district's accepted records (see the module docstring for the order of work).

    `accepted` is called twice (two passes); `rejected_ids` are the clever ids fetched tonight
    but rejected, whose last good version stays. `thresholds` is the default safeguard, which a
    district's CONFIG#<district>/SAFEGUARD item overrides. `fetched` (per kind) is recorded.
    """
    started = clock()
    result = ImportResult(
        district_id=district_id,
        run_id=run_id,
        status=RunStatus.RUNNING,
        dry_run=dry_run,
        rejected=len(rejected_ids),
        started_at=started,
    )
    log = {"district_id": district_id, "run_id": run_id, "dry_run": dry_run}
    lease: Lease | None = None
    if not dry_run:
        recorded = table.get_item(run_pk(district_id), run_id)
        if recorded and recorded.get("status") in FINAL:
            replay = result_from_item(recorded)
            replay.replayed = True
            logger.info("import already committed; returning the recorded result", extra=log)
            return replay
        try:
            lease = table.acquire_lease(
                district_id, run_id, now=_epoch(started), ttl=LEASE_TTL_SECONDS, fence_run=run_id
            )
        except LeaseBusy as exc:
            logger.warning("district locked by another run; skipped", extra={**log, "reason": str(exc)})
            return result.model_copy(update={"status": RunStatus.SKIPPED_LOCKED, "finished_at": clock()})
        except StaleRun as exc:
            logger.warning("a newer run exists for the district; skipped", extra={**log, "reason": str(exc)})
            return result.model_copy(update={"status": RunStatus.SKIPPED_STALE, "finished_at": clock()})
        _record(table, result, clock)
    try:
        _import(
            district_id,
            run_id,
            accepted,
            rejected_ids,
            table,
            holds,
            lease,
            result,
            thresholds,
            fetched,
            clock,
        )
    except Exception as exc:
        result.status = RunStatus.FAILED
        result.error = f"{type(exc).__name__}: {exc}"[:1000]
        result.finished_at = clock()
        logger.exception("import failed", extra=log)
        if lease is not None:
            _best_effort(lambda: _record(table, result, clock))
            _best_effort(lambda: table.release_lease(lease, completed=None))
        raise
    _log_done(result)
    return result


def _best_effort(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception:  # the original failure is what matters; the lease expires anyway
        logger.exception("cleanup after a failed import also failed")


def _import(
    district_id: str,
    run_id: str,
    accepted: Accepted,
    rejected_ids: Collection[str],
    table: RosterTable,
    holds: HoldStore,
    lease: Lease | None,
    result: ImportResult,
    default_thresholds: SafeguardThresholds | None,
    fetched: Mapping[str, int] | None,
    clock: Clock,
) -> None:
    now = _iso(result.started_at or clock())
    phase = _Phases(result)
    thresholds = SafeguardThresholds.from_item(
        table.get_item(config_pk(district_id), SAFEGUARD_SK), default_thresholds or SafeguardThresholds()
    )
    repair = _repair_set(district_id, lease, holds)
    _close_abandoned(table, district_id, run_id, lease, now)
    counts: defaultdict[Kind, KindCounts] = defaultdict(KindCounts)

    # Pass 1: tonight's records reduced to sk -> 16-byte hash.
    tonight: dict[str, bytes] = {}
    for kind, record in accepted():
        if record.district_id != district_id:
            raise ValueError(f"record {kind.value} {record.id} belongs to district {record.district_id}")
        tonight[roster_sk(kind, record.id)] = bytes.fromhex(record_hash(kind, record))
        counts[kind].accepted += 1

    # Dry runs take no lease, so they cannot prove an index current: they read the table.
    tracker = IndexTracker() if lease is not None else None
    index = _usable_index(district_id, lease, repair, holds)
    result.diff_source = "index" if index else "table"
    existing = iter(index.items) if index else table.existing(district_id)
    diff = compute_diff(tonight, tracker.read(existing) if tracker else existing, rejected_ids, repair)
    result.trips = check(diff.candidates, diff.active_by_kind, diff.students_by_school, thresholds)
    held = bool(result.trips)
    _count(diff, counts, held, fetched)
    result.counts = {kind.value: counts[kind] for kind in Kind if kind in counts}
    # A dry run's change set sits beside the real run's, never over it: the real one is the plan
    # the next run repairs from.
    changeset_id = dry_run_sk(run_id) if result.dry_run else run_id
    result.changeset_key = holds.write_changeset(district_id, changeset_id, _changeset(result, diff, held))
    phase.done("diff")

    if result.dry_run:
        result.status = RunStatus.DRY_RUN
        result.finished_at = clock()
        table.put_item({**run_item(result), "sk": dry_run_sk(run_id)})
        return

    if held:
        result.hold_key = holds.write_hold(district_id, run_id, diff.candidates)
        table.put_item(
            {
                "pk": hold_pk(district_id),
                "sk": run_id,
                "status": HOLD_HELD,
                "records": len(diff.candidates),
                "hold_key": result.hold_key,
                "created_at": now,
                "trips": [t.model_dump() for t in result.trips],
            }
        )

    writer = _Writer(table, lease, clock)
    try:
        # Pass 2: changed records only (none: tonight's records need not be read again).
        for kind, record in accepted() if diff.changes else ():
            sk = roster_sk(kind, record.id)
            action = diff.changes.pop(sk, None)
            if action is None:
                continue
            if owns_edges(kind):
                want = desired_edges(kind, record)
                if sk in repair:  # a failed run may have left its membership half written: read it
                    have = table.member_edges(sk)
                elif action is Action.CREATED:
                    have = set()
                else:
                    # After a committed run an item's membership is exactly what the item implies, so
                    # one GetItem tells it: no index query (GSIs lag; moto scans for every query).
                    have = stored_edges(table.get_item(district_pk(district_id), sk))
                writer.edges(
                    [edge_item(pk, member, district_id, run_id) for pk, member in sorted(want - have)],
                    sorted(have - want),
                )
            item = roster_item(kind, record, run_id=run_id, now=now)
            writer.item(item)
            if tracker:
                tracker.written(item)
        writer.drain()

        if not held:
            for candidate in diff.candidates:
                writer.tick()
                if table.archive(district_id, candidate.sk, run_id=run_id, now=now, fence_run=run_id):
                    writer.written += 1
                    if tracker:
                        tracker.archived(candidate.sk)
                    if owns_edges(candidate.kind):
                        writer.edges([], sorted(table.member_edges(candidate.sk)))
                        writer.maybe_flush()
                else:  # changed under us (cannot happen under the lease): leave it, say so
                    counts[candidate.kind].archived -= 1
                    tracker = None  # what the table holds for it is unknown: no index this time
                    logger.warning(
                        "archive skipped: item changed",
                        extra={"district_id": district_id, "sk": candidate.sk},
                    )
        for sk in diff.reconcile:
            _reconcile(table, writer, district_id, sk, run_id)
        writer.drain()
    finally:
        writer.close()
    phase.done("write")

    _supersede_holds(table, district_id, run_id, now)
    if lease is None:
        raise RuntimeError(f"district {district_id} run {run_id}: committing without a lease")
    table.renew_lease(lease, now=_epoch(clock()), ttl=LEASE_TTL_SECONDS)  # still ours?
    generation = index.generation + 1 if index else 0
    index_run = _write_index(holds, tracker, district_id, run_id, generation) if tracker else None
    phase.done("finish")
    result.roster_writes = writer.written
    result.status = RunStatus.HELD if held else RunStatus.SUCCEEDED
    result.finished_at = clock()
    _record(table, result, clock)
    table.release_lease(lease, completed=set(lease.repair_runs) | {run_id}, index_run=index_run)


class _Phases:
    """Seconds spent in each phase of the run (diff, write, commit), recorded on the result."""

    def __init__(self, result: ImportResult) -> None:
        self.result = result
        self._mark = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.result.phase_seconds[name] = round(now - self._mark, 3)
        self._mark = now


def _usable_index(
    district_id: str, lease: Lease | None, repair: Collection[str], holds: HoldStore
) -> RosterIndex | None:
    """The last committed run's roster index, if it is provably the table's state (else None)."""
    log = {"district_id": district_id}
    if lease is None or not lease.index_run:
        return None
    if repair:  # an unfinished run planned writes the index does not know
        logger.info("diff reads the table: an unfinished run is being repaired", extra=log)
        return None
    try:
        index = holds.read_index(district_id)
    except Exception as exc:  # the table is always there to read: a lost index is not fatal
        logger.warning(
            "roster index unreadable; diff reads the table", extra={**log, "reason": type(exc).__name__}
        )
        return None
    if index is None or index.district_id != district_id or index.run_id != lease.index_run:
        logger.info("roster index missing or not the committed run's; diff reads the table", extra=log)
        return None
    if index.generation >= MAX_GENERATIONS:
        logger.info("roster index is due a table read; diff reads the table", extra=log)
        return None
    return index


def _write_index(
    holds: HoldStore, tracker: IndexTracker, district_id: str, run_id: str, generation: int
) -> str | None:
    """The run's roster index; on failure none is named valid and the next run reads the table."""
    try:
        holds.write_index(tracker.build(district_id, run_id, generation))
    except Exception as exc:
        logger.warning(
            "roster index not written; the next run reads the table",
            extra={"district_id": district_id, "run_id": run_id, "reason": type(exc).__name__},
        )
        return None
    return run_id


def _reconcile(table: RosterTable, writer: _Writer, district_id: str, sk: str, run_id: str) -> None:
    """Membership items of an item with no record tonight, re-derived from the stored item."""
    kind, _ = split_sk(sk)
    if not owns_edges(kind):
        return
    want = stored_edges(table.get_item(district_pk(district_id), sk))
    have = table.member_edges(sk)
    writer.edges(
        [edge_item(pk, member, district_id, run_id) for pk, member in sorted(want - have)],
        sorted(have - want),
    )
    writer.maybe_flush()


def _close_abandoned(
    table: RosterTable, district_id: str, run_id: str, lease: Lease | None, now: str
) -> None:
    """Run records an invocation left `running` when it died (timeout, out of memory) say so now.

    Conditional (running -> failed), so a run that did record its failure keeps its own error.
    """
    for dead_run in lease.repair_runs if lease else ():
        if dead_run == run_id:
            continue  # this very run, redelivered: its record is rewritten as it goes
        extra = {
            "error": f"stopped before committing (invocation ended); taken over by run {run_id}",
            "finished_at": now,
        }
        closed = table.set_status(
            run_pk(district_id), dead_run, RunStatus.RUNNING.value, RunStatus.FAILED.value, extra
        )
        table.set_status(
            RUNLOG_PK, f"{dead_run}#{district_id}", RunStatus.RUNNING.value, RunStatus.FAILED.value, extra
        )
        if closed:
            logger.warning(
                "closed the record of a run that stopped before committing",
                extra={"district_id": district_id, "dead_run": dead_run, "run_id": run_id},
            )


def _repair_set(district_id: str, lease: Lease | None, holds: HoldStore) -> set[str]:
    """sks a run that started and never committed planned to change (its change set)."""
    repair: set[str] = set()
    for failed_run in lease.repair_runs if lease else ():
        plan = holds.read_changeset(district_id, failed_run)
        if not plan:
            continue  # stopped before planning: it wrote nothing
        repair.update(f"{kind}#{clever_id}" for _action, kind, clever_id in plan.get("changes", []))
        logger.info(
            "repairing after an unfinished run",
            extra={
                "district_id": district_id,
                "failed_run": failed_run,
                "records": len(plan.get("changes", [])),
            },
        )
    return repair


def _count(
    diff: Diff, counts: defaultdict[Kind, KindCounts], held: bool, fetched: Mapping[str, int] | None
) -> None:
    for kind, n in diff.unchanged.items():
        counts[kind].unchanged += n
    for kind, n in diff.rejected_kept.items():
        counts[kind].rejected_kept += n
    for sk, action in diff.changes.items():
        c = counts[split_sk(sk)[0]]
        setattr(c, action.value, getattr(c, action.value) + 1)
    for candidate in diff.candidates:
        if held:
            counts[candidate.kind].held += 1
        else:
            counts[candidate.kind].archived += 1
    for kind_name, n in (fetched or {}).items():
        named = Kind.__members__.get(str(kind_name).upper())
        if named is not None:  # informational: an unknown key is ignored, not fatal
            counts[named].fetched = n


def _changeset(result: ImportResult, diff: Diff, held: bool) -> dict[str, Any]:
    changes: list[list[str]] = []
    for sk, action in sorted(diff.changes.items()):
        kind, clever_id = split_sk(sk)
        changes.append([action.value, kind.value, clever_id])
    archive_action = Action.HELD if held else Action.ARCHIVED
    changes += [[archive_action.value, c.kind.value, c.clever_id] for c in sorted(diff.candidates)]
    for sk in sorted(diff.reconcile):
        kind, clever_id = split_sk(sk)
        changes.append([Action.RECONCILE.value, kind.value, clever_id])
    return {
        "schema_version": 1,
        "district_id": result.district_id,
        "run_id": result.run_id,
        "dry_run": result.dry_run,
        "held": held,
        "trips": [t.model_dump() for t in result.trips],
        "counts": {kind: c.model_dump(exclude_none=True) for kind, c in result.counts.items()},
        "columns": ["action", "kind", "clever_id"],
        "changes": changes,
    }


def _record(table: RosterTable, result: ImportResult, clock: Clock) -> None:
    table.put_item(run_item(result))
    expires = _epoch(clock() + timedelta(days=RUNLOG_TTL_DAYS))
    table.put_item(runlog_item(result, expires))


def _supersede_holds(table: RosterTable, district_id: str, run_id: str, now: str) -> None:
    """A committed run recomputed the archive set from a complete fetch: older holds are moot."""
    for hold in table.query(hold_pk(district_id)):
        if hold.get("status") == HOLD_HELD and str(hold["sk"]) < run_id:
            table.set_status(
                hold_pk(district_id),
                str(hold["sk"]),
                HOLD_HELD,
                HOLD_SUPERSEDED,
                {"superseded_by": run_id, "superseded_at": now},
            )


def _log_done(result: ImportResult) -> None:
    logger.info(
        "district imported",
        extra={
            "district_id": result.district_id,
            "run_id": result.run_id,
            "status": result.status.value,
            "records_created": result.total("created"),
            "records_updated": result.total("updated"),
            "records_unchanged": result.total("unchanged"),
            "records_archived": result.total("archived"),
            "records_restored": result.total("restored"),
            "records_held": result.total("held"),
            "records_rejected_kept": result.total("rejected_kept"),
            "roster_writes": result.roster_writes,
            "diff_source": result.diff_source,
            "phase_seconds": result.phase_seconds,
        },
    )


# ------------------------------------------------------------------------------ holds


class ReleaseResult(BaseModel):
    district_id: str
    run_id: str | None
    status: str  # released | already_released | superseded | not_found | skipped_locked
    archived: int = 0
    skipped: int = 0  # came back (changed or restored) since the hold, left active
    counts: dict[str, int] = {}


def release_hold(
    district_id: str,
    run_id: str | None,
    *,
    table: RosterTable,
    holds: HoldStore,
    clock: Clock = _utcnow,
) -> ReleaseResult:
    """Apply a held archive set once (the district's newest open hold when run_id is None).

    Idempotent: the hold item goes held -> released only at the end, conditionally; a second
    release finds it released and does nothing. Records changed or restored since the hold
    (last_changed_run newer than the hold's run) are skipped; a hold a later committed run
    superseded is not applied (that run decided the archive set afresh).
    """
    if run_id is None:
        open_holds = [
            h for h in table.query(hold_pk(district_id), newest_first=True) if h.get("status") == HOLD_HELD
        ]
        if not open_holds:
            return ReleaseResult(district_id=district_id, run_id=None, status="not_found")
        run_id = str(open_holds[0]["sk"])
    hold = table.get_item(hold_pk(district_id), run_id)
    if not hold:
        return ReleaseResult(district_id=district_id, run_id=run_id, status="not_found")
    if hold.get("status") != HOLD_HELD:
        status = "already_released" if hold.get("status") == HOLD_RELEASED else str(hold.get("status"))
        return ReleaseResult(district_id=district_id, run_id=run_id, status=status)
    now = clock()
    try:
        lease = table.acquire_lease(
            district_id, f"release:{run_id}", now=_epoch(now), ttl=LEASE_TTL_SECONDS, fence_run=None
        )
    except LeaseBusy:
        return ReleaseResult(district_id=district_id, run_id=run_id, status="skipped_locked")
    result = ReleaseResult(district_id=district_id, run_id=run_id, status=HOLD_RELEASED)
    writer = _Writer(table, lease, clock)
    try:
        for row in holds.read_hold(district_id, run_id):
            writer.tick()
            kind = Kind(row["kind"])
            sk = roster_sk(kind, row["clever_id"])
            if table.archive(district_id, sk, run_id=run_id, now=_iso(now), fence_run=run_id):
                result.archived += 1
                result.counts[kind.value] = result.counts.get(kind.value, 0) + 1
            else:
                stored = table.get_item(district_pk(district_id), sk)
                if stored and stored.get("status") == "active":
                    result.skipped += 1  # came back meanwhile
                    continue
            # Archived now or by an earlier, interrupted release: no membership items left.
            if owns_edges(kind):
                writer.edges([], sorted(table.member_edges(sk)))
                writer.maybe_flush()
        writer.drain()
        table.set_status(
            hold_pk(district_id),
            run_id,
            HOLD_HELD,
            HOLD_RELEASED,
            {"released_at": _iso(clock()), "archived": result.archived, "skipped": result.skipped},
        )
    finally:
        writer.close()
        table.release_lease(lease, completed=None)
    logger.info("hold released", extra=result.model_dump())
    return result


# ------------------------------------------------------------------------------ status


def latest_runs(table: RosterTable, district_id: str | None = None, limit: int = 20) -> list[ImportResult]:
    """Newest first: one district's runs (its RUN# partition) or every district's (RUNLOG)."""
    pk = run_pk(district_id) if district_id else RUNLOG_PK
    return [result_from_item(item) for item in table.query(pk, newest_first=True, limit=limit)]


def set_thresholds(table: RosterTable, district_id: str, thresholds: SafeguardThresholds) -> None:
    """A district's own safeguard (overrides the SAFEGUARD_ARCHIVE_PERCENT default)."""
    table.put_item(
        {
            "pk": config_pk(district_id),
            "sk": SAFEGUARD_SK,
            "archive_percent": thresholds.archive_percent,
            "floor": thresholds.floor,
        }
    )


__all__ = [
    "Candidate",
    "ImportResult",
    "ReleaseResult",
    "import_district",
    "latest_runs",
    "release_hold",
    "set_thresholds",
]
