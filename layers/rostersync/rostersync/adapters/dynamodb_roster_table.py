"""The roster table on DynamoDB (the low-level client; items are plain Python values).

Every call retries throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`,
`RequestLimitExceeded`) with bounded, jittered exponential backoff on top of botocore's own
retries. Batch writes retry their UnprocessedItems until they are written or make no progress
for `write_stall_seconds` (an answer that wrote anything starts the wait again: at a small share
of a busy table, partial answers are how the work gets done), at one write rate shared by the
adapter's threads that halves on throttling (`write_rate.WriteRate`). Reads are by key, Query on
a partition, or Query on a GSI: never a Scan.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from rostersync.adapters.write_rate import WriteRate
from rostersync.ids import run_id_bound
from rostersync.layout import (
    LEASE_SK,
    district_pk,
    lease_pk,
    roster_sk,
    school_pk_prefix,
    section_pk,
    split_sk,
)
from rostersync.ports import Lease, LeaseBusy, LeaseLost, RosterWriteError, StaleRun
from rostersync.records import Kind
from rostersync.roster_items import PERSON_KINDS, ExistingItem, Item, Key

THROTTLING = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
BATCH_SIZE = 25  # BatchWriteItem's limit
GET_BATCH_SIZE = 100  # BatchGetItem's limit
INVERTED_INDEX = "inverted"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _to_ddb(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_ddb(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_to_ddb(v) for v in value]
    return value


def _from_ddb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_ddb(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_from_ddb(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {_from_ddb(v) for v in value}
    return value


_MAX_N = 10**38  # DynamoDB numbers have 38 digits of precision; larger ones take boto3's path (and error)


def _attr(value: Any) -> dict[str, Any]:
    """One value in DynamoDB's wire shape: the roster's types (str, int, bool, list, dict) inline,
    anything else through boto3's TypeSerializer. Same output as `_serializer.serialize(_to_ddb(v))`
    at a fraction of the cost: the import serializes ~11 items per roster record."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int and -_MAX_N < value < _MAX_N:
        return {"N": str(value)}
    if kind is bool:
        return {"BOOL": value}
    if kind is list or kind is tuple:
        return {"L": [_attr(v) for v in value]}
    if kind is dict:
        return {"M": {k: _attr(v) for k, v in value.items() if v is not None}}
    return cast("dict[str, Any]", _serializer.serialize(_to_ddb(value)))


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _attr(v) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> Item:
    return {k: _from_ddb(_deserializer.deserialize(v)) for k, v in item.items()}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class DynamoRosterTable:
    """RosterTable on one DynamoDB table (ROSTER_TABLE)."""

    def __init__(
        self,
        table_name: str,
        client: Any | None = None,
        *,
        max_attempts: int = 8,
        base_delay: float = 0.05,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 8,
        write_stall_seconds: float = 60.0,
        write_rate: WriteRate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table_name = table_name
        # parameter_validation off: botocore's client-side walk of every request against the
        # service model was the import's largest CPU cost (a 25-item batch is ~1,000 values to
        # check); our requests are built by `serialize` and the server still validates them.
        self._ddb: Any = client or boto3.client(
            "dynamodb",
            config=Config(retries={"mode": "standard", "max_attempts": 5}, parameter_validation=False),
        )
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.write_stall_seconds = write_stall_seconds
        self.write_rate = write_rate or WriteRate()
        self._clock = clock

    # ------------------------------------------------------------------ retries

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_delay, self.base_delay * (2 ** min(attempt, 32)))
        # Jitter spreads retries; it is not cryptography.
        delay *= 0.5 + random.random() / 2  # noqa: S311  # nosec B311
        self._sleep(delay)
        return delay

    def _again(self, attempt: int, what: str) -> int:
        """A batch came back partly unprocessed: back off and return the next attempt's number, or
        give up after `max_attempts` (naming the table and how many, never the keys)."""
        attempt += 1
        if attempt >= self.max_attempts:
            raise RosterWriteError(f"{what} {self.table_name} still unprocessed after {attempt} attempts")
        self._backoff(attempt)
        return attempt

    def _call(self, operation: str, *, retry_throttling: bool = True, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return getattr(self._ddb, operation)(**kwargs)
            except ClientError as exc:
                if _code(exc) not in THROTTLING or not retry_throttling:
                    raise
                attempt += 1
                if attempt >= self.max_attempts:
                    raise RosterWriteError(
                        f"{operation} on {self.table_name} still throttled after {attempt} attempts"
                    ) from exc
                self._backoff(attempt)

    def _paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._call("query", TableName=self.table_name, **kwargs)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    # -------------------------------------------------------------------- reads

    def existing(self, district_id: str) -> Iterator[ExistingItem]:
        for raw in self._paginate(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": district_pk(district_id)}},
            ExpressionAttributeNames={"#st": "status"},
            ProjectionExpression="sk, #st, content_hash, schools, sis_id",
            ConsistentRead=True,
        ):
            schools = tuple(s["S"] for s in raw.get("schools", {}).get("L", ()) if "S" in s)
            yield ExistingItem(
                sk=raw["sk"]["S"],
                status=raw.get("status", {}).get("S", ""),
                content_hash=raw.get("content_hash", {}).get("S"),
                schools=schools,
                sis_id=raw.get("sis_id", {}).get("S"),
            )

    def get_item(self, pk: str, sk: str) -> Item | None:
        raw = self._call("get_item", TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True)
        return deserialize(raw["Item"]) if "Item" in raw else None

    def get_items(
        self, keys: Collection[Key], attributes: Sequence[str], *, consistent: bool = False
    ) -> list[Item]:
        """BatchGetItem in hundreds (its limit), up to `workers` requests at once; UnprocessedKeys
        retried with backoff."""
        names = {f"#a{i}": name for i, name in enumerate(("pk", "sk", *attributes))}
        unique = list(dict.fromkeys(keys))  # a request may not name one key twice
        chunks = [
            {
                "Keys": [_key(pk, sk) for pk, sk in unique[start : start + GET_BATCH_SIZE]],
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
                "ConsistentRead": consistent,
            }
            for start in range(0, len(unique), GET_BATCH_SIZE)
        ]
        if self.workers > 1 and len(chunks) > 1:
            found = list(self._pool().map(self._batch_get, chunks))
        else:
            found = [self._batch_get(chunk) for chunk in chunks]
        return [item for items in found for item in items]

    def _batch_get(self, chunk: dict[str, Any]) -> list[Item]:
        out: list[Item] = []
        request: dict[str, Any] = {self.table_name: chunk}
        attempt = 0
        while request:
            response = self._call("batch_get_item", RequestItems=request)
            out.extend(deserialize(raw) for raw in response.get("Responses", {}).get(self.table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if request:
                attempt = self._again(attempt, "reads from")
        return out

    def query(
        self, pk: str, *, newest_first: bool = False, limit: int | None = None, sk_prefix: str | None = None
    ) -> list[Item]:
        values = {":pk": {"S": pk}}
        condition = "pk = :pk"
        if sk_prefix:
            values[":prefix"] = {"S": sk_prefix}
            condition += " AND begins_with(sk, :prefix)"
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
            "ConsistentRead": True,
        }
        if limit:
            kwargs["Limit"] = limit
        out: list[Item] = []
        for raw in self._paginate(**kwargs):
            out.append(deserialize(raw))
            if limit and len(out) >= limit:
                break
        return out

    def member_edges(self, district_id: str, sk: str) -> set[Key]:
        kind, clever_id = split_sk(sk)
        if kind is Kind.SECTION:
            pages = self._paginate(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": section_pk(district_id, clever_id)}},
                ProjectionExpression="pk, sk",
                ConsistentRead=True,
            )
        elif kind in PERSON_KINDS:
            pages = self._paginate(
                IndexName=INVERTED_INDEX,
                KeyConditionExpression="sk = :sk AND begins_with(pk, :prefix)",
                ExpressionAttributeValues={":sk": {"S": sk}, ":prefix": {"S": school_pk_prefix(district_id)}},
                ProjectionExpression="pk, sk",
            )
        else:
            return set()
        return {(raw["pk"]["S"], raw["sk"]["S"]) for raw in pages}

    # ------------------------------------------------------------------- writes

    def put_item(self, item: Item) -> None:
        self._call("put_item", TableName=self.table_name, Item=serialize(item))

    def put_versioned(self, item: Item, expected_version: int) -> bool:
        condition: dict[str, Any]
        if expected_version:
            condition = {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        else:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        try:
            self._call("put_item", TableName=self.table_name, Item=serialize(item), **condition)
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def set_status(
        self,
        pk: str,
        sk: str,
        expected: str,
        new: str,
        extra: Mapping[str, Any] | None = None,
        *,
        attribute: str = "status",
    ) -> bool:
        names = {"#st": attribute}
        values = {":new": new, ":expected": expected}
        sets = ["#st = :new"]
        for i, (name, value) in enumerate((extra or {}).items()):
            names[f"#a{i}"] = name
            values[f":a{i}"] = value
            sets.append(f"#a{i} = :a{i}")
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=_key(pk, sk),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#st = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def set_trusted(self, district_id: str, student_id: str, state_id: str, trusted: bool) -> bool:
        values: dict[str, Any] = {":active": {"S": "active"}, ":sid": {"S": state_id}}
        if trusted:
            update = "SET state_id_trusted = :t"
            values[":t"] = {"BOOL": True}
        else:
            update = "REMOVE state_id_trusted"
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=_key(district_pk(district_id), roster_sk(Kind.STUDENT, student_id)),
                UpdateExpression=update,
                ConditionExpression="#st = :active AND state_id = :sid",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def archive(self, district_id: str, sk: str, *, run_id: str, now: str, fence_run: str) -> bool:
        kind, _ = split_sk(sk)
        update = (
            "SET #st = :archived, archived_at = :now, archived_run = :run, "
            "last_changed_run = :run, updated_at = :now"
        )
        if kind is Kind.STUDENT:
            # Off the by_state_id index: a PA Secure ID finds only the student's active record.
            # The registry hands the id's trust on (state_id_registry.leave); the flag goes with it.
            update += ", archived_state_id = if_not_exists(state_id, :none) REMOVE state_id, state_id_trusted"
        values: dict[str, Any] = {
            ":archived": "archived",
            ":active": "active",
            ":now": now,
            ":run": run_id,
            ":fence": fence_run,
        }
        if kind is Kind.STUDENT:
            values[":none"] = "none"
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=_key(district_pk(district_id), sk),
                UpdateExpression=update,
                ConditionExpression=(
                    "attribute_exists(pk) AND #st = :active AND "
                    "(attribute_not_exists(last_changed_run) OR last_changed_run <= :fence)"
                ),
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def write(self, puts: Sequence[Item], deletes: Sequence[Key]) -> int:
        """BatchWriteItem in 25s; a key appearing twice keeps its last request."""
        requests: dict[Key, dict[str, Any]] = {}
        for item in puts:
            requests[(str(item["pk"]), str(item["sk"]))] = {"PutRequest": {"Item": serialize(item)}}
        for pk, sk in deletes:
            requests[(pk, sk)] = {"DeleteRequest": {"Key": _key(pk, sk)}}
        pending = list(requests.values())
        chunks = [pending[start : start + BATCH_SIZE] for start in range(0, len(pending), BATCH_SIZE)]
        if self.workers > 1 and len(chunks) > 1:
            # boto3 clients are thread-safe; every chunk is done (or raised) before this returns,
            # so callers' ordering between write() calls holds. One pool for every caller: two
            # write() calls in flight at once share `workers` requests, not twice as many.
            futures = [self._pool().submit(self._batch, chunk) for chunk in chunks]
            try:
                for future in futures:
                    future.result()
            finally:
                for future in futures:
                    future.cancel()  # after a failure: the rest of this call is not sent...
                wait(futures)  # ...and what is being sent has landed (or failed) before we return
        else:
            for chunk in chunks:
                self._batch(chunk)
        return len(pending)

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ddb-batch")
            return self._executor

    def close(self) -> None:
        """Stop the batch threads (a Lambda container keeps them between invocations otherwise)."""
        with self._pool_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def _batch(self, requests: list[dict[str, Any]]) -> None:
        """Write one batch: retried while it makes progress; given up after `write_stall_seconds`
        without any (waits asked for count even where `sleep` does not sleep)."""
        attempt, waited, since = 0, 0.0, self._clock()
        while requests:
            self.write_rate.acquire(len(requests))
            try:
                response = self._call(
                    "batch_write_item", retry_throttling=False, RequestItems={self.table_name: requests}
                )
                left = list(response.get("UnprocessedItems", {}).get(self.table_name, []))
            except ClientError as exc:
                if _code(exc) not in THROTTLING:
                    raise
                left = requests
            if not left:
                self.write_rate.succeeded()
                return
            self.write_rate.throttled()
            if len(left) < len(requests):  # progress: the wait starts again
                attempt, waited, since = 0, 0.0, self._clock()
            stalled = max(waited, self._clock() - since)
            if attempt and stalled >= self.write_stall_seconds:
                raise RosterWriteError(
                    f"{len(left)} writes to {self.table_name} made no progress for {stalled:.0f} s"
                    f" ({attempt + 1} attempts)"
                )
            attempt += 1
            waited += self._backoff(attempt)
            requests = left

    # ------------------------------------------------------------------- leases

    def acquire_lease(
        self, district_id: str, holder: str, *, now: int, ttl: int, fence_run: str | None
    ) -> Lease:
        token = uuid.uuid4().hex
        names = {"#h": "holder"}
        values: dict[str, Any] = {
            ":holder": {"S": holder},
            ":token": {"S": token},
            ":exp": {"N": str(now + ttl)},
            ":now": {"N": str(now)},
        }
        update = "SET #h = :holder, lease_token = :token, lease_expires = :exp, acquired_at = :now"
        condition = "(attribute_not_exists(lease_token) OR lease_expires < :now"
        if fence_run is not None:  # a paused invocation of this very run handed it on (pause_lease)
            condition += " OR paused_run = :run"
        condition += ")"
        # A latest_run ahead of the clock (run ids are checked against it now; one written before
        # that was a typo) fences nobody: it would make every later night stale.
        bound = run_id_bound(datetime.fromtimestamp(now, UTC))
        if fence_run is not None:
            values[":run"] = {"S": fence_run}
            values[":runs"] = {"SS": [fence_run]}
            values[":bound"] = {"S": bound}
            update += ", latest_run = :run ADD repair_runs :runs"
            condition += (
                " AND (attribute_not_exists(latest_run) OR latest_run <= :run OR latest_run > :bound)"
            )
        # Whoever takes the lease may write the roster, so the index it names stops being valid
        # now: only this holder's clean commit names one again (release_lease). The name is read
        # from the old image, for an import to use until then.
        update += " REMOVE roster_index, paused_run"
        try:
            response = self._call(
                "update_item",
                TableName=self.table_name,
                Key=_key(lease_pk(district_id), LEASE_SK),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            current = self.get_item(lease_pk(district_id), LEASE_SK) or {}
            latest = current.get("latest_run")
            if fence_run is not None and latest and fence_run < str(latest) <= bound:
                raise StaleRun(
                    f"district {district_id}: a newer run {latest} already started (this run: {fence_run})"
                ) from None
            raise LeaseBusy(
                f"district {district_id}: held by {current.get('holder')} until {current.get('lease_expires')}"
            ) from None
        old = deserialize(response.get("Attributes", {}))
        repair = {str(r) for r in old.get("repair_runs") or ()} | ({fence_run} if fence_run else set())
        index_run = old.get("roster_index") if fence_run is not None else None
        return Lease(
            district_id,
            holder,
            token,
            fence_run,
            tuple(sorted(repair)),
            str(index_run) if index_run else None,
        )

    def renew_lease(self, lease: Lease, *, now: int, ttl: int) -> None:
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=_key(lease_pk(lease.district_id), LEASE_SK),
                UpdateExpression="SET lease_expires = :exp",
                ConditionExpression="lease_token = :token",
                ExpressionAttributeValues={":exp": {"N": str(now + ttl)}, ":token": {"S": lease.token}},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise LeaseLost(f"district {lease.district_id}: lease of {lease.holder} was taken") from None
            raise

    def pause_lease(self, lease: Lease, *, now: int, ttl: int) -> None:
        if lease.fence_run is None:
            raise ValueError(f"district {lease.district_id}: only a run's lease can be paused")
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=_key(lease_pk(lease.district_id), LEASE_SK),
                UpdateExpression="SET lease_expires = :exp, paused_run = :run",
                ConditionExpression="lease_token = :token",
                ExpressionAttributeValues={
                    ":exp": {"N": str(now + ttl)},
                    ":token": {"S": lease.token},
                    ":run": {"S": lease.fence_run},
                },
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise LeaseLost(f"district {lease.district_id}: lease of {lease.holder} was taken") from None
            raise

    def release_lease(
        self, lease: Lease, *, completed: Collection[str] | None, index_run: str | None = None
    ) -> None:
        """Give the lease up; `completed` runs leave the repair list (their work is whole).

        A commit records `index_run` (the run whose roster index is the table's state) in the same
        conditional update; every other release forgets the index.
        """
        removes = ["#h", "lease_token", "lease_expires", "paused_run"]
        sets: list[str] = []
        values: dict[str, Any] = {":token": {"S": lease.token}}
        committing = bool(completed) and bool(lease.fence_run)
        if committing:
            sets.append("committed_run = :run")
            values[":run"] = {"S": str(lease.fence_run)}
        if committing and index_run:
            sets.append("roster_index = :index")
            values[":index"] = {"S": index_run}
        else:
            removes.append("roster_index")
        update = ("SET " + ", ".join(sets) + " " if sets else "") + "REMOVE " + ", ".join(removes)
        if completed:
            update += " DELETE repair_runs :done"
            values[":done"] = {"SS": sorted(completed)}
        try:
            self._call(
                "update_item",
                TableName=self.table_name,
                Key=_key(lease_pk(lease.district_id), LEASE_SK),
                UpdateExpression=update,
                ConditionExpression="lease_token = :token",
                ExpressionAttributeNames={"#h": "holder"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise LeaseLost(f"district {lease.district_id}: lease of {lease.holder} was taken") from None
            raise
