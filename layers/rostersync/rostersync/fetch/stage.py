"""The fetch stage: one district's pages from its source into the raw-page store, then its manifest.

Pages are minimized and written as they arrive, so memory stays flat however large the
district. The manifest is written last and says `complete` only when every resource finished;
a failed district gets a manifest saying `failed` with the reason, and goes no further.

A district too large for one invocation pauses between two pages when `should_pause()` says
the invocation's time is nearly up: it writes `checkpoint.json` (no manifest) and returns
`in_progress`; a further invocation given that checkpoint continues where it stopped. Each
invocation fetches at least one page before it may pause, so a resumed fetch always advances.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from rostersync.contracts.fetch import (
    Checkpoint,
    Failure,
    FailureKind,
    FetchResult,
    Manifest,
    ManifestStatus,
    PageRef,
    ResourceSummary,
)
from rostersync.errors import (
    DistrictDisconnected,
    DistrictSettingsInvalid,
    PageDeferred,
    SourceError,
    SourceKeyRefused,
    SourceProtocolError,
    StorageError,
)
from rostersync.layout import checkpoint_key, manifest_key, page_key
from rostersync.observability import logger
from rostersync.ports import DistrictPages, Page, PageStore, Source
from rostersync.sources import known as known_source

Pause = Callable[[], bool]
Fits = Callable[[float], bool]  # whether that many more seconds fit before the pause margin


def fits_before_deadline(remaining_ms: Callable[[], int], margin_seconds: float) -> Fits:
    """`fits(seconds)`: that much more work still leaves `margin_seconds` of the invocation
    (`remaining_ms` is the Lambda context's get_remaining_time_in_millis)."""
    return lambda seconds: remaining_ms() - seconds * 1000 >= margin_seconds * 1000


def pause_near_deadline(remaining_ms: Callable[[], int], margin_seconds: float) -> Pause:
    """A `should_pause` that says yes once less than `margin_seconds` of the invocation remain."""
    fits = fits_before_deadline(remaining_ms, margin_seconds)
    return lambda: not fits(0)


def _never() -> bool:
    return False


class _Paused(Exception):
    """Raised inside fetch_district when it stops at a page boundary to checkpoint."""


def fetch_district(
    source: DistrictPages,
    store: PageStore,
    run_id: str,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    should_pause: Pause | None = None,
    checkpoint: Checkpoint | None = None,
    fits: Fits | None = None,
) -> FetchResult:
    """Fetch every resource of one district into `store`.

    Leaves a manifest behind (`complete` or `failed`), or, when `should_pause()` turned true
    between two pages, a checkpoint and an `in_progress` result. The same when the source defers
    a page it would ask for again smaller because `fits` says the attempt would not fit
    (`PageDeferred`): the checkpoint resumes at the smaller page. That needs no page written by
    this invocation: the smaller size is itself progress (at most a few halvings). Given a
    `checkpoint`, continues from it: the pages already written are kept, the rest are fetched,
    and the manifest is the one an uninterrupted fetch would have written.
    """
    district_id, source_name, resources = source.district_id, source.source, source.resources
    if checkpoint is not None and (checkpoint.district_id, checkpoint.run_id) != (district_id, run_id):
        raise ValueError(
            f"checkpoint of {checkpoint.district_id}/{checkpoint.run_id} given for {district_id}/{run_id}"
        )
    progress = (
        checkpoint.model_copy(deep=True)
        if checkpoint is not None
        else Checkpoint(district_id=district_id, run_id=run_id, started_at=clock(), source=source_name)
    )
    progress.invocations += 1
    earlier_requests = progress.requests
    manifest = Manifest(
        source=source_name,
        district_id=district_id,
        run_id=run_id,
        status=ManifestStatus.FAILED,
        started_at=progress.started_at,
        finished_at=clock(),
    )
    advanced = False
    wants_pause = should_pause or _never

    def pause() -> bool:
        # Only once this invocation has written a page: a resumed fetch always advances.
        return advanced and wants_pause()

    def page_written() -> None:
        nonlocal advanced
        advanced = True

    current: str | None = progress.current
    try:
        for resource in resources:
            if resource in progress.resources:
                continue
            current = resource
            if progress.current != resource:
                if pause():
                    progress.current, progress.current_summary = None, None
                    raise _Paused
                progress.current = resource
                progress.current_summary = ResourceSummary(resource=resource)
                progress.next_link, progress.page_index, progress.cursors = None, 0, []
            _fetch_resource(source, store, run_id, progress, pause, page_written, fits)
        manifest.status = ManifestStatus.COMPLETE
    except _Paused:
        return _pause(source, store, progress, earlier_requests)
    except DistrictDisconnected as exc:
        manifest.failure = Failure(kind=FailureKind.DISCONNECTED, reason=str(exc), resource=current)
    except SourceKeyRefused as exc:
        manifest.failure = Failure(kind=FailureKind.KEY_REFUSED, reason=str(exc), resource=current)
    except SourceProtocolError as exc:
        manifest.failure = Failure(kind=FailureKind.PROTOCOL_ERROR, reason=str(exc), resource=current)
    except SourceError as exc:
        manifest.failure = Failure(kind=FailureKind.SOURCE_ERROR, reason=str(exc), resource=current)
    except StorageError as exc:
        manifest.failure = Failure(kind=FailureKind.STORAGE_ERROR, reason=str(exc), resource=current)
    except Exception as exc:  # one district must never stop the others
        manifest.failure = _internal_failure(exc, district_id, run_id, current)
    manifest.district_name = progress.district_name
    manifest.district_status = progress.district_status
    manifest.resources = {r: progress.resources[r] for r in resources if r in progress.resources}
    manifest.pages = progress.pages
    manifest.finished_at = clock()
    key = manifest_key(district_id, run_id)
    # If this write fails too, the StorageError propagates: the invocation fails and is retried,
    # which is the right outcome when the store itself is down.
    store.put_json(key, manifest.model_dump(mode="json"))
    total = sum(summary.records for summary in manifest.resources.values())
    requests = earlier_requests + source.requests
    log = logger.info if manifest.status is ManifestStatus.COMPLETE else logger.warning
    log(
        "district fetched",
        extra={
            "district_id": district_id,
            "run_id": run_id,
            "status": manifest.status.value,
            "records": total,
            "pages": len(manifest.pages),
            "requests": requests,
            "invocations": progress.invocations,
            "failure_kind": manifest.failure.kind.value if manifest.failure else None,
        },
    )
    return FetchResult(
        district_id=district_id,
        district_name=manifest.district_name,
        source=manifest.source,
        run_id=run_id,
        status=manifest.status,
        manifest_key=key,
        records=total,
        pages=len(manifest.pages),
        requests=requests,
        counts={resource: summary.records for resource, summary in manifest.resources.items()},
        failure=manifest.failure,
        invocations=progress.invocations,
    )


def _internal_failure(exc: Exception, district_id: str, run_id: str, resource: str | None) -> Failure:
    """An exception nobody expected (a bug, or data no check foresaw) as the district's failure.

    Only the exception's type is kept, logged and alerted: its message or traceback may quote the
    data that caused it (a UnicodeEncodeError repeats the whole string it could not encode).
    """
    logger.error(
        "district fetch failed unexpectedly",
        extra={
            "district_id": district_id,
            "run_id": run_id,
            "resource": resource,
            "error": type(exc).__name__,
        },
    )
    return Failure(
        kind=FailureKind.INTERNAL_ERROR,
        reason=f"unexpected {type(exc).__name__} while fetching (details withheld: they may quote the data)",
        resource=resource,
    )


def _pause(
    source: DistrictPages, store: PageStore, progress: Checkpoint, earlier_requests: int
) -> FetchResult:
    """Write the checkpoint (a StorageError propagates: the invocation fails and is retried from
    the previous checkpoint, whose pages are rewritten with the same content)."""
    progress.requests = earlier_requests + source.requests
    key = checkpoint_key(progress.district_id, progress.run_id)
    store.put_json(key, progress.model_dump(mode="json"))
    done = list(progress.resources.values()) + (
        [progress.current_summary] if progress.current_summary else []
    )
    counts = {summary.resource: summary.records for summary in done}
    logger.info(
        "district fetch paused at the invocation's deadline; it continues from the checkpoint",
        extra={
            "district_id": progress.district_id,
            "run_id": progress.run_id,
            "resource": progress.current,
            "page_index": progress.page_index,
            "pages": len(progress.pages),
            "invocations": progress.invocations,
        },
    )
    return FetchResult(
        district_id=progress.district_id,
        district_name=progress.district_name,
        source=progress.source,
        run_id=progress.run_id,
        status=ManifestStatus.IN_PROGRESS,
        manifest_key=manifest_key(progress.district_id, progress.run_id),
        records=sum(counts.values()),
        pages=len(progress.pages),
        requests=progress.requests,
        counts=counts,
        checkpoint_key=key,
        invocations=progress.invocations,
    )


def _fetch_resource(
    source: DistrictPages,
    store: PageStore,
    run_id: str,
    progress: Checkpoint,
    pause: Pause,
    page_written: Callable[[], None],
    fits: Fits | None = None,
) -> None:
    """Fetch `progress.current` from where `progress` says, recording each page in it; raises
    _Paused (with `progress` pointing at the next page) when `pause()` says so between pages, or
    when the source defers a page to the next invocation (`progress` then points at it)."""
    resource = progress.current
    summary = progress.current_summary
    if resource is None or summary is None:
        raise RuntimeError(f"district {source.district_id}: no resource in progress to fetch")
    started = time.perf_counter()
    requests_before = source.requests

    def account() -> None:
        summary.requests += source.requests - requests_before
        summary.seconds = round(summary.seconds + time.perf_counter() - started, 3)

    pages = source.pages(
        resource, progress.next_link, index=progress.page_index, seen=progress.cursors, fits=fits
    )
    try:
        for page in pages:
            _record_page(source, store, run_id, progress, resource, summary, page)
            page_written()
            if page.next is not None and pause():
                account()
                raise _Paused
    except PageDeferred as deferred:
        logger.info(
            "a slow page is left to the next invocation, at a smaller size",
            extra={"district_id": source.district_id, "resource": resource},
        )
        progress.next_link = deferred.link
        account()
        raise _Paused from None
    account()
    summary.complete = True
    progress.resources[resource] = summary
    progress.current, progress.current_summary = None, None
    progress.next_link, progress.page_index, progress.cursors = None, 0, []


def _record_page(
    source: DistrictPages,
    store: PageStore,
    run_id: str,
    progress: Checkpoint,
    resource: str,
    summary: ResourceSummary,
    page: Page,
) -> None:
    """One fetched page of `resource` into the store and into `progress` and the resource's
    `summary` (its key, its counts, its cursor, and the link of the page after it)."""
    records = page.records
    progress.district_name = source.district_name(page) or progress.district_name
    progress.district_status = source.district_status(page) or progress.district_status
    key = page_key(source.district_id, run_id, resource, page.index)
    size = store.put_json(
        key,
        {"source": progress.source, "resource": resource, "page": page.index, "records": records},
        compress=True,
    )
    progress.pages.append(
        PageRef(resource=resource, index=page.index, key=key, records=len(records), bytes=size)
    )
    progress.cursors.append(page.link)
    progress.next_link, progress.page_index = page.next, page.index + 1
    summary.pages += 1
    summary.records += len(records)


def fetch_districts(
    source: Source,
    store: PageStore,
    run_id: str,
    district_ids: list[str] | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    should_pause: Pause | None = None,
    resume: bool = False,
    fits: Fits | None = None,
) -> list[FetchResult]:
    """Fetch the named districts, or every district that shares data with us, one after another.

    A district asked for by id that the source does not serve gets a `failed` (disconnected)
    manifest, so the caller sees it rather than a silent skip. A failure to list the districts at
    all propagates. With `resume`, each district continues from its stored checkpoint; one
    without a checkpoint is fetched from the start, which is safe: pages are rewritten under the
    same keys and the manifest is still written last.
    """
    results: list[FetchResult] = []
    for district_id in district_ids or source.district_ids():
        try:
            reader = source.district(district_id)
            checkpoint = load_checkpoint(store, district_id, run_id) if resume and reader else None
        except Exception as exc:  # fail this district, fetch the next
            failure = _setup_failure(exc, district_id, run_id)
            # A combined source is no district's source: the error may name the district's own.
            named = exc.source if isinstance(exc, DistrictSettingsInvalid) else source.name
            results.append(_failed(store, named, district_id, run_id, clock(), failure))
            continue
        if reader is None:
            reason = getattr(source, "absent_reason", None)
            results.append(_disconnected(store, source.name, district_id, run_id, clock(), reason))
            continue
        # fetch_district turns every failure of the district into its failed manifest; what still
        # escapes is a failed write of that manifest (or checkpoint): the store is down, so the
        # invocation fails and is retried rather than pretending to have recorded anything.
        results.append(
            fetch_district(
                reader,
                store,
                run_id,
                clock=clock,
                should_pause=should_pause,
                checkpoint=checkpoint,
                fits=fits,
            )
        )
    return results


def _setup_failure(exc: Exception, district_id: str, run_id: str) -> Failure:
    """A failure before the district's first page: its token lookup or its checkpoint."""
    if isinstance(exc, DistrictDisconnected):
        return Failure(kind=FailureKind.DISCONNECTED, reason=str(exc))
    if isinstance(exc, DistrictSettingsInvalid):
        logger.error(
            "district settings not usable",
            extra={"district_id": district_id, "run_id": run_id, "problem": exc.problem},
        )
        return Failure(kind=FailureKind.SETTINGS_INVALID, reason=str(exc))
    if isinstance(exc, SourceError):
        return Failure(kind=FailureKind.SOURCE_ERROR, reason=str(exc))
    if isinstance(exc, StorageError):
        return Failure(kind=FailureKind.STORAGE_ERROR, reason=str(exc))
    return _internal_failure(exc, district_id, run_id, None)


def load_checkpoint(store: PageStore, district_id: str, run_id: str) -> Checkpoint | None:
    """The checkpoint a paused fetch of this district and run left, or None (logged)."""
    key = checkpoint_key(district_id, run_id)
    if not store.exists(key):
        logger.warning(
            "resume asked for but no checkpoint is stored; fetching from the start",
            extra={"district_id": district_id, "run_id": run_id},
        )
        return None
    return Checkpoint.model_validate(store.get_json(key))


def _disconnected(
    store: PageStore, source: str, district_id: str, run_id: str, now: datetime, reason: str | None = None
) -> FetchResult:
    if reason is None:
        known = known_source(source)
        reason = known.wording.not_listed if known is not None else "no source lists this district"
    logger.warning("district not served by its source", extra={"district_id": district_id, "run_id": run_id})
    return _failed(
        store, source, district_id, run_id, now, Failure(kind=FailureKind.DISCONNECTED, reason=reason)
    )


def _failed(
    store: PageStore, source: str, district_id: str, run_id: str, now: datetime, failure: Failure
) -> FetchResult:
    """A failed manifest for a district whose fetch never began (a StorageError writing it propagates)."""
    manifest = Manifest(
        source=source,
        district_id=district_id,
        run_id=run_id,
        status=ManifestStatus.FAILED,
        started_at=now,
        finished_at=now,
        failure=failure,
    )
    key = manifest_key(district_id, run_id)
    store.put_json(key, manifest.model_dump(mode="json"))
    return FetchResult(
        district_id=district_id,
        source=source,
        run_id=run_id,
        status=ManifestStatus.FAILED,
        manifest_key=key,
        records=0,
        pages=0,
        requests=0,
        failure=failure,
    )
