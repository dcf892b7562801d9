"""The Clever client against the sandbox over real HTTP: pagination, rate limits, faults, tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from rostersync.errors import CleverError, CleverProtocolError, DistrictDisconnected
from rostersync.settings import Settings
from rostersync.sources.clever.client import CleverClient, CleverCredentials, build_session
from rostersync.sources.clever.resources import Resource
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig

SMALL = DistrictSpec("Juniata Test SD", seed=7001, schools=2, students=120, teachers=8, sections=10)
SLEPT: list[float] = []  # the client's retry waits (rate-limit resets, backoff): recorded, not slept


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(SMALL,))) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_faults(sandbox: CleverSandbox) -> Iterator[None]:
    sandbox.faults.reset()
    sandbox.requests.clear()
    SLEPT.clear()
    yield
    sandbox.faults.reset()


def _settings(sandbox: CleverSandbox, **overrides: object) -> Settings:
    base = Settings().model_copy(  # type: ignore[call-arg]
        update={
            "clever_api_base": sandbox.api_base,
            "clever_oauth_base": sandbox.oauth_base,
            "clever_backoff_factor": 0.01,
            "clever_max_retries": 4,
            "clever_read_timeout": 2.0,
            "clever_max_rate_limit_wait": 3.0,
        }
    )
    return base.model_copy(update=overrides)


def _client(
    sandbox: CleverSandbox, *, clock: Callable[[], float] = time.time, **overrides: object
) -> CleverClient:
    settings = _settings(sandbox, **overrides)
    session = build_session(settings, sleeper=SLEPT.append, clock=clock)
    return CleverClient(settings, CleverCredentials(sandbox.client_id, sandbox.client_secret), session)


def _fetch(client: CleverClient, district_id: str, resource: Resource) -> list[list[dict[str, object]]]:
    token = client.district_tokens()[district_id]
    return [page.records for page in client.district(district_id, token).pages(resource)]


def _api_requests(sandbox: CleverSandbox) -> list[str]:
    return [entry.path for entry in sandbox.requests if entry.path.startswith("/v3.0/")]


# --- pagination ------------------------------------------------------------------------------


@pytest.mark.parametrize(("students", "pages"), [(10_000, 1), (10_001, 2), (20_000, 2), (20_001, 3)])
def test_pagination_around_the_10000_boundary(students: int, pages: int) -> None:
    spec = DistrictSpec("Boundary SD", seed=7100 + students % 97, schools=2, students=students, sections=4)
    with CleverSandbox(SandboxConfig(districts=(spec,))) as server:
        result = _fetch(_client(server), spec.id, Resource.STUDENTS)
        ids = [record["id"] for page in result for record in page]

        assert len(result) == pages
        assert len(ids) == students == len(set(ids))
        assert [len(p) for p in result[:-1]] == [10_000] * (pages - 1)
        assert len(_api_requests(server)) == pages  # the minimum: one request per 10,000 records


def test_small_page_limit_follows_every_next_link(sandbox: CleverSandbox) -> None:
    result = _fetch(_client(sandbox, clever_page_limit=7), SMALL.id, Resource.STUDENTS)
    assert sum(len(p) for p in result) == SMALL.students
    assert len(result) == -(-SMALL.students // 7)


def test_an_empty_page_behind_a_next_link_ends_the_resource(sandbox: CleverSandbox) -> None:
    sandbox.faults.empty_trailing_page = True
    result = _fetch(_client(sandbox), SMALL.id, Resource.STUDENTS)
    assert sum(len(p) for p in result) == SMALL.students
    assert len(_api_requests(sandbox)) == 2  # the full page, then the empty one


def test_an_off_host_next_link_is_refused_and_that_host_receives_nothing(sandbox: CleverSandbox) -> None:
    sandbox.faults.off_host_next = True
    with pytest.raises(CleverProtocolError, match="another host") as failure:
        _fetch(_client(sandbox, clever_page_limit=50), SMALL.id, Resource.STUDENTS)
    assert sandbox.trap_hits == []
    assert failure.value.district_id == SMALL.id


def test_a_repeated_cursor_is_an_error_not_an_endless_loop(sandbox: CleverSandbox) -> None:
    sandbox.faults.repeat_cursor = True
    with pytest.raises(CleverProtocolError, match="repeats"):
        _fetch(_client(sandbox, clever_page_limit=20), SMALL.id, Resource.STUDENTS)
    assert len(_api_requests(sandbox)) <= 3


# --- rate limits and transient failures ---------------------------------------------------------


def test_429_waits_for_the_latest_of_several_buckets_resets_then_succeeds(sandbox: CleverSandbox) -> None:
    sandbox.faults.rate_limit_every = 2
    sandbox.faults.rate_limit_buckets = ((1200, 1), (600, 2), (100, 1))
    started = time.time()  # the client's clock stands still here; the sandbox's resets do not

    result = _fetch(
        _client(sandbox, clock=lambda: started, clever_page_limit=60), SMALL.id, Resource.STUDENTS
    )

    assert sum(len(p) for p in result) == SMALL.students
    statuses = [entry.status for entry in sandbox.requests if entry.path.startswith("/v3.0/")]
    assert statuses.count(429) >= 1
    # Each 429 waited for the 2-second bucket's reset (int(now) + 2 > started + 1), not for the
    # 1-second ones, and not for nothing; capped at clever_max_rate_limit_wait (3 s).
    assert len(SLEPT) == statuses.count(429)
    assert all(1.0 < wait <= 3.0 for wait in SLEPT), SLEPT


def test_5xx_then_success(sandbox: CleverSandbox) -> None:
    sandbox.faults.server_errors = 3
    result = _fetch(_client(sandbox), SMALL.id, Resource.SECTIONS)
    assert sum(len(p) for p in result) == SMALL.sections
    assert [e.status for e in sandbox.requests if e.path.startswith("/v3.0/")] == [500, 502, 503, 200]


def test_persistent_html_errors_fail_with_status_endpoint_and_a_short_reason(sandbox: CleverSandbox) -> None:
    sandbox.faults.server_errors = 100
    sandbox.faults.server_error_statuses = (502,)
    sandbox.faults.html_errors = True
    client = _client(sandbox, clever_max_retries=2)
    token = client.district_tokens()[SMALL.id]

    with pytest.raises(CleverError) as failure:
        list(client.district(SMALL.id, token).pages(Resource.SCHOOLS))

    message = str(failure.value)
    assert failure.value.status == 502
    assert "/v3.0/schools" in message
    assert "HTML error page" in message
    assert token not in message
    assert "<html" not in message


def test_connection_resets_are_retried(sandbox: CleverSandbox) -> None:
    sandbox.faults.connection_reset = 2
    result = _fetch(_client(sandbox), SMALL.id, Resource.TEACHERS)
    assert sum(len(p) for p in result) == SMALL.teachers


def test_a_read_timeout_is_bounded(sandbox: CleverSandbox) -> None:
    sandbox.faults.slow_seconds = 2.0
    # Bounded by (slow retries + 1) x page sizes: 2 x 2 (10,000 then 5,000) requests, each cut at
    # the 0.3 s read timeout; counted at the sandbox, not timed.
    client = _client(sandbox, clever_read_timeout=0.3, clever_max_retries=1, clever_min_page_limit=5000)
    with pytest.raises(CleverError, match="timed out"):
        _fetch(client, SMALL.id, Resource.TERMS)
    deadline = time.monotonic() + 15
    while sandbox.busy() and time.monotonic() < deadline:  # the sandbox logs a request once it answers
        time.sleep(0.05)
    limits = [r.query.get("limit") for r in sandbox.requests if r.path == "/v3.0/terms"]
    assert limits == ["10000", "10000", "5000", "5000"]


# --- success-shaped garbage ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "reason"), [("no_data", "without a `data` list"), ("no_id", "without an `id`")]
)
def test_success_shaped_garbage_is_a_failed_fetch_never_an_empty_roster(
    sandbox: CleverSandbox, mode: str, reason: str
) -> None:
    sandbox.faults.garbage_200 = 1
    sandbox.faults.garbage_mode = mode
    with pytest.raises(CleverProtocolError, match=reason):
        _fetch(_client(sandbox), SMALL.id, Resource.STUDENTS)


def test_truncated_json_is_a_failed_fetch(sandbox: CleverSandbox) -> None:
    sandbox.faults.truncated_json = 1
    with pytest.raises(CleverProtocolError, match="not valid JSON"):
        _fetch(_client(sandbox), SMALL.id, Resource.STUDENTS)


# --- tokens --------------------------------------------------------------------------------------


def test_discovery_lists_every_district_token_with_basic_auth(sandbox: CleverSandbox) -> None:
    tokens = _client(sandbox).district_tokens()
    assert set(tokens) == {SMALL.id}


def test_wrong_client_secret_fails_discovery_without_echoing_it(sandbox: CleverSandbox) -> None:
    client = CleverClient(_settings(sandbox), CleverCredentials(sandbox.client_id, "wrong-secret-value"))
    with pytest.raises(CleverError) as failure:
        client.district_tokens()
    assert failure.value.status == 401
    assert "wrong-secret-value" not in str(failure.value)


def test_401_refreshes_the_token_once_and_carries_on(sandbox: CleverSandbox) -> None:
    sandbox.faults.unauthorized_once = {SMALL.id}
    result = _fetch(_client(sandbox), SMALL.id, Resource.SCHOOLS)
    assert sum(len(p) for p in result) == SMALL.schools
    assert any(e.path == "/oauth/tokens" and e.query.get("district") == SMALL.id for e in sandbox.requests)


def test_a_revoked_token_after_refresh_means_disconnected() -> None:
    spec = DistrictSpec("Revoked SD", seed=7301, schools=1, students=10, teachers=2, sections=2)
    with CleverSandbox(SandboxConfig(districts=(spec,))) as server:
        client = _client(server)
        token = client.district_tokens()[spec.id]
        server.revoke(spec.id)
        with pytest.raises(DistrictDisconnected) as failure:
            list(client.district(spec.id, token).pages(Resource.SCHOOLS))
        assert failure.value.status == 401
        assert token not in str(failure.value)
