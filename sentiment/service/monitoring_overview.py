"""What the Monitoring tab shows of the prediction log and the last drift check: ``MonitoringOverview``, and the
confidence histogram it draws (share per bin, current window against the reference)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sentiment.monitoring.drift import DriftReport
from sentiment.monitoring.performance import WindowEstimate
from sentiment.monitoring.prediction_log import PredictionLog

CONFIDENCE_BINS = np.linspace(1 / 3, 1.0, 11)
CONFIDENCE_CENTRES = [round(float(low + high) / 2, 3) for low, high in itertools.pairwise(CONFIDENCE_BINS)]


@dataclass(frozen=True)
class MonitoringOverview:
    """What the Monitoring tab shows: traffic per minute and label (``PredictionLog.traffic``), the label mix and
    the confidence histogram (share per bin, current vs reference) of the newest window, the last drift report
    and the estimated performance of its window (None before the first check, or a window too small)."""

    traffic: pd.DataFrame
    labels: pd.DataFrame  # label, count
    confidence: pd.DataFrame  # confidence (bin centre), share, sample (current | reference)
    report: DriftReport | None
    estimate: WindowEstimate | None
    logged: int
    window: str = ""  # which predictions the label mix and the confidence chart count, in words

    @property
    def has_reference(self) -> bool:
        return not self.confidence.empty and "reference" in set(self.confidence["sample"])


def confidence_shares(current: pd.DataFrame, reference: pd.DataFrame | None) -> pd.DataFrame:
    """The share of each sample's predictions per confidence bin: columns confidence (bin centre), share and
    sample (current, and reference when there is one)."""
    rows = []
    frames = [("current", current["confidence"].to_numpy())]
    if reference is not None:
        frames.append(("reference", reference["confidence"].to_numpy()))
    for name, values in frames:
        counts, _ = np.histogram(values, bins=CONFIDENCE_BINS)
        share = counts / max(counts.sum(), 1)
        for centre, value in zip(CONFIDENCE_CENTRES, share, strict=True):
            rows.append({"confidence": centre, "share": float(value), "sample": name})
    return pd.DataFrame(rows)


def build_overview(
    log: PredictionLog | None,
    checked: pd.DataFrame | None,
    report: DriftReport | None,
    estimate: WindowEstimate | None,
    reference: pd.DataFrame | None,
    drift_window: int,
    hours: float,
) -> MonitoringOverview:
    """The tab's figures: traffic over the last ``hours``, and the label mix and confidence chart of the last check's
    window (``checked``), or before any check the newest ``drift_window`` predictions (any model: the tab must not
    wait for a model still loading). ``StoreUnavailableError`` when the log cannot be read."""
    if log is None:
        empty = pd.DataFrame()
        return MonitoringOverview(empty, empty, empty, None, None, 0, "no predictions: the log is off")
    traffic = log.traffic(time.time() - hours * 3600)
    if checked is not None:
        window, shown = checked, f"the last drift check's {len(checked):,} predictions"
    else:
        window = log.window(last=drift_window)
        shown = f"the newest {len(window):,} predictions (no drift check yet)" if len(window) else "no predictions yet"
    labels = window["label"].value_counts().rename_axis("label").reset_index(name="count")
    return MonitoringOverview(
        traffic, labels, confidence_shares(window, reference), report, estimate, log.count(), shown
    )
