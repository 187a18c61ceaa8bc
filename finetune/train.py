"""LoRA fine-tuning of a sequence classifier on CPU (or a GPU when present), with a plain torch loop.

A plain loop rather than ``transformers.Trainer`` keeps the dependency set small (no accelerate) and makes the few
things that matter here explicit: length-bucketed batches (little padding on 2 cores), class-weighted loss for
macro-F1, per-epoch validation with early stopping, and the best epoch's adapter kept.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from finetune.args import TrainArgs
from finetune.runs import new_run_dir
from sentiment.datasets import load_split
from sentiment.evaluation.metrics import ClassificationReport, classification_report
from sentiment.inference.calibration import CALIBRATION_FILE
from sentiment.inference.preprocessing import get_preprocessor
from sentiment.labels import LABEL_TO_ID, LABELS
from sentiment.models.adapters import BASE_ENCODER_ALIASES, MINILM_ID, peft_without_deprecation_noise, resolve_base
from sentiment.models.registry import EMBEDDED_DIR, METADATA_FILE
from sentiment.models.transformer import TransformerModel, pad_rows
from sentiment.results import ModelInfo
from sentiment.settings import Settings

logger = logging.getLogger(__name__)

# The attention query and value projections of each architecture: the original LoRA recipe, a small share of
# the weights (override with --target_modules).
DEFAULT_TARGETS: dict[str, list[str]] = {
    "bert": ["query", "value"],
    "roberta": ["query", "value"],
    "xlm-roberta": ["query", "value"],
    "distilbert": ["q_lin", "v_lin"],
    "deberta-v2": ["query_proj", "value_proj"],
    "electra": ["query", "value"],
}


@dataclass(frozen=True)
class Hooks:
    """What a caller that runs training as a job needs: ``on_step(step, total, loss)`` after each optimiser step
    (the running mean loss of the epoch), and ``stop()`` checked after each step: True ends training there, and
    the best state validated so far is kept (a bounded or cancelled job; the caller decides which)."""

    on_step: Callable[[int, int, float], None] | None = None
    stop: Callable[[], bool] | None = None


@dataclass
class TrainResult:
    output_dir: Path
    best_epoch: int
    history: list[dict[str, float]]
    trainable_parameters: int
    total_parameters: int
    seconds: float


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _frame(names: list[str], split: str, settings: Settings) -> pd.DataFrame:
    frames = [load_split(name, split, settings).assign(dataset=name) for name in names]
    return pd.concat(frames, ignore_index=True)


def _batches(lengths: list[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffled batches of similar length: sort inside random chunks of 50 batches, then shuffle the batches."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk].tolist(), key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)  # type: ignore[arg-type,unused-ignore]
    return batches


def adapter_folder(base: str) -> Path | None:
    """The adapter folder a base spec names (``embedded`` or a folder with ``adapter_config.json``), if any."""
    if base == "embedded":
        return EMBEDDED_DIR
    folder = Path(base)
    return folder if (folder / "adapter_config.json").exists() and (folder / METADATA_FILE).exists() else None


def load_base(base: str) -> tuple[Any, Any, str]:
    """Tokenizer and 3-class classifier for a base spec; returns the id recorded as the adapter's base."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = resolve_base(base)
    recorded = MINILM_ID if isinstance(path, Path) and base in {*BASE_ENCODER_ALIASES, MINILM_ID} else base
    local = isinstance(path, Path) or Path(base).exists()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
    model = AutoModelForSequenceClassification.from_pretrained(
        path,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id=dict(LABEL_TO_ID),
        ignore_mismatched_sizes=True,
        local_files_only=local,
    )
    return tokenizer, model, recorded


def _evaluate(model: Any, tokenizer: Any, frame: pd.DataFrame, args: TrainArgs) -> ClassificationReport:
    model.eval()
    info = ModelInfo(name="training", source="local", revision="-", max_length=args.max_length)
    backend = TransformerModel(
        tokenizer=tokenizer, model=model, label_order=[0, 1, 2], info=info, max_length=args.max_length
    )
    preprocess = get_preprocessor(args.preprocessing)
    probs = backend.forward([preprocess(t) for t in frame["text"]], batch_size=64).probabilities
    model.train()
    return classification_report(frame["label"].tolist(), [LABELS[i] for i in probs.argmax(axis=1)])


def train(args: TrainArgs, settings: Settings) -> TrainResult:
    """Fine-tune on the train splits of ``args.datasets``, validating on their validation splits."""
    args.validate()
    return fit(args, settings, _frame(args.datasets, "train", settings), _frame(args.datasets, "validation", settings))


