"""When to alert: the domain calls the handlers make after each stage.

- `notify_validation`: a validated run's findings, once per distinct set of findings.
- `notify_fetch`: a fetch invocation's results (sync_failed, district_disconnected on a revoked
  token, district_connected when a disconnected district fetches again) and, when the invocation
  listed every district, the districts that appeared or vanished since the last discovery.

Alerting is best effort by design: nothing here raises for a failed publish or a failed state
read or write. A publish that fails leaves the state as it was, so the alert is tried again on
the next run instead of being forgotten; a state read that fails alerts anyway (a duplicate
e-mail is better than a missed one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from rostersync.alert_model import Alert, EventType
from rostersync.alerts import messages
from rostersync.alerts.state import (
    ConnectionState,
    ConnectionStatus,
    FindingsState,
    KnownDistricts,
    findings_fingerprint,
    findings_total,
    load_connection,
    load_findings_state,
    load_known_districts,
    save_connection,
    save_findings_state,
    save_known_districts,
)
from rostersync.contracts.fetch import FailureKind, FetchResult, ManifestStatus
from rostersync.contracts.importer import (
    ANNOUNCE_CLAIM,
    ANNOUNCE_PENDING,
    ANNOUNCE_SENT,
    FINAL,
    ImportResult,
    RunStatus,
)
from rostersync.contracts.validate import ValidateResult
from rostersync.errors import StorageError
from rostersync.importer.safeguard import DEFAULT_ARCHIVE_PERCENT
from rostersync.layout import run_pk
from rostersync.observability import logger, metrics
from rostersync.ports import AlertPublisher, PageStore, ReportLinks, RosterTable
from rostersync.sources import known as known_source
from rostersync.validate.summary import Summary

REPORT_LINK_SECONDS = 7 * 24 * 3600
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AlertOutcome:
    """What a notify call did, per alert: `event_type:district_id` strings, for logs and metrics."""

    published: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    """Alerts not sent because they were sent before (unchanged findings, a known disconnection)."""

    def merge(self, other: AlertOutcome) -> AlertOutcome:
        self.published += other.published
        self.failed += other.failed
        self.suppressed += other.suppressed
        return self

    def as_dict(self) -> dict[str, list[str]]:
        return {"published": self.published, "failed": self.failed, "suppressed": self.suppressed}


def _publish(publisher: AlertPublisher, alert: Alert, outcome: AlertOutcome) -> bool:
    tag = f"{alert.event_type.value}:{alert.district_id}"
    if publisher.publish(alert):
        outcome.published.append(tag)
        return True
    outcome.failed.append(tag)
    return False


def _state_error(what: str, district_id: str | None, exc: StorageError) -> None:
    logger.error(
        "alert state unavailable", extra={"what": what, "district_id": district_id, "error": str(exc)}
    )


# ------------------------------------------------------------------------------ validation


def notify_validation(
    result: ValidateResult,
    store: PageStore,
    publisher: AlertPublisher,
    links: ReportLinks,
    *,
    clock: Clock = _now,
) -> AlertOutcome:
    """Publish `validation_findings` for a validated (or rejected) run whose findings are new or changed."""
    outcome = AlertOutcome()
    if result.summary_key is None:  # skipped: the fetch failed and has alerted already
        return outcome
    district_id = result.district_id
    try:
        summary = Summary.model_validate(store.get_json(result.summary_key))
    except StorageError as exc:
        _state_error("summary", district_id, exc)
        outcome.failed.append(f"{EventType.VALIDATION_FINDINGS.value}:{district_id}")
        return outcome
    try:
        previous = load_findings_state(store, district_id)
    except (StorageError, ValueError) as exc:
        _state_error("findings state", district_id, StorageError(str(exc)))
        previous = None
    total = findings_total(summary)
    fingerprint = findings_fingerprint(summary)
    current = FindingsState(
        fingerprint=fingerprint,
        findings=total,
        run_id=result.run_id,
        alerted_at=clock(),
        district_name=summary.district_name,
    )
    tag = f"{EventType.VALIDATION_FINDINGS.value}:{district_id}"
    if previous is not None and previous.fingerprint == fingerprint:
        if total:
            outcome.suppressed.append(tag)
        return outcome
    if total == 0:
        # Clean now: remember it, so findings that come back are announced as new.
        _save(
            lambda: save_findings_state(store, district_id, current.model_copy(update={"alerted_at": None}))
        )
        return outcome
    change = messages.Change(previous.findings if previous is not None and previous.findings else None)
    alert = messages.validation_findings(
        summary, result.run_id, change, link=report_link(links, result.report_key, clock())
    )
    if _publish(publisher, alert, outcome):
        _save(lambda: save_findings_state(store, district_id, current))
    return outcome


def notify_import(
    result: ImportResult, publisher: AlertPublisher, *, source: str, district_name: str | None = None
) -> AlertOutcome:
    """Publish `deletions_held` when the safeguard held tonight's archive set (not again on a replay),
    `records_archived` when tonight's import archived anything (counts per kind, never who),
    and `sync_failed` when the district's lease refused the run (`skipped_locked`, or `skipped_stale`
    because a newer run had started): the run returns
    normally, so nothing else (not the state machine's Catch) would tell anyone the district was
    not imported, e.g. when Step Functions retries an import whose invocation timed out.
    `source`: the district's source and `district_name` its name, as the state machine's payload
    carries them from the fetch (the import reads no fetch artifact): the alerts name both."""
    outcome = AlertOutcome()
    if result.status is RunStatus.PAUSED:
        return outcome  # paused at the invocation's deadline: a further invocation continues it
    if result.status is RunStatus.SKIPPED_LOCKED:
        alert = messages.import_locked(
            result.district_id, result.run_id, source=source, district_name=district_name
        )
        _publish(publisher, alert, outcome)
        return outcome
    if result.status is RunStatus.SKIPPED_STALE:
        alert = messages.import_stale(
            result.district_id, result.run_id, result.error, source=source, district_name=district_name
        )
        _publish(publisher, alert, outcome)
        return outcome
    if result.replayed or result.dry_run:
        return outcome
    state_ids = result.state_ids or {}
    if state_ids.get("new_conflicts") or state_ids.get("existing_conflicts"):
        # Support's alert: its event type is not one a district's contacts subscribe to.
        alert = messages.state_id_conflicts(
            result.district_id, result.run_id, state_ids, source=source, district_name=district_name
        )
        _publish(publisher, alert, outcome)
    if result.status is RunStatus.SUCCEEDED and result.total("archived"):
        # Every night's archives are visible, not only those the safeguard holds.
        archived = {
            kind: (c.archived, c.unchanged + c.updated + c.rejected_kept + c.archived)
            for kind, c in result.counts.items()
            if c.archived
        }
        alert = messages.records_archived(
            result.district_id, result.run_id, archived, source=source, district_name=district_name
        )
        _publish(publisher, alert, outcome)
        return outcome
    if not result.held:
        return outcome
    would_archive = {kind: counts.held for kind, counts in result.counts.items() if counts.held}
    previously_active = sum(
        c.unchanged + c.updated + c.rejected_kept + c.held for c in result.counts.values()
    )
    alert = messages.deletions_held(
        result.district_id,
        result.run_id,
        would_archive,
        previously_active,
        result.safeguard_percent if result.safeguard_percent is not None else DEFAULT_ARCHIVE_PERCENT,
        source=source,
        district_name=district_name,
        rollover=result.rollover,
    )
    _publish(publisher, alert, outcome)
    return outcome


# A claim older than this was made by an invocation that is dead (the import function's timeout
# is at most 15 minutes): its announcement is claimed again.
ANNOUNCE_CLAIM_SECONDS = 15 * 60


def announce_import(
    result: ImportResult,
    publisher: AlertPublisher,
    table: RosterTable,
    *,
    source: str,
    district_name: str | None = None,
    now: int,
) -> AlertOutcome:
    """notify_import, exactly once per commit whichever invocation gets there (issue 25).

    The commit records `announce: pending` on the run item with the run's result. The invocation
    that commits, or the retry that replays the run after a death, claims it (a conditional
    update: one claimant wins), publishes what notify_import derives from the recorded result, and
    marks it sent; a publish that fails puts it back to pending for the run's next invocation. A
    claim older than ANNOUNCE_CLAIM_SECONDS belonged to an invocation that died between its claim
    and its publish (a few milliseconds): it is claimed again. Anything else (skipped, locked,
    stale, paused, a dry run, a run committed before this) goes to notify_import as before."""
    state = result.announce
    if result.dry_run or result.status not in FINAL or state is None:
        return notify_import(result, publisher, source=source, district_name=district_name)
    if state == ANNOUNCE_SENT:
        return AlertOutcome()
    if state.startswith(ANNOUNCE_CLAIM):
        claimed_at = state.removeprefix(ANNOUNCE_CLAIM).strip()
        if not claimed_at.isdigit() or now - int(claimed_at) < ANNOUNCE_CLAIM_SECONDS:
            return AlertOutcome()  # another invocation is publishing it
    pk, mine = run_pk(result.district_id), f"{ANNOUNCE_CLAIM} {now}"
    if not table.set_status(pk, result.run_id, state, mine, attribute="announce"):
        return AlertOutcome()  # another invocation claimed it first
    outcome = notify_import(
        result.model_copy(update={"replayed": False}), publisher, source=source, district_name=district_name
    )
    done = ANNOUNCE_PENDING if outcome.failed and not outcome.published else ANNOUNCE_SENT
    table.set_status(pk, result.run_id, mine, done, attribute="announce")
    return outcome


def report_link(links: ReportLinks, key: str | None, now: datetime) -> messages.ReportLink | None:
    """A presigned GET of report.html, valid 7 days; None (logged) when it cannot be made."""
    if key is None:
        return None
    try:
        url = links.presigned_url(key, REPORT_LINK_SECONDS)
    except Exception as exc:  # a missing link must not lose the alert
        logger.warning("report link not created", extra={"key": key, "error": type(exc).__name__})
        return None
    return messages.ReportLink(url=url, expires_at=now + timedelta(seconds=REPORT_LINK_SECONDS))


def _save(store_state: Callable[[], None]) -> None:
    try:
        store_state()
    except StorageError as exc:
        _state_error("save", None, exc)


# ----------------------------------------------------------------------------------- fetch


def notify_fetch(
    results: Iterable[FetchResult],
    store: PageStore,
    publisher: AlertPublisher,
    *,
    discovered: Iterable[str] | None = None,
    run_id: str | None = None,
    clock: Clock = _now,
) -> AlertOutcome:
    """Alerts for one fetch invocation. `discovered`: every district id the sources list (a full run);
    None when the invocation fetched named districts only (nothing can be said about the others)."""
    results = list(results)
    names = {r.district_id: r.district_name for r in results}
    sources = {r.district_id: r.source for r in results}
    outcome = AlertOutcome()
    if discovered is not None:
        outcome.merge(
            notify_discovery(
                discovered, store, publisher, run_id=run_id, names=names, sources=sources, clock=clock
            )
        )
    for result in results:
        outcome.merge(
            notify_fetch_result(result, store, publisher, name=names[result.district_id], clock=clock)
        )
    return outcome


def notify_discovery(
    discovered: Iterable[str],
    store: PageStore,
    publisher: AlertPublisher,
    *,
    run_id: str | None = None,
    names: dict[str, str | None] | None = None,
    sources: Mapping[str, str] | None = None,
    clock: Clock = _now,
) -> AlertOutcome:
    """`district_connected` for ids new since the last discovery, `district_disconnected` for ids gone.

    `sources`: which source lists each discovered district (every one must be said); a district
    gone from the list is named by the source its connection state remembers; one whose state
    remembers none (it was connected before sources were remembered) is alerted in words that
    name no source.

    The first discovery (no state yet) records a baseline and announces nothing: a first deploy
    must not e-mail support once per district already connected.
    """
    outcome = AlertOutcome()
    names = names or {}
    sources = sources if sources is not None else {}
    current = set(discovered)
    try:
        known = load_known_districts(store)
    except (StorageError, ValueError) as exc:
        # Without the last list, new and vanished cannot be told apart: skip tonight, alert tomorrow.
        _state_error("known districts", None, StorageError(str(exc)))
        return outcome
    if known is None:
        logger.info("district baseline recorded", extra={"districts": len(current)})
        _save(lambda: save_known_districts(store, _known(current, sources, {}, run_id, clock())))
        return outcome
    previous = set(known.district_ids)
    keep = set(current)
    for district_id in sorted(current - previous):
        connection = _load_connection(store, district_id)
        reconnected = connection is not None and connection.status is ConnectionStatus.DISCONNECTED
        source = sources[district_id]
        alert = messages.district_connected(
            district_id, district_name=names.get(district_id), reconnected=reconnected, source=source
        )
        if _publish(publisher, alert, outcome):
            _set_connection(
                store, district_id, ConnectionStatus.CONNECTED, run_id, names.get(district_id), clock, source
            )
        else:
            keep.discard(district_id)  # not known yet: announced on the next discovery
    for district_id in sorted(previous - current):
        connection = _load_connection(store, district_id)
        tag = f"{EventType.DISTRICT_DISCONNECTED.value}:{district_id}"
        if connection is not None and connection.status is ConnectionStatus.DISCONNECTED:
            outcome.suppressed.append(tag)  # its revoked token was announced already
            continue
        name = names.get(district_id) or (connection.district_name if connection else None)
        remembered = (connection.source if connection else None) or known.sources.get(district_id)
        remembered_profile = known_source(remembered)
        if remembered is not None and remembered_profile is not None:
            reason = remembered_profile.wording.gone_from_list
            alert = messages.district_disconnected(district_id, reason, district_name=name, source=remembered)
        else:
            alert = messages.district_gone(district_id, district_name=name)
        if _publish(publisher, alert, outcome):
            _set_connection(
                store, district_id, ConnectionStatus.DISCONNECTED, run_id, name, clock, remembered
            )
        else:
            keep.add(district_id)  # still known: the disconnection is announced on the next discovery
    _save(lambda: save_known_districts(store, _known(keep, sources, known.sources, run_id, clock())))
    return outcome


def notify_fetch_result(
    result: FetchResult,
    store: PageStore,
    publisher: AlertPublisher,
    *,
    name: str | None = None,
    clock: Clock = _now,
) -> AlertOutcome:
    """`sync_failed`, or `district_disconnected` once for a revoked token, or `district_connected`
    when a district announced as disconnected fetches completely again."""
    outcome = AlertOutcome()
    district_id, source = result.district_id, result.source
    connection = _load_connection(store, district_id)
    name = name or (connection.district_name if connection else None)
    if result.failure is not None and result.failure.kind is FailureKind.DISCONNECTED:
        if connection is not None and connection.status is ConnectionStatus.DISCONNECTED:
            outcome.suppressed.append(f"{EventType.DISTRICT_DISCONNECTED.value}:{district_id}")
            return outcome
        if known_source(source) is not None:
            alert = messages.district_disconnected(
                district_id, _disconnect_reason(result), district_name=name, source=source
            )
        else:  # named by hand, and no source lists it
            reason = f"{result.failure.reason}." if result.failure.reason else None
            alert = messages.district_gone(district_id, reason, district_name=name)
        if _publish(publisher, alert, outcome):
            _set_connection(
                store, district_id, ConnectionStatus.DISCONNECTED, result.run_id, name, clock, source
            )
        return outcome
    if result.status is ManifestStatus.IN_PROGRESS:
        return outcome  # paused at the invocation's deadline: a further invocation continues it
    if result.status is not ManifestStatus.COMPLETE:
        _publish(
            publisher,
            messages.sync_failed(
                district_id, result.run_id, result.failure, district_name=name, source=source
            ),
            outcome,
        )
        return outcome
    if connection is not None and connection.status is ConnectionStatus.DISCONNECTED:
        alert = messages.district_connected(district_id, district_name=name, reconnected=True, source=source)
        if _publish(publisher, alert, outcome):
            _set_connection(
                store, district_id, ConnectionStatus.CONNECTED, result.run_id, name, clock, source
            )
    elif (
        connection is None
        or (name and connection.district_name != name)
        or connection.source != source  # remembered for the day no source lists it any more
    ):
        _set_connection(store, district_id, ConnectionStatus.CONNECTED, result.run_id, name, clock, source)
    return outcome


def _disconnect_reason(result: FetchResult) -> str:
    """How we know, in the source's words (`Wording.disconnect_reasons`), else its own reason."""
    words = known_source(result.source).wording  # type: ignore[union-attr]  # the caller checked
    reason = result.failure.reason if result.failure is not None else ""
    for fragment, sentence in words.disconnect_reasons.items():
        if fragment in reason:
            return sentence
    if words.default_disconnect_reason is not None:
        return words.default_disconnect_reason
    return f"{reason}." if reason else "Its source no longer serves this district."


def _load_connection(store: PageStore, district_id: str) -> ConnectionState | None:
    try:
        return load_connection(store, district_id)
    except (StorageError, ValueError) as exc:
        _state_error("connection", district_id, StorageError(str(exc)))
        return None


def _set_connection(
    store: PageStore,
    district_id: str,
    status: ConnectionStatus,
    run_id: str | None,
    name: str | None,
    clock: Clock,
    source: str | None = None,
) -> None:
    state = ConnectionState(
        status=status, run_id=run_id, changed_at=clock(), district_name=name, source=source
    )
    _save(lambda: save_connection(store, district_id, state))


def _known(
    ids: set[str], sources: Mapping[str, str], before: Mapping[str, str], run_id: str | None, now: datetime
) -> KnownDistricts:
    named = {i: s for i in ids if (s := sources.get(i) or before.get(i)) is not None}
    return KnownDistricts(district_ids=sorted(ids), sources=named, run_id=run_id, updated_at=now)


def record_outcome(outcome: AlertOutcome) -> None:
    """Metrics and one log line for a notify call: a failed publish is visible, never raised."""
    metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=len(outcome.published))
    metrics.add_metric(name="AlertsFailed", unit=MetricUnit.Count, value=len(outcome.failed))
    if outcome.failed:
        logger.error("alerts not published; retried on the next run", extra={"alerts": outcome.as_dict()})
    elif outcome.published or outcome.suppressed:
        logger.info("alerts", extra={"alerts": outcome.as_dict()})
