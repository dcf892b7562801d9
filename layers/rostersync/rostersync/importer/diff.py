"""Tonight's records against what the table holds: which items to create, update, restore, archive.

Memory stays compact for the largest districts (~190,000 items): tonight's records are reduced
to `sk -> 16-byte hash`, the table is streamed (sk, status, content_hash, and for archive
candidates only their schools and sis_id), and only changes are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum

from rostersync.layout import roster_sk, split_sk
from rostersync.records import Kind
from rostersync.roster_items import ARCHIVED, PERSON_KINDS, Candidate, ExistingItem


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RESTORED = "restored"
    ARCHIVED = "archived"
    HELD = "held"
    REPAIRED = "repaired"  # unchanged content, rewritten to finish a failed run
    RECONCILE = "reconcile"  # no record tonight: membership items re-derived from the stored item


@dataclass
class Diff:
    changes: dict[str, Action] = field(default_factory=dict)  # sk -> created/updated/restored/repaired
    candidates: list[Candidate] = field(default_factory=list)  # archive set, before the safeguard
    # sks (no record tonight) whose membership items must be re-derived from the stored item:
    # work a failed run may have left half done.
    reconcile: list[str] = field(default_factory=list)
    unchanged: Counter[Kind] = field(default_factory=Counter)
    rejected_kept: Counter[Kind] = field(default_factory=Counter)
    active_by_kind: Counter[Kind] = field(default_factory=Counter)  # active before this run
    students_by_school: Counter[str] = field(default_factory=Counter)  # active students before


def hash_bytes(value: str | None) -> bytes:
    try:
        return bytes.fromhex(value) if value else b""
    except ValueError:
        return b""


RejectedIds = Mapping[str, Collection[Kind]] | Collection[str]


def kept_kinds(tonight: Mapping[str, bytes], rejected_ids: RejectedIds) -> dict[str, frozenset[Kind]]:
    """Per rejected id, the kinds whose last good item stays active tonight.

    `rejected_ids` maps an id to its kinds (validate's rejected.json.gz); a plain collection of
    ids keeps every kind (as before kinds were recorded). Whatever it says, a person accepted
    tonight under one account kind keeps no item of another person kind: one active account per
    person, always (the few rejected ids are looked up in `tonight` before it is consumed).
    """
    every = frozenset(Kind)
    if isinstance(rejected_ids, Mapping):
        kept = {i: frozenset(kinds) for i, kinds in rejected_ids.items()}
    else:
        kept = dict.fromkeys(rejected_ids, every)
    for source_id, kinds in kept.items():
        if kinds & PERSON_KINDS:
            accepted = {k for k in PERSON_KINDS if roster_sk(k, source_id) in tonight}
            if accepted:
                kept[source_id] = kinds - (PERSON_KINDS - accepted)
    return kept


def compute_diff(
    tonight: MutableMapping[str, bytes],
    existing: Iterable[ExistingItem],
    rejected_ids: RejectedIds,
    repair: Collection[str] = (),
) -> Diff:
    """Classify every item. CONSUMES `tonight` (what is left at the end is created).

    An active item with no record tonight is kept as it is ("rejected, last good") only when its
    id was rejected tonight for a reason that keeps that kind (`kept_kinds`); else it is an
    archive candidate.
    """
    diff = Diff()
    rejected = kept_kinds(tonight, rejected_ids)
    for item in existing:
        kind, source_id = split_sk(item.sk)
        active = item.status != ARCHIVED
        if active:
            diff.active_by_kind[kind] += 1
            if kind is Kind.STUDENT:
                for school in item.schools:
                    diff.students_by_school[school] += 1
        new = tonight.pop(item.sk, None)
        if new is not None:
            if not active:
                diff.changes[item.sk] = Action.RESTORED
            elif new != hash_bytes(item.content_hash):
                diff.changes[item.sk] = Action.UPDATED
            elif item.sk in repair:
                diff.changes[item.sk] = Action.REPAIRED
            else:
                diff.unchanged[kind] += 1
        elif active and kind in rejected.get(source_id, ()):
            diff.rejected_kept[kind] += 1
            if item.sk in repair:
                diff.reconcile.append(item.sk)
        elif active:
            diff.candidates.append(Candidate(kind, source_id, item.sis_id, item.schools))
        elif item.sk in repair:
            diff.reconcile.append(item.sk)
    for sk in tonight:
        diff.changes[sk] = Action.CREATED
    # A failed run may have written membership items for records it never created.
    seen = set(diff.changes) | {c.sk for c in diff.candidates} | set(diff.reconcile)
    diff.reconcile.extend(sk for sk in repair if sk not in seen and "#" in sk)
    tonight.clear()
    return diff


__all__ = ["Action", "Diff", "compute_diff"]
