"""The fetch stage over Clever's own recorded responses, through HTTP and into S3 (moto)."""

from __future__ import annotations

import boto3
import pytest

from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.contracts.fetch import Manifest, ManifestStatus
from rostersync.fetch.stage import fetch_districts
from rostersync.settings import Settings
from rostersync.sources.clever.client import CleverClient, CleverCredentials
from rostersync.sources.clever.resources import Resource
from rostersync.sources.clever.source import CleverSource
from tests.integration.recorded_clever import DISTRICT_ID, RecordedClever

CREDENTIALS = CleverCredentials("recorded-client", "recorded-secret")


@pytest.fixture
def recorded() -> RecordedClever:
    with RecordedClever() as server:
        yield server


def _client(settings: Settings, base: str) -> CleverClient:
    return CleverClient(
        settings.model_copy(update={"clever_api_base": base, "clever_oauth_base": base}), CREDENTIALS
    )


def test_fetches_every_role_and_section_of_the_recorded_district(
    settings: Settings, raw_bucket: str, recorded: RecordedClever
) -> None:
    store = S3PageStore(raw_bucket)

    [result] = fetch_districts(
        CleverSource(_client(settings, recorded.base)), store, "20261128T020000Z-abcdef"
    )

    assert result.status is ManifestStatus.COMPLETE
    manifest = Manifest.model_validate(store.get_json(result.manifest_key))
    assert manifest.district_id == DISTRICT_ID
    assert manifest.district_name == result.district_name == "#DEMO_DISTRICT"
    assert manifest.record_count(Resource.STUDENTS) == 1004
    assert manifest.record_count(Resource.TEACHERS) == 89
    assert manifest.record_count(Resource.DISTRICT_ADMINS) == 3
    assert manifest.record_count(Resource.SECTIONS) == 378
    assert manifest.record_count(Resource.DISTRICTS) == 1
    assert all(summary.complete for summary in manifest.resources.values())
    assert result.records == sum(page.records for page in manifest.pages)


def test_never_asks_for_contacts_and_always_pages_at_the_documented_maximum(
    settings: Settings, raw_bucket: str, recorded: RecordedClever
) -> None:
    fetch_districts(
        CleverSource(_client(settings, recorded.base)), S3PageStore(raw_bucket), "20261128T020000Z-abcdef"
    )

    api_paths = [p for p in recorded.paths if p.startswith("/v3.0/")]
    assert not any("contact" in p for p in api_paths)
    assert all("limit=10000" in p for p in api_paths)
    assert len(api_paths) == len(Resource)  # one request per resource: every page fits in 10000


def test_stored_pages_keep_only_the_fields_the_product_uses(
    settings: Settings, raw_bucket: str, recorded: RecordedClever
) -> None:
    store = S3PageStore(raw_bucket)
    [result] = fetch_districts(
        CleverSource(_client(settings, recorded.base)), store, "20261128T020000Z-abcdef"
    )
    manifest = Manifest.model_validate(store.get_json(result.manifest_key))

    student_page = next(p for p in manifest.pages if p.resource == Resource.STUDENTS)
    raw_object = boto3.client("s3").get_object(Bucket=raw_bucket, Key=student_page.key)
    assert raw_object["ContentEncoding"] == "gzip"
    student = store.get_json(student_page.key)["records"][0]
    kept = student["roles"]["student"]
    assert "state_id" in kept
    for dropped in ("gender", "race", "hispanic_ethnicity", "credentials", "enrollments"):
        assert dropped not in kept
    # Smart Futures needs the date of birth and the ZIP code; nothing else of the address is kept.
    assert "dob" in kept and set(kept.get("location", {})) <= {"zip"}
