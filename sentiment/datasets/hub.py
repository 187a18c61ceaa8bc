"""Labelled datasets from the Hugging Face Hub, used when the Hub is reachable.

Reachability is decided first with a short request (``sentiment.models.hub``): the datasets client would otherwise retry
for many seconds before failing (benchmarks/README.md#decide-hub-reachability-first). Offline, the error names the
datasets that work here instead.
"""

from __future__ import annotations

import pandas as pd

from sentiment.errors import DatasetUnavailableError
from sentiment.labels import LABELS
from sentiment.models.hub import hub_status
from sentiment.settings import setting_default

# name -> (repo id, config, text column, label column, label -> canonical)
HUB_DATASETS: dict[str, tuple[str, str | None, str, str, dict[int, str]]] = {
    "tweet_eval": ("cardiffnlp/tweet_eval", "sentiment", "text", "label", dict(enumerate(LABELS))),
    # Amazon reviews (English): label is stars - 1; 1-2 stars negative, 3 neutral, 4-5 positive.
    "amazon_reviews": (
        "mteb/amazon_reviews_multi",
        "en",
        "text",
        "label",
        {0: "negative", 1: "negative", 2: "neutral", 3: "positive", 4: "positive"},
    ),
}
_HUB_SPLITS = {"train": "train", "validation": "validation", "test": "test"}


def load_hub_dataset(
    name: str, split: str, offline_names: list[str], timeout_s: float = setting_default("hub_timeout_s")
) -> pd.DataFrame:
    """One split of a Hub dataset as ``text, label``; the Hub's own splits are used (``all`` joins them).

    Raises ``DatasetUnavailableError`` naming ``offline_names`` when the Hub does not answer within ``timeout_s``
    seconds, or when the datasets library fails to load it; ``KeyError`` for a name not in ``HUB_DATASETS``."""
    repo, config, text_col, label_col, mapping = HUB_DATASETS[name]
    reachable, reason = hub_status(timeout_s)
    if not reachable:
        raise DatasetUnavailableError(
            f"dataset {name!r} needs the Hugging Face Hub, which cannot be used here ({reason}); "
            f"datasets that work offline: {', '.join(offline_names)}"
        )
    from datasets import load_dataset

    splits = list(_HUB_SPLITS) if split == "all" else [split]
    frames = []
    for part in splits:
        try:
            data = load_dataset(repo, config, split=_HUB_SPLITS[part])
        except Exception as exc:  # the datasets library raises many unrelated types for one network failure
            raise DatasetUnavailableError(f"could not load {repo} ({part}) from the Hub: {exc}") from exc
        frame = data.to_pandas()
        frames.append(pd.DataFrame({"text": frame[text_col].astype(str), "label": frame[label_col].map(mapping)}))
    return pd.concat(frames, ignore_index=True).dropna(subset=["label"])
