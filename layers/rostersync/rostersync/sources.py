"""Source adapters: a completed fetch's pages read back as normalized records.

Validation and import see only `records.py` types. Each source registers how its stored pages
become records; adding ClassLink (OneRoster) or Clever's Events API means adding a reader here,
not touching validation or import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rostersync.adapters.page_store import PageStore
from rostersync.clever.normalize import normalize as normalize_clever
from rostersync.errors import StorageError
from rostersync.manifest import Manifest, ManifestStatus, manifest_key
from rostersync.records import (
    CourseRecord,
    DistrictRecord,
    PersonRecord,
    SchoolRecord,
    SectionRecord,
    TermRecord,
)

Record = DistrictRecord | SchoolRecord | PersonRecord | SectionRecord | TermRecord | CourseRecord
RecordFactory = Callable[[], Iterator[Record]]


def load_manifest(store: PageStore, district_id: str, run_id: str) -> Manifest:
    """The run's manifest; a missing or unreadable one is a StorageError naming the key."""
    return Manifest.model_validate(store.get_json(manifest_key(district_id, run_id)))


def manifest_records(store: PageStore, manifest: Manifest) -> RecordFactory:
    """A re-iterable stream of the run's records: each call re-reads the pages, one at a time."""
    if manifest.status is not ManifestStatus.COMPLETE:
        raise StorageError(
            f"district {manifest.district_id} run {manifest.run_id} did not fetch completely; nothing to read"
        )

    def records() -> Iterator[Record]:
        for page in manifest.pages:
            body = store.get_json(page.key)
            items = body.get("records") if isinstance(body, dict) else None
            if not isinstance(items, list) or len(items) != page.records:
                raise StorageError(
                    f"page {page.key} does not hold the {page.records} records its manifest lists"
                )
            for item in items:
                yield from normalize_clever(page.resource, item, manifest.district_id)

    return records
