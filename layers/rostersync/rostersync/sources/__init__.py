"""Where rosters come from. Each source (Clever, OneRoster) has two halves:

* an adapter that implements `ports.Source` (lists districts, reads a district's pages over
  HTTP, minimized at the edge), built by `rostersync.wiring`;
* a pure normalizer that turns stored page records into `records.Record`s, registered here so
  that validation reads any stored page back without asking which source wrote it.

Clever's normalizer takes one record at a time (a Clever object is self-contained). OneRoster's
takes the whole district (`normalize_district`): a class's people come from enrollments, a
student's date of birth from demographics, so it reads several collections at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from rostersync.records import Normalized, Record
from rostersync.sources.clever import normalize as clever_normalize
from rostersync.sources.clever.resources import SOURCE_NAME as CLEVER
from rostersync.sources.oneroster import normalize as oneroster_normalize
from rostersync.sources.oneroster.resources import SOURCE_NAME as ONEROSTER

Normalizer = Callable[[str, Mapping[str, Any], str], Iterator[Record]]
# resource -> that resource's stored records, in stored order (callable again: a fresh read)
ReadResource = Callable[[str], Iterable[Mapping[str, Any]]]
# A whole-district normalizer yields records and its notes about the district (records.SourceNote).
# (read, district id, the night's date: None for today)
DistrictNormalizer = Callable[[ReadResource, str, date | None], Iterator[Normalized]]

NORMALIZERS: dict[str, Normalizer] = {CLEVER: clever_normalize.normalize}
DISTRICT_NORMALIZERS: dict[str, DistrictNormalizer] = {ONEROSTER: oneroster_normalize.normalize_district}
# What an id of each source looks like (validation rejects records whose ids are not). OneRoster
# sourcedIds are any string the provider chose: the system-wide id form applies (rules.SAFE_ID).
ID_CHECKS: dict[str, Callable[[str], bool]] = {CLEVER: clever_normalize.is_clever_id}


@dataclass(frozen=True)
class SourceRules:
    """What validation asks of a source's districts beyond the common rules."""

    # The district must share its district record (OneRoster: the primary org), else
    # `district.primary_org.missing` rejects the district.
    district_required: bool = False
    # Where students' PA Secure IDs come from when it is a field the district must enable for the
    # app (OneRoster: the metadata field PASECUREID); no student carrying it at all is
    # `student.state_id.not_shared`. None: not checked (Clever always sends state_id's key).
    state_id_field: str | None = None


# The name a district data manager knows each source by (OneRoster districts use ClassLink).
DISPLAY_NAMES: dict[str, str] = {CLEVER: "Clever", ONEROSTER: "ClassLink"}


def display_name(source: str | None) -> str:
    """ "Clever" or "ClassLink": how reports and alerts name a district's source (default Clever,
    the source of every district before there were two)."""
    return DISPLAY_NAMES.get(source or CLEVER, DISPLAY_NAMES[CLEVER])


SOURCE_RULES: dict[str, SourceRules] = {
    ONEROSTER: SourceRules(district_required=True, state_id_field=oneroster_normalize.STATE_ID_FIELD)
}


def id_check(source: str) -> Callable[[str], bool] | None:
    """The source's id check, or None (the system-wide id form applies)."""
    return ID_CHECKS.get(source)


def source_rules(source: str) -> SourceRules:
    return SOURCE_RULES.get(source, SourceRules())


def normalize(source: str, resource: str, record: Mapping[str, Any], district_id: str) -> Iterator[Record]:
    """One stored record of a per-record source's `resource` as normalized records."""
    try:
        normalizer = NORMALIZERS[source]
    except KeyError:
        raise ValueError(f"pages of an unknown or per-district source {source!r}") from None
    return normalizer(resource, record, district_id)


def normalize_district(
    source: str, resources: Iterable[str], read: ReadResource, district_id: str, today: date | None = None
) -> Iterator[Normalized]:
    """A district's stored records of `source` as normalized records: `resources` in the order
    they were stored, `read(resource)` yielding each one's records; `today` the night they were
    fetched (a whole-district normalizer reads the school year in progress from it)."""
    whole = DISTRICT_NORMALIZERS.get(source)
    if whole is not None:
        yield from whole(read, district_id, today)
        return
    if source not in NORMALIZERS:
        raise ValueError(f"pages of an unknown source {source!r}")
    for resource in resources:
        for record in read(resource):
            yield from normalize(source, resource, record, district_id)
