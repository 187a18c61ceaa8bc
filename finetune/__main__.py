"""``python -m finetune [--preset embedded] [--field value ...]``: train a LoRA adapter and write its model card."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from finetune.args import PRESETS, TrainArgs
from finetune.card import benchmark, write_card
from finetune.train import train
from sentiment.logs import configure_logging
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
    parser = HfArgumentParser(
        TrainArgs,  # type: ignore[arg-type]
        prog="python -m finetune",
        description=__doc__,
    )
    parser.set_defaults(**preset)
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    args.output_dir = Path(args.output_dir)
    args.validate()
    return args


def main(argv: list[str] | None = None) -> int:
    configure_logging(logging.INFO)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    settings = Settings()
    result = train(args, settings)
    results = benchmark(result.output_dir, args.eval_datasets, settings)
    write_card(
        result.output_dir,
        args,
        ["python", "-m", "finetune", *argv],
        results,
        result.history,
        result.trainable_parameters,
        result.total_parameters,
        result.seconds,
        result.best_epoch,
    )
    logger.info("wrote %s in %.1f min", result.output_dir, result.seconds / 60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
