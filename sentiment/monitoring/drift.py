"""What normal looks like (a frozen reference profile) and whether production still looks like it (drift check).

The reference holds the same per-text features as the prediction log, computed with the serving model on a
reference dataset; it is stored with the model it belongs to and rebuilt when the model changes. A drift check
runs every check's registered test on the last window of the log against it, corrects the p-values for running
several tests at once (Holm), grades each result by its test's own thresholds and reduces them to one level: ok,
warning or drift (or insufficient_data below the minimum window, which is not the same as "no drift").
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
from sentiment.monitoring.features import SURFACE_KINDS, surface_kind
from sentiment.monitoring.stat_tests import DRIFT_TESTS, LEVELS, DriftResult, holm
from sentiment.settings import Settings, setting_default

logger = logging.getLogger(__name__)

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
    columns = ["n_chars", "n_tokens", "surface", "label", "confidence"]
    name = split or f"last {len(frame)}"
    profile = ReferenceProfile(
        info.name, info.revision, "production", name, time.time(), frame[columns].reset_index(drop=True)
    )
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
    effect_size: float | None = None  # KS D, Cramér's V, PSI: graded only when it reaches effect_threshold
    effect_threshold: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftReport:
    """One check's verdict. ``raw_status`` is this window's own level; ``status`` is what the app reports after the
    persistence rule (``sentiment.monitoring.persistence``): a level counts once enough checks in a row reach it."""

    status: str  # ok | warning | drift | insufficient_data
    window_size: int
    min_window: int
    checked_at: float
    reference: ReferenceSummary | None
    results: tuple[FeatureDrift, ...]
    raw_status: str = ""  # "" = same as status (a single check, no rule applied)
    consecutive: int = 1  # checks in a row, ending with this one, whose raw level reached ``raw_status``
    reference_source: str = "dataset"  # dataset | production | pinned

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
            "raw_status": self.raw_status or self.status,
            "consecutive": self.consecutive,
            "reference_source": self.reference_source,
        }


def _graded(check: Check, result: DriftResult, adjusted: float | None) -> FeatureDrift:
    test = DRIFT_TESTS[check.test]
    level = test.level(adjusted if adjusted is not None else result.statistic, result.effect_size)
    raw = {**asdict(result), "drifted": level == "drift"}
    return FeatureDrift(check.feature, check.test, **raw, adjusted_p_value=adjusted, level=level)


def min_window_of(checks: Sequence[Check], configured: int) -> int:
    """The fewest current rows a check grades: the configured minimum, raised to the largest minimum of the tests
    it runs (``StatTest.min_window``: below it their p-values or bins do not hold)."""
    return max([configured, *(DRIFT_TESTS[c.test].min_window for c in checks)])


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
    min_window = min_window_of(checks, min_window)
    if len(current) < min_window:
        return DriftReport("insufficient_data", len(current), min_window, now, reference_info, ())
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
    return DriftReport(status, len(current), min_window, now, reference_info, rows)
