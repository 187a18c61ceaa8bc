"""Choosing the class-share method leave-one-dataset-out: which estimator to trust on traffic never tuned on.

Every method is fitted once on the one labelled reference (what production has) and read on ``windows`` random
windows of each labelled set; its error on a set is the mean absolute error of each class's share against the
window's true share. For each held-out set, the choice is the method with the smallest mean error over the
*other* sets, so the error reported for a set was never used to pick the method it is reported under; the
production choice is the best over every set. Ties go to the earlier method in ``methods`` (the simpler one).

A ``gate`` (e.g. "the label-shift fit test does not reject this window") restricts the choice to the windows where
a label-free number would be given at all: the corrections assume label shift, and on windows where that is
refuted no method is reported, so their errors there should not decide which method is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sentiment.errors import EstimationInputError
from sentiment.labels import LABELS
from sentiment.monitoring.estimation.base import LabelledReference, _probabilities
from sentiment.monitoring.quantification.methods import METHODS, Quantifier

WINDOW = 500
WINDOWS = 20
Gate = Callable[[np.ndarray], bool]  # a window's probabilities -> whether a label-free number is given for it


@dataclass(frozen=True)
class MethodChoice:
    """The chosen method and the table behind it.

    ``mae[set][method]``: mean absolute error of each class's share (``LABELS`` order) over that set's windows;
    ``given[set]``: the share of its windows the gate passed (1 without a gate); ``mae_given``: as ``mae`` over
    those windows only (a set none passed is absent); ``held_out[set]``: the method chosen without that set, on
    ``mae_given``; ``chosen``: the method chosen on every set."""

    chosen: str
    held_out: dict[str, str]
    mae: dict[str, dict[str, tuple[float, ...]]]
    given: dict[str, float]
    mae_given: dict[str, dict[str, tuple[float, ...]]]
    window: int
    windows: int

    def error(self, set_name: str, method: str, *, given: bool = False) -> float:
        """The mean over classes of the set's MAE per class (over the gated windows with ``given``; NaN if none)."""
        table = self.mae_given if given else self.mae
        return float(np.mean(table[set_name][method])) if set_name in table else float("nan")

    def as_dict(self) -> dict[str, Any]:
        def named(table: dict[str, dict[str, tuple[float, ...]]]) -> dict[str, Any]:
            return {s: {m: dict(zip(LABELS, v, strict=True)) for m, v in row.items()} for s, row in table.items()}

        return {
            "chosen": self.chosen,
            "held_out": dict(self.held_out),
            "mae": named(self.mae),
            "given": dict(self.given),
            "mae_given": named(self.mae_given),
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
    gate: Gate | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Absolute share errors ``(windows, methods, k)`` (methods in ``quantifiers`` order) on ``windows`` windows of
    ``window`` rows drawn without replacement from one labelled set (``(n, k)`` probabilities, ``(n,)`` class ids),
    and whether the gate passed each window ``(windows,)``."""
    k = probabilities.shape[1]
    errors = np.empty((windows, len(quantifiers), k))
    passed = np.ones(windows, dtype=bool)
    for w in range(windows):
        rows = rng.choice(len(labels), size=window, replace=False)
        truth = np.bincount(labels[rows], minlength=k) / window
        for i, quantifier in enumerate(quantifiers.values()):
            errors[w, i] = np.abs(quantifier.shares(probabilities[rows]) - truth)
        if gate is not None:
            passed[w] = gate(probabilities[rows])
    return errors, passed


def choose_method(
    sets: Mapping[str, tuple[Any, Any]],
    reference: LabelledReference,
    *,
    methods: Sequence[str] = METHODS,
    window: int = WINDOW,
    windows: int = WINDOWS,
    gate: Gate | None = None,
    seed: int = 0,
) -> MethodChoice:
    """Choose among ``methods`` leave-one-dataset-out. ``sets``: name -> ``(probabilities (n, k), class ids
    (n,))`` of labelled traffic (at least two sets, each of at least ``window`` rows); ``reference``: what every
    method is fitted on; ``gate``: see the module. Where no other set has a gated window the first method is
    chosen. Raises ``EstimationInputError`` for fewer than two sets, a set smaller than a window, an unknown method
    or unreadable arrays."""
    if len(sets) < 2:
        raise EstimationInputError("leave-one-dataset-out needs at least two labelled sets")
    if window < 1 or windows < 1 or not methods:
        raise EstimationInputError("window and windows must be at least 1, and methods not empty")
    quantifiers = {name: Quantifier.fit(name, reference) for name in methods}
    rng = np.random.default_rng(seed)
    mae: dict[str, dict[str, tuple[float, ...]]] = {}
    mae_given: dict[str, dict[str, tuple[float, ...]]] = {}
    given: dict[str, float] = {}
    for set_name, (probabilities, labels) in sets.items():
        probs = _probabilities(probabilities, f"probabilities of {set_name}")
        y = np.asarray(labels, dtype=np.int64)
        if y.shape != (len(probs),) or len(y) < window:
            raise EstimationInputError(
                f"{set_name}: {len(probs)} probability rows and {y.shape} labels; one label per row and at least "
                f"{window} rows (a window) are needed"
            )
        errors, passed = window_errors(quantifiers, probs, y, window=window, windows=windows, rng=rng, gate=gate)
        mae[set_name] = {m: tuple(float(v) for v in errors[:, i].mean(axis=0)) for i, m in enumerate(quantifiers)}
        given[set_name] = float(passed.mean())
        if passed.any():
            mae_given[set_name] = {
                m: tuple(float(v) for v in errors[passed, i].mean(axis=0)) for i, m in enumerate(quantifiers)
            }

    def best(excluded: str) -> str:
        others = [row for s, row in mae_given.items() if s != excluded]
        if not others:
            return methods[0]
        return min(methods, key=lambda m: float(np.mean([np.mean(row[m]) for row in others])))

    held = {s: best(s) for s in mae}
    return MethodChoice(best(""), held, mae, given, mae_given, window, windows)
