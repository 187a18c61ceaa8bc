"""Wait for the event a test depends on, never for a fixed time.

A busy machine (CI beside other jobs, two cores) can make anything slow; a test that sleeps for a guessed time fails
there. ``wait_until`` polls a condition until it holds and fails with what it was waiting for and the last value it
saw; the timeout is only a bound for a broken build, so it is generous.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The awaited condition did not hold within the bound."""


def wait_until(
    probe: Callable[[], T],
    what: str,
    timeout: float = 120.0,
    interval: float = 0.1,
    accept: Callable[[T], bool] = bool,
) -> T:
    """Call ``probe`` until ``accept(value)`` holds and return that value.

    Raises ``WaitTimeout`` naming ``what`` and the last value after ``timeout`` seconds. Exceptions from ``probe``
    count as "not yet" (a server still starting) and the last one is reported.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if accept(value):
                return value
            last = value
        except Exception as exc:  # "not yet" (e.g. a server still starting); reported if it never stops
            last = exc
        if time.monotonic() > deadline:
            raise WaitTimeout(f"waited {timeout:.0f} s for {what}; last seen: {last!r}")
        time.sleep(interval)
