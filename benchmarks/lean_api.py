"""The lean inference API against Gradio's /predict and the bare predictor, one table from one run.

Rows: the bare predictor one text per pass and in passes of 16 (the batched ceiling); ``POST /predict`` (the lean
API) and Gradio's ``/predict`` (``POST /gradio_api/call/predict`` then its event stream) with 1, 4, 16 and 64 HTTP
clients in closed loops; lean requests of 32 texts. Each client is a coroutine on one asyncio loop (64 threads would
take CPU from the server on a 2-core machine). A refused request (503) is counted and retried after a 50 ms pause;
its own latency is reported as "refusal max". Texts are real tweets in random order.

    python benchmarks/lean_api.py [--model roberta|embedded] [--seconds 8] [--env K=V]
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
from roberta_model import build_roberta_base

from appserver import start_app
from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging
from sentiment.settings import Settings

Call = Callable[[httpx.AsyncClient, list[str]], Awaitable[int]]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # accepted requests, seconds
    refused: int = 0
    refusal_max: float = 0.0
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
                tally.refused += 1
                tally.refusal_max = max(tally.refusal_max, elapsed)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["roberta", "embedded"], default="roberta")
    parser.add_argument("--seconds", type=float, default=8.0, help="per row")
    parser.add_argument("--passes", type=int, default=60, help="bare predictor passes per row")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the app")
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "bench", cache_override=Settings().cache_dir.resolve())
        tweets = load_split("vader_tweets", "all", settings)["text"].sample(frac=1.0, random_state=1).tolist()
        spec = "embedded" if args.model == "embedded" else str(build_roberta_base(Path(tmp) / "roberta", tweets))
        env = {
            "SENTIMENT_MODEL": spec,
            "SENTIMENT_CACHE_DIR": str(settings.cache_dir),
            "SENTIMENT_SCHEDULER_ENABLED": "false",
            **dict(pair.split("=", 1) for pair in args.env),
        }
        app = start_app(Path(tmp) / "app", env)
        try:
            bare = Predictor.load(spec, settings)
            bare.warm_up()
            table = bare_rows(bare, tweets, args.passes)
            del bare  # the app's process is the one measured from here on
            http: list[tuple[str, Tally, float]] = []
            plan = [("lean /predict", lean, n, 1) for n in (1, 4, 16, 64)]
            plan += [("Gradio /predict", gradio, n, 1) for n in (1, 4, 16, 64)]
            plan += [("lean /predict, 32 texts", lean, n, 32) for n in (1, 4)]
            for name, call, clients, per_request in plan:
                asyncio.run(closed_loop(app.url, call, tweets, clients, per_request, 1.0))  # warm connections
                started = time.monotonic()
                tally = asyncio.run(closed_loop(app.url, call, tweets, clients, per_request, args.seconds))
                http.append((f"{name}, {clients} clients", tally, time.monotonic() - started))
        finally:
            app.stop()
    print(
        f"model: {args.model} ({spec if args.model == 'embedded' else 'roberta-base-sized, random weights'}); "
        f"{os.cpu_count()} cores; {args.seconds:.0f} s per HTTP row"
    )
    print("| row | texts/s | req/s | p50 ms | p99 ms | refused | refusal max ms | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, rate, p50, p99 in table:
        print(f"| {name} | {rate:.1f} | | {p50:.1f} | {p99:.1f} | | | |")
    for name, t, wall in http:
        print(
            f"| {name} | {t.texts / wall:.1f} | {len(t.latencies) / wall:.1f} | {pct(t.latencies, 0.5):.1f} | "
            f"{pct(t.latencies, 0.99):.1f} | {t.refused} | {t.refusal_max * 1000:.0f} | {t.failed} |"
        )


if __name__ == "__main__":
    main()
