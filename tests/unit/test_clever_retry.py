"""CleverRetry reads Clever's rate-limit headers; no sockets."""

from urllib3 import HTTPHeaderDict
from urllib3.response import HTTPResponse

from rostersync.settings import Settings
from rostersync.sources.clever.client import CleverRetry, build_session

NOW = 1_800_000_000.0


def _retry() -> CleverRetry:
    retry = CleverRetry(total=3, status_forcelist={429}, respect_retry_after_header=True)
    retry.clock = lambda: NOW
    retry.max_rate_limit_wait = 65.0
    return retry


def _response(status: int, headers: list[tuple[str, str]]) -> HTTPResponse:
    return HTTPResponse(body=b"", status=status, headers=HTTPHeaderDict(headers), preload_content=False)


def test_waits_until_the_latest_bucket_reset_when_several_buckets_send_the_header() -> None:
    response = _response(
        429,
        [("X-Ratelimit-Reset", str(int(NOW) + 3)), ("X-Ratelimit-Reset", str(int(NOW) + 7))],
    )
    assert _retry().get_retry_after(response) == 7.0


def test_reads_comma_joined_reset_values() -> None:
    response = _response(429, [("X-Ratelimit-Reset", f"{int(NOW) + 2}, {int(NOW) + 5}")])
    assert _retry().get_retry_after(response) == 5.0


def test_a_reset_in_the_past_means_no_wait() -> None:
    response = _response(429, [("X-Ratelimit-Reset", str(int(NOW) - 10))])
    assert _retry().get_retry_after(response) == 0.0


def test_the_wait_is_capped() -> None:
    response = _response(429, [("X-Ratelimit-Reset", str(int(NOW) + 3600))])
    assert _retry().get_retry_after(response) == 65.0


def test_without_reset_headers_falls_back_to_retry_after_or_backoff() -> None:
    assert _retry().get_retry_after(_response(429, [])) is None
    assert _retry().get_retry_after(_response(429, [("Retry-After", "4")])) == 4.0


def test_the_cap_and_clock_survive_urllib3_copying_the_retry() -> None:
    retry = _retry()
    retry.max_rate_limit_wait = 2.0
    copied = retry.new(total=1)
    assert copied.max_rate_limit_wait == 2.0
    assert copied.clock() == NOW


def test_the_session_retries_transient_statuses_boundedly() -> None:
    settings = Settings(CLEVER_MAX_RETRIES=4)  # type: ignore[call-arg]
    retry = build_session(settings).get_adapter("https://api.clever.com").max_retries  # type: ignore[attr-defined]
    assert isinstance(retry, CleverRetry)
    assert retry.total == 4
    assert set(retry.status_forcelist) == {429, 500, 502, 503, 504}
    assert retry.redirect == 0


def test_only_data_api_pages_get_the_short_slow_retry_budget() -> None:
    """A slow 502/504 on a page shrinks the page after CLEVER_SLOW_RETRIES; the token endpoint has
    no smaller page to ask for, so it keeps every retry CLEVER_MAX_RETRIES allows."""
    settings = Settings(CLEVER_SLOW_RETRIES=1)  # type: ignore[call-arg]
    session = build_session(settings)
    api = session.get_adapter("https://api.clever.com/v3.0/users?limit=10000").max_retries  # type: ignore[attr-defined]
    oauth = session.get_adapter("https://clever.com/oauth/tokens?owner_type=district").max_retries  # type: ignore[attr-defined]
    assert api.slow_retries == 1
    assert oauth.slow_retries is None
    assert oauth.total == api.total
