"""Issue 25, defect 3: a Lambda death right after the import commits must not lose its alert.

The retry of the same run id replays the recorded result; it used to publish nothing (a replay
announced nothing, so the `records_archived` of the first invocation was gone) and leave the
district's status at "import None" (a replay wrote no status). What an import must announce is now
recorded with its commit (`announce` on the run item) and published by whichever invocation gets
there first, exactly once; a replay writes the run's outcome into the status too."""

from __future__ import annotations

from typing import Any

import pytest

from rostersync import wiring
from rostersync.contracts.fetch import FetchResult, ManifestStatus
from rostersync.contracts.importer import ImportRequest, ImportResult
from rostersync.layout import run_pk
from rostersync.overview.status import SyncStatus, load_status, record_fetch
from rostersync.records import Kind
from rostersync_cli.local_states import LambdaTimedOut
from tests.factories import D, small_roster
from tests.fakes import RecordingPublisher
from tests.integration import test_import_roster
from tests.integration.test_import_roster import Env

env = test_import_roster.env


class _Dies:
    """The roster table, except that the first `release_lease` (the step right after the run
    record's commit write) kills the invocation: no `except Exception` cleanup runs."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.deaths = 1

    def release_lease(self, *args: Any, **kwargs: Any) -> None:
        if self.deaths:
            self.deaths -= 1
            raise LambdaTimedOut("killed right after the commit")
        self._table.release_lease(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


@pytest.fixture
def publisher(env: Env, monkeypatch: pytest.MonkeyPatch) -> RecordingPublisher:
    recording = RecordingPublisher()
    monkeypatch.setattr(wiring, "alert_publisher", lambda _settings=None: recording)
    return recording


def _invoke(env: Env, monkeypatch: pytest.MonkeyPatch, run: Any, run_id: str) -> dict[str, Any]:
    """The import function's handler path (wiring.import_), on the test's roster and table, after
    the run's fetch recorded its stage in the district's status (as the night does)."""
    fetched = FetchResult(
        district_id=D,
        source="clever",
        run_id=run_id,
        status=ManifestStatus.COMPLETE,
        manifest_key="raw/x/manifest.json",
        records=1,
        pages=1,
        requests=1,
    )
    if (load_status(env.store, D) or SyncStatus(district_id=D)).run_id != run_id:
        record_fetch(env.store, fetched)
    monkeypatch.setattr(wiring, "import_run", lambda *_a, **_k: run())
    return wiring.import_(ImportRequest(district_id=D, run_id=run_id, source="clever"))


def test_a_death_right_after_the_commit_loses_no_alert_and_leaves_the_status_right(
    env: Env, publisher: RecordingPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = small_roster(students=30)
    first = env.clock.next_run()
    _invoke(env, monkeypatch, lambda: env.run(roster, run_id=first), first)
    assert publisher.sent == []  # a first import archives nothing
    roster.remove(Kind.STUDENT, "st0001")  # one student leaves: `records_archived`
    second = env.clock.next_run()
    dying = _Dies(env.table)

    with pytest.raises(LambdaTimedOut):
        _invoke(env, monkeypatch, lambda: env.run(roster, run_id=second, table=dying), second)
    assert publisher.sent == []  # died before announcing

    retried = _invoke(env, monkeypatch, lambda: env.run(roster, run_id=second), second)
    again = _invoke(env, monkeypatch, lambda: env.run(roster, run_id=second), second)

    assert ImportResult.model_validate(retried).status.value == "succeeded"
    assert ImportResult.model_validate(again).status.value == "succeeded"
    assert [(a.event_type.value, a.district_id) for a in publisher.sent] == [("records_archived", D)]
    status = load_status(env.store, D)
    assert status is not None and status.run_id == second
    assert status.import_status == "succeeded" and status.archived == 1
    recorded = env.table.get_item(run_pk(D), second)
    assert recorded is not None and recorded["announce"] == "sent"


def test_an_alert_refused_by_sns_is_published_by_the_next_invocation(
    env: Env, publisher: RecordingPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = small_roster(students=30)
    first = env.clock.next_run()
    _invoke(env, monkeypatch, lambda: env.run(roster, run_id=first), first)
    roster.remove(Kind.STUDENT, "st0001")
    second = env.clock.next_run()
    publisher.fail = True
    _invoke(env, monkeypatch, lambda: env.run(roster, run_id=second), second)
    assert publisher.sent == [] and len(publisher.refused) == 1
    publisher.fail = False

    _invoke(env, monkeypatch, lambda: env.run(roster, run_id=second), second)
    _invoke(env, monkeypatch, lambda: env.run(roster, run_id=second), second)

    assert [a.event_type.value for a in publisher.sent] == ["records_archived"]
