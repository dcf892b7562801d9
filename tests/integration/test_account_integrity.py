"""Issue 14: fetched pages -> validate_run -> import_district, night after night, on moto.

Each scenario stores Clever-shaped pages and a manifest as the fetch stage would, validates them
(validate_run writes accepted records and rejected.json.gz) and imports what validation left
(validate.pages.accepted_records / rejected_ids), so the seam between the two stages is tested.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.fetch.contract import Manifest, ManifestStatus, PageRef
from rostersync.importer.contract import ImportResult
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.layout import manifest_key, page_key
from rostersync.settings import Settings
from rostersync.validate.contract import ValidateResult
from rostersync.validate.pages import accepted_records, rejected_ids
from rostersync.validate.stage import validate_run
from rostersync_cli.provision import provision

pytestmark = pytest.mark.integration

D = "5a0c91b95c7cc000010d4170"
SCHOOL = "5a25ff950a5f621109000001"
KEEP = "5a25ffb0c1bc2a0036000001"  # a student present every night
PERSON = "5a25ffb0c1bc2a00360000aa"


def _user(uid: str, role: str, last: str, **role_fields: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"schools": [SCHOOL], **role_fields}
    if role == "student":
        fields.setdefault("state_id", f"10000{int(uid[-5:], 16):05d}")
    return {
        "id": uid,
        "district": D,
        "name": {"first": "Pat", "last": last},
        "email": f"{last.lower()}@example.org",
        "roles": {role: fields},
    }


def base_pages() -> dict[str, list[dict[str, Any]]]:
    return {
        "districts": [{"id": D, "name": "Integrity Area SD", "nces_id": "4200001"}],
        "schools": [{"id": SCHOOL, "district": D, "name": "Integrity High", "nces_id": "420000100001"}],
        "students": [_user(KEEP, "student", "Keeper")],
        "teachers": [],
        "staff": [],
        "district_admins": [],
        "sections": [],
        "terms": [],
        "courses": [],
    }


class Nights:
    def __init__(self, settings: Settings) -> None:
        self.store = S3PageStore(settings.raw_bucket)
        self.table = DynamoRosterTable(settings.roster_table, boto3.client("dynamodb"), sleep=lambda _s: None)
        self.holds = PageStoreHoldStore(self.store)
        self.ddb = boto3.resource("dynamodb").Table(settings.roster_table)
        self.n = 0

    def night(self, pages: Mapping[str, list[dict[str, Any]]]) -> tuple[ValidateResult, ImportResult]:
        self.n += 1
        run_id = f"202611{self.n:02d}T070000Z-00000{self.n}"
        now = datetime(2026, 11, self.n, 7, tzinfo=UTC)
        refs = []
        for resource, records in pages.items():
            key = page_key(D, run_id, resource, 0)
            size = self.store.put_json(
                key, {"source": "clever", "resource": resource, "page": 0, "records": records}, compress=True
            )
            refs.append(PageRef(resource=resource, index=0, key=key, records=len(records), bytes=size))
        manifest = Manifest(
            district_id=D,
            run_id=run_id,
            status=ManifestStatus.COMPLETE,
            started_at=now,
            finished_at=now,
            pages=refs,
        )
        self.store.put_json(manifest_key(D, run_id), manifest.model_dump(mode="json"))
        validated = validate_run(self.store, D, run_id)
        imported = import_district(
            D,
            run_id,
            accepted_records(self.store, validated),
            rejected_ids(self.store, validated),
            self.table,
            holds=self.holds,
            thresholds=SafeguardThresholds(archive_percent=100),
            clock=lambda: now,
        )
        return validated, imported

    def status(self, sk: str) -> str | None:
        item = self.ddb.get_item(Key={"pk": f"DISTRICT#{D}", "sk": sk}).get("Item")
        return None if item is None else str(item["status"])

    def members(self, pk: str) -> set[str]:
        from boto3.dynamodb.conditions import Key

        return {i["sk"] for i in self.ddb.query(KeyConditionExpression=Key("pk").eq(pk))["Items"]}


@pytest.fixture
def nights(settings: Settings, raw_bucket: str) -> Iterator[Nights]:
    provision(settings)
    yield Nights(settings)


def test_a_staff_member_later_also_shared_as_a_student_keeps_only_the_student_account(nights: Nights) -> None:
    night1 = base_pages()
    night1["staff"] = [_user(PERSON, "staff", "Aide", title="Aide")]
    nights.night(night1)
    assert nights.status(f"STAFF#{PERSON}") == "active"

    night2 = base_pages()
    night2["staff"] = [_user(PERSON, "staff", "Aide", title="Aide")]
    night2["students"].append(_user(PERSON, "student", "Aide"))
    validated, imported = nights.night(night2)
    assert validated.rule_counts["user.student_and_adult"] == 1
    assert nights.status(f"STUDENT#{PERSON}") == "active"
    assert nights.status(f"STAFF#{PERSON}") == "archived"  # exactly one active account
    assert nights.members(f"SCHOOL#{D}#{SCHOOL}") >= {f"STUDENT#{PERSON}"}
    assert f"STAFF#{PERSON}" not in nights.members(f"SCHOOL#{D}#{SCHOOL}")
    assert imported.counts["STAFF"].archived == 1

    nights.night(night2)  # and the next night too
    assert nights.status(f"STAFF#{PERSON}") == "archived"


def test_a_rejected_record_keeps_only_its_own_kind(nights: Nights) -> None:
    # A malformed section whose id is a departed student's id must not keep that student active.
    night1 = base_pages()
    night1["students"].append(_user(PERSON, "student", "Leaver"))
    nights.night(night1)
    night2 = base_pages()
    night2["sections"] = [{"id": PERSON, "district": D, "name": "Homeroom"}]  # no school: malformed
    validated, _ = nights.night(night2)
    assert validated.rule_counts["record.malformed"] == 1
    assert nights.status(f"STUDENT#{PERSON}") == "archived"


def test_a_rejected_student_keeps_its_last_good_version(nights: Nights) -> None:
    night1 = base_pages()
    night1["students"].append(_user(PERSON, "student", "Stays"))
    nights.night(night1)
    night2 = base_pages()
    night2["students"].append(_user(PERSON, "student", "Stays", state_id="12345"))
    validated, imported = nights.night(night2)
    assert validated.rule_counts["student.state_id.format"] == 1
    assert nights.status(f"STUDENT#{PERSON}") == "active"
    assert imported.counts["STUDENT"].rejected_kept == 1
