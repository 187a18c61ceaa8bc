"""Rows per second and the driver's peak memory of ``python -m sentiment score`` on each engine, on one generated file.

Generates a CSV of ``--rows`` reviews (short texts with the awkward rows real exports have: quoted newlines, empty
texts, formulas, extra fields), then scores it with the local engine, Ray with 1 actor and Ray with 2 actors (a
local Ray cluster started by the run), each in a fresh process so that its peak RSS is the driver's own. Reports
rows/s of the scoring (from the first chunk read to the last written; for Ray this includes starting the actors and
loading the model in each) and of the whole command (Ray's start-up included), and checks that every engine wrote
the same bytes.

    python benchmarks/batch_engines.py [--rows 1000000] [--model vader] [--actors 1 2]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")

WORDS = [
    "the",
    "service",
    "was",
    "great",
    "awful",
    "slow",
    "fast",
    "love",
    "hate",
    "price",
    "delivery",
    "again",
    "never",
    "always",
    "friendly",
    "staff",
    "room",
    "food",
    "café",
    "naïve",
    "ok",
    "not",
    "bad",
    "really",
    "would",
    "recommend",
]


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """``id,text,stars`` rows, about 60 bytes each; one in ten is awkward in one of the ways exports are."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("id,text,stars\n")
        for i in range(rows):
            text = " ".join(rng.choices(WORDS, k=rng.randint(3, 14)))
            kind = rng.randrange(40)
            if kind == 0:
                text = f'"{text},\nsecond line"'
            elif kind == 1:
                text = ""
            elif kind == 2:
                text = f"=HYPERLINK({text})"
            elif kind == 3:
                text = f"{text}, unquoted comma"
            handle.write(f"{i},{text},{rng.randint(1, 5)}\n")


def run_one(engine: str, actors: int, source: Path, target: Path, model: str) -> dict[str, float]:
    """Score in this process (the driver) and report its own peak RSS."""
    from sentiment.service.batch_jobs import score_inputs
    from sentiment.settings import Settings

    started = time.perf_counter()
    [(_, summary)] = score_inputs(
        str(source),
        target,
        model,
        Settings(),
        engine=engine,
        actors=actors,
        progress=False,  # type: ignore[arg-type]
    ).outputs
    return {
        "rows": summary.rows,
        "scoring_s": summary.seconds,
        "total_s": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model", default="vader", help="model spec (vader: the engines' own cost shows)")
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--run", nargs=4, metavar=("ENGINE", "ACTORS", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        engine, actors, source, target = args.run
        print(json.dumps(run_one(engine, int(actors), Path(source), Path(target), args.model)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "reviews.csv"
        generate(source, args.rows)
        print(f"{args.rows:,} rows, {source.stat().st_size / 1e6:.0f} MB, model {args.model}, {os.cpu_count()} CPUs")
        print("| engine | rows/s scoring | rows/s whole command | driver peak RSS (MB) | same bytes as local |")
        print("|---|---:|---:|---:|---|")
        runs = [("local", 1)] + [("ray", n) for n in args.actors]
        for engine, actors in runs:
            target = folder / f"{engine}_{actors}.csv"
            command = [sys.executable, __file__, "--model", args.model, "--run", engine, str(actors), str(source)]
            done = subprocess.run([*command, str(target)], check=True, capture_output=True, text=True)
            m = json.loads(done.stdout.strip().splitlines()[-1])
            same = filecmp.cmp(target, folder / "local_1.csv", shallow=False)
            name = "local" if engine == "local" else f"ray, {actors} actor{'s' if actors > 1 else ''}"
            print(
                f"| {name} | {m['rows'] / m['scoring_s']:,.0f} | {m['rows'] / m['total_s']:,.0f} | "
                f"{m['peak_rss_mb']:,.0f} | {'yes' if same else 'NO'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
