"""Monitoring as the app runs it: the prediction log, the reference profile of the serving model, drift checks
and the figures the Monitoring tab shows."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from sentiment.errors import MonitoringError, StoreError
from sentiment.inference.predictor import Predictor
from sentiment.monitoring.deployment_reference import AUTOMATIC, reset_reference, serving_since, source_of
from sentiment.monitoring.drift import DriftReport, check_drift
from sentiment.monitoring.drift_history import DriftHistory
from sentiment.monitoring.drift_state import DriftState, identity_of, load_drift_state, save_drift_state
from sentiment.monitoring.performance import PerformanceMonitor, WindowEstimate
from sentiment.monitoring.persistence import CheckedWindow, persisted
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.monitoring.reference import ReferenceProfile, pin_production_reference, reference_profile
from sentiment.monitoring.review_sampler import ReviewSampler
from sentiment.results import BatchResult
from sentiment.service.class_shares import ClassShareMonitor
from sentiment.service.monitoring_overview import CONFIDENCE_CENTRES, MonitoringOverview, build_overview
from sentiment.service.quality_metrics import MonitoringMetrics
from sentiment.settings import Settings
from sentiment.store import Store

logger = logging.getLogger(__name__)
__all__ = ["CONFIDENCE_CENTRES", "MonitoringOverview", "MonitoringService"]
# A check waits this long for queued log rows: it runs in a job thread, so waiting costs no request anything.
_JOB_FLUSH_S = 60.0
_HISTORY_CHECKS = 4096  # checks kept for the confirmation rule (two weeks of 5-minute checks)


class MonitoringService:
    """The prediction log, the reference in use and the drift checks; what a check leaves (its confirmation run,
    report, estimate and gauges) is kept in ``store`` and restored at construction, before any check runs."""

    def __init__(
        self, settings: Settings, metrics: MonitoringMetrics, predictor: Callable[[], Predictor], *, store: Store
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._predictor = predictor
        self.store = store
        self.log: PredictionLog | None = None
        if settings.log_predictions:
            self.log = PredictionLog(
                store,
                capacity=settings.log_queue_rows,
                store_text=settings.log_text,
                max_rows=settings.log_max_rows,
                max_age_days=settings.log_max_days,
                sampler=ReviewSampler(settings.review_rate, settings.review_daily_cap),
                review_text_days=settings.review_text_days,
            )
        self.last_report: DriftReport | None = None
        self.history = DriftHistory(store, settings.drift_history_rows)
        self.last_estimate: WindowEstimate | None = None
        self.performance = PerformanceMonitor(settings, store)
        self.shares = ClassShareMonitor(settings, self.performance, metrics.shares)  # each check's class shares
        self._reference: ReferenceProfile | None = None
        # the checks since the reference last changed (raw level, window's ids), for the confirmation rule; bounded:
        # a run longer than this many checks is confirmed long before its start would matter
        self._raw_history: deque[CheckedWindow] = deque(maxlen=_HISTORY_CHECKS)
        self._run_of: tuple[str, float] | None = None  # the reference ``_raw_history`` was measured against
        self._resolved = False  # whether ``_reference`` was chosen by this process (not only restored for the tab)
        # the last check's own window (label and confidence only): the tab's label mix and confidence chart show
        # what that check compared, not the newest rows, which may be more or other than it saw
        self._checked: pd.DataFrame | None = None
        self._checked_last_id = -1
        self._lock = threading.Lock()
        metrics.log_rows.watch(self.log.counters if self.log is not None else None)
        metrics.store_totals.watch(store)
        self._restore()

    def _restore(self, *, newer_only: bool = False) -> None:
        """Take up the last check's state from the store (``sentiment.monitoring.drift_state``): the gauges, the
        tab's verdict and estimate, and the confirmation run with the reference it belongs to. A store that is down
        leaves all of it blank (logged): the next check sets it. ``newer_only``: only a state newer than this
        process's last check (another replica's), which a standby follows and a check starts from (a replica that
        takes over continues the leader's run, not the one it restored at its own start)."""
        try:
            state = load_drift_state(self.store)
            mine = self.last_report.checked_at if self.last_report is not None else -1.0
            if state is None or (newer_only and (state.report is None or state.report.checked_at <= mine)):
                return
            reference = ReferenceProfile.load(self.store, state.reference[0]) if state.reference else None
        except (StoreError, SQLAlchemyError, ValueError, KeyError, TypeError) as exc:
            logger.warning("the last drift check's state is not restored: %s", exc)
            return
        self.metrics.restore_checked(state.gauges)
        self.last_report, self.last_estimate = state.report, state.estimate
        self._checked, self._checked_last_id = state.checked, state.checked_last_id
        if reference is not None and identity_of(reference) == state.reference:
            # shown by the tab at once; the first check resolves the reference again (a pin or reset made while
            # this process was down counts) and the run goes on only if it is still this one
            self._reference, self._run_of = reference, state.reference
            self._raw_history.clear()
            self._raw_history.extend(state.run)
        status, run = state.report.status if state.report else "none", len(self._raw_history)
        say = logger.debug if newer_only else logger.info
        say("took up the last drift check from the store (%s; %d check(s) in its confirmation run)", status, run)

    def follow_store(self) -> None:
        """On a replica that does not run the checks: take up the newest check another replica kept, so this
        replica's drift gauges and tab say what the leader's do (called by the scheduler's standby poll)."""
        with self._lock:
            self._restore(newer_only=True)

    def _save(self) -> None:
        """Keep this check's state in the store; a store that is down loses it (logged): the check itself stands."""
        state = DriftState(
            self._run_of,
            tuple(self._raw_history),
            self.last_report,
            self.last_estimate,
            self._checked,
            self._checked_last_id,
            self.metrics.checked_series(),
        )
        try:
            save_drift_state(self.store, state)
        except (StoreError, SQLAlchemyError) as exc:  # a warning: the history's failure beside it is the one error
            logger.warning("the drift check's state was not kept (a restart starts its run again): %s", exc)

    def start(self) -> None:
        if self.log is not None:
            self.log.start()

    def stop(self) -> None:
        if self.log is not None:
            self.log.flush(5)
            self.log.stop()

    def _flush(self, timeout: float, purpose: str) -> None:
        """Wait for the log's writer thread to store every queued row before reading the store.

        Rows are written off the request path, so a check that reads right after traffic would otherwise see a
        window short of its newest rows. ``timeout`` only bounds a stalled disk: the check then reads what is
        stored, and says so in the log.
        """
        assert self.log is not None
        if not self.log.flush(timeout):
            logger.warning(
                "%s reads the prediction log with rows still queued (not written within %.0f s)", purpose, timeout
            )

    def record(self, source: str, model: str, texts: Sequence[object], result: BatchResult) -> None:
        if self.log is not None:
            self.log.record(source, model, texts, result)

    def reference(self) -> ReferenceProfile:
        """The reference of the serving model, rebuilt when the model (name or revision) changes."""
        predictor = self._predictor()
        wanted = (predictor.info.name, predictor.info.revision)
        with self._lock:
            current = self._reference
            if current is None or not self._resolved or (current.model, current.model_revision) != wanted:
                current = self._use(reference_profile(predictor, self.settings, self.store), keep_run=True)
            return self._auto_pinned(current, predictor)

    def _use(self, profile: ReferenceProfile, *, keep_run: bool = False) -> ReferenceProfile:
        """Serve ``profile`` from now on; checks against another reference do not count toward a run (with
        ``keep_run`` the run restored from the store goes on if it was measured against this very profile)."""
        if not (keep_run and self._run_of == identity_of(profile)):
            self._raw_history.clear()
        self._reference, self._run_of = profile, identity_of(profile)
        self._resolved = True
        return profile

    def _auto_pinned(self, current: ReferenceProfile, predictor: Predictor) -> ReferenceProfile:
        """``current``, or, while it is the dataset bootstrap, this revision's first production predictions once
        there are ``SENTIMENT_REFERENCE_PRODUCTION_ROWS`` of them (sentiment.monitoring.deployment_reference)."""
        rows = self.settings.reference_production_rows
        if rows <= 0 or self.log is None or source_of(current) != "dataset":
            return current
        info = predictor.info
        since = serving_since(self.store, info.name, info.revision)
        self._flush(_JOB_FLUSH_S, "the automatic reference")
        frame = self.log.window(since=since, model=info.name)
        if len(frame) < rows:
            return current
        pinned = pin_production_reference(frame.head(rows), predictor, self.store, split=f"{AUTOMATIC}{rows}")
        return self._use(pinned)

    @property
    def reference_source(self) -> str | None:
        """dataset, production or pinned: the reference in use (None before the first check loaded one)."""
        current = self._reference
        return None if current is None else source_of(current)

    def reset_reference(self) -> ReferenceProfile:
        """Back to the reference dataset for the serving model; its next production predictions are counted toward
        a new automatic reference (when ``SENTIMENT_REFERENCE_PRODUCTION_ROWS`` > 0)."""
        predictor = self._predictor()
        with self._lock:
            reset_reference(self.store, predictor.info.name, predictor.info.revision)
            return self._use(reference_profile(predictor, self.settings, self.store))

    def pin_reference(self, rows: int | None = None) -> ReferenceProfile:
        """Freeze the newest ``rows`` production predictions of the serving model as its reference."""
        size = rows or self.settings.drift_window
        if self.log is None:
            raise MonitoringError("the prediction log is off: there is no production traffic to pin")
        self._flush(_JOB_FLUSH_S, "pinning a reference")
        predictor = self._predictor()
        frame = self.log.window(last=size, model=predictor.info.name, text=self.settings.log_text)
        if len(frame) < self.settings.drift_min_window:
            raise MonitoringError(
                f"only {len(frame)} logged predictions of {predictor.info.name}; "
                f"at least {self.settings.drift_min_window} are needed for a reference"
            )
        with self._lock:
            return self._use(pin_production_reference(frame, predictor, self.store))

    def window(self) -> pd.DataFrame:
        if self.log is None:
            raise MonitoringError("the prediction log is off (SENTIMENT_LOG_PREDICTIONS=false): nothing to check")
        self._flush(_JOB_FLUSH_S, "the drift check")
        model = self._predictor().info.name
        # the text only where its logging is on: the semantic explanation then quotes typical texts
        return self.log.window(last=self.settings.drift_window, model=model, text=self.settings.log_text)

    def check_drift(self) -> DriftReport:
        """Compare the newest window of the log (this model's rows only) with the reference; set the gauges."""
        current = self.window()  # first: it flushes the log, which the automatic reference reads too
        self.follow_store()  # a check another replica made since ours is part of the run
        reference = self.reference()
        s = self.settings
        raw = check_drift(reference.frame, current, min_window=s.drift_min_window, reference_info=reference.summary())
        ids = current["id"] if len(current) else pd.Series([-1])
        span = (int(ids.iloc[0]), int(ids.iloc[-1]))
        report = replace(
            persisted(raw, self._raw_history, span, s.drift_confirm_windows), reference_source=source_of(reference)
        )
        self._raw_history.append(CheckedWindow(raw.status, *span))
        self._checked = current[["label", "confidence"]].copy() if len(current) else None
        self._checked_last_id = span[1]
        self.last_report = report
        self.metrics.record_drift(report)
        self.last_estimate = (
            self.performance.logged_estimate(self._predictor(), current) if len(current) >= s.drift_min_window else None
        )
        self.metrics.record_estimate(self.last_estimate)
        self.shares.check(self._predictor(), current)
        logger.info(
            "drift check: %s (this window: %s, %d check(s) in a row on %d disjoint window(s)) on %d predictions "
            "against the %s reference",
            report.status,
            report.raw_status,
            report.consecutive,
            report.windows,
            report.window_size,
            report.reference_source,
        )
        self._remember(report)
        self._save()
        return report

    def _remember(self, report: DriftReport) -> None:
        """Add ``report`` to the status history. A store that cannot write (locked, full, read-only) loses this
        row, logged: the verdict itself already stands in the gauges and ``last_report``."""
        try:
            self.history.add(report)
        except (SQLAlchemyError, StoreError) as exc:
            logger.error("the drift history did not keep the check of %s: %s", _when(report.checked_at), exc)

    def predictions_to_confirm(self) -> int | None:
        """About how many more predictions the last check's unconfirmed level waits for: each window still missing
        is a full drift window that shares no prediction with the last one (None: nothing waits for confirmation)."""
        report = self.last_report
        if report is None or report.unconfirmed is None or self.log is None:
            return None
        missing = max(1, self.settings.drift_confirm_windows - report.windows)
        newest = self.log.window(last=1)  # log ids grow with arrival: the newest minus the window's last id
        since = int(newest["id"].iloc[-1]) - self._checked_last_id if len(newest) else 0
        return max(1, missing * self.settings.drift_window - max(since, 0))

    def overview(self, hours: float = 24.0) -> MonitoringOverview:
        """Figures for the Monitoring tab over the last ``hours`` of traffic and the last drift check's window."""
        if self.log is not None:
            self.log.flush(2)
        checked = self._checked if self.last_report is not None else None
        reference = self._reference.frame if self._reference is not None else None
        return build_overview(
            self.log, checked, self.last_report, self.last_estimate, reference, self.settings.drift_window, hours
        )


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
