"""import_district: one district's accepted records into the roster table, as plan -> apply -> commit.

Order of work (each step safe to repeat; see docs/DATA_MODEL.md):

1. A replayed run (same run id, already committed) returns its recorded result.
2. The district's lease (pk LEASE#<district>): one run at a time, and a run older than the
   newest run that started for the district is refused (fencing). A dry run takes no lease.
3. Plan. Pass 1 over `accepted`: sk -> content hash, diffed against what the table holds: the
   roster index of the last committed run when it provably is the table's state
   (roster_index.py), else one Query of the district's partition. The safeguard decides
   whether the archive set is held. The change set is written to S3 before any roster write:
   the dry run's output, and the plan the next run repairs from if this one stops part way.
4. Apply. The first run after the PA Secure ID registry puts the district's students in it
   (state_id_registry.py, once). Pass 2 over `accepted`: changed records only. Membership items
   first, then the roster item (its content hash last), so a failure leaves the old hash and the
   next diff redoes it. Students who arrive (created, restored, a new PA Secure ID) are decided by
   the registry in chunks first, so their item carries `state_id_trusted`; updated students keep
   the flag they had (confirmed against the registry afterwards). Then archives (conditional
   updates) and their membership items removed, and the archived students' ids leave the registry.
5. Commit. Older holds superseded, the roster index of what the run left, the run item, then the
   lease released (which marks the run's repairs done and names the index valid, in one
   conditional update).

An import larger than its invocation pauses (`should_pause`, the invocation's remaining time):
between two of pass 2's chunks, once this invocation has handed one over, it writes out what it
has started (pending arrivals decided, every chunk in flight landed, departures settled), hands
its lease on to its own next invocation (`pause_lease`), records the run `paused` with the whole
run's counts so far, and returns `paused` with no alert. The next invocation with the same run id
takes the lease over, reads that record (the counts, trips and change set of the first plan),
diffs tonight's records against the table (what was written carries its new content hash, so it
is skipped; the paused run's own change set is not repaired: it stopped cleanly), writes the
rest, and runs the phases after writing once, in the invocation that finishes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rostersync.contracts.importer import ANNOUNCE_PENDING, FINAL, ImportResult, KindCounts, RunStatus
from rostersync.ids import refuse_future_run_id
from rostersync.importer.diff import Action, Diff, compute_diff
from rostersync.importer.release import HOLD_HELD, HOLD_SUPERSEDED
from rostersync.importer.rollover import MAX_TERMS, rollover
from rostersync.importer.runs import RUNLOG_TTL_DAYS, result_from_item, run_item, runlog_item
from rostersync.importer.safeguard import SafeguardThresholds, check
from rostersync.importer.writer import (
    LEASE_TTL_SECONDS,
    WRITE_CHUNK,
    Clock,
    RosterWriter,
    epoch,
    iso,
    utcnow,
)
from rostersync.layout import (
    RUNLOG_PK,
    SAFEGUARD_SK,
    STATE_ID_MARKER_SK,
    config_pk,
    district_pk,
    dry_run_sk,
    hold_pk,
    roster_sk,
    run_pk,
    runlog_sk,
    split_sk,
)
from rostersync.observability import logger
from rostersync.ports import HoldStore, Lease, LeaseBusy, RosterTable, StaleRun
from rostersync.records import DistrictRecord, Kind, Record, TermRecord
from rostersync.roster_index import MAX_GENERATIONS, IndexTracker, RosterIndex
from rostersync.roster_items import (
    ACTIVE,
    HELD_LISTS,
    Item,
    Key,
    desired_edges,
    edge_item,
    keep_held_members,
    owns_edges,
    record_hash,
    roster_item,
    stored_edges,
)
from rostersync.state_id_registry import CONFLICTS_LISTED, TRUSTED, Arrival, Registry

Accepted = Callable[[], Iterable[tuple[Kind, Record]]]
Pause = Callable[[], bool]


def _never() -> bool:
    return False


@dataclass
class _Run:
    """One import run's context: who, what, where, and the result it fills in."""

    district_id: str
    run_id: str
    accepted: Accepted
    rejected_ids: Collection[str]
    table: RosterTable
    holds: HoldStore
    lease: Lease | None
    result: ImportResult
    clock: Clock
    now: str  # the run's timestamp on every item it writes
    registry: Registry | None = None  # the PA Secure ID registry (None for a dry run)
    should_pause: Pause = _never  # True near the invocation's deadline: stop between two chunks
    chunk: int = WRITE_CHUNK  # items handed to the writer's senders at once
    # The record of this run's paused invocation, when this invocation continues it.
    progress: ImportResult | None = None

    @property
    def paused_cleanly(self) -> bool:
        """This invocation continues one that paused (not one that died part way)."""
        return self.progress is not None and self.progress.status is RunStatus.PAUSED

    @property
    def log(self) -> dict[str, Any]:
        return {"district_id": self.district_id, "run_id": self.run_id}


