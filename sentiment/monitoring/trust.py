"""Whether a window's label-free numbers may be shown: a trust verdict from tests of their assumptions.

No label-free estimate of accuracy holds under every shift: Garg, Balakrishnan, Lipton, Neyshabur and Sedghi
("Leveraging unlabeled data to predict out-of-distribution performance", ICLR 2022) prove that without assumptions
about the shift no method can, and the estimators here (CBPE, DoC, ATC, BBSE) each rest on one. So each window's
number is shown only where its assumption is testably plausible, and routed to the estimator whose assumption holds:

- **no overlap** (the domain classifier tells the window from the reference with an AUC past ``max_domain_auc``):
  the window is unlike anything labelled, so every estimator extrapolates. No number; instead the labels that would
  give a +-``half_width`` interval (``labels_for_interval``).
- **label shift alone** (the predicted-class mix moved, ``label_shift_test``, and a label-shifted reference explains
  the window, ``label_shift_fit_test``): a label-shift correction (BBSE) holds; ``ROUTE_METHODS``.
- **covariate shift with overlap** (anything else that moved, AUC within the threshold): DoC / CBPE, the app's
  estimator (``settings.estimation_method``).
- **no shift seen**: the app's estimator as fitted.
- **untested** (no embeddings, e.g. the lexicon model): overlap cannot be checked, so no number either.

The tests are black-box shift detection: the G-test of predicted-class counts (Lipton, Wang and Smola, "Detecting
and correcting for label shift with black box predictors", ICML 2018) and the domain classifier on embeddings
(Rabanser, Guennemann and Lipton, "Failing loudly", NeurIPS 2019). The AUC threshold is measured, leave one dataset
out, by ``benchmarks/trust_verdicts.py`` (``benchmarks/README.md``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import norm

from sentiment.errors import EstimationInputError
from sentiment.monitoring.estimation.base import LabelledReference
from sentiment.monitoring.quantification.shift_tests import ALPHA, label_shift_fit_test, label_shift_test

MAX_DOMAIN_AUC = 0.96  # the default of SENTIMENT_TRUST_MAX_DOMAIN_AUC (benchmarks/trust_verdicts.py)
LEVEL = 0.90  # the interval the "label N" advice is for: 90%, z = 1.645
HALF_WIDTH = 0.05  # its half-width: +-0.05

NO_SHIFT, LABEL_SHIFT, COVARIATE_SHIFT, NO_OVERLAP, UNTESTED = (
    "no_shift",
    "label_shift",
    "covariate_shift",
    "no_overlap",
    "untested",
)
ROUTES = (NO_SHIFT, LABEL_SHIFT, COVARIATE_SHIFT, NO_OVERLAP, UNTESTED)
# the estimator each trusted route calls for; None: the app's own (settings.estimation_method, DoC by default)
ROUTE_METHODS: dict[str, str | None] = {NO_SHIFT: None, LABEL_SHIFT: "bbse", COVARIATE_SHIFT: None}


def labels_for_interval(accuracy: float, *, half_width: float = HALF_WIDTH, level: float = LEVEL) -> int:
    """Random labels for a ``level`` interval of +-``half_width`` on an accuracy near ``accuracy``: the labels-only
    (Wald) sample size ``n = ceil(z^2 p (1 - p) / h^2)``, ``z`` the normal ``(1 + level) / 2`` quantile (1.645 at
    90%, 1.960 at 95%). PPI++ is never wider than labels alone (Angelopoulos, Duchi and Zrnic 2023), so these many
    labels are enough with it too. At p = 0.5 (the widest) it is 271 for 90% and 385 for 95%."""
    if not 0 <= accuracy <= 1 or math.isnan(accuracy):
        raise EstimationInputError(f"accuracy must be in [0, 1], got {accuracy}")
    if not 0 < half_width < 1 or not 0 < level < 1:
        raise EstimationInputError(f"half_width and level must be in (0, 1), got {half_width} and {level}")
    z = float(norm.ppf((1 + level) / 2))
    return max(1, math.ceil(z * z * accuracy * (1 - accuracy) / (half_width * half_width) - 1e-9))


@dataclass(frozen=True)
class TrustVerdict:
    """One window's verdict. ``trusted``: a label-free number may be shown, from ``method`` (None: the app's own
    estimator). Otherwise ``labels_needed`` random labels would give a ``level`` interval of +-``half_width``.

    ``domain_auc`` / ``domain_p``: the domain classifier's AUC and permutation p-value (None: no embeddings, so
    overlap is untested); ``label_shift_p``: the G-test of predicted-class counts; ``label_shift_fit_p``: whether a
    label-shifted reference explains the window (None: not run, the class mix did not move)."""

    route: str
    trusted: bool
    method: str | None
    reason: str
    domain_auc: float | None
    domain_p: float | None
    label_shift_p: float
    label_shift_fit_p: float | None
    max_domain_auc: float
    alpha: float
    labels_needed: int | None
    level: float
    half_width: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrustVerdict:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    @property
    def advice(self) -> str:
        """What to do instead of reading a number (empty when trusted)."""
        if self.trusted:
            return ""
        return (
            f"{self.reason}: label {self.labels_needed:,} random predictions "
            f"for a ±{self.half_width:.2f} interval ({self.level:.0%})"
        )


def trust_verdict(
    reference: LabelledReference,
    probabilities: Any,
    *,
    accuracy: float,
    domain_auc: float | None,
    domain_p: float | None = None,
    max_domain_auc: float = MAX_DOMAIN_AUC,
    alpha: float = ALPHA,
    level: float = LEVEL,
    half_width: float = HALF_WIDTH,
    fit_bootstrap: int = 199,
) -> TrustVerdict:
    """The verdict on a window's label-free numbers (module docstring for the routes).

    ``reference``: the labelled reference the estimator was fitted on; ``probabilities``: the window's ``(n, K)``
    class probabilities (the same kind as the reference's); ``accuracy``: the label-free estimate, which sets the
    ``p(1 - p)`` of ``labels_for_interval``; ``domain_auc`` / ``domain_p``: the domain classifier's reading of
    reference against window embeddings (``sentiment.monitoring.domain_classifier.domain_auc``), None where there
    are no embeddings. Raises ``EstimationInputError`` for inputs the tests cannot use."""
    if not 0.5 <= max_domain_auc <= 1:
        raise EstimationInputError(f"max_domain_auc must be in [0.5, 1], got {max_domain_auc}")
    shift = label_shift_test(reference, probabilities, alpha=alpha)
    fit_p: float | None = None
    if shift.detected:
        fit_p = label_shift_fit_test(reference, probabilities, alpha=alpha, bootstrap=fit_bootstrap).p_value

    def verdict(route: str, reason: str) -> TrustVerdict:
        trusted = route in ROUTE_METHODS
        return TrustVerdict(
            route=route,
            trusted=trusted,
            method=ROUTE_METHODS.get(route),
            reason=reason,
            domain_auc=domain_auc,
            domain_p=domain_p,
            label_shift_p=shift.p_value,
            label_shift_fit_p=fit_p,
            max_domain_auc=max_domain_auc,
            alpha=alpha,
            labels_needed=None if trusted else labels_for_interval(accuracy, half_width=half_width, level=level),
            level=level,
            half_width=half_width,
        )

    route, reason = route_of(domain_auc, domain_p, shift.p_value, fit_p, max_domain_auc=max_domain_auc, alpha=alpha)
    return verdict(route, reason)


def route_of(
    domain_auc: float | None,
    domain_p: float | None,
    label_shift_p: float,
    label_shift_fit_p: float | None,
    *,
    max_domain_auc: float = MAX_DOMAIN_AUC,
    alpha: float = ALPHA,
) -> tuple[str, str]:
    """The route and its reason in words from the tests' readings (``trust_verdict`` runs the tests; the benchmark
    reads the same rule at each candidate threshold). Overlap first: without it no assumption can be checked."""
    if domain_auc is None:
        return UNTESTED, "no embeddings to test whether this traffic overlaps anything labelled"
    if domain_auc > max_domain_auc:
        return NO_OVERLAP, f"this traffic is unlike anything labelled (domain AUC {domain_auc:.2f})"
    moved = label_shift_p < alpha
    if moved and label_shift_fit_p is not None and label_shift_fit_p >= alpha:
        return LABEL_SHIFT, "the class mix moved and label shift explains it: label-shift correction"
    if moved or (domain_p is not None and domain_p < alpha):
        return COVARIATE_SHIFT, "the inputs moved within what the reference covers"
    return NO_SHIFT, "no shift detected"
