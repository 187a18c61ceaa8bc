"""Run records: every fine-tuning run is a folder under ``<data_dir>/runs`` holding its arguments, per-epoch
history, final report, adapter and model card; ``run.json`` summarises it for listings (CLI and the app)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from sentiment.models.runs import RUN_FILE, list_runs, runs_dir

__all__ = ["list_runs", "new_run_dir", "write_summary"]


def new_run_dir(data_dir: Path, base: str) -> Path:
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", base.split("/")[-1]).strip("-").lower() or "run"
    return runs_dir(data_dir) / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{slug}"


def write_summary(folder: Path, summary: dict[str, Any]) -> None:
    (folder / RUN_FILE).write_text(json.dumps(summary, indent=2) + "\n")
