"""Issue 14, item 15: full pages are slow, and Clever's gateway answers 502/504 (or nothing, until the
read timeout) on them. After repeated slow failures on a page the client asks again for a smaller
page, halving down to CLEVER_MIN_PAGE_LIMIT, before it fails the district; the smaller limit is
carried by every later link, including the one a checkpoint resumes from. Tests never sleep for
real: the client's sleeps go through the injected `sleep`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest

from rostersync.contracts.fetch import Manifest, ManifestStatus
from rostersync.errors import CleverError, PageDeferred
from rostersync.fetch.stage import fetch_district, load_checkpoint
from rostersync.layout import manifest_key
from rostersync.settings import Settings
from rostersync.sources.clever.client import CleverClient, CleverCredentials
from rostersync.sources.clever.resources import Resource
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from tests.fakes import MemoryPageStore

SPEC = DistrictSpec("Slow Gateway SD", seed=9501, schools=1, students=50, teachers=2, sections=2)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(SPEC,))) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_faults(sandbox: CleverSandbox) -> Iterator[None]:
    sandbox.faults.reset()
    sandbox.requests.clear()
    yield
    sandbox.faults.reset()


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def _client(sandbox: CleverSandbox, sleep: Sleeps, **overrides: object) -> CleverClient:
    settings = Settings().model_copy(  # type: ignore[call-arg]
        update={
            "clever_api_base": sandbox.api_base,
            "clever_oauth_base": sandbox.oauth_base,
            "clever_backoff_factor": 5.0,  # would be felt: every sleep must go through `sleep`
            "clever_max_retries": 4,
            "clever_read_timeout": 2.0,
            "clever_page_limit": 40,
            "clever_min_page_limit": 10,
            **overrides,
        }
    )
    return CleverClient(settings, CleverCredentials(sandbox.client_id, sandbox.client_secret), sleep=sleep)


def _limits(sandbox: CleverSandbox) -> list[tuple[int, int]]:
    """(limit, status) of every student-listing request, in order."""
    return [
        (int(e.query["limit"]), e.status)
        for e in sandbox.requests
        if e.path == "/v3.0/users" and e.query.get("role") == "student"
    ]


def _limit(link: str | None) -> int:
    assert link is not None
    return int(dict(parse_qsl(urlsplit(link).query))["limit"])


def test_repeated_504s_on_full_pages_shrink_the_page_until_it_passes(sandbox: CleverSandbox) -> None:
    sandbox.faults.big_page_limit = 10
    sleep = Sleeps()
    client = _client(sandbox, sleep)
    fetch = client.district(SPEC.id, client.district_tokens()[SPEC.id])

    pages = list(fetch.pages(Resource.STUDENTS))

    assert sum(len(p.records) for p in pages) == SPEC.students
    assert len({r["id"] for p in pages for r in p.records}) == SPEC.students
    # Each size is tried twice (one retry) before it is halved: 40, 20, then 10 passes.
    assert _limits(sandbox)[:5] == [(40, 504), (40, 504), (20, 504), (20, 504), (10, 200)]
    assert all(status == 200 for _, status in _limits(sandbox)[5:])
    assert [_limit(p.link) for p in pages] == [10] * 5  # every later link carries the smaller limit
    assert sleep.calls  # the backoffs were asked for, and none was slept for real


def test_read_timeouts_on_full_pages_shrink_the_page_too(sandbox: CleverSandbox) -> None:
    sandbox.faults.big_page_limit = 20
    sandbox.faults.big_page_status = 0
    sandbox.faults.big_page_sleep = 1.0
    client = _client(sandbox, Sleeps(), clever_read_timeout=0.3)
    fetch = client.district(SPEC.id, client.district_tokens()[SPEC.id])

    pages = list(fetch.pages(Resource.STUDENTS))

    assert sum(len(p.records) for p in pages) == SPEC.students
    assert [_limit(p.link) for p in pages] == [20, 20, 20]
    # The sandbox still answers the requests the client gave up on, each after its 1 s sleep: let
    # them end here, or their 200s land in the next test's request log (seen as a 200 at limit 40).
    time.sleep(sandbox.faults.big_page_sleep + 1.0)


def test_at_the_smallest_page_the_district_fails_with_the_gateways_status(sandbox: CleverSandbox) -> None:
    sandbox.faults.big_page_limit = 5  # even the smallest page (10) is too big
    sandbox.faults.big_page_status = 502
    client = _client(sandbox, Sleeps())
    fetch = client.district(SPEC.id, client.district_tokens()[SPEC.id])

    with pytest.raises(CleverError) as failure:
        list(fetch.pages(Resource.STUDENTS))

    assert failure.value.status == 502
    assert "/v3.0/users" in str(failure.value)
    assert [limit for limit, _ in _limits(sandbox)] == [40, 40, 20, 20, 10, 10]


def test_a_500_does_not_shrink_the_page(sandbox: CleverSandbox) -> None:
    sandbox.faults.server_errors = 100
    sandbox.faults.server_error_statuses = (500,)
    client = _client(sandbox, Sleeps(), clever_max_retries=2)
    fetch = client.district(SPEC.id, client.district_tokens()[SPEC.id])

    with pytest.raises(CleverError):
        list(fetch.pages(Resource.STUDENTS))

    assert {limit for limit, _ in _limits(sandbox)} == {40}


def test_a_resume_after_a_shrink_continues_with_the_smaller_page(sandbox: CleverSandbox) -> None:
    sandbox.faults.big_page_limit = 10
    client = _client(sandbox, Sleeps())
    token = client.district_tokens()[SPEC.id]
    first = next(iter(client.district(SPEC.id, token).pages(Resource.STUDENTS)))
    assert _limit(first.next) == 10  # what a checkpoint stores as next_link
    sandbox.requests.clear()

    # A further invocation continues from the checkpoint's link, with the fault still on.
    rest = list(
        client.district(SPEC.id, token).pages(Resource.STUDENTS, first.next, index=1, seen=[first.link])
    )

    assert len(first.records) + sum(len(p.records) for p in rest) == SPEC.students
    assert {status for _, status in _limits(sandbox)} == {200}
    assert {_limit(p.link) for p in rest} == {10}


def test_a_shrink_that_would_not_fit_the_invocation_is_deferred_to_the_next_one(
    sandbox: CleverSandbox,
) -> None:
    sandbox.faults.big_page_limit = 10
    client = _client(sandbox, Sleeps())
    asked: list[float] = []

    def no_time_left(seconds: float) -> bool:
        asked.append(seconds)
        return False

    with pytest.raises(PageDeferred) as deferred:
        list(
            client.district(SPEC.id, client.district_tokens()[SPEC.id]).pages(
                Resource.STUDENTS, fits=no_time_left
            )
        )

    assert _limit(deferred.value.link) == 20  # the next size, not yet asked for
    assert [limit for limit, _ in _limits(sandbox)] == [40, 40]
    # The worst case of one size: 2 attempts (one slow retry) x (5 s connect + 2 s read) + 2 backoffs of 5 s.
    assert asked == [24.0]


def test_a_fetch_checkpoints_at_a_deferred_page_and_the_next_invocation_finishes_it(
    sandbox: CleverSandbox,
) -> None:
    """Every size of a page can time out (Clever's gateway, 120 s each): ten attempts were 20
    minutes, past Lambda's 15. Now the invocation stops before a size it has no time for, and
    the checkpoint resumes at that size, even before any page of this invocation was written."""
    sandbox.faults.big_page_limit = 10
    client = _client(sandbox, Sleeps())
    token = client.district_tokens()[SPEC.id]
    store = MemoryPageStore()
    run_id = "20261129T070000Z-000001"

    # No time for a second size, ever: each invocation stops at its first shrink.
    result = fetch_district(client.district(SPEC.id, token), store, run_id, fits=lambda _seconds: False)
    assert result.status is ManifestStatus.IN_PROGRESS
    first = load_checkpoint(store, SPEC.id, run_id)
    assert first is not None and first.pages == [] and first.page_index == 0  # nothing written yet
    assert _limit(first.next_link) == 20  # the smaller size it had no time for, asked next time
    invocations = 1
    while result.status is ManifestStatus.IN_PROGRESS:
        assert invocations < 40, "every invocation must shrink a page or write one"
        checkpoint = load_checkpoint(store, SPEC.id, run_id)
        result = fetch_district(
            client.district(SPEC.id, token), store, run_id, checkpoint=checkpoint, fits=lambda _seconds: False
        )
        invocations += 1

    assert result.status is ManifestStatus.COMPLETE and invocations > 2
    manifest = Manifest.model_validate(store.get_json(manifest_key(SPEC.id, run_id)))
    assert manifest.record_count(Resource.STUDENTS.value) == SPEC.students
    assert {limit for limit, status in _limits(sandbox) if status == 200} == {10}
