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
from boto3.dynamodb.conditions import Key

from rostersync.contracts.importer import ImportResult
from rostersync.contracts.validate import ValidateResult
from rostersync.operations import set_district
from rostersync.settings import Settings, get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.provision import provision
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

    def __init__(self, settings: Settings, clever: ScriptedClever) -> None:
        self.clever = clever
        self.functions = LocalFunctions()
        self.bucket = settings.raw_bucket
        self.ddb = boto3.resource("dynamodb").Table(settings.roster_table)

    def night(
        self, pages: Mapping[str, list[dict[str, Any]]], d: str = D
    ) -> tuple[ValidateResult, ImportResult]:
        if d not in self.clever.pages:
            set_district(d, by="test", percent=100)  # these scenarios archive freely: no safeguard
        self.clever.serve(d, pages)
        night = LocalNight(self.functions).run([d])
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
        return {i["sk"] for i in self.ddb.query(KeyConditionExpression=Key("pk").eq(pk))["Items"]}


@pytest.fixture
def nights(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Nights]:
    with ScriptedClever() as clever:
        monkeypatch.setenv("CLEVER_API_BASE", clever.api_base)
        monkeypatch.setenv("CLEVER_OAUTH_BASE", clever.oauth_base)
        get_settings.cache_clear()
        resources = provision(
            clever_credentials={"client_id": clever.client_id, "client_secret": clever.client_secret}
        )
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield Nights(get_settings(), clever)


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
    return str(boto3.client("s3").get_object(Bucket=nights.bucket, Key=key)["Body"].read().decode("utf-8"))


def _trusted_by_index(nights: Nights, state_id: str) -> list[tuple[str, str]]:
    """The application's answer: a Query of the `by_state_id` index (keys and the flag), then the
    trusted student's item by its key."""
    items = nights.ddb.query(IndexName="by_state_id", KeyConditionExpression=Key("state_id").eq(state_id))[
        "Items"
    ]
    trusted = [
        nights.ddb.get_item(Key={"pk": i["pk"], "sk": i["sk"]})["Item"]
        for i in items
        if i.get("state_id_trusted") is True
    ]
    return sorted((str(i["district_id"]), str(i["clever_id"])) for i in trusted)


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

    nights_run: list[int] = []

    def night() -> None:
        nights_run.append(len(nights_run) + 1)
        for d, school, students in (
            (D, SCHOOL, home),
            (OTHER, OTHER_SCHOOL, other),
            (THIRD, THIRD_SCHOOL, third),
        ):
            if d == D:
                pages = base_pages()
                pages["students"] = [_user(KEEP, "student", "Keeper"), *students]
            elif not students:  # not connected yet: an empty district is rejected, never imported
                continue
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
            assert len(_trusted_by_index(nights, state_id)) == 1, (len(nights_run), state_id)

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
