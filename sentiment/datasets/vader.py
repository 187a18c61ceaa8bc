"""The VADER ground truth (Hutto and Gilbert, ICWSM 2014): four human-rated corpora from the vaderSentiment sdist.

Each line is ``id <TAB> mean rating (-4..+4, 20 raters) <TAB> text`` with CRLF endings. A mean within the neutral
band (+-0.5 by default) is neutral; above it positive, below it negative.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from sentiment.datasets.fetch import VADER_SDIST, fetch
from sentiment.settings import setting_default

VADER_FILES: dict[str, str] = {
    "vader_tweets": "tweets_GroundTruth.txt",
    "vader_amazon": "amazonReviewSnippets_GroundTruth.txt",
    "vader_movies": "movieReviewSnippets_GroundTruth.txt",
    "vader_nyt": "nytEditorialSnippets_GroundTruth.txt",
}
_INNER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"


def extract_ground_truth(cache_dir: Path) -> Path:
    """Folder holding the four ``*_GroundTruth.txt`` files, extracted once from the verified sdist. Raises
    ``DatasetUnavailableError`` when the sdist cannot be downloaded, ``FileNotFoundError`` when it lacks the corpora."""
    folder = cache_dir / "vader_ground_truth"
    if all((folder / name).exists() for name in VADER_FILES.values()):
        return folder
    sdist = fetch(VADER_SDIST, cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as outer:
        member = outer.extractfile(_INNER_ARCHIVE)
        if member is None:
            raise FileNotFoundError(f"{_INNER_ARCHIVE} is missing from {sdist}")
        with tarfile.open(fileobj=io.BytesIO(member.read())) as inner:
            for info in inner.getmembers():
                name = Path(info.name).name
                if name in VADER_FILES.values():
                    data = inner.extractfile(info)
                    if data is not None:
                        (folder / name).write_bytes(data.read())
    return folder


def parse_ground_truth(text: str, neutral_band: float = setting_default("dataset_neutral_band")) -> pd.DataFrame:
    """Parse one ground-truth file into ``text, label, rating, id``; lines without three fields are skipped.
    ``neutral_band`` is on the raters' -4..+4 scale: a mean rating within +-band is neutral."""
    ids, ratings, texts = [], [], []
    for line in text.splitlines():
        parts = line.rstrip("\r").split("\t", 2)
        if len(parts) != 3 or not parts[2].strip():
            continue
        try:
            rating = float(parts[1])
        except ValueError:
            continue
        ids.append(parts[0])
        ratings.append(rating)
        texts.append(parts[2].strip())
    rating_arr = np.asarray(ratings, dtype=float)
    labels = np.where(
        rating_arr > neutral_band, "positive", np.where(rating_arr < -neutral_band, "negative", "neutral")
    )
    return pd.DataFrame({"text": texts, "label": labels, "rating": rating_arr, "id": ids})


def load_vader(
    name: str, cache_dir: Path, neutral_band: float = setting_default("dataset_neutral_band")
) -> pd.DataFrame:
    """One of ``VADER_FILES`` (Hutto & Gilbert 2014) as ``text, label, rating, id``; undecodable bytes replaced."""
    folder = extract_ground_truth(cache_dir)
    raw = (folder / VADER_FILES[name]).read_bytes().decode("utf-8", errors="replace")
    return parse_ground_truth(raw, neutral_band)
