"""Long commands say how far they are: ``CountProgress`` (the traffic replay, the calibration fit) logs items done,
the rate, the share and the time left, at most every interval and always at the end; the commands that use it show
it on stderr unless ``--quiet``. (``tests/integration/test_readme.py`` checks the same lines on the README's own
``replay`` and ``finetune.calibrate`` commands.)"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from sentiment.tables.progress import CountProgress, describe_progress, show_progress_lines


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """The progress lines logged while the test runs, whatever level the process logs at."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("sentiment.tables.progress")
    old_level = logger.level
    logger.addHandler(handler)
    show_progress_lines()
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_describe_progress_names_what_is_counted() -> None:
    assert (
        describe_progress(0.2, 120, 24.0, unit="texts", done="sent", whole="600 texts")
        == "120 texts sent, 5 texts/s, 20% of 600 texts, about 0:01:36 left"
    )


def test_a_count_logs_the_time_left_every_interval_and_the_end(logged: list[str]) -> None:
    """600 texts at 5 a second, one every 0.2 s: a line every 5 s with the time left counting down, then the end."""
    clock = [0.0]
    progress = CountProgress("replay", 600, done="sent", interval_s=5.0, clock=lambda: clock[0])
    for _ in range(600):
        clock[0] += 0.2
        progress.advance()
    assert logged[0] == "replay: 1 texts sent, 5 texts/s, 0% of 600 texts"  # the first call shows: it started
    assert logged[-1] == "replay: 600 texts sent, 5 texts/s, 100% of 600 texts"
    # 120 s of work: the first line, one per 5 s after it, and the end; never a line per text
    assert 20 <= len(logged) <= 1 + 120 // 5 + 1, logged
    middle = [
        re.fullmatch(r"replay: (\d+) texts sent, 5 texts/s, \d+% of 600 texts, about 0:(\d\d):(\d\d) left", m)
        for m in logged[1:-1]
    ]
    assert all(middle), logged
    for match in middle:
        assert match is not None
        sent, left = int(match[1]), int(match[2]) * 60 + int(match[3])
        assert abs(left - (600 - sent) * 0.2) <= 1.0  # the time left is what a steady rate leaves


def test_a_count_of_nothing_ends_at_once(logged: list[str]) -> None:
    progress = CountProgress("calibration", 0)
    progress.advance(0)
    assert logged == ["calibration: 0 texts scored, 0 texts/s, 100% of 0 texts"]
