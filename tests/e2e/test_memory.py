"""A 20,000-row CSV scored through the UI path (gradio_client -> /score_csv) grows the app by under 300 MB."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import psutil
import pytest
from gradio_client import Client, handle_file

from appserver import RunningApp
from sentiment.datasets import load_split
from sentiment.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_20000_row_csv_streams_through_in_bounded_memory(
    running_app: RunningApp, session_settings: Settings, tmp_path: Path
) -> None:
    tweets = load_split("vader_tweets", "all", session_settings)["text"].tolist()
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([i, tweets[i % len(tweets)]] for i in range(20_000))
    process = psutil.Process(running_app.process.pid)
    client = Client(running_app.url, verbose=False)
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
