"""Issue 22: one PA Secure ID, one trusted student, moved only with evidence.

The import decides, through the registry (`rostersync.state_id_registry`), which active student
of a PA Secure ID carries `state_id_trusted`; these tests run it over the in-memory roster table.
tests/integration/test_account_integrity.py runs the stages on moto, and
tests/integration/test_moved_student_pipeline.py the whole night through the state machine.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from rostersync.contracts.importer import ImportResult
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.importer.service import import_district
from rostersync.layout import (
    LEGACY_STATE_ID_HOLDER_SK,
    STATE_ID_MARKER_SK,
    config_pk,
    district_pk,
    state_id_conflict_pk,
    state_id_pk,
    state_id_sk,
)
from rostersync.records import Kind
from rostersync.state_id_registry import (
    RETENTION_DAYS,
    TRUSTED,
    AssignError,
    assign,
    corroborates,
    district_conflicts,
)
from tests.factories import Clock, D, Roster, small_roster, state_id_for, student
from tests.fakes import MemoryPageStore, MemoryRosterTable

B = "d0000000000000000000002"
C = "d0000000000000000000003"
EVERYTHING = SafeguardThresholds(archive_percent=100)


def _import(table: MemoryRosterTable, roster: Roster, d: str, clock: Clock) -> ImportResult:
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


def _roster(d: str, *students: Any) -> Roster:
    roster = small_roster(students=0, teachers=0, d=d)
    for record in students:
        roster.add(Kind.STUDENT, record.model_copy(update={"district_id": d}))
    return roster


def _trusted(table: MemoryRosterTable, state_id: str) -> list[tuple[str, str]]:
    """What the application gets: `by_state_id` (active students with the id) and the flag."""
    return sorted(
        (str(item["district_id"]), str(item["clever_id"]))
        for item in table.items.values()
        if item.get("state_id") == state_id and item.get("status") == "active" and item.get(TRUSTED) is True
    )


def _flag(table: MemoryRosterTable, d: str, student_id: str) -> bool:
    return table.items[(district_pk(d), f"STUDENT#{student_id}")].get(TRUSTED) is True


def _entry(table: MemoryRosterTable, state_id: str) -> dict[str, Any]:
    return table.items[(state_id_pk(state_id), state_id_sk(state_id))]


REAL = "1000000001"


def test_a_first_sync_trusts_every_student_and_a_quiet_night_reads_and_writes_nothing_for_it() -> None:
    table, clock = MemoryRosterTable(), Clock()
    roster = small_roster(students=3, d=D)
    first = _import(table, roster, D, clock)
    for s in ("st0000", "st0001", "st0002"):
        assert _trusted(table, state_id_for(s)) == [(D, s)]
    assert first.state_ids and first.state_ids["taken"] == 3 and first.state_ids["new_conflicts"] == 0

    # No hot key: every registry item has its own partition and its own sort key (the inverted index's key).
    registry = [key for key, item in table.items.items() if item.get("item_type") == "state_id"]
    assert len(registry) == 3
    assert len({pk for pk, _ in registry}) == 3 and len({sk for _, sk in registry}) == 3
    assert all(pk == sk for pk, sk in registry)

    table.calls.clear()
    quiet = _import(table, roster, D, clock)
    assert quiet.roster_writes == 0
    assert "get_items" not in table.calls and "set_trusted" not in table.calls
    assert quiet.state_ids and quiet.state_ids["reads"] == 0 and quiet.state_ids["writes"] == 0


def test_a_probing_district_learns_nothing_and_takes_no_trust() -> None:
    table, clock = MemoryRosterTable(), Clock()
    _import(table, _roster(D, student("real1", state_id=REAL, last="Kowalski")), D, clock)

    probes = _roster(
        B,
        student("p0", state_id=REAL, last="Probe"),  # a real child's id, another name
        student("p1", state_id="1000000999", last="Probe"),  # an id nobody uses
    )
    probed = _import(table, probes, B, clock)
    assert _trusted(table, REAL) == [(D, "real1")]  # the trust stayed where it was
    assert not _flag(table, B, "p0")
    # The import's result (support's: run item, sync status) names the conflict for support...
    assert probed.state_ids and probed.state_ids["new_conflicts"] == 1
    [conflict] = probed.state_ids["conflicts"]
    assert conflict == {
        "district_id": B,
        "student_id": "p0",
        "trusted_district": D,
        "trusted_student": "real1",
        "since": conflict["since"],
    }
    assert REAL not in str(probed.state_ids)
    assert district_conflicts(table, [B]) and not district_conflicts(table, [D])

    # ...and every night after, the probe's import moves nothing and decides nothing new.
    again = _import(table, probes, B, clock)
    assert _trusted(table, REAL) == [(D, "real1")]
    assert again.state_ids and again.state_ids["new_conflicts"] == 0
    # The real district's nights see nothing of it either.
    home = _import(table, _roster(D, student("real1", state_id=REAL, last="Kowalski")), D, clock)
    assert home.state_ids and home.state_ids["new_conflicts"] == 0 and home.state_ids["reads"] == 0


def test_a_genuine_move_moves_the_trust_on_the_arrival_night() -> None:
    table, clock = MemoryRosterTable(), Clock()
    _import(table, _roster(D, student("old", state_id=REAL, last="Nuñez García")), D, clock)
    # The new district's SIS spells the name in capitals, without accents, another spacing.
    moved = _import(table, _roster(B, student("new", state_id=REAL, last="NUNEZ GARCIA ")), B, clock)
    assert _trusted(table, REAL) == [(B, "new")]
    assert not _flag(table, D, "old")  # the old district still shares them, untrusted
    assert moved.state_ids and moved.state_ids["moved"] == 1 and moved.state_ids["new_conflicts"] == 0
    assert _entry(table, REAL)["how"] == "match"

    # The old district updating its stale record (a new grade) does not take it back.
    _import(table, _roster(D, student("old", state_id=REAL, last="Nuñez García", grade="10")), D, clock)
    assert _trusted(table, REAL) == [(B, "new")]


def test_a_move_without_a_birth_date_waits_for_the_old_districts_archive() -> None:
    table, clock = MemoryRosterTable(), Clock()
    old = _roster(D, student("old", state_id=REAL, last="Smith"), student("other", state_id="1000000002"))
    _import(table, old, D, clock)
    arrived = _import(
        table, _roster(B, student("new", state_id=REAL, last="Smith", birth_date=None)), B, clock
    )
    assert _trusted(table, REAL) == [(D, "old")]  # not corroborated: the trust stays
    assert arrived.state_ids and arrived.state_ids["new_conflicts"] == 1

    old.remove(Kind.STUDENT, "old")  # the old district ends the enrollment
    left = _import(table, old, D, clock)
    assert _trusted(table, REAL) == [(B, "new")]  # handed to the waiting student
    assert left.state_ids and left.state_ids["handed_on"] == 1
    assert not district_conflicts(table, [B, D])  # the conflict is over


def test_supports_assignment_is_recorded_and_honoured() -> None:
    table, clock = MemoryRosterTable(), Clock()
    _import(table, _roster(D, student("old", state_id=REAL, last="Smith")), D, clock)
    newer = _roster(B, student("new", state_id=REAL, last="Smith", birth_date=None))
    _import(table, newer, B, clock)
    assert _trusted(table, REAL) == [(D, "old")]

    with pytest.raises(AssignError, match="district d0000000000000000000003 has no active student"):
        assign(table, REAL, C, by="support@example.org", now=clock.now)
    done = assign(table, REAL, B, by="support@example.org", now=clock.now)
    assert (done.district_id, done.student_id, done.previous_district) == (B, "new", D)
    assert _trusted(table, REAL) == [(B, "new")]
    entry = _entry(table, REAL)
    assert (
        entry["how"] == "support" and entry["assigned_by"] == "support@example.org" and entry["assigned_at"]
    )
    assert district_conflicts(table, [D]) and not district_conflicts(table, [B])

    # Later nights of both districts honour it.
    _import(table, _roster(D, student("old", state_id=REAL, last="Smith", grade="11")), D, clock)
    _import(table, newer, B, clock)
    assert _trusted(table, REAL) == [(B, "new")]


def test_a_restored_student_takes_its_id_only_with_evidence_and_a_corrected_id_leaves_the_old() -> None:
    table, clock = MemoryRosterTable(), Clock()
    stays = _roster(D, student("s", state_id=REAL, last="Smith"))
    _import(table, stays, D, clock)
    away = stays.remove(Kind.STUDENT, "s")
    _import(table, stays, D, clock)  # archived: the entry keeps no claim
    entry = _entry(table, REAL)
    assert entry["claims"] == {} and "trusted_district" not in entry
    assert entry["expires_at"] == int((clock.now + timedelta(days=RETENTION_DAYS)).timestamp())

    _import(table, _roster(B, student("b", state_id=REAL, last="Jones")), B, clock)  # nobody held it
    assert _trusted(table, REAL) == [(B, "b")]
    assert "expires_at" not in _entry(table, REAL)
    stays.add(Kind.STUDENT, away)  # back in D, with another name than B's student: no evidence
    restored = _import(table, stays, D, clock)
    assert restored.counts["STUDENT"].restored == 1
    assert _trusted(table, REAL) == [(B, "b")]

    # D corrects the PA Secure ID: the new id is an arrival, and the old id's claim goes.
    stays.remove(Kind.STUDENT, "s")
    stays.add(Kind.STUDENT, student("s", state_id="1000000077", last="Smith"))
    _import(table, stays, D, clock)
    assert _trusted(table, "1000000077") == [(D, "s")]
    assert set(_entry(table, REAL)["claims"]) == {B}
    assert not district_conflicts(table, [D])


def test_a_stale_copy_of_an_updated_student_is_set_right_after_the_import() -> None:
    """Another district's import moved the trust while this one wrote its stale copy of the item."""
    table, clock = MemoryRosterTable(), Clock()
    old = _roster(D, student("old", state_id=REAL, last="Smith"))
    _import(table, old, D, clock)
    _import(table, _roster(B, student("new", state_id=REAL, last="Smith")), B, clock)  # a move
    # Simulate the lost update: D's item still says trusted (its import put a copy read before).
    table.items[(district_pk(D), "STUDENT#old")][TRUSTED] = True
    old.remove(Kind.STUDENT, "old")
    old.add(Kind.STUDENT, student("old", state_id=REAL, last="Smith", grade="12"))
    updated = _import(table, old, D, clock)
    assert updated.state_ids and updated.state_ids["corrected"] == 1
    assert _trusted(table, REAL) == [(B, "new")]


