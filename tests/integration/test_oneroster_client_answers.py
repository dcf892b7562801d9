"""The OneRoster client against answers the sandbox does not give: a scripted HTTP server on
loopback answers each request with the next scripted status, headers and body (the sandbox,
tests/integration/test_oneroster_client.py, plays a well-behaved provider with knobs).

Answers here are what providers are seen to send: an error body in another shape than
`imsx_StatusInfo`, a 404 on a required collection, a 429 without `Retry-After`, a 200 without the
collection's list or with a record lacking its sourcedId, a `Link` back to the same page, and
records repeated across pages that still reach the count. Links a client is given to resume from
are refused before any request when they cannot be this tenant's.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rostersync.errors import OneRosterError, OneRosterProtocolError
from rostersync.sources.oneroster.client import (
    OneRosterClient,
    OneRosterLimits,
    OneRosterTenant,
    imsx_reason,
)
from rostersync.sources.oneroster.resources import Resource

DISTRICT = "4299998"
BASE = "/ims/oneroster/v1p1"
JSON = {"Content-Type": "application/json"}


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-able, or bytes as they are
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    reason: str | None = None


class ScriptedProvider(ThreadingHTTPServer):
    """Answers requests in order from `script`; `seen` keeps each request's path and query."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[Answer] = []
        self.seen: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{BASE}"


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedProvider

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        answer = self.server.script.pop(0) if self.server.script else Answer(500, {"message": "unscripted"})
        body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.headers.items():
            self.send_header(name, value.replace("{path}", self.path))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def _server() -> Iterator[ScriptedProvider]:
    server = ScriptedProvider()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def provider(_server: ScriptedProvider) -> ScriptedProvider:
    """One server for the module, its script and request log fresh for each test."""
    _server.script, _server.seen = [], []
    return _server


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def reader(base_url: str, sleeps: Sleeps | None = None) -> OneRosterClient:
    tenant = OneRosterTenant(DISTRICT, "Scripted SD", base_url, "key", "s3cr3t-never-logged")
    return OneRosterClient(
        tenant,
        OneRosterLimits(page_limit=2, max_retries=2, backoff_factor=0.5),
        sleep=sleeps if sleeps is not None else Sleeps(),
        jitter=lambda: 0.0,
    )


def orgs(*ids: str) -> dict[str, Any]:
    return {"orgs": [{"sourcedId": i, "status": "active", "name": f"Org {i}", "type": "school"} for i in ids]}


def counted(total: int) -> dict[str, str]:
    return {**JSON, "X-Total-Count": str(total)}


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(404, {"message": "no such collection"}), "no such collection"),
        (Answer(404, {"error": "", "error_description": "tenant unknown"}), "tenant unknown"),
        (
            Answer(404, {"imsx_statusInfo": [{"imsx_codeMajor": "failure", "imsx_description": "unknown"}]}),
            "failure: unknown",
        ),
        (Answer(404, {"detail": "not a field we read"}, reason="Not Found"), "Not Found"),
        (Answer(404, b"{not json", reason="Not Found"), "Not Found"),
        (
            Answer(404, b"<html>lost</html>", {"Content-Type": "text/html"}, "Gone Away"),
            "HTML error page \\(Gone Away\\)",
        ),
        (Answer(404, b"nothing", {"Content-Type": "text/plain"}, "Not Found"), "Not Found"),
    ],
)
def test_a_required_collection_that_is_not_found_fails_at_once_with_the_providers_reason(
    provider: ScriptedProvider, answer: Answer, reason: str
) -> None:
    provider.script = [answer]
    sleeps = Sleeps()
    with pytest.raises(
        OneRosterError, match=f"OneRoster HTTP 404 on district {DISTRICT} .*/users: {reason}$"
    ):
        list(reader(provider.base_url, sleeps).pages(Resource.USERS))
    assert len(provider.seen) == 1 and sleeps == []  # not retried


def test_an_error_body_is_clipped_and_carries_no_secret(provider: ScriptedProvider) -> None:
    provider.script = [Answer(404, {"message": "x" * 500})]
    with pytest.raises(OneRosterError, match=r": x{160}$") as caught:
        list(reader(provider.base_url).pages(Resource.USERS))
    assert "s3cr3t" not in str(caught.value)


