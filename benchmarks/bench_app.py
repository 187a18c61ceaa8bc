"""The set-up the app benchmarks share (``app_latency.py``, ``lean_api.py``): settings over a temporary data folder,
real tweets in a fixed random order, the model to serve, and the app started on them as ``python app.py``.

One place, so that two scripts measuring the same app cannot drift apart in what they start (the scheduler off, the
shared dataset cache, the same tweets), and so that a script can start a second app with one setting changed to
measure both in one run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "benchmarks", REPO / "tests"):  # the package, roberta_model, the tests' appserver
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from roberta_model import build_roberta_base

from appserver import RunningApp, start_app
from sentiment.datasets import load_split
from sentiment.settings import Settings

MODELS = ("embedded", "roberta")


@dataclass(frozen=True)
class Bench:
    """What every app benchmark run starts from; ``folder`` is the run's temporary folder."""

    folder: Path
    settings: Settings
    tweets: list[str]  # the VADER tweets (4,200), shuffled with a fixed seed
    spec: str  # SENTIMENT_MODEL of the app, and what Predictor.load takes for the bare rows
    model: str  # "embedded" or "roberta"

    @property
    def description(self) -> str:
        return self.spec if self.model == "embedded" else "roberta-base-sized, random weights"


def prepare(folder: Path, model: str) -> Bench:
    """Settings over ``folder`` (the dataset cache stays the shared one), the tweets, and the model: ``embedded``,
    or a roberta-base-sized classifier with random weights built in ``folder`` (same shapes and cost as the Hub
    model, which is not reachable here)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    settings = Settings(data_dir=folder / "bench", cache_override=Settings().cache_dir.resolve())
    tweets = load_split("vader_tweets", "all", settings)["text"].sample(frac=1.0, random_state=1).tolist()
    spec = "embedded" if model == "embedded" else str(build_roberta_base(folder / "roberta", tweets))
    return Bench(folder, settings, tweets, spec, model)


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` from the command line as a dict; a pair without ``=`` is refused, naming it."""
    bad = [pair for pair in pairs if "=" not in pair]
    if bad:
        raise ValueError(f"expected KEY=VALUE, got {', '.join(map(repr, bad))}")
    return dict(pair.split("=", 1) for pair in pairs)


def start_benchmark_app(bench: Bench, env: dict[str, str] | None = None, name: str = "app") -> RunningApp:
    """Start ``python app.py`` serving ``bench``'s model, the scheduler off (no job may steal the CPU mid-row), in
    its own data folder ``<folder>/<name>``; ``env`` adds or overrides settings. Returns once ``/health`` is ready."""
    full_env = {
        "SENTIMENT_MODEL": bench.spec,
        "SENTIMENT_CACHE_DIR": str(bench.settings.cache_dir),
        "SENTIMENT_SCHEDULER_ENABLED": "false",
        **(env or {}),
    }
    return start_app(bench.folder / name, full_env)
