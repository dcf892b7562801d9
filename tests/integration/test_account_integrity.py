"""Issue 14: night after night of scripted Clever data, through the state machine, on moto.

Each scenario serves tonight's Clever records for a district (a scripted Clever API on loopback)
and runs the night the one way it runs (`LocalNight`: fetch -> validate -> import in the
definition, Retry and Catch included), so the seams between the stages are the product's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rostersync.importer.contract import ImportResult
from rostersync.operations import set_district
from rostersync.settings import Settings, get_settings
from rostersync.validate.contract import ValidateResult
from rostersync_cli.local_functions import Handler, LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.provision import provision
from tests.integration.fault_world import AwsFaults
from tests.integration.scripted_clever import ScriptedClever

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
    """Tonight's Clever data for a district, then the night for it through the state machine."""

    def __init__(self, settings: Settings, clever: ScriptedClever, aws: AwsFaults) -> None:
        self.clever = clever
        self.aws = aws
        self.functions = LocalFunctions()
        self.bucket = settings.raw_bucket
        self.ddb = boto3.resource("dynamodb").Table(settings.roster_table)
        self.validating = False
        self.functions.wrap("ValidateFunction", self._marking_validation)

    def _marking_validation(self, handler: Handler) -> Handler:
        def call(event: dict[str, Any], context: Any) -> Any:
            self.validating = True
            try:
                return handler(event, context)
            finally:
                self.validating = False

        return call

    def night(
        self, pages: Mapping[str, list[dict[str, Any]]], d: str = D, *, roster_unreadable: bool = False
    ) -> tuple[ValidateResult, ImportResult]:
        if d not in self.clever.pages:
            set_district(d, by="test", percent=100)  # these scenarios archive freely: no safeguard
        self.clever.serve(d, pages)
        if roster_unreadable:  # validation's reads of the roster (the PA Secure ID holders) fail
            rule = self.aws.fail(
                "dynamodb",
                "BatchGetItem",
                ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "BatchGetItem"),
                times=1000,
                when=lambda params: self.validating,
            )
        night = LocalNight(self.functions).run([d])
        if roster_unreadable:
            assert rule.fired > 0
            rule.times = 0
        outcome = night.districts[d]
        assert not outcome.failed and night.status == "SUCCEEDED", (outcome, night.error)
        return (
            ValidateResult.model_validate(outcome.stages["validate"]),
            ImportResult.model_validate(outcome.stages["import"]),
        )

    def status(self, sk: str) -> str | None:
        item = self.ddb.get_item(Key={"pk": f"DISTRICT#{D}", "sk": sk}).get("Item")
        return None if item is None else str(item["status"])

    def members(self, pk: str) -> set[str]:
        from boto3.dynamodb.conditions import Key

        return {i["sk"] for i in self.ddb.query(KeyConditionExpression=Key("pk").eq(pk))["Items"]}


@pytest.fixture
def nights(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Nights]:
    with ScriptedClever() as clever, AwsFaults() as aws:
        monkeypatch.setenv("CLEVER_API_BASE", clever.api_base)
        monkeypatch.setenv("CLEVER_OAUTH_BASE", clever.oauth_base)
        get_settings.cache_clear()
        resources = provision(
            clever_credentials={"client_id": clever.client_id, "client_secret": clever.client_secret}
        )
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield Nights(get_settings(), clever, aws)


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
    body = s3.get_object(Bucket=nights.bucket, Key=validated.findings_key)["Body"].read()
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
    night = base_pages()
    night["students"].append(_user(PERSON, "student", "Mover", state_id="1098765432"))
    validated, imported = nights.night(night, roster_unreadable=True)
    assert imported.status.value == "succeeded" and imported.counts["STUDENT"].created == 2
    assert validated.summary_key
    assert _summary(nights, validated.summary_key)["state_ids_checked"] is False
    assert "PA Secure IDs not checked against other districts tonight" in caplog.text
    assert "1098765432" not in caplog.text

    validated, _ = nights.night(night)  # the next night checks again
    assert validated.summary_key
    assert _summary(nights, validated.summary_key)["state_ids_checked"] is True


def _summary(nights: Nights, key: str) -> dict[str, Any]:
    import json

    body = boto3.client("s3").get_object(Bucket=nights.bucket, Key=key)["Body"].read()
    return dict(json.loads(body))
