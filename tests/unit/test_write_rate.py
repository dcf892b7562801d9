"""WriteRate: one token bucket for an import's threads, halving on throttling (fake clock)."""

from __future__ import annotations

import threading

import pytest

from rostersync.adapters.write_rate import WriteRate


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _rate(clock: FakeClock, **kw: float) -> WriteRate:
    return WriteRate(clock=clock, sleep=clock.sleep, **{"start": 100.0, "ceiling": 200.0, **kw})


def test_a_second_s_worth_goes_at_once_then_writes_wait_for_the_rate() -> None:
    clock = FakeClock()
    rate = _rate(clock)
    for _ in range(4):
        rate.acquire(25)
    assert clock.slept == []
    rate.acquire(25)
    assert clock.slept == [pytest.approx(0.25)]  # 25 items at 100 a second
    assert rate.waited == pytest.approx(0.25)


def test_throttling_halves_down_to_the_floor_and_success_climbs_back_to_the_ceiling() -> None:
    rate = _rate(FakeClock(), floor=25.0, increase=50.0)
    for expected in (50.0, 25.0, 25.0):
        rate.throttled()
        assert rate.rate == expected
    for expected in (75.0, 125.0, 175.0, 200.0, 200.0):
        rate.succeeded()
        assert rate.rate == expected


def test_threads_share_one_budget() -> None:
    clock = FakeClock()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.sleep(seconds)

    rate = WriteRate(start=100.0, ceiling=100.0, clock=clock, sleep=sleep)
    threads = [threading.Thread(target=lambda: [rate.acquire(25) for _ in range(4)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 400 items at 100 a second, the first 100 at once: 3 seconds, whatever the threads.
    assert clock.now == pytest.approx(3.0)


def test_a_rate_outside_its_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="floor <= start <= ceiling"):
        WriteRate(start=10.0, floor=25.0)


def test_a_wait_of_exactly_the_deficit_is_enough_whatever_the_float_rounding() -> None:
    clock = FakeClock()
    clock.now = 1e6 / 3  # a clock far from zero: tiny waits would not move it
    rate = _rate(clock, start=3.0, floor=1.0, ceiling=3.0)
    for _ in range(50):
        rate.acquire(1)
    assert len(clock.slept) <= 50
    assert clock.now - 1e6 / 3 == pytest.approx((50 - 3) / 3.0, rel=1e-6)
