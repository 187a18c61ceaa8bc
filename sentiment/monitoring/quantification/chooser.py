"""Choosing the class-share method leave-one-dataset-out: which estimator to trust on traffic never tuned on.

Every method is fitted once on the one labelled reference (what production has) and read on ``windows`` random
windows of each labelled set; its error on a set is the mean absolute error of each class's share against the
window's true share. For each held-out set, the choice is the method with the smallest mean error over the
*other* sets, so the error reported for a set was never used to pick the method it is reported under; the
production choice is the best over every set. Ties go to the earlier method in ``methods`` (the simpler one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sentiment.errors import EstimationInputError
from sentiment.labels import LABELS
from sentiment.monitoring.estimation.base import LabelledReference, _probabilities
from sentiment.monitoring.quantification.methods import METHODS, Quantifier

WINDOW = 500
WINDOWS = 20


@dataclass(frozen=True)
class MethodChoice:
    """The chosen method and the table behind it.

    ``mae[set][method]``: mean absolute error of each class's share (``LABELS`` order) over that set's windows;
    ``held_out[set]``: the method chosen without that set; ``chosen``: the method chosen on every set."""

    chosen: str
    held_out: dict[str, str]
    mae: dict[str, dict[str, tuple[float, ...]]]
    window: int
    windows: int

    def error(self, set_name: str, method: str) -> float:
        """The mean over classes of ``mae[set_name][method]``."""
        return float(np.mean(self.mae[set_name][method]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "held_out": dict(self.held_out),
            "mae": {s: {m: dict(zip(LABELS, v, strict=True)) for m, v in row.items()} for s, row in self.mae.items()},
            "window": self.window,
            "windows": self.windows,
        }


def window_errors(
    quantifiers: Mapping[str, Quantifier],
    probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    window: int,
    windows: int,
    rng: np.random.Generator,
) -> dict[str, tuple[float, ...]]:
    """Per method, the mean absolute error of each class's share over ``windows`` windows of ``window`` rows drawn
    without replacement from one labelled set (``(n, k)`` probabilities, ``(n,)`` class ids)."""
    k = probabilities.shape[1]
    errors: dict[str, list[np.ndarray]] = {name: [] for name in quantifiers}
    for _ in range(windows):
        rows = rng.choice(len(labels), size=window, replace=False)
        truth = np.bincount(labels[rows], minlength=k) / window
        for name, quantifier in quantifiers.items():
            errors[name].append(np.abs(quantifier.shares(probabilities[rows]) - truth))
    return {name: tuple(float(v) for v in np.mean(e, axis=0)) for name, e in errors.items()}


def choose_method(
    sets: Mapping[str, tuple[Any, Any]],
    reference: LabelledReference,
    *,
    methods: Sequence[str] = METHODS,
    window: int = WINDOW,
    windows: int = WINDOWS,
    seed: int = 0,
) -> MethodChoice:
    """Choose among ``methods`` leave-one-dataset-out. ``sets``: name -> ``(probabilities (n, k), class ids
    (n,))`` of labelled traffic (at least two sets, each of at least ``window`` rows); ``reference``: what every
    method is fitted on. Raises ``EstimationInputError`` for fewer than two sets, a set smaller than a window, an
    unknown method or unreadable arrays."""
    if len(sets) < 2:
        raise EstimationInputError("leave-one-dataset-out needs at least two labelled sets")
    if window < 1 or windows < 1 or not methods:
        raise EstimationInputError("window and windows must be at least 1, and methods not empty")
    quantifiers = {name: Quantifier.fit(name, reference) for name in methods}
    rng = np.random.default_rng(seed)
    mae: dict[str, dict[str, tuple[float, ...]]] = {}
    for set_name, (probabilities, labels) in sets.items():
        probs = _probabilities(probabilities, f"probabilities of {set_name}")
        y = np.asarray(labels, dtype=np.int64)
        if y.shape != (len(probs),) or len(y) < window:
            raise EstimationInputError(
                f"{set_name}: {len(probs)} probability rows and {y.shape} labels; one label per row and at least "
                f"{window} rows (a window) are needed"
            )
        mae[set_name] = window_errors(quantifiers, probs, y, window=window, windows=windows, rng=rng)

    def loss(method: str, held_out: str) -> float:
        return float(np.mean([np.mean(row[method]) for s, row in mae.items() if s != held_out]))

    held = {s: min(methods, key=lambda m: loss(m, s)) for s in mae}
    chosen = min(methods, key=lambda m: loss(m, ""))
    return MethodChoice(chosen, held, mae, window, windows)
