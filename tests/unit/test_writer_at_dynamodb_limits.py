"""A first import against DynamoDB's write limits, scaled down and in virtual time.

DynamoDB (published limits): 1,000 write units a second per partition key and per index key; a
new on-demand table about 4,000 a second, shared here by ten first imports (400 each). Scaled
down 100 times: 10 units a second per key, a share of 4. The district's roster items share one
partition key (`DISTRICT#<d>`), as in the table; every item also writes the `inverted` index.
The adapter must write every item, however many partial answers and throttling errors it gets,
in about the time the share allows; counted as attempts (8 at most), it gave up in the first
batch.
"""

from __future__ import annotations

from typing import Any

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.adapters.write_rate import WriteRate
from rostersync_cli.capacity import indexes_of
from rostersync_cli.template import load_template
from tests.fakes.throttled_dynamodb import ThrottledDynamo

TABLE = "roster"
INDEXES = indexes_of(load_template()["Resources"]["RosterTable"]["Properties"])
SCALE = 100  # DynamoDB's limits divided by this
KEY_RATE = 1000 / SCALE
SHARE = 4000 / 10 / SCALE


def _roster(n: int) -> list[dict[str, Any]]:
    return [
        {
            "pk": "DISTRICT#d1",
            "sk": f"STUDENT#s{i:05d}",
            "status": "active",
            "state_id": f"{1_000_000_000 + i}",
        }
        for i in range(n)
    ]


def test_a_first_import_at_a_tenth_of_a_shared_table_finishes_in_the_time_its_share_allows() -> None:
    dynamo = ThrottledDynamo(TABLE, INDEXES, key_rate=KEY_RATE, table_rate=SHARE)
    rate = WriteRate(
        start=40.0, floor=1.0, ceiling=40.0, increase=1.0, clock=dynamo.clock, sleep=dynamo.sleep
    )
    table = DynamoRosterTable(
        TABLE, dynamo, sleep=dynamo.sleep, clock=dynamo.clock, write_rate=rate, workers=1, max_delay=5.0
    )
    items = _roster(300)

    assert table.write(items, []) == 300

    assert len(dynamo.stored) == 300
    assert dynamo.units == 300 * 3  # the table, `inverted` and `by_state_id`: one unit each
    # The share (4 units a second) is the limit, not the hot partition key (10): 900 units need
    # 225 s. Measured 299 s: the shared rate's sawtooth (halve, climb) wastes a third; at most
    # 40% more than the share allows.
    assert 225 <= dynamo.now <= 225 * 1.4, dynamo.now
    # The old writer's limit: 8 answers per batch. Each batch here took far more.
    assert dynamo.partial_answers + dynamo.throttled_calls > 8 * (300 // 25)
    assert rate.rate < 40.0  # the shared rate came down
