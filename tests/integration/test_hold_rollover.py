"""Issue 14, item 12: the summer pause and the rollover. Clever freezes a district's data during its
pause, and the new school year arrives at once when it ends, so the safeguard holds districts every
August. The hold's alert says why (the district just left its pause, its terms changed to a new
school year), and support releases many districts at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from rostersync.alert_model import Alert
from rostersync.alerts.notify import notify_import
from rostersync.contracts.importer import ImportResult, RunStatus
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.records import Kind
from rostersync.settings import Settings
from rostersync_cli.main import main
from tests.factories import D, Roster, district, small_roster, term
from tests.integration import test_import_roster
from tests.integration.test_import_roster import Env

env = test_import_roster.env  # the import tests' fixture: a provisioned table, a settable clock

D2 = "d0000000000000000000002"
D3 = "d0000000000000000000003"


class Inbox:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def publish(self, alert: Alert) -> bool:
        self.alerts.append(alert)
        return True


def _iso(env: Env, days: float, runs_ahead: int = 1) -> str:
    """A Clever datetime `days` from the run `runs_ahead` runs from now (each run is a day later)."""
    when = env.clock.now + timedelta(days=runs_ahead + days)
    return f"{when:%Y-%m-%dT%H:%M:%S}.000Z"


def _run(env: Env, roster: Roster, d: str = D) -> ImportResult:
    return import_district(
        d,
        env.clock.next_run(),
        roster.accepted(),
        set(),
        env.table,
        holds=env.holds,
        clock=env.clock,
        thresholds=SafeguardThresholds(),
    )


def _august(env: Env, d: str = D) -> tuple[Roster, Roster]:
    """June's roster, and August's: the pause ended 3 days ago, last year's students left, new terms."""
    june = small_roster(students=30, d=d)
    june.add(Kind.DISTRICT, district(d=d).model_copy(update={"sync_state": "success"}))
    august = small_roster(students=30, d=d)
    for n in range(6):  # the graduates: 6 of 30 students
        august.remove(Kind.STUDENT, f"st{n:04d}")
    august.remove(Kind.TERM, "term1")
    august.add(
        Kind.TERM,
        term("term2", d=d).model_copy(update={"start_date": "2027-08-25", "end_date": "2028-06-09"}),
    )
    august.add(
        Kind.DISTRICT,
        district(d=d).model_copy(
            update={
                "pause_start": _iso(env, -80, runs_ahead=2),
                "pause_end": _iso(env, -3, runs_ahead=2),
                "sync_state": "success",
            }
        ),
    )
    return june, august


def test_a_hold_right_after_the_pause_says_why_and_how_to_release(env: Env) -> None:
    june, august = _august(env)
    _run(env, june)

    held = _run(env, august)

    assert held.status is RunStatus.HELD
    assert held.rollover is not None
    assert held.rollover.pause_ended_days_ago == 3
    assert (held.rollover.terms_created, held.rollover.terms_gone) == (1, 1)
    assert held.rollover.new_terms_start == "2027-08-25"
    inbox = Inbox()
    notify_import(held, inbox, source="clever")
    [alert] = inbox.alerts
    body = alert.body
    assert "left Clever's pause" in body and "3 days before" in body
    assert "new school year" in body
    assert "2027-08-25" in body
    assert f"rostersync release --district {D}" in body
    assert "--districts-file" in body
    assert "LastSt0000" not in body and "Ann" not in body  # no person's name
    assert len(body.encode()) < 8_000


def test_a_hold_long_after_the_pause_with_the_same_terms_says_nothing_of_a_rollover(env: Env) -> None:
    roster = small_roster(students=30)
    roster.add(
        Kind.DISTRICT,
        district().model_copy(update={"pause_start": _iso(env, -200), "pause_end": _iso(env, -120)}),
    )
    _run(env, roster)
    for n in range(6):
        roster.remove(Kind.STUDENT, f"st{n:04d}")

    held = _run(env, roster)

    assert held.status is RunStatus.HELD
    assert held.rollover is None
    inbox = Inbox()
    notify_import(held, inbox, source="clever")
    assert "pause" not in inbox.alerts[0].body and "school year" not in inbox.alerts[0].body


@pytest.fixture
def three_held(env: Env) -> Iterator[list[str]]:
    """D and D2 held (the rollover), D3 imported without a hold."""
    for d in (D, D2):
        june, august = _august(env, d)
        _run(env, june, d)
        assert _run(env, august, d).status is RunStatus.HELD
    _run(env, small_roster(students=30, d=D3), D3)
    yield [D, D2, D3]


