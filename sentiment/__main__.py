"""Command line: ``python -m sentiment {predict,datasets,score,evaluate,replay,feedback,export,import} ...``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from sentiment.errors import FeedbackError, SentimentError
from sentiment.logs import configure_logging
from sentiment.models.spec import NAMED_MODELS
from sentiment.runtime import configure_process
from sentiment.settings import Settings
from sentiment.settings.dataset_names import looks_like_a_path
from sentiment.store.commands import add_transfer_commands

if TYPE_CHECKING:
    from sentiment.evaluation.report import EvaluationResult

logger = logging.getLogger(__name__)


def _predict(args: argparse.Namespace, settings: Settings) -> int:
    from sentiment.inference.predictor import Predictor, displayable

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
            print(f"error\t{p.error}\t{displayable(text)}")  # a refused text may hold surrogates
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
    from sentiment.service.batch_jobs import score_inputs

    if not args.quiet:
        logging.getLogger("sentiment.tables.progress").setLevel(logging.INFO)
    done = score_inputs(
        args.input,
        Path(args.output),
        args.model or settings.model,
        settings,
        engine=args.engine,
        text_column=args.text_column,
        address=args.address,
        actors=args.actors,
        progress=not args.quiet,
    )
    if len(done.outputs) == 1 and not done.skipped:
        print(json.dumps(done.outputs[0][1].as_dict(), indent=2))
    else:  # several inputs: each output's summary, and the inputs skipped for having nothing to score
        print(json.dumps(done.as_dict(), indent=2))
    return 0


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from prometheus_client import CollectorRegistry

    from sentiment.evaluation.report import ComparisonReport, EvaluationReport
    from sentiment.service.evaluation import EvaluationService
    from sentiment.service.quality_metrics import EvaluationMetrics

    service = EvaluationService(settings, EvaluationMetrics(CollectorRegistry()))
    # A name that looks like a path is the user's file, there or not: a missing one is "no file ...", not "unknown
    # dataset" (sentiment.settings.dataset_names.dataset_problem says which).
    is_file = looks_like_a_path(args.dataset) or Path(args.dataset).exists()
    dataset, uploaded = ("", Path(args.dataset)) if is_file else (args.dataset, None)
    common = {"uploaded": uploaded, "source": "cli", "label_map": args.label_map}
    report: ComparisonReport | EvaluationReport
    if args.compare:
        report = service.compare(
            args.model or "embedded", args.compare, dataset, args.split, args.sample_size, args.seed, **common
        )
        results = [report.a.result, report.b.result]
    else:
        report = service.evaluate(args.model or "embedded", dataset, args.split, args.sample_size, args.seed, **common)
        results = [report.result]
    for r in results:
        _print_result(r)
    if isinstance(report, ComparisonReport):
        c = report.comparison.paired
        print(
            f"B - A macro-F1 {c.macro_f1_difference:+.4f} (95% CI {c.macro_f1_interval.low:+.4f} to "
            f"{c.macro_f1_interval.high:+.4f}, paired bootstrap p={c.bootstrap_p_value:.4f}); "
            f"McNemar p={c.mcnemar_p_value:.4g}; significant: {c.significant}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2))
    return 0


def _print_result(r: EvaluationResult) -> None:
    """One model's figures as the terminal shows them (``--json`` writes them at full precision)."""
    m, acc, f1 = r.metrics, r.intervals.accuracy, r.intervals.macro_f1
    print(f"{r.model} on {r.dataset}/{r.split} (n={r.n}, seed={r.seed}, {round(r.seconds, 3):.1f} s)")
    print(f"  rows        {r.rows.used} of {r.rows.total}: {r.rows.why}")
    if r.label_mapping is not None:
        mapping = r.label_mapping
        pairs = ", ".join(f"{k} -> {v}" for k, v in sorted(mapping.mapping.items()))
        print(f"  labels      column {mapping.column!r} by {mapping.rule}: {pairs}")
    print(f"  accuracy    {m.accuracy:.4f}  95% CI {acc.low:.4f}-{acc.high:.4f}")
    print(f"  macro-F1    {m.macro_f1:.4f}  95% CI {f1.low:.4f}-{f1.high:.4f}")
    print(f"  weighted-F1 {m.weighted_f1:.4f}")
    print(f"  {'class':<9} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}")
    for label, c in m.per_class.items():
        print(f"  {label:<9} {c.precision:>9.4f} {c.recall:>7.4f} {c.f1:>7.4f} {c.support:>8}")
    print("  confusion (rows true, columns predicted: negative, neutral, positive)")
    for label, row in zip(m.per_class, m.confusion, strict=True):
        print(f"  {label:<9} " + " ".join(f"{v:>7}" for v in row))


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from sentiment.monitoring.replay import replay
    from sentiment.tables.progress import show_progress_lines

    if not args.quiet:
        show_progress_lines()
    stats = replay(
        args.url,
        args.dataset,
        settings,
        rate=args.rate,
        max_texts=args.max_texts,
        max_seconds=args.max_seconds,
        shift_to=args.shift_to,
    )
    print(f"sent {stats.sent}, failed {stats.failed} in {stats.seconds:.1f} s; labels {dict(stats.labels)}")
    return 0 if stats.failed == 0 else 1


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _global_options(*, in_subcommand: bool) -> argparse.ArgumentParser:
    """Options that every subcommand takes, accepted before and after the subcommand's name.

    The main parser and each subparser get their own copy. In the subparser's copy the default is
    ``argparse.SUPPRESS``: argparse copies a subparser's namespace over the main one, so a real default there would
    overwrite a value given before the subcommand. Given on both sides, the one after the subcommand wins.
    """
    options = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if in_subcommand else None
    options.add_argument(
        "--model",
        default=default,
        help=f"model spec: {', '.join(NAMED_MODELS)}, a Hub id[@revision] or a local folder "
        "(default: SENTIMENT_MODEL, which defaults to auto; evaluate: embedded)",
    )
    return options