def test_a_429_without_retry_after_waits_the_backoff(provider: ScriptedProvider) -> None:
    provider.script = [Answer(429, {"message": "slow down"}), Answer(200, orgs("o1"), counted(1))]
    sleeps = Sleeps()
    pages = list(reader(provider.base_url, sleeps).pages(Resource.ORGS))
    assert [r["sourcedId"] for p in pages for r in p.records] == ["o1"]
    assert sleeps == [0.5]  # backoff_factor * 2**0, no jitter


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"users": {"sourcedId": "u1"}}, "200 without the `orgs` list of OneRoster 1.1"),
        (["o1"], "200 without the `orgs` list of OneRoster 1.1"),
        (
            {"orgs": [{"sourcedId": "o1"}, {"name": "no id"}]},
            "orgs page 0 holds a record without a `sourcedId`",
        ),
        ({"orgs": ["o1"]}, "orgs page 0 holds a record without a `sourcedId`"),
    ],
)
def test_a_200_that_breaks_oneroster_fails_the_listing(
    provider: ScriptedProvider, body: Any, why: str
) -> None:
    provider.script = [Answer(200, body)]
    with pytest.raises(OneRosterProtocolError, match=f"HTTP 200 on district {DISTRICT} .*/orgs: {why}"):
        list(reader(provider.base_url).pages(Resource.ORGS))


# ------------------------------------------------------------------------------ listing


def test_a_next_link_back_to_the_same_page_fails_the_listing(provider: ScriptedProvider) -> None:
    provider.script = [Answer(200, orgs("o1", "o2"), {**JSON, "Link": '<{path}>; rel="next"'})]
    pages = reader(provider.base_url).pages(Resource.ORGS)
    with pytest.raises(OneRosterProtocolError, match="next link repeats an earlier page"):
        next(pages)
    assert len(provider.seen) == 1


def test_records_repeated_across_pages_that_still_reach_the_count_are_dropped_and_logged(
    provider: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    provider.script = [
        Answer(200, orgs("o1", "o2"), counted(3)),
        Answer(200, orgs("o2", "o3"), counted(3)),  # the order moved: o2 again, and the last one
    ]
    with caplog.at_level(logging.WARNING):
        pages = list(reader(provider.base_url).pages(Resource.ORGS))
    assert [[r["sourcedId"] for r in p.records] for p in pages] == [["o1", "o2"], ["o3"]]
    assert pages[-1].next is None and len(provider.seen) == 2  # the count is reached: no third request
    assert "OneRoster records repeated across pages were dropped" in caplog.text


# ------------------------------------------------------------------------ refused links


def test_a_tenant_whose_base_url_is_not_http_is_refused() -> None:
    with pytest.raises(OneRosterError, match="the tenant's base_url is not an http\\(s\\) URL"):
        reader("ftp://provider.example/ims/oneroster/v1p1")


def test_a_resume_link_already_read_or_not_on_the_tenants_server_is_refused_before_any_request(
    provider: ScriptedProvider,
) -> None:
    client = reader(provider.base_url)
    link = f"{BASE}/orgs?limit=2&offset=2&sort=sourcedId&orderBy=asc"
    with pytest.raises(OneRosterProtocolError, match="next link repeats an earlier page"):
        next(client.pages(Resource.ORGS, link, seen=[link]))
    bad_port = f"http://127.0.0.1:99999{link}"  # urllib refuses the port
    with pytest.raises(OneRosterProtocolError, match="link points to another host; refused"):
        next(client.pages(Resource.ORGS, bad_port))
    assert provider.seen == [] and client.requests == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"IMSX_STATUSINFO": {"imsx_codeMajor": "failure", "imsx_description": ""}}, "failure"),
        ({"imsx_StatusInfo": []}, None),
        ({"imsx_codeMajor": "", "imsx_description": None}, None),
        ({"imsx_codeMajor": 3}, None),
        ("failure", None),
    ],
)
def test_imsx_reasons_are_read_in_any_case_and_nothing_is_made_up(body: Any, reason: str | None) -> None:
    assert imsx_reason(body) == reason
