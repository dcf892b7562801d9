"""Issue 22, the registry's edges: races with other districts' imports, holder items of districts
not migrated yet, trust left by a student who is gone, stale claims, and support's refusals.

tests/unit/test_state_id_registry.py runs the registry through whole imports; these call
`rostersync.state_id_registry` directly over the in-memory roster table, with student items holding
only what the registry reads (status, PA Secure ID, last name, birth date).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rostersync.layout import (
    LEGACY_STATE_ID_HOLDER_SK,
    district_pk,
    roster_sk,
    state_id_conflict_pk,
    state_id_pk,
    state_id_sk,
)
from rostersync.records import Kind
from rostersync.roster_items import Item
from rostersync.state_id_registry import (
    REGISTRY_TYPE,
    TRUSTED,
    Arrival,
    AssignError,
    Registry,
    assign,
    first_entry,
)
from tests.factories import D
from tests.fakes import MemoryRosterTable

B = "d0000000000000000000002"
C = "d0000000000000000000003"
RIVAL = "d0000000000000000000009"
REAL = "1000000001"
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
EARLIER = "2026-11-01T07:00:00+00:00"


class RacingTable(MemoryRosterTable):
    """Another district's import writes the registry entry between this run's read and its
    conditional write, `races` times: a new id is created by a rival district's student (who is
    not in the table, so not active), a known entry gets a newer version. The write then fails
    on its version condition, as DynamoDB's would."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def put_versioned(self, item: Item, expected_version: int) -> bool:
        if self.races > 0 and item.get("item_type") == REGISTRY_TYPE:
            self.races -= 1
            key = (str(item["pk"]), str(item["sk"]))
            current = self.items.get(key)
            if current is None:
                state_id = str(item["pk"]).removeprefix(state_id_pk(""))
                self.items[key] = first_entry(state_id, RIVAL, "rival", "rival-run", EARLIER)
            else:
                current["version"] = int(current.get("version", 0)) + 1
        return super().put_versioned(item, expected_version)


def _student(
    table: MemoryRosterTable,
    d: str,
    student_id: str,
    state_id: str = REAL,
    *,
    last: str = "Smith",
    birth: str | None = "2011-04-02",
    status: str = "active",
    trusted: bool = False,
) -> None:
    item: Item = {
        "pk": district_pk(d),
        "sk": roster_sk(Kind.STUDENT, student_id),
        "district_id": d,
        "clever_id": student_id,
        "status": status,
        "state_id": state_id,
        "last_name": last,
        "birth_date": birth,
        "updated_at": EARLIER,
    }
    if trusted:
        item[TRUSTED] = True
    table.items[(item["pk"], item["sk"])] = item


def _entry(table: MemoryRosterTable, state_id: str = REAL) -> dict[str, Any]:
    return table.items[(state_id_pk(state_id), state_id_sk(state_id))]


def _put_entry(
    table: MemoryRosterTable,
    claims: dict[str, tuple[str, str]],
    trusted: tuple[str, str] | None,
    *,
    version: int = 3,
    state_id: str = REAL,
) -> None:
    """A registry entry as earlier nights left it (claims: district -> (student, since))."""
    item: Item = {
        "pk": state_id_pk(state_id),
        "sk": state_id_sk(state_id),
        "item_type": REGISTRY_TYPE,
        "claims": {d: {"student": s, "since": since} for d, (s, since) in claims.items()},
        "how": "first",
        "version": version,
    }
    if trusted is not None:
        item["trusted_district"], item["trusted_student"] = trusted
        item["trusted_since"] = EARLIER
    table.items[(item["pk"], item["sk"])] = item


def _flag(table: MemoryRosterTable, d: str, student_id: str) -> bool:
    return table.items[(district_pk(d), roster_sk(Kind.STUDENT, student_id))].get(TRUSTED) is True


def _listed(table: MemoryRosterTable, d: str, state_id: str = REAL) -> bool:
    return (state_id_conflict_pk(d), state_id_sk(state_id)) in table.items


# ------------------------------------------------------------------------------- arrive


def test_a_new_id_created_meanwhile_by_another_district_is_decided_again_on_the_fresh_entry() -> None:
    table = RacingTable(races=1)
    _student(table, D, "s")
    registry = Registry(table, D, "run-1", NOW)
    assert registry.arrive([Arrival(REAL, "s", "Smith", "2011-04-02")]) == {"s": True}
    entry = _entry(table)
    # The rival's student is not active with the id: the trust is D's, the rival's claim gone.
    assert (entry["trusted_district"], entry["trusted_student"], entry["how"]) == (D, "s", "gone")
    assert set(entry["claims"]) == {D} and entry["version"] == 2
    assert registry.outcome.taken == 1 and registry.outcome.reads >= 2


