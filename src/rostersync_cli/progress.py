"""A night's progress while it runs, per district and stage, read from the execution histories.

On a terminal: a live table (rich). Otherwise: one plain line per district and finished stage.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO, Self

from rich.console import Console
from rich.live import Live
from rich.table import Table

from rostersync_cli.nightly import DistrictOutcome, Night
from rostersync_cli.terminal import say, terminal_safe

STATE_STAGE = {
    "Fetch": "fetching",
    "Fetched?": "fetched",
    "ContinueFetch?": "fetching",
    "ContinueFetch": "fetching",
    "FetchDidNotFinish": "fetch did not finish",
    "Validate": "validating",
    "Validated?": "validated",
    "Import": "importing",
    "Imported?": "imported",
    "ContinueImport?": "importing",
    "ContinueImport": "importing",
    "ImportDidNotFinish": "import did not finish",
    "NotifyDistrictFailed": "alerting",
    "DistrictDone": "done",
    "DistrictFailed": "failed (alerted)",
}


def fetched_records(outcome: DistrictOutcome) -> int:
    return sum(int(count or 0) for count in (outcome.fetch.get("counts") or {}).values())


def stage_lines(outcome: DistrictOutcome) -> list[str]:
    """What the district has finished so far, one line per stage (what the plain output prints)."""
    lines = []
    if outcome.fetch.get("status") not in (None, "in_progress"):
        lines.append(
            f"fetch {outcome.fetch['status']}: {fetched_records(outcome)} records, "
            f"{outcome.fetch.get('requests', 0)} requests, {outcome.fetch_invocations} invocation(s)"
        )
    validated = outcome.stages.get("validate")
    if validated:
        lines.append(
            f"validate {validated.get('status')}: {validated.get('accepted', 0)} accepted, "
            f"{validated.get('rejected', 0)} rejected"
        )
    imported = outcome.stages.get("import")
    if imported:
        lines.append(f"import {imported.get('status')}: {imported.get('roster_writes', 0)} roster writes")
    if outcome.error and outcome.alerted_failure:
        lines.append(
            f"{outcome.error['state'].lower()} failed: {outcome.error['error']} (alerted sync_failed)"
        )
    return lines


class Progress:
    """`update(night)` after each change; a context manager (the live table needs closing)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout
        self._live: Live | None = None
        self._printed: dict[str, int] = {}
        if self._stream.isatty():
            self._live = Live(console=Console(file=self._stream), auto_refresh=False, transient=True)

    def update(self, night: Night) -> None:
        if self._live is not None:
            self._live.update(self._table(night), refresh=True)
            return
        for outcome in night.outcomes:
            lines = stage_lines(outcome)
            for line in lines[self._printed.get(outcome.district_id, 0) :]:
                say(f"{outcome.district_id}: {line}", file=self._stream, flush=True)
            self._printed[outcome.district_id] = len(lines)

    @staticmethod
    def _table(night: Night) -> Table:
        done = sum(1 for o in night.outcomes if o.finished)
        table = Table(title=f"run {night.run_id or '…'}: {done}/{len(night.district_ids)} districts done")
        for column in ("district", "stage", "fetched", "requests", "accepted", "rejected", "writes"):
            table.add_column(column, justify="left" if column in ("district", "stage") else "right")
        for outcome in night.outcomes:
            validated = outcome.stages.get("validate") or {}
            imported = outcome.stages.get("import") or {}
            stage = STATE_STAGE.get(outcome.state, outcome.state or "waiting")
            if outcome.state == "Fetch" and outcome.fetch_invocations > 1:
                stage = f"fetching ({outcome.fetch_invocations - 1} continuations)"
            table.add_row(
                terminal_safe(outcome.district_id),
                terminal_safe(stage),
                str(fetched_records(outcome)),
                str(outcome.fetch.get("requests", "")),
                str(validated.get("accepted", "")),
                str(validated.get("rejected", "")),
                str(imported.get("roster_writes", "")),
            )
        return table

    def __enter__(self) -> Self:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
