"""Command line: ``python -m sentiment {predict,datasets,score} ...``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from sentiment.logs import configure_logging
from sentiment.settings import Settings


def _predict(args: argparse.Namespace, settings: Settings) -> int:
    from sentiment.predictor import Predictor

    predictor = Predictor.load(args.model or settings.model, settings)
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
    info = predictor.info
    print(f"# model: {info.name} ({info.source}, {info.revision}) {info.note}".rstrip())
    for text, p in zip(texts, predictor.predict(texts), strict=True):
        if args.json:
            print(
                json.dumps(
                    {"text": text, "label": p.label, "scores": p.scores, "truncated": p.truncated, "error": p.error}
                )
            )
        elif p.error:
            print(f"error\t{p.error}\t{text}")
        else:
            scores = " ".join(f"{k}={v:.3f}" for k, v in p.scores.items())
            print(f"{p.label}\t{scores}{' (truncated)' if p.truncated else ''}\t{text}")
    return 0


def _datasets(args: argparse.Namespace, settings: Settings) -> int:
    from sentiment.datasets import dataset_status

    for row in dataset_status(settings):
        print(f"{row['name']:<16} {row['licence']:<18} {row['status']}\n{'':<16} {row['description']}")
    return 0


def _score(args: argparse.Namespace, settings: Settings) -> int:
    from sentiment.batch import score_file
    from sentiment.predictor import Predictor

    predictor = Predictor.load(args.model or settings.model, settings)
    summary = score_file(
        Path(args.input),
        Path(args.output),
        predictor.predict_batch,
        args.text_column,
        chunk_rows=settings.csv_chunk_rows,
        max_bytes=None,
    )
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sentiment", description="Sentiment analysis from the shell.")
    parser.add_argument("--model", help="model spec (default: SENTIMENT_MODEL or 'auto')")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="classify texts given as arguments (or one per line on stdin)")
    p.add_argument("texts", nargs="*")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=_predict)
    d = sub.add_parser("datasets", help="list the labelled datasets and whether each is available here")
    d.set_defaults(func=_datasets)
    s = sub.add_parser("score", help="score a CSV/TSV/text file into a copy with label and score columns")
    s.add_argument("input")
    s.add_argument("output")
    s.add_argument("--text-column", default=None)
    s.set_defaults(func=_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    configure_logging(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, settings))
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
