"""Issue 12: the wiring tells the alerts which source serves a district (ClassLink or Clever)."""

from __future__ import annotations

from datetime import UTC, datetime

from rostersync.fetch.contract import Manifest, ManifestStatus
from rostersync.importer.contract import ImportResult, RunStatus
from rostersync.layout import manifest_key
from rostersync.wiring import _run_source, _source_names
from tests.fakes import MemoryPageStore

RUN = "20261128T070000Z-aaaaaa"


class _Single:
    name = "clever"


class _Combined:
    name = "sources"

    def source_of(self, district_id: str) -> str | None:
        return {"4218990": "oneroster", "c1": "clever"}.get(district_id)


def test_discovery_names_the_source_of_each_district() -> None:
    assert _source_names(_Single(), ["a", "b"]) == {"a": "clever", "b": "clever"}  # type: ignore[arg-type]
    assert _source_names(_Combined(), ["4218990", "c1"]) == {"4218990": "oneroster", "c1": "clever"}  # type: ignore[arg-type]


def test_the_import_alert_takes_the_runs_source_from_its_manifest() -> None:
    store = MemoryPageStore()
    now = datetime(2026, 11, 28, 7, tzinfo=UTC)
    manifest = Manifest(
        source="oneroster",
        district_id="4218990",
        run_id=RUN,
        status=ManifestStatus.COMPLETE,
        started_at=now,
        finished_at=now,
    )
    store.put_json(manifest_key("4218990", RUN), manifest.model_dump(mode="json"))
    result = ImportResult(district_id="4218990", run_id=RUN, status=RunStatus.SUCCEEDED)
    assert _run_source(store, result) == "oneroster"
    # No manifest to read: the alert is still sent, in Clever's words.
    missing = ImportResult(district_id="gone", run_id=RUN, status=RunStatus.SUCCEEDED)
    assert _run_source(store, missing) == "clever"
