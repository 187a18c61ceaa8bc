"""Fit the calibration map of a model on held-out labelled data and store it beside the model.

    python -m finetune.calibrate                      # embedded model: fit both methods, print one table, write none
    python -m finetune.calibrate --write temperature  # ... and store the temperature map in the model folder

Every map is fitted on the pooled ``validation`` splits of the datasets (never used for training, never for the
reported test figures) and reported on the ``test`` split of each: accuracy, expected calibration error (15 bins)
raw and after each method, and the ECE band a perfectly calibrated model would show on the same rows (ECE is
biased upwards on a few hundred rows, so a value inside that band is as calibrated as the sample can show), and
the share of labels each map changes: a map that serves must change none (``Calibration.keeps_labels``); a matrix
map only serves with ``SENTIMENT_CALIBRATION_MAY_CHANGE_LABELS=true``.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sentiment.datasets import load_split
from sentiment.evaluation.calibration import ECE_BINS, ece_of_a_calibrated_model, expected_calibration_error
from sentiment.evaluation.metrics import macro_f1
from sentiment.inference.calibration import DEFAULT_METHOD, METHODS, Calibration
from sentiment.inference.predictor import Predictor, model_folder
from sentiment.labels import LABELS
from sentiment.logs import configure_logging
from sentiment.monitoring.estimation.base import realised_confusion
from sentiment.runtime import configure_process
from sentiment.settings import Settings
from sentiment.tables.progress import CountProgress, show_progress_lines

logger = logging.getLogger(__name__)

VADER_SETS = ("vader_tweets", "vader_amazon", "vader_movies", "vader_nyt")


@dataclass(frozen=True)
class CalibrationRow:
    """One test split: rows, raw accuracy, macro-F1 and ECE; after each method its ECE, accuracy, macro-F1 and the
    share of labels it changed; and the perfectly-calibrated band."""

    dataset: str
    n: int
    accuracy: float
    ece_raw: float
    ece_after: dict[str, float] = field(default_factory=dict)
    accuracy_after: dict[str, float] = field(default_factory=dict)
    macro_f1: float = float("nan")
    macro_f1_after: dict[str, float] = field(default_factory=dict)
    changed_after: dict[str, float] = field(default_factory=dict)
    calibrated_band: tuple[float, float] = (float("nan"), float("nan"))


# Texts scored per call: small enough that the progress line moves every few seconds, large enough for full batches.
CHUNK = 128


class _Scorer:
    """The raw probabilities of every split a fit needs, scored in chunks with one progress line over all of them
    (thousands of texts: minutes on a CPU, which must not pass in silence)."""

    def __init__(
        self,
        predictor: Predictor,
        splits: list[tuple[str, str]],
        settings: Settings,
        progress_interval_s: float | None = 5.0,
    ) -> None:
        self.predictor = predictor
        self.frames = {key: load_split(*key, settings) for key in splits}
        total = sum(len(frame) for frame in self.frames.values())
        self.progress = (
            None if progress_interval_s is None else CountProgress("calibration", total, interval_s=progress_interval_s)
        )

    def __call__(self, dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
        frame = self.frames[(dataset, split)]
        texts, parts, valid = frame["text"].tolist(), [], []
        for start in range(0, len(texts), CHUNK):
            result = self.predictor.predict_batch(texts[start : start + CHUNK])
            parts.append(result.probabilities)
            valid.append(result.valid)
            if self.progress is not None:
                self.progress.advance(len(result.valid))
        probabilities = np.concatenate(parts) if parts else np.empty((0, len(LABELS)))
        ok = np.concatenate(valid) if valid else np.empty(0, dtype=bool)
        labels = np.array([LABELS.index(v) for v in frame["label"]], dtype=np.int64)
        return probabilities[ok].astype(np.float64), labels[ok]


def fit(
    predictor: Predictor, datasets: tuple[str, ...], settings: Settings, progress_interval_s: float | None = 5.0
) -> tuple[dict[str, Calibration], list[CalibrationRow]]:
    """Fit every method on the pooled validation splits with ``predictor``'s raw probabilities and report each on
    every test split. ``predictor`` must be uncalibrated (``Predictor.load(..., calibrated=False)``). Logs texts
    scored and the time left every ``progress_interval_s`` (None: silent)."""
    if predictor.calibration is not None:
        raise ValueError("fit on raw probabilities: load the predictor with calibrated=False")
    splits = [(d, "validation") for d in datasets] + [(d, "test") for d in datasets]
    scored = _Scorer(predictor, splits, settings, progress_interval_s)
    validation = [scored(d, "validation") for d in datasets]
    probs = np.concatenate([p for p, _ in validation])
    labels = np.concatenate([y for _, y in validation])
    fitted_on = f"the validation splits of {', '.join(datasets)}"
    maps = {method: Calibration.fit(probs, labels, method, fitted_on) for method in METHODS}
    rows = []
    for dataset in datasets:
        p, y = scored(dataset, "test")
        after = {method: cal.apply(p) for method, cal in maps.items()}
        best = min(maps, key=lambda m: expected_calibration_error(after[m], y))
        rows.append(
            CalibrationRow(
                dataset=dataset,
                n=len(y),
                accuracy=float((p.argmax(axis=1) == y).mean()),
                ece_raw=expected_calibration_error(p, y, ECE_BINS),
                ece_after={m: expected_calibration_error(q, y, ECE_BINS) for m, q in after.items()},
                accuracy_after={m: float((q.argmax(axis=1) == y).mean()) for m, q in after.items()},
                calibrated_band=ece_of_a_calibrated_model(after[best]),
                macro_f1=_macro_f1(y, p),
                macro_f1_after={m: _macro_f1(y, q) for m, q in after.items()},
                changed_after={m: float(cal.changed_labels(p).mean()) for m, cal in maps.items()},
            )
        )
    return maps, rows


def _macro_f1(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return float(macro_f1(realised_confusion(labels, probabilities.argmax(axis=1))))


def calibrate_folder(
    folder: Path, datasets: tuple[str, ...], settings: Settings, method: str = DEFAULT_METHOD
) -> Calibration:
    """Fit ``method`` for the model in ``folder`` on the pooled validation splits of ``datasets`` and store it
    there; what a training run does last, so a shipped adapter always carries the map fitted to its own weights."""
    predictor = Predictor.load(str(folder), settings, calibrated=False)
    scored = _Scorer(predictor, [(d, "validation") for d in datasets], settings)
    validation = [scored(d, "validation") for d in datasets]
    probs = np.concatenate([p for p, _ in validation])
    labels = np.concatenate([y for _, y in validation])
    calibration = Calibration.fit(probs, labels, method, f"the validation splits of {', '.join(datasets)}")
    calibration.save(folder)
    logger.info("calibration of %s: %s", folder, calibration.describe())
    return calibration


def table(maps: dict[str, Calibration], rows: list[CalibrationRow]) -> str:
    """The report as one Markdown table (what ``benchmarks/README.md`` and the model card hold)."""
    methods = list(maps)
    head = " | ".join(f"ECE {m} | labels changed {m} | macro-F1 {m}" for m in methods)
    lines = [
        f"Fitted on {next(iter(maps.values())).fitted_on} ({next(iter(maps.values())).n} rows); test splits below.",
        "",
        f"| dataset | n | accuracy | macro-F1 | ECE raw | {head} | ECE of a calibrated model (mean, 90%) |",
        "|---|---|---|---|---|" + "---|---|---|" * len(methods) + "---|",
    ]
    for r in rows:
        cells = " | ".join(
            f"{r.ece_after[m]:.4f} | {r.changed_after[m]:.1%} | {r.macro_f1_after[m]:.3f}" for m in methods
        )
        band = f"{r.calibrated_band[0]:.4f}, {r.calibrated_band[1]:.4f}"
        lines.append(
            f"| {r.dataset} | {r.n} | {r.accuracy:.3f} | {r.macro_f1:.3f} | {r.ece_raw:.4f} | {cells} | {band} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded", help="model spec: embedded or a local model folder")
    parser.add_argument("--datasets", nargs="+", default=list(VADER_SETS), help="datasets whose splits are used")
    parser.add_argument(
        "--write",
        choices=METHODS,
        help="store this method's map as calibration.json beside the model (matrix changes labels: it serves only "
        "with SENTIMENT_CALIBRATION_MAY_CHANGE_LABELS=true)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    if not args.quiet:
        show_progress_lines()
    settings = Settings(model=args.model)
    configure_process(settings)
    predictor = Predictor.load(args.model, settings, calibrated=False)
    maps, rows = fit(predictor, tuple(args.datasets), settings)
    print(table(maps, rows))  # the report is this command's output
    if args.write:
        folder = model_folder(predictor.info)
        if folder is None:
            raise SystemExit(f"{args.model} has no local folder to store a calibration map in")
        print(f"wrote {maps[args.write].save(folder)}")


if __name__ == "__main__":
    main()
