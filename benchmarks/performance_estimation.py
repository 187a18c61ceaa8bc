"""Performance estimation on unlabelled traffic: every estimator, every set, windows of 200 and 500 predictions.

Reference: vader_tweets. Its validation split is the labelled reference (the estimators, the calibration map and
the domain classifier are fitted on it alone); windows drawn from its test split are the in-distribution traffic.
Shifted traffic: the held-out (validation + test) splits of vader_amazon, vader_movies and vader_nyt (the embedded
model was trained on their train splits, so those are never traffic) and a seeded sample of airline_tweets.

The raw probabilities of the model are scored once, with the mean-pooled last hidden state of each text (the
sentence embedding the importance-weighted estimator reads), and cached in an ``.npz`` (``--cache``).

    python benchmarks/performance_estimation.py [--windows 30] [--cache /tmp/performance_estimation.npz]

A quick check of the whole pipeline (every estimator fitted and read, the tables printed) on a few rows: ``--max-rows
120 --windows 1 --sizes 60 --bootstrap 2``. Its figures mean nothing: each band then rests on two replicas.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from sentiment.datasets import load_split
from sentiment.inference.predictor import Predictor, validate_text
from sentiment.labels import LABELS
from sentiment.logs import configure_logging
from sentiment.monitoring.estimation import (
    LabelledReference,
    confusion_metrics,
    make_estimator,
    random_projection,
    realised_confusion,
)
from sentiment.runtime import configure_process
from sentiment.settings import Settings

logger = logging.getLogger("performance_estimation")

REFERENCE = "vader_tweets"
SHIFTED = ("vader_amazon", "vader_movies", "vader_nyt", "airline_tweets")
AIRLINE_SAMPLE = 4000
WINDOW_SIZES = (200, 500)


def embed_and_score(predictor: Predictor, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Raw class probabilities (in ``LABELS`` order) and the mean-pooled last hidden state of each text, from one
    padded forward pass of the embedded transformer (not the packed serving path: it returns no hidden states)."""
    backend = predictor.model
    model, tokenizer = backend.model, backend.tokenizer
    cleaned = [predictor._preprocess(validate_text(t)[: predictor.max_chars]) for t in texts]
    order = np.argsort([len(t) for t in cleaned])
    probs = np.empty((len(texts), len(LABELS)), dtype=np.float32)
    embeddings: np.ndarray | None = None
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batch = tokenizer(
                [cleaned[i] for i in chosen],
                truncation=True,
                max_length=backend.max_length,
                padding=True,
                return_tensors="pt",
            )
            out = model(**batch, output_hidden_states=True)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            hidden = out.hidden_states[-1].float()
            pooled = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
            if embeddings is None:
                embeddings = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            embeddings[chosen] = pooled
            probs[chosen] = torch.softmax(out.logits.float(), dim=-1).numpy()[:, backend.label_order]
    assert embeddings is not None
    return probs, embeddings


def _frames(settings: Settings, max_rows: int | None) -> dict[str, tuple[list[str], np.ndarray]]:
    """Text and class ids of every part the benchmark reads (a seeded sample of ``max_rows`` of each, if given)."""
    import pandas as pd

    parts = {f"{REFERENCE}:validation": load_split(REFERENCE, "validation", settings)}
    parts[f"{REFERENCE}:test"] = load_split(REFERENCE, "test", settings)
    for name in SHIFTED:
        if name == "airline_tweets":
            frame = load_split(name, "all", settings).sample(n=AIRLINE_SAMPLE, random_state=settings.seed)
        else:
            frame = pd.concat([load_split(name, "validation", settings), load_split(name, "test", settings)])
        parts[name] = frame
    out = {}
    for key, frame in parts.items():
        frame = frame[frame["text"].map(lambda t: isinstance(t, str) and bool(t.strip()))]
        if max_rows is not None and len(frame) > max_rows:
            frame = frame.sample(n=max_rows, random_state=settings.seed)
        out[key] = (frame["text"].tolist(), np.array([LABELS.index(v) for v in frame["label"]]))
    return out


