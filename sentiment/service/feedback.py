"""Feedback as the app offers it: checked against the prediction log, limited per client, counted in Prometheus,
reviewed by the owner, and brought in bulk from a labelled file (a scored file with a column of the right labels added).

Every route that takes a visitor's feedback (the page's buttons, ``/feedback`` through ``gradio_client`` or plain
HTTP) comes through ``give`` with the client's key (``sentiment.web.clients``: its address, never its Gradio session,
which every new client gets afresh): so one limit holds per client whatever the route. The owner's routes (an admin
token, the bulk file from the command line) are not limited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment.datasets.feedback import Decision, FeedbackStore, check_label, check_prediction_id
from sentiment.errors import FeedbackError, InvalidTextError, RateLimitedError
from sentiment.inference.predictor import validate_text
from sentiment.monitoring.prediction_log import PredictionLog
from sentiment.service.quality_metrics import FeedbackMetrics
from sentiment.service.rate_limit import HOUR_S, SlidingWindowLimiter
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.tables.reading import read_table

logger = logging.getLogger(__name__)
BULK_CLIENT = "bulk"  # who gave the owner's labelled files (the same file twice adds nothing: repeats are one row)
ADMIN_CLIENT = "admin"  # who gave feedback with the admin token
LABEL_COLUMNS = ("true_label", "correct_label", "feedback")  # looked for when no label column is named
_LISTED = 20  # row numbers listed per problem in a bulk summary


@dataclass
class BulkSummary:
    """What a labelled file did: rows recorded, repeated, and every row not used with the reason (never silent)."""

    rows: int = 0
    recorded: int = 0
    duplicates: int = 0
    problems: dict[str, list[int]] = field(default_factory=dict)  # reason -> 1-based data rows (first _LISTED)
    problem_counts: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0  # predictions that now have more than one label

    def skip(self, reason: str, row: int) -> None:
        self.problem_counts[reason] = self.problem_counts.get(reason, 0) + 1
        listed = self.problems.setdefault(reason, [])
        if len(listed) < _LISTED:
            listed.append(row)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "not_used": self.problem_counts,
            "not_used_rows": self.problems,
            "conflicts": self.conflicts,
        }


class FeedbackService:
    def __init__(
        self,
        settings: Settings,
        metrics: FeedbackMetrics,
        log: Callable[[], PredictionLog | None],
        *,
        store: Store | None = None,
    ) -> None:
        """``store``: the one store feedback lives in (the app passes its own); without one, the store of
        ``settings`` is opened (the command line's bulk import)."""
        self.settings = settings
        self.metrics = metrics
        self._log = log
        self.store = FeedbackStore(store or Store.open(settings.store_url, timeout_s=settings.database_timeout_s))
        self.limiter = SlidingWindowLimiter(settings.feedback_per_client_hour, HOUR_S)
        self._pseudonym_key = secrets.token_bytes(16)  # never written: stored pseudonyms cannot be turned back
        if settings.feedback_per_client_hour < settings.production_min_labels:
            logger.warning(
                "SENTIMENT_FEEDBACK_PER_CLIENT_HOUR=%d is below SENTIMENT_PRODUCTION_MIN_LABELS=%d: one labeller "
                "needs more than an hour to give a production evaluation's worth of labels",
                settings.feedback_per_client_hour,
                settings.production_min_labels,
            )

    def _logged_log(self) -> PredictionLog:
        log = self._log()
        if log is None:
            raise FeedbackError(
                "the prediction log is off (SENTIMENT_LOG_PREDICTIONS=false): there is no logged prediction to "
                "attach feedback to"
            )
        return log

    def give(
        self, prediction_id: str, label: str, client: str, text: str | None = None, *, unlimited: bool = False
    ) -> dict[str, Any]:
        """A visitor's feedback on one prediction (UI button or ``/feedback``): stored unreviewed and counted; the
        same label for the same prediction is one record whoever sends it. New feedback counts towards ``client``'s
        hourly limit (``RateLimitedError`` says how long to wait) unless ``unlimited`` (the caller checked the admin
        token). ``text`` is stored only when given (the UI passes it only when the visitor ticks the box)."""
        prediction_id, label = check_prediction_id(prediction_id), check_label(label)
        text = _feedback_text(text)
        log = self._logged_log()
        log.flush(2)  # the answer was sent before its row was written: a fast click must still find it
        if not log.has(prediction_id):
            self.metrics.count(label, "unknown_prediction")
            raise FeedbackError(
                f"no logged prediction has id {prediction_id}: feedback names a prediction this app made "
                f"(they are kept {self.settings.log_max_days:g} days)"
            )

        def admit() -> None:  # called by the store for new feedback only: repeats cost no slot
            self.limiter.admit(client)

        giver = ADMIN_CLIENT if unlimited else self._pseudonym(client)
        try:
            recorded = self.store.add(prediction_id, label, client=giver, text=text, admit=None if unlimited else admit)
        except RateLimitedError:
            self.metrics.count(label, "rate_limited")
            raise
        self.metrics.count(label, "duplicate" if recorded.duplicate else "recorded")
        if recorded.conflict and not recorded.duplicate:
            logger.info("prediction %s now has conflicting feedback: %s", prediction_id, recorded.labels)
        return recorded.as_dict()

    def _pseudonym(self, client: str) -> str:
        """What the store keeps of a visitor: enough for the owner to see that rows came from one client within
        this run, never its address."""
        digest = hmac.new(self._pseudonym_key, client.encode(), hashlib.sha256).hexdigest()[:12]
        return f"visitor:{digest}"

    def review(self, feedback_ids: Sequence[int], decision: Decision) -> dict[str, Any]:
        """The owner accepts or drops feedback rows (by ``feedback_id``)."""
        changed = self.store.review(feedback_ids, decision)
        for label in changed:
            self.metrics.count(label, decision)
        return {"changed": len(changed), "decision": decision, **self.overview()}

    def overview(self, limit: int = 50) -> dict[str, Any]:
        """Counts per review state, conflicts, and the newest unreviewed rows (what the owner reviews)."""
        pending = self.store.rows(states=("unreviewed",), limit=limit)
        return {
            "counts": self.store.counts(),
            "unreviewed": pending.drop(columns=["reviewed_at"]).to_dict(orient="records"),
            "conflicts": self.store.conflicts(limit).to_dict(orient="records"),
        }

    def import_file(self, path: Path, label_column: str | None = None) -> BulkSummary:
        """Attach the labels of a labelled file (a ``prediction_id`` column and a label column) as the owner's
        accepted feedback. Every row not used is reported with its reason: unknown ids, bad labels, empty cells."""
        frame = read_table(path, self.settings.max_upload_bytes)
        columns = {str(c).strip().casefold(): c for c in frame.columns}
        id_column = columns.get("prediction_id") or columns.get("sentiment_prediction_id")
        wanted = [label_column.strip().casefold()] if label_column else list(LABEL_COLUMNS)
        chosen = next((columns[w] for w in wanted if w in columns), None)
        if id_column is None or chosen is None:
            raise FeedbackError(
                f"{path.name} needs a prediction_id column and a label column "
                f"({label_column or ' or '.join(LABEL_COLUMNS)}); its columns are: "
                + ", ".join(map(str, frame.columns))
            )
        log = self._logged_log()
        log.flush(5)
        ids = [str(x).strip().lower() for x in frame[id_column].fillna("")]
        known = set(log.by_ids([i for i in ids if i])["prediction_id"])
        summary = BulkSummary(rows=len(frame))
        touched: set[str] = set()
        for row, (pid, raw_label) in enumerate(zip(ids, frame[chosen].fillna(""), strict=True), start=1):
            problem = _problem(pid, raw_label)
            if problem is not None:
                summary.skip(problem, row)
                continue
            label = check_label(raw_label)
            if pid not in known:
                summary.skip("unknown prediction id", row)
                self.metrics.count(label, "unknown_prediction")
                continue
            recorded = self.store.add(pid, label, client=BULK_CLIENT, source="bulk", reviewed="accepted")
            if recorded.duplicate:
                summary.duplicates += 1
            else:
                summary.recorded += 1
                self.metrics.count(label, "recorded")
            touched.add(pid)
        conflicts = set(self.store.conflicts(limit=1_000_000)["prediction_id"])
        summary.conflicts = len(touched & conflicts)
        logger.info("feedback from %s: %s", path.name, summary.as_dict())
        return summary


def _problem(prediction_id: str, label: object) -> str | None:
    """Why a labelled row cannot be used (None: it can), in the words the bulk summary lists."""
    if not prediction_id:
        return "no prediction id"
    for check, reason in ((check_prediction_id, "not a prediction id"), (check_label, "not a label")):
        try:
            check(prediction_id if check is check_prediction_id else label)
        except FeedbackError:
            return reason
    return None


def _feedback_text(text: str | None) -> str | None:
    """The text a visitor sends with a label, checked by the rule every scored text passes (``validate_text``):
    blank means no text, and a text that is not valid Unicode is refused with ``FeedbackError`` before it takes a
    slot of the visitor's limit (the store could not write it: neither SQLite nor PostgreSQL takes surrogates)."""
    if text is None or not str(text).strip():
        return None
    try:
        return validate_text(text)
    except InvalidTextError as exc:
        raise FeedbackError(f"the text sent with the feedback: {exc}") from None
