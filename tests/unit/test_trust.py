"""Trust verdicts on label-free numbers (sentiment.monitoring.trust) on synthetic traffic whose shift is known:
the route each kind of shift takes, the "label N" advice checked by hand, and its properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sentiment.errors import EstimationInputError
from sentiment.monitoring.domain_classifier import domain_auc
from sentiment.monitoring.estimation import LabelledReference
from sentiment.monitoring.trust import (
    COVARIATE_SHIFT,
    LABEL_SHIFT,
    MAX_DOMAIN_AUC,
    NO_OVERLAP,
    NO_SHIFT,
    ROUTE_METHODS,
    UNTESTED,
    TrustVerdict,
    labels_for_interval,
    route_of,
    trust_verdict,
)
from sentiment.settings import Settings

K = 3
MEANS = np.array([-2.0, 0.0, 2.0])
UNIFORM = np.full(K, 1.0 / K)


def sample(n: int, prior: object, rng: np.random.Generator, *, offset: float = 0.0) -> tuple[np.ndarray, ...]:
    """Gaussian classes at -2, 0, 2 (sd 1): the Bayes posterior under a uniform prior as the model's probabilities,
    and an 8-dimension "embedding" whose first coordinate is the text's ``x`` and the rest noise; ``offset`` moves
    every embedding coordinate but not the probabilities (a new domain the model's outputs do not show)."""
    labels = rng.choice(K, size=n, p=np.asarray(prior))
    x = rng.normal(MEANS[labels], 1.0)
    log_lik = -0.5 * (x[:, None] - MEANS) ** 2
    probs = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    embeddings = np.column_stack([x, rng.normal(size=(n, 7))]) + offset
    return probs, labels, embeddings


@pytest.fixture(scope="module")
def reference() -> tuple[LabelledReference, np.ndarray]:
    probs, labels, embeddings = sample(1500, UNIFORM, np.random.default_rng(0))
    return LabelledReference.of(probs, labels), embeddings


def verdict_on(reference: tuple[LabelledReference, np.ndarray], probs: np.ndarray, emb: np.ndarray) -> TrustVerdict:
    ref, ref_emb = reference
    auc, p = domain_auc(ref_emb, emb)
    return trust_verdict(ref, probs, accuracy=0.8, domain_auc=auc, domain_p=p)


def test_the_reference_itself_is_trusted(reference: tuple[LabelledReference, np.ndarray]) -> None:
    """A window that is the reference's own rows: no shift to find, so the number is shown (from the app's
    estimator: method None) and no labels are asked for."""
    ref, emb = reference
    found = verdict_on(reference, ref.probabilities[:500], emb[:500])
    assert found.route == NO_SHIFT
    assert found.trusted and found.method is None and found.labels_needed is None
    assert found.domain_auc is not None and found.domain_auc < 0.6
    assert found.label_shift_p > 0.05 and found.label_shift_fit_p is None  # the fit test runs only after a move


def test_a_disjoint_window_is_refused_with_the_labels_it_needs(reference: tuple[LabelledReference, np.ndarray]) -> None:
    """Embeddings moved far from anything in the reference (same class mix, same probabilities): the domain
    classifier separates them (AUC near 1), so no number; N is the +-0.05, 90% labels-only size at the estimate 0.8:
    ceil(1.6449^2 * 0.8 * 0.2 / 0.05^2) = ceil(173.15) = 174."""
    probs, _, emb = sample(500, UNIFORM, np.random.default_rng(1), offset=6.0)
    found = verdict_on(reference, probs, emb)
    assert found.route == NO_OVERLAP and not found.trusted
    assert found.domain_auc is not None and found.domain_auc > 0.99
    assert found.labels_needed == 174
    assert found.advice.startswith("this traffic is unlike anything labelled (domain AUC 1.00): label 174 random")


def test_label_shift_alone_is_routed_to_the_correction(reference: tuple[LabelledReference, np.ndarray]) -> None:
    """Same class-conditional inputs, class mix 70/15/15 instead of uniform: the predicted-class mix moves (G-test
    rejects), a label-shifted reference explains it (fit test does not), and the domain classifier sees only the
    class mix (AUC well under the threshold): BBSE's label-shift correction gives the number."""
    probs, _, emb = sample(500, [0.7, 0.15, 0.15], np.random.default_rng(2))
    found = verdict_on(reference, probs, emb)
    assert found.label_shift_p < 1e-6
    assert found.label_shift_fit_p is not None and found.label_shift_fit_p >= 0.05
    assert found.domain_auc is not None and found.domain_auc < MAX_DOMAIN_AUC
    assert (found.route, found.trusted, found.method) == (LABEL_SHIFT, True, "bbse")


def test_a_move_label_shift_cannot_explain_is_covariate_shift(reference: tuple[LabelledReference, np.ndarray]) -> None:
    """Texts of the middle class only between the negative and neutral means (x in [-1.5, -0.5]: a shift of
    P(x | y) the model's confidence shows) with an overlapping embedding: the fit test rejects label shift, the
    domain AUC stays under the threshold, so the covariate-shift estimator (the app's, DoC) gives the number."""
    rng = np.random.default_rng(3)
    probs, _, emb = sample(3000, UNIFORM, rng)
    x = emb[:, 0]
    keep = np.flatnonzero((x > -1.5) & (x < -0.5))[:250]
    rest = np.flatnonzero(np.abs(x) > 2.5)[:250]
    rows = np.r_[keep, rest]
    found = verdict_on(reference, probs[rows], emb[rows])
    assert found.label_shift_fit_p is not None and found.label_shift_fit_p < 0.05
    assert found.domain_auc is not None and found.domain_auc <= MAX_DOMAIN_AUC
    assert (found.route, found.trusted, found.method) == (COVARIATE_SHIFT, True, None)


def test_without_embeddings_overlap_is_untested_and_refused(reference: tuple[LabelledReference, np.ndarray]) -> None:
    """No embeddings (the lexicon model): nothing says the window overlaps the reference, so no number; the
    advice at the estimate 0.5 is the widest, 271 labels."""
    ref, _ = reference
    found = trust_verdict(ref, ref.probabilities[:300], accuracy=0.5, domain_auc=None)
    assert (found.route, found.trusted, found.labels_needed) == (UNTESTED, False, 271)


def test_labels_for_interval_by_hand() -> None:
    """n = ceil(z^2 p (1 - p) / h^2): z = 1.6449 (90%) or 1.9600 (95%)."""
    assert labels_for_interval(0.5) == 271  # 2.70554 * 0.25 / 0.0025 = 270.55
    assert labels_for_interval(0.5, level=0.95) == 385  # 3.84146 * 100 = 384.15
    assert labels_for_interval(0.8) == 174  # 2.70554 * 0.16 / 0.0025 = 173.15
    assert labels_for_interval(0.8, level=0.95) == 246  # 3.84146 * 64 = 245.85
    assert labels_for_interval(0.9, half_width=0.1) == 25  # 2.70554 * 0.09 / 0.01 = 24.35
    assert labels_for_interval(1.0) == 1  # nothing to estimate: one label


@settings(max_examples=200, deadline=None)
@given(
    p=st.floats(0.0, 1.0),
    q=st.floats(0.0, 1.0),
    h=st.floats(0.01, 0.2),
    level=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_labels_for_interval_properties(p: float, q: float, h: float, level: float) -> None:
    """N is symmetric in p <-> 1 - p, never smaller for an accuracy nearer 0.5, never larger for a wider
    interval or a lower level, and its interval z sqrt(p (1 - p) / N) is within +-h (and N - 1 labels are not)."""
    n = labels_for_interval(p, half_width=h, level=level)
    assert n == labels_for_interval(1 - p, half_width=h, level=level)
    if abs(q - 0.5) <= abs(p - 0.5):
        assert labels_for_interval(q, half_width=h, level=level) >= n
    assert labels_for_interval(p, half_width=h * 1.5, level=level) <= n
    assert labels_for_interval(p, half_width=h, level=0.7) <= n
    z = {0.8: 1.2815516, 0.9: 1.6448536, 0.95: 1.9599640, 0.99: 2.5758293}[level]
    assert z * math.sqrt(p * (1 - p) / n) <= h + 1e-9
    if n > 1:
        assert z * math.sqrt(p * (1 - p) / (n - 1)) > h - 1e-6


def test_bad_inputs_say_what_is_expected(reference: tuple[LabelledReference, np.ndarray]) -> None:
    """An accuracy outside [0, 1], a level outside (0, 1), a threshold under 0.5: EstimationInputError naming it."""
    ref, _ = reference
    with pytest.raises(EstimationInputError, match="accuracy must be in"):
        labels_for_interval(1.2)
    with pytest.raises(EstimationInputError, match="level must be in"):
        labels_for_interval(0.5, level=1.0)
    with pytest.raises(EstimationInputError, match="max_domain_auc"):
        trust_verdict(ref, ref.probabilities, accuracy=0.5, domain_auc=0.5, max_domain_auc=0.4)


def test_the_verdict_round_trips_through_a_dict(reference: tuple[LabelledReference, np.ndarray]) -> None:
    """What the drift state keeps in the store reads back equal."""
    ref, _ = reference
    found = trust_verdict(ref, ref.probabilities[:300], accuracy=0.7, domain_auc=0.9, domain_p=1e-9)
    assert TrustVerdict.from_dict(found.as_dict()) == found


@pytest.mark.parametrize(
    ("field", "value"), [("trust_max_domain_auc", 0.3), ("trust_level", 1.0), ("trust_half_width", 0)]
)
def test_trust_settings_out_of_range_stop_the_app_naming_the_field(field: str, value: float) -> None:
    """An AUC threshold under 0.5 (chance) would refuse every window; a level of 1 or a zero half-width asks for
    infinitely many labels: each is refused when the settings are read, naming the field."""
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


@settings(max_examples=300, deadline=None)
@given(
    auc=st.floats(0.0, 1.0),
    auc_p=st.floats(0.0, 1.0),
    shift_p=st.floats(0.0, 1.0),
    fit_p=st.none() | st.floats(0.0, 1.0),
    low=st.floats(0.5, 1.0),
    high=st.floats(0.5, 1.0),
)
def test_a_higher_auc_threshold_never_refuses_a_window_a_lower_one_trusts(
    auc: float, auc_p: float, shift_p: float, fit_p: float | None, low: float, high: float
) -> None:
    """Raising SENTIMENT_TRUST_MAX_DOMAIN_AUC only ever turns refusals into numbers, and the route of a window
    within both thresholds does not depend on the threshold; a window past it is always refused."""
    low, high = min(low, high), max(low, high)
    at_low, _ = route_of(auc, auc_p, shift_p, fit_p, max_domain_auc=low)
    at_high, _ = route_of(auc, auc_p, shift_p, fit_p, max_domain_auc=high)
    if at_low in ROUTE_METHODS:
        assert at_high == at_low
    assert (at_high == NO_OVERLAP) == (auc > high)
    assert route_of(None, None, shift_p, fit_p, max_domain_auc=high)[0] == UNTESTED
