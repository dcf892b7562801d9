"""Discovery follows `/oauth/tokens` page after page: no district past the first page drops out.

Against the Clever sandbox over HTTP, answering its tokens 200 (or 500) at a time behind relative
`next` links. The client secret goes with every page, so a link to another host, off the tokens
path, or back to a page already read is refused, naming the endpoint and never the secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from rostersync.errors import CleverProtocolError
from rostersync.settings import Settings
from rostersync.sources.clever.client import (
    _TOKEN_PAGES_MAX,
    CleverClient,
    CleverCredentials,
    build_session,
)
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig

DISTRICTS = tuple(
    DistrictSpec(f"Paged District {n:04d}", seed=20_000 + n, schools=1, students=1, teachers=1, sections=1)
    for n in range(1500)
)
PAGE = 200


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=DISTRICTS, tokens_page_size=PAGE)) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(sandbox: CleverSandbox) -> Iterator[None]:
    sandbox.faults.reset()
    sandbox.requests.clear()
    yield
    sandbox.faults.reset()


def _client(sandbox: CleverSandbox) -> CleverClient:
    settings = Settings().model_copy(  # type: ignore[call-arg]
        update={
            "clever_api_base": sandbox.api_base,
            "clever_oauth_base": sandbox.oauth_base,
            "clever_backoff_factor": 0.01,
            "clever_max_retries": 1,
        }
    )
    session = build_session(settings, sleeper=lambda _seconds: None)
    return CleverClient(settings, CleverCredentials(sandbox.client_id, sandbox.client_secret), session)


def _token_requests(sandbox: CleverSandbox) -> list[dict[str, str]]:
    return [entry.query for entry in sandbox.requests if entry.path == "/oauth/tokens"]


def test_fifteen_hundred_districts_over_eight_pages_are_all_discovered(sandbox: CleverSandbox) -> None:
    tokens = _client(sandbox).district_tokens()

    assert list(tokens) == [spec.id for spec in DISTRICTS]  # all of them, in Clever's order
    assert len(set(tokens.values())) == 1500
    requests = _token_requests(sandbox)
    assert len(requests) == 8  # 7 full pages of 200 and one of 100
    assert requests[0] == {"owner_type": "district"}
    cursors = [r.get("starting_after") for r in requests[1:]]
    assert cursors == [DISTRICTS[PAGE * k - 1].id for k in range(1, 8)]
    assert all(r["owner_type"] == "district" for r in requests)


def test_one_district_asked_for_by_id_is_one_page(sandbox: CleverSandbox) -> None:
    wanted = DISTRICTS[1234].id
    assert list(_client(sandbox).district_tokens(wanted)) == [wanted]
    assert _token_requests(sandbox) == [{"owner_type": "district", "district": wanted}]


def test_a_next_link_to_another_host_is_refused_before_the_secret_goes_there(sandbox: CleverSandbox) -> None:
    sandbox.faults.include_oauth = True
    sandbox.faults.off_host_next = True

    with pytest.raises(
        CleverProtocolError, match="/oauth/tokens: next link points to another host"
    ) as failure:
        _client(sandbox).district_tokens()

    assert sandbox.client_secret not in str(failure.value)
    assert len(_token_requests(sandbox)) == 1  # the trap host was never asked


def test_a_next_link_that_repeats_a_page_is_refused_instead_of_looping(sandbox: CleverSandbox) -> None:
    sandbox.faults.include_oauth = True
    sandbox.faults.repeat_cursor = True  # from the second page on, `next` names the same cursor

    with pytest.raises(CleverProtocolError, match="/oauth/tokens: next link repeats an earlier page"):
        _client(sandbox).district_tokens()

    assert len(_token_requests(sandbox)) == 2


def test_a_next_link_off_the_tokens_path_is_refused() -> None:
    body = {"data": [], "links": [{"rel": "next", "uri": "/v3.0/users?role=student"}]}
    with pytest.raises(CleverProtocolError, match="next link leaves /oauth/tokens"):
        CleverClient._next_tokens_page(body, "https://clever.com", set(), None)
    last = {"data": [], "links": [{"rel": "self", "uri": "/oauth/tokens?owner_type=district"}]}
    assert CleverClient._next_tokens_page(last, "https://clever.com", set(), None) is None


class _EndlessTokens:
    """A session whose every tokens page links a further, new page (no socket)."""

    def __init__(self) -> None:
        self.calls = 0

    def get(self, url: str, **_: object) -> requests.Response:
        self.calls += 1
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        next_uri = f"/oauth/tokens?owner_type=district&starting_after=d{self.calls}"
        response._content = json.dumps({"data": [], "links": [{"rel": "next", "uri": next_uri}]}).encode()
        return response

    def close(self) -> None:
        pass


def test_discovery_stops_at_its_page_bound_when_the_links_never_end() -> None:
    settings = Settings(  # type: ignore[call-arg]
        CLEVER_OAUTH_BASE="https://clever.example", CLEVER_API_BASE="https://api.clever.example"
    )
    session = _EndlessTokens()
    client = CleverClient(settings, CleverCredentials("id", "secret"), session=session)  # type: ignore[arg-type]

    with pytest.raises(CleverProtocolError, match=f"more than {_TOKEN_PAGES_MAX} pages of district tokens"):
        client.district_tokens()

    assert session.calls == _TOKEN_PAGES_MAX
