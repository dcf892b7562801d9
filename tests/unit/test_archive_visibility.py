"""Issue 14 item 10: every night's archives are visible, not only those that trip the safeguard."""

from __future__ import annotations

import pytest

from rostersync.alert_model import EventType
from rostersync.alerts.notify import notify_import
from rostersync.contracts.importer import ImportResult, KindCounts, RunStatus
from tests.fakes import RecordingPublisher
from tests.unit.test_alerts import STUDENT_FIRST, STUDENT_LAST


def _archived_20_of_400(**update: object) -> ImportResult:
    result = ImportResult(
        district_id="d1",
        run_id="20261128T070000Z-aaaaaa",
        status=RunStatus.SUCCEEDED,
        counts={
            "STUDENT": KindCounts(accepted=380, unchanged=380, archived=20),
            "SECTION": KindCounts(accepted=15, unchanged=14, updated=1),
            "TEACHER": KindCounts(accepted=10, unchanged=9, archived=1),
        },
    )
    return result.model_copy(update=update)


def test_a_small_loss_below_the_safeguard_alerts_records_archived_with_counts_per_kind() -> None:
    publisher = RecordingPublisher()
    outcome = notify_import(_archived_20_of_400(), publisher, source="clever")
    assert outcome.published == ["records_archived:d1"]
    [alert] = publisher.sent
    assert alert.event_type is EventType.RECORDS_ARCHIVED
    assert alert.message_attributes()["event_type"]["StringValue"] == "records_archived"
    assert "21 records archived" in alert.subject
    lines = alert.body.splitlines()
    # per kind, with what it is a share of (active before tonight)
    assert any(line.split()[:4] == ["STUDENT", "20", "of", "400"] for line in lines)
    assert any(line.split()[:4] == ["TEACHER", "1", "of", "10"] for line in lines)
    assert not any(line.split()[:1] == ["SECTION"] for line in lines)
    assert "What to do" in alert.body
    assert STUDENT_FIRST not in alert.body and STUDENT_LAST not in alert.body


@pytest.mark.parametrize(
    "update",
    [
        {"replayed": True},
        {"dry_run": True, "status": RunStatus.DRY_RUN},
        {"counts": {"STUDENT": KindCounts(accepted=400, unchanged=400)}},
    ],
    ids=["replayed", "dry-run", "nothing-archived"],
)
def test_no_archive_alert_when_nothing_was_archived_tonight(update: dict[str, object]) -> None:
    publisher = RecordingPublisher()
    assert notify_import(_archived_20_of_400(**update), publisher, source="clever").published == []


def test_status_output_makes_archives_stand_out(capsys: pytest.CaptureFixture[str]) -> None:
    from rostersync_cli.main import _print_import

    _print_import(_archived_20_of_400().model_dump(mode="json"))
    out = capsys.readouterr().out
    assert "ARCHIVED tonight: 21 records (STUDENT 20, TEACHER 1)" in out


def test_records_archived_names_a_classlink_districts_source() -> None:
    publisher = RecordingPublisher()
    notify_import(_archived_20_of_400(), publisher, source="oneroster")
    [alert] = publisher.sent
    assert "ClassLink no longer shares them" in alert.body
    assert "sharing rules in ClassLink (Roster Server > Smart Futures >" in alert.body
    assert "Clever" not in alert.body
