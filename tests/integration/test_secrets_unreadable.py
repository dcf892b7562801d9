"""Unreadable secrets, on Secrets Manager on the moto server: a secret that is missing, not JSON
or without its fields is a RosterSyncError naming the secret (never its value)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from rostersync.adapters.secrets_manager import clever_credentials, report_link_key
from rostersync.errors import RosterSyncError

SECRET_VALUE = "s3cr3t-value-never-in-errors"


def _secret(value: str | bytes | None = None) -> str:
    """A new secret holding `value` (None: the secret does not exist); its name."""
    name = f"rostersync/test/{uuid.uuid4().hex[:10]}"
    if value is not None:
        field = "SecretBinary" if isinstance(value, bytes) else "SecretString"
        boto3.client("secretsmanager").create_secret(Name=name, **{field: value})
    return name


# ------------------------------------------------------------------------ credentials secret


def test_the_credentials_are_read_from_the_secret(aws_env: dict[str, str]) -> None:
    name = _secret(json.dumps({"client_id": "abc", "client_secret": SECRET_VALUE}))
    credentials = clever_credentials(name)
    assert (credentials.client_id, credentials.client_secret) == ("abc", SECRET_VALUE)
    assert SECRET_VALUE not in repr(credentials)


def test_a_missing_credentials_secret_names_the_secret(aws_env: dict[str, str]) -> None:
    name = _secret(None)
    with pytest.raises(RosterSyncError, match=f"^could not read the Clever credentials secret {name}$"):
        clever_credentials(name)


def test_a_credentials_secret_that_is_not_json_says_so(aws_env: dict[str, str]) -> None:
    name = _secret(f"client_id=abc client_secret={SECRET_VALUE}")
    with pytest.raises(RosterSyncError, match=f"^the Clever credentials secret {name} is not JSON$"):
        clever_credentials(name)


@pytest.mark.parametrize(
    "value",
    [
        {"client_id": "abc"},
        {"client_secret": SECRET_VALUE},
        {"client_id": "", "client_secret": SECRET_VALUE},
        ["abc", SECRET_VALUE],
    ],
    ids=["no-secret", "no-id", "empty-id", "a-list"],
)
def test_a_credentials_secret_without_its_fields_says_which_secret(
    aws_env: dict[str, str], value: Any
) -> None:
    name = _secret(json.dumps(value))
    with pytest.raises(
        RosterSyncError, match=f"^the Clever credentials secret {name} lacks client_id or client_secret$"
    ):
        clever_credentials(name)


def test_the_report_link_key_is_the_secret_s_string_or_bytes(aws_env: dict[str, str]) -> None:
    assert report_link_key(_secret("k3y")) == b"k3y"
    assert report_link_key(_secret(b"\x00binary-key")) == b"\x00binary-key"


def test_a_missing_report_link_key_names_the_secret(aws_env: dict[str, str]) -> None:
    name = _secret(None)
    with pytest.raises(RosterSyncError, match=f"^could not read the report link key secret {name}$"):
        report_link_key(name)
