"""Texts per second of the ways to run a sentiment classifier on this CPU, measured side by side in one run.

For a roberta-base-sized classifier (random weights, built locally) and the real embedded model, on real tweets:
transformers.pipeline one text at a time padded to 128 tokens; pipeline(batch_size=32); this project's predictor
with its default settings and in each precision. Columns: texts/s, useful GFLOP/s (real tokens only, no padding)
and its share of this CPU's measured bf16 matmul rate, speed-up over pipeline(batch_size=32), and label agreement
with fp32 on the real labelled sets (the VADER sets and the airline tweets, scored by the embedded model).

    python benchmarks/throughput.py [--texts 256] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import warnings

import numpy as np
import torch
from roberta_model import build_roberta_base

from sentiment.datasets import load_split
from sentiment.logs import configure_logging
from sentiment.predictor import Predictor
from sentiment.settings import Settings

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


def timed(fn, texts: list[str], warm_all: bool = False, min_seconds: float = 3.0) -> float:  # type: ignore[no-untyped-def]
    """Texts per second over whole passes, repeated for at least ``min_seconds`` (short runs are noisy here)."""
    fn(texts if warm_all else texts[:8])  # warm-up: kernels for every batch shape, allocator, lazy init
    done, started = 0, time.perf_counter()
    while True:
        fn(texts)
        done += len(texts)
        if time.perf_counter() - started >= min_seconds:
            return done / (time.perf_counter() - started)


def pipeline_rows(folder: str, texts: list[str]) -> list[tuple[str, float]]:
    from transformers import pipeline

    clf = pipeline("text-classification", model=folder, tokenizer=folder, device=-1, top_k=None)
    single = timed(
        lambda xs: [clf(x, padding="max_length", truncation=True, max_length=128) for x in xs],
        texts[: max(16, len(texts) // 4)],
    )
    batched = timed(lambda xs: clf(xs, batch_size=32, padding=True, truncation=True), texts)
    return [("pipeline, one text at a time, padded to 128", single), ("pipeline(batch_size=32)", batched)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256, help="tweets per throughput measurement")
    parser.add_argument("--quick", action="store_true", help="agreement on 1,000 rows per set instead of all")
    args = parser.parse_args()
    configure_logging("WARNING")
    warnings.filterwarnings("ignore")  # deprecation notices from torch's dynamic quantisation
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp), cache_override=Settings().cache_dir.resolve())
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
            rows = pipeline_rows(roberta, texts) if spec == roberta else pipeline_rows_embedded(base, texts)
            tokens = flops = None
            for precision in ("default", "fp32", "bf16", "int8"):
                settings = base if precision == "default" else base.model_copy(update={"precision": precision})
                predictor = Predictor.load(spec, settings)
                model = predictor.model
                if flops is None:  # from the unquantised weights: the work is the same in every precision
                    flops = encoder_flops_per_token(model.model)  # type: ignore[attr-defined]
                rate = timed(lambda xs, p=predictor: p.predict_batch(xs), texts, warm_all=True)
                if tokens is None:
                    tokens = float(predictor.predict_batch(texts).tokens.mean())
                agreement = ""
                if spec == "embedded" and precision != "default":  # the default is one of the precisions below
                    labels = {k: predictor.predict_batch(v).probabilities.argmax(1) for k, v in real.items()}
                    if precision == "fp32":
                        fp32_labels = labels
                    elif fp32_labels:
                        agree = np.concatenate([labels[k] == fp32_labels[k] for k in real])
                        agreement = f"{agree.mean():.2%}"
                name = (
                    f"predictor ({precision}: {predictor.info.precision})"
                    if precision == "default"
                    else f"predictor, {precision}"
                )
                rows.append((name + (f" [{agreement}]" if agreement else ""), rate))
            pipe32 = rows[1][1]
            for name, rate in rows:
                gflops = rate * (tokens or 0) * flops / 1e9
                agreement = name.split("[")[-1].rstrip("]") if "[" in name else ""
                print(
                    f"{name.split(' [')[0]:<48}{rate:>9.1f}{gflops:>9.0f}{gflops / peak:>14.1%}"
                    f"{rate / pipe32:>14.1f}x{agreement:>11}"
                )
            print(f"(mean real tokens per tweet: {tokens:.1f})\n")
        counts = {k: len(v) for k, v in real.items()}
        print(f"agreement with fp32 measured on {sum(counts.values()):,} real texts: {counts}")


def pipeline_rows_embedded(settings: Settings, texts: list[str]) -> list[tuple[str, float]]:
    """The pipeline rows for the embedded model: its merged fp32 weights saved as a plain model folder."""
    predictor = Predictor.load("embedded", settings.model_copy(update={"precision": "fp32"}))
    folder = settings.data_dir / "embedded-merged"
    predictor.model.model.save_pretrained(folder)  # type: ignore[attr-defined]
    predictor.model.tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]
    return pipeline_rows(str(folder), texts)


if __name__ == "__main__":
    main()