def fit(
    args: TrainArgs,
    settings: Settings,
    train_frame: pd.DataFrame,
    val_frame: pd.DataFrame,
    hooks: Hooks | None = None,
) -> TrainResult:
    """Fine-tune on ``train_frame`` (``text, label``), keeping the epoch best on ``val_frame``; the run folder is
    ``args.output_dir`` or a new one under ``<data_dir>/runs``. ``hooks``: progress and an early stop."""
    from peft import LoraConfig, TaskType, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    args.validate()
    hooks = hooks or Hooks()
    _seed_everything(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    started = time.perf_counter()

    adapter = adapter_folder(args.base)
    if adapter is not None:  # continue training an existing adapter (e.g. the shipped embedded model)
        from peft import PeftModel

        base_name = json.loads((adapter / METADATA_FILE).read_text()).get("base_model", MINILM_ID)
        tokenizer, model, recorded_base = load_base(base_name)
        with peft_without_deprecation_noise():
            model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True).to(device)
    else:
        tokenizer, model, recorded_base = load_base(args.base)
        targets = args.target_modules or DEFAULT_TARGETS.get(model.config.model_type)
        if not targets:
            raise ValueError(
                f"no default LoRA targets for model type {model.config.model_type!r}; pass --target_modules"
            )
        lora = LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=args.lora_r,
            lora_alpha=args.lora_alpha,
            lora_dropout=args.lora_dropout,
            target_modules=targets,
            modules_to_save=["classifier"],
        )
        with peft_without_deprecation_noise():
            model = get_peft_model(model, lora).to(device)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("trainable parameters: %s of %s (%.2f%%)", f"{trainable:,}", f"{total:,}", 100 * trainable / total)

    preprocess = get_preprocessor(args.preprocessing)
    encoded = tokenizer([preprocess(t) for t in train_frame["text"]], truncation=True, max_length=args.max_length)
    ids: list[list[int]] = encoded["input_ids"]
    labels = torch.tensor([LABEL_TO_ID[y] for y in train_frame["label"]], dtype=torch.long)
    logger.info("training on %d texts from %s; validating on %d", len(ids), ", ".join(args.datasets), len(val_frame))

    counts = np.bincount(labels.numpy(), minlength=len(LABELS)).astype(float)
    weights = torch.tensor(counts.sum() / (len(LABELS) * np.maximum(counts, 1)), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights.to(device) if args.class_weighting else None)

    steps_per_epoch = math.ceil(len(ids) / args.batch_size)
    total_steps = args.max_steps or math.ceil(steps_per_epoch * args.epochs)
    warmup = max(1, int(total_steps * args.warmup_ratio))
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=args.learning_rate, weight_decay=args.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    )
    pad_id = tokenizer.pad_token_id or 0
    rng = np.random.default_rng(args.seed)
    history: list[dict[str, float]] = []
    best_f1, best_epoch, best_state, stale = -1.0, 0, None, 0
    step, epoch, stopped = 0, 0, False
    model.train()
    while step < total_steps and not stopped:
        epoch += 1
        running, seen, tick = 0.0, 0, time.perf_counter()
        for batch in _batches([len(r) for r in ids], args.batch_size, rng):
            input_ids, mask = pad_rows([ids[i] for i in batch], pad_id)
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
            loss = loss_fn(logits, labels[batch].to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.item() * len(batch)
            seen += len(batch)
            step += 1
            if step % 50 == 0:
                rate = seen / (time.perf_counter() - tick)
                logger.info(
                    "epoch %d step %d/%d loss %.4f (%.0f texts/s)", epoch, step, total_steps, running / seen, rate
                )
            if hooks.on_step is not None:
                hooks.on_step(step, total_steps, running / seen)
            if hooks.stop is not None and hooks.stop():
                stopped = True
                logger.info("training stopped at step %d of %d by its caller", step, total_steps)
            if step >= total_steps or stopped:
                break
        report = _evaluate(model, tokenizer, val_frame, args)
        record = {
            "epoch": epoch,
            "step": step,
            "train_loss": running / max(seen, 1),
            "val_macro_f1": report.macro_f1,
            "val_accuracy": report.accuracy,
        }
        history.append(record)
        logger.info(
            "epoch %d: train loss %.4f, validation macro-F1 %.4f, accuracy %.4f",
            epoch,
            record["train_loss"],
            report.macro_f1,
            report.accuracy,
        )
        if report.macro_f1 > best_f1:
            best_f1, best_epoch, stale = report.macro_f1, epoch, 0
            best_state = {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}
        else:
            stale += 1
            if stale >= args.patience:
                logger.info("validation macro-F1 has not improved for %d epochs: stopping", stale)
                break

    if best_state is not None:
        set_peft_model_state_dict(model, best_state)
    out = Path(args.output_dir) if args.output_dir else new_run_dir(settings.data_dir, args.base)
    out.mkdir(parents=True, exist_ok=True)
    model.peft_config["default"].base_model_name_or_path = recorded_base
    model.save_pretrained(str(out), save_embedding_layers=False)  # embeddings are frozen: no need to check
    (out / CALIBRATION_FILE).unlink(missing_ok=True)  # a map fitted to earlier weights is wrong for these
    metadata = {
        "labels": list(LABELS),
        "preprocessing": args.preprocessing,
        "base_model": recorded_base,
        "max_length": args.max_length,
    }
    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    (out / "training_args.json").write_text(json.dumps(args.as_dict(), indent=2) + "\n")
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    return TrainResult(out, best_epoch, history, trainable, total, time.perf_counter() - started)
