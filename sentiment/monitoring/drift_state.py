"""What the drift check remembers between checks, kept in the one store so a restart (or another replica) goes on
where the last check left off: the confirmation run, the last report and estimate, and the gauges they set.

Without it a restart blanks the Monitoring tab's verdict and estimate until the next check, drops the drift gauges
to "no verdict", and starts the confirmation count again: a drift seen in one window and about to be confirmed by
the next would wait for two more. One row (``monitor_state`` key ``drift``), replaced after every check:
- ``reference``: the reference the run was measured against, as (profile key, created_at): a run counts only
  against the reference it was measured on, so a different one (a new pin, another model) starts it again;
- ``run``: the checks of that run (``CheckedWindow``: raw level, first and last log id of its window);
- ``report``, ``estimate``: the last ``DriftReport`` and ``WindowEstimate`` (``as_dict`` form);
- ``checked``: the last check's window, label and confidence only (the tab's label mix and confidence chart);
- ``gauges``: every series of the drift and estimate gauges as exported after the check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sentiment.monitoring.drift import DriftReport
from sentiment.monitoring.monitor_state import load_state, save_state
from sentiment.monitoring.performance import WindowEstimate
from sentiment.monitoring.persistence import CheckedWindow
from sentiment.monitoring.reference import ReferenceProfile
from sentiment.store import Store

logger = logging.getLogger(__name__)

KEY = "drift"
VERSION = 1  # of the value's shape: a value of another version is not read (the next check writes a fresh one)

ReferenceIdentity = tuple[str, float]  # (ReferenceProfile.key, created_at): re-pinning "last N" reuses the key


def identity_of(profile: ReferenceProfile) -> ReferenceIdentity:
    return profile.key, profile.created_at


@dataclass(frozen=True, eq=False)
class DriftState:
    reference: ReferenceIdentity | None
    run: tuple[CheckedWindow, ...]
    report: DriftReport | None
    estimate: WindowEstimate | None
    checked: pd.DataFrame | None  # label, confidence
    checked_last_id: int
    gauges: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        checked = self.checked
        return {
            "version": VERSION,
            "reference": list(self.reference) if self.reference else None,
            "run": [[c.level, c.first, c.last] for c in self.run],
            "report": self.report.as_dict() if self.report else None,
            "estimate": self.estimate.as_dict() if self.estimate else None,
            "checked": None if checked is None else {c: checked[c].tolist() for c in ("label", "confidence")},
            "checked_last_id": self.checked_last_id,
            "gauges": self.gauges,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftState:
        """``KeyError``/``TypeError``/``ValueError`` for a value of another shape."""
        if data.get("version") != VERSION:
            raise ValueError(f"drift state version {data.get('version')!r}, this code reads {VERSION}")
        reference = data["reference"]
        checked = data["checked"]
        return cls(
            reference=(str(reference[0]), float(reference[1])) if reference else None,
            run=tuple(CheckedWindow(str(level), int(first), int(last)) for level, first, last in data["run"]),
            report=DriftReport.from_dict(data["report"]) if data["report"] else None,
            estimate=WindowEstimate.from_dict(data["estimate"]) if data["estimate"] else None,
            checked=None if checked is None else pd.DataFrame(checked),
            checked_last_id=int(data["checked_last_id"]),
            gauges=list(data["gauges"]),
        )


def save_drift_state(store: Store, state: DriftState) -> None:
    """Replace the kept state (``StoreUnavailableError`` when the store is down: the caller logs it)."""
    save_state(store, KEY, state.as_dict())


def load_drift_state(store: Store) -> DriftState | None:
    """The kept state, or None: none kept yet, or one this code cannot read (logged; the next check replaces it).
    ``StoreUnavailableError`` when the store is down."""
    try:
        value = load_state(store, KEY)
        return None if value is None else DriftState.from_dict(value)
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("the kept drift state is unreadable (%s): the confirmation run starts again", exc)
        return None
