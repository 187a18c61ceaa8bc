"""Fine-tuning run folders as the app sees them: listed for the Models tab and servable by name.

A visitor may name a run (a folder under ``<data_dir>/runs``) but never an arbitrary path on the machine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sentiment.errors import ModelLoadError
from sentiment.models.spec import NAMED_MODELS, ModelSpec

RUN_FILE = "run.json"
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def runs_dir(data_dir: Path) -> Path:
    """Where ``python -m finetune`` writes its runs by default."""
    return data_dir / "runs"


def list_runs(data_dir: Path) -> list[dict[str, Any]]:
    """Summaries of the finished runs (each ``run.json`` plus its ``path``), newest first; unreadable ones skipped."""
    out: list[dict[str, Any]] = []
    root = runs_dir(data_dir)
    if not root.exists():
        return out
    for path in sorted(root.glob(f"*/{RUN_FILE}"), reverse=True):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        summary["path"] = str(path.parent)
        out.append(summary)
    return out


def run_path(data_dir: Path, name: str) -> Path | None:
    """The folder of run ``name`` if it is a plain name of an existing run (no separators, no ``..``) and not a
    registry name in any case (``embedded``, ``vader``, ``auto``): those always mean the registry's model, and a run
    named so would otherwise serve, log and be monitored under that model's name."""
    if not _RUN_NAME.match(name) or ".." in name or name.lower() in NAMED_MODELS:
        return None
    folder = runs_dir(data_dir) / name
    return folder if (folder / "adapter_config.json").exists() or (folder / "config.json").exists() else None


def visitor_spec(spec: str, data_dir: Path) -> str:
    """A model spec a visitor may use (UI or API): registry names, Hub ids and fine-tuning runs by name (resolved
    to their folder); never a path on this machine. Trusted callers (jobs, CLIs) do not go through this.

    Raises ``ModelLoadError`` for a local path, or (from ``ModelSpec.parse``) for a spec that names nothing."""
    spec = (spec or "").strip()
    folder = run_path(data_dir, spec)
    if folder is not None:
        return str(folder)
    if ModelSpec.parse(spec).kind == "local":
        raise ModelLoadError(f"{spec!r} is a local path, not a registry model, a Hub id or a fine-tuning run name")
    return spec


def admin_spec(spec: str, data_dir: Path, configured: str) -> str:
    """``visitor_spec``, except that the spec the owner configured (``SENTIMENT_MODEL``) is taken as it is: a local
    folder named there is the owner's choice, and must stay servable after a switch (a rollback to it)."""
    spec = (spec or "").strip()
    return spec if spec == configured.strip() else visitor_spec(spec, data_dir)
