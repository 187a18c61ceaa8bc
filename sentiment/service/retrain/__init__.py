"""Retraining inside the app: production labels, a LoRA challenger, its report against the serving model, promotion.

Production labels -> a LoRA challenger -> a report against the serving model -> promote or keep, with the lineage in
the store and rollback (issue 29). ``RetrainService`` is the entry point."""

from sentiment.service.retrain.challenger import Challenger
from sentiment.service.retrain.data import RetrainData, held_out, production_labels, retrain_data
from sentiment.service.retrain.job import JobRunning, Progress, Publisher, Trainer, TrainRequest
from sentiment.service.retrain.judge import ChallengerReport, Scores, judge, verdict
from sentiment.service.retrain.lineage import Lineage, LineageRecord, adapter_digest
from sentiment.service.retrain.service import RetrainService

__all__ = [
    "Challenger",
    "ChallengerReport",
    "JobRunning",
    "Lineage",
    "LineageRecord",
    "Progress",
    "Publisher",
    "RetrainData",
    "RetrainService",
    "Scores",
    "TrainRequest",
    "Trainer",
    "adapter_digest",
    "held_out",
    "judge",
    "production_labels",
    "retrain_data",
    "verdict",
]
