"""The challenger a retrain job leaves, and how it is kept in the store (``monitor_state``) so that a restart between
the job and the owner's decision (promote or not) loses neither the challenger nor its report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment.models.runs import run_path
from sentiment.monitoring.monitor_state import load_state, save_state
from sentiment.service.retrain.data import RetrainData
from sentiment.service.retrain.judge import ChallengerReport
from sentiment.store import Store

logger = logging.getLogger(__name__)
CHALLENGER_KEY = "retrain_challenger"  # monitor_state key: the newest challenger (``Challenger.as_state``)


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


def restore_challenger(store: Store, data_dir: Path) -> tuple[Challenger | None, bool]:
    """``(challenger, read)``: the challenger the last job left (kept in the store) unless it was promoted, its run
    folder under ``data_dir`` is gone, or what was kept no longer reads; ``read`` is False when the store is down
    (logged): the caller reads it again later. A restart between a job and the owner's decision loses neither."""
    try:
        state = load_state(store, CHALLENGER_KEY)
    except Exception as exc:  # the store is down: the app starts anyway, and this is tried again later
        logger.warning("the stored challenger is not read: %s: %s", type(exc).__name__, exc)
        return None, False
    if not state or state.get("promoted"):
        return None, True
    folder = run_path(data_dir, str(state.get("run", "")))
    if folder is None:
        logger.info("the stored challenger %s is gone from the runs folder", state.get("run"))
        return None, True
    try:
        return Challenger.from_state(state, folder), True
    except Exception as exc:  # a state an older version wrote
        run = state.get("run")
        logger.warning("the stored challenger %s is not restored: %s: %s", run, type(exc).__name__, exc)
        return None, True


def keep_challenger(store: Store, challenger: Challenger, promoted: bool = False) -> None:
    """Keep the challenger in the store (marked once promoted: a restart then does not offer it again)."""
    try:
        save_state(store, CHALLENGER_KEY, {**challenger.as_state(), "promoted": promoted})
    except Exception as exc:  # the challenger stays in memory: only a restart would forget it
        logger.warning("the challenger %s is not kept in the store: %s", challenger.run, exc)
