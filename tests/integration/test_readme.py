"""Every ``python -m sentiment``, ``python -m finetune`` and ``python benchmarks/...`` line in the README's code blocks
runs and exits 0.

Each line runs as written, with the test's interpreter for ``python`` (the README's convention is an activated
``.venv``), in a temporary working folder with a temporary data folder; only arguments from ``RUNS`` are appended to
keep it short (argparse keeps the last value of an option, so an appended ``--sample-size`` overrides). A README line
that ``RUNS`` does not know fails: a new example must be given a deliberate way to run here.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CACHE, REPO

from sentiment.settings import Settings

PREFIXES = ("python -m sentiment", "python -m finetune", "python benchmarks/")
SHELL_FENCES = {"", "sh", "bash", "shell", "console"}
SHIPPED_MODEL = REPO / "sentiment" / "embedded"
COMMAND_TIMEOUT_S = 300


@dataclass(frozen=True)
class Run:
    """How the test runs one README line."""

    extra: tuple[str, ...] = ()  # appended to the line; ``{name}`` is the value of the fixture ``name``
    why: str = ""  # why those arguments (what the README's own line would cost)
    inputs: tuple[str, ...] = ()  # files the line reads, created in the working folder from real rows
    outputs: tuple[str, ...] = ()  # files the line must leave in the working folder
    slow: bool = False


RUNS: dict[str, Run] = {
    "python -m sentiment score reviews.csv reviews_scored.csv --text-column text": Run(
        inputs=("reviews.csv",), outputs=("reviews_scored.csv",), slow=True
    ),
    "python -m sentiment score reviews.csv reviews_scored.csv --engine ray --actors 2": Run(
        inputs=("reviews.csv",), outputs=("reviews_scored.csv",), slow=True
    ),
    "python -m sentiment score 'exports/*.csv' scored/ --engine ray --address HEAD:6379 --actors 8": Run(
        extra=("--address", "{ray_cluster}", "--actors", "2"),
        why="HEAD:6379 stands for your cluster: here one of two nodes started on loopback, with a CPU each",
        inputs=("exports/monday.csv", "exports/tuesday.csv"),
        outputs=("scored/monday_scored.csv", "scored/tuesday_scored.csv"),
        slow=True,
    ),
    'python -m sentiment predict "what a day" "worst service ever"': Run(slow=True),
    'python -m sentiment predict --model vader "what a day"': Run(),
    "python -m sentiment datasets": Run(),
    "python -m finetune --preset embedded": Run(
        extra=(
            "--output_dir",
            "embedded-retrained",
            "--max_steps",
            "2",
            "--datasets",
            "vader_tweets",
            "--eval_datasets",
            "vader_tweets",
            "--base",
            "{tiny_model_dir}",
            "--max_length",
            "32",
        ),
        why="two epochs of MiniLM on four datasets take ~15 min (tests/integration/test_finetune.py trains MiniLM "
        "itself); the preset's own output_dir would overwrite sentiment/embedded",
        outputs=("embedded-retrained/adapter_model.safetensors", "embedded-retrained/README.md"),
        slow=True,
    ),
    "python -m sentiment evaluate --model embedded --dataset vader_tweets --split test": Run(
        extra=("--sample-size", "60"), why="the whole test split is 630 tweets", slow=True
    ),
    "python -m sentiment evaluate --model embedded --compare vader --dataset vader_amazon --json report.json": Run(
        extra=("--sample-size", "60"), why="the whole test split is 557 reviews", outputs=("report.json",), slow=True
    ),
    "python -m sentiment evaluate --model embedded --dataset mine.csv": Run(inputs=("mine.csv",), slow=True),
    "python -m sentiment evaluate --model embedded --dataset stars.csv --label-map '1:negative,3:neutral,5:positive'": (
        Run(inputs=("stars.csv",), slow=True)
    ),
    "python -m finetune.calibrate": Run(
        extra=("--model", "vader", "--datasets", "vader_tweets"),
        why="scoring the validation and test splits of four sets with the embedded model takes minutes",
    ),
    "python -m finetune.calibrate --write matrix": Run(
        extra=("--model", "{calibration_model}", "--datasets", "vader_tweets"),
        why="writes beside the model: a copy of the tiny test model here, never the shipped one",
        outputs=(),
        slow=True,
    ),
    "python benchmarks/drift_calibration.py": Run(
        extra=("--model", "vader", "--windows", "5", "--size", "100"),
        why="200 windows of 500 on the embedded model's profile of 1,260 tweets take minutes",
    ),
    "python benchmarks/drift_scenarios.py": Run(
        extra=(
            "--model",
            "vader",
            "--days",
            "1",
            "--runs",
            "1",
            "--checks",
            "3",
            "--candidates",
            "2",
            "--workers",
            "1",
            "--cache",
            "scenarios.pkl",
        ),
        why="100 simulated days of 288 checks and 160 shifted runs on the embedded model take a quarter of an hour; "
        "the lexicon has no embeddings, so this runs every check but the semantic one",
    ),
    "python benchmarks/performance_estimation.py": Run(
        extra=("--cache", "scored.npz", "--max-rows", "120", "--windows", "2", "--sizes", "60"),
        why="scoring 11,000 texts and 30 windows of 200 and 500 per set take minutes",
        slow=True,
    ),
    "python benchmarks/logging_overhead.py": Run(
        extra=("--model", "vader", "--requests", "20"), why="400 embedded predictions each way"
    ),
    "python -m sentiment replay --dataset airline_tweets --rate 5 --url http://localhost:7860 --max-texts 600": Run(
        extra=("--url", "{replay_app}", "--rate", "50", "--max-texts", "10"),
        why="needs an app (started here, on a free port); 600 texts at 5/s take two minutes",
        slow=True,
    ),
}


def readme_commands(text: str) -> list[str]:
    """The lines of the README's shell code blocks that start with one of ``PREFIXES``, as written, less a trailing
    comment."""
    commands, fence = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
        elif fence in SHELL_FENCES and line.startswith(PREFIXES):
            commands.append(re.sub(r"\s+#[^'\"]*$", "", line))
    return commands


COMMANDS = readme_commands((REPO / "README.md").read_text())


def test_every_readme_command_has_a_way_to_run_and_every_entry_is_still_in_the_readme() -> None:
    assert len(COMMANDS) >= 8, COMMANDS  # the extraction itself still finds the README's examples
    unknown = [c for c in COMMANDS if c not in RUNS]
    assert not unknown, f"README commands with no entry in RUNS (say how to run them here): {unknown}"
    stale = [c for c in RUNS if c not in COMMANDS]
    assert not stale, f"RUNS entries no longer in README.md: {stale}"


def test_the_extraction_reads_shell_blocks_only_and_drops_comments() -> None:
    text = (
        "`python -m sentiment datasets` inline\n"
        "```python\npython -m sentiment predict x\n```\n"
        "```\npython benchmarks/a.py   # what it measures\nmake run\n```\n"
        '```bash\n  python -m sentiment predict "a #1 day" # quoted\n```\n'
    )
    assert readme_commands(text) == ["python benchmarks/a.py", 'python -m sentiment predict "a #1 day"']


def _digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


def _write_reviews(path: Path) -> None:
    """Real Amazon review snippets (VADER ground truth) with an id column, as a user's export would have."""
    from sentiment.datasets import load_split

    frame = load_split("vader_amazon", "test", Settings(data_dir=path.parent / "data", cache_override=CACHE))
    frame.head(8)[["text"]].rename_axis("id").reset_index().to_csv(path, index=False)


