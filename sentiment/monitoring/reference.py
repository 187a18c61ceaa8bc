"""What normal looks like: a frozen reference profile of per-text features, from a reference dataset (the
bootstrap) or from production traffic (pinned by the owner or automatically), stored with the model it belongs to."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.monitoring.domain_classifier import as_matrix
from sentiment.monitoring.features import surface_kind
from sentiment.settings import Settings

logger = logging.getLogger(__name__)

# Not bumped for the embedding column: the version is part of every key, pinned references included, and a bump
# would silently drop an owner's pin. A profile without embeddings skips the semantic check (``_has_column``).
PROFILE_VERSION = 1

FEATURE_COLUMNS = ["n_chars", "n_tokens", "surface", "label", "confidence"]


def features_of(texts: list[str], predictor: Predictor) -> pd.DataFrame:
    """The monitored features of texts scored by ``predictor`` (same columns as the prediction log), with each
    text's ``embedding`` (a list; absent for a model without one) and the ``text`` itself (reference datasets are
    public; it lets a semantic explanation quote them when production text logging is on)."""
    result = predictor.predict_batch(texts, embed=True)
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

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.key}.json"
        meta = {k: v for k, v in asdict(self).items() if k != "frame"}
        path.write_text(json.dumps({**meta, "rows": self.frame.to_dict(orient="list")}))
        return path

    @classmethod
    def load(cls, path: Path) -> ReferenceProfile:
        data = json.loads(path.read_text())
        frame = pd.DataFrame(data.pop("rows"))
        return cls(frame=frame, **data)

    def summary(self) -> ReferenceSummary:
        return ReferenceSummary(
            self.model, self.model_revision, self.dataset, self.split, len(self.frame), self.created_at, self.version
        )


def reference_key(model: str, revision: str, dataset: str, split: str) -> str:
    raw = f"v{PROFILE_VERSION}|{model}|{revision}|{dataset}|{split}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def pinned_path(folder: Path, model: str, revision: str) -> Path:
    return folder / f"pinned-{reference_key(model, revision, 'production', '-')}.json"


def pin_production_reference(
    frame: pd.DataFrame, predictor: Predictor, settings: Settings, *, split: str | None = None
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
    folder = settings.data_dir / "reference"
    saved = profile.save(folder)
    pinned_path(folder, info.name, info.revision).write_text(json.dumps({"profile": saved.name}))
    logger.info("pinned %d production predictions as the reference of %s", len(frame), info.name)
    return profile


def reference_profile(predictor: Predictor, settings: Settings) -> ReferenceProfile:
    """This model's reference: a pinned production window if there is one, else the stored profile on the
    reference dataset, built (and stored) if there is none yet."""
    info = predictor.info
    folder = settings.data_dir / "reference"
    pinned = pinned_path(folder, info.name, info.revision)
    if pinned.exists():
        try:
            return ReferenceProfile.load(folder / json.loads(pinned.read_text())["profile"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("pinned reference %s is unreadable (%s); using the reference dataset", pinned, exc)
    key = reference_key(info.name, info.revision, settings.reference_dataset, settings.reference_split)
    path = folder / f"{key}.json"
    if path.exists():
        try:
            return ReferenceProfile.load(path)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("reference profile %s is unreadable (%s); rebuilding it", path, exc)
    texts = load_split(settings.reference_dataset, settings.reference_split, settings)["text"].tolist()
    profile = ReferenceProfile(
        info.name,
        info.revision,
        settings.reference_dataset,
        settings.reference_split,
        time.time(),
        features_of(texts, predictor),
    )
    profile.save(folder)
    logger.info(
        "built reference profile %s (%d rows of %s/%s) for %s",
        key,
        len(profile.frame),
        settings.reference_dataset,
        settings.reference_split,
        info.name,
    )
    return profile
