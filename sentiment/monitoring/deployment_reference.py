"""The deployment reference: per model revision, its own first production predictions become its drift reference.

A public dataset is only a bootstrap: any real deployment's traffic differs from it from the first hour, and a drift
alarm that is always on is read by nobody. So once a revision has served ``SENTIMENT_REFERENCE_PRODUCTION_ROWS``
predictions (its first logged ones, or the first after the owner's reset), those first rows are
pinned as its reference, once; from then on drift means "differs from what this deployment saw at its start". The
owner can still pin the newest rows instead (``/pin_reference``) or reset to the bootstrap, which starts the count
again (``/reset_reference``). ``source_of`` names the reference in use: dataset, production (automatic) or pinned.
"""

from __future__ import annotations

import json
import logging
import time

from sentiment.monitoring.reference import ReferenceProfile, ReferenceSummary, pinned_key, reference_key
from sentiment.monitoring.reference_rows import drop_reference, get_reference, put_reference
from sentiment.store import Store

logger = logging.getLogger(__name__)

SOURCES = ("dataset", "production", "pinned")  # the values of the source label of sentiment_drift_reference_info
AUTOMATIC = "first "  # the split name of an automatic deployment reference: "first N"


def source_of(reference: ReferenceProfile | ReferenceSummary) -> str:
    """Where a reference's rows came from: the reference dataset, the revision's first production predictions
    (pinned automatically) or a window an admin pinned."""
    if reference.dataset != "production":
        return "dataset"
    return "production" if reference.split.startswith(AUTOMATIC) else "pinned"


def _since_key(model: str, revision: str) -> str:
    return f"serving-{reference_key(model, revision, 'production', 'since')}"


def serving_since(store: Store, model: str, revision: str) -> float | None:
    """Unix time from which this revision's logged predictions count toward its automatic reference: the last
    reset, or None (every logged prediction of the model counts: the log holds a model's rows from when it started
    serving; it does not record the revision, so a new revision under the same name needs a reset to start over)."""
    payload = get_reference(store, _since_key(model, revision))
    if payload is None:
        return None
    try:
        return float(json.loads(payload)["since"])
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("unreadable reset time of %s@%s (%s): counting from now", model, revision, exc)
        return _restart_count(store, model, revision)


def _restart_count(store: Store, model: str, revision: str) -> float:
    now = time.time()
    payload = json.dumps({"since": now})
    put_reference(store, _since_key(model, revision), "serving_since", payload, model=model, model_revision=revision)
    return now


def reset_reference(store: Store, model: str, revision: str) -> None:
    """Drop any pinned reference of this revision (the dataset profile serves again) and start counting its
    production predictions toward a new automatic reference from now."""
    drop_reference(store, pinned_key(model, revision))
    _restart_count(store, model, revision)
    logger.info("reset the drift reference of %s@%s to the reference dataset", model, revision)
