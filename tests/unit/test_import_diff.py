"""compute_diff: created, updated, unchanged, restored, archive candidates, rejected kept, repairs."""

from __future__ import annotations

from rostersync.importer.diff import Action, compute_diff
from rostersync.records import Kind
from rostersync.roster_items import Candidate, ExistingItem

H1 = "11" * 16
H2 = "22" * 16


def _tonight(**hashes: str) -> dict[str, bytes]:
    return {sk.replace("__", "#"): bytes.fromhex(h) for sk, h in hashes.items()}


def test_classifies_every_case() -> None:
    tonight = _tonight(STUDENT__same=H1, STUDENT__changed=H2, STUDENT__back=H1, STUDENT__new=H1)
    existing = [
        ExistingItem("STUDENT#same", "active", H1, ("sch1",)),
        ExistingItem("STUDENT#changed", "active", H1, ("sch1",)),
        ExistingItem("STUDENT#back", "archived", H1, ("sch1",)),
        ExistingItem("STUDENT#gone", "active", H1, ("sch1", "sch2"), "sis-gone"),
        ExistingItem("STUDENT#rejected", "active", H1, ("sch1",)),
        ExistingItem("STUDENT#long_gone", "archived", H1),
        ExistingItem("TEACHER#t1", "active", None),
    ]
    diff = compute_diff(tonight, existing, {"rejected", "t-unknown"})
    assert diff.changes == {
        "STUDENT#changed": Action.UPDATED,
        "STUDENT#back": Action.RESTORED,
        "STUDENT#new": Action.CREATED,
    }
    assert diff.unchanged == {Kind.STUDENT: 1}
    assert diff.rejected_kept == {Kind.STUDENT: 1}
    assert diff.candidates == [
        Candidate(Kind.STUDENT, "gone", "sis-gone", ("sch1", "sch2")),
        Candidate(Kind.TEACHER, "t1", None, ()),
    ]
    assert diff.active_by_kind == {Kind.STUDENT: 4, Kind.TEACHER: 1}
    assert diff.students_by_school == {"sch1": 4, "sch2": 1}
    assert tonight == {}  # consumed


def test_missing_or_bad_hash_is_an_update() -> None:
    diff = compute_diff(
        _tonight(COURSE__a=H1, COURSE__b=H1),
        [ExistingItem("COURSE#a", "active", None), ExistingItem("COURSE#b", "active", "not-hex")],
        (),
    )
    assert diff.changes == {"COURSE#a": Action.UPDATED, "COURSE#b": Action.UPDATED}


def test_repair_marks_unchanged_items_and_reconciles_the_rest() -> None:
    tonight = _tonight(STUDENT__same=H1, STUDENT__new=H1)
    existing = [
        ExistingItem("STUDENT#same", "active", H1),
        ExistingItem("STUDENT#archived", "archived", H1),
        ExistingItem("STUDENT#other", "active", H1),
    ]
    repair = {"STUDENT#same", "STUDENT#archived", "STUDENT#never_created", "STUDENT#new"}
    diff = compute_diff(tonight, existing, (), repair)
    assert diff.changes == {"STUDENT#same": Action.REPAIRED, "STUDENT#new": Action.CREATED}
    assert sorted(diff.reconcile) == ["STUDENT#archived", "STUDENT#never_created"]
    assert [c.source_id for c in diff.candidates] == ["other"]


def test_kind_change_archives_the_old_kind_and_creates_the_new() -> None:
    diff = compute_diff(_tonight(TEACHER__p1=H1), [ExistingItem("STAFF#p1", "active", H1)], ())
    assert diff.changes == {"TEACHER#p1": Action.CREATED}
    assert [c.sk for c in diff.candidates] == ["STAFF#p1"]


def test_rejected_ids_keep_only_their_own_kinds() -> None:
    # Issue 14: the kinds a rejected id keeps come from validate; a section rejected under a
    # student's id does not keep the student, and a person accepted as a student keeps no adult item.
    existing = [
        ExistingItem("SECTION#x", "active", H1),
        ExistingItem("STAFF#p", "active", H1, ("sch1",)),
        ExistingItem("STUDENT#p", "active", H1, ("sch1",)),
        ExistingItem("STUDENT#x", "active", H1, ("sch1",)),
        ExistingItem("TEACHER#q", "active", H1, ("sch1",)),
    ]
    rejected = {"x": {Kind.SECTION}, "p": {Kind.TEACHER, Kind.STAFF}, "q": {Kind.TEACHER, Kind.STAFF}}
    diff = compute_diff(_tonight(STUDENT__p=H1), existing, rejected)
    assert diff.rejected_kept == {Kind.SECTION: 1, Kind.TEACHER: 1}
    assert [c.sk for c in diff.candidates] == ["STAFF#p", "STUDENT#x"]


def test_a_plain_id_collection_keeps_every_kind_except_a_second_account() -> None:
    existing = [ExistingItem("STAFF#p", "active", H1), ExistingItem("TEACHER#r", "active", H1)]
    diff = compute_diff(_tonight(STUDENT__p=H1), existing, {"p", "r"})
    assert diff.rejected_kept == {Kind.TEACHER: 1}
    assert [c.sk for c in diff.candidates] == ["STAFF#p"]
