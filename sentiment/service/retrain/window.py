"""Champion and challenger on the window's traffic: the prediction-powered accuracy intervals of the challenger
report, from the window's held-out review-sample labels (``judge.window_accuracy`` computes them)."""

from __future__ import annotations

import logging

import numpy as np

from sentiment.errors import SampleDesignError
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABEL_TO_ID
from sentiment.monitoring.ppi import RANDOM_SAMPLE, LabelledRows, WindowPredictions
from sentiment.service.production_truth import PROBABILITIES, ProductionTruth
from sentiment.service.retrain.data import held_out
from sentiment.service.retrain.judge import WindowAccuracy, window_accuracy
from sentiment.settings import Settings

logger = logging.getLogger(__name__)


def challenger_window_accuracy(
    truth: ProductionTruth, settings: Settings, champion: str, challenger: Predictor
) -> tuple[WindowAccuracy | None, str]:
    """Both models' accuracy on the champion's window of traffic (``judge.window_accuracy``), or None and why not.

    The labelled rows are the window's review-sample rows that the held-out rule keeps (a hash of the prediction
    id, ``retrain_data.held_out``), whenever they were labelled: never trained on, and a uniform sample of the
    window as the review sample is. Selecting them any other way (the job's held-out rows, which leave out labels
    given while it trained, or conflicting and text-less ones) would tie the choice to time or to the label. The
    interval informs; the rule decides: any failure here leaves the report without it, never fails the job."""
    try:
        found = truth.window(champion, text=True)
        if found is None:
            return None, "no interval on the window's traffic: the prediction log is off"
        share = settings.retrain_holdout_share
        keep = np.array([held_out(pid, share) for pid in found.labelled["prediction_id"]], dtype=bool)
        rows = found.labelled.loc[keep]
        minimum = settings.ppi_min_labels
        if len(rows) < minimum:
            return None, (
                f"no interval on the window's traffic: {len(rows)} of its random review sample's labels are held "
                f"out, and an interval needs {minimum} (SENTIMENT_PPI_MIN_LABELS); label more sampled predictions"
            )
        if rows["text"].isna().any():
            return None, (
                f"no interval on the window's traffic: {int(rows['text'].isna().sum())} of its held-out sampled "
                "labels lost their text (SENTIMENT_REVIEW_TEXT_DAYS), so the challenger cannot be scored on them"
            )
        labels = rows["label"].tolist()
        predicted = challenger.predict_batch(rows["text"].tolist()).probabilities.argmax(axis=1)
        labelled = LabelledRows.of(
            labels,
            rows[PROBABILITIES].to_numpy(dtype=np.float64),
            inclusion=rows["inclusion_probability"].to_numpy(dtype=np.float64),
            provenance=RANDOM_SAMPLE,
            served=rows["served_label"].tolist(),
        )
        traffic = found.predictions
        window = WindowPredictions.of(traffic[PROBABILITIES].to_numpy(dtype=np.float64), traffic["label"].tolist())
        return window_accuracy(labelled, window, predicted == [LABEL_TO_ID[y] for y in labels]), ""
    except SampleDesignError as exc:  # e.g. the sampling rate changed inside the window
        return None, f"no interval on the window's traffic: {exc}".rstrip(".")
    except Exception as exc:  # e.g. the store went down: the report goes without it
        logger.warning("no interval on the window's traffic for the challenger: %s: %s", type(exc).__name__, exc)
        return None, f"no interval on the window's traffic: {type(exc).__name__}: {exc}".rstrip(".")
