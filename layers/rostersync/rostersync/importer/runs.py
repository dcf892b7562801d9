"""Run records: one item per district and run, a copy in the cross-district listing, and reads.

Run item: pk `RUN#<district>`, sk `<run_id>` (dry runs `<run_id>~dry`). The copy for the
`status` listing: pk `RUNLOG`, sk `<run_id>#<district>`, expiring after RUNLOG_TTL_DAYS through
the table's `expires_at` TTL. Run ids sort chronologically. Keys are built in `rostersync.layout`.
"""

from __future__ import annotations

from typing import Any

from rostersync.contracts.importer import ImportResult
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.layout import RUNLOG_PK, SAFEGUARD_SK, config_pk, run_pk, runlog_sk
from rostersync.ports import RosterTable

RUNLOG_TTL_DAYS = 120


def run_item(result: ImportResult) -> dict[str, Any]:
    body = result.model_dump(mode="json", exclude={"replayed"})
    return {"pk": run_pk(result.district_id), "sk": result.run_id, **_compact(body)}


def runlog_item(result: ImportResult, expires_at: int) -> dict[str, Any]:
    return {
        **run_item(result),
        "pk": RUNLOG_PK,
        "sk": runlog_sk(result.run_id, result.district_id),
        "expires_at": expires_at,
    }


def result_from_item(item: dict[str, Any]) -> ImportResult:
    body = {k: v for k, v in item.items() if k not in {"pk", "sk", "expires_at"}}
    return ImportResult.model_validate(body)


def _compact(value: Any) -> Any:
    """DynamoDB stores no None and no floats-as-float: drop Nones, keep the rest as JSON types."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def latest_runs(table: RosterTable, district_id: str | None = None, limit: int = 20) -> list[ImportResult]:
    """Newest first: one district's runs (its RUN# partition) or every district's (RUNLOG)."""
    pk = run_pk(district_id) if district_id else RUNLOG_PK
    return [result_from_item(item) for item in table.query(pk, newest_first=True, limit=limit)]


def set_thresholds(table: RosterTable, district_id: str, thresholds: SafeguardThresholds) -> None:
    """A district's own safeguard (overrides the SAFEGUARD_ARCHIVE_PERCENT default)."""
    table.put_item(
        {
            "pk": config_pk(district_id),
            "sk": SAFEGUARD_SK,
            "archive_percent": thresholds.archive_percent,
            "floor": thresholds.floor,
        }
    )