@dataclass
class _Plan:
    """What pass 1 decided: the diff, whether the archive set is held, and what to rebuild."""

    diff: Diff
    held: bool
    repair: set[str]
    index: RosterIndex | None
    tracker: IndexTracker | None
    counts: defaultdict[Kind, KindCounts] = field(default_factory=lambda: defaultdict(KindCounts))
    # On a held night: the held people per kind, and the sections that keep some of them listed.
    held_ids: dict[Kind, set[str]] = field(default_factory=dict)
    held_sections: set[str] = field(default_factory=set)


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
    clock: Clock = utcnow,
    should_pause: Pause | None = None,
    write_chunk: int = WRITE_CHUNK,
) -> ImportResult:
    """Import one district's accepted records (see the module docstring for the order of work).

    `accepted` is called twice (two passes); `rejected_ids` are the record ids fetched tonight
    but rejected, whose last good version stays. `thresholds` is the default safeguard, which a
    district's CONFIG#<district>/SAFEGUARD item overrides. `fetched` (per kind) is recorded.
    `should_pause` (the invocation's deadline) may stop the run between two chunks: the result
    is then `paused` and an invocation with the same run id continues it.
    """
    started = clock()
    # Run ids come from the clock: one from the future would fence out every later night.
    refuse_future_run_id(run_id, started)
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
    progress: ImportResult | None = None
    if not dry_run:
        recorded = table.get_item(run_pk(district_id), run_id)
        if recorded and recorded.get("status") in FINAL:
            replay = result_from_item(recorded)
            replay.replayed = True
            logger.info("import already committed; returning the recorded result", extra=log)
            return replay
        if recorded and recorded.get("status") == RunStatus.PAUSED:
            progress = result_from_item(recorded)
        elif (
            recorded
            and recorded.get("status") in (RunStatus.RUNNING, RunStatus.FAILED)
            and recorded.get("changeset_key")
        ):
            # An invocation of this run planned (its record names the change set) and then died
            # or failed: the run's plan stands (its counts, trips and change set), so what it
            # archived before it stopped is still counted and announced; what it wrote is
            # repaired (its own change set is, since it did not stop cleanly).
            progress = result_from_item(recorded)
            progress.status = RunStatus.RUNNING
        try:
            lease = table.acquire_lease(
                district_id, run_id, now=epoch(started), ttl=LEASE_TTL_SECONDS, fence_run=run_id
            )
        except LeaseBusy as exc:
            logger.warning("district locked by another run; skipped", extra={**log, "reason": str(exc)})
            return result.model_copy(update={"status": RunStatus.SKIPPED_LOCKED, "finished_at": clock()})
        except StaleRun as exc:
            logger.warning("a newer run exists for the district; skipped", extra={**log, "reason": str(exc)})
            return result.model_copy(
                update={"status": RunStatus.SKIPPED_STALE, "finished_at": clock(), "error": str(exc)}
            )
        if progress is not None:
            result = _continued(result, progress)
            logger.info(
                "import continues its paused run"
                if progress.status is RunStatus.PAUSED
                else "import takes over its run after an invocation that stopped part way",
                extra={**log, "invocation": result.invocations},
            )
        _save_run_record(table, result, clock)
    run = _Run(district_id, run_id, accepted, rejected_ids, table, holds, lease, result, clock, iso(started))
    run.progress = progress
    run.chunk = write_chunk
    if should_pause is not None and not dry_run:
        run.should_pause = should_pause
    if not dry_run:
        run.registry = Registry(table, district_id, run_id, started)
    try:
        phase = _Phases(result)
        plan = _plan(run, thresholds or SafeguardThresholds(), fetched)
        phase.done("diff")
        if not result.dry_run and progress is None:
            # The plan's decisions on record before the first roster write: an invocation of
            # this run that takes over after a failure or a death continues under them.
            _save_run_record(table, result, clock)
        if result.dry_run:
            result.status = RunStatus.DRY_RUN
            result.finished_at = clock()
            table.put_item({**run_item(result), "sk": dry_run_sk(run_id)})
        else:
            written, paused = _apply(run, plan)
            phase.done("write")
            if paused:
                _pause(run, written)
            else:
                _commit(run, plan, written, phase)
    except Exception as exc:
        result.status = RunStatus.FAILED
        result.error = f"{type(exc).__name__}: {exc}"[:1000]
        result.finished_at = clock()
        logger.exception("import failed", extra=log)
        if lease is not None:
            failed_lease = lease
            _best_effort(lambda: _save_run_record(table, result, clock))
            _best_effort(lambda: table.release_lease(failed_lease, completed=None))
        raise
    _log_done(result)
    return result


