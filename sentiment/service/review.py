"""The review sample as the owner works it: one sampled text at a time to label (the Label view, ``/review_sample``),
labels in bulk from a file, and progress towards the labels the current interval needs.

Only the owner labels the sample (every route checks the admin token before it calls this): its labels feed the
unbiased production estimates, so a visitor must not be able to change what they read. Visitor feedback stays in its
own table and service (``sentiment.service.feedback``): it is self-selected and never mixed in here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment.datasets.feedback import check_prediction_id
from sentiment.errors import FeedbackError, ReviewError, StoreError
from sentiment.monitoring.review_queue import (
    Labeller,
    ReviewCounts,
    ReviewQueue,
    State,
    check_review_label,
)
from sentiment.service.feedback import LABEL_COLUMNS, BulkSummary
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.tables.reading import read_table

logger = logging.getLogger(__name__)
STATES: tuple[State, ...] = ("waiting", "labelled", "skipped", "all")


@dataclass(frozen=True)
class ReviewProgress:
    """Labels given to the sample's predictions of the current window (the last ``window_days``) against the
    ``target`` an interval needs, how many wait, and which question they answer."""

    labelled: int
    target: int
    waiting: int
    skipped: int
    window_days: float
    enabled: bool
    rate: float
    daily_cap: int

    @property
    def text(self) -> str:
        """The progress line, e.g. "37 of 50 for this week's interval; 12 wait for review"."""
        if not self.enabled:
            return "The review sample is off (SENTIMENT_REVIEW_RATE=0 or the prediction log is off)."
        window = "this week's" if self.window_days == 7 else f"the last {self.window_days:g} days'"
        line = f"{self.labelled} of {self.target} for {window} interval; {self.waiting} wait for review"
        return line + (f" ({self.skipped} skipped)." if self.skipped else ".")

    @property
    def question(self) -> str:
        """Which question the next labels answer, in words."""
        window = "this week" if self.window_days == 7 else f"the last {self.window_days:g} days"
        if self.labelled < self.target:
            more = self.target - self.labelled
            return (
                f"The next {more} label(s) answer: how accurate is the model on what people sent it {window}, and "
                "what share of it is negative, neutral, positive? (an interval from the random sample)"
            )
        return f"{window.capitalize()}'s interval has its labels; more labels narrow it."

    def as_dict(self) -> dict[str, Any]:
        return {
            "labelled": self.labelled,
            "target": self.target,
            "waiting": self.waiting,
            "skipped": self.skipped,
            "window_days": self.window_days,
            "enabled": self.enabled,
            "rate": self.rate,
            "daily_cap": self.daily_cap,
            "text": self.text,
            "question": self.question,
        }


class ReviewService:
    """The owner's side of the review sample in ``store`` (the app's one store)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.queue = ReviewQueue(store)

    @property
    def enabled(self) -> bool:
        s = self.settings
        return s.log_predictions and s.review_rate > 0 and s.review_daily_cap > 0

    def _window_start(self) -> float:
        return time.time() - self.settings.production_window_days * 86400

    def next_item(self) -> dict[str, Any] | None:
        """The oldest sampled prediction still waiting for a label (None: none waits)."""
        return self.queue.next()

    def label(self, review_id: int, label: str, labeller: Labeller = "admin") -> dict[str, Any]:
        """Label one sampled prediction (a correction replaces the earlier label); returns it and the progress."""
        row = self.queue.label(_review_id(review_id), label, labeller)
        return {"item": row, "progress": self.progress().as_dict()}

    def skip(self, review_id: int) -> dict[str, Any]:
        row = self.queue.skip(_review_id(review_id))
        return {"item": row, "progress": self.progress().as_dict()}

    def listing(self, state: str = "waiting", limit: int = 50) -> dict[str, Any]:
        """Rows in ``state`` (waiting, labelled, skipped, all), oldest first, with the counts and the progress."""
        if state not in STATES:
            raise ReviewError(f"state {state!r}: use one of {', '.join(STATES)}")
        if not 1 <= int(limit) <= 10_000:
            raise ReviewError(f"limit {limit}: list between 1 and 10000 rows")
        rows = self.queue.rows(state, int(limit))
        return {"rows": rows, "counts": self.counts().as_dict(), "progress": self.progress().as_dict()}

    def counts(self) -> ReviewCounts:
        return self.queue.counts()

    def progress(self) -> ReviewProgress:
        counts = self.queue.counts(since=self._window_start())
        s = self.settings
        return ReviewProgress(
            counts.labelled,
            s.production_min_labels,
            counts.waiting,
            counts.skipped,
            s.production_window_days,
            self.enabled,
            s.review_rate,
            s.review_daily_cap,
        )

    def status(self) -> dict[str, Any]:
        """For /health and the Monitoring figures: whether the sample is drawn, its rate and cap, how long its texts
        are kept (even with text logging off), and how many rows are labelled and wait."""
        s = self.settings
        try:
            counts: dict[str, int | None] = dict(self.counts().as_dict())
        except StoreError:  # /health answers while the store is down; the store's own status says why
            counts = dict.fromkeys(("sampled", "labelled", "waiting", "skipped"))
        return {
            "enabled": self.enabled,
            "rate": s.review_rate,
            "daily_cap": s.review_daily_cap,
            "text_kept_days": s.review_text_days,
            "texts": "sampled texts are stored for labelling even when SENTIMENT_LOG_TEXT is off, "
            f"and deleted after {s.review_text_days:g} days",
            **counts,
        }

    def import_file(self, path: Path, label_column: str | None = None) -> BulkSummary:
        """Labels for sampled predictions from a file: a ``review_id`` or ``prediction_id`` column and a label
        column. Each row not used is reported with its reason (no id, not an id, not a label, not in the sample)
        and the others are labelled: one bad row never sinks the file."""
        frame = read_table(path, self.settings.max_upload_bytes)
        columns = {str(c).strip().casefold(): c for c in frame.columns}
        id_column = columns.get("review_id") or columns.get("prediction_id") or columns.get("id")
        wanted = [label_column.strip().casefold()] if label_column else ["label", *LABEL_COLUMNS]
        chosen = next((columns[w] for w in wanted if w in columns), None)
        if id_column is None or chosen is None:
            raise ReviewError(
                f"{path.name} needs a review_id (or prediction_id) column and a label column "
                f"({label_column or ' or '.join(('label', *LABEL_COLUMNS))}); its columns are: "
                + ", ".join(map(str, frame.columns))
            )
        by_prediction = str(id_column).strip().casefold() == "prediction_id"
        raw_ids = [str(x).strip().lower() for x in frame[id_column].fillna("")]
        summary = BulkSummary(rows=len(frame))
        parsed: list[tuple[int, int | str | None, str | None]] = []  # (row, id, label); None: a problem was noted
        for row, (raw, raw_label) in enumerate(zip(raw_ids, frame[chosen].fillna(""), strict=True), start=1):
            identifier, label = _bulk_row(raw, raw_label, by_prediction, summary, row)
            parsed.append((row, identifier, label))
        if by_prediction:
            ids = self.queue.ids_of([str(i) for _, i, _ in parsed if i is not None])
        else:
            found = self.queue.known([int(i) for _, i, _ in parsed if i is not None])
            ids = {str(i): i for i in found}
        for row, identifier, label in parsed:
            if identifier is None or label is None:
                continue
            review_id = ids.get(str(identifier))
            if review_id is None:
                summary.skip("not in the review sample", row)
                continue
            before = self.queue.get(review_id)["label"]
            self.queue.label(review_id, label, "bulk")
            if before == label:
                summary.duplicates += 1
            else:
                summary.recorded += 1
        logger.info("review labels from %s: %s", path.name, summary.as_dict())
        return summary


def _bulk_row(
    raw: str, raw_label: object, by_prediction: bool, summary: BulkSummary, row: int
) -> tuple[int | str | None, str | None]:
    """One file row's id and label, or (None, None) with its problem noted in ``summary``."""
    if not raw:
        summary.skip("no id", row)
        return None, None
    try:
        identifier: int | str = check_prediction_id(raw) if by_prediction else _review_id(raw)
    except (FeedbackError, ReviewError):
        summary.skip("not a prediction id" if by_prediction else "not a review id", row)
        return None, None
    try:
        label = check_review_label(raw_label)
    except ReviewError:
        summary.skip("not a label", row)
        return None, None
    return identifier, label


def _review_id(value: object) -> int:
    """A review id as a positive whole number, or ``ReviewError`` saying what was given."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ReviewError(f"a review id is a whole number (the 'id' of a /review_sample row), got {value!r}") from None
    if number < 1:
        raise ReviewError(f"a review id is a whole number from 1, got {number}")
    return number
