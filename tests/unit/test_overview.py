"""The all-districts view: each district's sync status kept by the stages, and reports/index.html."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rostersync.contracts.fetch import FetchResult, ManifestStatus
from rostersync.contracts.importer import ImportResult, KindCounts, RunStatus
from rostersync.contracts.validate import ValidateResult, ValidateStatus
from rostersync.layout import INDEX_KEY, sync_status_district, sync_status_key
from rostersync.overview.index_page import district_rows, render_index, write_index
from rostersync.overview.status import (
    Health,
    SyncStatus,
    load_status,
    record_fetch,
    record_import,
    record_validation,
)
from tests.fakes.page_store import MemoryPageStore
from tests.paths import REPO

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
RUN = "20261128T070000Z-aaaaaa"
OLDER = "20261127T070000Z-bbbbbb"


def _fetch(d: str, run: str, status: ManifestStatus = ManifestStatus.COMPLETE) -> FetchResult:
    return FetchResult(
        district_id=d, district_name=f"{d} <SD>", source="clever", run_id=run, status=status,
        manifest_key="m", records=10, pages=1, requests=1,
    )  # fmt: skip


def _validated(d: str, run: str, errors: int = 0, warnings: int = 0) -> ValidateResult:
    return ValidateResult(
        district_id=d, run_id=run, status=ValidateStatus.VALIDATED, accepted=9, errors=errors,
        warnings=warnings, imported={"STUDENT": 7}, report_key=f"reports/{d}/{run}/report.html",
    )  # fmt: skip


def _imported(d: str, run: str, status: RunStatus = RunStatus.SUCCEEDED, held: int = 0) -> ImportResult:
    return ImportResult(district_id=d, run_id=run, status=status, counts={"STUDENT": KindCounts(held=held)})


def _night(store: MemoryPageStore, d: str, run: str = RUN, **kw: object) -> None:
    record_fetch(store, _fetch(d, run), source="clever")
    record_validation(store, _validated(d, run, **kw))  # type: ignore[arg-type]
    record_import(store, _imported(d, run))


def test_the_stages_keep_one_status_per_district() -> None:
    store = MemoryPageStore()
    _night(store, "d1", warnings=2)
    status = load_status(store, "d1")
    assert status is not None and status.run_id == RUN and status.imported == 7 and status.warnings == 2
    assert status.last_good_run_id == RUN and status.source == "clever"
    assert status.health(NOW) is Health.WARNINGS
    assert sync_status_district(sync_status_key("d1")) == "d1"


def test_a_late_stage_of_an_older_run_does_not_overwrite_the_newer_run() -> None:
    store = MemoryPageStore()
    _night(store, "d1")
    record_validation(store, _validated("d1", OLDER, errors=5))
    status = load_status(store, "d1")
    assert status is not None and status.run_id == RUN and status.errors == 0


def test_a_new_run_that_stops_part_way_is_failed_and_keeps_the_last_report() -> None:
    store = MemoryPageStore()
    _night(store, "d1", run=OLDER)
    record_fetch(store, _fetch("d1", RUN))  # validate never finished (the night caught it)
    status = load_status(store, "d1")
    assert status is not None and status.health(NOW) is Health.FAILED
    assert status.report_run_id == OLDER and status.last_good_run_id == OLDER


def test_health_judgements() -> None:
    base = SyncStatus(
        district_id="d", run_id=RUN, fetch="complete", validation="validated",
        import_status="succeeded", last_good_run_id=RUN,
    )  # fmt: skip
    assert base.health(NOW) is Health.OK
    assert base.health(NOW, connected=False) is Health.DISCONNECTED
    assert base.model_copy(update={"import_status": "held"}).health(NOW) is Health.HELD
    assert base.model_copy(update={"errors": 1}).health(NOW) is Health.ERRORS
    assert base.model_copy(update={"fetch": "failed"}).health(NOW) is Health.FAILED
    assert base.model_copy(update={"import_status": "skipped_locked"}).health(NOW) is Health.FAILED
    stale = base.model_copy(update={"last_good_run_id": "20261120T070000Z-cccccc"})
    assert stale.health(NOW) is Health.STALE and stale.days_since_good(NOW) == 8


def test_the_index_puts_attention_first_links_reports_and_escapes_names() -> None:
    store = MemoryPageStore()
    _night(store, "aaa")
    _night(store, "zzz", errors=3)
    record_fetch(store, _fetch("mmm", RUN, ManifestStatus.FAILED))
    rows = write_index(store, now=NOW, link_for=lambda key: "https://links.example/?t=" + key.split("/")[1])
    assert [r.status.district_id for r in rows] == ["mmm", "zzz", "aaa"]
    assert [r.health for r in rows] == [Health.FAILED, Health.ERRORS, Health.OK]
    page = store.objects[INDEX_KEY].decode("utf-8")
    assert "zzz &lt;SD&gt;" in page and "<SD>" not in page
    assert 'href="https://links.example/?t=zzz"' in page
    assert page.count('class="attention"') == 2
    assert "src=" not in page and "<link" not in page  # self-contained
    assert [r.status.district_id for r in district_rows(store, NOW)] == ["mmm", "zzz", "aaa"]


def test_an_empty_index_says_so() -> None:
    assert "No district has run yet" in render_index([], now=NOW, link_for=lambda key: None)


def test_the_state_machine_writes_the_index_after_the_last_batch() -> None:
    states = json.loads((REPO / "statemachine" / "nightly.asl.json").read_text(encoding="utf-8"))["States"]
    assert states["Batches"]["Next"] == "WriteIndex"
    step = states["WriteIndex"]
    assert step["Parameters"] == {"FunctionName": "${ValidateFunctionArn}", "Payload": {"index": True}}
    assert step["ResultPath"] is None and step["Next"] == "AnyDistrictFailed?"
    assert step["Catch"][0]["Next"] == "NotifyIndexFailed"
    assert states["NotifyIndexFailed"]["Next"] == "AnyDistrictFailed?"


def test_the_index_names_each_districts_source_as_people_know_it() -> None:
    store = MemoryPageStore()
    for d, source in (("d-clever", "clever"), ("4200050", "oneroster")):
        record_fetch(store, _fetch(d, RUN), source=source)
    page = render_index(district_rows(store, NOW), now=NOW, link_for=lambda key: None)
    assert "<td>Clever</td>" in page and "<td>ClassLink</td>" in page


def test_the_index_lists_pa_secure_id_conflicts_with_both_districts_for_support() -> None:
    from rostersync.state_id_registry import Conflict

    store = MemoryPageStore()
    _night(store, "aaa")
    _night(store, "zzz")
    conflict = Conflict("zzz", "st-z", "aaa", "st-a", "2026-11-29T07:00:00+00:00")
    write_index(store, now=NOW, link_for=lambda key: None, conflicts_for=lambda ids: [conflict])
    page = store.objects[INDEX_KEY].decode("utf-8")
    assert "PA Secure ID conflicts (1)" in page
    table = page.split('id="state-id-conflicts"', 1)[1]
    assert "aaa" in table and "zzz" in table and "st-a" in table and "st-z" in table and "2026-11-29" in table
    write_index(store, now=NOW, link_for=lambda key: None, conflicts_for=lambda ids: [])
    assert "PA Secure ID conflicts" not in store.objects[INDEX_KEY].decode("utf-8")
