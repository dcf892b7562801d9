"""Bugs the fault-injection suite (tests/integration/test_faults_*.py) found, pinned at unit level."""

from __future__ import annotations

from rostersync.alert_model import EventType
from rostersync.alerts.notify import notify_import
from rostersync.contracts.importer import ImportResult, RunStatus
from tests.fakes import RecordingPublisher

DISTRICT = "5f1a2b3c4d5e6f7a8b9c0d1e"
RUN = "20261128T070000Z-3f9a1c"


def test_bug_an_import_refused_by_the_lease_was_silent() -> None:
    """A Lambda timeout mid-import leaves the district's lease held for 20 minutes; the state
    machine's retry of the same import then returned `skipped_locked` *normally*, so its Catch
    never fired and nobody was told the district was not imported that night."""
    publisher = RecordingPublisher()
    result = ImportResult(district_id=DISTRICT, run_id=RUN, status=RunStatus.SKIPPED_LOCKED)

    outcome = notify_import(result, publisher, source="clever")

    [alert] = publisher.sent
    assert alert.event_type is EventType.SYNC_FAILED
    assert alert.district_id == DISTRICT and RUN in alert.body
    assert outcome.published == [f"sync_failed:{DISTRICT}"]


def test_a_successful_or_unvalidated_import_sends_no_failure_alert() -> None:
    # skipped_stale alerts since issue 14 item 6 (a run id from the future made every later night
    # stale, silently): tests/unit/test_run_ids.py pins that alert.
    for status in (RunStatus.SUCCEEDED, RunStatus.SKIPPED):
        publisher = RecordingPublisher()
        notify_import(
            ImportResult(district_id=DISTRICT, run_id=RUN, status=status), publisher, source="clever"
        )
        assert publisher.sent == [], status
