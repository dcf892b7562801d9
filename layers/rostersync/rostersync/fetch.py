"""The fetch stage: one district's Clever pages into the raw-page store, then its manifest.

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
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from rostersync.adapters.page_store import PageStore
from rostersync.alerts import notify_discovery, notify_fetch, record_outcome
from rostersync.clever.client import Page
from rostersync.clever.normalize import minimize
from rostersync.errors import CleverError, CleverProtocolError, DistrictDisconnected, StorageError
from rostersync.manifest import (
    Checkpoint,
    Failure,
    FailureKind,
    Manifest,
    ManifestStatus,
    PageRef,
    Resource,
    ResourceSummary,
    checkpoint_key,
    manifest_key,
    page_key,
)
from rostersync.observability import logger

if TYPE_CHECKING:
    from rostersync.adapters.alert_publisher import AlertPublisher


class DistrictPages(Protocol):
    """A source's paginated reads for one district (the Clever client's DistrictFetch)."""

    district_id: str
    requests: int

    def pages(
        self, resource: Resource, start: str | None = None, *, index: int = 0, seen: Iterable[str] = ()
    ) -> Iterator[Page]: ...


class DistrictDirectory(Protocol):
    """Which districts share data with us, and a paginated reader per district (the Clever client)."""

    def district_tokens(self, district_id: str | None = None) -> dict[str, str]: ...
    def district(self, district_id: str, token: str) -> DistrictPages: ...


class FetchResult(BaseModel):
    """What the fetch stage hands to validate: where the manifest is, and how it went."""

    district_id: str
    district_name: str | None = None
    run_id: str
    status: ManifestStatus
    manifest_key: str
    records: int
    pages: int
    requests: int
    counts: dict[Resource, int] = {}
    failure: Failure | None = None
    # Set when status is `in_progress`: where the fetch stopped, for the next invocation.
    checkpoint_key: str | None = None
    invocations: int = 1


Pause = Callable[[], bool]


def pause_near_deadline(remaining_ms: Callable[[], int], margin_seconds: float) -> Pause:
    """A `should_pause` that says yes once less than `margin_seconds` of the invocation remain
    (`remaining_ms` is the Lambda context's get_remaining_time_in_millis)."""
    return lambda: remaining_ms() < margin_seconds * 1000


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
) -> FetchResult:
    """Fetch every resource of one district into `store`.

    Leaves a manifest behind (`complete` or `failed`), or, when `should_pause()` turned true
    between two pages, a checkpoint and an `in_progress` result. Given a `checkpoint`, continues
    from it: the pages already written are kept, the rest are fetched, and the manifest is the
    one an uninterrupted fetch would have written.
    """
    district_id = source.district_id
    if checkpoint is not None and (checkpoint.district_id, checkpoint.run_id) != (district_id, run_id):
        raise ValueError(
            f"checkpoint of {checkpoint.district_id}/{checkpoint.run_id} given for {district_id}/{run_id}"
        )
    progress = (
        checkpoint.model_copy(deep=True)
        if checkpoint is not None
        else Checkpoint(district_id=district_id, run_id=run_id, started_at=clock())
    )
    progress.invocations += 1
    earlier_requests = progress.requests
    manifest = Manifest(
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

    current: Resource | None = progress.current
    try:
        for resource in Resource:
            if resource in progress.resources:
                continue
            current = resource
            if progress.current is not resource:
                if pause():
                    progress.current, progress.current_summary = None, None
                    raise _Paused
                progress.current = resource
                progress.current_summary = ResourceSummary(resource=resource)
                progress.next_link, progress.page_index, progress.cursors = None, 0, []
            _fetch_resource(source, store, run_id, progress, pause, page_written)
        manifest.status = ManifestStatus.COMPLETE
    except _Paused:
        return _pause(source, store, progress, earlier_requests)
    except DistrictDisconnected as exc:
        manifest.failure = Failure(kind=FailureKind.DISCONNECTED, reason=str(exc), resource=current)
    except CleverProtocolError as exc:
        manifest.failure = Failure(kind=FailureKind.PROTOCOL_ERROR, reason=str(exc), resource=current)
    except CleverError as exc:
        manifest.failure = Failure(kind=FailureKind.CLEVER_ERROR, reason=str(exc), resource=current)
    except StorageError as exc:
        manifest.failure = Failure(kind=FailureKind.STORAGE_ERROR, reason=str(exc), resource=current)
    manifest.district_name = progress.district_name
    manifest.resources = {r: progress.resources[r] for r in Resource if r in progress.resources}
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
            "resource": progress.current.value if progress.current else None,
            "page_index": progress.page_index,
            "pages": len(progress.pages),
            "invocations": progress.invocations,
        },
    )
    return FetchResult(
        district_id=progress.district_id,
        district_name=progress.district_name,
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
) -> None:
    """Fetch `progress.current` from where `progress` says, recording each page in it; raises
    _Paused (with `progress` pointing at the next page) when `pause()` says so between pages."""
    resource = progress.current
    summary = progress.current_summary
    if resource is None or summary is None:
        raise RuntimeError(f"district {source.district_id}: no resource in progress to fetch")
    started = time.perf_counter()
    requests_before = source.requests

    def account() -> None:
        summary.requests += source.requests - requests_before
        summary.seconds = round(summary.seconds + time.perf_counter() - started, 3)

    pages = source.pages(resource, progress.next_link, index=progress.page_index, seen=progress.cursors)
    for page in pages:
        records = [minimize(resource, record) for record in page.records]
        if resource is Resource.DISTRICTS and records and isinstance(records[0].get("name"), str):
            progress.district_name = records[0]["name"]
        key = page_key(source.district_id, run_id, resource, page.index)
        size = store.put_json(
            key,
            {"source": "clever", "resource": resource.value, "page": page.index, "records": records},
            compress=True,
        )
        progress.pages.append(
            PageRef(resource=resource, index=page.index, key=key, records=len(records), bytes=size)
        )
        progress.cursors.append(page.link)
        progress.next_link, progress.page_index = page.next, page.index + 1
        summary.pages += 1
        summary.records += len(records)
        page_written()
        if page.next is not None and pause():
            account()
            raise _Paused
    account()
    summary.complete = True
    progress.resources[resource] = summary
    progress.current, progress.current_summary = None, None
    progress.next_link, progress.page_index, progress.cursors = None, 0, []


