"""DynamoRosterTable's batch writes and throttling retries, with fake clients (moto never throttles)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable, serialize
from rostersync.adapters.write_rate import WriteRate
from rostersync.ports import RosterWriteError

TABLE = "roster"


def _throttle(code: str = "ProvisionedThroughputExceededException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "BatchWriteItem")


class FakeClient:
    """Answers batch_write_item from a script: ints = leave that many unprocessed, or raise."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls: list[list[dict[str, Any]]] = []
        self.stored: dict[tuple[str, str], dict[str, Any] | None] = {}

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        requests = RequestItems[TABLE]
        assert len(requests) <= 25
        self.calls.append(requests)
        step = self.script.pop(0) if self.script else 0
        if isinstance(step, Exception):
            raise step
        step = min(step, len(requests))
        processed, unprocessed = requests[: len(requests) - step], requests[len(requests) - step :]
        for r in processed:
            if "PutRequest" in r:
                item = r["PutRequest"]["Item"]
                self.stored[(item["pk"]["S"], item["sk"]["S"])] = item
            else:
                key = r["DeleteRequest"]["Key"]
                self.stored[(key["pk"]["S"], key["sk"]["S"])] = None
        return {"UnprocessedItems": {TABLE: unprocessed} if unprocessed else {}}


def _table(client: Any, sleeps: list[float], **kw: Any) -> DynamoRosterTable:
    return DynamoRosterTable(TABLE, client, sleep=sleeps.append, **{"workers": 1, **kw})


def _items(n: int) -> list[dict[str, Any]]:
    return [{"pk": "DISTRICT#d", "sk": f"STUDENT#{i}", "status": "active", "n": i} for i in range(n)]


def test_chunks_of_25_and_unprocessed_items_are_retried() -> None:
    client = FakeClient([3, 0, 2, 0])
    sleeps: list[float] = []
    written = _table(client, sleeps).write(_items(30), [("SCHOOL#a", "STUDENT#9")])
    assert written == 31
    assert [len(c) for c in client.calls] == [25, 3, 6, 2]  # each chunk's leftovers retried
    assert len(sleeps) == 2 and all(0 < s <= 5.0 for s in sleeps)
    assert client.stored[("SCHOOL#a", "STUDENT#9")] is None
    assert sum(1 for v in client.stored.values() if v) == 30


def test_backoff_grows_and_is_capped() -> None:
    client = FakeClient([1] * 7)
    sleeps: list[float] = []
    _table(client, sleeps, base_delay=1.0, max_delay=4.0).write(_items(1), [])
    assert len(sleeps) == 7
    assert sleeps[0] <= 2.0 and all(s <= 4.0 for s in sleeps) and sleeps[-1] >= 2.0


def test_a_batch_that_makes_no_progress_gives_up_after_its_time_budget() -> None:
    client = FakeClient([1] * 100)  # the first answer writes one of two, then nothing
    sleeps: list[float] = []
    with pytest.raises(RosterWriteError, match=r"1 writes to roster made no progress for 1\d s"):
        _table(client, sleeps, base_delay=1.0, max_delay=4.0, write_stall_seconds=10.0).write(_items(2), [])
    # The waits asked for since the last progress reach the budget (sleep here does not sleep).
    assert 10.0 <= sum(sleeps) < 10.0 + 4.0
    assert 4 <= len(client.calls) <= 12


def test_partial_answers_that_write_something_never_exhaust_the_retries() -> None:
    """A small share of a busy table: every answer writes one item and returns the rest. Counted
    as attempts (8 at most), the batch used to give up after 8 items; progress restarts the wait."""
    client = FakeClient(list(range(24, 0, -1)))  # 25 answers, each leaving one fewer unprocessed
    sleeps: list[float] = []
    table = _table(client, sleeps, base_delay=1.0, max_delay=4.0, write_stall_seconds=3.0)
    assert table.write(_items(25), []) == 25
    assert [len(c) for c in client.calls] == list(range(25, 0, -1))
    assert sum(1 for v in client.stored.values() if v) == 25
    assert all(s <= 2.0 for s in sleeps)  # every wait is a first retry's: the count restarted


def test_the_write_rate_is_shared_and_halves_on_throttling() -> None:
    client = FakeClient([_throttle(), 5, _throttle(), 0, 0, 0])
    rate = WriteRate(start=1000.0, floor=25.0, ceiling=1000.0, increase=10.0)
    table = _table(client, [], write_rate=rate, workers=4)
    table.write(_items(100), [])
    # Three answers throttled or partial (halving 1000 -> 125), four batches written whole.
    assert rate.rate == 125.0 + 4 * 10.0
    assert sum(1 for v in client.stored.values() if v) == 100


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttling_errors_are_retried(code: str) -> None:
    client = FakeClient([_throttle(code), _throttle(code), 0])
    sleeps: list[float] = []
    assert _table(client, sleeps).write(_items(3), []) == 3
    assert len(client.calls) == 3 and len(sleeps) == 2


def test_other_errors_are_not_retried() -> None:
    client = FakeClient([ClientError({"Error": {"Code": "ValidationException", "Message": "no"}}, "X")])
    with pytest.raises(ClientError, match="ValidationException"):
        _table(client, []).write(_items(1), [])
    assert len(client.calls) == 1


def test_duplicate_keys_in_one_write_keep_the_last_request() -> None:
    client = FakeClient([])
    items = [*_items(2), {"pk": "DISTRICT#d", "sk": "STUDENT#0", "n": 99}]
    assert _table(client, []).write(items, []) == 2
    assert client.stored[("DISTRICT#d", "STUDENT#0")]["n"] == {"N": "99"}  # type: ignore[index]


