"""Drift checks as the app repeats them: false alarms per simulated day, and how fast real shifts are reported.

Scores the reference split and the pools below once with the model (features as the prediction log holds them,
embeddings included), caches them (``--cache``), then replays scheduled checks (``sentiment.monitoring.simulation``):
a window of ``--window`` newest predictions checked every ``--step`` new ones, under the confirmation rule
(``--confirm-windows`` windows sharing no prediction), ``--checks`` checks a day (288: every 5 minutes).
  - in distribution, dataset reference: each day's traffic is drawn from the held-out splits (validation + train)
    of the reference dataset, shuffled (with replacement: the pool is smaller than a day), against the dataset
    profile (the test split);
  - in distribution, production reference: each day first splits the held-out pool at random into a reference of
    ``--production-rows`` (the app's automatic deployment reference) and the day's traffic pool;
    for both: the share of days whose reported status reaches drift / warning, and the raw share;
  - (a) length shift: Amazon review snippets after tweets;
  - (b) label-mix shift: held-out tweets resampled so the predicted negative share doubles;
  - (c) topic shift at equal length: for each held-out tweet, a movie-review snippet with its label, cut to its
    length with its mark, chosen among ``--candidates`` drafts for the same predicted label and the nearest
    confidence and token count (``monitoring.scenarios.matched_topic_shift``);
  - (d) language shift: non-English sentences (``sentiment.datasets.non_english``: spaCy's examples, 66 languages)
    after tweets;
  for each, over ``--runs`` runs of a full in-distribution window then ``--after`` shifted predictions: the share
  of runs whose reported status reaches drift, the median shifted predictions until it does, and the same with the
  surface tests alone (every check but the embedding's domain classifier).

    python benchmarks/drift_scenarios.py [--days 100] [--runs 40] [--workers 2] [--cache /tmp/drift_scenarios.pkl]
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd

from sentiment.datasets import load_split
from sentiment.datasets.non_english import load_non_english
from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging
from sentiment.monitoring.drift import CHECKS
from sentiment.monitoring.reference import features_of, reference_profile
from sentiment.monitoring.scenarios import matched_topic_shift
from sentiment.monitoring.simulation import day_levels, predictions_until
from sentiment.runtime import configure_process
from sentiment.settings import Settings
from sentiment.store import Store

CACHE_VERSION = 3  # bump when a pool is added or built differently
SURFACE_CHECKS = tuple(check for check in CHECKS if check.test != "domain_auc")


def load_or_score(cache: Path, model: str, candidates: int, seed: int) -> dict[str, pd.DataFrame]:
    """Feature frames of the reference, the held-out tweets and the four shifted pools, scored once and cached
    (a cache of another version, model or draft count is scored again)."""
    key = {"version": CACHE_VERSION, "model": model, "candidates": candidates, "seed": seed}
    if cache.is_file():
        with cache.open("rb") as handle:
            cached = pickle.load(handle)
        if cached.get("key") == key:
            return dict(cached["frames"])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), cache_override=Settings().cache_dir.resolve())
        configure_process(settings)
        predictor = Predictor.load(model, settings)
        held_out = pd.concat(
            [load_split(settings.reference_dataset, s, settings) for s in ("validation", "train")], ignore_index=True
        )
        movies = load_split("vader_movies", "train", settings)
        topic = matched_topic_shift(
            held_out["text"].tolist(),
            held_out["label"].tolist(),
            movies["text"].tolist(),
            movies["label"].tolist(),
            lambda texts: features_of(texts, predictor),
            np.random.default_rng(seed),
            candidates=candidates,
        )
        frames = {
            "reference": reference_profile(predictor, settings, Store.open(settings.store_url)).frame,
            "held_out": features_of(held_out["text"].tolist(), predictor),
            "reviews": features_of(load_split("vader_amazon", "test", settings)["text"].tolist(), predictor),
            "topic": features_of(topic, predictor),
            "non_english": features_of(load_non_english()["text"].tolist(), predictor),
        }
    with cache.open("wb") as handle:
        pickle.dump({"key": key, "frames": frames}, handle)
    return frames


def draw(pool: pd.DataFrame, n: int, rng: np.random.Generator, weights: np.ndarray | None = None) -> pd.DataFrame:
    rows = rng.choice(len(pool), size=n, replace=True, p=weights)
    return pool.iloc[rows].reset_index(drop=True)


def negative_doubled(pool: pd.DataFrame) -> np.ndarray:
    """Row weights that double the share of predicted negatives and keep the other labels' proportions."""
    negative = (pool["label"] == "negative").to_numpy()
    share = negative.mean()
    target = min(2 * share, 0.95)
    weights = np.where(negative, target / share, (1 - target) / (1 - share))
    return weights / weights.sum()


