"""The import stage built from Settings: what the import Lambda handler (and the CLI) call.

The only module of `importing` that touches boto3 (through the adapters).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from rostersync.adapters.page_store import S3PageStore
from rostersync.adapters.roster_table import DynamoRosterTable
from rostersync.importing.holds import PageStoreHoldStore
from rostersync.importing.runs import ImportResult, RunStatus
from rostersync.importing.safeguard import SafeguardThresholds
from rostersync.importing.service import Accepted, ReleaseResult, import_district, latest_runs, release_hold
from rostersync.settings import Settings, get_settings
from rostersync.validate_stage import ValidateStatus, accepted_records, load_result, rejected_ids


def default_thresholds(settings: Settings) -> SafeguardThresholds:
    """SAFEGUARD_ARCHIVE_PERCENT (template parameter SafeguardArchivePercent), default 10."""
    return SafeguardThresholds(archive_percent=settings.safeguard_archive_percent)


def roster_table(settings: Settings | None = None, client: Any | None = None) -> DynamoRosterTable:
    return DynamoRosterTable((settings or get_settings()).roster_table, client)


def hold_store(settings: Settings | None = None, client: Any | None = None) -> PageStoreHoldStore:
    return PageStoreHoldStore(S3PageStore((settings or get_settings()).raw_bucket, client))


def run_import(
    district_id: str,
    run_id: str,
    accepted: Accepted,
    rejected_ids: Collection[str],
    *,
    dry_run: bool = False,
    fetched: Mapping[str, int] | None = None,
    settings: Settings | None = None,
) -> ImportResult:
    """import_district on ROSTER_TABLE and RAW_BUCKET. The caller publishes alerts on `held`."""
    settings = settings or get_settings()
    table = roster_table(settings)
    try:
        return import_district(
            district_id,
            run_id,
            accepted,
            rejected_ids,
            table,
            holds=hold_store(settings),
            dry_run=dry_run,
            thresholds=default_thresholds(settings),
            fetched=fetched,
        )
    finally:
        table.close()  # its request threads would outlive the invocation in a warm container


def import_run(
    district_id: str, run_id: str, *, dry_run: bool = False, settings: Settings | None = None
) -> ImportResult:
    """Import a validated run, read back from RAW_BUCKET; a run validate did not accept is skipped."""
    settings = settings or get_settings()
    store = S3PageStore(settings.raw_bucket)
    validated = load_result(store, district_id, run_id)
    if validated.status is not ValidateStatus.VALIDATED:
        return ImportResult(
            district_id=district_id,
            run_id=run_id,
            status=RunStatus.SKIPPED,
            error=validated.reason,
            dry_run=dry_run,
        )
    return run_import(
        district_id,
        run_id,
        accepted_records(store, validated),
        rejected_ids(store, validated),
        dry_run=dry_run,
        fetched=validated.fetched_by_type,
        settings=settings,
    )


def run_release(
    district_id: str, run_id: str | None = None, *, settings: Settings | None = None
) -> ReleaseResult:
    settings = settings or get_settings()
    table = roster_table(settings)
    try:
        return release_hold(district_id, run_id, table=table, holds=hold_store(settings))
    finally:
        table.close()


def run_status(
    district_id: str | None = None, limit: int = 20, *, settings: Settings | None = None
) -> list[ImportResult]:
    return latest_runs(roster_table(settings or get_settings()), district_id, limit)
