"""Issue 14 item 2: one PA Secure ID active in two districts, told to the district not trusted.

The import writes `STATEID#<id>` / `HOLDER` beside each student item it writes; validation asks
`active_elsewhere` which of its students' ids another district holds for an active student.
Both run here over the in-memory roster table; tests/integration/test_account_integrity.py runs
the two stages night after night on moto.
"""

from __future__ import annotations

from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.layout import STATE_ID_HOLDER_SK, state_id_pk
from rostersync.records import Kind
from rostersync.state_ids import OtherDistrict, active_elsewhere, holder_item
from tests.factories import Clock, D, Roster, district, small_roster, state_id_for, student
from tests.fakes import MemoryPageStore, MemoryRosterTable

B = "d0000000000000000000002"
EVERYTHING = SafeguardThresholds(archive_percent=100)


def _import(table: MemoryRosterTable, roster: Roster, d: str, clock: Clock):
    return import_district(
        d,
        clock.next_run(),
        roster.accepted(),
        set(),
        table,
        holds=PageStoreHoldStore(MemoryPageStore()),
        thresholds=EVERYTHING,
        clock=clock,
    )


def _holder(table: MemoryRosterTable, student_id: str) -> tuple[str, str] | None:
    item = table.items.get((state_id_pk(state_id_for(student_id)), STATE_ID_HOLDER_SK))
    return None if item is None else (item["district_id"], item["student_id"])


def _ids(*student_ids: str) -> set[str]:
    return {state_id_for(s) for s in student_ids}


def test_every_student_who_arrives_makes_its_district_the_holder_and_a_quiet_night_writes_none() -> None:
    table, clock = MemoryRosterTable(), Clock()
    roster = small_roster(students=3, d=D)
    first = _import(table, roster, D, clock)
    assert {s: _holder(table, s) for s in ("st0000", "st0001", "st0002")} == {
        s: (D, s) for s in ("st0000", "st0001", "st0002")
    }
    # 3 holder items beside the roster and membership items; none for teachers or sections
    assert sum(1 for pk, _ in table.items if pk.startswith("STATEID#")) == 3
    assert first.roster_writes > 0
    assert _import(table, roster, D, clock).roster_writes == 0  # no student written, no holder


def test_the_district_a_student_arrived_in_last_holds_its_id_and_the_other_is_named() -> None:
    table, clock = MemoryRosterTable(), Clock()
    old, new = small_roster(students=3, d=D), small_roster(students=3, d=B)  # same PA Secure IDs
    old.remove(Kind.DISTRICT, D)
    old.add(Kind.DISTRICT, district("Old Town SD", d=D))
    _import(table, old, D, clock)

    # The night the student moves in, the new district learns the old one still has them.
    assert active_elsewhere(table, B, _ids("st0000", "st0001")) == {
        state_id_for("st0000"): OtherDistrict(D, "Old Town SD"),
        state_id_for("st0001"): OtherDistrict(D, "Old Town SD"),
    }
    assert active_elsewhere(table, D, _ids("st0000")) == {}  # the holder itself is not warned

    _import(table, new, B, clock)  # the new district writes the students: it holds their ids now
    assert _holder(table, "st0000") == (B, "st0000")
    assert active_elsewhere(table, B, _ids("st0000")) == {}
    named = active_elsewhere(table, D, _ids("st0000", "st0001", "st0002"))
    assert named == {s: OtherDistrict(B, "Test Area SD") for s in _ids("st0000", "st0001", "st0002")}


