"""The import stage built from Settings: what the import Lambda handler (and the CLI) call.

The only module of `importing` that touches boto3 (through the adapters).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any

from rostersync.adapters.page_store import S3PageStore
from rostersync.adapters.roster_table import DynamoRosterTable
from rostersync.importing.holds import PageStoreHoldStore
from rostersync.importing.runs import ImportResult
from rostersync.importing.safeguard import DEFAULT_ARCHIVE_PERCENT, SafeguardThresholds
from rostersync.importing.service import Accepted, ReleaseResult, import_district, latest_runs, release_hold
from rostersync.settings import Settings, get_settings


def default_thresholds(settings: Settings) -> SafeguardThresholds:
    """SAFEGUARD_ARCHIVE_PERCENT (template parameter SafeguardArchivePercent), default 10."""
    value: Any = getattr(settings, "safeguard_archive_percent", None)
    if value is None:
        value = os.environ.get("SAFEGUARD_ARCHIVE_PERCENT") or DEFAULT_ARCHIVE_PERCENT
    return SafeguardThresholds(archive_percent=float(value))


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
    return import_district(
        district_id,
        run_id,
        accepted,
        rejected_ids,
        roster_table(settings),
        holds=hold_store(settings),
        dry_run=dry_run,
        thresholds=default_thresholds(settings),
        fetched=fetched,
    )


def run_release(
    district_id: str, run_id: str | None = None, *, settings: Settings | None = None
) -> ReleaseResult:
    settings = settings or get_settings()
    return release_hold(district_id, run_id, table=roster_table(settings), holds=hold_store(settings))


def run_status(
    district_id: str | None = None, limit: int = 20, *, settings: Settings | None = None
) -> list[ImportResult]:
    return latest_runs(roster_table(settings or get_settings()), district_id, limit)
