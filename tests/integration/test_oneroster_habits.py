"""The OneRoster client against a sandbox with real providers' habits (issue 21): an order that
drifts unless sorted, offsets ignored, listings that end short or repeat, numeric ids, next links
spelled another way, demographics switched off, pages far larger than asked, slow invocations.

Every listing either arrives whole (each record once) or fails with `listing.incomplete`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rostersync.errors import OneRosterError, OneRosterKeyRefused, OneRosterProtocolError, PageDeferred
from rostersync.sources.oneroster.client import (
    ListingIncomplete,
    OneRosterClient,
    OneRosterLimits,
    OneRosterTenant,
)
from rostersync.sources.oneroster.resources import Resource
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec

DISTRICT = "4299999"


@pytest.fixture
def sandbox() -> Iterator[OneRosterSandbox]:
    spec = TenantSpec(DISTRICT, "Keystone Valley SD", seed=7, students_per_school=10)
    with OneRosterSandbox([spec]) as box:
        box.faults.max_page = 7
        yield box


def client(box: OneRosterSandbox, base_url: str | None = None, **limits: float) -> OneRosterClient:
    entry = box.secret_value()["tenants"][0]
    entry["base_url"] = base_url or entry["base_url"]
    return OneRosterClient(
        OneRosterTenant(**entry),
        OneRosterLimits(**{"page_limit": 1000, "max_retries": 1, **limits}),  # type: ignore[arg-type]
        sleep=lambda _: None,
        jitter=lambda: 0.0,
    )


def ids(reader: OneRosterClient, resource: Resource) -> list[str]:
    return [r["sourcedId"] for page in reader.pages(resource) for r in page.records]


def served(box: OneRosterSandbox) -> list[dict[str, str]]:
    return [e.query for e in box.log]


def test_every_listing_asks_for_a_stable_order_and_loses_nobody_while_the_order_drifts(
    sandbox: OneRosterSandbox,
) -> None:
    # The sandbox swaps records between every unsorted request, as a provider without a defined
    # order does; without `sort=sourcedId` offset paging skipped some enrollments and repeated others.
    expected = sorted(str(e["sourcedId"]) for e in sandbox.data[DISTRICT]["enrollments"])
    got = ids(client(sandbox), Resource.ENROLLMENTS)
    assert got == expected
    assert all(q["sort"] == "sourcedId" and q["orderBy"] == "asc" for q in served(sandbox))


def test_a_provider_that_does_not_honour_sort_fails_the_listing_rather_than_lose_records(
    sandbox: OneRosterSandbox,
) -> None:
    sandbox.faults.ignore_sort = True
    sandbox.faults.drift_swaps = 40
    with pytest.raises(ListingIncomplete, match=r"listing\.incomplete: enrollments .* X-Total-Count"):
        ids(client(sandbox), Resource.ENROLLMENTS)


def test_a_provider_that_ignores_offset_is_not_read_forever(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.ignore_offset = True  # the first page again and again, no count, no next link
    with pytest.raises(ListingIncomplete, match=r"listing\.incomplete: users page 1 brought no record"):
        ids(client(sandbox), Resource.USERS)
    assert len(sandbox.log) == 2


def test_a_listing_that_ends_short_of_its_count_fails(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.stop_after = 14  # then empty pages, while X-Total-Count says more remain
    total = len(sandbox.data[DISTRICT]["users"])
    with pytest.raises(ListingIncomplete, match=rf"users ended with 14 distinct records of the {total}"):
        ids(client(sandbox), Resource.USERS)


@pytest.mark.parametrize("total_header", [True, False])
def test_records_repeated_across_pages_fail_the_listing(
    sandbox: OneRosterSandbox, total_header: bool
) -> None:
    sandbox.faults.repeat_first = "enrollments"
    sandbox.faults.short_page = "enrollments"  # 3, then 7 of which 3 are repeats: 4 are new
    sandbox.faults.total_header = total_header
    with pytest.raises(ListingIncomplete, match=r"listing\.incomplete: enrollments .*repeated"):
        ids(client(sandbox), Resource.ENROLLMENTS)


def test_no_listing_asks_past_its_count(sandbox: OneRosterSandbox) -> None:
    total = len(sandbox.data[DISTRICT]["orgs"])
    got = ids(client(sandbox), Resource.ORGS)
    assert len(got) == total and len(sandbox.log) == -(-total // 7)


def test_numeric_sourced_ids_are_their_decimal_strings() -> None:
    spec = TenantSpec(
        DISTRICT, "Numbers SD", seed=3, schools=1, students_per_school=4, gaps=False, numeric_ids=True
    )
    with OneRosterSandbox([spec]) as box:
        users = [r for p in client(box).pages(Resource.USERS) for r in p.records]
        enrollments = [r for p in client(box).pages(Resource.ENROLLMENTS) for r in p.records]
    assert users and all(isinstance(u["sourcedId"], str) and u["sourcedId"].isdigit() for u in users)
    students = {u["sourcedId"] for u in users if u["role"] == "student"}
    assert students <= {e["user"] for e in enrollments}


def test_a_next_link_spelled_another_way_on_the_same_server_is_followed(
    sandbox: OneRosterSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    port = sandbox.origin.rsplit(":", 1)[1]
    base = f"http://localhost:{port}/{DISTRICT}/ims/oneroster/v1p1"
    sandbox.faults.next_host = f"HTTP://LocalHost:{port}"
    assert ids(client(sandbox, base), Resource.USERS)
    assert "paging by offset" not in caplog.text
    reader = client(sandbox, f"https://Roster.Example:443/{DISTRICT}/ims/oneroster/v1p1")
    assert reader._same_server("http://roster.example/a/users?offset=7", "/") == "/a/users?offset=7"
    assert reader._same_server("https://ROSTER.example:443/a?x=1", "/") == "/a?x=1"
    assert reader._same_server("https://roster.example:8443/a", "/") is None
    assert reader._same_server("https://other.example/a", "/") is None


@pytest.mark.parametrize("status", [403])
def test_demographics_switched_off_leave_an_empty_listing_required_collections_still_fail(
    status: int,
) -> None:
    spec = TenantSpec(DISTRICT, "No Demographics SD", seed=4, schools=1, demographics_shared=False)
    with OneRosterSandbox([spec]) as box:
        assert list(client(box).pages(Resource.DEMOGRAPHICS)) == []
        assert [e.status for e in box.log] == [status]
        box.faults.refuse = status
        with pytest.raises(OneRosterKeyRefused, match="refused the key"):
            list(client(box).pages(Resource.USERS))


def test_a_page_far_larger_than_asked_is_refused(sandbox: OneRosterSandbox) -> None:
    sandbox.faults.ignore_limit = True
    with pytest.raises(OneRosterProtocolError, match="a page larger than 4096 bytes"):
        ids(client(sandbox, max_page_bytes=4096), Resource.USERS)


def test_a_request_that_would_not_fit_the_invocation_is_deferred_to_the_next(
    sandbox: OneRosterSandbox,
) -> None:
    asked: list[float] = []

    def fits(seconds: float) -> bool:
        asked.append(seconds)
        return False

    reader = client(sandbox, connect_timeout=5, read_timeout=60)
    pages = reader.pages(Resource.USERS, fits=fits)
    first = next(pages)  # the invocation's first request always goes: a resumed fetch advances
    with pytest.raises(PageDeferred) as deferred:
        next(pages)
    assert deferred.value.link == first.next and asked == [65.0]
    assert len(sandbox.log) == 1


def test_a_listing_resumed_in_another_invocation_counts_the_records_before_its_offset(
    sandbox: OneRosterSandbox,
) -> None:
    first = next(iter(client(sandbox).pages(Resource.USERS)))
    assert first.next is not None and "offset=7" in first.next
    rest = [
        r["sourcedId"] for p in client(sandbox).pages(Resource.USERS, first.next, index=1) for r in p.records
    ]
    everyone = sorted(str(u["sourcedId"]) for u in sandbox.data[DISTRICT]["users"])
    assert [r["sourcedId"] for r in first.records] + rest == [u for u in everyone if not u.startswith("par-")]
    sandbox.faults.stop_after = 14  # the resumed part ends short of the count: still caught
    with pytest.raises(ListingIncomplete, match="users ended with 14 distinct"):
        list(client(sandbox).pages(Resource.USERS, first.next, index=1))


def test_a_page_that_trickles_in_past_the_read_timeout_is_a_timeout(sandbox: OneRosterSandbox) -> None:
    # Each read is quick, the whole body is not: before issue 21 a page of 654 s was read to its end.
    ticks = iter([0.0, 1000.0] * 4)
    entry = sandbox.secret_value()["tenants"][0]
    reader = OneRosterClient(
        OneRosterTenant(**entry),
        OneRosterLimits(max_retries=1, read_timeout=60),
        sleep=lambda _: None,
        jitter=lambda: 0.0,
        clock=lambda: next(ticks),
    )
    with pytest.raises(OneRosterError, match="timed out after retries"):
        list(reader.pages(Resource.ORGS))
    assert len(sandbox.log) == 2
