"""``python -m finetune [--preset embedded] [--field value ...]`` trains a LoRA adapter into a run folder;
``python -m finetune runs`` lists the runs; ``python -m finetune publish RUN --repo user/name [--dry-run]``
publishes one to the Hub."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from finetune.args import PRESETS, TrainArgs
from finetune.calibrate import calibrate_folder
from finetune.card import before_after, benchmark, write_card
from finetune.runs import list_runs, write_summary
from finetune.tracking import log_to_mlflow
from finetune.train import train
from sentiment.logs import configure_logging
from sentiment.runtime import configure_process
from sentiment.settings import Settings

logger = logging.getLogger("finetune")


def parse(argv: list[str]) -> TrainArgs:
    from transformers import HfArgumentParser

    preset: dict[str, object] = {}
    if "--preset" in argv:
        i = argv.index("--preset")
        name = argv[i + 1] if i + 1 < len(argv) else ""
        if name not in PRESETS:
            raise SystemExit(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
        preset = PRESETS[name]
        argv = argv[:i] + argv[i + 2 :]
    parser = HfArgumentParser(TrainArgs, prog="python -m finetune", description=__doc__)  # type: ignore[arg-type]
    parser.set_defaults(**preset)
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    args.validate()
    return args


def _train(argv: list[str], settings: Settings) -> int:
    args = parse(argv)
    if args.unreviewed_feedback:  # every reader of production-feedback (training, calibration, the card) sees it
        settings = settings.model_copy(update={"feedback_train_unreviewed": True})
    result = train(args, settings)
    out = result.output_dir
    calibrate_folder(out, tuple(args.datasets), settings)  # before the card: its figures are what will serve
    results = benchmark(out, args.eval_datasets, settings, trained_on=args.datasets)
    comparison = before_after(args.base, out, args.datasets, settings)
    write_card(
        out,
        args,
        ["python", "-m", "finetune", *argv],
        results,
        result.history,
        result.trainable_parameters,
        result.total_parameters,
        result.seconds,
        result.best_epoch,
        comparison,
        split_seed=settings.seed,
    )
    write_summary(
        out,
        {
            "run": out.name,
            "created_at": time.time(),
            "base": args.base,
            "datasets": args.datasets,
            "best_epoch": result.best_epoch,
            "seconds": round(result.seconds, 1),
            "trainable_parameters": result.trainable_parameters,
            "total_parameters": result.total_parameters,
            "test": {r["dataset"]: round(r["macro_f1"], 4) for r in results},
            "before_after": comparison,
        },
    )
    log_to_mlflow(out, args.as_dict(), result.history, results)
    logger.info("wrote %s in %.1f min", out, result.seconds / 60)
    return 0


def _runs(argv: list[str], settings: Settings) -> int:
    # No options, but parsed all the same: --help works and a stray argument is refused rather than ignored.
    argparse.ArgumentParser(
        prog="python -m finetune runs", description="List the fine-tuning runs under <data_dir>/runs."
    ).parse_args(argv)
    runs = list_runs(settings.data_dir)
    if not runs:
        print(f"no runs in {settings.data_dir / 'runs'}")
    for run in runs:
        scores = ", ".join(f"{k} {v:.3f}" for k, v in run.get("test", {}).items())
        print(f"{run['run']:<40} base {run['base']:<16} {run['seconds'] / 60:5.1f} min  macro-F1: {scores}")
    return 0


def _publish(argv: list[str], settings: Settings) -> int:
    from finetune.publish import PublishError, publish

    parser = argparse.ArgumentParser(prog="python -m finetune publish")
    parser.add_argument("run", help="a run folder (or its name under <data_dir>/runs)")
    parser.add_argument("--repo", required=True, help="Hub model repository, owner/name")
    parser.add_argument("--revision", help="tag the published commit with this revision")
    parser.add_argument("--dry-run", action="store_true", help="build and validate the folder; upload nothing")
    args = parser.parse_args(argv)
    run = Path(args.run) if Path(args.run).exists() else settings.data_dir / "runs" / args.run
    try:
        folder = publish(run, args.repo, settings, revision=args.revision, dry_run=args.dry_run)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {"folder": str(folder), "files": sorted(p.name for p in folder.iterdir()), "uploaded": not args.dry_run},
            indent=2,
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging(logging.INFO)
    argv = list(sys.argv[1:] if argv is None else argv)
    settings = Settings()
    configure_process(settings)
    commands = {"runs": _runs, "publish": _publish}
    if argv and argv[0] in commands:
        return commands[argv[0]](argv[1:], settings)
    return _train(argv, settings)


if __name__ == "__main__":
    raise SystemExit(main())