def _continued(result: ImportResult, progress: ImportResult) -> ImportResult:
    """This invocation's result, carrying the whole run's so far from its paused invocation."""
    return result.model_copy(
        update={
            "counts": progress.counts,
            "trips": progress.trips,
            "rollover": progress.rollover,
            "safeguard_percent": progress.safeguard_percent,
            "changeset_key": progress.changeset_key,
            "diff_source": progress.diff_source,
            "roster_writes": progress.roster_writes,
            "phase_seconds": dict(progress.phase_seconds),
            "state_ids": progress.state_ids,
            "started_at": progress.started_at or result.started_at,
            "invocations": progress.invocations + 1,
        }
    )


def _pause(run: _Run, written: int) -> None:
    """Stop here, cleanly: the lease handed on to this run's next invocation, then the run
    recorded `paused` with the whole run's counts (what that invocation continues from)."""
    lease = run.lease
    if lease is None:
        raise RuntimeError(f"district {run.district_id} run {run.run_id}: pausing without a lease")
    run.table.pause_lease(lease, now=epoch(run.clock()), ttl=LEASE_TTL_SECONDS)
    result = run.result
    result.roster_writes += written
    result.status = RunStatus.PAUSED
    _save_run_record(run.table, result, run.clock)
    logger.info(
        "import paused at the invocation's deadline; the next invocation continues it",
        extra={**run.log, "invocation": result.invocations, "roster_writes": result.roster_writes},
    )


# ------------------------------------------------------------------------------------- plan


def _plan(run: _Run, default_thresholds: SafeguardThresholds, fetched: Mapping[str, int] | None) -> _Plan:
    """Pass 1, the diff, the safeguard and the change set (written before any roster write)."""
    result = run.result
    thresholds = SafeguardThresholds.from_item(
        run.table.get_item(config_pk(run.district_id), SAFEGUARD_SK), default_thresholds
    )
    result.safeguard_percent = thresholds.archive_percent
    repair = _repair_set(run)
    _close_abandoned(run)

    # Pass 1: tonight's records reduced to sk -> 16-byte hash.
    counts: defaultdict[Kind, KindCounts] = defaultdict(KindCounts)
    tonight: dict[str, bytes] = {}
    district: DistrictRecord | None = None
    term_starts: dict[str, str | None] = {}  # for the rollover signs (rollover.py)
    for kind, record in run.accepted():
        if record.district_id != run.district_id:
            raise ValueError(f"record {kind.value} {record.id} belongs to district {record.district_id}")
        sk = roster_sk(kind, record.id)
        tonight[sk] = bytes.fromhex(record_hash(kind, record))
        counts[kind].accepted += 1
        if isinstance(record, DistrictRecord):
            district = record
        elif isinstance(record, TermRecord) and len(term_starts) < MAX_TERMS:
            term_starts[sk] = record.start_date

    # Dry runs take no lease, so they cannot prove an index current: they read the table.
    tracker = IndexTracker() if run.lease is not None else None
    index = _usable_index(run, repair)
    existing = iter(index.items) if index else run.table.existing(run.district_id)
    diff = compute_diff(tonight, tracker.read(existing) if tracker else existing, run.rejected_ids, repair)
    if run.progress is not None:
        return _continue_plan(run, diff, repair, tracker)
    result.diff_source = "index" if index else "table"
    result.trips = check(diff.candidates, diff.active_by_kind, diff.students_by_school, thresholds)
    plan = _Plan(
        diff=diff, held=bool(result.trips), repair=repair, index=index, tracker=tracker, counts=counts
    )
    if plan.held:
        for candidate in diff.candidates:
            plan.held_ids.setdefault(candidate.kind, set()).add(candidate.source_id)
    _count(plan, fetched)
    result.counts = {kind.value: counts[kind] for kind in Kind if kind in counts}
    result.rollover = rollover(district, term_starts, diff, result.started_at or run.clock())
    # A dry run's change set sits beside the real run's, never over it: the real one is the plan
    # the next run repairs from.
    changeset_id = dry_run_sk(run.run_id) if result.dry_run else run.run_id
    result.changeset_key = run.holds.write_changeset(run.district_id, changeset_id, _changeset(result, plan))
    return plan


