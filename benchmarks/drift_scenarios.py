"""Drift checks as the app repeats them: false alarms per simulated day, and how fast real shifts are reported.

Scores the reference split and the pools below once with the model (features as the prediction log holds them),
caches them (``--cache``), then replays scheduled checks (``sentiment.monitoring.simulation``): a window of
``--window`` newest predictions checked every ``--step`` new ones, under the persistence rule
(``--consecutive``), for ``--checks`` checks a day (288: every 5 minutes).
  - in distribution: each day draws its traffic from the held-out splits (validation + train) of the reference
    dataset, shuffled (with replacement: the pool is smaller than a day); share of days with drift / warning;
  - (a) length shift: a window of held-out tweets, then Amazon review snippets;
  - (b) label-mix shift: held-out tweets resampled so the negative share doubles;
  - (d) language shift: a window of held-out tweets, then non-English sentences (``sentiment.datasets.non_english``:
    spaCy's example sentences in 66 languages);
  for each, the share of ``--runs`` runs that reach drift and the median predictions until they do.

    python benchmarks/drift_scenarios.py [--days 100] [--runs 50] [--cache /tmp/drift_scenarios.pkl]
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd

from sentiment.datasets import load_split
from sentiment.datasets.non_english import load_non_english
from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging
from sentiment.monitoring.reference import features_of, reference_profile
from sentiment.monitoring.simulation import day_levels, predictions_until
from sentiment.runtime import configure_process
from sentiment.settings import Settings


def load_or_score(cache: Path, model: str) -> dict[str, pd.DataFrame]:
    """Feature frames of the reference, the held-out tweets, the review snippets and the non-English sentences,
    scored once and cached (a cache written before the non-English pool existed is scored again)."""
    if cache.is_file():
        with cache.open("rb") as handle:
            cached = dict(pickle.load(handle))
        if "non_english" in cached:
            return cached
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), cache_override=Settings().cache_dir.resolve())
        configure_process(settings)
        predictor = Predictor.load(model, settings)
        frames = {"reference": reference_profile(predictor, settings).frame}
        held_out = [
            load_split(settings.reference_dataset, s, settings)["text"].tolist() for s in ("validation", "train")
        ]
        frames["held_out"] = features_of([t for part in held_out for t in part], predictor)
        frames["reviews"] = features_of(load_split("vader_amazon", "test", settings)["text"].tolist(), predictor)
        frames["non_english"] = features_of(load_non_english()["text"].tolist(), predictor)
    with cache.open("wb") as handle:
        pickle.dump(frames, handle)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--checks", type=int, default=288)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument("--consecutive", type=int, default=3)
    parser.add_argument("--after", type=int, default=3000, help="shifted predictions replayed per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/drift_scenarios.pkl"))
    args = parser.parse_args()
    configure_logging("WARNING")
    frames = load_or_score(args.cache, args.model)
    reference, held_out = frames["reference"], frames["held_out"]
    rng = np.random.default_rng(args.seed)
    replay = {"window": args.window, "step": args.step, "consecutive": args.consecutive}
    day_size = args.window + (args.checks - 1) * args.step
    days = [day_levels(reference, draw(held_out, day_size, rng), **replay) for _ in range(args.days)]
    print(
        f"window {args.window}, a check every {args.step} predictions, {args.checks} checks a day, "
        f"{args.consecutive} in a row; reference {len(reference)} rows, held-out pool {len(held_out)} rows"
    )
    print("| scenario | runs | reached drift | median predictions until drift | warning days | raw drift days |")
    print("|---|---:|---:|---:|---:|---:|")
    drift_days = sum(status == "drift" for status, _ in days) / len(days)
    warning_days = sum(status != "ok" for status, _ in days) / len(days)
    raw_days = sum(raw == "drift" for _, raw in days) / len(days)
    print(
        f"| in distribution (days; targets <= 5% / <= 10%) | {len(days)} | {drift_days:.1%} | - "
        f"| {warning_days:.1%} | {raw_days:.1%} |"
    )
    scenarios = {
        "(a) reviews after tweets": lambda: draw(frames["reviews"], args.after, rng),
        "(b) negative share doubled": lambda: draw(held_out, args.after, rng, negative_doubled(held_out)),
        "(d) non-English sentences after tweets": lambda: draw(frames["non_english"], args.after, rng),
    }
    for name, shifted in scenarios.items():
        found = [
            predictions_until(reference, draw(held_out, args.window, rng), shifted(), **replay)
            for _ in range(args.runs)
        ]
        hits = [n for n in found if n is not None]
        median = f"{int(np.median(hits)):,}" if hits else "-"
        print(f"| {name} | {args.runs} | {len(hits) / args.runs:.0%} | {median} | - | - |")


if __name__ == "__main__":
    main()
