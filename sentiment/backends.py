"""The two kinds of model the predictor can drive: a transformer classifier and the VADER lexicon.

Each exposes ``info`` and ``forward(texts) -> ForwardOutput`` with probabilities already in canonical ``LABELS``
order, so the predictor and everything above it never see model-specific label orders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from sentiment import packing
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

    def as_dict(self) -> dict[str, Any]:
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
    probabilities: np.ndarray  # [n, 3] float32, LABELS order
    truncated: np.ndarray  # [n] bool: the text lost tokens at the model's limit
    tokens: np.ndarray  # [n] int: tokens the model saw (words for the lexicon); monitoring uses it


class SentimentModel(Protocol):
    info: ModelInfo

    def forward(self, texts: list[str], batch_size: int) -> ForwardOutput:
        """Score preprocessed texts."""
        ...


@dataclass
class TransformerModel:
    """A sequence-classification transformer with its tokenizer and the map from its outputs to ``LABELS``."""

    tokenizer: Any
    model: torch.nn.Module
    label_order: list[int]
    info: ModelInfo
    max_length: int
    token_budget: int = 8192  # padded tokens per forward pass: many short texts or few long ones
    pack_texts: bool = True  # pack texts of mixed lengths into shared rows where the model's family allows it
    pad_token_id: int = field(init=False)
    trace: bool = True  # run the packed encoder as a TorchScript trace (see packing.PackedClassifier)
    _packed: packing.PackedClassifier | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        pad = getattr(self.tokenizer, "pad_token_id", None)
        self.pad_token_id = int(pad) if pad is not None else 0
        self.model.eval()
        found = packing.packed_head(self.model) if self.pack_texts else None
        if found is not None:
            self._packed = packing.PackedClassifier(found, self.pad_token_id, trace=self.trace)

    def tokenize(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
        """Token ids truncated to ``max_length`` and a flag for each text that lost tokens.

        Only texts that reach the limit can have been truncated, so only those are tokenised a second time,
        untruncated, to find out: the common short text costs one tokenisation.
        """
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length, add_special_tokens=True)
        ids: list[list[int]] = encoded["input_ids"]
        truncated = np.zeros(len(texts), dtype=bool)
        at_limit = [i for i, row in enumerate(ids) if len(row) >= self.max_length]
        if at_limit:
            full = self.tokenizer(
                [texts[i] for i in at_limit], truncation=False, add_special_tokens=True, verbose=False
            )
            for i, row in zip(at_limit, full["input_ids"], strict=True):
                truncated[i] = len(row) > self.max_length
        return ids, truncated

    def forward(self, texts: list[str], batch_size: int) -> ForwardOutput:
        ids, truncated = self.tokenize(texts)
        probabilities = np.empty((len(texts), len(LABELS)), dtype=np.float32)
        lengths = [len(row) for row in ids]
        batches = packing.length_batches(lengths, batch_size, self.token_budget)
        with torch.inference_mode():
            if self._packed is not None:
                # Packed where that saves tokens; else the sorted batches, one text per row, through the same
                # (traced) encoder.
                passes = self._packed_passes(lengths, batches) or [[[i] for i in chosen] for chosen in batches]
                for rows in passes:
                    batch = self._packed.build(ids, rows)
                    logits = self._packed.logits(batch)
                    probabilities[batch.texts] = _softmax(logits.float().numpy())[:, self.label_order]
            else:
                for chosen in batches:
                    input_ids, attention_mask = self._pad([ids[i] for i in chosen])
                    logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
                    probabilities[chosen] = _softmax(logits.float().numpy())[:, self.label_order]
        tokens = np.fromiter(lengths, dtype=np.int64, count=len(ids))
        return ForwardOutput(probabilities, truncated, tokens)

    def _packed_passes(self, lengths: list[int], batches: list[list[int]]) -> list[list[list[int]]] | None:
        """The packed plan when the model allows it and it saves enough tokens over padded batches, else None."""
        if self._packed is None or len(lengths) < 2:
            return None
        passes = packing.plan_packed(lengths, self.token_budget)
        if packing.packed_cost(lengths, passes) > (1 - packing.MIN_SAVING) * packing.padded_tokens(lengths, batches):
            return None
        return passes

    def _pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad to the longest row of this batch, rounded up (see ``packing.WIDTH_MULTIPLE``)."""
        longest = max(len(row) for row in rows)
        width = max(longest, min(packing.round_width(longest), self.max_length))  # pads get positions too
        input_ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = row
            attention_mask[r, : len(row)] = 1
        return torch.from_numpy(input_ids), torch.from_numpy(attention_mask)


PRECISIONS = ("auto", "fp32", "bf16", "int8")


def resolve_precision(precision: str) -> str:
    """``auto``: bf16 on CPUs with native bf16 matrix instructions (AVX512-BF16 or AMX), else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    cpu = torch.cpu
    native_bf16 = (
        getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
        or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
    )
    return "bf16" if native_bf16 and not torch.cuda.is_available() else "fp32"


def apply_precision(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """The model in the requested numeric format (``fp32`` unchanged, ``bf16`` weights, ``int8`` dynamic)."""
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


# VADER's compound score c lies in [-1, 1]; its authors call c >= 0.05 positive and c <= -0.05 negative.
# Probabilities are softmax(k * (-c, tau, c)): the argmax reproduces exactly that rule, c = 0 gives the most
# neutral mass, and |c| -> 1 approaches certainty. k only sets how sharp the probabilities are.
VADER_TAU = 0.05
VADER_SHARPNESS = 4.0


def vader_probabilities(compound: np.ndarray) -> np.ndarray:
    """Turn VADER compound scores into three class probabilities by the documented rule above."""
    c = np.asarray(compound, dtype=np.float64)
    logits = VADER_SHARPNESS * np.stack([-c, np.full_like(c, VADER_TAU), c], axis=1)
    return _softmax(logits).astype(np.float32)


class LexiconModel:
    """The VADER lexicon as a baseline model: no tokens, no truncation, no network."""

    def __init__(self, info: ModelInfo) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.info = info
        self._analyzer = SentimentIntensityAnalyzer()

    def forward(self, texts: list[str], batch_size: int) -> ForwardOutput:
        compound = np.array([self._analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)
        words = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=len(texts))
        return ForwardOutput(vader_probabilities(compound), np.zeros(len(texts), dtype=bool), words)


def count_parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def model_max_length(config: Any, tokenizer: Any, cap: int = 512) -> int:
    """The longest input the model accepts: position embeddings (less RoBERTa's padding offset) and tokenizer limit."""
    limit = cap
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        if "roberta" in str(getattr(config, "model_type", "")):
            positions -= 2  # RoBERTa numbers positions from padding_idx + 1
        limit = min(limit, positions)
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < 1_000_000:
        limit = min(limit, tok_limit)
    return int(limit) if not math.isinf(limit) else cap
