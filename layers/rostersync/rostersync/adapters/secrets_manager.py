"""Secrets from Secrets Manager, through Powertools Parameters (cached per container): the
sources' (each source's profile parses its own), and the report link key."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import BotoCoreError, ClientError

from rostersync.errors import RosterSyncError
from rostersync.sources.clever.client import CleverCredentials
from rostersync.sources.clever.profile import CREDENTIALS_LABEL, parse_credentials

# Cached across invocations of a warm container; a rotated secret is picked up within this time.
SECRET_CACHE_SECONDS = 300


def secret_json(secret_id: str, label: str = "secret") -> Any:
    """The secret's JSON value, or None when there is no such secret (a source then decides: no
    districts, or an error). Any other failure names the secret (`label`, e.g. "Clever credentials
    secret") and never its value."""
    try:
        return parameters.get_secret(secret_id, transform="json", max_age=SECRET_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as exc:
        # Powertools wraps the SDK's error (implicitly chained).
        cause = exc.__cause__ or exc.__context__
        response = getattr(cause, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        if code == "ResourceNotFoundException" or deleted(response):
            return None
        raise RosterSyncError(f"could not read the {label} {secret_id}") from None
    except parameters.exceptions.TransformParameterError:
        raise RosterSyncError(f"the {label} {secret_id} is not JSON") from None


def deleted(response: Any) -> bool:
    """A secret scheduled for deletion (restorable for a while) answers InvalidRequestException:
    it is gone, as far as the night is concerned."""
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return error.get("Code") == "InvalidRequestException" and "delet" in str(error.get("Message", ""))


def secret_names(prefix: str, label: str = "secrets", client: Any = None) -> dict[str, dict[str, str]]:
    """The names of the secrets whose name starts with `prefix` (each with its tags), every page
    of ListSecrets (at most 100 a page) read; values are never read here. A failure names the
    prefix (`label`, e.g. "OneRoster tenant secrets"), never a value."""
    found: dict[str, dict[str, str]] = {}
    try:
        client = client or boto3.client("secretsmanager")  # once a night, at discovery
        pages = client.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}], PaginationConfig={"PageSize": 100}
        )
        for page in pages:
            for secret in page.get("SecretList", []):
                name = secret.get("Name")
                # The name filter matches a prefix regardless of letter case: keep exact ones.
                if isinstance(name, str) and name.startswith(prefix):
                    found[name] = {str(t.get("Key")): str(t.get("Value")) for t in secret.get("Tags") or []}
    except (BotoCoreError, ClientError):
        raise RosterSyncError(f"could not list the {label} under {prefix}") from None
    return found


def clever_credentials(secret_id: str) -> CleverCredentials:
    """`{"client_id": ..., "client_secret": ...}` from the secret; errors name the secret, never its value."""
    return parse_credentials(secret_json(secret_id, CREDENTIALS_LABEL), secret_id)


def report_link_key(secret_id: str) -> bytes:
    """The HMAC key report links are signed with (the secret's whole string), cached like the above."""
    try:
        value = parameters.get_secret(secret_id, max_age=SECRET_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError:
        raise RosterSyncError(f"could not read the report link key secret {secret_id}") from None
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str) or not value:
        raise RosterSyncError(f"the report link key secret {secret_id} is empty")
    return value.encode("utf-8")


def oneroster_secret(secret_id: str) -> dict[str, Any] | None:
    """The OneRoster tenants secret's JSON (`{"tenants": [...]}`), or None when there is no such
    secret: no OneRoster districts, not an error. Any other failure names the secret, never its value."""
    value = secret_json(secret_id, "OneRoster tenants secret")
    if value is not None and not isinstance(value, dict):
        raise RosterSyncError(f"the OneRoster tenants secret {secret_id} is not a JSON object")
    return value
