"""CleverRetry waits through its injectable `sleeper` (rate-limit resets, Retry-After, backoff):
no real sleeping in tests, and the waits are the ones urllib3 would have slept."""

from __future__ import annotations

from urllib3 import HTTPHeaderDict
from urllib3.response import HTTPResponse

from rostersync.settings import Settings
from rostersync.sources.clever.client import CleverRetry, build_session

NOW = 1_800_000_000.0


def _retry(slept: list[float], **kw: object) -> CleverRetry:
    retry = CleverRetry(total=5, status_forcelist={429, 503}, respect_retry_after_header=True, **kw)  # type: ignore[arg-type]
    retry.clock = lambda: NOW
    retry.sleeper = slept.append
    return retry


def _response(status: int, headers: list[tuple[str, str]]) -> HTTPResponse:
    return HTTPResponse(body=b"", status=status, headers=HTTPHeaderDict(headers), preload_content=False)


def test_a_429_waits_for_the_latest_reset_through_the_sleeper() -> None:
    slept: list[float] = []
    response = _response(429, [("X-Ratelimit-Reset", f"{int(NOW) + 2}, {int(NOW) + 9}")])
    _retry(slept).sleep(response)
    assert slept == [9.0]


def test_retry_after_is_waited_through_the_sleeper() -> None:
    slept: list[float] = []
    _retry(slept).sleep(_response(503, [("Retry-After", "4")]))
    assert slept == [4.0]


def test_backoff_is_waited_through_the_sleeper_and_grows() -> None:
    slept: list[float] = []
    retry = _retry(slept, backoff_factor=0.5)
    for _ in range(4):
        retry = retry.increment(method="GET", url="/v3.0/terms", response=_response(503, []))
        retry.sleep()
    # urllib3: no wait before the first retry, then factor * 2**(n-1): 1.0, 2.0, 4.0.
    assert slept == [1.0, 2.0, 4.0]


def test_the_sleeper_survives_urllib3_copying_the_retry() -> None:
    slept: list[float] = []
    copied = _retry(slept).new(total=1)
    assert copied.sleeper == slept.append
    copied.sleep(_response(429, [("X-Ratelimit-Reset", str(int(NOW) + 3))]))
    assert slept == [3.0]


def test_the_session_s_retry_takes_the_sleeper_and_clock() -> None:
    slept: list[float] = []
    session = build_session(Settings(), sleeper=slept.append, clock=lambda: NOW)  # type: ignore[call-arg]
    retry = session.get_adapter("https://api.clever.com").max_retries  # type: ignore[attr-defined]
    assert isinstance(retry, CleverRetry)
    retry.sleep(_response(429, [("X-Ratelimit-Reset", str(int(NOW) + 5))]))
    assert slept == [5.0]
