"""Issue 14: fetched pages -> validate_run -> import_district, night after night, on moto.

Each scenario stores Clever-shaped pages and a manifest as the fetch stage would, validates them
(validate_run writes accepted records and rejected.json.gz) and imports what validation left
(run_artifacts.accepted_records / rejected_ids), so the seam between the two stages is tested.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.fetch.contract import Manifest, ManifestStatus, PageRef
from rostersync.importer.contract import ImportResult
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.layout import manifest_key, page_key
from rostersync.run_artifacts import accepted_records, rejected_ids
from rostersync.settings import Settings
from rostersync.validate.contract import ValidateResult
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
        self, pages: Mapping[str, list[dict[str, Any]]], d: str = D
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
        validated = validate_run(self.store, d, run_id)
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


def district_pages(d: str, school: str, *students: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    pages = base_pages()
    pages["districts"] = [{"id": d, "name": f"District {d[-4:]} SD", "nces_id": f"42{int(d[-4:], 16):05d}"}]
    pages["schools"] = [
        {"id": school, "district": d, "name": "A High", "nces_id": f"42{int(d[-4:], 16):05d}00001"}
    ]
    pages["students"] = [
        {**u, "district": d, "roles": {"student": {**u["roles"]["student"], "schools": [school]}}}
        for u in students
    ]
    return pages


def _object(nights: Nights, key: str | None) -> str:
    assert key
    return str(
        boto3.client("s3").get_object(Bucket=nights.store.bucket, Key=key)["Body"].read().decode("utf-8")
    )


def _trusted_by_index(nights: Nights, state_id: str) -> list[tuple[str, str]]:
    """The application's answer: a Query of the `by_state_id` index, then the flag."""
    items = nights.ddb.query(IndexName="by_state_id", KeyConditionExpression=Key("state_id").eq(state_id))[
        "Items"
    ]
    return sorted(
        (str(i["district_id"]), str(i["clever_id"])) for i in items if i.get("state_id_trusted") is True
    )


PROBE_D = "5a0c91b95c7cc000010d4172"
PROBE_SCHOOL = "5a25ff950a5f621109000003"
THIRD = "5a0c91b95c7cc000010d4173"
THIRD_SCHOOL = "5a25ff950a5f621109000004"


def _student(uid: str, last: str, state_id: str, dob: str | None = "2010-03-04") -> dict[str, Any]:
    fields: dict[str, Any] = {"state_id": state_id, "schools": [SCHOOL]}
    if dob:
        fields["dob"] = dob
    return _user(uid, "student", last, **fields)


def test_a_probing_district_learns_nothing_and_moves_no_trust(nights: Nights) -> None:
    """Issue 22: a district sends PA Secure IDs of its choosing, real and unused ones alike."""
    real = _student(PERSON, "Kowalski", "1098765432")
    night1 = base_pages()
    night1["students"].append(real)
    nights.night(night1)
    assert _trusted_by_index(nights, "1098765432") == [(D, PERSON)]

    probe_real = _student("5a25ffb0c1bc2a00360000b1", "Probe", "1098765432")
    probe_unused = _student("5a25ffb0c1bc2a00360000b2", "Probe", "1098765499")
    for _night in range(2):
        validated, imported = nights.night(
            district_pages(PROBE_D, PROBE_SCHOOL, probe_real, probe_unused), d=PROBE_D
        )
        findings = _object(nights, validated.findings_key)
        text = "\n".join(
            [findings, _object(nights, validated.summary_key), _object(nights, validated.report_key)]
        )
        # Nothing of the other district: not its name, not its id ...
        assert "Integrity Area SD" not in text and D not in text
        # ... and nothing that tells the real id from the unused one: both students' findings are
        # the same (rule, severity, message), and no rule is about other districts.
        rows = list(csv.DictReader(io.StringIO(findings)))

        def about(student: dict[str, Any], rows: list[dict[str, str]] = rows) -> list[tuple[str, ...]]:
            return sorted(
                (r["rule"], r["severity"], r["message"]) for r in rows if r["source_id"] == student["id"]
            )

        assert about(probe_real) == about(probe_unused)
        assert not any("other_district" in rule for rule in validated.rule_counts)
        assert imported.status.value == "succeeded" and imported.counts["STUDENT"].accepted == 2
        # The trust did not move; the unused id's "student" is trusted with an id nobody else holds.
        assert _trusted_by_index(nights, "1098765432") == [(D, PERSON)]
        assert _trusted_by_index(nights, "1098765499") == [(PROBE_D, probe_unused["id"])]
    assert imported.state_ids is not None  # support's record of the conflict (never the district's)


