"""Progress of a long batch job: rows done, rows per second and time left, for the UI's bar and, at most every few
seconds, for the terminal (a million rows must not print a million lines)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


def describe_progress(fraction: float, rows: int, seconds: float) -> str:
    """``"12,000 rows scored, 3,400 rows/s, 35% of the input, about 0:00:07 left"``. The time left extrapolates the
    share of input bytes read so far (bytes per row vary little within a file); it is left out until it means
    something (after a second, before the end)."""
    rate = rows / seconds if seconds > 0 else 0.0
    text = f"{rows:,} rows scored, {rate:,.0f} rows/s, {fraction:.0%} of the input"
    if 0.0 < fraction < 1.0 and seconds >= 1.0:
        left = round(seconds * (1.0 - fraction) / fraction)
        text += f", about {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} left"
    return text


class ProgressLine:
    """A ``ProgressFn`` that logs the message (at INFO, as ``<name>: <message>``) at most every ``interval_s``
    seconds, and always at the end of the input."""

    def __init__(self, name: str, interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.interval_s = interval_s
        self._clock = clock
        self._last: float | None = None

    def __call__(self, fraction: float, message: str) -> None:
        now = self._clock()
        if fraction < 1.0 and self._last is not None and now - self._last < self.interval_s:
            return
        self._last = now
        logger.info("%s: %s", self.name, message)
