"""Champion against challenger: the serving model and a retrained one, scored on the same rows, and the verdict.

The rule (``verdict``): **promote** only if, on the held-out production labels, the challenger is not worse by the
paired tests (McNemar's exact test on the rows only one model gets right, and the paired bootstrap interval of the
macro-F1 difference: worse = McNemar rejects at ``alpha`` with the challenger's accuracy below the champion's, or the
whole macro-F1 interval lies below 0), **and** it loses at most ``tolerance`` accuracy (0.01 by default) on the
forgetting test set (the shipped ``vader_tweets`` test split). Otherwise **keep**. With no held-out labels there is
nothing to judge on: keep. The reason is one line naming the deciding figures.

Beside the rule, ``window_accuracy``: where enough held-out labels come from the window's random review sample, each
model's accuracy on the window's whole traffic as a prediction-powered interval (the held-out labels alone speak for
the rows the owner labelled, feedback included; the interval speaks for what people sent).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

from sentiment.evaluation.calibration import expected_calibration_error
from sentiment.evaluation.metrics import confusion_matrix, report_from_confusion
from sentiment.evaluation.uncertainty import Interval, PairedComparison, paired_comparison
from sentiment.labels import LABEL_TO_ID, LABELS
from sentiment.monitoring.ppi import LabelledRows, PPIResult, WindowPredictions, ppi_accuracy, ppi_mean

Verdict = Literal["promote", "keep"]


@dataclass(frozen=True)
class Scores:
    """One model on one set of rows: accuracy, macro-F1 and top-label ECE (NaN with no rows), over ``n`` rows."""

    n: int
    accuracy: float
    macro_f1: float
    ece: float


def scores(probabilities: np.ndarray, labels: list[str]) -> Scores:
    """``Scores`` of ``(n, 3)`` probabilities in ``LABELS`` order against ``n`` label names."""
    if not labels:
        return Scores(0, float("nan"), float("nan"), float("nan"))
    predicted = [LABELS[i] for i in np.asarray(probabilities).argmax(axis=1)]
    report = report_from_confusion(confusion_matrix(labels, predicted))
    return Scores(len(labels), report.accuracy, report.macro_f1, expected_calibration_error(probabilities, labels))


def _number(value: Any) -> Any:
    """JSON's None back to NaN (``as_dict`` forms write NaN as None)."""
    return math.nan if value is None else value


def _ppi_result(data: dict[str, Any]) -> PPIResult:
    """A ``PPIResult`` from its ``as_dict`` (whose derived ``level`` and ``width_ratio`` are recomputed)."""
    return PPIResult(**{f.name: _number(data[f.name]) for f in fields(PPIResult)})


def _scores(data: dict[str, Any]) -> Scores:
    return Scores(**{f.name: _number(data[f.name]) for f in fields(Scores)})


@dataclass(frozen=True)
class WindowAccuracy:
    """Champion's and challenger's accuracy on the window's traffic: (1 - alpha) PPI++ intervals over the same n
    held-out rows of the random review sample and the window's N predictions (``window_accuracy``). For the
    challenger, whose training rows are among the N, read it as its accuracy on traffic like the window's that it
    never trained on: the labelled rows are held out, and they alone carry its correctness."""

    champion: PPIResult
    challenger: PPIResult

    def as_dict(self) -> dict[str, Any]:
        return {"champion": self.champion.as_dict(), "challenger": self.challenger.as_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowAccuracy:
        return cls(_ppi_result(data["champion"]), _ppi_result(data["challenger"]))

    def line(self) -> str:
        """E.g. "accuracy on the window's traffic (prediction-powered, 90%, 31 held-out sampled labels and 2,310
        predictions): serving 0.61 (0.55-0.67), challenger 0.66 (0.60-0.72)"."""
        a, b = self.champion, self.challenger
        return (
            f"accuracy on the window's traffic (prediction-powered, {a.level:.0%}, {a.n} held-out sampled labels and "
            f"{a.N:,} predictions): serving {a.estimate:.2f} ({a.lower:.2f}-{a.upper:.2f}), challenger "
            f"{b.estimate:.2f} ({b.lower:.2f}-{b.upper:.2f})"
        )


def window_accuracy(
    labelled: LabelledRows, window: WindowPredictions, challenger_correct: np.ndarray, *, alpha: float = 0.1
) -> WindowAccuracy:
    """Both models' accuracy on the window's traffic from ``labelled``: n held-out rows of its uniform random review
    sample (the champion's served classes and calibrated probabilities, the owner's labels), ``window``: the
    champion's N predictions (the labelled ones included), and ``challenger_correct`` ``(n,)`` bool: whether the
    challenger gets each labelled row right.

    The champion's is ``ppi_accuracy``, the Monitoring card's estimator (on the held-out share of the card's labels:
    wider than the card's interval). The challenger never served the window, so its
    correctness is known on the n labelled rows only; the champion's confidence, known on all N, is its proxy. PPI is
    unbiased with any proxy (Angelopoulos, Bates, Fannjiang, Jordan and Zrnic, Science 2023), and PPI++'s power
    tuning (Angelopoulos, Duchi and Zrnic 2023) weighs the proxy by how well it tracks the challenger's correctness
    (rows one model finds hard the other mostly does too), down to none: never wider than the labels-only interval.
    Raises ``SampleDesignError`` for rows that are not a uniform random sample or too few of them."""
    labelled.require_random(uniform=True)
    correct = np.asarray(challenger_correct, dtype=np.float64)
    if correct.shape != (len(labelled),):
        raise ValueError(f"challenger_correct has shape {correct.shape}, expected ({len(labelled)},)")
    champion = ppi_accuracy(labelled, window, alpha=alpha)
    challenger = ppi_mean(
        correct, labelled.confidence, window.confidence, alpha=alpha, interval="score", quantity="accuracy"
    )
    return WindowAccuracy(champion, challenger)


@dataclass(frozen=True)
class ChallengerReport:
    """Both models on the held-out production labels (with their paired comparison, challenger minus champion) and
    on the forgetting test set; the verdict and its one-line reason. ``window``: both models' accuracy on the window's
    traffic where the review sample allows (``window_note`` says why not otherwise); it informs, the rule decides."""

    champion: str
    challenger: str
    held_out: dict[str, Scores]
    paired: PairedComparison | None
    forgetting_dataset: str
    forgetting: dict[str, Scores]
    verdict: Verdict
    reason: str
    window: WindowAccuracy | None = None
    window_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "held_out": {k: asdict(v) for k, v in self.held_out.items()},
            "paired": None if self.paired is None else asdict(self.paired),
            "forgetting_dataset": self.forgetting_dataset,
            "forgetting": {k: asdict(v) for k, v in self.forgetting.items()},
            "verdict": self.verdict,
            "reason": self.reason,
            "window": None if self.window is None else self.window.as_dict(),
            "window_line": self.window_line,
        }

    @property
    def window_line(self) -> str:
        """Both models' accuracy on the window's traffic in one line, or why the review sample does not give it."""
        return self.window.line() if self.window is not None else self.window_note

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChallengerReport:
        """The report ``as_dict`` wrote (kept in the store, so a challenger outlives a restart)."""
        paired = data["paired"]
        if paired is not None:
            values = {f.name: _number(paired[f.name]) for f in fields(PairedComparison)}
            paired = PairedComparison(**{**values, "macro_f1_interval": Interval(**paired["macro_f1_interval"])})
        window = data.get("window")
        return cls(
            champion=data["champion"],
            challenger=data["challenger"],
            held_out={k: _scores(v) for k, v in data["held_out"].items()},
            paired=paired,
            forgetting_dataset=data["forgetting_dataset"],
            forgetting={k: _scores(v) for k, v in data["forgetting"].items()},
            verdict=data["verdict"],
            reason=data["reason"],
            window=None if window is None else WindowAccuracy.from_dict(window),
            window_note="" if window is not None else data.get("window_line", ""),
        )


