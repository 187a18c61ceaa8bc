"""A 20,000-row CSV scored through the UI path (gradio_client -> /score_csv) grows the app by under 300 MB.

The app serves a tiny 2-layer BERT (``tests/tiny_models.py``) through the same code as the embedded model: what must
stay bounded is the streaming path (reading, scoring in batches, writing), whose memory does not depend on the model's
size once the model is loaded (before the measurement starts); the embedded model would spend three minutes of CPU
on the same 20,000 rows and prove nothing more."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import CACHE
from gradio_client import Client, handle_file

from appserver import RunningApp, start_app
from sentiment.datasets import load_split
from sentiment.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_app(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    app = start_app(
        tmp_path_factory.mktemp("memory-app"),
        {
            "SENTIMENT_MODEL": str(tiny_model_dir),
            "SENTIMENT_SCHEDULER_ENABLED": "false",
            "SENTIMENT_CACHE_DIR": str(CACHE),
        },
    )
    yield app
    app.stop()


def test_a_20000_row_csv_streams_through_in_bounded_memory(
    tiny_app: RunningApp, session_settings: Settings, tmp_path: Path
) -> None:
    tweets = load_split("vader_tweets", "all", session_settings)["text"].tolist()
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([i, tweets[i % len(tweets)]] for i in range(20_000))
    process = psutil.Process(tiny_app.process.pid)
    client = Client(tiny_app.url, verbose=False)
    client.predict("warm the path once", api_name="/predict")
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:  # the peak during the job, not just what is left after it
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, summary, _ = client.predict(handle_file(str(path)), "text", api_name="/score_csv")
    finally:
        done.set()
        sampler.join()
    growth_mb = (peak - before) / 2**20
    print(f"peak resident memory growth while scoring 20,000 rows: {growth_mb:.0f} MB")
    assert summary["rows"] == summary["scored"] == 20_000
    with open(out, newline="") as handle:
        assert sum(1 for _ in csv.reader(handle)) == 20_001
    assert growth_mb < 300
