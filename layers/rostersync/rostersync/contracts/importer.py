"""The import stage's contract: its request, its result, and a hold release's result."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from rostersync.ids import refuse_future_run_id
from rostersync.records import SOURCE_NAME, DistrictId

# A district name carried in the payload (for the alerts) is shortened to this many characters:
# a payload is bounded, and an alert shows at most alerts.model.NAME_MAX of it anyway.
PAYLOAD_NAME_MAX = 200


class ImportRequest(BaseModel):
    """One district's validated run, as the state machine sends it. `source` and `district_name`
    come from the fetch's result through the payload (the import reads no fetch artifact: its
    role may not read `raw/`): the import's alerts name the district and speak of its source."""

    district_id: DistrictId
    run_id: str
    source: str = Field(pattern=SOURCE_NAME)
    district_name: str | None = None
    dry_run: bool = False

    @field_validator("district_name")
    @classmethod
    def _bounded(cls, name: str | None) -> str | None:
        return None if name is None else name[:PAYLOAD_NAME_MAX]

    @field_validator("run_id")
    @classmethod
    def _not_from_the_future(cls, run_id: str) -> str:
        return refuse_future_run_id(run_id)


class RunStatus(StrEnum):
    RUNNING = "running"
    # Stopped cleanly between two batches near the invocation's deadline, lease kept: the next
    # invocation with the same run id continues it (the state machine loops on it).
    PAUSED = "paused"
    SUCCEEDED = "succeeded"  # every change applied
    HELD = "held"  # creates/updates applied, the archive set held by the safeguard
    DRY_RUN = "dry_run"  # nothing written to the roster; the change set is in S3
    FAILED = "failed"  # stopped part way; the next run completes it
    SKIPPED_LOCKED = "skipped_locked"  # another run of the district holds the lease
    SKIPPED_STALE = "skipped_stale"  # a newer run already started for the district
    SKIPPED = "skipped"  # validate did not accept the district (e.g. district.empty): nothing to import


FINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.HELD})
ANNOUNCE_PENDING = "pending"
ANNOUNCE_SENT = "sent"
ANNOUNCE_CLAIM = "publishing"


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
    key: str  # the kind, or the school's source id
    active: int
    archiving: int


class Rollover(BaseModel):
    """Signs that a mass change is a new school year, not a mistake (the hold alert quotes them).

    Clever freezes a district's data during its pause and releases the new year at once when the
    pause ends. Only counts and dates (as YYYY-MM-DD) are kept: nothing a district typed.
    """

    pause_ended: str | None = None  # the district's pause end, when it was recent at this run
    pause_ended_days_ago: int | None = None
    terms_created: int = 0  # terms shared tonight that the roster did not have
    terms_gone: int = 0  # active terms no longer shared (archived or held)
    new_terms_start: str | None = None  # the earliest start date of the new terms

    @property
    def new_school_year(self) -> bool:
        return self.terms_created > 0 and self.terms_gone > 0


class ImportResult(BaseModel):
    district_id: str
    run_id: str
    status: RunStatus
    dry_run: bool = False
    replayed: bool = False  # the run had already been committed; this is the recorded result
    counts: dict[str, KindCounts] = Field(default_factory=dict)
    rejected: int = 0  # source ids rejected tonight (all kinds)
    roster_writes: int = 0  # roster + membership items written or deleted
    trips: list[SafeguardTrip] = Field(default_factory=list)
    hold_key: str | None = None
    changeset_key: str | None = None
    diff_source: str | None = None  # "index" (the last commit's roster index) or "table" (a Query)
    # Seconds per phase: diff (tonight's records against the table side, the plan), write (roster
    # and membership items, archives), finish (older holds, the roster index; not the run record).
    phase_seconds: dict[str, float] = Field(default_factory=dict)
    # The safeguard threshold this run applied: the district's own (CONFIG#<d>/SAFEGUARD) or the
    # default (SAFEGUARD_ARCHIVE_PERCENT). Alerts quote it; they never recompute it.
    safeguard_percent: float | None = None
    # Why tonight's changes may be a rollover (a recent end of the district's pause, new terms).
    rollover: Rollover | None = None
    # The PA Secure ID registry's work tonight (state_id_registry.Outcome.as_dict: counts, and the
    # conflicts that began, by district and student ids only). Support's, never a district's.
    state_ids: dict[str, Any] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    invocations: int = 1  # the Lambda invocations this run took (more than one: it paused)
    # What the commit must announce, recorded on the run item with the commit itself (issue 25):
    # ANNOUNCE_PENDING, then "publishing <epoch>" (claimed by one invocation), then ANNOUNCE_SENT.
    # None: not a commit, or committed before announcements were recorded (nothing to publish).
    announce: str | None = None

    @property
    def held(self) -> bool:
        return self.status is RunStatus.HELD

    def total(self, field: str) -> int:
        return sum(int(getattr(c, field) or 0) for c in self.counts.values())


class ReleaseResult(BaseModel):
    district_id: str
    run_id: str | None
    status: str  # released | already_released | superseded | not_found | skipped_locked
    archived: int = 0
    skipped: int = 0  # came back (changed or restored, or fetched again) since the hold, left active
    fetched_again: int = 0  # of `skipped`: in the newest complete fetch after the hold
    newest_fetch: str | None = None  # the run whose fetch that was (None: no complete fetch since)
    # Students archived by this release (their PA Secure IDs leave the registry); not reported.
    released_students: list[str] = Field(default_factory=list, exclude=True)
    counts: dict[str, int] = Field(default_factory=dict)
