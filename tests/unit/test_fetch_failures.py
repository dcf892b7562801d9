"""A district is the unit of failure: whatever one district's fetch raises, it ends with its own failed
manifest and the loop over districts goes on; only a failed write of that manifest stops the loop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rostersync.contracts.fetch import FailureKind, Manifest, ManifestStatus
from rostersync.errors import CleverError, StorageError
from rostersync.fetch.stage import fetch_districts
from rostersync.layout import manifest_key
from rostersync.ports import Page
from rostersync.sources.clever.resources import Resource
from tests.fakes import MemoryPageStore
from tests.unit.test_fetch_checkpoint import NOW, RUN, FakeSource

SECRET_NAME = "Zoë Q. Hostile-Lastname"


class Exploding(FakeSource):
    """Raises `error` on the students listing, as data no check foresaw might make the code do."""

    def __init__(self, district_id: str, error: BaseException) -> None:
        super().__init__()
        self.district_id = district_id
        self.error = error

    def pages(self, resource: Resource, start: str | None = None, **paging: Any) -> Iterator[Page]:
        if Resource(resource) is Resource.STUDENTS:
            raise self.error
        yield from super().pages(resource, start, **paging)


class TwoDistricts:
    name = "clever"

    def __init__(self, first: FakeSource, lookup_error: Exception | None = None) -> None:
        self.first = first
        self.lookup_error = lookup_error

    def district_ids(self) -> list[str]:
        return ["d-bad", "d-good"]

    def district(self, district_id: str) -> FakeSource | None:
        if district_id == "d-bad":
            if self.lookup_error is not None:
                raise self.lookup_error
            return self.first
        good = FakeSource()
        good.district_id = "d-good"
        return good


def _manifest(store: MemoryPageStore, district_id: str) -> Manifest:
    return Manifest.model_validate(store.get_json(manifest_key(district_id, RUN)))


@pytest.mark.parametrize(
    "error",
    [
        UnicodeEncodeError("utf-8", SECRET_NAME + "\ud800", 5, 6, "surrogates not allowed"),
        RecursionError(f"maximum recursion depth exceeded near {SECRET_NAME}"),
        KeyError(SECRET_NAME),
    ],
    ids=["unicode", "recursion", "keyerror"],
)
def test_an_unexpected_exception_fails_that_district_only_with_a_manifest_that_quotes_no_data(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryPageStore()

    results = fetch_districts(TwoDistricts(Exploding("d-bad", error)), store, RUN, clock=lambda: NOW)

    assert [(r.district_id, r.status) for r in results] == [
        ("d-bad", ManifestStatus.FAILED),
        ("d-good", ManifestStatus.COMPLETE),
    ]
    manifest = _manifest(store, "d-bad")
    assert manifest.failure is not None
    assert manifest.failure.kind is FailureKind.INTERNAL_ERROR
    assert manifest.failure.resource == "students"
    assert type(error).__name__ in manifest.failure.reason
    assert SECRET_NAME not in manifest.model_dump_json()
    assert SECRET_NAME not in caplog.text
    assert _manifest(store, "d-good").status is ManifestStatus.COMPLETE


def test_a_failed_token_lookup_fails_that_district_and_the_next_is_fetched() -> None:
    store = MemoryPageStore()
    lookup = CleverError("/oauth/tokens", "Internal Server Error", 500, "d-bad")

    results = fetch_districts(TwoDistricts(FakeSource(), lookup), store, RUN, clock=lambda: NOW)

    assert [(r.district_id, r.status) for r in results] == [
        ("d-bad", ManifestStatus.FAILED),
        ("d-good", ManifestStatus.COMPLETE),
    ]
    assert _manifest(store, "d-bad").failure.kind is FailureKind.SOURCE_ERROR  # type: ignore[union-attr]


class ManifestWriteFails(MemoryPageStore):
    def put_json(self, key: str, body: Any, *, compress: bool = False) -> int:
        if key.endswith("manifest.json"):
            raise StorageError(f"could not write {key}: InternalError")
        return super().put_json(key, body, compress=compress)


def test_a_failed_manifest_write_is_never_swallowed() -> None:
    with pytest.raises(StorageError, match=r"manifest\.json"):
        fetch_districts(
            TwoDistricts(Exploding("d-bad", RuntimeError("boom"))),
            ManifestWriteFails(),
            RUN,
            clock=lambda: NOW,
        )


def test_a_clever_error_never_carries_a_lone_surrogate() -> None:
    """Endpoints and reasons may quote what Clever sent; they end in manifests, logs and e-mails."""
    error = CleverError("/v3.0/users/\ud800", "bad \udfff thing", 400, "d-bad")
    str(error).encode("utf-8")
    assert "\ufffd" in error.endpoint and "\ufffd" in error.reason
