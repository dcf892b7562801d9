"""What an import run reports and records: per-kind counts, the outcome, the run item.

Run item (one per district and run): pk `RUN#<district>`, sk `<run_id>`. A copy for the
cross-district `status` listing: pk `RUNLOG`, sk `<run_id>#<district>` (expires after
RUNLOG_TTL_DAYS through the table's `expires_at` TTL). Run ids sort chronologically.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

RUNLOG_PK = "RUNLOG"
RUNLOG_TTL_DAYS = 120


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every change applied
    HELD = "held"  # creates/updates applied, the archive set held by the safeguard
    DRY_RUN = "dry_run"  # nothing written to the roster; the change set is in S3
    FAILED = "failed"  # stopped part way; the next run completes it
    SKIPPED_LOCKED = "skipped_locked"  # another run of the district holds the lease
    SKIPPED_STALE = "skipped_stale"  # a newer run already started for the district
    SKIPPED = "skipped"  # validate did not accept the district (e.g. district.empty): nothing to import


FINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.HELD})


class KindCounts(BaseModel):
    fetched: int | None = None  # when the caller knows it (validate's summary)
    accepted: int = 0
    rejected_kept: int = 0  # rejected tonight, last good version kept active
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    restored: int = 0
    held: int = 0  # would have been archived; held by the safeguard
    repaired: int = 0  # unchanged, but rewritten to finish a failed run's work


class SafeguardTrip(BaseModel):
    scope: str  # "kind" or "school"
    key: str  # the kind, or the school's clever id
    active: int
    archiving: int


class ImportResult(BaseModel):
    district_id: str
    run_id: str
    status: RunStatus
    dry_run: bool = False
    replayed: bool = False  # the run had already been committed; this is the recorded result
    counts: dict[str, KindCounts] = Field(default_factory=dict)
    rejected: int = 0  # clever ids rejected tonight (all kinds)
    roster_writes: int = 0  # roster + membership items written or deleted
    trips: list[SafeguardTrip] = Field(default_factory=list)
    hold_key: str | None = None
    changeset_key: str | None = None
    diff_source: str | None = None  # "index" (the last commit's roster index) or "table" (a Query)
    # Seconds per phase: diff (tonight's records against the table side, the plan), write (roster
    # and membership items, archives), finish (older holds, the roster index; not the run record).
    phase_seconds: dict[str, float] = Field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def held(self) -> bool:
        return self.status is RunStatus.HELD

    def total(self, field: str) -> int:
        return sum(int(getattr(c, field) or 0) for c in self.counts.values())


def run_pk(district_id: str) -> str:
    return f"RUN#{district_id}"


def run_item(result: ImportResult) -> dict[str, Any]:
    body = result.model_dump(mode="json", exclude={"replayed"})
    return {"pk": run_pk(result.district_id), "sk": result.run_id, **_compact(body)}


def runlog_item(result: ImportResult, expires_at: int) -> dict[str, Any]:
    return {
        **run_item(result),
        "pk": RUNLOG_PK,
        "sk": f"{result.run_id}#{result.district_id}",
        "expires_at": expires_at,
    }


def result_from_item(item: dict[str, Any]) -> ImportResult:
    body = {k: v for k, v in item.items() if k not in {"pk", "sk", "expires_at"}}
    return ImportResult.model_validate(body)


def _compact(value: Any) -> Any:
    """DynamoDB stores no None and no floats-as-float: drop Nones, keep the rest as JSON types."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value
