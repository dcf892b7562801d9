"""What support does by hand, for the `rostersync` command: release held archives, show and change a
district's settings, the latest runs, every district's overview, PA Secure ID conflicts and
support's assignment of an id's trust, a report copied to disk.

Each operation runs on the adapters of `rostersync.wiring` (built once per environment); none
builds one itself, and no handler calls these.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rostersync import district_settings as district_config
from rostersync import wiring
from rostersync.contracts.importer import ImportResult, ReleaseResult
from rostersync.errors import StorageError
from rostersync.importer.release import release_hold
from rostersync.importer.runs import latest_runs
from rostersync.observability import logger
from rostersync.overview.index_page import DistrictRow, district_rows
from rostersync.records import DistrictStatus
from rostersync.run_artifacts import load_manifest
from rostersync.settings import Settings, get_settings
from rostersync.state_id_registry import Assignment, Conflict, assign, district_conflicts

# ---------------------------------------------------------------------------------- releases


def run_release(
    district_id: str, run_id: str | None = None, *, settings: Settings | None = None
) -> ReleaseResult:
    settings = settings or get_settings()
    return release_hold(
        district_id,
        run_id,
        table=wiring.roster_table(settings),
        holds=wiring.hold_store(settings),
        store=wiring.page_store(settings),
    )


UNKNOWN_DISTRICT = "unknown_district"


def run_releases(
    district_ids: list[str], run_id: str | None = None, *, settings: Settings | None = None
) -> list[ReleaseResult]:
    """Release the newest hold (or `run_id`'s, for one district) of each district, one after
    another. A district whose release fails is reported `failed` (logged by type) and the others
    are still released: after the August rollover support releases dozens at once."""
    if run_id is not None and len(district_ids) != 1:
        raise ValueError("a run id names the hold of one district")
    settings = settings or get_settings()
    table = wiring.roster_table(settings)
    holds, store = wiring.hold_store(settings), wiring.page_store(settings)
    results: list[ReleaseResult] = []
    for district_id in district_ids:
        if not latest_runs(table, district_id, 1):
            # Not a district any run has imported: nothing to release and nothing written (a
            # release takes the district's lease, which would leave a LEASE# item behind).
            results.append(ReleaseResult(district_id=district_id, run_id=run_id, status=UNKNOWN_DISTRICT))
            continue
        try:
            results.append(release_hold(district_id, run_id, table=table, holds=holds, store=store))
        except Exception as exc:  # one district's failure must not stop the others
            logger.error(
                "hold release failed", extra={"district_id": district_id, "error": type(exc).__name__}
            )
            results.append(
                ReleaseResult(district_id=district_id, run_id=run_id, status=f"failed: {type(exc).__name__}")
            )
    return results


# ------------------------------------------------------------------------------------ status


def district_status(
    district_id: str, run_id: str, *, settings: Settings | None = None
) -> DistrictStatus | None:
    """The source's sync status of the district as the run's fetch saw it (its manifest), or None
    when the manifest cannot be read or holds none."""
    try:
        return load_manifest(wiring.page_store(settings), district_id, run_id).district_status
    except (StorageError, ValueError):
        return None


def run_status(
    district_id: str | None = None, limit: int = 20, *, settings: Settings | None = None
) -> list[ImportResult]:
    return latest_runs(wiring.roster_table(settings), district_id, limit)


def district_overview(*, settings: Settings | None = None) -> list[DistrictRow]:
    """The rows of the index page, for `rostersync districts`."""
    return district_rows(wiring.page_store(settings), datetime.now(UTC))


def state_id_conflicts(district_ids: Iterable[str], *, settings: Settings | None = None) -> list[Conflict]:
    """Support's list of PA Secure ID conflicts whose untrusted student is in these districts."""
    return district_conflicts(wiring.roster_table(settings), district_ids)


def assign_state_id(
    state_id: str, district_id: str, *, by: str, settings: Settings | None = None
) -> Assignment:
    """`rostersync state-id assign`: support gives a PA Secure ID's trust to a district's student."""
    return assign(wiring.roster_table(settings), state_id, district_id, by=by, now=datetime.now(UTC))


def download_report(key: str, path: Path, settings: Settings | None = None) -> None:
    """Copy one report object to a local file (the CLI's `run` and `demo`)."""
    wiring.page_store(settings).download(key, path)


# -------------------------------------------------------------------------- district settings


def show_district(
    district_id: str, *, settings: Settings | None = None
) -> tuple[district_config.DistrictSettings, list[district_config.SettingsChange]]:
    """A district's settings and its latest changes (the CLI's `district show`)."""
    table = wiring.roster_table(settings)
    return district_config.load(table, district_id), district_config.history(table, district_id)


def district_disagreements(
    current: district_config.DistrictSettings, *, settings: Settings | None = None
) -> list[str]:
    """Where the contacts' SNS subscriptions and the district's settings disagree (`district show`);
    empty when they agree or when the deployment has no alert topic."""
    settings = settings or get_settings()
    if not settings.alert_topic_arn:
        return []
    subscriptions = wiring.contact_subscriptions(settings)
    return district_config.disagreements(current, subscriptions.current(current.district_id))


def set_district(
    district_id: str, *, by: str, settings: Settings | None = None, **changes: Any
) -> district_config.Applied:
    """Change a district's settings (the CLI's `district set`); contacts are (un)subscribed on the
    alert topic with a filter policy on the district."""
    settings = settings or get_settings()
    return district_config.apply(
        wiring.roster_table(settings),
        district_id,
        by=by,
        now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        subscriptions=wiring.contact_subscriptions(settings),
        **changes,
    )


def operator_identity() -> str:
    """Who is changing settings: the AWS caller (an IAM ARN), else the local user name."""
    try:
        return wiring.caller_arn()
    except Exception:  # no credentials, no network: still record someone
        return f"local:{getpass.getuser()}"
