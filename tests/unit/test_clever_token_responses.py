"""Malformed Clever token responses (/oauth/tokens): each is a CleverProtocolError naming what is
wrong, never a token or the client secret. Served by a scripted requests session (no socket)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from rostersync.errors import CleverError, CleverProtocolError
from rostersync.settings import Settings
from rostersync.sources.clever.client import CleverClient, CleverCredentials

SECRET_VALUE = "s3cr3t-value-never-in-errors"


class ScriptedSession:
    """A requests session whose GETs answer one scripted response (no socket)."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        self.requests.append((url, kwargs))
        response = requests.Response()
        response.status_code = self.status
        response._content = self.body
        response.headers["Content-Type"] = self.content_type
        response.url = url
        return response

    def close(self) -> None:
        pass


def _client(status: int, body: Any, content_type: str = "application/json") -> CleverClient:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    settings = Settings(
        CLEVER_OAUTH_BASE="https://clever.example", CLEVER_API_BASE="https://api.clever.example"
    )
    session = ScriptedSession(status, raw, content_type)
    return CleverClient(settings, CleverCredentials("id", SECRET_VALUE), session=session)  # type: ignore[arg-type]


def _entry(district: str, token: str = "tok") -> dict[str, Any]:
    return {"owner": {"type": "district", "id": district}, "access_token": token}


def test_a_well_formed_token_response_maps_districts_to_tokens() -> None:
    client = _client(200, {"data": [_entry("d1", "t1"), _entry("d2", "t2")]})
    assert client.district_tokens() == {"d1": "t1", "d2": "t2"}
    url, kwargs = client._session.requests[0]  # type: ignore[attr-defined]
    assert url == "https://clever.example/oauth/tokens"
    assert kwargs["params"] == {"owner_type": "district"} and kwargs["allow_redirects"] is False


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>maintenance</html>", "200 with a body that is not valid JSON"),
        (b'{"data": [', "200 with a body that is not valid JSON"),
        ([_entry("d1")], "200 with a JSON body that is not an object"),
        ({"tokens": [_entry("d1")]}, "200 without a `data` list"),
        ({"data": {"d1": "tok"}}, "200 without a `data` list"),
        (
            {"data": [_entry("d1"), {"access_token": "tok"}]},
            "token entry without a district owner or access_token",
        ),
        (
            {"data": [{"owner": {"type": "district", "id": "d1"}}]},
            "token entry without a district owner or access_token",
        ),
        (
            {"data": [{"owner": {"type": "school", "id": "s1"}, "access_token": "t"}]},
            "token entry without a district owner or access_token",
        ),
        (
            {"data": [{"owner": "d1", "access_token": "t"}]},
            "token entry without a district owner or access_token",
        ),
        ({"data": [_entry("d1", 42)]}, "token entry without a district owner or access_token"),  # type: ignore[arg-type]
        ({"data": ["tok"]}, "token entry without a district owner or access_token"),
    ],
    ids=[
        "html",
        "truncated-json",
        "a-list",
        "no-data",
        "data-not-a-list",
        "no-owner",
        "no-token",
        "school-owner",
        "owner-not-an-object",
        "token-not-a-string",
        "entry-not-an-object",
    ],
)
def test_a_malformed_token_response_is_a_protocol_error(body: Any, reason: str) -> None:
    with pytest.raises(
        CleverProtocolError, match=rf"^Clever HTTP 200 on /oauth/tokens: {re.escape(reason)}$"
    ) as raised:
        _client(200, body).district_tokens()
    assert SECRET_VALUE not in str(raised.value) and "tok" not in str(raised.value).replace("token", "")


def test_a_refused_token_request_is_a_clever_error_with_the_status() -> None:
    with pytest.raises(CleverError, match=r"^Clever HTTP 401 on /oauth/tokens: invalid_client$") as raised:
        _client(401, {"error": "invalid_client"}).district_tokens()
    assert not isinstance(raised.value, CleverProtocolError) and raised.value.status == 401
