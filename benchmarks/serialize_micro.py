"""Micro-benchmark: DynamoRosterTable's item serializer against boto3's TypeSerializer path.

    .venv/bin/python benchmarks/serialize_micro.py

56,500 items shaped like a 5k district's first import (membership edges, sections, persons).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "rostersync"))

from boto3.dynamodb.types import TypeSerializer

from rostersync.adapters import roster_table

_boto = TypeSerializer()


def boto3_path(item: dict[str, Any]) -> dict[str, Any]:
    """What roster_table.serialize did before: _to_ddb, then boto3's TypeSerializer per attribute."""
    return {k: _boto.serialize(roster_table._to_ddb(v)) for k, v in item.items() if v is not None}


def main() -> None:
    section = {
        "pk": "DISTRICT#d",
        "sk": "SECTION#abc",
        "status": "active",
        "content_hash": "0" * 32,
        "name": "Algebra",
        "teachers": ["t1"],
        "students": [f"{i:024x}" for i in range(30)],
        "grade": "9",
    }
    edge = {
        "pk": "SECTION#abc",
        "sk": "STUDENT#x",
        "item_type": "membership",
        "district_id": "d",
        "group_kind": "SECTION",
        "group_id": "abc",
        "member_kind": "STUDENT",
        "member_id": "x",
        "last_changed_run": "r",
    }
    person = {**edge, "schools": ["a"], "graduation_year": 2030}
    items = [edge] * 50_000 + [section] * 1_500 + [person] * 5_000
    for item in (edge, section, person):
        assert roster_table.serialize(item) == boto3_path(item)
    for name, function in (
        ("boto3 TypeSerializer path", boto3_path),
        ("roster_table.serialize", roster_table.serialize),
    ):
        started = time.process_time()
        for item in items:
            function(item)
        print(f"{name:<28} {time.process_time() - started:6.2f} CPU s for {len(items):,} items")


if __name__ == "__main__":
    main()
