"""Load test: mixed traffic from N concurrent gradio_client clients against a running app, bounded in time and
count, loopback only. Reports requests served, errors by kind (a full queue answering "busy" is not a failure of
an accepted request) and latency percentiles per endpoint.

    python benchmarks/load_test.py [--url http://127.0.0.1:7860] [--clients 16] [--seconds 60]
    (without --url it starts the app itself, serving the embedded model)
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gradio_client import Client, handle_file

from appserver import start_app
from sentiment.datasets import load_split
from sentiment.logs import configure_logging
from sentiment.settings import Settings

MIX = [("predict", 0.70), ("predict_batch", 0.15), ("score_csv", 0.10), ("evaluate", 0.05)]


def classify_error(exc: BaseException) -> str:
    text = str(exc).lower()
    if "queue is full" in text or "too many" in text or "busy" in text:
        return "busy (queue full)"
    return f"failed: {type(exc).__name__}: {str(exc)[:80]}"


def run(url: str, clients: int, seconds: float, max_requests: int, texts: list[str], csv_path: Path) -> None:
    latencies: dict[str, list[float]] = defaultdict(list)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    issued = [0]

    def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        client = Client(url, verbose=False)
        while time.monotonic() < stop_at:
            with lock:
                if issued[0] >= max_requests:
                    return
                issued[0] += 1
            kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
            started = time.perf_counter()
            try:
                if kind == "predict":
                    client.predict(rng.choice(texts), api_name="/predict")
                elif kind == "predict_batch":
                    client.predict("\n".join(rng.sample(texts, 8)), api_name="/predict_batch")
                elif kind == "score_csv":
                    client.predict(handle_file(str(csv_path)), "text", api_name="/score_csv")
                else:
                    client.predict("vader", "vader_tweets", "test", 50, rng.randrange(1000), api_name="/evaluate")
                outcome = "ok"
            except Exception as exc:  # counted by kind: the report says what went wrong
                outcome = classify_error(exc)
            elapsed = time.perf_counter() - started
            with lock:
                outcomes[f"{kind}: {outcome}"] += 1
                if outcome == "ok":
                    latencies[kind].append(elapsed)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    served = sum(len(v) for v in latencies.values())
    print(f"{clients} clients, {wall:.0f} s, {issued[0]} requests issued, {served} served ({served / wall:.1f}/s)")
    for key, count in sorted(outcomes.items()):
        print(f"  {key:<60} {count:6d}")
    for kind, values in sorted(latencies.items()):
        ordered = sorted(values)
        p50, p99 = ordered[len(ordered) // 2], ordered[max(0, int(len(ordered) * 0.99) - 1)]
        print(f"  latency {kind:<14} n={len(values):5d}  p50 {p50 * 1000:8.0f} ms  p99 {p99 * 1000:8.0f} ms")
    failed = sum(c for k, c in outcomes.items() if ": failed" in k)
    print(f"failed accepted requests: {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=20_000)
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), cache_override=Settings().cache_dir.resolve())
        texts = load_split("vader_tweets", "all", settings)["text"].tolist()
        csv_path = Path(tmp) / "reviews.csv"
        with csv_path.open("w", newline="") as handle:
            csv.writer(handle).writerows([["text"], *([t] for t in texts[:200])])
        app = None
        url = args.url
        if url is None:
            app = start_app(
                Path(tmp) / "app", {"SENTIMENT_CACHE_DIR": str(settings.cache_dir), "SENTIMENT_MODEL": "embedded"}
            )
            url = app.url
        try:
            run(url, args.clients, args.seconds, args.max_requests, texts, csv_path)
        finally:
            if app is not None:
                app.stop()


if __name__ == "__main__":
    main()
