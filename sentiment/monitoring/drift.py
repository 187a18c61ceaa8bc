"""What normal looks like (a frozen reference profile) and whether production still looks like it (drift check).

The reference holds the same per-text features as the prediction log, computed with the serving model on a
reference dataset; it is stored with the model it belongs to and rebuilt when the model changes. A drift check
runs every registered test on the last window of the log against it, corrects the p-values for running several
tests at once (Holm), and reduces them to one level: ok, warning or drift (or insufficient_data below the minimum
window, which is not the same as "no drift").
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.monitoring.features import SURFACE_KINDS, surface_kind
from sentiment.monitoring.stat_tests import DRIFT_TESTS, holm
from sentiment.settings import Settings, setting_default

logger = logging.getLogger(__name__)

PROFILE_VERSION = 1
LEVELS = ("ok", "warning", "drift")
DRIFT_NO_VERDICT = -1  # sentiment_drift_status before the first check, or when the window is too small
STATUS_CODES = {"ok": 0, "warning": 1, "drift": 2, "insufficient_data": DRIFT_NO_VERDICT}


@dataclass(frozen=True)
class Check:
    feature: str
    test: str
    column: str
    options: dict[str, Any] = field(default_factory=dict)


CHECKS: tuple[Check, ...] = (
    Check("text_length", "ks", "n_chars"),
    Check("token_count", "ks", "n_tokens"),
    Check("confidence", "ks", "confidence"),
    Check("confidence", "psi", "confidence"),
    Check("label", "chi2", "label", {"categories": LABELS}),
    Check("surface", "chi2", "surface", {"categories": SURFACE_KINDS}),
)


def features_of(texts: list[str], predictor: Predictor) -> pd.DataFrame:
    """The monitored features of texts scored by ``predictor`` (same columns as the prediction log)."""
    result = predictor.predict_batch(texts)
    keep = result.valid
    labels = result.labels
    return pd.DataFrame(
        {
            "n_chars": [len(t) for t in texts],
            "n_tokens": result.tokens,
            "surface": [surface_kind(t) for t in texts],
            "label": labels,
            "confidence": result.probabilities.max(axis=1),
        }
    )[keep].reset_index(drop=True)


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

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_revision": self.model_revision,
            "dataset": self.dataset,
            "split": self.split,
            "rows": len(self.frame),
            "created_at": self.created_at,
            "version": self.version,
        }


def reference_key(model: str, revision: str, dataset: str, split: str) -> str:
    raw = f"v{PROFILE_VERSION}|{model}|{revision}|{dataset}|{split}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _pinned_path(folder: Path, model: str, revision: str) -> Path:
    return folder / f"pinned-{reference_key(model, revision, 'production', '-')}.json"


def pin_production_reference(frame: pd.DataFrame, predictor: Predictor, settings: Settings) -> ReferenceProfile:
    """Freeze a window of production traffic as this model's reference (instead of the reference dataset)."""
    info = predictor.info
    columns = ["n_chars", "n_tokens", "surface", "label", "confidence"]
    profile = ReferenceProfile(
        info.name, info.revision, "production", f"last {len(frame)}", time.time(), frame[columns].reset_index(drop=True)
    )
    folder = settings.data_dir / "reference"
    saved = profile.save(folder)
    _pinned_path(folder, info.name, info.revision).write_text(json.dumps({"profile": saved.name}))
    logger.info("pinned %d production predictions as the reference of %s", len(frame), info.name)
    return profile


def reference_profile(predictor: Predictor, settings: Settings) -> ReferenceProfile:
    """This model's reference: a pinned production window if there is one, else the stored profile on the
    reference dataset, built (and stored) if there is none yet."""
    info = predictor.info
    folder = settings.data_dir / "reference"
    pinned = _pinned_path(folder, info.name, info.revision)
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


@dataclass(frozen=True)
class DriftReport:
    status: str  # ok | warning | drift | insufficient_data
    window_size: int
    min_window: int
    checked_at: float
    reference: dict[str, Any]
    results: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    min_window: int = setting_default("drift_min_window"),
    warning_alpha: float = 0.05,
    drift_alpha: float = 0.01,
    psi_warning: float = 0.1,
    psi_drift: float = 0.25,
    reference_info: dict[str, Any] | None = None,
) -> DriftReport:
    """Run every check of ``CHECKS`` on ``current`` against ``reference`` and grade the outcome."""
    now = time.time()
    if len(current) < min_window:
        return DriftReport("insufficient_data", len(current), min_window, now, reference_info or {}, [])
    rows: list[dict[str, Any]] = []
    for check in CHECKS:
        test = DRIFT_TESTS[check.test]
        options = dict(check.options)
        if check.test == "psi":
            options["threshold"] = psi_drift
        elif "alpha" not in options:
            options["alpha"] = drift_alpha
        result = test(reference=reference[check.column].tolist(), current=current[check.column].tolist(), **options)
        rows.append({"feature": check.feature, "test": check.test, **result.as_dict()})
    tested = [i for i, row in enumerate(rows) if row["p_value"] is not None]
    adjusted = holm([rows[i]["p_value"] for i in tested])
    for i, p in zip(tested, adjusted, strict=True):
        rows[i]["adjusted_p_value"] = p
        rows[i]["level"] = "drift" if p < drift_alpha else "warning" if p < warning_alpha else "ok"
        rows[i]["drifted"] = p < drift_alpha
    for row in rows:
        if row["p_value"] is None:
            row["adjusted_p_value"] = None
            row["level"] = (
                "drift" if row["statistic"] > psi_drift else "warning" if row["statistic"] > psi_warning else "ok"
            )
    status = max((row["level"] for row in rows), key=LEVELS.index)
    return DriftReport(status, len(current), min_window, now, reference_info or {}, rows)
