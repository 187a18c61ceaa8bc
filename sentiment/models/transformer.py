"""The two kinds of model the predictor can drive: a transformer classifier and the VADER lexicon.

Each exposes ``info`` and ``forward(texts) -> ForwardOutput`` with probabilities already in canonical ``LABELS``
order, so the predictor and everything above it never see model-specific label orders.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.special import softmax

from sentiment.labels import LABELS
from sentiment.models import embedding, packing
from sentiment.results import ForwardOutput, ModelInfo
from sentiment.settings import setting_default


@dataclass
class TransformerModel:
    """A sequence-classification transformer with its tokenizer and the map from its outputs to ``LABELS``.

    ``label_order[k]`` is the model output index of ``LABELS[k]``; ``max_length`` and ``token_budget`` are in tokens.
    """

    tokenizer: Any
    model: torch.nn.Module
    label_order: list[int]
    info: ModelInfo
    max_length: int
    token_budget: int = setting_default("token_budget")  # padded tokens per pass: many short texts or few long ones
    pack_texts: bool = setting_default("packing")  # texts of mixed lengths share rows where the family allows it
    pad_token_id: int = field(init=False)
    trace: bool = setting_default("torchscript")  # run the packed encoder as a TorchScript trace (packing.py)
    _packed: packing.PackedClassifier | None = field(init=False, default=None)
    _tokenizing: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        pad = getattr(self.tokenizer, "pad_token_id", None)
        self.pad_token_id = int(pad) if pad is not None else 0
        self.model.eval()
        found = packing.packed_head(self.model) if self.pack_texts else None
        if found is not None:
            self._packed = packing.PackedClassifier(found, self.pad_token_id, trace=self.trace)

    def tokenize(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
        """Token ids truncated to ``max_length`` (one list per text, special tokens included) and an ``(n,)`` bool
        flag for each text that lost tokens.

        Only texts that reach the limit can have been truncated, so only those are tokenised a second time,
        untruncated, to find out: the common short text costs one tokenisation.

        One call at a time: a fast tokenizer keeps its truncation setting on the shared Rust object and each call
        sets it, so an untruncated call on another thread (a request measuring its texts, or this method's second
        call) could otherwise hand a truncating one rows over ``max_length``, and the forward pass would fail for
        every text it holds. Tokenising costs ~0.1 ms a text: the lock is never the bottleneck beside the model.
        """
        with self._tokenizing:
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

    def forward(self, texts: list[str], batch_size: int, embed: bool = False) -> ForwardOutput:
        """Softmax probabilities ``(n, 3)`` float32 in ``LABELS`` order, in input order. Texts are sorted by length
        into passes of at most ``batch_size`` texts and ``token_budget`` padded tokens, packed where that saves
        ``packing.MIN_SAVING`` of the tokens. ``embed``: also the projected mean-pooled last hidden state of each
        text, from the same pass (the encoder's output, traced or not: no second forward pass)."""
        ids, truncated = self.tokenize(texts)
        probabilities = np.empty((len(texts), len(LABELS)), dtype=np.float32)
        embeddings = np.empty((len(texts), embedding.EMBEDDING_DIMS), dtype=np.float32) if embed else None
        lengths = [len(row) for row in ids]
        batches = packing.length_batches(lengths, batch_size, self.token_budget)
        with torch.inference_mode():
            if self._packed is not None:
                # Packed where that saves tokens; else the sorted batches, one text per row, through the same
                # (traced) encoder.
                passes = self._packed_passes(lengths, batches) or [[[i] for i in chosen] for chosen in batches]
                for rows in passes:
                    batch = self._packed.build(ids, rows)
                    logits, hidden = self._packed.run(batch)
                    probabilities[batch.texts] = softmax(logits.float().numpy(), axis=1)[:, self.label_order]
                    if embeddings is not None:
                        sizes = np.array([lengths[i] for i in batch.texts])
                        pooled = embedding.pool_segments(hidden.float().numpy(), *batch.starts, sizes)
                        embeddings[batch.texts] = embedding.project(pooled)
            else:
                for chosen in batches:
                    input_ids, attention_mask = self._pad([ids[i] for i in chosen])
                    out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=embed)
                    probabilities[chosen] = softmax(out.logits.float().numpy(), axis=1)[:, self.label_order]
                    if embeddings is not None:
                        pooled = embedding.pool_padded(out.hidden_states[-1].float().numpy(), attention_mask.numpy())
                        embeddings[chosen] = embedding.project(pooled)
        tokens = np.fromiter(lengths, dtype=np.int64, count=len(ids))
        return ForwardOutput(probabilities, truncated, tokens, embeddings)

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
        return pad_rows(rows, self.pad_token_id, width)


def pad_rows(rows: list[list[int]], pad_id: int, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-id rows right-padded with ``pad_id`` to ``width`` (default: the longest row), and the attention mask.

    Both are int64 tensors of shape ``(len(rows), width)``; the mask is 1 on real tokens, 0 on padding. Serving
    and fine-tuning pad the same way, so a model trains on inputs shaped like the ones it will serve.
    """
    width = max(len(row) for row in rows) if width is None else width
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = row
        attention_mask[r, : len(row)] = 1
    return torch.from_numpy(input_ids), torch.from_numpy(attention_mask)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (elements, not bytes), trainable or not."""
    return int(sum(p.numel() for p in model.parameters()))


def model_max_length(config: Any, tokenizer: Any, cap: int = 512) -> int:
    """The longest input the model accepts, in tokens: position embeddings (less RoBERTa's padding offset) and the
    tokenizer's limit, at most ``cap``."""
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
