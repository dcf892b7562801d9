"""Where rosters come from. Each source (Clever today; OneRoster next) has two halves:

* an adapter that implements `ports.Source` (lists districts, reads a district's pages over
  HTTP, minimized at the edge), built by `rostersync.wiring`;
* a pure normalizer that turns one stored page record into `records.Record`s, registered here so
  that validation reads any stored page back without asking which source wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rostersync.records import Record
from rostersync.sources.clever import normalize as clever_normalize
from rostersync.sources.clever.resources import SOURCE_NAME as CLEVER

Normalizer = Callable[[str, Mapping[str, Any], str], Iterator[Record]]

NORMALIZERS: dict[str, Normalizer] = {CLEVER: clever_normalize.normalize}
# What an id of each source looks like (validation rejects records whose ids are not).
ID_CHECKS: dict[str, Callable[[str], bool]] = {CLEVER: clever_normalize.is_clever_id}


def id_check(source: str) -> Callable[[str], bool] | None:
    """The source's id check, or None (the system-wide id form applies)."""
    return ID_CHECKS.get(source)


def normalize(source: str, resource: str, record: Mapping[str, Any], district_id: str) -> Iterator[Record]:
    """One stored record of `source`'s `resource` as normalized records."""
    try:
        normalizer = NORMALIZERS[source]
    except KeyError:
        raise ValueError(f"pages of an unknown source {source!r}") from None
    return normalizer(resource, record, district_id)
