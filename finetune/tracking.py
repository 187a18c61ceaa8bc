"""Optional MLflow logging of a run, when ``MLFLOW_TRACKING_URI`` is set (MLflow is not a dependency)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def log_to_mlflow(
    run_dir: Path, params: dict[str, Any], history: list[dict[str, float]], results: list[dict[str, Any]]
) -> bool:
    """Log params, per-epoch and final metrics and the run folder as artifacts; False when not configured."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return False
    try:
        import mlflow
    except ImportError:
        logger.warning("MLFLOW_TRACKING_URI is set but mlflow is not installed (pip install mlflow): not logged")
        return False
    with mlflow.start_run(run_name=run_dir.name):
        mlflow.log_params({k: str(v)[:250] for k, v in params.items()})
        for record in history:
            step = int(record["epoch"])
            mlflow.log_metrics({k: float(v) for k, v in record.items() if k not in {"epoch", "step"}}, step=step)
        for r in results:
            mlflow.log_metric(f"test_macro_f1_{r['dataset']}", float(r["macro_f1"]))
        mlflow.log_artifacts(str(run_dir))
    logger.info("logged %s to MLflow at %s", run_dir.name, os.environ["MLFLOW_TRACKING_URI"])
    return True
