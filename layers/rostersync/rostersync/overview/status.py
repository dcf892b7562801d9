"""Each district's last run as the stages saw it: `state/<district>/sync-status.json`.

Every stage updates its part after it runs (fetch, then validate, then import; a district's
stages run one after another, so nobody writes one district's status at the same time), and
the index page (`overview.index_page`) is built from these objects alone: no table reads, no
listing of runs. Counts, statuses and ids only: no names of people, e-mails or state ids.
Best effort: a failed status write is logged and never fails the stage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel

from rostersync.contracts.fetch import FetchResult, ManifestStatus
from rostersync.contracts.importer import ImportResult, RunStatus
from rostersync.contracts.validate import ValidateResult, ValidateStatus
from rostersync.errors import StorageError
from rostersync.ids import run_id_time
from rostersync.layout import sync_status_key
from rostersync.observability import logger
from rostersync.ports import PageStore


class Health(StrEnum):
    """How a district's last run went, most urgent first (the index sorts on this order)."""

    FAILED = "failed"
    DISCONNECTED = "disconnected"
    HELD = "held"
    ERRORS = "errors"
    STALE = "stale"
    RUNNING = "running"
    WARNINGS = "warnings"
    OK = "ok"


ATTENTION = frozenset({Health.FAILED, Health.DISCONNECTED, Health.HELD, Health.ERRORS, Health.STALE})
_IMPORT_FAILED = frozenset(
    {RunStatus.FAILED.value, RunStatus.SKIPPED_LOCKED.value, RunStatus.SKIPPED_STALE.value}
)
STALE_AFTER_DAYS = 2  # no good sync for this long (two missed nights) needs attention


class SyncStatus(BaseModel):
    schema_version: int = 1
    district_id: str
    district_name: str | None = None
    source: str | None = None
    run_id: str | None = None
    updated_at: datetime | None = None
    fetch: str | None = None  # complete | failed | in_progress
    failure: str | None = None  # the failure's kind (never its reason: that may quote a district)
    validation: str | None = None  # validated | rejected | skipped
    fetched: int = 0
    accepted: int = 0
    excluded: int = 0
    errors: int = 0
    warnings: int = 0
    report_key: str | None = None
    report_run_id: str | None = None  # the run of report_key: the latest report, kept across failures
    import_status: str | None = None  # succeeded | held | dry_run | failed | skipped_* | paused
    imported: int = 0  # records handed to the import tonight (one per person)
    archived: int = 0
    held: int = 0
    last_good_run_id: str | None = None

    @property
    def run_at(self) -> datetime | None:
        return run_id_time(self.run_id) if self.run_id else None

    @property
    def last_good_at(self) -> datetime | None:
        return run_id_time(self.last_good_run_id) if self.last_good_run_id else None

    def days_since_good(self, now: datetime) -> int | None:
        at = self.last_good_at
        return None if at is None else max(0, (now - at).days)

    def health(self, now: datetime, *, connected: bool = True) -> Health:
        if not connected:
            return Health.DISCONNECTED
        if self.fetch == ManifestStatus.IN_PROGRESS.value or self.import_status == RunStatus.PAUSED.value:
            return Health.RUNNING  # a paused fetch or import continues in its next invocation
        if (
            self.fetch == ManifestStatus.FAILED.value
            or self.validation == ValidateStatus.SKIPPED.value
            or self.import_status in _IMPORT_FAILED
        ):
            return Health.FAILED
        if self.fetch == ManifestStatus.COMPLETE.value and self.validation is None:
            return Health.FAILED  # validation never finished for this run (caught by the night)
        if self.validation == ValidateStatus.VALIDATED.value and self.import_status is None:
            return Health.FAILED  # the import never finished for this run
        if self.import_status == RunStatus.HELD.value:
            return Health.HELD
        if self.errors or self.validation == ValidateStatus.REJECTED.value:
            return Health.ERRORS
        days = self.days_since_good(now)
        if days is None or days >= STALE_AFTER_DAYS:
            return Health.STALE
        return Health.WARNINGS if self.warnings else Health.OK


def load_status(store: PageStore, district_id: str) -> SyncStatus | None:
    key = sync_status_key(district_id)
    if not store.exists(key):
        return None
    return SyncStatus.model_validate(store.get_json(key))


def run_order(run_id: str) -> tuple[datetime, str] | None:
    """How runs of a district are ordered (issue 25): by the time their id says they started, then
    by the id; None for an id of another form (not ordered)."""
    started = run_id_time(run_id)
    return None if started is None else (started, run_id)


def _update(
    store: PageStore, district_id: str, run_id: str, change: dict[str, object], *, new_run: bool
) -> None:
    try:
        current = load_status(store, district_id) or SyncStatus(district_id=district_id)
    except (StorageError, ValueError) as exc:
        logger.warning(
            "sync status unreadable, rewritten",
            extra={"district_id": district_id, "error": type(exc).__name__},
        )
        current = SyncStatus(district_id=district_id)
    if current.run_id is not None and current.run_id != run_id:
        ours, theirs = run_order(run_id), run_order(current.run_id)
        if ours is not None and theirs is not None:
            if ours < theirs:
                return  # an older run's stage, finished late (two runs at once): the newer run's stands
            new_run = True  # a newer run, whichever of its stages gets here first
        elif not new_run:
            return  # ids of another form: as before, only a fetch starts a new run's status
    if new_run and current.run_id != run_id:
        # A new run: forget the last run's stage results (not its latest report or last good run).
        keep = {"district_id", "district_name", "source", "report_key", "report_run_id", "last_good_run_id"}
        current = SyncStatus.model_validate({k: v for k, v in current.model_dump().items() if k in keep})
    updated = current.model_copy(update={**change, "run_id": run_id, "updated_at": datetime.now(UTC)})
    try:
        store.put_json(sync_status_key(district_id), updated.model_dump(mode="json"))
    except StorageError as exc:
        logger.warning(
            "sync status not written", extra={"district_id": district_id, "error": type(exc).__name__}
        )


def record_fetch(store: PageStore, result: FetchResult, *, source: str | None = None) -> None:
    change: dict[str, object] = {
        "fetch": result.status.value,
        "failure": result.failure.kind.value if result.failure else None,
        "fetched": result.records,
    }
    if result.district_name:
        change["district_name"] = result.district_name
    if source:
        change["source"] = source
    _update(store, result.district_id, result.run_id, change, new_run=True)


def record_validation(store: PageStore, result: ValidateResult, *, district_name: str | None = None) -> None:
    change: dict[str, object] = {
        "validation": result.status.value,
        "accepted": result.accepted,
        "excluded": result.excluded,
        "errors": result.errors,
        "warnings": result.warnings,
        "imported": sum(result.imported.values()),
    }
    if result.report_key:
        change |= {"report_key": result.report_key, "report_run_id": result.run_id}
    if district_name:
        change["district_name"] = district_name
    _update(store, result.district_id, result.run_id, change, new_run=False)


def record_import(store: PageStore, result: ImportResult) -> None:
    """The import's outcome on the district's status; a replay (the retry of a run whose first
    invocation died after its commit) writes it too: the run's status was never written then."""
    change: dict[str, object] = {
        "import_status": result.status.value,
        "archived": result.total("archived"),
        "held": result.total("held"),
    }
    if result.status in (RunStatus.SUCCEEDED, RunStatus.HELD) and not result.dry_run:
        change["last_good_run_id"] = result.run_id
    _update(store, result.district_id, result.run_id, change, new_run=False)
