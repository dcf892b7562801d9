"""An in-memory RosterTable (rostersync.ports.RosterTable) with the DynamoDB semantics the import
relies on: conditional status changes, archives fenced by run, and the district lease (fencing
stale runs, keeping the repair list, naming the roster index only on a clean commit). It mirrors
rostersync.adapters.dynamodb_roster_table; the integration tests check that adapter on moto."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from rostersync.layout import (
    LEASE_SK,
    district_pk,
    lease_pk,
    roster_sk,
    school_pk_prefix,
    section_pk,
    split_sk,
)
from rostersync.ports import Lease, LeaseBusy, LeaseLost, StaleRun
from rostersync.records import Kind
from rostersync.roster_items import PERSON_KINDS, ExistingItem, Item, Key


class MemoryRosterTable:
    """Items by (pk, sk). `fail_writes_after` makes the n+1-th write() call raise RuntimeError
    (a write that fails part way); `calls` counts every method call by name."""

    def __init__(self) -> None:
        self.items: dict[Key, Item] = {}
        self.calls: dict[str, int] = {}
        self.fail_writes_after: int | None = None
        self._lock = threading.Lock()  # the import's writer sends chunks from threads

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    # ------------------------------------------------------------------------------ reads

    def existing(self, district_id: str) -> Iterator[ExistingItem]:
        self._count("existing")
        pk = district_pk(district_id)
        for (item_pk, sk), item in sorted(self.items.items()):
            if item_pk == pk:
                yield ExistingItem(
                    sk=sk,
                    status=str(item.get("status", "")),
                    content_hash=item.get("content_hash"),
                    schools=tuple(item.get("schools") or ()),
                    sis_id=item.get("sis_id"),
                )

    def get_item(self, pk: str, sk: str) -> Item | None:
        self._count("get_item")
        item = self.items.get((pk, sk))
        return copy.deepcopy(item) if item is not None else None

    def get_items(
        self, keys: Collection[Key], attributes: Sequence[str], *, consistent: bool = False
    ) -> list[Item]:
        self._count("get_items")
        wanted = {"pk", "sk", *attributes}
        found = (self.items.get(key) for key in dict.fromkeys(keys))
        return [{k: copy.deepcopy(v) for k, v in item.items() if k in wanted} for item in found if item]

    def query(
        self, pk: str, *, newest_first: bool = False, limit: int | None = None, sk_prefix: str | None = None
    ) -> list[Item]:
        self._count("query")
        found = [
            copy.deepcopy(item)
            for (item_pk, sk), item in sorted(self.items.items())
            if item_pk == pk and sk.startswith(sk_prefix or "")
        ]
        if newest_first:
            found.reverse()
        return found[:limit] if limit else found

    def member_edges(self, district_id: str, sk: str) -> set[Key]:
        self._count("member_edges")
        kind, record_id = split_sk(sk)
        if kind is Kind.SECTION:
            return {key for key in self.items if key[0] == section_pk(district_id, record_id)}
        if kind in PERSON_KINDS:
            prefix = school_pk_prefix(district_id)
            return {key for key in self.items if key[1] == sk and key[0].startswith(prefix)}
        return set()

    # ----------------------------------------------------------------------------- writes

    def put_item(self, item: Item) -> None:
        self._count("put_item")
        with self._lock:
            self.items[(str(item["pk"]), str(item["sk"]))] = copy.deepcopy(dict(item))

    def put_versioned(self, item: Item, expected_version: int) -> bool:
        self._count("put_versioned")
        key = (str(item["pk"]), str(item["sk"]))
        with self._lock:
            current = self.items.get(key)
            stored = int(current.get("version", 0)) if current is not None else 0
            if (current is None) != (expected_version == 0) or stored != expected_version:
                return False
            self.items[key] = copy.deepcopy(dict(item))
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
        self._count("set_status")
        with self._lock:
            item = self.items.get((pk, sk))
            if item is None or item.get(attribute) != expected:
                return False
            item.update({attribute: new, **copy.deepcopy(dict(extra or {}))})
            return True

    def write(self, puts: Sequence[Item], deletes: Sequence[Key]) -> int:
        self._count("write")
        if self.fail_writes_after is not None and self.calls["write"] > self.fail_writes_after:
            raise RuntimeError("injected: write failed")
        requests: dict[Key, Item | None] = {}
        for item in puts:
            requests[(str(item["pk"]), str(item["sk"]))] = copy.deepcopy(dict(item))
        for key in deletes:
            requests[key] = None
        with self._lock:
            for key, item in requests.items():
                if item is None:
                    self.items.pop(key, None)
                else:
                    self.items[key] = item
        return len(requests)

    def set_trusted(self, district_id: str, student_id: str, state_id: str, trusted: bool) -> bool:
        self._count("set_trusted")
        with self._lock:
            item = self.items.get((district_pk(district_id), roster_sk(Kind.STUDENT, student_id)))
            if item is None or item.get("status") != "active" or item.get("state_id") != state_id:
                return False
            if trusted:
                item["state_id_trusted"] = True
            else:
                item.pop("state_id_trusted", None)
            return True

    def archive(self, district_id: str, sk: str, *, run_id: str, now: str, fence_run: str) -> bool:
        self._count("archive")
        with self._lock:
            item = self.items.get((district_pk(district_id), sk))
            if item is None or item.get("status") != "active":
                return False
            last = item.get("last_changed_run")
            if last is not None and str(last) > fence_run:
                return False
            item.update(
                {
                    "status": "archived",
                    "archived_at": now,
                    "archived_run": run_id,
                    "last_changed_run": run_id,
                    "updated_at": now,
                }
            )
            if split_sk(sk)[0] is Kind.STUDENT:
                item["archived_state_id"] = item.pop("state_id", "none")
                item.pop("state_id_trusted", None)
            return True

    def close(self) -> None:
        self._count("close")

    # ----------------------------------------------------------------------------- leases

    def acquire_lease(
        self, district_id: str, holder: str, *, now: int, ttl: int, fence_run: str | None
    ) -> Lease:
        self._count("acquire_lease")
        with self._lock:
            key = (lease_pk(district_id), LEASE_SK)
            current = self.items.setdefault(key, {"pk": key[0], "sk": key[1]})
            handed_on = fence_run is not None and current.get("paused_run") == fence_run
            if current.get("lease_token") and int(current.get("lease_expires", 0)) >= now and not handed_on:
                latest = current.get("latest_run")
                if fence_run is not None and latest and str(latest) > fence_run:
                    raise StaleRun(f"district {district_id}: run {latest} is newer than {fence_run}")
                raise LeaseBusy(f"district {district_id}: held by {current.get('holder')}")
            if fence_run is not None and current.get("latest_run") and str(current["latest_run"]) > fence_run:
                raise StaleRun(
                    f"district {district_id}: run {current['latest_run']} is newer than {fence_run}"
                )
            old = copy.deepcopy(current)
            token = uuid.uuid4().hex
            current.update(
                {"holder": holder, "lease_token": token, "lease_expires": now + ttl, "acquired_at": now}
            )
            if fence_run is not None:
                current["latest_run"] = fence_run
                current["repair_runs"] = set(current.get("repair_runs") or ()) | {fence_run}
            current.pop("roster_index", None)
            current.pop("paused_run", None)
            repair = {str(r) for r in old.get("repair_runs") or ()} | ({fence_run} if fence_run else set())
            index_run = old.get("roster_index") if fence_run is not None else None
            return Lease(district_id, holder, token, fence_run, tuple(sorted(repair)), index_run)

    def renew_lease(self, lease: Lease, *, now: int, ttl: int) -> None:
        self._count("renew_lease")
        with self._lock:
            current = self.items.get((lease_pk(lease.district_id), LEASE_SK), {})
            if current.get("lease_token") != lease.token:
                raise LeaseLost(f"district {lease.district_id}: lease of {lease.holder} was taken")
            current["lease_expires"] = now + ttl

    def pause_lease(self, lease: Lease, *, now: int, ttl: int) -> None:
        self._count("pause_lease")
        if lease.fence_run is None:
            raise ValueError(f"district {lease.district_id}: only a run's lease can be paused")
        with self._lock:
            current = self.items.get((lease_pk(lease.district_id), LEASE_SK), {})
            if current.get("lease_token") != lease.token:
                raise LeaseLost(f"district {lease.district_id}: lease of {lease.holder} was taken")
            current["lease_expires"] = now + ttl
            current["paused_run"] = lease.fence_run

    def release_lease(
        self, lease: Lease, *, completed: Collection[str] | None, index_run: str | None = None
    ) -> None:
        self._count("release_lease")
        with self._lock:
            current = self.items.get((lease_pk(lease.district_id), LEASE_SK), {})
            if current.get("lease_token") != lease.token:
                raise LeaseLost(f"district {lease.district_id}: lease of {lease.holder} was taken")
            for name in ("holder", "lease_token", "lease_expires", "paused_run"):
                current.pop(name, None)
            committing = bool(completed) and bool(lease.fence_run)
            if committing:
                current["committed_run"] = lease.fence_run
            if committing and index_run:
                current["roster_index"] = index_run
            else:
                current.pop("roster_index", None)
            if completed:
                current["repair_runs"] = set(current.get("repair_runs") or ()) - set(completed)

    # ---------------------------------------------------------------------------- helpers

    def active(self, district_id: str) -> set[str]:
        """The sks of the district's active roster items."""
        pk = district_pk(district_id)
        return {
            sk
            for (item_pk, sk), item in self.items.items()
            if item_pk == pk and item.get("status") == "active"
        }
