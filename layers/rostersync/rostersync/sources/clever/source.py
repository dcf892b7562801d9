"""The Clever source (`ports.Source`): the districts with a district token, read through the client."""

from __future__ import annotations

from rostersync.observability import logger
from rostersync.sources.clever.client import CleverClient, DistrictFetch
from rostersync.sources.clever.normalize import is_clever_id
from rostersync.sources.clever.resources import SOURCE_NAME


class CleverSource:
    """Districts are those `/oauth/tokens` lists; each is read with its own Bearer token."""

    name = SOURCE_NAME

    def __init__(self, client: CleverClient) -> None:
        self.client = client
        self._tokens: dict[str, str] | None = None

    def district_ids(self) -> list[str]:
        self._tokens = self._valid(self.client.district_tokens())
        return sorted(self._tokens)

    @staticmethod
    def _valid(tokens: dict[str, str]) -> dict[str, str]:
        """Only districts whose id is a Clever id: an id is a storage key and a path part."""
        bad = [d for d in tokens if not is_clever_id(d)]
        if bad:
            logger.warning(
                "districts with an invalid Clever id skipped",
                extra={"districts": len(bad), "id_lengths": sorted({len(d) for d in bad})[:10]},
            )
        return {d: t for d, t in tokens.items() if is_clever_id(d)}

    def district(self, district_id: str) -> DistrictFetch | None:
        if self._tokens is None:
            self._tokens = self._valid(self.client.district_tokens())
        token = self._tokens.get(district_id)
        return None if token is None else self.client.district(district_id, token)

    def close(self) -> None:
        self.client.close()
