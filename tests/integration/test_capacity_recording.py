"""The capacity model records what the roster adapter really sends, at botocore, against moto."""

from __future__ import annotations

from typing import Any

import boto3

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync_cli.capacity import CapacityModel, indexes_of
from rostersync_cli.template import load_template


def test_writes_and_reads_through_the_adapter_are_counted(aws_env: dict[str, str]) -> None:
    name = aws_env["ROSTER_TABLE"]
    client: Any = boto3.client("dynamodb")
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    model = CapacityModel(name, indexes_of(load_template()["Resources"]["RosterTable"]["Properties"]))
    model.attach(client)
    table = DynamoRosterTable(name, client, sleep=lambda _s: None, workers=1)
    students = [
        {"pk": "DISTRICT#d1", "sk": f"STUDENT#s{n}", "status": "active", "state_id": f"{1000000000 + n}"}
        for n in range(60)
    ]

    assert table.write(students, [("SCHOOL#a", "STUDENT#s0")]) == 61
    assert len(table.query("DISTRICT#d1")) == 60

    assert model.writes == 61  # three BatchWriteItem calls of 25, 25 and 11
    assert model.table_write_units == 61
    assert model.index_write_units == {"inverted": 60, "by_state_id": 60}
    assert model.by_partition_key == {"DISTRICT#d1": 60, "SCHOOL#a": 1}
    assert model.read_units > 0
