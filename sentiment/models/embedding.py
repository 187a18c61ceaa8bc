"""A small fixed embedding of each scored text, for semantic drift checks: the model's own representation.

The forward pass already computes the encoder's last hidden state; its mean over each text's tokens is projected
to ``EMBEDDING_DIMS`` dimensions by a fixed random Gaussian matrix (Johnson-Lindenstrauss: distances between texts
are kept up to a small factor, so a classifier that separates two windows in the full space still separates them
here). The matrix depends only on the hidden size and ``PROJECTION_SEED``: every revision of a model (and every
process) projects the same way, so a reference and a window built apart are comparable. 16 float16 numbers are
32 bytes per logged prediction and carry no text.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

EMBEDDING_DIMS = 16
PROJECTION_SEED = 20_261_129  # fixed for good: changing it makes every stored embedding incomparable


@lru_cache(maxsize=8)
def projection(hidden: int, dims: int = EMBEDDING_DIMS) -> np.ndarray:
    """The ``(hidden, dims)`` float32 projection: i.i.d. N(0, 1/dims), seeded by ``PROJECTION_SEED`` only."""
    rng = np.random.default_rng(PROJECTION_SEED)
    matrix = rng.standard_normal((hidden, dims)) / np.sqrt(dims)
    matrix.setflags(write=False)
    return matrix.astype(np.float32)


def project(pooled: np.ndarray) -> np.ndarray:
    """``(n, hidden)`` pooled states -> ``(n, EMBEDDING_DIMS)`` float32 embeddings."""
    pooled = np.asarray(pooled, dtype=np.float32)
    return pooled @ projection(pooled.shape[1])


def pool_padded(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over each row's real tokens: ``hidden`` ``(rows, width, H)``, ``mask`` ``(rows, width)`` of 0/1."""
    weights = mask.astype(np.float32)[:, :, None]
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)


def pool_segments(hidden: np.ndarray, rows: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Mean over each packed text's tokens: text ``k`` fills ``hidden[rows[k], starts[k]:starts[k] + lengths[k]]``.

    One cumulative sum over the width, then a difference per text: no Python loop over texts."""
    total = np.cumsum(hidden, axis=1, dtype=np.float32)
    zero = np.zeros((hidden.shape[0], 1, hidden.shape[2]), dtype=np.float32)
    total = np.concatenate([zero, total], axis=1)  # total[:, j] = sum of the first j tokens
    summed = total[rows, starts + lengths] - total[rows, starts]
    return summed / np.maximum(lengths, 1)[:, None].astype(np.float32)