def test_the_first_night_after_the_change_migrates_from_the_table_without_alerting_districts() -> None:
    """Before the registry: holder items (`HOLDER`), no flags. The first run of each district puts
    its students in, keeps the trust the holder item gave, and counts old conflicts for support."""
    table, clock = MemoryRosterTable(), Clock()
    _import(
        table,
        _roster(D, student("a", state_id=REAL, last="Smith"), student("b", state_id="1000000002")),
        D,
        clock,
    )
    _import(table, _roster(B, student("z", state_id=REAL, last="Other")), B, clock)
    # Rewind the table to what the former version left: flags gone, registry gone, holder items.
    for key in [
        k for k, item in table.items.items() if item.get("item_type") in ("state_id", "state_id_conflict")
    ]:
        del table.items[key]
    for d in (D, B):
        del table.items[(config_pk(d), STATE_ID_MARKER_SK)]
    for item in table.items.values():
        item.pop(TRUSTED, None)
    for state_id, d, s in ((REAL, B, "z"), ("1000000002", D, "b")):  # B arrived last with REAL
        table.items[(state_id_pk(state_id), LEGACY_STATE_ID_HOLDER_SK)] = {
            "pk": state_id_pk(state_id),
            "sk": LEGACY_STATE_ID_HOLDER_SK,
            "item_type": "state_id_holder",
            "district_id": d,
            "student_id": s,
        }
    before = copy.deepcopy(table.items)

    first = _import(
        table,
        _roster(D, student("a", state_id=REAL, last="Smith"), student("b", state_id="1000000002")),
        D,
        clock,
    )
    assert first.state_ids and first.state_ids["migrated"] == 2 and first.state_ids["existing_conflicts"] == 1
    assert first.state_ids["new_conflicts"] == 0
    assert _trusted(table, REAL) == []  # B's student is the trusted one; B has not migrated yet
    assert _trusted(table, "1000000002") == [(D, "b")]
    second = _import(table, _roster(B, student("z", state_id=REAL, last="Other")), B, clock)
    # Counted once, by the first of the two districts to migrate; no district was alerted about it.
    assert (
        second.state_ids
        and second.state_ids["existing_conflicts"] == 0
        and second.state_ids["new_conflicts"] == 0
    )
    assert _trusted(table, REAL) == [(B, "z")]  # the trust the holder item gave
    assert not any(sk == LEGACY_STATE_ID_HOLDER_SK for _, sk in table.items)  # retired
    assert district_conflicts(table, [D]) and not district_conflicts(table, [B])
    # No full rewrite: of the roster, only trusted students changed, and only by their flag.
    changed = {k for k, item in table.items.items() if before.get(k) != item and k[0].startswith("DISTRICT#")}
    assert changed == {(district_pk(D), "STUDENT#b"), (district_pk(B), "STUDENT#z")}
    assert all({**before[k], TRUSTED: True} == table.items[k] for k in changed)
    assert (state_id_conflict_pk(D), state_id_sk(REAL)) in table.items
    # The next nights are ordinary: nothing to migrate, nothing read.
    quiet = _import(table, _roster(B, student("z", state_id=REAL, last="Other")), B, clock)
    assert quiet.state_ids and quiet.state_ids["reads"] == 0 and quiet.state_ids["migrated"] == 0


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("Nuñez", "2010-01-01"), ("NUNEZ", "2010-01-01"), True),
        (("De La Cruz", "2010-01-01"), ("delacruz", "2010-01-01"), True),
        (("Smith", "2010-01-01"), ("Smith", "2010-01-02"), False),
        (("Smith", None), ("Smith", None), False),
        ((None, "2010-01-01"), (None, "2010-01-01"), False),
        (("Smith", "2010-01-01"), ("Smyth", "2010-01-01"), False),
    ],
)
def test_records_corroborate_only_on_the_same_last_name_and_birth_date(
    a: tuple[str | None, str | None], b: tuple[str | None, str | None], same: bool
) -> None:
    left = {"last_name": a[0], "birth_date": a[1]}
    right = {"last_name": b[0], "birth_date": b[1]}
    assert corroborates(left, right) is same
