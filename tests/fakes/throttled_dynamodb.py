"""A DynamoDB low-level client for `batch_write_item` that enforces DynamoDB's published write
limits, in virtual time: each partition key and each index key at most `key_rate` write units a
second, the whole table (what this import's share of it is) at most `table_rate`, each with a
second's burst. An item that does not fit comes back in UnprocessedItems; a call of which nothing
fits is refused with ProvisionedThroughputExceededException, as DynamoDB does. Units are
counted by DynamoDB's rules (src/rostersync_cli/capacity.py, `CapacityModel.write_costs`): index
writes included, at the projected item's size, and only for the indexes the item is in.

`clock()` and `sleep(seconds)` are the virtual time: pass them to the adapter and its write rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from rostersync_cli.capacity import CapacityModel, IndexSpec


class _Bucket:
    def __init__(self, rate: float, now: float) -> None:
        self.rate, self.tokens, self.last = rate, rate, now

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now


class ThrottledDynamo:
    def __init__(
        self, table: str, indexes: Sequence[IndexSpec], *, key_rate: float, table_rate: float
    ) -> None:
        self.table, self.indexes = table, list(indexes)
        self.key_rate, self.table_rate = key_rate, table_rate
        self.now = 0.0
        self._table = _Bucket(table_rate, 0.0)
        self._keys: dict[tuple[str, str], _Bucket] = {}
        self.stored: dict[tuple[str, str], Any] = {}  # key -> the item (what a subclass keeps)
        self.calls = 0
        self.throttled_calls = 0
        self.partial_answers = 0
        self.units = 0
        self._model = CapacityModel(table, self.indexes)
        # An item's costs, kept while it waits (a retried item is not sized again).
        self._pending: dict[tuple[str, str], list[tuple[tuple[str, str], int]]] = {}

    # virtual time
    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def _key(self, name: tuple[str, str]) -> _Bucket:
        if name not in self._keys:
            self._keys[name] = _Bucket(self.key_rate, self.now)
        bucket = self._keys[name]
        bucket.refill(self.now)
        return bucket

    def _costs(self, item: dict[str, Any]) -> list[tuple[tuple[str, str], int]]:
        key = (item["pk"]["S"], item["sk"]["S"])
        costs = self._pending.get(key)
        if costs is None:
            units, index_costs = self._model.write_costs(item)
            costs = [(("table", key[0]), units), *(((name, k), u) for name, k, u in index_costs)]
            self._pending[key] = costs
        return costs

    def _took(
        self, key: tuple[str, str], item: dict[str, Any], costs: list[tuple[tuple[str, str], int]]
    ) -> None:
        """DynamoDB took `item` (under `key`) at `costs`: it is stored."""
        self.stored[key] = item

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]], **_: Any) -> dict[str, Any]:
        self.calls += 1
        self.now += 0.005  # a round trip
        self._table.refill(self.now)
        left = []
        for request in RequestItems[self.table]:
            item = request["PutRequest"]["Item"]
            costs = self._costs(item)
            total = sum(units for _, units in costs)
            if self._table.tokens < total or any(self._key(k).tokens < u for k, u in costs):
                left.append(request)
                continue
            self._table.tokens -= total
            for key, units in costs:
                self._keys[key].tokens -= units
            self.units += total
            key = (item["pk"]["S"], item["sk"]["S"])
            del self._pending[key]
            self._took(key, item, costs)
        if len(left) == len(RequestItems[self.table]):
            self.throttled_calls += 1
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}},
                "BatchWriteItem",
            )
        if left:
            self.partial_answers += 1
        return {"UnprocessedItems": {self.table: left} if left else {}}
