"""Progress of a long job: items done, items per second and time left, for the UI's bar and, at most every few
seconds, for the terminal (a million rows must not print a million lines). The CSV scorer counts rows; the traffic
replay and the calibration fit count texts (``CountProgress``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


def describe_progress(
    fraction: float, rows: int, seconds: float, *, unit: str = "rows", done: str = "scored", whole: str = "the input"
) -> str:
    """``"12,000 rows scored, 3,400 rows/s, 35% of the input, about 0:00:07 left"``. The time left extrapolates the
    share done so far (of a file: its bytes read, since bytes per row vary little within a file); it is left out
    until it means something (after a second, before the end)."""
    rate = rows / seconds if seconds > 0 else 0.0
    text = f"{rows:,} {unit} {done}, {rate:,.0f} {unit}/s, {fraction:.0%} of {whole}"
    if 0.0 < fraction < 1.0 and seconds >= 1.0:
        left = round(seconds * (1.0 - fraction) / fraction)
        text += f", about {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} left"
    return text


def show_progress_lines() -> None:
    """Let the progress lines through in a command line that logs only warnings (``configure_logging("WARNING")``):
    a long command must not be silent until it ends."""
    logger.setLevel(logging.INFO)


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


class CountProgress:
    """Progress of a job of a known number of items (texts sent, texts scored), logged through ``ProgressLine``:
    ``"120 texts sent, 5 texts/s, 20% of 600 texts, about 0:01:36 left"`` every ``interval_s`` and at the end."""

    def __init__(
        self,
        name: str,
        total: int,
        *,
        unit: str = "texts",
        done: str = "scored",
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.count = 0
        self._unit, self._done = unit, done
        self._clock = clock
        self._started = clock()
        self._line = ProgressLine(name, interval_s, clock)

    def advance(self, items: int = 1) -> None:
        """Count ``items`` more as done and log the line when it is due."""
        self.count += items
        fraction = min(1.0, self.count / self.total) if self.total > 0 else 1.0
        whole = f"{self.total:,} {self._unit}"
        seconds = self._clock() - self._started
        message = describe_progress(fraction, self.count, seconds, unit=self._unit, done=self._done, whole=whole)
        self._line(fraction, message)
