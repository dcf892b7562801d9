"""The capacity model's arithmetic: DynamoDB's item-size and unit rules, indexes, busiest keys."""

from __future__ import annotations

from typing import Any

import pytest

from rostersync.adapters.dynamodb_roster_table import serialize
from rostersync_cli.capacity import (
    CapacityModel,
    IndexSpec,
    indexes_of,
    item_size,
    read_units,
    value_size,
    write_units,
)
from rostersync_cli.template import load_template

TABLE = "roster"
INDEXES = indexes_of(load_template()["Resources"]["RosterTable"]["Properties"])


def _student(n: int, *, state_id: bool = True, padding: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": "DISTRICT#d1",
        "sk": f"STUDENT#s{n}",
        "status": "active",
        "note": "x" * padding,
    }
    if state_id:
        item["state_id"] = f"{1000000000 + n}"
    return serialize(item)


def test_value_sizes_follow_dynamodb_s_rules() -> None:
    assert value_size({"S": "abc"}) == 3
    assert value_size({"S": "é"}) == 2  # UTF-8 bytes
    assert value_size({"N": "123"}) == 3  # ceil(3 digits / 2) + 1
    assert value_size({"N": "1000"}) == 2  # trailing zeros are not significant
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (2 + 1) + (2 + 1)
    assert value_size({"M": {"a": {"S": "bc"}}}) == 3 + (1 + 2 + 1)
    assert item_size({"pk": {"S": "DISTRICT#d1"}, "n": {"N": "7"}}) == (2 + 11) + (1 + 2)
    with pytest.raises(ValueError, match="unknown DynamoDB type"):
        value_size({"X": 1})


def test_units_round_up_per_kilobyte_and_per_four_kilobytes() -> None:
    assert [write_units(s) for s in (0, 1, 1024, 1025, 3000)] == [1, 1, 1, 2, 3]
    assert read_units(4096, consistent=True) == 1.0 and read_units(4097, consistent=True) == 2.0
    assert read_units(100, consistent=False) == 0.5


def test_the_template_s_indexes_are_read_with_their_keys_and_projection() -> None:
    assert {i.name: (i.hash_key, i.range_key, i.projection) for i in INDEXES} == {
        "inverted": ("sk", "pk", "KEYS_ONLY"),
        "by_state_id": ("state_id", None, "INCLUDE"),
    }


def test_a_put_writes_the_table_and_every_index_that_holds_the_item() -> None:
    model = CapacityModel(TABLE, INDEXES)
    model.put(_student(1))
    model.put(_student(2, state_id=False))  # not in the sparse by_state_id index
    model.put(_student(3, padding=1500))  # two units on the table, one on each index (projections)
    assert model.table_write_units == 4
    assert model.index_write_units == {"inverted": 3, "by_state_id": 2}
    assert model.by_partition_key == {"DISTRICT#d1": 4}
    everything = CapacityModel(TABLE, [IndexSpec("inverted", "sk", "pk", "ALL")])
    everything.put(_student(3, padding=1500))
    assert everything.table_write_units == 2 and everything.index_write_units == {"inverted": 2}
    # INCLUDE carries the named attributes: a padded one makes the index entry as large.
    include = CapacityModel(TABLE, [IndexSpec("by_state_id", "state_id", None, "INCLUDE", ("note",))])
    include.put(_student(3, padding=1500))
    assert include.index_write_units == {"by_state_id": 2}


def test_units_are_told_by_item_kind_without_ids_and_merge_across_processes() -> None:
    model = CapacityModel(TABLE, INDEXES)
    model.put(_student(1, padding=1500))
    model.put(serialize({"pk": "SCHOOL#d1#a", "sk": "STUDENT#s1", "item_type": "membership"}))
    model.put(serialize({"pk": "RUN#d1", "sk": "20261128T070000Z-3f9a1c", "status": "running"}))
    model.key_write(serialize({"pk": "LEASE#d1", "sk": "LEASE"}))
    assert model.by_item_kind == {
        "DISTRICT/STUDENT": {"items": 1, "items_over_1kb": 1, "table": 2, "inverted": 1, "by_state_id": 1},
        "SCHOOL/STUDENT": {"items": 1, "table": 1, "inverted": 1},
        "RUN/…": {"items": 1, "table": 1, "inverted": 1},  # a run id is no kind
        "LEASE/LEASE": {"key_writes": 1, "table": 1},
    }
    other = CapacityModel(TABLE, INDEXES)
    other.merge(model.export())
    other.merge(model.export())
    assert other.table_write_units == 2 * model.table_write_units and other.writes == 8
    assert other.index_write_units == {"inverted": 6, "by_state_id": 2}
    assert other.by_partition_key["DISTRICT#d1"] == 4
    assert other.by_item_kind["DISTRICT/STUDENT"]["items_over_1kb"] == 2


def test_a_batch_write_counts_only_what_was_processed() -> None:
    model = CapacityModel(TABLE, INDEXES)
    requests = [{"PutRequest": {"Item": _student(n)}} for n in range(3)]
    requests.append({"DeleteRequest": {"Key": serialize({"pk": "SCHOOL#a", "sk": "STUDENT#s9"})}})
    model.record(
        "BatchWriteItem",
        {"RequestItems": {TABLE: requests}},
        {"UnprocessedItems": {TABLE: [requests[2]]}},
    )
    assert model.writes == 3
    assert model.table_write_units == 3 and model.index_write_units == {"inverted": 2, "by_state_id": 2}
    assert model.by_partition_key == {"DISTRICT#d1": 2, "SCHOOL#a": 1}


def test_reads_round_per_item_or_per_query_and_halve_when_eventually_consistent() -> None:
    model = CapacityModel(TABLE, INDEXES)
    items = [_student(n, padding=1500) for n in range(4)]  # about 1.5 KB each
    model.record("Query", {"ConsistentRead": True}, {"Items": items})  # about 6 KB: 2 units
    assert model.read_units == 2.0
    model.record("BatchGetItem", {"RequestItems": {TABLE: {"Keys": []}}}, {"Responses": {TABLE: items}})
    assert model.read_units == 2.0 + 4 * 0.5


def test_the_summary_names_the_busiest_keys_by_kind_only_and_the_time_they_need() -> None:
    model = CapacityModel(TABLE, INDEXES)
    for n in range(2000):
        model.put(_student(n))
    summary = model.summary(records=2000, table_share=400.0)
    assert summary["write_units"] == 6000 and summary["write_units_per_record"] == 3.0
    assert summary["busiest_partition_key"] == {"key": "DISTRICT#…", "write_units": 2000}
    assert summary["busiest_index_key"]["write_units"] == 1
    assert summary["write_seconds_at_share"] == 15.0  # 6,000 units at 400 a second
    assert "1000000001" not in str(summary) and "s1" not in str(summary["busiest_partition_key"])
