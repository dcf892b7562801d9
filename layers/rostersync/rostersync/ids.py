"""Run ids: sortable by time, unique across concurrent invocations, and taken from the clock only.

A run id orders runs: the import refuses a run older than the newest one that started for a
district (`skipped_stale`). So a run id from the future (a hand-started run with a mistyped date,
`20621129T...`) would fence out every later night. Run ids are made from the system clock
(`new_run_id`); one given in a request is refused when it is more than MAX_RUN_ID_AHEAD ahead of
the clock (a few minutes: clocks of different hosts drift a little).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

MAX_RUN_ID_AHEAD = timedelta(minutes=5)

_RUN_ID_TIME = re.compile(r"^(\d{8}T\d{6})(\d{6})?Z-")


class FutureRunId(ValueError):
    """A run id ahead of the clock: it would make every later run stale."""


def new_run_id(now: datetime | None = None) -> str:
    """`20261128T020000123456Z-3f9a1c`: lexical order is chronological order.

    Microseconds matter: the import refuses a run older than the latest committed one, so two
    runs started within one second must still sort in the order they started.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def run_id_time(run_id: str) -> datetime | None:
    """When a run id says its run started; None when it is not a run id of this form."""
    match = _RUN_ID_TIME.match(run_id)
    if not match:
        return None
    try:
        moment = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment + timedelta(microseconds=int(match.group(2) or 0))


def run_id_bound(now: datetime) -> str:
    """The run id prefix MAX_RUN_ID_AHEAD after `now`: run ids sorting above it are from the future."""
    return f"{(now + MAX_RUN_ID_AHEAD).astimezone(UTC):%Y%m%dT%H%M%S%fZ}"


def refuse_future_run_id(run_id: str, now: datetime | None = None) -> str:
    """The run id, or FutureRunId when it is more than MAX_RUN_ID_AHEAD ahead of the clock."""
    now = now or datetime.now(UTC)
    started = run_id_time(run_id)
    if started is not None and started > now + MAX_RUN_ID_AHEAD:
        raise FutureRunId(
            f"run id {run_id} is {_ahead(started - now)} ahead of the clock ({now:%Y-%m-%d %H:%M} UTC); "
            "run ids come from the clock: leave run_id out to start a new run"
        )
    return run_id


def _ahead(delta: timedelta) -> str:
    if delta.days >= 2:
        return f"{delta.days} days"
    return f"{int(delta.total_seconds() // 60)} minutes"
