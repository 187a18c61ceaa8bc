"""Texts per second of the ways to run a sentiment classifier on this CPU, measured side by side in one run.

For a roberta-base-sized classifier (random weights, built locally) and the real embedded model, on real tweets:
transformers.pipeline one text at a time padded to 128 tokens; pipeline(batch_size=32); this project's predictor
with its default settings and in each precision. Columns: texts/s, useful GFLOP/s (real tokens only, no padding)
and its share of this CPU's measured bf16 matmul rate, speed-up over pipeline(batch_size=32), and label agreement
with fp32 on the real labelled sets (the VADER sets and the airline tweets, scored by the embedded model).

    python benchmarks/throughput.py [--texts 256] [--quick] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import warnings

import numpy as np
import torch
from roberta_model import build_roberta_base

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor
from sentiment.logs import configure_logging
from sentiment.runtime import configure_process
from sentiment.settings import Settings

Runner = Callable[[list[str]], object]
PIPE_SINGLE = "pipeline, one text at a time, padded to 128"
PIPE_32 = "pipeline(batch_size=32)"
REAL_SETS = ["vader_tweets", "vader_amazon", "vader_movies", "vader_nyt", "airline_tweets"]


def bf16_matmul_gflops(size: int = 2048, seconds: float = 2.0) -> float:
    a = torch.randn(size, size, dtype=torch.bfloat16)
    b = torch.randn(size, size, dtype=torch.bfloat16)
    a @ b
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        n += 1
    return 2 * size**3 * n / (time.perf_counter() - started) / 1e9


def encoder_flops_per_token(model: torch.nn.Module) -> float:
    """2 x the weights a token passes through (embeddings excluded): the matmul work per real token."""
    total = sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)
    return 2.0 * total


def rate_once(fn: Runner, texts: list[str], min_seconds: float) -> float:
    """Texts per second over whole passes, repeated for at least ``min_seconds``."""
    done, started = 0, time.perf_counter()
    while True:
        fn(texts)
        done += len(texts)
        if time.perf_counter() - started >= min_seconds:
            return done / (time.perf_counter() - started)


def interleaved_rates(
    runners: dict[str, tuple[Runner, list[str]]], rounds: int, min_seconds: float
) -> dict[str, float]:
    """Median texts/s of each runner over ``rounds`` rounds that visit every runner in turn.

    This machine's speed drifts by up to 1.7x from minute to minute; measuring the rows one after another would put
    that drift into the ratios, interleaving spreads it over all of them alike.
    """
    for fn, texts in runners.values():
        fn(texts)  # warm-up: kernels for every batch shape, allocator, lazy init
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, (fn, texts) in runners.items():
            rates[name].append(rate_once(fn, texts, min_seconds))
    return {name: statistics.median(values) for name, values in rates.items()}


def pipeline_runners(folder: str, texts: list[str]) -> dict[str, tuple[Runner, list[str]]]:
    from transformers import pipeline

    clf = pipeline("text-classification", model=folder, tokenizer=folder, device=-1, top_k=None)
    return {
        PIPE_SINGLE: (
            lambda xs: [clf(x, padding="max_length", truncation=True, max_length=128) for x in xs],
            texts[: max(16, len(texts) // 8)],
        ),
        PIPE_32: (lambda xs: clf(xs, batch_size=32, padding=True, truncation=True), texts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256, help="tweets per throughput measurement")
    parser.add_argument("--quick", action="store_true", help="agreement on 1,000 rows per set instead of all")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the table shows medians")
    parser.add_argument("--seconds", type=float, default=1.5, help="least time per row in each round")
    args = parser.parse_args()
    configure_logging("WARNING")
    warnings.filterwarnings("ignore")  # deprecation notices from torch's dynamic quantisation
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp), cache_override=Settings().cache_dir.resolve())
        configure_process(base)  # honours SENTIMENT_TORCH_THREADS
        tweets = load_split("vader_tweets", "all", base)["text"].sample(frac=1.0, random_state=0).tolist()
        texts = tweets[: args.texts]
        roberta = str(build_roberta_base(Path(tmp) / "roberta", tweets))
        peak = bf16_matmul_gflops()
        print(
            f"CPU: {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"measured bf16 matmul: {peak:.0f} GFLOP/s; {len(texts)} real tweets per row\n"
        )
        real = {name: load_split(name, "all", base)["text"].tolist() for name in REAL_SETS}
        if args.quick:
            real = {k: v[:1000] for k, v in real.items()}
        fp32_labels: dict[str, np.ndarray] = {}
        for title, spec in (
            ("roberta-base-sized classifier (random weights)", roberta),
            ("embedded model (MiniLM + LoRA)", "embedded"),
        ):
            print(f"## {title}")
            print(
                f"{'method':<48}{'texts/s':>9}{'GFLOP/s':>9}{'of bf16 peak':>14}{'vs pipeline32':>15}{'agreement':>11}"
            )
            runners = pipeline_runners(roberta, texts) if spec == roberta else pipeline_runners_embedded(base, texts)
            agreements: dict[str, str] = {}
            tokens = flops = None
            for precision in ("default", "fp32", "bf16", "int8"):
                settings = base if precision == "default" else base.model_copy(update={"precision": precision})
                predictor = Predictor.load(spec, settings)
                if flops is None:  # from the unquantised weights: the work is the same in every precision
                    flops = encoder_flops_per_token(predictor.model.model)  # type: ignore[attr-defined]
                if tokens is None:
                    tokens = float(predictor.predict_batch(texts).tokens.mean())
                name = (
                    f"predictor (default: {predictor.info.precision})"
                    if precision == "default"
                    else f"predictor, {precision}"
                )
                runners[name] = (lambda xs, p=predictor: p.predict_batch(xs), texts)
                if spec == "embedded" and precision != "default":  # the default is one of the precisions below
                    labels = {k: predictor.predict_batch(v).probabilities.argmax(1) for k, v in real.items()}
                    if precision == "fp32":
                        fp32_labels = labels
                    elif fp32_labels:
                        agree = np.concatenate([labels[k] == fp32_labels[k] for k in real])
                        agreements[name] = f"{agree.mean():.2%}"
            rates = interleaved_rates(runners, args.rounds, args.seconds)
            pipe32 = rates[PIPE_32]
            for name, rate in rates.items():
                gflops = rate * (tokens or 0) * (flops or 0) / 1e9
                print(
                    f"{name:<48}{rate:>9.1f}{gflops:>9.0f}{gflops / peak:>14.1%}"
                    f"{rate / pipe32:>14.1f}x{agreements.get(name, ''):>11}"
                )
            print(f"(mean real tokens per tweet: {tokens:.1f})\n")
        counts = {k: len(v) for k, v in real.items()}
        print(f"agreement with fp32 measured on {sum(counts.values()):,} real texts: {counts}")


def pipeline_runners_embedded(settings: Settings, texts: list[str]) -> dict[str, tuple[Runner, list[str]]]:
    """The pipeline rows for the embedded model: its merged fp32 weights saved as a plain model folder."""
    predictor = Predictor.load("embedded", settings.model_copy(update={"precision": "fp32"}))
    folder = settings.data_dir / "embedded-merged"
    predictor.model.model.save_pretrained(folder)  # type: ignore[attr-defined]
    predictor.model.tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]
    return pipeline_runners(str(folder), texts)


if __name__ == "__main__":
    main()
