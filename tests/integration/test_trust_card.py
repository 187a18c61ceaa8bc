"""The trust verdict on a real service (tiny model, real store, the drift check as the scheduler runs it): traffic
unlike the labelled reference gets no label-free number, the card says how many random labels would answer, and
``/monitoring`` and ``/metrics`` carry the verdict."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from appserver import metric_value
from sentiment.datasets import load_split
from sentiment.monitoring.trust import NO_OVERLAP, labels_for_interval
from sentiment.service.answer import answer
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web.monitoring_figures import monitoring_figures
from sentiment.web.ui.answer import answer_details, answer_markdown
from tiny_models import started_service

pytestmark = pytest.mark.slow
# nothing like the reference's tweets: digits only, each text the same shape
UNLIKE = [f"{i} {i + 1} {i * 7} {i % 13} {i * 3}" for i in range(120)]


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> Iterator[SentimentService]:
    with started_service(
        tiny_model_dir,
        settings,
        drift_min_window=50,
        drift_window=120,
        scheduler_enabled=False,
        reference_production_rows=0,
    ) as service:
        yield service


def _gauge(service: SentimentService, name: str, **labels: str) -> float:
    return metric_value(service.metrics.render().decode(), name, labels)


def test_traffic_unlike_anything_labelled_gets_no_number_but_the_labels_to_collect(service: SentimentService) -> None:
    """First a window of the reference's own texts: it overlaps the labelled reference (AUC near 0.5), so its
    number is shown and ``sentiment_estimate_trusted`` is 1. Then a window of digit strings: the domain classifier
    separates it from the tweets (AUC above SENTIMENT_TRUST_MAX_DOMAIN_AUC), so the card says "can't tell" with
    N = ceil(1.645^2 p (1 - p) / 0.05^2) at the withheld estimate p, the answer's estimate is null while its verdict
    is served, the estimate gauges set by the first check turn NaN and ``sentiment_estimate_trusted`` is 0. Fails if an
    untrusted number reached the card, the JSON or the gauges, or a trusted one was withheld."""
    s = service.settings
    service.predict_many(load_split(s.reference_dataset, s.reference_split, s)["text"].tolist()[:120])
    service.monitoring.check_drift()
    shown = service.monitoring.last_estimate
    assert shown is not None and shown.trust is not None and shown.trust.trusted
    assert shown.trust.domain_auc is not None and shown.trust.domain_auc < 0.7
    assert f"- Estimated accuracy now: **{shown.estimate.accuracy:.2f}**" in answer_markdown(answer(service))
    assert _gauge(service, "sentiment_estimate_trusted") == 1
    assert math.isnan(_gauge(service, "sentiment_estimate_labels_needed"))
    assert _gauge(service, "model_estimated_accuracy", method="doc", bound="estimate") == pytest.approx(
        shown.estimate.accuracy
    )

    service.predict_many(UNLIKE)
    service.monitoring.check_drift()
    window = service.monitoring.last_estimate
    assert window is not None and window.trust is not None
    trust = window.trust
    assert trust.route == NO_OVERLAP and not trust.trusted
    assert trust.domain_auc is not None and trust.domain_auc > s.trust_max_domain_auc
    needed = labels_for_interval(window.estimate.accuracy, half_width=0.05, level=0.90)
    assert trust.labels_needed == needed

    found = answer(service)
    card = answer_markdown(found)
    line = (
        f"- Estimated accuracy now: **can't tell**: this traffic is unlike anything labelled (domain AUC "
        f"{trust.domain_auc:.2f}): label {needed:,} random predictions for a ±0.05 interval (90%) (Label tab)"
    )
    assert line in card
    assert found.headline.startswith("Can't tell without labels: this traffic is unlike anything labelled")
    assert "Trust: no overlap; domain AUC" in answer_details(found)

    served = monitoring_figures(service)["answer"]  # what GET /monitoring returns
    assert served["estimate"] is None
    assert served["trust"]["route"] == NO_OVERLAP and served["trust"]["labels_needed"] == needed
    assert served["trust"]["domain_auc"] == pytest.approx(trust.domain_auc)
    assert 0 <= served["trust"]["label_shift_p"] <= 1

    assert _gauge(service, "sentiment_estimate_trusted") == 0
    assert _gauge(service, "sentiment_estimate_labels_needed") == needed
    assert math.isnan(_gauge(service, "model_estimated_accuracy", method="doc", bound="estimate"))
