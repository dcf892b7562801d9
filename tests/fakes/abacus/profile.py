"""Abacus as one profile. `make_profile(districts)`: the profile whose source serves them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rostersync.settings import Settings
from rostersync.sources.profile import ListSecrets, ReadSecret, SourceProfile
from tests.fakes.abacus.source import SOURCE_NAME, AbacusSource, normalize
from tests.fakes.abacus.wording import WORDING


def make_profile(districts: Mapping[str, Mapping[str, list[dict[str, Any]]]]) -> SourceProfile:
    def build(settings: Settings, read_secret: ReadSecret, list_secrets: ListSecrets) -> AbacusSource:
        return AbacusSource(districts)

    return SourceProfile(name=SOURCE_NAME, wording=WORDING, build=build, normalize=normalize)
