"""Sequence packing: several texts share one row of a forward pass, each attending only to itself.

Concurrent requests arrive in random lengths. Padded to the longest of the group, a micro-batch of real tweets
computes many padding tokens (benchmarks/README.md#sequence-packing), and on a CPU every padded token costs what a
real one does. Packed, the texts sit end to end in one row with a block-diagonal attention mask and positions that
restart at each text, so the encoder computes each text exactly as it would alone (the tests compare the logits),
and only real tokens are paid for.

Only the encoder is shared: each text's first token (``<s>``/``[CLS]``) is gathered from the packed rows and given
to the model's own classification head. That needs to know the head, so packing is offered for the BERT and
RoBERTa families (the embedded model and the default Hub model); any other model is scored padded, as before.
"""

from __future__ import annotations

import heapq
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

# Texts are spread over as many rows as this width needs, so a row holds about this many tokens. Attention over a
# row costs width**2 (computed in full, the mask only zeroes it), ~8% of a roberta-base layer's matmuls at 384;
# wider rows would let attention eat the savings, narrower ones leave more padding at the end of each row.
ROW_WIDTH = 384
# Packing is used when it saves at least this share of the tokens padded batching would compute: sorted bulk
# batches barely pad, and there each text keeps a row of its own (through the same encoder).
MIN_SAVING = 0.2
# Every pass is padded to a multiple of this width. In bf16 the CPU kernels (oneDNN/AMX) are generated per input
# shape and kept, so every new width grows the process; multiples of 16 (at most 32 widths) keep it flat, and AMX
# works on 16-row tiles anyway (measured in benchmarks/README.md#widths-in-multiples-of-16).
WIDTH_MULTIPLE = 16


