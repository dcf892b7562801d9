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
    absent_reason = "no source (Clever, OneRoster tenants) lists this district"

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)

    def district_ids(self) -> list[str]:
        ids: dict[str, None] = {}
        for source in self.sources:
            ids.update(dict.fromkeys(source.district_ids()))
        return sorted(ids)

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
