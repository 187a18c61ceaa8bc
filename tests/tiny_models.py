"""Tiny transformers built on the fly: a locally trained WordPiece tokenizer and a 2-layer BERT, saved with
``save_pretrained`` so they load through exactly the code path a real checkpoint takes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

CORPUS = [
    "i love this so much",
    "what a great day",
    "this is terrible and awful",
    "worst service ever",
    "the package arrived on tuesday",
    "it is a phone",
    "@user check http://example.com now",
    "not bad at all",
    "absolutely wonderful experience",
    "i hate waiting in lines",
] * 20


def build_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    fast.save_pretrained(folder)


def build_tiny_bert(folder: Path, id2label: dict[int, str] | None = None, seed: int = 0) -> Path:
    """A random 2-layer BERT classifier with the given labels, saved to ``folder``."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    id2label = id2label or {0: "negative", 1: "neutral", 2: "positive"}
    config = BertConfig(
        vocab_size=200,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    model = BertForSequenceClassification(config)
    with torch.no_grad():  # make the head produce clearly different logits per input
        model.classifier.weight.normal_(0, 2.0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    build_tokenizer(folder)
    return folder


def build_tiny_roberta(folder: Path, seed: int = 0) -> Path:
    """A random 2-layer RoBERTa classifier (positions numbered from padding_idx + 1, a head of its own)."""
    from transformers import RobertaConfig, RobertaForSequenceClassification

    torch.manual_seed(seed)
    id2label = {0: "negative", 1: "neutral", 2: "positive"}
    config = RobertaConfig(
        vocab_size=200,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=66,
        pad_token_id=0,
        type_vocab_size=1,
        num_labels=3,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    model = RobertaForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.out_proj.weight.normal_(0, 2.0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    build_tokenizer(folder)
    return folder


@contextmanager
def started_service(model_dir: Path, settings: Any, **overrides: Any) -> Iterator[Any]:
    """A started ``SentimentService`` serving the tiny model at ``model_dir`` on a fresh metrics registry, with
    ``overrides`` applied to ``settings`` (unvalidated, as tests need small windows); stopped on exit."""
    from prometheus_client import CollectorRegistry

    from sentiment.inference.predictor import Predictor
    from sentiment.service.metrics import ServiceMetrics
    from sentiment.service.serving import SentimentService

    fast = settings.model_copy(update=overrides)
    service = SentimentService(
        fast, ServiceMetrics(CollectorRegistry()), predictor=Predictor.load(str(model_dir), fast)
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()