def round_width(width: int) -> int:
    """``width`` tokens rounded up to a multiple of ``WIDTH_MULTIPLE``."""
    return -(-width // WIDTH_MULTIPLE) * WIDTH_MULTIPLE


Head = Callable[[torch.Tensor], torch.Tensor]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackedBatch:
    """One forward pass: ``rows`` of token ids with per-text positions, and where each text starts."""

    input_ids: torch.Tensor  # [rows, width]
    position_ids: torch.Tensor  # [rows, width]
    attention_mask: torch.Tensor  # [rows, 1, width, width] additive: 0 within a text, dtype min elsewhere
    starts: tuple[np.ndarray, np.ndarray]  # (row, column) of each text's first token, in ``texts`` order
    texts: list[int]  # indices into the caller's list


def packed_head(model: torch.nn.Module) -> tuple[torch.nn.Module, Head, int] | None:
    """(encoder, head on first-token states, first position id) when the model's family is known, else None."""
    config = getattr(model, "config", None)
    kind = str(getattr(config, "model_type", ""))
    classifier = getattr(model, "classifier", None)
    if classifier is None or getattr(config, "position_embedding_type", "absolute") != "absolute":
        return None
    if kind in ("roberta", "xlm-roberta", "camembert") and hasattr(model, "roberta"):
        encoder = model.get_submodule("roberta")
        if getattr(encoder, "pooler", None) is not None:
            return None
        first_position = int(getattr(config, "pad_token_id", 1)) + 1  # RoBERTa numbers positions from padding_idx + 1

        def roberta_head(first: torch.Tensor) -> torch.Tensor:
            return classifier(first[:, None, :])  # RobertaClassificationHead reads features[:, 0, :]

        return encoder, roberta_head, first_position
    if kind == "bert" and hasattr(model, "bert") and getattr(model.bert, "pooler", None) is not None:
        encoder = model.get_submodule("bert")
        pooler, dropout = encoder.get_submodule("pooler"), model.get_submodule("dropout")

        def bert_head(first: torch.Tensor) -> torch.Tensor:
            return classifier(dropout(pooler(first[:, None, :])))  # BertPooler reads hidden_states[:, 0]

        return encoder, bert_head, 0
    return None


def plan_rows(lengths: list[int], width: int) -> list[list[int]]:
    """Text indices per row: as many rows as ``width`` needs, filled longest text first into the emptiest row,
    so rows come out about equally full (rows of a pass are padded to the fullest)."""
    count = max(1, -(-sum(lengths) // width))
    fills = [(0, r) for r in range(count)]  # a heap of (tokens so far, row)
    rows: list[list[int]] = [[] for _ in range(count)]
    for index in sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True):
        fill, r = heapq.heappop(fills)
        rows[r].append(index)
        heapq.heappush(fills, (fill + lengths[index], r))
    return [row for row in rows if row]


def padded_tokens(lengths: list[int], batches: list[list[int]]) -> int:
    """Tokens computed when each batch is padded to its longest text (``lengths`` in tokens, per text)."""
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def plan_packed(lengths: list[int], token_budget: int) -> list[list[list[int]]]:
    """Rows grouped into forward passes of at most ``token_budget`` tokens (rows padded to the widest)."""
    rows = plan_rows(lengths, ROW_WIDTH)
    fills = [sum(lengths[i] for i in row) for row in rows]
    return [[rows[r] for r in group] for group in length_batches(fills, len(rows), token_budget)]


def length_batches(lengths: list[int], max_texts: int, token_budget: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (sorted), each within ``max_texts`` texts and
    ``token_budget`` padded tokens: padding stays small, and short texts share big batches."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[index]  # sorted ascending: the newest text is the longest of its batch
        if current and (len(current) >= max_texts or (len(current) + 1) * width > token_budget):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def packed_cost(lengths: list[int], passes: list[list[list[int]]]) -> int:
    """Tokens computed by packed passes, each row padded to its pass's fullest row (before ``round_width``)."""
    return sum(len(p) * max(sum(lengths[i] for i in row) for row in p) for p in passes)


def build(
    ids: list[list[int]], rows: list[list[int]], *, pad_id: int, first_position: int, dtype: torch.dtype
) -> PackedBatch:
    """Tensors of one packed pass (shapes in ``PackedBatch``; width rounded up by ``round_width``). Padding forms a
    segment of its own, so no query row is fully masked; ``dtype`` is the mask's (the encoder's float type)."""
    width = round_width(max(sum(len(ids[i]) for i in row) for row in rows))
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    positions = np.full((len(rows), width), first_position, dtype=np.int64)
    segment = np.full((len(rows), width), -1, dtype=np.int64)
    start_rows, start_cols, order = [], [], []
    for r, row in enumerate(rows):
        column = 0
        for s, index in enumerate(row):
            n = len(ids[index])
            input_ids[r, column : column + n] = ids[index]
            positions[r, column : column + n] = np.arange(first_position, first_position + n)
            segment[r, column : column + n] = s
            start_rows.append(r)
            start_cols.append(column)
            order.append(index)
            column += n
    seg = torch.from_numpy(segment)
    same = seg[:, :, None] == seg[:, None, :]
    mask = torch.zeros(same.shape, dtype=dtype).masked_fill_(~same, torch.finfo(dtype).min)[:, None]
    return PackedBatch(
        input_ids=torch.from_numpy(input_ids),
        position_ids=torch.from_numpy(positions),
        attention_mask=mask,
        starts=(np.array(start_rows), np.array(start_cols)),
        texts=order,
    )


class _EncoderCall(torch.nn.Module):
    """The encoder with positional arguments and a plain tensor out: the form ``torch.jit.trace`` records."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        out = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            token_type_ids=torch.zeros_like(input_ids),
        )
        hidden: torch.Tensor = out.last_hidden_state
        return hidden


class PackedClassifier:
    """A BERT/RoBERTa classifier run on packed rows: the encoder over the rows, the model's head over each text's
    first token.

    With ``trace``, the encoder runs as a TorchScript trace. Eager, a pass is some 600 small torch calls from
    Python, each taking the GIL back: beside a busy HTTP event loop each waits up to the interpreter's switch
    interval. Traced, the pass is one call that holds the GIL only to enter and leave (measured in
    benchmarks/README.md#run-the-encoder-as-a-torchscript-trace). The trace is checked against the eager encoder on
    a second shape before it is used, and dropped if it differs.
    """

    def __init__(self, found: tuple[torch.nn.Module, Head, int], pad_id: int, trace: bool) -> None:
        encoder, self.head, self.first_position = found  # what packed_head found
        floating = {p.dtype for p in encoder.parameters() if p.dtype.is_floating_point}
        self.dtype = torch.bfloat16 if torch.bfloat16 in floating else torch.float32  # of the additive mask
        self.pad_id = pad_id
        self.encoder: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] = _EncoderCall(encoder)
        self.traced = False
        if trace:
            self._trace()

    def build(self, ids: list[list[int]], rows: list[list[int]]) -> PackedBatch:
        """The tensors of one pass of this model (its padding id, first position and mask dtype)."""
        return build(ids, rows, pad_id=self.pad_id, first_position=self.first_position, dtype=self.dtype)

    def _example(self, rows: list[list[int]]) -> PackedBatch:
        ids = [[5 + (i * 7 + j) % 50 for j in range(n)] for i, n in enumerate([9, 5, 14, 3, 11])]  # in any vocab
        return self.build(ids, rows)

    def _trace(self) -> None:
        eager = self.encoder
        first, second = self._example([[0, 1], [2]]), self._example([[3], [4, 0], [1, 2]])
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TracerWarnings about Python values: checked on a new shape below
                traced = torch.jit.trace(eager, _args(first), check_trace=False)
                expected, got = eager(*_args(second)), traced(*_args(second))
            tolerance = 1e-4 if self.dtype == torch.float32 else 5e-2
            if got.shape != expected.shape or not torch.allclose(got.float(), expected.float(), atol=tolerance):
                raise ValueError("the trace differs from the eager encoder on a second shape")
        except Exception as exc:  # a model the tracer cannot record runs eager: slower beside HTTP, same results
            logger.warning("encoder not traced, running eager: %s", exc)
            return
        self.encoder, self.traced = traced, True

    def logits(self, batch: PackedBatch) -> torch.Tensor:
        """Logits of the batch's texts, in ``batch.texts`` order."""
        return self.run(batch)[0]

    def run(self, batch: PackedBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of the batch's texts (``batch.texts`` order) and the encoder's last hidden state of the packed
        rows ``(rows, width, hidden)``, which the trace returns anyway (for embeddings: no second pass)."""
        hidden = self.encoder(*_args(batch))
        rows, cols = batch.starts
        return self.head(hidden[torch.from_numpy(rows), torch.from_numpy(cols)]), hidden


def _args(batch: PackedBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return batch.input_ids, batch.attention_mask, batch.position_ids
