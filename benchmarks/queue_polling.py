"""Gradio's idle queue polling, measured side by side in one run: two apps serving the embedded model, one with
Gradio's own 1 ms (``SENTIMENT_QUEUE_POLL_S=0.001``) and one with the app's default (5 ms), started together.

Prints, per app: CPU used while idle (both idle at once, ``--idle-s`` seconds, read from /proc through psutil) and
the latency of Gradio ``/predict`` calls through ``gradio_client`` (sequential, one text per call, the two apps'
calls interleaved so that both see the same machine), with their ratios. Usage::

    python benchmarks/queue_polling.py [--requests 200] [--idle-s 30]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import psutil
from bench_app import prepare, start_benchmark_app
from gradio_client import Client

logger = logging.getLogger("queue_polling")
POLLS = {"gradio (1 ms)": "0.001", "app default (5 ms)": "0.005"}


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="Gradio /predict calls per app")
    parser.add_argument("--idle-s", type=float, default=30.0, help="seconds both apps sit idle")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        bench = prepare(Path(tmp), "embedded")
        apps = {
            name: start_benchmark_app(bench, {"SENTIMENT_QUEUE_POLL_S": poll}, name=f"poll-{poll}")
            for name, poll in POLLS.items()
        }
        try:
            processes = {name: psutil.Process(app.process.pid) for name, app in apps.items()}
            clients = {name: Client(app.url, verbose=False) for name, app in apps.items()}
            for client in clients.values():  # warm: the first call builds the session and the model's first pass
                client.predict("warm up", api_name="/predict")
            time.sleep(2)
            before = {name: _cpu_s(p) for name, p in processes.items()}
            started = time.monotonic()
            time.sleep(args.idle_s)
            elapsed = time.monotonic() - started
            idle = {name: (_cpu_s(p) - before[name]) / elapsed for name, p in processes.items()}
            latency: dict[str, list[float]] = {name: [] for name in apps}
            for i in range(args.requests):
                for name, client in clients.items():
                    text = bench.tweets[i % len(bench.tweets)]
                    t0 = time.perf_counter()
                    client.predict(text, api_name="/predict")
                    latency[name].append(time.perf_counter() - t0)
        finally:
            for app in apps.values():
                app.stop()
    base = next(iter(POLLS))
    print(f"\n{args.requests} sequential Gradio /predict calls per app (interleaved), idle {args.idle_s:.0f} s\n")
    print("| queue polling | idle CPU (cores) | ratio | /predict p50 (ms) | ratio | p90 (ms) |")
    print("|---|---|---|---|---|---|")
    for name in apps:
        p50 = statistics.median(latency[name]) * 1000
        p90 = statistics.quantiles(latency[name], n=10)[-1] * 1000
        base_p50 = statistics.median(latency[base]) * 1000
        print(
            f"| {name} | {idle[name]:.3f} | {idle[name] / idle[base]:.2f}x | {p50:.1f} | {p50 / base_p50:.2f}x | "
            f"{p90:.1f} |"
        )


if __name__ == "__main__":
    main()