def _continue_plan(run: _Run, diff: Diff, repair: set[str], tracker: IndexTracker | None) -> _Plan:
    """A continued run's plan: what is left of the diff, under the first plan's decisions (its
    safeguard trips, its counts and its change set, which stays the run's whole plan)."""
    result = run.result
    counts: defaultdict[Kind, KindCounts] = defaultdict(KindCounts)
    for kind_name, kind_counts in result.counts.items():
        counts[Kind(kind_name)] = kind_counts
    plan = _Plan(
        diff=diff, held=bool(result.trips), repair=repair, index=None, tracker=tracker, counts=counts
    )
    if plan.held:
        for candidate in diff.candidates:
            plan.held_ids.setdefault(candidate.kind, set()).add(candidate.source_id)
        plan.held_sections = _held_sections_written(run, diff)
    result.counts = {kind.value: counts[kind] for kind in Kind if kind in counts}
    return plan


def _held_sections_written(run: _Run, diff: Diff) -> set[str]:
    """On a held run, the sections the paused invocations wrote keeping held people listed (the
    hold names them): those the change set planned and the diff no longer finds to write."""
    planned = run.holds.read_changeset(run.district_id, run.run_id) or {}
    sections: set[str] = set()
    for action, kind_name, record_id in planned.get("changes", []):
        sk = roster_sk(Kind(kind_name), record_id)
        if kind_name != Kind.SECTION.value or action == Action.CREATED.value or sk in diff.changes:
            continue
        stored = run.table.get_item(district_pk(run.district_id), sk)
        if stored and any(stored.get(held_attr) for _attr, held_attr, _kind in HELD_LISTS):
            sections.add(record_id)
    return sections


def _usable_index(run: _Run, repair: Collection[str]) -> RosterIndex | None:
    """The last committed run's roster index, if it is provably the table's state (else None)."""
    log = {"district_id": run.district_id}
    if run.lease is None or not run.lease.index_run:
        return None
    if repair:  # an unfinished run planned writes the index does not know
        logger.info("diff reads the table: an unfinished run is being repaired", extra=log)
        return None
    try:
        index = run.holds.read_index(run.district_id)
    except Exception as exc:  # the table is always there to read: a lost index is not fatal
        logger.warning(
            "roster index unreadable; diff reads the table", extra={**log, "reason": type(exc).__name__}
        )
        return None
    if index is None or index.district_id != run.district_id or index.run_id != run.lease.index_run:
        logger.info("roster index missing or not the committed run's; diff reads the table", extra=log)
        return None
    if index.generation >= MAX_GENERATIONS:
        logger.info("roster index is due a table read; diff reads the table", extra=log)
        return None
    return index


def _repair_set(run: _Run) -> set[str]:
    """sks a run that started and never committed planned to change (its change set)."""
    repair: set[str] = set()
    for failed_run in run.lease.repair_runs if run.lease else ():
        if run.paused_cleanly and failed_run == run.run_id:
            continue  # this run paused cleanly: what it wrote is whole, and skipped by its hash
        plan = run.holds.read_changeset(run.district_id, failed_run)
        if not plan:
            continue  # stopped before planning: it wrote nothing
        repair.update(roster_sk(kind, record_id) for _action, kind, record_id in plan.get("changes", []))
        logger.info(
            "repairing after an unfinished run",
            extra={**run.log, "failed_run": failed_run, "records": len(plan.get("changes", []))},
        )
    return repair


