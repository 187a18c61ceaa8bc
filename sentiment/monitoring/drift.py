"""What normal looks like (a frozen reference profile) and whether production still looks like it (drift check).

The reference holds the same per-text features as the prediction log, computed with the serving model on a
reference dataset; it is stored with the model it belongs to and rebuilt when the model changes. A drift check
runs every check's registered test on the last window of the log against it, corrects the p-values for running
several tests at once (Holm), grades each result by its test's own thresholds and reduces them to one level: ok,
warning or drift (or insufficient_data below the minimum window, which is not the same as "no drift").

Besides the surface features, each row carries a small embedding of the text (``sentiment.models.embedding``): a
domain classifier on it (``domain_auc``) catches a change of topic that keeps length, marks and label mix, and
when it fires the report carries an ``explanation`` of what changed (``monitoring.semantic``). A check whose
column is missing on either side (the lexicon has no embeddings; rows logged before they were stored) is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.monitoring.domain_classifier import as_matrix
from sentiment.monitoring.features import SURFACE_KINDS, surface_kind
from sentiment.monitoring.semantic import explain_domain_shift
from sentiment.monitoring.stat_tests import DRIFT_TESTS, LEVELS, DriftResult, holm
from sentiment.settings import Settings, setting_default

logger = logging.getLogger(__name__)

# Not bumped for the embedding column: the version is part of every key, pinned references included, and a bump
# would silently drop an owner's pin. A profile without embeddings skips the semantic check (``_has_column``).
PROFILE_VERSION = 1
DRIFT_NO_VERDICT = -1  # sentiment_drift_status before the first check, or when the window is too small
STATUS_CODES = {"ok": 0, "warning": 1, "drift": 2, "insufficient_data": DRIFT_NO_VERDICT}


@dataclass(frozen=True)
class Check:
    """One feature (``column`` of the log) compared by the test registered as ``test`` in ``DRIFT_TESTS``."""

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
    Check("embedding", "domain_auc", "embedding"),
)
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


def _pinned_path(folder: Path, model: str, revision: str) -> Path:
    return folder / f"pinned-{reference_key(model, revision, 'production', '-')}.json"


def pin_production_reference(frame: pd.DataFrame, predictor: Predictor, settings: Settings) -> ReferenceProfile:
    """Freeze a window of production traffic as this model's reference (instead of the reference dataset)."""
    info = predictor.info
    kept = frame[FEATURE_COLUMNS].reset_index(drop=True)
    if "embedding" in frame and frame["embedding"].notna().all():
        kept["embedding"] = as_matrix(frame["embedding"]).round(4).tolist()  # float16 bytes in the log: JSON lists
    if "text" in frame and frame["text"].notna().all():
        kept["text"] = frame["text"].tolist()  # only there when text logging is on
    profile = ReferenceProfile(info.name, info.revision, "production", f"last {len(frame)}", time.time(), kept)
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
class FeatureDrift:
    """One check's graded result: the test's raw result, its Holm-adjusted p-value (None for a distance) and the
    level its test's thresholds give; ``drifted`` is that level being "drift"."""

    feature: str
    test: str  # the test's kind, as registered
    statistic: float
    p_value: float | None
    drifted: bool
    threshold: float
    method: str
    n_reference: int
    n_current: int
    adjusted_p_value: float | None
    level: str  # ok | warning | drift

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftReport:
    status: str  # ok | warning | drift | insufficient_data
    window_size: int
    min_window: int
    checked_at: float
    reference: ReferenceSummary | None
    results: tuple[FeatureDrift, ...]
    explanation: str | None = None  # Markdown: what changed, when the semantic check is past ok

    @property
    def status_code(self) -> int:
        """The value of the ``sentiment_drift_status`` gauge."""
        return STATUS_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "window_size": self.window_size,
            "min_window": self.min_window,
            "checked_at": self.checked_at,
            "reference": self.reference.as_dict() if self.reference else {},
            "results": [row.as_dict() for row in self.results],
            "explanation": self.explanation,
        }


def _graded(check: Check, result: DriftResult, adjusted: float | None) -> FeatureDrift:
    test = DRIFT_TESTS[check.test]
    level = test.level(adjusted if adjusted is not None else result.statistic)
    raw = {**asdict(result), "drifted": level == "drift"}
    return FeatureDrift(check.feature, check.test, **raw, adjusted_p_value=adjusted, level=level)


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    min_window: int = setting_default("drift_min_window"),
    reference_info: ReferenceSummary | None = None,
    checks: Sequence[Check] = CHECKS,
) -> DriftReport:
    """Run every check of ``checks`` on ``current`` against ``reference`` and grade each by its own test: a
    p-value test by its Holm-adjusted p-value (corrected over all p-value tests of the check), a distance by its
    statistic, each against the test's default thresholds."""
    now = time.time()
    if len(current) < min_window:
        return DriftReport("insufficient_data", len(current), min_window, now, reference_info, ())
    checks = [check for check in checks if _has_column(reference, check.column) and _has_column(current, check.column)]
    results = [
        DRIFT_TESTS[check.test](
            reference=reference[check.column].tolist(), current=current[check.column].tolist(), **check.options
        )
        for check in checks
    ]
    tested = [i for i, check in enumerate(checks) if DRIFT_TESTS[check.test].uses_p_value]
    adjusted: list[float | None] = [None] * len(results)
    for i, p in zip(tested, holm([results[i].p_value or 0.0 for i in tested]), strict=True):
        adjusted[i] = p  # a p-value test always has one (``StatTest.__call__``)
    rows = tuple(_graded(c, r, a) for c, r, a in zip(checks, results, adjusted, strict=True))
    status = max((row.level for row in rows), key=LEVELS.index, default="ok")
    semantic = [c for c, row in zip(checks, rows, strict=True) if c.test == "domain_auc" and row.level != "ok"]
    explanation = explain_domain_shift(reference, current, semantic[0].column) if semantic else None
    return DriftReport(status, len(current), min_window, now, reference_info, rows, explanation)


def _has_column(frame: pd.DataFrame, column: str) -> bool:
    """Whether every row has ``column`` (embeddings are missing for the lexicon and for rows logged before)."""
    return column in frame.columns and bool(frame[column].notna().all())
