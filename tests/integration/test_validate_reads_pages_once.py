"""Validation reads each fetched page from the store once (issue 21, Build item 14): two passes,
and OneRoster's normalizer reads the users twice a pass, so without the reader's page cache a
users page was fetched from S3 four times. A run whose pages are too large in all to keep is read
as before, page by page, every time."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from rostersync import run_artifacts
from rostersync.fetch.stage import fetch_district
from rostersync.sources.oneroster.client import OneRosterClient, OneRosterLimits, OneRosterTenant
from rostersync.validate.stage import validate_run
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from tests.fakes.page_store import MemoryPageStore

DISTRICT = "4299998"


class CountingStore(MemoryPageStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()

    def get_json(self, key: str) -> Any:
        self.reads[key] += 1
        return super().get_json(key)

    def get_bytes(self, key: str) -> bytes:
        self.reads[key] += 1
        return super().get_bytes(key)


def _fetched(store: CountingStore) -> tuple[list[str], dict[str, Any]]:
    spec = TenantSpec(DISTRICT, "Keystone Valley SD", seed=7, students_per_school=10)
    with OneRosterSandbox([spec]) as box:
        box.faults.max_page = 7  # several pages per collection
        entry = box.secret_value()["tenants"][0]
        client = OneRosterClient(OneRosterTenant(**entry), OneRosterLimits(page_limit=1000))
        try:
            result = fetch_district(client, store, "run-1")
        finally:
            client.close()
    manifest = store.get_json(result.manifest_key)
    return [page["key"] for page in manifest["pages"]], manifest


def test_each_page_is_read_from_the_store_once_across_both_passes() -> None:
    store = CountingStore()
    pages, _ = _fetched(store)
    assert len(pages) > 7 and any("users" in key for key in pages)
    store.reads.clear()
    result = validate_run(store, DISTRICT, "run-1")
    assert result.accepted > 0
    assert {key: store.reads[key] for key in pages} == dict.fromkeys(pages, 1)


def test_pages_too_large_to_keep_are_read_again_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    store = CountingStore()
    pages, _ = _fetched(store)
    reference = validate_run(store, DISTRICT, "run-1")
    monkeypatch.setattr(run_artifacts, "PAGE_CACHE_BYTES", 1)
    store.reads.clear()
    again = validate_run(store, DISTRICT, "run-1")
    users = [key for key in pages if "/users/" in key]
    assert users and all(store.reads[key] == 4 for key in users)  # two passes, users twice a pass
    assert again.model_dump() == reference.model_dump()  # the same outcome either way
