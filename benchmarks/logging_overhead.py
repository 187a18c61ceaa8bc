"""What the prediction log costs, on SQLite and PostgreSQL side by side in one run (interleaved).

1. ``record()``, the only part on the request path: time per call (p50, p99, mean) while the writer thread drains,
   and the writer's throughput (rows/s: rows recorded and committed in one burst, and a queued backlog drained);
   rounds alternate between the backends so drift in machine load cancels.
2. ``POST /predict`` (the lean API) of the running app, one text per request, sequential, the requests alternating
   between an app with the log off, one logging to SQLite and one logging to PostgreSQL: p50 and mean, and the
   ratios against logging off.

PostgreSQL is a throwaway server started from Debian's package (tests/postgres.py), or the one ``--database-url``
names (its database gets this script's rows: use an empty one).

python benchmarks/logging_overhead.py [--model embedded] [--rows 10000] [--rounds 2] [--requests 200]
    [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import numpy as np
from bench_app import MODELS, Bench, prepare, start_benchmark_app

from sentiment.datasets import load_split
from sentiment.logs import configure_logging
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.results import BatchResult
from sentiment.settings import Settings
from sentiment.store import Store


def one_row() -> BatchResult:
    probs = np.array([[0.1, 0.2, 0.7]], dtype=np.float32)
    vector = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    return BatchResult(
        probabilities=probs, truncated=np.zeros(1, bool), errors=[None], tokens=np.full(1, 20), embeddings=vector
    ).with_new_ids()


def record_costs(store: Store, tweets: list[str], rows: int) -> dict[str, float]:
    """``rows`` single-row records with the writer running: per-call times, then the time until all are committed;
    then the same number queued with the writer stopped and drained at once (the writer alone)."""
    result = one_row()
    log = PredictionLog(store, capacity=rows * 2)
    log.start()
    calls = []
    started = time.perf_counter()
    for i in range(rows):
        before = time.perf_counter()
        log.record("predict", "embedded", [tweets[i % len(tweets)]], result)
        calls.append(time.perf_counter() - before)
    assert log.flush(300), "the writer did not keep up within 300 s"
    burst_s = time.perf_counter() - started
    log.stop()
    backlog = PredictionLog(store, capacity=rows * 2)
    for i in range(rows):
        backlog.record("predict", "embedded", [tweets[i % len(tweets)]], result)
    started = time.perf_counter()
    backlog.start()
    assert backlog.flush(300)
    drain_s = time.perf_counter() - started
    backlog.stop()
    assert log.counters.dropped == backlog.counters.dropped == 0
    micro = sorted(c * 1e6 for c in calls)
    return {
        "p50": micro[len(micro) // 2],
        "p99": micro[int(len(micro) * 0.99)],
        "mean": statistics.fmean(micro),
        "burst": rows / burst_s,
        "drain": rows / drain_s,
    }


def predict_latencies(urls: dict[str, str], tweets: list[str], requests: int) -> dict[str, list[float]]:
    """Sequential single-text ``POST /predict`` to each app in turn, the order rotating every request."""
    names = list(urls)
    clients = {name: httpx.Client(base_url=url, timeout=60) for name, url in urls.items()}
    timings: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm-up: first requests pay for lazy set-up
        for text in tweets[:10]:
            clients[name].post("/predict", json={"inputs": text}).raise_for_status()
    for i in range(requests):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            started = time.perf_counter()
            clients[name].post("/predict", json={"inputs": tweets[i % len(tweets)]}).raise_for_status()
            timings[name].append(time.perf_counter() - started)
    for client in clients.values():
        client.close()
    return timings


def served(folder: Path, spec: str) -> Bench:
    """``prepare`` for any other model spec the app serves (``vader``, a local folder): the same tweets."""
    settings = Settings(data_dir=folder / "bench", cache_override=Settings().cache_dir.resolve())
    tweets = load_split("vader_tweets", "all", settings)["text"].sample(frac=1.0, random_state=1).tolist()
    return Bench(folder, settings, tweets, spec, spec)


def with_postgres(url: str | None, run: Callable[[str], None]) -> None:
    if url is not None:
        run(url)
        return
    from postgres import PostgresServer  # tests/postgres.py (bench_app puts tests/ on the path)

    server = PostgresServer().start()
    try:
        run(server.create_database())
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--rows", type=int, default=10_000, help="single-row records per backend and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200, help="POST /predict per app")
    parser.add_argument("--database-url", help="a PostgreSQL database to use instead of starting one")
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        bench = prepare(Path(tmp), args.model) if args.model in MODELS else served(Path(tmp), args.model)

        def run(pg_url: str) -> None:
            urls = {"sqlite": f"sqlite:///{Path(tmp) / 'log.sqlite'}", "postgresql": pg_url}
            stores = {name: Store.open(url) for name, url in urls.items()}
            costs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            for round_ in range(args.rounds):
                for name in list(urls)[:: 1 if round_ % 2 == 0 else -1]:
                    costs[name].append(record_costs(stores[name], bench.tweets, args.rows))
            for store in stores.values():
                store.dispose()
            envs = {
                "off": {"SENTIMENT_LOG_PREDICTIONS": "false"},
                "sqlite": {"SENTIMENT_DATABASE_URL": urls["sqlite"]},
                "postgresql": {"SENTIMENT_DATABASE_URL": pg_url},
            }
            with ThreadPoolExecutor(len(envs)) as pool:  # start-up is mostly waiting: the three start together
                started = {name: pool.submit(start_benchmark_app, bench, env, name) for name, env in envs.items()}
                apps = {name: future.result() for name, future in started.items()}
            try:
                timings = predict_latencies({k: app.url for k, app in apps.items()}, bench.tweets, args.requests)
            finally:
                for app in apps.values():
                    app.stop()
            report(args, bench.description if bench.model in MODELS else bench.spec, costs, timings)

        with_postgres(args.database_url, run)


def report(
    args: argparse.Namespace, model: str, costs: dict[str, list[dict[str, float]]], timings: dict[str, list[float]]
) -> None:
    def median(name: str, key: str) -> float:
        return statistics.median(c[key] for c in costs[name])

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"CPU: {os.cpu_count()} cores; load average (1, 5, 15 min) at the end: {load}")
    print(f"## record() and the writer: {args.rows} single-row records per backend, {args.rounds} rounds (medians)")
    print(f"{'backend':<12}{'record p50 us':>14}{'p99 us':>9}{'mean us':>9}{'burst rows/s':>14}{'drain rows/s':>14}")
    for name in costs:
        print(
            f"{name:<12}{median(name, 'p50'):>14.1f}{median(name, 'p99'):>9.1f}{median(name, 'mean'):>9.1f}"
            f"{median(name, 'burst'):>14,.0f}{median(name, 'drain'):>14,.0f}"
        )
    print(f"## POST /predict, one text per request, {args.requests} per app, sequential, interleaved; model {model}")
    p50 = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    mean = {k: statistics.fmean(v) * 1000 for k, v in timings.items()}
    print(f"{'log':<12}{'p50 ms':>10}{'mean ms':>10}{'p50 vs off':>12}{'mean vs off':>12}")
    for name in timings:
        print(
            f"{name:<12}{p50[name]:>10.2f}{mean[name]:>10.2f}{p50[name] / p50['off']:>12.3f}"
            f"{mean[name] / mean['off']:>12.3f}"
        )


if __name__ == "__main__":
    main()
