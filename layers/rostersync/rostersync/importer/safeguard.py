"""The mass-archive safeguard: a run that would archive too much archives nothing.

Trips when a run would archive more than `archive_percent` of the active records of any kind in
the district, or of any school's active students. A kind or school with `floor` (20) or fewer
active records never trips it: small populations change by large fractions legitimately.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rostersync.contracts.importer import SafeguardTrip
from rostersync.records import Kind
from rostersync.roster_items import Candidate

DEFAULT_ARCHIVE_PERCENT = 10.0
DEFAULT_FLOOR = 20


@dataclass(frozen=True)
class SafeguardThresholds:
    archive_percent: float = DEFAULT_ARCHIVE_PERCENT
    floor: int = DEFAULT_FLOOR

    def trips(self, active: int, archiving: int) -> bool:
        # Integer-safe: archiving/active > percent/100, without float rounding at the boundary.
        return active > self.floor and archiving * 100 > self.archive_percent * active

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None, default: SafeguardThresholds) -> SafeguardThresholds:
        """A district's settings item (pk CONFIG#<district>, sk SAFEGUARD) over the default."""
        if not item:
            return default
        return cls(
            archive_percent=float(item.get("archive_percent", default.archive_percent)),
            floor=int(item.get("floor", default.floor)),
        )


def check(
    candidates: Iterable[Candidate],
    active_by_kind: Mapping[Kind, int],
    students_by_school: Mapping[str, int],
    thresholds: SafeguardThresholds,
) -> list[SafeguardTrip]:
    """Every kind and school the archive set would trip; empty means archive away."""
    by_kind: Counter[Kind] = Counter()
    by_school: Counter[str] = Counter()
    for candidate in candidates:
        by_kind[candidate.kind] += 1
        if candidate.kind is Kind.STUDENT:
            for school in set(candidate.schools):
                by_school[school] += 1
    trips = [
        SafeguardTrip(scope="kind", key=kind.value, active=active_by_kind.get(kind, 0), archiving=n)
        for kind, n in sorted(by_kind.items())
        if thresholds.trips(active_by_kind.get(kind, 0), n)
    ]
    trips += [
        SafeguardTrip(scope="school", key=school, active=students_by_school.get(school, 0), archiving=n)
        for school, n in sorted(by_school.items())
        if thresholds.trips(students_by_school.get(school, 0), n)
    ]
    return trips
