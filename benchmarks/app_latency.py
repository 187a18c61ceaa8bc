"""The app as clients see it, measured side by side in one run: start-up, resident memory, single-request latency
over HTTP against the bare predictor call, throughput with 1, 4 and 16 concurrent HTTP clients, and CSV scoring
through the UI path against the bare predictor on the same rows.

Latency uses plain HTTP (Gradio's REST protocol: POST /gradio_api/call/<api>, then read the result event);
gradio_client adds ~65 ms per call here and is only used for the CSV upload.

    python benchmarks/app_latency.py [--model embedded|roberta] [--requests 200] [--csv-rows 4000] [--env K=V]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
from bench_app import parse_env, prepare, start_benchmark_app

from appserver import metric_value
from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging


def call(client: httpx.Client, url: str, text: str) -> dict[str, object]:
    event = client.post(f"{url}/gradio_api/call/predict", json={"data": [text]}).json()["event_id"]
    body = client.get(f"{url}/gradio_api/call/predict/{event}").text
    for line in body.splitlines():
        if line.startswith("data:"):
            last = line[5:].strip()
    if "event: error" in body:
        raise RuntimeError(body[-300:])
    return json.loads(last)[0]  # type: ignore[no-any-return]


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def throughput(url: str, texts: list[str], clients: int, seconds: float) -> float:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        with httpx.Client(timeout=60) as client:
            n = i
            while time.monotonic() < stop:
                call(client, url, texts[n % len(texts)])
                done[i] += 1
                n += clients

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["embedded", "roberta"], default="embedded")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--csv-rows", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=15.0, help="per concurrency level")
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the app, e.g. SENTIMENT_PACKING=false"
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    env = parse_env(args.env)
    with tempfile.TemporaryDirectory() as tmp:
        bench = prepare(Path(tmp), args.model)
        settings, tweets = bench.settings, bench.tweets
        started = time.perf_counter()
        app = start_benchmark_app(bench, env)
        ready_s = time.perf_counter() - started
        try:
            bare = Predictor.load(bench.spec, settings)
            texts = tweets[: args.requests]
            with httpx.Client(timeout=60) as client:
                for t in texts[:10]:
                    call(client, app.url, t)
                    bare.predict_batch([t])
                http_times, bare_times, group_times = [], [], []
                for i, t in enumerate(texts):  # interleaved, so machine noise hits both alike
                    s = time.perf_counter()
                    call(client, app.url, t)
                    http_times.append(time.perf_counter() - s)
                    s = time.perf_counter()
                    bare.predict_batch([t])
                    bare_times.append(time.perf_counter() - s)
                    if i % 8 == 0:  # what one forward pass of 8 concurrent requests costs, without HTTP
                        group = tweets[len(texts) + i : len(texts) + i + 8]
                        s = time.perf_counter()
                        bare.predict_batch(group)
                        group_times.append(time.perf_counter() - s)
            rates, per_pass = {}, {}
            for n in (1, 4, 16):
                before = app.metrics()
                rates[n] = throughput(app.url, tweets, n, args.seconds)
                after = app.metrics()
                texts_, passes = (
                    metric_value(after, f"sentiment_coalesced_batch_size_{kind}")
                    - metric_value(before, f"sentiment_coalesced_batch_size_{kind}")
                    for kind in ("sum", "count")
                )
                per_pass[n] = texts_ / max(passes, 1)
            rows = tweets[: args.csv_rows]
            from gradio_client import Client, handle_file

            client = Client(app.url, verbose=False)  # set-up (config and API info), not part of scoring a file
            # UI, bare, bare, UI on the same file: this machine's speed drifts by tens of percent within a minute,
            # and the ABBA order cancels a steady drift.
            path = Path(tmp) / "rows.csv"
            with path.open("w", newline="") as handle:
                csv.writer(handle).writerows([["text"], *([t] for t in rows)])
            ui_s = bare_s = 0.0
            for kind in ("ui", "bare", "bare", "ui"):
                s = time.perf_counter()
                if kind == "ui":
                    _, summary, _ = client.predict(handle_file(str(path)), "text", api_name="/score_csv")
                    assert summary["rows"] == len(rows)
                    ui_s += time.perf_counter() - s
                else:
                    for first in range(0, len(rows), settings.csv_chunk_rows):
                        bare.predict_batch(rows[first : first + settings.csv_chunk_rows])
                    bare_s += time.perf_counter() - s
            csv_rate, bare_rate = 2 * len(rows) / ui_s, 2 * len(rows) / bare_s
            rss_mb = int(Path(f"/proc/{app.process.pid}/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
        finally:
            app.stop()
    hp50, hp95 = percentiles(http_times)
    bp50, bp95 = percentiles(bare_times)
    print(f"model: {args.model} ({bare.info.name}, {bare.info.precision}); {os.cpu_count()} cores")
    print(f"start-up to ready:                {ready_s:8.1f} s")
    print(f"resident memory after the run:    {rss_mb:8.0f} MB")
    print(f"single request p50 / p95, HTTP:   {hp50:8.1f} / {hp95:.1f} ms")
    print(f"single call p50 / p95, bare:      {bp50:8.1f} / {bp95:.1f} ms   (HTTP - bare p50: {hp50 - bp50:+.1f} ms)")
    one, eight = 1 / statistics.median(bare_times), 8 / statistics.median(group_times)
    print(
        f"bare predictor, 8 texts per pass:  {eight:8.1f} texts/s  ({eight / one:.1f}x one at a time: "
        "what batching alone can give)"
    )
    for n, rate in rates.items():
        print(
            f"throughput, {n:2d} HTTP clients:      {rate:8.1f} req/s   ({rate / rates[1]:.1f}x one client; "
            f"{per_pass[n]:.1f} requests per forward pass)"
        )
    print(f"CSV through the UI path:          {csv_rate:8.0f} rows/s   ({len(rows)} rows, twice, ABBA)")
    print(f"same rows, bare predictor:        {bare_rate:8.0f} rows/s   (UI path = {csv_rate / bare_rate:.0%})")


if __name__ == "__main__":
    main()
