"""The class shares of each drift window on a real service (the embedded model, the real labelled reference
vader_tweets test, a real store): the gauges, the Monitoring card line and ``/monitoring``'s ``class_shares`` follow
the window, and the review sample's prediction-powered shares replace the label-free ones once they exist.

The windows are texts of the reference split itself, so what they hold is known: a random sample of it (the
reference's own mix: nothing may move) and a window picked to be mostly texts the model calls negative (the
negative share must rise, the positive share fall)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from conftest import CACHE
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.service.answer import answer
from sentiment.service.jobs import drift_job
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web.ui.answer import answer_markdown

pytestmark = pytest.mark.slow
WINDOW = 100


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), cache_override=CACHE, model="embedded")


@pytest.fixture(scope="module")
def service(embedded_predictor: Predictor, settings: Settings) -> Iterator[SentimentService]:
    """One service for the module, in order: the labelled reference (630 texts scored and embedded) is built once."""
    configured = settings.model_copy(
        update={
            "drift_window": WINDOW,
            "drift_min_window": 50,
            "reference_production_rows": 0,
            "review_rate": 1.0,
            "review_daily_cap": 100_000,
            "ppi_min_labels": 25,
        }
    )
    service = SentimentService(configured, ServiceMetrics(CollectorRegistry()), predictor=embedded_predictor)
    service.start()
    yield service
    service.stop()


def _send(service: SentimentService, texts: list[str]) -> None:
    service.predict_many(texts)
    assert service.monitoring.log is not None and service.monitoring.log.flush(60)


def _gauges(service: SentimentService, source: str) -> dict[str, tuple[float | None, ...]]:
    """Per class: the estimate, lower, upper of ``source``, the reference share and the change, as /metrics says
    (None: no such series)."""
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(service.metrics.render().decode())
        for sample in family.samples
        if sample.name.startswith("sentiment_class_share")
    }

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    return {
        label: (
            *(
                value("sentiment_class_share", label=label, bound=b, source=source)
                for b in ("estimate", "lower", "upper")
            ),
            value("sentiment_class_share_reference", label=label),
            value("sentiment_class_share_change", label=label),
        )
        for label in LABELS
    }


def _shuffled(settings: Settings) -> list[str]:
    """The reference split's texts in a fixed random order (the file is sorted by label)."""
    frame = load_split("vader_tweets", "test", settings)
    return frame["text"].sample(frac=1.0, random_state=0).tolist()


def test_a_window_shifted_to_negative_moves_the_gauges_and_the_card_line(
    service: SentimentService, settings: Settings
) -> None:
    """A random window of the reference's own rows: counted shares (the default ``cc``) with bands that hold the
    reference's predicted share, change 0 for every class. Then a window of 80 texts the model calls negative and 20
    others: the negative gauge reads 0.80 exactly (counted), its lower bound is above the reference share, change is
    +1 for negative and -1 for positive; the card line and ``/monitoring``'s ``class_shares`` say the same, with the
    source. Fails if the check did not estimate the shares, the gauges kept the old window, or the change compared
    with the wrong reference."""
    texts = _shuffled(settings)
    _send(service, texts[:WINDOW])
    service.monitoring.check_drift()
    held = _gauges(service, "counted")
    for label, (estimate, lower, upper, reference, change) in held.items():
        assert estimate is not None and lower is not None and upper is not None and reference is not None
        assert lower <= estimate <= upper and change == 0, (label, held[label])
    assert _gauges(service, "label_free")["negative"][0] is None  # one source at a time

    predicted = service.predictor.predict_batch(texts[WINDOW:]).probabilities.argmax(axis=1)
    negative = [t for t, p in zip(texts[WINDOW:], predicted, strict=True) if p == 0][:80]
    others = [t for t, p in zip(texts[WINDOW:], predicted, strict=True) if p != 0][:20]
    assert len(negative) == 80 and len(others) == 20
    _send(service, negative + others)
    service.monitoring.check_drift()
    shifted = _gauges(service, "counted")
    estimate, lower, _, reference, change = shifted["negative"]
    assert estimate == pytest.approx(0.80) and lower is not None and reference is not None
    assert lower > reference and change == 1
    assert shifted["positive"][4] == -1
    assert sum(v[0] or 0.0 for v in shifted.values()) == pytest.approx(1.0)

    found = answer(service)
    assert found.shares is not None and found.shares.source == "counted"
    card = answer_markdown(found)
    assert f"- Class shares: **negative 80% ({lower:.0%}-" in card and f"vs {reference:.0%} at reference" in card
    assert "predicted classes counted on 100 predictions" in card
    shares = found.as_dict()["class_shares"]
    assert shares["source"] == "counted" and shares["change"]["negative"] == 1
    assert shares["shares"]["negative"]["estimate"] == pytest.approx(0.80)


def test_the_review_samples_ppi_shares_replace_the_label_free_ones(
    service: SentimentService, settings: Settings
) -> None:
    """Every prediction of a window is drawn into the review sample and labelled with its true label; after the drift
    job the gauges carry only ``source="ppi"`` series, equal to the production truth's 90% share interval, the
    reference is the labelled reference's label share, and the card names the sampled labels. Fails if the PPI
    share did not replace the label-free one, or both sources were exported at once."""
    frame = load_split("vader_tweets", "test", settings)
    truth_of = dict(zip(frame["text"], frame["label"], strict=True))
    _send(service, _shuffled(settings)[:WINDOW])
    rows = service.review.queue.rows(state="all", limit=10_000)  # this window and the test above's: all sampled
    assert len(rows) == service.monitoring.log.count()  # type: ignore[union-attr]
    for row in rows:
        service.review.label(row["id"], truth_of[row["text"]])
    drift_job(service)

    truth = service.truth.last
    assert truth is not None and truth.intervals is not None
    ppi = _gauges(service, "ppi")
    counted = _gauges(service, "counted")
    labels = np.array([LABELS.index(v) for v in frame["label"]])
    for label in LABELS:
        result = truth.result(f"share_{label}")
        assert result is not None
        assert ppi[label][:3] == pytest.approx((result.estimate, result.lower, result.upper))
        reference = float(np.mean(labels == LABELS.index(label)))
        assert ppi[label][3] == pytest.approx(reference, abs=0.01)  # the labels kept after scoring: nearly all rows
        assert counted[label][0] is None
    found = answer(service)
    assert found.shares is not None and found.shares.source == "ppi"
    assert f"from {len(rows):,} sampled labels and {len(rows):,} predictions (PPI++)" in answer_markdown(found)