def verdict(
    paired: PairedComparison | None,
    forgetting_loss: float,
    tolerance: float = 0.01,
    alpha: float = 0.05,
) -> tuple[Verdict, str]:
    """The rule of this module's docstring. ``paired``: challenger (B) against champion (A) on the held-out
    production labels (None: no held-out labels); ``forgetting_loss``: champion accuracy minus challenger accuracy
    on the forgetting test set (positive: the challenger forgot)."""
    if paired is None:
        return "keep", "keep: no held-out production labels to judge the challenger on"
    if paired.accuracy_difference < 0 and paired.mcnemar_p_value < alpha:
        return "keep", (
            f"keep: worse on held-out production labels (accuracy {paired.accuracy_difference:+.3f}, McNemar "
            f"p={paired.mcnemar_p_value:.3g})"
        )
    if paired.macro_f1_interval.high < 0:
        high = paired.macro_f1_interval.high
        return "keep", (
            f"keep: worse on held-out production labels (macro-F1 {paired.macro_f1_difference:+.3f}, "
            f"interval below 0 up to {high:+.3f})"
        )
    if forgetting_loss > tolerance:
        return "keep", f"keep: forgets the shipped test set (accuracy -{forgetting_loss:.3f} > -{tolerance:.3f})"
    return "promote", (
        f"promote: not worse on held-out production labels (accuracy {paired.accuracy_difference:+.3f}, macro-F1 "
        f"{paired.macro_f1_difference:+.3f}, McNemar p={paired.mcnemar_p_value:.3g}) and loses "
        f"{max(forgetting_loss, 0.0):.3f} accuracy on the shipped test set (at most {tolerance:.3f})"
    )


def judge(
    names: tuple[str, str],
    held_out: tuple[np.ndarray, np.ndarray, list[str]],
    forgetting: tuple[np.ndarray, np.ndarray, list[str]],
    forgetting_dataset: str,
    tolerance: float = 0.01,
    seed: int = 0,
) -> ChallengerReport:
    """The report of champion and challenger (``names``) from their probabilities on the held-out production rows
    and on the forgetting test set, each as ``(champion (n, 3), challenger (n, 3), n labels)``."""
    champion_held, challenger_held, held_labels = held_out
    paired = None
    if held_labels:
        y = np.array([LABEL_TO_ID[label] for label in held_labels])
        paired = paired_comparison(
            y, champion_held.argmax(axis=1), challenger_held.argmax(axis=1), n_boot=1000, seed=seed
        )
    champion_forget, challenger_forget, forget_labels = forgetting
    forget = {
        "champion": scores(champion_forget, forget_labels),
        "challenger": scores(challenger_forget, forget_labels),
    }
    loss = forget["champion"].accuracy - forget["challenger"].accuracy if forget_labels else 0.0
    decided, reason = verdict(paired, loss, tolerance)
    return ChallengerReport(
        champion=names[0],
        challenger=names[1],
        held_out={
            "champion": scores(champion_held, held_labels),
            "challenger": scores(challenger_held, held_labels),
        },
        paired=paired,
        forgetting_dataset=forgetting_dataset,
        forgetting=forget,
        verdict=decided,
        reason=reason,
    )
