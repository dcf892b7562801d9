"""One PA Secure ID, one active student: which other district still holds a student's id.

A PA Secure ID follows a student across districts. When a student moves and the old district
still shares them, the roster has two active students with one id (the `by_state_id` index
answers both), and the application trusts the one the holder item names (docs/DATA_MODEL.md).
Validation warns about it (`student.state_id.other_district`), naming the other district, from
the holder items this module reads and the import writes:

* `STATEID#<id>` / `HOLDER` names the district (and its student) the student arrived in last:
  the import puts it beside every student item it creates or restores, or whose PA Secure ID
  changed, in the same batch writes (no extra round trip). An update that keeps the id writes
  none: a district still sharing a student who left does not take the id back by updating the
  record (a new grade in September), and a night of ordinary changes writes only the changes.
* The holder item is a hint, never the truth: before naming a district, the other district's
  student item is read, and only an active item that still carries this id counts. A holder
  whose student was archived, changed id, or was never written (a run that died) names nobody,
  so no holder item is ever deleted or repaired.
* Reads are BatchGetItem by key (a hundred ids a request): one read per student per night, plus
  one per conflicting student and one per other district (its name). A Query of `by_state_id`
  per student would cost a request each, and DynamoDB Local and moto scan for every query.

Which district is warned: the one the holder item does not name. On the night a student moves
in, the new district's validation (before its import) finds the old district holding the id;
from then on the new district holds it and the old district is warned every night until it
stops sharing the student. Two districts that first share one id on the same night (both new
to RosterSync) are warned from the next night on, when one of them holds it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rostersync.alert_model import one_line_name
from rostersync.layout import STATE_ID_HOLDER_SK, district_pk, roster_sk, state_id_pk
from rostersync.ports import RosterTable
from rostersync.records import Kind
from rostersync.roster_items import ACTIVE, Item

OTHER_NAME_MAX = 80


@dataclass(frozen=True, slots=True)
class OtherDistrict:
    """The district that also has an active student with a PA Secure ID (never the student)."""

    district_id: str
    name: str  # one line, shortened; "" when the district's item has no name

    def label(self) -> str:
        return f"'{self.name}' (id {self.district_id})" if self.name else f"with id {self.district_id}"


def holder_item(state_id: str, district_id: str, student_id: str, run_id: str, now: str) -> Item:
    """The holder item the import writes beside a student item it creates, updates or restores."""
    return {
        "pk": state_id_pk(state_id),
        "sk": STATE_ID_HOLDER_SK,
        "item_type": "state_id_holder",
        "district_id": district_id,
        "student_id": student_id,
        "last_changed_run": run_id,
        "updated_at": now,
    }


def active_elsewhere(
    table: RosterTable, district_id: str, state_ids: Collection[str]
) -> dict[str, OtherDistrict]:
    """For each of these PA Secure IDs held by another district whose student with it is still
    active there: that district. Ids this district holds, or nobody holds, are left out."""
    holders = table.get_items(
        [(state_id_pk(s), STATE_ID_HOLDER_SK) for s in state_ids], ("district_id", "student_id")
    )
    claims: dict[tuple[str, str], set[str]] = {}  # (district, student) -> the ids held for it
    for holder in holders:
        other, student_id = str(holder.get("district_id", "")), str(holder.get("student_id", ""))
        if other and student_id and other != district_id:
            claims.setdefault((other, student_id), set()).add(str(holder["pk"]).removeprefix(state_id_pk("")))
    if not claims:
        return {}
    students = table.get_items(
        [(district_pk(d), roster_sk(Kind.STUDENT, student_id)) for d, student_id in claims],
        ("status", "state_id"),
    )
    conflicts: dict[str, str] = {}  # state id -> other district
    for student in students:
        other = str(student["pk"]).removeprefix(district_pk(""))
        held_for = claims.get((other, str(student["sk"]).removeprefix(roster_sk(Kind.STUDENT, ""))), set())
        state_id = student.get("state_id")  # only active students carry it (DATA_MODEL.md)
        if student.get("status") == ACTIVE and state_id in held_for:
            conflicts[str(state_id)] = other
    if not conflicts:
        return {}
    districts = dict.fromkeys(conflicts.values(), "")
    for item in table.get_items(
        [(district_pk(d), roster_sk(Kind.DISTRICT, d)) for d in districts], ("name",)
    ):
        other = str(item["pk"]).removeprefix(district_pk(""))
        districts[other] = one_line_name(str(item.get("name") or ""), OTHER_NAME_MAX)
    return {state_id: OtherDistrict(other, districts[other]) for state_id, other in conflicts.items()}