def _close_abandoned(run: _Run) -> None:
    """Run records an invocation left `running` when it died (timeout, out of memory) say so now.

    Conditional (running -> failed), so a run that did record its failure keeps its own error.
    """
    for dead_run in run.lease.repair_runs if run.lease else ():
        if dead_run == run.run_id:
            continue  # this very run, redelivered: its record is rewritten as it goes
        extra = {
            "error": f"stopped before committing (invocation ended); taken over by run {run.run_id}",
            "finished_at": run.now,
        }
        running, failed = RunStatus.RUNNING.value, RunStatus.FAILED.value
        closed = run.table.set_status(run_pk(run.district_id), dead_run, running, failed, extra)
        run.table.set_status(RUNLOG_PK, runlog_sk(dead_run, run.district_id), running, failed, extra)
        if closed:
            logger.warning(
                "closed the record of a run that stopped before committing",
                extra={**run.log, "dead_run": dead_run},
            )


def _count(plan: _Plan, fetched: Mapping[str, int] | None) -> None:
    diff, counts = plan.diff, plan.counts
    for kind, n in diff.unchanged.items():
        counts[kind].unchanged += n
    for kind, n in diff.rejected_kept.items():
        counts[kind].rejected_kept += n
    for sk, action in diff.changes.items():
        c = counts[split_sk(sk)[0]]
        setattr(c, action.value, getattr(c, action.value) + 1)
    for candidate in diff.candidates:
        if plan.held:
            counts[candidate.kind].held += 1
        else:
            counts[candidate.kind].archived += 1
    for kind_name, n in (fetched or {}).items():
        named = Kind.__members__.get(str(kind_name).upper())
        if named is not None:  # informational: an unknown key is ignored, not fatal
            counts[named].fetched = n


def _changeset(result: ImportResult, plan: _Plan) -> dict[str, Any]:
    diff = plan.diff
    changes: list[list[str]] = []
    for sk, action in sorted(diff.changes.items()):
        kind, record_id = split_sk(sk)
        changes.append([action.value, kind.value, record_id])
    archive_action = Action.HELD if plan.held else Action.ARCHIVED
    changes += [[archive_action.value, c.kind.value, c.source_id] for c in sorted(diff.candidates)]
    for sk in sorted(diff.reconcile):
        kind, record_id = split_sk(sk)
        changes.append([Action.RECONCILE.value, kind.value, record_id])
    return {
        "schema_version": 1,
        "district_id": result.district_id,
        "run_id": result.run_id,
        "dry_run": result.dry_run,
        "held": plan.held,
        "trips": [t.model_dump() for t in result.trips],
        "counts": {kind: c.model_dump(exclude_none=True) for kind, c in result.counts.items()},
        "columns": ["action", "kind", "clever_id"],
        "changes": changes,
    }


# ------------------------------------------------------------------------------------ apply


def _apply(run: _Run, plan: _Plan) -> tuple[int, bool]:
    """The planned writes: changed records (pass 2), then a held set's record or the archives,
    then reconciles. Returns the items written, and whether pass 2 paused at the invocation's
    deadline (then what it handed the writer is written and settled, and nothing after pass 2 ran).

    A held set is recorded after pass 2 because the hold names the sections pass 2 wrote with
    held people kept in their lists (the release takes them out). A run that dies before that
    leaves no hold: the next run recomputes the archive set anyway.
    """
    writer = RosterWriter(run.table, run.lease, run.clock, chunk=run.chunk)
    try:
        _migrate_state_ids(run, writer)
        trust = _Trust(run, writer, plan)
        paused = _write_changes(run, plan, writer, trust)
        if paused:
            trust.drop_pending()  # not yet decided nor written: the next invocation does them
        else:
            trust.flush()
        writer.drain()
        trust.settle()
        if paused:
            return writer.written, True
        if plan.held:
            _record_hold(run, plan)
        else:
            _archive(run, plan, writer)
        for sk in plan.diff.reconcile:
            _reconcile(run, writer, sk)
        writer.drain()
    finally:
        writer.close()
        if run.registry is not None:
            earlier = run.progress.state_ids if run.progress is not None else None
            run.result.state_ids = _merged_state_ids(earlier, run.registry.outcome.as_dict())
    return writer.written, False