def test_a_conflict_whose_write_lost_a_race_is_recorded_once_on_the_retry() -> None:
    table = RacingTable(races=1)
    _student(table, B, "b", last="Kowalski", trusted=True)
    _put_entry(table, {B: ("b", EARLIER)}, (B, "b"))
    _student(table, D, "p0", last="Probe")
    registry = Registry(table, D, "run-1", NOW)
    assert registry.arrive([Arrival(REAL, "p0", "Probe", "2011-04-02")]) == {"p0": False}
    assert [c.student_id for c in registry.outcome.conflicts] == ["p0"]  # not once per attempt
    entry = _entry(table)
    assert (entry["trusted_district"], entry["trusted_student"]) == (B, "b")
    assert set(entry["claims"]) == {B, D} and entry["version"] == 5  # 3, the rival's 4, ours
    assert _flag(table, B, "b") and _listed(table, D) and not _listed(table, B)


def test_a_move_whose_write_lost_a_race_moves_the_trust_on_the_retry() -> None:
    table = RacingTable(races=1)
    _student(table, B, "old", trusted=True)
    _put_entry(table, {B: ("old", EARLIER)}, (B, "old"))
    _student(table, D, "new", last="SMITH ")
    registry = Registry(table, D, "run-1", NOW)
    assert registry.arrive([Arrival(REAL, "new", "SMITH ", "2011-04-02")]) == {"new": True}
    assert registry.outcome.moved == 1 and registry.outcome.taken == 0
    assert (_entry(table)["trusted_district"], _entry(table)["how"]) == (D, "match")
    assert not _flag(table, B, "old")
    assert _listed(table, B) and not _listed(table, D)  # B's stale record is support's conflict now


def test_a_record_recreated_under_a_new_id_in_the_same_district_takes_the_trust_from_the_old() -> None:
    table = RacingTable(races=1)
    _student(table, D, "s1", trusted=True)
    _put_entry(table, {D: ("s1", EARLIER)}, (D, "s1"))
    _student(table, D, "s2")
    registry = Registry(table, D, "run-1", NOW)
    assert registry.arrive([Arrival(REAL, "s2", "Smith", "2011-04-02")]) == {"s2": True}
    entry = _entry(table)
    assert (entry["trusted_district"], entry["trusted_student"]) == (D, "s2")
    assert entry["claims"][D]["student"] == "s2" and entry["trusted_since"] == NOW.isoformat()
    assert not _flag(table, D, "s1")  # one trusted student: the new record
    assert registry.outcome.taken == 1 and not registry.outcome.conflicts


def test_a_trusted_student_who_left_without_telling_does_not_keep_the_trust_from_an_arrival() -> None:
    """The old district archived its student in a run that died before the registry heard of it."""
    table = MemoryRosterTable()
    _student(table, B, "gone", status="archived", last="Other")
    _put_entry(table, {B: ("gone", EARLIER)}, (B, "gone"))
    _student(table, D, "s")
    registry = Registry(table, D, "run-1", NOW)
    # No evidence is needed: there is nobody else to trust (and the names differ).
    assert registry.arrive([Arrival(REAL, "s", "Smith", "2011-04-02")]) == {"s": True}
    entry = _entry(table)
    assert (entry["trusted_district"], entry["how"], set(entry["claims"])) == (D, "gone", {D})
    assert registry.outcome.taken == 1 and registry.outcome.moved == 0 and not registry.outcome.conflicts


def test_an_import_that_keeps_losing_races_fails_with_a_clear_error() -> None:
    table = RacingTable(races=99)
    _student(table, D, "s")
    registry = Registry(table, D, "run-1", NOW)
    with pytest.raises(RuntimeError, match=f"district {D}: PA Secure ID registry kept changing"):
        registry.arrive([Arrival(REAL, "s", "Smith", "2011-04-02")])
    assert not _flag(table, D, "s")
    assert _entry(table)["trusted_district"] == RIVAL  # nothing of D's was written


