"""Clever credentials from Secrets Manager, through Powertools Parameters (cached per container)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from rostersync.errors import RosterSyncError
from rostersync.sources.clever.client import CleverCredentials

# Cached across invocations of a warm container; a rotated secret is picked up within this time.
SECRET_CACHE_SECONDS = 300


def clever_credentials(secret_id: str) -> CleverCredentials:
    """`{"client_id": ..., "client_secret": ...}` from the secret; errors name the secret, never its value."""
    try:
        value = parameters.get_secret(secret_id, transform="json", max_age=SECRET_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError:
        raise RosterSyncError(f"could not read the Clever credentials secret {secret_id}") from None
    except parameters.exceptions.TransformParameterError:
        raise RosterSyncError(f"the Clever credentials secret {secret_id} is not JSON") from None
    if not isinstance(value, dict) or not value.get("client_id") or not value.get("client_secret"):
        raise RosterSyncError(f"the Clever credentials secret {secret_id} lacks client_id or client_secret")
    return CleverCredentials(client_id=str(value["client_id"]), client_secret=str(value["client_secret"]))


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
