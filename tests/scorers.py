"""A scorer with no model, for property tests of the CSV readers: they test how rows are read, kept and written, so
a few hundred generated files need no forward pass, while the texts are still judged by the predictor's own rule."""

from __future__ import annotations

import numpy as np

from sentiment.errors import InvalidTextError
from sentiment.inference.predictor import validate_text
from sentiment.labels import LABELS
from sentiment.results import BatchResult


def constant_scorer(texts: list[str]) -> BatchResult:
    """Every valid text gets the same probabilities (0.2, 0.3, 0.5); an invalid one the predictor's own error."""
    errors: list[str | None] = []
    for text in texts:
        try:
            validate_text(text)
            errors.append(None)
        except InvalidTextError as exc:
            errors.append(str(exc))
    probabilities = np.full((len(texts), len(LABELS)), np.nan, dtype=np.float32)
    probabilities[[e is None for e in errors]] = [0.2, 0.3, 0.5]
    return BatchResult(probabilities, np.zeros(len(texts), bool), errors, np.zeros(len(texts), np.int64))
