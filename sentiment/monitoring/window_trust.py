"""The trust verdict of one logged window (``sentiment.monitoring.trust``), from what the app has at a drift check.

The verdict compares the window with the *labelled* reference the estimator was fitted on (the serving model on
``settings.reference_dataset`` / ``reference_split``), not with the drift reference, which is often a pinned
window of production traffic with no labels. Its two readings:

- the domain classifier's AUC between the labelled reference's embeddings (its stored drift profile on the same
  dataset: ``sentiment.monitoring.reference.dataset_profile``) and the window's logged embeddings: the 16-number
  projection of the model's mean-pooled last hidden state (``sentiment.models.embedding``), as
  ``benchmarks/trust_verdicts.py`` measured it. A model that logs no embeddings (the lexicon) leaves overlap
  untested;
- the label-shift tests on the window's logged class probabilities against the reference's.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from sentiment.inference.predictor import Predictor
from sentiment.monitoring.domain_classifier import as_matrix, domain_auc
from sentiment.monitoring.estimation import LabelledReference
from sentiment.monitoring.reference import dataset_profile
from sentiment.monitoring.trust import TrustVerdict, trust_verdict
from sentiment.settings import Settings
from sentiment.store import Store

logger = logging.getLogger(__name__)

MIN_EMBEDDED_ROWS = 40  # per side, as the drift check's domain_auc test asks: the AUC is read on one half


def embeddings_of(frame: pd.DataFrame) -> np.ndarray | None:
    """The rows' embeddings as an ``(n, d)`` matrix, only the rows that have one; None without enough of them."""
    if "embedding" not in frame:
        return None
    column = frame["embedding"]
    present = column[column.notna()]
    if len(present) < MIN_EMBEDDED_ROWS:
        return None
    return as_matrix(present)


def window_verdict(
    predictor: Predictor,
    settings: Settings,
    store: Store,
    reference: LabelledReference,
    window: pd.DataFrame,
    probabilities: np.ndarray,
    accuracy: float,
) -> TrustVerdict:
    """The verdict on ``window`` (logged rows, ``probabilities`` its ``(n, K)`` class probabilities), whose
    label-free accuracy is ``accuracy``; thresholds from ``settings`` (``SENTIMENT_TRUST_*``)."""
    ours = embeddings_of(window)
    theirs = embeddings_of(dataset_profile(predictor, settings, store).frame) if ours is not None else None
    auc, p = (None, None)
    if ours is not None and theirs is not None and ours.shape[1] == theirs.shape[1]:
        auc, p = domain_auc(theirs, ours)
    return trust_verdict(
        reference,
        probabilities,
        accuracy=accuracy,
        domain_auc=auc,
        domain_p=p,
        max_domain_auc=settings.trust_max_domain_auc,
        level=settings.trust_level,
        half_width=settings.trust_half_width,
    )
