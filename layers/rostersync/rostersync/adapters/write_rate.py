"""One write rate for all of an import's threads: a token bucket that halves on throttling.

DynamoDB throttles a partition or an index key past 1,000 write units a second, and a new
on-demand table past about 4,000 for the whole table, shared by every import running. Eight
threads each retrying on their own would keep hitting that wall; one bucket shared by the
adapter's threads sends what the table takes: it starts at `start` items a second, halves (down
to `floor`) each time a batch comes back throttled or partly unprocessed, and climbs back by
`increase` after each batch written whole (additive increase, multiplicative decrease).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class WriteRate:
    def __init__(
        self,
        *,
        start: float = 4000.0,
        floor: float = 25.0,
        ceiling: float = 4000.0,
        increase: float = 25.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < floor <= start <= ceiling:
            raise ValueError("a write rate needs 0 < floor <= start <= ceiling")
        self.rate = start
        self.floor, self.ceiling, self.increase = floor, ceiling, increase
        self._clock, self._sleep = clock, sleep
        self._tokens = start  # a second's worth: the burst
        self._last = clock()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting for the rate, all threads together

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(max(self.rate, 1.0), self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self, items: int) -> None:
        """Wait until `items` writes fit the rate, then take them."""
        while True:
            with self._lock:
                self._refill()
                need = min(items, max(self.rate, 1.0))  # a batch larger than a second's rate waits a second
                # A hair short counts as enough: after a wait of exactly the deficit, float
                # rounding must not send a thread into waits too small to move the clock.
                if self._tokens >= need - 1e-6:
                    self._tokens = max(0.0, self._tokens - need)
                    return
                wait = (need - self._tokens) / self.rate
                self.waited += wait
            self._sleep(wait)

    def throttled(self) -> None:
        with self._lock:
            self.rate = max(self.floor, self.rate / 2)
            self._tokens = min(self._tokens, self.rate)

    def succeeded(self) -> None:
        with self._lock:
            self.rate = min(self.ceiling, self.rate + self.increase)
