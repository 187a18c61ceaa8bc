"""Retraining inside the app (issue 29): a LoRA fine-tune of the serving model on production labels as a background
job, judged against the serving model on labels it never saw (``judge``, ``window``), kept in the store
(``challenger``), then promoted or rolled back with its lineage kept, or published (``publishing``).

One job at a time in a process; bounded by SENTIMENT_RETRAIN_MAX_STEPS and SENTIMENT_RETRAIN_MAX_SECONDS (past the
time it keeps what it has; a job that overruns even that plus a grace is failed); cancellable. The training, the job
runner and the publishing are injected (``job``): ``scheduler.retrain.build_retrain`` wires ``finetune``'s and the
scheduler's ``JobRunner`` (failure isolation, job metrics), which ``sentiment`` may not import."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentiment.datasets import load_split
from sentiment.errors import RetrainCancelledError, RetrainError
from sentiment.inference.predictor import Predictor
from sentiment.models.runs import RUN_FILE, admin_spec, runs_dir
from sentiment.models.spec import ModelSpec
from sentiment.service.retrain.challenger import Challenger, keep_challenger, restore_challenger
from sentiment.service.retrain.data import RetrainData, retrain_data
from sentiment.service.retrain.job import RUNNING, JobRunning, Progress, Publisher, Trainer, TrainRequest
from sentiment.service.retrain.judge import ChallengerReport, judge
from sentiment.service.retrain.lineage import Lineage, LineageRecord, adapter_digest
from sentiment.service.retrain.publishing import publish_challenger
from sentiment.service.retrain.window import challenger_window_accuracy

if TYPE_CHECKING:
    from sentiment.service.serving import SentimentService

logger = logging.getLogger(__name__)
JOB = "retrain"
LINEAGE_SHOWN = 10  # promotions and rollbacks the status lists, newest last
OUTCOMES = {  # the job runner's outcomes other than success, in words for the status
    "timeout": "the job ran past its time limit (SENTIMENT_RETRAIN_MAX_SECONDS plus a grace for loading and judging); "
    "it stops at its next training step and keeps nothing",
    "skipped": "the previous retrain is still stopping (it ran past its time limit); start again once it has ended",
}


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
        # the challenger the last job left, kept in the store (read again later if the store is down at start)
        self.challenger, self._restored = restore_challenger(service.store, self.settings.data_dir)

    def _current(self) -> Challenger | None:
        if self.challenger is None and not self._restored and not self.running:
            self.challenger, self._restored = restore_challenger(self.service.store, self.settings.data_dir)
        return self.challenger

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
                keep_challenger(self.service.store, self.challenger)
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
        report = judge(
            (champion_spec, folder.name),
            (*both(held_texts), data.held_out["label"].tolist()),
            (*both(forget_texts), forgetting["label"].tolist()),
            self.settings.retrain_forgetting_dataset,
            tolerance=self.settings.retrain_forgetting_tolerance,
            seed=self.settings.seed,
        )
        window, note = challenger_window_accuracy(self.service.truth, self.settings, champion.info.name, challenger)
        return replace(report, window=window, window_note=note)

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
        challenger = self._current()
        return {
            **progress,
            "running": progress["state"] in RUNNING,
            "error": self._error,
            "challenger": None if challenger is None else challenger.summary(),
            "verdict": None if challenger is None else challenger.report.verdict,
            "reason": None if challenger is None else challenger.report.reason,
            "window": None if challenger is None else challenger.report.window_line,
            "lineage": self.lineage.rows(limit=LINEAGE_SHOWN),
        }

    # --- judging, promotion, rollback ----------------------------------------------------------------------------
    def _finished(self) -> Challenger:
        challenger = self._current()
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
        if challenger.champion != self.service.serving_spec and not force:
            raise RetrainError(
                f"{challenger.run} was judged against {challenger.champion}, and {self.service.serving_spec} serves "
                "now: retrain to judge it against what serves, or promote with force"
            )
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
        keep_challenger(self.service.store, challenger, promoted=True)
        logger.info("promoted %s (was %s) by %s", challenger.run, previous, actor)
        return {"serving": info.as_dict(), "lineage": self.lineage.rows(limit=1)[-1]}

    def publish(self, token: str | None, repo: str, revision: str | None = None) -> dict[str, Any]:
        """Publish the newest challenger's run to the Hub (``publishing.publish_challenger``: offline it uploads
        nothing and says so)."""
        self.service.check_admin(token)
        return publish_challenger(self._finished, self.publisher, repo, revision, self.settings.hub_timeout_s)

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
