"""The OneRoster source (`ports.Source`): the tenants support configured, one district each.

A tenant is `{"district_id", "name", "base_url", "client_id", "client_secret"}`, listed in the
ONEROSTER_SECRET_ID secret (`{"tenants": [...]}`) or kept in a secret of its own named
`<ONEROSTER_TENANT_SECRET_PREFIX><district_id>` (the value one entry; its `district_id` may be
left out, and must be the name's when given), so a district is added, rotated or removed without
touching another's (`rostersync tenant add|show|remove`); a district with both is read from its
own secret. Discovery lists the secrets' names only; each district's fetch reads its own.

A tenant whose provider issues OAuth 2.0 tokens (client credentials) adds `"auth": "oauth2"` and
`"token_url"` (https), and may name its own `"scope"` (space-separated; `""` asks none, for
servers that refuse scoped requests); without `auth` a tenant signs with OAuth 1.0a, as ClassLink
Roster Server asks. `"provider"` is how reports and alerts name the district's provider (ClassLink
unless given: "Infinite Campus", "Aeries", ...). `district_id` is chosen by support (the
district's 7-digit NCES LEA id is a good choice): it must match `records.DISTRICT_ID_PATTERN`
and be unique across all sources. `base_url` is the OneRoster endpoint, path included
(`https://<tenant>.oneroster.com/ims/oneroster/v1p1` for 1.1, `.../ims/oneroster/rostering/v1p2`
for 1.2, which also names the version; an optional `version` must agree): the bare server address a provider's
console shows answers 404 to every collection, so it is refused when the tenant is read.

A tenant that breaks a rule fails its own district only: when its district id is usable, the
district is still listed and its fetch fails with `settings_invalid` (one `sync_failed` alert
naming the district and the rule, never a credential); an entry without a usable id cannot be
named, so it is left out and logged by its position. The others sync.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rostersync.errors import DistrictSettingsInvalid, RosterSyncError
from rostersync.observability import logger
from rostersync.records import DISTRICT_ID_PATTERN, PROVIDER_PATTERN
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
from rostersync.sources.oneroster.resources import DEFAULT_PROVIDER, SOURCE_NAME, source_name
from rostersync.sources.profile import ListSecrets, ReadSecret

_DISTRICT_ID = re.compile(DISTRICT_ID_PATTERN)
_PROVIDER = re.compile(PROVIDER_PATTERN)
TENANT_LABEL = "OneRoster tenant secret"
TENANT_LISTING_LABEL = "OneRoster tenant secrets"
# A tenant secret's tag naming its provider (`rostersync tenant add` sets it): discovery reads it
# from the listing, so a new district's connection alert names its provider before any fetch.
PROVIDER_TAG = "provider"
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
    if "provider" in entry and not (
        isinstance(entry["provider"], str) and _PROVIDER.fullmatch(entry["provider"].strip())
    ):
        return "provider is not a name of 1-48 letters, digits, spaces or . & ' ( ) -"
    return None


def provider_of(entry: Mapping[str, Any]) -> str:
    """The provider a usable tenant entry names (ClassLink unless it names one)."""
    provider = entry.get("provider")
    return provider.strip() if isinstance(provider, str) and provider.strip() else DEFAULT_PROVIDER


def usable_id(entry: Any, reserved: Callable[[str], bool] = lambda _: False) -> str | None:
    """The entry's district id when a district can be named by it (well formed, not another
    source's id form), else None."""
    district = entry.get("district_id") if isinstance(entry, Mapping) else None
    if isinstance(district, str) and _DISTRICT_ID.fullmatch(district) and not reserved(district):
        return district
    return None


def tenant_of(entry: Mapping[str, Any]) -> OneRosterTenant:
    """The tenant of an entry `tenant_problem` passed."""
    return OneRosterTenant(
        district_id=entry["district_id"],
        name=str(entry.get("name") or ""),
        base_url=entry["base_url"].strip(),
        client_id=entry["client_id"],
        client_secret=entry["client_secret"],
        auth=entry.get("auth", OAUTH1),
        token_url=str(entry.get("token_url") or "").strip(),
        scope=entry.get("scope"),
        provider=provider_of(entry),
    )


def secret_tenant_problem(value: Any, district_id: str) -> str | None:
    """Why a tenant secret's value (one entry; named `<prefix><district_id>`) is not a usable
    tenant of that district (None: it is)."""
    if isinstance(value, Mapping) and "district_id" in value and value["district_id"] != district_id:
        return "its district_id is not the district id its secret's name ends with"
    return tenant_problem({"district_id": district_id, **value} if isinstance(value, Mapping) else value)


def _https(value: str) -> bool:
    url = urlsplit(value.strip())
    return bool(url.netloc) and (url.scheme == "https" or (url.scheme == "http" and _loopback(url.hostname)))


@dataclass
class Tenants:
    """The tenants document read: the usable tenants, and the districts whose entry breaks a rule
    (district id -> the rule), each failed by its own fetch."""

    usable: list[OneRosterTenant] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)


