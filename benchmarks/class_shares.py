"""Class shares without labels: classify-and-count against the corrections, chosen leave-one-dataset-out.

Same data and model outputs as ``performance_estimation.py`` (its scoring and cache are reused): the reference is
``vader_tweets`` validation (the only labelled rows any method is fitted on); the traffic is ``vader_tweets`` test
(in distribution) and the held-out splits of ``vader_amazon``, ``vader_movies``, ``vader_nyt`` and a seeded sample
of ``airline_tweets``. Each set gives ``--windows`` random windows of ``--window`` predictions; a method's error on
a set is the mean absolute error of each class's share against the window's true share. For each set the method
is the one with the smallest error on the *other* sets (``choose_method``), so no reported figure was tuned on.
The label-shift fit test is the trust gate: a label-free share is *given* for a window only where it does not
reject the label-shift model (elsewhere ACC, PACC and EM have no guarantee, and the answer is "label a sample");
the method is chosen on given windows, and the table shows the errors on given windows and on all of them, with
how often the label-shift test detects a shift.

    python benchmarks/class_shares.py [--windows 20] [--window 500] [--cache /tmp/performance_estimation.npz]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from performance_estimation import REFERENCE, SHIFTED, load_or_score

from sentiment.labels import LABELS
from sentiment.logs import configure_logging
from sentiment.monitoring.estimation import LabelledReference
from sentiment.monitoring.quantification import (
    METHODS,
    MethodChoice,
    choose_method,
    label_shift_fit_test,
    label_shift_test,
)
from sentiment.runtime import configure_process
from sentiment.settings import Settings

logger = logging.getLogger("class_shares")
TARGET = 0.03  # the target: mean absolute error per class, and at most half of classify-and-count's


def detection_rate(reference: LabelledReference, probs: np.ndarray, window: int, windows: int, seed: int) -> float:
    """The share of windows where the label-shift test detects a shift."""
    rng = np.random.default_rng(seed)
    return float(
        np.mean(
            [
                label_shift_test(reference, probs[rng.choice(len(probs), size=window, replace=False)]).detected
                for _ in range(windows)
            ]
        )
    )


def fmt(values: tuple[float, ...]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def tables(choice: MethodChoice, truth: dict[str, np.ndarray], detected: dict[str, float]) -> str:
    lines = [
        "| set | true shares (neg / neu / pos) | shift detected | share given | chosen on the other sets "
        "| given: its MAE per class | mean | CC's mean | all windows: its MAE per class | mean | CC's mean "
        "| target met |",
        "|" + "---|" * 12,
    ]
    for name in choice.mae:
        method = choice.held_out[name]
        ours, cc = choice.error(name, method, given=True), choice.error(name, "cc", given=True)
        per_class = fmt(choice.mae_given[name][method]) if name in choice.mae_given else "-"
        met = "no number given" if np.isnan(ours) else "yes" if ours <= TARGET and ours <= cc / 2 else "no"
        lines.append(
            f"| {name} | {fmt(tuple(truth[name]))} | {detected[name]:.0%} | {choice.given[name]:.0%} | {method} "
            f"| {per_class} | {ours:.3f} | {cc:.3f} | {fmt(choice.mae[name][method])} "
            f"| {choice.error(name, method):.3f} | {choice.error(name, 'cc'):.3f} | {met} |"
        )
    lines += ["", "All windows, mean MAE per class of every method:", ""]
    lines += ["| set | " + " | ".join(METHODS) + " |", "|" + "---|" * (len(METHODS) + 1)]
    for name, row in choice.mae.items():
        lines.append(f"| {name} | " + " | ".join(f"{np.mean(row[m]):.3f}" for m in METHODS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/performance_estimation.npz"))
    parser.add_argument("--windows", type=int, default=20, help="windows per set")
    parser.add_argument("--window", type=int, default=500, help="predictions per window")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_logging("WARNING")
    configure_process(Settings())
    scored = load_or_score(args.cache)
    ref = scored[f"{REFERENCE}:validation"]
    reference = LabelledReference.of(ref["probs"], ref["y"])
    sets = {f"{REFERENCE} (held out)": scored[f"{REFERENCE}:test"], **{name: scored[name] for name in SHIFTED}}
    arrays = {name: (part["probs"], part["y"]) for name, part in sets.items()}

    def gate(window: np.ndarray) -> bool:  # a label-free number only where label shift explains the window
        return not label_shift_fit_test(reference, window, seed=args.seed).detected

    choice = choose_method(arrays, reference, window=args.window, windows=args.windows, gate=gate, seed=args.seed)
    truth = {name: np.bincount(y, minlength=len(LABELS)) / len(y) for name, (_, y) in arrays.items()}
    detected = {
        name: detection_rate(reference, probs, args.window, args.windows, args.seed)
        for name, (probs, _) in arrays.items()
    }
    print(tables(choice, truth, detected))  # the report is this script's output
    print(f"\nreference: {REFERENCE} validation, {len(reference)} rows, label shares {fmt(tuple(truth_of(reference)))}")
    print(f"chosen on every set (the production default): {choice.chosen}")


def truth_of(reference: LabelledReference) -> np.ndarray:
    return np.bincount(reference.labels, minlength=len(LABELS)) / len(reference)


if __name__ == "__main__":
    main()
