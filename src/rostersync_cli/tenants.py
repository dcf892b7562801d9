"""Support's OneRoster tenant commands: `rostersync tenant add|show|remove`, and what
`rostersync districts` says of each district's connection (provider, version, authentication).

A tenant lives in a secret of its own, `<ONEROSTER_TENANT_SECRET_PREFIX><district id>` (the value
one tenant entry, tagged with its provider so discovery names it), written, read and removed
through Secrets Manager; the night lists those secrets and each district's fetch reads its own
(`rostersync.sources.oneroster.source`). `add` checks the entry with the night's own rule
(`tenant_problem`) before writing anything; the client secret is read from a file or stdin,
never from the command line (shell history, the process list), and never printed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from rostersync.adapters.secrets_manager import deleted, secret_names
from rostersync.errors import DistrictSettingsInvalid, RosterSyncError
from rostersync.settings import Settings, get_settings
from rostersync.sources import base_name, label
from rostersync.sources.clever.normalize import is_clever_id
from rostersync.sources.oneroster.client import OAUTH1, OAUTH2, OneRosterTenant
from rostersync.sources.oneroster.profile import TENANTS_LABEL
from rostersync.sources.oneroster.resources import DEFAULT_PROVIDER, SOURCE_NAME
from rostersync.sources.oneroster.source import (
    PROVIDER_TAG,
    OneRosterSource,
    TenantSecrets,
    read_tenants,
    tenant_problem,
)

# A removed tenant's secret can be restored this long (`aws secretsmanager restore-secret`); the
# night stops listing it at once (ListSecrets leaves out secrets scheduled for deletion).
RECOVERY_DAYS = 7
AUTH_LABELS = {OAUTH1: "OAuth 1.0a (signed)", OAUTH2: "OAuth 2.0 (client credentials)"}
CLEVER_CONNECTION = ("Clever", "v3.0", "OAuth bearer (district token)")


class TenantError(RosterSyncError):
    """What support must correct; the message names the field or the secret, never a credential."""


@dataclass(frozen=True)
class TenantInput:
    district_id: str
    base_url: str
    client_id: str
    client_secret: str
    name: str = ""
    auth: str = OAUTH1
    token_url: str = ""
    scope: str | None = None
    provider: str = ""
    version: str = ""

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "district_id": self.district_id,
            "name": self.name,
            "base_url": self.base_url.strip(),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.auth != OAUTH1:
            entry["auth"] = self.auth
        if self.token_url:
            entry["token_url"] = self.token_url.strip()
        if self.scope is not None:
            entry["scope"] = self.scope
        if self.provider:
            entry["provider"] = self.provider.strip()
        if self.version:
            entry["version"] = self.version.strip()
        return entry


def read_client_secret(path: str) -> str:
    """The client secret from a file, or from stdin for "-" (one line; the newline dropped)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TenantError(f"--client-secret-file: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TenantError(f"--client-secret-file: {path} is not UTF-8 text") from None
    secret = text.strip("\r\n")
    if not secret.strip():
        raise TenantError(f"--client-secret-file: {'stdin' if path == '-' else path} holds no client secret")
    if "\n" in secret:
        raise TenantError("--client-secret-file: the client secret must be one line")
    return secret


def _client() -> Any:
    return boto3.client("secretsmanager")


def secret_json(secret_id: str, label: str) -> Any:
    """The secret's JSON value as it is now (support just wrote it: no cache), None when there is
    no such secret; a failure names the secret, never its value."""
    try:
        text = _client().get_secret_value(SecretId=secret_id)["SecretString"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException" or deleted(exc.response):
            return None  # none, or removed (`tenant remove`) and not restored
        raise TenantError(f"could not read the {label} {secret_id} ({code})") from None
    try:
        return json.loads(text)
    except ValueError:
        raise TenantError(f"the {label} {secret_id} is not JSON") from None


def _secrets(settings: Settings) -> TenantSecrets:
    prefix = settings.oneroster_tenant_secret_prefix
    if not prefix:
        raise TenantError("ONEROSTER_TENANT_SECRET_PREFIX is empty: tenant secrets are switched off")
    return TenantSecrets(prefix, secret_json, secret_names)


def add_tenant(tenant: TenantInput, settings: Settings | None = None) -> str:
    """Check the tenant as the night does, then write (or replace) its secret; its name."""
    settings = settings or get_settings()
    entry = tenant.entry()
    problem = tenant_problem(entry)
    if problem is None and is_clever_id(tenant.district_id):
        problem = "district_id has another source's id form (24 hex digits: Clever's)"
    if problem is not None:
        raise TenantError(f"the tenant of district {tenant.district_id[:64]} is not usable: {problem}")
    name = _secrets(settings).secret_id(tenant.district_id)
    value = json.dumps(entry)
    tags = [{"Key": PROVIDER_TAG, "Value": tenant.provider.strip() or DEFAULT_PROVIDER}]
    client = _client()
    try:
        client.create_secret(
            Name=name,
            SecretString=value,
            Description=f"RosterSync OneRoster tenant of district {tenant.district_id}",
            Tags=tags,
        )
        return name
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code not in ("ResourceExistsException", "InvalidRequestException"):
            raise TenantError(f"could not write the tenant secret {name} ({code})") from None
    try:
        if client.describe_secret(SecretId=name).get("DeletedDate"):  # `tenant remove`d: restore it
            client.restore_secret(SecretId=name)
        client.put_secret_value(SecretId=name, SecretString=value)
        client.tag_resource(SecretId=name, Tags=tags)
    except ClientError as exc:
        raise TenantError(
            f"could not write the tenant secret {name} ({exc.response.get('Error', {}).get('Code')})"
        ) from None
    return name


@dataclass(frozen=True)
class Shown:
    """A district's tenant as support sees it: where it lives, its fields but the client secret."""

    where: str
    tenant: OneRosterTenant | None
    problem: str | None = None
    shadowed: bool = False  # the document lists it too (its own secret wins)

    def lines(self) -> list[str]:
        out = [f"  where:         {self.where}"]
        if self.problem is not None:
            out.append(f"  NOT USABLE:    {self.problem}")
        t = self.tenant
        if t is not None:
            out += [
                f"  name:          {t.name}",
                f"  provider:      {t.provider}",
                f"  OneRoster:     {t.version}",
                f"  base_url:      {t.base_url}",
                f"  auth:          {AUTH_LABELS.get(t.auth, t.auth)}",
            ]
            if t.auth == OAUTH2:
                scope = "the version's read scopes" if t.scope is None else (t.scope or "(none asked)")
                out += [f"  token_url:     {t.token_url}", f"  scope:         {scope}"]
            out += [f"  client_id:     {t.client_id}", "  client_secret: (set; never shown)"]
        if self.shadowed:
            out.append("  note:          the tenants document lists it too; its own secret is used")
        return out


def show_tenant(district_id: str, settings: Settings | None = None) -> Shown | None:
    """The district's tenant (its own secret's, else the document's); None when neither has it."""
    settings = settings or get_settings()
    secrets = _secrets(settings)
    document = read_tenants(secret_json(settings.oneroster_secret_id, TENANTS_LABEL), reserved=is_clever_id)
    source = OneRosterSource(document.usable, broken=document.broken, secrets=secrets, reserved=is_clever_id)
    listed = any(t.district_id == district_id for t in document.usable) or district_id in document.broken
    own = secrets.read(secrets.secret_id(district_id), "OneRoster tenant secret") is not None
    where = (
        f"its own secret {secrets.secret_id(district_id)}"
        if own
        else f"the tenants document {settings.oneroster_secret_id}"
    )
    try:
        tenant = source.tenant(district_id)
    except DistrictSettingsInvalid as exc:
        return Shown(where, None, exc.problem, shadowed=own and listed)
    if tenant is None:
        return None
    return Shown(where, tenant, shadowed=own and listed)


def remove_tenant(district_id: str, settings: Settings | None = None) -> str:
    """Schedule the district's tenant secret for deletion (restorable for RECOVERY_DAYS); its name."""
    name = _secrets(settings or get_settings()).secret_id(district_id)
    try:
        _client().delete_secret(SecretId=name, RecoveryWindowInDays=RECOVERY_DAYS)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise TenantError(f"district {district_id} has no tenant secret ({name})") from None
        raise TenantError(f"could not remove the tenant secret {name} ({code})") from None
    return name


def connections(sources: dict[str, str], settings: Settings | None = None) -> dict[str, tuple[str, str, str]]:
    """(provider, version, authentication) of each district (id -> its stored source name), as
    its source connects to it tonight: Clever's one API, or the district's OneRoster tenant."""
    settings = settings or get_settings()
    out: dict[str, tuple[str, str, str]] = {}
    oneroster: OneRosterSource | None = None
    for district_id, source in sources.items():
        if base_name(source) != SOURCE_NAME:
            out[district_id] = CLEVER_CONNECTION if source == "clever" else (label(source), "-", "-")
            continue
        if oneroster is None:
            try:
                document = read_tenants(
                    secret_json(settings.oneroster_secret_id, TENANTS_LABEL), reserved=is_clever_id
                )
                oneroster = OneRosterSource(
                    document.usable,
                    broken=document.broken,
                    secrets=_secrets(settings) if settings.oneroster_tenant_secret_prefix else None,
                    reserved=is_clever_id,
                )
            except RosterSyncError:
                oneroster = OneRosterSource([])
        try:
            tenant = oneroster.tenant(district_id)
        except DistrictSettingsInvalid:
            out[district_id] = (label(source), "?", "tenant not usable")
            continue
        if tenant is None:
            out[district_id] = (label(source), "-", "no tenant")
        else:
            out[district_id] = (tenant.provider, f"OneRoster {tenant.version}", AUTH_LABELS[tenant.auth])
    return out