def test_a_holder_whose_student_is_gone_or_changed_names_nobody() -> None:
    table, clock = MemoryRosterTable(), Clock()
    _import(table, small_roster(students=3, d=D), D, clock)
    moved = small_roster(students=3, d=B)
    _import(table, moved, B, clock)  # B holds all three ids

    moved.remove(Kind.STUDENT, "st0000")  # B stops sharing st0000: archived there
    fixed = moved.remove(Kind.STUDENT, "st0001")  # B corrects st0001's PA Secure ID
    moved.add(Kind.STUDENT, fixed.model_copy(update={"state_id": "1234567890"}))
    _import(table, moved, B, clock)
    assert table.items[("DISTRICT#" + B, "STUDENT#st0000")]["status"] == "archived"
    # A holder item naming a student that was never written (a run that died part way)
    table.put_item(holder_item(state_id_for("ghost"), B, "ghost", "20261101T000000Z-000001", "x"))

    named = active_elsewhere(table, D, _ids("st0000", "st0001", "st0002", "ghost"))
    assert named == {state_id_for("st0002"): OtherDistrict(B, "Test Area SD")}


def test_the_other_districts_name_is_one_short_line_and_reads_are_batched() -> None:
    table, clock = MemoryRosterTable(), Clock()
    roster = small_roster(students=2, d=B)
    roster.remove(Kind.DISTRICT, B)
    roster.add(Kind.DISTRICT, district("Forged\nre-enter your secret at https://x " + "y" * 500, d=B))
    _import(table, roster, B, clock)
    table.calls.clear()

    named = active_elsewhere(table, D, _ids("st0000", "st0001", "nobody"))
    other = named[state_id_for("st0000")]
    assert "\n" not in other.name and len(other.name) <= 80 and other.name.startswith("Forged re-enter")
    assert table.calls == {"get_items": 3}  # holders, their students, the district's name

    table.calls.clear()
    assert active_elsewhere(table, D, _ids("nobody", "nobody2")) == {}
    assert table.calls == {"get_items": 1}


def test_a_restored_student_takes_its_id_back() -> None:
    table, clock = MemoryRosterTable(), Clock()
    stays = small_roster(students=2, d=D)
    _import(table, stays, D, clock)
    away = stays.remove(Kind.STUDENT, "st0001")
    _import(table, stays, D, clock)  # archived
    _import(table, small_roster(students=2, d=B), B, clock)  # B holds st0001's id meanwhile
    stays.add(Kind.STUDENT, student("st0001", state_id=away.state_id))  # back in D
    restored = _import(table, stays, D, clock)
    assert restored.counts["STUDENT"].restored == 1
    assert _holder(table, "st0001") == (D, "st0001")
    assert active_elsewhere(table, B, _ids("st0001")) == {
        state_id_for("st0001"): OtherDistrict(D, "Test Area SD")
    }


def test_updating_a_student_who_left_does_not_take_the_id_back_but_a_new_id_does() -> None:
    table, clock = MemoryRosterTable(), Clock()
    old = small_roster(students=2, d=D)
    _import(table, old, D, clock)
    _import(table, small_roster(students=2, d=B), B, clock)  # both students moved to B
    assert _holder(table, "st0000") == (B, "st0000")

    # The old district still shares them, and its SIS moves them up a grade: an update, not an arrival.
    for student_id in ("st0000", "st0001"):
        record = old.remove(Kind.STUDENT, student_id)
        old.add(Kind.STUDENT, record.model_copy(update={"grade": "10"}))
    updated = _import(table, old, D, clock)
    assert updated.counts["STUDENT"].updated == 2
    assert _holder(table, "st0000") == (B, "st0000") and _holder(table, "st0001") == (B, "st0001")
    assert active_elsewhere(table, D, _ids("st0000")) == {
        state_id_for("st0000"): OtherDistrict(B, "Test Area SD")
    }

    # A corrected PA Secure ID is an arrival of that id: the district holds the new one.
    record = old.remove(Kind.STUDENT, "st0001")
    old.add(Kind.STUDENT, record.model_copy(update={"state_id": "1234567890"}))
    _import(table, old, D, clock)
    assert table.items[(state_id_pk("1234567890"), STATE_ID_HOLDER_SK)]["district_id"] == D
