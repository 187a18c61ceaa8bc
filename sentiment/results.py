"""What every layer passes around: what serves (``ModelInfo``) and what it said (``Prediction``, ``BatchResult``).

Plain dataclasses over numpy, with no torch, so the UI, the service and monitoring can hold them without importing
a model runtime.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sentiment.errors import InvalidTextError
from sentiment.labels import LABELS


@dataclass(frozen=True)
class ModelInfo:
    """What actually serves: reported by the UI, ``/health`` and the ``sentiment_model_info`` metric."""

    name: str
    source: str  # hub | embedded | lexicon | local
    revision: str
    preprocessing: str = "none"
    max_length: int | None = None
    parameters: int = 0
    note: str = ""  # e.g. why 'auto' fell back
    precision: str = "fp32"
    calibration: str = ""  # how probabilities are calibrated (e.g. "temperature scaling T=1.4 on ..."); "" = not
    # The folder a model was loaded from (its calibration map lives there; the embedded model's too); None for the Hub
    # and the lexicon. Kept out of ``as_dict``: a path on the server is no visitor's business; a run is named by its
    # run name.
    folder: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form that ``/health`` and the UI show, with ``calibrated`` as a bool."""
        return {
            "name": self.name,
            "source": self.source,
            "revision": self.revision,
            "preprocessing": self.preprocessing,
            "max_length": self.max_length,
            "parameters": self.parameters,
            "note": self.note,
            "precision": self.precision,
            "calibrated": bool(self.calibration),
            "calibration": self.calibration,
        }


@dataclass(frozen=True)
class ForwardOutput:
    """What a model's forward pass returns for ``n`` texts, before calibration."""

    probabilities: np.ndarray  # [n, 3] float32, LABELS order
    truncated: np.ndarray  # [n] bool: the text lost tokens at the model's limit
    tokens: np.ndarray  # [n] int: tokens the model saw (words for the lexicon); monitoring uses it
    embeddings: np.ndarray | None = None  # [n, d] float32 when asked for and the model has them (models.embedding)


@dataclass(frozen=True)
class Prediction:
    """The label and every class probability of one text; ``error`` is set (and the rest empty) when unscoreable.

    ``scores`` maps each of ``LABELS`` to its probability (they sum to 1); ``truncated``: the model saw only the
    first ``max_length`` tokens (or the text was cut to ``CHARS_PER_TOKEN`` characters per token first).
    """

    label: str | None
    scores: dict[str, float]
    truncated: bool = False
    error: str | None = None
    model: str | None = None  # name of the model that produced it (the serving model can change at runtime)
    prediction_id: str | None = None  # the id the prediction log keeps it under (feedback names it); None: not logged

    @property
    def ok(self) -> bool:
        """True when the text was scored."""
        return self.error is None

    @property
    def confidence(self) -> float:
        """The top class probability, in [0, 1]; 0.0 for an error."""
        return max(self.scores.values()) if self.scores else 0.0


@dataclass(frozen=True)
class BatchResult:
    """Array form of a batch, for callers that handle thousands of rows (CSV scoring, evaluation).

    For ``n`` texts: ``probabilities`` ``(n, 3)`` float32 in ``LABELS`` order, ``truncated`` ``(n,)`` bool,
    ``tokens`` ``(n,)`` int64 (tokens the model saw; words for the lexicon), ``errors`` one entry per text. Rows of
    invalid texts are NaN, their ``labels`` ``""`` and their ``errors`` say why.
    ``error_reasons`` says under which ``sentiment_errors_total`` reason each row counts (the error's ``reason``),
    so that counting never reads the message.
    """

    probabilities: np.ndarray
    truncated: np.ndarray
    errors: list[str | None]
    tokens: np.ndarray  # 0 for invalid texts
    model: str = ""  # name of the model that scored the batch
    # One id per row ("" for an invalid text) once the service has given them; empty when nobody has (evaluation).
    prediction_ids: tuple[str, ...] = ()
    # One metric reason per row (None for a scored row); empty when the maker gave none (every error: invalid_input).
    error_reasons: tuple[str | None, ...] = ()
    # (n, d) float32 projected mean-pooled hidden states (NaN rows for invalid texts), when asked for; None else.
    embeddings: np.ndarray | None = None

    def with_new_ids(self) -> BatchResult:
        """A copy with a fresh random id per scored row: 128 random bits (``uuid4``), so that nobody can guess the
        id of someone else's prediction and label it (ids are the only key feedback needs)."""
        ids = tuple("" if err is not None else uuid.uuid4().hex for err in self.errors)
        return replace(self, prediction_ids=ids)

    def error_reason(self, i: int) -> str | None:
        """The metric reason of row ``i``'s error (``None`` for a scored row)."""
        if self.errors[i] is None:
            return None
        return (self.error_reasons[i] if self.error_reasons else None) or InvalidTextError.reason

    def prediction_id(self, i: int) -> str:
        """The id of row ``i``; ``""`` when ids were not given or the row is invalid."""
        return self.prediction_ids[i] if self.prediction_ids else ""

    @property
    def labels(self) -> list[str]:
        """The top class of each row (``""`` for an invalid text)."""
        if not self.errors:
            return []
        best = self.probabilities.argmax(axis=1)  # NaN rows (invalid texts) are blanked below
        return ["" if err else LABELS[int(i)] for i, err in zip(best, self.errors, strict=True)]

    def predictions(self) -> list[Prediction]:
        """One ``Prediction`` per row: label and every probability, or the row's error."""
        out: list[Prediction] = []
        labels = self.labels
        for i, err in enumerate(self.errors):
            if err is not None:
                out.append(Prediction(label=None, scores={}, error=err, model=self.model))
            else:
                scores = {label: float(p) for label, p in zip(LABELS, self.probabilities[i], strict=True)}
                pid = self.prediction_id(i) or None
                out.append(Prediction(labels[i], scores, bool(self.truncated[i]), model=self.model, prediction_id=pid))
        return out

    @property
    def valid(self) -> np.ndarray:
        """``(n,)`` bool: which rows were scored."""
        return np.array([err is None for err in self.errors], dtype=bool)
