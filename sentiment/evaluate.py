"""Run a predictor over labelled rows and report its quality with ``sentiment.evaluation``."""

from __future__ import annotations

import pandas as pd

from sentiment.evaluation import ClassificationReport, classification_report
from sentiment.predictor import Predictor


def evaluate_frame(predictor: Predictor, frame: pd.DataFrame) -> tuple[ClassificationReport, list[str]]:
    """Score every row of ``frame`` (``text``, ``label``) and compare; returns the report and the predictions.

    Rows whose text cannot be scored count as wrong (predicted ``neutral`` would flatter a model that fails),
    so they are excluded up front by the dataset loaders and never silently here.
    """
    result = predictor.predict_batch(frame["text"].tolist())
    bad = [i for i, err in enumerate(result.errors) if err]
    if bad:
        raise ValueError(f"{len(bad)} rows cannot be scored, first: row {bad[0]} ({result.errors[bad[0]]})")
    predictions = result.labels
    return classification_report(frame["label"].tolist(), predictions), predictions
