"""A sliding-window limit per client: at most ``limit`` admissions in any ``window_s`` seconds, and a refusal that says
when the next one will be admitted.

Why a log of admission times rather than a counter per clock hour: a counter reset at each full hour lets a client
spend the limit at 10:59 and again at 11:00, twice the limit within two minutes; the log admits at most ``limit`` in
*every* window of ``window_s`` seconds, and knows exactly when its oldest admission leaves the window (the wait the
refusal names).

Kept in the app's memory, not on disk: its keys are client addresses, which the feedback store must not hold (a row
names a prediction and a label, see the page's privacy note). A restart therefore starts every client afresh. Keys
idle for a whole window are forgotten, so memory is bounded by the clients of the last window.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from sentiment.errors import RateLimitedError
from sentiment.settings import setting_default

HOUR_S = 3600.0
_SWEEP_EVERY = 1024  # admissions between two sweeps of idle keys


class SlidingWindowLimiter:
    """Thread-safe; ``clock`` is monotonic seconds (a wall-clock step must not free or block anyone)."""

    def __init__(
        self,
        limit: int = setting_default("feedback_per_client_hour"),
        window_s: float = HOUR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"a limit needs limit >= 1 and window_s > 0, got {limit} and {window_s}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._admitted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._since_sweep = 0

    def admit(self, key: str, now: float | None = None) -> None:
        """Count one admission for ``key`` now, or raise ``RateLimitedError`` (counting nothing) when ``key`` already
        has ``limit`` admissions in the last ``window_s`` seconds; its ``retry_after_s`` is the wait until the
        oldest of them leaves the window."""
        with self._lock:
            now = self._clock() if now is None else now
            times = self._admitted.setdefault(key, deque())
            self._expire(times, now)
            if len(times) >= self.limit:
                wait = times[0] + self.window_s - now
                raise RateLimitedError(self._message(wait), retry_after_s=wait)
            times.append(now)
            self._since_sweep += 1
            if self._since_sweep >= _SWEEP_EVERY:
                self._sweep(now)

    def in_window(self, key: str, now: float | None = None) -> int:
        """Admissions of ``key`` in the last ``window_s`` seconds."""
        with self._lock:
            times = self._admitted.get(key)
            if times is None:
                return 0
            self._expire(times, self._clock() if now is None else now)
            return len(times)

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window_s:
            times.popleft()

    def _sweep(self, now: float) -> None:
        self._since_sweep = 0
        for key in [k for k, times in self._admitted.items() if not times or times[-1] <= now - self.window_s]:
            del self._admitted[key]

    def _message(self, wait_s: float) -> str:
        window = "hour" if self.window_s == HOUR_S else f"{self.window_s:g} s"
        return (
            f"thank you - you have given {self.limit} new pieces of feedback within the last {window}, the most "
            f"allowed (SENTIMENT_FEEDBACK_PER_CLIENT_HOUR); please retry in {max(1, math.ceil(wait_s))} s"
        )
