"""Deterministic, stratified, seeded train / validation / test splits.

Each class is shuffled with its own seeded generator and cut at the same fractions, so every split keeps the class
mix of the whole set, and the same seed always yields the same rows whatever order the file lists them in
(rows are first ordered by a stable key).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiment.errors import DatasetError
from sentiment.settings import setting_default
from sentiment.settings.dataset_names import KNOWN_SPLITS

SPLITS: tuple[str, ...] = KNOWN_SPLITS  # listed in settings, which validates SENTIMENT_REFERENCE_SPLIT
FRACTIONS: dict[str, float] = {"train": 0.70, "validation": 0.15, "test": 0.15}


def split_frame(frame: pd.DataFrame, split: str, seed: int = setting_default("seed")) -> pd.DataFrame:
    """Rows of ``frame`` (columns ``text``, ``label``) that belong to ``split``; ``all`` returns every row.

    Per class 70% train, 15% validation, 15% test (rounded per class). Raises ``DatasetError`` for another split."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if split == "all":
        return frame.reset_index(drop=True)
    ordered = frame.sort_values(["label", "text"], kind="stable").reset_index(drop=True)
    chosen: list[np.ndarray] = []
    for offset, (_, group) in enumerate(ordered.groupby("label", sort=True)):
        index = group.index.to_numpy()
        rng = np.random.default_rng([seed, offset])
        index = index[rng.permutation(len(index))]
        n_train = round(len(index) * FRACTIONS["train"])
        n_val = round(len(index) * FRACTIONS["validation"])
        bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_val), "test": (n_train + n_val, None)}
        lo, hi = bounds[split]
        chosen.append(index[lo:hi])
    rows = np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)
    return ordered.loc[rows].reset_index(drop=True)
