"""The wiring tells the alerts which source serves a district (issue 12), and the import learns
it from its payload, never from the fetch's artifacts (issue 20)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rostersync.importer.contract import PAYLOAD_NAME_MAX, ImportRequest
from rostersync.wiring import _source_names

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
