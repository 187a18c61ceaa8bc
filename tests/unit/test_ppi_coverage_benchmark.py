"""benchmarks/ppi_coverage.py's two derived figures: the "what the probabilities allow" ratio is the one PPI++ reaches,
and the leave-one-set-out design choice never looks at the set it reports.

The benchmark's table in benchmarks/README.md rests on both; its end-to-end run is tests/integration/test_readme.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import ppi_coverage

from sentiment.monitoring.ppi import ppi_mean


def test_allowed_ratio_is_the_standard_deviation_ratio_ppi_plus_plus_reaches() -> None:
    """On a large calibrated sample (n = 20,000 labelled of N = 60,000), PPI++'s standard error over the labels-only
    one (0.930) equals ``sd_ratio`` of the same rows to 0.005; the ratio is below 1 (the proxy is informative) and 1
    for a proxy unrelated to the outcome (lam 0). Dropping the unlabelled rows' term ``n / (N - n)`` would give 0.895,
    which the first assertion would refuse."""
    rng = np.random.default_rng(0)
    N, n = 60_000, 20_000
    f = rng.beta(2, 2, size=N)
    y = (rng.random(N) < f).astype(float)
    labelled = rng.choice(N, size=n, replace=False)
    found = ppi_mean(y[labelled], f[labelled], f, interval="clt")
    expected = ppi_coverage.sd_ratio(y, f, n, N)
    assert found.se / found.classical_se == pytest.approx(expected, abs=0.005)
    assert expected < 0.95
    assert abs(expected - ppi_coverage.sd_ratio(y, f, None, N)) > 0.02
    assert ppi_coverage.sd_ratio(y, rng.permutation(f), None, N) == pytest.approx(1.0, abs=0.01)


def _cell(coverage: float, ratios: dict[str, float]) -> ppi_coverage.Cell:
    cell = ppi_coverage.Cell()
    for design, ratio in ratios.items():
        tally = cell.tally(f"accuracy/{design}")
        hits = round(coverage * 100) if design != "plain" else 90
        tally.covered = [True] * hits + [False] * (100 - hits)
        tally.ratio = [ratio] * 100
    return cell


def test_design_is_chosen_on_the_other_sets_only() -> None:
    """Set A alone shows active as narrowest and covering, set B and C show active undercovering: A's row must get the
    choice made on B and C (stratified, the narrowest design that covers there), B's and C's rows must not take active
    (it fails on the other of them), and with nothing covering the choice is plain."""
    good = {"plain": 0.95, "stratified": 0.90, "active": 0.80}
    cells = {("A", 50): _cell(0.91, good), ("B", 50): _cell(0.85, good), ("C", 50): _cell(0.85, good)}
    for name in ("B", "C"):  # on B and C the stratified and active designs undercover; A's plain design still covers
        for design in ("stratified", "active"):
            cells[(name, 50)].tallies[f"accuracy/{design}"].covered = [True] * 85 + [False] * 15
    cells[("B", 50)].tallies["accuracy/stratified"].covered = [True] * 90 + [False] * 10
    cells[("C", 50)].tallies["accuracy/stratified"].covered = [True] * 90 + [False] * 10
    chosen = ppi_coverage.choose_designs(cells)
    assert chosen[("A", 50)] == "stratified"
    assert chosen[("B", 50)] == "stratified" and chosen[("C", 50)] == "stratified"
    for design in ("plain", "stratified", "active"):
        cells[("B", 50)].tallies[f"accuracy/{design}"].covered = [False] * 100
    assert ppi_coverage.choose_designs(cells)[("A", 50)] == "plain"
