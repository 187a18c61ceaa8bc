"""The retrain loop simulated on real labelled text the embedded model was not trained on (issue 29, Targets).

Domain: ``vader_nyt`` (NYT editorial snippets), where the embedded model is weakest. The embedded model was trained
on the *train* splits of the four VADER sets, so the new domain's labels come from its held-out splits: the labels
fed to the loop are drawn from ``vader_nyt`` **validation**, and every figure on the new domain is measured on
``vader_nyt`` **test**, never fed (``feed`` also drops a fed text that occurs in the reported split).
``airline_tweets`` is evaluation-only by licence (CC BY-NC-SA): a model served here must not be trained on it.

The app's own code path: the fed labels go into a real SQLite store as accepted feedback with their text (as an
owner's labelled file would); ``retrain_data`` splits them by the app's rules (a 20% held-out slice by hash of the
prediction id, a tenth of the rest for validation, ``vader_tweets`` train mixed in at ``retrain_mix_ratio``);
``LoraTrainer`` continues the embedded adapter with the app's bounds (``retrain_max_steps`` steps of
``retrain_batch_size``); ``judge`` gives the app's verdict on the app's held-out slice and ``vader_tweets`` test.
Feeds are nested (200, then 200 more, ...), as labels accumulate. Further configurations at 400 labels (``--alt
SIZE:MIX_RATIO:STEPS:LEARNING_RATE``, empty fields: the app's) measure what a miss depends on; a learning rate other
than the app's (``SENTIMENT_RETRAIN_LEARNING_RATE``) is passed to the app's ``LoraTrainer``.

While each job trains, a thread in the same process calls ``Predictor.predict_one`` of the serving (champion) model
as requests would, every ``--gap`` seconds; it also samples the resident memory. Run with OMP_NUM_THREADS=1 for the
2-core figures. Default run (6 jobs): about 9 minutes on 2 shared cores.

    OMP_NUM_THREADS=1 python benchmarks/retrain_loop.py [--sizes 200 400 800] [--steps 200]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd

DOMAIN = "vader_nyt"
FEED_SPLIT = "validation"  # the labels fed to the loop (never reported on)
REPORT_SPLIT = "test"  # the held-out traffic every new-domain figure is measured on
FORGETTING = "vader_tweets"

logger = logging.getLogger("retrain_loop")


def feed(pool: pd.DataFrame, sizes: list[int], reported_texts: set[str], seed: int) -> dict[int, pd.DataFrame]:
    """The labels fed at each size: nested prefixes of one seeded shuffle of ``pool`` (``text, label``), after
    dropping every text that occurs in the reported split, each row with a random 32-hex prediction id (as the app
    logs). A size above what is left is cut to it (the caller reports the real count)."""
    kept = pool[~pool["text"].isin(reported_texts)].drop_duplicates("text")
    rng = np.random.default_rng(seed)
    order = kept.iloc[rng.permutation(len(kept))].reset_index(drop=True)
    ids = [
        uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63))).hex for _ in range(len(order))
    ]
    order = order.assign(prediction_id=ids)[["prediction_id", "text", "label"]]
    return {size: order.iloc[: min(size, len(order))] for size in sorted(sizes)}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (NaN when empty)."""
    return float(np.percentile(values, q)) if values else float("nan")


