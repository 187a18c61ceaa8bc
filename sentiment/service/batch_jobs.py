"""Score files from the shell or from Python, on this machine or on a Ray cluster, with one model spec.

``score_inputs`` is what ``python -m sentiment score`` runs: INPUT may be a file, a folder or a glob; OUTPUT a file
(one input) or a folder that gets one scored file per input. The engine decides only where the model runs; reading,
cleaning, writing and the summary are the same code for both (``sentiment.tables.scoring``).

Among several inputs, a file with nothing to score (empty, blank, a header without rows: ``EmptyFileError``) is
skipped and listed with its reason, as folders of exports hold such files; the job fails only when no input has
anything to score. Any other bad input (binary, no text column) still stops the job before anything is scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sentiment.errors import EmptyFileError
from sentiment.inference.predictor import Predictor
from sentiment.settings import Settings
from sentiment.tables.inputs import expand_inputs, output_paths
from sentiment.tables.progress import ProgressLine
from sentiment.tables.scoring import Scorer, TablePlan, plan_table, scored_here, write_scored
from sentiment.tables.summary import ScoreSummary

logger = logging.getLogger(__name__)

Engine = Literal["local", "ray"]


@dataclass(frozen=True)
class PredictorScorer:
    """Loads a model where it is called and returns its batch scorer: picklable, so each Ray actor loads the model
    once itself instead of receiving a pickled model."""

    spec: str
    settings: Settings

    def __call__(self) -> Scorer:
        return Predictor.load(self.spec, self.settings).predict_batch


@dataclass
class BatchRun:
    """What ``score_inputs`` did: each output with its summary, in input order, and each input skipped (nothing to
    score in it) with the reason."""

    outputs: list[tuple[Path, ScoreSummary]]
    skipped: dict[Path, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The JSON the CLI prints for several inputs."""
        return {
            "outputs": {str(out): summary.as_dict() for out, summary in self.outputs},
            "skipped_files": {str(path): reason for path, reason in self.skipped.items()},
        }


def plan_inputs(paths: list[Path], text_column: str | None) -> tuple[list[TablePlan], dict[Path, str]]:
    """Plan every input before scoring any (a bad one stops the job), setting aside those with nothing to score.
    Raises ``EmptyFileError`` when that is all of them, naming each with its reason."""
    plans: list[TablePlan] = []
    skipped: dict[Path, str] = {}
    for path in paths:
        try:
            plans.append(plan_table(path, text_column))
        except EmptyFileError as exc:
            if len(paths) == 1:
                raise
            skipped[path] = str(exc)
    if not plans:
        raise EmptyFileError(f"nothing to score in {len(paths)} files: " + "; ".join(skipped.values()))
    for path, reason in skipped.items():
        logger.warning("skipped %s: %s", path, reason)
    return plans, skipped


def score_inputs(
    inputs: str,
    output: Path,
    spec: str,
    settings: Settings,
    *,
    engine: Engine = "local",
    text_column: str | None = None,
    address: str | None = None,
    actors: int = 1,
    progress: bool = True,
) -> BatchRun:
    """Score every input file into its output; returns each output with its summary, in input order, and the inputs
    skipped for having nothing to score."""
    if engine == "ray":
        from sentiment.tables.ray_engine import require_ray

        require_ray()  # before reading anything
    paths = expand_inputs(inputs)
    plans, skipped = plan_inputs(paths, text_column)
    outputs = output_paths(plans, output, len(paths))
    scorer = PredictorScorer(spec, settings)
    chunk_rows = settings.csv_chunk_rows

    def report(plan: TablePlan) -> ProgressLine | None:
        return ProgressLine(plan.path.name) if progress else None

    if engine == "local":
        score = scorer()
        summaries = []
        for plan, out in zip(plans, outputs, strict=True):
            summaries.append(write_scored(plan, out, scored_here(plan, score, chunk_rows), report(plan)))
    else:
        from sentiment.tables.ray_engine import ray_session, score_plans_on_ray

        with ray_session(address, num_cpus=actors):  # the CPUs of a local instance; a cluster has its own
            summaries, _ = score_plans_on_ray(plans, outputs, scorer, actors, chunk_rows, report)
    return BatchRun(list(zip(outputs, summaries, strict=True)), skipped)
