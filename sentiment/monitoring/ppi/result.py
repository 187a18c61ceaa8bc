"""The result every prediction-powered estimator returns: one quantity, one window, one confidence level."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from scipy.stats import norm

LEVELS: tuple[float, ...] = (0.90, 0.95)  # the confidence levels the owner reads: alpha = 0.10 and 0.05


@lru_cache(maxsize=64)
def z_quantile(alpha: float) -> float:
    """The two-sided normal quantile ``z_{1 - alpha/2}`` of a (1 - alpha) CLT interval (as statsmodels'
    ``_zconfint_generic``, which ``ppi_py`` uses)."""
    return float(norm.ppf(1.0 - alpha / 2.0))


@dataclass(frozen=True)
class PPIResult:
    """A (1 - ``alpha``) interval for one quantity on one window, beside the labels-only interval on the same rows.

    ``n``: labelled rows used; ``N``: predictions in the window (the labelled rows included); ``lam``: the power-tuning
    weight the proxies got (0 = labels only, 1 = plain PPI); ``width_ratio``: this interval's width over the labels-only
    one (<= 1 by construction, see ``sentiment.monitoring.ppi.mean``); ``method`` names the estimator and its design.
    CLT intervals are not clipped to [0, 1] (as the papers and ``ppi_py`` give them); score intervals are."""

    quantity: str
    method: str
    n: int
    N: int
    alpha: float
    estimate: float
    se: float
    lower: float
    upper: float
    classical_estimate: float
    classical_se: float
    classical_lower: float
    classical_upper: float
    lam: float

    @classmethod
    def build(
        cls,
        quantity: str,
        method: str,
        *,
        n: int,
        N: int,
        alpha: float,
        estimate: float,
        se: float,
        classical_estimate: float,
        classical_se: float,
        lam: float,
        bounds: tuple[float, float] | None = None,
        classical_bounds: tuple[float, float] | None = None,
    ) -> PPIResult:
        """The result at level 1 - ``alpha``: the CLT intervals ``estimate +- z se``, unless ``bounds`` /
        ``classical_bounds`` give the intervals (score intervals of binary outcomes, not centred on the estimate)."""
        z = z_quantile(alpha)
        lower, upper = bounds if bounds is not None else (estimate - z * se, estimate + z * se)
        c_lower, c_upper = (
            classical_bounds
            if classical_bounds is not None
            else (classical_estimate - z * classical_se, classical_estimate + z * classical_se)
        )
        return cls(
            quantity=quantity,
            method=method,
            n=int(n),
            N=int(N),
            alpha=float(alpha),
            estimate=float(estimate),
            se=float(se),
            lower=float(lower),
            upper=float(upper),
            classical_estimate=float(classical_estimate),
            classical_se=float(classical_se),
            classical_lower=float(c_lower),
            classical_upper=float(c_upper),
            lam=float(lam),
        )

    @property
    def level(self) -> float:
        """The nominal coverage, 1 - alpha."""
        return 1.0 - self.alpha

    @property
    def width(self) -> float:
        return self.upper - self.lower

    @property
    def width_ratio(self) -> float:
        """Width over the labels-only width (NaN when the labels-only interval has width 0: all labels equal)."""
        classical = self.classical_upper - self.classical_lower
        return self.width / classical if classical > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: plain floats and ints (NaN becomes None, which JSON can carry)."""

        def num(value: float) -> float | None:
            return None if math.isnan(value) else float(value)

        return {
            "quantity": self.quantity,
            "method": self.method,
            "n": self.n,
            "N": self.N,
            "alpha": self.alpha,
            "level": self.level,
            "estimate": num(self.estimate),
            "se": num(self.se),
            "lower": num(self.lower),
            "upper": num(self.upper),
            "classical_estimate": num(self.classical_estimate),
            "classical_se": num(self.classical_se),
            "classical_lower": num(self.classical_lower),
            "classical_upper": num(self.classical_upper),
            "width_ratio": num(self.width_ratio),
            "lam": num(self.lam),
        }