def one_day(
    frames: dict[str, pd.DataFrame], source: str, seed: int, replay: dict[str, int], size: int, rows: int
) -> tuple[str, str]:
    """(reported, raw) highest level of one simulated day against the ``source`` reference."""
    rng = np.random.default_rng(seed)
    held_out = frames["held_out"]
    if source == "dataset":
        reference, pool = frames["reference"], held_out
    else:  # the deployment's first ``rows`` predictions, and the rest of the day from what is left
        order = rng.permutation(len(held_out))
        reference, pool = held_out.iloc[order[:rows]], held_out.iloc[order[rows:]]
    return day_levels(reference, draw(pool, size, rng), **replay)


def one_run(
    frames: dict[str, pd.DataFrame], scenario: str, seed: int, replay: dict[str, int], after: int
) -> tuple[int | None, int | None]:
    """(predictions until drift, ... with the surface tests alone) of one run of ``scenario``; None: not reached."""
    rng = np.random.default_rng(seed)
    held_out = frames["held_out"]
    shifted: Callable[[], pd.DataFrame] = {
        "a": lambda: draw(frames["reviews"], after, rng),
        "b": lambda: draw(held_out, after, rng, negative_doubled(held_out)),
        "c": lambda: draw(frames["topic"], after, rng),
        "d": lambda: draw(frames["non_english"], after, rng),
    }[scenario]
    before, then = draw(held_out, replay["window"], rng), shifted()
    reference = frames["reference"]
    return (
        predictions_until(reference, before, then, **replay),
        predictions_until(reference, before, then, **replay, checks=SURFACE_CHECKS),
    )


_FRAMES: dict[str, pd.DataFrame] = {}


def _init(frames: dict[str, pd.DataFrame]) -> None:
    _FRAMES.update(frames)
    configure_logging("WARNING")


def _day(args: tuple[Any, ...]) -> tuple[str, str]:
    return one_day(_FRAMES, *args)


def _run(args: tuple[Any, ...]) -> tuple[int | None, int | None]:
    return one_run(_FRAMES, *args)


def _share(hits: list[int | None]) -> str:
    found = [n for n in hits if n is not None]
    median = f"{int(np.median(found)):,}" if found else "-"
    return f"{len(found) / len(hits):.0%} | {median}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--checks", type=int, default=288)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument("--confirm-windows", type=int, default=2)
    parser.add_argument("--production-rows", type=int, default=1000)
    parser.add_argument("--after", type=int, default=1000, help="shifted predictions replayed per run")
    parser.add_argument("--candidates", type=int, default=8, help="drafts per text for the topic shift (c)")
    parser.add_argument("--workers", type=int, default=2, help="processes replaying days and runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/drift_scenarios.pkl"))
    args = parser.parse_args()
    configure_logging("WARNING")
    started = time.perf_counter()
    frames = load_or_score(args.cache, args.model, args.candidates, args.seed)
    replay = {"window": args.window, "step": args.step, "confirm_windows": args.confirm_windows}
    size = args.window + (args.checks - 1) * args.step
    print(
        f"model {args.model}; window {args.window}, a check every {args.step} predictions, {args.checks} checks a "
        f"day ({size:,} predictions), confirmed on {args.confirm_windows} windows sharing no prediction; dataset "
        f"reference {len(frames['reference'])} rows, production reference {args.production_rows} rows; held-out "
        f"pool {len(frames['held_out'])} rows; shifted runs: {args.after:,} predictions after a full window\n"
    )
    print(
        "| traffic | reference | days / runs | reached drift | median predictions until drift | warning days "
        "| raw drift days | surface tests alone: reached drift | median |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(frames,)) as pool:
        for source in ("dataset", "production"):
            jobs = [(source, args.seed * 100_003 + d, replay, size, args.production_rows) for d in range(args.days)]
            days = list(pool.map(_day, jobs))
            drift = np.mean([status == "drift" for status, _ in days])
            warning = np.mean([status != "ok" for status, _ in days])
            raw = np.mean([r == "drift" for _, r in days])
            print(
                f"| in distribution (targets: drift <= 5%, warning <= 10% of days) | {source} | {len(days)} "
                f"| {drift:.1%} | - | {warning:.1%} | {raw:.1%} | - | - |",
                flush=True,
            )
        names = {
            "a": "(a) length shift: reviews after tweets",
            "b": "(b) label-mix shift: negative share doubled",
            "c": "(c) topic shift at equal length and label mix",
            "d": "(d) language shift: non-English sentences",
        }
        for key, name in names.items():
            jobs = [(key, args.seed * 100_003 + 50_000 + r, replay, args.after) for r in range(args.runs)]
            found = list(pool.map(_run, jobs))
            every, surface = [f for f, _ in found], [s for _, s in found]
            print(f"| {name} | dataset | {args.runs} | {_share(every)} | - | - | {_share(surface)} |", flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
