"""Several sources behind the one seam the stages see."""

from __future__ import annotations

from collections.abc import Sequence

from rostersync.ports import DistrictPages, Source


class CombinedSource:
    """Several sources as one (`ports.Source`): discovery lists every source's districts,
    `district()` asks each in turn, so `--district` takes an id of any source. District ids are
    unique across sources (`oneroster.source.parse_tenants` refuses Clever's id form); should
    one still appear twice, the first source serves it."""

    name = "sources"  # stored only in the failed manifest of a district no source lists
    absent_reason = "no source lists this district"

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        self._owners: dict[str, str] = {}

    def district_ids(self) -> list[str]:
        owners: dict[str, str] = {}
        for source in self.sources:
            # A source whose districts name their provider says each one's source name.
            source_of = getattr(source, "source_of", None)
            for district_id in source.district_ids():
                named = source_of(district_id) if source_of is not None else None
                owners.setdefault(district_id, named or source.name)
        self._owners = owners
        return sorted(owners)

    def source_of(self, district_id: str) -> str | None:
        """The name of the source that listed the district in the last `district_ids()`, if any."""
        return self._owners.get(district_id)

    def district(self, district_id: str) -> DistrictPages | None:
        for source in self.sources:
            reader = source.district(district_id)
            if reader is not None:
                return reader
        return None

    def close(self) -> None:
        for source in self.sources:
            close = getattr(source, "close", None)
            if close is not None:
                close()
