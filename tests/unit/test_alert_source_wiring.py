"""The wiring tells the alerts which source serves a district (issue 12), and the import learns
it from its payload, never from the fetch's artifacts (issue 20)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from rostersync.contracts.fetch import FetchResult, ManifestStatus
from rostersync.contracts.importer import PAYLOAD_NAME_MAX, ImportRequest
from rostersync.wiring import _record_source_requests, _source_names

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


def test_the_import_takes_the_districts_source_and_name_from_its_payload() -> None:
    """The import reads nothing of the fetch (its role may not read raw/): the payload says."""
    request = ImportRequest.model_validate(
        {"district_id": "4218990", "run_id": RUN, "source": "oneroster", "district_name": "x" * 5000}
    )
    assert request.source == "oneroster"
    assert request.district_name == "x" * PAYLOAD_NAME_MAX  # bounded
    with pytest.raises(ValidationError, match="source"):
        ImportRequest.model_validate({"district_id": "4218990", "run_id": RUN})


def _fetched(district_id: str, source: str, requests: int, status: ManifestStatus) -> FetchResult:
    return FetchResult(
        district_id=district_id,
        source=source,
        run_id=RUN,
        status=status,
        manifest_key=f"raw/{district_id}/{RUN}/manifest.json",
        records=1,
        pages=1,
        requests=requests,
    )


def test_source_requests_are_counted_per_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SourceRequests` (it was `CleverRequests` for every source) has a source dimension."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    _record_source_requests(
        [
            _fetched("c1", "clever", 9, ManifestStatus.COMPLETE),
            _fetched("c2", "clever", 4, ManifestStatus.FAILED),
            _fetched("4218990", "oneroster", 7, ManifestStatus.COMPLETE),
            _fetched("4218991", "oneroster", 5, ManifestStatus.IN_PROGRESS),  # counted when it ends
        ]
    )
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "SourceRequests" in line]
    assert [(e["source"], e["SourceRequests"]) for e in emitted] == [("clever", [13.0]), ("oneroster", [7.0])]
    for e in emitted:
        [directive] = e["_aws"]["CloudWatchMetrics"]
        assert ["source", "service"] in directive["Dimensions"] or ["service", "source"] in directive[
            "Dimensions"
        ]
