"""Issue 14: fetched pages -> validate_run -> import_district, night after night, on moto.

Each scenario stores Clever-shaped pages and a manifest as the fetch stage would, validates them
(validate_run writes accepted records and rejected.json.gz) and imports what validation left
(run_artifacts.accepted_records / rejected_ids), so the seam between the two stages is tested.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator, Mapping
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
from rostersync.ports import RosterWriteError
from rostersync.run_artifacts import accepted_records, rejected_ids
from rostersync.settings import Settings
from rostersync.state_ids import OtherDistrict, active_elsewhere
from rostersync.validate.contract import ValidateResult
from rostersync.validate.engine import StateIdLookup
from rostersync.validate.stage import validate_run
from rostersync_cli.provision import provision

pytestmark = pytest.mark.integration

D = "5a0c91b95c7cc000010d4170"
SCHOOL = "5a25ff950a5f621109000001"
KEEP = "5a25ffb0c1bc2a0036000001"  # a student present every night
PERSON = "5a25ffb0c1bc2a00360000aa"
OTHER = "5a0c91b95c7cc000010d4171"  # a second district, for a student who moved
OTHER_SCHOOL = "5a25ff950a5f621109000002"


def _user(uid: str, role: str, last: str, *, d: str = D, **role_fields: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"schools": [SCHOOL if d == D else OTHER_SCHOOL], **role_fields}
    if role == "student":
        fields.setdefault("state_id", f"10000{int(uid[-5:], 16):05d}")
    return {
        "id": uid,
        "district": d,
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

    def night(
        self, pages: Mapping[str, list[dict[str, Any]]], d: str = D, *, elsewhere: StateIdLookup | None = None
    ) -> tuple[ValidateResult, ImportResult]:
        self.n += 1
        run_id = f"202611{self.n:02d}T070000Z-00000{self.n}"
        now = datetime(2026, 11, self.n, 7, tzinfo=UTC)
        refs = []
        for resource, records in pages.items():
            key = page_key(d, run_id, resource, 0)
            size = self.store.put_json(
                key, {"source": "clever", "resource": resource, "page": 0, "records": records}, compress=True
            )
            refs.append(PageRef(resource=resource, index=0, key=key, records=len(records), bytes=size))
        manifest = Manifest(
            district_id=d,
            run_id=run_id,
            status=ManifestStatus.COMPLETE,
            started_at=now,
            finished_at=now,
            pages=refs,
        )
        self.store.put_json(manifest_key(d, run_id), manifest.model_dump(mode="json"))
        # As wiring.validate asks: which of tonight's PA Secure IDs another district holds.
        validated = validate_run(
            self.store, d, run_id, elsewhere=elsewhere or (lambda ids: active_elsewhere(self.table, d, ids))
        )
        imported = import_district(
            d,
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


def other_district_pages(*students: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    pages = base_pages()
    pages["districts"] = [{"id": OTHER, "name": "Moved-To Borough SD", "nces_id": "4200002"}]
    pages["schools"] = [
        {"id": OTHER_SCHOOL, "district": OTHER, "name": "Borough High", "nces_id": "420000200001"}
    ]
    pages["students"] = list(students)
    return pages


def _other_district_findings(nights: Nights, validated: ValidateResult) -> list[dict[str, str]]:
    assert validated.findings_key
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=nights.store.bucket, Key=validated.findings_key)["Body"].read()
    rows = csv.DictReader(io.StringIO(body.decode("utf-8")))
    return [row for row in rows if row["rule"] == "student.state_id.other_district"]


def test_a_pa_secure_id_active_in_two_districts_is_told_to_the_district_not_trusted(nights: Nights) -> None:
    # The student has been in the integrity district for a while...
    mover = _user(PERSON, "student", "Mover", state_id="1098765432")
    night1 = base_pages()
    night1["students"].append(mover)
    first, _ = nights.night(night1)
    assert first.rule_counts.get("student.state_id.other_district", 0) == 0

    # ...moves to another district, which shares them under its own id, while the old district
    # still shares them too. The new district is told the night it shares them.
    arrived = _user(OTHER_SCHOOL[:-2] + "bb", "student", "Mover", d=OTHER, state_id="1098765432")
    validated, imported = nights.night(other_district_pages(arrived), d=OTHER)
    assert validated.rule_counts["student.state_id.other_district"] == 1
    assert validated.warnings >= 1 and imported.counts["STUDENT"].created == 1  # imported anyway
    [row] = _other_district_findings(nights, validated)
    assert row["source_id"] == arrived["id"] and row["severity"] == "warning"
    assert f"'Integrity Area SD' (id {D})" in row["message"] and "1098765432" not in row["message"]

    # From then on the application trusts the new district's record (written last), and the old
    # district is told every night until it stops sharing the student.
    for _ in range(2):
        validated, _ = nights.night(night1)
        [row] = _other_district_findings(nights, validated)
        assert row["source_id"] == PERSON and f"'Moved-To Borough SD' (id {OTHER})" in row["message"]
    validated, _ = nights.night(other_district_pages(arrived), d=OTHER)
    assert validated.rule_counts.get("student.state_id.other_district", 0) == 0

    validated, _ = nights.night(base_pages())  # the old district ends the enrollment
    assert nights.status(f"STUDENT#{PERSON}") == "archived"
    for pages, d in ((base_pages(), D), (other_district_pages(arrived), OTHER)):
        validated, _ = nights.night(pages, d=d)
        assert validated.rule_counts.get("student.state_id.other_district", 0) == 0


def test_a_roster_that_cannot_be_read_skips_the_check_for_the_night_not_the_import(
    nights: Nights, caplog: pytest.LogCaptureFixture
) -> None:
    def unreadable(state_ids: Collection[str]) -> dict[str, OtherDistrict]:
        raise RosterWriteError("reads from the roster still unprocessed after 8 attempts")

    night = base_pages()
    night["students"].append(_user(PERSON, "student", "Mover", state_id="1098765432"))
    validated, imported = nights.night(night, elsewhere=unreadable)
    assert imported.status.value == "succeeded" and imported.counts["STUDENT"].created == 2
    assert validated.summary_key
    assert nights.store.get_json(validated.summary_key)["state_ids_checked"] is False
    assert "PA Secure IDs not checked against other districts tonight" in caplog.text
    assert "1098765432" not in caplog.text

    validated, _ = nights.night(night)  # the next night checks again
    assert nights.store.get_json(validated.summary_key)["state_ids_checked"] is True