def test_with_botocore_stubber_unprocessed_then_done() -> None:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    item = serialize({"pk": "DISTRICT#d", "sk": "TERM#t", "status": "active"})
    request = {TABLE: [{"PutRequest": {"Item": item}}]}
    with Stubber(client) as stub:
        stub.add_response("batch_write_item", {"UnprocessedItems": request}, {"RequestItems": request})
        stub.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": request})
        sleeps: list[float] = []
        assert (
            _table(client, sleeps).write([{"pk": "DISTRICT#d", "sk": "TERM#t", "status": "active"}], []) == 1
        )
        stub.assert_no_pending_responses()
    assert len(sleeps) == 1


def test_single_calls_retry_throttling_too() -> None:
    class Throttled:
        def __init__(self) -> None:
            self.n = 0

        def put_item(self, **_: Any) -> dict[str, Any]:
            self.n += 1
            if self.n < 3:
                raise _throttle("ThrottlingException")
            return {}

    client = Throttled()
    _table(client, []).put_item({"pk": "RUN#d", "sk": "r"})
    assert client.n == 3


def test_parallel_chunks_all_land_and_unprocessed_are_retried() -> None:
    client = FakeClient([2, 0, 1, 0, 3, 0])
    sleeps: list[float] = []
    assert _table(client, sleeps, workers=4).write(_items(260), []) == 260
    assert sum(1 for v in client.stored.values() if v) == 260
    assert len(client.calls) >= 11  # 11 chunks, plus the retries of whichever got unprocessed items


def test_a_failed_parallel_write_returns_only_after_every_started_batch_has_landed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure must not leave batches in flight: the caller releases the lease right after.

    No sleeping: the slow batch lands only once write() has seen the failure and is waiting for
    what is still in flight (concurrent.futures.wait, observed), so landing later than the failure
    is certain, and a write() that returned without waiting finds nothing landed."""
    import threading

    from rostersync.adapters import dynamodb_roster_table

    started = threading.Event()
    waiting = threading.Event()
    landed: list[int] = []
    real_wait = dynamodb_roster_table.wait

    def observed_wait(futures: Any, *args: Any, **kwargs: Any) -> Any:
        waiting.set()
        return real_wait(futures, *args, **kwargs)

    monkeypatch.setattr(dynamodb_roster_table, "wait", observed_wait)

    class SlowAndFailing(FakeClient):
        def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
            first = RequestItems[TABLE][0]["PutRequest"]["Item"]["n"]["N"]
            if first == "25":  # the slow batch: still sending when the first one fails
                started.set()
                if waiting.wait(timeout=10):  # write() knows of the failure and waits for us
                    landed.append(25)
                return {"UnprocessedItems": {}}
            started.wait(timeout=10)
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "BatchWriteItem")

    table = _table(SlowAndFailing([]), [], workers=2)
    with pytest.raises(ClientError, match=r"\(ValidationException\).*: bad"):
        table.write(_items(50), [])
    assert landed == [25]
    table.close()


class KeysNeverProcessed:
    """Answers batch_get_item with every key unprocessed (DynamoDB may, under load)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        request = RequestItems[TABLE]
        assert len(request["Keys"]) <= 100
        self.calls.append(len(request["Keys"]))
        return {"Responses": {TABLE: []}, "UnprocessedKeys": {TABLE: request}}


def test_batch_reads_give_up_after_bounded_attempts_naming_the_table_not_the_keys() -> None:
    client = KeysNeverProcessed()
    sleeps: list[float] = []
    table = DynamoRosterTable(TABLE, client, max_attempts=3, sleep=sleeps.append, workers=1)
    keys = [(f"STATEID#{n:010d}", "HOLDER") for n in range(150)] + [("STATEID#0000000000", "HOLDER")]
    with pytest.raises(
        RosterWriteError, match="reads from roster still unprocessed after 3 attempts"
    ) as raised:
        table.get_items(keys, ("district_id",))
    assert client.calls == [100, 100, 100]  # the first hundred (duplicates dropped), three times
    assert len(sleeps) == 2 and "STATEID#" not in str(raised.value)


class HalfTheKeysAtFirst:
    """Answers batch_get_item leaving the second half of the keys unprocessed, the first `times` calls."""

    def __init__(self, items: dict[str, dict[str, Any]], times: int) -> None:
        self.items, self.left, self.calls = items, times, 0

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        request = RequestItems[TABLE]
        keys = request["Keys"]
        keep, leave = (keys[: len(keys) // 2], keys[len(keys) // 2 :]) if self.left > 0 else (keys, [])
        self.left -= 1
        found = [self.items[k["pk"]["S"]] for k in keep if k["pk"]["S"] in self.items]
        unprocessed = {TABLE: {**request, "Keys": leave}} if leave else {}
        return {"Responses": {TABLE: found}, "UnprocessedKeys": unprocessed}


def test_batch_reads_retry_their_unprocessed_keys_until_every_item_is_read() -> None:
    items = {
        f"STATEID#{n:010d}": serialize({"pk": f"STATEID#{n:010d}", "sk": "HOLDER"}) for n in range(0, 300, 2)
    }
    client = HalfTheKeysAtFirst(items, times=3)
    sleeps: list[float] = []
    table = DynamoRosterTable(TABLE, client, sleep=sleeps.append, workers=1)
    keys = [(f"STATEID#{n:010d}", "HOLDER") for n in range(300)]
    found = table.get_items(keys, ())
    assert sorted(str(i["pk"]) for i in found) == sorted(items)  # every existing item, once
    assert client.calls > 3 and len(sleeps) >= 1
