"""Where rosters come from: one package per source, one registry of their profiles.

Everything that knows a source lives in `sources/<name>/`: its client and minimization, its
normalizer, its own rules, its settings and secret parsing, and its wording (`profile.py` and
`wording.py`, see `rostersync.sources.profile`). The stages, the reports and the alerts ask the
district's profile (`profile(name)`); none of them names a source. An unknown source name is an
error (`UnknownSource`), never another source's wording.

Clever's normalizer takes one record at a time (a Clever object is self-contained). OneRoster's
takes the whole district (`normalize_district`): a class's people come from enrollments, a
student's date of birth from demographics, so it reads several collections at once.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from rostersync.records import PROVIDER_PATTERN, Normalized, Record
from rostersync.sources.clever.profile import PROFILE as CLEVER_PROFILE
from rostersync.sources.oneroster.profile import PROFILE as ONEROSTER_PROFILE
from rostersync.sources.profile import ReadResource, SourceProfile, SourceRule, SourceRules, Wording

__all__ = [
    "PROFILES",
    "ReadResource",
    "SourceProfile",
    "SourceRule",
    "SourceRules",
    "UnknownSource",
    "Wording",
    "base_name",
    "display_name",
    "id_check",
    "known",
    "label",
    "normalize",
    "normalize_district",
    "profile",
    "provider_of",
    "qualified",
    "register",
    "source_rules",
    "unregister",
]

# Every source RosterSync syncs, by the name stored in its pages, manifests and the state
# machine's payload. The order is discovery's: a district id two sources list is the first's.
PROFILES: dict[str, SourceProfile] = {p.name: p for p in (CLEVER_PROFILE, ONEROSTER_PROFILE)}


class UnknownSource(ValueError):
    """A source name no profile is registered for (a stored page, a payload, a setting)."""

    def __init__(self, name: object) -> None:
        shown = name if isinstance(name, str) and len(name) <= 32 else type(name).__name__
        super().__init__(f"unknown source {shown!r}: the registered sources are {', '.join(PROFILES)}")


_PROVIDER = re.compile(PROVIDER_PATTERN)
# "<source>:<provider>" -> that source's profile worded for the provider (built once per name)
_VARIANTS: dict[str, SourceProfile] = {}


def base_name(name: str) -> str:
    """The registered source of a source name: "oneroster" for "oneroster:Infinite Campus"."""
    return name.partition(":")[0]


def provider_of(name: str | None) -> str | None:
    """The provider a source name carries after its colon, or None."""
    return name.partition(":")[2] or None if isinstance(name, str) else None


def qualified(source: str, provider: str | None) -> str:
    """The source name a district of `provider` carries ("oneroster:Infinite Campus"); the bare
    name for no provider or the source's own default (its plain wording's display name)."""
    if not provider or provider == profile(source).wording.display_name:
        return source
    return f"{source}:{provider}"


def profile(name: str | None) -> SourceProfile:
    """The profile of the source named `name`, worded for the provider a qualified name carries
    ("oneroster:Infinite Campus"); UnknownSource for any other name (and None), and for a
    provider of a source that has one provider only."""
    try:
        return PROFILES[name]  # type: ignore[index]
    except (KeyError, TypeError):
        pass
    if isinstance(name, str) and name in _VARIANTS:
        return _VARIANTS[name]
    base, _, provider = name.partition(":") if isinstance(name, str) else ("", "", "")
    found = PROFILES.get(base)
    if found is None or found.provider_wording is None or not _PROVIDER.fullmatch(provider):
        raise UnknownSource(name)
    variant = dataclasses.replace(found, name=name, wording=found.provider_wording(provider))  # type: ignore[arg-type]
    _VARIANTS[name] = variant  # type: ignore[index]
    return variant


def known(name: str | None) -> SourceProfile | None:
    """`profile(name)`, or None for a name no registered profile serves."""
    try:
        return profile(name)
    except UnknownSource:
        return None


def register(source_profile: SourceProfile) -> None:
    """Add a source (a new source's package registers here, in this module; tests may register
    a source of their own and `unregister` it after)."""
    if source_profile.name in PROFILES:
        raise ValueError(f"source {source_profile.name!r} is registered already")
    PROFILES[source_profile.name] = source_profile


def unregister(name: str) -> None:
    profile(name)
    del PROFILES[name]
    for variant in [v for v in _VARIANTS if base_name(v) == name]:
        del _VARIANTS[variant]


def display_name(source: str | None) -> str:
    """ "Clever" or "ClassLink": how reports and alerts name a district's source."""
    return profile(source).wording.display_name


def label(source: str | None) -> str:
    """How support's overview shows a stored source name: its display name, or the name as stored
    when no profile has it (a status an older version recorded); "" for none."""
    found = known(source) if source else None
    return found.wording.display_name if found is not None else (source or "")


def id_check(source: str) -> Callable[[str], bool] | None:
    """The source's id check, or None (the system-wide id form applies)."""
    return profile(source).id_ok


def source_rules(source: str) -> SourceRules:
    return profile(source).rules


def normalize(source: str, resource: str, record: Mapping[str, Any], district_id: str) -> Iterator[Record]:
    """One stored record of a per-record source's `resource` as normalized records."""
    normalizer = profile(source).normalize
    if normalizer is None:
        raise ValueError(f"pages of the per-district source {source!r} are normalized per district")
    return normalizer(resource, record, district_id)


def normalize_district(
    source: str, resources: Iterable[str], read: ReadResource, district_id: str, today: date | None = None
) -> Iterator[Normalized]:
    """A district's stored records of `source` as normalized records: `resources` in the order
    they were stored, `read(resource)` yielding each one's records; `today` the night they were
    fetched (a whole-district normalizer reads the school year in progress from it, and may yield
    its notes about the district, `records.SourceNote`)."""
    found = profile(source)
    if found.normalize_district is not None:
        yield from found.normalize_district(read, district_id, today)
        return
    for resource in resources:
        for record in read(resource):
            yield from normalize(source, resource, record, district_id)