def _merged_state_ids(earlier: Mapping[str, Any] | None, now: dict[str, Any]) -> dict[str, Any]:
    """The registry's work over the run's invocations: counts added, conflicts listed once."""
    if not earlier:
        return now
    merged: dict[str, Any] = {}
    for name, value in now.items():
        before = earlier.get(name)
        if name == "conflicts":
            merged[name] = [*(before or []), *value][:CONFLICTS_LISTED]
        elif isinstance(value, int) and isinstance(before, int):
            merged[name] = before + value
        else:
            merged[name] = value
    return merged


def _migrate_state_ids(run: _Run, writer: RosterWriter) -> None:
    """The district's first run with the PA Secure ID registry: its active students go in, from the
    table (one Query of its students; trusted ones written back with the flag, nothing else), once."""
    registry = run.registry
    if registry is None or run.table.get_item(config_pk(run.district_id), STATE_ID_MARKER_SK):
        return
    students = [
        item
        for item in run.table.query(district_pk(run.district_id), sk_prefix=roster_sk(Kind.STUDENT, ""))
        if item.get("status") == ACTIVE and item.get("state_id")
    ]
    for item in registry.migrate(students):
        writer.add_item(item)
    writer.drain()  # pass 2 reads these items back (an update keeps the flag it finds)
    run.table.put_item(
        {
            "pk": config_pk(run.district_id),
            "sk": STATE_ID_MARKER_SK,
            "migrated_run": run.run_id,
            "at": run.now,
        }
    )
    logger.info(
        "PA Secure ID registry: district's students put in",
        extra={
            **run.log,
            "students": len(students),
            "existing_conflicts": registry.outcome.existing_conflicts,
        },
    )


# Students decided by the registry at once: their entries (and former holder items) in one
# BatchGetItem round of 100 keys a request. At most this many, and at most a write chunk's worth of
# writes (about ARRIVAL_ITEMS items a student: its roster item, its school membership, its
# registry entry): a batch is handed to the writer whole, with no deadline check inside it, so a
# pause comes at most one chunk late. (5,000 at once, about 15,000 items and 7-8 chunks, let a
# paused invocation run up to 142 s past its pause mark at DynamoDB's limits, simulated.)
ARRIVAL_CHUNK = 5000
ARRIVAL_ITEMS = 3


