"""The estimated performance of each drift window: computed from the logged probabilities, exported as gauges and
in the monitoring overview, and compared with the same estimator on the labelled reference."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from appserver import metric_value
from sentiment.datasets import load_split
from sentiment.monitoring.performance import PROBABILITY_COLUMNS, PerformanceMonitor, estimation_reference
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.store.schema import references
from tiny_models import started_service


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> Iterator[SentimentService]:
    with started_service(
        tiny_model_dir, settings, drift_min_window=10, drift_window=1000, scheduler_enabled=False
    ) as service:
        yield service


def _gauge(service: SentimentService, name: str, **labels: str) -> float:
    return metric_value(service.metrics.render().decode(), name, labels)


def test_the_reference_itself_as_traffic_is_estimated_at_its_realised_figures(service: SentimentService) -> None:
    """Known answer: DoC adds the reference's realised-minus-expected confusion to the window's expected one, so
    on the reference rows themselves it returns the reference's realised accuracy and macro-F1 exactly."""
    s = service.settings
    assert s.estimation_method == "doc"
    texts = load_split(s.reference_dataset, s.reference_split, s)["text"].tolist()
    for start in range(0, len(texts), 200):
        service.predict_many(texts[start : start + 200])
    report = service.monitoring.check_drift()
    assert report.window_size == len(texts)
    window = service.monitoring.overview().estimate
    assert window is not None
    estimate = window.as_dict()  # as /monitoring serves it
    assert estimate["n"] == len(texts)
    realised = estimate["reference"]
    assert estimate["accuracy"] == pytest.approx(realised["accuracy"], abs=1e-4)
    assert estimate["macro_f1"] == pytest.approx(realised["macro_f1"], abs=1e-4)
    assert estimate["accuracy_band"][0] <= estimate["accuracy"] <= estimate["accuracy_band"][1]
    for bound, value in (("estimate", estimate["accuracy"]), ("low", estimate["accuracy_band"][0])):
        assert _gauge(service, "model_estimated_accuracy", method="doc", bound=bound) == pytest.approx(value)
    assert _gauge(service, "model_estimated_macro_f1", method="doc", bound="high") == pytest.approx(
        estimate["macro_f1_band"][1]
    )
    assert _gauge(service, "model_estimated_f1", method="doc", class_label="neutral", bound="estimate") == (
        pytest.approx(estimate["f1"]["neutral"])
    )
    assert _gauge(service, "model_estimated_reference", method="doc", metric="accuracy") == pytest.approx(
        estimate["reference_accuracy"]
    )


def test_a_window_too_small_to_estimate_blanks_the_gauges(service: SentimentService, settings: Settings) -> None:
    """A window of the reference's own texts is estimated (and trusted: it overlaps the labelled reference), a
    window below the minimum then blanks every estimated series."""
    s = service.settings
    service.predict_many(load_split(s.reference_dataset, s.reference_split, s)["text"].tolist()[:60])
    service.monitoring.check_drift()
    assert service.monitoring.last_estimate is not None and service.monitoring.last_estimate.trusted
    assert _gauge(service, "sentiment_estimate_trusted") == 1
    assert 0 < _gauge(service, "model_estimated_accuracy", method="doc", bound="estimate") <= 1

    small = service.settings.model_copy(update={"drift_window": 5})
    service.monitoring.settings = small
    report = service.monitoring.check_drift()
    assert report.status == "insufficient_data"
    assert service.monitoring.overview().estimate is None
    assert math.isnan(_gauge(service, "model_estimated_accuracy", method="doc", bound="estimate"))
    assert math.isnan(_gauge(service, "model_estimated_f1", method="doc", class_label="positive", bound="high"))


def test_the_labelled_reference_is_scored_once_per_model_revision(service: SentimentService) -> None:
    predictor = service.predictor
    first = estimation_reference(predictor, service.settings, service.store)
    with service.store.read() as conn:
        stored = conn.execute(select(references.c.key, references.c.model).where(references.c.kind == "estimation"))
        rows = stored.all()
    assert [(key.startswith("estimation-"), model) for key, model in rows] == [(True, predictor.info.name)]
    assert not (service.settings.data_dir / "reference").exists()  # the one store, no folder of files

    class Refusing:
        info = predictor.info

        def predict_batch(self, texts: list[str]) -> None:
            raise AssertionError("the stored reference must be read, not scored again")

    again = estimation_reference(Refusing(), service.settings, service.store)  # type: ignore[arg-type]
    np.testing.assert_allclose(again.probabilities, first.probabilities, atol=1e-6)
    np.testing.assert_array_equal(again.labels, first.labels)
    window = pd.DataFrame(first.probabilities, columns=list(PROBABILITY_COLUMNS))
    estimate = PerformanceMonitor(service.settings, service.store).estimate(predictor, window)
    assert estimate.estimate.n == len(first.labels)
