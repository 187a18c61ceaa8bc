"""The VADER lexicon (Hutto and Gilbert, ICWSM 2014) as a baseline model with the same interface as a transformer."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from sentiment.results import ForwardOutput, ModelInfo

# VADER's compound score c lies in [-1, 1]; its authors call c >= 0.05 positive and c <= -0.05 negative.
# Probabilities are softmax(k * (-c, tau, c)): the argmax reproduces exactly that rule, c = 0 gives the most
# neutral mass, and |c| -> 1 approaches certainty. k only sets how sharp the probabilities are.
VADER_TAU = 0.05
VADER_SHARPNESS = 4.0


def vader_probabilities(compound: np.ndarray) -> np.ndarray:
    """Turn ``(n,)`` VADER compound scores in [-1, 1] into ``(n, 3)`` float32 probabilities in ``LABELS`` order,
    by the thresholds of Hutto & Gilbert 2014 (see above)."""
    c = np.asarray(compound, dtype=np.float64)
    logits = VADER_SHARPNESS * np.stack([-c, np.full_like(c, VADER_TAU), c], axis=1)
    return softmax(logits, axis=1).astype(np.float32)


class LexiconModel:
    """The VADER lexicon as a baseline model: no tokens, no truncation, no network."""

    def __init__(self, info: ModelInfo) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.info = info
        self._analyzer = SentimentIntensityAnalyzer()

    def forward(self, texts: list[str], batch_size: int, embed: bool = False) -> ForwardOutput:
        """One text at a time (``batch_size`` is unused); ``tokens`` counts whitespace-separated words. A lexicon
        has no representation: ``embed`` is accepted and ``embeddings`` stays None."""
        compound = np.array([self._analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)
        words = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))
        return ForwardOutput(vader_probabilities(compound), np.zeros(len(texts), dtype=bool), words)