def _holder(table: MemoryRosterTable, d: str, student_id: str) -> None:
    table.items[(state_id_pk(REAL), LEGACY_STATE_ID_HOLDER_SK)] = {
        "pk": state_id_pk(REAL),
        "sk": LEGACY_STATE_ID_HOLDER_SK,
        "item_type": "state_id_holder",
        "district_id": d,
        "student_id": student_id,
    }


def test_a_holder_item_of_a_district_not_migrated_yet_keeps_its_trust_against_an_arrival() -> None:
    table = MemoryRosterTable()
    _student(table, B, "z", last="Kowalski")
    _holder(table, B, "z")  # B has not run since the registry came: only its holder item says
    _student(table, D, "p0", last="Probe")
    registry = Registry(table, D, "run-1", NOW)
    assert registry.arrive([Arrival(REAL, "p0", "Probe", "2011-04-02")]) == {"p0": False}
    entry = _entry(table)
    assert (entry["trusted_district"], entry["trusted_student"], entry["version"]) == (B, "z", 1)
    assert set(entry["claims"]) == {B, D}
    assert [(c.district_id, c.trusted_district) for c in registry.outcome.conflicts] == [(D, B)]


def test_a_holder_item_naming_the_arriving_district_itself_is_no_claim_of_another() -> None:
    table = MemoryRosterTable()
    _holder(table, D, "before")
    _student(table, D, "s")
    registry = Registry(table, D, "run-1", NOW)
    assert registry.arrive([Arrival(REAL, "s", "Smith", "2011-04-02")]) == {"s": True}
    entry = _entry(table)
    assert (entry["trusted_district"], entry["trusted_student"], entry["how"]) == (D, "s", "first")
    assert registry.outcome.taken == 1 and not registry.outcome.conflicts


# -------------------------------------------------------------------------------- leave


def test_leaving_an_id_the_student_does_not_claim_writes_nothing() -> None:
    table = MemoryRosterTable()
    _put_entry(table, {D: ("other", EARLIER)}, (D, "other"))
    registry = Registry(table, D, "run-1", NOW)
    registry.leave([(REAL, "s"), ("1000000404", "s2")])  # another student's claim; an unknown id
    assert registry.outcome.left == 0 and registry.outcome.writes == 0
    assert _entry(table)["version"] == 3 and _entry(table)["claims"][D]["student"] == "other"


def test_a_leaving_trust_skips_a_stale_claim_and_passes_to_the_newest_active_student() -> None:
    table = MemoryRosterTable()
    _student(table, B, "b", status="archived")  # left without telling (a dead run)
    _student(table, C, "c")
    _put_entry(
        table,
        {
            D: ("s", "2026-11-30T07:00:00+00:00"),
            B: ("b", "2026-11-20T07:00:00+00:00"),  # newer than C's, but gone
            C: ("c", "2026-11-10T07:00:00+00:00"),
        },
        (D, "s"),
    )
    registry = Registry(table, D, "run-1", NOW)
    registry.leave([(REAL, "s")])
    entry = _entry(table)
    assert (entry["trusted_district"], entry["trusted_student"], entry["how"]) == (C, "c", "gone")
    assert set(entry["claims"]) == {C} and "expires_at" not in entry
    assert _flag(table, C, "c")
    assert registry.outcome.left == 1 and registry.outcome.handed_on == 1


@pytest.mark.parametrize("races", [1, 4])
def test_a_leave_that_loses_races_is_made_on_a_later_attempt(races: int) -> None:
    table = RacingTable(races=races)
    _student(table, B, "b")
    _put_entry(table, {D: ("s", EARLIER), B: ("b", EARLIER)}, (D, "s"))
    registry = Registry(table, D, "run-1", NOW)
    registry.leave([(REAL, "s")])
    entry = _entry(table)
    assert (entry["trusted_district"], entry["trusted_student"]) == (B, "b")
    assert entry["version"] == 3 + races + 1
    assert registry.outcome.left == 1 and registry.outcome.handed_on == 1 and _flag(table, B, "b")


def test_a_leave_that_keeps_losing_races_fails_with_a_clear_error() -> None:
    table = RacingTable(races=5)
    _put_entry(table, {D: ("s", EARLIER)}, (D, "s"))
    registry = Registry(table, D, "run-1", NOW)
    with pytest.raises(RuntimeError, match=f"district {D}: PA Secure ID registry kept changing"):
        registry.leave([(REAL, "s")])
    assert _entry(table)["claims"] == {D: {"student": "s", "since": EARLIER}}
    assert registry.outcome.left == 0


