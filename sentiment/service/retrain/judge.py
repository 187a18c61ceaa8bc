"""Champion against challenger: the serving model and a retrained one, scored on the same rows, and the verdict.

The rule (``verdict``): **promote** only if, on the held-out production labels, the challenger is not worse by the
paired tests (McNemar's exact test on the rows only one model gets right, and the paired bootstrap interval of the
macro-F1 difference: worse = McNemar rejects at ``alpha`` with the challenger's accuracy below the champion's, or the
whole macro-F1 interval lies below 0), **and** it loses at most ``tolerance`` accuracy (0.01 by default) on the
forgetting test set (the shipped ``vader_tweets`` test split). Otherwise **keep**. With no held-out labels there is
nothing to judge on: keep. The reason is one line naming the deciding figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from sentiment.evaluation.calibration import expected_calibration_error
from sentiment.evaluation.metrics import confusion_matrix, report_from_confusion
from sentiment.evaluation.uncertainty import PairedComparison, paired_comparison
from sentiment.labels import LABEL_TO_ID, LABELS

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


@dataclass(frozen=True)
class ChallengerReport:
    """Both models on the held-out production labels (with their paired comparison, challenger minus champion) and
    on the forgetting test set; the verdict and its one-line reason."""

    champion: str
    challenger: str
    held_out: dict[str, Scores]
    paired: PairedComparison | None
    forgetting_dataset: str
    forgetting: dict[str, Scores]
    verdict: Verdict
    reason: str

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
        }


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