def read_tenants(value: Any, *, reserved: Callable[[str], bool] = lambda _: False) -> Tenants:
    """The tenants of the secret's value (`{"tenants": [...]}`; None or no list: none).

    District ids are storage keys, so they must be unique across sources: a tenant whose id is
    another source's id form (`reserved`; the wiring passes Clever's: 24 hex digits) or repeats
    an earlier tenant's is left out, so no two districts ever share a roster partition. Any
    other entry that breaks a rule is `broken`: its district is listed, and fails alone."""
    entries = value.get("tenants") if isinstance(value, Mapping) else None
    found = Tenants()
    if not isinstance(entries, list):
        return found
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        problem = tenant_problem(entry)
        district = usable_id(entry)
        if district is not None and district in seen:
            problem = "district_id is already used by another tenant"
            district = None
        elif district is not None and reserved(district):
            problem = "district_id has another source's id form (24 hex digits: Clever's)"
            district = None
        if problem is not None:
            shown = entry.get("district_id") if isinstance(entry, Mapping) else None
            shown = shown if isinstance(shown, str) and _DISTRICT_ID.fullmatch(shown) else None
            name = entry.get("name") if isinstance(entry, Mapping) else None
            name = name[:100] if isinstance(name, str) else None
            outcome = "fails tonight" if district is not None else "left out"
            logger.error(
                f"OneRoster tenant {shown or f'at position {position}'} {outcome}: {problem}",
                extra={"position": position, "district_id": shown, "tenant": name, "problem": problem},
            )
            if district is not None:
                seen.add(district)
                found.broken[district] = problem
            continue
        seen.add(entry["district_id"])
        found.usable.append(tenant_of(entry))
    return found


def parse_tenants(value: Any, *, reserved: Callable[[str], bool] = lambda _: False) -> list[OneRosterTenant]:
    """The usable tenants of the secret's value (`read_tenants`; the broken ones logged)."""
    return read_tenants(value, reserved=reserved).usable


@dataclass(frozen=True)
class TenantSecrets:
    """The tenant secrets under `prefix`: `names` lists them (with their tags), `read` reads one."""

    prefix: str
    read: ReadSecret
    names: ListSecrets

    def secret_id(self, district_id: str) -> str:
        return f"{self.prefix}{district_id}"

    def listed(self, reserved: Callable[[str], bool]) -> dict[str, str]:
        """District id -> source name (its provider tag's) of every tenant secret whose name ends
        with a usable district id; any other name is logged and left out."""
        listed: dict[str, str] = {}
        for name, tags in self.names(self.prefix, TENANT_LISTING_LABEL).items():
            if not name.startswith(self.prefix):
                continue
            district = name[len(self.prefix) :]
            if usable_id({"district_id": district}, reserved) is None:
                logger.error(
                    "OneRoster tenant secret left out: its name does not end with a usable district id",
                    extra={"secret": name[:300]},
                )
                continue
            provider = tags.get(PROVIDER_TAG, "").strip()
            listed[district] = source_name(provider if _PROVIDER.fullmatch(provider) else DEFAULT_PROVIDER)
        return listed


class OneRosterSource:
    """Districts are the tenants; each is read by its own signed client."""

    name = SOURCE_NAME

    def __init__(
        self,
        tenants: Sequence[OneRosterTenant],
        limits: OneRosterLimits | None = None,
        *,
        sleep: Sleep = time.sleep,
        broken: Mapping[str, str] | None = None,
        secrets: TenantSecrets | None = None,
        reserved: Callable[[str], bool] = lambda _: False,
    ) -> None:
        self._tenants = {t.district_id: t for t in tenants}
        self._broken = dict(broken or {})
        self._secrets = secrets
        self._reserved = reserved
        self._listed: dict[str, str] = {}
        self._limits = limits
        self._sleep = sleep
        self._open: list[OneRosterClient] = []

    def district_ids(self) -> list[str]:
        """The document's districts and those of the tenant secrets (names listed, none read)."""
        self._listed = self._secrets.listed(self._reserved) if self._secrets is not None else {}
        return sorted({*self._tenants, *self._broken, *self._listed})

    def source_of(self, district_id: str) -> str | None:
        """The district's source name, its provider's as far as discovery knows it: a tenant
        secret's provider tag, the document entry's provider (the fetch reads the tenant itself)."""
        if district_id in self._listed:
            return self._listed[district_id]
        tenant = self._tenants.get(district_id)
        if tenant is not None:
            return source_name(tenant.provider)
        return SOURCE_NAME if district_id in self._broken else None

    def tenant(self, district_id: str) -> OneRosterTenant | None:
        """The district's tenant: its own secret's, else the document's (None: neither lists it).
        A tenant that breaks a rule raises `DistrictSettingsInvalid` naming the district and the
        rule; an unreadable tenant secret too (its name, never its value)."""
        if (
            self._secrets is not None
            and not self._reserved(district_id)
            and _DISTRICT_ID.fullmatch(district_id)
        ):
            secret_id = self._secrets.secret_id(district_id)
            try:
                value = self._secrets.read(secret_id, TENANT_LABEL)
            except RosterSyncError as exc:
                raise DistrictSettingsInvalid(district_id, str(exc), SOURCE_NAME) from None
            if value is not None:
                problem = secret_tenant_problem(value, district_id)
                if problem is not None:
                    raise DistrictSettingsInvalid(
                        district_id, f"{problem} (tenant secret {secret_id})", _source_of_entry(value)
                    )
                return tenant_of({**value, "district_id": district_id})
        if district_id in self._broken:
            raise DistrictSettingsInvalid(
                district_id, f"{self._broken[district_id]} (OneRoster tenants secret)", SOURCE_NAME
            )
        return self._tenants.get(district_id)

    def district(self, district_id: str) -> OneRosterClient | None:
        tenant = self.tenant(district_id)
        if tenant is None:
            return None
        client = OneRosterClient(tenant, self._limits, sleep=self._sleep)
        self._open.append(client)
        return client

    def close(self) -> None:
        for client in self._open:
            client.close()
        self._open.clear()


def _source_of_entry(value: Any) -> str:
    """The source name a broken entry's provider gives, when its provider is usable."""
    provider = value.get("provider") if isinstance(value, Mapping) else None
    ok = isinstance(provider, str) and _PROVIDER.fullmatch(provider.strip())
    return source_name(provider.strip()) if ok else SOURCE_NAME  # type: ignore[union-attr]
