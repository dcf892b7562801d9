"""The roster index: what a committed run left in the table, kept beside it for the next diff.

The diff needs, for every roster item of a district, its sk, status, content hash, schools and
sis_id (`ExistingItem`). Reading them is one Query of the district's partition: ~400,000 items
for the largest district, hundreds of 1 MB pages, read every night although on most nights
almost nothing changed. A committed run knows exactly what it left in the table (what it read,
plus what it wrote and archived), so it writes that, compact and gzipped, to S3
(`roster-index/<district>/index.json.gz`), and records on the district's LEASE item which run
the index belongs to. The next run reads the index instead of the partition when, and only when,
it is provably the table's state:

* the LEASE item named this index's run (`roster_index`) when this run took the lease. The name
  is set only by a clean commit (in the conditional update that releases the lease) and removed
  by whoever takes the lease next, in the update that takes it; so a run that failed, died or
  was fenced, and a hold release, leave no name behind;
* no run in `repair_runs` left a plan (implied by the above; checked anyway);
* the object is readable, of this schema, this district, this run, and younger than
  `MAX_GENERATIONS` index-based runs: every week-ish the diff reads the table again anyway,
  so that an index that drifted for a reason nobody foresaw (a hand edit) heals itself.

Anything else, and the diff reads the table, as it always could. The index holds no names,
e-mails or state ids: sks (Clever ids), statuses, hashes, school ids and sis ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rostersync.roster_items import ARCHIVED, ExistingItem

SCHEMA_VERSION = 1
# After this many consecutive runs that diffed against the index, the next run reads the table.
MAX_GENERATIONS = 7


@dataclass(frozen=True)
class RosterIndex:
    district_id: str
    run_id: str  # the committed run whose table state this is
    generation: int  # 0 when built on a table read; +1 for every run that diffed against an index
    items: tuple[ExistingItem, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "district_id": self.district_id,
            "run_id": self.run_id,
            "generation": self.generation,
            "columns": ["sk", "status", "content_hash", "schools", "sis_id"],
            "rows": [[i.sk, i.status, i.content_hash, list(i.schools), i.sis_id] for i in self.items],
        }

    @classmethod
    def from_json(cls, body: Any) -> RosterIndex | None:
        """None for anything that is not an index of this schema (the caller reads the table)."""
        if not isinstance(body, dict) or body.get("schema_version") != SCHEMA_VERSION:
            return None
        try:
            items = tuple(
                ExistingItem(str(sk), str(status), hash_ and str(hash_), tuple(schools or ()), sis_id)
                for sk, status, hash_, schools, sis_id in body["rows"]
            )
            return cls(str(body["district_id"]), str(body["run_id"]), int(body["generation"]), items)
        except (KeyError, TypeError, ValueError):
            return None


class IndexTracker:
    """Builds the post-commit index while the import runs: what it read, overlaid with its writes."""

    def __init__(self) -> None:
        self._items: dict[str, ExistingItem] = {}

    def read(self, existing: Iterable[ExistingItem]) -> Iterator[ExistingItem]:
        """Pass-through of the diff's input, remembered."""
        for item in existing:
            self._items[item.sk] = item
            yield item

    def written(self, item: dict[str, Any]) -> None:
        """A roster item put whole (created, updated, restored, repaired)."""
        sk = str(item["sk"])
        self._items[sk] = ExistingItem(
            sk,
            str(item["status"]),
            str(item["content_hash"]),
            tuple(str(s) for s in item.get("schools") or ()),
            item.get("sis_id"),
        )

    def archived(self, sk: str) -> None:
        old = self._items.get(sk)
        if old is not None:
            self._items[sk] = old._replace(status=ARCHIVED)

    def build(self, district_id: str, run_id: str, generation: int) -> RosterIndex:
        return RosterIndex(district_id, run_id, generation, tuple(self._items.values()))