class _Trust:
    """Pass 2's PA Secure ID work: arrivals held back until the registry decides their flag (in
    chunks), ids a student no longer carries, and the updated students to confirm afterwards."""

    def __init__(self, run: _Run, writer: RosterWriter, plan: _Plan) -> None:
        self.run, self.writer, self.plan = run, writer, plan
        self.pending: list[tuple[Item, list[Item], list[Key], Arrival]] = []
        self.leaving: list[tuple[str, str]] = []
        self.kept: list[tuple[str, str, bool]] = []

    def student(
        self, item: Item, action: Action, stored: Item | None, puts: list[Item], deletes: list[Key]
    ) -> bool:
        """True when the student's writes are held back here (an arrival); else the caller writes
        them, with the flag the stored item had."""
        if self.run.registry is None:
            return False
        state_id = item.get("state_id")
        old = stored.get("state_id") if stored and stored.get("status") == ACTIVE else None
        if old and old != state_id:
            self.leaving.append((str(old), str(item["clever_id"])))
        if not state_id:
            return False
        if action is Action.UPDATED and stored is not None and old == state_id:
            flag = bool(stored.get(TRUSTED))
            if flag:
                item[TRUSTED] = True
            self.kept.append((str(state_id), str(item["clever_id"]), flag))
            return False
        arrival = Arrival(
            str(state_id), str(item["clever_id"]), item.get("last_name"), item.get("birth_date")
        )
        self.pending.append((item, puts, deletes, arrival))
        if len(self.pending) >= min(ARRIVAL_CHUNK, max(1, self.writer.chunk // ARRIVAL_ITEMS)):
            self.flush()
        return True

    def flush(self) -> None:
        registry = self.run.registry
        if registry is None or not self.pending:
            return
        pending, self.pending = self.pending, []
        flags = registry.arrive([arrival for *_writes, arrival in pending])
        self.writer.add_edges(registry.take_batched(), [])  # registry items before the students
        for item, puts, deletes, arrival in pending:
            if flags.get(arrival.student_id):
                item[TRUSTED] = True
            self.writer.add_edges(puts, deletes)
            self.writer.add_item(item)
            if self.plan.tracker:
                self.plan.tracker.written(item)

    def drop_pending(self) -> None:
        """Forget the arrivals not yet decided (a pause): nothing of theirs was written, so the
        next invocation's diff finds them again; their former ids do not leave yet either."""
        dropped = {str(item["clever_id"]) for item, *_rest in self.pending}
        self.pending = []
        self.leaving = [(old, student) for old, student in self.leaving if student not in dropped]

    def settle(self) -> None:
        """After tonight's student writes landed: old ids leave, updated flags are confirmed."""
        registry = self.run.registry
        if registry is None:
            return
        registry.leave(self.leaving)
        registry.confirm(self.kept)


def _record_hold(run: _Run, plan: _Plan) -> None:
    """The held archive set (and the sections keeping held people) in S3, then its HOLD item."""
    run.result.hold_key = run.holds.write_hold(
        run.district_id, run.run_id, plan.diff.candidates, sections=sorted(plan.held_sections)
    )
    run.table.put_item(
        {
            "pk": hold_pk(run.district_id),
            "sk": run.run_id,
            "status": HOLD_HELD,
            "records": len(plan.diff.candidates),
            "sections": len(plan.held_sections),
            "hold_key": run.result.hold_key,
            "created_at": run.now,
            "trips": [t.model_dump() for t in run.result.trips],
        }
    )


def _write_changes(run: _Run, plan: _Plan, writer: RosterWriter, trust: _Trust) -> bool:
    """Pass 2: changed records only (none: tonight's records need not be read again). True when
    it stopped at the invocation's deadline: between two chunks, once this invocation has handed
    the writer one (so every invocation advances)."""
    changes = plan.diff.changes
    chunks = writer.chunks
    for kind, record in run.accepted() if changes else ():
        if writer.chunks != chunks:
            chunks = writer.chunks
            if changes and run.should_pause():
                return True
        sk = roster_sk(kind, record.id)
        action = changes.pop(sk, None)
        if action is None:
            continue
        item = roster_item(kind, record, run_id=run.run_id, now=run.now)
        stored: Item | None = None
        held_section = kind is Kind.SECTION and plan.held and action is not Action.CREATED
        if held_section:
            # Held archives hold their membership too: the section keeps the held people it listed.
            stored = run.table.get_item(district_pk(run.district_id), sk)
            item = keep_held_members(item, stored, plan.held_ids)
            if any(item.get(held_attr) for _attr, held_attr, _kind in HELD_LISTS):
                plan.held_sections.add(record.id)
        want: set[Key] = set()
        have: set[Key] = set()
        if owns_edges(kind):
            want = stored_edges(item) if kind is Kind.SECTION else desired_edges(kind, record)
            if sk in plan.repair:  # a failed run may have left its membership half written: read it
                have = run.table.member_edges(run.district_id, sk)
            elif action is Action.CREATED:
                have = set()
            else:
                # After a committed run an item's membership is exactly what the item implies, so
                # one GetItem tells it: no index query (GSIs lag; moto scans for every query).
                if stored is None:
                    stored = run.table.get_item(district_pk(run.district_id), sk)
                have = stored_edges(stored)
        if (
            held_section
            and action is Action.UPDATED
            and sk not in plan.repair
            and stored is not None
            and stored.get("status") == ACTIVE
            and stored.get("content_hash") == item["content_hash"]
            and want == have
        ):
            # Another held night with the same data: the stored section already is this item (or
            # this very run wrote it before it paused: counted as the plan counted it).
            if stored.get("last_changed_run") != run.run_id:
                plan.counts[kind].updated -= 1
                plan.counts[kind].unchanged += 1
            continue
        puts = [edge_item(pk, member, run.district_id, run.run_id) for pk, member in sorted(want - have)]
        deletes = sorted(have - want)
        if kind is Kind.STUDENT:
            if sk in plan.repair and action is Action.UPDATED:
                stored = run.table.get_item(district_pk(run.district_id), sk)  # its flag and id
            if trust.student(item, action, stored, puts, deletes):
                continue  # an arrival: written once the registry has decided its flag
        if puts or deletes:
            writer.add_edges(puts, deletes)
        writer.add_item(item)
        if plan.tracker:
            plan.tracker.written(item)
    return False


def _archive(run: _Run, plan: _Plan, writer: RosterWriter) -> None:
    students: list[str] = []
    for candidate in plan.diff.candidates:
        writer.tick()
        if run.table.archive(
            run.district_id, candidate.sk, run_id=run.run_id, now=run.now, fence_run=run.run_id
        ):
            writer.written += 1
            if plan.tracker:
                plan.tracker.archived(candidate.sk)
            if candidate.kind is Kind.STUDENT:
                students.append(candidate.source_id)
            if owns_edges(candidate.kind):
                writer.add_edges([], sorted(run.table.member_edges(run.district_id, candidate.sk)))
                writer.maybe_flush()
        else:  # changed under us (cannot happen under the lease): leave it, say so
            plan.counts[candidate.kind].archived -= 1
            plan.tracker = None  # what the table holds for it is unknown: no index this time
            logger.warning("archive skipped: item changed", extra={**run.log, "sk": candidate.sk})
    if run.registry is not None:
        run.registry.leave_archived(students)  # their ids' trust passes on (or the entry expires)


def _reconcile(run: _Run, writer: RosterWriter, sk: str) -> None:
    """Membership items of an item with no record tonight, re-derived from the stored item."""
    kind, _ = split_sk(sk)
    if not owns_edges(kind):
        return
    want = stored_edges(run.table.get_item(district_pk(run.district_id), sk))
    have = run.table.member_edges(run.district_id, sk)
    writer.add_edges(
        [edge_item(pk, member, run.district_id, run.run_id) for pk, member in sorted(want - have)],
        sorted(have - want),
    )
    writer.maybe_flush()


# ----------------------------------------------------------------------------------- commit


def _commit(run: _Run, plan: _Plan, written: int, phase: _Phases) -> None:
    """Older holds superseded, the lease checked, the roster index, the run record, the lease
    released (naming the index valid)."""
    lease = run.lease
    if lease is None:
        raise RuntimeError(f"district {run.district_id} run {run.run_id}: committing without a lease")
    _supersede_holds(run)
    run.table.renew_lease(lease, now=epoch(run.clock()), ttl=LEASE_TTL_SECONDS)  # still ours?
    generation = plan.index.generation + 1 if plan.index else 0
    index_run = _write_index(run, plan.tracker, generation) if plan.tracker else None
    phase.done("finish")
    result = run.result
    result.roster_writes += written
    result.status = RunStatus.HELD if plan.held else RunStatus.SUCCEEDED
    result.finished_at = run.clock()
    result.announce = ANNOUNCE_PENDING  # its alerts, owed from this write on (alerts.announce_import)
    _save_run_record(run.table, result, run.clock)
    run.table.release_lease(lease, completed=set(lease.repair_runs) | {run.run_id}, index_run=index_run)


def _supersede_holds(run: _Run) -> None:
    """A committed run recomputed the archive set from a complete fetch: older holds are moot."""
    pk = hold_pk(run.district_id)
    for hold in run.table.query(pk):
        if hold.get("status") == HOLD_HELD and str(hold["sk"]) < run.run_id:
            run.table.set_status(
                pk,
                str(hold["sk"]),
                HOLD_HELD,
                HOLD_SUPERSEDED,
                {"superseded_by": run.run_id, "superseded_at": run.now},
            )


def _write_index(run: _Run, tracker: IndexTracker, generation: int) -> str | None:
    """The run's roster index; on failure none is named valid and the next run reads the table."""
    try:
        run.holds.write_index(tracker.build(run.district_id, run.run_id, generation))
    except Exception as exc:
        logger.warning(
            "roster index not written; the next run reads the table",
            extra={**run.log, "reason": type(exc).__name__},
        )
        return None
    return run.run_id


def _save_run_record(table: RosterTable, result: ImportResult, clock: Clock) -> None:
    table.put_item(run_item(result))
    expires = epoch(clock() + timedelta(days=RUNLOG_TTL_DAYS))
    table.put_item(runlog_item(result, expires))


def _best_effort(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception:  # the original failure is what matters; the lease expires anyway
        logger.exception("cleanup after a failed import also failed")


class _Phases:
    """Seconds spent in each phase of the run (diff, write, finish), recorded on the result."""

    def __init__(self, result: ImportResult) -> None:
        self.result = result
        self._mark = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()  # added up over a paused run's invocations
        self.result.phase_seconds[name] = round(
            self.result.phase_seconds.get(name, 0.0) + now - self._mark, 3
        )
        self._mark = now


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
