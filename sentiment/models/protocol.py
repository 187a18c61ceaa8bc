"""What the predictor drives, whatever the model: ``info`` and a forward pass (``SentimentModel``).

A module of its own, free of torch, so that code serving the lexicon model (VADER) never imports torch: the
transformer backend (``sentiment.models.transformer``) is imported only when a transformer is loaded.
"""

from __future__ import annotations

from typing import Protocol

from sentiment.results import ForwardOutput, ModelInfo


class SentimentModel(Protocol):
    """What the predictor drives: ``info`` and a forward pass over already validated, preprocessed texts."""

    info: ModelInfo

    def forward(self, texts: list[str], batch_size: int, embed: bool = False) -> ForwardOutput:
        """Score preprocessed texts, at most ``batch_size`` texts per pass: ``(n, 3)`` float32 probabilities in
        ``LABELS`` order, an ``(n,)`` truncation flag and ``(n,)`` token counts. A model with a representation
        also takes ``embed=True`` and then fills ``embeddings`` (``models.embedding``)."""
        ...