def _write_labelled(path: Path, stars: bool = False) -> None:
    """Real labelled Amazon snippets: ``text,label`` with class names, or ``text,stars`` with 1/3/5."""
    from sentiment.datasets import load_split

    frame = load_split("vader_amazon", "test", Settings(data_dir=path.parent / "data", cache_override=CACHE))
    frame = frame.groupby("label").head(4)[["text", "label"]]
    if stars:
        frame = frame.assign(stars=frame.pop("label").map({"negative": 1, "neutral": 3, "positive": 5}))
    frame.to_csv(path, index=False)


def _write_export(path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    _write_reviews(path)


INPUTS = {
    "reviews.csv": _write_reviews,
    "exports/monday.csv": _write_export,
    "exports/tuesday.csv": _write_export,
    "mine.csv": _write_labelled,
    "stars.csv": lambda path: _write_labelled(path, stars=True),
}


@pytest.fixture
def calibration_model(tiny_model_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the tiny model to write a calibration map beside; checks that the map was written."""
    import shutil

    folder = tmp_path / "model-to-calibrate"
    shutil.copytree(tiny_model_dir, folder)
    yield folder
    assert (folder / "calibration.json").is_file(), "the --write line stored no calibration map"


@pytest.fixture(scope="module")
def replay_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app of its own (the shared ``running_app`` must not see replayed traffic); VADER starts fastest."""
    from appserver import start_app

    app = start_app(
        tmp_path_factory.mktemp("replay-app"),
        {"SENTIMENT_MODEL": "vader", "SENTIMENT_SCHEDULER_ENABLED": "false", "SENTIMENT_CACHE_DIR": str(CACHE)},
    )
    yield app.url
    app.stop()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """The address of a Ray cluster of two nodes on this machine (head and worker, one CPU each)."""
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    os.environ["RAY_DISABLE_USAGE_STATS"] = "1"
    node = {"num_cpus": 1, "object_store_memory": 200 * 1024**2, "include_dashboard": False}
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args=node)
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes(timeout=120)
        yield cluster.address
    finally:
        cluster.shutdown()


def _argv(command: str, extra: tuple[str, ...]) -> list[str]:
    python, *args = shlex.split(command)
    assert python == "python"
    if args[0] != "-m":  # a script path, relative to the repository root where the README's commands run
        args[0] = str(REPO / args[0])
    return [sys.executable, *args, *extra]


def _param(command: str) -> object:
    run = RUNS.get(command, Run())
    return pytest.param(command, marks=[pytest.mark.slow] if run.slow else [], id=command)


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS])
def test_the_readme_command_runs(command: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if command not in RUNS:
        pytest.fail(f"no entry in RUNS for this README command; add one saying how to run it: {command}")
    run = RUNS[command]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for name in run.inputs:
        INPUTS[name](cwd / name)
    values = {name: str(request.getfixturevalue(name)) for a in run.extra for name in re.findall(r"{(\w+)}", a)}
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SENTIMENT_DATA_DIR": str(tmp_path / "data"),
        "SENTIMENT_CACHE_DIR": str(CACHE),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    shipped = _digest(SHIPPED_MODEL)
    done = subprocess.run(
        _argv(command, tuple(a.format(**values) for a in run.extra)),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    output = re.sub(r"\n{3,}", "\n\n", done.stdout[-3000:] + "\n" + done.stderr[-3000:])
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{output}"
    missing = [name for name in run.outputs if not (cwd / name).is_file()]
    assert not missing, f"{command} did not write {missing}:\n{output}"
    assert _digest(SHIPPED_MODEL) == shipped, f"{command} changed the shipped model in {SHIPPED_MODEL}"
