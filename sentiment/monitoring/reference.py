"""What normal looks like: a frozen reference profile of per-text features, from a reference dataset (the
bootstrap) or from production traffic (pinned by the owner or automatically), stored with the model it belongs to
in the one store (``sentiment.monitoring.reference_rows``), so every replica and every restart reads the same."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from sentiment.datasets import load_split
from sentiment.errors import StoreError
from sentiment.inference.predictor import Predictor
from sentiment.monitoring.domain_classifier import as_matrix
from sentiment.monitoring.features import surface_kind
from sentiment.monitoring.reference_rows import get_reference, put_reference
from sentiment.results import BatchResult
from sentiment.settings import Settings
from sentiment.store import Store

logger = logging.getLogger(__name__)

# Not bumped for the embedding column: the version is part of every key, pinned references included, and a bump
# would silently drop an owner's pin. A profile without embeddings skips the semantic check (``_has_column``).
PROFILE_VERSION = 1

FEATURE_COLUMNS = ["n_chars", "n_tokens", "surface", "label", "confidence"]

_scored_lock = threading.Lock()
_scored: dict[tuple[str, str, str, str], tuple[pd.DataFrame, BatchResult]] = {}


def scored_reference_split(predictor: Predictor, settings: Settings) -> tuple[pd.DataFrame, BatchResult]:
    """The reference split (``load_split``'s frame) and ``predictor``'s scores of it, embeddings included.

    Scored once per model revision and process, for the two references built from it: the drift profile and the
    estimation reference (the first drift check used to score the same texts twice). Only the newest model's scores
    are kept (a few MB); callers store what they build, so a later process reads the store instead."""
    info = predictor.info
    key = (info.name, info.revision, settings.reference_dataset, settings.reference_split)
    with _scored_lock:  # a second caller waits for the first one's scores instead of scoring again
        found = _scored.get(key)
        if found is None:
            frame = load_split(settings.reference_dataset, settings.reference_split, settings)
            found = (frame, predictor.predict_batch(frame["text"].tolist(), embed=True))
            _scored.clear()
            _scored[key] = found
    return found


def features_of(texts: list[str], predictor: Predictor, scored: BatchResult | None = None) -> pd.DataFrame:
    """The monitored features of texts scored by ``predictor`` (same columns as the prediction log), with each
    text's ``embedding`` (a list; absent for a model without one) and the ``text`` itself (reference datasets are
    public; it lets a semantic explanation quote them when production text logging is on). ``scored``: the texts'
    scores with embeddings, when the caller has them already."""
    result = predictor.predict_batch(texts, embed=True) if scored is None else scored
    keep = result.valid
    labels = result.labels
    frame = pd.DataFrame(
        {
            "n_chars": [len(t) for t in texts],
            "n_tokens": result.tokens,
            "surface": [surface_kind(t) for t in texts],
            "label": labels,
            "confidence": result.probabilities.max(axis=1),
            "text": texts,
        }
    )
    if result.embeddings is not None:
        frame["embedding"] = result.embeddings.round(4).tolist()
    return frame[keep].reset_index(drop=True)


@dataclass(frozen=True)
class ReferenceSummary:
    """Which reference a drift check compared with: the model it belongs to, where its rows came from, when."""

    model: str
    model_revision: str
    dataset: str
    split: str
    rows: int
    created_at: float
    version: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReferenceProfile:
    model: str
    model_revision: str
    dataset: str
    split: str
    created_at: float
    frame: pd.DataFrame
    version: int = PROFILE_VERSION

    @property
    def key(self) -> str:
        return reference_key(self.model, self.model_revision, self.dataset, self.split)

    def payload(self) -> str:
        """The stored JSON: the fields and the rows column by column (what ``<key>.json`` held before the store)."""
        meta = {k: v for k, v in asdict(self).items() if k != "frame"}
        return json.dumps({**meta, "rows": self.frame.to_dict(orient="list")})

    @classmethod
    def from_payload(cls, payload: str) -> ReferenceProfile:
        data = json.loads(payload)
        frame = pd.DataFrame(data.pop("rows"))
        return cls(frame=frame, **data)

    def save(self, store: Store) -> str:
        """Store the profile under its key (replacing one there); returns the key."""
        put_reference(store, self.key, "profile", self.payload(), model=self.model, model_revision=self.model_revision)
        return self.key

    @classmethod
    def load(cls, store: Store, key: str) -> ReferenceProfile | None:
        """The profile stored under ``key``, None when there is none; ``ValueError``/``KeyError``/``TypeError``
        for a row this code cannot read."""
        payload = get_reference(store, key)
        return None if payload is None else cls.from_payload(payload)

    def summary(self) -> ReferenceSummary:
        return ReferenceSummary(
            self.model, self.model_revision, self.dataset, self.split, len(self.frame), self.created_at, self.version
        )


def reference_key(model: str, revision: str, dataset: str, split: str) -> str:
    raw = f"v{PROFILE_VERSION}|{model}|{revision}|{dataset}|{split}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def pinned_key(model: str, revision: str) -> str:
    """The key of a revision's pin: its payload names the pinned profile (``{"profile": "<key>.json"}``)."""
    return f"pinned-{reference_key(model, revision, 'production', '-')}"


