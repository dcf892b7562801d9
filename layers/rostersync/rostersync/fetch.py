"""The fetch stage: one district's Clever pages into the raw-page store, then its manifest.

Pages are minimized and written as they arrive, so memory stays flat however large the
district. The manifest is written last and says `complete` only when every resource finished;
a failed district gets a manifest saying `failed` with the reason, and goes no further.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel

from rostersync.adapters.page_store import PageStore
from rostersync.clever.client import Page
from rostersync.clever.normalize import minimize
from rostersync.errors import CleverError, CleverProtocolError, DistrictDisconnected, StorageError
from rostersync.manifest import (
    Failure,
    FailureKind,
    Manifest,
    ManifestStatus,
    PageRef,
    Resource,
    ResourceSummary,
    manifest_key,
    page_key,
)
from rostersync.observability import logger


class DistrictPages(Protocol):
    """A source's paginated reads for one district (the Clever client's DistrictFetch)."""

    district_id: str
    requests: int

    def pages(self, resource: Resource) -> Iterator[Page]: ...


class DistrictDirectory(Protocol):
    """Which districts share data with us, and a paginated reader per district (the Clever client)."""

    def district_tokens(self, district_id: str | None = None) -> dict[str, str]: ...
    def district(self, district_id: str, token: str) -> DistrictPages: ...


class FetchResult(BaseModel):
    """What the fetch stage hands to validate: where the manifest is, and how it went."""

    district_id: str
    run_id: str
    status: ManifestStatus
    manifest_key: str
    records: int
    pages: int
    requests: int
    counts: dict[Resource, int] = {}
    failure: Failure | None = None


def fetch_district(
    source: DistrictPages,
    store: PageStore,
    run_id: str,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FetchResult:
    """Fetch every resource of one district into `store`; always leaves a manifest behind."""
    district_id = source.district_id
    manifest = Manifest(
        district_id=district_id,
        run_id=run_id,
        status=ManifestStatus.FAILED,
        started_at=clock(),
        finished_at=clock(),
    )
    current: Resource | None = None
    try:
        for resource in Resource:
            current = resource
            manifest.resources[resource] = _fetch_resource(source, store, run_id, resource, manifest.pages)
        manifest.status = ManifestStatus.COMPLETE
    except DistrictDisconnected as exc:
        manifest.failure = Failure(kind=FailureKind.DISCONNECTED, reason=str(exc), resource=current)
    except CleverProtocolError as exc:
        manifest.failure = Failure(kind=FailureKind.PROTOCOL_ERROR, reason=str(exc), resource=current)
    except CleverError as exc:
        manifest.failure = Failure(kind=FailureKind.CLEVER_ERROR, reason=str(exc), resource=current)
    except StorageError as exc:
        manifest.failure = Failure(kind=FailureKind.STORAGE_ERROR, reason=str(exc), resource=current)
    manifest.finished_at = clock()
    key = manifest_key(district_id, run_id)
    # If this write fails too, the StorageError propagates: the invocation fails and is retried,
    # which is the right outcome when the store itself is down.
    store.put_json(key, manifest.model_dump(mode="json"))
    total = sum(summary.records for summary in manifest.resources.values())
    log = logger.info if manifest.status is ManifestStatus.COMPLETE else logger.warning
    log(
        "district fetched",
        extra={
            "district_id": district_id,
            "run_id": run_id,
            "status": manifest.status.value,
            "records": total,
            "pages": len(manifest.pages),
            "requests": source.requests,
            "failure_kind": manifest.failure.kind.value if manifest.failure else None,
        },
    )
    return FetchResult(
        district_id=district_id,
        run_id=run_id,
        status=manifest.status,
        manifest_key=key,
        records=total,
        pages=len(manifest.pages),
        requests=source.requests,
        counts={resource: summary.records for resource, summary in manifest.resources.items()},
        failure=manifest.failure,
    )


def _fetch_resource(
    source: DistrictPages, store: PageStore, run_id: str, resource: Resource, pages: list[PageRef]
) -> ResourceSummary:
    summary = ResourceSummary(resource=resource)
    started = time.perf_counter()
    requests_before = source.requests
    for page in source.pages(resource):
        records = [minimize(resource, record) for record in page.records]
        key = page_key(source.district_id, run_id, resource, page.index)
        size = store.put_json(
            key,
            {"source": "clever", "resource": resource.value, "page": page.index, "records": records},
            compress=True,
        )
        pages.append(PageRef(resource=resource, index=page.index, key=key, records=len(records), bytes=size))
        summary.pages += 1
        summary.records += len(records)
    summary.requests = source.requests - requests_before
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.complete = True
    return summary


def fetch_districts(
    directory: DistrictDirectory,
    store: PageStore,
    run_id: str,
    district_ids: list[str] | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[FetchResult]:
    """Fetch the named districts, or every district that shares data with us, one after another.

    A district asked for by id that has no token gets a `failed` (disconnected) manifest, so the
    caller sees it rather than a silent skip. A failure to list tokens at all propagates.
    """
    tokens = directory.district_tokens()
    results: list[FetchResult] = []
    for district_id in district_ids or sorted(tokens):
        token = tokens.get(district_id)
        if token is None:
            results.append(_disconnected(store, district_id, run_id, clock()))
            continue
        results.append(fetch_district(directory.district(district_id, token), store, run_id, clock=clock))
    return results


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
