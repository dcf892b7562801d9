"""Releasing a held archive set: apply it once, under the district's lease.

Everything is decided under the lease (no import can commit meanwhile): which hold, whether it is
still open, and which of its records are still gone. A record the district's newest complete
fetch after the hold has again (a later run fetched it, then failed before committing) is not
archived: the newest fetch is the truth, and the next import brings it up to date.
"""

from __future__ import annotations

from collections.abc import Iterable

from rostersync.contracts.fetch import ManifestStatus
from rostersync.contracts.importer import ReleaseResult
from rostersync.importer.writer import LEASE_TTL_SECONDS, Clock, RosterWriter, epoch, iso, utcnow
from rostersync.layout import district_pk, hold_pk, manifest_run, raw_district_prefix, roster_sk
from rostersync.observability import logger
from rostersync.ports import HoldStore, LeaseBusy, PageStore, RosterTable
from rostersync.records import Kind
from rostersync.roster_items import ACTIVE, owns_edges, release_held_members, stored_edges
from rostersync.run_artifacts import load_manifest, manifest_records
from rostersync.state_id_registry import Registry

HOLD_HELD = "held"
HOLD_RELEASED = "released"
HOLD_SUPERSEDED = "superseded"


def release_hold(
    district_id: str,
    run_id: str | None,
    *,
    table: RosterTable,
    holds: HoldStore,
    store: PageStore,
    clock: Clock = utcnow,
) -> ReleaseResult:
    """Apply a held archive set once (the district's newest open hold when run_id is None).

    Idempotent: the hold item goes held -> released only at the end, conditionally; a second
    release finds it released and does nothing. Skipped (left active): records changed or
    restored since the hold (last_changed_run newer than the hold's run), and records the newest
    complete fetch after the hold has again (`store`: the raw bucket's pages). A hold a later
    committed run superseded is not applied (that run decided the archive set afresh). The
    sections the held run wrote with held people kept in their lists lose those it archives.
    """
    now = clock()
    if not _hold_to_release(table, district_id, run_id):
        # Nothing held: answered without the lease, so a district with no hold is left unwritten.
        return ReleaseResult(district_id=district_id, run_id=run_id, status="not_found")
    try:
        lease = table.acquire_lease(
            district_id,
            f"release:{run_id or 'newest'}",
            now=epoch(now),
            ttl=LEASE_TTL_SECONDS,
            fence_run=None,
        )
    except LeaseBusy:
        return ReleaseResult(district_id=district_id, run_id=run_id, status="skipped_locked")
    writer = RosterWriter(table, lease, clock)
    try:
        result = _release(district_id, run_id, table, holds, store, writer, iso(now))
        students = result.released_students
        if students:  # their PA Secure IDs' trust passes on, as after a nightly archive
            Registry(table, district_id, result.run_id or "release", now).leave_archived(students)
    finally:
        writer.close()
        table.release_lease(lease, completed=None)
    logger.info(
        "hold released" if result.status == HOLD_RELEASED else "hold not released", extra=result.model_dump()
    )
    return result


def _hold_to_release(table: RosterTable, district_id: str, run_id: str | None) -> bool:
    """Whether there is a hold item to look at (any status: an applied one is reported as such)."""
    if run_id is not None:
        return table.get_item(hold_pk(district_id), run_id) is not None
    return any(h.get("status") == HOLD_HELD for h in table.query(hold_pk(district_id), newest_first=True))


def _release(
    district_id: str,
    run_id: str | None,
    table: RosterTable,
    holds: HoldStore,
    store: PageStore,
    writer: RosterWriter,
    now: str,
) -> ReleaseResult:
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
    fetched_again, newest = _in_newest_fetch(store, district_id, run_id)
    result = ReleaseResult(district_id=district_id, run_id=run_id, status=HOLD_RELEASED, newest_fetch=newest)
    released: dict[Kind, set[str]] = {}
    for row in holds.read_hold(district_id, run_id):
        writer.tick()
        kind = Kind(row["kind"])
        sk = roster_sk(kind, row["clever_id"])
        if row["clever_id"] in fetched_again:
            result.skipped += 1  # the newest fetch has it: not gone
            result.fetched_again += 1
            continue
        if table.archive(district_id, sk, run_id=run_id, now=now, fence_run=run_id):
            result.archived += 1
            result.counts[kind.value] = result.counts.get(kind.value, 0) + 1
        else:
            stored = table.get_item(district_pk(district_id), sk)
            if stored and stored.get("status") == ACTIVE:
                result.skipped += 1  # came back meanwhile
                continue
        # Archived now or by an earlier, interrupted release: no membership left, in no section.
        released.setdefault(kind, set()).add(row["clever_id"])
        if owns_edges(kind):
            writer.add_edges([], sorted(table.member_edges(district_id, sk)))
            writer.maybe_flush()
    _take_out_of_sections(
        district_id, holds.read_hold_sections(district_id, run_id), released, table, writer, now
    )
    writer.drain()
    result.released_students = sorted(released.get(Kind.STUDENT, ()))
    table.set_status(
        hold_pk(district_id),
        run_id,
        HOLD_HELD,
        HOLD_RELEASED,
        {"released_at": now, "archived": result.archived, "skipped": result.skipped},
    )
    return result


def _take_out_of_sections(
    district_id: str,
    sections: Iterable[str],
    released: dict[Kind, set[str]],
    table: RosterTable,
    writer: RosterWriter,
    now: str,
) -> None:
    """The held people this release archived leave the sections that kept them listed."""
    if not released:
        return
    for section_id in sections:
        writer.tick()
        item = table.get_item(district_pk(district_id), roster_sk(Kind.SECTION, section_id))
        if not item or item.get("status") != ACTIVE:
            continue
        new = release_held_members(item, released, now)
        if new is None:
            continue
        writer.add_edges([], sorted(stored_edges(item) - stored_edges(new)))
        writer.add_item(new)


def _in_newest_fetch(store: PageStore, district_id: str, hold_run: str) -> tuple[set[str], str | None]:
    """Clever ids of every record in the district's newest complete fetch after the hold (any kind,
    accepted or rejected), and that fetch's run id; nothing when no fetch since is complete.

    A store failure raises: archiving on doubt could archive people Clever still shares.
    """
    runs = {manifest_run(district_id, key) for key in store.keys(raw_district_prefix(district_id))}
    for run_id in sorted((r for r in runs if r and r > hold_run), reverse=True):
        manifest = load_manifest(store, district_id, run_id)
        if manifest.status is not ManifestStatus.COMPLETE:
            continue  # failed fetches prove nothing either way
        return {record.id for record in manifest_records(store, manifest)()}, run_id
    return set(), None
