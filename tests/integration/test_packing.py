"""Sequence packing (``sentiment/models/packing.py``): texts sharing a row must come out exactly as if each ran alone,
for both families it supports, and the predictor must pack only where that saves tokens."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DistilBertConfig,
    DistilBertForSequenceClassification,
)

from sentiment.models import packing
from sentiment.models.packing import length_batches
from sentiment.models.transformer import TransformerModel
from sentiment.results import ModelInfo
from tiny_models import CORPUS, build_tiny_roberta

WORDS = " ".join(CORPUS).split()


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 40))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_roberta_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_roberta(tmp_path_factory.mktemp("roberta") / "model")


def _model(folder: Path, pack: bool, dtype: torch.dtype = torch.float32, trace: bool = True) -> TransformerModel:
    model = AutoModelForSequenceClassification.from_pretrained(folder).to(dtype)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    info = ModelInfo("tiny", "local", "x")
    return TransformerModel(tokenizer, model, [0, 1, 2], info, 64, 2048, pack_texts=pack, trace=trace)


def _alone(tm: TransformerModel, texts: list[str]) -> np.ndarray:
    with torch.inference_mode():
        rows = [tm.model(input_ids=torch.tensor([ids])).logits for ids in tm.tokenize(texts)[0]]
    return torch.softmax(torch.cat(rows).float(), dim=1).numpy()


@pytest.mark.parametrize("trace", [True, False], ids=["traced", "eager"])
@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_packed_texts_score_exactly_as_each_text_alone(
    family: str, trace: bool, tiny_model_dir: Path, tiny_roberta_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packing, "ROW_WIDTH", 48)  # several rows and several passes from 40 texts
    monkeypatch.setattr(packing, "MIN_SAVING", -1.0)  # pack whatever it saves
    tm = _model(tiny_model_dir if family == "bert" else tiny_roberta_dir, pack=True, trace=trace)
    assert tm._packed is not None and tm._packed.traced is trace
    tm.token_budget = 200
    texts = _texts(40)
    lengths = [len(ids) for ids in tm.tokenize(texts)[0]]
    plan = tm._packed_passes(lengths, length_batches(lengths, 8, tm.token_budget))
    assert plan is not None and len(plan) > 1 and max(len(p) for p in plan) > 1  # several passes of several rows
    assert max(len(row) for p in plan for row in p) > 1  # rows that really share
    packed = tm.forward(texts, 8).probabilities
    np.testing.assert_allclose(packed, _alone(tm, texts), atol=1e-5)


def test_packed_bf16_labels_match_fp32(tiny_model_dir: Path) -> None:
    texts = _texts(64, seed=1)
    fp32 = _model(tiny_model_dir, pack=False).forward(texts, 8).probabilities
    bf16 = _model(tiny_model_dir, pack=True, dtype=torch.bfloat16).forward(texts, 8).probabilities
    np.testing.assert_allclose(bf16, fp32, atol=0.05)


def test_the_predictor_packs_only_where_it_saves_tokens(tiny_model_dir: Path) -> None:
    tm = _model(tiny_model_dir, pack=True)
    mixed = [1, 40, 3, 35, 2, 30, 5, 38]
    assert tm._packed_passes(mixed, length_batches(mixed, 64, 2048)) is not None
    even = [20] * 8  # sorted bulk batches of equal length do not pad: nothing to save
    assert tm._packed_passes(even, length_batches(even, 64, 2048)) is None
    assert _model(tiny_model_dir, pack=False)._packed_passes(mixed, length_batches(mixed, 64, 2048)) is None


def test_rows_hold_every_text_once_and_passes_keep_the_token_budget() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(3, 120) for _ in range(500)]
    passes = packing.plan_packed(lengths, token_budget=2048)
    placed = sorted(i for p in passes for row in p for i in row)
    assert placed == list(range(500))
    fills = [sum(lengths[i] for i in row) for p in passes for row in p]
    assert max(fills) - min(fills) <= max(lengths)  # rows come out about equally full
    for p in passes:
        width = max(sum(lengths[i] for i in row) for row in p)
        assert len(p) == 1 or len(p) * width <= 2048
    assert packing.packed_cost(lengths, passes) < 1.1 * sum(lengths)


def test_a_family_it_does_not_know_is_scored_padded(tmp_path: Path) -> None:
    config = DistilBertConfig(vocab_size=200, dim=32, n_layers=1, n_heads=2, hidden_dim=64, num_labels=3)
    model = DistilBertForSequenceClassification(config)
    assert packing.packed_head(model) is None
    tokenizer = AutoTokenizer.from_pretrained(build_tiny_roberta(tmp_path / "tok"))
    tm = TransformerModel(tokenizer, model, [0, 1, 2], ModelInfo("d", "local", "x"), 64, 2048, pack_texts=True)
    out = tm.forward(_texts(10), 8)
    assert out.probabilities.shape == (10, 3) and np.isfinite(out.probabilities).all()


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_unpacked_batches_through_the_traced_encoder_equal_the_model_s_own_forward(
    precision: str, tiny_model_dir: Path
) -> None:
    from sentiment.models.precision import apply_precision

    texts = [" ".join(["great"] * 5), " ".join(["awful"] * 5), " ".join(["phone"] * 5)] * 4  # equal lengths
    plain = _model(tiny_model_dir, pack=False)
    plain.model = apply_precision(plain.model, precision)
    traced = _model(tiny_model_dir, pack=True)
    traced.model = apply_precision(traced.model, precision)
    traced.__post_init__()  # re-wrap the converted model, as loading does
    assert traced._packed is not None and traced._packed.traced
    lengths = [len(ids) for ids in traced.tokenize(texts)[0]]
    assert traced._packed_passes(lengths, length_batches(lengths, 8, 2048)) is None  # nothing to pack
    # int8 dynamic quantisation scales each linear layer's input by its whole batch, padding included, and padding
    # is laid out differently in the two paths: int8 probabilities moved by up to 0.005 between runs. fp32 must
    # match exactly; int8 must give the same labels and nearly the same probabilities.
    tolerance = 1e-5 if precision == "fp32" else 2e-2
    got, expected = traced.forward(texts, 8).probabilities, plain.forward(texts, 8).probabilities
    np.testing.assert_allclose(got, expected, atol=tolerance)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_many_different_text_lengths_do_not_grow_memory_in_bf16(tiny_roberta_dir: Path) -> None:
    """bf16 kernels are generated and kept per input shape: passes are padded to a multiple of 16 so that a stream
    of random lengths reuses a few dozen shapes. Without the rounding this process grew without bound."""
    import psutil

    from sentiment.models.precision import resolve_precision

    if resolve_precision("auto") != "bf16":
        pytest.skip("this CPU has no native bf16: the per-shape kernels in question are not used")
    model = AutoModelForSequenceClassification.from_pretrained(tiny_roberta_dir)
    model.config.max_position_embeddings = 1026
    config = model.config
    config.hidden_size, config.num_attention_heads, config.intermediate_size = 256, 4, 1024
    big = type(model)(config).to(torch.bfloat16)  # wide enough for the kernels to matter, still quick
    tokenizer = AutoTokenizer.from_pretrained(tiny_roberta_dir)
    tm = TransformerModel(tokenizer, big, [0, 1, 2], ModelInfo("t", "local", "x"), 1024, 8192)
    from sentiment.inference.memory import release_free_memory

    rng = random.Random(0)
    ids = [[5 + rng.randrange(150) for _ in range(n)] for n in range(401)]

    packed = tm._packed
    assert packed is not None and packed.dtype == torch.bfloat16

    def run(length: int) -> None:
        packed.logits(packed.build(ids, [[length]]))

    process = psutil.Process()
    with torch.inference_mode():
        for length in range(16, 401, 16):  # every width the stream below can need, once
            run(length)
        release_free_memory()
        before = process.memory_info().rss
        for _ in range(400):  # a stream of random lengths, as concurrent requests bring them
            run(rng.randint(1, 400))
        release_free_memory()
    growth_mb = (process.memory_info().rss - before) / 2**20
    assert growth_mb < 30, f"{growth_mb:.0f} MB more after 400 passes of random lengths"