def test_exactly_one_trusted_student_per_pa_secure_id_across_moves_typos_and_probes(nights: Nights) -> None:
    """Three districts, five nights: a genuine move, a move without a birth date that waits for the
    old district's archive, a probe, and a typo that is corrected. After every night, for every
    PA Secure ID active anywhere, `by_state_id` plus `state_id_trusted` answers exactly one student."""
    ids = {n: f"10{n:08d}" for n in range(1, 7)}
    a, b, c, d_typo = (f"5a25ffb0c1bc2a00360001{n:02x}" for n in range(4))
    x, p, m, mover = (f"5a25ffb0c1bc2a00360002{n:02x}" for n in range(4))
    home: list[dict[str, Any]] = [
        _student(a, "García", ids[1]),
        _student(b, "Brown", ids[2]),
        _student(c, "Chen", ids[3]),
        _student(d_typo, "Dunn", ids[4]),  # a typo: X's id
    ]
    other: list[dict[str, Any]] = [_student(x, "Xu", ids[4]), _student(p, "Probe", ids[2])]
    third: list[dict[str, Any]] = []

    def night() -> None:
        for d, school, students in (
            (D, SCHOOL, home),
            (OTHER, OTHER_SCHOOL, other),
            (THIRD, THIRD_SCHOOL, third),
        ):
            if d == D:
                pages = base_pages()
                pages["students"] = [_user(KEEP, "student", "Keeper"), *students]
            else:
                pages = district_pages(d, school, *students)
            nights.night(pages, d=d)
        active: dict[str, int] = {}
        for d in (D, OTHER, THIRD):
            for item in nights.ddb.query(
                KeyConditionExpression=Key("pk").eq(f"DISTRICT#{d}") & Key("sk").begins_with("STUDENT#")
            )["Items"]:
                if item.get("status") == "active":
                    active[str(item["state_id"])] = active.get(str(item["state_id"]), 0) + 1
        for state_id in active:
            assert len(_trusted_by_index(nights, state_id)) == 1, (nights.n, state_id)

    night()  # 1: X holds ids[4] first or D does (same night); the probe does not take ids[2]
    assert _trusted_by_index(nights, ids[2]) == [(D, b)]
    other.append(_student(mover, "GARCIA ", ids[1]))  # 2: a genuine move (case, accent, spacing)
    night()
    assert _trusted_by_index(nights, ids[1]) == [(OTHER, mover)]
    home[3] = _student(d_typo, "Dunn", ids[5])  # 3: D corrects the typo; the move's old record ends
    del home[0]
    night()
    assert _trusted_by_index(nights, ids[5]) == [(D, d_typo)]
    assert _trusted_by_index(nights, ids[4]) == [(OTHER, x)]
    third.append(_student(m, "Xu", ids[4], dob=None))  # 4: X moves on without a birth date: waits
    night()
    assert _trusted_by_index(nights, ids[4]) == [(OTHER, x)]
    other[:] = [s for s in other if s["id"] != x]  # 5: the old district ends X's enrollment
    night()
    assert _trusted_by_index(nights, ids[4]) == [(THIRD, m)]
    assert _trusted_by_index(nights, ids[2]) == [(D, b)]  # the probe never took it
