"""What a run costs in DynamoDB capacity, by DynamoDB's own rules: a model, not a measurement.

moto enforces no throughput, so the units a night consumes on AWS are computed here from the
requests the adapter sent and the answers it got (recorded at botocore's `after-call` event of a
client, `CapacityModel.attach`), with the rules DynamoDB documents:

- an item's size is the sum of its attribute names' UTF-8 lengths and its values' sizes: a
  string's UTF-8 bytes, a number about one byte per two significant digits plus one, a binary's
  bytes, a boolean or null one byte, a list or map 3 bytes plus its elements (one more byte each);
- a write costs one write unit per started KB of the item (at least one); a write to the table
  also writes every global secondary index whose key attributes the item carries, at the
  projected item's size (ALL: the whole item);
- a read costs one read unit per started 4 KB, half that when eventually consistent; a Query is
  rounded once over the items it returned, a GetItem or BatchGetItem per item.

Lower bounds where the answer does not say: an UpdateItem or a delete counts one write unit and no
index write (the item's size is not known client-side). The busiest keys are what caps a first
import: DynamoDB gives one partition key, and one index key, at most 1,000 write units a second.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
KEY_WRITE_UNITS_PER_SECOND = 1000.0  # per partition key, and per index key


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    included: tuple[str, ...] = ()


def indexes_of(table_properties: Mapping[str, Any]) -> list[IndexSpec]:
    """The global secondary indexes of an AWS::DynamoDB::Table's Properties (template.yaml)."""
    out = []
    for index in table_properties.get("GlobalSecondaryIndexes", []):
        keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        projection = index.get("Projection", {})
        out.append(
            IndexSpec(
                name=index["IndexName"],
                hash_key=keys["HASH"],
                range_key=keys.get("RANGE"),
                projection=projection.get("ProjectionType", "ALL"),
                included=tuple(projection.get("NonKeyAttributes", ())),
            )
        )
    return out


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's typed JSON ({"S": ...}, {"N": ...}, ...)."""
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(str(inner).encode("utf-8"))
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in inner.items())
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    # Strings (most attributes) inline: the model runs inside the benchmark's timed stages.
    total = 0
    for name, value in item.items():
        total += len(name) if name.isascii() else len(name.encode("utf-8"))
        inner = value.get("S")
        if inner is not None and len(value) == 1:
            total += len(inner) if inner.isascii() else len(inner.encode("utf-8"))
        else:
            total += value_size(value)
    return total


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass
class CapacityModel:
    table_name: str
    indexes: Sequence[IndexSpec]
    key_attributes: tuple[str, str] = ("pk", "sk")
    table_write_units: int = 0
    index_write_units: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    by_partition_key: Counter[str] = field(default_factory=Counter)
    by_index_key: Counter[tuple[str, str]] = field(default_factory=Counter)
    writes: int = 0
    # What the units are spent on: per item kind (`DISTRICT/STUDENT`: the pk's and the sk's kind),
    # the items written, the items over one unit, and the units on the table and on each index.
    by_item_kind: dict[str, Counter[str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ recording

    def write_costs(self, item: Mapping[str, Mapping[str, Any]]) -> tuple[int, list[tuple[str, str, int]]]:
        """What a put of `item` costs: its units on the table, and (index, index key, units) for
        each index the item is in (sparse indexes skip it; a projection smaller than ALL costs
        the projected item's size)."""
        units = write_units(item_size(item))
        costs = []
        for index in self.indexes:
            if index.hash_key not in item or (index.range_key and index.range_key not in item):
                continue  # sparse: the item is not in this index
            index_units = (
                units if index.projection == "ALL" else write_units(item_size(self._projected(index, item)))
            )
            costs.append((index.name, _scalar(item[index.hash_key]), index_units))
        return units, costs

    def put(self, item: Mapping[str, Mapping[str, Any]]) -> None:
        units, index_costs = self.write_costs(item)
        self.writes += 1
        self.table_write_units += units
        pk = _scalar(item[self.key_attributes[0]])
        self.by_partition_key[pk] += units
        kind = f"{_kind(pk)}/{_kind(_scalar(item.get(self.key_attributes[1]) or {'S': ''}))}"
        spent = self.by_item_kind.get(kind)
        if spent is None:
            spent = self.by_item_kind[kind] = Counter()
        spent["items"] += 1
        spent["table"] += units
        if units > 1:
            spent["items_over_1kb"] += 1
        for index_name, index_key, index_units in index_costs:
            self.index_write_units[index_name] += index_units
            self.by_index_key[(index_name, index_key)] += index_units
            spent[index_name] += index_units

    def key_write(self, key: Mapping[str, Mapping[str, Any]]) -> None:
        """A delete or an update: one unit at least, on the item's partition key."""
        self.writes += 1
        self.table_write_units += 1
        pk = _scalar(key[self.key_attributes[0]])
        self.by_partition_key[pk] += 1
        kind = f"{_kind(pk)}/{_kind(_scalar(key.get(self.key_attributes[1]) or {'S': ''}))}"
        spent = self.by_item_kind.setdefault(kind, Counter())
        spent["key_writes"] += 1
        spent["table"] += 1

    def read(self, items: Sequence[Mapping[str, Any]], *, consistent: bool, per_item: bool) -> None:
        if per_item:
            self.read_units += sum(read_units(item_size(i), consistent=consistent) for i in items)
        else:
            self.read_units += read_units(sum(item_size(i) for i in items), consistent=consistent)

    def _projected(self, index: IndexSpec, item: Mapping[str, Any]) -> Mapping[str, Any]:
        if index.projection == "ALL":
            return item
        keep = dict.fromkeys(
            (*self.key_attributes, index.hash_key, *([index.range_key] if index.range_key else []))
        )
        if index.projection == "INCLUDE":
            keep.update(dict.fromkeys(index.included))
        return {k: item[k] for k in keep if k in item}

    # ------------------------------------------------------------ botocore hook

    def attach(self, client: Any) -> None:
        """Record every call `client` makes to the table (after it answered)."""
        client.meta.events.register("provide-client-params.dynamodb", _keep_params)
        client.meta.events.register("after-call.dynamodb", self._after_call)

    def _after_call(self, http_response: Any, parsed: Mapping[str, Any], model: Any, **kwargs: Any) -> None:
        params = kwargs.get("context", {}).get("capacity_params") or {}
        self.record(model.name, params, parsed)

    def record(self, operation: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        """One call and its answer (operation as the API names it: BatchWriteItem, Query, ...)."""
        if response.get("Error"):
            return
        if operation == "BatchWriteItem":
            left = {
                _request_key(r, self.key_attributes)
                for r in (response.get("UnprocessedItems") or {}).get(self.table_name, [])
            }
            for request in params.get("RequestItems", {}).get(self.table_name, []):
                if _request_key(request, self.key_attributes) in left:
                    continue
                if "PutRequest" in request:
                    self.put(request["PutRequest"]["Item"])
                else:
                    self.key_write(request["DeleteRequest"]["Key"])
        elif operation == "PutItem":
            self.put(params["Item"])
        elif operation in ("UpdateItem", "DeleteItem"):
            self.key_write(params["Key"])
        elif operation == "GetItem":
            item = response.get("Item")
            self.read([item] if item else [{}], consistent=bool(params.get("ConsistentRead")), per_item=True)
        elif operation == "BatchGetItem":
            items = (response.get("Responses") or {}).get(self.table_name, [])
            consistent = bool(params.get("RequestItems", {}).get(self.table_name, {}).get("ConsistentRead"))
            self.read(items, consistent=consistent, per_item=True)
        elif operation == "Query":
            self.read(
                response.get("Items", []), consistent=bool(params.get("ConsistentRead")), per_item=False
            )

    # -------------------------------------------------- across processes (benchmarks)

    def export(self, top: int = 20) -> dict[str, Any]:
        """The counts, picklable, with the `top` busiest keys of each kind (a process's whole key
        counters would be one entry per item on `inverted`)."""
        return {
            "writes": self.writes,
            "table_write_units": self.table_write_units,
            "index_write_units": dict(self.index_write_units),
            "read_units": self.read_units,
            "by_partition_key": dict(self.by_partition_key.most_common(top)),
            "by_index_key": [[i, k, u] for (i, k), u in self.by_index_key.most_common(top)],
            "by_item_kind": {kind: dict(spent) for kind, spent in self.by_item_kind.items()},
        }

    def merge(self, exported: Mapping[str, Any]) -> None:
        """Add another process's `export()` (the busiest keys then are exact when each process's
        busiest keys are among its `top`, as with one district's keys)."""
        self.writes += exported["writes"]
        self.table_write_units += exported["table_write_units"]
        self.index_write_units.update(exported["index_write_units"])
        self.read_units += exported["read_units"]
        self.by_partition_key.update(exported["by_partition_key"])
        self.by_index_key.update({(i, k): u for i, k, u in exported["by_index_key"]})
        for kind, spent in exported["by_item_kind"].items():
            self.by_item_kind.setdefault(kind, Counter()).update(spent)

    # ------------------------------------------------------------------- summary

    def summary(self, *, records: int, table_share: float = 400.0) -> dict[str, Any]:
        """The model's numbers for a run of `records` roster records, and the time its writes need
        on DynamoDB: the busiest key at 1,000 units a second, the rest at `table_share` units a
        second (a 4,000 units a second table shared by 10 imports: 400)."""
        index_units = sum(self.index_write_units.values())
        total = self.table_write_units + index_units
        busiest_pk, pk_units = self.by_partition_key.most_common(1)[0] if self.by_partition_key else ("", 0)
        busiest_index, index_key_units = (
            self.by_index_key.most_common(1)[0] if self.by_index_key else (("", ""), 0)
        )
        seconds = max(
            total / table_share,
            pk_units / KEY_WRITE_UNITS_PER_SECOND,
            index_key_units / KEY_WRITE_UNITS_PER_SECOND,
        )
        return {
            "writes": self.writes,
            "write_units": total,
            "table_write_units": self.table_write_units,
            "index_write_units": dict(self.index_write_units),
            "write_units_per_record": round(total / records, 2) if records else None,
            "read_units": self.read_units,
            "read_units_per_record": round(self.read_units / records, 4) if records else None,
            "busiest_partition_key": {"key": _redact(busiest_pk), "write_units": pk_units},
            "busiest_index_key": {
                "index": busiest_index[0],
                "key": _redact(busiest_index[1]),
                "write_units": index_key_units,
            },
            "write_seconds_at_share": round(seconds, 1),
            "table_share_units_per_second": table_share,
            "by_item_kind": {
                kind: dict(sorted(spent.items()))
                for kind, spent in sorted(self.by_item_kind.items(), key=lambda kv: -kv[1]["table"])
            },
        }


def _kind(key: str) -> str:
    """A key's kind (`DISTRICT#d1` -> `DISTRICT`), or `…` for a key without one."""
    kind = key.partition("#")[0]
    return kind if _KIND.fullmatch(kind) else "…"


_KIND = re.compile(r"[A-Z][A-Z_]*")


def _keep_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["capacity_params"] = dict(params)


def _scalar(value: Mapping[str, Any]) -> str:
    [(_, inner)] = value.items()
    return str(inner)


def _request_key(request: Mapping[str, Any], key_attributes: tuple[str, str]) -> tuple[str, ...]:
    body = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key") or {}
    return tuple(_scalar(body[k]) for k in key_attributes if k in body)


def _redact(key: str) -> str:
    """A key's kind, not its id (a key may hold a PA Secure ID): `STATEID#…`, `DISTRICT#…`."""
    kind, sep, _ = key.partition("#")
    return f"{kind}#…" if sep else (key if key.isupper() else "…")
