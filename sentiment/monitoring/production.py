"""The production evaluation: the serving model measured on the labels people gave its own logged predictions.

No re-scoring and no text: a logged prediction keeps the class the model chose, so joining feedback (one agreed
label per prediction) with the log gives truth and prediction for exactly the traffic the model served. Only the
serving model's rows count (a switch starts a new measurement), only from the last ``production_window_days``,
and only feedback the owner accepted unless ``production_unreviewed`` is set. Below ``production_min_labels``
rows the answer is "insufficient labels", never figures from a handful of clicks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sentiment.datasets.feedback import FeedbackStore
from sentiment.evaluation.metrics import classification_report
from sentiment.evaluation.report import EvaluationResult, Intervals, RowsUsed
from sentiment.evaluation.uncertainty import bootstrap_intervals
from sentiment.labels import LABEL_TO_ID
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.settings import Settings

DATASET = "production"  # the fixed ``dataset`` label of the production gauges (what the accuracy alerts watch)
SPLIT = "window"
INSUFFICIENT = "insufficient labels"
NO_LOG = "no prediction log (SENTIMENT_LOG_PREDICTIONS)"


@dataclass(frozen=True)
class InsufficientLabels:
    """The production evaluation's answer below ``production_min_labels``: how many labels there are, how many
    are needed, and which rows counted. Its gauges are removed rather than left stale."""

    model: str
    n: int
    min_labels: int
    rows: RowsUsed
    created_at: float
    dataset: str = DATASET
    split: str = SPLIT
    status: str = INSUFFICIENT

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "split": self.split,
            "status": self.status,
            "n": self.n,
            "min_labels": self.min_labels,
            "rows": self.rows.as_dict(),
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class NoPredictionLog:
    """No production evaluation at all: the app keeps no prediction log, so no label can be joined to one."""

    model: str
    dataset: str = DATASET
    status: str = NO_LOG

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, "status": self.status}


@dataclass(frozen=True)
class ProductionRows:
    """Truth and prediction per labelled logged prediction, and what was left out and why."""

    frame: pd.DataFrame  # prediction_id, label (truth), predicted, ts
    states: tuple[str, ...]
    since: float
    conflicting: int  # predictions whose feedback disagrees: not used until the owner drops one side
    not_logged: int  # labelled predictions of other models, or no longer in the log

    def why(self) -> str:
        days = (time.time() - self.since) / 86400
        parts = [f"{'/'.join(self.states)} feedback on predictions of the last {days:.3g} days"]
        if self.conflicting:
            parts.append(f"{self.conflicting} predictions with conflicting labels left out")
        if self.not_logged:
            parts.append(f"{self.not_logged} labelled predictions of other models (or pruned from the log) left out")
        return "; ".join(parts)


def production_rows(store: FeedbackStore, log: PredictionLog, model: str, settings: Settings) -> ProductionRows:
    states = ("accepted", "unreviewed") if settings.production_unreviewed else ("accepted",)
    since = time.time() - settings.production_window_days * 86400
    labels, conflicting = store.labels(states)
    logged = log.by_ids(labels["prediction_id"].tolist())
    logged = logged[(logged["model"] == model) & (logged["ts"] >= since)]
    joined = labels.merge(
        logged[["prediction_id", "label", "ts"]].rename(columns={"label": "predicted"}), on="prediction_id"
    )
    joined = joined.sort_values("ts").reset_index(drop=True)[["prediction_id", "label", "predicted", "ts"]]
    return ProductionRows(joined, states, since, conflicting, len(labels) - len(joined))


def evaluate_production(
    store: FeedbackStore, log: PredictionLog, model: str, revision: str, settings: Settings, seed: int = 0
) -> EvaluationResult | InsufficientLabels:
    """The report of the serving model on production labels, or why there is none yet."""
    started = time.perf_counter()
    rows = production_rows(store, log, model, settings)
    n = len(rows.frame)
    if n < settings.production_min_labels:
        used = RowsUsed(n, n, rows.why())
        return InsufficientLabels(model, n, settings.production_min_labels, used, time.time())
    truth = rows.frame["label"].tolist()
    predicted = rows.frame["predicted"].tolist()
    y_true = np.array([LABEL_TO_ID[y] for y in truth])
    y_pred = np.array([LABEL_TO_ID[y] for y in predicted])
    return EvaluationResult(
        model=model,
        model_revision=revision,
        dataset=DATASET,
        split=SPLIT,
        n=n,
        seed=seed,
        metrics=classification_report(truth, predicted),
        intervals=Intervals.of(bootstrap_intervals(y_true, y_pred, seed=seed)),
        seconds=time.perf_counter() - started,
        created_at=time.time(),
        row_ids=list(range(n)),
        predictions=predicted,
        rows=RowsUsed(n, n + rows.conflicting, rows.why()),
    )