def _feedback(args: argparse.Namespace, settings: Settings) -> int:
    """The owner's labelled file -> accepted feedback on the app's logged predictions (same data folder)."""
    from prometheus_client import CollectorRegistry

    from sentiment.monitoring.prediction_log import PredictionLog
    from sentiment.service.feedback import FeedbackService
    from sentiment.service.quality_metrics import FeedbackMetrics
    from sentiment.store import Store

    # the app's store (SENTIMENT_DATABASE_URL, or the data folder's SQLite file); StoreUnavailableError says why not
    store = Store.open(settings.store_url, timeout_s=settings.database_timeout_s)
    log = PredictionLog(store)
    if log.count() == 0:
        raise FeedbackError(
            f"no logged predictions in the store {store.url}: point SENTIMENT_DATABASE_URL (or SENTIMENT_DATA_DIR) "
            "at the app's store"
        )
    service = FeedbackService(settings, FeedbackMetrics(CollectorRegistry()), lambda: log)
    summary = service.import_file(Path(args.file), args.label_column)
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sentiment",
        description="Sentiment analysis from the shell.",
        parents=[_global_options(in_subcommand=False)],
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = [_global_options(in_subcommand=True)]
    p = sub.add_parser("predict", parents=common, help="classify texts given as arguments (or one per line on stdin)")
    p.add_argument("texts", nargs="*")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=_predict)
    d = sub.add_parser("datasets", parents=common, help="list the labelled datasets and whether each is available here")
    d.set_defaults(func=_datasets)
    s = sub.add_parser(
        "score", parents=common, help="score a CSV/TSV/text file into a copy with label and score columns"
    )
    s.add_argument("input", help="a file, a folder of .csv/.tsv/.txt files, or a quoted glob ('exports/*.csv')")
    s.add_argument("output", help="the scored file (one input), or a folder: one <name>_scored.csv per input")
    s.add_argument("--text-column", default=None)
    s.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process; ray: a pool of model replicas on a Ray cluster (pip install -r "
        "requirements-scale.txt)",
    )
    s.add_argument(
        "--address", default=None, help="Ray cluster to run on, e.g. ray://head:10001 or auto (default: start one)"
    )
    s.add_argument("--actors", type=_positive, default=1, help="model replicas on Ray, one CPU each (default: 1)")
    s.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    s.set_defaults(func=_score)
    e = sub.add_parser(
        "evaluate", parents=common, help="evaluate a model (and compare with another) on a labelled dataset"
    )
    e.add_argument("--dataset", required=True, help="registry name or a labelled CSV path")
    e.add_argument(
        "--split",
        default=None,
        choices=["train", "validation", "test", "all"],
        help="default: test of a registry dataset, all of a labelled file",
    )
    e.add_argument(
        "--label-map",
        default=None,
        help="what a labelled file's label values mean when not self-evident, e.g. '1:negative,2:neutral,3:positive'"
        " or the same as JSON (needed for 0/1/2 or star ratings; names and -1/0/1 map by themselves)",
    )
    e.add_argument("--sample-size", type=int, default=None, help="stratified random sample of this many rows")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--compare", metavar="MODEL", help="a second model, evaluated on the same rows")
    e.add_argument("--json", metavar="PATH", help="also write the full report as JSON")
    e.set_defaults(func=_evaluate)
    r = sub.add_parser("replay", parents=common, help="send a dataset's texts to a running app at a steady rate")
    r.add_argument("--url", default="http://127.0.0.1:7860")
    r.add_argument("--dataset", default="vader_tweets")
    r.add_argument("--shift-to", default=None, help="switch to this dataset halfway (shows drift)")
    r.add_argument("--rate", type=float, default=5.0, help="texts per second")
    r.add_argument("--max-texts", type=int, default=1000)
    r.add_argument("--max-seconds", type=float, default=600.0)
    r.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    r.set_defaults(func=_replay)
    f = sub.add_parser(
        "feedback",
        parents=common,
        help="attach the right labels of a labelled scored file (prediction_id + true_label) as accepted feedback",
    )
    f.add_argument("file", help="a scored file with a column of the right labels added")
    f.add_argument("--label-column", default=None, help="default: true_label, correct_label or feedback")
    f.set_defaults(func=_feedback)
    add_transfer_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:  # a bad combination: the variables and why, as app.py says it, no traceback
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(logging.WARNING)
    configure_process(settings)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, settings))
    except SentimentError as exc:  # the input was wrong: the message says how to fix it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as exc:  # a bug (or a library's complaint): its traceback, same exit code
        logger.exception("internal error")
        print(f"error: internal error ({type(exc).__name__}: {exc}); the traceback is above", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
