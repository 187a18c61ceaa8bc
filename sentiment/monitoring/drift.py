"""Whether production still looks like its reference (``monitoring.reference``): the drift check.

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

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from sentiment.labels import LABELS
from sentiment.monitoring.distributions import Summary, summarize
from sentiment.monitoring.features import SURFACE_KINDS
from sentiment.monitoring.reference import ReferenceSummary
from sentiment.monitoring.semantic import explain_domain_shift
from sentiment.monitoring.stat_tests import DRIFT_TESTS, LEVELS, DriftResult, holm
from sentiment.settings import setting_default

logger = logging.getLogger(__name__)

DRIFT_NO_VERDICT = -1  # sentiment_drift_status before the first check, or when the window is too small
STATUS_CODES = {"ok": 0, "warning": 1, "drift": 2, "insufficient_data": DRIFT_NO_VERDICT}
UNCONFIRMED_STEP = 0.5  # added to the gauge while a higher level is seen in a window but not yet confirmed


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
    # what the test compared, small enough to draw and to return (``monitoring.distributions``); None: not summarized
    distribution: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftReport:
    """One check's verdict. ``raw_status`` is this window's own level; ``status`` is what the app reports after the
    confirmation rule (``sentiment.monitoring.persistence``): a level counts once enough windows that share no
    prediction reach it."""

    status: str  # ok | warning | drift | insufficient_data
    window_size: int
    min_window: int
    checked_at: float
    reference: ReferenceSummary | None
    results: tuple[FeatureDrift, ...]
    raw_status: str = ""  # "" = same as status (a single check, no rule applied)
    consecutive: int = 1  # checks in a row, ending with this one, whose raw level reached ``raw_status``
    windows: int = 1  # of those, windows that share no prediction with each other (``monitoring.persistence``)
    reference_source: str = "dataset"  # dataset | production | pinned
    explanation: str | None = None  # Markdown: what changed, when the semantic check is past ok

    @property
    def unconfirmed(self) -> str | None:
        """The level this window reached above the confirmed ``status`` (warning or drift, seen but not yet in
        enough windows that share no prediction), or None: "ok" must never stand for "drifted, not yet confirmed"."""
        raw = self.raw_status or self.status
        if raw in LEVELS and self.status in LEVELS and LEVELS.index(raw) > LEVELS.index(self.status):
            return raw
        return None

    @property
    def status_code(self) -> float:
        """The value of the ``sentiment_drift_status`` gauge: the confirmed level (0, 1, 2; -1 no verdict), plus
        ``UNCONFIRMED_STEP`` while a higher level is seen but not confirmed (0.5: drift or a warning seen, not yet
        confirmed; 1.5: a confirmed warning, drift seen). Alerts on ``== 2`` or ``>= 1`` keep their meaning."""
        return STATUS_CODES[self.status] + (UNCONFIRMED_STEP if self.unconfirmed else 0)

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
            "windows": self.windows,
            "reference_source": self.reference_source,
            "explanation": self.explanation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        """The report ``as_dict`` gave (the store keeps the last one, so a restart shows it at once); ``KeyError`` or
        ``TypeError`` for a dict of another shape."""
        reference = data["reference"]
        return cls(
            status=data["status"],
            window_size=int(data["window_size"]),
            min_window=int(data["min_window"]),
            checked_at=float(data["checked_at"]),
            reference=ReferenceSummary(**reference) if reference else None,
            results=tuple(FeatureDrift(**row) for row in data["results"]),
            raw_status=data["raw_status"],
            consecutive=int(data["consecutive"]),
            windows=int(data["windows"]),
            reference_source=data["reference_source"],
            explanation=data["explanation"],
        )


def _graded(check: Check, result: DriftResult, adjusted: float | None, distribution: Summary | None) -> FeatureDrift:
    test = DRIFT_TESTS[check.test]
    level = test.level(adjusted if adjusted is not None else result.statistic, result.effect_size)
    raw = {**asdict(result), "drifted": level == "drift"}
    return FeatureDrift(
        check.feature, check.test, **raw, adjusted_p_value=adjusted, level=level, distribution=distribution
    )


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
    summaries: bool = True,
) -> DriftReport:
    """Run every check of ``checks`` on ``current`` against ``reference`` and grade each by its own test: a
    p-value test by its Holm-adjusted p-value (corrected over all p-value tests of the check), a distance by its
    statistic, each against the test's default thresholds. With ``summaries`` each result carries the two
    distributions its test compared (``monitoring.distributions``; simulations that only read levels skip them)."""
    now = time.time()
    min_window = min_window_of(checks, min_window)
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
    shown = [_summary(check, reference, current) if summaries else None for check in checks]
    rows = tuple(_graded(*graded) for graded in zip(checks, results, adjusted, shown, strict=True))
    status = max((row.level for row in rows), key=LEVELS.index, default="ok")
    semantic = [c for c, row in zip(checks, rows, strict=True) if c.test == "domain_auc" and row.level != "ok"]
    explanation = explain_domain_shift(reference, current, semantic[0].column) if semantic else None
    return DriftReport(status, len(current), min_window, now, reference_info, rows, explanation=explanation)


def _summary(check: Check, reference: pd.DataFrame, current: pd.DataFrame) -> Summary | None:
    """The two distributions ``check``'s test compared, on the same columns and options."""
    ref, cur = reference[check.column].tolist(), current[check.column].tolist()
    return summarize(check.test, reference=ref, current=cur, **check.options)


def _has_column(frame: pd.DataFrame, column: str) -> bool:
    """Whether every row has ``column`` (embeddings are missing for the lexicon and for rows logged before)."""
    return column in frame.columns and bool(frame[column].notna().all())
