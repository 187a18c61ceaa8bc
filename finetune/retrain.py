"""The app's retrain trainer: ``finetune.train.fit`` behind the ``sentiment.service.retrain.Trainer`` contract.

``sentiment`` may not import ``finetune``; the app's wiring (``scheduler.retrain``) hands this trainer to the
retrain service, which gives it the production data and a ``Progress`` to report to and to stop by.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from finetune.args import TrainArgs
from sentiment.datasets import load_split
from sentiment.errors import RetrainCancelledError
from sentiment.inference.calibration import DEFAULT_METHOD, Calibration, CalibrationError
from sentiment.service.retrain.job import Progress, TrainRequest
from sentiment.settings import Settings

logger = logging.getLogger(__name__)


class LoraTrainer:
    """LoRA fine-tuning of ``request.base`` (continuing its adapter when it has one, as the CLI does) with the CLI's
    defaults but the request's bounds and ``SENTIMENT_RETRAIN_LEARNING_RATE``; one epoch's worth of steps at most
    ``request.max_steps``. Torch's thread count is left as the app set it: serving shares these cores."""

    def __init__(self, settings: Settings, learning_rate: float | None = None) -> None:
        self.settings = settings
        # None: the setting's (benchmarks/retrain_loop.py passes others to compare them)
        self.learning_rate = settings.retrain_learning_rate if learning_rate is None else learning_rate

    def __call__(self, request: TrainRequest, progress: Progress) -> None:
        args = TrainArgs(
            base=request.base,
            datasets=["production-labels"],
            output_dir=str(request.output_dir),
            max_steps=request.max_steps,
            batch_size=request.batch_size,
            max_length=request.max_length,
            seed=request.seed,
            learning_rate=self.learning_rate,
        )
        from finetune.train import Hooks, fit  # torch and transformers load with the first job, not with the app

        hooks = Hooks(on_step=progress.update, stop=progress.should_stop)
        try:
            fit(args, self.settings, request.train, request.validation, hooks)
        except BaseException:
            shutil.rmtree(request.output_dir, ignore_errors=True)  # a half-written run must not be listed or served
            raise
        if progress.cancelled:
            shutil.rmtree(request.output_dir, ignore_errors=True)
            raise RetrainCancelledError("the retrain job was cancelled: nothing was kept")
        calibrate_run(request, self.settings)


def calibrate_run(request: TrainRequest, settings: Settings) -> Calibration | None:
    """Fit the temperature map of the run in ``request.output_dir`` and store it there, as the CLI does after
    training (on the validation splits of what it trained on): here the run's validation rows (production labels,
    never the held-out ones) and the mixed-in dataset's validation split. A promoted challenger then serves calibrated
    probabilities as the champion does: the monitoring's ECE, label-free estimates and PPI read calibrated ones, and
    the judge compares calibrated ECEs. Temperature keeps every label, so accuracy and macro-F1 do not move.

    Returns the map, or None (logged) when there are fewer than 50 rows to fit it on; the run then serves raw."""
    from sentiment.inference.predictor import Predictor

    frames, sources = [request.validation[["text", "label"]]], ["the retrain's validation rows"]
    if settings.retrain_mix_dataset and settings.retrain_mix_ratio > 0:
        frames.append(load_split(settings.retrain_mix_dataset, "validation", settings)[["text", "label"]])
        sources.append(f"the validation split of {settings.retrain_mix_dataset}")
    rows = pd.concat(frames, ignore_index=True)
    raw = Predictor.load(str(request.output_dir), settings, calibrated=False)
    probabilities = raw.predict_batch(rows["text"].tolist()).probabilities
    try:
        calibration = Calibration.fit(probabilities, rows["label"].tolist(), DEFAULT_METHOD, " and ".join(sources))
    except CalibrationError as exc:
        logger.warning("the challenger %s is not calibrated: %s", request.output_dir.name, exc)
        return None
    calibration.save(request.output_dir)
    logger.info("calibration of the challenger %s: %s", request.output_dir.name, calibration.describe())
    return calibration


class RunPublisher:
    """The app's ``Publisher``: ``finetune.publish.publish`` (what ``python -m finetune publish`` runs: the folder
    built and checked, one commit, an optional tag) after writing the run's model card from the challenger's report
    (``finetune.card.write_retrain_card``; the CLI writes its card after training, the retrain job does not)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(
        self, folder: Path, repo: str, state: dict[str, Any], *, revision: str | None = None, dry_run: bool = False
    ) -> Path:
        from finetune.card import write_retrain_card
        from finetune.publish import publish

        write_retrain_card(folder, state)
        return publish(folder, repo, self.settings, revision=revision, dry_run=dry_run)
