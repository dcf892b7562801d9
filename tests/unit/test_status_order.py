"""Issue 25, defect 5: two runs of one district at once. A district's status (and so
reports/index.html and `rostersync districts`, which read it) is ordered by run: the newest run's
outcome wins, whatever order the stages of the two runs finish in. The older run's fetch used to
reset the status when it finished after the newer run's, and its `skipped_stale` import then
showed over the newer run's success."""

from __future__ import annotations

import itertools

import pytest

from rostersync.contracts.importer import RunStatus
from rostersync.overview.index_page import district_rows
from rostersync.overview.status import Health, load_status, record_fetch, record_import, record_validation
from rostersync_cli.main import district_lines
from tests.fakes.page_store import MemoryPageStore
from tests.unit.test_overview import NOW, _fetch, _imported, _validated

OLDER = "20261128T063000Z-aaaaaa"  # a run started by hand, still going when the night's began
NEWER = "20261128T070000Z-bbbbbb"


def _stages(store: MemoryPageStore, run: str, outcome: RunStatus) -> list[object]:
    return [
        lambda: record_fetch(store, _fetch("d1", run), source="clever"),
        lambda: record_validation(store, _validated("d1", run)),
        lambda: record_import(store, _imported("d1", run, outcome)),
    ]


def _interleavings() -> list[tuple[str, ...]]:
    """Every order of the two runs' three stages, each run's stages in their own order."""
    out = set()
    for picks in itertools.combinations(range(6), 3):
        out.add(tuple("old" if i in picks else "new" for i in range(6)))
    return sorted(out)


@pytest.mark.parametrize("order", _interleavings())
def test_the_newest_runs_outcome_wins_in_status_index_and_cli(order: tuple[str, ...]) -> None:
    store = MemoryPageStore()
    stages = {
        "old": iter(_stages(store, OLDER, RunStatus.SKIPPED_STALE)),
        "new": iter(_stages(store, NEWER, RunStatus.SUCCEEDED)),
    }
    for who in order:
        next(stages[who])()  # type: ignore[operator]

    status = load_status(store, "d1")
    assert status is not None and status.run_id == NEWER
    assert status.import_status == "succeeded" and status.last_good_run_id == NEWER
    [row] = district_rows(store, NOW)
    assert row.health is Health.OK
    [line] = district_lines([row])
    assert line[4] == "ok"  # after the source, its version and authentication
