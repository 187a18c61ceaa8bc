"""PPI++ for a mean and for a mean of ratios of means, with power tuning (Angelopoulos, Duchi and Zrnic, 2023,
"PPI++: Efficient Prediction-Powered Inference", arXiv:2311.01453).

The setting: a window of N predictions, each with a proxy ``f_i`` (a calibrated probability), and a uniform random
subsample of n of them whose true outcome ``Y_i`` a reviewer gave. The target is the traffic's mean ``E[Y]``: the
window is a sample of it, and the labelled rows a uniform subsample of the window. The same interval covers the
window's own mean (e.g. the accuracy on exactly these N predictions) at least as often: the estimate's variance
about that mean is smaller by ``var(Y) / N`` (the finite-population correction), so the interval is conservative
there.

**The labelled rows are part of the window** (``labelled_in_window=True``, the default and the app's case: the review
sample is drawn from the logged predictions). PPI's two means must then come from disjoint rows, so the unlabelled
mean is over the N - n rows that were *not* labelled; it is computed exactly from the window's and the labelled rows'
sums, without row ids. (Averaging the proxies of all N rows would reuse the labelled rows on both sides and the
variance below would be wrong.) Pass ``labelled_in_window=False`` when ``window_proxies`` already excludes them.

With ``U`` the unlabelled rows (size ``N_u``) the power-tuned estimate of the mean (PPI++, the mean case) is::

    theta(lam) = lam * mean_U(f) + mean_n(Y - lam * f)
    se(lam)^2  = lam^2 * var_U(f) / N_u + var_n(Y - lam * f) / n         (variances with ddof 0)

and ``lam`` is PPI++'s plug-in estimate of the variance-minimising weight, clipped to [0, 1], exactly as ``ppi_py``
computes it (``_calc_lam_glm`` with the identity Hessian)::

    lam = cov_n(Y, f) / ((1 + n / N_u) * var(f over labelled and unlabelled rows, ddof 1))

Matches ``ppi_py.ppi_mean_ci(Y, Yhat, Yhat_unlabelled, lam=None)`` with ``Yhat_unlabelled`` the rows not labelled.
``lam = 0`` is the labels-only (classical) CLT interval, ``ppi_py.classical_mean_ci``.

**Never wider than labels only, by construction.** The plug-in ``lam`` minimises the asymptotic variance, but with
its own variance estimates (pooled, ddof 1), so on a small sample ``se(lam)`` can exceed ``se(0)``. Each estimator
here compares the two intervals on the same rows and falls back to ``lam = 0`` (the labels-only interval, ``method``
says so) when the tuned one is wider. Every interval returned is therefore at most as wide as the labels-only one.

**Score intervals for binary outcomes** (``interval="score"``, what the owner's quantities use): the CLT interval
plugs in the estimated ``var(Y)``, and for a 0/1 outcome at small n that undercovers (about 85% for a nominal 90% at
n = 25 in the simulations of tests/unit/test_ppi.py; zero width when all labels agree). ``score_bounds`` inverts the
z-test with ``var(Y) = theta (1 - theta)`` instead (Wilson's interval when ``lam = 0``); it covers 88-93% at every n
from 25 to 200 there, and its width ratio to the Wilson labels-only interval is the CLT one's to within 0.01.

Ratios (recall, precision's M-estimation form, macro-F1): ``sentiment.monitoring.ppi.ratios``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sentiment.errors import SampleDesignError
from sentiment.monitoring.ppi.result import PPIResult, z_quantile

MIN_LABELLED = 2  # a variance needs two rows; the coverage tests show what small n gives


@dataclass(frozen=True)
class Unlabelled:
    """The proxies of the rows without a label: count, mean, variance (ddof 0), and the variance of the proxies of
    labelled and unlabelled rows pooled (ddof 1: PPI++'s ``lam`` denominator, as ``ppi_py`` computes it)."""

    count: int
    mean: float
    var: float
    pooled_var: float

    @classmethod
    def of(cls, window: np.ndarray, labelled: np.ndarray, labelled_in_window: bool) -> Unlabelled:
        """The unlabelled rows of a window of proxies ``window`` ``(N,)`` whose labelled rows' proxies are ``labelled``
        ``(n,)``; when they are in the window, their sums are taken out of the window's."""
        window = np.asarray(window, dtype=np.float64)
        labelled = np.asarray(labelled, dtype=np.float64)
        if not labelled_in_window:
            pooled = np.concatenate([labelled, window])
            return cls(len(window), _mean(window), _var(window), _var(pooled, ddof=1))
        count = len(window) - len(labelled)
        if count < 0:
            raise SampleDesignError(
                f"{len(labelled)} labelled rows but only {len(window)} predictions in the window: the labelled rows "
                "must be a subsample of the window's predictions (or pass labelled_in_window=False)"
            )
        if count == 0:
            return cls(0, 0.0, 0.0, _var(window, ddof=1))
        shift = _mean(window)  # centred sums: no cancellation when taking the labelled rows out
        dw, dl = window - shift, labelled - shift
        mean_c = (dw.sum() - dl.sum()) / count
        var = max((float(dw @ dw) - float(dl @ dl)) / count - mean_c**2, 0.0)
        return cls(count, float(mean_c + shift), float(var), float(dw @ dw) / (len(window) - 1))


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else 0.0


def _var(x: np.ndarray, ddof: int = 0) -> float:
    return float(x.var(ddof=ddof)) if len(x) > ddof else 0.0


@dataclass(frozen=True)
class Moments:
    """The labelled rows' sufficient statistics: n, the means of ``Y`` and ``f``, their variances and covariance
    (ddof 0). Every quantity of the module docstring at any ``lam`` is arithmetic on these."""

    n: int
    mean_y: float
    mean_f: float
    var_y: float
    var_f: float
    cov: float

    @classmethod
    def of(cls, y: np.ndarray, f: np.ndarray) -> Moments:
        n = len(y)
        my, mf = float(y.mean()), float(f.mean())
        dy, df = y - my, f - mf
        return cls(n, my, mf, float(dy @ dy) / n, float(df @ df) / n, float(dy @ df) / n)

    def rectifier_var(self, lam: float) -> float:
        """``var_n(Y - lam f)``."""
        return max(self.var_y - 2 * lam * self.cov + lam**2 * self.var_f, 0.0)


def tuned_lambda(m: Moments, unlabelled: Unlabelled) -> float:
    """PPI++'s plug-in power-tuning weight for a mean, clipped to [0, 1] (0 when there is nothing unlabelled or the
    proxies are constant)."""
    if unlabelled.count == 0 or unlabelled.pooled_var <= 0:
        return 0.0
    lam = m.cov / ((1.0 + m.n / unlabelled.count) * unlabelled.pooled_var)
    return min(max(lam, 0.0), 1.0)


def _imputed_var(unlabelled: Unlabelled, lam: float) -> float:
    return lam**2 * unlabelled.var / unlabelled.count if unlabelled.count else 0.0


def mean_estimate(m: Moments, unlabelled: Unlabelled, lam: float) -> tuple[float, float]:
    """``(theta(lam), se(lam))`` of the module docstring."""
    estimate = lam * unlabelled.mean + m.mean_y - lam * m.mean_f
    return estimate, math.sqrt(_imputed_var(unlabelled, lam) + m.rectifier_var(lam) / m.n)


def _checked(y: object, f: object, what: str) -> tuple[np.ndarray, np.ndarray]:
    ya, fa = np.asarray(y, dtype=np.float64), np.asarray(f, dtype=np.float64)
    if ya.shape != fa.shape or ya.ndim != 1:
        raise SampleDesignError(
            f"{what}: outcomes and proxies must be two 1-d arrays of one length, got {ya.shape}, {fa.shape}"
        )
    if len(ya) < MIN_LABELLED:
        raise SampleDesignError(f"{what}: {len(ya)} labelled rows; at least {MIN_LABELLED} are needed, label more rows")
    if not (np.isfinite(ya).all() and np.isfinite(fa).all()):
        raise SampleDesignError(f"{what}: outcomes and proxies must be finite")
    return ya, fa


def wilson_bounds(successes: int, trials: int, alpha: float) -> tuple[float, float]:
    """Wilson's score interval of a proportion (``score_bounds`` at ``lam = 0``)."""
    p = successes / trials
    bounds = score_bounds(p, Moments(trials, p, 0.0, p * (1 - p), 0.0, 0.0), Unlabelled(0, 0.0, 0.0, 0.0), 0.0, alpha)
    return bounds if bounds is not None else (0.0, 1.0)


def score_bounds(
    estimate: float, m: Moments, unlabelled: Unlabelled, lam: float, alpha: float
) -> tuple[float, float] | None:
    """The score (Wilson-type) interval of a binary outcome's mean at ``lam``, clipped to [0, 1]; None when it has no
    real solution (then the caller keeps the CLT interval).

    The CLT interval plugs in the estimated ``var(Y)``, which is 0 when all labelled rows agree (a zero-width
    interval at n = 5) and too small near 0 and 1: at n = 25 its 90% interval covers about 85%. For ``Y`` in
    {0, 1}, ``var(Y) = theta (1 - theta)`` is known at each candidate ``theta``, so the interval is the set of
    ``theta`` that the z-test accepts (Wilson, 1927), the proxy terms of ``se(lam)^2`` kept as estimated::

        (estimate - theta)^2 <= z^2 * ((theta (1 - theta) - 2 lam cov(Y, f) + lam^2 var(f)) / n + lam^2 var_U(f) / N_u)

    With ``lam = 0`` this is the Wilson interval."""
    z = z_quantile(alpha)
    q = z * z / m.n
    d = z * z * ((lam**2 * m.var_f - 2 * lam * m.cov) / m.n + _imputed_var(unlabelled, lam))
    disc = q * q + 4 * q * estimate * (1 - estimate) + 4 * (1 + q) * d
    if disc < 0:
        return None
    centre, half = (2 * estimate + q) / (2 * (1 + q)), math.sqrt(disc) / (2 * (1 + q))
    return max(centre - half, 0.0), min(centre + half, 1.0)


def ppi_mean(
    labels: object,
    proxies: object,
    window_proxies: object,
    *,
    alpha: float = 0.1,
    labelled_in_window: bool = True,
    lam: float | None = None,
    interval: Literal["clt", "score"] = "clt",
    quantity: str = "mean",
) -> PPIResult:
    """The PPI++ (1 - ``alpha``) interval for ``E[Y]`` from outcomes ``labels`` ``(n,)`` with their proxies ``proxies``
    ``(n,)`` and the window's proxies ``window_proxies`` ``(N,)`` (see the module docstring for
    ``labelled_in_window``). ``lam=None`` tunes it (falling back to 0 when tuning does not narrow the interval); a
    number fixes it.

    ``interval="clt"``: ``estimate +- z se``, ``ppi_py``'s interval. ``interval="score"`` (binary outcomes only): the
    score interval of ``score_bounds``, and the Wilson interval as the labels-only one; the coverage tests show why
    the owner's quantities use it. Raises ``SampleDesignError`` for fewer than 2 rows, mismatched or non-finite
    arrays, or a score interval asked of outcomes that are not 0 or 1."""
    y, f = _checked(labels, proxies, quantity)
    if interval == "score" and not ((y == 0.0) | (y == 1.0)).all():
        raise SampleDesignError(f"{quantity}: the score interval needs outcomes in {{0, 1}}; use interval='clt'")
    window = np.asarray(window_proxies, dtype=np.float64)
    unlabelled = Unlabelled.of(window, f, labelled_in_window)
    m = Moments.of(y, f)
    classical = (m.mean_y, math.sqrt(m.var_y / m.n))
    empty = Unlabelled(0, 0.0, 0.0, 0.0)
    classical_bounds = score_bounds(classical[0], m, empty, 0.0, alpha) if interval == "score" else None

    def result(lam: float, method: str) -> PPIResult:
        estimate, se = mean_estimate(m, unlabelled, lam) if lam else classical
        bounds = classical_bounds if not lam else None
        if lam and interval == "score":
            bounds = score_bounds(estimate, m, unlabelled, lam, alpha)
        N = len(window) if labelled_in_window else len(window) + len(y)
        return PPIResult.build(
            quantity, method, n=len(y), N=N, alpha=alpha, estimate=estimate, se=se,
            classical_estimate=classical[0], classical_se=classical[1], lam=lam,
            bounds=bounds, classical_bounds=classical_bounds,
        )  # fmt: skip

    if lam is not None:
        return result(lam, "ppi++")
    tuned = result(tuned_lambda(m, unlabelled), "ppi++")
    if tuned.width > tuned.classical_upper - tuned.classical_lower:
        return result(0.0, "ppi++ (fell back to labels only)")
    return tuned
