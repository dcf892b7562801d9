"""Reads that fail, through the handlers (loaded from template.yaml) against the moto server:
S3 GetObject errors, corrupt gzip, a manifest naming a page that is not there, a page holding
fewer records than its manifest says; and the import handler's refusal of a run validation
rejected. A failed read is a StorageError naming the object, and nothing downstream is written.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.contracts.fetch import Manifest, ManifestStatus
from rostersync.errors import StorageError
from rostersync.layout import lease_pk, run_pk, validate_result_key, validated_prefix
from rostersync.run_artifacts import manifest_records
from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from tests.integration.alert_inbox import AlertInbox
from tests.integration.conftest import run_night
from tests.integration.fault_world import AwsFaults, client_error

SMALL = DistrictSpec("Juniata Test SD", seed=9161, schools=1, students=12, teachers=2, sections=2)
EMPTY = DistrictSpec.empty("Forest Test SD", seed=9162, with_schools=1)


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(SMALL, EMPTY))) as server:
        yield server


@pytest.fixture
def aws_faults() -> Iterator[AwsFaults]:
    with AwsFaults() as faults:
        yield faults


def _fetch(functions: LocalFunctions, district: DistrictSpec) -> dict[str, Any]:
    [fetched] = functions.invoke("FetchFunction", {"district_ids": [district.id]})["districts"]
    assert fetched["status"] == "complete", fetched
    return fetched


def _store() -> S3PageStore:
    return S3PageStore(get_settings().raw_bucket)


def _manifest(fetched: dict[str, Any]) -> Manifest:
    return Manifest.model_validate(_store().get_json(fetched["manifest_key"]))


def _student_page(manifest: Manifest) -> str:
    return next(page.key for page in manifest.pages if page.resource == "students" and page.records)


def _nothing_downstream(fetched: dict[str, Any]) -> None:
    store = _store()
    district_id, run_id = fetched["district_id"], fetched["run_id"]
    assert not store.exists(validate_result_key(district_id, run_id)), "result.json written"
    assert list(store.keys(validated_prefix(district_id, run_id) + "rejected")) == []


# ------------------------------------------------------------------------- S3 read faults


def test_a_get_object_error_on_a_page_fails_validate_naming_the_page(
    functions: LocalFunctions, aws_faults: AwsFaults
) -> None:
    fetched = _fetch(functions, SMALL)
    page = _student_page(_manifest(fetched))
    rule = aws_faults.fail(
        "s3", "GetObject", client_error("InternalError", "GetObject"), when=lambda p: p["Key"] == page
    )

    with pytest.raises(StorageError, match=rf"^could not read s3://[^/]+/{re.escape(page)}: InternalError$"):
        functions.invoke("ValidateFunction", fetched)

    assert rule.fired == 1
    _nothing_downstream(fetched)


@pytest.mark.parametrize("damage", ["truncated", "bad-header", "not-json"])
def test_a_corrupt_gzip_page_fails_validate_naming_the_page(functions: LocalFunctions, damage: str) -> None:
    fetched = _fetch(functions, SMALL)
    page = _student_page(_manifest(fetched))
    s3, bucket = boto3.client("s3"), get_settings().raw_bucket
    stored = s3.get_object(Bucket=bucket, Key=page)["Body"].read()
    assert stored[:2] == b"\x1f\x8b"  # pages are stored gzipped
    body = {
        "truncated": stored[: len(stored) // 2],
        "bad-header": b"\x1f\x8b\x08\x00broken",
        "not-json": gzip.compress(b"{not json"),
    }[damage]
    s3.put_object(Bucket=bucket, Key=page, Body=body)

    with pytest.raises(StorageError, match=rf"^s3://[^/]+/{re.escape(page)} is not valid \(gzip\) JSON$"):
        functions.invoke("ValidateFunction", fetched)

    _nothing_downstream(fetched)


def test_a_manifest_naming_a_page_that_is_not_there_fails_validate(functions: LocalFunctions) -> None:
    fetched = _fetch(functions, SMALL)
    page = _student_page(_manifest(fetched))
    boto3.client("s3").delete_object(Bucket=get_settings().raw_bucket, Key=page)

    with pytest.raises(StorageError, match=rf"^could not read s3://[^/]+/{re.escape(page)}: NoSuchKey$"):
        functions.invoke("ValidateFunction", fetched)

    _nothing_downstream(fetched)


@pytest.mark.parametrize("change", ["one-record-short", "records-not-a-list", "not-an-object"])
def test_a_page_that_does_not_hold_the_manifest_s_records_fails_validate(
    functions: LocalFunctions, change: str
) -> None:
    fetched = _fetch(functions, SMALL)
    manifest = _manifest(fetched)
    ref = next(p for p in manifest.pages if p.resource == "students" and p.records)
    store = _store()
    body = store.get_json(ref.key)
    assert len(body["records"]) == ref.records  # as fetched, the page agrees with its manifest
    replaced: Any = {
        "one-record-short": {**body, "records": body["records"][:-1]},
        "records-not-a-list": {**body, "records": {"n": ref.records}},
        "not-an-object": body["records"],
    }[change]
    store.put_json(ref.key, replaced, compress=True)

    with pytest.raises(
        StorageError,
        match=rf"^page {re.escape(ref.key)} does not hold the {ref.records} records its manifest lists$",
    ):
        functions.invoke("ValidateFunction", fetched)

    _nothing_downstream(fetched)


def test_a_missing_manifest_fails_validate_naming_it(functions: LocalFunctions) -> None:
    fetched = _fetch(functions, SMALL)
    boto3.client("s3").delete_object(Bucket=get_settings().raw_bucket, Key=fetched["manifest_key"])

    with pytest.raises(
        StorageError, match=rf"^could not read s3://[^/]+/{re.escape(fetched['manifest_key'])}: NoSuchKey$"
    ):
        functions.invoke("ValidateFunction", fetched)

    _nothing_downstream(fetched)


def test_the_records_of_a_run_that_did_not_fetch_completely_cannot_be_read(functions: LocalFunctions) -> None:
    manifest = _manifest(_fetch(functions, SMALL))
    unfinished = manifest.model_copy(update={"status": ManifestStatus.IN_PROGRESS})

    with pytest.raises(StorageError, match=rf"^district {SMALL.id} run .* did not fetch completely"):
        manifest_records(_store(), unfinished)
    assert sum(1 for _ in manifest_records(_store(), manifest)()) > SMALL.students  # complete: readable


# ---------------------------------------------------------------- import of a rejected run


def test_the_import_handler_refuses_a_run_validation_rejected(functions: LocalFunctions) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    [night] = run_night(functions, [EMPTY.id])  # the state machine stops the district at validation
    validated = night.stages["validate"]
    assert validated["status"] == "rejected" and validated["reason"] and "import" not in night.stages
    inbox.receive()  # validation's own alert about the empty district is not the import's

    # The import event for that run arrives anyway (by hand, or a definition that lost its choice).
    result = functions.invoke(
        "ImportFunction", {"district_id": EMPTY.id, "run_id": night.run_id, "source": "clever"}
    )

    assert result["status"] == "skipped"
    assert result["error"] == validated["reason"]
    assert result["district_id"] == EMPTY.id and result["run_id"] == night.run_id
    # Refused before the table: no lease taken, no run recorded; and no alert for a skipped run.
    ddb = boto3.client("dynamodb")
    table = get_settings().roster_table
    for pk, sk in [(lease_pk(EMPTY.id), "LEASE"), (run_pk(EMPTY.id), night.run_id)]:
        assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}), pk
    assert inbox.receive() == []


def test_the_import_handler_fails_on_a_run_validate_never_finished(functions: LocalFunctions) -> None:
    fetched = _fetch(functions, SMALL)  # fetched, never validated: no result.json

    with pytest.raises(StorageError, match=r"result\.json: NoSuchKey$"):
        functions.invoke(
            "ImportFunction", {"district_id": SMALL.id, "run_id": fetched["run_id"], "source": "clever"}
        )


def test_the_fault_hook_really_fails_get_object() -> None:
    """The injection above works at the botocore layer, as a service error would."""
    with AwsFaults() as faults:
        faults.fail("s3", "GetObject", client_error("InternalError", "GetObject"))
        with pytest.raises(ClientError, match="InternalError"):
            boto3.client("s3", region_name="us-east-1").get_object(Bucket="b", Key="k")
