"""The interfaces between the domain and the outside world, in one place.

Stages, alerts and the import service depend on these protocols only; `rostersync.adapters`
implements them on AWS (S3, DynamoDB, SNS, Secrets Manager) and the sources implement `Source`.
Adapters are chosen and built by `rostersync.wiring` alone; unit tests use the fakes in
tests/fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from rostersync.errors import RosterSyncError

if TYPE_CHECKING:
    from rostersync.alert_model import Alert
    from rostersync.records import DistrictStatus
    from rostersync.roster_index import RosterIndex
    from rostersync.roster_items import Candidate, ExistingItem, Item, Key

# ------------------------------------------------------------------------------------ sources


@dataclass
class Page:
    """One page of one resource, as the source sent it (records minimized to what we use).

    `link` is the relative link the page was read from; `next` the relative link of the page
    after it (already checked: same host, not a cursor seen before), None on the last page.
    """

    resource: str
    index: int
    records: list[dict[str, Any]]
    link: str = ""
    next: str | None = None


class DistrictPages(Protocol):
    """A source's paginated reads of one district's resources."""

    district_id: str
    requests: int  # requests made so far (for the fetch's accounting)

    @property
    def source(self) -> str:
        """The source's name, stored in every page and manifest."""
        ...

    @property
    def resources(self) -> Sequence[str]:
        """What a fetch pulls, in this order."""
        ...

    def pages(
        self,
        resource: str,
        start: str | None = None,
        *,
        index: int = 0,
        seen: Iterable[str] = (),
        fits: Callable[[float], bool] | None = None,
    ) -> Iterator[Page]:
        """Every page of `resource` from `start` (None: its first page), each records minimized.

        `fits(seconds)` says whether that much more work fits in the invocation; a source that
        would ask for a page again (smaller) asks it first, and raises `errors.PageDeferred` with
        the smaller page's link when it does not fit (None: everything fits)."""
        ...

    def district_name(self, page: Page) -> str | None:
        """The district's display name, if this page carries it."""
        ...

    def district_status(self, page: Page) -> DistrictStatus | None:
        """The source's sync status of the district, if this page carries it."""
        ...


class Source(Protocol):
    """Where districts' rosters come from (Clever, OneRoster tenants): the seam every stage sees.

    `name` is stored in every page and manifest (as its district readers' `source`), so
    validation reads pages back with the same source's normalizer (`rostersync.sources.normalize`).
    """

    name: str

    def district_ids(self) -> list[str]:
        """The districts that share data with us now (sorted)."""
        ...

    def district(self, district_id: str) -> DistrictPages | None:
        """A reader for one district, or None when the district does not share data with us."""
        ...


# -------------------------------------------------------------------------------- object store


class PageStore(Protocol):
    """Object storage for pages, manifests, reports and state. Keys come from `rostersync.layout`;
    every failure is a StorageError naming the key."""

    def put_json(self, key: str, body: Any, *, compress: bool = False) -> int: ...
    def get_json(self, key: str) -> Any: ...
    def get_bytes(self, key: str) -> bytes:
        """The object as stored (gzip JSON stays compressed: `decode_json` reads it)."""
        ...

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def keys(self, prefix: str) -> Iterator[str]: ...


class HoldStore(Protocol):
    """The import's artifacts in the object store: held archive sets, change sets, roster index."""

    def write_hold(
        self, district_id: str, run_id: str, held: Iterable[Candidate], *, sections: Iterable[str] = ()
    ) -> str: ...
    def read_hold(self, district_id: str, run_id: str) -> list[dict[str, str]]: ...
    def read_hold_sections(self, district_id: str, run_id: str) -> list[str]:
        """The sections the held run wrote with held people kept in their lists."""
        ...

    def write_changeset(self, district_id: str, run_id: str, body: dict[str, Any]) -> str: ...
    def read_changeset(self, district_id: str, run_id: str) -> dict[str, Any] | None: ...
    def write_index(self, index: RosterIndex) -> str: ...
    def read_index(self, district_id: str) -> RosterIndex | None: ...


# -------------------------------------------------------------------------------------- alerts


class AlertPublisher(Protocol):
    def publish(self, alert: Alert) -> bool:
        """True when the alert was handed to the topic; False (logged) when it could not be."""
        ...


class ReportLinks(Protocol):
    """Hands out a time-limited link to one report object."""

    def presigned_url(self, key: str, expires_in: int) -> str: ...


# -------------------------------------------------------------------------------- roster table


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
    def get_items(
        self, keys: Collection[Key], attributes: Sequence[str], *, consistent: bool = False
    ) -> list[Item]:
        """The items of these keys that exist, with `attributes` (and pk, sk) only, in no order:
        BatchGetItem, eventually consistent unless `consistent` (a decision that must see the
        newest write, such as the PA Secure ID registry's)."""
        ...

    def put_item(self, item: Item) -> None: ...
    def put_versioned(self, item: Item, expected_version: int) -> bool:
        """Put `item` only if the stored one's `version` is `expected_version` (0: no item yet);
        False when someone else changed it first (optimistic concurrency for settings)."""
        ...

    def query(
        self, pk: str, *, newest_first: bool = False, limit: int | None = None, sk_prefix: str | None = None
    ) -> list[Item]:
        """A partition's items (those whose sk begins with `sk_prefix`, when given), consistent."""
        ...

    def set_trusted(self, district_id: str, student_id: str, state_id: str, trusted: bool) -> bool:
        """Set (or remove) a student item's `state_id_trusted`, only while the student is active and
        carries `state_id`; False when it is not (archived, gone, or another id now)."""
        ...

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
        """Conditional status transition of `attribute`; False when the item is not in `expected`."""
        ...

    def member_edges(self, district_id: str, sk: str) -> set[Key]:
        """The membership items that exist for one of the district's roster items (read by key or
        the inverted index, never a scan)."""
        ...

    def write(self, puts: Sequence[Item], deletes: Sequence[Key]) -> int:
        """Unconditional batched puts/deletes with bounded retries; returns items written."""
        ...

    def archive(self, district_id: str, sk: str, *, run_id: str, now: str, fence_run: str) -> bool:
        """Active -> archived, if still active and last changed by `fence_run` or earlier."""
        ...

    def acquire_lease(
        self, district_id: str, holder: str, *, now: int, ttl: int, fence_run: str | None
    ) -> Lease:
        """Take the district's lease when it is free, expired, or handed on by `pause_lease` to
        this very run (`fence_run`): only one invocation takes a paused run's lease over."""
        ...

    def renew_lease(self, lease: Lease, *, now: int, ttl: int) -> None: ...
    def pause_lease(self, lease: Lease, *, now: int, ttl: int) -> None:
        """Renew the lease and mark it paused by its run: the run's next invocation (the same run id)
        takes it over at once, anyone else only once it expires. The run stays in `repair_runs`."""
        ...

    def release_lease(
        self, lease: Lease, *, completed: Collection[str] | None, index_run: str | None = None
    ) -> None:
        """Give the lease up. `completed` runs leave the repair list; a commit (`completed` and a
        fencing run) records `index_run` as the run whose roster index is valid, anything else
        forgets any index (the partition may have changed in ways no index knows)."""
        ...
