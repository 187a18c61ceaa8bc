"""Which names ``--dataset``, ``SENTIMENT_REFERENCE_DATASET`` and the evaluation settings accept, and the one message
that says why a name is not one: a registry name, or the path of a labelled file.

Settings check the dataset settings with it at start, and the dataset registry (which loads them) answers a wrong
name with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePath

# The dataset names and splits ``sentiment.datasets.load_split`` knows. This module sits below the registry and
# cannot import it, so the names are listed here and ``sentiment.datasets`` checks at import that its registry (plus
# ``production-feedback``) is exactly this list.
KNOWN_DATASETS = (
    "vader_tweets",
    "vader_amazon",
    "vader_movies",
    "vader_nyt",
    "airline_tweets",
    "tweet_eval",
    "amazon_reviews",
    "production-feedback",
)
KNOWN_SPLITS = ("train", "validation", "test", "all")
DATASET_FILE_SUFFIXES = (".csv", ".tsv", ".txt")  # a dataset may also be the path of a labelled file


# A file extension as people type one (``.csv``, ``.parquet``, ``.jsonl``): a letter, then up to 9 letters or digits.
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,9}")


def looks_like_a_path(name: str) -> bool:
    """Whether a dataset name was meant as a file: it has a path separator or ends in a file extension (``mine.csv``,
    ``exports/june``, ``x.parquet``). Registry names have neither, so such a name is answered about the file ("no
    file ..."), not with the list of registry names the user never meant."""
    return "/" in name or "\\" in name or _EXTENSION.fullmatch(PurePath(name).suffix) is not None


def dataset_problem(name: str, known: Iterable[str] = KNOWN_DATASETS) -> str | None:
    """Why ``name`` is not a dataset ``load_split`` can read (None if it is): one of ``known`` or an existing
    labelled file. The one rule behind every "which dataset" message: settings, the registry and the CLI."""
    known = tuple(known)
    if name in known:
        return None
    files = "/".join(DATASET_FILE_SUFFIXES)
    if looks_like_a_path(name):
        path = Path(name)
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        if path.is_dir():
            return f"{name!r} is a folder; give the path of a labelled {files} file"
        if not path.is_file():
            return f"no file {name!r}{where}; give a labelled {files} file, or a dataset: {', '.join(known)}"
        if path.suffix.lower() not in DATASET_FILE_SUFFIXES:
            return f"{name!r} is not a {files} file; save the text and label columns as CSV"
        return None
    return f"unknown dataset {name!r}; known: {', '.join(known)}, or the path of a labelled {files} file"
