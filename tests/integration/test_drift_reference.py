"""The deployment reference and the persistence rule in the running monitoring service: a revision's first
production predictions become its reference by themselves, a reset goes back to the dataset and starts the count
again, the gauges say which reference is in use, and a drifted window is reported only after enough in a row."""

from __future__ import annotations

from pathlib import Path

from appserver import metric_value
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from tiny_models import started_service


def _source_gauges(service: SentimentService) -> dict[str, float]:
    text = service.metrics.render().decode()
    return {
        s: metric_value(text, "sentiment_drift_reference_info", {"source": s})
        for s in ("dataset", "production", "pinned")
    }


def test_a_revisions_first_predictions_become_its_reference_and_a_reset_starts_the_count_again(
    tiny_model_dir: Path, settings: Settings
) -> None:
    with started_service(
        tiny_model_dir, settings, drift_min_window=10, drift_window=60, reference_production_rows=40
    ) as service:
        monitoring = service.monitoring
        service.predict_many([f"short one {i}" for i in range(20)])
        assert monitoring.check_drift().reference_source == "dataset"  # 20 of 40: the dataset bootstraps
        assert _source_gauges(service) == {"dataset": 1.0, "production": 0.0, "pinned": 0.0}
        service.predict_many([f"a somewhat longer text about the weather, number {i}" for i in range(30)])
        report = monitoring.check_drift()
        assert report.reference_source == "production" and monitoring.reference_source == "production"
        assert report.reference is not None and (report.reference.split, report.reference.rows) == ("first 40", 40)
        assert report.as_dict()["reference_source"] == "production"
        assert _source_gauges(service) == {"dataset": 0.0, "production": 1.0, "pinned": 0.0}
        first = monitoring.reference().frame
        assert (first["n_chars"].head(20) < 15).all()  # the first rows, not the newest

        reset = monitoring.reset_reference()
        assert reset.dataset == settings.reference_dataset and monitoring.reference_source == "dataset"
        assert monitoring.check_drift().reference_source == "dataset"  # the 50 rows before the reset do not count
        service.predict_many([f"after the reset, a new kind of message {i}" for i in range(40)])
        again = monitoring.reference()
        assert again.split == "first 40" and (again.frame["n_chars"] > 30).all()  # only rows after the reset

        pinned = monitoring.pin_reference(rows=30)
        assert pinned.split == "last 30" and monitoring.reference_source == "pinned"


def test_a_drifted_window_is_reported_once_a_window_sharing_none_of_its_predictions_drifts_too(
    tiny_model_dir: Path, settings: Settings
) -> None:
    """Through the service and the real log's row ids: checking the same window again adds no evidence; the next
    40 predictions make a window disjoint from the first, and the status says drift."""
    with started_service(
        tiny_model_dir,
        settings,
        drift_min_window=10,
        drift_window=40,
        drift_confirm_windows=2,
        reference_production_rows=0,
    ) as service:
        monitoring = service.monitoring
        long = "a long and winding review of the product that goes on and on about every detail of it"
        service.predict_many([f"{long} {i}" for i in range(40)])
        monitoring.pin_reference(rows=40)
        service.predict_many([f"ok {i}" for i in range(40)])  # every text far shorter: text length drifts
        seen = [monitoring.check_drift() for _ in range(3)]
        assert [r.raw_status for r in seen] == ["drift"] * 3
        assert [r.status for r in seen] == ["ok"] * 3
        assert [(r.consecutive, r.windows) for r in seen] == [(1, 1), (2, 1), (3, 1)]
        service.predict_many([f"fine {i}" for i in range(40)])
        confirmed = monitoring.check_drift()
        assert (confirmed.status, confirmed.consecutive, confirmed.windows) == ("drift", 4, 2)
        assert metric_value(service.metrics.render().decode(), "sentiment_drift_status", {}) == 2


def test_the_first_check_scores_the_reference_split_once_for_both_references(
    tiny_model_dir: Path, settings: Settings
) -> None:
    """The drift profile and the estimation reference are both built from the serving model's scores of the
    reference split: the first drift check scores those texts once (it scored them twice), and both references
    hold every scored row. Fails if either reference scores the split itself again."""
    from sentiment.datasets import load_split
    from sentiment.monitoring import reference

    reference._scored.clear()  # scores kept from another test of this process (the tiny model is shared) would hide it
    with started_service(tiny_model_dir, settings, drift_min_window=10, reference_production_rows=0) as service:
        split = load_split(settings.reference_dataset, settings.reference_split, settings)
        predictor = service.predictor
        real = predictor.predict_batch
        sizes: list[int] = []

        def counted(texts, *args, **kwargs):  # type: ignore[no-untyped-def]
            sizes.append(len(texts))
            return real(texts, *args, **kwargs)

        service.predict_many([f"a text about the weather, number {i}" for i in range(20)])
        predictor.predict_batch = counted  # type: ignore[method-assign]
        try:
            service.monitoring.check_drift()
        finally:
            del predictor.predict_batch
        assert sizes.count(len(split)) == 1, sizes
        assert len(service.monitoring.reference().frame) == len(split)
        assert len(service.monitoring.performance.labelled_reference(predictor).labels) == len(split)
