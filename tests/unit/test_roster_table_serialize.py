"""The roster table adapter's `serialize`: the roster's own types inline, everything else the way
boto3's TypeSerializer writes it (numbers DynamoDB can hold, sets, and mappings or sequences of
other classes than dict and list), so an item reads back as it was written."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from boto3.dynamodb.types import TypeSerializer

from rostersync.adapters.dynamodb_roster_table import deserialize, serialize


class Span(NamedTuple):
    start: str
    end: float


VALUES: dict[str, Any] = {
    "a float": 0.25,
    "a decimal": Decimal("12.5"),
    "a set of ids": {"sch1", "sch2"},
    "an ordered mapping with a float and a gap": OrderedDict(grade="9", score=1.5, gap=None),
    "a named tuple": Span("2026-08-25", 2.5),
    "a dict holding them": {"span": Span("2026-08-25", 0.5), "tags": frozenset({"x"})},
}


@pytest.mark.parametrize("name", list(VALUES))
def test_other_types_serialize_as_boto3_writes_them(name: str) -> None:
    value = VALUES[name]
    expected = TypeSerializer().serialize(_decimals(value))
    assert serialize({"v": value}) == {"v": expected}


def test_an_item_of_other_types_reads_back_as_it_was_written() -> None:
    item = {"pk": "DISTRICT#d1", "sk": "STUDENT#s1", "score": 0.25, "schools": {"sch1", "sch2"}}
    back = deserialize(serialize(item))
    assert back == item and isinstance(back["score"], float)
    assert serialize({"pk": "p", "span": OrderedDict(a=1.5, gap=None)})["span"] == {"M": {"a": {"N": "1.5"}}}
    assert serialize({"span": Span("2026-08-25", 2.5)})["span"] == {"L": [{"S": "2026-08-25"}, {"N": "2.5"}]}


def _decimals(value: Any) -> Any:
    """What boto3 asks for: Decimal instead of float, no None inside a map, a list for a sequence."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_decimals(v) for v in value]
    return value
