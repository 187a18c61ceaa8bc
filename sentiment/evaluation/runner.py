"""Run models over labelled rows and report their quality, with uncertainty, alone or side by side.

Each model is loaded from its own spec through a small pool (loaded once, reused), so an evaluation of
``vader`` is always VADER and never the serving model under another name.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sentiment.datasets import labelled_file_path, load_split, read_labelled_file
from sentiment.datasets.splits import FRACTIONS, split_frame
from sentiment.errors import DatasetError, EvaluationInputError
from sentiment.evaluation.metrics import ClassificationReport, classification_report
from sentiment.evaluation.report import CalibrationSummary, EvaluationResult, FileRead, Intervals, RowsUsed
from sentiment.evaluation.uncertainty import PairedComparison, bootstrap_intervals, paired_comparison
from sentiment.inference.pool import ModelPool
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABEL_TO_ID, LABELS
from sentiment.settings import Settings

ProgressFn = Callable[[float, str], None]


def evaluate_frame(predictor: Predictor, frame: pd.DataFrame) -> tuple[ClassificationReport, list[str]]:
    """Score every row of ``frame`` (``text``, ``label``) and compare; returns the report and the predictions.

    A row that cannot be scored raises instead of being dropped or guessed: either would bias the metrics."""
    result = predictor.predict_batch(frame["text"].tolist())
    bad = [i for i, err in enumerate(result.errors) if err]
    if bad:
        raise DatasetError(f"{len(bad)} rows cannot be scored, first: row {bad[0]} ({result.errors[bad[0]]})")
    predictions = result.labels
    return classification_report(frame["label"].tolist(), predictions), predictions


def stratified_sample(frame: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    """A seeded draw of ``size`` rows keeping the class mix (largest-remainder allocation); all rows if None."""
    if size is None or size >= len(frame):
        return frame.reset_index(drop=True)
    if size < 1:
        raise EvaluationInputError(f"sample size must be at least 1, got {size}")
    rng = np.random.default_rng(seed)
    counts = frame["label"].value_counts().sort_index()
    exact = counts / counts.sum() * size
    alloc = np.floor(exact).astype(int)
    remainder = (exact - alloc).sort_values(ascending=False)
    for label in remainder.index[: size - int(alloc.sum())]:
        alloc[label] += 1
    chosen = []
    for label, k in alloc.items():
        index = frame.index[frame["label"] == label].to_numpy()
        chosen.append(rng.choice(index, size=int(k), replace=False))
    rows = np.sort(np.concatenate(chosen))
    return frame.loc[rows].reset_index(drop=True)


@dataclass(frozen=True)
class RowSelection:
    """The rows an evaluation scores (``text, label, row_id``) and what the report says of them."""

    frame: pd.DataFrame
    rows: RowsUsed
    file: FileRead | None = None  # a user's file: columns, label mapping, rows skipped


class Evaluator:
    def __init__(self, settings: Settings, pool: ModelPool | None = None) -> None:
        self.settings = settings
        self.pool = pool or ModelPool(settings)

    def select(
        self, dataset: str, split: str, sample_size: int | None, seed: int, label_map: str | None = None
    ) -> RowSelection:
        """The rows to score: a split of a registry dataset, or a user's labelled file (``dataset`` is its path),
        then a stratified sample of them when ``sample_size`` is smaller."""
        path = labelled_file_path(dataset)
        if path is None:
            frame = load_split(dataset, split, self.settings).reset_index(drop=True)
            frame = frame.assign(row_id=np.arange(len(frame)))
            rows = stratified_sample(frame, sample_size, seed)
            why = f"split {split!r} of {dataset}"
            if len(rows) < len(frame):
                why = f"stratified sample of {len(rows)} rows (seed {seed}) of {why}"
            return RowSelection(rows, RowsUsed(len(rows), len(frame), why))
        labelled = read_labelled_file(path, label_map=label_map)
        frame = labelled.frame
        reasons = []
        if labelled.without_text:
            reasons.append(f"{labelled.without_text} rows without text skipped")
        if labelled.without_label:
            reasons.append(f"{labelled.without_label} rows without a label skipped")
        if split != "all":
            frame = split_frame(frame, split, self.settings.seed)
            reasons.append(
                f"split {split!r} asked for: {FRACTIONS[split]:.0%} of each class by the seeded split "
                f"(seed {self.settings.seed})"
            )
        frame = frame.reset_index(drop=True)
        rows = stratified_sample(frame.assign(row_id=np.arange(len(frame))), sample_size, seed)
        if len(rows) < len(frame):
            reasons.append(f"stratified sample of {len(rows)} rows (seed {seed})")
        whole = len(rows) == labelled.rows_in_file
        why = "the whole file" if whole else "; ".join(reasons)
        file_rows = None if whole else tuple(sorted(int(r) for r in rows["row"]))
        return RowSelection(rows, RowsUsed(len(rows), labelled.rows_in_file, why, file_rows), FileRead.of(labelled))

    def _run(
        self, spec: str, rows: pd.DataFrame, progress: ProgressFn | None
    ) -> tuple[Predictor, list[str], np.ndarray]:
        predictor = self.pool.get(spec)
        texts = rows["text"].tolist()
        predictions: list[str] = []
        probabilities: list[np.ndarray] = []
        step = max(256, len(texts) // 20)
        for start in range(0, len(texts), step):
            result = predictor.predict_batch(texts[start : start + step])
            if any(result.errors):
                bad = next(e for e in result.errors if e)
                raise DatasetError(f"the dataset has rows that cannot be scored ({bad})")
            predictions.extend(result.labels)
            probabilities.append(result.probabilities)
            if progress is not None:
                progress(min(1.0, (start + step) / len(texts)), f"{spec}: {min(start + step, len(texts))} rows")
        stacked = np.concatenate(probabilities) if probabilities else np.empty((0, len(LABELS)), dtype=np.float32)
        return predictor, predictions, stacked

    def evaluate(
        self,
        spec: str,
        dataset: str,
        split: str = "test",
        sample_size: int | None = None,
        seed: int = 0,
        progress: ProgressFn | None = None,
        selection: RowSelection | None = None,
        label_map: str | None = None,
    ) -> EvaluationResult:
        started = time.perf_counter()
        if selection is None:
            selection = self.select(dataset, split, sample_size, seed, label_map)
        rows = selection.frame
        predictor, predictions, probabilities = self._run(spec, rows, progress)
        truth = rows["label"].tolist()
        y_true = np.array([LABEL_TO_ID[y] for y in truth])
        y_pred = np.array([LABEL_TO_ID[y] for y in predictions])
        return EvaluationResult(
            model=predictor.info.name,
            model_revision=predictor.info.revision,
            dataset=dataset,
            split=split,
            n=len(rows),
            seed=seed,
            metrics=classification_report(truth, predictions),
            intervals=Intervals.of(bootstrap_intervals(y_true, y_pred, seed=seed)),
            seconds=time.perf_counter() - started,
            created_at=time.time(),
            row_ids=rows["row_id"].tolist(),
            predictions=predictions,
            rows=selection.rows,
            file=selection.file,
            calibration=CalibrationSummary.of(probabilities, y_true) if len(rows) else None,
        )

    def compare(
        self,
        spec_a: str,
        spec_b: str,
        dataset: str,
        split: str = "test",
        sample_size: int | None = None,
        seed: int = 0,
        progress: ProgressFn | None = None,
        label_map: str | None = None,
    ) -> tuple[EvaluationResult, EvaluationResult, PairedComparison]:
        """Both models on the same rows; the comparison is B minus A."""
        selection = self.select(dataset, split, sample_size, seed, label_map)
        half = (lambda f, d: progress(f / 2, d)) if progress else None
        rest = (lambda f, d: progress(0.5 + f / 2, d)) if progress else None
        a = self.evaluate(spec_a, dataset, split, sample_size, seed, half, selection=selection)
        b = self.evaluate(spec_b, dataset, split, sample_size, seed, rest, selection=selection)
        truth = np.array([LABEL_TO_ID[y] for y in selection.frame["label"]])
        pred_a = np.array([LABEL_TO_ID[y] for y in a.predictions])
        pred_b = np.array([LABEL_TO_ID[y] for y in b.predictions])
        return a, b, paired_comparison(truth, pred_a, pred_b, seed=seed)