def rss_mb() -> float:
    """This process's resident memory now, MB (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Probe:
    """A request loop beside the job: ``predict_one`` every ``gap`` seconds until stopped, recording each latency
    (seconds) and the largest resident memory seen."""

    predictor: Any
    texts: list[str]
    gap: float
    latencies: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _loop(self) -> None:
        i = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            self.predictor.predict_one(self.texts[i % len(self.texts)])
            self.latencies.append(time.perf_counter() - started)
            self.peak_rss_mb = max(self.peak_rss_mb, rss_mb())
            i += 1
            self._stop.wait(self.gap)

    def __enter__(self) -> Probe:
        self._thread = threading.Thread(target=self._loop, name="latency-probe", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


@dataclass(frozen=True)
class Config:
    """One simulated retrain: labels fed, mix-in ratio, optimiser steps and learning rate (None: the app's)."""

    size: int
    ratio: float
    steps: int
    learning_rate: float | None = None

    @classmethod
    def parse(cls, spec: str, ratio: float, steps: int) -> Config:
        """``SIZE:MIX_RATIO:STEPS:LEARNING_RATE``; an empty field (or a missing one) keeps the given default."""
        size, *rest = spec.split(":")
        fields = [*rest, "", "", ""][:3]
        return cls(
            int(size),
            float(fields[0]) if fields[0] else ratio,
            int(fields[1]) if fields[1] else steps,
            float(fields[2]) if fields[2] else None,
        )


def train(settings: Any, request: Any, progress: Any, learning_rate: float | None) -> None:
    """The app's ``LoraTrainer``, with the app's learning rate or ``learning_rate``."""
    from finetune.retrain import LoraTrainer

    LoraTrainer(settings, learning_rate)(request, progress)


def interval_cell(y: np.ndarray, probabilities: np.ndarray, seed: int) -> tuple[str, str, float]:
    """Accuracy and macro-F1 cells ``0.660 [0.627, 0.694]`` of one model on rows ``y``, and its accuracy."""
    from sentiment.evaluation.metrics import confusion_matrix, report_from_confusion
    from sentiment.evaluation.uncertainty import bootstrap_intervals
    from sentiment.labels import LABELS

    predicted = probabilities.argmax(axis=1)
    report = report_from_confusion(confusion_matrix([LABELS[i] for i in y], [LABELS[i] for i in predicted]))
    bounds = bootstrap_intervals(y, predicted, n_boot=1000, seed=seed)
    acc, f1 = bounds["accuracy"], bounds["macro_f1"]
    return (
        f"{report.accuracy:.3f} [{acc.low:.3f}, {acc.high:.3f}]",
        f"{report.macro_f1:.3f} [{f1.low:.3f}, {f1.high:.3f}]",
        report.accuracy,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[200, 400, 800], help="labels fed")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps (default: retrain_max_steps)")
    parser.add_argument(
        "--alt",
        nargs="*",
        default=["400:3::", "400:1:50:", "400:1::1e-3"],
        help="SIZE:MIX_RATIO:STEPS:LEARNING_RATE configs",
    )
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between probe requests")
    parser.add_argument("--idle-requests", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()

    from sentiment.datasets import load_split
    from sentiment.datasets.feedback import FeedbackStore
    from sentiment.inference.predictor import Predictor
    from sentiment.labels import LABEL_TO_ID
    from sentiment.logs import configure_logging
    from sentiment.service.retrain.data import retrain_data
    from sentiment.service.retrain.job import Progress, TrainRequest
    from sentiment.service.retrain.judge import judge
    from sentiment.settings import Settings
    from sentiment.store import Store

    configure_logging("WARNING")
    base_settings = Settings()
    steps = options.steps or base_settings.retrain_max_steps
    report = load_split(DOMAIN, REPORT_SPLIT, base_settings)
    forget = load_split(FORGETTING, "test", base_settings)
    pool = load_split(DOMAIN, FEED_SPLIT, base_settings)
    y_report = np.array([LABEL_TO_ID[x] for x in report["label"]])
    y_forget = np.array([LABEL_TO_ID[x] for x in forget["label"]])

    champion = Predictor.load("embedded", base_settings)
    champ_report = champion.predict_batch(report["text"].tolist()).probabilities
    champ_forget = champion.predict_batch(forget["text"].tolist()).probabilities
    probe_texts = report["text"].tolist()
    with Probe(champion, probe_texts, options.gap) as idle:
        while len(idle.latencies) < options.idle_requests:
            time.sleep(0.05)
    idle_p50 = percentile(idle.latencies, 50) * 1000
    c_rep = interval_cell(y_report, champ_report, options.seed)
    c_fgt = interval_cell(y_forget, champ_forget, options.seed)

    configs = [Config(size, base_settings.retrain_mix_ratio, steps) for size in options.sizes]
    app_rate = f"app ({base_settings.retrain_learning_rate:g})"  # how the table names the setting's rate
    configs += [Config.parse(spec, base_settings.retrain_mix_ratio, steps) for spec in options.alt]
    feeds = feed(pool, sorted({c.size for c in configs}), set(report["text"]), options.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="retrain-loop-") as tmp:
        for n, config in enumerate(configs):
            size, ratio, config_steps = config.size, config.ratio, config.steps
            settings = base_settings.model_copy(update={"retrain_mix_ratio": ratio, "retrain_max_steps": config_steps})
            store = Store.open(f"sqlite:///{tmp}/labels-{n}.db")
            labels = FeedbackStore(store)
            for pid, text, label in feeds[size].itertuples(index=False):
                labels.add(pid, label, client="benchmark", source="bulk", text=text, reviewed="accepted")
            started = time.perf_counter()
            data = retrain_data(store, settings)
            folder = Path(tmp) / f"run-{n}"
            request = TrainRequest(
                base="embedded",
                train=data.train,
                validation=data.validation,
                output_dir=folder,
                max_steps=settings.retrain_max_steps,
                batch_size=settings.retrain_batch_size,
                max_length=settings.retrain_max_length,
                seed=settings.seed,
            )
            progress = Progress(settings.retrain_max_seconds)
            progress.set_state("training")
            with Probe(champion, probe_texts, options.gap) as busy:
                train(settings, request, progress, config.learning_rate)
                trained = time.perf_counter() - started
                challenger = Predictor.load(str(folder), settings)
                chall_held = challenger.predict_batch(data.held_out["text"].tolist()).probabilities
                chall_forget = challenger.predict_batch(forget["text"].tolist()).probabilities
                verdict = judge(
                    ("embedded", folder.name),
                    (
                        champion.predict_batch(data.held_out["text"].tolist()).probabilities,
                        chall_held,
                        data.held_out["label"].tolist(),
                    ),
                    (champ_forget, chall_forget, forget["label"].tolist()),
                    FORGETTING,
                    tolerance=settings.retrain_forgetting_tolerance,
                    seed=settings.seed,
                )
                job = time.perf_counter() - started
            chall_report = challenger.predict_batch(report["text"].tolist()).probabilities
            store.dispose()
            h_rep = interval_cell(y_report, chall_report, options.seed)
            h_fgt = interval_cell(y_forget, chall_forget, options.seed)
            rows.append(
                {
                    "fed": size,
                    "counts": data.counts(),
                    "ratio": ratio,
                    "lr": f"{config.learning_rate:g}" if config.learning_rate else app_rate,
                    "steps": f"{progress.step}/{config_steps}",
                    "domain": (h_rep, c_rep),
                    "forget": (h_fgt, c_fgt),
                    "gain": h_rep[2] - c_rep[2],
                    "loss": c_fgt[2] - h_fgt[2],
                    "verdict": verdict.verdict,
                    "reason": verdict.reason,
                    "train_s": trained,
                    "job_s": job,
                    "rss": busy.peak_rss_mb,
                    "p50": percentile(busy.latencies, 50) * 1000,
                    "p95": percentile(busy.latencies, 95) * 1000,
                    "requests": len(busy.latencies),
                }
            )
            logger.warning("done: %s", {k: v for k, v in rows[-1].items() if k not in ("domain", "forget")})
    print(table(rows, idle_p50, len(report), len(forget)))
    print(f"\nidle request p50: {idle_p50:.1f} ms over {len(idle.latencies)} requests (gap {options.gap} s)")
    print(f"process peak RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    for row in rows:
        print(f"- {row['fed']} fed, mix {row['ratio']:g}, learning rate {row['lr']}: {row['counts']}; {row['reason']}")


def table(rows: list[dict[str, Any]], idle_p50: float, n_report: int, n_forget: int) -> str:
    """The one markdown table of the run."""
    head = (
        "| fed labels (trained / held out) | mix ratio | learning rate | steps "
        f"| {DOMAIN} test acc: challenger / champion (n={n_report}) | macro-F1: challenger / champion "
        f"| {FORGETTING} test acc: challenger / champion (n={n_forget}) | macro-F1: challenger / champion "
        "| acc gain / forgetting loss | verdict | train s / job s "
        "| peak RSS MB | p50 ms idle -> training (p95) |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        (h_acc, h_f1, _), (c_acc, c_f1, _) = r["domain"]
        (hf_acc, hf_f1, _), (cf_acc, cf_f1, _) = r["forget"]
        counts = r["counts"]
        lines.append(
            f"| {r['fed']} ({counts['production_train']} / {counts['held_out']}) | {r['ratio']:g} "
            f"| {r['lr']} | {r['steps']} "
            f"| {h_acc} / {c_acc} | {h_f1} / {c_f1} | {hf_acc} / {cf_acc} | {hf_f1} / {cf_f1} "
            f"| {r['gain']:+.3f} / {r['loss']:+.3f} | {r['verdict']} | {r['train_s']:.0f} / {r['job_s']:.0f} "
            f"| {r['rss']:.0f} | {idle_p50:.1f} -> {r['p50']:.1f} ({r['p95']:.0f}) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
