"""import_district over the in-memory fakes: the plan -> apply -> commit order, without AWS.

The same paths run against DynamoDB's semantics on moto in tests/integration/test_import_roster.py;
these are the fast checks of the service's decisions, and of the result the alerts read.
"""

from __future__ import annotations

from rostersync.alert_model import EventType
from rostersync.alerts.notify import notify_import
from rostersync.contracts.importer import RunStatus
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.runs import set_thresholds
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.layout import roster_sk
from rostersync.records import Kind
from tests.factories import Clock, D, Roster, small_roster
from tests.fakes import MemoryPageStore, MemoryRosterTable, RecordingPublisher


def _import(
    table: MemoryRosterTable, store: MemoryPageStore, roster: Roster, run_id: str, clock: Clock, **kw
):
    return import_district(
        D, run_id, roster.accepted(), set(), table, holds=PageStoreHoldStore(store), clock=clock, **kw
    )


def test_a_first_import_creates_everything_and_an_unchanged_night_writes_nothing() -> None:
    table, store, clock = MemoryRosterTable(), MemoryPageStore(), Clock()
    roster = small_roster(students=30, teachers=3)
    first = _import(table, store, roster, clock.next_run(), clock)
    assert first.status is RunStatus.SUCCEEDED
    assert first.counts["STUDENT"].created == 30 and first.counts["SECTION"].created == 3
    assert (
        len(table.active(D)) == 1 + 1 + 30 + 3 + 3 + 1 + 1
    )  # district, school, people, sections, term, course

    second = _import(table, store, roster, clock.next_run(), clock)
    assert second.status is RunStatus.SUCCEEDED
    assert second.roster_writes == 0
    assert second.counts["STUDENT"].unchanged == 30
    assert second.diff_source == "index"  # the first run's clean commit named its roster index


def test_a_district_override_decides_the_hold_and_the_alert_quotes_it() -> None:
    """Bug: the deletions_held e-mail quoted the global SAFEGUARD_ARCHIVE_PERCENT even when the
    district's own CONFIG#<d>/SAFEGUARD override decided the hold. The result now carries the
    threshold the run applied, and the alert reads it."""
    table, store, clock = MemoryRosterTable(), MemoryPageStore(), Clock()
    roster = small_roster(students=100, teachers=2)
    _import(table, store, roster, clock.next_run(), clock)
    set_thresholds(table, D, SafeguardThresholds(archive_percent=25.0))
    for student_id in roster.ids(Kind.STUDENT)[:30]:  # 30% of the students gone: over 25%
        roster.remove(Kind.STUDENT, student_id)

    held = _import(table, store, roster, clock.next_run(), clock, thresholds=SafeguardThresholds(10.0))

    assert held.status is RunStatus.HELD
    assert held.safeguard_percent == 25.0
    assert roster_sk(Kind.STUDENT, "st0000") in table.active(D)  # held, not archived
    publisher = RecordingPublisher()
    notify_import(held, publisher, source="clever")
    [alert] = publisher.of_type(EventType.DELETIONS_HELD)
    assert "the safeguard allows 25%" in alert.body
    assert "allows 10%" not in alert.body


def test_without_an_override_the_default_threshold_is_applied_and_quoted() -> None:
    table, store, clock = MemoryRosterTable(), MemoryPageStore(), Clock()
    roster = small_roster(students=100, teachers=2)
    _import(table, store, roster, clock.next_run(), clock)
    for student_id in roster.ids(Kind.STUDENT)[:15]:
        roster.remove(Kind.STUDENT, student_id)

    held = _import(table, store, roster, clock.next_run(), clock, thresholds=SafeguardThresholds(12.0))

    assert held.status is RunStatus.HELD and held.safeguard_percent == 12.0
    publisher = RecordingPublisher()
    notify_import(held, publisher, source="clever")
    [alert] = publisher.of_type(EventType.DELETIONS_HELD)
    assert "the safeguard allows 12%" in alert.body


def test_a_run_older_than_the_latest_is_refused_and_writes_nothing() -> None:
    table, store, clock = MemoryRosterTable(), MemoryPageStore(), Clock()
    roster = small_roster(students=5, teachers=1)
    older = clock.next_run()
    newer = clock.next_run()
    _import(table, store, roster, newer, clock)
    before = dict(table.items)

    stale = _import(table, store, roster, older, clock)

    assert stale.status is RunStatus.SKIPPED_STALE
    assert table.items == before


def test_a_district_reusing_another_districts_school_id_never_writes_into_its_partition() -> None:
    """Bug: membership partitions were keyed by the school id alone, so a district reusing another
    district's school id put its people in the other's SCHOOL# partition (and archiving them
    there would have touched the other's membership). The partitions carry the district now."""
    table, store, clock = MemoryRosterTable(), MemoryPageStore(), Clock()
    other = "e0000000000000000000002"
    _import(table, store, small_roster(students=4, teachers=1), clock.next_run(), clock)
    theirs = small_roster(students=3, teachers=1, d=other)  # the same ids: sch1, st0000, se000...
    import_district(
        other, clock.next_run(), theirs.accepted(), set(), table, holds=PageStoreHoldStore(store), clock=clock
    )

    ours_before = {key for key in table.items if key[0] == f"SCHOOL#{D}#sch1"}
    assert ours_before == {(f"SCHOOL#{D}#sch1", f"STUDENT#st{n:04d}") for n in range(4)} | {
        (f"SCHOOL#{D}#sch1", "TEACHER#te000")
    }
    assert {key for key in table.items if key[0] == f"SCHOOL#{other}#sch1"} == {
        (f"SCHOOL#{other}#sch1", f"STUDENT#st{n:04d}") for n in range(3)
    } | {(f"SCHOOL#{other}#sch1", "TEACHER#te000")}

    # The other district drops everyone: its archives leave this district's memberships alone.
    empty = small_roster(students=0, teachers=0, d=other)
    import_district(
        other, clock.next_run(), empty.accepted(), set(), table, holds=PageStoreHoldStore(store), clock=clock
    )
    assert {key for key in table.items if key[0] == f"SCHOOL#{D}#sch1"} == ours_before
    assert table.member_edges(D, "STUDENT#st0000") == {(f"SCHOOL#{D}#sch1", "STUDENT#st0000")}