def fetch_districts(
    directory: DistrictDirectory,
    store: PageStore,
    run_id: str,
    district_ids: list[str] | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    should_pause: Pause | None = None,
    resume: bool = False,
) -> list[FetchResult]:
    """Fetch the named districts, or every district that shares data with us, one after another.

    A district asked for by id that has no token gets a `failed` (disconnected) manifest, so the
    caller sees it rather than a silent skip. A failure to list tokens at all propagates. With
    `resume`, each district continues from its stored checkpoint (tokens are fetched anew here);
    one without a checkpoint is fetched from the start, which is safe: pages are rewritten under
    the same keys and the manifest is still written last.
    """
    tokens = directory.district_tokens()
    results: list[FetchResult] = []
    for district_id in district_ids or sorted(tokens):
        token = tokens.get(district_id)
        if token is None:
            results.append(_disconnected(store, district_id, run_id, clock()))
            continue
        checkpoint = load_checkpoint(store, district_id, run_id) if resume else None
        results.append(
            fetch_district(
                directory.district(district_id, token),
                store,
                run_id,
                clock=clock,
                should_pause=should_pause,
                checkpoint=checkpoint,
            )
        )
    return results


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


class FetchOutcome(BaseModel):
    """What one fetch invocation did: discovered the districts, or fetched some."""

    run_id: str
    district_ids: list[str] | None = None
    districts: list[FetchResult] | None = None


def run_fetch(
    directory: DistrictDirectory,
    store: PageStore,
    publisher: AlertPublisher,
    run_id: str,
    *,
    discover: bool = False,
    district_ids: list[str] | None = None,
    resume: bool = False,
    should_pause: Pause | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FetchOutcome:
    """One fetch invocation. `discover`: list the connected districts and announce connections
    and disconnections, fetch nothing. Otherwise fetch (or, with `resume`, continue fetching)
    the named districts, or all of them, and alert on the results; a full run (no ids) is also
    the discovery the connection alerts need."""
    if discover:
        ids = sorted(directory.district_tokens())
        record_outcome(notify_discovery(ids, store, publisher, run_id=run_id))
        return FetchOutcome(run_id=run_id, district_ids=ids)
    results = fetch_districts(
        directory, store, run_id, district_ids, clock=clock, should_pause=should_pause, resume=resume
    )
    discovered = [r.district_id for r in results] if district_ids is None else None
    record_outcome(notify_fetch(results, store, publisher, discovered=discovered, run_id=run_id))
    return FetchOutcome(run_id=run_id, districts=results)


def _disconnected(store: PageStore, district_id: str, run_id: str, now: datetime) -> FetchResult:
    failure = Failure(kind=FailureKind.DISCONNECTED, reason="Clever lists no token for this district")
    manifest = Manifest(
        district_id=district_id,
        run_id=run_id,
        status=ManifestStatus.FAILED,
        started_at=now,
        finished_at=now,
        failure=failure,
    )
    key = manifest_key(district_id, run_id)
    store.put_json(key, manifest.model_dump(mode="json"))
    logger.warning("district has no Clever token", extra={"district_id": district_id, "run_id": run_id})
    return FetchResult(
        district_id=district_id,
        run_id=run_id,
        status=ManifestStatus.FAILED,
        manifest_key=key,
        records=0,
        pages=0,
        requests=0,
        failure=failure,
    )
