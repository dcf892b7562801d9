"""Releasing a held archive set: apply it once, under the district's lease."""

from __future__ import annotations

from rostersync.importer.contract import ReleaseResult
from rostersync.importer.items import owns_edges
from rostersync.importer.writer import LEASE_TTL_SECONDS, Clock, RosterWriter, epoch, iso, utcnow
from rostersync.layout import district_pk, hold_pk, roster_sk
from rostersync.observability import logger
from rostersync.ports import HoldStore, LeaseBusy, RosterTable
from rostersync.records import Kind

HOLD_HELD = "held"
HOLD_RELEASED = "released"
HOLD_SUPERSEDED = "superseded"


def release_hold(
    district_id: str,
    run_id: str | None,
    *,
    table: RosterTable,
    holds: HoldStore,
    clock: Clock = utcnow,
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
            district_id, f"release:{run_id}", now=epoch(now), ttl=LEASE_TTL_SECONDS, fence_run=None
        )
    except LeaseBusy:
        return ReleaseResult(district_id=district_id, run_id=run_id, status="skipped_locked")
    result = ReleaseResult(district_id=district_id, run_id=run_id, status=HOLD_RELEASED)
    writer = RosterWriter(table, lease, clock)
    try:
        for row in holds.read_hold(district_id, run_id):
            writer.tick()
            kind = Kind(row["kind"])
            sk = roster_sk(kind, row["clever_id"])
            if table.archive(district_id, sk, run_id=run_id, now=iso(now), fence_run=run_id):
                result.archived += 1
                result.counts[kind.value] = result.counts.get(kind.value, 0) + 1
            else:
                stored = table.get_item(district_pk(district_id), sk)
                if stored and stored.get("status") == "active":
                    result.skipped += 1  # came back meanwhile
                    continue
            # Archived now or by an earlier, interrupted release: no membership items left.
            if owns_edges(kind):
                writer.add_edges([], sorted(table.member_edges(sk)))
                writer.maybe_flush()
        writer.drain()
        table.set_status(
            hold_pk(district_id),
            run_id,
            HOLD_HELD,
            HOLD_RELEASED,
            {"released_at": iso(clock()), "archived": result.archived, "skipped": result.skipped},
        )
    finally:
        writer.close()
        table.release_lease(lease, completed=None)
    logger.info("hold released", extra=result.model_dump())
    return result
