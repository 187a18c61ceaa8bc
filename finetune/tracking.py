"""Optional MLflow logging of a run, when ``MLFLOW_TRACKING_URI`` is set (MLflow is not a dependency: it is in
``requirements-tracking.txt``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def log_to_mlflow(
    run_dir: Path, params: dict[str, Any], history: list[dict[str, float]], results: list[dict[str, Any]]
) -> bool:
    """Log params, per-epoch and final metrics and the run folder as artifacts; False when not configured or refused.

    Logging comes after the run is trained and written, so a tracking server or store that refuses it (down, no
    permission, or MLflow 3's refusal of a ``file:`` store without ``MLFLOW_ALLOW_FILE_STORE=true``) is a warning
    saying why, never the failure of the finished run."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return False
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
    except ImportError:
        logger.warning(
            "MLFLOW_TRACKING_URI is set but mlflow is not installed (pip install -r requirements-tracking.txt): "
            "not logged"
        )
        return False
    try:
        with mlflow.start_run(run_name=run_dir.name):
            mlflow.log_params({k: str(v)[:250] for k, v in params.items()})
            for record in history:
                step = int(record["epoch"])
                metrics = {k: float(v) for k, v in record.items() if k not in {"epoch", "step"}}
                mlflow.log_metrics(metrics, step=step)
            for r in results:
                mlflow.log_metric(f"test_macro_f1_{r['dataset']}", float(r["macro_f1"]))
            mlflow.log_artifacts(str(run_dir))
    except (MlflowException, OSError) as exc:  # requests' connection errors are OSErrors
        logger.warning("%s was not logged to MLflow at %s (the run itself is complete): %s", run_dir.name, uri, exc)
        return False
    logger.info("logged %s to MLflow at %s", run_dir.name, uri)
    return True