def _archived_students(env: Env, d: str) -> int:
    from boto3.dynamodb.conditions import Key

    items = env.ddb.query(
        KeyConditionExpression=Key("pk").eq(f"DISTRICT#{d}") & Key("sk").begins_with("STUDENT#")
    )["Items"]
    return sum(1 for i in items if i["status"] == "archived")


def test_release_many_districts_from_the_command_line(
    env: Env, settings: Settings, three_held: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["release", "--district", D, "--district", D2, "--district", D3]) == 0

    out = capsys.readouterr().out
    assert out.count('"status": "released"') == 2 and '"status": "not_found"' in out
    assert _archived_students(env, D) == _archived_students(env, D2) == 6


def test_release_districts_listed_in_a_file(
    env: Env, settings: Settings, three_held: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "districts.txt"
    listing.write_text(f"# August rollover\n{D}\n\n  {D2}  \n", encoding="utf-8")

    assert main(["release", "--districts-file", str(listing)]) == 0

    assert capsys.readouterr().out.count('"status": "released"') == 2
    assert _archived_students(env, D) == _archived_students(env, D2) == 6


def _lease_items(env: Env) -> set[str]:
    return {i["pk"] for i in env.ddb.scan()["Items"] if str(i["pk"]).startswith("LEASE#")}


def test_a_districts_file_saved_with_a_byte_order_mark_releases_its_first_district(
    env: Env, settings: Settings, three_held: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 25, defect 4: Notepad's UTF-8 starts the file with a BOM; it made the first id unknown
    and that district's hold stayed."""
    listing = tmp_path / "districts.txt"
    listing.write_bytes(f"{D}\n{D2}\n".encode("utf-8-sig"))

    assert main(["release", "--districts-file", str(listing)]) == 0

    assert capsys.readouterr().out.count('"status": "released"') == 2
    assert _archived_students(env, D) == 6


def test_an_unknown_id_in_a_districts_file_is_an_error_naming_its_line_and_writes_nothing(
    env: Env, settings: Settings, three_held: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "d0000000000000000000099"
    listing = tmp_path / "districts.txt"
    listing.write_text(f"# rollover\n{D}\n{unknown}\n", encoding="utf-8")
    leases = _lease_items(env)

    assert main(["release", "--districts-file", str(listing)]) == 1

    captured = capsys.readouterr()
    assert f"line 3: district {unknown} is not known" in captured.err
    assert captured.out.count('"status": "released"') == 1  # the known one is released
    assert _lease_items(env) == leases and f"LEASE#{unknown}" not in leases  # nothing written for it


def test_a_district_id_with_spaces_is_trimmed_and_a_malformed_one_refused(
    env: Env, settings: Settings, three_held: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["release", "--district", f" {D} "]) == 0
    assert '"status": "released"' in capsys.readouterr().out
    leases = _lease_items(env)
    for bad in (f"{D2} x", f"{D2}\x1b[2J", ""):
        with pytest.raises(SystemExit) as exit_:
            main(["release", "--district", bad])
        assert exit_.value.code == 2
        assert "not a district id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["district", "set", "--district", f"{D2} x", "--safeguard-percent", "20"])
    assert _lease_items(env) == leases


def test_release_refuses_a_run_id_for_several_districts(env: Env, settings: Settings) -> None:
    with pytest.raises(SystemExit):
        main(["release", "--district", D, "--district", D2, "--run", "20261128T070000Z-000001"])


def test_a_term_starting_past_the_last_representable_instant_imports(env: Env) -> None:
    """Issue 25, defect 1: `9999-12-31T23:59:59-01:00` is after datetime.max in UTC; reading it raised
    OverflowError and failed the district's import every night. It is now an unreadable date: the
    rollover signs leave it out (validation reports it as `record.date.invalid`)."""
    june, august = _august(env)
    august.add(Kind.TERM, term("term2", start_date="9999-12-31T23:59:59-01:00", end_date="9999-12-31"))
    august.add(
        Kind.DISTRICT,
        district().model_copy(
            update={"pause_start": "0001-01-01T00:00:00+01:00", "pause_end": "9999-12-31T23:59:59-01:00"}
        ),
    )
    _run(env, june)

    result = _run(env, august)

    assert result.status is RunStatus.HELD  # the graduates still trip the safeguard, as before
    assert result.rollover is not None and result.rollover.new_terms_start is None
    assert result.rollover.terms_created == 1 and result.rollover.pause_ended is None
