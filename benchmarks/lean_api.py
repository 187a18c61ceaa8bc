"""The lean inference API against Gradio's /predict and the bare predictor, one table from one run.

Rows: the bare predictor one text per pass and in passes of 16 (the batched ceiling), measured before the HTTP rows
and again after them; ``POST /predict`` (the lean API) and Gradio's ``/predict`` (``POST /gradio_api/call/predict``
then its event stream) with 1, 4, 16 and 64 HTTP clients in closed loops; lean requests of 32 texts. Each client is
a coroutine on one asyncio loop (64 threads would take CPU from the server on a 2-core machine). A refused request
(503) is counted and retried after a 50 ms pause; its own latency (how fast the bound answers) is reported as
"refusal p50 / p99". Texts are real tweets in random order. "of ceiling" is a row's texts/s over the bare
predictor's in passes of 16 (mean of before and after).

``--ab KEY=VALUE`` starts a second app with those settings changed and measures the one-text rows of both paths on
both apps, each row split in halves run in the order A B B A, so that the machine's drift hits both alike: an A/B of
one setting in one run (e.g. ``--ab SENTIMENT_PREDICT_MAX_BATCH=1``: Gradio's event batching and the inference API's
request coalescing off).

    python benchmarks/lean_api.py [--model roberta|embedded] [--seconds 8] [--clients 1,4,16,64]
        [--paths lean,gradio,lean32] [--env K=V] [--ab K=V]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
from bench_app import parse_env, prepare, start_benchmark_app

from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging

Call = Callable[[httpx.AsyncClient, list[str]], Awaitable[int]]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # accepted requests, seconds
    refusals: list[float] = field(default_factory=list)  # refused (503) requests, seconds until the answer
    failed: int = 0
    texts: int = 0


async def lean(client: httpx.AsyncClient, texts: list[str]) -> int:
    response = await client.post("/predict", json={"inputs": texts if len(texts) > 1 else texts[0], "truncate": True})
    if response.status_code == 200 and len(response.json()) != (len(texts) if len(texts) > 1 else 3):
        return 500
    return response.status_code


async def gradio(client: httpx.AsyncClient, texts: list[str]) -> int:
    response = await client.post("/gradio_api/call/predict", json={"data": [texts[0]]})
    if response.status_code != 200:
        return response.status_code
    body = (await client.get(f"/gradio_api/call/predict/{response.json()['event_id']}")).text
    if "event: complete" not in body:
        return 500
    data = [line[5:] for line in body.splitlines() if line.startswith("data:")][-1]
    return 200 if json.loads(data)[0]["label"] else 500


async def closed_loop(url: str, call: Call, texts: list[str], clients: int, per_request: int, seconds: float) -> Tally:
    tally = Tally()
    stop = time.monotonic() + seconds

    async def one(i: int, client: httpx.AsyncClient) -> None:
        n = i * per_request
        while time.monotonic() < stop:
            batch = [texts[(n + k) % len(texts)] for k in range(per_request)]
            n += clients * per_request
            started = time.perf_counter()
            try:
                status = await call(client, batch)
            except httpx.HTTPError:
                status = -1
            elapsed = time.perf_counter() - started
            if status == 200:
                tally.latencies.append(elapsed)
                tally.texts += per_request
            elif status == 503:
                tally.refusals.append(elapsed)
                await asyncio.sleep(0.05)
            else:
                tally.failed += 1

    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(one(i, client) for i in range(clients)))
    return tally


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else float("nan")


def bare_rows(bare: Predictor, tweets: list[str], n: int) -> list[tuple[str, float, float, float]]:
    """(name, texts/s, p50 ms, p99 ms) per pass for one text per pass and for passes of 16."""
    rows = []
    for size in (1, 16):
        times = []
        for i in range(n):
            batch = [tweets[(i * size + k) % len(tweets)] for k in range(size)]
            started = time.perf_counter()
            bare.predict_batch(batch)
            times.append(time.perf_counter() - started)
        rows.append(
            (f"bare predictor, {size} per pass", size * len(times) / sum(times), pct(times, 0.5), pct(times, 0.99))
        )
    return rows


def merge(tallies: list[Tally]) -> Tally:
    """One tally of several runs of the same row (the halves of an A B B A pair)."""
    out = Tally()
    for t in tallies:
        out.latencies += t.latencies
        out.refusals += t.refusals
        out.failed += t.failed
        out.texts += t.texts
    return out


def measure(url: str, call: Call, tweets: list[str], clients: int, per_request: int, seconds: float) -> Tally:
    asyncio.run(closed_loop(url, call, tweets, clients, per_request, 1.0))  # warm connections
    return asyncio.run(closed_loop(url, call, tweets, clients, per_request, seconds))


PATHS = ("lean", "gradio", "lean32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["roberta", "embedded"], default="roberta")
    parser.add_argument("--seconds", type=float, default=8.0, help="per row")
    parser.add_argument("--passes", type=int, default=60, help="bare predictor passes per row")
    parser.add_argument("--clients", default="1,4,16,64", help="client counts of the one-text rows, comma-separated")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"rows to run, comma-separated: {', '.join(PATHS)}")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the app")
    parser.add_argument("--ab", action="append", default=[], help="KEY=VALUE changed in a second app (B)")
    args = parser.parse_args()
    clients = [int(n) for n in args.clients.split(",")]
    paths = args.paths.split(",")
    if unknown := set(paths) - set(PATHS):
        parser.error(f"unknown paths {sorted(unknown)}; use {', '.join(PATHS)}")
    env, changed = parse_env(args.env), parse_env(args.ab)
    configure_logging("WARNING")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        bench = prepare(Path(tmp), args.model)
        tweets = bench.tweets
        app = start_benchmark_app(bench, env)
        other = start_benchmark_app(bench, {**env, **changed}, name="app-b") if changed else None
        try:
            bare = Predictor.load(bench.spec, bench.settings)
            bare.warm_up()
            before = bare_rows(bare, tweets, args.passes)
            http: list[tuple[str, Tally, float]] = []
            plan: list[tuple[str, Call, int, int]] = []
            if "lean" in paths:
                plan += [("lean /predict", lean, n, 1) for n in clients]
            if "gradio" in paths:
                plan += [("Gradio /predict", gradio, n, 1) for n in clients]
            if "lean32" in paths:
                plan += [("lean /predict, 32 texts", lean, n, 32) for n in (1, 4)]
            for name, call, n, per_request in plan:
                if other is None or per_request != 1:  # A/B: the one-text rows of both paths
                    started = time.monotonic()
                    tally = measure(app.url, call, tweets, n, per_request, args.seconds)
                    http.append((f"{name}, {n} clients", tally, time.monotonic() - started - 1.0))
                    continue
                halves: dict[str, list[Tally]] = {"A": [], "B": []}
                walls = {"A": 0.0, "B": 0.0}
                for which in "ABBA":
                    started = time.monotonic()
                    url = app.url if which == "A" else other.url
                    halves[which].append(measure(url, call, tweets, n, per_request, args.seconds / 2))
                    walls[which] += time.monotonic() - started - 1.0
                ab = " ".join(f"{k}={v}" for k, v in changed.items())
                http.append((f"{name} [A: as set], {n} clients", merge(halves["A"]), walls["A"]))
                http.append((f"{name} [B: {ab}], {n} clients", merge(halves["B"]), walls["B"]))
            after = bare_rows(bare, tweets, args.passes)
        finally:
            app.stop()
            if other is not None:
                other.stop()
    ceiling = (before[1][1] + after[1][1]) / 2
    print(
        f"model: {args.model} ({bench.description}); {os.cpu_count()} cores; {args.seconds:.0f} s per HTTP row; "
        f"load average at start {load_before[0]:.1f}, at end {os.getloadavg()[0]:.1f}"
    )
    print("| row | texts/s | of ceiling | req/s | p50 ms | p99 ms | refused | refusal p50 / p99 ms | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for when, table in (("before", before), ("after", after)):
        for name, rate, p50, p99 in table:
            print(f"| {name} ({when}) | {rate:.1f} | {rate / ceiling:.0%} | | {p50:.1f} | {p99:.1f} | | | |")
    for name, t, wall in http:
        rate = t.texts / wall
        print(
            f"| {name} | {rate:.1f} | {rate / ceiling:.0%} | {len(t.latencies) / wall:.1f} | "
            f"{pct(t.latencies, 0.5):.1f} | {pct(t.latencies, 0.99):.1f} | {len(t.refusals)} | "
            f"{f'{pct(t.refusals, 0.5):.0f} / {pct(t.refusals, 0.99):.0f}' if t.refusals else '-'} | {t.failed} |"
        )


if __name__ == "__main__":
    main()
