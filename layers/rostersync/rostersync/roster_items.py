"""Record -> table item mapping, the content hash, and membership (edge) items.

The table layout is documented in docs/DATA_MODEL.md; this module is its single implementation.

* Roster item: pk `DISTRICT#<district>`, sk `<KIND>#<clever id>`; `status` active|archived.
* Membership (edge) item, derived from one owning roster item and present only while it is
  active: pk `SCHOOL#<school>` sk `<STUDENT|TEACHER|STAFF>#<person>` (owned by the person),
  pk `SECTION#<district>#<section>` sk `TEACHER#<id>` (owned by the section). A section's students are
  its item's `students` list, not membership items: at 25 to 35 students a section, one item
  per student would be most of a district's items (11 items per record instead of 2), and a
  first import of the largest district would not fit in one invocation.

The content hash covers every attribute that comes from the record (never bookkeeping such as
status, run ids or timestamps), over canonical JSON, so the same record always hashes the same
whatever the process, dict order or Python version. A change to the mapping bumps
HASH_VERSION, which makes the next run rewrite every item once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple

from rostersync.layout import district_of, district_pk, roster_sk, school_pk, section_pk, split_sk
from rostersync.records import (
    CourseRecord,
    DistrictRecord,
    Kind,
    PersonRecord,
    Record,
    SchoolRecord,
    SectionRecord,
    TermRecord,
)

Item = dict[str, Any]
Key = tuple[str, str]

HASH_VERSION = "rostersync-item-v1"
ACTIVE = "active"
ARCHIVED = "archived"
PERSON_KINDS = frozenset({Kind.STUDENT, Kind.TEACHER, Kind.STAFF})
EDGE = "membership"

# Attributes that are not content: never hashed.
BOOKKEEPING = frozenset(
    {
        "pk",
        "sk",
        "status",
        "content_hash",
        "last_changed_run",
        "updated_at",
        "archived_at",
        "archived_run",
        "archived_state_id",
        "state_id_trusted",  # the PA Secure ID registry's decision, not the record's
    }
)

# A section's member lists and, while a safeguard hold keeps some members active although tonight's
# fetch no longer lists them, the attribute naming those held members (see keep_held_members).
HELD_LISTS: tuple[tuple[str, str, Kind], ...] = (
    ("students", "held_students", Kind.STUDENT),
    ("teachers", "held_teachers", Kind.TEACHER),
)


class ExistingItem(NamedTuple):
    """What the table's district partition says about one roster item."""

    sk: str
    status: str
    content_hash: str | None
    schools: tuple[str, ...] = ()
    sis_id: str | None = None


class Candidate(NamedTuple):
    """An active item missing from tonight's complete fetch."""

    kind: Kind
    source_id: str
    sis_id: str | None
    schools: tuple[str, ...]

    @property
    def sk(self) -> str:
        return f"{self.kind.value}#{self.source_id}"


def _put(out: Item, name: str, value: Any) -> None:
    """Only meaningful values are stored: no None, no empty strings (a GSI key cannot be ''), no []."""
    if value is None or (isinstance(value, (str, list, tuple)) and not value):
        return
    out[name] = list(value) if isinstance(value, tuple) else value


def _unique(values: Iterable[str]) -> list[str]:
    """Membership lists: order-free, so a source reordering them is not a change."""
    return sorted({v for v in values if v})


def content_of(kind: Kind, record: Record) -> Item:
    """The attributes a record contributes to its item (what the hash covers)."""
    out: Item = {"kind": kind.value, "clever_id": record.id, "district_id": record.district_id}
    match record:
        case DistrictRecord():
            _put(out, "name", record.name)
            _put(out, "nces_id", record.nces_id)
        case SchoolRecord():
            _put(out, "name", record.name)
            _put(out, "nces_id", record.nces_id)
            _put(out, "sis_id", record.sis_id)
            _put(out, "school_number", record.school_number)
            # Not `state_id`: that attribute is the by_state_id GSI key, reserved for students.
            _put(out, "school_state_id", record.state_id)
            _put(out, "low_grade", record.low_grade)
            _put(out, "high_grade", record.high_grade)
        case PersonRecord():
            name = record.name
            if name is not None:
                _put(out, "first_name", name.first)
                _put(out, "middle_name", name.middle)
                _put(out, "last_name", name.last)
                _put(out, "display_name", name.display())
            _put(out, "source_role", record.role.value)
            _put(out, "email", record.email)
            _put(out, "sis_id", record.sis_id)
            if kind is Kind.STUDENT:
                _put(out, "state_id", record.state_id)
                _put(out, "grade", record.grade)
                _put(out, "graduation_year", record.graduation_year)
                _put(out, "birth_date", record.birth_date)
                _put(out, "zip", record.zip)
            else:
                _put(out, "title", record.title)
                _put(out, "department", record.department)
            _put(out, "local_number", record.local_number)
            # Order kept: the source's first school is the person's primary school.
            _put(out, "schools", list(dict.fromkeys(s for s in record.schools if s)))
        case SectionRecord():
            _put(out, "name", record.name)
            _put(out, "school", record.school)
            _put(out, "sis_id", record.sis_id)
            _put(out, "section_number", record.section_number)
            _put(out, "period", record.period)
            _put(out, "subject", record.subject)
            _put(out, "grade", record.grade)
            _put(out, "course", record.course)
            _put(out, "term", record.term)
            _put(out, "teachers", _unique(record.teachers))
            _put(out, "students", _unique(record.students))
        case TermRecord():
            _put(out, "name", record.name)
            _put(out, "start_date", record.start_date)
            _put(out, "end_date", record.end_date)
        case CourseRecord():
            _put(out, "name", record.name)
            _put(out, "number", record.number)
    return out


