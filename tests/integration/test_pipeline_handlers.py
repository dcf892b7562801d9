"""Fetch and validate handlers, loaded from template.yaml, against the moto server and the sandbox.

This is what the nightly schedule does, in process: the same events (events/*.json), the same
handlers, the same S3 layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.contracts.fetch import Manifest, ManifestStatus
from rostersync.settings import Settings, get_settings
from rostersync.sources.clever.resources import Resource
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, Gaps, SandboxConfig
from tests.integration.conftest import run_night
from tests.paths import EVENTS

CLEAN = DistrictSpec("Allegheny Test SD", seed=8101, schools=2, students=60, teachers=6, sections=6)
GAPPY = DistrictSpec(
    "Lebanon Test SD",
    seed=8202,
    schools=3,
    students=90,
    teachers=8,
    sections=9,
    gaps=Gaps(missing_student_state_id=2, short_student_state_id=1, missing_school_nces_id=1),
)


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(CLEAN, GAPPY))) as server:
        yield server


def _event(name: str, **overrides: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    event.update(overrides)
    return event


def test_the_scheduled_event_fetches_every_connected_district(
    functions: LocalFunctions, settings: Settings
) -> None:
    result = functions.invoke("FetchFunction", _event("fetch-schedule.json"))

    by_id = {d["district_id"]: d for d in result["districts"]}
    assert set(by_id) == {CLEAN.id, GAPPY.id}
    assert all(d["status"] == "complete" for d in by_id.values())
    store = S3PageStore(get_settings().raw_bucket)
    manifest = Manifest.model_validate(store.get_json(by_id[CLEAN.id]["manifest_key"]))
    assert manifest.record_count(Resource.STUDENTS) == CLEAN.students
    assert manifest.record_count(Resource.SCHOOLS) == CLEAN.schools
    keys = list(store.keys(f"raw/{CLEAN.id}/{result['run_id']}/"))
    assert sorted(keys) == sorted([page.key for page in manifest.pages] + [by_id[CLEAN.id]["manifest_key"]])


def test_a_named_district_without_a_token_gets_a_failed_manifest(
    functions: LocalFunctions, sandbox: CleverSandbox
) -> None:
    sandbox.revoke(GAPPY.id)
    result = functions.invoke("FetchFunction", _event("fetch-districts.json", district_ids=[GAPPY.id]))

    [district] = result["districts"]
    assert district["status"] == "failed"
    assert district["failure"]["kind"] == "disconnected"
    manifest = Manifest.model_validate(
        S3PageStore(get_settings().raw_bucket).get_json(district["manifest_key"])
    )
    assert manifest.status is ManifestStatus.FAILED


def test_a_failure_mid_fetch_leaves_a_failed_manifest_naming_the_resource(
    functions: LocalFunctions, sandbox: CleverSandbox
) -> None:
    sandbox.faults.match_path = "/v3.0/sections"
    sandbox.faults.garbage_200 = 1
    result = functions.invoke(
        "FetchFunction", _event("fetch-districts.json", district_ids=[CLEAN.id], run_id=None)
    )

    [district] = result["districts"]
    assert district["status"] == "failed"
    assert district["failure"]["resource"] == "sections"
    assert sandbox.token(CLEAN.id) not in json.dumps(result)


def test_validate_writes_reports_and_accepted_records_for_a_fetched_district(
    functions: LocalFunctions,
) -> None:
    fetched = functions.invoke(
        "FetchFunction", _event("fetch-districts.json", district_ids=[GAPPY.id], run_id=None)
    )
    [district] = fetched["districts"]

    result = functions.invoke("ValidateFunction", _event("validate-district.json", **district))

    assert result["status"] == "validated"
    assert result["fetched"] == result["accepted"] + result["rejected"]
    assert result["rule_counts"]["student.state_id.missing"] == 2
    assert result["rule_counts"]["student.state_id.format"] == 1
    assert result["rule_counts"]["school.nces_id.missing"] == 1
    s3 = boto3.client("s3")
    bucket = get_settings().raw_bucket
    prefix = f"reports/{GAPPY.id}/{district['run_id']}/"
    names = {
        o["Key"].removeprefix(prefix) for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    }
    assert names == {"findings.csv", "summary.json", "report.html"}
    csv_text = s3.get_object(Bucket=bucket, Key=prefix + "findings.csv")["Body"].read().decode("utf-8-sig")
    assert (
        csv_text.splitlines()[0]
        == "district_id,record_type,source_id,sis_id,name,rule,severity,field,message"
    )
    summary = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "summary.json")["Body"].read())
    for counts in summary["records"].values():
        assert counts["fetched"] == counts["accepted"] + counts["rejected"]


def test_validate_skips_a_run_whose_fetch_failed(functions: LocalFunctions, sandbox: CleverSandbox) -> None:
    sandbox.revoke(CLEAN.id)
    fetched = functions.invoke(
        "FetchFunction", _event("fetch-districts.json", district_ids=[CLEAN.id], run_id=None)
    )
    [district] = fetched["districts"]

    result = functions.invoke("ValidateFunction", district)

    assert result["status"] == "skipped"
    assert not list(S3PageStore(get_settings().raw_bucket).keys(f"reports/{CLEAN.id}/"))


def test_validating_the_same_run_twice_gives_the_same_result(functions: LocalFunctions) -> None:
    fetched = functions.invoke(
        "FetchFunction", _event("fetch-districts.json", district_ids=[GAPPY.id], run_id=None)
    )
    [district] = fetched["districts"]

    first = functions.invoke("ValidateFunction", district)
    second = functions.invoke("ValidateFunction", district)

    assert first == second


def test_the_whole_chain_imports_then_an_unchanged_night_writes_nothing(functions: LocalFunctions) -> None:
    [first] = run_night(functions, [CLEAN.id])
    [second] = run_night(functions, [CLEAN.id])

    imported, again = first.stages["import"], second.stages["import"]
    assert imported["status"] == "succeeded"
    assert imported["counts"]["STUDENT"]["created"] == CLEAN.students
    assert again["status"] == "succeeded"
    assert again["roster_writes"] == 0
    assert again["counts"]["STUDENT"]["unchanged"] == CLEAN.students


def test_import_event_replayed_returns_the_recorded_result(functions: LocalFunctions) -> None:
    [outcome] = run_night(functions, [CLEAN.id])
    event = _event("import-district.json", district_id=CLEAN.id, run_id=outcome.run_id)

    replay = functions.invoke("ImportFunction", event)

    assert replay["replayed"] is True
    assert replay["counts"] == outcome.stages["import"]["counts"]


def test_a_dry_run_writes_no_roster_item(functions: LocalFunctions) -> None:
    [outcome] = run_night(functions, [CLEAN.id], dry_run=True)

    assert outcome.stages["import"]["status"] == "dry_run"
    table = boto3.resource("dynamodb").Table(get_settings().roster_table)
    assert (
        table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"DISTRICT#{CLEAN.id}"}
        )["Items"]
        == []
    )


def test_an_empty_district_is_never_imported(functions: LocalFunctions, sandbox: CleverSandbox) -> None:
    empty = DistrictSpec.empty("Penns Test SD", seed=8303, with_schools=1)
    with CleverSandbox(SandboxConfig(districts=(empty,))) as other:
        os_env = {"CLEVER_API_BASE": other.api_base, "CLEVER_OAUTH_BASE": other.oauth_base}
        secret = {"client_id": other.client_id, "client_secret": other.client_secret}
        boto3.client("secretsmanager").put_secret_value(
            SecretId=get_settings().clever_secret_id, SecretString=json.dumps(secret)
        )
        with pytest.MonkeyPatch.context() as patch:
            for name, value in os_env.items():
                patch.setenv(name, value)
            get_settings.cache_clear()
            [outcome] = run_night(functions)

    assert outcome.stages["validate"]["status"] == "rejected"
    assert "import" not in outcome.stages
