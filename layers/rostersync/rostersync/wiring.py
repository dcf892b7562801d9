"""Settings -> adapters -> stage -> alerts, for every handler (the CLI's operations use its adapters).

The only module that builds adapters (boto3, Secrets Manager, the sources' HTTP clients). Each
Lambda handler parses its event into the stage's request model and makes one call here; the
stage runs on ports, then the alerts read the stage's result and publish through SNS; metrics
are recorded here, once per invocation.

Adapters, and the AWS clients in them, are built once per environment (`Environment`): in Lambda
once per cold start, since a warm container reuses the module; locally until the settings or the
AWS endpoint change (a test that points boto3 at another moto server clears `get_settings`, and
the next call builds a new environment). Sources are built per fetch, with the credentials their
secrets hold then, and closed when it ends. The CLI's operations (release, district settings,
status, overview) are in `rostersync.operations`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import boto3
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from rostersync import district_settings as district_config
from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.adapters.s3_report_links import S3ReportLinks
from rostersync.adapters.secrets_manager import report_link_key, secret_json, secret_names
from rostersync.adapters.sns_alert_publisher import SnsAlertPublisher
from rostersync.adapters.sns_contact_subscriptions import SnsContactSubscriptions
from rostersync.alerts.notify import (
    announce_import,
    notify_discovery,
    notify_fetch,
    notify_validation,
    record_outcome,
)
from rostersync.alerts.notify import report_link as signed_report_link
from rostersync.contracts.fetch import FetchOutcome, FetchRequest, FetchResult, ManifestStatus
from rostersync.contracts.importer import ImportRequest, ImportResult, RunStatus
from rostersync.contracts.validate import ValidateRequest, ValidateResult, ValidateStatus
from rostersync.fetch.stage import fetch_districts, fits_before_deadline, pause_near_deadline
from rostersync.ids import new_run_id
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import Accepted, import_district
from rostersync.layout import INDEX_KEY
from rostersync.observability import SERVICE, logger, metrics
from rostersync.overview.index_page import write_index
from rostersync.overview.status import record_fetch, record_import, record_validation
from rostersync.ports import ReportLinks, Source
from rostersync.report_links import SignedReportLinks, answer
from rostersync.run_artifacts import accepted_records, load_result, rejected_ids
from rostersync.settings import Settings, get_settings
from rostersync.sources import PROFILES, base_name
from rostersync.sources.combined import CombinedSource
from rostersync.state_id_registry import district_conflicts
from rostersync.validate.stage import validate_run

RemainingMillis = Callable[[], int]

# ------------------------------------------------------------------------------------ adapters


T = TypeVar("T")

# What boto3 reads from the process environment besides the settings: where its clients point.
AWS_LOCATION = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")


class Environment:
    """The adapters of one environment (these Settings, this AWS endpoint), each built on first use
    and then kept, with the AWS client inside it. Thread-safe: one build per adapter."""

    def __init__(self, settings: Settings, location: tuple[str | None, ...]) -> None:
        self.settings = settings
        self.location = location
        self._built: dict[str, object] = {}
        self._lock = threading.RLock()  # a builder may ask for another adapter (hold_store)

    def adapter(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return cast("T", self._built[name])

    def close(self) -> None:
        """Stop what an adapter runs in the background (the roster table's batch threads)."""
        with self._lock:
            for built in self._built.values():
                close = getattr(built, "close", None)
                if callable(close):
                    close()
            self._built.clear()


class _Process:
    """The process's current environment (a Lambda container has one for its whole life)."""

    lock = threading.Lock()
    environment: Environment | None = None


def environment(settings: Settings | None = None) -> Environment:
    """The current environment's adapters: the same object for as long as the settings object and
    the AWS endpoint stay the same (a Lambda container's life); a new one, the old one closed,
    when either changes."""
    settings = settings or get_settings()
    location = tuple(os.environ.get(name) for name in AWS_LOCATION)
    with _Process.lock:
        current = _Process.environment
        if current is None or current.settings is not settings or current.location != location:
            if current is not None:
                current.close()
            current = _Process.environment = Environment(settings, location)
        return current


def reset_environment() -> None:
    """Forget the current environment (closing its adapters): the next call builds new ones."""
    with _Process.lock:
        if _Process.environment is not None:
            _Process.environment.close()
        _Process.environment = None


def page_store(settings: Settings | None = None) -> S3PageStore:
    env = environment(settings)
    return env.adapter("page_store", lambda: S3PageStore(env.settings.raw_bucket))


def roster_table(settings: Settings | None = None) -> DynamoRosterTable:
    env = environment(settings)
    return env.adapter("roster_table", lambda: DynamoRosterTable(env.settings.roster_table))


def hold_store(settings: Settings | None = None) -> PageStoreHoldStore:
    env = environment(settings)
    return env.adapter("hold_store", lambda: PageStoreHoldStore(page_store(env.settings)))


def alert_publisher(settings: Settings | None = None) -> SnsAlertPublisher:
    env = environment(settings)
    return env.adapter("alert_publisher", lambda: SnsAlertPublisher(env.settings.alert_topic_arn))


def contact_subscriptions(settings: Settings | None = None) -> SnsContactSubscriptions:
    """District contacts' subscriptions to the alert topic (the CLI's `district set`)."""
    env = environment(settings)
    return env.adapter("contact_subscriptions", lambda: SnsContactSubscriptions(env.settings.alert_topic_arn))


def s3_report_links(settings: Settings | None = None) -> S3ReportLinks:
    env = environment(settings)
    return env.adapter("s3_report_links", lambda: S3ReportLinks(env.settings.raw_bucket))


def caller_arn(settings: Settings | None = None) -> str:
    """The AWS caller's identity (an IAM ARN), from STS."""
    env = environment(settings)
    sts: Any = env.adapter("sts", lambda: boto3.client("sts"))
    return str(sts.get_caller_identity()["Arn"])


def district_source(settings: Settings | None = None) -> Source:
    """Every registered source's districts behind one seam (`sources.PROFILES`, each built by its
    profile from the settings and its secret; a source without districts tonight is left out):
    discovery lists them all, `--district` takes an id of any."""
    settings = settings or get_settings()
    built: list[Source] = []
    for source_profile in PROFILES.values():
        # Each source reads its own secret, through the one Secrets Manager adapter.
        source = source_profile.build(settings, secret_json, secret_names)
        if source is not None:
            built.append(source)
    return built[0] if len(built) == 1 else CombinedSource(built)


def report_links_for(settings: Settings) -> ReportLinks:
    """Signed links through the report-link function when it is deployed; S3 presigned GETs otherwise."""
    if settings.report_link_base_url:
        secret_id = settings.report_link_secret_id
        return SignedReportLinks(settings.report_link_base_url, lambda: report_link_key(secret_id))
    return s3_report_links(settings)


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
            named = request.named.district_ids if request.named else None
            tonight = list(named) if named else ids
            return FetchOutcome(
                run_id=run_id, district_ids=tonight, sources=[sources.get(i) for i in tonight]
            ).as_event()
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
        if result.status is ManifestStatus.FAILED:
            metrics.add_metric(name="DistrictsFailed", unit=MetricUnit.Count, value=1)
    _record_source_requests(results)
    return FetchOutcome(run_id=run_id, districts=results).as_event()


def _record_source_requests(results: list[FetchResult]) -> None:
    """`SourceRequests` per source (a `source` dimension): the requests of every finished fetch.
    Its own metric set per source, so the invocation's other metrics keep their dimensions."""
    per_source: dict[str, int] = {}
    for result in results:
        if result.status is not ManifestStatus.IN_PROGRESS:  # counted once, when the fetch ends
            name = base_name(result.source)  # one dimension per source, whatever its providers
            per_source[name] = per_source.get(name, 0) + result.requests
    for source, requests in sorted(per_source.items()):
        metric = EphemeralMetrics(namespace=metrics.namespace, service=SERVICE)
        metric.add_dimension(name="source", value=source)
        metric.add_metric(name="SourceRequests", unit=MetricUnit.Count, value=requests)
        metric.flush_metrics()


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
    licensed = district_config.load_licence(table, request.district_id)  # one projected read
    result: ValidateResult = validate_run(
        store,
        request.district_id,
        request.run_id,
        stale_days=settings.district_sync_stale_days,
        licensed=licensed,
        source_name=request.source,
    )
    record_validation(store, result)
    outcome = notify_validation(result, store, alert_publisher(settings), report_links_for(settings))
    record_outcome(outcome)
    metrics.add_metric(name="RecordsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=result.rejected)
    return result.model_dump(mode="json")


# ------------------------------------------------------------------------------------- import


def import_(request: ImportRequest, remaining_ms: RemainingMillis | None = None) -> dict[str, Any]:
    """The import function: one district's validated run -> the roster table, then alert.
    `remaining_ms` (the Lambda context's): near the deadline the import pauses, and the state
    machine invokes it again with the same run id (no alert and no record counts until it ends)."""
    logger.append_keys(district_id=request.district_id, run_id=request.run_id)
    settings = get_settings()
    should_pause = (
        pause_near_deadline(remaining_ms, settings.import_pause_margin_seconds) if remaining_ms else None
    )
    result = import_run(
        request.district_id,
        request.run_id,
        dry_run=request.dry_run,
        settings=settings,
        should_pause=should_pause,
    )
    store = page_store(settings)
    record_import(store, result)
    alerts = announce_import(
        result,
        alert_publisher(settings),
        roster_table(settings),
        source=request.source,
        district_name=request.district_name,
        now=int(time.time()),
    )
    record_outcome(alerts)
    if result.status is RunStatus.PAUSED:  # counted once, when the import ends
        metrics.add_metric(name="ImportsPaused", unit=MetricUnit.Count, value=1)
        return result.model_dump(mode="json")
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
    should_pause: Callable[[], bool] | None = None,
) -> ImportResult:
    """import_district on ROSTER_TABLE and RAW_BUCKET. The caller publishes alerts."""
    settings = settings or get_settings()
    return import_district(
        district_id,
        run_id,
        accepted,
        rejected,
        roster_table(settings),
        holds=hold_store(settings),
        dry_run=dry_run,
        thresholds=default_thresholds(settings),
        fetched=fetched,
        should_pause=should_pause,
        write_chunk=settings.import_write_chunk,
    )


def import_run(
    district_id: str,
    run_id: str,
    *,
    dry_run: bool = False,
    settings: Settings | None = None,
    should_pause: Callable[[], bool] | None = None,
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
        should_pause=should_pause,
    )


# -------------------------------------------------------------------------------- report link


def report_link(event: dict[str, Any]) -> dict[str, Any]:
    """The report-link function: a signed link -> 302 to a fresh presigned report.html, or 403."""
    settings = get_settings()
    response = answer(
        event,
        key=lambda: report_link_key(settings.report_link_secret_id),
        presign=s3_report_links(settings).presigned_url,
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
        conflicts_for=lambda ids: district_conflicts(roster_table(settings), ids),
    )
    attention = sum(1 for r in rows if r.needs_attention)
    logger.info("index written", extra={"districts": len(rows), "attention": attention})
    return {"index_key": INDEX_KEY, "districts": len(rows), "attention": attention}
