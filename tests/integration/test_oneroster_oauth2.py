"""OneRoster over OAuth 2.0 client credentials, against the sandbox's token endpoint (issue 24).

The sandbox grants Bearer tokens (RFC 6749 section 4.4) for the scopes asked, lets each expire
after its `expires_in`, and answers 401 for an expired or revoked token; the client is
requests-oauthlib's OAuth 2.0 session underneath.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from rostersync.errors import OneRosterError, OneRosterKeyRefused
from rostersync.sources.oneroster.client import (
    V1P1_SCOPES,
    OneRosterClient,
    OneRosterLimits,
    OneRosterTenant,
)
from rostersync.sources.oneroster.resources import Resource
from rostersync.sources.oneroster.source import parse_tenants
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec

DISTRICT = "4288888"


@pytest.fixture
def sandbox() -> Iterator[OneRosterSandbox]:
    spec = TenantSpec(DISTRICT, "Penn Forest SD (SIS, OAuth 2.0)", seed=11, auth="oauth2")
    with OneRosterSandbox([spec]) as box:
        yield box


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(box: OneRosterSandbox, *, clock: Clock | None = None, **entry: str) -> OneRosterClient:
    (tenant,) = parse_tenants({"tenants": [{**box.secret_value()["tenants"][0], **entry}]})
    reader = OneRosterClient(
        tenant,
        OneRosterLimits(page_limit=50, max_retries=2, backoff_factor=0.0),
        sleep=lambda _: None,
        jitter=lambda: 0.0,
        clock=clock or Clock(),
    )
    reader._session.trust_env = False
    return reader


def users(reader: OneRosterClient) -> list[dict]:
    return [r for page in reader.pages(Resource.USERS) for r in page.records]


def test_a_token_is_fetched_once_for_every_page_of_every_collection(sandbox: OneRosterSandbox) -> None:
    reader = make_client(sandbox)
    records = {r: [x for p in reader.pages(r) for x in p.records] for r in Resource}
    assert records[Resource.USERS] and records[Resource.DEMOGRAPHICS]
    data_requests = [e for e in sandbox.log if e.collection != "token"]
    assert len(data_requests) > len(Resource) and all(e.status == 200 for e in data_requests)
    assert sandbox.tokens_granted == 1


def test_the_same_records_come_over_oauth2_as_over_oauth1() -> None:
    specs = [
        TenantSpec("4288888", "A", seed=11, auth="oauth2"),
        TenantSpec("4288887", "A", seed=11),  # the same generated roster, signed with OAuth 1.0a
    ]
    with OneRosterSandbox(specs) as box:
        entries = box.secret_value()["tenants"]
        got = []
        for entry in entries:
            (tenant,) = parse_tenants({"tenants": [entry]})
            reader = OneRosterClient(tenant, OneRosterLimits(page_limit=50), sleep=lambda _: None)
            reader._session.trust_env = False
            got.append(sorted(str(r).replace(entry["district_id"], "D") for r in users(reader)))
    assert got[0] == got[1] and got[0]


def test_a_token_about_to_expire_is_renewed_before_the_next_page(sandbox: OneRosterSandbox) -> None:
    clock = Clock()
    reader = make_client(sandbox, clock=clock)
    pages = reader.pages(Resource.USERS)
    next(pages)
    clock.now += 3600 - 30  # inside the renewal margin of a one-hour token
    rest = list(pages)
    assert rest and sandbox.tokens_granted == 2
    assert all(e.status == 200 for e in sandbox.log if e.collection != "token")


def test_a_token_that_dies_in_the_middle_of_a_listing_is_renewed_without_failing_it(
    sandbox: OneRosterSandbox,
) -> None:
    sandbox.faults.max_page = 10  # six pages of users
    expected = sorted(r["sourcedId"] for r in users(make_client(sandbox)))
    sandbox.faults.revoke_tokens_after = 2  # every token dies after two pages, long before expires_in
    sandbox.tokens_granted = 0
    sandbox.log.clear()
    records = users(make_client(sandbox))
    assert sorted(r["sourcedId"] for r in records) == expected
    assert sandbox.tokens_granted >= 3
    assert [e.status for e in sandbox.log if e.collection == "users"].count(401) == sandbox.tokens_granted - 1


def test_a_token_refused_again_at_once_is_a_refused_key_not_a_loop(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.revoke_tokens_after = 0  # every token is refused on its first use
    reader = make_client(sandbox)
    with pytest.raises(OneRosterKeyRefused) as refused:
        users(reader)
    assert refused.value.status == 401
    assert sandbox.tokens_granted == 2  # the first token, and one renewal


def test_a_token_endpoint_that_refuses_the_client_is_a_refused_key_naming_the_token_endpoint(
    sandbox: OneRosterSandbox,
) -> None:
    reader = make_client(sandbox, client_secret="not-the-secret")
    with pytest.raises(OneRosterKeyRefused) as refused:
        users(reader)
    message = str(refused.value)
    assert refused.value.status == 401 and "token endpoint refused" in message and "invalid_client" in message
    assert "not-the-secret" not in message
    assert not [e for e in sandbox.log if e.collection == "users"]  # no data request without a token


def test_the_token_endpoint_s_5xx_and_429_are_retried_then_fail_as_a_source_error(
    sandbox: OneRosterSandbox,
) -> None:
    sandbox.faults.token_statuses = [503, 429]
    assert users(make_client(sandbox))  # two failures, then a token
    sandbox.faults.token_statuses = [500, 500, 500]
    with pytest.raises(OneRosterError) as failed:
        users(make_client(sandbox))
    assert not isinstance(failed.value, OneRosterKeyRefused) and failed.value.status == 500


def test_the_version_s_read_scopes_are_asked_and_a_tenant_may_name_its_own(sandbox: OneRosterSandbox) -> None:
    reader = make_client(sandbox)
    users(reader)
    (granted,) = [held[2] for held in sandbox._tokens.values()]
    assert granted == list(V1P1_SCOPES)
    # A tenant asking only roster-core: demographics are then refused (403) and left out, as a
    # district that did not share them; the roster itself still comes.
    core = make_client(sandbox, scope=V1P1_SCOPES[0])
    assert users(core)
    assert [r for p in core.pages(Resource.DEMOGRAPHICS) for r in p.records] == []
    assert [e.status for e in sandbox.log if e.collection == "demographics"][-1] == 403


def test_neither_the_secret_nor_the_token_reaches_a_log_line_even_at_debug(
    sandbox: OneRosterSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.faults.revoke_tokens_after = 1
    reader = make_client(sandbox)
    users(reader)
    secret = sandbox.specs[DISTRICT].secret()
    tokens = list(sandbox._tokens)
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert secret not in text and not any(token in text for token in tokens)
    assert secret not in repr(reader.__dict__) and not any(t in repr(reader.__dict__) for t in tokens)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"auth": "oauth3"}, "auth is not one of oauth1, oauth2"),
        ({"auth": "oauth2", "token_url": ""}, "token_url is not an https URL"),
        ({"auth": "oauth2", "token_url": "http://idp.example.org/token"}, "token_url is not an https URL"),
        ({"auth": "oauth2", "token_url": "https://idp.example.org/t", "scope": 7}, "scope is not a string"),
    ],
)
def test_a_malformed_oauth2_tenant_is_left_out_naming_the_rule(
    change: dict, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    entry = {
        "district_id": DISTRICT,
        "name": "X",
        "base_url": "https://sis.example.org/ims/oneroster/v1p1",
        "client_id": "id",
        "client_secret": "secret-value",
        **change,
    }
    assert parse_tenants({"tenants": [entry]}) == []
    assert problem in caplog.text and "secret-value" not in caplog.text


def test_an_oauth1_tenant_entry_needs_no_new_field() -> None:
    entry = {
        "district_id": DISTRICT,
        "name": "X",
        "base_url": "https://x.oneroster.com/ims/oneroster/v1p1",
        "client_id": "id",
        "client_secret": "s",
    }
    (tenant,) = parse_tenants({"tenants": [entry]})
    assert tenant == OneRosterTenant(DISTRICT, "X", entry["base_url"], "id", "s")
