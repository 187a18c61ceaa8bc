"""A restart on the same store is invisible on /metrics apart from the process counters, and the monitoring goes on
where it left off: the quality gauges (the newest stored evaluation per model, dataset, split and source,
``dataset="production"`` included), the drift and estimate gauges, the Monitoring tab's last verdict and estimate,
and the drift confirmation run all come back when the service is built, before any scheduled job runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from appserver import metric_value
from sentiment.service.jobs import drift_job, evaluation_job
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from tiny_models import started_service

# Series a job sets (quality, drift, estimate): everything else on /metrics counts this process's own work.
JOB_SERIES = ("model_", "sentiment_drift_", "sentiment_estimate_")
LONG = "a long and winding review of the product that goes on and on about every detail of it"
OVERRIDES: dict[str, Any] = {
    "drift_min_window": 10,
    "drift_window": 40,
    "drift_confirm_windows": 2,
    "reference_production_rows": 0,
    "evaluation_datasets": ["vader_tweets"],
    "evaluation_sample_size": 30,
    "production_min_labels": 5,
    "production_unreviewed": True,
    "scheduler_enabled": False,
}


def job_series(service: SentimentService) -> dict[tuple[str, tuple[tuple[str, str], ...]], str]:
    """Every sample of the job-set series on the service's /metrics, by name and labels; the value as ``repr`` so
    NaN (a blanked estimate) compares equal to NaN."""
    text = service.metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): repr(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(JOB_SERIES)
    }


def _shown(service: SentimentService) -> tuple[str, str]:
    overview = service.monitoring.overview()
    assert overview.report is not None and overview.estimate is not None
    return json.dumps(overview.report.as_dict()), json.dumps(overview.estimate.as_dict())


def test_a_restart_brings_back_every_job_series_and_the_confirmation_run(
    tiny_model_dir: Path, settings: Settings
) -> None:
    """Before the restart: an evaluation (a dataset and production labels) and a drift check whose window drifted
    but is not yet confirmed (status 0.5). A new service on the same store (fresh metrics registry, as a new
    process) exports the very same job series with the very same values before anything runs, shows the same
    last report and estimate, and the next disjoint window confirms the drift (without the kept run it would
    count as the first window again: ok, 1 window)."""
    with started_service(tiny_model_dir, settings, **OVERRIDES) as first:
        scored = first.predict_many([f"{LONG} {i}" for i in range(40)])
        for prediction in scored[:10]:
            assert prediction.prediction_id is not None
            first.feedback.give(prediction.prediction_id, prediction.label, client="owner", unlimited=True)
        first.monitoring.pin_reference(rows=40)
        first.predict_many([f"ok {i}" for i in range(40)])  # far shorter texts: text length drifts
        evaluation_job(first)
        report = drift_job(first)
        assert (report.raw_status, report.status, report.windows) == ("drift", "ok", 1)
        before = job_series(first)
        shown = _shown(first)
    text = first.metrics.render().decode()
    assert metric_value(text, "sentiment_drift_status") == 0.5  # drift seen, not yet confirmed
    assert metric_value(text, "model_accuracy", {"dataset": "production", "source": "scheduled"}) > 0
    assert metric_value(text, "model_accuracy", {"dataset": "vader_tweets", "source": "scheduled"}) > 0
    # the window's estimate got a verdict (its number or a refusal): the restart has estimate series to bring back
    verdicts = {name: value for (name, _), value in before.items() if name == "sentiment_estimate_trusted"}
    assert verdicts in ({"sentiment_estimate_trusted": "0.0"}, {"sentiment_estimate_trusted": "1.0"}), verdicts

    with started_service(tiny_model_dir, settings, **OVERRIDES) as restarted:
        assert job_series(restarted) == before
        assert _shown(restarted) == shown
        restarted.predict_many([f"fine {i}" for i in range(40)])  # a window sharing no prediction with the last
        confirmed = drift_job(restarted)
        assert (confirmed.status, confirmed.consecutive, confirmed.windows) == ("drift", 2, 2)
        assert metric_value(restarted.metrics.render().decode(), "sentiment_drift_status") == 2


def test_a_new_reference_after_the_restart_starts_the_run_again(tiny_model_dir: Path, settings: Settings) -> None:
    """The kept run belongs to the reference it was measured against: pinning another one after the restart must
    not let the old windows confirm a drift against the new reference."""
    with started_service(tiny_model_dir, settings, **OVERRIDES) as first:
        first.predict_many([f"{LONG} {i}" for i in range(40)])
        first.monitoring.pin_reference(rows=40)
        first.predict_many([f"ok {i}" for i in range(40)])
        assert drift_job(first).raw_status == "drift"
    with started_service(tiny_model_dir, settings, **OVERRIDES) as restarted:
        restarted.predict_many([f"{LONG} again {i}" for i in range(40)])
        restarted.monitoring.pin_reference(rows=40)  # the long texts once more, pinned anew
        restarted.predict_many([f"no {i}" for i in range(40)])
        report = drift_job(restarted)
        assert (report.raw_status, report.status, report.consecutive, report.windows) == ("drift", "ok", 1, 1)


def test_a_replica_that_takes_over_continues_the_leaders_run_and_a_standby_follows_its_verdict(
    tiny_model_dir: Path, settings: Settings
) -> None:
    """Two live services on one store (two replicas). The leader's unconfirmed drift is taken up by the standby's
    follow (its gauge says 0.5 too, not what it restored at its own start); when the standby takes over, its next
    check continues the leader's run: the next disjoint window confirms (drift, 2 windows). Without the follow and
    the reload at the start of a check, the standby would count its own stale, empty run: ok after 1 window."""
    with (
        started_service(tiny_model_dir, settings, **OVERRIDES) as leader,
        started_service(tiny_model_dir, settings, **OVERRIDES) as standby,
    ):
        leader.predict_many([f"{LONG} {i}" for i in range(40)])
        leader.monitoring.pin_reference(rows=40)
        leader.predict_many([f"ok {i}" for i in range(40)])
        first = drift_job(leader)
        assert (first.raw_status, first.status, first.windows) == ("drift", "ok", 1)
        assert metric_value(standby.metrics.render().decode(), "sentiment_drift_status") == -1  # before following
        standby.follow_store()
        assert metric_value(standby.metrics.render().decode(), "sentiment_drift_status") == 0.5
        assert standby.monitoring.last_report is not None
        assert standby.monitoring.last_report.checked_at == first.checked_at
        standby.predict_many([f"fine {i}" for i in range(40)])  # the leader dies; the standby's window is new
        taken_over = drift_job(standby)
        assert (taken_over.status, taken_over.consecutive, taken_over.windows) == ("drift", 2, 2)
