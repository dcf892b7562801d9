"""The readers of a run's artifacts: what fetch left for validate and what validate left for import.

Below the stages (docs/ARCHITECTURE.md, "Layers"): validate reads the fetch's pages here, import
and a hold release read validate's results and the fetch's manifest here, and no stage imports
another stage to read them.

* Fetched pages (the fetch stage's manifest and pages) as normalized records: each page is read
  with the normalizer of the source that wrote it (`rostersync.sources.normalize`), so
  validation and import never ask which source a record came from.
* A validated run's result, accepted records and rejected ids (what import reads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import TypeAdapter

from rostersync.contracts.fetch import Manifest, ManifestStatus, PageRef
from rostersync.contracts.validate import ValidateResult
from rostersync.errors import StorageError
from rostersync.layout import manifest_key, validate_result_key
from rostersync.ports import PageStore
from rostersync.records import Kind, Normalized, Record, RosterRecord
from rostersync.sources import normalize_district
from rostersync.stored_json import decode_json

_RECORD: TypeAdapter[Record] = TypeAdapter(RosterRecord)
# The most stored page bytes (gzip, as the manifest counts them) a reader keeps in memory.
PAGE_CACHE_BYTES = 64 * 1024 * 1024


def load_manifest(store: PageStore, district_id: str, run_id: str) -> Manifest:
    """The run's manifest; a missing or unreadable one is a StorageError naming the key."""
    return Manifest.model_validate(store.get_json(manifest_key(district_id, run_id)))


def manifest_records(store: PageStore, manifest: Manifest) -> Callable[[], Iterator[Normalized]]:
    """A re-iterable stream of the run's records (and the source's notes about the district, see
    records.SourceNote): each call re-reads the pages, one at a time."""
    if manifest.status is not ManifestStatus.COMPLETE:
        raise StorageError(
            f"district {manifest.district_id} run {manifest.run_id} did not fetch completely; nothing to read"
        )

    resources = list(dict.fromkeys(page.resource for page in manifest.pages))
    # Validation reads the pages twice (two passes), and a source's normalizer may read a
    # collection more than once a pass (OneRoster's users: identities first, then the people).
    # The stored (gzip) bytes of a run's pages are kept after their first read when they are
    # small enough in all, so each page is fetched from the store once; they are decoded afresh
    # each time (the decoded records would take ~50x the room). While a page's records are
    # read, the next page is fetched in the background (one page ahead).
    cached: dict[str, bytes] | None = (
        {} if sum(page.bytes for page in manifest.pages) <= PAGE_CACHE_BYTES else None
    )

    def stored(key: str) -> bytes:
        data = cached.get(key) if cached is not None else None
        if data is None:
            data = store.get_bytes(key)
            if cached is not None:
                cached[key] = data
        return data

    def page_records(page: PageRef, data: bytes) -> list[Any]:
        try:
            body = decode_json(data)
        except (OSError, EOFError, ValueError):  # EOFError: a truncated gzip stream
            body = store.get_json(page.key)  # not JSON: the store's own read says so, naming it
        items = body.get("records") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != page.records:
            raise StorageError(f"page {page.key} does not hold the {page.records} records its manifest lists")
        return items

    def read_resource(resource: str) -> Iterator[dict[str, Any]]:
        pages = [page for page in manifest.pages if page.resource == resource]
        if not pages:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-reader") as reader:
            ahead = reader.submit(stored, pages[0].key)
            for page, following in zip(pages, [*pages[1:], None], strict=True):
                data = ahead.result()
                if following is not None:
                    ahead = reader.submit(stored, following.key)
                yield from page_records(page, data)

    def read_pages() -> Iterator[Normalized]:
        # The night the records were fetched: a source that derives a graduation year from a
        # grade reads the school year in progress then.
        yield from normalize_district(
            manifest.source, resources, read_resource, manifest.district_id, manifest.started_at.date()
        )

    return read_pages


def load_result(store: PageStore, district_id: str, run_id: str) -> ValidateResult:
    return ValidateResult.model_validate(store.get_json(validate_result_key(district_id, run_id)))


def accepted_records(store: PageStore, result: ValidateResult) -> Callable[[], Iterator[tuple[Kind, Record]]]:
    """The accepted records of a validated run, re-readable, one chunk in memory at a time."""

    def read_accepted() -> Iterator[tuple[Kind, Record]]:
        for key in result.accepted_keys:
            for item in store.get_json(key)["records"]:
                yield Kind(item["kind"]), _RECORD.validate_python(item["record"])

    return read_accepted


def rejected_ids(store: PageStore, result: ValidateResult) -> dict[str, frozenset[Kind]]:
    """Ids fetched but rejected -> the roster kinds whose last good version stays active.

    A file without `keep` (written before kinds were recorded) keeps every kind of its ids, as
    the import did then.
    """
    if result.rejected_key is None:
        return {}
    body = store.get_json(result.rejected_key)
    keep = body.get("keep")
    if keep is None:
        every = frozenset(Kind)
        return dict.fromkeys(body["ids"], every)
    return {str(i): frozenset(Kind(k) for k in kinds) for i, kinds in keep.items()}