def pin_production_reference(
    frame: pd.DataFrame, predictor: Predictor, store: Store, *, split: str | None = None
) -> ReferenceProfile:
    """Freeze a window of production traffic as this model's reference (instead of the reference dataset);
    ``split`` names which window it was ("last N" by default, "first N" for the automatic deployment reference)."""
    info = predictor.info
    kept = frame[FEATURE_COLUMNS].reset_index(drop=True)
    if "embedding" in frame and frame["embedding"].notna().all():
        kept["embedding"] = as_matrix(frame["embedding"]).round(4).tolist()  # float16 bytes in the log: JSON lists
    if "text" in frame and frame["text"].notna().all():
        kept["text"] = frame["text"].tolist()  # only there when text logging is on
    name = split or f"last {len(frame)}"
    profile = ReferenceProfile(info.name, info.revision, "production", name, time.time(), kept)
    saved = profile.save(store)
    pointer = json.dumps({"profile": f"{saved}.json"})  # the pointer files' format, which migrated rows keep
    put_reference(
        store, pinned_key(info.name, info.revision), "pinned", pointer, model=info.name, model_revision=info.revision
    )
    logger.info("pinned %d production predictions as the reference of %s", len(frame), info.name)
    return profile


def _pinned(store: Store, model: str, revision: str) -> ReferenceProfile | None:
    """The profile a revision's pin points at, or None (no pin; a pin whose row is unreadable or gone, logged)."""
    pointer = get_reference(store, pinned_key(model, revision))
    if pointer is None:
        return None
    try:
        found = ReferenceProfile.load(store, str(json.loads(pointer)["profile"]).removesuffix(".json"))
        if found is None:
            raise KeyError("the pinned profile is not stored")
        return found
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("the pinned reference of %s is unreadable (%s); using the reference dataset", model, exc)
        return None


def reference_profile(predictor: Predictor, settings: Settings, store: Store) -> ReferenceProfile:
    """This model's reference: a pinned production window if there is one, else the stored profile on the
    reference dataset, built (and stored) if there is none yet."""
    info = predictor.info
    pinned = _pinned(store, info.name, info.revision)
    return pinned if pinned is not None else dataset_profile(predictor, settings, store)


def dataset_profile(predictor: Predictor, settings: Settings, store: Store) -> ReferenceProfile:
    """The profile of this model on the (labelled) reference dataset, pin or no pin: the stored one, else built
    and stored. The trust verdict compares windows with it: a pinned production reference has no labels."""
    info = predictor.info
    key = reference_key(info.name, info.revision, settings.reference_dataset, settings.reference_split)
    try:
        stored = ReferenceProfile.load(store, key)
        if stored is not None:
            return stored
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("reference profile %s is unreadable (%s); rebuilding it", key, exc)
    frame, scored = scored_reference_split(predictor, settings)
    profile = ReferenceProfile(
        info.name,
        info.revision,
        settings.reference_dataset,
        settings.reference_split,
        time.time(),
        features_of(frame["text"].tolist(), predictor, scored),
    )
    try:
        profile.save(store)
    except (StoreError, SQLAlchemyError) as exc:  # the check can still use it; the next start builds it again
        logger.warning("reference profile %s was built but not kept in the store (%s)", key, exc)
    logger.info(
        "built reference profile %s (%d rows of %s/%s) for %s",
        key,
        len(profile.frame),
        settings.reference_dataset,
        settings.reference_split,
        info.name,
    )
    return profile
