"""The OneRoster source (`ports.Source`): the tenants support listed in the ONEROSTER_SECRET_ID secret.

The secret's JSON is `{"tenants": [{"district_id", "name", "base_url", "client_id",
"client_secret"}, ...]}`. A tenant is one district. A tenant whose provider issues OAuth 2.0
tokens (client credentials) adds `"auth": "oauth2"` and `"token_url"` (https), and may name its
own `"scope"` (space-separated; `""` asks none, for servers that refuse scoped requests); without
`auth` a tenant signs with OAuth 1.0a, as ClassLink Roster Server asks. `district_id` is chosen by support (the
district's 7-digit NCES LEA id is a good choice): it must match `records.DISTRICT_ID_PATTERN`
and be unique across all sources. `base_url` is the OneRoster endpoint, path included
(`https://<tenant>.oneroster.com/ims/oneroster/v1p1` for 1.1, `.../ims/oneroster/rostering/v1p2`
for 1.2, which also names the version; an optional `version` must agree): the bare server address a provider's
console shows answers 404 to every collection, so it is refused when the secret is read. A
tenant that breaks a rule is left out and logged by its position, its district id and name and
the rule, never by its credentials; the others sync.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from rostersync.observability import logger
from rostersync.records import DISTRICT_ID_PATTERN
from rostersync.sources.oneroster.client import (
    AUTH_METHODS,
    OAUTH1,
    OAUTH2,
    VERSION_PATHS,
    OneRosterClient,
    OneRosterLimits,
    OneRosterTenant,
    Sleep,
    version_of,
)
from rostersync.sources.oneroster.resources import SOURCE_NAME

_DISTRICT_ID = re.compile(DISTRICT_ID_PATTERN)
_REQUIRED = ("district_id", "base_url", "client_id", "client_secret")
ONEROSTER_PATH = VERSION_PATHS["1.1"]
VERSIONS = tuple(VERSION_PATHS)


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tenant_problem(entry: Any) -> str | None:
    """Why a secret entry is not a usable tenant (None: it is). Never quotes a value but the id."""
    if not isinstance(entry, Mapping):
        return "not a JSON object"
    missing = [k for k in _REQUIRED if not isinstance(entry.get(k), str) or not entry[k].strip()]
    if missing:
        return f"lacks {', '.join(missing)}"
    if not _DISTRICT_ID.fullmatch(entry["district_id"]):
        return "district_id is not 1-64 letters, digits, '-' or '_'"
    if not _https(entry["base_url"]):
        return "base_url is not an https URL"
    version = version_of(entry["base_url"])
    if version is None:
        paths = " or ".join(VERSION_PATHS.values())
        return f"base_url lacks the OneRoster path: it must end with {paths}"
    if "version" in entry and str(entry["version"]).strip() != version:
        return f"version is not {version}, the version of base_url's path (one of {', '.join(VERSIONS)})"
    auth = entry.get("auth", OAUTH1)
    if auth not in AUTH_METHODS:
        return f"auth is not one of {', '.join(AUTH_METHODS)}"
    if auth == OAUTH2 and not (isinstance(entry.get("token_url"), str) and _https(entry["token_url"])):
        return "auth is oauth2 but token_url is not an https URL"
    if "scope" in entry and (not isinstance(entry["scope"], str) or len(entry["scope"]) > 2000):
        return "scope is not a string of space-separated scopes (at most 2,000 characters)"
    return None


def _https(value: str) -> bool:
    url = urlsplit(value.strip())
    return bool(url.netloc) and (url.scheme == "https" or (url.scheme == "http" and _loopback(url.hostname)))


def parse_tenants(value: Any, *, reserved: Callable[[str], bool] = lambda _: False) -> list[OneRosterTenant]:
    """The usable tenants of the secret's value (`{"tenants": [...]}`; None or no list: none).

    District ids are storage keys, so they must be unique across sources: a tenant whose id is
    another source's id form (`reserved`; the wiring passes Clever's: 24 hex digits) or repeats
    an earlier tenant's is left out, so no two districts ever share a roster partition."""
    entries = value.get("tenants") if isinstance(value, Mapping) else None
    if not isinstance(entries, list):
        return []
    seen: set[str] = set()
    tenants: list[OneRosterTenant] = []
    for position, entry in enumerate(entries):
        problem = tenant_problem(entry)
        if problem is None and entry["district_id"] in seen:
            problem = "district_id is already used by another tenant"
        if problem is None and reserved(entry["district_id"]):
            problem = "district_id has another source's id form (24 hex digits: Clever's)"
        if problem is not None:
            district = entry.get("district_id") if isinstance(entry, Mapping) else None
            shown = district if isinstance(district, str) and _DISTRICT_ID.fullmatch(district) else None
            name = entry.get("name") if isinstance(entry, Mapping) else None
            name = name[:100] if isinstance(name, str) else None
            logger.error(
                f"OneRoster tenant {shown or f'at position {position}'} left out: {problem}",
                extra={"position": position, "district_id": shown, "tenant": name, "problem": problem},
            )
            continue
        seen.add(entry["district_id"])
        tenants.append(
            OneRosterTenant(
                district_id=entry["district_id"],
                name=str(entry.get("name") or ""),
                base_url=entry["base_url"].strip(),
                client_id=entry["client_id"],
                client_secret=entry["client_secret"],
                auth=entry.get("auth", OAUTH1),
                token_url=str(entry.get("token_url") or "").strip(),
                scope=entry.get("scope"),
            )
        )
    return tenants


class OneRosterSource:
    """Districts are the tenants; each is read by its own signed client."""

    name = SOURCE_NAME

    def __init__(
        self,
        tenants: Sequence[OneRosterTenant],
        limits: OneRosterLimits | None = None,
        *,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._tenants = {t.district_id: t for t in tenants}
        self._limits = limits
        self._sleep = sleep
        self._open: list[OneRosterClient] = []

    def district_ids(self) -> list[str]:
        return sorted(self._tenants)

    def district(self, district_id: str) -> OneRosterClient | None:
        tenant = self._tenants.get(district_id)
        if tenant is None:
            return None
        client = OneRosterClient(tenant, self._limits, sleep=self._sleep)
        self._open.append(client)
        return client

    def close(self) -> None:
        for client in self._open:
            client.close()
        self._open.clear()