def content_hash(content: Item) -> str:
    """128 bits of SHA-256 over canonical JSON of the content, as 32 hex characters."""
    body = json.dumps(
        {k: v for k, v in content.items() if k not in BOOKKEEPING},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{HASH_VERSION}\n{body}".encode()).hexdigest()[:32]


def record_hash(kind: Kind, record: Record) -> str:
    return content_hash(content_of(kind, record))


def roster_item(kind: Kind, record: Record, *, run_id: str, now: str) -> Item:
    """The whole active item for a record (a put replaces any previous version)."""
    content = content_of(kind, record)
    return {
        "pk": district_pk(record.district_id),
        "sk": roster_sk(kind, record.id),
        **content,
        "status": ACTIVE,
        "content_hash": content_hash(content),
        "last_changed_run": run_id,
        "updated_at": now,
    }


def edge_item(parent_pk: str, member_sk: str, district_id: str, run_id: str) -> Item:
    group_kind, _, group_id = parent_pk.partition("#")
    member_kind, _, member_id = member_sk.partition("#")
    return {
        "pk": parent_pk,
        "sk": member_sk,
        "item_type": EDGE,
        "district_id": district_id,
        "group_kind": group_kind,
        "group_id": group_id,
        "member_kind": member_kind,
        "member_id": member_id,
        "last_changed_run": run_id,
    }


def desired_edges(kind: Kind, record: Record) -> set[Key]:
    """The membership items an ACTIVE record owns (an archived one owns none)."""
    if kind in PERSON_KINDS and isinstance(record, PersonRecord):
        sk = roster_sk(kind, record.id)
        return {(school_pk(record.district_id, school), sk) for school in record.schools if school}
    if kind is Kind.SECTION and isinstance(record, SectionRecord):
        pk = section_pk(record.district_id, record.id)
        return {(pk, roster_sk(Kind.TEACHER, t)) for t in record.teachers if t}
    return set()


def owns_edges(kind: Kind) -> bool:
    return kind in PERSON_KINDS or kind is Kind.SECTION


def stored_edges(item: Item | None) -> set[Key]:
    """The membership items a STORED roster item implies (none unless active)."""
    if not item or item.get("status") != ACTIVE:
        return set()
    kind, clever_id = split_sk(str(item["sk"]))
    district_id = district_of(str(item["pk"]))
    if kind in PERSON_KINDS:
        return {(school_pk(district_id, s), str(item["sk"])) for s in item.get("schools") or [] if s}
    if kind is Kind.SECTION:
        pk = section_pk(district_id, clever_id)
        return {(pk, roster_sk(Kind.TEACHER, t)) for t in item.get("teachers") or [] if t}
    return set()


def keep_held_members(item: Item, stored: Item | None, held: Mapping[Kind, Collection[str]]) -> Item:
    """A section item written on a held night, with the held people it listed still in its lists.

    A safeguard hold keeps people active although tonight's fetch lacks them, so the sections
    they were in keep them too: every member of the STORED section's lists whose archive is held
    tonight and whom tonight's record no longer lists goes back into the list, and is named in
    `held_students` / `held_teachers` so the release can take them out again. The content hash
    covers the item as stored (held lists included), so it differs from the record's, and a
    night without the hold (the people came back, or were archived) rewrites the section from
    its record alone; another held night with the same data finds the same hash and writes nothing.
    """
    if not stored or stored.get("status") != ACTIVE:
        return item
    out = dict(item)
    for attr, held_attr, kind in HELD_LISTS:
        tonight = set(item.get(attr) or ())
        back = (set(stored.get(attr) or ()) & set(held.get(kind) or ())) - tonight
        if back:
            out[attr] = sorted(tonight | back)
            out[held_attr] = sorted(back)
    if out != item:
        out["content_hash"] = content_hash(out)
    return out


def release_held_members(item: Item, released: Mapping[Kind, Collection[str]], now: str) -> Item | None:
    """The section item without the held members a release archived; None when it lists none."""
    out = dict(item)
    for attr, held_attr, kind in HELD_LISTS:
        held_here = set(item.get(held_attr) or ())
        gone = held_here & set(released.get(kind) or ())
        if not gone:
            continue
        remaining = sorted(set(item.get(attr) or ()) - gone)
        still_held = sorted(held_here - gone)
        for name, value in ((attr, remaining), (held_attr, still_held)):
            if value:
                out[name] = value
            else:
                out.pop(name, None)  # empty lists are never stored
    if out == item:
        return None
    out["content_hash"] = content_hash(out)
    out["updated_at"] = now
    return out
