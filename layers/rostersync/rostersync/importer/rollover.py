"""Is tonight's mass change the new school year? What the import can see of Clever's rollover.

Clever pauses a district's sync over the summer (by default from two days before the last day of
school to two weeks before school starts) and releases the new year's roster at once when the
pause ends, so the safeguard holds nearly every district in August. The hold alone does not say
why; these signs do: the district's pause ended within the last PAUSE_RECENT_DAYS days, and its
terms changed (terms created tonight while active ones disappeared).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from rostersync.contracts.importer import Rollover
from rostersync.importer.diff import Action, Diff
from rostersync.layout import split_sk
from rostersync.records import DistrictRecord, Kind, parse_time

PAUSE_RECENT_DAYS = 21
MAX_TERMS = 1000  # terms remembered from pass 1 (a district has a handful; the rest is not read)


def rollover(
    district: DistrictRecord | None, term_starts: Mapping[str, str | None], diff: Diff, now: datetime
) -> Rollover | None:
    """The rollover signs of one run, or None when there are none."""
    out = Rollover()
    pause_end = parse_time(district.pause_end) if district else None
    if pause_end is not None and timedelta(0) <= now - pause_end <= timedelta(days=PAUSE_RECENT_DAYS):
        out.pause_ended = f"{pause_end:%Y-%m-%d}"
        out.pause_ended_days_ago = (now - pause_end).days
    created = [
        sk for sk, action in diff.changes.items() if action is Action.CREATED and split_sk(sk)[0] is Kind.TERM
    ]
    out.terms_created = len(created)
    out.terms_gone = sum(1 for c in diff.candidates if c.kind is Kind.TERM)
    starts = [parsed for sk in created if (parsed := parse_time(term_starts.get(sk))) is not None]
    out.new_terms_start = f"{min(starts):%Y-%m-%d}" if starts else None
    if out.pause_ended is None and not out.new_school_year:
        return None
    return out
