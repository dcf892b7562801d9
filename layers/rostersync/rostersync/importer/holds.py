"""Import artifacts in the raw bucket, through the PageStore (keys in `rostersync.layout`).

* `holds/<district>/<run_id>/archive.csv`: the archive set the safeguard held, for people to
  read (kind, clever_id, sis_id: no names, no state ids). `archive.json` beside it is the same
  rows for `release_hold` to read back (the PageStore reads JSON), plus `sections`: the clever ids
  of the sections the held run wrote with held people kept in their lists.
* `changesets/<district>/<run_id>.json.gz`: every change of a run (action, kind, clever_id) and
  its counts. Written by dry runs (their whole output) and by real runs BEFORE their first
  write, where it doubles as the plan the next run repairs from if this one fails part way.
* `roster-index/<district>/index.json.gz`: the roster index of the district's last committed
  run (rostersync/roster_index.py), one object per district, overwritten by every commit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from rostersync.layout import changeset_key, hold_csv_key, hold_json_key, roster_index_key
from rostersync.ports import PageStore
from rostersync.roster_index import RosterIndex
from rostersync.roster_items import Candidate
from rostersync.spreadsheet import safe_cell

HOLD_COLUMNS = ("kind", "clever_id", "sis_id")


class PageStoreHoldStore:
    """HoldStore on the raw bucket's PageStore."""

    def __init__(self, store: PageStore) -> None:
        self.store = store

    def write_hold(
        self, district_id: str, run_id: str, held: Iterable[Candidate], *, sections: Iterable[str] = ()
    ) -> str:
        rows = [
            {"kind": c.kind.value, "clever_id": c.source_id, "sis_id": c.sis_id or ""}
            for c in sorted(held, key=lambda c: (c.kind.value, c.source_id))
        ]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=HOLD_COLUMNS, lineterminator="\n")
        writer.writeheader()
        # The CSV is for people (Excel): cells guarded like findings.csv; the JSON twin is exact.
        writer.writerows({k: safe_cell(v) for k, v in row.items()} for row in rows)
        key = hold_csv_key(district_id, run_id)
        # JSON twin first: the CSV's presence means the hold is complete.
        self.store.put_json(hold_json_key(district_id, run_id), {"rows": rows, "sections": sorted(sections)})
        self.store.put_file(key, io.BytesIO(text.getvalue().encode("utf-8")), "text/csv")
        return key

    def read_hold(self, district_id: str, run_id: str) -> list[dict[str, str]]:
        body = self.store.get_json(hold_json_key(district_id, run_id))
        return [dict(row) for row in body["rows"]]

    def read_hold_sections(self, district_id: str, run_id: str) -> list[str]:
        body = self.store.get_json(hold_json_key(district_id, run_id))
        return [str(section) for section in body.get("sections") or ()]

    def write_changeset(self, district_id: str, run_id: str, body: dict[str, Any]) -> str:
        key = changeset_key(district_id, run_id)
        self.store.put_json(key, body, compress=True)
        return key

    def read_changeset(self, district_id: str, run_id: str) -> dict[str, Any] | None:
        key = changeset_key(district_id, run_id)
        # A store failure propagates: skipping a repair plan silently could leave the roster
        # inconsistent; failing the run leaves it for the next one.
        if not self.store.exists(key):
            return None
        body = self.store.get_json(key)
        return body if isinstance(body, dict) else None

    def write_index(self, index: RosterIndex) -> str:
        key = roster_index_key(index.district_id)
        self.store.put_json(key, index.to_json(), compress=True)
        return key

    def read_index(self, district_id: str) -> RosterIndex | None:
        """None when there is no index or it is not one of this schema; a store failure raises."""
        key = roster_index_key(district_id)
        if not self.store.exists(key):
            return None
        return RosterIndex.from_json(self.store.get_json(key))
