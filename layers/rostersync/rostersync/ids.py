"""Run ids: sortable by time, unique across concurrent invocations."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_run_id(now: datetime | None = None) -> str:
    """`20261128T020000123456Z-3f9a1c`: lexical order is chronological order.

    Microseconds matter: the import refuses a run older than the latest committed one, so two
    runs started within one second must still sort in the order they started.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"
