"""Abacus's districts (`ports.Source`): in-memory records, one page per resource."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from rostersync.ports import Page
from rostersync.records import (
    CourseRecord,
    DistrictRecord,
    DistrictStatus,
    PersonRecord,
    Record,
    SchoolRecord,
    SectionRecord,
    TermRecord,
)

SOURCE_NAME = "abacus"
# What a fetch pulls, in this order, and the record each resource's objects are.
RECORDS: dict[str, type[Record]] = {
    "districts": DistrictRecord,
    "schools": SchoolRecord,
    "people": PersonRecord,
    "terms": TermRecord,
    "courses": CourseRecord,
    "sections": SectionRecord,
}


def normalize(resource: str, record: Mapping[str, Any], district_id: str) -> Iterator[Record]:
    """A stored Abacus object as the record it is (Abacus stores our own record fields)."""
    yield RECORDS[resource].model_validate({**record, "district_id": district_id})


class AbacusDistrict:
    """One district's pages (`ports.DistrictPages`)."""

    source = SOURCE_NAME
    resources: Sequence[str] = tuple(RECORDS)

    def __init__(self, district_id: str, records: Mapping[str, list[dict[str, Any]]]) -> None:
        self.district_id = district_id
        self.requests = 0
        self._records = records

    def pages(
        self,
        resource: str,
        start: str | None = None,
        *,
        index: int = 0,
        seen: Iterable[str] = (),
        fits: Callable[[float], bool] | None = None,
    ) -> Iterator[Page]:
        self.requests += 1
        yield Page(resource, index, [dict(r) for r in self._records.get(resource, [])], link=resource)

    def district_name(self, page: Page) -> str | None:
        if page.resource == "districts" and page.records:
            return str(page.records[0].get("name") or "") or None
        return None

    def district_status(self, page: Page) -> DistrictStatus | None:
        return None


class AbacusSource:
    """`ports.Source`: the districts the test gave it."""

    name = SOURCE_NAME

    def __init__(self, districts: Mapping[str, Mapping[str, list[dict[str, Any]]]]) -> None:
        self._districts = districts

    def district_ids(self) -> list[str]:
        return sorted(self._districts)

    def district(self, district_id: str) -> AbacusDistrict | None:
        records = self._districts.get(district_id)
        return None if records is None else AbacusDistrict(district_id, records)
