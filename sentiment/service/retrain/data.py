"""The retrain job's data: production labels from the store, split once and for all into training rows and a held-out
slice that is never trained on and is kept to judge a challenger, plus an optional shipped dataset against forgetting.

Production labels are (prediction id, text, label) from two sources, both decided by the owner:
- accepted visitor feedback whose text is known: given with it, or kept by the prediction log or the review sample;
- the labelled rows of the random review sample (their text is kept for SENTIMENT_REVIEW_TEXT_DAYS).
A prediction labelled by both keeps one row when the labels agree and is left out when they disagree (as feedback
conflicts are: nobody's click silently wins).

Held out: ``held_out(prediction_id, share)`` hashes the id (SHA-256) to a number in [0, 1); below ``share`` the row is
held out. The rule depends on the id alone, so a label held out once is held out in every later retrain too: no
challenger is ever judged on a label an earlier challenger (or itself) was trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select

from sentiment.datasets import DATASETS, load_split
from sentiment.datasets.feedback import FeedbackStore
from sentiment.errors import DatasetError, NotEnoughLabelsError
from sentiment.monitoring.review_queue import ReviewQueue
from sentiment.settings import Settings
from sentiment.store import Store
from sentiment.store.schema import predictions, review_sample

COLUMNS = ["prediction_id", "text", "label", "source"]
_IDS_PER_QUERY = 500
_HASH_SPACE = float(2**64)


def held_out(prediction_id: str, share: float) -> bool:
    """Whether the label of ``prediction_id`` is held out: the first 8 bytes of its SHA-256 as a number in [0, 1)
    below ``share``. Deterministic and independent of every other row (a uniform split for ids drawn at random)."""
    digest = hashlib.sha256(prediction_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_SPACE < share


def _logged_texts(store: Store, ids: list[str]) -> dict[str, str]:
    """Texts the prediction log or the review sample kept for these prediction ids (log first)."""
    found: dict[str, str] = {}
    with store.read() as conn:
        for table in (review_sample, predictions):
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                query = select(table.c.prediction_id, table.c.text).where(
                    table.c.prediction_id.in_(chunk), table.c.text.is_not(None)
                )
                found.update({str(pid): str(text) for pid, text in conn.execute(query)})
    return found


def production_labels(store: Store) -> tuple[pd.DataFrame, int]:
    """Every production label with a known text (``COLUMNS``; ``source`` feedback, review or both), one row per
    prediction, sorted by prediction id; and how many predictions were left out because their labels disagree."""
    feedback, conflicts = FeedbackStore(store).labels(("accepted",))
    missing = feedback.loc[feedback["text"].isna(), "prediction_id"].astype(str).tolist()
    if missing:
        texts = _logged_texts(store, missing)
        feedback["text"] = [
            t if isinstance(t, str) else texts.get(p) for p, t in feedback[["prediction_id", "text"]].values
        ]
    feedback = feedback.dropna(subset=["text"]).assign(source="feedback")
    labelled = pd.DataFrame(
        ReviewQueue(store).rows("labelled", limit=10_000_000), columns=["prediction_id", "text", "label"]
    )
    reviewed = labelled.dropna(subset=["text"])[["prediction_id", "text", "label"]].assign(source="review")
    both = pd.concat([feedback[COLUMNS], reviewed[COLUMNS]], ignore_index=True)
    if both.empty:
        return pd.DataFrame(columns=COLUMNS), conflicts
    labels = both.groupby("prediction_id")["label"].nunique()
    agreed = both[both["prediction_id"].isin(labels.index[labels == 1])]
    rows = agreed.groupby("prediction_id", as_index=False).agg(
        text=("text", "first"), label=("label", "first"), source=("source", lambda s: "+".join(sorted(set(s))))
    )
    return rows[COLUMNS].sort_values("prediction_id").reset_index(drop=True), conflicts + int((labels > 1).sum())


@dataclass(frozen=True)
class RetrainData:
    """What one retrain trains on and is judged on. ``train`` and ``validation`` are production rows (validation: a
    tenth of the training rows, to choose the best epoch) plus the mixed-in rows (``dataset`` column says which);
    ``held_out`` only production rows, never in the other two. ``digest``: SHA-256 of every row used, in order."""

    train: pd.DataFrame
    validation: pd.DataFrame
    held_out: pd.DataFrame
    production_rows: int  # production labels trained on (training and validation rows)
    mixed_rows: int
    conflicts: int
    digest: str

    def counts(self) -> dict[str, Any]:
        return {
            "production_train": self.production_rows,
            "held_out": len(self.held_out),
            "mixed_in": self.mixed_rows,
            "conflicts_left_out": self.conflicts,
        }


def _digest(frames: list[pd.DataFrame]) -> str:
    hasher = hashlib.sha256()
    for frame in frames:
        for text, label in frame[["text", "label"]].itertuples(index=False):
            hasher.update(f"{label}\t{text}\n".encode())
        hasher.update(b"\x00")
    return hasher.hexdigest()


def retrain_data(store: Store, settings: Settings) -> RetrainData:
    """The production labels split by ``held_out``, a tenth of the training rows for validation (by the same hash),
    and ``retrain_mix_ratio`` rows of ``retrain_mix_dataset``'s train split per production training row (a seeded
    sample). ``NotEnoughLabelsError`` below ``retrain_min_labels`` production labels, saying how many more."""
    mix = settings.retrain_mix_dataset if settings.retrain_mix_ratio > 0 else None
    if mix in DATASETS and not DATASETS[mix].trainable:
        raise DatasetError(
            f"SENTIMENT_RETRAIN_MIX_DATASET={mix} is for evaluation only ({DATASETS[mix].licence}): a model served "
            "here must not be trained on it; name a trainable dataset (e.g. vader_tweets), or leave it empty"
        )
    rows, conflicts = production_labels(store)
    if len(rows) < settings.retrain_min_labels:
        raise NotEnoughLabelsError(len(rows), settings.retrain_min_labels)
    share = settings.retrain_holdout_share
    out = rows["prediction_id"].map(lambda pid: held_out(pid, share)).astype(bool)
    kept = rows[~out].assign(dataset="production")
    # validation: ids whose hash falls in the next tenth of the unit interval after the held-out share
    is_val = kept["prediction_id"].map(lambda pid: held_out(pid, share + (1 - share) / 10)).astype(bool)
    train, validation = kept[~is_val], kept[is_val]
    if validation.empty:  # a handful of labels: choose the epoch on the training rows (never on the held-out ones)
        validation = train
    mixed = pd.DataFrame(columns=["text", "label", "dataset"])
    if mix:
        shipped = load_split(mix, "train", settings)
        n = min(len(shipped), round(settings.retrain_mix_ratio * len(kept)))
        mixed = shipped.sample(n=n, random_state=settings.seed)[["text", "label"]].assign(dataset=mix)
    columns = ["text", "label", "dataset"]
    train = pd.concat([train[columns], mixed[columns]], ignore_index=True)
    held = rows[out].reset_index(drop=True)
    return RetrainData(
        train=train,
        validation=validation[columns].reset_index(drop=True),
        held_out=held,
        production_rows=len(kept),
        mixed_rows=len(mixed),
        conflicts=conflicts,
        digest=_digest([train, validation, held]),
    )