# ------------------------------------------------------------------------------ confirm


def test_confirming_an_id_the_registry_does_not_know_makes_it_an_arrival() -> None:
    """Two bulk creations crossed: the student's item was written, its registry entry was not."""
    table = MemoryRosterTable()
    _student(table, D, "s")
    registry = Registry(table, D, "run-1", NOW)
    registry.confirm([(REAL, "s", False)])
    assert _flag(table, D, "s")
    assert (_entry(table)["trusted_district"], _entry(table)["trusted_student"]) == (D, "s")
    assert registry.outcome.confirmed == 1 and registry.outcome.corrected == 1


# ------------------------------------------------------------------------------ migrate


def test_migrating_an_id_another_district_is_trusted_with_counts_an_existing_conflict() -> None:
    table = MemoryRosterTable()
    _student(table, D, "a", trusted=True)
    _put_entry(table, {D: ("a", EARLIER)}, (D, "a"))  # D migrated (or arrived) first
    _student(table, B, "z", last="Other")
    registry = Registry(table, B, "run-1", NOW)
    students = [table.items[(district_pk(B), roster_sk(Kind.STUDENT, "z"))]]
    assert registry.migrate(students) == []  # B's student is not trusted: nothing to write back
    entry = _entry(table)
    assert (entry["trusted_district"], entry["trusted_student"]) == (D, "a")
    assert entry["claims"][B] == {"student": "z", "since": EARLIER}
    assert registry.outcome.existing_conflicts == 1 and registry.outcome.migrated == 1
    assert not registry.outcome.conflicts  # counted for support's summary, never alerted
    assert _listed(table, B) and _flag(table, D, "a")


def test_a_migration_that_loses_a_race_fails_with_a_clear_error() -> None:
    table = RacingTable(races=1)
    _put_entry(table, {D: ("a", EARLIER)}, (D, "a"))
    _student(table, B, "z")
    registry = Registry(table, B, "run-1", NOW)
    students = [table.items[(district_pk(B), roster_sk(Kind.STUDENT, "z"))]]
    with pytest.raises(
        RuntimeError, match=f"district {B}: PA Secure ID registry changed during the migration"
    ):
        registry.migrate(students)
    assert B not in _entry(table)["claims"]


# ------------------------------------------------------------------------------ support


def test_support_cannot_assign_an_id_the_registry_does_not_know() -> None:
    table = MemoryRosterTable()
    with pytest.raises(AssignError, match="no district has an active student with that PA Secure ID"):
        assign(table, REAL, D, by="support@example.org", now=NOW)
    assert table.items == {}


def test_support_cannot_assign_to_a_claim_whose_student_is_no_longer_active() -> None:
    table = MemoryRosterTable()
    _student(table, D, "a", trusted=True)
    _student(table, B, "z", status="archived")
    _put_entry(table, {D: ("a", EARLIER), B: ("z", EARLIER)}, (D, "a"))
    with pytest.raises(AssignError, match=f"district {B}'s student z is no longer active"):
        assign(table, REAL, B, by="support@example.org", now=NOW)
    assert _entry(table)["trusted_district"] == D and _entry(table)["version"] == 3


def test_support_confirming_the_trusted_student_records_it_and_keeps_the_flag() -> None:
    table = RacingTable(races=1)  # and a night's import wrote the entry meanwhile: it is read again
    _student(table, D, "a", trusted=True)
    _put_entry(table, {D: ("a", EARLIER)}, (D, "a"))
    done = assign(table, REAL, D, by="support@example.org", now=NOW)
    assert (done.district_id, done.student_id, done.previous_district, done.previous_student) == (
        D,
        "a",
        D,
        "a",
    )
    entry = _entry(table)
    assert (entry["how"], entry["assigned_by"], entry["version"]) == ("support", "support@example.org", 5)
    assert entry["trusted_since"] == EARLIER  # the same student: trusted since before
    assert _flag(table, D, "a")


def test_support_assignment_that_keeps_losing_races_asks_to_try_again() -> None:
    table = RacingTable(races=99)
    _student(table, D, "a", trusted=True)
    _put_entry(table, {D: ("a", EARLIER)}, (D, "a"))
    with pytest.raises(AssignError, match="kept changing; try again"):
        assign(table, REAL, D, by="support@example.org", now=NOW)
    assert _entry(table)["how"] == "first"
