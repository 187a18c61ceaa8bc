"""Topic shift at equal length (issue 18, target c): does the semantic test catch it within 1,000 predictions, do the
surface tests, and how often does either alarm on in-distribution traffic?

The reference is the model's reference profile (vader_tweets test, with embeddings). Two pools are scored once:
  - in-distribution: the held-out validation tweets of the same source;
  - topic shift: for each held-out tweet, a movie-review snippet (vader_movies train) of the same label cut to its
    length, carrying its link/mention/hashtag/emoji, and chosen among CANDIDATES drafts for the same predicted
    label and the nearest confidence (``monitoring.scenarios.matched_topic_shift``).
Each run streams 1,000 predictions drawn from a pool (with replacement: the pools hold 630 texts) and runs the
drift check every EVERY predictions on the newest WINDOW (the app's defaults: every check, Holm, each test's
thresholds). A run "detects" when a check grades drift on the semantic test (embedding/domain_auc), or on any
surface test (length, tokens, confidence, label, surface kind).

    python benchmarks/semantic_drift.py [--runs 100] [--every 250] [--window 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging
from sentiment.monitoring.drift import check_drift
from sentiment.monitoring.reference import features_of, reference_profile
from sentiment.monitoring.scenarios import matched_topic_shift
from sentiment.runtime import configure_process
from sentiment.settings import Settings

STREAM = 1000
CANDIDATES = 3


def first_detection(
    reference: pd.DataFrame, pool: pd.DataFrame, rng: np.random.Generator, every: int, window: int
) -> tuple[int | None, int | None]:
    """(predictions until the semantic test grades drift, ... until a surface test does); None: not within STREAM."""
    stream = pool.iloc[rng.choice(len(pool), size=STREAM, replace=True)].reset_index(drop=True)
    semantic: int | None = None
    surface: int | None = None
    for seen in range(every, STREAM + 1, every):
        report = check_drift(reference, stream.iloc[max(0, seen - window) : seen].reset_index(drop=True))
        drifted = {row.test for row in report.results if row.level == "drift"}
        if semantic is None and "domain_auc" in drifted:
            semantic = seen
        if surface is None and drifted - {"domain_auc"}:
            surface = seen
    return semantic, surface


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_logging("WARNING")
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), cache_override=Settings().cache_dir.resolve())
        configure_process(settings)
        predictor = Predictor.load(args.model, settings)
        reference = reference_profile(predictor, settings).frame
        held_out = load_split(settings.reference_dataset, "validation", settings)
        movies = load_split("vader_movies", "train", settings)

        def score(texts: list[str]) -> tuple[list[str], np.ndarray]:
            result = predictor.predict_batch(texts)
            return result.labels, result.probabilities.max(axis=1)

        shifted_texts = matched_topic_shift(
            held_out["text"].tolist(),
            held_out["label"].tolist(),
            movies["text"].tolist(),
            movies["label"].tolist(),
            score,
            rng,
            candidates=CANDIDATES,
        )
        pools = {
            "in-distribution (held-out tweets)": features_of(held_out["text"].tolist(), predictor),
            "topic shift at equal length (c)": features_of(shifted_texts, predictor),
        }
    print(
        f"model {predictor.info.name}; reference {len(reference)} rows; pools of {len(held_out)}; "
        f"{args.runs} runs of {STREAM} predictions, a check every {args.every} on the newest {args.window} "
        f"(scored in {time.perf_counter() - started:.0f} s)\n"
    )
    header = "| traffic | runs | semantic: drift within 1,000 | median predictions | surface: drift within 1,000 |"
    print(header)
    print("|---|---|---|---|---|")
    for name, pool in pools.items():
        found = [first_detection(reference, pool, rng, args.every, args.window) for _ in range(args.runs)]
        semantic = [s for s, _ in found if s is not None]
        surface = [s for _, s in found if s is not None]
        median = f"{np.median(semantic):.0f}" if semantic else "-"
        print(f"| {name} | {args.runs} | {len(semantic) / args.runs:.0%} | {median} | {len(surface) / args.runs:.0%} |")
    print(f"\n({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
