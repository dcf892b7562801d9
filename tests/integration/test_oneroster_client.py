"""The OneRoster client against the OneRoster sandbox over HTTP on loopback (issue 12, Build 2).

The sandbox verifies every signature with oauthlib's server side (an independent verifier: the
client signs with requests-oauthlib's client, the server checks with oauthlib's
SignatureOnlyEndpoint, the tenant's secret, and a nonce accepted once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
import requests
from requests_oauthlib import OAuth1

from rostersync.errors import OneRosterError, OneRosterProtocolError
from rostersync.sources.oneroster.client import OneRosterClient, OneRosterLimits, OneRosterTenant
from rostersync.sources.oneroster.resources import Resource
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec

DISTRICT = "4299999"


@pytest.fixture
def sandbox() -> Iterator[OneRosterSandbox]:
    with OneRosterSandbox([TenantSpec(DISTRICT, "Keystone Valley SD", seed=7)]) as box:
        yield box


def tenant(box: OneRosterSandbox, secret: str | None = None) -> OneRosterTenant:
    entry = box.secret_value()["tenants"][0]
    return OneRosterTenant(
        district_id=entry["district_id"],
        name=entry["name"],
        base_url=entry["base_url"],
        client_id=entry["client_id"],
        client_secret=secret or entry["client_secret"],
    )


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(box: OneRosterSandbox, *, sleeps: Sleeps | None = None, **limits: float) -> OneRosterClient:
    return OneRosterClient(
        tenant(box),
        OneRosterLimits(**{"page_limit": 1000, "max_retries": 3, "backoff_factor": 0.5, **limits}),  # type: ignore[arg-type]
        sleep=sleeps if sleeps is not None else Sleeps(),
        jitter=lambda: 0.0,
    )


def all_records(reader: OneRosterClient, resource: Resource) -> list[dict]:
    return [r for page in reader.pages(resource) for r in page.records]


def test_every_request_is_signed_hmac_sha256_with_a_fresh_nonce(sandbox: OneRosterSandbox) -> None:
    reader = client(sandbox)
    users = all_records(reader, Resource.USERS)
    assert users and all(entry.status == 200 for entry in sandbox.log)
    assert {entry.signature_method for entry in sandbox.log} == {"HMAC-SHA256"}
    nonces = [entry.nonce for entry in sandbox.log]
    assert len(set(nonces)) == len(nonces) == reader.requests


def test_the_independent_verifier_refuses_a_replayed_or_wrongly_signed_request(
    sandbox: OneRosterSandbox,
) -> None:
    entry = sandbox.secret_value()["tenants"][0]
    url = f"{entry['base_url']}/orgs?limit=10&offset=0"
    signer = OAuth1(entry["client_id"], client_secret=entry["client_secret"], signature_method="HMAC-SHA256")
    prepared = requests.Request("GET", url, auth=signer).prepare()
    with requests.Session() as s:
        assert s.send(prepared).status_code == 200
        assert s.send(prepared).status_code == 401  # the same nonce again: a replay
        wrong = OAuth1(entry["client_id"], client_secret="not-the-secret", signature_method="HMAC-SHA256")
        assert s.get(url, auth=wrong).status_code == 401
        sha1 = OAuth1(entry["client_id"], client_secret=entry["client_secret"], signature_method="HMAC-SHA1")
        assert s.get(url, auth=sha1).status_code == 401
        assert s.get(url).status_code == 401


@pytest.mark.parametrize("link_header", [True, False])
def test_paging_with_a_capped_page_size_and_a_short_page(
    sandbox: OneRosterSandbox, link_header: bool
) -> None:
    sandbox.faults.max_page = 7
    sandbox.faults.link_header = link_header
    sandbox.faults.short_page = "users"  # the first page holds 3 while the total says more remain
    reader = client(sandbox)
    pages = list(reader.pages(Resource.USERS))
    expected = [u["sourcedId"] for u in sandbox.data[DISTRICT]["users"]]
    served = [e for e in sandbox.log if e.collection == "users"]
    assert len(pages[0].records) <= 3
    assert [e.query["offset"] for e in served][:3] == ["0", "3", "10"]
    got = [r["sourcedId"] for p in pages for r in p.records]
    # Parents are dropped at the edge; every other user arrives once, in sourcedId order.
    assert got == sorted(u for u in expected if not u.startswith("par-"))
    assert len(served) == len(pages)  # X-Total-Count ends the listing: no extra empty page
    assert pages[-1].next is None and all(p.next for p in pages[:-1])


def test_without_a_total_only_an_empty_page_ends_the_listing(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.max_page = 10
    sandbox.faults.total_header = False
    sandbox.faults.link_header = False
    orgs = all_records(client(sandbox), Resource.ORGS)
    assert len(orgs) == len(sandbox.data[DISTRICT]["orgs"])
    served = [e for e in sandbox.log if e.collection == "orgs"]
    assert len(served) == 2 and served[-1].query["offset"] == str(len(orgs))


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_failures_are_retried_with_backoff(sandbox: OneRosterSandbox, status: int) -> None:
    sandbox.faults.statuses = [status, status]
    sleeps = Sleeps()
    orgs = all_records(client(sandbox, sleeps=sleeps), Resource.ORGS)
    assert orgs
    assert [e.status for e in sandbox.log][:3] == [status, status, 200]
    assert sleeps == ([1.0, 1.0] if status == 429 else [0.5, 1.0])  # Retry-After, else backoff


def test_a_retry_after_given_as_an_http_date_is_honoured_and_capped(sandbox: OneRosterSandbox) -> None:
    # RFC 9110 allows Retry-After as a date; it was read as "no Retry-After" and the backoff applied.
    sandbox.faults.statuses = [429, 429]
    sandbox.faults.retry_after = formatdate(time.time() + 20, usegmt=True)
    sleeps = Sleeps()
    assert all_records(client(sandbox, sleeps=sleeps, max_retry_wait=60), Resource.ORGS)
    assert len(sleeps) == 2 and all(17 <= s <= 20 for s in sleeps), sleeps
    capped = Sleeps()
    sandbox.faults.statuses = [429]
    assert all_records(client(sandbox, sleeps=capped, max_retry_wait=5), Resource.ORGS)
    assert capped == [5]
    sandbox.faults.statuses, sandbox.faults.retry_after = [429], "soon, maybe"  # unreadable: backoff
    unreadable = Sleeps()
    assert all_records(client(sandbox, sleeps=unreadable), Resource.ORGS)
    assert unreadable == [0.5]


def test_an_html_page_with_200_is_retried(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.html_ok = 1
    assert all_records(client(sandbox), Resource.ORGS)
    assert len(sandbox.log) == 2


def test_retries_are_bounded(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.statuses = [503] * 10
    sleeps = Sleeps()
    with pytest.raises(OneRosterError) as failed:
        all_records(client(sandbox, sleeps=sleeps), Resource.ORGS)
    assert failed.value.status == 503 and "server error" in str(failed.value)
    assert len(sandbox.log) == 4 and len(sleeps) == 3
    sandbox.faults.statuses = []
    sandbox.faults.html_ok = 10
    with pytest.raises(OneRosterProtocolError, match="HTML"):
        all_records(client(sandbox), Resource.ORGS)


def test_timeouts_are_retried_then_fail_the_district(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.slow_seconds, sandbox.faults.slow_requests = 0.5, 1
    assert all_records(client(sandbox, read_timeout=0.2), Resource.ORGS)
    sandbox.faults.slow_seconds, sandbox.faults.slow_requests = 0.5, 10
    with pytest.raises(OneRosterError, match="timed out after retries") as failed:
        all_records(client(sandbox, read_timeout=0.2, max_retries=1), Resource.ORGS)
    assert failed.value.status is None


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_fails_at_once_with_a_clear_reason(sandbox: OneRosterSandbox, status: int) -> None:
    sandbox.faults.refuse = status
    sleeps = Sleeps()
    with pytest.raises(OneRosterError) as failed:
        all_records(client(sandbox, sleeps=sleeps), Resource.ORGS)
    assert failed.value.status == status
    assert "the provider refused the key" in str(failed.value)
    assert "failure: Access denied for this application key" in str(failed.value)  # imsx_StatusInfo
    assert len(sandbox.log) == 1 and sleeps == []


def test_a_wrong_secret_is_refused_and_never_logged(
    sandbox: OneRosterSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-secret-never-logged-123"
    reader = OneRosterClient(tenant(sandbox, secret), OneRosterLimits(), sleep=Sleeps())
    with caplog.at_level(logging.DEBUG), pytest.raises(OneRosterError, match="refused the key") as failed:
        all_records(reader, Resource.ORGS)
    real = tenant(sandbox).client_secret
    for text in (str(failed.value), repr(tenant(sandbox)), caplog.text):
        assert secret not in text and real not in text
    assert len(sandbox.log) == 1


def test_a_next_link_to_another_host_is_not_followed_offset_paging_goes_on(
    sandbox: OneRosterSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.faults.max_page = 5
    sandbox.faults.off_host_next = True
    users = all_records(client(sandbox), Resource.USERS)
    served = [e for e in sandbox.log if e.collection == "users"]
    assert len(users) == len([u for u in sandbox.data[DISTRICT]["users"] if u["role"] != "parent"])
    assert [int(e.query["offset"]) for e in served] == list(range(0, 5 * len(served), 5))
    assert "paging by offset" in caplog.text


def test_resume_from_a_stored_next_link(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.max_page = 10
    reader = client(sandbox)
    first = next(iter(reader.pages(Resource.USERS)))
    assert first.next is not None
    rest = list(client(sandbox).pages(Resource.USERS, first.next, index=1, seen=[first.link]))
    assert rest[0].index == 1
    with pytest.raises(OneRosterProtocolError, match="endpoint"):
        list(client(sandbox).pages(Resource.USERS, "/elsewhere/ims/oneroster/v1p1/users?offset=10"))
    with pytest.raises(OneRosterProtocolError, match="another host"):
        list(client(sandbox).pages(Resource.USERS, "http://127.0.0.2:9/x/users?offset=10"))


def test_the_district_name_is_the_district_orgs_else_the_tenants(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.max_page = 2  # the district org on one orgs page only
    for org in sandbox.data[DISTRICT]["orgs"]:
        org["name"] = "Keystone Valley School District" if org["type"] == "district" else org["name"]
    reader = client(sandbox)
    pages = list(reader.pages(Resource.ORGS))
    names = [reader.district_name(p) for p in pages]
    holding = next(i for i, p in enumerate(pages) if any(r["type"] == "district" for r in p.records))
    assert names[holding] == "Keystone Valley School District"
    assert [n for i, n in enumerate(names) if i not in (0, holding)] == [None] * (len(names) - 2)
    sandbox.data[DISTRICT]["orgs"] = [o for o in sandbox.data[DISTRICT]["orgs"] if o["type"] != "district"]
    first = next(iter(client(sandbox).pages(Resource.ORGS)))
    assert reader.district_name(first) == "Keystone Valley SD"  # the tenant's name from the secret
