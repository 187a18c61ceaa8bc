"""False-alarm rate of the drift check: windows drawn from the reference distribution itself must rarely alarm.

Builds the reference profile of a model on the reference dataset, then draws WINDOWS windows of SIZE rows from
those same features (with replacement) and runs the full check on each. Prints the share graded drift and warning.

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

from sentiment.logs import configure_logging
from sentiment.monitoring import check_drift, reference_profile
from sentiment.predictor import Predictor
from sentiment.settings import Settings


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
        predictor = Predictor.load(args.model, settings)
        reference = reference_profile(predictor, settings).frame
        rng = np.random.default_rng(args.seed)
        levels: dict[str, int] = {"ok": 0, "warning": 0, "drift": 0}
        flagged: dict[str, int] = {}
        started = time.perf_counter()
        for _ in range(args.windows):
            window = reference.iloc[rng.integers(0, len(reference), args.size)].reset_index(drop=True)
            report = check_drift(reference, window)
            levels[report.status] += 1
            for row in report.results:
                if row["level"] != "ok":
                    key = f"{row['feature']}/{row['test']}"
                    flagged[key] = flagged.get(key, 0) + 1
        seconds = time.perf_counter() - started
    n = args.windows
    print(
        f"reference: {len(reference)} rows of {settings.reference_dataset}/{settings.reference_split}, "
        f"model {predictor.info.name}"
    )
    print(f"{n} windows of {args.size} drawn from the reference distribution ({seconds:.1f} s):")
    print(f"  drift   {levels['drift']:4d}  ({levels['drift'] / n:.1%})   target: at most 5%")
    print(f"  warning {levels['warning']:4d}  ({levels['warning'] / n:.1%})")
    print(f"  ok      {levels['ok']:4d}  ({levels['ok'] / n:.1%})")
    for key, count in sorted(flagged.items()):
        print(f"  tests not ok: {key:<22} {count:4d} ({count / n:.1%})")


if __name__ == "__main__":
    main()
