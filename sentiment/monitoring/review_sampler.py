"""Drawing the review sample: each logged prediction enters it with the same chance, independently of its text,
its label and its confidence, so labels given to the sample estimate production accuracy and class shares without
bias (visitor feedback cannot: visitors choose what they label).

The design, and why:

- **Bernoulli draws at record time.** ``PredictionLog.record`` asks ``draw(n)`` for each request's rows: each row is
  drawn with probability ``rate`` (a Poisson/Bernoulli sample, Särndal, Swensson and Wretman, *Model Assisted
  Survey Sampling*, 1992, section 3.2), by a ``numpy`` generator seeded from the operating system once per process
  (tests inject a seeded one). Only a drawn row carries its text to the writer, so the memory held for texts while
  text logging is off is about ``rate`` of the queue. A row the log drops (queue full) or the store refuses takes
  its draw with it: every *logged* prediction had the same chance.
- **The daily cap ends the day's sample; it does not thin it.** ``admit`` runs in the writer's transaction: it counts
  the rows already sampled for the prediction's UTC day and admits drawn rows in arrival order until the cap.
  A capped day is therefore a Bernoulli(``rate``) sample of the day's predictions *up to the first refused draw*, and
  of none after it. Each row stores ``inclusion_probability = rate``, true for every prediction logged before that
  moment; the moment is recorded (``monitor_state`` key ``review_sample.closed.<day>``, the prediction time of the
  first refused draw), and ``review_queue.ReviewQueue.sampling_open`` says for any prediction time whether it was
  drawable. An interval is then computed over the predictions that were drawable (all of them on days the cap was
  not reached),
  which keeps it unbiased for them; the alternative, a per-day reservoir, gives a uniform sample of the whole day but
  knows its inclusion probability (cap / N) only when the day ends, and must keep up to ``cap`` texts it may later
  evict. With the default rate and cap (2%, 200) a day closes only after 10,000 predictions.
- Replicas sharing a PostgreSQL store count and insert in their own transactions: two writing at the same moment
  may together pass the cap by a few rows (never below it: the cap is a bound on labelling work, not a statistic).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, func, insert, select, update

from sentiment.store.rows import upsert
from sentiment.store.schema import monitor_state, review_sample

DAY_S = 86400.0
CLOSED_KEY = "review_sample.closed."  # + YYYY-MM-DD (UTC): when that day's sample ended (the cap was reached)


@dataclass(frozen=True)
class Drawn:
    """One drawn prediction, as the writer inserts it into ``review_sample`` (``text`` is the full text that was
    scored, cut to the prediction log's limit)."""

    prediction_id: str
    prediction_ts: float
    model: str
    served_label: str
    probabilities: tuple[float, float, float]  # in ``sentiment.labels.LABELS`` order
    text: str


def utc_day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


class ReviewSampler:
    """Bernoulli(``rate``) draws (thread-safe: request threads call ``draw`` at once) and the daily cap."""

    def __init__(self, rate: float, daily_cap: int, rng: np.random.Generator | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"a review sampling rate is a probability in [0, 1], got {rate}")
        if daily_cap < 0:
            raise ValueError(f"the review sample's daily cap is a count >= 0, got {daily_cap}")
        self.rate = float(rate)
        self.daily_cap = int(daily_cap)
        self._rng = rng if rng is not None else np.random.default_rng()  # OS entropy: a fresh stream per process
        self._lock = threading.Lock()  # a numpy Generator is not safe to share between threads

    @property
    def active(self) -> bool:
        return self.rate > 0 and self.daily_cap > 0

    def draw(self, n: int) -> np.ndarray:
        """``n`` independent draws: True where the row enters the sample (each with probability ``rate``)."""
        if not self.active or n <= 0:
            return np.zeros(max(n, 0), dtype=bool)
        with self._lock:
            uniforms = self._rng.random(n)
        return uniforms < self.rate

    def admit(self, conn: Connection, drawn: Sequence[Drawn], now: float | None = None) -> int:
        """Insert the drawn rows the daily cap allows (in arrival order, per UTC day of the prediction), in the
        caller's transaction; record the moment a day's sample ends. Returns how many were inserted."""
        now = time.time() if now is None else now
        by_day: dict[int, list[Drawn]] = {}
        for row in drawn:
            by_day.setdefault(int(row.prediction_ts // DAY_S), []).append(row)  # Unix days are UTC days
        inserted = 0
        for day, rows in by_day.items():
            start = day * DAY_S
            taken = conn.execute(
                select(func.count())
                .select_from(review_sample)
                .where(and_(review_sample.c.prediction_ts >= start, review_sample.c.prediction_ts < start + DAY_S))
            ).scalar_one()
            room = max(0, self.daily_cap - int(taken))
            admitted, refused = rows[:room], rows[room:]
            if admitted:
                existing = set(
                    conn.execute(
                        select(review_sample.c.prediction_id).where(
                            review_sample.c.prediction_id.in_([r.prediction_id for r in admitted])
                        )
                    ).scalars()
                )
                fresh = [self._params(r, now) for r in admitted if r.prediction_id not in existing]
                if fresh:
                    conn.execute(insert(review_sample), fresh)
                    inserted += len(fresh)
            if refused:
                self._close(conn, utc_day(start), refused[0].prediction_ts, now)
        return inserted

    def _params(self, row: Drawn, now: float) -> dict[str, Any]:
        p_negative, p_neutral, p_positive = row.probabilities
        return {
            "prediction_id": row.prediction_id,
            "prediction_ts": row.prediction_ts,
            "model": row.model,
            "served_label": row.served_label,
            "p_negative": p_negative,
            "p_neutral": p_neutral,
            "p_positive": p_positive,
            "text": row.text,
            "inclusion_probability": self.rate,
            "sampled_at": now,
        }

    def _close(self, conn: Connection, day: str, at: float, now: float) -> None:
        """Record the first refused draw of ``day`` (kept if an earlier one is already recorded)."""
        key = CLOSED_KEY + day
        known = conn.execute(select(monitor_state.c.value).where(monitor_state.c.key == key)).scalar()
        if known is not None and json.loads(known)["at"] <= at:
            return
        value = json.dumps({"at": at, "rate": self.rate, "cap": self.daily_cap})
        upsert(conn, monitor_state, {"key": key, "value": value, "updated_at": now})


def prune(conn: Connection, text_days: float, now: float | None = None) -> None:
    """Delete sampled texts older than ``text_days`` (by the time they were sampled): a labelled row keeps its
    label and probabilities without the text (an interval still uses it), an unlabelled row goes (nobody can label
    it without its text). The records of closed days stay (one small row per capped day): old intervals need them."""
    cutoff = (time.time() if now is None else now) - text_days * DAY_S
    old = review_sample.c.sampled_at < cutoff
    conn.execute(review_sample.delete().where(and_(old, review_sample.c.label.is_(None))))
    conn.execute(update(review_sample).where(and_(old, review_sample.c.text.is_not(None))).values(text=None))
