"""Prediction-powered intervals on simulated review windows: coverage and width against labels alone, every set.

Issue #28's PPI targets, measured with the code the app serves (``sentiment.monitoring.ppi``) on the embedded model's
*calibrated* probabilities: the raw probabilities ``performance_estimation.py`` scores and caches (its cache is
reused), passed through the calibration map shipped beside the model (``Calibration.load(EMBEDDED_DIR)``, what
``Predictor.load("embedded", ...)`` applies). Sets: ``vader_tweets`` test (in distribution) and the shifted
``vader_amazon``, ``vader_movies``, ``vader_nyt`` (held-out splits) and a seeded sample of ``airline_tweets``.

Each set gives ``--windows`` windows of ``--window`` predictions (fewer if the set is smaller), drawn without
replacement; each window is read with every ``--labels`` n: n of its rows labelled uniformly at random (the review
sample), the 90% interval of the window's accuracy and of each class share by PPI++ (score interval, what the card
shows), and the labels-only (Wilson) interval of the same n labels. A row reports the share of windows whose interval
covers the *window's* true value, the median width and the median of the per-window width ratio to labels only.
Accuracy also by two other designs, each against the same uniform labels-only interval of the window:

- *stratified*: the same uniform labels, post-stratified by served class (``ppi_stratified_accuracy``); where a
  stratum holds fewer labels than it needs, the window gets the plain interval (counted under *refused*);
- *active*: rows drawn independently with ``inclusion_probabilities(confidence, budget=n)`` (an expected n labels,
  more of them on uncertain predictions), inverse-probability weighted (``ppi_active_accuracy``; Zrnic and Candes 2024).

*chosen*: of plain, stratified and active, the design with the narrowest median ratio among those that cover at least
``COVERAGE`` on every *other* set at that n (leave-one-set-out; plain if none does), with its figures on this set.
Nothing else is chosen or tuned. The second table gives what the probabilities allow: the PPI++ standard deviation over
the labels-only one on the whole set, with the best ``lam``, at n of N (the finite window) and as N grows.

    python benchmarks/ppi_coverage.py [--windows 2000] [--window 500] [--labels 25 50 100 200] [--cache ...]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from performance_estimation import REFERENCE, SHIFTED, load_or_score

from sentiment.errors import SampleDesignError
from sentiment.inference.calibration import Calibration
from sentiment.labels import LABELS
from sentiment.logs import configure_logging
from sentiment.models.registry import EMBEDDED_DIR
from sentiment.monitoring.ppi import (
    RANDOM_SAMPLE,
    LabelledRows,
    PPIResult,
    WindowPredictions,
    inclusion_probabilities,
    ppi_accuracy,
    ppi_active_accuracy,
    ppi_class_shares,
    ppi_stratified_accuracy,
)
from sentiment.runtime import configure_process
from sentiment.settings import Settings

logger = logging.getLogger("ppi_coverage")

ALPHA = 0.10  # the 90% interval
COVERAGE = 0.88  # the targets: coverage, width over labels only, in-distribution share narrowing at n = 50
MAX_RATIO = 1.02
SHARE_RATIO = 0.70
SHARE_N = 50
IN_DISTRIBUTION = f"{REFERENCE} test"
QUANTITIES = ("accuracy", *LABELS)
DESIGNS = ("plain", "stratified", "active")


@dataclass
class Tally:
    """Per-window hits, widths and width ratios of one interval kind on one (set, n)."""

    covered: list[bool] = field(default_factory=list)
    width: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)

    def add(self, lower: float, upper: float, truth: float, labels_only_width: float) -> None:
        self.covered.append(lower <= truth <= upper)
        self.width.append(upper - lower)
        self.ratio.append((upper - lower) / labels_only_width if labels_only_width > 0 else np.nan)

    @property
    def coverage(self) -> float:
        return float(np.mean(self.covered))

    @property
    def median_width(self) -> float:
        return float(np.median(self.width))

    @property
    def median_ratio(self) -> float:
        return float(np.nanmedian(self.ratio))


@dataclass
class Cell:
    """Everything measured on one set at one n."""

    tallies: dict[str, Tally] = field(default_factory=dict)  # keys: QUANTITIES and "accuracy/<design>"
    refused: int = 0  # windows where the stratified design lacked labels in a stratum
    active_labels: list[int] = field(default_factory=list)

    def tally(self, key: str) -> Tally:
        return self.tallies.setdefault(key, Tally())


def add(tally: Tally, result: PPIResult, truth: float, labels_only: PPIResult | None = None) -> None:
    """Record ``result`` against the window's truth; the width ratio is over ``labels_only``'s labels-only interval
    (the same window's uniform sample) or, by default, over the result's own."""
    base = labels_only or result
    tally.add(result.lower, result.upper, truth, base.classical_upper - base.classical_lower)


def read_window(
    probs: np.ndarray, y: np.ndarray, labels: tuple[int, ...], cells: dict[int, Cell], rng: np.random.Generator
) -> None:
    """One window (its calibrated probabilities and true labels) read with each n of ``labels``."""
    window = WindowPredictions.of(probs)
    N = len(window)
    truth = {"accuracy": float(np.mean(y == window.served))}
    truth |= {name: float(np.mean(y == k)) for k, name in enumerate(LABELS)}
    for n in labels:
        cell = cells[n]
        rows = rng.choice(N, size=n, replace=False)
        labelled = LabelledRows.of(y[rows], probs[rows], inclusion=n / N, provenance=RANDOM_SAMPLE)
        accuracy = ppi_accuracy(labelled, window, alpha=ALPHA)
        add(cell.tally("accuracy"), accuracy, truth["accuracy"])
        add(cell.tally("accuracy/plain"), accuracy, truth["accuracy"])
        for name, share in ppi_class_shares(labelled, window, alpha=ALPHA).items():
            add(cell.tally(name), share, truth[name])
        try:
            stratified = ppi_stratified_accuracy(labelled, window, by="served", alpha=ALPHA)
        except SampleDesignError:
            stratified, cell.refused = accuracy, cell.refused + 1
        add(cell.tally("accuracy/stratified"), stratified, truth["accuracy"], accuracy)
        pi = inclusion_probabilities(window.confidence, n)
        drawn = np.flatnonzero(rng.random(N) < pi)
        cell.active_labels.append(len(drawn))
        active_rows = LabelledRows.of(y[drawn], probs[drawn], inclusion=pi[drawn], provenance=RANDOM_SAMPLE)
        add(cell.tally("accuracy/active"), ppi_active_accuracy(active_rows, window, alpha=ALPHA), truth["accuracy"],
            accuracy)  # fmt: skip


def simulate(
    sets: dict[str, tuple[np.ndarray, np.ndarray]], windows: int, size: int, labels: tuple[int, ...], seed: int
) -> tuple[dict[tuple[str, int], Cell], dict[str, int]]:
    """``windows`` windows of ``size`` rows (at most the set's) per set, each read with every n; returns the cells
    and each set's window size."""
    cells: dict[tuple[str, int], Cell] = {}
    sizes: dict[str, int] = {}
    for s, (name, (probs, y)) in enumerate(sets.items()):
        rng = np.random.default_rng([seed, s])
        sizes[name] = N = min(size, len(y))
        if max(labels) > N:
            raise SystemExit(f"{name}: windows of {N} rows cannot hold {max(labels)} labels; lower --labels")
        by_n = {n: cells.setdefault((name, n), Cell()) for n in labels}
        for _ in range(windows):
            rows = rng.choice(len(y), size=N, replace=False)
            read_window(probs[rows], y[rows], labels, by_n, rng)
        logger.warning("done %s", name)
    return cells, sizes


def choose_designs(cells: dict[tuple[str, int], Cell]) -> dict[tuple[str, int], str]:
    """For each (set, n): the design with the narrowest mean median ratio over the *other* sets among those covering
    at least ``COVERAGE`` on each of them at that n (``plain`` if none does)."""
    chosen = {}
    for name, n in cells:
        others = [cell for (other, m), cell in cells.items() if other != name and m == n]
        fine = [d for d in DESIGNS if all(c.tallies[f"accuracy/{d}"].coverage >= COVERAGE for c in others)]
        chosen[(name, n)] = min(
            fine or ["plain"], key=lambda d: float(np.mean([c.tallies[f"accuracy/{d}"].median_ratio for c in others]))
        )
    return chosen


def targets(name: str, n: int, cell: Cell, chosen: str) -> str:
    """``coverage / width / share narrowing`` met or not for one row (``-``: the target does not apply)."""
    shown = [*QUANTITIES, f"accuracy/{chosen}"]
    coverage = all(cell.tallies[q].coverage >= COVERAGE for q in shown)
    width = all(cell.tallies[q].median_ratio <= MAX_RATIO for q in shown)
    narrow = "-"
    if name == IN_DISTRIBUTION and n == SHARE_N:
        narrow = "met" if all(cell.tallies[q].median_ratio <= SHARE_RATIO for q in LABELS) else "not met"
    return f"{'met' if coverage else 'not met'} / {'met' if width else 'not met'} / {narrow}"


def table(cells: dict[tuple[str, int], Cell], sizes: dict[str, int], chosen: dict[tuple[str, int], str]) -> str:
    head = (
        "| set | N | n | accuracy: covers | width | ratio | stratified: covers | ratio | refused | active: covers "
        "| ratio | labels | chosen (other sets) | covers | ratio | "
        + " | ".join(f"{label}: covers | width | ratio" for label in LABELS)
        + " | targets: coverage / width / shares 30% narrower |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for (name, n), cell in cells.items():
        t = cell.tallies
        design = chosen[(name, n)]
        parts = [name, str(sizes[name]), str(n)]
        parts += [
            f"{t['accuracy'].coverage:.1%}",
            f"{t['accuracy'].median_width:.3f}",
            f"{t['accuracy'].median_ratio:.2f}",
        ]
        strat, active, pick = t["accuracy/stratified"], t["accuracy/active"], t[f"accuracy/{design}"]
        parts += [f"{strat.coverage:.1%}", f"{strat.median_ratio:.2f}", f"{cell.refused / len(strat.covered):.0%}"]
        parts += [f"{active.coverage:.1%}", f"{active.median_ratio:.2f}", f"{np.mean(cell.active_labels):.0f}"]
        parts += [design, f"{pick.coverage:.1%}", f"{pick.median_ratio:.2f}"]
        for label in LABELS:
            parts += [f"{t[label].coverage:.1%}", f"{t[label].median_width:.3f}", f"{t[label].median_ratio:.2f}"]
        parts.append(targets(name, n, cell, design))
        lines.append("| " + " | ".join(parts) + " |")
    return "\n".join(lines)


def sd_ratio(y: np.ndarray, f: np.ndarray, n: int | None, N: int) -> float:
    """PPI++'s standard deviation over the labels-only one for outcome ``y`` and proxy ``f`` on a whole set, at the
    variance-minimising ``lam`` clipped to [0, 1]: ``sqrt((lam^2 var f n / (N - n) + var(y - lam f)) / var y)``, the
    first term dropped when ``n`` is None (N much larger than n)."""
    share = 0.0 if n is None else n / (N - n)
    var_y, var_f, cov = float(np.var(y)), float(np.var(f)), float(np.cov(y, f, bias=True)[0, 1])
    lam = min(max(cov / ((1 + share) * var_f), 0.0), 1.0) if var_f > 0 else 0.0
    return float(np.sqrt((lam**2 * var_f * share + var_y - 2 * lam * cov + lam**2 * var_f) / var_y))


def allowed(sets: dict[str, tuple[np.ndarray, np.ndarray]], sizes: dict[str, int], n: int) -> str:
    lines = [
        f"| set | accuracy: n={n} of N | N large | "
        + " | ".join(f"{label}: n={n} of N | N large" for label in LABELS)
        + " |",
        "|" + "---|" * (1 + 2 * len(QUANTITIES)),
    ]
    for name, (probs, y) in sets.items():
        served = probs.argmax(axis=1)
        pairs = [((y == served).astype(float), probs.max(axis=1))]
        pairs += [((y == k).astype(float), probs[:, k]) for k in range(len(LABELS))]
        cells = [
            f"{sd_ratio(yy, ff, n, sizes[name]):.2f} | {sd_ratio(yy, ff, None, sizes[name]):.2f}" for yy, ff in pairs
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/performance_estimation.npz"))
    parser.add_argument("--max-rows", type=int, help="score at most this many rows of each set when there is no cache")
    parser.add_argument("--windows", type=int, default=2000, help="windows per set (each read with every n)")
    parser.add_argument("--window", type=int, default=500, help="predictions per window (N)")
    parser.add_argument("--labels", type=int, nargs="+", default=[25, 50, 100, 200], help="labelled rows n per window")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.windows < 1 or min(args.labels) < 5:
        parser.error("--windows must be at least 1 and every --labels at least 5")
    configure_logging("WARNING")
    configure_process(Settings())
    calibration = Calibration.load(EMBEDDED_DIR)
    if calibration is None or not calibration.keeps_labels:
        raise SystemExit(f"no label-keeping calibration map in {EMBEDDED_DIR}: the served probabilities are not these")
    scored = load_or_score(args.cache, max_rows=args.max_rows)
    parts = {IN_DISTRIBUTION: scored[f"{REFERENCE}:test"], **{name: scored[name] for name in SHIFTED}}
    sets = {name: (calibration.apply(part["probs"]).astype(np.float64), part["y"]) for name, part in parts.items()}
    started = time.process_time()
    cells, sizes = simulate(sets, args.windows, args.window, tuple(args.labels), args.seed)
    chosen = choose_designs(cells)
    mc = np.sqrt(0.9 * 0.1 / args.windows)
    print(
        f"90% intervals, {args.windows} windows per set, n labelled uniformly at random per window; probabilities: "
        f"{calibration.describe()}; Monte Carlo standard error of a 90% coverage: {mc:.1%}\n"
    )
    print(table(cells, sizes, chosen))  # the report is this script's output
    print("\nWhat the probabilities allow: PPI++ standard deviation over labels-only, whole set, best lam:\n")
    print(allowed(sets, sizes, SHARE_N))
    print(f"\nsimulation: {time.process_time() - started:.0f} s of CPU")


if __name__ == "__main__":
    main()
