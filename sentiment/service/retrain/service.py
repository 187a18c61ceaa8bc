"""Retraining inside the app (issue 29): a LoRA fine-tune of the serving model on production labels as a background
job, judged against the serving model on labels it never saw, then promoted or rolled back with its lineage kept.

One job at a time in a process (a second start is refused while one runs); bounded by SENTIMENT_RETRAIN_MAX_STEPS
and SENTIMENT_RETRAIN_MAX_SECONDS (past the time it keeps what it has; the job runner reports a job that overruns
even that, plus a grace for loading and judging, as failed); cancellable. The training itself and the job runner
are injected (``job.Trainer``, ``job.JobRunning``): ``scheduler.retrain.build_retrain`` wires ``finetune``'s loop
and the scheduler's ``JobRunner`` (its failure isolation and job metrics), which ``sentiment`` may not import.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentiment.datasets import load_split
from sentiment.errors import RetrainCancelledError, RetrainError, SampleDesignError
from sentiment.inference.predictor import Predictor
from sentiment.labels import LABEL_TO_ID
from sentiment.models.hub import hub_status
from sentiment.models.runs import RUN_FILE, admin_spec, run_path, runs_dir
from sentiment.models.spec import ModelSpec
from sentiment.monitoring.monitor_state import load_state, save_state
from sentiment.monitoring.ppi import RANDOM_SAMPLE, LabelledRows, WindowPredictions
from sentiment.service.production_truth import PROBABILITIES
from sentiment.service.retrain.data import RetrainData, retrain_data
from sentiment.service.retrain.job import RUNNING, JobRunning, Progress, Publisher, Trainer, TrainRequest
from sentiment.service.retrain.judge import ChallengerReport, WindowAccuracy, judge, window_accuracy
from sentiment.service.retrain.lineage import Lineage, LineageRecord, adapter_digest

if TYPE_CHECKING:
    from sentiment.service.serving import SentimentService

logger = logging.getLogger(__name__)
JOB = "retrain"
_HUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
CHALLENGER_KEY = "retrain_challenger"  # monitor_state key: the newest challenger (``Challenger.as_state``)
LINEAGE_SHOWN = 10  # promotions and rollbacks the status lists, newest last
OUTCOMES = {  # the job runner's outcomes other than success, in words for the status
    "timeout": "the job ran past its time limit (SENTIMENT_RETRAIN_MAX_SECONDS plus a grace for loading and judging); "
    "it stops at its next training step and keeps nothing",
    "skipped": "the previous retrain is still stopping (it ran past its time limit); start again once it has ended",
}


@dataclass(frozen=True)
class Challenger:
    """A finished retrain: its run (servable by name), what it was trained from and on, and its report. Kept in the
    store (``as_state``) so that a restart between the job and the owner's decision loses neither; ``data`` (the rows
    themselves) only in the process that trained it."""

    run: str
    folder: Path
    base: str
    champion: str
    data_digest: str
    rows: dict[str, int]
    report: ChallengerReport
    data: RetrainData | None = None

    def summary(self) -> dict[str, Any]:
        return {"run": self.run, "base": self.base, "data_digest": self.data_digest, "rows": self.rows}

    def as_state(self) -> dict[str, Any]:
        return {**self.summary(), "champion": self.champion, "report": self.report.as_dict()}

    @classmethod
    def from_state(cls, state: dict[str, Any], folder: Path) -> Challenger:
        return cls(
            run=state["run"],
            folder=folder,
            base=state["base"],
            champion=state["champion"],
            data_digest=state["data_digest"],
            rows=state["rows"],
            report=ChallengerReport.from_dict(state["report"]),
        )


class RetrainService:
    """The retrain job, the challenger it leaves, and promotion and rollback of the serving model (admin only)."""

    def __init__(
        self, service: SentimentService, trainer: Trainer, runner: JobRunning, publisher: Publisher | None = None
    ) -> None:
        self.service = service
        self.settings = service.settings
        self.trainer = trainer
        self.runner = runner
        self.publisher = publisher
        self.lineage = Lineage(service.store)
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._thread: threading.Thread | None = None
        self._error: str | None = None
        self.challenger: Challenger | None = self._restore()

    def _restore(self) -> Challenger | None:
        """The challenger the last job left (kept in the store), unless its run folder is gone or it no longer
        loads from what was kept: a restart between a job and the owner's decision loses neither. A store that is
        down leaves none (logged): the app starts anyway."""
        try:
            state = load_state(self.service.store, CHALLENGER_KEY)
            if not state:
                return None
            folder = run_path(self.settings.data_dir, str(state.get("run", "")))
            if folder is None:
                logger.info("the stored challenger %s is gone from the runs folder", state.get("run"))
                return None
            return Challenger.from_state(state, folder)
        except Exception as exc:  # a store that is down, or a state an older version wrote
            logger.warning("the stored challenger is not restored: %s: %s", type(exc).__name__, exc)
            return None

    def _keep(self, challenger: Challenger) -> None:
        try:
            save_state(self.service.store, CHALLENGER_KEY, challenger.as_state())
        except Exception as exc:  # the challenger stays in memory: only a restart would forget it
            logger.warning("the challenger %s is not kept in the store: %s", challenger.run, exc)

    # --- the job ---------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, token: str | None) -> dict[str, Any]:
        """Start a retrain of the serving model on the production labels; refuses while one runs
        (``RetrainError``), below the minimum of labels (``NotEnoughLabelsError``, saying how many more), and for a
        serving model without weights to fine-tune. The data is gathered here, so a refusal is immediate."""
        self.service.check_admin(token)
        with self._lock:
            if self.running and self._progress is not None:
                now = self._progress.snapshot()
                raise RetrainError(
                    f"a retrain job is already running ({now['state']}, step {now['step']} of {now['total_steps']}): "
                    "wait for it (retrain_status) or cancel it (retrain_cancel)"
                )
            base = self._base()
            data = retrain_data(self.service.store, self.settings)
            progress = Progress(self.settings.retrain_max_seconds)
            self._progress, self._error = progress, None
            thread = threading.Thread(target=self._run, args=(progress, base, data), name="retrain", daemon=True)
            self._thread = thread
            thread.start()
        logger.info("retrain started from %s on %s", base, data.counts())
        return self.status()

    def _base(self) -> str:
        """The spec of what serves, resolved to what the trainer loads (a run name to its folder; ``auto`` to what
        it chose). ``RetrainError`` for the lexicon: it has no weights to fine-tune."""
        spec, info = self.service.serving_spec, self.service.model_info
        kind = ModelSpec.parse(spec).kind
        if kind == "vader" or (info is not None and info.source == "lexicon"):
            raise RetrainError(
                f"the serving model {spec!r} is the VADER lexicon: it has no weights to fine-tune; switch to a "
                "transformer (e.g. 'embedded') first"
            )
        if kind == "auto":  # what 'auto' chose: the Hub model, or the embedded one offline
            return self.settings.hub_model if info is not None and info.source == "hub" else "embedded"
        return admin_spec(spec, self.settings.data_dir, self.settings.model)

    def _run(self, progress: Progress, base: str, data: RetrainData) -> None:
        """The job thread: runs ``_job`` through the injected runner (failure isolation, metrics, time limit)."""
        found: dict[str, Challenger] = {}
        errors: list[str] = []

        def job() -> None:
            try:
                found["challenger"] = self._job(progress, base, data)
            except RetrainCancelledError:
                return  # the owner's choice, not a failure: the job ends well, and "cancelled"
            except BaseException as exc:  # recorded for the status, then re-raised for the runner to count
                errors.append(str(exc) if isinstance(exc, RetrainError) else f"{type(exc).__name__}: {exc}")
                raise

        outcome = self.runner.run(JOB, job)
        with self._lock:
            if outcome in OUTCOMES:  # the job's thread may still run (a thread cannot be killed): stop it, keep nothing
                progress.cancel()
                self._error = OUTCOMES[outcome]
                progress.set_state("failed")
            elif progress.cancelled:
                progress.set_state("cancelled")
            elif outcome == "success" and "challenger" in found:
                self.challenger = found["challenger"]
                self._keep(self.challenger)
                progress.set_state("finished")
            else:
                self._error = errors[0] if errors else f"the retrain job ended with outcome {outcome!r}"
                progress.set_state("failed")
        logger.info("retrain job: %s", progress.state)

    def _job(self, progress: Progress, base: str, data: RetrainData) -> Challenger:
        champion_spec, champion = self.service.serving_spec, self.service.predictor
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        folder = runs_dir(self.settings.data_dir) / f"{stamp}-retrain-{uuid.uuid4().hex[:6]}"
        request = TrainRequest(
            base=base,
            train=data.train,
            validation=data.validation,
            output_dir=folder,
            max_steps=self.settings.retrain_max_steps,
            batch_size=self.settings.retrain_batch_size,
            max_length=self.settings.retrain_max_length,
            seed=self.settings.seed,
        )
        try:
            progress.set_state("training")
            self.trainer(request, progress)
            if progress.cancelled:
                raise RetrainCancelledError("the retrain job was cancelled: nothing was kept")
            progress.set_state("judging")
            report = self._judge(champion_spec, champion, folder, data)
            if progress.cancelled:  # cancelled while judging, or the runner gave up on the job
                raise RetrainCancelledError("the retrain job was cancelled: nothing was kept")
        except BaseException:  # whatever the trainer left is no servable challenger: never listed, never served
            shutil.rmtree(folder, ignore_errors=True)
            raise
        summary = {
            "run": folder.name,
            "created_at": time.time(),
            "base": base,
            "datasets": ["production-labels", *([self.settings.retrain_mix_dataset] if data.mixed_rows else [])],
            "rows": data.counts(),
            "data_digest": data.digest,
            "verdict": report.verdict,
            "reason": report.reason,
        }
        (folder / RUN_FILE).write_text(json.dumps(summary, indent=2) + "\n")  # listed in the Models tab
        return Challenger(folder.name, folder, base, champion_spec, data.digest, data.counts(), report, data)

    def _judge(self, champion_spec: str, champion: Predictor, folder: Path, data: RetrainData) -> ChallengerReport:
        challenger = Predictor.load(str(folder), self.settings)
        forgetting = load_split(self.settings.retrain_forgetting_dataset, "test", self.settings)

        def both(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
            return champion.predict_batch(texts).probabilities, challenger.predict_batch(texts).probabilities

        held_texts, forget_texts = data.held_out["text"].tolist(), forgetting["text"].tolist()
        champion_held, challenger_held = both(held_texts)
        report = judge(
            (champion_spec, folder.name),
            (champion_held, challenger_held, data.held_out["label"].tolist()),
            (*both(forget_texts), forgetting["label"].tolist()),
            self.settings.retrain_forgetting_dataset,
            tolerance=self.settings.retrain_forgetting_tolerance,
            seed=self.settings.seed,
        )
        predicted = dict(zip(data.held_out["prediction_id"], challenger_held.argmax(axis=1), strict=True))
        window, note = self._window_accuracy(champion.info.name, predicted)
        return replace(report, window=window, window_note=note)

    def _window_accuracy(self, champion: str, predicted: dict[str, int]) -> tuple[WindowAccuracy | None, str]:
        """Both models' accuracy on the champion's window of traffic (``judge.window_accuracy``) from the held-out
        rows (``predicted``: prediction id -> the challenger's class id) that the window's random review sample drew,
        or None and why not."""
        found = self.service.truth.window(champion)
        if found is None:
            return None, "no interval on the window's traffic: the prediction log is off"
        rows = found.labelled[found.labelled["prediction_id"].isin(list(predicted))]
        minimum = self.settings.ppi_min_labels
        if len(rows) < minimum:
            return None, (
                f"no interval on the window's traffic: {len(rows)} of the held-out labels come from its random review "
                f"sample, and an interval needs {minimum} (SENTIMENT_PPI_MIN_LABELS); label more sampled predictions"
            )
        labels = rows["label"].tolist()
        correct = np.array([predicted[pid] for pid in rows["prediction_id"]]) == [LABEL_TO_ID[y] for y in labels]
        try:
            labelled = LabelledRows.of(
                labels,
                rows[PROBABILITIES].to_numpy(dtype=np.float64),
                inclusion=rows["inclusion_probability"].to_numpy(dtype=np.float64),
                provenance=RANDOM_SAMPLE,
                served=rows["served_label"].tolist(),
            )
            traffic = found.predictions
            window = WindowPredictions.of(traffic[PROBABILITIES].to_numpy(dtype=np.float64), traffic["label"].tolist())
            return window_accuracy(labelled, window, correct), ""
        except SampleDesignError as exc:  # e.g. the sampling rate changed inside the window
            return None, f"no interval on the window's traffic: {exc}"

    def cancel(self, token: str | None) -> dict[str, Any]:
        """Ask the running job to stop (at its next training step); ``RetrainError`` when none runs."""
        self.service.check_admin(token)
        with self._lock:
            if not self.running or self._progress is None:
                raise RetrainError("no retrain job is running: nothing to cancel")
            self._progress.cancel()
        return self.status()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when none runs any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def status(self) -> dict[str, Any]:
        """The job's progress (state, step, total, loss, ETA), its error, and the challenger it left, if any, with its
        verdict, the reason, and its accuracy on the window's traffic beside the serving model's (or why the review
        sample does not give it)."""
        progress = self._progress.snapshot() if self._progress is not None else {"state": "idle"}
        challenger = self.challenger
        return {
            **progress,
            "running": progress["state"] in RUNNING,
            "error": self._error,
            "challenger": None if challenger is None else challenger.summary(),
            "verdict": None if challenger is None else challenger.report.verdict,
            "reason": None if challenger is None else challenger.report.reason,
            "window": None if challenger is None else challenger.report.as_dict()["window_line"],
            "lineage": self.lineage.rows(limit=LINEAGE_SHOWN),
        }

    # --- judging, promotion, rollback ----------------------------------------------------------------------------
    def _finished(self) -> Challenger:
        challenger = self.challenger
        if challenger is None:
            raise RetrainError("no challenger yet: start a retrain (retrain_start) and wait for it to finish")
        return challenger

    def report(self, token: str | None) -> dict[str, Any]:
        """The newest challenger's report against the model that served when it was trained."""
        self.service.check_admin(token)
        return self._finished().report.as_dict()

    def promote(self, token: str | None, force: bool = False, actor: str = "admin") -> dict[str, Any]:
        """Serve the challenger (the hot switch) and record its lineage; refused while a job runs, and when its
        verdict is "keep" unless ``force``."""
        self.service.check_admin(token)
        if self.running:
            raise RetrainError("a retrain job is running: promote its challenger once it has finished")
        challenger = self._finished()
        if challenger.report.verdict != "promote" and not force:
            raise RetrainError(f"the verdict is {challenger.report.reason}; promote with force to override it")
        previous = self.service.serving_spec
        info = self.service.switch_model(challenger.run, token)
        record = LineageRecord(
            action="promote",
            model=challenger.run,
            previous=previous,
            actor=actor,
            base=challenger.base,
            adapter_digest=adapter_digest(challenger.folder),
            data_digest=challenger.data_digest,
            rows=challenger.rows,
            metrics=challenger.report.as_dict(),
        )
        self.lineage.add(record)
        logger.info("promoted %s (was %s) by %s", challenger.run, previous, actor)
        return {"serving": info.as_dict(), "lineage": self.lineage.rows(limit=1)[-1]}

    def publish(self, token: str | None, repo: str, revision: str | None = None) -> dict[str, Any]:
        """Publish the newest challenger's run to the Hub model repository ``repo`` (``owner/name``), with a model card
        written from its report, as ``python -m finetune publish`` does (``HF_TOKEN`` from the environment). Where
        the Hub cannot be reached (offline, ``HF_HUB_OFFLINE``) it uploads nothing: it writes the card, checks the
        folder (a dry run), and refuses with the command that publishes the run later."""
        self.service.check_admin(token)
        repo, revision = (repo or "").strip(), (revision or "").strip() or None
        if not _HUB_REPO.match(repo):
            raise RetrainError(f"{repo!r} is not a Hub model repository: give it as owner/name")
        challenger = self._finished()
        if self.publisher is None:
            raise RetrainError("publishing is not set up in this app")
        reachable, reason = hub_status(self.settings.hub_timeout_s)
        if not reachable:  # the card is written and the folder checked, so the command below publishes it as it is
            self.publisher(challenger.folder, repo, challenger.as_state(), revision=revision, dry_run=True)
            raise RetrainError(
                f"cannot publish {challenger.run} to the Hub: {reason}. Nothing was uploaded; where the Hub can be "
                f"reached, publish it from here or run: python -m finetune publish {challenger.run} --repo {repo}"
            )
        self.publisher(challenger.folder, repo, challenger.as_state(), revision=revision)
        logger.info("published %s to %s%s", challenger.run, repo, f"@{revision}" if revision else "")
        return {"run": challenger.run, "repo": repo, "revision": revision, "url": f"https://huggingface.co/{repo}"}

    def rollback(self, token: str | None, to: str | None = None, actor: str = "admin") -> dict[str, Any]:
        """Serve an earlier model again (``to``, default: the one served just before this one) and record it."""
        self.service.check_admin(token)
        served = list(self.service.served)
        if not served:
            raise RetrainError("nothing to roll back to: no other model has served since the app started")
        target = (to or "").strip() or served[-1]
        if target not in served:
            raise RetrainError(f"{target!r} has not served here; models served before: {', '.join(reversed(served))}")
        previous = self.service.serving_spec
        info = self.service.switch_model(target, token)
        self.lineage.add(LineageRecord(action="rollback", model=target, previous=previous, actor=actor))
        logger.info("rolled back from %s to %s by %s", previous, target, actor)
        return {"serving": info.as_dict(), "lineage": self.lineage.rows(limit=1)[-1]}
