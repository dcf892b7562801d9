"""Issue 14 items 3 and 5: every stored field is bounded, every id checked, in validation.

A record with an over-long value or an invalid id is rejected with a finding that names the
field and the record (never the value); the rest of the district is imported.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rostersync.records import Kind, PersonName, SectionRecord
from rostersync.roster_items import roster_item
from rostersync.sources import id_check
from rostersync.validate.engine import CollectingSink, validate_district
from rostersync.validate.rules import ID_MAX, LIST_LIMITS, TEXT_LIMITS
from tests.factories import (
    D,
    accepted_ids,
    assert_balanced,
    base,
    rules_of,
    run,
    section,
    student,
)

DYNAMODB_ITEM_LIMIT = 400 * 1024


def _size(value: Any) -> int:
    """DynamoDB's item size rules: UTF-8 bytes of names and strings, list overhead 3 + 1 per element."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        return 21
    if isinstance(value, list):
        return 3 + sum(1 + _size(v) for v in value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(k.encode()) + _size(v) for k, v in value.items())
    raise TypeError(type(value))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + _size(v) for k, v in item.items())


def test_a_420000_character_middle_name_rejects_that_student_only_and_never_repeats_the_value() -> None:
    huge = "M" * 420_000
    records = base()
    records.append(
        student("s9", first="Ann").model_copy(update={"name": PersonName(first="Ann", middle=huge, last="X")})
    )
    summary, sink = run(records)
    assert rules_of(sink, "s9") == ["record.field_too_long"]
    [finding] = [f for f in sink.findings if f.source_id == "s9"]
    assert finding.field == "name.middle"
    assert "420,000" in finding.message and "200" in finding.message
    assert huge not in finding.model_dump_json()
    assert "s9" not in accepted_ids(sink)
    assert "s1" in accepted_ids(sink)  # the rest is imported
    assert_balanced(summary)


def test_every_bounded_text_field_is_checked_and_labels_are_clipped() -> None:
    long_last = "L" * 5_000
    records = base()
    records.append(student("s9").model_copy(update={"name": PersonName(first="A", last=long_last)}))
    records.append(student("s8").model_copy(update={"email": "e" * 321, "sis_id": "9" * 65}))
    summary, sink = run(records)
    assert rules_of(sink, "s9") == ["record.field_too_long"]
    assert sorted(f.field or "" for f in sink.findings if f.source_id == "s8") == ["email", "sis_id"]
    for f in sink.findings:
        assert len(f.name or "") <= 200 and len(f.sis_id or "") <= ID_MAX
        assert long_last not in f.message
    assert_balanced(summary)


def test_a_section_listing_too_many_students_is_rejected_and_the_bound_fits_one_item() -> None:
    many = [f"x{i}" for i in range(LIST_LIMITS["students"] + 1)]
    records = [*base(), section("sec9", students=many)]
    _summary, sink = run(records)
    assert rules_of(sink, "sec9") == ["record.field_too_long"]
    [finding] = [f for f in sink.findings if f.source_id == "sec9"]
    assert finding.field == "students" and "5,001" in finding.message


def test_worst_case_items_at_every_bound_fit_dynamodb() -> None:
    astral = "\U0001d4d0"  # 4 bytes in UTF-8
    text = {f: astral * n for f, n in TEXT_LIMITS.items() if "." not in f}
    worst = SectionRecord(
        id="f" * ID_MAX,
        district_id="d" * ID_MAX,
        **{f: text[f] for f in ("name", "school", "sis_id", "section_number", "period", "subject", "grade")},
        course=text["course"],
        term=text["term"],
        teachers=tuple(f"{i:0{ID_MAX}d}" for i in range(LIST_LIMITS["teachers"])),
        students=tuple(f"{i:0{ID_MAX}d}" for i in range(LIST_LIMITS["students"])),
    )
    item = roster_item(
        Kind.SECTION, worst, run_id="20261128T070000123456Z-abcdef", now="2026-11-28T07:00:00Z"
    )
    size = item_size(item)
    assert size < DYNAMODB_ITEM_LIMIT * 0.9, size
    names = PersonName(first=astral * 200, middle=astral * 200, last=astral * 200)
    person = student("p" * ID_MAX).model_copy(
        update={
            "name": names,
            "email": astral * 320,
            "schools": tuple(f"{i:0{ID_MAX}d}" for i in range(LIST_LIMITS["schools"])),
            **{f: text[f] for f in ("sis_id", "local_number", "grade", "graduation_year")},
        }
    )
    assert item_size(roster_item(Kind.STUDENT, person, run_id="r", now="n")) < 20_000


# --------------------------------------------------------------------------------- item 5: ids


def test_records_with_ids_that_are_not_ids_are_rejected_with_record_id_invalid() -> None:
    records = base()
    records.append(student("../../x"))
    records.append(section("sec9", students=("s1",)).model_copy(update={"course": "../c"}))
    _summary, sink = run(records)
    bad = [f for f in sink.findings if f.rule == "record.id.invalid"]
    assert {(f.source_id, f.field) for f in bad} == {("../../x", "id"), ("sec9", "course")}
    assert "../../x" not in accepted_ids(sink) and "sec9" not in accepted_ids(sink)
    assert all("../" not in f.message for f in bad)


def test_clever_ids_are_24_lowercase_hex_digits() -> None:
    ok = id_check("clever")
    assert ok is not None
    assert ok("5a25ffb0c1bc2a00360003ed")
    for bad in (
        "5A25FFB0C1BC2A00360003ED",
        "5a25ffb0c1bc2a00360003e",
        "../../x",
        "",
        "5a25ffb0c1bc2a00360003ed\n",
    ):
        assert not ok(bad), bad
    # With the Clever check, the generic test ids are all invalid: every record is rejected.
    sink = CollectingSink()
    summary = validate_district(D, lambda: iter(base()), sink, id_ok=ok)
    assert not sink.records
    assert summary.rules["record.id.invalid"].count > 0
