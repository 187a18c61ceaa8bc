"""Traffic replay: send a dataset's texts to a running app through gradio_client at a steady rate.

Bounded in count and time, it stops by itself. With ``shift_to`` the second half of the texts comes from another
dataset, so a fresh monitoring stack shows a drift alarm within a few drift intervals.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from sentiment.datasets import load_split
from sentiment.errors import MonitoringError
from sentiment.settings import Settings
from sentiment.tables.progress import CountProgress

logger = logging.getLogger(__name__)


@dataclass
class ReplayStats:
    sent: int = 0
    failed: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def replay(
    url: str,
    dataset: str,
    settings: Settings,
    *,
    rate: float = 5.0,
    max_texts: int = 1000,
    max_seconds: float = 600.0,
    shift_to: str | None = None,
    split: str = "all",
    progress_interval_s: float | None = 5.0,
) -> ReplayStats:
    """Send the texts, ``rate`` a second, and count what came back. With ``progress_interval_s`` (None: silent) it
    logs texts sent, the rate and the time left that often (at 5 texts/s, 600 texts take two minutes)."""
    from gradio_client import Client

    if rate <= 0:
        raise MonitoringError("rate must be > 0 texts per second")
    first = load_split(dataset, split, settings)["text"].sample(frac=1.0, random_state=0).tolist()
    if shift_to:
        second = load_split(shift_to, split, settings)["text"].sample(frac=1.0, random_state=0).tolist()
        half = max_texts // 2
        texts = first[:half] + second[: max_texts - half]
    else:
        texts = first[:max_texts]
    client = Client(url, verbose=False)
    stats = ReplayStats()
    # The texts that fit in max_seconds: what the time left is counted against.
    total = min(len(texts), int(max_seconds * rate) + 1)
    progress = (
        None
        if progress_interval_s is None
        else CountProgress("replay", total, done="sent", interval_s=progress_interval_s)
    )
    started = time.monotonic()
    for i, text in enumerate(texts):
        due = started + i / rate
        if due - started > max_seconds:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        try:
            label, _ = client.predict(text, api_name="/predict")
            stats.labels[label["label"]] += 1
            stats.sent += 1
        except Exception as exc:  # report and go on: a replay measures the app, it must not stop at one error
            stats.failed += 1
            logger.warning("request %d failed: %s", i, exc)
        if progress is not None:
            progress.advance()
        if shift_to and i + 1 == len(texts) // 2:
            logger.info("switching from %s to %s", dataset, shift_to)
    stats.seconds = time.monotonic() - started
    return stats