def load_or_score(
    cache: Path, model: str = "embedded", max_rows: int | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """``{part: {"probs", "emb", "y"}}``, scored once and cached in ``cache`` (a cache is read as it is: delete it
    after changing ``max_rows``)."""
    if cache.is_file():
        data = np.load(cache)
        keys = sorted({k.rsplit("/", 1)[0] for k in data.files})
        return {k: {f: data[f"{k}/{f}"] for f in ("probs", "emb", "y")} for k in keys}
    settings = Settings(model=model)
    predictor = Predictor.load(model, settings, calibrated=False)
    scored: dict[str, dict[str, np.ndarray]] = {}
    for key, (texts, y) in _frames(settings, max_rows).items():
        logger.warning("scoring %s (%d texts)", key, len(texts))
        probs, emb = embed_and_score(predictor, texts)
        scored[key] = {"probs": probs, "emb": emb, "y": y}
    np.savez_compressed(cache, **{f"{k}/{f}": v for k, part in scored.items() for f, v in part.items()})
    return scored


PROJECTION_DIMS = 16  # what the prediction log stores of each sentence embedding
BOOTSTRAP = 30  # replicas behind each band: the estimators' default, what production uses


@dataclass(frozen=True)
class Variant:
    """One estimator with its options: the calibration refitted on the reference, and the domain classifier's
    L2 penalty (``iw`` only, which reads the labels of the reference, not its probabilities)."""

    method: str
    calibration: str = "none"
    l2: float | None = None

    @property
    def name(self) -> str:
        return f"iw/l2={self.l2:g}" if self.method == "iw" else f"{self.method}/{self.calibration}"

    def options(self) -> dict[str, object]:
        return {"l2": self.l2} if self.method == "iw" else {"calibration": self.calibration}


VARIANTS = (
    *(Variant(m, c) for m in ("cbpe", "atc", "doc", "bbse", "bbse_doc") for c in ("none", "temperature", "matrix")),
    *(Variant("iw", l2=l2) for l2 in (1e-3, 1e-2, 1e-1)),
)
NAIVE = "cbpe/none"  # mean top probability: the naive estimate


@dataclass
class Cell:
    """One variant on one set at one window size: per-window estimates, truths and band hits."""

    estimate: dict[str, list[float]] = field(default_factory=lambda: {"accuracy": [], "macro_f1": []})
    truth: dict[str, list[float]] = field(default_factory=lambda: {"accuracy": [], "macro_f1": []})
    covered: dict[str, list[bool]] = field(default_factory=lambda: {"accuracy": [], "macro_f1": []})

    def error(self, metric: str) -> float:
        return float(np.mean(self.estimate[metric]) - np.mean(self.truth[metric]))

    def mae(self, metric: str) -> float:
        return float(np.mean(np.abs(np.subtract(self.estimate[metric], self.truth[metric]))))

    def coverage(self, metric: str) -> float:
        return float(np.mean(self.covered[metric]))


def windows(n: int, size: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` windows of ``size`` rows, each drawn without replacement (windows overlap when the set is small)."""
    return [rng.choice(n, size=size, replace=False) for _ in range(count)]


def run(
    scored: dict[str, dict[str, np.ndarray]],
    count: int,
    seed: int,
    sizes: tuple[int, ...] = WINDOW_SIZES,
    bootstrap: int = BOOTSTRAP,
) -> dict[tuple[str, str, int], Cell]:
    """Every variant on ``count`` windows of each size from each set. ``bootstrap``: replicas of each reference fit
    behind the bands (each window is read by every replica, so the run's time grows with it)."""
    projection = random_projection(scored[f"{REFERENCE}:validation"]["emb"].shape[1], PROJECTION_DIMS)
    ref = scored[f"{REFERENCE}:validation"]
    reference = LabelledReference.of(ref["probs"], ref["y"], ref["emb"] @ projection)
    estimators = {
        v.name: make_estimator(v.method, reference, seed=seed, bootstrap=bootstrap, **v.options()) for v in VARIANTS
    }
    sets = {f"{REFERENCE} (held out)": scored[f"{REFERENCE}:test"], **{name: scored[name] for name in SHIFTED}}
    cells: dict[tuple[str, str, int], Cell] = {}
    rng = np.random.default_rng(seed)
    for set_name, part in sets.items():
        emb = part["emb"] @ projection
        for size in sizes:
            if size > len(part["y"]):
                raise SystemExit(f"{set_name} has {len(part['y'])} rows: too few for windows of {size}")
            for rows in windows(len(part["y"]), size, count, rng):
                probs, y = part["probs"][rows], part["y"][rows]
                truth = confusion_metrics(realised_confusion(y, probs.argmax(axis=1)))
                for name, estimator in estimators.items():
                    found = estimator.estimate(probs, emb[rows])
                    cell = cells.setdefault((name, set_name, size), Cell())
                    for metric, value, band in (
                        ("accuracy", truth.accuracy, found.accuracy_band),
                        ("macro_f1", truth.macro_f1, found.macro_f1_band),
                    ):
                        cell.estimate[metric].append(getattr(found, metric))
                        cell.truth[metric].append(value)
                        cell.covered[metric].append(band[0] <= value <= band[1])
            logger.warning("done %s, windows of %d", set_name, size)
    return cells


def leave_one_out(cells: dict[tuple[str, str, int], Cell]) -> dict[str, str]:
    """For each set, the variant with the smallest mean |error| (accuracy and macro-F1, both window sizes) over
    every *other* set: the choice that set's figures may honestly be reported under (key ``""``: the choice on
    every set, what production uses)."""
    names = sorted({k[0] for k in cells})
    sets = sorted({k[1] for k in cells})

    def loss(name: str, held_out: str) -> float:
        return float(
            np.mean([abs(c.error(m)) for (n, s, _), c in cells.items() if n == name and s != held_out for m in METRICS])
        )

    return {s: min(names, key=lambda name: loss(name, s)) for s in [*sets, ""]}  # "": chosen on every set


METRICS = ("accuracy", "macro_f1")


def table(cells: dict[tuple[str, str, int], Cell], chosen: dict[str, str]) -> str:
    head = (
        "| method | set | window | windows | accuracy: truth | estimate | error | MAE | band covers "
        "| macro-F1: truth | estimate | error | MAE | band covers |"
    )
    lines = [head, "|" + "---|" * 14]
    rows = sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))
    for (name, set_name, size), cell in rows:
        parts = [name, set_name, str(size), str(len(cell.truth["accuracy"]))]
        for m in METRICS:
            parts += [
                f"{np.mean(cell.truth[m]):.3f}",
                f"{np.mean(cell.estimate[m]):.3f}",
                f"{cell.error(m):+.3f}",
                f"{cell.mae(m):.3f}",
                f"{cell.coverage(m):.0%}",
            ]
        lines.append("| " + " | ".join(parts) + " |")
    return "\n".join(lines)


def summary(cells: dict[tuple[str, str, int], Cell], chosen: dict[str, str]) -> str:
    """The leave-one-dataset-out choice per set against the naive estimate, and the targets."""
    lines = [
        "| set | window | chosen (on the other sets) | accuracy error | naive | macro-F1 error | naive "
        "| coverage acc / F1 | target met |",
        "|" + "---|" * 9,
    ]
    for (name, set_name, size), cell in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        if name != NAIVE:
            continue
        best = cells[(chosen[set_name], set_name, size)]
        limit = 0.02 if set_name.startswith(REFERENCE) else 0.05
        errors = [abs(best.error(m)) for m in METRICS]
        naive = [abs(cell.error(m)) for m in METRICS]
        met = all(e <= limit for e in errors) and min(best.coverage(m) for m in METRICS) >= 0.9
        if not set_name.startswith(REFERENCE):
            met = met and all(e <= n / 2 for e, n in zip(errors, naive, strict=True))
        lines.append(
            f"| {set_name} | {size} | {chosen[set_name]}"
            f" | {best.error('accuracy'):+.3f} | {cell.error('accuracy'):+.3f}"
            f" | {best.error('macro_f1'):+.3f} | {cell.error('macro_f1'):+.3f}"
            f" | {best.coverage('accuracy'):.0%} / {best.coverage('macro_f1'):.0%} | {'yes' if met else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/performance_estimation.npz"))
    parser.add_argument("--windows", type=int, default=30, help="windows per set and window size")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(WINDOW_SIZES), help="window sizes")
    parser.add_argument("--max-rows", type=int, help="score at most this many rows of each set (a quick check)")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=BOOTSTRAP,
        help="replicas of each reference fit behind the bands (fewer: a quicker check, rougher band coverage)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.bootstrap < 1:
        parser.error("--bootstrap must be at least 1 (the bands are read from the replicas)")
    configure_logging("WARNING")
    configure_process(Settings())  # honours SENTIMENT_TORCH_THREADS
    scored = load_or_score(args.cache, max_rows=args.max_rows)
    cells = run(scored, args.windows, args.seed, tuple(args.sizes), args.bootstrap)
    chosen = leave_one_out(cells)
    print(table(cells, chosen))  # the report is this script's output
    print()
    print(summary(cells, chosen))
    print(f"\nchosen on every set (the production default): {chosen['']}")


if __name__ == "__main__":
    main()
