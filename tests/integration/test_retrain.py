"""The retrain loop on a real service (tiny model, real SQLite store, the real LoRA loop of ``finetune`` wired as the
app wires it, ``scheduler.retrain.build_retrain``): production labels -> a challenger -> its report -> promote,
lineage, rollback; the refusals (too few labels, a second job), cancel, and the held-out slice never trained on.

``Spy`` wraps the real trainer only to see what it was asked to train on and to know when training has stepped:
the training itself is the real one."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from appserver import metric_value
from finetune.retrain import LoraTrainer
from scheduler.retrain import build_retrain
from sentiment.datasets.feedback import FeedbackStore
from sentiment.errors import AccessDeniedError, NotEnoughLabelsError, RetrainError
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABELS
from sentiment.models.runs import runs_dir
from sentiment.service.metrics import ServiceMetrics
from sentiment.service.retrain import Progress, RetrainService, TrainRequest, held_out
from sentiment.service.serving import SentimentService
from sentiment.settings import Settings
from sentiment.web.ui.retrain import retrain_markdown

pytestmark = pytest.mark.slow
TOKEN = "retrain-secret"
WORDS = {"negative": "worst service ever", "neutral": "the package arrived on tuesday", "positive": "i love this"}


class Spy:
    """The real trainer, recording each request and setting ``stepped`` at its first optimiser step."""

    def __init__(self, inner: LoraTrainer) -> None:
        self.inner = inner
        self.requests: list[TrainRequest] = []
        self.stepped = threading.Event()

    def __call__(self, request: TrainRequest, progress: Progress) -> None:
        self.requests.append(request)
        update = progress.update

        def spied(step: int, total: int, loss: float) -> None:
            update(step, total, loss)
            self.stepped.set()

        progress.update = spied  # type: ignore[method-assign]
        self.inner(request, progress)


@pytest.fixture
def service(tiny_model_dir: Path, settings: Settings) -> Iterator[SentimentService]:
    configured = settings.model_copy(
        update={
            "model": str(tiny_model_dir),
            "admin_token": SecretStr(TOKEN),
            "review_rate": 1.0,
            "review_daily_cap": 100_000,
            "reference_production_rows": 0,
            "retrain_min_labels": 40,
            "retrain_max_steps": 4,
            "retrain_batch_size": 8,
            "retrain_max_length": 16,
            "retrain_mix_ratio": 0.25,
        }
    )
    service = SentimentService(
        configured, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(tiny_model_dir), configured)
    )
    service.start()
    yield service
    service.stop()


def _retrain(service: SentimentService, **settings: Any) -> tuple[RetrainService, Spy]:
    if settings:
        service.settings = service.settings.model_copy(update=settings)
    retrain = build_retrain(service)
    spy = Spy(LoraTrainer(service.settings))
    retrain.trainer = spy
    return retrain, spy


def _labels(service: SentimentService, feedback: int, reviewed: int) -> dict[str, str]:
    """``feedback`` accepted feedback rows given with their text, one accepted feedback row without text whose
    prediction the review sample kept, and ``reviewed`` labelled review-sample rows; returns prediction id -> text."""
    store = FeedbackStore(service.store)
    texts: dict[str, str] = {}
    for i in range(feedback):
        label = LABELS[i % 3]
        pid, text = uuid.uuid4().hex, f"{WORDS[label]} number {i}"
        store.add(pid, label, client="owner", source="bulk", reviewed="accepted", text=text)
        texts[pid] = text
    for i in range(reviewed + 1):
        assert service.predict(f"{WORDS[LABELS[i % 3]]} sampled {i}").ok
    assert service.monitoring.log is not None and service.monitoring.log.flush(60)
    rows = service.review.queue.rows(state="all", limit=10_000)
    assert len(rows) == reviewed + 1  # review rate 1: every prediction is sampled
    for i, row in enumerate(rows[:reviewed]):
        service.review.label(row["id"], LABELS[i % 3])
        texts[row["prediction_id"]] = row["text"]
    last = rows[-1]  # feedback without text: the review sample kept the prediction's text
    store.add(last["prediction_id"], "neutral", client="owner", source="bulk", reviewed="accepted")
    texts[last["prediction_id"]] = last["text"]
    return texts


def test_below_the_minimum_it_refuses_and_says_how_many_more_labels_it_needs(service: SentimentService) -> None:
    """31 labels of the 40 needed: ``NotEnoughLabelsError`` asks for 9 more, no job starts and no run is written;
    a wrong token is refused before anything is read."""
    retrain, spy = _retrain(service)
    _labels(service, feedback=20, reviewed=10)
    with pytest.raises(AccessDeniedError, match="wrong or missing admin token"):
        retrain.start("nope")
    with pytest.raises(NotEnoughLabelsError, match="needs at least 40: label 9 more") as refused:
        retrain.start(TOKEN)
    assert (refused.value.have, refused.value.needed) == (31, 9)
    assert retrain.status()["state"] == "idle" and not spy.requests
    assert not runs_dir(service.settings.data_dir).exists()


def test_one_job_at_a_time_with_progress_and_cancel_keeps_nothing(service: SentimentService) -> None:
    """While a job trains (bounded at 10,000 steps so it is still running), a second start is refused naming the
    running one; its status shows step, total, loss and an ETA; cancel ends it as "cancelled" (a job outcome of
    success: a cancellation is not a failure for the alerts), removes its run folder, and leaves no challenger."""
    retrain, spy = _retrain(service, retrain_max_steps=10_000)
    _labels(service, feedback=40, reviewed=5)
    retrain.start(TOKEN)
    assert spy.stepped.wait(120)
    with pytest.raises(RetrainError, match="a retrain job is already running \\(training, step"):
        retrain.start(TOKEN)
    status = retrain.status()
    assert status["running"] and status["state"] == "training" and status["total_steps"] == 10_000
    assert status["step"] >= 1 and isinstance(status["loss"], float) and status["eta_s"] is not None
    retrain.cancel(TOKEN)
    assert retrain.wait(120)
    status = retrain.status()
    assert (status["state"], status["running"], status["challenger"], status["error"]) == (
        "cancelled",
        False,
        None,
        None,
    )
    assert status["step"] < 10_000
    assert not list(runs_dir(service.settings.data_dir).glob("*")), "a cancelled run must leave no folder"
    metrics = service.metrics.render().decode()
    assert metric_value(metrics, "scheduler_job_runs_total", {"job": "retrain", "outcome": "success"}) == 1
    with pytest.raises(RetrainError, match="no retrain job is running"):
        retrain.cancel(TOKEN)


def test_the_held_out_slice_is_never_trained_on_and_is_what_the_report_judges(service: SentimentService) -> None:
    """Every production label whose id hashes below the held-out share is absent from the rows the trainer got
    (training and validation) and is exactly the set the report scores; the others are all trained on (with 25%
    as many shipped rows mixed in); a second retrain holds out the same labels."""
    retrain, spy = _retrain(service)
    texts = _labels(service, feedback=45, reviewed=10)
    retrain.start(TOKEN)
    assert retrain.wait(300)
    status = retrain.status()
    assert status["state"] == "finished", status["error"]
    share = service.settings.retrain_holdout_share
    held = {pid for pid in texts if held_out(pid, share)}
    assert held and len(held) < len(texts)
    request = spy.requests[0]
    trained = set(request.train["text"]) | set(request.validation["text"])
    assert trained.isdisjoint(texts[pid] for pid in held)
    assert {texts[pid] for pid in texts if pid not in held} <= trained
    challenger = retrain.challenger
    assert challenger is not None
    assert set(challenger.data.held_out["prediction_id"]) == held
    assert challenger.report.held_out["champion"].n == len(held) == challenger.report.held_out["challenger"].n
    # few held-out labels from the review sample (of 10 sampled, ~2): no interval on the traffic, and it says why
    assert challenger.report.window is None
    assert "an interval needs 25 (SENTIMENT_PPI_MIN_LABELS)" in status["window"]
    assert challenger.data.mixed_rows == round(0.25 * (len(texts) - len(held)))
    assert challenger.report.forgetting["challenger"].n > 0 and challenger.report.forgetting_dataset == "vader_tweets"
    again = build_retrain(service)
    again.trainer = spy
    again.start(TOKEN)
    assert again.wait(300) and again.challenger is not None
    assert set(again.challenger.data.held_out["prediction_id"]) == held


def test_promote_serves_the_challenger_with_its_lineage_and_rollback_returns(service: SentimentService) -> None:
    """A "keep" verdict refuses promotion without force; promote switches to the run (``/health`` names it by its run
    name, never by its path on the server, and it is calibrated as the champion is: the temperature map fitted on the
    retrain's validation rows and the mixed-in set's validation split) and stores base, adapter digest (the SHA-256
    of the adapter file), data digest, row counts, metrics, who; rollback serves the configured model again and is
    stored too; nothing earlier: rollback refuses."""
    retrain, _ = _retrain(service, retrain_holdout_share=0.5, ppi_min_labels=10)
    texts = _labels(service, feedback=40, reviewed=40)
    with pytest.raises(RetrainError, match="nothing to roll back to"):
        retrain.rollback(TOKEN)
    with pytest.raises(RetrainError, match="no challenger yet"):
        retrain.promote(TOKEN)
    retrain.start(TOKEN)
    assert retrain.wait(300) and retrain.challenger is not None
    challenger = retrain.challenger
    # the window's labelled review rows that the held-out rule keeps (20 or so of its 40), whenever they were labelled:
    # each model's accuracy on the window's traffic
    sampled = {row["prediction_id"] for row in service.review.queue.rows(state="all", limit=10_000) if row["label"]}
    window = challenger.report.window
    assert window is not None and window.champion.n == sum(held_out(pid, 0.5) for pid in sampled) > 0
    assert window.champion.n == len(sampled & set(challenger.data.held_out["prediction_id"]))  # none labelled since
    # the window's predictions: the 40 labelled draws (the 41st, unlabelled, ends the window: see ProductionTruth)
    assert window.champion.N == window.challenger.N == 40 == len(texts) - 41
    assert window.challenger.width_ratio <= 1 and retrain.status()["window"] == window.line()
    assert "Accuracy on the window's traffic (prediction-powered, 90%" in retrain_markdown(retrain.status())
    restored = build_retrain(service).challenger  # the store keeps it: a restart before the owner decides loses nothing
    assert restored is not None and restored.data is None and restored.folder == challenger.folder
    assert (restored.summary(), restored.report) == (challenger.summary(), challenger.report)
    kept = replace(challenger.report, verdict="keep", reason="keep: a reason")
    retrain.challenger = replace(challenger, report=kept)
    with pytest.raises(RetrainError, match="the verdict is keep: a reason; promote with force"):
        retrain.promote(TOKEN)
    retrain.challenger = challenger
    configured = service.serving_spec
    promoted = retrain.promote(TOKEN, force=True)
    assert service.serving_spec == challenger.run
    model = service.health()["model"]
    assert model["name"] == promoted["serving"]["name"] == challenger.run  # named as the Models tab lists it
    data_dir = str(service.settings.data_dir)  # the server's path names no model, in /health or in a metric label
    assert data_dir not in json.dumps(model) and data_dir not in service.metrics.render().decode()
    assert model["calibrated"] is True and "+cal:" in model["revision"] and "temperature" in model["calibration"]
    fitted_on = json.loads((challenger.folder / "calibration.json").read_text())["fitted_on"]
    assert fitted_on == "the retrain's validation rows and the validation split of vader_tweets"
    row = promoted["lineage"]
    adapter = (challenger.folder / "adapter_model.safetensors").read_bytes()
    assert row["action"] == "promote" and (row["model"], row["previous"]) == (challenger.run, configured)
    assert row["base"] == configured and row["adapter_digest"] == hashlib.sha256(adapter).hexdigest()
    assert row["data_digest"] == challenger.data.digest and row["actor"] == "admin"
    assert row["rows"] == challenger.data.counts() and row["rows"]["production_train"] > 0
    assert row["metrics"]["verdict"] == challenger.report.verdict
    assert row["metrics"]["held_out"]["challenger"]["accuracy"] == pytest.approx(
        challenger.report.held_out["challenger"].accuracy
    )
    back = retrain.rollback(TOKEN)
    assert service.serving_spec == configured
    assert back["serving"]["name"] == service.health()["model"]["name"] != promoted["serving"]["name"]
    assert [(r["action"], r["model"], r["previous"]) for r in retrain.lineage.rows()] == [
        ("promote", challenger.run, configured),
        ("rollback", configured, challenger.run),
    ]
    assert build_retrain(service).challenger is None  # promoted: a restart does not offer it again
    service.switch_model("vader", TOKEN)  # judged against the configured model, which serves no more
    retrain.challenger = replace(challenger, report=replace(challenger.report, verdict="promote"))
    with pytest.raises(RetrainError, match=f"was judged against {re.escape(configured)}, and vader serves now"):
        retrain.promote(TOKEN)


def test_past_the_time_bound_it_keeps_what_it_has_and_a_failing_trainer_is_isolated(
    service: SentimentService,
) -> None:
    """With SENTIMENT_RETRAIN_MAX_SECONDS at 1 ms the job stops after its first step of 10,000 and still finishes
    with a judged challenger, saying it stopped at the time limit. A trainer that raises (here MemoryError, as an
    out-of-memory would) leaves the job "failed" with the error named, counted by the job runner as a failure
    (``scheduler_job_failures_total{job="retrain"}``), no run folder, and the service still serving."""
    retrain, _ = _retrain(service, retrain_max_steps=10_000, retrain_max_seconds=0.001)
    _labels(service, feedback=40, reviewed=5)
    retrain.start(TOKEN)
    assert retrain.wait(300)
    status = retrain.status()
    assert status["state"] == "finished" and status["stopped_at_time_limit"]
    assert status["step"] < 10_000 and status["verdict"] in {"promote", "keep"}

    def out_of_memory(request: TrainRequest, progress: Progress) -> None:
        request.output_dir.mkdir(parents=True)
        raise MemoryError("cannot allocate 4 GiB")

    failing = build_retrain(service)
    failing.trainer = out_of_memory
    failing.start(TOKEN)
    assert failing.wait(60)
    status = failing.status()
    assert (status["state"], status["error"]) == ("failed", "MemoryError: cannot allocate 4 GiB")
    metrics = service.metrics.render().decode()
    assert metric_value(metrics, "scheduler_job_failures_total", {"job": "retrain"}) == 1
    assert retrain.challenger is not None  # the first job's run is the only one left
    assert list(runs_dir(service.settings.data_dir).glob("*-retrain-*")) == [retrain.challenger.folder]
    assert service.predict("i love this").ok


def test_a_job_past_the_runners_limit_fails_and_stops_keeping_nothing(service: SentimentService) -> None:
    """The job runner gives up on a job after its time limit (here 0.5 s, while training 10,000 steps): the status
    says "failed" and why at once, the job's thread (which a runner cannot kill) stops at its next step, and its run
    folder is removed; the runner counts a timeout."""
    from scheduler.runner import JobRunner

    retrain, spy = _retrain(service, retrain_max_steps=10_000)
    runner = JobRunner(service.metrics.monitoring, timeout_s=0.5)
    retrain.runner = runner
    _labels(service, feedback=40, reviewed=5)
    retrain.start(TOKEN)
    assert retrain.wait(60)
    status = retrain.status()
    assert status["state"] == "failed" and "ran past its time limit" in status["error"]
    thread = runner._threads["retrain"]
    thread.join(120)  # the job's own thread: it must end by itself, having seen the cancel
    assert not thread.is_alive()
    assert spy.requests and not spy.requests[0].output_dir.exists()
    metrics = service.metrics.render().decode()
    assert metric_value(metrics, "scheduler_job_runs_total", {"job": "retrain", "outcome": "timeout"}) == 1


def test_publishing_offline_uploads_nothing_and_leaves_a_run_the_cli_publishes(service: SentimentService) -> None:
    """With the Hub unreachable (``HF_HUB_OFFLINE``), ``publish`` uploads nothing and refuses, naming the reason and
    the command for later; it has written the run's model card from the challenger's report, so that command's folder
    (built and checked by the CLI's own ``finetune.publish.publish``, dry run) has a card whose metadata names the base
    model, carries the calibration map and no path under the data folder, and whose adapter loads back. A repository
    that is not owner/name is refused before anything."""
    from huggingface_hub import ModelCard

    from finetune.publish import publish

    retrain, _ = _retrain(service)
    _labels(service, feedback=40, reviewed=5)
    retrain.start(TOKEN)
    assert retrain.wait(300) and retrain.challenger is not None
    run = retrain.challenger.run
    with pytest.raises(RetrainError, match="not a Hub model repository"):
        retrain.publish(TOKEN, "no slash here")
    with pytest.raises(AccessDeniedError):
        retrain.publish("wrong", "me/sentiment")
    with pytest.raises(RetrainError) as refused:
        retrain.publish(TOKEN, "me/sentiment")
    assert "HF_HUB_OFFLINE is set. Nothing was uploaded" in str(refused.value)
    assert f"python -m finetune publish {run} --repo me/sentiment" in str(refused.value)
    folder = publish(retrain.challenger.folder, "me/sentiment", service.settings, dry_run=True)
    card = ModelCard.load(folder / "README.md")
    assert card.data.to_dict()["base_model"] and retrain.challenger.data_digest in card.text
    assert retrain.challenger.report.reason in card.text and (folder / "calibration.json").exists()
    published = {p.name: p.read_text() for p in folder.iterdir() if p.suffix in {".json", ".md"}}
    assert "training_args.json" in published and "run.json" in published
    assert not [name for name, text in published.items() if str(service.settings.data_dir) in text]
