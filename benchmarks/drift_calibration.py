"""False-alarm rate of the drift check: windows drawn from the reference distribution itself must rarely alarm.

Builds the reference profile of a model on the reference dataset (default: vader_tweets test), then runs the full
check on WINDOWS windows of SIZE rows drawn two ways, and prints the share graded drift and warning for each:
  - resampled: with replacement from the reference rows themselves (the check's own noise floor);
  - held-out: without replacement from the validation split of the same dataset, scored by the same model:
    different texts from the same distribution, the honest calibration.

    python benchmarks/drift_calibration.py [--model embedded] [--windows 200] [--size 500]
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

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging
from sentiment.monitoring.drift import check_drift
from sentiment.monitoring.reference import features_of, reference_profile
from sentiment.runtime import configure_process
from sentiment.settings import Settings
from sentiment.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), cache_override=Settings().cache_dir.resolve())
        configure_process(settings)  # honours SENTIMENT_TORCH_THREADS
        predictor = Predictor.load(args.model, settings)
        reference = reference_profile(predictor, settings, Store.open(settings.store_url)).frame
        held_out_texts = load_split(settings.reference_dataset, "validation", settings)["text"].tolist()
        held_out = features_of(held_out_texts, predictor)
    print(
        f"reference: {len(reference)} rows of {settings.reference_dataset}/{settings.reference_split}; "
        f"held-out pool: {len(held_out)} rows of its validation split; model {predictor.info.name}"
    )
    rng = np.random.default_rng(args.seed)
    for name, pool, replace in (("resampled", reference, True), ("held-out", held_out, False)):
        size = min(args.size, len(pool))
        levels: dict[str, int] = {"ok": 0, "warning": 0, "drift": 0}
        flagged: dict[str, int] = {}
        started = time.perf_counter()
        for _ in range(args.windows):
            rows = rng.choice(len(pool), size=size, replace=replace)
            report = check_drift(reference, pool.iloc[rows].reset_index(drop=True))
            levels[report.status] += 1
            for row in report.results:
                if row.level != "ok":
                    key = f"{row.feature}/{row.test}"
                    flagged[key] = flagged.get(key, 0) + 1
        n = args.windows
        print(f"{name}: {n} windows of {size} ({time.perf_counter() - started:.1f} s)")
        print(f"  drift   {levels['drift']:4d}  ({levels['drift'] / n:.1%})   target: at most 5%")
        print(f"  warning {levels['warning']:4d}  ({levels['warning'] / n:.1%})")
        print(f"  ok      {levels['ok']:4d}  ({levels['ok'] / n:.1%})")
        for key, count in sorted(flagged.items()):
            print(f"    not ok: {key:<22} {count:4d} ({count / n:.1%})")


if __name__ == "__main__":
    main()
