"""Prediction latency with the prediction log on and off, measured side by side in one run (interleaved).

python benchmarks/logging_overhead.py [--model embedded] [--requests 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from prometheus_client import CollectorRegistry

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging
from sentiment.runtime import configure_process
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp), cache_override=Settings().cache_dir.resolve())
        configure_process(base)  # honours SENTIMENT_TORCH_THREADS
        texts = load_split("vader_tweets", "test", base)["text"].tolist()
        predictor = Predictor.load(args.model, base)
        services = {}
        for name, enabled in (("off", False), ("on", True)):
            settings = base.model_copy(update={"log_predictions": enabled, "data_dir": Path(tmp) / name})
            services[name] = SentimentService(settings, ServiceMetrics(CollectorRegistry()), predictor=predictor)
            services[name].start()
        timings: dict[str, list[float]] = {"off": [], "on": []}
        for i in range(args.requests):
            order = ("off", "on") if i % 2 == 0 else ("on", "off")  # alternate so drift in machine load cancels
            for name in order:
                started = time.perf_counter()
                services[name].predict(texts[i % len(texts)])
                timings[name].append(time.perf_counter() - started)
        log = services["on"].monitoring.log
        assert log is not None and log.flush(30)
        written = log.counters.written
        for service in services.values():
            service.stop()
    p50 = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    mean = {k: statistics.fmean(v) * 1000 for k, v in timings.items()}
    print(f"{args.requests} single-text predictions each, model {predictor.info.name}, interleaved")
    print(f"{'log':<5}{'p50 ms':>10}{'mean ms':>10}")
    for name in ("off", "on"):
        print(f"{name:<5}{p50[name]:>10.2f}{mean[name]:>10.2f}")
    print(f"ratio on/off: p50 {p50['on'] / p50['off']:.3f}, mean {mean['on'] / mean['off']:.3f} (target <= 1.05)")
    print(f"rows written by the log: {written} of {args.requests}")


if __name__ == "__main__":
    main()
