"""One PA Secure ID, one trusted student: the registry the import keeps and support corrects.

A PA Secure ID follows a student across districts, and Smart Futures keeps the student's career
portfolio by it. When a student moves and the old district still shares them, the roster has two
active students with one id; exactly one of them carries `state_id_trusted: true`, so the
application finds it with the `by_state_id` index alone (docs/DATA_MODEL.md).

Which one is decided here, from evidence only, and kept in one registry item per id
(`STATEID#<id>` / `STATEID#<id>`: its own key on every index, so no key is shared across students):

* `trusted_district`, `trusted_student`: the student the application trusts;
* `claims`: every district whose active student carries the id, as the registry knows it
  (`{district: {"student": id, "since": iso}}`);
* `how`: why the trust is where it is (`first`, `match`, `gone`, `support`, `migrated`);
* `version`: every change after the first write is conditional on it.

Trust moves only with evidence. A student arriving with an id another district's active student
is trusted with takes the trust when both records agree on what both districts know (last name
and birth date, compared after folding case, accents and spaces), or when that student is no
longer active there with the id (archived, corrected, never written). Otherwise the arrival is a
conflict: its claim is recorded, its student is not trusted, and support is told (a support-only
alert, `rostersync districts`, `reports/index.html`); nothing the district sees changes, so an
id sent on purpose (or by a typo) learns nothing about other districts. A student leaving
(archived, or its id corrected) hands the trust to the newest remaining claim whose student is
still active with the id, or to nobody; an entry without claims expires (`expires_at`) after
RETENTION_DAYS. Support may assign the trust (`rostersync state-id assign`), recorded with who
and when.

Only students who arrive (created, restored, or carrying a new id) or leave tonight are read or
written here; an unchanged night touches nothing. Updated students keep the flag their item had
and are confirmed against the registry afterwards (`confirm`: another district's import may have
moved the trust while this one wrote a stale copy of the item).

This module sits below the stages, in the layer they share (it imports only the floor: layout,
records, roster_items, and the ports): the import and a hold release use it, the CLI and the
support view read it, and nothing here logs student data.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rostersync.layout import (
    LEGACY_STATE_ID_HOLDER_SK,
    district_pk,
    roster_sk,
    state_id_conflict_pk,
    state_id_pk,
    state_id_sk,
)
from rostersync.ports import RosterTable
from rostersync.records import Kind
from rostersync.roster_items import ACTIVE, Item, Key

TRUSTED = "state_id_trusted"
REGISTRY_TYPE = "state_id"
CONFLICT_TYPE = "state_id_conflict"
RETENTION_DAYS = 30
"""An entry no district claims any more goes this long after (DynamoDB TTL): the raw pages that
carried the id (RawPageRetentionDays, default 30) expire on the same clock. SECURITY.md."""

CONFLICTS_LISTED = 50
"""A run records (and its support alert lists) at most this many of the conflicts that began in it."""

BULK = 100
"""Up to this many new ids in one chunk are created one conditional put each (race-free); more
(a district's first sync) go in batch writes, see `Registry.arrive`."""

_ATTRS = ("trusted_district", "trusted_student", "claims", "how", "version", "trusted_since")
_STUDENT_ATTRS = ("status", "state_id", "last_name", "birth_date")
_ATTEMPTS = 5


def fold(value: str | None) -> str:
    """A last name as both districts may spell it: case, accents and spaces folded away."""
    text = unicodedata.normalize("NFKD", value or "")
    return "".join(c for c in text if not unicodedata.combining(c)).casefold().replace(" ", "").strip()


def corroborates(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two students' records agree on what both districts know: last name and birth date, both present."""
    last_a, last_b = fold(a.get("last_name")), fold(b.get("last_name"))
    birth_a, birth_b = str(a.get("birth_date") or ""), str(b.get("birth_date") or "")
    return bool(last_a and birth_a) and last_a == last_b and birth_a == birth_b


@dataclass(frozen=True, slots=True)
class Arrival:
    """A student of this district who arrived tonight with a PA Secure ID (what the check needs)."""

    state_id: str
    student_id: str
    last_name: str | None = None
    birth_date: str | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two districts' active students with one PA Secure ID, the trust left where it was.

    Only ids of ours: never the PA Secure ID itself, never a name (support looks the students up)."""

    district_id: str  # the district whose student is not trusted
    student_id: str
    trusted_district: str
    trusted_student: str
    since: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "district_id": self.district_id,
            "student_id": self.student_id,
            "trusted_district": self.trusted_district,
            "trusted_student": self.trusted_student,
            "since": self.since,
        }


@dataclass
class Outcome:
    """What the registry did for one district's run: counts, and the conflicts that began tonight."""

    reads: int = 0  # registry and student items read (keys)
    writes: int = 0  # registry, conflict and flag writes
    taken: int = 0  # arrivals trusted (the id was nobody's, or its student was gone)
    moved: int = 0  # arrivals trusted because the records agreed (a move)
    left: int = 0  # claims dropped: students archived or carrying another id now
    handed_on: int = 0  # of those, trust handed to another district's waiting student
    confirmed: int = 0  # updated students' flags checked against the registry
    corrected: int = 0  # of those, flags set right
    migrated: int = 0  # students put into the registry by the migration
    conflicts: list[Conflict] = field(default_factory=list)  # began tonight
    existing_conflicts: int = 0  # found by the migration (told to support in one summary)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "writes": self.writes,
            "taken": self.taken,
            "moved": self.moved,
            "left": self.left,
            "handed_on": self.handed_on,
            "confirmed": self.confirmed,
            "corrected": self.corrected,
            "migrated": self.migrated,
            "existing_conflicts": self.existing_conflicts,
            "new_conflicts": len(self.conflicts),
            "conflicts": [c.as_dict() for c in self.conflicts[:CONFLICTS_LISTED]],
        }


def _key(state_id: str) -> Key:
    return state_id_pk(state_id), state_id_sk(state_id)


def _state_id_of(item: Mapping[str, Any]) -> str:
    return str(item["pk"]).removeprefix(state_id_pk(""))


def _claims(entry: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    return {d: dict(c) for d, c in ((entry or {}).get("claims") or {}).items()}


def _trusted(entry: Mapping[str, Any] | None) -> tuple[str, str] | None:
    if entry and entry.get("trusted_district") and entry.get("trusted_student"):
        return str(entry["trusted_district"]), str(entry["trusted_student"])
    return None


def conflicts_of(state_id: str, entry: Mapping[str, Any] | None) -> list[Conflict]:
    """The conflicts an entry stands for: every claim but the trusted one (none when nobody is trusted)."""
    trusted = _trusted(entry)
    if trusted is None:
        return []
    return [
        Conflict(d, c["student"], trusted[0], trusted[1], c.get("since", ""))
        for d, c in sorted(_claims(entry).items())
        if (d, c["student"]) != trusted
    ]


def first_entry(state_id: str, district_id: str, student_id: str, run_id: str, now: str) -> Item:
    """The entry of an id nobody held: this district's arriving student is trusted (`now`: ISO time)."""
    pk, sk = _key(state_id)
    return {
        "pk": pk,
        "sk": sk,
        "item_type": REGISTRY_TYPE,
        "claims": {district_id: {"student": student_id, "since": now}},
        "how": "first",
        "version": 1,
        "last_changed_run": run_id,
        "updated_at": now,
        "trusted_district": district_id,
        "trusted_student": student_id,
        "trusted_since": now,
    }


def _listing(state_id: str, conflict: Conflict) -> Item:
    return {
        "pk": state_id_conflict_pk(conflict.district_id),
        "sk": state_id_sk(state_id),
        "item_type": CONFLICT_TYPE,
        **conflict.as_dict(),
    }


class Registry:
    """The registry as one district's run sees it: `arrive`, `leave`, `confirm`, `migrate`."""

    def __init__(self, table: RosterTable, district_id: str, run_id: str, now: datetime) -> None:
        self.table = table
        self.district_id = district_id
        self.run_id = run_id
        self.now = now
        self.iso = now.isoformat()
        self.outcome = Outcome()
        self._batched: list[Item] = []  # registry items created in bulk, written with the students

    # ------------------------------------------------------------------------------ reads

    def _read(self, state_ids: Collection[str]) -> dict[str, Item]:
        if not state_ids:
            return {}
        self.outcome.reads += len(state_ids)
        found = self.table.get_items([_key(s) for s in state_ids], _ATTRS, consistent=True)
        return {_state_id_of(item): item for item in found}

    def _students(self, wanted: Collection[tuple[str, str]]) -> dict[tuple[str, str], Item]:
        """(district, student) -> that student item's status, id, last name and birth date."""
        if not wanted:
            return {}
        self.outcome.reads += len(wanted)
        keys = [(district_pk(d), roster_sk(Kind.STUDENT, s)) for d, s in wanted]
        found = self.table.get_items(keys, _STUDENT_ATTRS, consistent=True)
        prefix_d, prefix_s = district_pk(""), roster_sk(Kind.STUDENT, "")
        return {(str(i["pk"]).removeprefix(prefix_d), str(i["sk"]).removeprefix(prefix_s)): i for i in found}

    def _read_arriving(self, state_ids: Collection[str]) -> dict[str, Item]:
        """The entries of these ids, and (in the same BatchGetItem) their former holder items: an id
        the registry does not know but a holder item names another district for (a district not
        migrated yet) stands as trusted to that district's student, unwritten (version 0), so an
        arrival cannot take it without evidence during the migration either. `arrive`, its only
        caller, asks only while ids are pending."""
        self.outcome.reads += len(state_ids)
        keys = [k for s in state_ids for k in (_key(s), (state_id_pk(s), LEGACY_STATE_ID_HOLDER_SK))]
        found = self.table.get_items(keys, (*_ATTRS, "district_id", "student_id"), consistent=True)
        entries = {_state_id_of(i): i for i in found if i["sk"] != LEGACY_STATE_ID_HOLDER_SK}
        for holder in found:
            state_id = _state_id_of(holder)
            district_id, student_id = (
                str(holder.get("district_id") or ""),
                str(holder.get("student_id") or ""),
            )
            if holder["sk"] != LEGACY_STATE_ID_HOLDER_SK or state_id in entries:
                continue
            if district_id and student_id and district_id != self.district_id:
                pk, sk = _key(state_id)
                entries[state_id] = {
                    "pk": pk,
                    "sk": sk,
                    "trusted_district": district_id,
                    "trusted_student": student_id,
                    "claims": {district_id: {"student": student_id, "since": ""}},
                    "how": "migrated",
                    "version": 0,
                }
        return entries

    @staticmethod
    def _holds(student: Item | None, state_id: str) -> bool:
        return student is not None and student.get("status") == ACTIVE and student.get("state_id") == state_id

    # ----------------------------------------------------------------------------- writes

    def _entry(
        self,
        state_id: str,
        claims: Mapping[str, Mapping[str, str]],
        trusted: tuple[str, str] | None,
        how: str,
        version: int,
        previous: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> Item:
        pk, sk = _key(state_id)
        item: Item = {
            "pk": pk,
            "sk": sk,
            "item_type": REGISTRY_TYPE,
            "claims": {d: dict(c) for d, c in claims.items()},
            "how": how,
            "version": version,
            "last_changed_run": self.run_id,
            "updated_at": self.iso,
        }
        if trusted is not None:
            item["trusted_district"], item["trusted_student"] = trusted
            same = previous is not None and _trusted(previous) == trusted
            item["trusted_since"] = (
                str(previous.get("trusted_since", self.iso)) if same and previous else self.iso
            )
        if not claims:  # retention: nobody holds an active student with the id any more
            item["expires_at"] = int((self.now + timedelta(days=RETENTION_DAYS)).timestamp())
        item.update({k: v for k, v in extra.items() if v is not None})
        return item

    def _save(self, state_id: str, item: Item, previous: Mapping[str, Any] | None) -> bool:
        """A conditional write of one entry (on its version); the conflict list follows it."""
        self.outcome.writes += 1
        if not self.table.put_versioned(item, int((previous or {}).get("version", 0))):
            return False
        self._relist(state_id, previous, item)
        return True

    def _relist(self, state_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
        """Support's conflict list (one item per untrusted claim) made to match the entry."""
        old = {c.district_id: c for c in conflicts_of(state_id, before)}
        new = {c.district_id: c for c in conflicts_of(state_id, after)}
        puts = [_listing(state_id, c) for d, c in new.items() if old.get(d) != c]
        deletes = [(state_id_conflict_pk(d), state_id_sk(state_id)) for d in old if d not in new]
        if puts or deletes:
            self.outcome.writes += len(puts) + len(deletes)
            self.table.write(puts, deletes)

    def _flag(self, district_id: str, student_id: str, state_id: str, trusted: bool) -> bool:
        self.outcome.writes += 1
        return self.table.set_trusted(district_id, student_id, state_id, trusted)

    def take_batched(self) -> list[Item]:
        """The registry items `arrive` created in bulk: the caller writes them before the students."""
        out, self._batched = self._batched, []
        return out

    # ---------------------------------------------------------------------------- arrive

    def arrive(self, arrivals: Sequence[Arrival]) -> dict[str, bool]:
        """Decide the trust of tonight's arrivals; returns student id -> `state_id_trusted`.

        Registry entries are written before the caller writes its students (the registry decides;
        the flag follows it). New ids are created with a conditional put each, unless a chunk has
        more than BULK of them (a first sync): then they come back from `take_batched` for the
        caller's batch writes, at the cost that two districts first sharing one id within the same
        seconds could both be trusted until either student arrives or leaves again.
        """
        flags: dict[str, bool] = {}
        pending = {a.state_id: a for a in arrivals}
        for _attempt in range(_ATTEMPTS):
            if not pending:
                break
            entries = self._read_arriving(pending)
            new = [a for s, a in pending.items() if s not in entries]
            bulk = len(new) > BULK
            retry: dict[str, Arrival] = {}
            for arrival in new:
                entry = first_entry(
                    arrival.state_id, self.district_id, arrival.student_id, self.run_id, self.iso
                )
                flags[arrival.student_id] = True
                self.outcome.taken += 1
                if bulk:
                    self._batched.append(entry)
                    self.outcome.writes += 1
                elif not self._save(arrival.state_id, entry, None):
                    retry[arrival.state_id] = arrival
                    self.outcome.taken -= 1
            known = {s: a for s, a in pending.items() if s in entries}
            others = {
                t
                for s, a in known.items()
                if (t := _trusted(entries[s])) is not None and t[0] != self.district_id
            }
            students = self._students(others)
            for state_id, arrival in known.items():
                decided = self._decide(arrival, entries[state_id], students)
                if decided is None:
                    retry[state_id] = arrival
                else:
                    flags[arrival.student_id] = decided
            pending = retry
        if pending:
            raise RuntimeError(
                f"district {self.district_id}: PA Secure ID registry kept changing under the import"
            )
        return flags

    def _me(self, arrival: Arrival) -> tuple[str, str]:
        return self.district_id, arrival.student_id

    def _claim(self, arrival: Arrival) -> dict[str, str]:
        return {"student": arrival.student_id, "since": self.iso}

    def _decide(self, arrival: Arrival, entry: Item, students: Mapping[tuple[str, str], Item]) -> bool | None:
        """One known id: take, move, or record a conflict. None: the entry changed meanwhile."""
        state_id = arrival.state_id
        claims = _claims(entry)
        mine = claims.get(self.district_id)
        if mine is None or mine.get("student") != arrival.student_id:
            claims[self.district_id] = self._claim(arrival)
        trusted = _trusted(entry)
        version = int(entry.get("version", 0)) + 1
        if trusted is None or trusted[0] == self.district_id:
            # Nobody is trusted (every claim left), or this district is: its student is the one.
            if trusted == self._me(arrival) and claims == _claims(entry):
                return True
            item = self._entry(
                state_id, claims, self._me(arrival), str(entry.get("how", "first")), version, entry
            )
            if trusted is None:
                item["how"] = "first"
            if not self._save(state_id, item, entry):
                return None
            if trusted is not None and trusted != self._me(arrival):
                # Another student of this district had it (a record re-created under a new id while
                # the old one is kept): one trusted student, the new one.
                self._flag(trusted[0], trusted[1], state_id, False)
            self.outcome.taken += 1
            return True
        other = students.get(trusted)
        if not self._holds(other, state_id):
            how = "gone"  # the trusted student left (archived, corrected, never written)
            if claims.get(trusted[0], {}).get("student") == trusted[1]:
                del claims[trusted[0]]
        elif other is not None and corroborates(
            {"last_name": arrival.last_name, "birth_date": arrival.birth_date}, other
        ):
            how = "match"  # a move: both records agree on last name and birth date
        else:
            item = self._entry(state_id, claims, trusted, str(entry.get("how", "first")), version, entry)
            if not self._save(state_id, item, entry):
                return None
            conflict = Conflict(self.district_id, arrival.student_id, trusted[0], trusted[1], self.iso)
            self.outcome.conflicts.append(conflict)
            return False
        item = self._entry(state_id, claims, self._me(arrival), how, version, entry)
        if not self._save(state_id, item, entry):
            return None
        if how == "match":
            self._flag(trusted[0], trusted[1], state_id, False)
            self.outcome.moved += 1
        else:
            self.outcome.taken += 1
        return True

    # ------------------------------------------------------------------------------ leave

    def leave(self, students: Iterable[tuple[str, str]]) -> None:
        """This district's students no longer active with these ids (state id, student id): their
        claims go, and a trust they held passes to the newest claim still active with the id."""
        pending = dict(students)
        for _attempt in range(_ATTEMPTS):
            if not pending:
                return
            entries = self._read(pending)
            retry: dict[str, str] = {}
            for state_id, student_id in pending.items():
                entry = entries.get(state_id)
                claims = _claims(entry)
                if entry is None or claims.get(self.district_id, {}).get("student") != student_id:
                    continue  # not this student's claim (already gone, or another student's)
                if self._leave_one(state_id, student_id, entry, claims) is None:
                    retry[state_id] = student_id
            pending = retry
        if pending:
            raise RuntimeError(
                f"district {self.district_id}: PA Secure ID registry kept changing under the import"
            )

    def leave_archived(self, student_ids: Collection[str]) -> None:
        """Students of this district archived tonight: their ids (kept as `archived_state_id`) leave."""
        if not student_ids:
            return
        self.outcome.reads += len(student_ids)
        keys = [(district_pk(self.district_id), roster_sk(Kind.STUDENT, s)) for s in student_ids]
        found = self.table.get_items(keys, ("status", "archived_state_id"), consistent=True)
        prefix = roster_sk(Kind.STUDENT, "")
        self.leave(
            (str(item["archived_state_id"]), str(item["sk"]).removeprefix(prefix))
            for item in found
            if item.get("status") != ACTIVE and str(item.get("archived_state_id") or "none") != "none"
        )

    def _leave_one(
        self, state_id: str, student_id: str, entry: Item, claims: dict[str, dict[str, str]]
    ) -> bool | None:
        del claims[self.district_id]
        trusted = _trusted(entry)
        version = int(entry.get("version", 0)) + 1
        successor: tuple[str, str] | None = trusted
        how = str(entry.get("how", "first"))
        if trusted == (self.district_id, student_id) or trusted is None:
            successor, how = None, "gone"
            waiting = sorted(claims.items(), key=lambda dc: dc[1].get("since", ""), reverse=True)
            found = self._students([(d, c["student"]) for d, c in waiting])
            for d, c in waiting:
                if self._holds(found.get((d, c["student"])), state_id):
                    successor = (d, c["student"])
                    break
                del claims[d]  # a stale claim: that student left without telling (a dead run)
        item = self._entry(state_id, claims, successor, how, version, entry)
        if not self._save(state_id, item, entry):
            return None
        self.outcome.left += 1
        if successor is not None and successor != trusted:
            self._flag(successor[0], successor[1], state_id, True)
            self.outcome.handed_on += 1
        return True

    # ---------------------------------------------------------------------------- confirm

    def confirm(self, written: Iterable[tuple[str, str, bool]]) -> None:
        """Updated students (state id, student id, flag written) checked against the registry: a
        flag another district's import changed while this one wrote its stale copy is set right.
        An id the registry does not know (two bulk creations crossed) arrives now."""
        written = list(written)
        entries = self._read({s for s, _student, _flag in written})
        unknown = []
        for state_id, student_id, flag in written:
            self.outcome.confirmed += 1
            entry = entries.get(state_id)
            if entry is None:
                unknown.append(Arrival(state_id, student_id))
                continue
            should = _trusted(entry) == (self.district_id, student_id)
            if should != flag:
                self._flag(self.district_id, student_id, state_id, should)
                self.outcome.corrected += 1
        for student_id, flag in self.arrive(unknown).items():
            state_id = next(a.state_id for a in unknown if a.student_id == student_id)
            self._flag(self.district_id, student_id, state_id, flag)
            self.outcome.corrected += 1

    # ---------------------------------------------------------------------------- migrate

    def migrate(self, students: Sequence[Item]) -> list[Item]:
        """The first night after the registry: this district's active students into it, from the
        table (the former holder items say whom the application trusted). Returns the student
        items to write back with `state_id_trusted` (only those trusted; no other item changes).
        Conflicts that existed before are counted for support's one summary, never alerted."""
        by_id = {str(s["state_id"]): s for s in students if s.get("state_id")}
        entries = self._read(by_id)
        legacy = {
            _state_id_of(item): item
            for item in self.table.get_items(
                [(state_id_pk(s), LEGACY_STATE_ID_HOLDER_SK) for s in by_id],
                ("district_id", "student_id"),
                consistent=True,
            )
        }
        holders = {
            (str(h.get("district_id")), str(h.get("student_id")))
            for s, h in legacy.items()
            if h.get("district_id") and h.get("district_id") != self.district_id and s not in entries
        }
        active = self._students(holders)
        out: list[Item] = []
        creates: list[Item] = []
        for state_id, student in by_id.items():
            student_id = str(student["clever_id"])
            claim = {"student": student_id, "since": str(student.get("updated_at") or self.iso)}
            entry = entries.get(state_id)
            if entry is not None:  # another district migrated first, or a student arrived since
                claims = _claims(entry)
                claims[self.district_id] = claim
                trusted = _trusted(entry) or (self.district_id, student_id)
                item = self._entry(
                    state_id,
                    claims,
                    trusted,
                    str(entry.get("how", "migrated")),
                    int(entry.get("version", 0)) + 1,
                    entry,
                )
                if not self._save(state_id, item, entry):
                    raise RuntimeError(
                        f"district {self.district_id}: PA Secure ID registry changed during the migration"
                    )
                if trusted != (self.district_id, student_id):
                    self.outcome.existing_conflicts += 1
            else:
                holder = legacy.get(state_id)
                named = (str(holder.get("district_id")), str(holder.get("student_id"))) if holder else None
                claims = {self.district_id: claim}
                trusted = (self.district_id, student_id)
                if named and named[0] != self.district_id and self._holds(active.get(named), state_id):
                    trusted = named  # the application trusted the other district's student before
                    other = active[named]
                    claims[named[0]] = {
                        "student": named[1],
                        "since": str(other.get("updated_at") or self.iso),
                    }
                    self.outcome.existing_conflicts += 1
                item = self._entry(state_id, claims, trusted, "migrated", 1)
                creates.append(item)
            if trusted == (self.district_id, student_id):
                out.append({**student, TRUSTED: True})
            self.outcome.migrated += 1
        self.outcome.writes += len(creates)
        self.table.write(creates, [])
        for item in creates:
            self._relist(_state_id_of(item), None, item)
        # Every id read now has an entry (which supersedes its holder item): the holder items go.
        stale = [(state_id_pk(s), LEGACY_STATE_ID_HOLDER_SK) for s in legacy]
        if stale:
            self.outcome.writes += len(stale)
            self.table.write([], stale)
        return out


# ---------------------------------------------------------------------------------- support


@dataclass(frozen=True, slots=True)
class Assignment:
    """What `rostersync state-id assign` did: district and student ids only, never a name."""

    district_id: str
    student_id: str
    previous_district: str | None
    previous_student: str | None
    by: str
    at: str


class AssignError(ValueError):
    """The assignment cannot be made (no such claim, or its student is not active with the id)."""


def assign(table: RosterTable, state_id: str, district_id: str, *, by: str, now: datetime) -> Assignment:
    """Support gives the trust of a PA Secure ID to the district's active student with it."""
    registry = Registry(table, district_id, f"support-{now.strftime('%Y%m%dT%H%M%SZ')}", now)
    for _attempt in range(_ATTEMPTS):
        entry = registry._read([state_id]).get(state_id)
        if entry is None:
            raise AssignError("no district has an active student with that PA Secure ID in the registry")
        claims = _claims(entry)
        claim = claims.get(district_id)
        if claim is None:
            raise AssignError(f"district {district_id} has no active student with that PA Secure ID")
        student_id = claim["student"]
        if not Registry._holds(
            registry._students([(district_id, student_id)]).get((district_id, student_id)), state_id
        ):
            raise AssignError(
                f"district {district_id}'s student {student_id} is no longer active with that PA Secure ID"
            )
        previous = _trusted(entry)
        item = registry._entry(
            state_id,
            claims,
            (district_id, student_id),
            "support",
            int(entry.get("version", 0)) + 1,
            entry,
            assigned_by=by,
            assigned_at=registry.iso,
        )
        if not registry._save(state_id, item, entry):
            continue
        if previous is not None and previous != (district_id, student_id):
            table.set_trusted(previous[0], previous[1], state_id, False)
        table.set_trusted(district_id, student_id, state_id, True)
        return Assignment(
            district_id,
            student_id,
            previous[0] if previous else None,
            previous[1] if previous else None,
            by,
            registry.iso,
        )
    raise AssignError("the PA Secure ID's registry entry kept changing; try again")


def district_conflicts(table: RosterTable, district_ids: Iterable[str]) -> list[Conflict]:
    """Support's view: every conflict whose untrusted student is in one of these districts."""
    out = []
    for district_id in dict.fromkeys(district_ids):
        for item in table.query(state_id_conflict_pk(district_id)):
            out.append(
                Conflict(
                    str(item.get("district_id", district_id)),
                    str(item.get("student_id", "")),
                    str(item.get("trusted_district", "")),
                    str(item.get("trusted_student", "")),
                    str(item.get("since", "")),
                )
            )
    return out
