"""Record -> item mapping, the content hash, membership items."""

from __future__ import annotations

import pytest

from rostersync.importer.holds import PageStoreHoldStore
from rostersync.layout import roster_sk, split_sk
from rostersync.records import Kind, PersonName
from rostersync.roster_items import (
    BOOKKEEPING,
    Candidate,
    content_hash,
    content_of,
    desired_edges,
    record_hash,
    roster_item,
    stored_edges,
)
from tests.factories import D, course, district, school, section, student, teacher, term


def test_keys_follow_the_contract() -> None:
    item = roster_item(Kind.STUDENT, student("s1"), run_id="r1", now="2026-11-28T07:00:00+00:00")
    assert item["pk"] == f"DISTRICT#{D}" and item["sk"] == "STUDENT#s1"
    assert item["status"] == "active" and item["last_changed_run"] == "r1"
    assert item["content_hash"] == record_hash(Kind.STUDENT, student("s1"))
    assert split_sk("SECTION#abc#1") == (Kind.SECTION, "abc#1")
    assert roster_sk("TEACHER", "t1") == "TEACHER#t1"


def test_only_students_carry_state_id() -> None:
    assert content_of(Kind.STUDENT, student("s1"))["state_id"]
    sch = content_of(Kind.SCHOOL, school("sch1", state_id="PA-9"))
    assert "state_id" not in sch and sch["school_state_id"] == "PA-9" and sch["nces_id"] == "420000100001"
    adult = teacher("t1").model_copy(update={"state_id": "123"})
    assert "state_id" not in content_of(Kind.TEACHER, adult)
    # a person resolved to STAFF keeps staff fields, no student ones
    assert "grade" not in content_of(Kind.STAFF, teacher("t1", grade="9"))


def test_empty_values_are_not_stored() -> None:
    content = content_of(Kind.STUDENT, student("s1", email="", schools=(), grade=None))
    assert "email" not in content and "schools" not in content and "grade" not in content


@pytest.mark.parametrize(
    ("kind", "record"),
    [
        (Kind.DISTRICT, district()),
        (Kind.SCHOOL, school("sch1")),
        (Kind.STUDENT, student("s1")),
        (Kind.TEACHER, teacher("t1")),
        (Kind.SECTION, section("se1", teachers=("t1",), students=("s1", "s2"))),
        (Kind.TERM, term()),
        (Kind.COURSE, course()),
    ],
)
def test_every_kind_maps_and_hashes(kind: Kind, record: object) -> None:
    item = roster_item(kind, record, run_id="r", now="n")  # type: ignore[arg-type]
    assert item["kind"] == kind.value and item["clever_id"] == record.id  # type: ignore[attr-defined]
    assert len(item["content_hash"]) == 32
    assert all(v not in (None, "", []) for v in item.values())


def test_hash_is_stable_and_pinned() -> None:
    # Pinned: a change here means every item is rewritten once on the next run. Bump
    # HASH_VERSION deliberately when the mapping changes, and update this value.
    # (The pinned record is the factory student of before the three student fields had defaults.)
    bare = {"birth_date": None, "graduation_year": None, "zip": None}
    record = student("s1", state_id="1234567890", **bare)
    assert record_hash(Kind.STUDENT, record) == record_hash(
        Kind.STUDENT, student("s1", state_id="1234567890", **bare)
    )
    assert record_hash(Kind.STUDENT, record) == PINNED_STUDENT_HASH


PINNED_STUDENT_HASH = "2e0ac1a5fef53a127422addda749ca21"


def test_hash_ignores_bookkeeping_and_key_order() -> None:
    content = content_of(Kind.TEACHER, teacher("t1"))
    reordered = dict(reversed(list(content.items())))
    with_bookkeeping = {**content, **dict.fromkeys(BOOKKEEPING, "x")}
    assert content_hash(content) == content_hash(reordered) == content_hash(with_bookkeeping)


def test_hash_changes_with_any_content_and_kind() -> None:
    base = record_hash(Kind.STUDENT, student("s1"))
    assert record_hash(Kind.STUDENT, student("s1", grade="10")) != base
    assert record_hash(Kind.STUDENT, student("s1", name=PersonName(first="Bo", last="Lasts1"))) != base
    assert record_hash(Kind.STUDENT, student("s1", schools=("sch1", "sch2"))) != base
    assert record_hash(Kind.TEACHER, teacher("t1")) != record_hash(Kind.STAFF, teacher("t1"))


def test_section_membership_order_is_not_a_change() -> None:
    a = section("se1", teachers=("t2", "t1"), students=("s2", "s1", "s1"))
    b = section("se1", teachers=("t1", "t2"), students=("s1", "s2"))
    assert record_hash(Kind.SECTION, a) == record_hash(Kind.SECTION, b)
    assert content_of(Kind.SECTION, a)["students"] == ["s1", "s2"]


def test_membership_items_are_derived_from_the_owner() -> None:
    assert desired_edges(Kind.STUDENT, student("s1", schools=("a", "b"))) == {
        (f"SCHOOL#{D}#a", "STUDENT#s1"),
        (f"SCHOOL#{D}#b", "STUDENT#s1"),
    }
    assert desired_edges(Kind.STAFF, teacher("t1", schools=("a",))) == {(f"SCHOOL#{D}#a", "STAFF#t1")}
    # A section's students live on its item (`students`), not in membership items.
    assert desired_edges(Kind.SECTION, section("se1", teachers=("t1",), students=("s1",))) == {
        (f"SECTION#{D}#se1", "TEACHER#t1"),
    }
    assert desired_edges(Kind.SCHOOL, school("a")) == set()
    stored = roster_item(
        Kind.SECTION, section("se1", teachers=("t1",), students=("s1",)), run_id="r", now="n"
    )
    assert stored_edges(stored) == desired_edges(
        Kind.SECTION, section("se1", teachers=("t1",), students=("s1",))
    )
    assert stored_edges({**stored, "status": "archived"}) == set()
    assert stored_edges(None) == set()


def test_a_held_archive_csv_is_guarded_against_formula_injection() -> None:
    # Issue 14: archive.csv lacked findings.csv's guard; a district controls SIS ids.
    from tests.fakes import MemoryPageStore

    store = MemoryPageStore()
    holds = PageStoreHoldStore(store)
    key = holds.write_hold(
        "d1",
        "r1",
        [
            Candidate(Kind.STUDENT, "s1", '=HYPERLINK("http://x","y")', ()),
            Candidate(Kind.STUDENT, "s2", "@SUM(1)", ()),
        ],
    )
    text = store.objects[key].decode()
    assert "'=HYPERLINK" in text and "'@SUM(1)" in text
    assert holds.read_hold("d1", "r1")[0]["sis_id"] == '=HYPERLINK("http://x","y")'  # the JSON twin is exact
