"""The Clever source (`ports.Source`): the districts with a district token, read through the client."""

from __future__ import annotations

from rostersync.sources.clever.client import CleverClient, DistrictFetch
from rostersync.sources.clever.resources import SOURCE_NAME


class CleverSource:
    """Districts are those `/oauth/tokens` lists; each is read with its own Bearer token."""

    name = SOURCE_NAME

    def __init__(self, client: CleverClient) -> None:
        self.client = client
        self._tokens: dict[str, str] | None = None

    def district_ids(self) -> list[str]:
        self._tokens = self.client.district_tokens()
        return sorted(self._tokens)

    def district(self, district_id: str) -> DistrictFetch | None:
        if self._tokens is None:
            self._tokens = self.client.district_tokens()
        token = self._tokens.get(district_id)
        return None if token is None else self.client.district(district_id, token)

    def close(self) -> None:
        self.client.close()
