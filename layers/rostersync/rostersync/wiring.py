"""Settings -> adapters -> stage -> alerts, for every handler and for the CLI.

The only module that builds adapters (boto3, Secrets Manager, the sources' HTTP clients). Each
Lambda handler parses its event into the stage's request model and makes one call here; the
stage runs on ports, then the alerts read the stage's result and publish through SNS; metrics
are recorded here, once per invocation.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from rostersync import district_settings as district_config
from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.adapters.s3_report_links import S3ReportLinks
from rostersync.adapters.secrets_manager import clever_credentials, oneroster_secret, report_link_key
from rostersync.adapters.sns_alert_publisher import SnsAlertPublisher
from rostersync.adapters.sns_contact_subscriptions import SnsContactSubscriptions
from rostersync.alerts.notify import (
    notify_discovery,
    notify_fetch,
    notify_import,
    notify_validation,
    record_outcome,
)
from rostersync.alerts.notify import report_link as signed_report_link
from rostersync.errors import StorageError
from rostersync.fetch.contract import FetchOutcome, FetchRequest, ManifestStatus
from rostersync.fetch.stage import fetch_districts, fits_before_deadline, pause_near_deadline
from rostersync.ids import new_run_id
from rostersync.importer.contract import ImportRequest, ImportResult, ReleaseResult, RunStatus
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.release import release_hold
from rostersync.importer.runs import latest_runs
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import Accepted, import_district
from rostersync.layout import INDEX_KEY
from rostersync.observability import logger, metrics
from rostersync.overview.index_page import DistrictRow, district_rows, write_index
from rostersync.overview.status import record_fetch, record_import, record_validation
from rostersync.ports import PageStore, ReportLinks, Source
from rostersync.records import DistrictStatus
from rostersync.report_links import SignedReportLinks, answer
from rostersync.settings import Settings, get_settings
from rostersync.sources.clever.client import CleverClient
from rostersync.sources.clever.normalize import is_clever_id
from rostersync.sources.clever.source import CleverSource
from rostersync.sources.combined import CombinedSource
from rostersync.sources.oneroster.client import OneRosterLimits
from rostersync.sources.oneroster.source import OneRosterSource, parse_tenants
from rostersync.state_id_registry import Assignment, Conflict, assign, district_conflicts
from rostersync.validate.contract import ValidateRequest, ValidateResult, ValidateStatus
from rostersync.validate.pages import accepted_records, load_manifest, load_result, rejected_ids
from rostersync.validate.stage import validate_run

RemainingMillis = Callable[[], int]

# ------------------------------------------------------------------------------------ adapters


def page_store(settings: Settings | None = None, client: Any | None = None) -> S3PageStore:
    return S3PageStore((settings or get_settings()).raw_bucket, client)


def roster_table(settings: Settings | None = None, client: Any | None = None) -> DynamoRosterTable:
    return DynamoRosterTable((settings or get_settings()).roster_table, client)


def hold_store(settings: Settings | None = None, client: Any | None = None) -> PageStoreHoldStore:
    return PageStoreHoldStore(page_store(settings, client))


def alert_publisher(settings: Settings | None = None) -> SnsAlertPublisher:
    return SnsAlertPublisher((settings or get_settings()).alert_topic_arn)


def clever_source(settings: Settings | None = None) -> CleverSource:
    settings = settings or get_settings()
    return CleverSource(CleverClient(settings, clever_credentials(settings.clever_secret_id)))


def oneroster_source(settings: Settings | None = None) -> OneRosterSource:
    """The tenants of ONEROSTER_SECRET_ID (none when the secret does not exist or lists none)."""
    settings = settings or get_settings()
    tenants = parse_tenants(oneroster_secret(settings.oneroster_secret_id), reserved=is_clever_id)
    limits = OneRosterLimits(
        page_limit=settings.oneroster_page_limit,
        connect_timeout=settings.oneroster_connect_timeout,
        read_timeout=settings.oneroster_read_timeout,
        max_retries=settings.oneroster_max_retries,
        backoff_factor=settings.oneroster_backoff_factor,
        max_retry_wait=settings.oneroster_max_retry_wait,
    )
    return OneRosterSource(tenants, limits)


def district_source(settings: Settings | None = None) -> Source:
    """Every source's districts behind one seam: Clever's, and the OneRoster tenants when there
    are any (discovery lists both; `--district` takes either)."""
    settings = settings or get_settings()
    clever = clever_source(settings)
    oneroster = oneroster_source(settings)
    if not oneroster.district_ids():
        return clever
    return CombinedSource([clever, oneroster])


def report_links_for(settings: Settings) -> ReportLinks:
    """Signed links through the report-link function when it is deployed; S3 presigned GETs otherwise."""
    if settings.report_link_base_url:
        secret_id = settings.report_link_secret_id
        return SignedReportLinks(settings.report_link_base_url, lambda: report_link_key(secret_id))
    return S3ReportLinks(settings.raw_bucket)


def default_thresholds(settings: Settings) -> SafeguardThresholds:
    """SAFEGUARD_ARCHIVE_PERCENT (template parameter SafeguardArchivePercent), default 10."""
    return SafeguardThresholds(archive_percent=settings.safeguard_archive_percent)


# -------------------------------------------------------------------------------------- fetch


def _source_names(source: Source, ids: Collection[str]) -> dict[str, str]:
    """Which source lists each district (a combined source knows; a single source lists them all)."""
    source_of = getattr(source, "source_of", None)
    return {i: (source_of(i) if source_of is not None else None) or source.name for i in ids}


def fetch(request: FetchRequest, remaining_ms: RemainingMillis) -> dict[str, Any]:
    """The fetch function: discover the districts, or fetch (resume) some or all, then alert."""
    settings = get_settings()
    run_id = request.run_id or new_run_id()
    logger.append_keys(run_id=run_id)
    store, publisher = page_store(settings), alert_publisher(settings)
    source = district_source(settings)
    try:
        if request.discover:
            ids = source.district_ids()
            sources = _source_names(source, ids)
            record_outcome(notify_discovery(ids, store, publisher, run_id=run_id, sources=sources))
            return FetchOutcome(run_id=run_id, district_ids=ids).as_event()
        results = fetch_districts(
            source,
            store,
            run_id,
            request.district_ids,
            should_pause=pause_near_deadline(remaining_ms, settings.fetch_pause_margin_seconds),
            resume=request.resume,
            fits=fits_before_deadline(remaining_ms, settings.fetch_pause_margin_seconds),
        )
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    # A full run (no ids) is also the discovery the connection alerts need.
    discovered = [r.district_id for r in results] if request.district_ids is None else None
    for result in results:
        record_fetch(store, result, source=result.source)  # the district's own, not "sources"
    record_outcome(notify_fetch(results, store, publisher, discovered=discovered, run_id=run_id))
    for result in results:
        if result.status is ManifestStatus.IN_PROGRESS:  # counted once, when the fetch ends
            metrics.add_metric(name="FetchesPaused", unit=MetricUnit.Count, value=1)
            continue
        metrics.add_metric(name="RecordsFetched", unit=MetricUnit.Count, value=result.records)
        metrics.add_metric(name="CleverRequests", unit=MetricUnit.Count, value=result.requests)
        if result.status is ManifestStatus.FAILED:
            metrics.add_metric(name="DistrictsFailed", unit=MetricUnit.Count, value=1)
    return FetchOutcome(run_id=run_id, districts=results).as_event()


# ----------------------------------------------------------------------------------- validate


def validate_event(event: dict[str, Any]) -> dict[str, Any]:
    """The validate function's event: one district's fetch result, or `{"index": true}` at the end
    of the night (the function that already signs report links writes the page that links them)."""
    if event.get("index") is True:
        return night_index()
    return validate(ValidateRequest.model_validate(event))


def validate(request: ValidateRequest) -> dict[str, Any]:
    """The validate function: one district's fetched run -> accepted records and reports, then alert."""
    logger.append_keys(district_id=request.district_id, run_id=request.run_id)
    settings = get_settings()
    store = page_store(settings)
    table = roster_table(settings)
    try:
        licensed = district_config.load_licence(table, request.district_id)  # one GetItem
        result: ValidateResult = validate_run(
            store,
            request.district_id,
            request.run_id,
            stale_days=settings.district_sync_stale_days,
            licensed=licensed,
        )
    finally:
        table.close()
    record_validation(store, result)
    outcome = notify_validation(result, store, alert_publisher(settings), report_links_for(settings))
    record_outcome(outcome)
    metrics.add_metric(name="RecordsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=result.rejected)
    return result.model_dump(mode="json")


# ------------------------------------------------------------------------------------- import


def _run_source(store: PageStore, result: ImportResult) -> str:
    """The source that served the run (its fetch manifest's), for the alert's wording; Clever
    when the manifest cannot be read (the alert must not be lost over its wording)."""
    try:
        return load_manifest(store, result.district_id, result.run_id).source
    except Exception as exc:  # the wording must not lose the alert
        logger.warning("run source not read", extra={"error": type(exc).__name__})
        return "clever"


def import_(request: ImportRequest) -> dict[str, Any]:
    """The import function: one district's validated run -> the roster table, then alert."""
    logger.append_keys(district_id=request.district_id, run_id=request.run_id)
    settings = get_settings()
    result = import_run(request.district_id, request.run_id, dry_run=request.dry_run, settings=settings)
    store = page_store(settings)
    record_import(store, result)
    record_outcome(notify_import(result, alert_publisher(settings), source=_run_source(store, result)))
    for field in ("created", "updated", "unchanged", "archived", "restored", "held"):
        metrics.add_metric(
            name=f"Records{field.capitalize()}", unit=MetricUnit.Count, value=result.total(field)
        )
    return result.model_dump(mode="json")


def run_import(
    district_id: str,
    run_id: str,
    accepted: Accepted,
    rejected: Collection[str],
    *,
    dry_run: bool = False,
    fetched: Mapping[str, int] | None = None,
    settings: Settings | None = None,
) -> ImportResult:
    """import_district on ROSTER_TABLE and RAW_BUCKET. The caller publishes alerts."""
    settings = settings or get_settings()
    table = roster_table(settings)
    try:
        return import_district(
            district_id,
            run_id,
            accepted,
            rejected,
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
    store = page_store(settings)
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
        return release_hold(
            district_id, run_id, table=table, holds=hold_store(settings), store=page_store(settings)
        )
    finally:
        table.close()


def run_releases(
    district_ids: list[str], run_id: str | None = None, *, settings: Settings | None = None
) -> list[ReleaseResult]:
    """Release the newest hold (or `run_id`'s, for one district) of each district, one after
    another. A district whose release fails is reported `failed` (logged by type) and the others
    are still released: after the August rollover support releases dozens at once."""
    if run_id is not None and len(district_ids) != 1:
        raise ValueError("a run id names the hold of one district")
    settings = settings or get_settings()
    table = roster_table(settings)
    holds, store = hold_store(settings), page_store(settings)
    results: list[ReleaseResult] = []
    try:
        for district_id in district_ids:
            try:
                results.append(release_hold(district_id, run_id, table=table, holds=holds, store=store))
            except Exception as exc:  # one district's failure must not stop the others
                logger.error(
                    "hold release failed", extra={"district_id": district_id, "error": type(exc).__name__}
                )
                results.append(
                    ReleaseResult(
                        district_id=district_id, run_id=run_id, status=f"failed: {type(exc).__name__}"
                    )
                )
    finally:
        table.close()
    return results


def district_status(
    district_id: str, run_id: str, *, settings: Settings | None = None
) -> DistrictStatus | None:
    """The source's sync status of the district as the run's fetch saw it (its manifest), or None
    when the manifest cannot be read or holds none."""
    try:
        return load_manifest(page_store(settings), district_id, run_id).district_status
    except (StorageError, ValueError):
        return None


def run_status(
    district_id: str | None = None, limit: int = 20, *, settings: Settings | None = None
) -> list[ImportResult]:
    table = roster_table(settings or get_settings())
    try:
        return latest_runs(table, district_id, limit)
    finally:
        table.close()


# -------------------------------------------------------------------------------- report link


def report_link(event: dict[str, Any]) -> dict[str, Any]:
    """The report-link function: a signed link -> 302 to a fresh presigned report.html, or 403."""
    settings = get_settings()
    response = answer(
        event,
        key=lambda: report_link_key(settings.report_link_secret_id),
        presign=S3ReportLinks(settings.raw_bucket).presigned_url,
    )
    served = response["statusCode"] == 302
    metrics.add_metric(
        name="ReportLinksServed" if served else "ReportLinksRefused", unit=MetricUnit.Count, value=1
    )
    return response


# ----------------------------------------------------------------------------------- overview


def report_link_for(settings: Settings) -> Callable[[str], str | None]:
    """How the index page links a district's report: a signed 7-day link where alerts use them;
    otherwise a path relative to `reports/index.html` (where the CLI copies the reports too)."""
    if not settings.report_link_base_url:
        return lambda key: key.removeprefix("reports/")
    links = report_links_for(settings)
    return lambda key: link.url if (link := signed_report_link(links, key, datetime.now(UTC))) else None


def night_index(*, settings: Settings | None = None) -> dict[str, Any]:
    """Write `reports/index.html` from every district's sync status (the night's last step)."""
    settings = settings or get_settings()
    now = datetime.now(UTC)
    rows = write_index(
        page_store(settings),
        now=now,
        link_for=report_link_for(settings),
        conflicts_for=lambda ids: state_id_conflicts(ids, settings=settings),
    )
    attention = sum(1 for r in rows if r.needs_attention)
    logger.info("index written", extra={"districts": len(rows), "attention": attention})
    return {"index_key": INDEX_KEY, "districts": len(rows), "attention": attention}


def district_overview(*, settings: Settings | None = None) -> list[DistrictRow]:
    """The rows of the index page, for `rostersync districts`."""
    return district_rows(page_store(settings or get_settings()), datetime.now(UTC))


def state_id_conflicts(district_ids: Iterable[str], *, settings: Settings | None = None) -> list[Conflict]:
    """Support's list of PA Secure ID conflicts whose untrusted student is in these districts."""
    table = roster_table(settings or get_settings())
    try:
        return district_conflicts(table, district_ids)
    finally:
        table.close()


def assign_state_id(
    state_id: str, district_id: str, *, by: str, settings: Settings | None = None
) -> Assignment:
    """`rostersync state-id assign`: support gives a PA Secure ID's trust to a district's student."""
    table = roster_table(settings or get_settings())
    try:
        return assign(table, state_id, district_id, by=by, now=datetime.now(UTC))
    finally:
        table.close()


# -------------------------------------------------------------------------- district settings


def show_district(
    district_id: str, *, settings: Settings | None = None
) -> tuple[district_config.DistrictSettings, list[district_config.SettingsChange]]:
    """A district's settings and its latest changes (the CLI's `district show`)."""
    table = roster_table(settings or get_settings())
    try:
        return district_config.load(table, district_id), district_config.history(table, district_id)
    finally:
        table.close()


def set_district(
    district_id: str, *, by: str, settings: Settings | None = None, **changes: Any
) -> district_config.Applied:
    """Change a district's settings (the CLI's `district set`); contacts are (un)subscribed on the
    alert topic with a filter policy on the district."""
    settings = settings or get_settings()
    table = roster_table(settings)
    try:
        return district_config.apply(
            table,
            district_id,
            by=by,
            now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            subscriptions=SnsContactSubscriptions(settings.alert_topic_arn),
            **changes,
        )
    finally:
        table.close()


def operator_identity() -> str:
    """Who is changing settings: the AWS caller (an IAM ARN), else the local user name."""
    try:
        return str(boto3.client("sts").get_caller_identity()["Arn"])
    except Exception:  # no credentials, no network: still record someone
        return f"local:{getpass.getuser()}"


def download_report(key: str, path: Path, settings: Settings | None = None) -> None:
    """Copy one report object to a local file (the CLI's `run` and `demo`)."""
    page_store(settings).download(key, path)
