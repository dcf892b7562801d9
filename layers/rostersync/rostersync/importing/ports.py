"""What the import service needs from the roster table (implemented by adapters.roster_table)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rostersync.errors import RosterSyncError
from rostersync.importing.diff import ExistingItem
from rostersync.importing.items import Item, Key


class LeaseBusy(RosterSyncError):
    """Another run (or release) holds the district's lease."""


class StaleRun(RosterSyncError):
    """A newer run already started for the district: this run must not write."""


class LeaseLost(RosterSyncError):
    """The lease expired and someone else took it while this run was writing."""


class RosterWriteError(RosterSyncError):
    """Writes still unprocessed or throttled after the bounded retries."""


@dataclass(frozen=True)
class Lease:
    district_id: str
    holder: str
    token: str
    fence_run: str | None  # the run id the lease fences others with (None for a release)
    repair_runs: tuple[str, ...] = ()  # runs that started and never committed
    # The committed run whose roster index was the table's state when this lease was taken (the
    # LEASE item named it; taking the lease removed the name until this holder commits).
    index_run: str | None = None


class RosterTable(Protocol):
    def existing(self, district_id: str) -> Iterator[ExistingItem]:
        """The district's roster items (pk DISTRICT#<id>), compact, from one paginated Query."""
        ...

    def get_item(self, pk: str, sk: str) -> Item | None: ...
    def put_item(self, item: Item) -> None: ...
    def query(self, pk: str, *, newest_first: bool = False, limit: int | None = None) -> list[Item]: ...

    def set_status(
        self, pk: str, sk: str, expected: str, new: str, extra: Mapping[str, Any] | None = None
    ) -> bool:
        """Conditional status transition; False when the item is not in `expected`."""
        ...

    def member_edges(self, sk: str) -> set[Key]:
        """The membership items that exist for a roster item's sk (read by key / GSI, not a scan)."""
        ...

    def write(self, puts: Sequence[Item], deletes: Sequence[Key]) -> int:
        """Unconditional batched puts/deletes with bounded retries; returns items written."""
        ...

    def archive(self, district_id: str, sk: str, *, run_id: str, now: str, fence_run: str) -> bool:
        """Active -> archived, if still active and last changed by `fence_run` or earlier."""
        ...

    def acquire_lease(
        self, district_id: str, holder: str, *, now: int, ttl: int, fence_run: str | None
    ) -> Lease: ...
    def renew_lease(self, lease: Lease, *, now: int, ttl: int) -> None: ...
    def release_lease(
        self, lease: Lease, *, completed: Collection[str] | None, index_run: str | None = None
    ) -> None:
        """Give the lease up. `completed` runs leave the repair list; a commit (`completed` and a
        fencing run) records `index_run` as the run whose roster index is valid, anything else
        forgets any index (the partition may have changed in ways no index knows)."""
        ...
