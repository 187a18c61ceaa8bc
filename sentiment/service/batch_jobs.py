"""Score files from the shell or from Python, on this machine or on a Ray cluster, with one model spec.

``score_inputs`` is what ``python -m sentiment score`` runs: INPUT may be a file, a folder or a glob; OUTPUT a file
(one input) or a folder that gets one scored file per input. The engine decides only where the model runs; reading,
cleaning, writing and the summary are the same code for both (``sentiment.tables.scoring``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
) -> list[tuple[Path, ScoreSummary]]:
    """Score every input file into its output; returns each output with its summary, in input order."""
    if engine == "ray":
        from sentiment.tables.ray_engine import require_ray

        require_ray()  # before reading anything
    paths = expand_inputs(inputs)
    plans = [plan_table(path, text_column) for path in paths]  # refuse a bad input before scoring any
    outputs = output_paths(plans, output)
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

        with ray_session(address, num_cpus=None if address else actors):
            summaries, _ = score_plans_on_ray(plans, outputs, scorer, actors, chunk_rows, report)
    return list(zip(outputs, summaries, strict=True))
